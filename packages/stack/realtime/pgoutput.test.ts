import { describe, expect, test } from 'vitest';
import { parseFrame, parseLsn, parsePgOutput, rowOf, standbyStatusUpdate } from './pgoutput.ts';
import { Writer } from './pgoutput-writer.ts';

describe('pgoutput messages', () => {
	test('a relation names its schema, table and columns', () => {
		const w = new Writer().byte('R').int32(16501).cstring('realtime').cstring('messages').byte('d').int16(2);
		w.byte(1).cstring('id').int32(2950).int32(-1);
		w.byte(0).cstring('topic').int32(25).int32(-1);
		expect(parsePgOutput(w.done())).toEqual({
			type: 'relation',
			relation: { id: 16501, schema: 'realtime', name: 'messages', columns: ['id', 'topic'] }
		});
	});

	test('a delete carries the old key; an update its new row, and the old one when the identity changed', () => {
		const d = new Writer().byte('D').int32(7).byte('K').int16(2).text('c1').text('u1');
		expect(parsePgOutput(d.done())).toEqual({ type: 'delete', relationId: 7, old: ['c1', 'u1'] });
		const u = new Writer().byte('U').int32(7).byte('N').int16(2).text('c1').byte('n');
		expect(parsePgOutput(u.done())).toEqual({
			type: 'update',
			relationId: 7,
			old: null,
			values: ['c1', null]
		});
		const keyed = new Writer().byte('U').int32(7).byte('O').int16(1).text('a').byte('N').int16(1).text('b');
		expect(parsePgOutput(keyed.done())).toEqual({ type: 'update', relationId: 7, old: ['a'], values: ['b'] });
		expect(() => parsePgOutput(new Writer().byte('D').int32(7).byte('N').int16(0).done())).toThrow(
			/old tuple/
		);
	});

	test('a truncate lists its relations', () => {
		const t = new Writer().byte('T').int32(2).byte(1).int32(7).int32(9);
		expect(parsePgOutput(t.done())).toEqual({ type: 'truncate', relationIds: [7, 9] });
	});

	test('an insert carries text values, nulls and unchanged TOAST markers, multi-byte text intact', () => {
		const w = new Writer().byte('I').int32(16501).byte('N').int16(4);
		w.text('{"emoji": "👍"}').byte('n').byte('u').text('t');
		const message = parsePgOutput(w.done());
		expect(message).toEqual({
			type: 'insert',
			relationId: 16501,
			values: ['{"emoji": "👍"}', null, { unchanged: true }, 't']
		});
		const relation = {
			id: 16501,
			schema: 'realtime',
			name: 'messages',
			columns: ['payload', 'event', 'big', 'private']
		};
		if (message.type !== 'insert') throw new Error('not an insert');
		expect(rowOf(relation, message.values)).toEqual({
			payload: '{"emoji": "👍"}',
			event: null,
			private: 't'
		});
	});

	test('begin and commit give the transaction and its end position', () => {
		expect(parsePgOutput(new Writer().byte('B').int64(0x1_0000_00a0n).int64(5n).int32(771).done())).toEqual({
			type: 'begin',
			finalLsn: 0x1_0000_00a0n,
			xid: 771
		});
		expect(parsePgOutput(new Writer().byte('C').byte(0).int64(10n).int64(42n).int64(5n).done())).toEqual({
			type: 'commit',
			commitLsn: 10n,
			endLsn: 42n
		});
	});

	test('other messages are recognised and skipped; a truncated value or bad marker is an error', () => {
		expect(parsePgOutput(new Writer().byte('Y').int32(1).cstring('public').cstring('mood').done())).toEqual({
			type: 'other',
			tag: 'Y'
		});
		const truncated = new Writer().byte('I').int32(1).byte('N').int16(1).byte('t').int32(50).cstring('short');
		expect(() => parsePgOutput(truncated.done())).toThrow(/past the end/);
		expect(() => parsePgOutput(new Writer().byte('I').int32(1).byte('K').done())).toThrow(/new tuple/);
		expect(() => parsePgOutput(new Writer().byte('I').int32(1).byte('N').int16(1).byte('x').done())).toThrow(
			/column kind/
		);
	});
});

describe('replication frames', () => {
	test('XLogData gives its positions and the pgoutput message; keepalive says whether to reply', () => {
		const data = Buffer.from('B-message');
		const frame = parseFrame(new Writer().byte('w').int64(7n).int64(9n).int64(0n).raw(data).done());
		expect(frame).toMatchObject({ type: 'xlogdata', start: 7n, walEnd: 9n });
		expect(frame.type === 'xlogdata' && frame.data.toString()).toBe('B-message');
		expect(parseFrame(new Writer().byte('k').int64(99n).int64(0n).byte(1).done())).toEqual({
			type: 'keepalive',
			walEnd: 99n,
			replyRequested: true
		});
		expect(parseFrame(new Writer().byte('k').int64(99n).int64(0n).byte(0).done())).toMatchObject({
			replyRequested: false
		});
	});

	test('a standby status update confirms one position three times, with the time since 2000', () => {
		const update = standbyStatusUpdate(0x2_0000_0010n, Date.UTC(2000, 0, 1, 0, 0, 1));
		expect(update).toHaveLength(34);
		expect(String.fromCharCode(update[0])).toBe('r');
		for (const at of [1, 9, 17]) expect(update.readBigUInt64BE(at)).toBe(0x2_0000_0010n);
		expect(update.readBigUInt64BE(25)).toBe(1_000_000n);
		expect(update[33]).toBe(0);
	});

	test('textual LSNs read as 64-bit positions', () => {
		expect(parseLsn('0/16B3748')).toBe(0x16b3748n);
		expect(parseLsn('1/0')).toBe(0x1_0000_0000n);
		expect(() => parseLsn('nonsense')).toThrow();
	});
});
