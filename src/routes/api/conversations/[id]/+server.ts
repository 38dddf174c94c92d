/** `GET /api/conversations/:id`: the conversation with its participants (404 unless the caller is one). */
import type { RequestHandler } from './$types';
import { json, parse, route, rpc } from '../../../../lib/server/api/handler.ts';
import { idParam } from '../../../../lib/server/api/schemas.ts';

export const GET: RequestHandler = route(async ({ params }, supabase) => {
	const { id } = parse(idParam, params, 'invalid_params');
	return json(await rpc(supabase, 'get_conversation', { conversation_id: id }));
});
