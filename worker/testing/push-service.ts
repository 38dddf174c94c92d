/**
 * A real Web Push endpoint for tests and benchmarks: an HTTP server that checks each request the
 * way a push service and a browser together would. It verifies the VAPID JWT (ES256 signature
 * with the key in `k=`, `aud` = the endpoint's origin, `exp` within 24 h, `sub` a mailto:/https:
 * contact) and decrypts the `aes128gcm` body (RFC 8188/8291) with the subscription's own private
 * key, which only this test process knows. It can be told to answer 5xx, 429 with Retry-After,
 * 410, to hold a request, or never to answer (a timeout).
 */
import {
	createECDH,
	createDecipheriv,
	createPublicKey,
	hkdfSync,
	randomBytes,
	verify,
	type ECDH
} from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';

export interface BrowserSubscription {
	id: string;
	endpoint: string;
	keys: { p256dh: string; auth: string };
}

/** How the service answers one request. */
export type Behaviour =
	| { status: number; retryAfter?: string }
	| { hold: true }
	| { timeout: true }
	| { delayMs: number; status?: number };

export interface Delivery {
	subscriptionId: string;
	/** When the push service answered 201 (after any configured delay). */
	at: number;
	/** When the request arrived. */
	receivedAt: number;
	payload: Record<string, unknown>;
	raw: string;
	topic?: string;
	urgency?: string;
	ttl?: string;
}

export interface Attempt {
	subscriptionId: string;
	at: number;
	/** What the service answered; `aborted` if the sender went away first; `rejected:*` if the request was invalid. */
	outcome: string;
}

interface Sub {
	ecdh: ECDH;
	publicKey: Buffer;
	auth: Buffer;
}

const b64u = (buf: Buffer) => buf.toString('base64url');

/** Decrypts an RFC 8291 aes128gcm body with the receiving subscription's keys. */
export function decryptAes128gcm(body: Buffer, sub: { ecdh: ECDH; publicKey: Buffer; auth: Buffer }): Buffer {
	if (body.length < 21 + 65 + 17) throw new Error('body too short');
	const salt = body.subarray(0, 16);
	const rs = body.readUInt32BE(16);
	const idlen = body[20];
	if (idlen !== 65) throw new Error(`keyid length ${idlen}, expected a 65-byte P-256 key`);
	const senderKey = body.subarray(21, 21 + idlen);
	const ciphertext = body.subarray(21 + idlen);
	if (ciphertext.length > rs) throw new Error('more than one record');
	const shared = sub.ecdh.computeSecret(senderKey);
	const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), sub.publicKey, senderKey]);
	const ikm = Buffer.from(hkdfSync('sha256', shared, sub.auth, keyInfo, 32));
	const cek = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
	const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
	const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
	decipher.setAuthTag(ciphertext.subarray(ciphertext.length - 16));
	const padded = Buffer.concat([
		decipher.update(ciphertext.subarray(0, ciphertext.length - 16)),
		decipher.final()
	]);
	let end = padded.length - 1;
	while (end >= 0 && padded[end] === 0) end--;
	if (end < 0 || padded[end] !== 2) throw new Error('missing last-record delimiter');
	return padded.subarray(0, end);
}

/** Verifies a `vapid t=<jwt>, k=<key>` Authorization header for `origin`; returns the key. */
export function verifyVapid(header: string | undefined, origin: string, now = Date.now()): string {
	const match = /^vapid\s+t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(header ?? '');
	if (!match) throw new Error('no vapid authorization');
	const [, token, k] = match;
	const [h, p, s] = token.split('.');
	const head = JSON.parse(Buffer.from(h, 'base64url').toString());
	if (head.alg !== 'ES256') throw new Error(`alg ${head.alg}`);
	const raw = Buffer.from(k, 'base64url');
	if (raw.length !== 65 || raw[0] !== 4) throw new Error('k is not an uncompressed P-256 point');
	const key = createPublicKey({
		key: { kty: 'EC', crv: 'P-256', x: b64u(raw.subarray(1, 33)), y: b64u(raw.subarray(33)) },
		format: 'jwk'
	});
	const ok = verify(
		'sha256',
		Buffer.from(`${h}.${p}`),
		{ key, dsaEncoding: 'ieee-p1363' },
		Buffer.from(s, 'base64url')
	);
	if (!ok) throw new Error('bad JWT signature');
	const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
	if (claims.aud !== origin) throw new Error(`aud ${claims.aud} is not ${origin}`);
	const seconds = now / 1000;
	if (typeof claims.exp !== 'number' || claims.exp <= seconds || claims.exp > seconds + 24 * 3600 + 60) {
		throw new Error(`exp ${claims.exp} out of range`);
	}
	if (typeof claims.sub !== 'string' || !/^(mailto:|https:)/.test(claims.sub))
		throw new Error(`sub ${claims.sub}`);
	return k;
}

export class PushService extends EventEmitter {
	readonly deliveries: Delivery[] = [];
	readonly attempts: Attempt[] = [];
	readonly errors: string[] = [];
	/** The VAPID public key the requests must be signed with (checked when set). */
	expectedKey: string | undefined;
	/**
	 * Verify and decrypt every n-th request only (default 1: all). Benchmarks sample, so that the
	 * endpoint's own crypto does not compete with the worker for CPU; the rest answer unverified.
	 */
	verifyEvery = 1;
	#count = 0;
	#server: Server;
	#origin = '';
	#subs = new Map<string, Sub>();
	#script = new Map<string, Behaviour[]>();
	#default: Behaviour = { status: 201 };
	#held = new Set<() => void>();

	constructor() {
		super();
		this.#server = createServer((req, res) => void this.#handle(req, res));
		this.#server.keepAliveTimeout = 30_000;
	}

