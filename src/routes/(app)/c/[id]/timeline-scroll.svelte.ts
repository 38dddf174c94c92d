/**
 * The timeline's scroll position, kept (scroll-anchor.ts makes the decisions; this applies them).
 *
 * A ResizeObserver on the scroller and on its content answers every size change, whatever caused
 * it — a message arriving, an image or a voice message loading, a long message wrapping, a row that
 * `content-visibility: auto` laid out at its 64 px placeholder height now rendered at its real one
 * (Message.svelte), older pages arriving above, the composer growing: pinned, the view goes to the
 * bottom again; unpinned, the anchor row goes back to its offset. No timeouts. The browser's own
 * scroll anchoring is off (`overflow-anchor: none` in MessageList), so only this moves the view.
 *
 * MessageList attaches `scroller` to its scrolling element (whose first child holds the content),
 * `rows` to the list whose children are the rows (those that can anchor — not the sticky day
 * separators — carry a `data-anchor-id`), and calls `onscroll` from the scroller's scroll events.
 */
import { tick, untrack } from 'svelte';
import {
	anchoredTop,
	countNew,
	findAnchor,
	firstUnread,
	newestSeq,
	openingTop,
	sentByMe,
	stillPinned,
	type Anchor,
	type ScrollMetrics,
	type TimelineMessage
} from './scroll-anchor.ts';

export interface TimelineScrollInput {
	/** The loaded messages in display order. */
	messages(): readonly TimelineMessage[];
	/** The signed-in user. */
	me(): string;
	/** My read watermark in this conversation once known (kept as first known: receipts move it). */
	readUpTo(): number | null;
	/** The newest page is in (or failed to come): the chat can choose where it opens. */
	ready(): boolean;
}

function metrics(el: HTMLElement): ScrollMetrics {
	return { top: el.scrollTop, height: el.scrollHeight, client: el.clientHeight };
}

export class TimelineScroll {
	/** The view follows the bottom. */
	pinned = $state(true);
	/** The message the "New messages" divider goes above, chosen once as the chat opens. */
	dividerId = $state<string | null>(null);
	#input: TimelineScrollInput;
	/** The newest seq the reader has seen at the bottom. */
	#seenSeq = $state(0);
	#readUpTo: number | null = null;
	#placed = false;
	#lastId: string | undefined;
	#lastTop = 0;
	#anchor: Anchor | null = null;
	#scroller: HTMLElement | null = null;
	#rows: HTMLElement | null = null;
	#newCount = $derived.by(() =>
		this.pinned ? 0 : countNew(this.#input.messages(), this.#seenSeq, this.#input.me())
	);

	/** Call during component initialisation (it sets up effects). */
	constructor(input: TimelineScrollInput) {
		this.#input = input;

		// My read watermark as the chat opened, before this window's own read receipts move it.
		$effect.pre(() => {
			if (this.#readUpTo !== null) return;
			const readUpTo = input.readUpTo();
			if (readUpTo !== null) this.#readUpTo = readUpTo;
		});

		// Arrivals: a pinned reader has seen them; a message I just wrote brings the view down.
		$effect(() => {
			const messages = input.messages();
			const last = messages.at(-1); // tracks the length and the newest, even of an array changed in place
			const me = input.me();
			untrack(() => {
				if (sentByMe(this.#lastId, last, me)) this.pinned = true;
				this.#lastId = last?.id;
				if (!this.pinned) return;
				this.#seenSeq = newestSeq(messages);
				this.#toBottom();
			});
		});

		// Once the newest page is in: at the first unread message from others, or at the bottom.
		$effect(() => {
			if (this.#placed || !input.ready()) return;
			this.#placed = true;
			untrack(() => void this.#place());
		});
	}

	/** Messages from others that came while the reader was away from the bottom. */
	get newCount(): number {
		return this.#newCount;
	}

	/** Attachment for the scrolling element: observes its size and its content's. */
	scroller = (node: HTMLElement) => {
		this.#scroller = node;
		const observer = new ResizeObserver(() => this.#resized());
		observer.observe(node);
		if (node.firstElementChild) observer.observe(node.firstElementChild);
		this.#toBottom();
		return () => {
			observer.disconnect();
			if (this.#scroller === node) this.#scroller = null;
		};
	};

	/** Attachment for the element whose children are the rows. */
	rows = (node: HTMLElement) => {
		this.#rows = node;
		return () => {
			if (this.#rows === node) this.#rows = null;
		};
	};

	/** The scroller's scroll events (the reader's and ours). */
	onscroll = () => {
		const el = this.#scroller;
		if (!el) return;
		const m = metrics(el);
		const pinned = stillPinned(this.pinned, this.#lastTop, m);
		this.#lastTop = m.top;
		if (pinned && !this.pinned) this.#seenSeq = newestSeq(this.#input.messages());
		this.pinned = pinned;
		this.#capture();
	};

	/** "Jump to latest": to the bottom, following it again. */
	jump = () => {
		this.pinned = true;
		this.#seenSeq = newestSeq(this.#input.messages());
		this.#toBottom();
	};

	#resized() {
		if (this.pinned) this.#toBottom();
		else this.#keepAnchor();
	}

	#toBottom() {
		const el = this.#scroller;
		if (!el) return;
		el.scrollTop = el.scrollHeight;
		this.#lastTop = el.scrollTop;
	}

	async #place() {
		const readUpTo = this.#readUpTo;
		const messages = this.#input.messages();
		const divider = readUpTo === null ? null : firstUnread(messages, readUpTo, this.#input.me());
		this.dividerId = divider;
		if (!divider) return;
		await tick();
		const el = this.#scroller;
		const row = this.#row('unread');
		if (!el || !row) return;
		const dividerTop = el.scrollTop + row.getBoundingClientRect().top - el.getBoundingClientRect().top;
		const target = openingTop(dividerTop, metrics(el));
		if (target === 'bottom') return this.#toBottom();
		const seq = messages.find((m) => m.id === divider)?.seq ?? 1;
		this.pinned = false;
		this.#seenSeq = seq - 1;
		el.scrollTop = target;
		this.#lastTop = el.scrollTop;
		this.#capture();
	}

	#row(id: string): HTMLElement | null {
		return this.#rows?.querySelector<HTMLElement>(`[data-anchor-id="${CSS.escape(id)}"]`) ?? null;
	}

	/** Notes the first row in view and its offset. */
	#capture() {
		const el = this.#scroller;
		const rows = this.#rows?.children;
		if (!el || !rows) return;
		const top = el.getBoundingClientRect().top;
		this.#anchor = findAnchor(
			rows.length,
			(index) => {
				// Day separators stick to the top while scrolling, so they never anchor: the row after does.
				let row = rows[index] as HTMLElement | null;
				while (row && !row.dataset.anchorId) row = row.nextElementSibling as HTMLElement | null;
				const rect = (row ?? rows[index]).getBoundingClientRect();
				return { id: row?.dataset.anchorId ?? '', top: rect.top - top, bottom: rect.bottom - top };
			},
			el.clientHeight
		);
	}

	/** Puts the anchor row back at its offset after something above it changed size. */
	#keepAnchor() {
		const el = this.#scroller;
		const anchor = this.#anchor;
		if (!el || !anchor) return;
		const row = anchor.id ? this.#row(anchor.id) : null;
		if (!row) return this.#capture();
		const offsetNow = row.getBoundingClientRect().top - el.getBoundingClientRect().top;
		if (Math.abs(offsetNow - anchor.offset) < 0.5) return;
		el.scrollTop = anchoredTop(el.scrollTop, anchor, offsetNow);
		this.#lastTop = el.scrollTop;
	}
}
