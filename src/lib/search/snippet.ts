/**
 * A search hit's snippet as text parts (the UI renders each part as text, marked parts in
 * `<mark>`: never HTML from a message): a window of the message around its first match, on word
 * boundaries, with an ellipsis where it was cut, and every matching word marked.
 */
import { matches, termOf, wordsAt } from './text.ts';

export interface SnippetPart {
	text: string;
	match: boolean;
}

/**
 * `terms` are the message's terms that matched (the index says which); `queryTerms` mark words
 * the query matched as a prefix too. At most about `max` characters.
 */
export function snippet(text: string, terms: string[], queryTerms: string[] = [], max = 140): SnippetPart[] {
	const flat = text.replace(/\s+/g, ' ').trim();
	const wanted = new Set(terms);
	const marked = wordsAt(flat).filter(({ word }) => {
		const term = termOf(word);
		return !!term && (wanted.has(term) || queryTerms.some((q) => matches(q, term)));
	});
	let start = 0;
	let end = flat.length;
	if (flat.length > max) {
		// Some context before the first match, the rest after it.
		const first = marked[0]?.start ?? 0;
		start = Math.max(0, Math.min(first - Math.floor(max / 4), flat.length - max));
		end = Math.min(flat.length, start + max);
		// Cut between words, not inside one.
		if (start > 0) {
			const space = flat.indexOf(' ', start);
			if (space >= 0 && space < first) start = space + 1;
		}
		if (end < flat.length) {
			const space = flat.lastIndexOf(' ', end);
			if (space > start && space > (marked[0]?.end ?? 0)) end = space;
		}
	}
	const parts: SnippetPart[] = [];
	const push = (value: string, match: boolean) => {
		if (!value) return;
		const last = parts[parts.length - 1];
		if (last && last.match === match) last.text += value;
		else parts.push({ text: value, match });
	};
	if (start > 0) push('…', false);
	let at = start;
	for (const word of marked) {
		if (word.end <= start || word.start >= end) continue;
		const from = Math.max(word.start, start);
		const to = Math.min(word.end, end);
		push(flat.slice(at, from), false);
		push(flat.slice(from, to), true);
		at = to;
	}
	push(flat.slice(at, end), false);
	if (end < flat.length) push('…', false);
	return parts;
}
