/**
 * Realtime's HTTP API: `POST /api/broadcast` (a batch, as supabase-js falls back to when a
 * channel is not joined), `POST /api/broadcast/:topic/events/:event` (realtime-js `httpSend`)
 * and `GET /api/ping`. The Bearer token (else the apikey's JWT) authorizes: private messages
 * need the insert policy on realtime.messages for their topic (service_role bypasses RLS);
 * refused private messages are dropped silently, as on Supabase.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type pg from 'pg';
import type { GatewayContext } from '../gateway.ts';
import { parseJson, PayloadTooLargeError, readBody, sendJson } from '../http.ts';
import type { Claims } from '../jwt.ts';
import { writePermissions } from './authorization.ts';
import { topicKey, type Hub, type Outgoing } from './hub.ts';
import type { RealtimeOptions } from './options.ts';
import { isObject } from './protocol.ts';
import { checkToken } from './tokens.ts';

export interface HttpApiContext {
	hub: Hub;
	pool: pg.Pool;
	jwtSecret: string;
	options: RealtimeOptions;
	log: (message: string) => void;
}

interface Message {
	topic: string;
	event: string;
	private: boolean;
	message: Outgoing;
}

/** Sends `messages`, checking private topics once each against `claims`. */
async function deliver(ctx: HttpApiContext, claims: Claims, messages: Message[]): Promise<void> {
	const allowed = new Map<string, boolean>();
	for (const m of messages) {
		if (m.private && !allowed.has(m.topic)) {
			try {
				allowed.set(m.topic, (await writePermissions(ctx.pool, m.topic, claims)).broadcast);
			} catch (error) {
				ctx.log(`RlsPolicyError on ${m.topic}: ${(error as Error).message}`);
				allowed.set(m.topic, false);
			}
		}
	}
	for (const m of messages) {
		if (m.private && !allowed.get(m.topic)) continue;
		ctx.hub.broadcast(topicKey(m.topic, m.private), m.message);
	}
}

/** Handles a request under `/realtime/v1`. */
export async function handleHttp(
	ctx: HttpApiContext,
	req: IncomingMessage,
	res: ServerResponse,
	gateway: GatewayContext
): Promise<void> {
	const path = gateway.url.pathname.replace(/\/+$/, '');
	if (req.method === 'GET' && path === '/api/ping') return sendJson(res, 200, { message: 'Success' });
	const single = /^\/api\/broadcast\/([^/]+)\/events\/([^/]+)$/.exec(path);
	if (req.method !== 'POST' || (path !== '/api/broadcast' && !single)) {
		return sendJson(res, 404, { message: 'Not found' });
	}
	const checked = await checkToken(gateway.token, ctx.jwtSecret);
	if (!checked.ok) return sendJson(res, 401, { message: 'Unauthorized' });

	let body: Buffer;
	try {
		body = await readBody(req, ctx.options.maxFrameBytes);
	} catch (error) {
		if (error instanceof PayloadTooLargeError) return sendJson(res, 413, { message: 'Payload too large' });
		throw error;
	}
	const tooBig = (bytes: number) => bytes > ctx.options.maxPayloadBytes;

	if (single) {
		const topic = decodeURIComponent(single[1]);
		const event = decodeURIComponent(single[2]);
		const isPrivate = gateway.url.searchParams.get('private') === 'true';
		const binary = String(req.headers['content-type'] ?? '').startsWith('application/octet-stream');
		if (tooBig(body.length))
			return sendJson(res, 422, { errors: { payload: ['Payload size exceeds tenant limit'] } });
		if (!binary) {
			try {
				parseJson(body.toString('utf8'));
			} catch {
				return sendJson(res, 422, { errors: { payload: ['is invalid'] } });
			}
		}
		const message: Outgoing = {
			kind: 'user',
			broadcast: { event, encoding: binary ? 'binary' : 'json', data: body }
		};
		await deliver(ctx, checked.claims, [{ topic, event, private: isPrivate, message }]);
		res.writeHead(202).end();
		return;
	}

	let parsed: unknown;
	try {
		parsed = parseJson(body.toString('utf8'));
	} catch {
		return sendJson(res, 422, { errors: { messages: ["can't be blank"] } });
	}
	const list = isObject(parsed) ? parsed.messages : undefined;
	if (!Array.isArray(list) || list.length === 0) {
		return sendJson(res, 422, { errors: { messages: ["can't be blank"] } });
	}
	const messages: Message[] = [];
	const errors: Record<string, string[]>[] = [];
	for (const item of list) {
		const e: Record<string, string[]> = {};
		const m = isObject(item) ? item : {};
		if (typeof m.topic !== 'string' || !m.topic) e.topic = ["can't be blank"];
		if (typeof m.event !== 'string' || !m.event) e.event = ["can't be blank"];
		if (!isObject(m.payload)) e.payload = ["can't be blank"];
		else if (tooBig(Buffer.byteLength(JSON.stringify(m.payload))))
			e.payload = ['Payload size exceeds tenant limit'];
		errors.push(e);
		if (Object.keys(e).length > 0) continue;
		const payload: Record<string, unknown> = { payload: m.payload, event: m.event, type: 'broadcast' };
		if (typeof m.id === 'string') payload.meta = { id: m.id };
		messages.push({
			topic: m.topic as string,
			event: m.event as string,
			private: m.private === true,
			message: { kind: 'json', payload }
		});
	}
	if (errors.some((e) => Object.keys(e).length > 0))
		return sendJson(res, 422, { errors: { messages: errors } });
	await deliver(ctx, checked.claims, messages);
	res.writeHead(202).end();
}
