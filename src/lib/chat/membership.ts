/**
 * Starting conversations and changing who is in them: a direct conversation by username, a group,
 * adding (and giving the newcomer the keys the group's history rule allows), removing, changing a
 * role or the history rule, and leaving. The database decides who may; this part calls its RPCs
 * and brings the list up to date after each.
 */
import type { Keyring } from '../crypto/keyring.svelte.ts';
import { ChatError } from './errors.ts';
import type { ConversationView, HistoryVisibility, Role } from './types.ts';

type Raw = Record<string, unknown>;

export interface MembershipDeps {
	rpc<T>(name: string, args: Raw): Promise<T>;
	/** The signed-in user (throws when signed out). */
	me(): string;
	keyring: Keyring;
	/** Fetches one conversation into the list. */
	fetch(conversationId: string): Promise<ConversationView>;
	/** I am out of a conversation: close it and drop it from the list. */
	forget(conversationId: string): void;
}

export class Membership {
	#deps: MembershipDeps;

	constructor(deps: MembershipDeps) {
		this.#deps = deps;
	}

	/** Opens (or creates) the direct conversation with a user; resolves with its id. */
	async startDirect(username: string): Promise<string> {
		const { rpc, me, fetch } = this.#deps;
		const profile = await rpc<Raw>('find_profile', { username: username.trim().toLowerCase() });
		if (profile.id === me()) throw new ChatError('That is you', 400, 'cannot_message_self');
		const row = await rpc<Raw>('create_direct_conversation', { other_user_id: profile.id });
		return (await fetch(String(row.id))).id;
	}

	/** Creates a group with me as admin; resolves with its id. */
	async createGroup(title: string, userIds: string[]): Promise<string> {
		const row = await this.#deps.rpc<Raw>('create_group_conversation', { title, participant_ids: userIds });
		return (await this.#deps.fetch(String(row.id))).id;
	}

	/**
	 * Adds a member and shares what the history rule lets them read: under `joined` the addition
	 * moved the epoch, whose key the next sender makes for everyone, them included; under `shared`
	 * the current epoch's key and every earlier one I hold.
	 */
	async add(conversationId: string, userId: string, role: Role): Promise<void> {
		const { keyring } = this.#deps;
		await this.#deps.rpc('add_participant', { conversation_id: conversationId, user_id: userId, role });
		const view = await this.#deps.fetch(conversationId);
		// Without this they could not read the epoch's messages until the next rotation.
		await keyring.shareConversationKey(conversationId, view.key_epoch, [userId]).catch(() => undefined);
		if (view.history_visibility === 'shared')
			await keyring.shareMissingKeys(conversationId).catch(() => undefined);
	}

	/** Sets the group's history rule (admins only); for `shared`, gives the earlier keys I hold to members who lack them. */
	async setHistoryVisibility(conversationId: string, rule: HistoryVisibility): Promise<void> {
		await this.#deps.rpc('set_history_visibility', {
			conversation_id: conversationId,
			history_visibility: rule
		});
		await this.#deps.fetch(conversationId);
		if (rule === 'shared') await this.#deps.keyring.shareMissingKeys(conversationId).catch(() => undefined);
	}

	/** Removes a member (the key epoch bumps; the next message uses a fresh key they lack). */
	async remove(conversationId: string, userId: string): Promise<void> {
		await this.#deps.rpc('remove_participant', { conversation_id: conversationId, user_id: userId });
		await this.#deps.fetch(conversationId);
	}

	async setRole(conversationId: string, userId: string, role: Role): Promise<void> {
		await this.#deps.rpc('set_participant_role', { conversation_id: conversationId, user_id: userId, role });
		await this.#deps.fetch(conversationId);
	}

	/** Leaves a conversation and drops it from the list. */
	async leave(conversationId: string): Promise<void> {
		await this.#deps.rpc('leave_conversation', { conversation_id: conversationId });
		this.#deps.forget(conversationId);
	}
}