	get origin(): string {
		return this.#origin;
	}

	async start(): Promise<this> {
		await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
		this.#origin = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
		return this;
	}

	async stop(): Promise<void> {
		for (const release of this.#held) release();
		this.#server.closeAllConnections();
		await new Promise((resolve) => this.#server.close(resolve));
	}

	/** A new browser subscription: a P-256 key pair and auth secret only this process knows. */
	subscribe(): BrowserSubscription {
		const id = randomBytes(8).toString('hex');
		const ecdh = createECDH('prime256v1');
		ecdh.generateKeys();
		const sub = { ecdh, publicKey: ecdh.getPublicKey(), auth: randomBytes(16) };
		this.#subs.set(id, sub);
		return {
			id,
			endpoint: `${this.#origin}/push/${id}`,
			keys: { p256dh: b64u(sub.publicKey), auth: b64u(sub.auth) }
		};
	}

	/** Queues behaviours for the next requests to `subscriptionId` (then the default applies). */
	script(subscriptionId: string, ...behaviours: Behaviour[]): void {
		this.#script.set(subscriptionId, [...(this.#script.get(subscriptionId) ?? []), ...behaviours]);
	}

	/** The behaviour for requests without a script. */
	setDefault(behaviour: Behaviour): void {
		this.#default = behaviour;
	}

	/** Answers every held request (201). */
	releaseHeld(): void {
		for (const release of this.#held) release();
	}

	deliveriesFor(subscriptionId: string): Delivery[] {
		return this.deliveries.filter((d) => d.subscriptionId === subscriptionId);
	}

	attemptsFor(subscriptionId: string): Attempt[] {
		return this.attempts.filter((a) => a.subscriptionId === subscriptionId);
	}

	/** Resolves once `predicate` holds, checking on every request; rejects after `timeoutMs`. */
	async waitFor(predicate: () => boolean, timeoutMs = 15_000, what = 'condition'): Promise<void> {
		if (predicate()) return;
		await new Promise<void>((resolve, reject) => {
			const check = () => {
				if (!predicate()) return;
				cleanup();
				resolve();
			};
			const timer = setTimeout(() => {
				cleanup();
				reject(new Error(`timed out waiting for ${what}`));
			}, timeoutMs);
			const cleanup = () => {
				clearTimeout(timer);
				this.off('request', check);
				this.off('settled', check);
			};
			this.on('request', check);
			this.on('settled', check);
		});
	}

	async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
		const at = Date.now();
		const chunks: Buffer[] = [];
		for await (const chunk of req) chunks.push(chunk as Buffer);
		const body = Buffer.concat(chunks);
		const id = /^\/push\/([0-9a-f]+)$/.exec(req.url ?? '')?.[1] ?? '';
		const sub = this.#subs.get(id);
		const record = (outcome: string) => {
			this.attempts.push({ subscriptionId: id, at, outcome });
			this.emit('settled');
		};
		if (req.method !== 'POST' || !sub) {
			res.writeHead(404).end();
			record('rejected:unknown');
			return;
		}
		let payload: Record<string, unknown> = {};
		let raw = '';
		const verifyThis = this.#count++ % this.verifyEvery === 0;
		if (verifyThis)
			try {
				const k = verifyVapid(req.headers.authorization, this.#origin);
				if (this.expectedKey && k !== this.expectedKey)
					throw new Error('request signed with an unexpected VAPID key');
				if (req.headers['content-encoding'] !== 'aes128gcm')
					throw new Error(`content-encoding ${req.headers['content-encoding']}`);
				if (!req.headers.ttl) throw new Error('no TTL header');
				raw = decryptAes128gcm(body, sub).toString('utf8');
				payload = JSON.parse(raw);
			} catch (error) {
				const message = error instanceof Error ? error.message : String(error);
				this.errors.push(message);
				res.writeHead(400).end(message);
				record(`rejected:${message}`);
				return;
			}
		this.emit('request', { subscriptionId: id, payload });
		const behaviour = this.#script.get(id)?.shift() ?? this.#default;
		const deliver = () => {
			this.deliveries.push({
				subscriptionId: id,
				at: Date.now(),
				receivedAt: at,
				payload,
				raw,
				topic: req.headers.topic as string | undefined,
				urgency: req.headers.urgency as string | undefined,
				ttl: req.headers.ttl as string | undefined
			});
		};
		if ('timeout' in behaviour) {
			// Never answer; the sender's timeout ends it.
			res.on('close', () => record('timeout'));
			return;
		}
		if ('hold' in behaviour || 'delayMs' in behaviour) {
			let cleanup = () => {};
			const outcome = await new Promise<'released' | 'aborted'>((resolve) => {
				const release = () => resolve('released');
				const timer = 'delayMs' in behaviour ? setTimeout(release, behaviour.delayMs) : undefined;
				this.#held.add(release);
				cleanup = () => {
					this.#held.delete(release);
					clearTimeout(timer);
				};
				res.on('close', () => {
					if (!res.writableEnded) resolve('aborted');
				});
				if ('hold' in behaviour) this.emit('held', { subscriptionId: id });
			});
			cleanup();
			if (outcome === 'aborted' || res.destroyed) {
				record('aborted');
				return;
			}
			const status = 'status' in behaviour && behaviour.status ? behaviour.status : 201;
			if (status === 201) deliver();
			res.writeHead(status).end();
			record(String(status));
			return;
		}
		if (behaviour.status === 201) deliver();
		const headers: Record<string, string> = behaviour.retryAfter
			? { 'Retry-After': behaviour.retryAfter }
			: {};
		res.writeHead(behaviour.status, headers).end();
		record(String(behaviour.status));
	}
}
