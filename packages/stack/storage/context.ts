/** What the storage service's handlers share: the database, the files, limits and the caller. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { JsonDepthError, parseJson } from '../http.ts';
import type { GatewayContext } from '../gateway.ts';
import type { Identity, RequestInfo, StorageDatabase } from './db.ts';
import { ERRORS } from './errors.ts';
import type { FileStore } from './files.ts';
import { readLimited } from './files.ts';

export interface StorageContext {
	db: StorageDatabase;
	files: FileStore;
	/** Global upload cap in bytes. */
	maxBytes: number;
	log(message: string): void;
}

/** One request to the storage service. */
export interface Call {
	req: IncomingMessage;
	res: ServerResponse;
	ctx: GatewayContext;
	/** The caller, from the verified JWT (throws AccessDenied for a bad one). */
	caller(): Promise<Identity>;
	/** What the request's transaction records about it. */
	info(operation: string, canDelete?: boolean): RequestInfo;
}

/** Reads a JSON request body (an object) of at most 1 MiB. */
export async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
	const raw = (await readLimited(req, 1024 * 1024)).toString('utf8');
	if (raw.trim() === '') return {};
	let body: unknown;
	try {
		body = parseJson(raw);
	} catch (error) {
		throw ERRORS.invalidRequest(
			error instanceof JsonDepthError ? `Body is ${error.message}` : 'Body is not valid JSON'
		);
	}
	if (body === null || typeof body !== 'object' || Array.isArray(body))
		throw ERRORS.invalidRequest('Body must be a JSON object');
	return body as Record<string, unknown>;
}
