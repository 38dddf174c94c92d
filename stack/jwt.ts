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

/** Verifies an HS256 token and returns its claims; throws JwtError('expired' | 'invalid'). */
export async function verifyJwt(token: string, secret: string): Promise<Claims> {
	try {
		const { payload } = await jwtVerify(token, keyOf(secret), { algorithms: ['HS256'] });
		return payload as Claims;
	} catch (error) {
		if (error instanceof errors.JWTExpired) throw new JwtError('expired', 'JWT expired');
		throw new JwtError('invalid', 'invalid JWT: unable to parse or verify signature');
	}
}

/** Does `value` look like a compact JWS (three base64url parts)? */
export function looksLikeJwt(value: string): boolean {
	return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(value);
}
