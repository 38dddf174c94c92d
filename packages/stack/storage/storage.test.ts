/**
 * Storage through the real `@supabase/supabase-js` client: uploads (raw and multipart), downloads,
 * upserts, removal and listing of private objects under storage.objects policies; bucket limits;
 * bad tokens; what a refused upload leaves behind (nothing); unsupported endpoints.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestStack, type TestStack } from '../testing/index.ts';
import { signJwt } from '../jwt.ts';

let stack: TestStack;

interface User {
	client: SupabaseClient;
	id: string;
	token: string;
}
let alice: User;
let bob: User;

function client(key: string, token?: string): SupabaseClient {
	return createClient(stack.apiUrl, key, {
		auth: { persistSession: false, autoRefreshToken: false },
		global: token ? { headers: { Authorization: `Bearer ${token}` } } : undefined
	});
}

async function signUp(): Promise<User> {
	const c = client(stack.anonKey);
	const { data, error } = await c.auth.signUp({
		email: `user-${randomBytes(6).toString('hex')}@example.com`,
		password: 'correct horse battery'
	});
	expect(error).toBeNull();
	return { client: c, id: data.user!.id, token: data.session!.access_token };
}

/** Every file under the storage folder, relative to it (temporary files included). */
function filesOnDisk(dir = stack.storageDir, prefix = ''): string[] {
	if (!existsSync(dir)) return [];
	return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
		e.isDirectory() ? filesOnDisk(join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`]
	);
}

async function rowCount(bucket: string, name: string): Promise<number> {
	const { rows } = await stack.db.query(
		'select count(*)::int as n from storage.objects where bucket_id = $1 and name = $2',
		[bucket, name]
	);
	return rows[0].n;
}

const bytes = (text: string) => new TextEncoder().encode(text);

/** A small global cap, so that bodies over it are cheap to send. */
const GLOBAL_CAP = 64 * 1024;

beforeAll(async () => {
	stack = await startTestStack({ template: 'platform', config: { storage: { fileSizeLimit: GLOBAL_CAP } } });
	await stack.db.query(`
		insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types) values
			('docs', 'docs', false, 1024, null),
			('images', 'images', false, null, array['image/png', 'video/*']),
			('pub', 'pub', true, null, null);
		create policy "own folder: insert" on storage.objects for insert to authenticated
			with check (bucket_id in ('docs', 'images') and (storage.foldername(name))[1] = (select auth.uid())::text);
		create policy "own folder: select" on storage.objects for select to authenticated
			using (bucket_id in ('docs', 'images') and (storage.foldername(name))[1] = (select auth.uid())::text);
		create policy "own folder: update" on storage.objects for update to authenticated
			using (bucket_id in ('docs', 'images') and (storage.foldername(name))[1] = (select auth.uid())::text);
		create policy "own folder: delete" on storage.objects for delete to authenticated
			using (bucket_id in ('docs', 'images') and (storage.foldername(name))[1] = (select auth.uid())::text);
	`);
	alice = await signUp();
	bob = await signUp();
});
afterAll(async () => {
	await stack?.stop();
});

describe('uploads and downloads', () => {
	test('a Uint8Array upload is stored on disk and in storage.objects, and downloads the same', async () => {
		const path = `${alice.id}/notes/hello.txt`;
		const { data, error } = await alice.client.storage
			.from('docs')
			.upload(path, bytes('hello, storage'), { contentType: 'text/plain' });
		expect(error).toBeNull();
		expect(data).toEqual({ path, id: expect.any(String), fullPath: `docs/${path}` });

		const { rows } = await stack.db.query('select * from storage.objects where id = $1', [data!.id]);
		expect(rows[0]).toMatchObject({
			bucket_id: 'docs',
			name: path,
			owner: alice.id,
			owner_id: alice.id,
			path_tokens: [alice.id, 'notes', 'hello.txt'],
			metadata: { size: 14, mimetype: 'text/plain', cacheControl: 'max-age=3600', httpStatusCode: 200 }
		});
		expect(readFileSync(join(stack.storageDir, 'docs', path), 'utf8')).toBe('hello, storage');

		const download = await alice.client.storage.from('docs').download(path);
		expect(download.error).toBeNull();
		expect(await download.data!.text()).toBe('hello, storage');
		expect(download.data!.type).toBe('text/plain');

		const headers = { apikey: stack.anonKey, authorization: `Bearer ${alice.token}` };
		const authenticated = await fetch(`${stack.apiUrl}/storage/v1/object/authenticated/docs/${path}`, {
			headers
		});
		expect(await authenticated.text()).toBe('hello, storage');
		const head = await fetch(`${stack.apiUrl}/storage/v1/object/docs/${path}`, { method: 'HEAD', headers });
		expect(head.status).toBe(200);
		expect(head.headers.get('content-length')).toBe('14');
		expect(head.headers.get('etag')).toBe(rows[0].metadata.eTag);
	});

	test('a Blob upload goes as multipart and keeps its bytes, type and cache control', async () => {
		const path = `${alice.id}/blob.bin`;
		const payload = randomBytes(700);
		const { error } = await alice.client.storage
			.from('docs')
			.upload(path, new Blob([payload], { type: 'application/x-thing' }), { cacheControl: '60' });
		expect(error).toBeNull();
		const { data } = await alice.client.storage.from('docs').download(path);
		expect(Buffer.from(await data!.arrayBuffer()).equals(payload)).toBe(true);
		expect(data!.type).toBe('application/x-thing');
		const res = await fetch(`${stack.apiUrl}/storage/v1/object/docs/${path}`, {
			headers: { apikey: stack.anonKey, authorization: `Bearer ${alice.token}`, range: 'bytes=10-19' }
		});
		expect(res.status).toBe(206);
		expect(res.headers.get('cache-control')).toBe('max-age=60');
		expect(res.headers.get('content-range')).toBe('bytes 10-19/700');
		expect(Buffer.from(await res.arrayBuffer()).equals(payload.subarray(10, 20))).toBe(true);
	});

	test('names with spaces and non-ASCII letters, empty files and streamed bodies work', async () => {
		const bucket = alice.client.storage.from('docs');
		const name = `${alice.id}/Ünïcode dir/résumé (1).txt`;
		expect((await bucket.upload(name, bytes('ü'))).error).toBeNull();
		expect(await (await bucket.download(name)).data!.text()).toBe('ü');
		expect(readFileSync(join(stack.storageDir, 'docs', name), 'utf8')).toBe('ü');

		expect((await bucket.upload(`${alice.id}/empty`, new Uint8Array(0))).error).toBeNull();
		expect((await (await bucket.download(`${alice.id}/empty`)).data!.arrayBuffer()).byteLength).toBe(0);

		const stream = new ReadableStream<Uint8Array>({
			start(controller) {
				for (let i = 0; i < 4; i++) controller.enqueue(bytes(`chunk${i};`));
				controller.close();
			}
		});
		expect((await bucket.upload(`${alice.id}/streamed.txt`, stream)).error).toBeNull();
		expect(await (await bucket.download(`${alice.id}/streamed.txt`)).data!.text()).toBe(
			'chunk0;chunk1;chunk2;chunk3;'
		);
	});

	test('info and exists report an object; a missing one is not found', async () => {
		const path = `${alice.id}/info.txt`;
		await alice.client.storage.from('docs').upload(path, bytes('12345'), { metadata: { tag: 'x' } });
		const info = await alice.client.storage.from('docs').info(path);
		expect(info.error).toBeNull();
		expect(info.data).toMatchObject({ name: path, bucketId: 'docs', size: 5, metadata: { tag: 'x' } });
		expect((await alice.client.storage.from('docs').exists(path)).data).toBe(true);
		expect((await alice.client.storage.from('docs').exists(`${alice.id}/nope.txt`)).data).toBe(false);
	});

	test('another user can neither download, overwrite nor upload into the owner folder', async () => {
		const path = `${alice.id}/private.txt`;
		expect((await alice.client.storage.from('docs').upload(path, bytes('secret'))).error).toBeNull();

		const download = await bob.client.storage.from('docs').download(path);
		expect(download.data).toBeNull();
		expect(download.error).toMatchObject({ status: 400, statusCode: '404', message: 'Object not found' });

		const overwrite = await bob.client.storage.from('docs').upload(path, bytes('pwned'), { upsert: true });
		expect(overwrite.error).toMatchObject({
			status: 400,
			statusCode: '403',
			message: 'new row violates row-level security policy'
		});
		const update = await bob.client.storage.from('docs').update(path, bytes('pwned'));
		expect(update.error).toMatchObject({ statusCode: '403' });
		const other = await bob.client.storage.from('docs').upload(`${alice.id}/planted.txt`, bytes('x'));
		expect(other.error).toMatchObject({ statusCode: '403' });

		expect(readFileSync(join(stack.storageDir, 'docs', path), 'utf8')).toBe('secret');
		expect(await rowCount('docs', `${alice.id}/planted.txt`)).toBe(0);
		expect(existsSync(join(stack.storageDir, 'docs', alice.id, 'planted.txt'))).toBe(false);
		expect(filesOnDisk().filter((f) => f.startsWith('#tmp/'))).toEqual([]);
	});

	test('a duplicate is refused without upsert, and overwritten with upsert or update', async () => {
		const path = `${alice.id}/dup.txt`;
		const bucket = alice.client.storage.from('docs');
		const first = await bucket.upload(path, bytes('one'));
		expect(first.error).toBeNull();
		const again = await bucket.upload(path, bytes('two'));
		expect(again.error).toMatchObject({
			status: 400,
			statusCode: '409',
			message: 'The resource already exists'
		});
		expect(await (await bucket.download(path)).data!.text()).toBe('one');

		const upserted = await bucket.upload(path, bytes('three'), { upsert: true });
		expect(upserted.error).toBeNull();
		expect(upserted.data!.id).toBe(first.data!.id);
		expect(await (await bucket.download(path)).data!.text()).toBe('three');

		expect((await bucket.update(path, bytes('four'))).error).toBeNull();
		expect(await (await bucket.download(path)).data!.text()).toBe('four');
		expect(await rowCount('docs', path)).toBe(1);
	});

	test('the owner removes objects; they are gone from the database and the disk', async () => {
		const bucket = alice.client.storage.from('docs');
		const paths = [`${alice.id}/rm/a.txt`, `${alice.id}/rm/b.txt`];
		for (const p of paths) expect((await bucket.upload(p, bytes(p))).error).toBeNull();

		const byBob = await bob.client.storage.from('docs').remove(paths);
		expect(byBob).toEqual({ data: [], error: null });
		expect(await rowCount('docs', paths[0])).toBe(1);

		const removed = await bucket.remove([...paths, `${alice.id}/rm/missing.txt`]);
		expect(removed.error).toBeNull();
		expect(removed.data!.map((o) => o.name).sort()).toEqual(paths);
		for (const p of paths) {
			expect(await rowCount('docs', p)).toBe(0);
			expect(existsSync(join(stack.storageDir, 'docs', p))).toBe(false);
			expect((await bucket.download(p)).error).toMatchObject({ statusCode: '404' });
		}
		expect(existsSync(join(stack.storageDir, 'docs', alice.id, 'rm'))).toBe(false);
	});

	test('list shows the caller folders and files one level at a time', async () => {
		const bucket = alice.client.storage.from('docs');
		await bucket.upload(`${alice.id}/list/one.txt`, bytes('1'));
		await bucket.upload(`${alice.id}/list/two.txt`, bytes('2'));
		await bucket.upload(`${alice.id}/list/sub/three.txt`, bytes('3'));
		const { data, error } = await bucket.list(`${alice.id}/list`);
		expect(error).toBeNull();
		expect(data!.map((o) => [o.name, o.id === null])).toEqual([
			['sub', true],
			['one.txt', false],
			['two.txt', false]
		]);
		const searched = await bucket.list(`${alice.id}/list`, { search: 'tw' });
		expect(searched.data!.map((o) => o.name)).toEqual(['two.txt']);
		expect((await bob.client.storage.from('docs').list(`${alice.id}/list`)).data).toEqual([]);
	});
});

describe('limits and refusals', () => {
	test('an object over the bucket size limit is refused and leaves nothing behind', async () => {
		const path = `${alice.id}/big.bin`;
		const raw = await alice.client.storage.from('docs').upload(path, randomBytes(2048));
		expect(raw.error).toMatchObject({
			status: 400,
			statusCode: '413',
			message: 'The object exceeded the maximum allowed size'
		});
		const multipart = await alice.client.storage.from('docs').upload(path, new Blob([randomBytes(2048)]));
		expect(multipart.error).toMatchObject({ statusCode: '413' });
		expect(await rowCount('docs', path)).toBe(0);
		expect(existsSync(join(stack.storageDir, 'docs', path))).toBe(false);
		expect(filesOnDisk().filter((f) => f.startsWith('#tmp/'))).toEqual([]);
		// The connection still answers afterwards.
		expect((await alice.client.storage.from('docs').upload(path, randomBytes(1024))).error).toBeNull();
	});

	test('a body over the global cap is refused, without reading more than twice the cap', async () => {
		const bucket = alice.client.storage.from('images');
		const over = await bucket.upload(`${alice.id}/over.png`, randomBytes(GLOBAL_CAP + 1), {
			contentType: 'image/png'
		});
		expect(over.error).toMatchObject({ status: 400, statusCode: '413' });
		const blob = await bucket.upload(
			`${alice.id}/over.png`,
			new Blob([randomBytes(3 * GLOBAL_CAP)], { type: 'image/png' })
		);
		expect(blob.error).toMatchObject({ statusCode: '413' });
		// Far over: the connection is closed after the answer; the client may see either.
		const huge = await bucket
			.upload(`${alice.id}/huge.png`, randomBytes(64 * GLOBAL_CAP), { contentType: 'image/png' })
			.catch((e: Error) => ({ error: e }));
		expect(huge.error).not.toBeNull();
		expect(await rowCount('images', `${alice.id}/over.png`)).toBe(0);
		expect(await rowCount('images', `${alice.id}/huge.png`)).toBe(0);
		expect(filesOnDisk().filter((f) => f.startsWith('#tmp/') || f.includes('over.png'))).toEqual([]);
		expect(
			(await bucket.upload(`${alice.id}/fits.png`, randomBytes(GLOBAL_CAP), { contentType: 'image/png' }))
				.error
		).toBeNull();
	});

	test('allowed MIME types are enforced, with family wildcards', async () => {
		const bucket = alice.client.storage.from('images');
		const text = await bucket.upload(`${alice.id}/a.txt`, bytes('x'), { contentType: 'text/plain' });
		expect(text.error).toMatchObject({
			status: 400,
			statusCode: '415',
			message: 'mime type text/plain is not supported'
		});
		const blob = await bucket.upload(`${alice.id}/b.txt`, new Blob(['x'], { type: 'text/html' }));
		expect(blob.error).toMatchObject({ statusCode: '415' });
		expect(
			(await bucket.upload(`${alice.id}/a.png`, bytes('png'), { contentType: 'image/png' })).error
		).toBeNull();
		expect(
			(await bucket.upload(`${alice.id}/a.mp4`, bytes('mp4'), { contentType: 'video/mp4' })).error
		).toBeNull();
		expect(await rowCount('images', `${alice.id}/a.txt`)).toBe(0);
	});

	test('anon cannot upload or download private objects', async () => {
		const anon = client(stack.anonKey);
		const up = await anon.storage.from('docs').upload(`${alice.id}/anon.txt`, bytes('x'));
		expect(up.error).toMatchObject({ statusCode: '403' });
		const down = await anon.storage.from('docs').download(`${alice.id}/notes/hello.txt`);
		expect(down.error).toMatchObject({ statusCode: '404' });
		expect(await rowCount('docs', `${alice.id}/anon.txt`)).toBe(0);
	});

	test('a JWT with a bad signature or expired is refused', async () => {
		const forged = await signJwt(
			{ sub: alice.id, role: 'authenticated' },
			'not-the-secret-not-the-secret-123'
		);
		const bad = await client(stack.anonKey, forged)
			.storage.from('docs')
			.download(`${alice.id}/notes/hello.txt`);
		expect(bad.error).toMatchObject({ status: 400, statusCode: '403', message: 'invalid signature' });
		const expired = await signJwt(
			{ sub: alice.id, role: 'authenticated', exp: Math.floor(Date.now() / 1000) - 60 },
			stack.config.jwtSecret
		);
		const old = await client(stack.anonKey, expired)
			.storage.from('docs')
			.upload(`${alice.id}/late.txt`, bytes('x'));
		expect(old.error).toMatchObject({ statusCode: '403', message: 'jwt expired' });
		expect(await rowCount('docs', `${alice.id}/late.txt`)).toBe(0);
	});

	test('path traversal is refused and nothing lands outside the bucket folder', async () => {
		const viaClient = await alice.client.storage
			.from('docs')
			.upload(`../../${alice.id}/escape.txt`, bytes('x'));
		expect(viaClient.error).not.toBeNull();
		for (const name of [
			`${alice.id}/..%2F..%2Fescape.txt`,
			`${alice.id}/a//b.txt`,
			`${alice.id}/.%2Fc.txt`
		]) {
			const res = await fetch(`${stack.apiUrl}/storage/v1/object/docs/${name}`, {
				method: 'POST',
				headers: {
					apikey: stack.anonKey,
					authorization: `Bearer ${alice.token}`,
					'content-type': 'text/plain'
				},
				body: 'x'
			});
			expect(res.status).toBe(400);
			expect(await res.json()).toMatchObject({ statusCode: '400', code: 'InvalidKey' });
		}
		expect(
			filesOnDisk().filter((f) => f.includes('escape') || f.endsWith('c.txt') || f.endsWith('b.txt'))
		).toEqual([]);
	});

	test('storage.foldername, filename and extension split object names as on Supabase', async () => {
		const { rows } = await stack.db.query(
			`select storage.foldername('a/b/c.tar.gz') as folders, storage.filename('a/b/c.tar.gz') as file,
				storage.extension('a/b/c.tar.gz') as ext, storage.foldername('top.txt') as none`
		);
		expect(rows[0]).toEqual({ folders: ['a', 'b'], file: 'c.tar.gz', ext: 'gz', none: [] });
	});

	test('rows cannot be deleted from the storage tables with SQL, as on Supabase', async () => {
		await expect(stack.db.query(`delete from storage.objects where bucket_id = 'docs'`)).rejects.toThrow(
			/Direct deletion from storage tables is not allowed/
		);
	});
});

