import { describe, expect, it } from 'vitest';
import { parseRichText, plainText, safeHref, type Block, type Inline } from './rich-text.ts';

const members: Record<string, string> = { alice: 'u-alice', bob: 'u-bob' };
const options = {
	mention: (username: string) =>
		members[username] ? { userId: members[username], me: username === 'alice' } : null
};

/** The inline tokens of a one-paragraph text. */
function inline(text: string): Inline[] {
	const blocks = parseRichText(text, options);
	expect(blocks).toHaveLength(1);
	expect(blocks[0].type).toBe('paragraph');
	return (blocks[0] as Extract<Block, { type: 'paragraph' }>).children;
}

/** Every link of a token tree. */
function links(blocks: Block[]): string[] {
	const found: string[] = [];
	const walk = (nodes: Inline[]) => {
		for (const n of nodes) {
			if (n.type === 'link') found.push(n.href);
			if ('children' in n) walk(n.children);
		}
	};
	const blocksWalk = (list: Block[]) => {
		for (const b of list) {
			if (b.type === 'paragraph') walk(b.children);
			if (b.type === 'quote') blocksWalk(b.children);
		}
	};
	blocksWalk(blocks);
	return found;
}

describe('rich text: the markdown subset', () => {
	it('keeps plain text as one text token, line breaks included', () => {
		expect(inline('hello\nworld')).toEqual([{ type: 'text', text: 'hello\nworld' }]);
	});

	it('bold, italic, strike and inline code', () => {
		expect(inline('a **b** *c* _d_ ~~e~~ `f`')).toEqual([
			{ type: 'text', text: 'a ' },
			{ type: 'strong', children: [{ type: 'text', text: 'b' }] },
			{ type: 'text', text: ' ' },
			{ type: 'em', children: [{ type: 'text', text: 'c' }] },
			{ type: 'text', text: ' ' },
			{ type: 'em', children: [{ type: 'text', text: 'd' }] },
			{ type: 'text', text: ' ' },
			{ type: 'strike', children: [{ type: 'text', text: 'e' }] },
			{ type: 'text', text: ' ' },
			{ type: 'code', text: 'f' }
		]);
	});

	it('nests emphasis, and leaves code literal', () => {
		expect(inline('**bold *and italic***')).toEqual([
			{
				type: 'strong',
				children: [
					{ type: 'text', text: 'bold ' },
					{ type: 'em', children: [{ type: 'text', text: 'and italic' }] }
				]
			}
		]);
		expect(inline('`**not bold** <b>`')).toEqual([{ type: 'code', text: '**not bold** <b>' }]);
	});

	it('leaves markers without a partner, snake_case and spaced stars as text', () => {
		expect(plainText(parseRichText('a ** b * c _ d'))).toBe('a ** b * c _ d');
		expect(inline('snake_case_name and 2 * 3 * 4')).toEqual([
			{ type: 'text', text: 'snake_case_name and 2 * 3 * 4' }
		]);
		expect(inline('**open and never closed')).toEqual([{ type: 'text', text: '**open and never closed' }]);
		expect(inline('`unclosed code')).toEqual([{ type: 'text', text: '`unclosed code' }]);
	});

	it('stops nesting at the depth limit (deeper markers are text)', () => {
		const deep = '*'.repeat(2) + '_~~*x*~~_' + '*'.repeat(2);
		const tokens = inline(`${deep} ${'**'.repeat(20)}y${'**'.repeat(20)}`);
		let depth = 0;
		const measure = (nodes: Inline[], d: number) => {
			for (const n of nodes) {
				depth = Math.max(depth, d);
				if ('children' in n) measure(n.children, d + 1);
			}
		};
		measure(tokens, 0);
		expect(depth).toBeLessThanOrEqual(4);
	});

	it('code blocks, one-line and unclosed fences, and quotes (nested)', () => {
		expect(parseRichText('before\n```js\nconst a = "<b>";\n  **x**\n```\nafter')).toEqual([
			{ type: 'paragraph', children: [{ type: 'text', text: 'before' }] },
			{ type: 'code_block', text: 'const a = "<b>";\n  **x**' },
			{ type: 'paragraph', children: [{ type: 'text', text: 'after' }] }
		]);
		expect(parseRichText('```one line```')).toEqual([{ type: 'code_block', text: 'one line' }]);
		expect(parseRichText('```\nnever closed\n*x*')).toEqual([
			{ type: 'code_block', text: 'never closed\n*x*' }
		]);
		expect(parseRichText('> quoted **bold**\n>> deeper\nreply')).toEqual([
			{
				type: 'quote',
				children: [
					{
						type: 'paragraph',
						children: [
							{ type: 'text', text: 'quoted ' },
							{ type: 'strong', children: [{ type: 'text', text: 'bold' }] }
						]
					},
					{ type: 'quote', children: [{ type: 'paragraph', children: [{ type: 'text', text: 'deeper' }] }] }
				]
			},
			{ type: 'paragraph', children: [{ type: 'text', text: 'reply' }] }
		]);
	});

	it('mentions of members become mention tokens (mine marked), others stay text', () => {
		expect(inline('hi @Alice and @bob, not @carol or ann@alice.com')).toEqual([
			{ type: 'text', text: 'hi ' },
			{ type: 'mention', text: '@Alice', username: 'alice', userId: 'u-alice', me: true },
			{ type: 'text', text: ' and ' },
			{ type: 'mention', text: '@bob', username: 'bob', userId: 'u-bob', me: false },
			{ type: 'text', text: ', not @carol or ann@alice.com' }
		]);
		expect(inline('**@bob**')).toEqual([
			{
				type: 'strong',
				children: [{ type: 'mention', text: '@bob', username: 'bob', userId: 'u-bob', me: false }]
			}
		]);
		// Without a resolver nothing is a mention.
		expect(parseRichText('@bob')).toEqual([
			{ type: 'paragraph', children: [{ type: 'text', text: '@bob' }] }
		]);
	});

	it('is linear on hostile input (64 KiB of open markers)', () => {
		const started = performance.now();
		for (const unit of ['*a', '**', '_ ', '`', '~~a', '@bob ', 'http://', '> ']) {
			parseRichText(unit.repeat(Math.ceil(65536 / unit.length)), options);
		}
		expect(performance.now() - started).toBeLessThan(3000);
	});
});

