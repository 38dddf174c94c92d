/**
 * The embedded stack's Storage service (`/storage/v1`): enough of Supabase Storage's HTTP API for
 * the unmodified storage-js client to upload, download, list and remove objects, and manage
 * buckets, under the row-level security policies of storage.objects and storage.buckets
 * (platform layer 0009_storage.sql). Bytes live on disk (files.ts); rows are read and written
 * as the caller (db.ts); errors are shaped as Supabase's (errors.ts).
 *
 * Supported: object upload (POST, PUT; raw or multipart; x-upsert), download (GET/HEAD,
 * authenticated and public, ranges), info, remove (one or many), list (v1); buckets list, get,
 * create, update, empty, delete. Everything else (signed URLs, move, copy, list-v2, image
 * transformations, resumable uploads, S3, vectors, iceberg) answers 501. The global upload cap is
 * the stack config's `storage.fileSizeLimit`.
 */
import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GatewayContext, Service } from '../gateway.ts';
import type { ServiceDeps } from '../services.ts';
import type { StackConfig } from '../config.ts';
import { roleOf } from '../db/caller.ts';
import { JwtError, verifyJwt } from '../jwt.ts';
import { bucketHandlers } from './buckets.ts';
import type { Call, StorageContext } from './context.ts';
import { StorageDatabase, type Identity } from './db.ts';
import { requestHeadersJson } from '../http.ts';
import { ERRORS, fromPgError, isPgError, StorageError } from './errors.ts';
import { FileStore } from './files.ts';
import { objectHandlers } from './objects.ts';

/** Unsupported areas of the API, by first path segment, as named in the 501 message. */
const UNSUPPORTED_AREAS: Record<string, string> = {
	render: 'Image transformations (/storage/v1/render/image)',
	upload: 'Resumable uploads (TUS, /storage/v1/upload/resumable)',
	s3: 'The S3 protocol (/storage/v1/s3)',
	vector: 'Vector buckets (/storage/v1/vector)',
	iceberg: 'Analytics buckets (/storage/v1/iceberg)',
	cdn: 'CDN cache purging (/storage/v1/cdn)'
};

export interface StorageService extends Service {
	/** The folder objects are stored in. */
	root: string;
}

/** Where the stack keeps object files unless told otherwise: beside the database, in its folder. */
export function defaultStorageDir(config: Pick<StackConfig, 'dataDir'>): string {
	return join(config.dataDir, 'storage');
}

