/**
 * The shared reactive chat state of a signed-in page (see docs/app-architecture.md).
 *
 * It talks to the database contract (docs/chat-api.md) through supabase-js: RPCs for everything
 * that changes or reads chat data, private Realtime channels for live events (`user:<me>` for the
 * inbox; per open or watched conversation, its database topic and its members topic for presence
 * and typing, both named after the key epoch: see live.ts). Content is
 * encrypted and decrypted here through the key ring; the server only sees ciphertext.
 *
 * Sending is optimistic and goes through the persistent outbox: a message shows at once under its
 * client id, and is replaced by the stored row when either the RPC reply or the broadcast arrives
 * (matched by `client_id`, so a race never shows it twice). Offline, entries wait in IndexedDB and
 * drain in order on reconnect; open conversations then catch up with `get_messages(after_seq)`,
 * because Broadcast does not guarantee delivery.
 */
/* eslint-disable svelte/prefer-svelte-reactivity -- the Maps, Sets and Dates here are private bookkeeping
   or plain values; reactive state is only in the $state fields (presence Sets are replaced, not mutated). */
import { getContext, setContext, untrack } from 'svelte';
import type { RealtimeChannel, SupabaseClient } from '@supabase/supabase-js';
import { Keyring } from '../crypto/keyring.svelte.ts';
import { openText, sealText } from '../crypto/e2ee.ts';
import { Outbox, type OutboxEntry } from './outbox.ts';
import { ChatError, errorMessage, unwrap, type SupabaseResult } from './errors.ts';
import {
	attachmentKind,
	attachmentRef,
	normalizeMessage,
	pendingMessageView,
	type AttachmentContent,
	type AttachmentRef
} from './derive.ts';
import { refuseMember } from './live-guard.ts';
import { MEMBER_EVENTS, USER_EVENTS, userTopic } from './live.ts';
import { ConversationChannels, freshChannel } from './conversation-channels.ts';
import { Typing } from './typing.svelte.ts';
import { Receipts, type ReceiptKind } from './receipts.ts';
import { assertAttachmentSize, Attachments } from './attachments.ts';
import { KeyRequests } from './key-requests.ts';
import { Sender } from './sender.ts';
import { ConversationList } from './conversation-list.svelte.ts';
import { Timeline } from './timeline.svelte.ts';
import { LiveEvents } from './live-events.ts';
import { Reactions } from './reactions.ts';
import type {
	ConversationView,
	MessageRow,
	MessageType,
	MessageView,
	ParticipantView,
	Role,
	TypingUser
} from './types.ts';

export type * from './types.ts';

export interface ChatStoreOptions {
	/** Defaults to a new `Keyring` on the same IndexedDB factory. */
	keyring?: Keyring;
	/** IndexedDB factory for the outbox and the default key ring (tests pass `fake-indexeddb`'s). */
	indexedDB?: IDBFactory;
	/** How long receipts are gathered before one `mark_delivered` / `mark_read` per conversation. */
	receiptDelayMs?: number;
	/** At most one `typing` broadcast per this interval while typing continues. */
	typingThrottleMs?: number;
	/** Someone else's typing indicator disappears after this long without news. */
	typingTimeoutMs?: number;
	/** My own typing state ends after this long without `setTyping(id, true)`. */
	typingIdleMs?: number;
	/** Messages per `open` / `loadOlder` page. */
	pageSize?: number;
}

type Raw = Record<string, unknown>;

const CATCH_UP_PAGE = 100;

export { ATTACHMENT_BUCKET, MAX_ATTACHMENT_BYTES } from './attachments.ts';
/**
 * How many listed conversations keep their channel joined for presence (online dots in the list).
 * Realtime allows 100 channels per connection (`maxChannelsPerClient`); each conversation takes
 * two (its database and members topics), `user:<me>` one, and open conversations beyond the cap
 * take theirs, so the most recently active 45 are watched and older ones show no dot until opened.
 */
export const MAX_WATCHED_CONVERSATIONS = 45;

export class ChatStore {
	/** Conversations, most recent activity first. */
	get conversations(): ConversationView[] {
		return this.#list.conversations;
	}
	/** Every loaded message (and optimistic one, under its client id) by id. */
	get messagesById(): Record<string, MessageView> {
		return this.#timeline.messagesById;
	}
	/** Message ids per conversation: stored ones by ascending seq, then optimistic ones. */
	get idsByConversation(): Record<string, string[]> {
		return this.#timeline.idsByConversation;
	}
	/** Participants (with profile fields and watermarks) per conversation. */
	get participants(): Record<string, ParticipantView[]> {
		return this.#list.participants;
	}
	/** Who is present in each open or listed (up to `MAX_WATCHED_CONVERSATIONS`) conversation (user ids, me included). */
	presence = $state<Record<string, Set<string>>>({});
	/** Who else is typing in each open or watched conversation. */
	get typing(): Record<string, TypingUser[]> {
		return this.#typing.byConversation;
	}
	/** Whether older messages remain to `loadOlder`. */
	hasMore = $state<Record<string, boolean>>({});
	/** The Realtime connection (`user:<me>`) is subscribed. */
	connected = $state(false);
	/** `navigator.onLine` and its events. */
	browserOnline = $state(true);
	/** Online as the UI shows it: Realtime connected and the browser online. */
	online = $derived(this.connected && this.browserOnline);
	/** The signed-in user's id once started. */
	userId = $state<string | null>(null);
	/** `loadConversations` has completed at least once. */
	get conversationsLoaded(): boolean {
		return this.#list.loaded;
	}
	/** The last background failure worth showing (start-up, inbox refresh); null when fine. */
	error = $state<string | null>(null);

