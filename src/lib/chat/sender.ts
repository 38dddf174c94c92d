/**
 * Sending through the persistent outbox (Stream Chat's "offline support" part): a message shown
 * as pending is sealed into an outbox entry, sent with `send_message` (idempotent on its client
 * id), and removed once stored; a network failure keeps it, and everything after it, for the
 * next drain, in order; a refusal marks it failed. Entries sealed under an epoch that ended while
 * they waited are sealed again, so a removed member's key does not open them. Without the identity
 * key (the key ring is not ready) nothing is sealed or sent: a new message fails as `no_identity`,
 * and the outbox waits until the identity is back (restored or reset).
 */
import { attachmentRef } from './derive.ts';
import { errorMessage, isNetworkError, noIdentityError } from './errors.ts';
import type { Outbox, OutboxEntry } from './outbox.ts';
import type { Sealed } from './conversation-keys.ts';
import type { SealContext } from './signatures.ts';
import type { MessageView } from './types.ts';

export interface SenderDeps {
	/** The signed-in user's outbox; null once signed out. */
	outbox(): Outbox | null;
	/** The browser is online (else the drain waits for the reconnect). */
	online(): boolean;
	/** This device holds the identity key (else nothing is sealed or sent; the outbox waits). */
	identity(): boolean;
	/** The members a message mentions (sent as `mentions`, for notifying them); none when absent. */
	mentions?(view: MessageView): string[];
	/** The pending view of a message not yet stored, by client id. */
	view(clientId: string): MessageView | undefined;
	/** Seals text under the conversation's current key, signed with the message's context. */
	seal(conversationId: string, text: string, context: SealContext): Promise<Sealed>;
	/** The conversation's current epoch, if known. */
	epochOf(conversationId: string): number | undefined;
	/** Opens an entry's content with the key of its epoch; null when this device cannot. */
	open(conversationId: string, epoch: number, ciphertext: string, nonce: string): Promise<string | null>;
	/** `send_message` with the entry's fields; resolves with the stored row. */
	send(entry: OutboxEntry): Promise<unknown>;
	/** The stored row replaces the pending view. */
	stored(row: unknown): Promise<void>;
	/** The database refused it: the view shows why. */
	failed(clientId: string, error: string): void;
}

export class Sender {
	#deps: SenderDeps;
	#draining: Promise<void> | null = null;
	#drainAgain = false;
	#enqueueing: Promise<void> = Promise.resolve();
	/** Entries wait in the outbox after a network failure; new sends must queue behind them. */
	#backlog = false;

	constructor(deps: SenderDeps) {
		this.#deps = deps;
	}

	/**
	 * Seals a pending message into an outbox entry and sends it or starts draining. One at a time,
	 * so a slow key fetch cannot let a later message overtake an earlier one.
	 */
	enqueue(clientId: string, createdAt: number): Promise<void> {
		const work = this.#enqueueing.then(() => this.#enqueueNow(clientId, createdAt));
		this.#enqueueing = work.catch(() => undefined);
		return work;
	}

	async #enqueueNow(clientId: string, createdAt: number): Promise<void> {
		const view = this.#deps.view(clientId);
		const outbox = this.#deps.outbox();
		if (!view || !outbox) return;
		if (!this.#deps.identity()) {
			this.#deps.failed(clientId, noIdentityError().message);
			return;
		}
		try {
			const attachment = attachmentRef(view.attachment);
			const sealed = await this.#deps.seal(view.conversation_id, view.text ?? '', {
				kind: 'message',
				clientId,
				messageType: view.message_type,
				replyToId: view.reply_to_id,
				attachment
			});
			const entry: OutboxEntry = {
				client_id: clientId,
				conversation_id: view.conversation_id,
				...sealed,
				message_type: view.message_type,
				attachment,
				reply_to_id: view.reply_to_id,
				mentions: this.#deps.mentions?.(view) ?? [],
				createdAt,
				attempts: 0,
				lastError: null
			};
			const persisted = outbox.put(entry);
			if (this.#deps.online() && !this.#draining && !this.#backlog) {
				// Nothing is queued ahead of it: send while the outbox write completes instead of after
				// it. The entry is still persisted (IndexedDB runs the later remove after this put), and
				// send_message is idempotent on client_id, so a drain that also picks it up is harmless.
				const sent = this.#sendEntry(outbox, entry);
				await persisted;
				if ((await sent) === 'network') this.#backlog = true;
				return;
			}
			await persisted;
		} catch (err) {
			this.#deps.failed(clientId, errorMessage(err));
			return;
		}
		void this.drain();
	}

	/** Sends outbox entries in order until it is empty or the network fails. */
	drain(): Promise<void> {
		if (this.#draining) {
			this.#drainAgain = true;
			return this.#draining;
		}
		const outbox = this.#deps.outbox();
		if (!outbox) return Promise.resolve();
		const work = (async () => {
			do {
				this.#drainAgain = false;
				if (!this.#deps.online()) {
					this.#backlog = true;
					return;
				}
				for (const entry of await outbox.all()) {
					if (entry.failed || this.#deps.outbox() !== outbox) continue;
					if (!this.#deps.identity()) {
						// Kept, in order, for when the identity is back (the store drains again then).
						this.#drainAgain = false;
						this.#backlog = true;
						return;
					}
					if ((await this.#sendEntry(outbox, entry)) === 'network') {
						this.#drainAgain = false;
						this.#backlog = true;
						return;
					}
				}
			} while (this.#drainAgain);
			this.#backlog = false;
		})().finally(() => {
			this.#draining = null;
		});
		this.#draining = work;
		return work;
	}

	async #sendEntry(outbox: Outbox, entry: OutboxEntry): Promise<'sent' | 'failed' | 'network'> {
		try {
			await this.#reseal(outbox, entry);
			entry.attempts++;
			const row = await this.#deps.send(entry);
			await outbox.remove(entry.client_id);
			await this.#deps.stored(row);
			return 'sent';
		} catch (err) {
			const network = isNetworkError(err);
			entry.lastError = errorMessage(err);
			if (!network) entry.failed = true;
			await outbox.put(entry).catch(() => undefined);
			if (!network) this.#deps.failed(entry.client_id, entry.lastError);
			return network ? 'network' : 'failed';
		}
	}

	/**
	 * Seals an entry again under the current epoch when the one it was sealed under has ended, or
	 * when it was queued before messages were signed.
	 */
	async #reseal(outbox: Outbox, entry: OutboxEntry): Promise<void> {
		const current = this.#deps.epochOf(entry.conversation_id);
		const signed = !!entry.encryption.sig;
		if (signed && (current === undefined || current === entry.encryption.epoch)) return;
		const text = await this.#deps.open(
			entry.conversation_id,
			entry.encryption.epoch,
			entry.content_encrypted,
			entry.encryption.nonce
		);
		if (text === null) return;
		const sealed = await this.#deps.seal(entry.conversation_id, text, {
			kind: 'message',
			clientId: entry.client_id,
			messageType: entry.message_type,
			replyToId: entry.reply_to_id,
			attachment: entry.attachment ?? null
		});
		entry.content_encrypted = sealed.content_encrypted;
		entry.encryption = sealed.encryption;
		await outbox.put(entry);
	}
}
