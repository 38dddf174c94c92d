/**
 * Object endpoints: upload (raw body or multipart form), download (authenticated or public,
 * with ranges and conditional requests), info, removal and listing. Rows are read and written
 * as the caller, so storage.objects policies decide.
 *
 * An upload's bytes go to a temporary file first; the row is then inserted (or upserted) and,
 * in the same transaction, while the row lock or unique-index entry orders concurrent writers of
 * that name, the file is renamed into place, then the transaction commits. A refused upload (a
 * policy, a duplicate, a limit) never reaches the rename, and its temporary file is removed.
 * Removals unlink files the same way, before the deleting transaction commits.
 */
import { randomUUID } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type { PoolClient } from 'pg';
import type { Call, StorageContext } from './context.ts';
import { readJson } from './context.ts';
import { parseJson } from '../http.ts';
import { ERRORS } from './errors.ts';
import { readLimited, validateObjectName } from './files.ts';
import { checkMimeType } from './limits.ts';

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Room for a multipart body's boundaries and fields around its file. */
const MULTIPART_SLACK = 1024 * 1024;

interface BucketLimits {
	id: string;
	public: boolean;
	file_size_limit: string | null;
	allowed_mime_types: string[] | null;
}

interface ObjectRow {
	id: string;
	bucket_id: string;
	name: string;
	version: string | null;
	metadata: Record<string, unknown> | null;
	user_metadata: Record<string, unknown> | null;
	created_at: Date;
	updated_at: Date;
}

/** The object's metadata as Supabase Storage records it. */
interface ObjectMetadata {
	eTag: string;
	size: number;
	mimetype: string;
	cacheControl: string;
	lastModified: string;
	contentLength: number;
	httpStatusCode: number;
}

const SELECT_OBJECT = `select id, bucket_id, name, version, metadata, user_metadata, created_at, updated_at
	from storage.objects where bucket_id = $1 and name = $2`;

const INSERT_OBJECT = `insert into storage.objects
	(id, bucket_id, name, owner, owner_id, metadata, user_metadata, version)
	values ($1, $2, $3, $4, $5, $6, $7, $8)`;

const UPSERT_OBJECT = `${INSERT_OBJECT}
	on conflict (bucket_id, name) do update set
		owner = excluded.owner, owner_id = excluded.owner_id, metadata = excluded.metadata,
		user_metadata = excluded.user_metadata, version = excluded.version, last_accessed_at = now()
	returning id`;

