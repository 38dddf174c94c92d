/**
 * The shared reactive chat state of a signed-in page (see docs/app-architecture.md).
 *
 * It talks to the database contract (docs/chat-api.md) through supabase-js: RPCs for everything
 * that changes or reads chat data (the typed functions of src/lib/rpc.ts, here and in the parts),
 * private Realtime channels for live events (`user:<me>` for the inbox; per open or watched
 * conversation, its database topic and its members topic for presence and typing, both named after
 * the key epoch: see live.ts; the database's payloads are decoded by live-payloads.ts). Content is
 * encrypted and decrypted here through the key ring; the server only sees ciphertext.
 *
 * Sending is optimistic and goes through the persistent outbox: a message shows at once under its
 * client id, and is replaced by the stored row when either the RPC reply or the broadcast arrives
 * (matched by `client_id`, so a race never shows it twice). Offline, entries wait in IndexedDB and
 * drain in order on reconnect; open conversations then catch up with `get_messages(after_seq)`,
 * because Broadcast does not guarantee delivery.
 */
/* eslint-disable svelte/prefer-svelte-reactivity -- the Maps and Sets here are private bookkeeping;
   reactive state is in the parts' $state fields and the few here. */
import { getContext, setContext, untrack } from 'svelte';
import type { RealtimeChannel, SupabaseClient } from '@supabase/supabase-js';
import type { ContactTrust } from '../crypto/contact-trust.svelte.ts';
import type { Search } from '../search/search.svelte.ts';
import { Keyring } from '../crypto/keyring.svelte.ts';
import { deleteMessage, editMessage, setNotificationLevel } from '../rpc.ts';
import { Outbox } from './outbox.ts';
import { Drafts } from './drafts.ts';
import { ChatError, errorMessage, noIdentityError } from './errors.ts';
import { attachmentKind, attachmentRef, normalizeMessage, type AttachmentContent } from './derive.ts';
import { MEMBER_EVENTS } from './live.ts';
import { assertAttachmentSize } from './attachments.ts';
import { createParts, type ChatStoreOptions, type Parts } from './parts.ts';
import { lockedReason, type LockedReason } from './history-rule.ts';
import { joinUserChannel } from './user-channel.ts';
import { mentionedUserIds } from './mentions.ts';
import { muteUntil, normalizeMutedUntil, normalizeNotifyLevel, type MuteChoice } from './notifications.ts';
import type {
	ConversationView,
	HistoryVisibility,
	MessageView,
	NotifyLevel,
	ParticipantView,
	Role,
	TypingUser
} from './types.ts';

export type * from './types.ts';

