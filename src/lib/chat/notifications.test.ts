import { describe, expect, it } from 'vitest';
import {
	FOREVER,
	isMuted,
	muteUntil,
	normalizeMutedUntil,
	normalizeNotifyLevel,
	notificationSummary
} from './notifications.ts';

const NOW = Date.parse('2026-12-02T10:00:00Z');

describe('notification settings', () => {
	it('turns a mute choice into the time it ends', () => {
		expect(muteUntil('1h', NOW)).toBe('2026-12-02T11:00:00.000Z');
		expect(muteUntil('8h', NOW)).toBe('2026-12-02T18:00:00.000Z');
		expect(muteUntil('forever', NOW)).toBe(FOREVER);
	});

	it('is muted only before the end (forever included), never for a past or malformed time', () => {
		expect(isMuted(FOREVER, NOW)).toBe(true);
		expect(isMuted('2026-12-02T10:00:01Z', NOW)).toBe(true);
		expect(isMuted('2026-12-02T10:00:00Z', NOW)).toBe(false);
		expect(isMuted('soon', NOW)).toBe(false);
		expect(isMuted(null, NOW)).toBe(false);
		expect(normalizeMutedUntil('2026-12-02T09:00:00Z', NOW)).toBeNull();
		expect(normalizeMutedUntil(FOREVER, NOW)).toBe(FOREVER);
		expect(normalizeMutedUntil(42, NOW)).toBeNull();
	});

	it('reads levels, defaulting to all', () => {
		expect(normalizeNotifyLevel('mentions')).toBe('mentions');
		expect(normalizeNotifyLevel('none')).toBe('none');
		expect(normalizeNotifyLevel('ALL')).toBe('all');
		expect(normalizeNotifyLevel(undefined)).toBe('all');
	});

	it('says what a conversation notifies, nothing for the default', () => {
		const at = (d: Date) => d.toISOString().slice(11, 16);
		expect(notificationSummary({ notify_level: 'all', muted_until: null }, NOW, at)).toBeNull();
		expect(notificationSummary({ notify_level: 'mentions', muted_until: null }, NOW, at)).toBe(
			'Only @mentions'
		);
		expect(notificationSummary({ notify_level: 'none', muted_until: null }, NOW, at)).toBe(
			'Notifications off'
		);
		expect(notificationSummary({ notify_level: 'mentions', muted_until: FOREVER }, NOW, at)).toBe('Muted');
		expect(notificationSummary({ notify_level: 'all', muted_until: muteUntil('1h', NOW) }, NOW, at)).toBe(
			'Muted until 11:00'
		);
		// Once the mute is over the level shows again.
		expect(
			notificationSummary({ notify_level: 'mentions', muted_until: muteUntil('1h', NOW) }, NOW + 3600_001, at)
		).toBe('Only @mentions');
	});
});
