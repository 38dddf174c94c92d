// @vitest-environment happy-dom
/**
 * TimelineScroll against a modelled layout: rows of known heights in a scroller of known size (no
 * browser lays anything out here), its ResizeObserver fired by hand, the reader's scrolls by
 * setting scrollTop and calling `onscroll` as the browser would.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TimelineMessage } from './scroll-anchor.ts';
import { TimelineScroll } from './timeline-scroll.svelte.ts';

const ME = 'me';
/** Lets scheduled effects (and `tick`) run. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

let observers: (() => void)[] = [];
class FakeResizeObserver {
	#cb: () => void;
	constructor(cb: () => void) {
		this.#cb = cb;
		observers.push(cb);
	}
	observe() {}
	disconnect() {
		observers = observers.filter((o) => o !== this.#cb);
	}
}
/** Something changed size: what the ResizeObserver would report. */
const resized = () => observers.forEach((o) => o());

beforeEach(() => {
	observers = [];
	(globalThis as { ResizeObserver: unknown }).ResizeObserver = FakeResizeObserver;
});

const cleanups: (() => void)[] = [];
afterEach(() => {
	for (const c of cleanups.splice(0)) c();
});

/** A timeline with its layout: the header above the rows, each row 64 px until told otherwise. */
function setup(options: { readUpTo?: number | null; client?: number } = {}) {
	const state = $state({
		messages: [] as TimelineMessage[],
		ready: false,
		readUpTo: options.readUpTo ?? null
	});
	const heights = new Map<string, number>();
	const layout = { header: 40, client: options.client ?? 600, top: 0 };
	let scroll!: TimelineScroll;

	const rows = () => {
		const out: { id: string; h: number }[] = [];
		for (const m of state.messages) {
			if (m.id === scroll.dividerId) out.push({ id: 'unread', h: 30 });
			out.push({ id: m.id, h: heights.get(m.id) ?? 64 });
		}
		return out;
	};
	const height = () => layout.header + rows().reduce((sum, r) => sum + r.h, 0);
	const rowTop = (id: string) => {
		let y = layout.header;
		for (const r of rows()) {
			if (r.id === id) return y;
			y += r.h;
		}
		return NaN;
	};
	const rowElement = (id: string) => ({
		dataset: { anchorId: id },
		getBoundingClientRect: () => {
			const top = rowTop(id) - layout.top;
			return { top, bottom: top + (rows().find((r) => r.id === id)?.h ?? 0) };
		}
	});
	const list = {
		get children() {
			return rows().map((r) => rowElement(r.id));
		},
		querySelector(selector: string) {
			const id = /"(.*)"/.exec(selector)?.[1] ?? '';
			return rows().some((r) => r.id === id) ? rowElement(id) : null;
		}
	};
	const scroller = {
		get scrollTop() {
			return layout.top;
		},
		set scrollTop(value: number) {
			layout.top = Math.max(0, Math.min(value, height() - layout.client));
		},
		get scrollHeight() {
			return Math.max(height(), layout.client);
		},
		get clientHeight() {
			return layout.client;
		},
		getBoundingClientRect: () => ({ top: 0 }),
		firstElementChild: {}
	};

	cleanups.push(
		$effect.root(() => {
			scroll = new TimelineScroll({
				messages: () => state.messages,
				me: () => ME,
				readUpTo: () => state.readUpTo,
				ready: () => state.ready
			});
			const detachScroller = scroll.scroller(scroller as unknown as HTMLElement);
			const detachRows = scroll.rows(list as unknown as HTMLElement);
			return () => {
				detachScroller();
				detachRows();
			};
		})
	);

	const fromBottom = () => scroller.scrollHeight - layout.top - layout.client;
	/** The reader scrolls to `top` (the browser then fires a scroll event). */
	const readerScrollsTo = (top: number) => {
		scroller.scrollTop = top;
		scroll.onscroll();
	};
	return { state, heights, layout, scroll: () => scroll, fromBottom, readerScrollsTo, rowTop };
}

const msg = (seq: number, sender = 'ann'): TimelineMessage => ({ id: `m${seq}`, seq, sender_id: sender });
const range = (from: number, to: number, sender = 'ann') =>
	Array.from({ length: to - from + 1 }, (_, i) => msg(from + i, sender));

