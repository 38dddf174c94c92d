/** `POST /api/messages` `{conversation_id, content_encrypted, message_type?, client_id?, reply_to_id?, attachment?, encryption?}`. */
import type { RequestHandler } from './$types';
import { body, json, route, rpc } from '../../../lib/server/api/handler.ts';
import { sendMessageBody } from '../../../lib/server/api/schemas.ts';

export const POST: RequestHandler = route(async ({ request }, supabase) => {
	const input = await body(request, sendMessageBody);
	const message = await rpc(supabase, 'send_message', {
		conversation_id: input.conversation_id,
		content_encrypted: input.content_encrypted ?? null,
		message_type: input.message_type ?? 'text',
		client_id: input.client_id ?? null,
		reply_to_id: input.reply_to_id ?? null,
		attachment: input.attachment ?? null,
		encryption: input.encryption ?? null
	});
	return json(message, 201);
});
