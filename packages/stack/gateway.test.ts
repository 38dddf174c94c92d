import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startGateway, type Gateway, type GatewayContext } from './gateway.ts';
import { loadConfig } from './config.ts';
import { sendJson } from './http.ts';
import { signJwt } from './jwt.ts';

const config = loadConfig();
let gateway: Gateway;
const seen: GatewayContext[] = [];

beforeAll(async () => {
	// An echo service stands in for Auth so the gateway's own behaviour is what is tested.
	gateway = await startGateway(
		config,
		{
			auth: {
				handle(_req, res, ctx) {
					seen.push(ctx);
					sendJson(res, 200, { path: ctx.url.pathname, role: ctx.apikeyRole });
				}
			},
			storage: {
				handle(_req, res, ctx) {
					sendJson(res, 200, { path: ctx.url.pathname, role: ctx.apikeyRole });
				}
			}
		},
		{ port: 0, host: '127.0.0.1' }
	);
});
afterAll(() => gateway.close());

describe('API gateway', () => {
	test('a request without an apikey gets 401 with a JSON message', async () => {
		const res = await fetch(`${gateway.url}/auth/v1/user`);
		expect(res.status).toBe(401);
		expect(await res.json()).toMatchObject({ message: 'No API key found in request' });
	});

	test('an unknown apikey gets 401 Invalid API key', async () => {
		const res = await fetch(`${gateway.url}/auth/v1/user`, { headers: { apikey: 'nope' } });
		expect(res.status).toBe(401);
		expect(await res.json()).toMatchObject({ message: 'Invalid API key' });
	});

	test('anon, service and opaque keys route with the prefix stripped, header or query', async () => {
		const cases: [Record<string, string>, string, string][] = [
			[{ apikey: config.anonKey }, '', 'anon'],
			[{ apikey: config.serviceRoleKey }, '', 'service_role'],
			[{ apikey: config.publishableKey }, '', 'anon'],
			[{ apikey: config.secretKey }, '', 'service_role'],
			[{}, `?apikey=${config.anonKey}`, 'anon']
		];
		for (const [headers, query, role] of cases) {
			const res = await fetch(`${gateway.url}/auth/v1/admin/users${query}`, { headers });
			expect(res.status).toBe(200);
			expect(await res.json()).toEqual({ path: '/admin/users', role });
		}
	});

	test('the Bearer JWT is what a service acts with; opaque keys map to the role JWT', async () => {
		const token = await signJwt({ sub: 'u1', role: 'authenticated' }, config.jwtSecret);
		seen.length = 0;
		await fetch(`${gateway.url}/auth/v1/user`, {
			headers: { apikey: config.anonKey, authorization: `Bearer ${token}` }
		});
		await fetch(`${gateway.url}/auth/v1/user`, {
			headers: { apikey: config.secretKey, authorization: `Bearer ${config.secretKey}` }
		});
		expect(seen.map((c) => c.token)).toEqual([token, config.serviceRoleKey]);
	});

	test('CORS preflight is answered without an apikey and echoes the requested headers', async () => {
		const res = await fetch(`${gateway.url}/rest/v1/items`, {
			method: 'OPTIONS',
			headers: {
				origin: 'http://127.0.0.1:5173',
				'access-control-request-method': 'POST',
				'access-control-request-headers': 'apikey, authorization, x-client-info, prefer'
			}
		});
		expect(res.status).toBe(204);
		expect(res.headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:5173');
		expect(res.headers.get('access-control-allow-headers')).toBe(
			'apikey, authorization, x-client-info, prefer'
		);
		expect(res.headers.get('access-control-allow-methods')).toContain('PATCH');
	});

	test('unknown routes and unmounted services get 404 JSON', async () => {
		for (const path of ['/nothing', '/rest/v1/items']) {
			const res = await fetch(`${gateway.url}${path}`, { headers: { apikey: config.anonKey } });
			expect(res.status).toBe(404);
			expect(await res.json()).toEqual({ message: 'no Route matched with those values' });
		}
	});

	test('Supabase services the stack does not provide answer 501 saying so', async () => {
		for (const [path, name] of [
			['/functions/v1/hello', /^Edge Functions \(\/functions\/v1\) is not supported by the embedded stack/],
			['/graphql/v1', /^GraphQL \(\/graphql\/v1\) is not supported by the embedded stack/]
		] as const) {
			const res = await fetch(`${gateway.url}${path}`, { headers: { apikey: config.anonKey } });
			expect(res.status).toBe(501);
			expect((await res.json()).message).toMatch(name);
		}
	});

	test('storage is routed like the other services: apikey required, except for public objects', async () => {
		const res = await fetch(`${gateway.url}/storage/v1/object/list/avatars`, { method: 'POST' });
		expect(res.status).toBe(401);
		const keyed = await fetch(`${gateway.url}/storage/v1/object/list/avatars`, {
			method: 'POST',
			headers: { apikey: config.serviceRoleKey }
		});
		expect(await keyed.json()).toEqual({ path: '/object/list/avatars', role: 'service_role' });
		const open = await fetch(`${gateway.url}/storage/v1/object/public/avatars/a.png`);
		expect(await open.json()).toEqual({ path: '/object/public/avatars/a.png', role: 'anon' });
	});
});
