/**
 * The `/api/...` HTTP routes through the running app: real users signed up through the Auth
 * service, real tokens, every route with good and bad input, missing and expired tokens.
 */
import { expect, test, type APIRequestContext, type APIResponse } from '@playwright/test';
import { randomBytes, randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { DEFAULT_ANON_KEY, DEFAULT_JWT_SECRET } from '@parley/stack/config.ts';
import { API_URL } from './ports.ts';

const SUPABASE_URL = process.env.PUBLIC_SUPABASE_URL ?? API_URL;
const ANON_KEY = process.env.PUBLIC_SUPABASE_ANON_KEY ?? DEFAULT_ANON_KEY;
const JWT_SECRET = process.env.PARLEY_JWT_SECRET ?? DEFAULT_JWT_SECRET;

interface ApiUser {
	id: string;
	token: string;
	username: string;
}

test.describe.configure({ mode: 'serial' });

async function signUp(request: APIRequestContext, name: string): Promise<ApiUser> {
	const username = `${name}_${Math.random().toString(36).slice(2, 8)}`;
	const response = await request.post(`${SUPABASE_URL}/auth/v1/signup`, {
		headers: { apikey: ANON_KEY },
		data: { email: `${username}@example.test`, password: `pw-${username}-Secret!`, data: { username } }
	});
	expect(response.status(), await response.text()).toBe(200);
	const body = await response.json();
	expect(body.access_token).toBeTruthy();
	return { id: body.user.id, token: body.access_token, username };
}

const auth = (user: ApiUser | string) => ({
	Authorization: `Bearer ${typeof user === 'string' ? user : user.token}`
});

/** Asserts an error response `{error: {kind, code}}` with its status. */
async function expectError(response: APIResponse, status: number, kind: string, code?: string) {
	const text = await response.text();
	expect(response.status(), text).toBe(status);
	const body = JSON.parse(text);
	expect(body.error.kind).toBe(kind);
	if (code) expect(body.error.code).toBe(code);
	expect(typeof body.error.message).toBe('string');
}

async function ok<T = Record<string, unknown>>(response: APIResponse, status = 200): Promise<T> {
	const text = await response.text();
	expect(response.status(), text).toBe(status);
	return text ? (JSON.parse(text) as T) : (undefined as T);
}

/**
 * A sealed reaction as a device sends it (src/lib/crypto/reactions.ts): the API takes the sealed
 * fields, never an emoji. The server checks their shapes only, so random bytes stand in here.
 */
function sealedReaction(tag = b64(32)) {
	return { tag, emoji_sealed: b64(80), nonce: b64(24), epoch: 1, sig: b64(64) };
}

function b64(bytes: number): string {
	return randomBytes(bytes).toString('base64');
}

let alice: ApiUser;
let bob: ApiUser;
let carol: ApiUser;
let dave: ApiUser;
let group: string;

test.beforeAll(async ({ request }) => {
	[alice, bob, carol, dave] = [
		await signUp(request, 'alice'),
		await signUp(request, 'bob'),
		await signUp(request, 'carol'),
		await signUp(request, 'dave')
	];
});

test('tokens: missing, malformed, forged and expired tokens are 401 UnauthorizedError', async ({
	request
}) => {
	await expectError(await request.get('/api/conversations'), 401, 'UnauthorizedError', 'missing_token');
	await expectError(
		await request.post('/api/messages', { data: { conversation_id: randomUUID(), content_encrypted: 'x' } }),
		401,
		'UnauthorizedError',
		'missing_token'
	);
	await expectError(
		await request.get('/api/conversations', { headers: { Authorization: 'Basic abc' } }),
		401,
		'UnauthorizedError',
		'invalid_token'
	);
	const claims = { sub: alice.id, role: 'authenticated', aud: 'authenticated' };
	const now = Math.floor(Date.now() / 1000);
	const expired = await new SignJWT({ ...claims, iat: now - 7200, exp: now - 3600 })
		.setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
		.sign(new TextEncoder().encode(JWT_SECRET));
	await expectError(
		await request.get('/api/conversations', { headers: auth(expired) }),
		401,
		'UnauthorizedError',
		'token_expired'
	);
	// The token is checked before the body: a stale session hears "sign in again", not "bad input".
	await expectError(
		await request.post('/api/messages', { headers: auth(expired), data: { bogus: true } }),
		401,
		'UnauthorizedError',
		'token_expired'
	);
	const forged = await new SignJWT({ ...claims, exp: now + 3600 })
		.setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
		.sign(new TextEncoder().encode('not-the-secret-not-the-secret-not-the-secret'));
	await expectError(
		await request.get('/api/conversations', { headers: auth(forged) }),
		401,
		'UnauthorizedError',
		'invalid_token'
	);
});

test('direct conversations: created once per pair, validated', async ({ request }) => {
	const first = await ok<{ id: string; kind: string }>(
		await request.post('/api/conversations/direct', { headers: auth(alice), data: { user_id: bob.id } })
	);
	expect(first.kind).toBe('direct');
	const again = await ok<{ id: string }>(
		await request.post('/api/conversations/direct', { headers: auth(bob), data: { user_id: alice.id } })
	);
	expect(again.id).toBe(first.id);
	await expectError(
		await request.post('/api/conversations/direct', { headers: auth(alice), data: { user_id: 'bob' } }),
		400,
		'ValidationError',
		'invalid_body'
	);
	await expectError(
		await request.post('/api/conversations/direct', {
			headers: { ...auth(alice), 'content-type': 'application/json' },
			data: Buffer.from('{not json')
		}),
		400,
		'ValidationError',
		'invalid_json'
	);
	await expectError(
		await request.post('/api/conversations/direct', { headers: auth(alice), data: { user_id: alice.id } }),
		400,
		'ValidationError',
		'invalid_participant'
	);
	await expectError(
		await request.post('/api/conversations/direct', {
			headers: auth(alice),
			data: { user_id: randomUUID() }
		}),
		404,
		'NotFoundError',
		'user_not_found'
	);
});

test('groups and their members', async ({ request }) => {
	const created = await ok<{ id: string; title: string; kind: string }>(
		await request.post('/api/conversations/group', {
			headers: auth(alice),
			data: { title: ' Project ', participant_ids: [bob.id, carol.id] }
		}),
		201
	);
	expect(created).toMatchObject({ kind: 'group', title: 'Project' });
	group = created.id;
	await expectError(
		await request.post('/api/conversations/group', {
			headers: auth(alice),
			data: { title: '', participant_ids: [] }
		}),
		400,
		'ValidationError'
	);
	await expectError(
		await request.post('/api/conversations/group', {
			headers: auth(alice),
			data: { title: 'x', participant_ids: ['1'] }
		}),
		400,
		'ValidationError'
	);

	const seen = await ok<{ participants: { user_id: string; role: string; username: string }[] }>(
		await request.get(`/api/conversations/${group}`, { headers: auth(bob) })
	);
	expect(seen.participants.map((p) => p.user_id).sort()).toEqual([alice.id, bob.id, carol.id].sort());
	expect(seen.participants.find((p) => p.user_id === alice.id)).toMatchObject({
		role: 'admin',
		username: alice.username
	});
	await expectError(
		await request.get(`/api/conversations/${group}`, { headers: auth(dave) }),
		404,
		'NotFoundError',
		'conversation_not_found'
	);
	await expectError(
		await request.get('/api/conversations/not-a-uuid', { headers: auth(alice) }),
		400,
		'ValidationError',
		'invalid_params'
	);

	await expectError(
		await request.post(`/api/conversations/${group}/participants`, {
			headers: auth(bob),
			data: { user_id: dave.id }
		}),
		403,
		'ForbiddenError',
		'not_admin'
	);
	const added = await ok(
		await request.post(`/api/conversations/${group}/participants`, {
			headers: auth(alice),
			data: { user_id: dave.id, role: 'moderator' }
		}),
		201
	);
	expect(added).toMatchObject({ user_id: dave.id, role: 'moderator' });
	await expectError(
		await request.post(`/api/conversations/${group}/participants`, {
			headers: auth(alice),
			data: { user_id: dave.id }
		}),
		409,
		'ConflictError',
		'already_participant'
	);
	await expectError(
		await request.post(`/api/conversations/${group}/participants`, {
			headers: auth(alice),
			data: { user_id: dave.id, role: 'owner' }
		}),
		400,
		'ValidationError'
	);
	const role = await ok(
		await request.patch(`/api/conversations/${group}/participants/${dave.id}`, {
			headers: auth(alice),
			data: { role: 'member' }
		})
	);
	expect(role).toMatchObject({ role: 'member' });
	await expectError(
		await request.delete(`/api/conversations/${group}/participants/${alice.id}`, { headers: auth(bob) }),
		403,
		'ForbiddenError',
		'not_moderator'
	);
	await expectError(
		await request.delete(`/api/conversations/${group}/participants/${alice.id}`, { headers: auth(alice) }),
		403,
		'ForbiddenError',
		'last_admin'
	);
	expect(
		(
			await request.delete(`/api/conversations/${group}/participants/${dave.id}`, { headers: auth(alice) })
		).status()
	).toBe(204);
	await expectError(
		await request.get(`/api/conversations/${group}`, { headers: auth(dave) }),
		404,
		'NotFoundError',
		'conversation_not_found'
	);
	await expectError(
		await request.delete(`/api/conversations/${group}/participants/nope`, { headers: auth(alice) }),
		400,
		'ValidationError',
		'invalid_params'
	);
});

test('messages: send (idempotent), page, edit, delete, status, reactions', async ({ request }) => {
	const clientId = randomUUID();
	const sent: { id: string; seq: number }[] = [];
	for (let i = 1; i <= 5; i++) {
		sent.push(
			await ok(
				await request.post('/api/messages', {
					headers: auth(i % 2 ? alice : bob),
					data: {
						conversation_id: group,
						content_encrypted: `ciphertext-${i}`,
						encryption: { epoch: 1, nonce: `nonce-${i}` },
						...(i === 1 ? { client_id: clientId } : {})
					}
				}),
				201
			)
		);
	}
	expect(sent.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
	const retry = await ok<{ id: string }>(
		await request.post('/api/messages', {
			headers: auth(alice),
			data: { conversation_id: group, content_encrypted: 'again', client_id: clientId }
		}),
		201
	);
	expect(retry.id).toBe(sent[0].id);
	await expectError(
		await request.post('/api/messages', {
			headers: auth(alice),
			data: { conversation_id: group, content_encrypted: '' }
		}),
		400,
		'ValidationError',
		'content_required'
	);
	await expectError(
		await request.post('/api/messages', {
			headers: auth(alice),
			data: { conversation_id: group, message_type: 'gif' }
		}),
		400,
		'ValidationError',
		'invalid_body'
	);
	await expectError(
		await request.post('/api/messages', {
			headers: auth(dave),
			data: { conversation_id: group, content_encrypted: 'x' }
		}),
		404,
		'NotFoundError',
		'conversation_not_found'
	);

	// History answers the same at the conversation's path and at the original design's.
	const seqs = async (query: string, user = carol) => {
		const [nested, original] = await Promise.all(
			[`/api/conversations/${group}/messages${query}`, `/api/messages/${group}${query}`].map(async (path) =>
				(
					await ok<{ messages: { seq: number }[]; has_more: boolean }>(
						await request.get(path, { headers: auth(user) })
					)
				).messages.map((m) => m.seq)
			)
		);
		expect(nested).toEqual(original);
		return nested;
	};
	expect(await seqs('')).toEqual([5, 4, 3, 2, 1]);
	expect(await seqs('?limit=2')).toEqual([5, 4]);
	expect(await seqs('?limit=2&before=4')).toEqual([3, 2]);
	expect(await seqs('?after=3')).toEqual([4, 5]);
	expect(await seqs('?offset=2&limit=2')).toEqual([3, 2]);
	expect(await seqs('?offset=10')).toEqual([]);
	await expectError(
		await request.get(`/api/messages/${group}?limit=0`, { headers: auth(carol) }),
		400,
		'ValidationError'
	);
	await expectError(
		await request.get(`/api/messages/${group}?before=x`, { headers: auth(carol) }),
		400,
		'ValidationError'
	);
	await expectError(
		await request.get(`/api/messages/${group}`, { headers: auth(dave) }),
		404,
		'NotFoundError',
		'conversation_not_found'
	);
	await expectError(
		await request.get(`/api/messages/${group}?offset=1`, { headers: auth(dave) }),
		404,
		'NotFoundError',
		'conversation_not_found'
	);
	await expectError(
		await request.get(`/api/conversations/${group}/messages`, { headers: auth(dave) }),
		404,
		'NotFoundError',
		'conversation_not_found'
	);

	const mine = sent[0].id;
	const edited = await ok<{ content_encrypted: string; edited_at: string | null }>(
		await request.patch(`/api/messages/${mine}`, {
			headers: auth(alice),
			data: { content_encrypted: 'edited', encryption: { epoch: 1, nonce: 'n2' } }
		})
	);
	expect(edited.content_encrypted).toBe('edited');
	expect(edited.edited_at).not.toBeNull();
	await expectError(
		await request.patch(`/api/messages/${mine}`, { headers: auth(bob), data: { content_encrypted: 'x' } }),
		403,
		'ForbiddenError',
		'not_sender'
	);
	await expectError(
		await request.delete(`/api/messages/${mine}`, { headers: auth(bob) }),
		403,
		'ForbiddenError',
		'not_moderator'
	);
	await expectError(
		await request.patch(`/api/messages/${mine}`, { headers: auth(alice), data: {} }),
		400,
		'ValidationError'
	);

	const thumbs = sealedReaction();
	const reacted = await ok(
		await request.post(`/api/messages/${sent[1].id}/reactions`, {
			headers: auth(carol),
			data: thumbs
		}),
		201
	);
	expect(reacted).toMatchObject({ message_id: sent[1].id, user_id: carol.id, ...thumbs, emoji: null });
	await expectError(
		await request.post(`/api/messages/${sent[1].id}/reactions`, {
			headers: auth(carol),
			data: { emoji: '👍' }
		}),
		400,
		'ValidationError',
		'invalid_body'
	);
	await expectError(
		await request.post(`/api/messages/${sent[1].id}/reactions`, {
			headers: auth(carol),
			data: sealedReaction(b64(16))
		}),
		400,
		'ValidationError',
		'invalid_tag'
	);
	await expectError(
		await request.post(`/api/messages/${sent[1].id}/reactions`, {
			headers: auth(carol),
			data: { ...sealedReaction(), epoch: 2 }
		}),
		400,
		'ValidationError',
		'invalid_epoch'
	);
	await expectError(
		await request.post(`/api/messages/${sent[1].id}/reactions`, {
			headers: auth(dave),
			data: sealedReaction()
		}),
		404,
		'NotFoundError',
		'message_not_found'
	);
	expect(
		(
			await request.delete(`/api/messages/${sent[1].id}/reactions?tag=${encodeURIComponent(thumbs.tag)}`, {
				headers: auth(carol)
			})
		).status()
	).toBe(204);
	const party = sealedReaction();
	await ok(
		await request.post(`/api/messages/${sent[1].id}/reactions`, {
			headers: auth(carol),
			data: party
		}),
		201
	);
	expect(
		(
			await request.delete(`/api/messages/${sent[1].id}/reactions`, {
				headers: auth(carol),
				data: { tag: party.tag }
			})
		).status()
	).toBe(204);

	const status = await ok(
		await request.post(`/api/messages/${sent[3].id}/status`, {
			headers: auth(carol),
			data: { status: 'read' }
		})
	);
	expect(status).toMatchObject({ user_id: carol.id, last_read_seq: 4, last_delivered_seq: 4 });
	const back = await ok(
		await request.post(`/api/messages/${sent[0].id}/status`, {
			headers: auth(carol),
			data: { status: 'delivered' }
		})
	);
	expect(back).toMatchObject({ last_read_seq: 4, last_delivered_seq: 4 });
	await expectError(
		await request.post(`/api/messages/${sent[0].id}/status`, {
			headers: auth(carol),
			data: { status: 'seen' }
		}),
		400,
		'ValidationError'
	);

	const tomb = await ok<{ content_encrypted: string | null; deleted_at: string | null }>(
		await request.delete(`/api/messages/${mine}`, { headers: auth(alice) })
	);
	expect(tomb.content_encrypted).toBeNull();
	expect(tomb.deleted_at).not.toBeNull();
	await expectError(
		await request.patch(`/api/messages/${mine}`, {
			headers: auth(alice),
			data: { content_encrypted: 'back' }
		}),
		409,
		'ConflictError',
		'message_deleted'
	);
	await expectError(
		await request.post(`/api/messages/${mine}/reactions`, { headers: auth(alice), data: sealedReaction() }),
		409,
		'ConflictError',
		'message_deleted'
	);
	await expectError(
		await request.delete(`/api/messages/not-a-uuid`, { headers: auth(alice) }),
		400,
		'ValidationError'
	);
	await expectError(
		await request.delete(`/api/messages/${randomUUID()}`, { headers: auth(alice) }),
		404,
		'NotFoundError',
		'message_not_found'
	);
});

test('the conversation list pages with a cursor', async ({ request }) => {
	type Page = { conversations: { id: string; unread_count: number }[]; next: Record<string, string> | null };
	const all = await ok<Page>(await request.get('/api/conversations', { headers: auth(alice) }));
	expect(all.conversations.map((c) => c.id)).toContain(group);
	expect(all.conversations[0].id).toBe(group);
	expect(all.next).toBeNull();
	const first = await ok<Page>(await request.get('/api/conversations?limit=1', { headers: auth(alice) }));
	expect(first.conversations).toHaveLength(1);
	expect(first.next).not.toBeNull();
	const second = await ok<Page>(
		await request.get(`/api/conversations?limit=1&${new URLSearchParams(first.next!).toString()}`, {
			headers: auth(alice)
		})
	);
	expect(second.conversations.map((c) => c.id)).toEqual([all.conversations[1].id]);
	await expectError(
		await request.get('/api/conversations?limit=500', { headers: auth(alice) }),
		400,
		'ValidationError'
	);
	await expectError(
		await request.get('/api/conversations?before_activity=yesterday', { headers: auth(alice) }),
		400,
		'ValidationError'
	);
	const daves = await ok<Page>(await request.get('/api/conversations', { headers: auth(dave) }));
	expect(daves.conversations).toEqual([]);
});

test('hostile input: deep, oversized and mistyped bodies, other methods and anon callers get a clean 4xx and write nothing', async ({
	request
}) => {
	const conversation = await ok<{ id: string }>(
		await request.post('/api/conversations/group', {
			headers: auth(alice),
			data: { title: 'Hostile', participant_ids: [bob.id] }
		}),
		201
	);
	const page = async () =>
		(
			await ok<{ messages: unknown[] }>(
				await request.get(`/api/messages/${conversation.id}`, { headers: auth(alice) })
			)
		).messages.length;
	// An attachment nested 5,000 levels deep (10 KB): refused at the edge, not a 500.
	const deep = '{"a":'.repeat(5000) + '1' + '}'.repeat(5000);
	await expectError(
		await request.post('/api/messages', {
			headers: { ...auth(alice), 'content-type': 'application/json' },
			data: Buffer.from(
				`{"conversation_id":"${conversation.id}","message_type":"file","content_encrypted":"x","attachment":${deep}}`
			)
		}),
		400,
		'ValidationError',
		'invalid_json'
	);
	// The same straight to the REST API: PostgREST's invalid-json error, not a crash.
	const rest = await request.post(`${SUPABASE_URL}/rest/v1/rpc/send_message`, {
		headers: { apikey: ANON_KEY, ...auth(alice), 'content-type': 'application/json' },
		data: Buffer.from(`{"conversation_id":"${conversation.id}","content_encrypted":"x","attachment":${deep}}`)
	});
	expect(rest.status()).toBe(400);
	expect(await rest.json()).toMatchObject({ code: 'PGRST102' });
	await expectError(
		await request.post('/api/messages', {
			headers: { ...auth(alice), 'content-type': 'application/json' },
			data: Buffer.from(
				JSON.stringify({ conversation_id: conversation.id, content_encrypted: 'x'.repeat(300 * 1024) })
			)
		}),
		413,
		'PayloadTooLargeError',
		'payload_too_large'
	);

	// Every route that takes a body refuses JSON sent as text/plain with 415.
	const m = await ok<{ id: string }>(
		await request.post('/api/messages', {
			headers: auth(alice),
			data: { conversation_id: conversation.id, content_encrypted: 'kept' }
		}),
		201
	);
	const plain = (data: unknown) => ({
		headers: { ...auth(alice), 'content-type': 'text/plain' },
		data: Buffer.from(JSON.stringify(data))
	});
	const bodies: [string, string, unknown][] = [
		['POST', '/api/conversations/direct', { user_id: bob.id }],
		['POST', '/api/conversations/group', { title: 'x', participant_ids: [] }],
		['POST', `/api/conversations/${conversation.id}/participants`, { user_id: carol.id }],
		['PATCH', `/api/conversations/${conversation.id}/participants/${bob.id}`, { role: 'moderator' }],
		['POST', '/api/messages', { conversation_id: conversation.id, content_encrypted: 'x' }],
		['PATCH', `/api/messages/${m.id}`, { content_encrypted: 'changed' }],
		['POST', `/api/messages/${m.id}/status`, { status: 'read' }],
		['POST', `/api/messages/${m.id}/reactions`, sealedReaction()],
		['DELETE', `/api/messages/${m.id}/reactions`, { tag: sealedReaction().tag }]
	];
	for (const [method, path, data] of bodies) {
		const response = await request.fetch(path, { method, ...plain(data) });
		await expectError(response, 415, 'UnsupportedMediaTypeError', 'unsupported_media_type');
	}
	expect(await page()).toBe(1);

	// A method a route does not have: 405 in the {error} shape, with Allow.
	const put = await request.fetch('/api/messages', { method: 'PUT', headers: auth(alice), data: {} });
	expect(put.headers()['allow']).toContain('POST');
	await expectError(put, 405, 'MethodNotAllowedError', 'method_not_allowed');
	await expectError(
		await request.fetch(`/api/conversations/${conversation.id}`, { method: 'DELETE', headers: auth(alice) }),
		405,
		'MethodNotAllowedError'
	);

	// The anon key as a token: the functions are not granted to anon; the answer says sign in.
	await expectError(
		await request.get('/api/conversations', { headers: auth(ANON_KEY) }),
		401,
		'UnauthorizedError',
		'not_authenticated'
	);
	expect(await page()).toBe(1);
});
