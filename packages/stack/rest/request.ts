/**
 * Request parsing: an HTTP request to `/rest/v1` becomes an ApiRequest, or fails before any
 * schema lookup: what the path names (a table, a function, the OpenAPI root), the method allowed
 * for it, the schema from `Accept-Profile`/`Content-Profile`, the media type, the preferences,
 * the JSON body and the `Range` header. The query string stays unparsed: a GET call's arguments
 * are told from its filters only once the function is known.
 */
import type { IncomingMessage } from 'node:http';
import { JsonDepthError, parseJson, readBody } from '../http.ts';
import { errors } from './errors.ts';
import { negotiate, type MediaType } from './media.ts';
import { parsePrefer, type Preferences } from './prefer.ts';

export interface ApiRequest {
	method: string;
	/** The path below `/rest/v1`. */
	path: string;
	target: { kind: 'table' | 'rpc'; name: string };
	/** GET or HEAD: nothing is written, the transaction is read-only. */
	isRead: boolean;
	schema: string;
	media: MediaType;
	prefs: Preferences;
	/** The parsed JSON body, undefined for reads and an empty DELETE. */
	body: unknown;
	rawBody: string;
	range?: { offset: number; limit?: number };
	params: URLSearchParams;
}

/** What parseRequest needs of the service's configuration. */
export interface RequestLimits {
	schemas: string[];
	maxBodyBytes: number;
}

const TABLE_METHODS = ['GET', 'HEAD', 'POST', 'PATCH', 'DELETE'];
const RPC_METHODS = ['GET', 'HEAD', 'POST'];

/** The request `req` to `url`, or `'openapi'` for the root path. */
export async function parseRequest(
	req: IncomingMessage,
	url: URL,
	limits: RequestLimits
): Promise<ApiRequest | 'openapi'> {
	const method = req.method ?? 'GET';
	const path = url.pathname;
	const segments = path.split('/').filter(Boolean).map(decodeURIComponent);
	const isRpc = segments.length === 2 && segments[0] === 'rpc';
	if (segments.length === 0) {
		if (method !== 'GET' && method !== 'HEAD') throw errors.unsupportedMethod(method);
		return 'openapi';
	}
	if (!(segments.length === 1 || isRpc)) throw errors.invalidPath();
	const isRead = method === 'GET' || method === 'HEAD';
	if (isRpc && !RPC_METHODS.includes(method)) throw errors.rpcMethod(method);
	if (!isRpc && !TABLE_METHODS.includes(method)) {
		if (method === 'PUT') throw errors.unsupported('PUT (single-row upsert)');
		throw errors.unsupportedMethod(method);
	}

	const profileHeader = isRead ? req.headers['accept-profile'] : req.headers['content-profile'];
	const schema = profileHeader ? String(profileHeader) : limits.schemas[0];
	if (!limits.schemas.includes(schema)) throw errors.invalidSchema(schema, limits.schemas);
	const media = negotiate(req.headers.accept);
	const prefs = parsePrefer(req.headers.prefer);
	if (prefs.handling === 'strict' && prefs.invalid.length) throw errors.invalidPreferences(prefs.invalid);

	let body: unknown = undefined;
	let rawBody = '';
	if (!isRead) {
		rawBody = (await readBody(req, limits.maxBodyBytes)).toString('utf8');
		if (method !== 'DELETE' || rawBody.trim() !== '') body = parseBody(req, rawBody, isRpc);
	}
	return {
		method,
		path,
		target: { kind: isRpc ? 'rpc' : 'table', name: isRpc ? segments[1] : segments[0] },
		isRead,
		schema,
		media,
		prefs,
		body,
		rawBody,
		range: isRead ? parseRange(req) : undefined,
		// The gateway already parsed the URL; its query string is the request's.
		params: url.searchParams
	};
}

/** The JSON of a write's body; an empty call body is no arguments. */
function parseBody(req: IncomingMessage, rawBody: string, isRpc: boolean): unknown {
	const type = String(req.headers['content-type'] ?? 'application/json').toLowerCase();
	if (!/^application\/(json|vnd\.pgrst\.object\+json|vnd\.pgrst\.object)\b/.test(type) && rawBody !== '')
		throw errors.unsupportedContentType(type);
	if (isRpc && rawBody.trim() === '') return {};
	try {
		return parseJson(rawBody);
	} catch (error) {
		throw errors.invalidBody(error instanceof JsonDepthError ? error.message : null);
	}
}

/** The request's `Range` header as offset/limit, when it is an items range. */
function parseRange(req: IncomingMessage): { offset: number; limit?: number } | undefined {
	const header = req.headers.range;
	if (!header) return undefined;
	const unit = String(req.headers['range-unit'] ?? 'items');
	if (unit !== 'items') return undefined;
	const m = /^(?:items=)?(\d+)-(\d*)$/.exec(header.trim());
	if (!m) return undefined;
	const start = Number(m[1]);
	if (m[2] === '') return { offset: start };
	const end = Number(m[2]);
	if (end < start) throw errors.rangeNotSatisfiable(null, null);
	return { offset: start, limit: end - start + 1 };
}
