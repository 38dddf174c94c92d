/** `POST /api/messages` `{conversation_id, content_encrypted, message_type?, client_id?, reply_to_id?, attachment?, encryption?, mentions?}`. */
import type { RequestHandler } from './$types';
import { body, json, route } from '#lib/server/api/handler.ts';
import { sendMessage } from '#lib/rpc.ts';
import type { Json } from '#lib/database.types.ts';
import { sendMessageBody } from '#lib/server/api/schemas.ts';

export const POST: RequestHandler = route(async ({ request }, supabase) => {
	const input = await body(request, sendMessageBody);
	const message = await sendMessage(supabase, {
		conversation_id: input.conversation_id,
		content_encrypted: input.content_encrypted ?? null,
		message_type: input.message_type ?? 'text',
		client_id: input.client_id ?? null,
		reply_to_id: input.reply_to_id ?? null,
		// zod checked these are objects; the JSON body they came from makes them Json.
		attachment: (input.attachment ?? null) as Json | null,
		encryption: (input.encryption ?? null) as Json | null,
		mentions: input.mentions ?? null
	});
	return json(message, 201);
});
