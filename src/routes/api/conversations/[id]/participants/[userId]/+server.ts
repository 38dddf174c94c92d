/**
 * `DELETE /api/conversations/:id/participants/:userId`: remove someone (or yourself: leave).
 * `PATCH /api/conversations/:id/participants/:userId` `{role}`: an admin changes a role.
 */
import type { RequestHandler } from './$types';
import { body, json, parse, route } from '#lib/server/api/handler.ts';
import { removeParticipant, setParticipantRole } from '#lib/rpc.ts';
import { participantParams, setRoleBody } from '#lib/server/api/schemas.ts';

export const DELETE: RequestHandler = route(async ({ params }, supabase) => {
	const { id, userId } = parse(participantParams, params, 'invalid_params');
	await removeParticipant(supabase, { conversation_id: id, user_id: userId });
	return new Response(null, { status: 204 });
});

export const PATCH: RequestHandler = route(async ({ params, request }, supabase) => {
	const { id, userId } = parse(participantParams, params, 'invalid_params');
	const input = await body(request, setRoleBody);
	return json(await setParticipantRole(supabase, { conversation_id: id, user_id: userId, role: input.role }));
});
