/**
 * My user channel, `user:<me>` (receive-only): the inbox, conversations I was added to or removed
 * from, and keys given to me, routed by a table from event name to handler (live-events.ts builds
 * it). Its subscription status is the store's "connected": every conversation channel shares the
 * socket, so this one going up again is the reconnect.
 */
import type { RealtimeChannel, SupabaseClient } from '@supabase/supabase-js';
import { freshChannel } from './conversation-channels.ts';
import { userTopic } from './live.ts';

/** What each event on my user topic does with its payload as it arrived, unchecked (live-events.ts decodes it). */
export type UserEvents = Record<string, (payload: unknown) => unknown>;

/** Joins `user:<me>`; `status(channel, up)` follows its subscription. */
export async function joinUserChannel(
	sb: SupabaseClient,
	userId: string,
	events: UserEvents,
	status: (channel: RealtimeChannel, up: boolean) => void
): Promise<RealtimeChannel> {
	const ch = await freshChannel(sb, userTopic(userId), { config: { private: true } });
	for (const [event, handle] of Object.entries(events)) {
		ch.on('broadcast', { event }, ({ payload }) => {
			void Promise.resolve(handle(payload)).catch(() => undefined);
		});
	}
	ch.subscribe((s) => status(ch, s === 'SUBSCRIBED'));
	return ch;
}
