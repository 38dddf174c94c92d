import { IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { newConversationKey, sealText } from '../crypto/e2ee.ts';
import { normalizeConversation, normalizeParticipant } from './derive.ts';
import {
	HISTORY_RULES,
	LOCKED_TEXT,
	historyRuleLabel,
	keyMayArrive,
	lockedReason,
	type KeyExpectations
} from './history-rule.ts';
import { KEY_SHARE_DELAY_MS } from './key-requests.ts';
import { conversationTopic, membersTopic } from './live.ts';
import { ChatStore } from './store.svelte.ts';
import { FakeChatServer } from './testing/fake-chat-server.ts';

const at = (epoch: number) => ({ encryption: { epoch, nonce: 'n' } });
/** The group (a uuid: live payloads name conversations by theirs). */
const G = '3f1c2a4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b';

describe('why a message does not open', () => {
	const joined: KeyExpectations = { key_epoch: 4, history_visibility: 'joined', joined_epoch: 3 };
	const shared: KeyExpectations = { ...joined, history_visibility: 'shared' };

	it("under 'joined': before my joining, never; the current epoch's key, still; an epoch that is over, never", () => {
		expect([1, 2, 3, 4, 5].map((e) => lockedReason(at(e), joined))).toEqual([
			'before_join',
			'before_join',
			'unavailable',
			'waiting',
			'waiting'
		]);
		expect([1, 3, 4].map((e) => keyMayArrive(e, joined))).toEqual([false, false, true]);
	});

	it("under 'shared': every epoch's key may still come from a member who holds it", () => {
		expect([1, 2, 3, 4].map((e) => lockedReason(at(e), shared))).toEqual([
			'waiting',
			'waiting',
			'waiting',
			'waiting'
		]);
		expect(keyMayArrive(1, shared)).toBe(true);
	});

	it('waits while the conversation is not known, and never for a message without encryption facts', () => {
		expect(lockedReason(at(1), {})).toBe('waiting');
		expect(lockedReason({ encryption: null }, joined)).toBe('unavailable');
		// A founder (joined_epoch unknown: 1) has nothing from before.
		expect(lockedReason(at(1), { key_epoch: 2, history_visibility: 'joined' })).toBe('unavailable');
	});

	it('says why in words, and names both rules', () => {
		expect(LOCKED_TEXT.before_join).toBe('Sent before you joined');
		expect(LOCKED_TEXT.waiting).toMatch(/^Waiting for a member to share/);
		expect(LOCKED_TEXT.unavailable).not.toMatch(/waiting/i);
		expect(HISTORY_RULES.map((r) => r.value)).toEqual(['joined', 'shared']);
		expect(historyRuleLabel('joined')).toBe('New members see messages from when they join');
		expect(historyRuleLabel('shared')).toBe('New members can read the history');
	});

	it('reads the rule and joined_epoch from the database rows (joined and 1 when absent)', () => {
		expect(normalizeConversation({ id: 'c', history_visibility: 'shared' }).history_visibility).toBe(
			'shared'
		);
		expect(normalizeConversation({ id: 'c' }).history_visibility).toBe('joined');
		expect(normalizeConversation({ id: 'c', history_visibility: 'bogus' }).history_visibility).toBe('joined');
		expect(normalizeParticipant({ user_id: 'u', joined_epoch: 3 }).joined_epoch).toBe(3);
		expect(normalizeParticipant({ user_id: 'u' }).joined_epoch).toBe(1);
	});
});

const stores: ChatStore[] = [];
afterEach(() => {
	vi.useRealTimers();
	for (const s of stores.splice(0)) s.stop();
});

describe('the timeline of a member who joined later', () => {
	/** Dev joined a group at epoch 2; it is at epoch 3 now; one message of each epoch, none of whose keys he holds. */
	async function devsView() {
		const server = new FakeChatServer();
		for (const id of ['ana', 'dev']) server.addUser(id);
		server.addConversation(G, 'group', ['ana', 'dev'], 'Team');
		server.conversation(G).key_epoch = 3;
		server.participant(G, 'dev')!.joined_epoch = 2;
		for (const epoch of [1, 2, 3]) {
			const sealed = sealText(newConversationKey(), `sealed at ${epoch}`);
			server.insertMessage('ana', {
				conversation_id: G,
				content_encrypted: sealed.ciphertext,
				encryption: { epoch, nonce: sealed.nonce }
			});
		}
		const dev = server.client('dev');
		const store = new ChatStore({ indexedDB: new IDBFactory(), receiptDelayMs: 5 });
		stores.push(store);
		await store.start(dev.client, 'dev');
		dev.channelFor('user:dev')!.setStatus('SUBSCRIBED');
		await store.open(G);
		const reasons = () => store.messagesOf(G).map((m) => (m.undecryptable ? store.lockedReason(m) : m.text));
		return { server, dev, store, reasons };
	}

	it("under 'joined' says which messages came before him, waits only for the current epoch's key and asks only for it", async () => {
		const { dev, reasons } = await devsView();
		expect(reasons()).toEqual(['before_join', 'unavailable', 'waiting']);
		const asks = dev.channelFor(membersTopic(G, 3))!.sent.filter((m) => m.event === 'key_request');
		expect(asks.map((m) => m.payload)).toEqual([{ user_id: 'dev', epoch: 3 }]);
	});

	it("follows a switch to 'shared': everything may still come, and he offers what he holds", async () => {
		vi.useFakeTimers({ shouldAdvanceTime: true });
		const { dev, reasons } = await devsView();
		dev.rpcHandlers.members_missing_key = () => [];
		// Opening asked once already (members who lack a key I hold); the switch asks again.
		const before = dev.callsOf('members_missing_key').length;
		dev.channelFor(conversationTopic(G, 3))!.emit('history_visibility_changed', {
			conversation_id: G,
			history_visibility: 'shared'
		});
		expect(reasons()).toEqual(['waiting', 'waiting', 'waiting']);
		vi.advanceTimersByTime(KEY_SHARE_DELAY_MS);
		await vi.waitFor(() =>
			expect(dev.callsOf('members_missing_key').slice(before)).toEqual([{ conversation_id: G }])
		);
		// Malformed or misaddressed, the event changes nothing.
		dev.channelFor(conversationTopic(G, 3))!.emit('history_visibility_changed', {
			conversation_id: G,
			history_visibility: 'everyone'
		});
		dev.channelFor(conversationTopic(G, 3))!.emit('history_visibility_changed', {
			conversation_id: '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
			history_visibility: 'joined'
		});
		expect(reasons()).toEqual(['waiting', 'waiting', 'waiting']);
	});
});
