/** Small HTTP helpers shared by the stack's services. */
import type { IncomingMessage, ServerResponse } from 'node:http';

export class PayloadTooLargeError extends Error {
	override name = 'PayloadTooLargeError';
}

/**
 * The deepest JSON nesting the stack accepts in a request body, a Realtime frame or Storage
 * metadata. Deliberately stricter than Supabase (documented in docs/live-channels.md): real
 * payloads nest a few levels, while a value thousands of levels deep overflows the recursion of
 * JSON.stringify and of PostgreSQL's json parser, turning bad input into a 500.
 */
export const MAX_JSON_DEPTH = 64;

export class JsonDepthError extends Error {
	override name = 'JsonDepthError';
	constructor(limit: number) {
		super(`JSON nested deeper than ${limit} levels`);
	}
}

/** JSON.parse that first refuses text nesting arrays and objects deeper than `limit` (one pass, no recursion). */
export function parseJson(text: string, limit = MAX_JSON_DEPTH): unknown {
	let depth = 0;
	let inString = false;
	for (let i = 0; i < text.length; i++) {
		const c = text.charCodeAt(i);
		if (inString) {
			if (c === 0x5c)
				i++; // backslash: skip the escaped character
			else if (c === 0x22) inString = false;
		} else if (c === 0x22) inString = true;
		else if (c === 0x7b || c === 0x5b) {
			if (++depth > limit) throw new JsonDepthError(limit);
		} else if (c === 0x7d || c === 0x5d) depth--;
	}
	return JSON.parse(text);
}

/** Reads the whole request body, refusing more than `limit` bytes. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
	const declared = Number(req.headers['content-length'] ?? 0);
	if (declared > limit) throw new PayloadTooLargeError(`request body over ${limit} bytes`);
	const chunks: Buffer[] = [];
	let size = 0;
	for await (const chunk of req) {
		size += (chunk as Buffer).length;
		if (size > limit) throw new PayloadTooLargeError(`request body over ${limit} bytes`);
		chunks.push(chunk as Buffer);
	}
	return Buffer.concat(chunks);
}

/** Sends `body` as JSON with `status` and extra headers. */
export function sendJson(
	res: ServerResponse,
	status: number,
	body: unknown,
	headers: Record<string, string | number> = {}
): void {
	const text = body === undefined ? '' : JSON.stringify(body);
	res.writeHead(status, {
		'content-type': 'application/json; charset=utf-8',
		'content-length': Buffer.byteLength(text),
		...headers
	});
	res.end(text);
}

/** The Bearer token of an Authorization header, if any. */
export function bearerToken(req: IncomingMessage): string | undefined {
	const header = req.headers.authorization;
	if (!header) return undefined;
	const match = /^Bearer\s+(.+)$/i.exec(header.trim());
	return match?.[1].trim();
}

/** Request headers as the JSON text PostgREST and Storage put in `request.headers` for policies. */
export function requestHeadersJson(req: IncomingMessage): string {
	const out: Record<string, string> = {};
	for (const [k, v] of Object.entries(req.headers))
		if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
	return JSON.stringify(out);
}
