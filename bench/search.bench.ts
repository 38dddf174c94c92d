/**
 * Search on the device (src/lib/search), in this Node: indexing 100,000 realistic messages
 * (search-corpus.ts), saving the index sealed (AES-GCM under a key derived from an identity) and
 * loading it again, and queries (prefix, typos, common and rare words, two words) across all
 * conversations and in one. IndexedDB is fake-indexeddb here, so its figures are this process's
 * structured cloning, not a browser's disk; sealing and indexing are the same code as in the app.
 */
import { IDBFactory } from 'fake-indexeddb';
import { generateIdentity } from '../src/lib/crypto/e2ee.ts';
import { deriveLocalKey } from '../src/lib/crypto/local-key.ts';
import { MessageIndex, chunkKeyOf, type IndexedMessage } from '../src/lib/search/message-index.ts';
import { SealedIndexStore, encodeChunk, sealJson } from '../src/lib/search/sealed-store.ts';
import { corpus } from './search-corpus.ts';
import { percentile, report } from './support.ts';

const COUNT = 100_000;
const ROUNDS = 5;

const { messages, queries } = corpus(COUNT);
const chars = messages.reduce((n, m) => n + m.x.length, 0);
report('corpus', {
	messages: String(COUNT),
	conversations: String(new Set(messages.map((m) => m.c)).size),
	avg_chars: chars / COUNT,
	queries: String(queries.length)
});

// Indexing, as the timeline and the backfill feed it: one message at a time.
const index = new MessageIndex();
let start = performance.now();
for (const m of messages) index.put(m);
const indexMs = performance.now() - start;
report('index 100k messages (put, one by one)', {
	total_ms: indexMs,
	messages_per_s: COUNT / (indexMs / 1000),
	chunks: String(index.chunkKeys().length)
});

// Sealing and saving every chunk (the first save after a full backfill).
const key = await deriveLocalKey(generateIdentity().secretKey, 'search-index:bench');
const factory = new IDBFactory();
const store = new SealedIndexStore('bench', key, factory);
const all = index.takeDirty();
start = performance.now();
let sealedBytes = 0;
for (const [chunkKey, chunk] of all) {
	const sealed = await sealJson(key, encodeChunk(chunk), chunkKey);
	sealedBytes += sealed.data.length;
}
const sealMs = performance.now() - start;
start = performance.now();
await store.save(all, { version: 1, coverage: {} });
const saveMs = performance.now() - start;
report('seal all chunks (AES-GCM)', { ms: sealMs, sealed_mb: sealedBytes / 1e6, chunks: String(all.size) });
report('save all chunks (seal + IndexedDB put)', { ms: saveMs });

// An incremental save: one new message rewrites one chunk.
const last = messages[messages.length - 1];
const next: IndexedMessage = { ...last, id: 'new', s: last.s + 1, t: last.t + 1, x: 'one more message' };
index.put(next);
const dirty = index.takeDirty();
const chunkSize = dirty.get(chunkKeyOf(next))?.length ?? 0;
const samples: number[] = [];
for (let i = 0; i < 20; i++) {
	start = performance.now();
	await store.save(dirty, null);
	samples.push(performance.now() - start);
}
report('save after one new message', {
	chunks_written: String(dirty.size),
	messages_in_chunk: String(chunkSize),
	p50_ms: percentile(samples, 50)
});

// Loading: read the records, open each chunk, index it (what sign-in does, newest first).
start = performance.now();
const records = await store.records();
const readMs = performance.now() - start;
const loaded = new MessageIndex();
let openMs = 0;
let buildMs = 0;
for (const record of records) {
	if (record.key === '~meta') continue;
	let t = performance.now();
	const chunk = await store.openChunk(record);
	openMs += performance.now() - t;
	t = performance.now();
	if (chunk) loaded.load(chunk);
	buildMs += performance.now() - t;
}
report('load sealed index (read + open + index)', {
	total_ms: readMs + openMs + buildMs,
	read_ms: readMs,
	open_ms: openMs,
	index_ms: buildMs,
	messages: String(loaded.size)
});

// Queries: every query of the set, ROUNDS times, across all conversations and in the busiest one.
const busiest = [
	...messages.reduce((m, x) => m.set(x.c, (m.get(x.c) ?? 0) + 1), new Map<string, number>())
].sort((a, b) => b[1] - a[1])[0];
for (const [name, conversationId] of [
	['all conversations', undefined],
	[`one conversation (${busiest[1]} messages)`, busiest[0]]
] as const) {
	const times: number[] = [];
	let hits = 0;
	for (let r = 0; r < ROUNDS; r++) {
		for (const q of queries) {
			const t = performance.now();
			hits += loaded.search(q, { conversationId, limit: 50 }).length;
			times.push(performance.now() - t);
		}
	}
	report(`query, ${name}`, {
		p50_ms: percentile(times, 50),
		p95_ms: percentile(times, 95),
		max_ms: Math.max(...times),
		avg_hits: hits / times.length,
		queries: String(times.length)
	});
}
// What a person typing "meeting" waits for at each key.
const typing: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
	for (let n = 2; n <= 'meeting'.length; n++) {
		const t = performance.now();
		loaded.search('meeting'.slice(0, n));
		typing.push(performance.now() - t);
	}
}
report('query while typing "me" … "meeting"', {
	p50_ms: percentile(typing, 50),
	p95_ms: percentile(typing, 95)
});
