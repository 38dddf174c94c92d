/**
 * Starting conversations and changing who is in them: a direct conversation by username, a group,
 * adding (and giving the newcomer the keys the group's history rule allows), removing, changing a
 * role or the history rule, and leaving. The database decides who may; this part calls its RPCs
 * and brings the list up to date after each.
 */
import type { Keyring } from '../crypto/keyring.svelte.ts';
import {
	addParticipant,
	createDirectConversation,
	createGroupConversation,
	findProfile,
	leaveConversation,
	removeParticipant,
	setHistoryVisibility,
	setParticipantRole,
	type RpcClient
} from '../rpc.ts';
import { ChatError } from './errors.ts';
import type { ConversationView, HistoryVisibility, Role } from './types.ts';

export interface MembershipDeps {
	/** The signed-in client, for the membership RPCs. */
	client(): RpcClient;
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
		const { client, me, fetch } = this.#deps;
		const profile = await findProfile(client(), { username: username.trim().toLowerCase() });
		if (profile.id === me()) throw new ChatError('That is you', 400, 'cannot_message_self');
		const row = await createDirectConversation(client(), { other_user_id: profile.id });
		return (await fetch(row.id)).id;
	}

	/** Creates a group with me as admin; resolves with its id. */
	async createGroup(title: string, userIds: string[]): Promise<string> {
		const row = await createGroupConversation(this.#deps.client(), { title, participant_ids: userIds });
		return (await this.#deps.fetch(row.id)).id;
	}

	/**
	 * Adds a member and shares what the history rule lets them read: under `joined` the addition
	 * moved the epoch, whose key the next sender makes for everyone, them included; under `shared`
	 * the current epoch's key and every earlier one I hold.
	 */
	async add(conversationId: string, userId: string, role: Role): Promise<void> {
		const { keyring } = this.#deps;
		await addParticipant(this.#deps.client(), { conversation_id: conversationId, user_id: userId, role });
		const view = await this.#deps.fetch(conversationId);
		// Without this they could not read the epoch's messages until the next rotation.
		await keyring.shareConversationKey(conversationId, view.key_epoch, [userId]).catch(() => undefined);
		if (view.history_visibility === 'shared')
			await keyring.shareMissingKeys(conversationId).catch(() => undefined);
	}

	/** Sets the group's history rule (admins only); for `shared`, gives the earlier keys I hold to members who lack them. */
	async setHistoryVisibility(conversationId: string, rule: HistoryVisibility): Promise<void> {
		await setHistoryVisibility(this.#deps.client(), {
			conversation_id: conversationId,
			history_visibility: rule
		});
		await this.#deps.fetch(conversationId);
		if (rule === 'shared') await this.#deps.keyring.shareMissingKeys(conversationId).catch(() => undefined);
	}

	/** Removes a member (the key epoch bumps; the next message uses a fresh key they lack). */
	async remove(conversationId: string, userId: string): Promise<void> {
		await removeParticipant(this.#deps.client(), { conversation_id: conversationId, user_id: userId });
		await this.#deps.fetch(conversationId);
	}

	async setRole(conversationId: string, userId: string, role: Role): Promise<void> {
		await setParticipantRole(this.#deps.client(), { conversation_id: conversationId, user_id: userId, role });
		await this.#deps.fetch(conversationId);
	}

	/** Leaves a conversation and drops it from the list. */
	async leave(conversationId: string): Promise<void> {
		await leaveConversation(this.#deps.client(), { conversation_id: conversationId });
		this.#deps.forget(conversationId);
	}
}
