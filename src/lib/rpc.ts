/**
 * The typed RPC seam: one function per SQL function the app calls through supabase-js, its
 * arguments and result typed from the generated `Database` (src/lib/database.types.ts, see
 * `npm run gen:types`). Each resolves with the function's data or throws a `ChatError` (the
 * status, the stable `detail` code and the SQLSTATE of the refusal, see chat/errors.ts), as
 * `unwrap` does for every other call; `/api` routes turn that into their error body.
 */
import type { SupabaseClient } from '@supabase/supabase-js';
import type { Database } from './database.types.ts';
import { ChatError, unwrap, type SupabaseResult } from './chat/errors.ts';

type Functions = Database['public']['Functions'];
export type RpcName = keyof Functions;

/**
 * A function's arguments. Any of them may be null: SQL functions take NULL for any argument (the
 * generator types only the values), and a NULL asks for the function's "none" (no cursor, no reply).
 */
export type RpcArgs<N extends RpcName> = {
	[K in keyof Functions[N]['Args']]: Functions[N]['Args'][K] | null;
};
/** What a function answers: a row, an array of rows for a set-returning one, Json, or undefined for void. */
export type RpcReturns<N extends RpcName> = Functions[N]['Returns'];

/** Any supabase-js client, typed with `Database` or not (the test fakes pose as one). */
export type RpcClient = Pick<SupabaseClient, 'rpc'>;

/** Arguments are optional exactly when the function takes none that are required. */
type ArgsParam<N extends RpcName> =
	Record<never, never> extends RpcArgs<N> ? [args?: RpcArgs<N>] : [args: RpcArgs<N>];

/** Calls `name`; the data, or a ChatError. */
export async function callRpc<N extends RpcName>(
	client: RpcClient,
	name: N,
	...[args]: ArgsParam<N>
): Promise<RpcReturns<N>> {
	// The one untyped step: supabase-js's own overloads cannot follow a generic name.
	const result = (await client.rpc(name, args ?? {})) as SupabaseResult<RpcReturns<N>>;
	return unwrap(result);
}

/**
 * The ChatError a call was refused with, or null once it succeeded: for a caller with more to do
 * before it reports the refusal. Anything else a call throws is not a refusal and is rethrown.
 */
export async function refusal(call: Promise<unknown>): Promise<ChatError | null> {
	try {
		await call;
		return null;
	} catch (error) {
		if (error instanceof ChatError) return error;
		throw error;
	}
}

/** The function `callRpc(client, name, args)` for one name. */
function rpc<N extends RpcName>(name: N) {
	return (client: RpcClient, ...args: ArgsParam<N>): Promise<RpcReturns<N>> => callRpc(client, name, ...args);
}

// Profiles and conversations.
export const findProfile = rpc('find_profile');
export const listConversations = rpc('list_conversations');
export const getConversation = rpc('get_conversation');
export const createDirectConversation = rpc('create_direct_conversation');
export const createGroupConversation = rpc('create_group_conversation');
export const addParticipant = rpc('add_participant');
export const removeParticipant = rpc('remove_participant');
export const setParticipantRole = rpc('set_participant_role');
export const setHistoryVisibility = rpc('set_history_visibility');
export const leaveConversation = rpc('leave_conversation');
export const setNotificationLevel = rpc('set_notification_level');

// Messages and receipts.
export const sendMessage = rpc('send_message');
export const getMessages = rpc('get_messages');
export const editMessage = rpc('edit_message');
export const deleteMessage = rpc('delete_message');
export const markRead = rpc('mark_read');
export const markDelivered = rpc('mark_delivered');
export const markMessageStatus = rpc('mark_message_status');

// Reactions.
export const getReactions = rpc('get_reactions');
export const addReaction = rpc('add_reaction');
export const removeReaction = rpc('remove_reaction');

// Conversation keys.
export const publishConversationKeys = rpc('publish_conversation_keys');
export const membersMissingKey = rpc('members_missing_key');

// Web Push.
export const getVapidPublicKey = rpc('get_vapid_public_key');
export const savePushSubscription = rpc('save_push_subscription');
export const deletePushSubscription = rpc('delete_push_subscription');
