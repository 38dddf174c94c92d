/** Reading the caller's access token from the request. */
import { ApiError } from './errors.ts';

/** The access token of `Authorization: Bearer <token>`, or a 401. */
export function bearerToken(request: Request): string {
	const header = request.headers.get('authorization') ?? '';
	const match = /^Bearer\s+([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)\s*$/i.exec(header);
	if (!match) {
		throw new ApiError(
			'UnauthorizedError',
			header ? 'invalid_token' : 'missing_token',
			'Send your access token as "Authorization: Bearer <token>".'
		);
	}
	return match[1];
}
