/**
 * The parts ChatStore is a front over (docs/app-architecture.md), made and connected in one
 * place: each part's dependencies are other parts' methods or the host's, which is the store's
 * signed-in state (client, user, outbox, open conversations). Reading this file shows who tells
 * whom; what each part does is in its own module.
 */
import type { SupabaseClient } from '@supabase/supabase-js';
import { ContactTrust } from '../crypto/contact-trust.svelte.ts';
import { IdentityKeys } from '../crypto/identity-keys.ts';
import type { Keyring } from '../crypto/keyring.svelte.ts';
import { sendMessage } from '../rpc.ts';
import { createSearch } from '../search/chat-search.ts';
import type { Search } from '../search/search.svelte.ts';
import { Attachments } from './attachments.ts';
import { ConversationChannels } from './conversation-channels.ts';
import { ConversationKeys } from './conversation-keys.ts';
import { ConversationList } from './conversation-list.svelte.ts';
import { attachmentContent, normalizeMessage } from './derive.ts';
import { History } from './history.svelte.ts';
import { KeyRequests } from './key-requests.ts';
import { LiveEvents } from './live-events.ts';
import { refuseMember } from './live-guard.ts';
import { MEMBER_EVENTS } from './live.ts';
import { mentionedUserIds } from './mentions.ts';
import { Membership } from './membership.ts';
import type { Outbox } from './outbox.ts';
import { PendingMessages } from './pending.ts';
import { Presence } from './presence.svelte.ts';
import { Reactions } from './reactions.ts';
import { Receipts } from './receipts.ts';
import { Sender } from './sender.ts';
import { signedFieldsOfRow } from './signatures.ts';
import { Timeline } from './timeline.svelte.ts';
import type { MessageRow } from './types.ts';
import { Typing } from './typing.svelte.ts';

type Raw = Record<string, unknown>;

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

/** What the parts need of the store: its signed-in state and the steps that span several parts. */
export interface PartsHost {
	keyring: Keyring;
	/** The signed-in client (throws when signed out). */
	client(): SupabaseClient;
	/** The signed-in user (throws when signed out). */
	me(): string;
	userId(): string | null;
	started(): boolean;
	browserOnline(): boolean;
	outbox(): Outbox | null;
	/** Bumps on every sign-in and sign-out: work that outlives its session is dropped. */
	generation(): number;
	isOpen(conversationId: string): boolean;
	opening(conversationId: string): Promise<void> | undefined;
	open(conversationId: string): Promise<void>;
	/** I am out of a conversation: close it and drop it from the list. */
	forget(conversationId: string): void;
	/** The list changed: the watched conversations' channels follow. */
	watch(): Promise<void>;
	setTyping(conversationId: string, typing: boolean): void;
}

export interface Parts {
	keys: ConversationKeys;
	/** Other people's signing keys, to check who wrote what. */
	identities: IdentityKeys;
	/** Safety numbers: whom I verified, whose key changed. */
	trust: ContactTrust;
	list: ConversationList;
	reactions: Reactions;
	timeline: Timeline;
	history: History;
	sender: Sender;
	pending: PendingMessages;
	keyRequests: KeyRequests;
	attachments: Attachments;
	receipts: Receipts;
	typing: Typing;
	presence: Presence;
	membership: Membership;
	live: LiveEvents;
	channels: ConversationChannels;
	/** Search on the device: the sealed index of decrypted messages (src/lib/search). */
	search: Search;
}

