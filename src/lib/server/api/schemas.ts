/**
 * zod schemas of the `/api/...` routes' bodies, params and query strings. They check shapes only;
 * the database checks the rules (membership, roles, content, the shapes of sealed reactions) and answers with its own codes.
 */
import { z } from 'zod';

/** Any 8-4-4-4-12 hex id, as Postgres' uuid type accepts it. */
export const id = z.guid({ error: 'must be a UUID' });

export const role = z.enum(['admin', 'moderator', 'member']);
export const messageType = z.enum(['text', 'image', 'file', 'voice']);

export const idParam = z.object({ id });
export const participantParams = z.object({ id, userId: id });

export const directBody = z.strictObject({ user_id: id });

export const groupBody = z.strictObject({
	title: z.string().trim().min(1, 'must not be empty').max(100),
	participant_ids: z.array(id).max(500).default([])
});

export const addParticipantBody = z.strictObject({ user_id: id, role: role.optional() });

export const setRoleBody = z.strictObject({ role });

const encryption = z.looseObject({ epoch: z.number().int().min(1), nonce: z.string().min(1).max(128) });

/** The members a message mentions (the database checks they are members). */
const mentions = z.array(id).max(50).nullable().optional();

export const sendMessageBody = z.strictObject({
	conversation_id: id,
	content_encrypted: z.string().max(65536).nullable().optional(),
	message_type: messageType.optional(),
	client_id: id.optional(),
	reply_to_id: id.nullable().optional(),
	attachment: z.record(z.string(), z.unknown()).nullable().optional(),
	encryption: encryption.nullable().optional(),
	mentions
});

export const editMessageBody = z.strictObject({
	content_encrypted: z.string().min(1, 'must not be empty').max(65536),
	encryption: encryption.nullable().optional(),
	mentions
});

export const statusBody = z.strictObject({ status: z.enum(['delivered', 'read']) });

const base64 = (max: number) =>
	z
		.string()
		.min(1)
		.max(max)
		.regex(/^[A-Za-z0-9+/]+={0,2}$/, 'must be base64');

/** A sealed reaction (src/lib/crypto/reactions.ts): the emoji never reaches the server in the clear. */
export const reactionBody = z.strictObject({
	tag: base64(64),
	emoji_sealed: base64(256),
	nonce: base64(64),
	epoch: z.number().int().min(1),
	sig: base64(128)
});

/** Which of my reactions to take back: its tag. */
export const reactionTagBody = z.strictObject({ tag: base64(64) });

const count = (max: number) =>
	z
		.string()
		.regex(/^\d{1,18}$/, 'must be a whole number')
		.transform(Number)
		.pipe(z.number().int().min(0).max(max));

/** `GET /api/messages/:conversationId?limit=&before=&after=&offset=` */
export const messagesQuery = z
	.object({
		limit: count(100).pipe(z.number().min(1, 'must be between 1 and 100')).default(50),
		before: count(Number.MAX_SAFE_INTEGER).optional(),
		after: count(Number.MAX_SAFE_INTEGER).optional(),
		offset: count(Number.MAX_SAFE_INTEGER).optional()
	})
	.refine((q) => q.offset === undefined || (q.before === undefined && q.after === undefined), {
		message: 'offset cannot be combined with before or after'
	});

/** `GET /api/conversations?limit=&before_activity=&before_id=` */
export const conversationsQuery = z
	.object({
		limit: count(100).pipe(z.number().min(1, 'must be between 1 and 100')).default(30),
		before_activity: z.iso.datetime({ offset: true }).optional(),
		before_id: id.optional()
	})
	.refine((q) => q.before_id === undefined || q.before_activity !== undefined, {
		message: 'before_id needs before_activity',
		path: ['before_id']
	});

/** The query string as a plain object (the last value of a repeated key wins). */
export function queryOf(url: URL): Record<string, string> {
	return Object.fromEntries(url.searchParams.entries());
}
