/**
 * What the live events mean (docs/chat-api.md, Realtime): the table from each conversation
 * channel's event to what it changes, the inbox, and keeping membership true when the channels
 * say something moved. A database event's payload is decoded first (live-payloads.ts: one handler
 * per event it has a decoder for, given the typed payload) and dropped when malformed; events that
 * contradict what the device knows are dropped next (live-guard.ts). Members' events (typing, key
 * requests) have no decoder: a payload that is not an object is dropped, the rest is their parts'
 * to check. The channels themselves are conversation-channels.ts'.
 */
import type { RealtimeChannel } from '@supabase/supabase-js';
import { getMessages, type RpcClient } from '../rpc.ts';
import type { ChannelEvents, ConversationChannels, EventHandler } from './conversation-channels.ts';
import type { ConversationList } from './conversation-list.svelte.ts';
import { normalizeMessage } from './derive.ts';
import { ChatError } from './errors.ts';
import { refuseCreated, refuseMember, refuseUpdated, type KnownConversation } from './live-guard.ts';
import { decodeLivePayload, type DbEvent, type LivePayload, type UserEvent } from './live-payloads.ts';
import { DB_EVENTS, MEMBER_EVENTS, USER_EVENTS } from './live.ts';
import type { KeyRequests } from './key-requests.ts';
import type { UserEvents } from './user-channel.ts';
import type { Reactions } from './reactions.ts';
import type { Receipts } from './receipts.ts';
import type { Timeline } from './timeline.svelte.ts';
import type { MessageRow } from './types.ts';

type Raw = Record<string, unknown>;

/** What each event of a conversation's database topic does with its decoded payload. */
type DbHandlers = {
	[E in DbEvent]: { always?: boolean; handle(conversationId: string, payload: LivePayload<E>): unknown };
};
/** What each event of my user topic does with its decoded payload. */
type UserHandlers = { [E in UserEvent]: (payload: LivePayload<E>) => unknown };
/** A `messages` row as `message_created` and `message_updated` carry it. */
type MessagePayload = LivePayload<typeof DB_EVENTS.messageCreated>;

/** The channels' table for the database events: each payload decoded, a malformed one dropped. */
function decodedDb(handlers: DbHandlers): Record<string, EventHandler> {
	const entry = <E extends DbEvent>(event: E): [E, EventHandler] => [
		event,
		{
			always: handlers[event].always,
			handle: (conversationId, raw) => {
				const payload = decodeLivePayload(event, raw);
				return payload ? handlers[event].handle(conversationId, payload) : undefined;
			}
		}
	];
	return Object.fromEntries(Object.values(DB_EVENTS).map(entry));
}

/** The user channel's table: each payload decoded, a malformed one dropped. */
function decodedUser(handlers: UserHandlers): UserEvents {
	const entry = <E extends UserEvent>(event: E): [E, UserEvents[string]] => [
		event,
		(raw) => {
			const payload = decodeLivePayload(event, raw);
			return payload ? handlers[event](payload) : undefined;
		}
	];
	return Object.fromEntries(Object.values(USER_EVENTS).map(entry));
}

/** A member event's payload as the object it must be, or null (dropped). */
function memberPayload(raw: unknown): Raw | null {
	return raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Raw) : null;
}

/** How often a conversation whose channel the server refused or closed is fetched again, at most. */
export const RECHECK_INTERVAL_MS = 3000;

/** The parts and store steps the events act on (the parts are made after this, hence functions). */
export interface LiveEventContext {
	/** The signed-in user (throws when signed out). */
	me(): string;
	list(): ConversationList;
	timeline(): Timeline;
	channels(): ConversationChannels;
	reactions(): Reactions;
	receipts(): Receipts;
	keyRequests(): KeyRequests;
	/** The signed-in client, for the inbox's `get_messages`. */
	client(): RpcClient;
	isOpen(conversationId: string): boolean;
	/** Fetches what a conversation's channel missed (`get_messages(after_seq)`). */
	catchUp(conversationId: string): Promise<void>;
	/** I am out of a conversation: close it and drop it from the list. */
	forget(conversationId: string): void;
	/** The list changed: the watched conversations' channels follow. */
	watch(): Promise<void>;
	keyRequested(conversationId: string, payload: Raw): void;
	typing(conversationId: string, payload: Raw): void;
	presence(conversationId: string, channel: RealtimeChannel): void;
	presenceLeft(conversationId: string): void;
	/** A member was added: wrap the current key for them if this device holds it. */
	shareKeyWith(conversationId: string, epoch: number, userId: string): Promise<void>;
}

