/** `GET /api/conversations/:id`: the conversation with its participants (404 unless the caller is one). */
import type { RequestHandler } from './$types';
import { json, parse, route } from '#lib/server/api/handler.ts';
import { getConversation } from '#lib/rpc.ts';
import { idParam } from '#lib/server/api/schemas.ts';

export const GET: RequestHandler = route(async ({ params }, supabase) => {
	const { id } = parse(idParam, params, 'invalid_params');
	return json(await getConversation(supabase, { conversation_id: id }));
});
