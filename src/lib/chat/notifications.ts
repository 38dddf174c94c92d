/**
 * Notification levels and mutes, pure: the choices a person has (all / mentions / none; mute for
 * 1 h, 8 h or until turned back on), the `muted_until` each choice stores, and how a conversation's
 * settings read in the UI. The database decides the pushes from the same two fields
 * (`delivery.wants_push`, supabase/migrations/20261202000600_mentions_notifications.sql).
 */
import type { NotifyLevel } from './types.ts';

export const NOTIFY_LEVELS: readonly NotifyLevel[] = ['all', 'mentions', 'none'];

export const NOTIFY_LEVEL_LABELS: Record<NotifyLevel, string> = {
	all: 'All messages',
	mentions: 'Only @mentions',
	none: 'Nothing'
};

/** How long a mute lasts: an hour, eight hours, or until turned back on. */
export type MuteChoice = '1h' | '8h' | 'forever';

export const MUTE_CHOICES: readonly MuteChoice[] = ['1h', '8h', 'forever'];

export const MUTE_LABELS: Record<MuteChoice, string> = {
	'1h': 'For 1 hour',
	'8h': 'For 8 hours',
	forever: 'Until I turn it back on'
};

/** What Postgres calls a time after every other (`'infinity'::timestamptz`), as JSON gives it. */
export const FOREVER = 'infinity';

const HOUR_MS = 3600_000;

/** The `muted_until` a mute choice stores, from `now`. */
export function muteUntil(choice: MuteChoice, now: number = Date.now()): string {
	if (choice === 'forever') return FOREVER;
	return new Date(now + (choice === '1h' ? 1 : 8) * HOUR_MS).toISOString();
}

/** Whether `mutedUntil` (as stored) mutes the conversation at `now`. */
export function isMuted(mutedUntil: string | null | undefined, now: number = Date.now()): boolean {
	if (!mutedUntil) return false;
	if (mutedUntil === FOREVER) return true;
	const until = Date.parse(mutedUntil);
	return Number.isFinite(until) && until > now;
}

/** A stored level, or `all` for anything else. */
export function normalizeNotifyLevel(value: unknown): NotifyLevel {
	return value === 'mentions' || value === 'none' ? value : 'all';
}

/** A stored `muted_until` kept only while it still mutes. */
export function normalizeMutedUntil(value: unknown, now: number = Date.now()): string | null {
	return typeof value === 'string' && isMuted(value, now) ? value : null;
}

/**
 * One line saying what a conversation notifies, for the list and the header menu: null when it is
 * the default (all, not muted).
 */
export function notificationSummary(
	settings: { notify_level: NotifyLevel; muted_until: string | null },
	now: number = Date.now(),
	timeOf: (date: Date) => string = (d) => d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
): string | null {
	if (isMuted(settings.muted_until, now)) {
		return settings.muted_until === FOREVER
			? 'Muted'
			: `Muted until ${timeOf(new Date(Date.parse(settings.muted_until!)))}`;
	}
	if (settings.notify_level === 'mentions') return 'Only @mentions';
	if (settings.notify_level === 'none') return 'Notifications off';
	return null;
}