export class LiveEvents {
	#ctx: LiveEventContext;
	/** When each conversation's membership was last fetched again after a channel error (ms). */
	#recheckedAt = new Map<string, number>();

	constructor(ctx: LiveEventContext) {
		this.#ctx = ctx;
	}

	/** The table the conversation channels route by. */
	table(): ChannelEvents {
		const ctx = this.#ctx;
		const always = true;
		return {
			db: decodedDb({
				[DB_EVENTS.messageCreated]: { handle: (id, p) => this.#onCreated(id, p) },
				[DB_EVENTS.messageUpdated]: {
					always,
					// Open: the timeline; listed only: the preview of its last message.
					handle: (id, p) =>
						ctx.isOpen(id) ? this.#onUpdated(id, p) : this.#onListedUpdate(id, normalizeMessage(p))
				},
				[DB_EVENTS.reactionChanged]: { handle: (id, p) => this.#onReactionChanged(id, p) },
				[DB_EVENTS.receiptUpdated]: {
					always,
					handle: (id, p) => {
						if (p.conversation_id === id) this.#onReceipt(id, p);
					}
				},
				[DB_EVENTS.participantsChanged]: {
					always,
					handle: (id, p) => (p.conversation_id === id ? this.#onParticipantsChanged(id, p) : undefined)
				},
				[DB_EVENTS.keyEpochChanged]: {
					always,
					handle: (id, p) => (p.conversation_id === id ? this.keyEpochChanged(id, p.key_epoch) : undefined)
				},
				[DB_EVENTS.historyVisibilityChanged]: { always, handle: (id, p) => this.#onHistoryVisibility(id, p) }
			}),
			members: {
				[MEMBER_EVENTS.keyRequest]: {
					always,
					handle: (id, raw) => {
						const p = memberPayload(raw);
						if (p && !refuseMember(p.user_id, this.known(id))) ctx.keyRequested(id, p);
					}
				},
				// The list shows "… is typing" too.
				[MEMBER_EVENTS.typing]: {
					always,
					handle: (id, raw) => {
						const p = memberPayload(raw);
						if (p) ctx.typing(id, p);
					}
				}
			},
			presence: (id, channel) => ctx.presence(id, channel),
			// Whatever was sent between the first load and this (re)join arrives through the catch-up.
			joined: (id) => {
				if (ctx.isOpen(id)) void ctx.catchUp(id).catch(() => undefined);
			},
			refused: (id) => void this.recheckMembership(id).catch(() => undefined),
			left: (id) => ctx.presenceLeft(id),
			// As on key_epoch_changed: move, and reload the members (someone left).
			moved: (id, epoch) => void this.keyEpochChanged(id, epoch).catch(() => undefined),
			// Not readable any more: I am out of it (the fetch confirms it and forgets it).
			gone: (id) => void this.recheckMembership(id, true).catch(() => undefined)
		};
	}

	/** The table my user channel routes by (user-channel.ts). */
	userTable(): UserEvents {
		const ctx = this.#ctx;
		return decodedUser({
			[USER_EVENTS.inbox]: (p) => this.inbox(p),
			[USER_EVENTS.conversationAdded]: async (p) => {
				await ctx.list().fetch(p.conversation_id);
				await ctx.watch();
			},
			[USER_EVENTS.keyAdded]: (p) => this.#onKeyAdded(p.conversation_id, p.epoch),
			[USER_EVENTS.conversationRemoved]: (p) => ctx.forget(p.conversation_id)
		});
	}

	/**
	 * An admin changed the group's history rule: the panel and the closed messages' reasons follow.
	 * Under `shared` earlier keys may travel now: I give those I hold to whoever lacks them (batched
	 * like an ask) and ask for those I lack.
	 */
	#onHistoryVisibility(
		conversationId: string,
		p: LivePayload<typeof DB_EVENTS.historyVisibilityChanged>
	): void {
		if (p.conversation_id !== conversationId) return;
		const c = this.#ctx.list().get(conversationId);
		if (c) c.history_visibility = p.history_visibility;
		if (p.history_visibility !== 'shared') return;
		const requests = this.#ctx.keyRequests();
		requests.offer(conversationId);
		requests.askFor(this.#ctx.timeline().messagesOf(conversationId));
	}

	/** A member gave me a key: what it opens can be read now. */
	async #onKeyAdded(conversationId: string, epoch: number): Promise<void> {
		this.#ctx.keyRequests().answered(conversationId);
		await this.#ctx
			.timeline()
			.redecryptWhere((m) => m.conversation_id === conversationId && m.encryption?.epoch === epoch);
		await this.#ctx.list().refreshPreview(conversationId);
	}

	/** What the event checks need to know of a conversation (live-guard.ts). */
	known(conversationId: string): KnownConversation {
		const list = this.#ctx.list().participants[conversationId];
		const timeline = this.#ctx.timeline();
		return {
			conversationId,
			members: list ? new Set(list.map((p) => p.user_id)) : null,
			byId: (id) => {
				const m = timeline.messagesById[id];
				return m && m.seq !== null ? (m as MessageRow) : undefined;
			},
			idAtSeq: (seq) =>
				(timeline.idsByConversation[conversationId] ?? []).find(
					(id) => timeline.messagesById[id]?.seq === seq
				)
		};
	}

	/** `inbox` on my user topic: a new message in any of my conversations. */
	async inbox(payload: LivePayload<typeof USER_EVENTS.inbox>): Promise<void> {
		const ctx = this.#ctx;
		const { conversation_id: conversationId, seq, sender_id: senderId, key_epoch: epoch } = payload;
		const me = ctx.me();
		const list = ctx.list();
		// The device has the message (notified of it), so it counts as delivered.
		if (senderId !== me) ctx.receipts().queue(conversationId, 'delivered', seq);
		const c = list.get(conversationId) ?? (await list.fetch(conversationId));
		// My channels may have missed a move to a new epoch (the inbox topic never moves).
		if (epoch > c.key_epoch) {
			void this.keyEpochChanged(conversationId, epoch).catch(() => undefined);
		}
		if (seq > c.last_seq) {
			const mine = list.participants[conversationId]?.find((p) => p.user_id === me);
			if (senderId !== me && seq > (mine?.last_read_seq ?? 0)) c.unread_count += 1;
			c.last_seq = seq;
			c.last_message_at = new Date().toISOString();
			list.sort();
		}
		// An open conversation gets the row on its own channel; others fetch it for the preview.
		if (ctx.isOpen(conversationId)) return;
		const rows =
			(await getMessages(ctx.client(), {
				conversation_id: conversationId,
				after_seq: seq - 1,
				page_size: 1
			})) ?? [];
		const row = rows[0] ? normalizeMessage(rows[0]) : null;
		if (!row) return;
		const { text } = await ctx.timeline().decrypt(row);
		const now = list.get(conversationId);
		// A message for me elsewhere that mentions me: the list shows "@" until I read it.
		const read = list.participants[conversationId]?.find((p) => p.user_id === me)?.last_read_seq ?? 0;
		if (now && row.sender_id !== me && row.seq > read && row.mentions.includes(me)) now.unread_mentions += 1;
		if (now && (!now.last_message || row.seq >= now.last_message.seq)) {
			now.last_message = row;
			now.preview = text;
			now.last_message_at = row.created_at;
			list.sort();
		}
	}

	/**
	 * The database moved the conversation to a new key epoch (someone left or was removed): join
	 * its new topics, leave the old ones, and reload the members.
	 */
	async keyEpochChanged(conversationId: string, epoch: number): Promise<void> {
		if (!Number.isSafeInteger(epoch)) return;
		const c = this.#ctx.list().get(conversationId);
		if (c) c.key_epoch = Math.max(c.key_epoch, epoch);
		this.#ctx.channels().follow(conversationId);
		await this.recheckMembership(conversationId, true);
	}

	/**
	 * Fetches the conversation again: forgotten if I am no longer in it, re-joined if its epoch
	 * moved. At most every few seconds per conversation unless `now` (a refused channel is retried
	 * by realtime-js with backoff, and a dropped connection errors every channel at once).
	 */
	async recheckMembership(conversationId: string, now = false): Promise<void> {
		const at = Date.now();
		if (!now && at - (this.#recheckedAt.get(conversationId) ?? 0) < RECHECK_INTERVAL_MS) return;
		this.#recheckedAt.set(conversationId, at);
		try {
			await this.#ctx.list().fetch(conversationId);
		} catch (err) {
			if (err instanceof ChatError && err.status === 404) this.#ctx.forget(conversationId);
			return;
		}
		this.#ctx.channels().follow(conversationId);
	}

	reset(): void {
		this.#recheckedAt.clear();
	}

	async #onCreated(conversationId: string, p: MessagePayload): Promise<void> {
		const row = normalizeMessage(p);
		const timeline = this.#ctx.timeline();
		let known = this.known(conversationId);
		// A sender I do not know yet may have just been added: ask once before refusing.
		if (refuseCreated(row, known) === 'sender is not a member') {
			await this.#ctx.list().fetch(conversationId);
			known = this.known(conversationId);
		}
		if (refuseCreated(row, known)) return;
		await timeline.ingest([row]);
		// A seq gap means a broadcast was lost: fetch what lies between.
		const seqs = timeline.seqs(conversationId);
		if ((timeline.contiguousHigh(conversationId) ?? 0) < (seqs.at(-1) ?? 0))
			await this.#ctx.catchUp(conversationId);
	}

	async #onUpdated(conversationId: string, p: MessagePayload): Promise<void> {
		const row = normalizeMessage(p);
		if (refuseUpdated(row, this.known(conversationId))) return;
		await this.#ctx.timeline().ingest([row]);
	}

	/** An edit or deletion in a listed conversation that is not open: keeps its preview current. */
	async #onListedUpdate(conversationId: string, row: MessageRow): Promise<void> {
		const list = this.#ctx.list();
		const c = list.get(conversationId);
		if (!c || c.last_message?.id !== row.id) return;
		const { text } = await this.#ctx.timeline().decrypt(row);
		const now = list.get(conversationId);
		if (!now || now.last_message?.id !== row.id) return;
		now.last_message = row;
		now.preview = text;
	}

	/** A sealed reaction: the reactions part opens it and counts it only if it holds up. */
	async #onReactionChanged(
		conversationId: string,
		p: LivePayload<typeof DB_EVENTS.reactionChanged>
	): Promise<void> {
		const target = this.#ctx.timeline().messagesById[p.message_id];
		if (refuseMember(p.user_id, this.known(conversationId))) return;
		if (target && target.conversation_id !== conversationId) return;
		await this.#ctx.reactions().apply(conversationId, p);
	}

	#onReceipt(conversationId: string, p: LivePayload<typeof DB_EVENTS.receiptUpdated>): void {
		const participant = this.#ctx.list().participants[conversationId]?.find((x) => x.user_id === p.user_id);
		if (!participant) return;
		participant.last_delivered_seq = Math.max(participant.last_delivered_seq, p.last_delivered_seq);
		participant.last_read_seq = Math.max(participant.last_read_seq, p.last_read_seq);
		this.#ctx.timeline().refreshStatuses(conversationId);
	}

