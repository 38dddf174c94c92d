/**
 * Pure functions of the chat state: normalising rows from RPC and Realtime payloads, deriving
 * message statuses from watermarks, aggregating reactions and ordering a conversation's ids.
 * Kept apart from the store so they are tested without any client.
 */
import type {
	ConversationKind,
	ConversationRow,
	MessageEncryption,
	MessageRow,
	MessageStatus,
	MessageType,
	MessageView,
	OpenedReaction,
	ParticipantView,
	ReactionView,
	Role
} from './types.ts';

type Raw = Record<string, unknown>;

function str(v: unknown): string | null {
	return typeof v === 'string' ? v : null;
}

function num(v: unknown, fallback = 0): number {
	if (typeof v === 'number') return v;
	if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) return Number(v);
	return fallback;
}

function parseJson(v: unknown): unknown {
	if (typeof v !== 'string') return v;
	try {
		return JSON.parse(v);
	} catch {
		return null;
	}
}

/** `messages.encryption`, or null when absent or malformed. */
export function normalizeEncryption(v: unknown): MessageEncryption | null {
	const e = parseJson(v) as Raw | null;
	if (!e || typeof e !== 'object' || typeof e.nonce !== 'string') return null;
	const out: MessageEncryption = { epoch: num(e.epoch), nonce: e.nonce };
	if (typeof e.sig === 'string') out.sig = e.sig;
	return out;
}

/**
 * A message row from any source (RPC result, Realtime payload — possibly wrapped as `{record}`),
 * with `seq` as a number even if bigint arrived as a string.
 */
export function normalizeMessage(raw: unknown): MessageRow {
	let r = raw as Raw;
	if (r && typeof r === 'object' && r.record && typeof r.record === 'object') r = r.record as Raw;
	return {
		id: String(r.id),
		conversation_id: String(r.conversation_id),
		sender_id: String(r.sender_id),
		seq: num(r.seq),
		content_encrypted: str(r.content_encrypted),
		message_type: (str(r.message_type) ?? 'text') as MessageType,
		attachment: parseJson(r.attachment) ?? null,
		encryption: normalizeEncryption(r.encryption),
		reply_to_id: str(r.reply_to_id),
		client_id: str(r.client_id),
		created_at: str(r.created_at) ?? new Date().toISOString(),
		edited_at: str(r.edited_at),
		deleted_at: str(r.deleted_at),
		mentions: ids(parseJson(r.mentions))
	};
}

