/**
 * `GET /api/messages/:conversationId` (history, as `/api/conversations/:id/messages`; kept because
 * the original design documents it).
 * `PATCH /api/messages/:messageId` `{content_encrypted, encryption?, mentions?}`: the sender edits
 * (`mentions` replaces whom it mentions; left out, they stay).
 * `DELETE /api/messages/:messageId`: the sender or a moderator/admin deletes (tombstone returned).
 */
import type { RequestHandler } from './$types';
import { body, json, parse, route } from '#lib/server/api/handler.ts';
import { editMessage, deleteMessage } from '#lib/rpc.ts';
import type { Json } from '#lib/database.types.ts';
import { history } from '#lib/server/api/history.ts';
import { editMessageBody, idParam } from '#lib/server/api/schemas.ts';

/** The original design's path for history; `/api/conversations/:id/messages` is the same. */
export const GET: RequestHandler = history;

export const PATCH: RequestHandler = route(async ({ params, request }, supabase) => {
	const { id } = parse(idParam, params, 'invalid_params');
	const input = await body(request, editMessageBody);
	return json(
		await editMessage(supabase, {
			message_id: id,
			content_encrypted: input.content_encrypted,
			// zod checked an object; the JSON body it came from makes it Json.
			encryption: (input.encryption ?? null) as Json | null,
			mentions: input.mentions ?? null
		})
	);
});

export const DELETE: RequestHandler = route(async ({ params }, supabase) => {
	const { id } = parse(idParam, params, 'invalid_params');
	return json(await deleteMessage(supabase, { message_id: id }));
});
