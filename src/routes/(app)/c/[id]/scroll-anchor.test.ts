import { describe, expect, it } from 'vitest';
import {
	AT_BOTTOM_PX,
	DIVIDER_MARGIN_PX,
	anchoredTop,
	countNew,
	distanceFromBottom,
	findAnchor,
	firstUnread,
	isAtBottom,
	newestSeq,
	openingTop,
	sentByMe,
	stillPinned,
	type TimelineMessage
} from './scroll-anchor.ts';

const ME = 'me';
const m = (id: string, seq: number | null, sender_id = 'ann'): TimelineMessage => ({ id, seq, sender_id });

describe('at the bottom or not', () => {
	it('measures the distance from the bottom, never negative', () => {
		expect(distanceFromBottom({ top: 1000, height: 1800, client: 800 })).toBe(0);
		expect(distanceFromBottom({ top: 900, height: 1800, client: 800 })).toBe(100);
		// Content shorter than the view: nothing to scroll, at the bottom.
		expect(distanceFromBottom({ top: 0, height: 300, client: 800 })).toBe(0);
	});

	it('counts a few pixels of rounding as the bottom', () => {
		expect(isAtBottom({ top: 1000 - AT_BOTTOM_PX, height: 1800, client: 800 })).toBe(true);
		expect(isAtBottom({ top: 1000 - AT_BOTTOM_PX - 1, height: 1800, client: 800 })).toBe(false);
		expect(isAtBottom({ top: 999.5, height: 1800, client: 800 }, 0)).toBe(false);
	});

	it('stays pinned when content grows under it, and lets go only when the reader moves up', () => {
		// A message or an image made the content taller; scrollTop stayed: still pinned.
		expect(stillPinned(true, 1000, { top: 1000, height: 2400, client: 800 })).toBe(true);
		// Our own scroll to the bottom landing a little lower than before.
		expect(stillPinned(true, 1000, { top: 1200, height: 2400, client: 800 })).toBe(true);
		// The reader scrolled up, even a little.
		expect(stillPinned(true, 1000, { top: 700, height: 1800, client: 800 })).toBe(false);
		expect(stillPinned(true, 1000, { top: 990, height: 1800, client: 800 })).toBe(false);
		// Sub-pixel rounding is not a scroll.
		expect(stillPinned(true, 1000, { top: 999, height: 1800, client: 800 })).toBe(true);
		// Unpinned, only reaching the bottom pins again.
		expect(stillPinned(false, 700, { top: 800, height: 1800, client: 800 })).toBe(false);
		expect(stillPinned(false, 800, { top: 995, height: 1800, client: 800 })).toBe(true);
		// Content that shrank clamps scrollTop down to the new bottom: still there.
		expect(stillPinned(true, 1000, { top: 600, height: 1400, client: 800 })).toBe(true);
	});
});

describe('the unread divider', () => {
	it('goes above the first stored message from others after my read watermark', () => {
		const messages = [m('a', 1), m('b', 2, ME), m('c', 3), m('d', 4), m('e', 5)];
		expect(firstUnread(messages, 2, ME)).toBe('c');
		expect(firstUnread(messages, 4, ME)).toBe('e');
	});

	it('is absent when everything was read, or only my own messages are new', () => {
		const messages = [m('a', 1), m('b', 2), m('c', 3, ME), m('p', null, ME)];
		expect(firstUnread(messages, 3, ME)).toBeNull();
		expect(firstUnread([m('x', 4, ME)], 1, ME)).toBeNull();
		expect(firstUnread([], 0, ME)).toBeNull();
	});

	it('counts what came before my own newest message as seen (I wrote it from another device)', () => {
		const messages = [m('a', 1), m('b', 2), m('c', 3, ME), m('d', 4)];
		expect(firstUnread(messages, 0, ME)).toBe('d');
	});

	it('goes above the first loaded message when every loaded one is unread', () => {
		const messages = [m('k', 51), m('l', 52)];
		expect(firstUnread(messages, 10, ME)).toBe('k');
	});

	it('opens at the divider when more than a screenful follows it, else at the bottom', () => {
		const view = { top: 0, height: 5000, client: 800 };
		expect(openingTop(null, view)).toBe('bottom');
		expect(openingTop(3000, view)).toBe(3000 - DIVIDER_MARGIN_PX);
		// The unread messages fit on the last screen: the bottom shows them all.
		expect(openingTop(4500, view)).toBe('bottom');
		expect(openingTop(4200 + AT_BOTTOM_PX, view)).toBe('bottom');
		expect(openingTop(4, view)).toBe(0);
	});
});

describe('new messages while scrolled up', () => {
	it("counts others' stored messages after what was seen at the bottom", () => {
		const messages = [m('a', 1), m('b', 2), m('c', 3, ME), m('d', 4), m('e', 5), m('p', null, ME)];
		expect(countNew(messages, 2, ME)).toBe(2);
		expect(countNew(messages, 5, ME)).toBe(0);
		expect(countNew(messages, 0, ME)).toBe(4);
		expect(newestSeq(messages)).toBe(5);
		expect(newestSeq([m('p', null, ME)])).toBe(0);
	});

	it('brings the view down for a message I just composed, not for others or for stored ones', () => {
		expect(sentByMe('a', m('p', null, ME), ME)).toBe(true);
		expect(sentByMe('p', m('p', null, ME), ME)).toBe(false); // already the newest
		expect(sentByMe('a', m('b', 7, ME), ME)).toBe(false); // mine from another device
		expect(sentByMe('a', m('b', null, 'ann'), ME)).toBe(false);
		expect(sentByMe('a', undefined, ME)).toBe(false);
	});
});

describe('the anchor', () => {
	// Rows 100 px tall; the view's top is at `scrolled` px into the content.
	const rows = (scrolled: number) => (index: number) => ({
		id: `r${index}`,
		top: index * 100 - scrolled,
		bottom: (index + 1) * 100 - scrolled
	});

	it('is the first row that starts in view, with its offset', () => {
		expect(findAnchor(50, rows(0))).toEqual({ id: 'r0', offset: 0 });
		// r2 is cut off at the top: r3, wholly below the top, is the anchor.
		expect(findAnchor(50, rows(250), 600)).toEqual({ id: 'r3', offset: 50 });
		expect(findAnchor(50, rows(300), 600)).toEqual({ id: 'r3', offset: 0 });
		expect(findAnchor(50, rows(10_000))).toBeNull();
		expect(findAnchor(0, rows(0))).toBeNull();
	});

	it('is the row covering the top when the next one starts below the view', () => {
		// A 100 px row is taller than a 40 px view: r3 starts below it.
		expect(findAnchor(50, rows(250), 40)).toEqual({ id: 'r2', offset: -50 });
		// The last row, cut off: nothing after it.
		expect(findAnchor(3, rows(250), 600)).toEqual({ id: 'r2', offset: -50 });
	});

	it('reads a few rows, not all of them', () => {
		let reads = 0;
		const at = rows(123_456);
		findAnchor(10_000, (i) => {
			reads++;
			return at(i);
		});
		expect(reads).toBeLessThan(20);
	});

	it('keeps its offset when a page of older messages lands above it', () => {
		const anchor = { id: 'r2', offset: -50 };
		// 50 rows of 64 px arrived above: the row is 3200 px further down.
		expect(anchoredTop(250, anchor, -50 + 3200)).toBe(3450);
		// A row above rendered 30 px shorter than its placeholder.
		expect(anchoredTop(3450, anchor, -80)).toBe(3420);
		expect(anchoredTop(250, anchor, -50)).toBe(250);
	});
});
