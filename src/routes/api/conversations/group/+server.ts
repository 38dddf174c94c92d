/** `POST /api/conversations/group` `{title, participant_ids}`: a new group; the caller is its admin. */
import type { RequestHandler } from './$types';
import { body, json, route } from '#lib/server/api/handler.ts';
import { createGroupConversation } from '#lib/rpc.ts';
import { groupBody } from '#lib/server/api/schemas.ts';

export const POST: RequestHandler = route(async ({ request }, supabase) => {
	const input = await body(request, groupBody);
	const conversation = await createGroupConversation(supabase, {
		title: input.title,
		participant_ids: input.participant_ids
	});
	return json(conversation, 201);
});
