/**
 * Storage API errors, shaped as Supabase Storage renders them: the body carries the semantic
 * status as a string (`statusCode: '404'`), the error code and a message, while the HTTP status
 * is 400 for every client error and 500 for server errors (Supabase's default error handler).
 * Features this stack does not provide answer 501.
 */

export interface ErrorBody {
	statusCode: string;
	code: string;
	error: string;
	message: string;
}

export class StorageError extends Error {
	override name = 'StorageError';
	readonly statusCode: number;
	readonly code: string;
	readonly error: string;
	readonly httpStatus: number;

	constructor(statusCode: number, code: string, message: string, error = code, httpStatus?: number) {
		super(message);
		this.statusCode = statusCode;
		this.code = code;
		this.error = error;
		this.httpStatus = httpStatus ?? (statusCode >= 500 ? statusCode : 400);
	}

	body(): ErrorBody {
		return { statusCode: String(this.statusCode), code: this.code, error: this.error, message: this.message };
	}
}

export const ERRORS = {
	noSuchBucket: () => new StorageError(404, 'NoSuchBucket', 'Bucket not found', 'Bucket not found'),
	noSuchKey: () => new StorageError(404, 'NoSuchKey', 'Object not found', 'not_found'),
	accessDenied: (message: string) => new StorageError(403, 'AccessDenied', message, 'Unauthorized'),
	keyAlreadyExists: () =>
		new StorageError(409, 'KeyAlreadyExists', 'The resource already exists', 'Duplicate'),
	bucketAlreadyExists: () =>
		new StorageError(409, 'BucketAlreadyExists', 'The resource already exists', 'Duplicate'),
	bucketNotEmpty: () =>
		new StorageError(409, 'ResourceNotEmpty', 'The bucket you tried to delete is not empty'),
	entityTooLarge: () =>
		new StorageError(
			413,
			'EntityTooLarge',
			'The object exceeded the maximum allowed size',
			'Payload too large'
		),
	invalidMimeType: (mimeType: string) =>
		new StorageError(415, 'InvalidMimeType', `mime type ${mimeType} is not supported`, 'invalid_mime_type'),
	invalidKey: (key: string, why?: string) =>
		new StorageError(400, 'InvalidKey', `Invalid key: ${key}${why ? ` (${why})` : ''}`),
	invalidBucketName: () => new StorageError(400, 'InvalidBucketName', 'Bucket name invalid', 'Invalid Input'),
	invalidRequest: (message: string) => new StorageError(400, 'InvalidRequest', message),
	invalidRange: () => new StorageError(416, 'InvalidRange', 'invalid range provided', 'invalid_range', 416),
	internal: (message = 'Internal server error') => new StorageError(500, 'InternalError', message),
	notSupported: (what: string) =>
		new StorageError(
			501,
			'NotSupported',
			`${what} is not supported by the embedded stack: use \`supabase start\` or a hosted project for it.`,
			'not_implemented',
			501
		)
};

/** A PostgreSQL error as node-postgres reports it. */
export function isPgError(e: unknown): e is Error & { code: string } {
	return e instanceof Error && typeof (e as { code?: unknown }).code === 'string' && 'severity' in e;
}

/** Maps a database error to the Storage error Supabase answers with. */
export function fromPgError(e: Error & { code: string }): StorageError {
	switch (e.code) {
		case '42501':
			return ERRORS.accessDenied('new row violates row-level security policy');
		case '23505':
			return ERRORS.keyAlreadyExists();
		case '57014':
			return new StorageError(544, 'DatabaseTimeout', 'The connection to the database timed out');
		default:
			return new StorageError(500, 'DatabaseError', e.message);
	}
}
