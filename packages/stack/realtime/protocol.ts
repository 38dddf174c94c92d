/**
 * Phoenix channel frames as realtime-js speaks them. `vsn=1.0.0`: JSON objects. `vsn=2.0.0`: JSON
 * arrays `[join_ref, ref, topic, event, payload]`, plus two binary layouts for user broadcasts:
 * kind 3 (client → server push: join_ref, ref, topic, user event, metadata, encoding, payload)
 * and kind 4 (server → client: topic, user event, metadata, encoding, payload).
 */

import { JsonDepthError, parseJson } from '../http.ts';

export type Vsn = '1.0.0' | '2.0.0';

/** A decoded JSON frame. */
export interface Frame {
	joinRef: string | null;
	ref: string | null;
	topic: string;
	event: string;
	payload: unknown;
}

/** What a reply needs of the frame it answers. */
export type FrameRef = Pick<Frame, 'joinRef' | 'ref' | 'topic'>;

/** Is a decoded payload (or a part of one) a JSON object? */
export function isObject(value: unknown): value is Record<string, unknown> {
	return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A user broadcast whose payload stays encoded: the bytes are fanned out as they came, so a
 * message is serialized once however many sockets receive it.
 */
export interface UserBroadcast {
	event: string;
	/** `json`: UTF-8 JSON text; `binary`: opaque bytes (vsn 2 receivers only). */
	encoding: 'json' | 'binary';
	data: Buffer;
	meta?: Record<string, unknown>;
}

/** A decoded kind-3 binary push. */
export interface BinaryPush {
	joinRef: string | null;
	ref: string | null;
	topic: string;
	broadcast: UserBroadcast;
}

export class ProtocolError extends Error {
	override name = 'ProtocolError';
}

const KIND_USER_BROADCAST_PUSH = 3;
const KIND_USER_BROADCAST = 4;

function asRef(value: unknown): string | null {
	if (value === null || value === undefined) return null;
	if (typeof value === 'string') return value;
	if (typeof value === 'number') return String(value);
	throw new ProtocolError('ref and join_ref must be strings or null');
}

/** Parses a text frame; throws ProtocolError when it is not a Phoenix message. */
export function decodeText(vsn: Vsn, text: string): Frame {
	let parsed: unknown;
	try {
		parsed = parseJson(text);
	} catch (error) {
		throw new ProtocolError(
			error instanceof JsonDepthError ? `frame ${error.message}` : 'frame is not valid JSON'
		);
	}
	if (vsn === '2.0.0') {
		if (!Array.isArray(parsed) || parsed.length < 5) {
			throw new ProtocolError('expected a [join_ref, ref, topic, event, payload] array');
		}
		const [joinRef, ref, topic, event, payload] = parsed as unknown[];
		if (typeof topic !== 'string' || typeof event !== 'string') {
			throw new ProtocolError('topic and event must be strings');
		}
		return { joinRef: asRef(joinRef), ref: asRef(ref), topic, event, payload };
	}
	if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
		throw new ProtocolError('expected a {topic, event, payload, ref} object');
	}
	const m = parsed as Record<string, unknown>;
	if (typeof m.topic !== 'string' || typeof m.event !== 'string' || !('payload' in m)) {
		throw new ProtocolError('topic, event and payload are required');
	}
	return {
		joinRef: asRef(m.join_ref),
		ref: asRef(m.ref),
		topic: m.topic,
		event: m.event,
		payload: m.payload
	};
}

/** Parses a binary frame (only kind 3, the one realtime-js sends). */
export function decodeBinary(buf: Buffer): BinaryPush {
	if (buf.length < 7 || buf[0] !== KIND_USER_BROADCAST_PUSH) {
		throw new ProtocolError('unsupported binary frame');
	}
	const sizes = [buf[1], buf[2], buf[3], buf[4], buf[5]];
	const encoding = buf[6] === 0 ? 'binary' : 'json';
	let offset = 7;
	const parts: string[] = [];
	for (const size of sizes) {
		if (offset + size > buf.length) throw new ProtocolError('truncated binary frame');
		parts.push(buf.toString('utf8', offset, offset + size));
		offset += size;
	}
	const [joinRef, ref, topic, event, metadata] = parts;
	let meta: Record<string, unknown> | undefined;
	if (metadata) {
		try {
			meta = parseJson(metadata) as Record<string, unknown>;
		} catch {
			throw new ProtocolError('binary frame metadata is not JSON');
		}
	}
	const data = buf.subarray(offset);
	if (encoding === 'json') {
		try {
			parseJson(data.toString('utf8'));
		} catch {
			throw new ProtocolError('binary frame payload is not JSON');
		}
	}
	return {
		joinRef: joinRef || null,
		ref: ref || null,
		topic,
		broadcast: { event, encoding, data: Buffer.from(data), meta }
	};
}

/** Encodes a JSON frame for a socket speaking `vsn`. */
export function encodeText(vsn: Vsn, frame: Frame): string {
	if (vsn === '2.0.0') {
		return JSON.stringify([frame.joinRef, frame.ref, frame.topic, frame.event, frame.payload]);
	}
	return JSON.stringify({
		topic: frame.topic,
		event: frame.event,
		payload: frame.payload,
		ref: frame.ref,
		join_ref: frame.joinRef
	});
}

/**
 * Encodes a user broadcast for `topic`: a kind-4 binary frame for vsn 2, a JSON `broadcast`
 * message for vsn 1 (null when the payload is binary, which vsn 1 cannot carry).
 */
export function encodeUserBroadcast(vsn: Vsn, topic: string, b: UserBroadcast): string | Buffer | null {
	if (vsn === '2.0.0') {
		const topicBytes = Buffer.from(topic);
		const eventBytes = Buffer.from(b.event);
		const metaBytes = b.meta ? Buffer.from(JSON.stringify(b.meta)) : Buffer.alloc(0);
		if (topicBytes.length > 255 || eventBytes.length > 255 || metaBytes.length > 255) {
			throw new ProtocolError('topic, event and metadata must each be at most 255 bytes');
		}
		const header = Buffer.from([
			KIND_USER_BROADCAST,
			topicBytes.length,
			eventBytes.length,
			metaBytes.length,
			b.encoding === 'json' ? 1 : 0
		]);
		return Buffer.concat([header, topicBytes, eventBytes, metaBytes, b.data]);
	}
	if (b.encoding !== 'json') return null;
	// Splice the payload text in rather than parse and re-serialize it.
	const meta = b.meta ? `,"meta":${JSON.stringify(b.meta)}` : '';
	const payload = `{"type":"broadcast","event":${JSON.stringify(b.event)},"payload":${b.data.toString('utf8')}${meta}}`;
	return `{"topic":${JSON.stringify(topic)},"event":"broadcast","payload":${payload},"ref":null,"join_ref":null}`;
}
