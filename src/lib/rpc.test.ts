import { describe, expect, it } from 'vitest';
import { ChatError } from './chat/errors.ts';
import { FakeRpcError, FakeSupabase } from './chat/testing/fake-supabase.ts';
import { getVapidPublicKey, markRead, sendMessage } from './rpc.ts';

describe('the typed RPC seam', () => {
	it('calls the function by its SQL name with the arguments and resolves with its data', async () => {
		const client = new FakeSupabase('alice');
		client.rpcHandlers.mark_read = (args) => ({ conversation_id: args.conversation_id, last_read_seq: 4 });
		expect(await markRead(client.client, { conversation_id: 'c1', up_to_seq: 4 })).toEqual({
			conversation_id: 'c1',
			last_read_seq: 4
		});
		expect(client.rpcCalls).toEqual([{ name: 'mark_read', args: { conversation_id: 'c1', up_to_seq: 4 } }]);
	});

	it('sends no arguments as an empty object', async () => {
		const client = new FakeSupabase('alice');
		client.rpcHandlers.get_vapid_public_key = () => 'BKey';
		expect(await getVapidPublicKey(client.client)).toBe('BKey');
		expect(client.callsOf('get_vapid_public_key')).toEqual([{}]);
	});

	it('throws a refusal as a ChatError with its status, machine code and SQLSTATE', async () => {
		const client = new FakeSupabase('alice');
		client.rpcHandlers.send_message = () => {
			throw new FakeRpcError(403, 'not_a_member', 'You are not in this conversation');
		};
		const error = await sendMessage(client.client, { conversation_id: 'c1', content_encrypted: 'x' }).catch(
			(e: unknown) => e
		);
		expect(error).toBeInstanceOf(ChatError);
		expect(error).toMatchObject({
			message: 'You are not in this conversation',
			status: 403,
			detail: 'not_a_member',
			code: 'PT403'
		});
	});

	it('throws an unreachable server as a network ChatError', async () => {
		const client = new FakeSupabase('alice');
		client.offline = true;
		const error = await markRead(client.client, { conversation_id: 'c1', up_to_seq: 1 }).catch((e) => e);
		expect(error).toBeInstanceOf(ChatError);
		expect((error as ChatError).network).toBe(true);
	});
});
