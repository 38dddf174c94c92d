/**
 * The embedded stack's Auth service (`/auth/v1`). Placeholder until its issue lands: answers
 * every request with a clear 501 so nobody mistakes it for a working endpoint.
 */
import type { Service } from '../gateway.ts';
import type { ServiceDeps } from '../services.ts';
import { sendJson } from '../http.ts';

export function createAuthService(_deps: ServiceDeps): Service {
	return {
		handle(_req, res) {
			sendJson(res, 501, { message: 'Auth is not implemented by the embedded stack yet' });
		}
	};
}
