/**
 * The timeline (Stream Chat's "channel state" for messages): every loaded message by id and each
 * conversation's ids in display order (stored ones by ascending seq, then my pending ones). This
 * module owns merging stored rows in (my optimistic copy gives way to its row, known rows are
 * updated, only new or changed content is decrypted and its signature checked), statuses of my
 * messages from the members' watermarks, and decrypting again once a key turns up. What follows a merge (receipts, typing,
 * key requests, the list's last message) is the store's, through the callbacks.
 */
/* eslint-disable svelte/prefer-svelte-reactivity -- the Sets and Maps here are per-call bookkeeping; the state is messagesById and idsByConversation. */
import { openText } from '../crypto/e2ee.ts';
import type { SignatureCheck } from '../crypto/signing.ts';
import { deriveStatus, orderIds } from './derive.ts';
import type { MessageRow, MessageView, ParticipantView, ReactionView } from './types.ts';

export interface TimelineDeps {
	/** The signed-in user's id; null once signed out (a merge that outlives it is dropped). */
	me(): string | null;
	/** A conversation key of one epoch, if this device holds it; null while the key ring is locked. */
	key(conversationId: string, epoch: number): Promise<Uint8Array | null>;
	/** Whether a stored row's signature is its sender's (checked once its content opened). */
	verify(row: MessageRow): Promise<SignatureCheck>;
	participants(conversationId: string): ParticipantView[];
	reactions(messageId: string): ReactionView[];
	/** A row was merged: the list's last message and preview may change. */
	applied(row: MessageRow, text: string | null): void;
	/** A merge finished: its rows, now in the state. */
	merged(rows: MessageRow[]): void;
	/** A message that did not open does now. */
	opened(message: MessageView): void;
}

/** Whether a known message view still matches a row's content (no need to decrypt again). */
function sameContent(view: MessageView, row: MessageRow): boolean {
	return (
		view.content_encrypted === row.content_encrypted &&
		view.edited_at === row.edited_at &&
		view.deleted_at === row.deleted_at &&
		view.encryption?.nonce === row.encryption?.nonce &&
		view.encryption?.sig === row.encryption?.sig &&
		view.sender_id === row.sender_id
	);
}

/** What opening a row gave: its text, or why not, and who signed it. */
export interface Opened {
	text: string | null;
	undecryptable: boolean;
	signature?: SignatureCheck;
}

export class Timeline {
	/** Every loaded message (and optimistic one, under its client id) by id. */
	messagesById = $state<Record<string, MessageView>>({});
	/** Message ids per conversation: stored ones by ascending seq, then optimistic ones. */
	idsByConversation = $state<Record<string, string[]>>({});

	#deps: TimelineDeps;

	constructor(deps: TimelineDeps) {
		this.#deps = deps;
	}

	/** The loaded messages of a conversation in display order. */
	messagesOf(conversationId: string): MessageView[] {
		return (this.idsByConversation[conversationId] ?? [])
			.map((id) => this.messagesById[id])
			.filter((m): m is MessageView => !!m);
	}

	/**
	 * A conversation's id list as the reactive proxy: `x[k] ??= []` would hand back the raw array,
	 * whose mutations the UI would never see.
	 */
	ids(conversationId: string): string[] {
		if (!this.idsByConversation[conversationId]) this.idsByConversation[conversationId] = [];
		return this.idsByConversation[conversationId];
	}

	/** Stored seqs of a conversation, ascending. */
	seqs(conversationId: string): number[] {
		const out: number[] = [];
		for (const id of this.idsByConversation[conversationId] ?? []) {
			const seq = this.messagesById[id]?.seq;
			if (seq != null) out.push(seq);
		}
		return out;
	}

	/**
	 * The highest seq up to which I hold every message (seqs are gap-free per conversation). Catching
	 * up from here, not from my highest seq, also fetches what was missed below my own newer sends.
	 */
	contiguousHigh(conversationId: string): number | undefined {
		const seqs = this.seqs(conversationId);
		let high = seqs[0];
		for (const seq of seqs) {
			if (seq > high + 1) break;
			high = seq;
		}
		return high;
	}

	/**
	 * Opens a row's content and checks its signature: null text for tombstones, `undecryptable` when
	 * this device cannot open it (nothing to vouch for then).
	 */
	async decrypt(row: MessageRow, verify = true): Promise<Opened> {
		if (row.deleted_at || row.content_encrypted == null) return { text: null, undecryptable: false };
		if (!row.encryption) return { text: null, undecryptable: true };
		const key = await this.#deps.key(row.conversation_id, row.encryption.epoch).catch(() => null);
		const text = key ? openText(key, row.content_encrypted, row.encryption.nonce) : null;
		if (text === null) return { text, undecryptable: true };
		if (!verify) return { text, undecryptable: false };
		const signature = await this.#deps.verify(row).catch((): SignatureCheck => 'invalid');
		return { text, undecryptable: false, signature };
	}

