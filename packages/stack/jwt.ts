/**
 * HS256 JSON Web Tokens, as Supabase's Auth signs them and its REST and Realtime servers verify
 * them. Only HS256 is accepted: `alg: none` and other algorithms are refused.
 */
import { SignJWT, jwtVerify, errors } from 'jose';

export type Claims = Record<string, unknown> & {
	sub?: string;
	role?: string;
	exp?: number;
	iat?: number;
	aud?: string | string[];
	email?: string;
	session_id?: string;
};

export class JwtError extends Error {
	override name = 'JwtError';
	readonly reason: 'expired' | 'invalid';
	constructor(reason: 'expired' | 'invalid', message: string) {
		super(message);
		this.reason = reason;
	}
}

const keys = new Map<string, Uint8Array>();
function keyOf(secret: string): Uint8Array {
	let key = keys.get(secret);
	if (!key) keys.set(secret, (key = new TextEncoder().encode(secret)));
	return key;
}

/** Signs `claims` with HS256. */
export async function signJwt(claims: Claims, secret: string): Promise<string> {
	return new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(keyOf(secret));
}

/**
 * Tokens already verified, by token text: a client sends the same access token with every request
 * until it refreshes, and checking its signature each time is most of the CPU a small request
 * costs (PostgREST caches the same way). Entries keep the secret they were verified with and
 * still expire by their own `exp`; the map is bounded.
 */
const verified = new Map<string, { secret: string; claims: Claims }>();
const VERIFIED_MAX = 10_000;

/** Verifies an HS256 token and returns its claims; throws JwtError('expired' | 'invalid'). */
export async function verifyJwt(token: string, secret: string): Promise<Claims> {
	const known = verified.get(token);
	if (known && known.secret === secret) {
		const now = Date.now() / 1000;
		const { exp, nbf } = known.claims;
		if (typeof exp === 'number' && exp <= now) {
			verified.delete(token);
			throw new JwtError('expired', 'JWT expired');
		}
		if (typeof nbf !== 'number' || nbf <= now) return { ...known.claims };
	}
	try {
		const { payload } = await jwtVerify(token, keyOf(secret), { algorithms: ['HS256'] });
		if (verified.size >= VERIFIED_MAX) verified.delete(verified.keys().next().value!);
		verified.set(token, { secret, claims: payload as Claims });
		return { ...payload } as Claims;
	} catch (error) {
		if (error instanceof errors.JWTExpired) throw new JwtError('expired', 'JWT expired');
		throw new JwtError('invalid', 'invalid JWT: unable to parse or verify signature');
	}
}

/** Does `value` look like a compact JWS (three base64url parts)? */
export function looksLikeJwt(value: string): boolean {
	return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(value);
}
