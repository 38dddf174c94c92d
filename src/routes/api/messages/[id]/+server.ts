/**
 * `GET /api/messages/:conversationId?limit=&before=` (newest first), `?after=` (oldest first, catch-up)
 * or `?offset=` (newest first, skipping that many: seqs are gap-free, so it is a seq bound).
 * `PATCH /api/messages/:messageId` `{content_encrypted, encryption?}`: the sender edits.
 * `DELETE /api/messages/:messageId`: the sender or a moderator/admin deletes (tombstone returned).
 */
import type { RequestHandler } from './$types';
import { ApiError, fromPostgrest } from '../../../../lib/server/api/errors.ts';
import { body, json, parse, route, rpc } from '../../../../lib/server/api/handler.ts';
import { editMessageBody, idParam, messagesQuery, queryOf } from '../../../../lib/server/api/schemas.ts';

export const GET: RequestHandler = route(async ({ params, url }, supabase) => {
	const { id } = parse(idParam, params, 'invalid_params');
	const query = parse(messagesQuery, queryOf(url), 'invalid_query');
	let before = query.before;
	if (query.offset !== undefined) {
		const { data, error, status } = await supabase
			.from('conversations')
			.select('last_seq')
			.eq('id', id)
			.maybeSingle();
		if (error) throw fromPostgrest(error, status);
		if (!data) throw new ApiError('NotFoundError', 'conversation_not_found', 'Conversation not found.');
		before = Number(data.last_seq) - query.offset + 1;
		if (before <= 1) return json({ messages: [], has_more: false });
	}
	const messages = await rpc<unknown[]>(supabase, 'get_messages', {
		conversation_id: id,
		before_seq: before ?? null,
		after_seq: query.after ?? null,
		page_size: query.limit
	});
	return json({ messages, has_more: messages.length === query.limit });
});

export const PATCH: RequestHandler = route(async ({ params, request }, supabase) => {
	const { id } = parse(idParam, params, 'invalid_params');
	const input = await body(request, editMessageBody);
	return json(
		await rpc(supabase, 'edit_message', {
			message_id: id,
			content_encrypted: input.content_encrypted,
			encryption: input.encryption ?? null
		})
	);
});

export const DELETE: RequestHandler = route(async ({ params }, supabase) => {
	const { id } = parse(idParam, params, 'invalid_params');
	return json(await rpc(supabase, 'delete_message', { message_id: id }));
});
