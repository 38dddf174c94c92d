/**
 * A conversation's history: `GET /api/conversations/:id/messages?limit=&before=` (newest first),
 * `?after=` (oldest first, catch-up) or `?offset=` (newest first, skipping that many: seqs are
 * gap-free, so it is a seq bound). The original design's `GET /api/messages/:conversationId` is
 * the same handler.
 */
import type { RequestEvent } from '@sveltejs/kit';
import { ApiError, fromPostgrest } from './errors.ts';
import { json, parse, route } from './handler.ts';
import { getMessages } from '#lib/rpc.ts';
import { idParam, messagesQuery, queryOf } from './schemas.ts';

export const history = route(async ({ params, url }: RequestEvent<{ id: string }>, supabase) => {
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
	const messages = await getMessages(supabase, {
		conversation_id: id,
		before_seq: before ?? null,
		after_seq: query.after ?? null,
		page_size: query.limit
	});
	return json({ messages, has_more: messages.length === query.limit });
});