	/**
	 * Merges stored rows into the state: replaces my optimistic copies (by `client_id`), updates known
	 * rows, decrypts what is new or changed.
	 */
	async ingest(rows: MessageRow[]): Promise<void> {
		if (rows.length === 0) return;
		const me = this.#deps.me();
		const decrypted = await Promise.all(
			rows.map(async (row) => {
				const known = this.messagesById[row.id];
				if (known && !known.undecryptable && sameContent(known, row)) {
					return { text: known.text, undecryptable: false, signature: known.signature } as Opened;
				}
				const pending = row.client_id && row.sender_id === me ? this.messagesById[row.client_id] : undefined;
				if (pending && pending.seq === null && pending.text !== null && !row.edited_at && !row.deleted_at) {
					// My own message, just signed here: its row is what this device sent.
					return { text: pending.text, undecryptable: false, signature: 'verified' } as Opened;
				}
				return this.decrypt(row);
			})
		);
		if (me === null || this.#deps.me() !== me) return;
		const touched = new Set<string>();
		// One id set per conversation: checking each row against the id array would be O(n²).
		const present = new Map<string, Set<string>>();
		rows.forEach((row, i) => {
			let set = present.get(row.conversation_id);
			if (!set) {
				set = new Set(this.idsByConversation[row.conversation_id] ?? []);
				present.set(row.conversation_id, set);
			}
			this.apply(row, decrypted[i], set);
			touched.add(row.conversation_id);
		});
		for (const id of touched) {
			this.idsByConversation[id] = orderIds(
				this.idsByConversation[id] ?? [],
				(x) => this.messagesById[x]?.seq
			);
		}
		this.#deps.merged(rows);
		// A key that opens these rows may also open earlier ones that arrived before it was published.
		const opened = new Set<string>();
		rows.forEach((row, i) => {
			if (row.encryption && decrypted[i].text !== null && !decrypted[i].undecryptable)
				opened.add(`${row.conversation_id}:${row.encryption.epoch}`);
		});
		if (opened.size)
			await this.redecryptWhere((m) => opened.has(`${m.conversation_id}:${m.encryption?.epoch}`));
	}

	/** Decrypts again the undecryptable loaded messages that `match` picks. */
	async redecryptWhere(match: (m: MessageView) => boolean): Promise<void> {
		const stale = Object.values(this.messagesById).filter((m) => m.undecryptable && match(m));
		await Promise.all(
			stale.map(async (m) => {
				const opened = await this.decrypt(m as MessageRow);
				const now = this.messagesById[m.id];
				if (!now || !sameContent(now, m as MessageRow)) return;
				Object.assign(now, opened);
				this.#deps.opened(now);
			})
		);
	}

	/** Puts one stored row in (with its text, already decrypted, and its signature checked). */
	apply(row: MessageRow, opened: Opened, present?: Set<string>): void {
		const { text, undecryptable, signature } = opened;
		const conversationId = row.conversation_id;
		const ids = this.ids(conversationId);
		// My optimistic copy (if still there) gives way to the stored row.
		if (row.client_id && row.sender_id === this.#deps.me() && row.client_id !== row.id) {
			const pending = this.messagesById[row.client_id];
			if (pending && pending.seq === null) {
				delete this.messagesById[row.client_id];
				const at = ids.lastIndexOf(row.client_id);
				if (at >= 0) ids.splice(at, 1);
				present?.delete(row.client_id);
			}
		}
		const known = this.messagesById[row.id];
		const view: MessageView = {
			...row,
			text,
			undecryptable,
			signature,
			status: 'sent',
			readBy: 0,
			deliveredTo: 0,
			recipients: 0,
			reactions: known?.reactions ?? this.#deps.reactions(row.id)
		};
		Object.assign(view, this.statusOf(view));
		this.messagesById[row.id] = view;
		if (present ? !present.has(row.id) : !ids.includes(row.id)) {
			ids.push(row.id);
			present?.add(row.id);
		}
		this.#deps.applied(row, text);
	}

	/** A message's status and counts: my stored ones from the members' watermarks. */
	statusOf(view: Pick<MessageView, 'seq' | 'sender_id' | 'conversation_id' | 'status'>) {
		const participants = this.#deps.participants(view.conversation_id);
		if (view.seq === null) {
			return {
				status: view.status,
				readBy: 0,
				deliveredTo: 0,
				recipients: participants.filter((p) => p.user_id !== view.sender_id).length
			};
		}
		if (view.sender_id !== this.#deps.me()) {
			return { status: 'sent' as const, readBy: 0, deliveredTo: 0, recipients: 0 };
		}
		return deriveStatus(view.seq, view.sender_id, participants);
	}

	/** Watermarks moved: my messages' statuses follow. */
	refreshStatuses(conversationId: string): void {
		const me = this.#deps.me();
		for (const id of this.idsByConversation[conversationId] ?? []) {
			const m = this.messagesById[id];
			if (!m || m.sender_id !== me || m.seq === null) continue;
			const s = this.statusOf(m);
			if (
				m.status !== s.status ||
				m.readBy !== s.readBy ||
				m.deliveredTo !== s.deliveredTo ||
				m.recipients !== s.recipients
			) {
				Object.assign(m, s);
			}
		}
	}

	reset(): void {
		this.messagesById = {};
		this.idsByConversation = {};
	}
}
