/**
 * Opening a conversation at a message (a search hit) that may lie far back in its history: the
 * messages around its seq are loaded into the timeline (`get_messages` before `seq + 1`, newest
 * first, and after `seq`), so the hit shows with context at once. Between that window and the
 * newer messages already loaded a gap may remain; it is filled in the background, forwards page
 * by page (a pause between pages, at most `maxGapPages`), so that scrolling down from the hit
 * reads on without a jump, while older history keeps loading on demand (`loadOlder` starts
 * below the oldest loaded seq, the window's bottom). Pure logic over the caller's page loader.
 */
import type { PageRequest } from './backfill.ts';
import type { MessageRow } from '../chat/types.ts';

export interface AroundDeps {
	/** The conversation's loaded seqs, ascending. */
	seqs(conversationId: string): number[];
	/** Fetches a page and merges it into the timeline; resolves with its rows. */
	page(conversationId: string, page: PageRequest): Promise<MessageRow[]>;
	sleep(ms: number): Promise<void>;
	/** Whether to keep filling (the session and the window are still there). */
	alive(): boolean;
}

export interface AroundOptions {
	/** Messages to show on each side of the hit (default 25). */
	context?: number;
	/** Rows per gap-filling page (default 100). */
	gapPageSize?: number;
	/** At most this many gap-filling pages (default 30). */
	maxGapPages?: number;
	/** Pause before and between gap-filling pages (default 250 ms). */
	throttleMs?: number;
}

export interface Around {
	/** Rows fetched for the window (0 when it was loaded already). */
	fetched: number;
	/** Resolves once the gap above the window is filled (or the filling stopped). */
	filled: Promise<void>;
}

/** Whether every seq of `from..to` is loaded. */
function covered(have: Set<number>, from: number, to: number): boolean {
	for (let s = from; s <= to; s++) if (!have.has(s)) return false;
	return true;
}

/** Loads the window around `seq` (unless it is loaded), then fills the gap above it in the background. */
export async function loadAround(
	deps: AroundDeps,
	conversationId: string,
	seq: number,
	options: AroundOptions = {}
): Promise<Around> {
	const context = options.context ?? 25;
	const loaded = deps.seqs(conversationId);
	const have = new Set(loaded);
	const newest = loaded.at(-1) ?? 0;
	const needBelow = !covered(have, Math.max(1, seq - context), seq);
	// Above a loaded hit, what is loaded ends at `newest` (the open conversation's newest page).
	const needAbove = !have.has(seq) || !covered(have, seq + 1, Math.min(seq + context, newest));
	const pages = await Promise.all([
		needBelow ? deps.page(conversationId, { before_seq: seq + 1, page_size: context + 1 }) : [],
		needAbove ? deps.page(conversationId, { after_seq: seq, page_size: context }) : []
	]);
	const fetched = pages[0].length + pages[1].length;
	const filled = fetched ? fillGap(deps, conversationId, seq, options) : Promise.resolve();
	return { fetched, filled };
}

/** The first gap above `seq`: the highest seq loaded contiguously from it, and the next loaded one. */
export function gapAbove(seqs: number[], seq: number): { after: number; next: number } | null {
	const have = new Set(seqs);
	let high = seq;
	while (have.has(high + 1)) high++;
	const next = seqs.find((s) => s > high + 1);
	return next === undefined ? null : { after: high, next };
}

async function fillGap(deps: AroundDeps, conversationId: string, seq: number, options: AroundOptions) {
	const size = options.gapPageSize ?? 100;
	const maxPages = options.maxGapPages ?? 30;
	const throttle = options.throttleMs ?? 250;
	for (let pages = 0; pages < maxPages; pages++) {
		// First a pause: the window is being painted and scrolled to the hit.
		await deps.sleep(throttle);
		if (!deps.alive()) return;
		const gap = gapAbove(deps.seqs(conversationId), seq);
		if (!gap) return;
		const rows = await deps.page(conversationId, { after_seq: gap.after, page_size: size });
		if (rows.length < size) return;
	}
}
