/**
 * RichText rendered (server-side, as the first page load renders it): hostile text stays text,
 * links are only http(s)/mailto and open outside the app, mentions are spans, long texts collapse.
 */
import { describe, expect, it } from 'vitest';
import { render } from 'svelte/server';
import RichText from './RichText.svelte';

const members = [
	{ user_id: 'u-me', username: 'me_user', display_name: 'Me' },
	{ user_id: 'u-bob', username: 'bob', display_name: 'Bob' }
];

function html(text: string): string {
	const { body } = render(RichText, { props: { text, members, me: 'u-me', nameOf: (id: string) => id } });
	// Without the hydration markers and the scoped-style classes.
	return body
		.replace(/<!--.*?-->/g, '')
		.replace(/ ?svelte-[a-z0-9]+/g, '')
		.replace(/ class=""/g, '');
}

describe('RichText', () => {
	it('never turns text into markup: script, img and event handlers stay escaped', () => {
		const out = html('<script>alert(1)</script> <img src=x onerror="alert(1)"> **<b>x</b>** `<i>`');
		expect(out).not.toMatch(/<script|<img|<b>|<i>/);
		expect(out).toContain('&lt;script>alert(1)&lt;/script>');
		expect(out).toContain('<strong>&lt;b>x&lt;/b></strong>');
		expect(out).toContain('<code>&lt;i></code>');
	});

	it('links http(s) and mailto only, with rel and target; javascript: stays text', () => {
		const out = html('go https://example.com/a?b=1&c=2 or javascript:alert(1) or mailto:a@b.co');
		const hrefs = [...out.matchAll(/href="([^"]*)"/g)].map((m) => m[1]);
		expect(hrefs).toEqual(['https://example.com/a?b=1&amp;c=2', 'mailto:a@b.co']);
		expect(out.match(/<a /g)).toHaveLength(2);
		for (const a of out.match(/<a [^>]*>/g) ?? []) {
			expect(a).toContain('target="_blank"');
			expect(a).toContain('rel="noopener noreferrer"');
		}
		expect(out).toContain('javascript:alert(1)');
		expect(out).not.toMatch(/href="javascript/i);
	});

	it('highlights mentions of members, mine the most; unknown names are text', () => {
		const out = html('hi @me_user and @bob, not @nobody');
		expect(out).toMatch(/<span class="mention[^"]* me"[^>]*data-me="true"[^>]*>@me_user<\/span>/);
		expect(out).toMatch(/<span class="mention[^"]*"[^>]*data-me="false"[^>]*>@bob<\/span>/);
		expect(out).toContain('not @nobody');
	});

	it('renders code blocks and quotes, and collapses a long text behind Read more', () => {
		const out = html('> quoted\n```\n**raw**\n```');
		expect(out).toMatch(/<blockquote[^>]*><p[^>]*>quoted<\/p><\/blockquote>/);
		expect(out).toMatch(/<pre[^>]*><code[^>]*>\*\*raw\*\*<\/code><\/pre>/);
		expect(out).not.toContain('Read more');
		const long = html('line\n'.repeat(40));
		expect(long).toContain('Read more');
		expect(long).toMatch(/class="rich[^"]*collapsed/);
		expect(long).toContain('aria-expanded="false"');
	});
});
