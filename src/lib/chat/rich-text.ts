/**
 * The text people write, as tokens: a tiny pure tokenizer for the markdown subset messages may
 * use, rendered by `RichText.svelte` as Svelte elements and text nodes, never as HTML. Whatever a
 * message holds (`<script>`, `javascript:`, markers nested or left open) ends up as text, or as
 * one of the token kinds below; a link's `href` is always an http, https or mailto URL that
 * `safeHref` parsed and normalised.
 *
 * Blocks: ```` ``` ```` code fences (until the closing fence, or the end), `>` quotes (nested up
 * to MAX_DEPTH), and paragraphs (everything else, line breaks kept).
 * Inline: `` `code` ``, `**bold**`, `*italic*` / `_italic_`, `~~strike~~` (nested up to
 * MAX_DEPTH; a marker with no partner is text), bare http(s) and mailto links, and `@username`
 * mentions the caller resolves (mentions.ts; unresolved ones are text).
 *
 * Linear in the text's length (per nesting level): a marker whose closing partner was looked for
 * and not found is not looked for again.
 */
import { findMentions } from './mentions.ts';

/** How deep emphasis and quotes nest; deeper markers are text. */
export const MAX_DEPTH = 4;

export type Inline =
	| { type: 'text'; text: string }
	| { type: 'strong' | 'em' | 'strike'; children: Inline[] }
	| { type: 'code'; text: string }
	| { type: 'link'; href: string; text: string }
	| { type: 'mention'; text: string; username: string; userId: string; me: boolean };

export type Block =
	| { type: 'paragraph'; children: Inline[] }
	| { type: 'code_block'; text: string }
	| { type: 'quote'; children: Block[] };

export interface RichTextOptions {
	/** Who `@username` is (lowercased name): a member, and whether it is me; null leaves it text. */
	mention?: (username: string) => { userId: string; me: boolean } | null;
}

const SAFE_PROTOCOLS = new Set(['http:', 'https:', 'mailto:']);

/**
 * The URL a link may point to: `url` parsed and normalised when it is http(s) with a host, or
 * mailto with an address; null for anything else (`javascript:`, `data:`, relative, malformed).
 */
