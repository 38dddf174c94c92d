/** `POST /api/conversations/:id/participants` `{user_id, role?}`: an admin adds someone to a group. */
import type { RequestHandler } from './$types';
import { body, json, parse, route } from '#lib/server/api/handler.ts';
import { addParticipant } from '#lib/rpc.ts';
import { addParticipantBody, idParam } from '#lib/server/api/schemas.ts';

export const POST: RequestHandler = route(async ({ params, request }, supabase) => {
	const { id } = parse(idParam, params, 'invalid_params');
	const input = await body(request, addParticipantBody);
	const participant = await addParticipant(supabase, {
		conversation_id: id,
		user_id: input.user_id,
		role: input.role ?? 'member'
	});
	return json(participant, 201);
});
