/**
 * The payloads of the live events the database sends (the triggers in supabase/migrations, the
 * names in live.ts): one zod shape and one decoder per event of DB_EVENTS and USER_EVENTS. A
 * decoder answers the typed payload, or null for a malformed one, so the code that applies events
 * never reads an unchecked field. By default keys it does not know are dropped (a newer database
 * may add some); `strict` refuses them too, which is how supabase/tests/event-shapes.test.ts holds
 * the triggers to exactly these shapes. Client events (MEMBER_EVENTS) are not the database's and
 * have no decoder here. live-events.ts applies events only through these decoders.
 */
// zod's tree-shakable build: the full one would add ~30 KB (gzip) to every page.
import * as z from 'zod/mini';
import type { Tables } from '../database.types.ts';
import { DB_EVENTS, USER_EVENTS } from './live.ts';

const id = z.guid();
const timestamp = z.iso.datetime({ offset: true });
/** Seqs and epochs count from 1; read and delivery watermarks from 0. */
const seq = z.int().check(z.minimum(1));
const epoch = z.int().check(z.minimum(1));
const watermark = z.int().check(z.minimum(0));
const historyVisibility = z.enum(['joined', 'shared']);
const base64 = z.string().check(z.regex(/^[A-Za-z0-9+/]+={0,2}$/));

/** A whole `messages` row (`to_jsonb(new)`), checked against the generated row type. */
const message = {
	id,
	conversation_id: id,
	sender_id: z.nullable(id),
	seq,
	content_encrypted: z.nullable(z.string()),
	message_type: z.enum(['text', 'image', 'file', 'voice']),
	attachment: z.nullable(z.json()),
	encryption: z.nullable(z.json()),
	reply_to_id: z.nullable(id),
	client_id: z.nullable(id),
	created_at: timestamp,
	edited_at: z.nullable(timestamp),
	deleted_at: z.nullable(timestamp),
	/**
	 * Who it mentions (the server's copy, for notifying; receivers highlight from the sealed text).
	 * None when a database from before mentions leaves it out.
	 */
	mentions: z._default(z.array(id).check(z.maxLength(50)), () => [])
} satisfies { [K in keyof Tables<'messages'>]: z.ZodMiniType<Tables<'messages'>[K]> };

const SHAPES = {
	[DB_EVENTS.messageCreated]: message,
	[DB_EVENTS.messageUpdated]: message,
	/** A reaction, sealed (crypto/reactions.ts): the emoji itself is never on the wire. */
	[DB_EVENTS.reactionChanged]: {
		message_id: id,
		user_id: id,
		tag: base64,
		emoji_sealed: base64,
		nonce: base64,
		epoch,
		sig: base64,
		op: z.enum(['added', 'removed'])
	},
	[DB_EVENTS.receiptUpdated]: {
		conversation_id: id,
		user_id: id,
		last_delivered_seq: watermark,
		last_read_seq: watermark
	},
	[DB_EVENTS.participantsChanged]: {
		conversation_id: id,
		user_id: id,
		role: z.enum(['admin', 'moderator', 'member']),
		op: z.enum(['added', 'removed', 'role']),
		key_epoch: epoch
	},
	/** Sent on the old epoch's topic: `key_epoch` is the new one. */
	[DB_EVENTS.keyEpochChanged]: { conversation_id: id, key_epoch: epoch },
	/** The group's history rule (`conversations.history_visibility`) is now this one. */
	[DB_EVENTS.historyVisibilityChanged]: { conversation_id: id, history_visibility: historyVisibility },
	/** A message for me elsewhere; `key_epoch` lets a client that missed an epoch move notice. */
	[USER_EVENTS.inbox]: { conversation_id: id, seq, sender_id: z.nullable(id), key_epoch: epoch },
	[USER_EVENTS.conversationAdded]: { conversation_id: id },
	[USER_EVENTS.conversationRemoved]: { conversation_id: id },
	[USER_EVENTS.keyAdded]: { conversation_id: id, epoch }
} satisfies Record<string, z.core.$ZodLooseShape>;

/** Every event the database sends, by its name on the wire. */
export type LiveEvent = keyof typeof SHAPES;
export const LIVE_EVENTS = Object.keys(SHAPES) as LiveEvent[];
/** The events of a conversation's database topic, and of a user topic. */
export type DbEvent = (typeof DB_EVENTS)[keyof typeof DB_EVENTS] & LiveEvent;
export type UserEvent = (typeof USER_EVENTS)[keyof typeof USER_EVENTS] & LiveEvent;
/** The decoded payload of `E`. */
export type LivePayload<E extends LiveEvent> = z.output<z.ZodMiniObject<(typeof SHAPES)[E]>>;

export interface DecodeOptions {
	/** Refuse keys the shape does not name (the tests' check of the triggers), instead of dropping them. */
	strict?: boolean;
}

type Decoder<E extends LiveEvent> = (payload: unknown, options?: DecodeOptions) => LivePayload<E> | null;

/** A shape's decoder (the table below gives each its event's type). */
function decoder(shape: z.core.$ZodLooseShape) {
	const lenient = z.object(shape);
	const strict = z.strictObject(shape);
	return (payload: unknown, options: DecodeOptions = {}): unknown => {
		const result = (options.strict ? strict : lenient).safeParse(payload);
		return result.success ? result.data : null;
	};
}

/** One decoder per event: `LIVE_DECODERS[DB_EVENTS.receiptUpdated](payload)`. */
export const LIVE_DECODERS = Object.fromEntries(LIVE_EVENTS.map((e) => [e, decoder(SHAPES[e])])) as {
	[E in LiveEvent]: Decoder<E>;
};

/** The payload of `event` decoded, or null when malformed. */
export function decodeLivePayload<E extends LiveEvent>(
	event: E,
	payload: unknown,
	options?: DecodeOptions
): LivePayload<E> | null {
	return LIVE_DECODERS[event](payload, options);
}