/** Makes the parts; they reach each other lazily, so the order is only the reading order. */
export function createParts(host: PartsHost, options: ChatStoreOptions): Parts {
	const p = {} as Parts;
	const { keyring } = host;
	// The parts call RPCs through src/lib/rpc.ts with the signed-in client (a ChatError when refused).
	const client = () => host.client();
	const me = () => host.me();
	const fetch = (id: string) => p.list.fetch(id);
	const forget = (id: string) => host.forget(id);
	const isOpen = (id: string) => host.isOpen(id);
	const epochOf = (id: string) => p.list.get(id)?.key_epoch;
	const held = (id: string, epoch: number) => p.keys.held(id, epoch);
	const open = (id: string, epoch: number, ciphertext: string, nonce: string) =>
		p.keys.open(id, epoch, ciphertext, nonce);
	const participant = (id: string, userId: string | null) =>
		p.list.participants[id]?.find((x) => x.user_id === userId);

	p.keys = new ConversationKeys({
		keyring,
		me,
		epoch: async (id) => epochOf(id) ?? (await fetch(id)).key_epoch
	});
	p.identities = new IdentityKeys(() => host.client());
	p.trust = new ContactTrust({
		client: () => host.client(),
		me,
		keyring,
		identities: p.identities,
		indexedDB: options.indexedDB
	});
	p.list = new ConversationList({
		client,
		me,
		// A preview is only text in the list: its signature is checked when the timeline shows it.
		decrypt: (row) => p.timeline.decrypt(row, false),
		membersChanged: (id, members) => {
			// Someone who is no longer a member stops showing as typing, or present, at once.
			p.typing.keepOnly(id, members);
			p.presence.keepMembers(id, members);
			p.timeline.refreshStatuses(id);
		},
		// A newer epoch than the joined channels': move them (a no-op while none are joined).
		fetched: (id) => p.channels.follow(id)
	});
	p.reactions = new Reactions({
		client,
		me,
		key: held,
		verify: (userId, bytes, signature) => p.identities.checkStatement(userId, bytes, signature),
		sign: (bytes) => keyring.signStatement(bytes),
		message: (id) => {
			const m = p.timeline.messagesById[id];
			return m && { conversation_id: m.conversation_id, epoch: m.encryption?.epoch ?? null };
		},
		show: (id, reactions) => {
			const m = p.timeline.messagesById[id];
			if (m) m.reactions = reactions;
		}
	});
	p.timeline = new Timeline({
		me: () => host.userId(),
		key: held,
		verify: async (row) => {
			const fields = signedFieldsOfRow(row);
			return fields ? p.identities.check(fields, row.encryption?.sig) : 'unsigned';
		},
		participants: (id) => p.list.participants[id] ?? [],
		reactions: (id) => p.reactions.of(id),
		applied: (row, text) => {
			p.list.noteMessage(row, text);
			p.search.note(row, text);
		},
		merged: (rows) => merged(p, host.userId(), rows),
		opened: (m) => {
			const c = p.list.get(m.conversation_id);
			if (c && c.last_message?.id === m.id) c.preview = m.text;
			// The key that opened it may open its reactions too.
			void p.reactions.retry(m.id);
			if (m.seq !== null) p.search.note(m as MessageRow, m.text);
		}
	});
	p.history = new History({
		client,
		timeline: p.timeline,
		reactions: p.reactions,
		pageSize: options.pageSize ?? 50,
		isOpen,
		opening: (id) => host.opening(id),
		open: (id) => host.open(id)
	});
	p.sender = new Sender({
		outbox: () => host.outbox(),
		online: () => host.browserOnline(),
		identity: () => keyring.ready,
		mentions: (view) => {
			const text =
				view.message_type === 'text'
					? view.text
					: (attachmentContent(view.message_type, view.text)?.caption ?? null);
			return mentionedUserIds(text, p.list.participants[view.conversation_id] ?? []);
		},
		view: (id) => p.timeline.messagesById[id],
		seal: (id, text, context) => p.keys.seal(id, text, context),
		epochOf,
		open,
		send: async (entry) =>
			sendMessage(client(), {
				conversation_id: entry.conversation_id,
				content_encrypted: entry.content_encrypted,
				message_type: entry.message_type,
				client_id: entry.client_id,
				reply_to_id: entry.reply_to_id,
				attachment: entry.attachment ?? null,
				encryption: entry.encryption,
				// Whoever left while it waited is no longer mentioned (the database would refuse them).
				mentions: (entry.mentions ?? []).filter((id) => !!participant(entry.conversation_id, id))
			}),
		stored: (row) => p.timeline.ingest([normalizeMessage(row)]),
		failed: (id, error) => p.pending.failed(id, error)
	});
	p.pending = new PendingMessages({
		me,
		outbox: () => host.outbox(),
		timeline: p.timeline,
		sender: p.sender,
		open,
		composed: (id) => host.setTyping(id, false)
	});
	p.keyRequests = new KeyRequests({
		// Whoever holds the key and is online wraps it for me; `key_added` on my user topic says so.
		ask: (id, epoch) => {
			const userId = host.userId();
			return !!userId && p.channels.tell(id, MEMBER_EVENTS.keyRequest, { user_id: userId, epoch });
		},
		share: (id) => keyring.shareMissingKeys(id),
		ready: () => keyring.ready,
		epochOf,
		rule: (id) => p.list.get(id)?.history_visibility
	});
	p.attachments = new Attachments({ client, key: held });
	p.receipts = new Receipts({
		client,
		started: () => host.started(),
		mine: (id) => participant(id, host.userId()),
		delayMs: options.receiptDelayMs ?? 500
	});
	p.typing = new Typing({
		throttleMs: options.typingThrottleMs ?? 2000,
		timeoutMs: options.typingTimeoutMs ?? 4000,
		idleMs: options.typingIdleMs ?? 4000
	});
	p.presence = new Presence();
	p.membership = new Membership({ client, me, keyring, fetch, forget });
	p.live = new LiveEvents({
		me,
		list: () => p.list,
		timeline: () => p.timeline,
		channels: () => p.channels,
		reactions: () => p.reactions,
		receipts: () => p.receipts,
		keyRequests: () => p.keyRequests,
		client,
		isOpen,
		catchUp: (id) => p.history.catchUp(id),
		forget,
		watch: () => host.watch(),
		keyRequested: (id, payload) => p.keyRequests.heard(id, payload.user_id, host.userId()),
		typing: (id, payload) =>
			p.typing.heard(id, payload, host.userId(), (u) =>
				refuseMember(u, p.live.known(id)) ? undefined : (participant(id, u) ?? null)
			),
		presence: (id, channel) => p.presence.update(id, channel, p.live.known(id).members),
		presenceLeft: (id) => p.presence.left(id),
		shareKeyWith: async (id, epoch, userId) => {
			if (!keyring.ready) return;
			const key = await keyring.cachedConversationKey(id, epoch);
			if (key) await keyring.shareConversationKey(id, epoch, [userId]).catch(() => undefined);
		}
	});
	p.channels = new ConversationChannels(
		{
			client,
			me,
			epochOf,
			load: fetch,
			isOpen,
			generation: () => host.generation(),
			currentEpochs: async (ids) => {
				const { data, error } = await host
					.client()
					.from('conversations')
					.select('id, key_epoch')
					.in('id', ids);
				if (error || !Array.isArray(data)) return null;
				return new Map((data as Raw[]).map((r) => [String(r.id), Number(r.key_epoch)]));
			}
		},
		p.live.table()
	);
	p.search = createSearch(host, p, options);
	return p;
}

/** What follows a merge: delivery receipts for others' messages, their typing ends, missing keys asked for. */
function merged(p: Parts, me: string | null, rows: MessageRow[]): void {
	const delivered = new Map<string, number>();
	for (const row of rows) {
		if (row.sender_id === me) continue;
		delivered.set(row.conversation_id, Math.max(delivered.get(row.conversation_id) ?? 0, row.seq));
		p.typing.stop(row.conversation_id, row.sender_id);
	}
	for (const [id, seq] of delivered) p.receipts.queue(id, 'delivered', seq);
	// A row of the current epoch that does not open means my key for it is missing: ask for it.
	p.keyRequests.askFor(rows.map((row) => p.timeline.messagesById[row.id]));
}
