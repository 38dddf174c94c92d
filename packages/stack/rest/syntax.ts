/**
 * The lexical layer of PostgREST's URL grammar that every parameter shares: a cursor over the
 * text, identifiers (plain or double-quoted), field references with JSON paths (`col->a->>b`),
 * and top-level comma splitting that respects parentheses, braces and quotes.
 */
import { errors } from './errors.ts';

export interface JsonStep {
	arrow: '->' | '->>';
	key: string;
}

export interface FieldRef {
	name: string;
	json: JsonStep[];
}

export function isNameChar(s: string, i: number): boolean {
	const c = s[i];
	if (c === undefined) return false;
	if (c === '-') return s[i + 1] !== '>';
	return !',.:()!"\'*\\ \t\n'.includes(c) && !(c === '-' && s[i + 1] === '>');
}

/** A small cursor over a string with the helpers the grammars below share. */
export class Cursor {
	s: string;
	i = 0;
	what: string;
	constructor(s: string, what: string) {
		this.s = s;
		this.what = what;
	}
	get done(): boolean {
		return this.i >= this.s.length;
	}
	peek(n = 0): string {
		return this.s[this.i + n] ?? '';
	}
	startsWith(t: string): boolean {
		return this.s.startsWith(t, this.i);
	}
	eat(t: string): boolean {
		if (!this.startsWith(t)) return false;
		this.i += t.length;
		return true;
	}
	expect(t: string): void {
		if (!this.eat(t)) this.fail(`expecting "${t}"`);
	}
	fail(expecting: string): never {
		const at = this.done ? 'end of input' : `"${this.peek()}"`;
		throw errors.parse(`${this.what} (${this.s})`, `unexpected ${at} ${expecting}`.trim());
	}
	/** An identifier: a double-quoted string or a run of name characters. */
	name(): string {
		if (this.peek() === '"') return this.quoted();
		const start = this.i;
		while (isNameChar(this.s, this.i)) this.i++;
		if (this.i === start) this.fail('expecting a name');
		return this.s.slice(start, this.i);
	}
	quoted(): string {
		this.expect('"');
		let out = '';
		while (!this.done && this.peek() !== '"') {
			if (this.peek() === '\\' && this.i + 1 < this.s.length) this.i++;
			out += this.s[this.i++];
		}
		this.expect('"');
		return out;
	}
}

/** A column name with its JSON path steps. */
export function parseField(c: Cursor): FieldRef {
	const name = c.name();
	const json: JsonStep[] = [];
	for (;;) {
		const arrow = c.eat('->>') ? '->>' : c.eat('->') ? '->' : null;
		if (!arrow) break;
		let k: string;
		if (c.peek() === '"') k = c.quoted();
		else {
			const start = c.i;
			if (c.peek() === '-') c.i++;
			while (isNameChar(c.s, c.i)) c.i++;
			if (c.i === start) c.fail('expecting a JSON key');
			k = c.s.slice(start, c.i);
		}
		json.push({ arrow, key: k });
	}
	return { name, json };
}

/** Splits `a,b,(c,d),"e,f"` at top-level commas. */
export function splitTopLevel(s: string, what: string): string[] {
	const parts: string[] = [];
	let depth = 0;
	let quoted = false;
	let start = 0;
	for (let i = 0; i < s.length; i++) {
		const ch = s[i];
		if (quoted) {
			if (ch === '\\') i++;
			else if (ch === '"') quoted = false;
		} else if (ch === '"') quoted = true;
		else if (ch === '(' || ch === '{' || ch === '[') depth++;
		else if (ch === ')' || ch === '}' || ch === ']') {
			if (--depth < 0) throw errors.parse(`${what} (${s})`, 'unbalanced parentheses');
		} else if (ch === ',' && depth === 0) {
			parts.push(s.slice(start, i));
			start = i + 1;
		}
	}
	if (depth !== 0 || quoted) throw errors.parse(`${what} (${s})`, 'unbalanced parentheses or quotes');
	parts.push(s.slice(start));
	return parts;
}

/** The text of a double-quoted value, unescaped; any other value as it is. */
export function unquote(v: string): string {
	if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) return v.slice(1, -1).replace(/\\(.)/g, '$1');
	return v;
}
