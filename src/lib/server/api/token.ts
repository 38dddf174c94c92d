/** Reading the caller's access token from the request. */
import { ApiError } from './errors.ts';

/**
 * The access token of `Authorization: Bearer <token>`, or a 401: missing, not a JWT, or past its
 * `exp`. Checked before the body, so a stale session hears "sign in again" whatever it sent. The
 * signature is verified where the token is used (the Data API refuses a forged one with a 401);
 * the app server may not hold the signing secret.
 */
export function bearerToken(request: Request, now = Date.now()): string {
	const header = request.headers.get('authorization') ?? '';
	const match = /^Bearer\s+([A-Za-z0-9_-]+\.([A-Za-z0-9_-]+)\.[A-Za-z0-9_-]*)\s*$/i.exec(header);
	const claims = match ? decodeClaims(match[2]) : null;
	if (!match || !claims) {
		throw new ApiError(
			'UnauthorizedError',
			header ? 'invalid_token' : 'missing_token',
			'Send your access token as "Authorization: Bearer <token>".'
		);
	}
	if (typeof claims.exp === 'number' && claims.exp * 1000 <= now) {
		throw new ApiError('UnauthorizedError', 'token_expired', 'Your session has expired: sign in again.');
	}
	return match[1];
}

function decodeClaims(segment: string): { exp?: unknown } | null {
	try {
		const claims: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
		return claims && typeof claims === 'object' ? claims : null;
	} catch {
		return null;
	}
}
