/**
 * Where the timeline stands: the decisions behind MessageList's scrolling, without the DOM, so they
 * can be tested (timeline-scroll.svelte.ts applies them to the elements).
 *
 * - The view follows the bottom ("pinned") while the reader is there; only the reader moving up
 *   lets go of it. Content growing under a pinned view (a message arriving, an image or a voice
 *   message loading, a row that `content-visibility: auto` skipped rendering at its real height)
 *   never unpins it: the size change is answered by scrolling to the bottom again.
 * - Unpinned, the first row in view is the anchor: whatever changes above it (older pages, rows
 *   rendering at their real height) the anchor keeps its offset from the top of the view.
 * - Opening, the view lands at the newest message, or at the first unread message from someone
 *   else (a "New messages" divider above it) when that is above the last screenful.
 * - Scrolled up, messages from others that arrive are counted for the "Jump to latest" button.
 */

/** The scroller's `scrollTop`, `scrollHeight` and `clientHeight`. */
export interface ScrollMetrics {
	top: number;
	height: number;
	client: number;
}

/** What the decisions need of a message. */
export interface TimelineMessage {
	id: string;
	seq: number | null;
	sender_id: string;
}

/** The first row in view and how far its top is below the view's top (px, negative when cut off). */
export interface Anchor {
	id: string;
	offset: number;
}

/** How close to the bottom still counts as at the bottom (px): a pixel of rounding, a nudge. */
export const AT_BOTTOM_PX = 24;

/** How far below the view's top the "New messages" divider lands when a chat opens there (px). */
export const DIVIDER_MARGIN_PX = 8;

/** How far the view is from the bottom (px, never negative). */
export function distanceFromBottom(m: ScrollMetrics): number {
	return Math.max(0, m.height - m.client - m.top);
}

/** Whether the view is at the bottom, within `slack` px. */
export function isAtBottom(m: ScrollMetrics, slack = AT_BOTTOM_PX): boolean {
	return distanceFromBottom(m) <= slack;
}

/** How far from the bottom a pinned view may move up before it lets go (px): sub-pixel rounding. */
export const PINNED_SLACK_PX = 2;

/**
 * After a scroll event: whether the view follows the bottom. A pinned view lets go only when it
 * moved up and is off the bottom (content that grew below it, or a scroll event of ours that has
 * not caught up yet, leave `top` where it was or further down; content that shrank clamps it to
 * the new bottom). An unpinned one follows again once it is back within `AT_BOTTOM_PX`.
 */
export function stillPinned(pinned: boolean, previousTop: number, m: ScrollMetrics): boolean {
	const distance = distanceFromBottom(m);
	if (pinned) return distance <= PINNED_SLACK_PX || m.top >= previousTop;
	return distance <= AT_BOTTOM_PX;
}

/**
 * The message the "New messages" divider goes above: the first stored message from someone else
 * after what I had read (`readUpTo`, my read watermark) and after my own newest message (sending
 * from another device means I saw what came before). Null when nothing is unread.
 */
export function firstUnread(
	messages: readonly TimelineMessage[],
	readUpTo: number,
	me: string
): string | null {
	let seen = readUpTo;
	for (const m of messages) if (m.sender_id === me && m.seq !== null) seen = Math.max(seen, m.seq);
	return messages.find((m) => m.seq !== null && m.seq > seen && m.sender_id !== me)?.id ?? null;
}

/** The newest stored message's seq (0 when none is stored). */
export function newestSeq(messages: readonly TimelineMessage[]): number {
	let newest = 0;
	for (const m of messages) if (m.seq !== null && m.seq > newest) newest = m.seq;
	return newest;
}

/** How many stored messages from others came after `seenSeq` (what the reader saw at the bottom). */
export function countNew(messages: readonly TimelineMessage[], seenSeq: number, me: string): number {
	let count = 0;
	for (const m of messages) if (m.seq !== null && m.seq > seenSeq && m.sender_id !== me) count++;
	return count;
}

/**
 * Where a chat opens: at the bottom, or at `dividerTop` (the divider's offset in the content, px)
 * less a margin when that leaves more than a screenful below it. Returns the `scrollTop` to set,
 * or 'bottom' (the view is then pinned).
 */
export function openingTop(
	dividerTop: number | null,
	m: ScrollMetrics,
	margin = DIVIDER_MARGIN_PX
): number | 'bottom' {
	if (dividerTop === null) return 'bottom';
	const target = Math.max(0, dividerTop - margin);
	return target >= m.height - m.client - AT_BOTTOM_PX ? 'bottom' : target;
}

/**
 * Whether the newest message asks the view to go to the bottom whatever the reader was doing: a
 * message I just composed (not stored yet) that was not the newest one before.
 */
export function sentByMe(
	previousLastId: string | undefined,
	last: TimelineMessage | undefined,
	me: string
): boolean {
	return !!last && last.id !== previousLastId && last.sender_id === me && last.seq === null;
}

/**
 * The anchor among `rows` (their ids and their tops and bottoms relative to the view's top, in
 * order): the first row that starts within the view (`viewHeight` tall), so that a row cut off at
 * the top growing or shrinking (rendered at last, a picture above) is compensated too; else the row
 * that covers the view's top. A binary search, so scrolling through thousands of rows reads a
 * dozen of them.
 */
export function findAnchor(
	count: number,
	rowAt: (index: number) => { id: string; top: number; bottom: number },
	viewHeight = Infinity
): Anchor | null {
	// The first row whose bottom is below the view's top: the one at (or just after) the top.
	let lo = 0;
	let hi = count - 1;
	let found = -1;
	while (lo <= hi) {
		const mid = (lo + hi) >> 1;
		if (rowAt(mid).bottom > 0) {
			found = mid;
			hi = mid - 1;
		} else lo = mid + 1;
	}
	if (found < 0) return null;
	let row = rowAt(found);
	if (row.top < 0 && found + 1 < count) {
		const next = rowAt(found + 1);
		if (next.top < viewHeight) row = next;
	}
	return { id: row.id, offset: row.top };
}

/** The `scrollTop` that puts the anchor back at its offset, given where its row is now. */
export function anchoredTop(top: number, anchor: Anchor, offsetNow: number): number {
	return top + (offsetNow - anchor.offset);
}
