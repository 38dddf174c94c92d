/** `GET /api/conversations?limit=&before_activity=&before_id=`: the caller's conversations, newest activity first. */
import type { RequestHandler } from './$types';
import { json, parse, route } from '#lib/server/api/handler.ts';
import { listConversations } from '#lib/rpc.ts';
import { conversationsQuery, queryOf } from '#lib/server/api/schemas.ts';

interface ConversationItem {
	id: string;
	activity_at: string;
}

export const GET: RequestHandler = route(async ({ url }, supabase) => {
	const query = parse(conversationsQuery, queryOf(url), 'invalid_query');
	const conversations = (await listConversations(supabase, {
		before_activity: query.before_activity ?? null,
		before_id: query.before_id ?? null,
		page_size: query.limit
	})) as unknown as ConversationItem[];
	const last = conversations.at(-1);
	const next =
		conversations.length === query.limit && last
			? { before_activity: last.activity_at, before_id: last.id }
			: null;
	return json({ conversations, next });
});
