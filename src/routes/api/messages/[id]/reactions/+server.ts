/**
 * `POST /api/messages/:messageId/reactions` `{tag, emoji_sealed, nonce, epoch, sig}`: react with a
 * sealed emoji (src/lib/crypto/reactions.ts; the server never sees the emoji itself).
 * `DELETE /api/messages/:messageId/reactions` `{tag}` or `?tag=` (URL-encoded): take it back.
 */
import type { RequestHandler } from './$types';
import { body, json, parse, route } from '#lib/server/api/handler.ts';
import { addReaction, removeReaction } from '#lib/rpc.ts';
import { idParam, reactionBody, reactionTagBody } from '#lib/server/api/schemas.ts';

export const POST: RequestHandler = route(async ({ params, request }, supabase) => {
	const { id } = parse(idParam, params, 'invalid_params');
	const input = await body(request, reactionBody);
	return json(await addReaction(supabase, { message_id: id, ...input }), 201);
});

export const DELETE: RequestHandler = route(async ({ params, request, url }, supabase) => {
	const { id } = parse(idParam, params, 'invalid_params');
	const fromQuery = url.searchParams.get('tag');
	const input =
		fromQuery !== null
			? parse(reactionTagBody, { tag: fromQuery }, 'invalid_query')
			: await body(request, reactionTagBody);
	await removeReaction(supabase, { message_id: id, tag: input.tag });
	return new Response(null, { status: 204 });
});
