/**
 * Encrypted attachments (the upload manager): a file is sealed on this device under the
 * conversation key and uploaded to the private `attachments` bucket; a received one is downloaded,
 * opened and handed to the page as an object URL, once per message however many ask. Storage only
 * ever holds ciphertext. The message that names the file is the store's business.
 */
import type { SupabaseClient } from '@supabase/supabase-js';
import { openBytes, sealBytes } from '../crypto/e2ee.ts';
import { formatBytes } from '../components/format.ts';
import { attachmentContent, attachmentRef, type AttachmentRef } from './derive.ts';
import { ChatError } from './errors.ts';
import type { MessageView } from './types.ts';

/** The private Storage bucket of encrypted attachments, and the largest file one may hold. */
export const ATTACHMENT_BUCKET = 'attachments';
export const MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024;

/** Refuses a file too large to attach, before anything is read, sealed or uploaded. */
export function assertAttachmentSize(file: Blob): void {
	if (file.size > MAX_ATTACHMENT_BYTES) {
		throw new ChatError(
			`That file is ${formatBytes(file.size)}; attachments can be at most ${formatBytes(MAX_ATTACHMENT_BYTES)}`,
			400,
			'attachment_too_large'
		);
	}
}

export interface AttachmentDeps {
	client(): SupabaseClient;
	/** A conversation key of one epoch, if this device holds it. */
	key(conversationId: string, epoch: number): Promise<Uint8Array | null>;
}

export class Attachments {
	#deps: AttachmentDeps;
	/** Object URLs of decrypted attachments, by message id (and client id for what I sent). */
	#urls = new Map<string, string>();
	#loads = new Map<string, Promise<string>>();

	constructor(deps: AttachmentDeps) {
		this.#deps = deps;
	}

	/** Seals `file` under `key` and uploads it; resolves with what the message must carry to name it. */
	async upload(conversationId: string, file: Blob, key: Uint8Array, epoch: number): Promise<AttachmentRef> {
		assertAttachmentSize(file);
		const sealed = sealBytes(key, new Uint8Array(await file.arrayBuffer()));
		const path = `${conversationId}/${crypto.randomUUID()}`;
		const upload = await this.#deps
			.client()
			.storage.from(ATTACHMENT_BUCKET)
			.upload(path, sealed.ciphertext, { contentType: 'application/octet-stream', upsert: false });
		if (upload.error) {
			const status = Number((upload.error as { statusCode?: string }).statusCode ?? 0);
			throw new ChatError(`The upload failed: ${upload.error.message}`, status, 'upload_failed');
		}
		return { path, nonce: sealed.nonce, epoch, size: sealed.ciphertext.length };
	}

	/** Shows my own file at once under `id` (a client id), without downloading it back. */
	showLocal(id: string, file: Blob): void {
		this.#urls.set(id, URL.createObjectURL(file));
	}

	/** An object URL of a message's decrypted attachment. Rejects with a ChatError a person can read. */
	url(message: MessageView): Promise<string> {
		const cached =
			this.#urls.get(message.id) ?? (message.client_id ? this.#urls.get(message.client_id) : undefined);
		if (cached) return Promise.resolve(cached);
		let load = this.#loads.get(message.id);
		if (!load) {
			load = this.#load(message).finally(() => this.#loads.delete(message.id));
			this.#loads.set(message.id, load);
		}
		return load;
	}

	async #load(message: MessageView): Promise<string> {
		const ref = attachmentRef(message.attachment);
		const content = attachmentContent(message.message_type, message.text);
		if (!ref || !content) throw new ChatError('This attachment cannot be opened', 0, 'bad_attachment');
		const key = await this.#deps.key(message.conversation_id, ref.epoch).catch(() => null);
		if (!key) throw new ChatError('This device has no key for this attachment', 0, 'no_conversation_key');
		const { data, error } = await this.#deps.client().storage.from(ATTACHMENT_BUCKET).download(ref.path);
		if (error || !data) {
			throw new ChatError(`The download failed: ${error?.message ?? 'no data'}`, 0, 'download_failed');
		}
		const plain = openBytes(key, new Uint8Array(await data.arrayBuffer()), ref.nonce);
		if (!plain)
			throw new ChatError(
				'This attachment does not decrypt: it may have been tampered with',
				0,
				'undecryptable'
			);
		const url = URL.createObjectURL(new Blob([plain as Uint8Array<ArrayBuffer>], { type: content.mime }));
		this.#urls.set(message.id, url);
		return url;
	}

	/**
	 * A message was deleted: its object URL goes, and if I uploaded the file (`mine`) the file too
	 * (others may not remove it; a failure leaves an orphan, never an error).
	 */
	deleted(messageId: string, ref: AttachmentRef | null, mine: boolean): void {
		if (ref && mine) {
			void this.#deps
				.client()
				.storage.from(ATTACHMENT_BUCKET)
				.remove([ref.path])
				.catch(() => undefined);
		}
		const url = this.#urls.get(messageId);
		if (url) URL.revokeObjectURL(url);
		this.#urls.delete(messageId);
	}

	/** Revokes every object URL (sign-out). */
	reset(): void {
		for (const url of this.#urls.values()) URL.revokeObjectURL(url);
		this.#urls.clear();
		this.#loads.clear();
	}
}