/** An array of ids (a Postgres `uuid[]` arrives as a JSON array); anything else is none. */
function ids(v: unknown): string[] {
	return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/**
 * A participant from `get_conversation` / `list_conversations`, whose profile fields may be flat or
 * nested under `profile` / `profiles`.
 */
export function normalizeParticipant(raw: unknown): ParticipantView {
	const r = raw as Raw;
	const profile = ((r.profile ?? r.profiles ?? {}) as Raw) || {};
	const pick = (key: string) => str(r[key]) ?? str(profile[key]);
	return {
		user_id: String(r.user_id ?? profile.id ?? r.id),
		role: (str(r.role) ?? 'member') as Role,
		joined_at: str(r.joined_at),
		joined_epoch: Math.max(1, num(r.joined_epoch, 1)),
		last_delivered_seq: num(r.last_delivered_seq),
		last_read_seq: num(r.last_read_seq),
		username: pick('username'),
		display_name: pick('display_name'),
		avatar_url: pick('avatar_url'),
		public_key: pick('public_key')
	};
}

/** The conversation columns of a `conversations` row or of a `get_conversation` / `list_conversations` item. */
export function normalizeConversation(raw: unknown): ConversationRow {
	const r = raw as Raw;
	return {
		id: String(r.id),
		kind: (str(r.kind) ?? 'direct') as ConversationKind,
		title: str(r.title),
		created_by: str(r.created_by),
		last_seq: num(r.last_seq),
		last_message_at: str(r.last_message_at),
		key_epoch: num(r.key_epoch),
		history_visibility: r.history_visibility === 'shared' ? 'shared' : 'joined',
		created_at: str(r.created_at) ?? new Date(0).toISOString(),
		updated_at: str(r.updated_at) ?? str(r.created_at) ?? new Date(0).toISOString()
	};
}

export interface DerivedStatus {
	status: MessageStatus;
	readBy: number;
	deliveredTo: number;
	recipients: number;
}

/**
 * A stored message's status from the other participants' watermarks (docs/chat-api.md): `read`
 * once every recipient has read it, `delivered` once every recipient has it, else `sent`. `readBy`
 * gives groups their "read by N of M". Only meaningful for my own messages.
 */
export function deriveStatus(
	seq: number,
	senderId: string,
	participants: readonly Pick<ParticipantView, 'user_id' | 'last_delivered_seq' | 'last_read_seq'>[]
): DerivedStatus {
	let recipients = 0;
	let readBy = 0;
	let deliveredTo = 0;
	for (const p of participants) {
		if (p.user_id === senderId) continue;
		recipients++;
		// Read implies delivered, even if a stale event says otherwise.
		if (p.last_read_seq >= seq) {
			readBy++;
			deliveredTo++;
		} else if (p.last_delivered_seq >= seq) {
			deliveredTo++;
		}
	}
	let status: MessageStatus = 'sent';
	if (recipients > 0 && readBy === recipients) status = 'read';
	else if (recipients > 0 && deliveredTo === recipients) status = 'delivered';
	return { status, readBy, deliveredTo, recipients };
}

/**
 * Reactions grouped by tag (a tag is one emoji on one message: reactions.ts counts no reaction
 * whose tag does not fit its emoji), in order of each tag's first use, with counts, who and
 * whether I did.
 */
export function aggregateReactions(rows: readonly OpenedReaction[], me: string): ReactionView[] {
	const byTag = new Map<string, ReactionView>();
	for (const row of rows) {
		let view = byTag.get(row.tag);
		if (!view) {
			view = { emoji: row.emoji, tag: row.tag, count: 0, mine: false, users: [] };
			byTag.set(row.tag, view);
		}
		if (view.users.includes(row.user_id)) continue;
		view.users.push(row.user_id);
		view.count++;
		if (row.user_id === me) view.mine = true;
	}
	return [...byTag.values()];
}

/**
 * A conversation's ids in display order: stored messages by ascending `seq`, then optimistic ones
 * (no `seq`) in the order they were sent. Duplicates are dropped.
 */
export function orderIds(ids: readonly string[], seqOf: (id: string) => number | null | undefined): string[] {
	const stored: { id: string; seq: number }[] = [];
	const pending: string[] = [];
	const seen = new Set<string>();
	for (const id of ids) {
		if (seen.has(id)) continue;
		seen.add(id);
		const seq = seqOf(id);
		if (seq == null) pending.push(id);
		else stored.push({ id, seq });
	}
	stored.sort((a, b) => a.seq - b.seq);
	return [...stored.map((s) => s.id), ...pending];
}

/** A conversation's display name: the title, or the other person in a direct chat. */
export function conversationName(
	conversation: Pick<ConversationRow, 'kind' | 'title'>,
	participants: readonly ParticipantView[],
	me: string
): string {
	if (conversation.title) return conversation.title;
	const others = participants.filter((p) => p.user_id !== me);
	const names = others.map((p) => p.display_name || p.username || 'Unknown');
	if (names.length === 0) return conversation.kind === 'direct' ? 'Just you' : 'Empty group';
	return names.join(', ');
}

/** What an attachment message's encrypted content holds; the file itself is encrypted in Storage. */
export interface AttachmentContent {
	name: string;
	mime: string;
	/** Plaintext size in bytes. */
	size: number;
	caption: string;
}

/**
 * `messages.attachment`: where the encrypted file is and how it was sealed (no names, no types).
 * A type, not an interface, so it is the `Json` `send_message` takes.
 */
export type AttachmentRef = {
	path: string;
	nonce: string;
	/** The key epoch the file was sealed under (the message text may be resealed later). */
	epoch: number;
	/** Ciphertext size in bytes. */
	size: number;
};

/** The decrypted content of an image, file or voice message; null for text or malformed content. */
export function attachmentContent(type: MessageType, text: string | null): AttachmentContent | null {
	if (type === 'text' || text === null) return null;
	try {
		const raw = JSON.parse(text) as Raw;
		if (!raw || typeof raw !== 'object') return null;
		return {
			name: str(raw.name) ?? 'attachment',
			mime: str(raw.mime) ?? 'application/octet-stream',
			size: num(raw.size),
			caption: str(raw.caption) ?? ''
		};
	} catch {
		return null;
	}
}

/** A message's attachment reference, or null when absent or malformed. */
export function attachmentRef(value: unknown): AttachmentRef | null {
	const raw = parseJson(value) as Raw | null;
	if (!raw || typeof raw !== 'object') return null;
	const path = str(raw.path);
	const nonce = str(raw.nonce);
	if (!path || !nonce) return null;
	return { path, nonce, epoch: num(raw.epoch, 1), size: num(raw.size) };
}

/** The kind of message a file makes: pictures show inline, sound plays inline, the rest downloads. */
export function attachmentKind(mime: string): 'image' | 'voice' | 'file' {
	if (/^image\/(png|jpeg|gif|webp|avif|bmp)$/.test(mime)) return 'image';
	if (mime.startsWith('audio/')) return 'voice';
	return 'file';
}

/** One line for the conversation list: the text, or what was attached (with its caption). */
export function previewText(type: MessageType, text: string | null): string | null {
	if (text === null || type === 'text') return text;
	const content = attachmentContent(type, text);
	if (!content) return null;
	const label = type === 'image' ? '📷 Photo' : type === 'voice' ? '🎤 Voice message' : `📎 ${content.name}`;
	return content.caption ? `${label}: ${content.caption}` : label;
}

/** What a message not yet stored is made of: a new send, or an entry of the outbox. */
export interface PendingMessage {
	clientId: string;
	conversationId: string;
	senderId: string;
	/** Milliseconds since the epoch, as the outbox stamps it. */
	createdAt: number;
	type: MessageType;
	text: string | null;
	attachment?: MessageRow['attachment'];
	contentEncrypted?: string | null;
	encryption?: MessageEncryption | null;
	replyTo: string | null;
	/** Who it mentions, once known (the sender works it out from the text when it seals). */
	mentions?: string[];
	failed?: boolean;
	error?: string | null;
}

/** The view of a message that has no seq yet (shown under its client id until the stored row replaces it). */
export function pendingMessageView(p: PendingMessage): MessageView {
	return {
		id: p.clientId,
		client_id: p.clientId,
		conversation_id: p.conversationId,
		sender_id: p.senderId,
		seq: null,
		content_encrypted: p.contentEncrypted ?? null,
		message_type: p.type,
		attachment: p.attachment ?? null,
		encryption: p.encryption ?? null,
		reply_to_id: p.replyTo,
		created_at: new Date(p.createdAt).toISOString(),
		edited_at: null,
		deleted_at: null,
		mentions: p.mentions ?? [],
		text: p.text,
		undecryptable: p.text === null,
		status: p.failed ? 'failed' : 'pending',
		readBy: 0,
		deliveredTo: 0,
		recipients: 0,
		reactions: [],
		...(p.failed && p.error ? { error: p.error } : {})
	};
}
