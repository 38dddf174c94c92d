/**
 * The live channels of the open and watched conversations (docs/live-channels.md): for each, its
 * database topic and its members topic at the conversation's current key epoch. This module owns
 * joining them once however many callers ask, moving them when the epoch moves, and leaving them;
 * what their events mean is the store's, which passes a table from event to handler.
 */
import type { RealtimeChannel, SupabaseClient } from '@supabase/supabase-js';
import { conversationTopic, membersTopic } from './live.ts';

type Raw = Record<string, unknown>;

/** A handler of one event, and whether it also runs while the conversation is only listed. */
export interface EventHandler {
	/** Gets the payload as it arrived, unchecked (live-events.ts decodes it). */
	handle(conversationId: string, payload: unknown): unknown;
	/** Also for a watched (listed, not open) conversation; new messages reach those through the inbox. */
	always?: boolean;
}

/** What the store does with the channels' events and states. */
export interface ChannelEvents {
	/** Events of `conversation:<id>:<epoch>`, by name. */
	db: Record<string, EventHandler>;
	/** Events of `members:<id>:<epoch>`, by name. */
	members: Record<string, EventHandler>;
	/** The members channel's presence state changed. */
	presence(conversationId: string, channel: RealtimeChannel): void;
	/** The database channel is (re)joined: whatever it missed can be fetched now. */
	joined(conversationId: string): void;
	/** A channel was refused or closed by the server: the epoch may have moved on, or I may be out. */
	refused(conversationId: string): void;
	/** The conversation's channels were left (closed, forgotten, or moving to a new epoch): its presence is gone. */
	left(conversationId: string): void;
	/** A joined conversation is at a newer epoch than its channels (a move they missed). */
	moved(conversationId: string, epoch: number): void;
	/** A joined conversation can no longer be read: I am probably out of it. */
	gone(conversationId: string): void;
}

/** What the channels need to know of the store. */
export interface ChannelDeps {
	client(): SupabaseClient;
	me(): string;
	/** The conversation's known key epoch; undefined when it is not (or no longer) known. */
	epochOf(conversationId: string): number | undefined;
	/** Fetches an unknown conversation (its epoch is then known). */
	load(conversationId: string): Promise<unknown>;
	isOpen(conversationId: string): boolean;
	/** Changes on sign-out: a join that started before must not land after. */
	generation(): number;
	/** The current epochs of these conversations (those I can read); null when unknown (offline). */
	currentEpochs(conversationIds: string[]): Promise<Map<string, number> | null>;
}

/** How long joins are gathered before their epochs are confirmed in one query. */
export const EPOCH_CHECK_DELAY_MS = 20;

interface Live {
	epoch: number;
	db: RealtimeChannel;
	members: RealtimeChannel;
}

/**
 * A new channel for a topic. supabase-js hands back an existing channel of the same topic (maybe
 * still leaving after a `close` or `stop`), to which no listeners can be added: remove it first.
 */
export async function freshChannel(
	sb: SupabaseClient,
	topic: string,
	options: Parameters<SupabaseClient['channel']>[1]
): Promise<RealtimeChannel> {
	for (const old of sb.getChannels()) {
		if (old.subTopic === topic || old.topic === `realtime:${topic}`) await sb.removeChannel(old);
	}
	return sb.channel(topic, options);
}

export class ConversationChannels {
	#deps: ChannelDeps;
	#events: ChannelEvents;
	#live = new Map<string, Live>();
	#joining = new Map<string, Promise<void>>();
	#checks = new Set<string>();
	#checkTimer: ReturnType<typeof setTimeout> | null = null;

	constructor(deps: ChannelDeps, events: ChannelEvents) {
		this.#deps = deps;
		this.#events = events;
	}

	/** Conversations with joined channels. */
	ids(): string[] {
		return [...this.#live.keys()];
	}

	/** Broadcasts a member event (typing, a key request) to the others; false when not joined. */
	tell(conversationId: string, event: string, payload: Raw): boolean {
		const members = this.#live.get(conversationId)?.members;
		if (!members) return false;
		void members.send({ type: 'broadcast', event, payload }).catch(() => undefined);
		return true;
	}

	/** Joins a conversation's channels once, however many callers (open, the list) ask at once. */
	join(conversationId: string): Promise<void> {
		if (this.#live.has(conversationId)) return Promise.resolve();
		const running = this.#joining.get(conversationId);
		if (running) return running;
		const work = this.#join(conversationId).finally(() => {
			if (this.#joining.get(conversationId) === work) this.#joining.delete(conversationId);
		});
		this.#joining.set(conversationId, work);
		return work;
	}

	leave(conversationId: string): void {
		const live = this.#live.get(conversationId);
		this.#live.delete(conversationId);
		if (!live) return;
		const sb = this.#deps.client();
		void sb.removeChannel(live.db);
		void sb.removeChannel(live.members);
		this.#events.left(conversationId);
	}

	/** Leaves everything (sign-out). */
	leaveAll(client: SupabaseClient | null): void {
		if (client) {
			for (const live of this.#live.values()) {
				void client.removeChannel(live.db);
				void client.removeChannel(live.members);
			}
		}
		this.#live.clear();
		this.#joining.clear();
		if (this.#checkTimer) clearTimeout(this.#checkTimer);
		this.#checkTimer = null;
		this.#checks.clear();
	}

	/**
	 * A join can race a move: authorized for the epoch that was current, it may miss the
	 * key_epoch_changed sent before its channel was registered. Joined channels' epochs are
	 * confirmed afterwards, in one query for all the joins of a moment.
	 */
	#confirm(conversationId: string): void {
		this.#checks.add(conversationId);
		this.#checkTimer ??= setTimeout(
			() => void this.#confirmNow().catch(() => undefined),
			EPOCH_CHECK_DELAY_MS
		);
	}