export function objectHandlers(s: StorageContext) {
	/** A bucket's limits, read as superuser (as Supabase Storage does before an upload). */
	async function bucketLimits(bucketId: string): Promise<BucketLimits> {
		const { rows } = await s.db.admin.query<BucketLimits>(
			'select id, public, file_size_limit, allowed_mime_types from storage.buckets where id = $1',
			[bucketId]
		);
		if (!rows[0]) throw ERRORS.noSuchBucket();
		return rows[0];
	}

	/** Parses the base64 JSON of `x-metadata` or the `metadata` form field. */
	function userMetadata(raw: string | undefined, base64: boolean): Record<string, unknown> | null {
		if (raw === undefined || raw === '') return null;
		try {
			const value: unknown = parseJson(base64 ? Buffer.from(raw, 'base64').toString('utf8') : raw);
			if (value && typeof value === 'object' && !Array.isArray(value))
				return value as Record<string, unknown>;
		} catch {
			// reported below
		}
		throw ERRORS.invalidRequest('Invalid metadata: it must be a JSON object');
	}

	/** POST (x-upsert decides) and PUT (always upsert) `/object/:bucket/*name`. */
	async function upload(call: Call, bucketId: string, name: string, upsert: boolean): Promise<void> {
		const { req } = call;
		const who = await call.caller();
		validateObjectName(name);
		const bucket = await bucketLimits(bucketId);
		const bucketLimit = bucket.file_size_limit === null ? Infinity : Number(bucket.file_size_limit);
		const limit = Math.min(s.maxBytes, bucketLimit);
		const type = String(req.headers['content-type'] ?? '');
		let received: { path: string; size: number; md5: string } | undefined;
		let mimetype: string;
		let cacheControl: string;
		let custom: Record<string, unknown> | null;
		try {
			if (/^multipart\/form-data\b/i.test(type)) {
				const declared = Number(req.headers['content-length'] ?? NaN);
				if (declared > limit + MULTIPART_SLACK) throw ERRORS.entityTooLarge();
				const body = await readLimited(req, limit + MULTIPART_SLACK);
				let form: FormData;
				try {
					const bytes = new Uint8Array(body.buffer as ArrayBuffer, body.byteOffset, body.byteLength);
					form = await new Response(bytes, { headers: { 'content-type': type } }).formData();
				} catch {
					throw ERRORS.invalidRequest('The multipart body could not be parsed');
				}
				const file = [...form.values()].find((v): v is File => typeof v !== 'string');
				if (!file) throw ERRORS.invalidRequest('No content provided');
				mimetype = file.type || 'application/octet-stream';
				checkMimeType(mimetype, bucket.allowed_mime_types);
				if (file.size > limit) throw ERRORS.entityTooLarge();
				const cache = form.get('cacheControl');
				cacheControl = typeof cache === 'string' && cache !== '' ? `max-age=${cache}` : 'no-cache';
				const meta = form.get('metadata');
				custom = userMetadata(typeof meta === 'string' ? meta : undefined, false);
				received = await s.files.writeTemp(new Uint8Array(await file.arrayBuffer()));
			} else {
				mimetype = type || 'application/octet-stream';
				checkMimeType(mimetype, bucket.allowed_mime_types);
				cacheControl = String(req.headers['cache-control'] ?? 'no-cache');
				const meta = req.headers['x-metadata'];
				custom = userMetadata(typeof meta === 'string' ? meta : undefined, true);
				if (Number(req.headers['content-length'] ?? 0) > limit) throw ERRORS.entityTooLarge();
				received = await s.files.receive(req, limit);
			}
			const metadata: ObjectMetadata = {
				eTag: `"${received.md5}"`,
				size: received.size,
				mimetype,
				cacheControl,
				lastModified: new Date().toISOString(),
				contentLength: received.size,
				httpStatusCode: 200
			};
			const sub = typeof who.claims.sub === 'string' && who.claims.sub !== '' ? who.claims.sub : null;
			const temp = received.path;
			const id = await s.db.asCaller(
				who,
				call.info(upsert ? 'object.upload_upsert' : 'object.upload'),
				async (client) => {
					const values = [
						randomUUID(),
						bucketId,
						name,
						sub && UUID.test(sub) ? sub : null,
						sub,
						JSON.stringify(metadata),
						custom === null ? null : JSON.stringify(custom),
						randomUUID()
					];
					let objectId = values[0] as string;
					if (upsert) objectId = (await client.query<{ id: string }>(UPSERT_OBJECT, values)).rows[0].id;
					else await client.query(INSERT_OBJECT, values);
					await s.files.place(temp, bucketId, name);
					return objectId;
				}
			);
			received = undefined;
			sendJson(call, { Id: id, Key: `${bucketId}/${name}` });
		} finally {
			await s.files.discard(received?.path);
		}
	}

	/** Finds an object as the caller, or (public buckets) as superuser. */
	async function findObject(call: Call, bucketId: string, name: string, asSuperuser: boolean) {
		validateObjectName(name);
		const query = (client: Pick<PoolClient, 'query'>) =>
			client.query<ObjectRow>(SELECT_OBJECT, [bucketId, name]).then((r) => r.rows[0]);
		const row = asSuperuser
			? await query(s.db.admin)
			: await s.db.asCaller(await call.caller(), call.info('object.get_object'), query, { readOnly: true });
		if (!row) throw ERRORS.noSuchKey();
		return row;
	}

	/** GET/HEAD of an object's bytes. `mode` public: only in public buckets, without a JWT. */
	async function download(
		call: Call,
		bucketId: string,
		name: string,
		mode: 'authenticated' | 'public'
	): Promise<void> {
		if (mode === 'public') {
			const bucket = await bucketLimits(bucketId).catch(() => null);
			if (!bucket?.public) throw ERRORS.noSuchBucket();
		}
		const row = await findObject(call, bucketId, name, mode === 'public');
		await sendFile(call, row);
	}

	async function sendFile(call: Call, row: ObjectRow): Promise<void> {
		const { req, res, ctx } = call;
		let handle: FileHandle;
		try {
			handle = await open(s.files.pathOf(row.bucket_id, row.name), 'r');
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
			s.log(`object ${row.bucket_id}/${row.name} has a row but no file`);
			throw ERRORS.noSuchKey();
		}
		let streaming = false;
		try {
			const size = (await handle.stat()).size;
			const meta = row.metadata ?? {};
			const etag = typeof meta.eTag === 'string' ? meta.eTag : undefined;
			const modified = new Date(typeof meta.lastModified === 'string' ? meta.lastModified : row.updated_at);
			const headers: Record<string, string | number> = {
				'content-type': typeof meta.mimetype === 'string' ? meta.mimetype : 'application/octet-stream',
				'cache-control': typeof meta.cacheControl === 'string' ? meta.cacheControl : 'no-cache',
				'last-modified': modified.toUTCString(),
				'accept-ranges': 'bytes'
			};
			if (etag) headers.etag = etag;
			const download = ctx.url.searchParams.get('download');
			if (download !== null) {
				const filename = download || row.name.split('/').pop()!;
				headers['content-disposition'] = `attachment; filename*=UTF-8''${encodeURIComponent(filename)}`;
			}
			if (etag && req.headers['if-none-match'] === etag) {
				res.writeHead(304, headers);
				res.end();
				return;
			}
			let start = 0;
			let end = size - 1;
			let status = 200;
			const range = req.headers.range;
			if (range) {
				const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
				if (!m || (m[1] === '' && m[2] === '')) throw ERRORS.invalidRange();
				if (m[1] === '') start = Math.max(0, size - Number(m[2]));
				else {
					start = Number(m[1]);
					if (m[2] !== '') end = Math.min(end, Number(m[2]));
				}
				if (start >= size || start > end) {
					res.writeHead(416, { 'content-range': `bytes */${size}` });
					res.end();
					return;
				}
				status = 206;
				headers['content-range'] = `bytes ${start}-${end}/${size}`;
			}
			headers['content-length'] = Math.max(0, end - start + 1);
			res.writeHead(status, headers);
			if (req.method === 'HEAD' || size === 0) {
				res.end();
				return;
			}
			streaming = true;
			await pipeline(handle.createReadStream({ start, end, autoClose: true }), res).catch(() => {
				res.destroy();
			});
		} finally {
			if (!streaming) await handle.close();
		}
	}

	/** GET `/object/info/...`: an object's details as JSON. */
	async function info(call: Call, bucketId: string, name: string, publicRoute: boolean): Promise<void> {
		const bucket = await bucketLimits(bucketId);
		if (publicRoute && !bucket.public) throw ERRORS.noSuchBucket();
		const row = await findObject(call, bucketId, name, bucket.public || publicRoute);
		const meta = row.metadata ?? {};
		sendJson(call, {
			id: row.id,
			name: row.name,
			version: row.version,
			bucket_id: row.bucket_id,
			size: meta.size ?? null,
			content_type: meta.mimetype ?? null,
			cache_control: meta.cacheControl ?? null,
			etag: meta.eTag ?? null,
			metadata: row.user_metadata ?? null,
			last_modified: meta.lastModified ?? null,
			created_at: row.created_at
		});
	}

	/** Deletes rows as the caller and unlinks their files before the transaction commits. */
	async function removeRows(call: Call, bucketId: string, names: string[]) {
		return s.db.asCaller(await call.caller(), call.info('object.delete_objects', true), async (client) => {
			const { rows } = await client.query<ObjectRow>(
				'delete from storage.objects where bucket_id = $1 and name = any($2::text[]) returning *',
				[bucketId, names]
			);
			for (const row of rows) {
				try {
					await s.files.remove(bucketId, row.name);
				} catch (error) {
					s.log(`could not remove the file of ${bucketId}/${row.name}: ${(error as Error).message}`);
				}
			}
			return rows;
		});
	}

	/** DELETE `/object/:bucket` with `{ prefixes }`: the deleted objects. */
	async function removeMany(call: Call, bucketId: string): Promise<void> {
		const { prefixes } = await readJson(call.req);
		if (
			!Array.isArray(prefixes) ||
			prefixes.length === 0 ||
			prefixes.length > 1000 ||
			!prefixes.every((p) => typeof p === 'string')
		)
			throw ERRORS.invalidRequest('prefixes must be an array of 1 to 1000 object names');
		sendJson(call, await removeRows(call, bucketId, prefixes as string[]));
	}

	/** DELETE `/object/:bucket/*name`. */
	async function removeOne(call: Call, bucketId: string, name: string): Promise<void> {
		const rows = await removeRows(call, bucketId, [name]);
		if (!rows.length) throw ERRORS.noSuchKey();
		sendJson(call, { message: 'Successfully deleted' });
	}

	/** POST `/object/list/:bucket`: the folders and objects one level under a prefix. */
	async function list(call: Call, bucketId: string): Promise<void> {
		const body = await readJson(call.req);
		let prefix = typeof body.prefix === 'string' ? body.prefix : '';
		const limit = body.limit === undefined ? 100 : Number(body.limit);
		const offset = body.offset === undefined ? 0 : Number(body.offset);
		const search = typeof body.search === 'string' ? body.search : '';
		const sortBy = (body.sortBy ?? {}) as { column?: unknown; order?: unknown };
		const column = sortBy.column ?? 'name';
		const order = String(sortBy.order ?? 'asc').toLowerCase();
		if (!Number.isInteger(limit) || limit < 1 || !Number.isInteger(offset) || offset < 0)
			throw ERRORS.invalidRequest('limit and offset must be non-negative integers');
		if (!['name', 'id', 'updated_at', 'created_at', 'last_accessed_at'].includes(String(column)))
			throw ERRORS.invalidRequest(`Invalid sort column: ${String(column)}`);
		if (order !== 'asc' && order !== 'desc') throw ERRORS.invalidRequest(`Invalid sort order: ${order}`);
		if (prefix.length > 0 && !prefix.endsWith('/')) prefix += '/';
		const levels = prefix.split('/').length;
		// Supabase's storage.search (v1) query, run as the caller.
		const sql = `with folders as (
				select path_tokens[$1] as folder from storage.objects
				where objects.name ilike $2 || $3 || '%' and bucket_id = $4
					and array_length(objects.path_tokens, 1) <> $1
				group by folder order by folder ${order}
			)
			(select folder as name, null::uuid as id, null::timestamptz as updated_at,
				null::timestamptz as created_at, null::timestamptz as last_accessed_at, null::jsonb as metadata
				from folders)
			union all
			(select path_tokens[$1] as name, id, updated_at, created_at, last_accessed_at, metadata
				from storage.objects
				where objects.name ilike $2 || $3 || '%' and bucket_id = $4
					and array_length(objects.path_tokens, 1) = $1
				order by ${column === 'name' ? 'path_tokens[$1]' : column} ${order})
			limit $5 offset $6`;
		const rows = await s.db.asCaller(
			await call.caller(),
			call.info('object.list_objects'),
			async (client) => (await client.query(sql, [levels, prefix, search, bucketId, limit, offset])).rows,
			{ readOnly: true }
		);
		sendJson(call, rows);
	}

	return { upload, download, info, removeMany, removeOne, list };
}

/** Answers 200 with `body` as JSON. */
export function sendJson(call: Call, body: unknown, status = 200): void {
	const text = JSON.stringify(body);
	call.res.writeHead(status, {
		'content-type': 'application/json; charset=utf-8',
		'content-length': Buffer.byteLength(text)
	});
	call.res.end(text);
}
