/** Date and time wording shared by the conversation list and the chat window. */

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const weekdayFormat = new Intl.DateTimeFormat(undefined, { weekday: 'short' });
const dateFormat = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' });
const longDateFormat = new Intl.DateTimeFormat(undefined, {
	weekday: 'long',
	day: 'numeric',
	month: 'long',
	year: 'numeric'
});

const DAY = 86_400_000;

function startOfDay(date: Date): number {
	return new Date(date.getFullYear(), date.getMonth(), date.getDate()).getTime();
}

/** Compact stamp for lists: a time today, a weekday this week, else a date. */
export function shortStamp(iso: string | null | undefined, now = new Date()): string {
	if (!iso) return '';
	const date = new Date(iso);
	const days = (startOfDay(now) - startOfDay(date)) / DAY;
	if (days < 1) return timeFormat.format(date);
	if (days < 7) return weekdayFormat.format(date);
	return dateFormat.format(date);
}

export function clockTime(iso: string): string {
	return timeFormat.format(new Date(iso));
}

/** Key that is equal for two instants on the same local day. */
export function dayKey(iso: string): number {
	return startOfDay(new Date(iso));
}

/** Words for a day separator: Today, Yesterday, or the full date. */
export function dayLabel(iso: string, now = new Date()): string {
	const days = Math.round((startOfDay(now) - startOfDay(new Date(iso))) / DAY);
	if (days === 0) return 'Today';
	if (days === 1) return 'Yesterday';
	return longDateFormat.format(new Date(iso));
}

/** A byte count for people: 1.2 MB, 340 KB, 12 B. */
export function formatBytes(size: number): string {
	if (size >= 1024 * 1024) return `${(size / (1024 * 1024)).toFixed(1)} MB`;
	if (size >= 1024) return `${Math.round(size / 1024)} KB`;
	return `${size} B`;
}
