/**
 * The conversation list (Stream Chat's "channel state" for the list): every conversation I am in,
 * most recent activity first, with its participants, unread count and decrypted preview; loaded
 * in pages, fetched one at a time when an event names one it lacks, re-sorted as activity moves.
 * Participant watermarks only move forward, whatever order events and reloads arrive in.
 */
import { getConversation, listConversations, type RpcArgs, type RpcClient } from '../rpc.ts';
import { conversationName, normalizeConversation, normalizeMessage, normalizeParticipant } from './derive.ts';
import { normalizeMutedUntil, normalizeNotifyLevel } from './notifications.ts';
import type { ConversationView, MessageRow, ParticipantView } from './types.ts';

type Raw = Record<string, unknown>;

export interface ConversationListDeps {
	/** The signed-in client, for `list_conversations` and `get_conversation`. */
	client(): RpcClient;
	me(): string;
	/** The decrypted text of a message, for a preview (null when this device cannot open it). */
	decrypt(row: MessageRow): Promise<{ text: string | null }>;
	/** A conversation's member list was replaced: whoever left stops showing as typing or present. */
	membersChanged(conversationId: string, members: ReadonlySet<string>): void;
	/** A conversation was fetched again: its channels may have to follow a newer epoch. */
	fetched(conversationId: string): void;
}

/** Most recent activity first; ties by id, so the order is stable. */
export function sortConversations(list: ConversationView[]): ConversationView[] {
	const activity = (c: ConversationView) => c.last_message_at ?? c.created_at;
	return [...list].sort((a, b) => activity(b).localeCompare(activity(a)) || b.id.localeCompare(a.id));
}

export class ConversationList {
	/** Conversations, most recent activity first. */
	conversations = $state<ConversationView[]>([]);
	/** Participants (with profile fields and watermarks) per conversation. */
	participants = $state<Record<string, ParticipantView[]>>({});
	/** `load` has completed at least once. */
	loaded = $state(false);

	#deps: ConversationListDeps;

	constructor(deps: ConversationListDeps) {
		this.#deps = deps;
	}

	get(conversationId: string): ConversationView | undefined {
		return this.conversations.find((c) => c.id === conversationId);
	}