	readonly keyring: Keyring;

	#options: Required<Pick<ChatStoreOptions, 'pageSize'>>;
	#idb: IDBFactory | undefined;
	#sb: SupabaseClient | null = null;
	#outbox: Outbox | null = null;
	#userChannel: RealtimeChannel | null = null;
	/** Joined channels per conversation: open conversations and the watched part of the list. */
	#channels: ConversationChannels;
	/** Conversations open in a window: their channels' message events are applied. */
	#openIds = new Set<string>();
	#opening = new Map<string, Promise<void>>();
	#catchingUp = new Map<string, Promise<void>>();
	#keyRequests: KeyRequests;
	#attachments: Attachments;
	#loadingOlder = new Map<string, Promise<number>>();
	#reactions: Reactions;
	#receipts: Receipts;
	#typing: Typing;
	#list: ConversationList;
	#timeline: Timeline;
	#live: LiveEvents;
	#sender: Sender;
	#wasConnected = false;
	#listeners: (() => void) | null = null;
	#generation = 0;

	constructor(options: ChatStoreOptions = {}) {
		this.#idb = options.indexedDB;
		this.keyring = options.keyring ?? new Keyring(options.indexedDB);
		this.keyring.onIdentityChange = () => void this.redecrypt();
		this.#timeline = new Timeline({
			me: () => this.userId,
			key: (id, epoch) => this.#heldKey(id, epoch),
			participants: (id) => this.participants[id] ?? [],
			reactions: (id) => this.#reactions.of(id),
			applied: (row, text) => this.#noteLastMessage(row, text),
			merged: (rows) => this.#merged(rows),
			opened: (m) => {
				const c = this.#conversation(m.conversation_id);
				if (c && c.last_message?.id === m.id) c.preview = m.text;
			}
		});
		this.#list = new ConversationList({
			rpc: (name, args) => this.#rpc(name, args),
			me: () => this.#me(),
			decrypt: (row) => this.#decrypt(row),
			membersChanged: (id, members) => {
				// Someone who is no longer a member stops showing as typing, or present, at once.
				this.#typing.keepOnly(id, members);
				const present = this.presence[id];
				if (present && [...present].some((u) => !members.has(u))) this.#showPresence(id, present, members);
				this.#refreshStatuses(id);
			},
			// A newer epoch than the joined channels': move them (a no-op while none are joined).
			fetched: (id) => this.#channels.follow(id)
		});
		this.#reactions = new Reactions({
			rpc: (name, args) => this.#rpc(name, args),
			me: () => this.#me(),
			show: (id, reactions) => {
				const m = this.messagesById[id];
				if (m) m.reactions = reactions;
			}
		});
		this.#sender = new Sender({
			outbox: () => this.#outbox,
			online: () => this.browserOnline,
			view: (id) => this.messagesById[id],
			seal: (id, text) => this.#seal(id, text),
			epochOf: (id) => this.#conversation(id)?.key_epoch,
			open: (id, epoch, ciphertext, nonce) => this.#openSealed(id, epoch, ciphertext, nonce),
			send: (entry) =>
				this.#rpc<Raw>('send_message', {
					conversation_id: entry.conversation_id,
					content_encrypted: entry.content_encrypted,
					message_type: entry.message_type,
					client_id: entry.client_id,
					reply_to_id: entry.reply_to_id,
					attachment: entry.attachment ?? null,
					encryption: entry.encryption
				}),
			stored: (row) => this.#ingest([normalizeMessage(row)]),
			failed: (id, error) => this.#markFailed(id, error)
		});
		this.#keyRequests = new KeyRequests({
			// Whoever holds the key and is online wraps it for me; `key_added` on my user topic says so.
			ask: (id, epoch) => {
				const ch = this.#channels.members(id);
				if (!ch || !this.userId) return false;
				void ch
					.send({
						type: 'broadcast',
						event: MEMBER_EVENTS.keyRequest,
						payload: { user_id: this.userId, epoch }
					})
					.catch(() => undefined);
				return true;
			},
			share: (id) => this.keyring.shareMissingKeys(id)
		});
		this.#attachments = new Attachments({
			client: () => this.#client(),
			key: (id, epoch) => this.#heldKey(id, epoch)
		});
		this.#receipts = new Receipts({
			rpc: (name, args) => this.#rpc(name, args),
			started: () => this.#sb !== null && this.userId !== null,
			mine: (id) => this.participants[id]?.find((p) => p.user_id === this.userId),
			delayMs: options.receiptDelayMs ?? 500
		});
		this.#typing = new Typing({
			throttleMs: options.typingThrottleMs ?? 2000,
			timeoutMs: options.typingTimeoutMs ?? 4000,
			idleMs: options.typingIdleMs ?? 4000
		});
		this.#live = new LiveEvents({
			me: () => this.#me(),
			list: () => this.#list,
			timeline: () => this.#timeline,
			channels: () => this.#channels,
			reactions: () => this.#reactions,
			receipts: () => this.#receipts,
			rpc: (name, args) => this.#rpc(name, args),
			isOpen: (id) => this.#openIds.has(id),
			catchUp: (id) => this.#catchUp(id),
			forget: (id) => this.#forgetConversation(id),
			keyRequested: (id, p) => this.#onKeyRequest(id, p),
			typing: (id, p) => this.#onTyping(id, p),
			presence: (id, channel) => this.#onPresence(id, channel),
			presenceLeft: (id) => {
				delete this.presence[id];
			},
			shareKeyWith: async (id, epoch, userId) => {
				if (!this.keyring.ready) return;
				const key = await this.keyring.cachedConversationKey(id, epoch);
				if (key) await this.keyring.shareConversationKey(id, epoch, [userId]).catch(() => undefined);
			}
		});
		this.#channels = new ConversationChannels(
			{
				client: () => this.#client(),
				me: () => this.#me(),
				epochOf: (id) => this.#conversation(id)?.key_epoch,
				load: (id) => this.#fetchConversation(id),
				isOpen: (id) => this.#openIds.has(id),
				generation: () => this.#generation,
				currentEpochs: async (ids) => {
					const { data, error } = await this.#client()
						.from('conversations')
						.select('id, key_epoch')
						.in('id', ids);
					if (error || !Array.isArray(data)) return null;
					return new Map((data as Raw[]).map((r) => [String(r.id), Number(r.key_epoch)]));
				}
			},
			this.#live.table()
		);
		this.#options = { pageSize: options.pageSize ?? 50 };
	}

	// ---------------------------------------------------------------- lifecycle

	/**
	 * Signs the store in: Realtime auth, the device identity, the outbox from earlier sessions, the
	 * inbox channel and the conversation list. Safe to call again after `stop`.
	 */
	async start(supabase: SupabaseClient, userId: string): Promise<void> {
		if (this.#sb) this.stop();
		const generation = ++this.#generation;
		this.#sb = supabase;
		this.userId = userId;
		this.error = null;
		this.#outbox = new Outbox(userId, this.#idb);
		this.#watchBrowser();
		// Private channels authorize with the user's JWT, which the socket only carries after setAuth.
		await supabase.realtime.setAuth();
		if (generation !== this.#generation) return;
		try {
			await this.keyring.ensureIdentity(supabase, userId);
		} catch (err) {
			this.error = `Could not load your encryption keys: ${errorMessage(err)}`;
		}
		if (generation !== this.#generation) return;
		await this.#restoreOutbox();
		await this.#subscribeInbox();
		if (generation !== this.#generation) return;
		try {
			await this.loadConversations();
		} catch (err) {
			this.error = errorMessage(err);
		}
		void this.#drain();
	}

	/** Leaves every channel, stops timers and forgets the signed-in state (sign-out, page teardown). */
	stop(): void {
		this.#generation++;
		const sb = this.#sb;
		if (sb) {
			if (this.#userChannel) void sb.removeChannel(this.#userChannel);
		}
		this.#channels.leaveAll(sb);
		this.#openIds.clear();
		this.#userChannel = null;
		this.#listeners?.();
		this.#listeners = null;
		this.#receipts.reset();
		this.#keyRequests.reset();
		this.#live.reset();
		this.#typing.reset();
		void this.#outbox?.close();
		this.#outbox = null;
		this.#sb = null;
		this.#opening.clear();
		this.#catchingUp.clear();
		this.#loadingOlder.clear();
		this.#reactions.reset();
		this.#attachments.reset();
		this.#wasConnected = false;
		this.keyring.lock();
		this.#list.reset();
		this.#timeline.reset();
		this.presence = {};
		this.hasMore = {};
		this.connected = false;
		this.userId = null;
	}

	#watchBrowser() {
		if (typeof navigator !== 'undefined' && typeof navigator.onLine === 'boolean') {
			this.browserOnline = navigator.onLine;
		}
		if (typeof window === 'undefined' || typeof window.addEventListener !== 'function') return;
		const online = () => {
			this.browserOnline = true;
			void this.#onReconnect();
		};
		const offline = () => {
			this.browserOnline = false;
		};
		window.addEventListener('online', online);
		window.addEventListener('offline', offline);
		this.#listeners = () => {
			window.removeEventListener('online', online);
			window.removeEventListener('offline', offline);
		};
	}

	/** Marks the browser on- or offline (what the window events do; for tests and manual overrides). */
	setBrowserOnline(online: boolean): void {
		const was = this.browserOnline;
		this.browserOnline = online;
		if (online && !was) void this.#onReconnect();
	}

	async #onReconnect(): Promise<void> {
		const sb = this.#sb;
		if (!sb) return;
		if (!this.keyring.ready && !this.keyring.needsRestore && this.userId) {
			// The start-up key check failed offline; without keys nothing can be sent or read.
			try {
				await this.keyring.ensureIdentity(sb, this.userId);
				await this.redecrypt();
			} catch {
				// Still offline.
			}
		}
		// Epochs, unread counts and membership may have changed while we were away.
		try {
			await this.loadConversations();
		} catch {
			// Still unreachable: the next reconnect tries again.
		}
		await this.#drain();
		await Promise.all([...this.#openIds].map((id) => this.#catchUp(id).catch(() => undefined)));
		this.#receipts.schedule();
	}

	#client(): SupabaseClient {
		if (!this.#sb) throw new ChatError('The chat is not started', 0, 'not_started');
		return this.#sb;
	}

	#me(): string {
		if (!this.userId) throw new ChatError('The chat is not started', 0, 'not_started');
		return this.userId;
	}

	async #rpc<T>(name: string, args: Raw = {}): Promise<T> {
		return unwrap((await this.#client().rpc(name, args)) as SupabaseResult<T>);
	}

	// ---------------------------------------------------------------- conversations

	/** (Re)loads the conversation list with participants, unread counts and decrypted previews. */
	async loadConversations(): Promise<void> {
		const views = await this.#list.load();
		this.#queueListDelivery(views);
		void this.#watchList();
		await Promise.all(views.map((v) => this.#list.refreshPreview(v.id)));
	}

	/**
	 * A message received on any path advances my delivered watermark: the list tells me about
	 * messages newer than it (mine do not count, so a list whose newest message is my own and has
	 * nothing unread costs no call). Batched with the other receipts; reading stays with `markSeen`.
	 */
	#queueListDelivery(views: ConversationView[]) {
		const me = this.#me();
		for (const v of views) {
			const last = v.last_message;
			if (!last) continue;
			const mine = this.participants[v.id]?.find((p) => p.user_id === me);
			if (!mine || v.last_seq <= mine.last_delivered_seq) continue;
			if (last.sender_id === me && v.unread_count === 0) continue;
			this.#queueReceipt(v.id, 'delivered', Math.max(v.last_seq, last.seq));
		}
	}

	/** Fetches one conversation (with participants) and puts it into the list. */
	#fetchConversation(conversationId: string): Promise<ConversationView> {
		return this.#list.fetch(conversationId);
	}

	#conversation(conversationId: string): ConversationView | undefined {
		return this.#list.get(conversationId);
	}

	// ---------------------------------------------------------------- opening and history

	/** Loads the newest page of a conversation and subscribes its channel (messages, presence, typing). */
	open(conversationId: string): Promise<void> {
		const running = this.#opening.get(conversationId);
		if (running) return running;
		this.#openIds.add(conversationId);
		// Callers open from an effect: the state read here must not become that effect's dependency,
		// or every list change would close and reopen the conversation.
		const work = untrack(() => this.#open(conversationId));
		this.#opening.set(conversationId, work);
		work.catch(() => {
			if (this.#opening.get(conversationId) !== work) return;
			this.#opening.delete(conversationId);
			this.#openIds.delete(conversationId);
			this.#unsubscribe(conversationId);
		});
		return work;
	}

	/**
	 * The independent calls run at once: the channel, the conversation (participants, epoch), the
	 * newest page and, when the epoch is already known from the list, the key. The page is decrypted
	 * and shown as soon as it and the key are in, without waiting for the rest; reactions follow.
	 */
	async #open(conversationId: string): Promise<void> {
		const known = this.#conversation(conversationId);
		const warmKey =
			known && this.keyring.ready
				? this.keyring.conversationKey(conversationId, known.key_epoch, { create: false }).catch(() => null)
				: null;
		this.#ids(conversationId);
		const page = this.#rpc<Raw[]>('get_messages', {
			conversation_id: conversationId,
			page_size: this.#options.pageSize
		}).then(async (rows) => {
			const messages = (rows ?? []).map(normalizeMessage);
			this.hasMore[conversationId] = messages.length >= this.#options.pageSize;
			await Promise.all([this.#ingest(messages), this.#reactions.load(messages.map((m) => m.id))]);
		});
		await Promise.all([
			this.#channels.join(conversationId),
			this.#fetchConversation(conversationId),
			page,
			warmKey
		]);
		if (!this.keyring.ready) return;
		// Members who joined, or had no public key when the epoch's key was made, get it from me;
		// and if the page showed rows of the current epoch I cannot open, I ask for mine (the
		// channel is joined now, which it may not have been when the page came in).
		void this.keyring.shareMissingKeys(conversationId).catch(() => undefined);
		this.#requestKeysFor(this.messagesOf(conversationId));
	}

	// ---------------------------------------------------------------- key sharing

	/** Asks for the current key of each conversation where one of `messages` is of its epoch and does not open. */
	#requestKeysFor(messages: readonly (MessageView | undefined)[]): void {
		if (!this.keyring.ready) return;
		for (const m of messages) {
			if (!m?.undecryptable || !m.encryption) continue;
			if (m.encryption.epoch === this.#conversation(m.conversation_id)?.key_epoch)
				this.#keyRequests.ask(m.conversation_id, m.encryption.epoch);
		}
	}

	/** Another member asked for the key: share what they lack (batched: several may ask at once). */
	#onKeyRequest(conversationId: string, payload: Raw): void {
		if (payload.user_id === this.userId || !this.keyring.ready) return;
		this.#keyRequests.asked(conversationId);
	}

	/** A member gave me a key: what it opens can be read now. */
	async #onKeyAdded(payload: Raw): Promise<void> {
		const conversationId = String(payload.conversation_id);
		const epoch = Number(payload.epoch);
		this.#keyRequests.answered(conversationId);
		await this.#redecryptWhere((m) => m.conversation_id === conversationId && m.encryption?.epoch === epoch);
		await this.#list.refreshPreview(conversationId);
	}

	/**
	 * Closes a conversation (its messages stay cached). Its channel stays joined for the list's
	 * presence while it is among the watched conversations, and is left otherwise.
	 */
	close(conversationId: string): void {
		// Called from effect teardowns too: nothing read here may become a dependency.
		untrack(() => this.#close(conversationId));
	}

	#close(conversationId: string): void {
		this.setTyping(conversationId, false);
		this.#openIds.delete(conversationId);
		this.#opening.delete(conversationId);
		if (!this.#watchedIds().has(conversationId)) this.#unsubscribe(conversationId);
		this.#typing.clear(conversationId);
	}

	#unsubscribe(conversationId: string) {
		if (this.#sb) this.#channels.leave(conversationId);
		delete this.presence[conversationId];
	}

	/** The listed conversations whose channels stay joined for presence (most recent activity first). */
	#watchedIds(): Set<string> {
		return new Set(this.conversations.slice(0, MAX_WATCHED_CONVERSATIONS).map((c) => c.id));
	}

	/**
	 * Joins the channels of the watched conversations (presence for the list's online dots) and
	 * leaves those no longer listed or watched, unless open. The channels are the conversations'
	 * private ones, so only people who share a conversation see each other's presence.
	 */
	async #watchList(): Promise<void> {
		if (!this.#sb || !this.userId) return;
		const watched = this.#watchedIds();
		for (const id of this.#channels.ids()) {
			if (!watched.has(id) && !this.#openIds.has(id)) this.#unsubscribe(id);
			// The list may know of an epoch bump the channels missed (while offline).
			else this.#channels.follow(id);
		}
		await Promise.all([...watched].map((id) => this.#channels.join(id).catch(() => undefined)));
	}

	/** Loads up to one more page of older messages; resolves with how many arrived. */
	loadOlder(conversationId: string): Promise<number> {
		const running = this.#loadingOlder.get(conversationId);
		if (running) return running;
		const work = (async () => {
			const oldest = this.#seqs(conversationId)[0];
			if (oldest === undefined) {
				await this.open(conversationId);
				return this.#seqs(conversationId).length;
			}
			if (oldest <= 1) {
				this.hasMore[conversationId] = false;
				return 0;
			}
			const rows =
				(await this.#rpc<Raw[]>('get_messages', {
					conversation_id: conversationId,
					before_seq: oldest,
					page_size: this.#options.pageSize
				})) ?? [];
			this.hasMore[conversationId] = rows.length >= this.#options.pageSize;
			await this.#ingest(rows.map(normalizeMessage));
			await this.#reactions.load(rows.map((r) => String(r.id)));
			return rows.length;
		})().finally(() => this.#loadingOlder.delete(conversationId));
		this.#loadingOlder.set(conversationId, work);
		return work;
	}

	/** The loaded messages of a conversation in display order. */
	messagesOf(conversationId: string): MessageView[] {
		return this.#timeline.messagesOf(conversationId);
	}

	#ids(conversationId: string): string[] {
		return this.#timeline.ids(conversationId);
	}

	#seqs(conversationId: string): number[] {
		return this.#timeline.seqs(conversationId);
	}

	#contiguousHigh(conversationId: string): number | undefined {
		return this.#timeline.contiguousHigh(conversationId);
	}

	#catchUp(conversationId: string): Promise<void> {
		const running = this.#catchingUp.get(conversationId);
		if (running) return running;
		const work = (async () => {
			await this.#opening.get(conversationId);
			// An open conversation with nothing loaded is empty (its first page has come): fetch from the start.
			let after = this.#contiguousHigh(conversationId) ?? (this.#openIds.has(conversationId) ? 0 : undefined);
			if (after === undefined) return;
			for (;;) {
				const rows =
					(await this.#rpc<Raw[]>('get_messages', {
						conversation_id: conversationId,
						after_seq: after,
						page_size: CATCH_UP_PAGE
					})) ?? [];
				const messages = rows.map(normalizeMessage);
				await this.#ingest(messages);
				await this.#reactions.load(messages.map((m) => m.id));
				if (messages.length < CATCH_UP_PAGE) break;
				after = Math.max(after, ...messages.map((m) => m.seq));
			}
		})().finally(() => this.#catchingUp.delete(conversationId));
		this.#catchingUp.set(conversationId, work);
		return work;
	}

	// ---------------------------------------------------------------- ingesting messages

	#decrypt(row: MessageRow): Promise<{ text: string | null; undecryptable: boolean }> {
		return this.#timeline.decrypt(row);
	}

	#ingest(rows: MessageRow[]): Promise<void> {
		return this.#timeline.ingest(rows);
	}

	#redecryptWhere(match: (m: MessageView) => boolean): Promise<void> {
		return this.#timeline.redecryptWhere(match);
	}

	#apply(row: MessageRow, text: string | null, undecryptable: boolean) {
		this.#timeline.apply(row, text, undecryptable);
	}

	#statusOf(view: Pick<MessageView, 'seq' | 'sender_id' | 'conversation_id' | 'status'>) {
		return this.#timeline.statusOf(view);
	}

	#refreshStatuses(conversationId: string) {
		this.#timeline.refreshStatuses(conversationId);
	}

	/** What follows a merge: delivery receipts for others' messages, their typing ends, missing keys asked for. */
	#merged(rows: MessageRow[]): void {
		const me = this.userId;
		const delivered = new Map<string, number>();
		for (const row of rows) {
			if (row.sender_id === me) continue;
			delivered.set(row.conversation_id, Math.max(delivered.get(row.conversation_id) ?? 0, row.seq));
			this.#typing.stop(row.conversation_id, row.sender_id);
		}
		for (const [id, seq] of delivered) this.#queueReceipt(id, 'delivered', seq);
		// A row of the current epoch that does not open means my key for it is missing: ask for it.
		this.#requestKeysFor(rows.map((row) => this.messagesById[row.id]));
	}

	/** The list's last message and preview follow the newest row. */
	#noteLastMessage(row: MessageRow, text: string | null) {
		const c = this.#conversation(row.conversation_id);
		if (!c) return;
		if (row.seq > c.last_seq || !c.last_message || c.last_message.id === row.id) {
			const moved = row.seq > c.last_seq;
			c.last_seq = Math.max(c.last_seq, row.seq);
			c.last_message = row;
			c.preview = text;
			if (moved) {
				c.last_message_at = row.created_at;
				this.#list.sort();
			}
		}
	}

	/** Decrypts every loaded message again (after the identity was restored on this device). */
	async redecrypt(): Promise<void> {
		// Includes outbox entries restored before the keys were available.
		await this.#redecryptWhere(() => true);
		for (const c of this.conversations) {
			c.preview = null;
			void this.#list.refreshPreview(c.id);
		}
	}

	// ---------------------------------------------------------------- reactions

	/** Adds my reaction (shown at once, undone if the server refuses). */
	react(messageId: string, emoji: string): Promise<void> {
		return this.#reactions.mine(messageId, emoji, 'added');
	}

	/** Removes my reaction (restored if the server refuses). */
	unreact(messageId: string, emoji: string): Promise<void> {
		return this.#reactions.mine(messageId, emoji, 'removed');
	}

	// ---------------------------------------------------------------- sending

	async #currentEpoch(conversationId: string): Promise<number> {
		const c = this.#conversation(conversationId) ?? (await this.#fetchConversation(conversationId));
		return c.key_epoch;
	}

	/** Seals text under the conversation's current key (made and published if the epoch has none). */
	async #seal(
		conversationId: string,
		text: string
	): Promise<{ content_encrypted: string; encryption: { epoch: number; nonce: string } }> {
		const { key, epoch } = await this.#currentKey(conversationId);
		const sealed = sealText(key, text);
		return { content_encrypted: sealed.ciphertext, encryption: { epoch, nonce: sealed.nonce } };
	}

	/**
	 * Sends a text message: it shows at once as `pending` under a new client id (returned), is
	 * encrypted and queued in the outbox, and is replaced by the stored row once confirmed.
	 */
	async send(
		conversationId: string,
		text: string,
		options: { replyTo?: string | null } = {}
	): Promise<string> {
		return this.#compose(conversationId, text, 'text', null, options.replyTo ?? null);
	}

	/**
	 * Sends a file (a picture, a voice recording, any file): encrypted on this device under the
	 * conversation's current key, uploaded to the private attachments bucket, then sent like a text
	 * message whose encrypted content names it (name, type, size, caption). Storage and the
	 * database only ever hold ciphertext. The upload needs a connection; the message then goes
	 * through the outbox like any other.
	 */
	async sendAttachment(
		conversationId: string,
		file: Blob & { name?: string },
		options: { caption?: string; kind?: 'image' | 'voice' | 'file'; replyTo?: string | null } = {}
	): Promise<string> {
		if (!this.browserOnline) {
			throw new ChatError('Attachments need a connection: try again when you are online', 0, 'offline');
		}
		assertAttachmentSize(file);
		const mime = file.type || 'application/octet-stream';
		const kind = options.kind ?? attachmentKind(mime);
		const content: AttachmentContent = {
			name: file.name || (kind === 'voice' ? 'Voice message' : 'attachment'),
			mime,
			size: file.size,
			caption: options.caption?.trim() ?? ''
		};
		const { key, epoch } = await this.#currentKey(conversationId);
		const ref = await this.#attachments.upload(conversationId, file, key, epoch);
		return this.#compose(conversationId, JSON.stringify(content), kind, ref, options.replyTo ?? null, (id) =>
			this.#attachments.showLocal(id, file)
		);
	}

	/**
	 * An object URL of a message's decrypted attachment: downloaded from Storage and opened with the
	 * conversation key once, then cached. Rejects with a ChatError a person can read.
	 */
	attachmentUrl(message: MessageView): Promise<string> {
		return this.#attachments.url(message);
	}

	/** A conversation key of one epoch if this device holds it (never makes one); null while locked. */
	#heldKey(conversationId: string, epoch: number): Promise<Uint8Array | null> {
		return this.keyring.ready
			? this.keyring.conversationKey(conversationId, epoch, { create: false })
			: Promise.resolve(null);
	}

	/** Opens text sealed under one epoch's key (an outbox entry); null when this device cannot. */
	async #openSealed(conversationId: string, epoch: number, ciphertext: string, nonce: string) {
		const key = await this.keyring.conversationKey(conversationId, epoch, { create: false });
		return key ? openText(key, ciphertext, nonce) : null;
	}

	/** The current epoch's key of a conversation (made and published if the epoch has none). */
	async #currentKey(conversationId: string): Promise<{ key: Uint8Array; epoch: number }> {
		if (!this.keyring.ready) {
			throw new ChatError('Restore your key backup on this device before sending', 0, 'no_identity');
		}
		const epoch = await this.#currentEpoch(conversationId);
		let key = await this.keyring.cachedConversationKey(conversationId, epoch);
		key ??= await this.keyring.conversationKey(conversationId, epoch);
		if (!key)
			throw new ChatError('No encryption key is available for this conversation', 0, 'no_conversation_key');
		return { key, epoch };
	}

	/** Shows a message at once as `pending` under a new client id (returned) and queues it. */
	async #compose(
		conversationId: string,
		text: string,
		type: MessageType,
		attachment: AttachmentRef | null,
		replyTo: string | null,
		beforeQueue?: (clientId: string) => void
	): Promise<string> {
		const me = this.#me();
		const outbox = this.#outbox;
		if (!outbox) throw new ChatError('The chat is not started', 0, 'not_started');
		const clientId = crypto.randomUUID();
		const createdAt = outbox.stamp();
		const view = pendingMessageView({
			clientId,
			conversationId,
			senderId: me,
			createdAt,
			type,
			text,
			attachment,
			replyTo
		});
		view.recipients = this.#statusOf(view).recipients;
		this.messagesById[clientId] = view;
		this.#ids(conversationId).push(clientId);
		this.setTyping(conversationId, false);
		beforeQueue?.(clientId);
		await this.#sender.enqueue(clientId, createdAt);
		return clientId;
	}

	#markFailed(clientId: string, error: string) {
		const m = this.messagesById[clientId];
		if (m && m.seq === null) Object.assign(m, { status: 'failed', error });
	}

	/** Loads entries left by an earlier session as `pending` (or `failed`) messages. */
	async #restoreOutbox(): Promise<void> {
		const outbox = this.#outbox;
		if (!outbox) return;
		let entries: OutboxEntry[];
		try {
			entries = await outbox.all();
		} catch (err) {
			this.error = `The offline outbox is unavailable: ${errorMessage(err)}`;
			return;
		}
		const me = this.#me();
		for (const e of entries) {
			if (this.messagesById[e.client_id]) continue;
			const text = await this.#openSealed(
				e.conversation_id,
				e.encryption.epoch,
				e.content_encrypted,
				e.encryption.nonce
			).catch(() => null);
			this.messagesById[e.client_id] = pendingMessageView({
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
			this.#ids(e.conversation_id).push(e.client_id);
		}
	}

	#drain(): Promise<void> {
		return this.#sender.drain();
	}

	/** Sends a `failed` message again. */
	async retry(clientId: string): Promise<void> {
		const view = this.messagesById[clientId];
		const outbox = this.#outbox;
		if (!view || view.seq !== null || !outbox) return;
		Object.assign(view, { status: 'pending', error: undefined });
		const entry = await outbox.get(clientId);
		if (!entry) {
			// It never reached the outbox (encryption failed): encrypt again.
			await this.#sender.enqueue(clientId, outbox.stamp());
			return;
		}
		entry.failed = false;
		entry.lastError = null;
		await outbox.put(entry);
		await this.#drain();
	}

	/** Drops a `pending` or `failed` message that has not been stored. */
	async discard(clientId: string): Promise<void> {
		const view = this.messagesById[clientId];
		if (view && view.seq !== null) return;
		await this.#outbox?.remove(clientId);
		if (!view) return;
		delete this.messagesById[clientId];
		const ids = this.idsByConversation[view.conversation_id];
		const at = ids?.indexOf(clientId) ?? -1;
		if (ids && at >= 0) ids.splice(at, 1);
	}

	/** Replaces the text of my message (re-encrypted under the current epoch). */
	async edit(messageId: string, text: string): Promise<void> {
		const m = this.messagesById[messageId];
		if (!m || m.seq === null) throw new ChatError('That message is not stored yet', 404, 'message_not_found');
		const sealed = await this.#seal(m.conversation_id, text);
		const before = { text: m.text, undecryptable: m.undecryptable };
		Object.assign(m, { text, undecryptable: false });
		try {
			const row = normalizeMessage(
				await this.#rpc<Raw>('edit_message', { message_id: messageId, ...sealed })
			);
			this.#apply(row, text, false);
		} catch (err) {
			const now = this.messagesById[messageId];
			if (now) Object.assign(now, before);
			throw err;
		}
	}

	/** Deletes a message for everyone (a tombstone stays in its place). */
	async remove(messageId: string): Promise<void> {
		const before = this.messagesById[messageId];
		const ref = before ? attachmentRef(before.attachment) : null;
		const row = normalizeMessage(await this.#rpc<Raw>('delete_message', { message_id: messageId }));
		this.#apply(row, null, false);
		// The tombstone no longer points at the file; its uploader removes it (others may not).
		this.#attachments.deleted(messageId, ref, before?.sender_id === this.userId);
	}

	// ---------------------------------------------------------------- typing and presence

	/** Tells the others I am (or stopped) typing; throttled, and ends by itself after a silence. */
	setTyping(conversationId: string, typing: boolean): void {
		this.#typing.mine(conversationId, typing, (isTyping) =>
			this.#sendTyping(this.#channels.members(conversationId), isTyping)
		);
	}

	#sendTyping(ch: RealtimeChannel | undefined, isTyping: boolean) {
		if (!ch || !this.userId) return;
		const me = this.#myProfileName();
		void ch
			.send({
				type: 'broadcast',
				event: MEMBER_EVENTS.typing,
				payload: { user_id: this.userId, display_name: me, is_typing: isTyping }
			})
			.catch(() => undefined);
	}

	#myProfileName(): string {
		for (const list of Object.values(this.participants)) {
			const p = list.find((x) => x.user_id === this.userId);
			if (p) return p.display_name || p.username || '';
		}
		return '';
	}

	#onTyping(conversationId: string, payload: Raw) {
		const userId = String(payload.user_id ?? '');
		if (!userId || userId === this.userId) return;
		if (refuseMember(userId, this.#live.known(conversationId))) return;
		if (!payload.is_typing) {
			this.#typing.stop(conversationId, userId);
			return;
		}
		const participant = this.participants[conversationId]?.find((p) => p.user_id === userId);
		const name = String(
			payload.display_name || participant?.display_name || participant?.username || 'Someone'
		);
		this.#typing.start(conversationId, userId, name);
	}

	#onPresence(conversationId: string, ch: RealtimeChannel) {
		const state = ch.presenceState() as Record<string, Raw[]>;
		const users = new Set<string>();
		for (const [key, metas] of Object.entries(state)) {
			users.add(key);
			for (const meta of metas ?? []) if (typeof meta.user_id === 'string') users.add(meta.user_id);
		}
		const list = this.participants[conversationId];
		this.#showPresence(conversationId, users, list ? new Set(list.map((p) => p.user_id)) : null);
	}

	/** Shows who is present, members only: a presence left behind by someone removed is not shown. */
	#showPresence(conversationId: string, users: ReadonlySet<string>, members: ReadonlySet<string> | null) {
		this.presence[conversationId] = new Set(members ? [...users].filter((u) => members.has(u)) : users);
	}

	// ---------------------------------------------------------------- realtime

	async #subscribeInbox(): Promise<void> {
		const me = this.#me();
		const ch = await freshChannel(this.#client(), userTopic(me), { config: { private: true } });
		ch.on(
			'broadcast',
			{ event: USER_EVENTS.inbox },
			({ payload }) => void this.#live.inbox(payload as Raw).catch(() => undefined)
		);
		ch.on('broadcast', { event: USER_EVENTS.conversationAdded }, ({ payload }) => {
			void this.#fetchConversation(String((payload as Raw).conversation_id))
				.then(() => this.#watchList())
				.catch(() => undefined);
		});
		ch.on('broadcast', { event: USER_EVENTS.keyAdded }, ({ payload }) => {
			void this.#onKeyAdded(payload as Raw).catch(() => undefined);
		});
		ch.on('broadcast', { event: USER_EVENTS.conversationRemoved }, ({ payload }) => {
			this.#forgetConversation(String((payload as Raw).conversation_id));
		});
		ch.subscribe((status) => {
			if (this.#userChannel !== ch) return;
			const up = status === 'SUBSCRIBED';
			this.connected = up;
			if (up && this.#wasConnected) void this.#onReconnect();
			if (up) this.#wasConnected = true;
		});
		this.#userChannel = ch;
	}

	#forgetConversation(conversationId: string) {
		this.close(conversationId);
		this.#unsubscribe(conversationId);
		this.#list.remove(conversationId);
		delete this.hasMore[conversationId];
	}

	// ---------------------------------------------------------------- receipts

	/** Marks the conversation read up to its newest loaded message (call when it is visible at the bottom). */
	markSeen(conversationId: string): void {
		const seqs = this.#seqs(conversationId);
		const c = this.#conversation(conversationId);
		const newest = Math.max(seqs.at(-1) ?? 0, c?.last_message?.seq ?? 0);
		if (c) c.unread_count = 0;
		if (newest > 0) this.#queueReceipt(conversationId, 'read', newest);
	}

	#queueReceipt(conversationId: string, kind: ReceiptKind, seq: number) {
		this.#receipts.queue(conversationId, kind, seq);
	}

	/** Sends the gathered receipts now (one call per conversation and kind). */
	flushReceipts(): Promise<void> {
		return this.#receipts.flush();
	}

	// ---------------------------------------------------------------- membership

	/** Opens (or creates) the direct conversation with a user; resolves with its id. */
	async startDirect(username: string): Promise<string> {
		const profile = await this.#rpc<Raw>('find_profile', { username: username.trim().toLowerCase() });
		if (profile.id === this.userId) throw new ChatError('That is you', 400, 'cannot_message_self');
		const row = await this.#rpc<Raw>('create_direct_conversation', { other_user_id: profile.id });
		const view = await this.#fetchConversation(String(row.id));
		return view.id;
	}

	/** Creates a group with me as admin; resolves with its id. */
	async createGroup(title: string, userIds: string[]): Promise<string> {
		const row = await this.#rpc<Raw>('create_group_conversation', { title, participant_ids: userIds });
		const view = await this.#fetchConversation(String(row.id));
		return view.id;
	}

	/** Adds a member and shares the current epoch's key with them. */
	async addMember(conversationId: string, userId: string, role: Role = 'member'): Promise<void> {
		await this.#rpc('add_participant', { conversation_id: conversationId, user_id: userId, role });
		const view = await this.#fetchConversation(conversationId);
		// Without this they could not read the epoch's messages until the next rotation.
		await this.keyring.shareConversationKey(conversationId, view.key_epoch, [userId]).catch(() => undefined);
	}

	/** Removes a member (the key epoch bumps; the next message uses a fresh key they lack). */
	async removeMember(conversationId: string, userId: string): Promise<void> {
		await this.#rpc('remove_participant', { conversation_id: conversationId, user_id: userId });
		await this.#fetchConversation(conversationId);
	}

	async setRole(conversationId: string, userId: string, role: Role): Promise<void> {
		await this.#rpc('set_participant_role', { conversation_id: conversationId, user_id: userId, role });
		await this.#fetchConversation(conversationId);
	}

	/** Leaves a conversation and drops it from the list. */
	async leave(conversationId: string): Promise<void> {
		await this.#rpc('leave_conversation', { conversation_id: conversationId });
		this.#forgetConversation(conversationId);
	}
}

const CONTEXT = Symbol('parley.chat');

/** Shares the page's store with the components below (call in the app layout). */
export function setChat(store: ChatStore): ChatStore {
	return setContext(CONTEXT, store);
}

/** The store set by the app layout. */
export function getChat(): ChatStore {
	const store = getContext<ChatStore | undefined>(CONTEXT);
	if (!store) throw new Error('getChat() needs setChat() in a parent layout');
	return store;
}