	async #onParticipantsChanged(
		conversationId: string,
		p: LivePayload<typeof DB_EVENTS.participantsChanged>
	): Promise<void> {
		const ctx = this.#ctx;
		const list = ctx.list();
		const me = ctx.me();
		const c = list.get(conversationId);
		if (c) c.key_epoch = Math.max(c.key_epoch, p.key_epoch);
		ctx.channels().follow(conversationId);
		if (p.op === 'removed' && p.user_id === me) {
			ctx.forget(conversationId);
			return;
		}
		if (p.op === 'removed') {
			const members = list.participants[conversationId];
			if (members)
				list.setParticipants(
					conversationId,
					members.filter((x) => x.user_id !== p.user_id)
				);
			return;
		}
		if (p.op === 'role') {
			const x = list.participants[conversationId]?.find((y) => y.user_id === p.user_id);
			if (x) x.role = p.role;
			if (c && p.user_id === me) c.myRole = p.role;
			return;
		}
		// Someone joined: their profile fields come with the full conversation.
		const view = await list.fetch(conversationId);
		// Give them the current key if I hold it (the adder normally did; the database keeps the first).
		if (p.op === 'added' && p.user_id !== me)
			await ctx.shareKeyWith(conversationId, view.key_epoch, p.user_id);
	}
}