	/** (Re)loads the list (a handful of pages); resolves with the views, previews still decrypting. */
	async load(): Promise<ConversationView[]> {
		const items: Raw[] = [];
		let before: Pick<RpcArgs<'list_conversations'>, 'before_activity' | 'before_id'> | null = null;
		// A handful of pages covers any realistic inbox; older ones arrive through events.
		for (let page = 0; page < 10; page++) {
			// Each item is a JSON object (the generator cannot type it): read through `#view`.
			const rows = ((await listConversations(this.#deps.client(), { ...before, page_size: 100 })) ??
				[]) as Raw[];
			items.push(...rows);
			if (rows.length < 100) break;
			const last = normalizeConversation(rows[rows.length - 1]);
			before = { before_activity: last.last_message_at ?? last.created_at, before_id: last.id };
		}
		const views = items.map((item) => this.#view(item));
		// Keep previews already decrypted for unchanged last messages.
		for (const v of views) {
			const old = this.get(v.id);
			if (
				old &&
				old.last_message?.id === v.last_message?.id &&
				old.last_message?.edited_at === v.last_message?.edited_at
			) {
				v.preview = old.preview;
			}
		}
		this.conversations = sortConversations(views);
		this.loaded = true;
		return views;
	}

	/** Fetches one conversation (with participants) and puts it into the list; resolves with its reactive view. */
	async fetch(conversationId: string): Promise<ConversationView> {
		const item = (await getConversation(this.#deps.client(), { conversation_id: conversationId })) as Raw;
		const view = this.#view(item);
		const i = this.conversations.findIndex((c) => c.id === conversationId);
		if (i >= 0) {
			// Fields `get_conversation` lacks (last message, unread count) survive from the list.
			const old = this.conversations[i];
			view.last_message = view.last_message ?? old.last_message;
			view.preview = view.preview ?? old.preview;
			if (item.unread_count == null) view.unread_count = old.unread_count;
			if (item.unread_mentions == null) view.unread_mentions = old.unread_mentions;
			// get_conversation does not carry my notification settings: the list's stay.
			if (item.notify_level == null) view.notify_level = old.notify_level;
			if (!('muted_until' in item)) view.muted_until = old.muted_until;
			this.conversations[i] = view;
		} else {
			this.conversations.push(view);
		}
		this.sort();
		this.#deps.fetched(conversationId);
		// The reactive copy, so callers' changes reach the UI.
		return this.get(conversationId) ?? view;
	}

	#view(item: Raw): ConversationView {
		const row = normalizeConversation(item);
		const participants = Array.isArray(item.participants) ? item.participants.map(normalizeParticipant) : [];
		if (participants.length) this.setParticipants(row.id, participants);
		const known = this.participants[row.id] ?? participants;
		const me = this.#deps.me();
		const existing = this.get(row.id);
		const lastMessage = item.last_message
			? normalizeMessage(item.last_message)
			: (existing?.last_message ?? null);
		return {
			...row,
			participants: known,
			last_message: lastMessage,
			unread_count: item.unread_count != null ? Number(item.unread_count) : (existing?.unread_count ?? 0),
			unread_mentions:
				item.unread_mentions != null ? Number(item.unread_mentions) : (existing?.unread_mentions ?? 0),
			notify_level:
				item.notify_level != null
					? normalizeNotifyLevel(item.notify_level)
					: (existing?.notify_level ?? 'all'),
			muted_until:
				'muted_until' in item ? normalizeMutedUntil(item.muted_until) : (existing?.muted_until ?? null),
			name: conversationName(row, known, me),
			preview: existing?.last_message?.id === lastMessage?.id ? (existing?.preview ?? null) : null,
			myRole: known.find((p) => p.user_id === me)?.role ?? null
		};
	}

	/** Replaces a conversation's members (watermarks never move back). */
	setParticipants(conversationId: string, list: ParticipantView[]): void {
		const old = this.participants[conversationId] ?? [];
		for (const p of list) {
			const prev = old.find((o) => o.user_id === p.user_id);
			if (prev) {
				p.last_delivered_seq = Math.max(p.last_delivered_seq, prev.last_delivered_seq);
				p.last_read_seq = Math.max(p.last_read_seq, prev.last_read_seq);
			}
		}
		this.participants[conversationId] = list;
		// A snapshot handed to the store, not state.
		// eslint-disable-next-line svelte/prefer-svelte-reactivity
		this.#deps.membersChanged(conversationId, new Set(list.map((p) => p.user_id)));
		// Share one reactive array with the conversation view, so watermark updates reach both.
		const shared = this.participants[conversationId];
		const c = this.get(conversationId);
		if (c) {
			const me = this.#deps.me();
			c.participants = shared;
			c.name = conversationName(c, list, me);
			c.myRole = list.find((p) => p.user_id === me)?.role ?? null;
		}
	}

	/** Decrypts the preview of a conversation's last message, if it has none yet. */
	async refreshPreview(conversationId: string): Promise<void> {
		const c = this.get(conversationId);
		const last = c?.last_message;
		if (!c || !last || c.preview !== null) return;
		const { text } = await this.#deps.decrypt(last);
		const now = this.get(conversationId);
		if (now && now.last_message?.id === last.id) now.preview = text;
	}

	/** Re-sorts after activity moved. */
	/** A message was merged: the list's last message and preview follow the newest row. */
	noteMessage(row: MessageRow, text: string | null): void {
		const c = this.get(row.conversation_id);
		if (!c || !(row.seq > c.last_seq || !c.last_message || c.last_message.id === row.id)) return;
		const moved = row.seq > c.last_seq;
		c.last_seq = Math.max(c.last_seq, row.seq);
		c.last_message = row;
		c.preview = text;
		if (moved) {
			c.last_message_at = row.created_at;
			this.sort();
		}
	}

	sort(): void {
		this.conversations = sortConversations(this.conversations);
	}

	/** Drops a conversation I am no longer in. */
	remove(conversationId: string): void {
		this.conversations = this.conversations.filter((c) => c.id !== conversationId);
		delete this.participants[conversationId];
	}

	reset(): void {
		this.conversations = [];
		this.participants = {};
		this.loaded = false;
	}
}