/** Creates the Storage service. */
export function createStorageService(deps: ServiceDeps): StorageService {
	const { config } = deps;
	const root = deps.storageDir ?? defaultStorageDir(config);
	const s: StorageContext = {
		db: new StorageDatabase(deps.dbUrl),
		files: new FileStore(root),
		maxBytes: config.storage.fileSizeLimit,
		log: (message) => (deps.log ? deps.log('storage', message) : console.error(`[storage] ${message}`))
	};
	s.files.sweepTemp(60 * 60 * 1000).catch(() => {});
	const objects = objectHandlers(s);
	const buckets = bucketHandlers(s);

	async function authenticate(ctx: GatewayContext): Promise<Identity> {
		try {
			const claims = await verifyJwt(ctx.token, config.jwtSecret);
			return { claims, role: roleOf(claims), token: ctx.token };
		} catch (error) {
			if (error instanceof JwtError && error.reason === 'expired') throw ERRORS.accessDenied('jwt expired');
			throw ERRORS.accessDenied('invalid signature');
		}
	}

	/** Dispatches a request to its handler, or to a 501 for what the stack does not provide. */
	async function route(call: Call): Promise<void> {
		const method = call.req.method ?? 'GET';
		const read = method === 'GET' || method === 'HEAD';
		let segments: string[];
		try {
			segments = call.ctx.url.pathname.split('/').slice(1).map(decodeURIComponent);
		} catch {
			throw ERRORS.invalidRequest('The request path is not valid');
		}
		const [area, first, ...tail] = segments;
		const rest = tail.join('/');

		if (area === 'object' && first) {
			if (read && first === 'public' && tail.length > 1)
				return objects.download(call, tail[0], tail.slice(1).join('/'), 'public');
			if (read && first === 'authenticated' && tail.length > 1)
				return objects.download(call, tail[0], tail.slice(1).join('/'), 'authenticated');
			if (method === 'GET' && first === 'info' && tail.length > 1) {
				const scope = tail[0] === 'public' || tail[0] === 'authenticated' ? tail[0] : undefined;
				const path = scope ? tail.slice(1) : tail;
				if (path.length > 1) return objects.info(call, path[0], path.slice(1).join('/'), scope === 'public');
			}
			if (first === 'sign') throw ERRORS.notSupported('Signed URLs (/storage/v1/object/sign)');
			if (first === 'upload' && tail[0] === 'sign')
				throw ERRORS.notSupported('Signed upload URLs (/storage/v1/object/upload/sign)');
			if (method === 'POST' && first === 'list' && tail.length === 1 && tail[0])
				return objects.list(call, tail[0]);
			if (method === 'POST' && first === 'list-v2')
				throw ERRORS.notSupported('Listing objects with list-v2 (/storage/v1/object/list-v2)');
			if (method === 'POST' && (first === 'move' || first === 'copy') && tail.length === 0)
				throw ERRORS.notSupported(
					`${first === 'move' ? 'Moving' : 'Copying'} objects (/storage/v1/object/${first})`
				);
			if (rest !== '') {
				if (method === 'POST')
					return objects.upload(call, first, rest, call.req.headers['x-upsert'] === 'true');
				if (method === 'PUT') return objects.upload(call, first, rest, true);
				if (read) return objects.download(call, first, rest, 'authenticated');
				if (method === 'DELETE') return objects.removeOne(call, first, rest);
			} else if (method === 'DELETE' && tail.length === 0) return objects.removeMany(call, first);
			else if (method === 'POST' || method === 'PUT') throw ERRORS.invalidKey('', 'missing object name');
		}

		if (area === 'bucket') {
			if (!first && method === 'GET') return buckets.listBuckets(call);
			if (!first && method === 'POST') return buckets.createBucket(call);
			if (first && tail.length === 0) {
				if (method === 'GET') return buckets.getBucket(call, first);
				if (method === 'PUT') return buckets.updateBucket(call, first);
				if (method === 'DELETE') return buckets.deleteBucket(call, first);
			}
			if (first && method === 'POST' && tail.length === 1 && tail[0] === 'empty')
				return buckets.emptyBucket(call, first);
		}

		throw ERRORS.notSupported(UNSUPPORTED_AREAS[area] ?? `${method} /storage/v1${call.ctx.url.pathname}`);
	}

	async function handle(req: IncomingMessage, res: ServerResponse, ctx: GatewayContext): Promise<void> {
		let identity: Promise<Identity> | undefined;
		const call: Call = {
			req,
			res,
			ctx,
			caller: () => (identity ??= authenticate(ctx)),
			info: (operation, canDelete) => ({
				method: req.method ?? 'GET',
				path: ctx.url.pathname,
				headers: requestHeadersJson(req),
				operation,
				canDelete
			})
		};
		try {
			await route(call);
		} catch (e) {
			let error: StorageError;
			if (e instanceof StorageError) error = e;
			else if (isPgError(e)) error = fromPgError(e);
			else {
				s.log(`unexpected error: ${(e as Error)?.stack ?? String(e)}`);
				error = ERRORS.internal();
			}
			if (!req.complete) drain(req, s.maxBytes);
			if (res.headersSent) {
				res.destroy();
				return;
			}
			const text = JSON.stringify(error.body());
			res.writeHead(error.httpStatus, {
				'content-type': 'application/json; charset=utf-8',
				'content-length': Buffer.byteLength(text)
			});
			res.end(req.method === 'HEAD' ? undefined : text);
		}
	}

	return {
		root: s.files.root,
		handle,
		async close() {
			await s.db.close();
		}
	};
}

/**
 * Discards the rest of a refused request's body so the answer can be read on the same
 * connection; past `limit` more bytes, gives up and closes the connection instead.
 */
function drain(req: IncomingMessage, limit: number): void {
	let seen = 0;
	req.on('data', (chunk: Buffer) => {
		seen += chunk.length;
		if (seen > limit) req.destroy();
	});
	req.on('error', () => {});
	req.resume();
}
