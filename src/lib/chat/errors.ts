/**
 * Errors from Supabase calls, normalised: PostgREST refusals (`PT4xx`, see docs/chat-api.md) keep
 * their status and stable `detail` code; a request that never got an answer is `network`, so
 * callers can tell "try again later" from "the server said no".
 */

/** The part of a supabase-js response the core looks at. */
export interface SupabaseResult<T> {
	data: T | null;
	error: { message: string; details?: string | null; code?: string; hint?: string | null } | null;
	status?: number;
}

export class ChatError extends Error {
	/** HTTP status (0 when the request never got an answer). */
	readonly status: number;
	/** The stable machine code from the database (`not_admin`, `conversation_not_found`, ...), if any. */
	readonly detail: string | null;
	/** PostgREST / Postgres error code (`PT403`, `23505`, ...), if any. */
	readonly code: string | null;

	constructor(message: string, status = 0, detail: string | null = null, code: string | null = null) {
		super(message);
		this.name = 'ChatError';
		this.status = status;
		this.detail = detail;
		this.code = code;
	}

	/** True when the request did not reach the database (offline, gateway down): worth retrying. */
	get network(): boolean {
		return this.status === 0 || this.status === 502 || this.status === 503 || this.status === 504;
	}
}

/** The data of a supabase-js result, or a `ChatError`. */
export function unwrap<T>(result: SupabaseResult<T>): T {
	if (result.error) {
		const status = result.status ?? 0;
		const e = result.error;
		throw new ChatError(e.message || 'Request failed', status, e.details ?? null, e.code || null);
	}
	return result.data as T;
}

/** True when an error (of any origin) means the network, not the server, failed. */
export function isNetworkError(err: unknown): boolean {
	if (err instanceof ChatError) return err.network;
	// fetch() rejects with a TypeError when it cannot reach the server.
	return err instanceof TypeError;
}

/**
 * A message a person can read for any thrown value: an Error's or a PostgREST error object's
 * `message`, a thrown string, or a generic sentence. The one place the app turns failures into text.
 */
export function errorMessage(err: unknown): string {
	if (err && typeof err === 'object' && 'message' in err && typeof err.message === 'string' && err.message)
		return err.message;
	if (typeof err === 'string' && err) return err;
	return 'Something went wrong. Please try again.';
}

/**
 * Why nothing is sealed or sent from a device without the identity key (a new device that has not
 * restored its backup, or whose keys did not load): what it sent could not be signed by, or read
 * with, the identity the others know.
 */
export function noIdentityError(): ChatError {
	return new ChatError(
		'This device does not have your encryption key yet: restore your key backup (or reset your key) to send',
		0,
		'no_identity'
	);
}
