/** `GET /api/conversations/:id/messages`: the conversation's history (see history.ts). */
import type { RequestHandler } from './$types';
import { history } from '#lib/server/api/history.ts';

export const GET: RequestHandler = history;
