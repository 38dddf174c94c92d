/**
 * A deterministic corpus of chat messages for search.bench.ts: word frequencies follow Zipf's law
 * over a vocabulary of common English chat words and a long tail of names, places and jargon;
 * lengths from a two-word "ok thanks" to a paragraph; some links, numbers, accents and emoji.
 */
import type { IndexedMessage } from '../src/lib/search/message-index.ts';

/** Mulberry32: the same corpus on every run. */
export function random(seed: number): () => number {
	let a = seed >>> 0;
	return () => {
		a = (a + 0x6d2b79f5) >>> 0;
		let t = a;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

const COMMON = `the i you to a and it is that of in for we on be this have it's do are not with
can just so what but my me at was your if will get all no ok yes like know about think one
out up there how they see time good when from them going now here then would go did an our
more today tomorrow really want need should could make sure thanks thank lol haha yeah well
let got back also right any some meeting call later tonight morning work home week day
night love great nice cool sorry please maybe still new last next first long little much
lunch dinner coffee office project team doc document review update plan idea question answer
send sent message phone email photo picture video link file meeting notes deadline friday
monday tuesday wednesday thursday saturday sunday weekend train bus car flight hotel ticket
price money pay paid bill rent shop store food pizza beer wine party birthday present gift
movie show game play music song concert book read write code bug fix release deploy test
server client design draft final version branch merge issue ticket sprint standup demo
happy sad tired busy free late early soon ready done finished started working waiting
because though actually probably definitely already almost always never sometimes often
mom dad kids family friend friends brother sister guys everyone someone nobody anything
weather rain sunny cold hot snow outside walk run gym doctor appointment dentist school
class exam homework teacher student university library garden kitchen car keys wallet`
	.split(/\s+/)
	.filter(Boolean);

const SYLLABLES =
	'ka ri to mu ne sa lo vi de ra mi ko ta be lu no ga zi pe fo ha yu ch sh th an el or in ul ar en is os'.split(
		' '
	);

/** Names, places, products, jargon: the long tail people actually search for. */
function tail(rand: () => number, count: number): string[] {
	const out = new Set<string>();
	while (out.size < count) {
		const n = 2 + Math.floor(rand() * 3);
		let w = '';
		for (let i = 0; i < n; i++) w += SYLLABLES[Math.floor(rand() * SYLLABLES.length)];
		out.add(w);
	}
	return [...out];
}

const ACCENTED = ['café', 'naïve', 'résumé', 'Zürich', 'São', 'Málaga', 'crème', 'piñata', 'jalapeño'];
const EMOJI = ['👍', '😂', '🎉', '❤️', '🙏', '😅', '🔥'];

export interface Corpus {
	messages: IndexedMessage[];
	/** Queries as people type them: common and rare words, prefixes, typos, two words, accents. */
	queries: string[];
}

export function corpus(count: number, conversations = 60, seed = 18): Corpus {
	const rand = random(seed);
	const vocabulary = [...COMMON, ...tail(rand, 12_000)];
	// Zipf over ranks (s ≈ 1): a cumulative table sampled by binary search.
	const cumulative: number[] = [];
	let sum = 0;
	for (let r = 0; r < vocabulary.length; r++) cumulative.push((sum += 1 / (r + 1.5)));
	const word = () => {
		const x = rand() * sum;
		let lo = 0;
		let hi = cumulative.length - 1;
		while (lo < hi) {
			const mid = (lo + hi) >> 1;
			if (cumulative[mid] < x) lo = mid + 1;
			else hi = mid;
		}
		return vocabulary[lo];
	};
	const conversationIds = Array.from(
		{ length: conversations },
		(_, i) => `c${String(i).padStart(3, '0')}-${seed}`
	);
	const senders = Array.from({ length: 40 }, (_, i) => `u${i}`);
	const seqs = new Map<string, number>();
	const start = Date.parse('2024-01-01T00:00:00Z');
	const messages: IndexedMessage[] = [];
	for (let i = 0; i < count; i++) {
		// Some conversations are far busier than others.
		const c = conversationIds[Math.floor(Math.pow(rand(), 2) * conversations)];
		const s = (seqs.get(c) ?? 0) + 1;
		seqs.set(c, s);
		const length = rand() < 0.3 ? 1 + Math.floor(rand() * 4) : 4 + Math.floor(rand() * rand() * 40);
		const parts: string[] = [];
		for (let w = 0; w < length; w++) parts.push(word());
		if (rand() < 0.2) parts[0] = parts[0][0].toUpperCase() + parts[0].slice(1);
		if (rand() < 0.03) parts.push(ACCENTED[Math.floor(rand() * ACCENTED.length)]);
		if (rand() < 0.04) parts.push(`https://example.com/${word()}/${Math.floor(rand() * 1e6)}`);
		if (rand() < 0.05) parts.push(String(Math.floor(rand() * 1000)));
		if (rand() < 0.1) parts.push(EMOJI[Math.floor(rand() * EMOJI.length)]);
		const x = parts.join(' ') + (rand() < 0.3 ? '?' : rand() < 0.5 ? '.' : '');
		messages.push({
			id: `m${i}`,
			c,
			s,
			u: senders[Math.floor(rand() * senders.length)],
			t: start + i * 60_000,
			x
		});
	}
	const rare = vocabulary.slice(COMMON.length + 200, COMMON.length + 260);
	const mid = vocabulary.slice(COMMON.length, COMMON.length + 60);
	const typo = (w: string) => w.slice(0, 2) + w[3] + w[2] + w.slice(4);
	const queries = [
		...['meeting', 'deadline', 'pizza', 'birthday', 'dentist', 'release', 'concert', 'wallet'],
		...['meet', 'dead', 'birth', 'rel', 'conc', 'proj', 'tom', 'hot'],
		...['meetnig', 'dedline', 'birtday', 'relaese', 'libary'],
		...['coffee tomorrow', 'train ticket', 'review doc', 'dinner friday', 'fix bug'],
		...['cafe', 'zurich', 'résumé'],
		...['the', 'ok'],
		...rare.slice(0, 20),
		...mid.slice(0, 10),
		...rare.slice(20, 30).map((w) => (w.length >= 5 ? typo(w) : w)),
		...rare.slice(30, 40).map((w) => w.slice(0, 3))
	];
	return { messages, queries };
}
