/** `POST /api/conversations/direct` `{user_id}`: the direct conversation with that user (created on first use). */
import type { RequestHandler } from './$types';
import { body, json, route } from '#lib/server/api/handler.ts';
import { createDirectConversation } from '#lib/rpc.ts';
import { directBody } from '#lib/server/api/schemas.ts';

export const POST: RequestHandler = route(async ({ request }, supabase) => {
	const input = await body(request, directBody);
	return json(await createDirectConversation(supabase, { other_user_id: input.user_id }));
});
