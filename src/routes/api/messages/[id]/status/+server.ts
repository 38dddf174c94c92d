/** `POST /api/messages/:messageId/status` `{status: 'delivered' | 'read'}`: moves the caller's watermark up to that message. */
import type { RequestHandler } from './$types';
import { body, json, parse, route } from '#lib/server/api/handler.ts';
import { markMessageStatus } from '#lib/rpc.ts';
import { idParam, statusBody } from '#lib/server/api/schemas.ts';

export const POST: RequestHandler = route(async ({ params, request }, supabase) => {
	const { id } = parse(idParam, params, 'invalid_params');
	const input = await body(request, statusBody);
	return json(await markMessageStatus(supabase, { message_id: id, status: input.status }));
});
