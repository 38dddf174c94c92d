/**
 * Row shapes of the database contract (docs/chat-api.md) and the views the chat store derives from
 * them for the UI.
 */
import type { SignatureCheck } from '../crypto/signing.ts';

export type MessageType = 'text' | 'image' | 'file' | 'voice';
export type ConversationKind = 'direct' | 'group';
export type Role = 'admin' | 'moderator' | 'member';
export type MessageStatus = 'pending' | 'failed' | 'sent' | 'delivered' | 'read';
/**
 * A group's history rule (`conversations.history_visibility`): `joined`, new members see messages
 * from when they join; `shared`, new members can read the history.
 */
export type HistoryVisibility = 'joined' | 'shared';
/**
 * Which pushes I want from a conversation (`notification_settings.notify_level`): every message,
 * only those that mention me, or none.
 */
export type NotifyLevel = 'all' | 'mentions' | 'none';

/** `messages.encryption` (a type, not an interface, so it is the `Json` the RPCs take). */
export type MessageEncryption = {
	epoch: number;
	nonce: string;
	/** The sender device's Ed25519 signature (crypto/signing.ts); absent on messages from before signing. */
	sig?: string;
};

/** A `messages` row. */
export interface MessageRow {
	id: string;
	conversation_id: string;
	sender_id: string;
	seq: number;
	content_encrypted: string | null;
	message_type: MessageType;
	attachment: unknown;
	encryption: MessageEncryption | null;
	reply_to_id: string | null;
	client_id: string | null;
	created_at: string;
	edited_at: string | null;
	deleted_at: string | null;
	/**
	 * The user ids the server was told it mentions (for notifying; not signed). The UI highlights
	 * from the sealed text instead (mentions.ts), which the sender signed.
	 */
	mentions: string[];
}

/**
 * A `message_reactions` row, as `get_reactions` and `reaction_changed` carry it: the emoji only
 * sealed (crypto/reactions.ts), under the key of the message's `epoch`.
 */
export interface ReactionRow {
	message_id: string;
	user_id: string;
	/** HMAC of message id ‖ emoji: equal for equal reactions to one message, opaque to the server. */
	tag: string;
	emoji_sealed: string;
	nonce: string;
	epoch: number;
	/** The reacting device's Ed25519 signature over the fields above and the conversation. */
	sig: string;
	created_at?: string;
}

/** A reaction that opened here, with a tag that fits its emoji and its sender's signature. */
export interface OpenedReaction {
	message_id: string;
	user_id: string;
	tag: string;
	emoji: string;
}

export interface ReactionView {
	emoji: string;
	/** The tag every reaction counted here has (one emoji on one message, one tag). */
	tag: string;
	count: number;
	/** Whether I am one of `users`. */
	mine: boolean;
	/** User ids, in the order they reacted. */
	users: string[];
}

/**
 * A message as the UI shows it: the row plus its plaintext and derived state. Optimistic messages
 * (`pending`/`failed`, not stored yet) use their `client_id` as `id` and have `seq: null`.
 */
export interface MessageView extends Omit<MessageRow, 'seq'> {
	seq: number | null;
	/** Decrypted plaintext; null for tombstones and for what this device cannot decrypt. */
	text: string | null;
	/** True when the content exists but could not be decrypted here (missing key, tampering). */
	undecryptable: boolean;
	/**
	 * Whether its sender's device signed what opened here: `verified`, or a warning for `unsigned` and
	 * `invalid` (forged, or relabelled by the server). Unset while pending and for what did not open.
	 */
	signature?: SignatureCheck;
	/** For my messages: derived from the other participants' watermarks. For others' always `sent`. */
	status: MessageStatus;
	/** How many other participants have read / received it (my messages; 0 otherwise). */
	readBy: number;
	deliveredTo: number;
	/** Other participants at the time of computing (so a group shows "read by readBy of recipients"). */
	recipients: number;
	reactions: ReactionView[];
	/** Why a `failed` message failed. */
	error?: string;
}

/** A participant with profile fields and watermarks. */
export interface ParticipantView {
	user_id: string;
	role: Role;
	joined_at: string | null;
	/** The key epoch this membership began with: under `joined`, no key of an earlier one reaches them. */
	joined_epoch: number;
	last_delivered_seq: number;
	last_read_seq: number;
	username: string | null;
	display_name: string | null;
	avatar_url: string | null;
	public_key: string | null;
}

/** A `conversations` row. */
export interface ConversationRow {
	id: string;
	kind: ConversationKind;
	title: string | null;
	created_by: string | null;
	last_seq: number;
	last_message_at: string | null;
	key_epoch: number;
	history_visibility: HistoryVisibility;
	created_at: string;
	updated_at: string;
}

export interface ConversationView extends ConversationRow {
	participants: ParticipantView[];
	last_message: MessageRow | null;
	unread_count: number;
	/** How many of the unread messages mention me (capped at 100): the list's "@". */
	unread_mentions: number;
	/** Which pushes I want from it. */
	notify_level: NotifyLevel;
	/** Muted (no pushes) until then: an ISO time, or `infinity` until turned back on; null when not muted. */
	muted_until: string | null;
	/** The group title, or the other person's display name (or username) for a direct chat. */
	name: string;
	/** The last message's decrypted text (null if deleted or not decryptable here). */
	preview: string | null;
	/** My role in it. */
	myRole: Role | null;
}

/** Someone typing in a conversation. */
export interface TypingUser {
	userId: string;
	name: string;
}
