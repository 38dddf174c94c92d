/**
 * What the Auth API says about itself, to anyone and for any method: `/health`, `/settings` (which
 * sign-in methods this instance offers) and `/.well-known/jwks.json` (empty: tokens are HS256,
 * so there is no public key and clients verify by asking `GET /user`).
 */
import { sendJson } from '../../http.ts';
import type { AuthRequest } from '../context.ts';
import type { RouteTable } from '../router.ts';

async function health(r: AuthRequest): Promise<void> {
	sendJson(r.res, 200, {
		version: 'parley-embedded',
		name: 'GoTrue',
		description: 'GoTrue-compatible Auth API of the embedded Parley stack'
	});
}

async function settings(r: AuthRequest): Promise<void> {
	const { auth } = r.auth.config;
	sendJson(r.res, 200, {
		external: { anonymous_users: auth.enableAnonymousSignIns, email: true, phone: false },
		disable_signup: !auth.enableSignup,
		mailer_autoconfirm: true,
		phone_autoconfirm: false,
		sms_provider: '',
		saml_enabled: false,
		passkeys_enabled: false
	});
}

async function jwks(r: AuthRequest): Promise<void> {
	sendJson(r.res, 200, { keys: [] });
}

export const metaRoutes: RouteTable = [
	{ path: '/health', handle: health },
	{ path: '/settings', handle: settings },
	{ path: '/.well-known/jwks.json', handle: jwks }
];
