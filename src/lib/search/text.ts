/**
 * How message text becomes search terms, shared by the index (what it stores and what a query
 * asks for) and the snippets (which words of the original text to mark): words are runs of
 * letters, marks and digits; a term is a word lowercased with its accents folded ("Café" → "cafe").
 */

/** A word: letters, combining marks and digits (punctuation, spaces, symbols and emoji separate). */
const WORD = /[\p{L}\p{M}\p{N}]+/gu;
const MARKS = /\p{M}/gu;
/** Anything beyond ASCII (only such text can carry accents to fold). */
const NON_ASCII = /[^ -~\s]/;
/** Longer "words" are links, keys, base64: not worth a term (they would bloat the index). */
export const MAX_TERM_LENGTH = 40;

/** The term a word is indexed under, or null for a word too long to index. */
export function termOf(word: string): string | null {
	if (word.length > MAX_TERM_LENGTH) return null;
	// Only text with accents pays for the decomposition.
	const plain = NON_ASCII.test(word) ? word.normalize('NFD').replace(MARKS, '') : word;
	return plain.toLowerCase() || null;
}

/** A whole text as its terms read (lowercased, accents folded), for matching it word by word. */
export function fold(text: string): string {
	return (NON_ASCII.test(text) ? text.normalize('NFD').replace(MARKS, '') : text).toLowerCase();
}

/** The terms of a query, as the index processes them. */
export function queryTerms(query: string): string[] {
	return words(query)
		.map(termOf)
		.filter((t): t is string => !!t);
}

/**
 * Whether a query term matches a message term: as its start (prefix search, two letters or more)
 * or, for a single letter, as the whole word.
 */
export function matches(queryTerm: string, term: string): boolean {
	return queryTerm.length >= 2 ? term.startsWith(queryTerm) : term === queryTerm;
}

/** The words of a text (as MiniSearch's tokenizer). */
export function words(text: string): string[] {
	return text.match(WORD) ?? [];
}

/** A word of a text with where it sits, for marking matches in the original. */
export interface WordAt {
	word: string;
	start: number;
	end: number;
}

/** The words of a text with their offsets. */
export function wordsAt(text: string): WordAt[] {
	const out: WordAt[] = [];
	for (const m of text.matchAll(WORD)) out.push({ word: m[0], start: m.index, end: m.index + m[0].length });
	return out;
}
