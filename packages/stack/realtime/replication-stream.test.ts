import { describe, expect, test } from 'vitest';
import { authorizationChanges, type AuthorizationChange } from './authorization-changes.ts';
import { databaseBroadcasts } from './db-broadcast.ts';
import type { Hub, Outgoing } from './hub.ts';
import { Writer, xlogData } from './pgoutput-writer.ts';
import { ReplicationStream, type ReplicationHandler } from './replication-stream.ts';

const relation = (id: number, schema: string, name: string, columns: string[]) => {
	const w = new Writer().byte('R').int32(id).cstring(schema).cstring(name).byte('d').int16(columns.length);
	for (const column of columns) w.byte(0).cstring(column).int32(25).int32(-1);
	return w.done();
};
const begin = () => new Writer().byte('B').int64(0n).int64(0n).int32(1).done();
const commit = (endLsn: bigint) =>
	new Writer().byte('C').byte(0).int64(endLsn).int64(endLsn).int64(0n).done();
const insert = (id: number, ...values: string[]) => {
	const w = new Writer().byte('I').int32(id).byte('N').int16(values.length);
	for (const v of values) w.text(v);
	return w.done();
};
const del = (id: number, ...values: string[]) => {
	const w = new Writer().byte('D').int32(id).byte('K').int16(values.length);
	for (const v of values) w.text(v);
	return w.done();
};
const truncate = (...ids: number[]) => {
	const w = new Writer().byte('T').int32(ids.length).byte(0);
	for (const id of ids) w.int32(id);
	return w.done();
};
const keepalive = (walEnd: bigint) => new Writer().byte('k').int64(walEnd).int64(0n).byte(1).done();

/** A stream over recorded handlers, fed pgoutput messages as the walsender frames them. */
function streamOf(handlers: ReplicationHandler[]) {
	const errors: Error[] = [];
	const confirmed: bigint[] = [];
	const stream = new ReplicationStream('START_REPLICATION', 5n, 60_000, handlers, (e) => errors.push(e));
	stream.submit({ query: () => {}, sendCopyFromChunk: (chunk) => confirmed.push(chunk.readBigUInt64BE(1)) });
	const feed = (...messages: Buffer[]) => {
		for (const m of messages) stream.handleCopyData({ chunk: xlogData(m) });
	};
	const tick = (walEnd: bigint) => stream.handleCopyData({ chunk: keepalive(walEnd) });
	return { stream, errors, confirmed, feed, tick };
}

function recorder(name: string, accepts: (table: string) => boolean, log: string[]): ReplicationHandler {
	return {
		publication: name,
		accepts: (r) => accepts(r.name),
		onBegin: () => log.push(`${name} begin`),
		onChange: (r, change) => log.push(`${name} ${change.type} ${r.name}`),
		onCommit: () => log.push(`${name} commit`)
	};
}

describe('the replication stream', () => {
	test('routes each change to the handlers that accept its relation, and tells all of them of each commit', () => {
		const log: string[] = [];
		const { stream, errors, feed } = streamOf([
			recorder('a', (t) => t === 'one', log),
			recorder('b', (t) => t !== 'nothing', log)
		]);
		feed(relation(1, 'public', 'one', ['x']), relation(2, 'public', 'two', ['x']));
		feed(relation(3, 'public', 'nothing', ['x']));
		feed(begin(), insert(1, 'a'), del(2, 'b'), insert(3, 'c'), truncate(1, 2), commit(9n));
		stream.stop();
		expect(errors).toEqual([]);
		expect(log).toEqual([
			'a begin',
			'b begin',
			'a insert one',
			'b insert one',
			'b delete two',
			'a truncate one',
			'b truncate one',
			'b truncate two',
			'a commit',
			'b commit'
		]);
	});

	test('confirms the end of the last commit, and the server position between transactions only', () => {
		const { stream, confirmed, feed, tick } = streamOf([]);
		tick(3n);
		expect(confirmed).toEqual([5n]);
		feed(begin(), commit(40n));
		tick(30n);
		tick(50n);
		feed(begin());
		tick(70n);
		stream.stop();
		expect(confirmed).toEqual([5n, 40n, 50n, 50n]);
	});

	test('a change of a relation it was never told of fails the stream', () => {
		const { stream, errors, feed } = streamOf([]);
		feed(begin(), insert(4, 'a'));
		stream.stop();
		expect(errors.map((e) => e.message)).toEqual(['change for unknown relation 4']);
	});
});

describe('the handlers', () => {
	test('database broadcasts fan committed broadcast rows out to joined topics, after the commit only', () => {
		const sent: [string, Outgoing][] = [];
		const hub = {
			subscribers: (key: string) => (key === 'public:room' ? 1 : 0),
			broadcast: (key: string, message: Outgoing) => sent.push([key, message])
		} as unknown as Hub;
		const messages = relation(1, 'realtime', 'messages_2026_01_01', [
			'id',
			'topic',
			'extension',
			'event',
			'payload',
			'private'
		]);
		const { stream, feed } = streamOf([databaseBroadcasts(hub, () => {})]);
		feed(messages, begin(), insert(1, 'm1', 'room', 'broadcast', 'hi', '{"n":1}', 'f'));
		feed(
			insert(1, 'm2', 'elsewhere', 'broadcast', 'hi', '{}', 'f'),
			insert(1, 'm3', 'room', 'presence', 'x', '{}', 'f')
		);
		expect(sent).toEqual([]);
		feed(commit(9n));
		stream.stop();
		expect(sent).toHaveLength(1);
		const [key, message] = sent[0];
		expect(key).toBe('public:room');
		expect(message.kind === 'user' && JSON.parse(message.broadcast.data.toString())).toEqual({
			n: 1,
			id: 'm1'
		});
	});

	test('authorization changes gather a transaction’s values, or all after a truncate, and skip messages', () => {
		const seen: AuthorizationChange[] = [];
		const { stream, feed } = streamOf([authorizationChanges((change) => seen.push(change))]);
		feed(
			relation(1, 'public', 'participants', ['conversation', 'user']),
			relation(2, 'realtime', 'messages', ['id'])
		);
		feed(begin(), del(1, 'c1', 'u1'), insert(2, 'm'), commit(1n));
		feed(begin(), insert(2, 'm'), commit(2n));
		feed(begin(), truncate(2), commit(3n));
		feed(begin(), truncate(1), del(1, 'c2', 'u2'), commit(4n));
		stream.stop();
		expect(seen).toEqual([new Set(['c1', 'u1']), 'all']);
	});
});
