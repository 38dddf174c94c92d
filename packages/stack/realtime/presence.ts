/**
 * Presence of one topic, in Phoenix.Presence's shapes: state `{key: {metas: [{phx_ref, ...}]}}`
 * and diffs `{joins, leaves}` of the same shape. Each joined channel holds at most one presence
 * (keyed by its `presence.key`); tracking again replaces it, leaving once removes it.
 */
import { randomBytes } from 'node:crypto';

export type Meta = Record<string, unknown> & { phx_ref: string; phx_ref_prev?: string };
export type PresenceMap = Record<string, { metas: Meta[] }>;
export interface PresenceDiff {
	joins: PresenceMap;
	leaves: PresenceMap;
}

interface Entry {
	key: string;
	meta: Meta;
}

/** Phoenix-style unique, opaque presence reference. */
function newRef(): string {
	return randomBytes(9).toString('base64url');
}

function single(key: string, meta: Meta): PresenceMap {
	return { [key]: { metas: [meta] } };
}

export class TopicPresence<Owner extends object> {
	#entries = new Map<Owner, Entry>();

	get size(): number {
		return this.#entries.size;
	}

	/** Tracks `payload` for `owner` under `key`; returns the diff, or null when nothing changed. */
	track(owner: Owner, key: string, payload: Record<string, unknown>): PresenceDiff | null {
		const previous = this.#entries.get(owner);
		const meta: Meta = { ...payload, phx_ref: newRef() };
		if (previous) {
			const { phx_ref: _r, phx_ref_prev: _p, ...previousPayload } = previous.meta;
			if (previous.key === key && JSON.stringify(previousPayload) === JSON.stringify(payload)) return null;
			meta.phx_ref_prev = previous.meta.phx_ref;
		}
		this.#entries.set(owner, { key, meta });
		return {
			joins: single(key, meta),
			leaves: previous ? single(previous.key, previous.meta) : {}
		};
	}

	/** Removes `owner`'s presence; returns the diff, or null when it had none. */
	untrack(owner: Owner): PresenceDiff | null {
		const previous = this.#entries.get(owner);
		if (!previous) return null;
		this.#entries.delete(owner);
		return { joins: {}, leaves: single(previous.key, previous.meta) };
	}

	/** Whole state, grouped by key. */
	state(): PresenceMap {
		const out: PresenceMap = {};
		for (const { key, meta } of this.#entries.values()) (out[key] ??= { metas: [] }).metas.push(meta);
		return out;
	}
}