describe('TimelineScroll', () => {
	it('follows the bottom as messages arrive and rows take their real heights', async () => {
		const t = setup({ readUpTo: 40 });
		t.state.messages = range(1, 30);
		await settle();
		expect(t.fromBottom()).toBe(0);
		t.state.ready = true;
		await settle();
		expect(t.scroll().pinned).toBe(true);
		expect(t.scroll().dividerId).toBeNull();

		// content-visibility: the rows near the bottom render taller than their 64 px placeholder.
		for (const id of ['m27', 'm28', 'm29', 'm30']) t.heights.set(id, 180);
		resized();
		expect(t.fromBottom()).toBe(0);

		// A message arrives, then its picture loads.
		t.state.messages = [...t.state.messages, msg(31)];
		await settle();
		expect(t.fromBottom()).toBe(0);
		t.heights.set('m31', 400);
		resized();
		expect(t.fromBottom()).toBe(0);
		expect(t.scroll().newCount).toBe(0);
	});

	it('scrolled up, keeps the view where it is and counts what arrives from others', async () => {
		const t = setup({ readUpTo: 30 });
		t.state.messages = range(1, 30);
		t.state.ready = true;
		await settle();
		t.readerScrollsTo(800);
		expect(t.scroll().pinned).toBe(false);
		const top = t.layout.top;

		t.state.messages = [...t.state.messages, msg(31), msg(32, ME), msg(33)];
		await settle();
		resized();
		expect(t.layout.top).toBe(top);
		expect(t.scroll().newCount).toBe(2);

		// Rows above the view render at their real heights: the view keeps its first row in place.
		const anchorTop = t.rowTop('m13') - t.layout.top;
		for (const id of ['m2', 'm3', 'm4']) t.heights.set(id, 114);
		resized();
		expect(t.layout.top).toBe(top + 150);
		expect(t.rowTop('m13') - t.layout.top).toBe(anchorTop);
		// The row cut off at the top renders taller: what is in view stays put too.
		t.heights.set('m12', 164);
		resized();
		expect(t.layout.top).toBe(top + 250);
		expect(t.rowTop('m13') - t.layout.top).toBe(anchorTop);

		// Jumping goes to the bottom and follows it again.
		t.scroll().jump();
		expect(t.fromBottom()).toBe(0);
		expect(t.scroll().pinned).toBe(true);
		expect(t.scroll().newCount).toBe(0);
		t.state.messages = [...t.state.messages, msg(34)];
		await settle();
		expect(t.fromBottom()).toBe(0);
	});

	it('stays pinned through its own scroll events and content growing, lets go when the reader moves up', async () => {
		const t = setup();
		t.state.messages = range(1, 30);
		t.state.ready = true;
		await settle();
		const bottom = t.layout.top;
		// Content grew and the scroll event of our own catch-up comes late: still pinned.
		t.heights.set('m30', 300);
		t.scroll().onscroll();
		expect(t.scroll().pinned).toBe(true);
		resized();
		expect(t.fromBottom()).toBe(0);
		t.readerScrollsTo(bottom - 200);
		expect(t.scroll().pinned).toBe(false);
		// Back to the bottom by hand: following again, nothing counted.
		t.readerScrollsTo(1e6);
		expect(t.scroll().pinned).toBe(true);
	});

	it('keeps the place when older messages load above', async () => {
		const t = setup();
		t.state.messages = range(51, 80);
		t.state.ready = true;
		await settle();
		t.readerScrollsTo(0);
		expect(t.scroll().pinned).toBe(false);
		const firstTop = t.rowTop('m51') - t.layout.top;

		t.state.messages = [...range(1, 50), ...t.state.messages];
		await settle();
		resized();
		expect(t.layout.top).toBe(50 * 64);
		expect(t.rowTop('m51') - t.layout.top).toBe(firstTop);
	});

	it('brings the view down for a message I send while scrolled up', async () => {
		const t = setup();
		t.state.messages = range(1, 30);
		t.state.ready = true;
		await settle();
		t.readerScrollsTo(100);
		t.state.messages = [...t.state.messages, { id: 'client-1', seq: null, sender_id: ME }];
		await settle();
		expect(t.scroll().pinned).toBe(true);
		expect(t.fromBottom()).toBe(0);
	});

	it('opens at the first unread message under the divider, counting the unread as new', async () => {
		const t = setup({ readUpTo: 5 });
		t.state.messages = range(1, 40);
		await settle();
		expect(t.fromBottom()).toBe(0);
		t.state.ready = true;
		await settle();
		await settle();
		expect(t.scroll().dividerId).toBe('m6');
		expect(t.scroll().pinned).toBe(false);
		expect(t.rowTop('unread') - t.layout.top).toBe(8);
		expect(t.scroll().newCount).toBe(35);

		// Rows below the divider render taller: the divider stays where it is.
		for (const id of ['m6', 'm7', 'm8']) t.heights.set(id, 200);
		resized();
		expect(t.rowTop('unread') - t.layout.top).toBe(8);

		// My read watermark moving on (this window's receipts) does not move the divider.
		t.state.readUpTo = 40;
		await settle();
		expect(t.scroll().dividerId).toBe('m6');
	});

	it('opens at the bottom when the unread messages fit on the last screen, still marking them', async () => {
		const t = setup({ readUpTo: 37 });
		t.state.messages = range(1, 40);
		t.state.ready = true;
		await settle();
		await settle();
		expect(t.scroll().dividerId).toBe('m38');
		expect(t.scroll().pinned).toBe(true);
		expect(t.fromBottom()).toBe(0);
	});

	it('shows no divider for a message that arrives after the chat opened', async () => {
		const t = setup({ readUpTo: 10 });
		t.state.messages = range(1, 10);
		t.state.ready = true;
		await settle();
		await settle();
		t.state.messages = [...t.state.messages, msg(11)];
		await settle();
		expect(t.scroll().dividerId).toBeNull();
		expect(t.fromBottom()).toBe(0);
	});
});
