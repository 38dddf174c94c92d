/**
 * `POST /api/messages/:messageId/reactions` `{emoji}`: react.
 * `DELETE /api/messages/:messageId/reactions` `{emoji}` or `?emoji=`: take the reaction back.
 */
import type { RequestHandler } from './$types';
import { body, json, parse, route } from '../../../../../lib/server/api/handler.ts';
import { addReaction, removeReaction } from '../../../../../lib/rpc.ts';
import { idParam, reactionBody } from '../../../../../lib/server/api/schemas.ts';

export const POST: RequestHandler = route(async ({ params, request }, supabase) => {
	const { id } = parse(idParam, params, 'invalid_params');
	const input = await body(request, reactionBody);
	return json(await addReaction(supabase, { message_id: id, emoji: input.emoji }), 201);
});

export const DELETE: RequestHandler = route(async ({ params, request, url }, supabase) => {
	const { id } = parse(idParam, params, 'invalid_params');
	const fromQuery = url.searchParams.get('emoji');
	const input =
		fromQuery !== null
			? parse(reactionBody, { emoji: fromQuery }, 'invalid_query')
			: await body(request, reactionBody);
	await removeReaction(supabase, { message_id: id, emoji: input.emoji });
	return new Response(null, { status: 204 });
});