export function safeHref(url: string): string | null {
	if (url.length > 2048 || /[\s<>"'`\\]/.test(url) || hasControl(url)) return null;
	let parsed: URL;
	try {
		parsed = new URL(url);
	} catch {
		return null;
	}
	if (!SAFE_PROTOCOLS.has(parsed.protocol)) return null;
	if (parsed.protocol === 'mailto:') {
		return /^mailto:[^@/?#]+@[^@/?#]+\.[^@/?#]+(\?.*)?$/i.test(parsed.href) ? parsed.href : null;
	}
	if (!parsed.hostname) return null;
	return parsed.href;
}

function hasControl(s: string): boolean {
	for (let i = 0; i < s.length; i++) {
		const code = s.charCodeAt(i);
		if (code < 0x20 || code === 0x7f) return true;
	}
	return false;
}

/** The text as blocks of inline tokens. */
export function parseRichText(text: string, options: RichTextOptions = {}): Block[] {
	return parseBlocks(text.replace(/\r\n?/g, '\n').split('\n'), 0, options);
}

/** Plain text of tokens (what a screen reader or a copy would get without the markers). */
export function plainText(blocks: readonly Block[]): string {
	const inline = (nodes: readonly Inline[]): string =>
		nodes.map((n) => ('children' in n ? inline(n.children) : n.text)).join('');
	return blocks
		.map((b) =>
			b.type === 'paragraph' ? inline(b.children) : b.type === 'code_block' ? b.text : plainText(b.children)
		)
		.join('\n');
}

const FENCE = /^ {0,3}```/;
const QUOTE = /^ {0,3}>/;

function parseBlocks(lines: string[], depth: number, options: RichTextOptions): Block[] {
	const blocks: Block[] = [];
	let paragraph: string[] = [];
	const flush = () => {
		// Blank lines around blocks are spacing, not content.
		while (paragraph.length && paragraph[0].trim() === '') paragraph.shift();
		while (paragraph.length && paragraph[paragraph.length - 1].trim() === '') paragraph.pop();
		if (paragraph.length)
			blocks.push({ type: 'paragraph', children: parseInline(paragraph.join('\n'), 0, options) });
		paragraph = [];
	};
	let i = 0;
	while (i < lines.length) {
		const line = lines[i];
		if (FENCE.test(line)) {
			flush();
			const opening = line.replace(FENCE, '');
			const sameLine = opening.indexOf('```');
			if (sameLine >= 0) {
				// ```code``` on one line.
				blocks.push({ type: 'code_block', text: opening.slice(0, sameLine) });
				i++;
				continue;
			}
			// The rest of the opening line names a language; it is not shown.
			const body: string[] = [];
			i++;
			while (i < lines.length && !/^ {0,3}```\s*$/.test(lines[i])) body.push(lines[i++]);
			i++; // the closing fence (or past the end)
			blocks.push({ type: 'code_block', text: body.join('\n') });
			continue;
		}
		if (QUOTE.test(line) && depth < MAX_DEPTH) {
			flush();
			const body: string[] = [];
			while (i < lines.length && QUOTE.test(lines[i])) body.push(lines[i++].replace(/^ {0,3}> ?/, ''));
			blocks.push({ type: 'quote', children: parseBlocks(body, depth + 1, options) });
			continue;
		}
		paragraph.push(line);
		i++;
	}
	flush();
	return blocks;
}

type Marker = '**' | '~~' | '*' | '_';
const MARKER_TYPE: Record<Marker, 'strong' | 'strike' | 'em'> = {
	'**': 'strong',
	'~~': 'strike',
	'*': 'em',
	_: 'em'
};

const WORD = /[\p{L}\p{N}_]/u;
const isSpace = (c: string | undefined) => c === undefined || /\s/.test(c);
const isWord = (c: string | undefined) => c !== undefined && WORD.test(c);

const LINK = /^(?:https?:\/\/|mailto:)[^\s<>"]+/i;
const LINK_START = /^(?:https?:\/\/|mailto:)/i;
/** Trailing characters that end a sentence rather than a URL. */
const TRAILING = /[.,;:!?'*_~]+$/;

/** The link starting at `s[i]`, if one does: its text (trailing punctuation left out) and href. */
function linkAt(s: string, i: number): { text: string; href: string | null } | null {
	if (i > 0 && /[\p{L}\p{N}]/u.test(s[i - 1])) return null;
	const m = LINK.exec(s.slice(i, i + 2100));
	if (!m) return null;
	let text = m[0].replace(TRAILING, '');
	// A closing parenthesis belongs to the URL only if it opened one: "(see https://a.b/c)".
	while (text.endsWith(')') && count(text, '(') < count(text, ')'))
		text = text.slice(0, -1).replace(TRAILING, '');
	return { text, href: safeHref(text) };
}

function count(s: string, c: string): number {
	let n = 0;
	for (const ch of s) if (ch === c) n++;
	return n;
}

/** The marker an emphasis may open with at `s[i]`. */
function openerAt(s: string, i: number): Marker | null {
	const two = s.slice(i, i + 2);
	if (two === '**' || two === '~~') return isSpace(s[i + 2]) ? null : two;
	const c = s[i];
	if (c === '*') return isSpace(s[i + 1]) ? null : '*';
	// `_` only at a word's edge, so snake_case stays as it is.
	if (c === '_') return isSpace(s[i + 1]) || isWord(s[i - 1]) ? null : '_';
	return null;
}

/** Where the marker opened at `from` (content starts there) closes, or -1. */
function closerOf(s: string, marker: Marker, from: number): number {
	for (let k = s.indexOf(marker, from); k >= 0; k = s.indexOf(marker, k + 1)) {
		if (k === from || isSpace(s[k - 1])) continue;
		if (marker === '*' && (s[k + 1] === '*' || s[k - 1] === '*')) continue;
		if (marker === '_' && isWord(s[k + 1])) continue;
		if (marker.length === 2) {
			// `***` closes an inner `*` first and then this one: the pair is the run's last two.
			let end = k + 2;
			while (s[end] === marker[0]) end++;
			return end - 2;
		}
		return k;
	}
	return -1;
}

function parseInline(s: string, depth: number, options: RichTextOptions): Inline[] {
	const out: Inline[] = [];
	let text = '';
	const flush = () => {
		if (text) out.push({ type: 'text', text });
		text = '';
	};
	// Markers whose closing partner is known to be missing from here on.
	const unclosed = new Set<string>();
	const mentions = new Map(options.mention ? findMentions(s).map((m) => [m.start, m]) : []);
	let i = 0;
	while (i < s.length) {
		const c = s[i];

		if (c === '`') {
			let run = 1;
			while (s[i + run] === '`') run++;
			const fence = '`'.repeat(run);
			const end = unclosed.has(fence) ? -1 : s.indexOf(fence, i + run);
			if (end > i + run) {
				flush();
				out.push({ type: 'code', text: s.slice(i + run, end) });
				i = end + run;
				continue;
			}
			if (end < 0) unclosed.add(fence);
			text += fence;
			i += run;
			continue;
		}

		if ((c === 'h' || c === 'H' || c === 'm' || c === 'M') && LINK_START.test(s.slice(i, i + 8))) {
			const link = linkAt(s, i);
			if (link) {
				if (link.href) {
					flush();
					out.push({ type: 'link', href: link.href, text: link.text });
				} else {
					text += link.text;
				}
				i += link.text.length;
				continue;
			}
		}

		if (c === '@') {
			const match = mentions.get(i);
			const who = match && options.mention?.(match.username);
			if (match && who) {
				flush();
				out.push({
					type: 'mention',
					text: s.slice(match.start, match.end),
					username: match.username,
					...who
				});
				i = match.end;
				continue;
			}
		}

		const marker = depth < MAX_DEPTH ? openerAt(s, i) : null;
		if (marker && !unclosed.has(marker)) {
			const from = i + marker.length;
			const end = closerOf(s, marker, from);
			if (end > from) {
				flush();
				out.push({
					type: MARKER_TYPE[marker],
					children: parseInline(s.slice(from, end), depth + 1, options)
				});
				i = end + marker.length;
				continue;
			}
			unclosed.add(marker);
		}

		text += c;
		i++;
	}
	flush();
	return out;
}
