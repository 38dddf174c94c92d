/**
 * The object store on disk: `<root>/<bucket id>/<object name>`. Uploads are received into a
 * temporary file under `<root>/#tmp` (on the same file system, so moving them into place is an
 * atomic rename), with their size bounded and their MD5 computed on the way.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { once } from 'node:events';
import { dirname, join, resolve, sep } from 'node:path';
import { ERRORS } from './errors.ts';

/** Bucket ids as Supabase accepts them (storage-js `isValidBucketName`), minus `.` and `..`. */
export function isValidBucketName(name: unknown): name is string {
	return (
		typeof name === 'string' &&
		name.length > 0 &&
		name.length <= 100 &&
		name.trim() === name &&
		name !== '.' &&
		name !== '..' &&
		/^[\w!.*'() &$@=;:+,?-]+$/.test(name)
	);
}

/**
 * Checks an object name: at most 1024 characters, no control characters or backslashes, and
 * path segments that are neither empty nor `.`/`..` and fit a file name (255 bytes).
 */
export function validateObjectName(name: string): void {
	if (name.length === 0) throw ERRORS.invalidKey(name, 'empty');
	if (name.length > 1024) throw ERRORS.invalidKey(name.slice(0, 64) + '…', 'longer than 1024 characters');
	// eslint-disable-next-line no-control-regex
	if (/[\u0000-\u001f\u007f\\]/.test(name)) throw ERRORS.invalidKey(name, 'forbidden character');
	for (const segment of name.split('/')) {
		if (segment === '' || segment === '.' || segment === '..')
			throw ERRORS.invalidKey(name, 'empty, "." or ".." path segment');
		if (Buffer.byteLength(segment) > 255) throw ERRORS.invalidKey(name, 'path segment over 255 bytes');
	}
}

/**
 * Reads a request body chunk by chunk, waiting on `onChunk` when it returns a promise. Past
 * `limit` bytes, or when `onChunk` fails, it stops listening and rejects, without destroying
 * the request: the caller can still drain it and answer on the same connection.
 */
export function consume(
	req: IncomingMessage,
	limit: number,
	onChunk: (chunk: Buffer) => Promise<void> | void
): Promise<number> {
	return new Promise<number>((done, fail) => {
		let size = 0;
		let settled = false;
		const finish = (error?: unknown) => {
			if (settled) return;
			settled = true;
			req.off('data', onData);
			req.off('end', onEnd);
			req.off('error', finish);
			req.off('close', onClose);
			if (error) fail(error);
			else done(size);
		};
		const onData = (chunk: Buffer) => {
			if (settled) return;
			size += chunk.length;
			if (size > limit) return finish(ERRORS.entityTooLarge());
			let wait: Promise<void> | void;
			try {
				wait = onChunk(chunk);
			} catch (error) {
				return finish(error);
			}
			if (wait) {
				req.pause();
				wait.then(() => {
					if (!settled) req.resume();
				}, finish);
			}
		};
		const onEnd = () => finish();
		const onClose = () => {
			if (!req.complete) finish(ERRORS.invalidRequest('The request body was interrupted'));
		};
		req.on('data', onData);
		req.once('end', onEnd);
		req.once('error', finish);
		req.once('close', onClose);
		req.resume();
	});
}

/** Reads a whole request body of at most `limit` bytes (see `consume`). */
export async function readLimited(req: IncomingMessage, limit: number): Promise<Buffer> {
	const chunks: Buffer[] = [];
	await consume(req, limit, (chunk) => {
		chunks.push(chunk);
	});
	return Buffer.concat(chunks);
}

export class FileStore {
	readonly root: string;
	readonly #tmp: string;

	constructor(root: string) {
		this.root = resolve(root);
		this.#tmp = join(this.root, '#tmp');
	}

	/** The file of an object (its bucket id and name must have been validated). */
	pathOf(bucket: string, name: string): string {
		const path = resolve(this.root, bucket, ...name.split('/'));
		if (!isValidBucketName(bucket) || !path.startsWith(this.root + sep + bucket + sep))
			throw ERRORS.invalidKey(name);
		return path;
	}

	/** The folder of a bucket. */
	bucketDir(bucket: string): string {
		if (!isValidBucketName(bucket)) throw ERRORS.invalidBucketName();
		return join(this.root, bucket);
	}

	async #tempPath(): Promise<string> {
		await mkdir(this.#tmp, { recursive: true });
		return join(this.#tmp, randomUUID());
	}

	/** Writes `data` into a new temporary file. */
	async writeTemp(data: Uint8Array): Promise<{ path: string; size: number; md5: string }> {
		const path = await this.#tempPath();
		await writeFile(path, data, { flag: 'wx' });
		return { path, size: data.byteLength, md5: createHash('md5').update(data).digest('hex') };
	}

	/**
	 * Streams the request body into a new temporary file. Past `limit` bytes it stops, removes
	 * the file and rejects with EntityTooLarge, leaving the rest of the body to the caller.
	 */
	async receive(req: IncomingMessage, limit: number): Promise<{ path: string; size: number; md5: string }> {
		const path = await this.#tempPath();
		const hash = createHash('md5');
		const out = createWriteStream(path, { flags: 'wx' });
		let failure: Error | undefined;
		out.on('error', (error) => (failure ??= error));
		try {
			const size = await consume(req, limit, (chunk) => {
				if (failure) throw failure;
				hash.update(chunk);
				if (!out.write(chunk)) return once(out, 'drain').then(() => undefined);
			});
			await new Promise<void>((done) => out.end(done));
			if (failure) throw failure;
			return { path, size, md5: hash.digest('hex') };
		} catch (error) {
			out.destroy();
			await rm(path, { force: true });
			throw error;
		}
	}

	/** Moves a received temporary file to be the object's file (replacing any previous one). */
	async place(temp: string, bucket: string, name: string): Promise<void> {
		const target = this.pathOf(bucket, name);
		try {
			await mkdir(dirname(target), { recursive: true });
			await rename(temp, target);
		} catch (error) {
			const code = (error as NodeJS.ErrnoException).code;
			if (code === 'ENOTDIR' || code === 'EEXIST' || code === 'EISDIR' || code === 'ENOTEMPTY')
				throw ERRORS.invalidKey(
					name,
					'an object and a folder of the same name cannot coexist in the embedded stack'
				);
			throw error;
		}
	}

	/** Removes temporary files older than `age` ms (left by a stack that stopped mid-upload). */
	async sweepTemp(age: number): Promise<void> {
		const names = await readdir(this.#tmp).catch(() => [] as string[]);
		for (const name of names) {
			const path = join(this.#tmp, name);
			const info = await stat(path).catch(() => null);
			if (info && Date.now() - info.mtimeMs > age) await rm(path, { force: true });
		}
	}

	/** Removes a temporary file, if it is still there. */
	async discard(temp: string | undefined): Promise<void> {
		if (temp) await rm(temp, { force: true });
	}

	/** Removes an object's file and the folders it leaves empty (up to the bucket's folder). */
	async remove(bucket: string, name: string): Promise<void> {
		const target = this.pathOf(bucket, name);
		try {
			await unlink(target);
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
		}
		const stop = join(this.root, bucket);
		for (let dir = dirname(target); dir !== stop && dir.startsWith(stop + sep); dir = dirname(dir)) {
			try {
				await rmdir(dir);
			} catch {
				break;
			}
		}
	}

	/** Removes a bucket's folder and whatever is left in it. */
	async removeBucket(bucket: string): Promise<void> {
		await rm(this.bucketDir(bucket), { recursive: true, force: true });
	}
}
