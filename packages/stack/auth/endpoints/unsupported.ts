/**
 * The GoTrue routes this stack deliberately leaves out, each with the feature it belongs to: any
 * method on them answers GoTrue's 400 `feature_not_supported`, naming the feature, rather than a
 * bare 404 that would look like a broken stack.
 */
import { notSupported } from '../errors.ts';
import type { RouteTable } from '../router.ts';

const UNSUPPORTED: [RegExp, string][] = [
	[/^\/(otp|magiclink)$/, 'One-time passwords and magic links'],
	[/^\/(verify|recover|resend|reauthenticate|invite)$/, 'Email verification, recovery and invites'],
	[/^\/(authorize|callback)$/, 'OAuth sign-in'],
	[/^\/(sso|saml)(\/|$)/, 'Single sign-on'],
	[/^\/factors(\/|$)/, 'Multi-factor authentication'],
	[/^\/passkeys(\/|$)/, 'Passkeys'],
	[/^\/user\/(identities|oauth)(\/|$)/, 'Identity linking and OAuth grants'],
	[/^\/oauth(\/|$)/, 'The OAuth 2.1 server'],
	[/^\/\.well-known\/(openid-configuration|oauth-authorization-server)$/, 'OpenID discovery'],
	[/^\/admin\/(generate_link|sso|oauth|custom-providers|audit)(\/|$)/, 'This admin feature'],
	[/^\/admin\/users\/[^/]+\/(factors|passkeys)(\/|$)/, 'Multi-factor authentication']
];

export const unsupportedRoutes: RouteTable = UNSUPPORTED.map(([path, feature]) => ({
	path,
	handle: async () => {
		throw notSupported(feature);
	}
}));
