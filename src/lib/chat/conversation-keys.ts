/**
 * Which key seals and opens a conversation's content on this device: a held key of one epoch (never
 * made here), the current epoch's key (made and published when the epoch has none yet), sealing text
 * under it (signed by this device, see signatures.ts) and opening what was sealed under an older
 * one. The key ring owns the keys themselves; this part only knows which epoch is current, through
 * the conversation list.
 */
import type { Keyring } from '../crypto/keyring.svelte.ts';
import { openText, sealText } from '../crypto/e2ee.ts';
import { ChatError } from './errors.ts';
import type { SealContext } from './signatures.ts';

/** Text sealed and signed for `send_message` / `edit_message`. */
export type Sealed = {
	content_encrypted: string;
	encryption: { epoch: number; nonce: string; sig: string };
};

export interface ConversationKeysDeps {
	keyring: Keyring;
	/** The signed-in user (the sender a signature names). */
	me(): string;
	/** The conversation's current key epoch (fetched when the list does not know it). */
	epoch(conversationId: string): Promise<number>;
}

export class ConversationKeys {
	#deps: ConversationKeysDeps;

	constructor(deps: ConversationKeysDeps) {
		this.#deps = deps;
	}

	/** A key of one epoch if this device holds it (never makes one); null while the ring is locked. */
	held(conversationId: string, epoch: number): Promise<Uint8Array | null> {
		const { keyring } = this.#deps;
		return keyring.ready
			? keyring.conversationKey(conversationId, epoch, { create: false })
			: Promise.resolve(null);
	}

	/** The current epoch's key (made and published if the epoch has none). */
	async current(conversationId: string): Promise<{ key: Uint8Array; epoch: number }> {
		const { keyring } = this.#deps;
		if (!keyring.ready) {
			throw new ChatError('Restore your key backup on this device before sending', 0, 'no_identity');
		}
		const epoch = await this.#deps.epoch(conversationId);
		let key = await keyring.cachedConversationKey(conversationId, epoch);
		key ??= await keyring.conversationKey(conversationId, epoch);
		if (!key)
			throw new ChatError('No encryption key is available for this conversation', 0, 'no_conversation_key');
		return { key, epoch };
	}

	/** Seals text under the conversation's current key and signs it with what `context` says. */
	async seal(conversationId: string, text: string, context: SealContext): Promise<Sealed> {
		const { key, epoch } = await this.current(conversationId);
		const { ciphertext, nonce } = sealText(key, text);
		const sig = await this.#deps.keyring.sign({
			...context,
			conversationId,
			epoch,
			senderId: this.#deps.me(),
			nonce,
			ciphertext
		});
		return { content_encrypted: ciphertext, encryption: { epoch, nonce, sig } };
	}

	/** Opens text sealed under one epoch's key (an outbox entry); null when this device cannot. */
	async open(
		conversationId: string,
		epoch: number,
		ciphertext: string,
		nonce: string
	): Promise<string | null> {
		const key = await this.#deps.keyring.conversationKey(conversationId, epoch, { create: false });
		return key ? openText(key, ciphertext, nonce) : null;
	}
}
