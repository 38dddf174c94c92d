/**
 * My messages that are not stored yet, as the timeline shows them: composed (shown at once as
 * `pending` under a new client id, then handed to the sender), restored from the outbox a
 * previous session left, marked failed when the database refused them, retried and discarded.
 * The sender (sender.ts) owns getting them to the database; this part owns their views.
 */
import { pendingMessageView, type AttachmentRef } from './derive.ts';
import { ChatError } from './errors.ts';
import type { Outbox, OutboxEntry } from './outbox.ts';
import type { Sender } from './sender.ts';
import type { Timeline } from './timeline.svelte.ts';
import type { MessageType } from './types.ts';

export interface PendingDeps {
	/** The signed-in user (throws when signed out). */
	me(): string;
	/** The signed-in user's outbox; null once signed out. */
	outbox(): Outbox | null;
	timeline: Timeline;
	sender: Sender;
	/** Opens an entry's sealed text with its epoch's key; null when this device cannot. */
	open(conversationId: string, epoch: number, ciphertext: string, nonce: string): Promise<string | null>;
	/** A message was composed in a conversation: my typing there ends. */
	composed(conversationId: string): void;
}

/** What a composed message carries besides its text. */
export interface Draft {
	conversationId: string;
	text: string;
	type: MessageType;
	attachment: AttachmentRef | null;
	replyTo: string | null;
	/** Runs once the view exists, before it is queued (an attachment shows its local copy). */
	beforeQueue?: (clientId: string) => void;
}

export class PendingMessages {
	#deps: PendingDeps;

	constructor(deps: PendingDeps) {
		this.#deps = deps;
	}

	#outbox(): Outbox {
		const outbox = this.#deps.outbox();
		if (!outbox) throw new ChatError('The chat is not started', 0, 'not_started');
		return outbox;
	}

	/** Shows a message at once as `pending` under a new client id (returned) and queues it. */
	async compose(draft: Draft): Promise<string> {
		const { timeline } = this.#deps;
		const me = this.#deps.me();
		const outbox = this.#outbox();
		const clientId = crypto.randomUUID();
		const createdAt = outbox.stamp();
		const view = pendingMessageView({
			clientId,
			conversationId: draft.conversationId,
			senderId: me,
			createdAt,
			type: draft.type,
			text: draft.text,
			attachment: draft.attachment,
			replyTo: draft.replyTo
		});
		view.recipients = timeline.statusOf(view).recipients;
		timeline.messagesById[clientId] = view;
		timeline.ids(draft.conversationId).push(clientId);
		this.#deps.composed(draft.conversationId);
		draft.beforeQueue?.(clientId);
		await this.#deps.sender.enqueue(clientId, createdAt);
		return clientId;
	}

	/** The database refused a message: its view shows why until it is retried or discarded. */
	failed(clientId: string, error: string): void {
		const m = this.#deps.timeline.messagesById[clientId];
		if (m && m.seq === null) Object.assign(m, { status: 'failed', error });
	}

	/** Shows the entries an earlier session left as `pending` (or `failed`) messages. */
	async restore(): Promise<void> {
		const { timeline } = this.#deps;
		const entries: OutboxEntry[] = await this.#outbox().all();
		const me = this.#deps.me();
		for (const e of entries) {
			if (timeline.messagesById[e.client_id]) continue;
			const text = await this.#deps
				.open(e.conversation_id, e.encryption.epoch, e.content_encrypted, e.encryption.nonce)
				.catch(() => null);
			timeline.messagesById[e.client_id] = pendingMessageView({
				clientId: e.client_id,
				conversationId: e.conversation_id,
				senderId: me,
				createdAt: e.createdAt,
				type: e.message_type,
				text,
				contentEncrypted: e.content_encrypted,
				encryption: e.encryption,
				replyTo: e.reply_to_id,
				failed: e.failed,
				error: e.lastError
			});
			timeline.ids(e.conversation_id).push(e.client_id);
		}
	}

	/** Sends a `failed` message again. */
	async retry(clientId: string): Promise<void> {
		const view = this.#deps.timeline.messagesById[clientId];
		const outbox = this.#deps.outbox();
		if (!view || view.seq !== null || !outbox) return;
		Object.assign(view, { status: 'pending', error: undefined });
		const entry = await outbox.get(clientId);
		if (!entry) {
			// It never reached the outbox (encryption failed): encrypt again.
			await this.#deps.sender.enqueue(clientId, outbox.stamp());
			return;
		}
		entry.failed = false;
		entry.lastError = null;
		await outbox.put(entry);
		await this.#deps.sender.drain();
	}

	/** Drops a `pending` or `failed` message that has not been stored. */
	async discard(clientId: string): Promise<void> {
		const { timeline } = this.#deps;
		const view = timeline.messagesById[clientId];
		if (view && view.seq !== null) return;
		await this.#deps.outbox()?.remove(clientId);
		if (!view) return;
		delete timeline.messagesById[clientId];
		const ids = timeline.idsByConversation[view.conversation_id];
		const at = ids?.indexOf(clientId) ?? -1;
		if (ids && at >= 0) ids.splice(at, 1);
	}
}