export type { ChatStoreOptions } from './parts.ts';

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
	/** How far I trust each contact's identity (safety numbers, key changes). */
	get trust(): ContactTrust {
		return this.#p.trust;
	}

	/** Search on the device: the sealed index, its backfill progress, `query` and `openAt`. */
	get search(): Search {
		return this.#p.search;
	}

	get conversations(): ConversationView[] {
		return this.#p.list.conversations;
	}
	/** Every loaded message (and optimistic one, under its client id) by id. */
	get messagesById(): Record<string, MessageView> {
		return this.#p.timeline.messagesById;
	}
	/** Message ids per conversation: stored ones by ascending seq, then optimistic ones. */
	get idsByConversation(): Record<string, string[]> {
		return this.#p.timeline.idsByConversation;
	}
	/** Participants (with profile fields and watermarks) per conversation. */
	get participants(): Record<string, ParticipantView[]> {
		return this.#p.list.participants;
	}
	/** Who is present in each open or listed (up to `MAX_WATCHED_CONVERSATIONS`) conversation (user ids, me included). */
	get presence(): Record<string, Set<string>> {
		return this.#p.presence.byConversation;
	}
	/** Who else is typing in each open or watched conversation. */
	get typing(): Record<string, TypingUser[]> {
		return this.#p.typing.byConversation;
	}
	/** Whether older messages remain to `loadOlder`. */
	get hasMore(): Record<string, boolean> {
		return this.#p.history.hasMore;
	}
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
		return this.#p.list.loaded;
	}
	/** The last background failure worth showing (start-up, inbox refresh); null when fine. */
	error = $state<string | null>(null);

	readonly keyring: Keyring;

	/** The signed-in user's composer drafts, sealed on this device (drafts.ts); null while signed out. */
	get drafts(): Drafts | null {
		return this.#drafts;
	}

	#idb: IDBFactory | undefined;
	#sb: SupabaseClient | null = null;
	#outbox: Outbox | null = null;
	#drafts: Drafts | null = null;
	#userChannel: RealtimeChannel | null = null;
	/** Conversations open in a window: their channels' message events are applied. */
	#openIds = new Set<string>();
	#opening = new Map<string, Promise<void>>();
	#wasConnected = false;
	#listeners: (() => void) | null = null;
	#generation = 0;
	/** The parts this store is a front over (parts.ts). */
	#p: Parts;

	constructor(options: ChatStoreOptions = {}) {
		this.#idb = options.indexedDB;
		this.keyring = options.keyring ?? new Keyring(options.indexedDB);
		// Restored or reset: what was unreadable opens, and what waited in the outbox for the key goes.
		this.keyring.onIdentityChange = () => {
			void this.redecrypt();
			void this.#p.sender.drain();
		};
		this.#p = createParts(
			{
				keyring: this.keyring,
				client: () => this.#client(),
				me: () => this.#me(),
				userId: () => this.userId,
				started: () => this.#sb !== null && this.userId !== null,
				browserOnline: () => this.browserOnline,
				outbox: () => this.#outbox,
				generation: () => this.#generation,
				isOpen: (id) => this.#openIds.has(id),
				opening: (id) => this.#opening.get(id),
				open: (id) => this.open(id),
				forget: (id) => this.#forgetConversation(id),
				watch: () => this.#watchList(),
				setTyping: (id, typing) => this.setTyping(id, typing)
			},
			options
		);
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
		this.#drafts = new Drafts(userId, this.#p.keys, this.#idb);
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
		void this.#p.search.start();
		try {
			await this.#p.pending.restore();
		} catch (err) {
			this.error = `The offline outbox is unavailable: ${errorMessage(err)}`;
		}
		this.#userChannel = await joinUserChannel(supabase, userId, this.#p.live.userTable(), (ch, up) => {
			if (this.#userChannel !== ch) return;
			this.connected = up;
			if (up && this.#wasConnected) void this.#onReconnect();
			if (up) this.#wasConnected = true;
		});
		if (generation !== this.#generation) return;
		try {
			await this.loadConversations();
		} catch (err) {
			this.error = errorMessage(err);
		}
		void this.#p.sender.drain();
	}

	/** Leaves every channel, stops timers and forgets the signed-in state (sign-out, page teardown). */
	stop(): void {
		this.#generation++;
		const sb = this.#sb;
		if (sb && this.#userChannel) void sb.removeChannel(this.#userChannel);
		this.#p.channels.leaveAll(sb);
		this.#openIds.clear();
		this.#opening.clear();
		this.#userChannel = null;
		this.#listeners?.();
		this.#listeners = null;
		const p = this.#p;
		for (const part of [p.receipts, p.keyRequests, p.live, p.typing, p.history, p.reactions, p.attachments])
			part.reset();
		for (const part of [p.list, p.timeline, p.presence, p.identities, p.trust]) part.reset();
		void this.#outbox?.close();
		void this.#p.search.stop();
		this.#outbox = null;
		void this.#drafts?.close();
		this.#drafts = null;
		this.#sb = null;
		this.#wasConnected = false;
		this.keyring.lock();
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
		await this.#p.sender.drain();
		await Promise.all([...this.#openIds].map((id) => this.#p.history.catchUp(id).catch(() => undefined)));
		this.#p.receipts.schedule();
	}

	#client(): SupabaseClient {
		if (!this.#sb) throw new ChatError('The chat is not started', 0, 'not_started');
		return this.#sb;
	}

	#me(): string {
		if (!this.userId) throw new ChatError('The chat is not started', 0, 'not_started');
		return this.userId;
	}

	// ---------------------------------------------------------------- conversations and history

	/** (Re)loads the conversation list with participants, unread counts and decrypted previews. */
	async loadConversations(): Promise<void> {
		const views = await this.#p.list.load();
		this.#p.receipts.listed(views, this.#me());
		void this.#watchList();
		this.#p.search.wake();
		await Promise.all(views.map((v) => this.#p.list.refreshPreview(v.id)));
	}

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
		const known = this.#p.list.get(conversationId);
		const warmKey = known ? this.#p.keys.held(conversationId, known.key_epoch).catch(() => null) : null;
		this.#p.timeline.ids(conversationId);
		await Promise.all([
			this.#p.channels.join(conversationId),
			this.#p.list.fetch(conversationId),
			this.#p.history.newest(conversationId),
			warmKey
		]);
		// Whose identity changed, and whom I verified: the window shows it and sending may wait.
		const members = (this.#p.list.participants[conversationId] ?? []).map((m) => m.user_id);
		void this.#p.trust.load(members).catch(() => undefined);
		if (!this.keyring.ready) return;
		// Members who joined, or had no public key when the epoch's key was made, get it from me;
		// and if the page showed rows of the current epoch I cannot open, I ask for mine (the
		// channel is joined now, which it may not have been when the page came in).
		void this.keyring.shareMissingKeys(conversationId).catch(() => undefined);
		this.#p.keyRequests.askFor(this.messagesOf(conversationId));
	}

	/**
	 * Closes a conversation (its messages stay cached). Its channel stays joined for the list's
	 * presence while it is among the watched conversations, and is left otherwise.
	 */
	close(conversationId: string): void {
		// Called from effect teardowns too: nothing read here may become a dependency.
		untrack(() => {
			this.setTyping(conversationId, false);
			this.#openIds.delete(conversationId);
			this.#opening.delete(conversationId);
			if (!this.#watchedIds().has(conversationId)) this.#unsubscribe(conversationId);
			this.#p.typing.clear(conversationId);
		});
	}

	#unsubscribe(conversationId: string) {
		if (this.#sb) this.#p.channels.leave(conversationId);
		this.#p.presence.left(conversationId);
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
		for (const id of this.#p.channels.ids()) {
			if (!watched.has(id) && !this.#openIds.has(id)) this.#unsubscribe(id);
			// The list may know of an epoch bump the channels missed (while offline).
			else this.#p.channels.follow(id);
		}
		await Promise.all([...watched].map((id) => this.#p.channels.join(id).catch(() => undefined)));
	}

	#forgetConversation(conversationId: string) {
		this.close(conversationId);
		this.#unsubscribe(conversationId);
		this.#p.list.remove(conversationId);
		this.#p.history.forget(conversationId);
		this.#p.search.forget(conversationId);
	}

	/** Loads up to one more page of older messages; resolves with how many arrived. */
	loadOlder(conversationId: string): Promise<number> {
		return this.#p.history.older(conversationId);
	}

	/** The loaded messages of a conversation in display order. */
	messagesOf(conversationId: string): MessageView[] {
		return this.#p.timeline.messagesOf(conversationId);
	}

	/**
	 * Why a message that does not open here stays closed (history-rule.ts): sent before I joined,
	 * waiting for a key that can still come, or unavailable for good. Reads reactive state, so the
	 * UI follows rule and epoch changes.
	 */
	lockedReason(message: MessageView): LockedReason {
		const c = this.#p.list.get(message.conversation_id);
		const mine = this.participants[message.conversation_id]?.find((p) => p.user_id === this.userId);
		return lockedReason(message, {
			key_epoch: c?.key_epoch,
			history_visibility: c?.history_visibility,
			joined_epoch: mine?.joined_epoch
		});
	}

	/** Decrypts every loaded message again (after the identity was restored on this device). */
	async redecrypt(): Promise<void> {
		// Includes outbox entries restored before the keys were available.
		await this.#p.timeline.redecryptWhere(() => true);
		// A restored or reset identity seals (and opens) the search index with another key.
		void this.#p.search.start();
		for (const c of this.conversations) {
			c.preview = null;
			void this.#p.list.refreshPreview(c.id);
		}
	}

	// ---------------------------------------------------------------- sending and changing messages

	/**
	 * Sends a text message: it shows at once as `pending` under a new client id (returned), is
	 * encrypted and queued in the outbox, and is replaced by the stored row once confirmed. A device
	 * without the identity key (`keyring.ready` false) refuses with `no_identity`, and so do the
	 * other sends.
	 */
	send(conversationId: string, text: string, options: { replyTo?: string | null } = {}): Promise<string> {
		if (!this.keyring.ready) return Promise.reject(noIdentityError());
		const replyTo = options.replyTo ?? null;
		return this.#p.pending.compose({ conversationId, text, type: 'text', attachment: null, replyTo });
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
		if (!this.keyring.ready) throw noIdentityError();
		if (!this.browserOnline) {
			throw new ChatError('Attachments need a connection: try again when you are online', 0, 'offline');
		}
		assertAttachmentSize(file);
		const mime = file.type || 'application/octet-stream';
		const type = options.kind ?? attachmentKind(mime);
		const content: AttachmentContent = {
			name: file.name || (type === 'voice' ? 'Voice message' : 'attachment'),
			mime,
			size: file.size,
			caption: options.caption?.trim() ?? ''
		};
		const { key, epoch } = await this.#p.keys.current(conversationId);
		const attachment = await this.#p.attachments.upload(conversationId, file, key, epoch);
		return this.#p.pending.compose({
			conversationId,
			text: JSON.stringify(content),
			type,
			attachment,
			replyTo: options.replyTo ?? null,
			beforeQueue: (id) => this.#p.attachments.showLocal(id, file)
		});
	}

	/**
	 * An object URL of a message's decrypted attachment: downloaded from Storage and opened with the
	 * conversation key once, then cached. Rejects with a ChatError a person can read.
	 */
	attachmentUrl(message: MessageView): Promise<string> {
		return this.#p.attachments.url(message);
	}

	/** Sends a `failed` message again. */
	retry(clientId: string): Promise<void> {
		if (!this.keyring.ready) return Promise.reject(noIdentityError());
		return this.#p.pending.retry(clientId);
	}

	/** Drops a `pending` or `failed` message that has not been stored. */
	discard(clientId: string): Promise<void> {
		return this.#p.pending.discard(clientId);
	}

	/** Replaces the text of my message (re-encrypted under the current epoch). */
	async edit(messageId: string, text: string): Promise<void> {
		const m = this.messagesById[messageId];
		if (!m || m.seq === null) throw new ChatError('That message is not stored yet', 404, 'message_not_found');
		const sealed = await this.#p.keys.seal(m.conversation_id, text, {
			kind: 'edit',
			clientId: m.client_id,
			messageType: m.message_type,
			replyToId: m.reply_to_id,
			attachment: attachmentRef(m.attachment)
		});
		const before = { text: m.text, undecryptable: m.undecryptable, signature: m.signature };
		Object.assign(m, { text, undecryptable: false });
		try {
			const mentions = mentionedUserIds(text, this.participants[m.conversation_id] ?? []);
			const row = normalizeMessage(
				await editMessage(this.#client(), { message_id: messageId, ...sealed, mentions })
			);
			this.#p.timeline.apply(row, { text, undecryptable: false, signature: 'verified' });
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
		const row = normalizeMessage(await deleteMessage(this.#client(), { message_id: messageId }));
		this.#p.timeline.apply(row, { text: null, undecryptable: false });
		// The tombstone no longer points at the file; its uploader removes it (others may not).
		this.#p.attachments.deleted(messageId, ref, before?.sender_id === this.userId);
	}

	/** Adds my reaction (shown at once, undone if the server refuses). */
	react(messageId: string, emoji: string): Promise<void> {
		return this.#p.reactions.mine(messageId, emoji, 'added');
	}

	/** Removes my reaction (restored if the server refuses). */
	unreact(messageId: string, emoji: string): Promise<void> {
		return this.#p.reactions.mine(messageId, emoji, 'removed');
	}

	// ---------------------------------------------------------------- typing and receipts

	/** Tells the others I am (or stopped) typing; throttled, and ends by itself after a silence. */
	setTyping(conversationId: string, typing: boolean): void {
		this.#p.typing.mine(conversationId, typing, (isTyping) => {
			if (!this.userId) return;
			const payload = { user_id: this.userId, display_name: this.#myName(), is_typing: isTyping };
			this.#p.channels.tell(conversationId, MEMBER_EVENTS.typing, payload);
		});
	}

	#myName(): string {
		for (const list of Object.values(this.participants)) {
			const p = list.find((x) => x.user_id === this.userId);
			if (p) return p.display_name || p.username || '';
		}
		return '';
	}

	/** Marks the conversation read up to its newest loaded message (call when it is visible at the bottom). */
	markSeen(conversationId: string): void {
		const seqs = this.#p.timeline.seqs(conversationId);
		const c = this.#p.list.get(conversationId);
		const newest = Math.max(seqs.at(-1) ?? 0, c?.last_message?.seq ?? 0);
		if (c) {
			c.unread_count = 0;
			c.unread_mentions = 0;
		}
		if (newest > 0) this.#p.receipts.queue(conversationId, 'read', newest);
	}

	/** Sends the gathered receipts now (one call per conversation and kind). */
	flushReceipts(): Promise<void> {
		return this.#p.receipts.flush();
	}

	// ---------------------------------------------------------------- notifications

	/**
	 * Sets which pushes I get from a conversation: `level` (all, only @mentions, none) and `mute`
	 * (a choice of notifications.ts, a stored `muted_until`, or null to unmute; undefined keeps the
	 * current mute). Shown at once; put back if the server refuses.
	 */
	async setNotificationLevel(
		conversationId: string,
		level: NotifyLevel,
		mute?: MuteChoice | string | null
	): Promise<void> {
		const c = this.#p.list.get(conversationId);
		if (!c) throw new ChatError('Conversation not found', 404, 'conversation_not_found');
		const before = { notify_level: c.notify_level, muted_until: c.muted_until };
		const mutedUntil =
			mute === undefined
				? c.muted_until
				: mute === '1h' || mute === '8h' || mute === 'forever'
					? muteUntil(mute)
					: mute;
		Object.assign(c, { notify_level: level, muted_until: normalizeMutedUntil(mutedUntil) });
		try {
			const row = await setNotificationLevel(this.#client(), {
				conversation_id: conversationId,
				notify_level: level,
				muted_until: mutedUntil
			});
			const now = this.#p.list.get(conversationId);
			if (now) {
				now.notify_level = normalizeNotifyLevel(row.notify_level);
				now.muted_until = normalizeMutedUntil(row.muted_until);
			}
		} catch (err) {
			const now = this.#p.list.get(conversationId);
			if (now) Object.assign(now, before);
			throw err;
		}
	}

	// ---------------------------------------------------------------- membership (membership.ts)

	/** Opens (or creates) the direct conversation with a user; resolves with its id. */
	startDirect(username: string): Promise<string> {
		return this.#p.membership.startDirect(username);
	}

	/** Creates a group with me as admin; resolves with its id. */
	createGroup(title: string, userIds: string[]): Promise<string> {
		return this.#p.membership.createGroup(title, userIds);
	}

	/** Adds a member and shares the current epoch's key with them. */
	addMember(conversationId: string, userId: string, role: Role = 'member'): Promise<void> {
		return this.#p.membership.add(conversationId, userId, role);
	}

	/** Removes a member (the key epoch bumps; the next message uses a fresh key they lack). */
	removeMember(conversationId: string, userId: string): Promise<void> {
		return this.#p.membership.remove(conversationId, userId);
	}

	setRole(conversationId: string, userId: string, role: Role): Promise<void> {
		return this.#p.membership.setRole(conversationId, userId, role);
	}

	/** Sets a group's history rule (admins only). */
	setHistoryVisibility(conversationId: string, rule: HistoryVisibility): Promise<void> {
		return this.#p.membership.setHistoryVisibility(conversationId, rule);
	}

	/** Leaves a conversation and drops it from the list. */
	leave(conversationId: string): Promise<void> {
		return this.#p.membership.leave(conversationId);
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
