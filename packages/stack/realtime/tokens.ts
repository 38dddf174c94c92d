/**
 * JWT checks for channels, with Supabase Realtime's error codes and messages (a join refused for
 * an expired token reads `InvalidJWTToken: Token has expired 12 seconds ago`, as on Supabase).
 */
import { decodeJwt } from 'jose';
import { JwtError, looksLikeJwt, verifyJwt, type Claims } from '../jwt.ts';

export type TokenCheck =
	| { ok: true; claims: Claims & { exp: number; role: string } }
	| { ok: false; code: 'InvalidJWTToken' | 'MalformedJWT' | 'JwtSignatureError'; message: string };

/** Verifies `token` and requires the `role` and `exp` claims Realtime needs. */
export async function checkToken(token: unknown, secret: string): Promise<TokenCheck> {
	if (typeof token !== 'string' || !looksLikeJwt(token.trim())) {
		return { ok: false, code: 'MalformedJWT', message: 'The token provided is not a valid JWT' };
	}
	try {
		const claims = await verifyJwt(token.trim(), secret);
		if (typeof claims.role !== 'string' || typeof claims.exp !== 'number') {
			return { ok: false, code: 'InvalidJWTToken', message: 'Fields `role` and `exp` are required in JWT' };
		}
		return { ok: true, claims: claims as Claims & { exp: number; role: string } };
	} catch (error) {
		if (error instanceof JwtError && error.reason === 'expired') {
			let ago = 0;
			try {
				const exp = decodeJwt(token.trim()).exp ?? 0;
				ago = Math.max(0, Math.floor(Date.now() / 1000) - exp);
			} catch {
				// Unreadable exp: the verifier already said expired, so report zero.
			}
			return { ok: false, code: 'InvalidJWTToken', message: `Token has expired ${ago} seconds ago` };
		}
		return { ok: false, code: 'JwtSignatureError', message: 'Failed to validate JWT signature' };
	}
}

/** Milliseconds until `claims` expire (negative once expired). */
export function msUntilExpiry(claims: { exp: number }): number {
	return claims.exp * 1000 - Date.now();
}
