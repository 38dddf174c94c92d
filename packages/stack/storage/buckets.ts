/**
 * Bucket endpoints, run as the caller as on Supabase: storage.buckets has row-level security
 * and no policies by default, so in practice the service role manages buckets (and apps
 * usually create theirs in migrations).
 */
import type { Call, StorageContext } from './context.ts';
import { readJson } from './context.ts';
import { ERRORS, isPgError } from './errors.ts';
import { isValidBucketName } from './files.ts';
import { sendJson, UUID } from './objects.ts';
import { parseSize } from './limits.ts';

const COLUMNS = 'id, name, owner, public, file_size_limit, allowed_mime_types, created_at, updated_at';

interface BucketRow {
	id: string;
	name: string;
	file_size_limit: string | number | null;
	[key: string]: unknown;
}

/** Bigints come back from node-postgres as strings; the API answers numbers. */
function shape(row: BucketRow): BucketRow {
	return { ...row, file_size_limit: row.file_size_limit === null ? null : Number(row.file_size_limit) };
}

function mimeTypes(value: unknown): string[] | null {
	if (value === null || value === undefined) return null;
	if (!Array.isArray(value) || !value.every((v) => typeof v === 'string'))
		throw ERRORS.invalidRequest('allowed_mime_types must be an array of strings');
	return value as string[];
}

export function bucketHandlers(s: StorageContext) {
	/** GET `/bucket`, with Supabase's optional limit, offset, search, sortColumn and sortOrder. */
	async function listBuckets(call: Call): Promise<void> {
		const q = call.ctx.url.searchParams;
		const column = q.get('sortColumn') ?? 'name';
		const order = (q.get('sortOrder') ?? 'asc').toLowerCase();
		if (!['id', 'name', 'created_at', 'updated_at'].includes(column) || !['asc', 'desc'].includes(order))
			throw ERRORS.invalidRequest('Invalid sortColumn or sortOrder');
		const limit = q.get('limit');
		const offset = q.get('offset');
		const rows = await s.db.asCaller(
			await call.caller(),
			call.info('bucket.list_buckets'),
			async (client) =>
				(
					await client.query<BucketRow>(
						`select ${COLUMNS} from storage.buckets where ($1::text is null or name ilike '%' || $1 || '%')
						order by ${column} ${order} limit $2 offset $3`,
						[q.get('search'), limit === null ? null : Number(limit), offset === null ? 0 : Number(offset)]
					)
				).rows,
			{ readOnly: true }
		);
		sendJson(call, rows.map(shape));
	}

	/** GET `/bucket/:id`. */
	async function getBucket(call: Call, id: string): Promise<void> {
		const row = await s.db.asCaller(
			await call.caller(),
			call.info('bucket.get_bucket'),
			async (client) =>
				(await client.query<BucketRow>(`select ${COLUMNS} from storage.buckets where id = $1`, [id])).rows[0],
			{ readOnly: true }
		);
		if (!row) throw ERRORS.noSuchBucket();
		sendJson(call, shape(row));
	}

	/** POST `/bucket`: `{ id?, name, public?, file_size_limit?, allowed_mime_types? }`. */
	async function createBucket(call: Call): Promise<void> {
		const who = await call.caller();
		const body = await readJson(call.req);
		const name = body.name;
		const id = body.id ?? name;
		if (!isValidBucketName(name) || !isValidBucketName(id)) throw ERRORS.invalidBucketName();
		const sub = typeof who.claims.sub === 'string' && who.claims.sub !== '' ? who.claims.sub : null;
		try {
			await s.db.asCaller(who, call.info('bucket.create_bucket'), (client) =>
				client.query(
					`insert into storage.buckets (id, name, owner, owner_id, public, file_size_limit, allowed_mime_types)
					values ($1, $2, $3, $4, $5, $6, $7)`,
					[
						id,
						name,
						sub && UUID.test(sub) ? sub : null,
						sub,
						body.public === true,
						parseSize(body.file_size_limit),
						mimeTypes(body.allowed_mime_types)
					]
				)
			);
		} catch (error) {
			if (isPgError(error) && error.code === '23505') throw ERRORS.bucketAlreadyExists();
			throw error;
		}
		sendJson(call, { name });
	}

	/** PUT `/bucket/:id`: updates the fields present in the body. */
	async function updateBucket(call: Call, id: string): Promise<void> {
		const who = await call.caller();
		const body = await readJson(call.req);
		const sets: string[] = [];
		const values: unknown[] = [id];
		const set = (column: string, value: unknown) => {
			values.push(value);
			sets.push(`${column} = $${values.length}`);
		};
		if ('public' in body) set('public', body.public === true);
		if ('file_size_limit' in body) set('file_size_limit', parseSize(body.file_size_limit));
		if ('allowed_mime_types' in body) set('allowed_mime_types', mimeTypes(body.allowed_mime_types));
		sets.push('updated_at = now()');
		const updated = await s.db.asCaller(who, call.info('bucket.update_bucket'), async (client) => {
			const r = await client.query(`update storage.buckets set ${sets.join(', ')} where id = $1`, values);
			return r.rowCount ?? 0;
		});
		if (!updated) throw ERRORS.noSuchBucket();
		sendJson(call, { message: 'Successfully updated' });
	}

	/** DELETE `/bucket/:id`: only an empty bucket. */
	async function deleteBucket(call: Call, id: string): Promise<void> {
		const who = await call.caller();
		const { rowCount } = await s.db.admin.query(
			'select 1 from storage.objects where bucket_id = $1 limit 1',
			[id]
		);
		if (rowCount) throw ERRORS.bucketNotEmpty();
		let deleted: number;
		try {
			deleted = await s.db.asCaller(who, call.info('bucket.delete_bucket', true), async (client) => {
				const r = await client.query('delete from storage.buckets where id = $1', [id]);
				return r.rowCount ?? 0;
			});
		} catch (error) {
			if (isPgError(error) && error.code === '23503') throw ERRORS.bucketNotEmpty();
			throw error;
		}
		if (!deleted) throw ERRORS.noSuchBucket();
		if (isValidBucketName(id)) await s.files.removeBucket(id).catch(() => {});
		sendJson(call, { message: 'Successfully deleted' });
	}

	/** POST `/bucket/:id/empty`: removes every object the caller may delete. */
	async function emptyBucket(call: Call, id: string): Promise<void> {
		await s.db.asCaller(await call.caller(), call.info('bucket.empty_bucket', true), async (client) => {
			const found = await client.query('select 1 from storage.buckets where id = $1', [id]);
			if (!found.rowCount) throw ERRORS.noSuchBucket();
			const { rows } = await client.query<{ name: string }>(
				'delete from storage.objects where bucket_id = $1 returning name',
				[id]
			);
			for (const row of rows) await s.files.remove(id, row.name).catch(() => {});
		});
		sendJson(call, { message: 'Successfully emptied' });
	}

	return { listBuckets, getBucket, createBucket, updateBucket, deleteBucket, emptyBucket };
}
