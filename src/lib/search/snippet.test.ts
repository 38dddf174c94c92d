import { describe, expect, it } from 'vitest';
import { snippet } from './snippet.ts';

const marked = (parts: { text: string; match: boolean }[]) => parts.filter((p) => p.match).map((p) => p.text);
const joined = (parts: { text: string }[]) => parts.map((p) => p.text).join('');

describe('snippet', () => {
	it('marks every matching word of a short message, as text parts', () => {
		const parts = snippet('Meeting moved: the meeting is at <b>noon</b>', ['meeting']);
		expect(marked(parts)).toEqual(['Meeting', 'meeting']);
		// Markup in a message stays text: the parts are rendered as text, never as HTML.
		expect(joined(parts)).toBe('Meeting moved: the meeting is at <b>noon</b>');
	});

	it('marks prefix matches and folded accents', () => {
		expect(marked(snippet('Le café était fermé', [], ['cafe']))).toEqual(['café']);
		expect(marked(snippet('Tomorrow, tomorrow!', [], ['tom']))).toEqual(['Tomorrow', 'tomorrow']);
	});

	it('cuts a long message around the first match on word boundaries', () => {
		const before = Array.from({ length: 40 }, (_, i) => `word${i}`).join(' ');
		const after = Array.from({ length: 40 }, (_, i) => `tail${i}`).join(' ');
		const parts = snippet(`${before} the keyword here ${after}`, ['keyword'], [], 80);
		const text = joined(parts);
		expect(text.startsWith('…')).toBe(true);
		expect(text.endsWith('…')).toBe(true);
		expect(text.length).toBeLessThanOrEqual(84);
		expect(marked(parts)).toEqual(['keyword']);
		// Whole words only.
		expect(text).toMatch(/^… ?word\d+ /);
		expect(text).toMatch(/ tail\d+…$/);
	});

	it('flattens line breaks', () => {
		expect(joined(snippet('one\n\ntwo   three', ['two']))).toBe('one two three');
	});
});