describe('rich text: links', () => {
	it('links bare http, https and mailto URLs, leaving trailing punctuation out', () => {
		expect(
			inline('see https://example.com/a?b=1#c. or (http://x.test/p_(1)) and mailto:ann@example.com!')
		).toEqual([
			{ type: 'text', text: 'see ' },
			{ type: 'link', href: 'https://example.com/a?b=1#c', text: 'https://example.com/a?b=1#c' },
			{ type: 'text', text: '. or (' },
			{ type: 'link', href: 'http://x.test/p_(1)', text: 'http://x.test/p_(1)' },
			{ type: 'text', text: ') and ' },
			{ type: 'link', href: 'mailto:ann@example.com', text: 'mailto:ann@example.com' },
			{ type: 'text', text: '!' }
		]);
		expect(inline('**https://example.com**')).toEqual([
			{
				type: 'strong',
				children: [{ type: 'link', href: 'https://example.com/', text: 'https://example.com' }]
			}
		]);
	});

	it('never links javascript:, data:, vbscript: or anything but http(s) and mailto', () => {
		const attempts = [
			'javascript:alert(1)',
			'JaVaScRiPt:alert(document.cookie)',
			' javascript:alert(1)',
			'java\nscript:alert(1)',
			'[click](javascript:alert(1))',
			'data:text/html,<script>alert(1)</script>',
			'vbscript:msgbox(1)',
			'file:///etc/passwd',
			'//evil.example/x',
			'https://',
			'http://"onmouseover="alert(1)',
			'mailto:javascript:alert(1)',
			'httpsjavascript:alert(1)'
		];
		for (const text of attempts) {
			const blocks = parseRichText(text, options);
			for (const href of links(blocks)) expect(href, text).toMatch(/^(https?:\/\/[^/\s]+\/|mailto:[^@]+@)/);
			expect(
				links(blocks).some((h) => /javascript|data:|vbscript|file:/i.test(h)),
				text
			).toBe(false);
			// Nothing is lost: the text reads as it was written.
			expect(plainText(blocks).replace(/\s/g, ''), text).toBe(text.replace(/\s/g, ''));
		}
	});

	it('keeps HTML as text: <script> and friends are never markup', () => {
		const text = '<script>alert(1)</script> <img src=x onerror=alert(1)> **<b>x</b>**';
		const blocks = parseRichText(text, options);
		expect(plainText(blocks)).toBe('<script>alert(1)</script> <img src=x onerror=alert(1)> <b>x</b>');
		expect(links(blocks)).toEqual([]);
		const kinds = new Set<string>();
		const walk = (nodes: Inline[]) =>
			nodes.forEach((n) => (kinds.add(n.type), 'children' in n && walk(n.children)));
		for (const b of blocks) if (b.type === 'paragraph') walk(b.children);
		expect([...kinds].sort()).toEqual(['strong', 'text']);
	});

	it('safeHref accepts only parsed http(s) with a host and mailto with an address', () => {
		expect(safeHref('https://example.com')).toBe('https://example.com/');
		expect(safeHref('HTTP://EXAMPLE.com/x')).toBe('http://example.com/x');
		expect(safeHref('mailto:a@b.co')).toBe('mailto:a@b.co');
		for (const bad of [
			'javascript:alert(1)',
			'javascript://example.com/%0aalert(1)',
			'data:,x',
			'mailto:nobody',
			'ftp://example.com',
			'https://exa mple.com',
			'https://example.com/"><script>',
			'/relative',
			''
		]) {
			expect(safeHref(bad), bad).toBeNull();
		}
	});
});