describe('buckets, public objects and the service role', () => {
	test('the service role reads any object and manages buckets; users see none without policies', async () => {
		const service = client(stack.serviceRoleKey);
		const { data } = await service.storage.from('docs').download(`${alice.id}/notes/hello.txt`);
		expect(await data!.text()).toBe('hello, storage');

		expect((await service.storage.getBucket('docs')).data).toMatchObject({
			id: 'docs',
			public: false,
			file_size_limit: 1024
		});
		const created = await service.storage.createBucket('avatars', {
			public: true,
			fileSizeLimit: '1MB',
			allowedMimeTypes: ['image/*']
		});
		expect(created).toEqual({ data: { name: 'avatars' }, error: null });
		expect((await service.storage.createBucket('avatars')).error).toMatchObject({ statusCode: '409' });
		const listed = await service.storage.listBuckets();
		expect(listed.data!.map((b) => b.id).sort()).toEqual(['avatars', 'docs', 'images', 'pub']);
		expect((await service.storage.updateBucket('avatars', { public: false })).error).toBeNull();
		expect((await service.storage.getBucket('avatars')).data).toMatchObject({
			public: false,
			file_size_limit: 1_000_000
		});
		expect((await service.storage.deleteBucket('avatars')).error).toBeNull();
		expect((await service.storage.deleteBucket('docs')).error).toMatchObject({ statusCode: '409' });

		expect((await alice.client.storage.getBucket('docs')).error).toMatchObject({
			statusCode: '404',
			message: 'Bucket not found'
		});
		expect((await alice.client.storage.from('nope').upload(`${alice.id}/x`, bytes('x'))).error).toMatchObject(
			{
				statusCode: '404',
				message: 'Bucket not found'
			}
		);
	});

	test('public bucket objects are served from their public URL without any key', async () => {
		const service = client(stack.serviceRoleKey);
		expect(
			(
				await service.storage
					.from('pub')
					.upload('logo.svg', bytes('<svg/>'), { contentType: 'image/svg+xml' })
			).error
		).toBeNull();
		const url = service.storage.from('pub').getPublicUrl('logo.svg').data.publicUrl;
		const res = await fetch(url);
		expect(res.status).toBe(200);
		expect(res.headers.get('content-type')).toBe('image/svg+xml');
		expect(await res.text()).toBe('<svg/>');
		const etag = res.headers.get('etag')!;
		expect((await fetch(url, { headers: { 'if-none-match': etag } })).status).toBe(304);

		const privateUrl = service.storage.from('docs').getPublicUrl(`${alice.id}/notes/hello.txt`)
			.data.publicUrl;
		const refused = await fetch(privateUrl);
		expect(refused.status).toBe(400);
		expect(await refused.json()).toMatchObject({ statusCode: '404', message: 'Bucket not found' });
	});

	test('signed URLs, move and other unsupported features answer 501 saying so', async () => {
		const signed = await alice.client.storage.from('docs').createSignedUrl(`${alice.id}/notes/hello.txt`, 60);
		expect(signed.error).toMatchObject({ status: 501, statusCode: '501' });
		expect(signed.error!.message).toMatch(
			/^Signed URLs \(\/storage\/v1\/object\/sign\) is not supported by the embedded stack: use `supabase start`/
		);
		const moved = await alice.client.storage.from('docs').move(`${alice.id}/a`, `${alice.id}/b`);
		expect(moved.error).toMatchObject({ status: 501 });
		const tus = await fetch(`${stack.apiUrl}/storage/v1/upload/resumable`, {
			method: 'POST',
			headers: { apikey: stack.anonKey }
		});
		expect(tus.status).toBe(501);
		expect(await tus.json()).toMatchObject({ error: 'not_implemented' });
	});
});