	async #confirmNow(): Promise<void> {
		const ids = [...this.#checks];
		this.#checks.clear();
		this.#checkTimer = null;
		const generation = this.#deps.generation();
		const current = await this.#deps.currentEpochs(ids);
		if (!current || generation !== this.#deps.generation()) return;
		for (const id of ids) {
			const live = this.#live.get(id);
			if (!live) continue;
			const epoch = current.get(id);
			if (epoch === undefined) this.#events.gone(id);
			else if (epoch > live.epoch) this.#events.moved(id, epoch);
		}
	}

	/** Re-joins a conversation's channels when its known epoch is newer than theirs. */
	follow(conversationId: string): void {
		const live = this.#live.get(conversationId);
		const epoch = this.#deps.epochOf(conversationId);
		if (!live || epoch === undefined || epoch <= live.epoch) return;
		this.leave(conversationId);
		void this.join(conversationId).catch(() => undefined);
	}

	/**
	 * Joins the database and members channels for the conversation's current epoch. A join for an
	 * epoch that has moved on is refused by the policies; the store then fetches the conversation
	 * again (`refused`) and either follows its new epoch or forgets it.
	 */
	async #join(conversationId: string): Promise<void> {
		const { client, me, epochOf, load, generation } = this.#deps;
		const started = generation();
		if (epochOf(conversationId) === undefined) await load(conversationId);
		const epoch = epochOf(conversationId);
		if (epoch === undefined) return;
		const sb = client();
		const db = await freshChannel(sb, conversationTopic(conversationId, epoch), {
			config: { private: true, broadcast: { self: false } }
		});
		const members = await freshChannel(sb, membersTopic(conversationId, epoch), {
			config: { private: true, presence: { key: me() }, broadcast: { self: false } }
		});
		// Opened twice while the old channels were being removed (keep the first); signed out or
		// forgotten meanwhile; or the epoch moved on while the channels were being made (again).
		const now = epochOf(conversationId);
		const stale = started !== generation() || now === undefined;
		if (stale || this.#live.has(conversationId) || now !== epoch) {
			void sb.removeChannel(db);
			void sb.removeChannel(members);
			if (!stale && !this.#live.has(conversationId)) return this.#join(conversationId);
			return;
		}
		const live: Live = { epoch, db, members };
		this.#wire(conversationId, live);
		this.#live.set(conversationId, live);
	}

	#wire(conversationId: string, live: Live): void {
		const current = () => this.#live.get(conversationId) === live;
		const route = (ch: RealtimeChannel, table: Record<string, EventHandler>) => {
			for (const [event, { handle, always }] of Object.entries(table)) {
				ch.on('broadcast', { event }, ({ payload }) => {
					if (!current()) return;
					if (!always && !this.#deps.isOpen(conversationId)) return;
					void Promise.resolve(handle(conversationId, payload)).catch(() => undefined);
				});
			}
		};
		route(live.db, this.#events.db);
		route(live.members, this.#events.members);
		live.members.on('presence', { event: 'sync' }, () => {
			if (current()) this.#events.presence(conversationId, live.members);
		});
		live.db.subscribe((status) => {
			if (!current()) return;
			if (status === 'SUBSCRIBED') {
				this.#confirm(conversationId);
				this.#events.joined(conversationId);
			} else if (status === 'CHANNEL_ERROR' || status === 'CLOSED') this.#events.refused(conversationId);
		});
		live.members.subscribe((status) => {
			if (!current()) return;
			if (status === 'SUBSCRIBED') {
				void live.members
					.track({ user_id: this.#deps.me(), online_at: new Date().toISOString() })
					.catch(() => undefined);
			} else if (status === 'CHANNEL_ERROR' || status === 'CLOSED') {
				this.#events.refused(conversationId);
			}
		});
	}
}
