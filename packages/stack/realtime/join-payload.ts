/**
 * The payload of a `phx_join`, decoded once into typed, defaulted values: the channel's `config`
 * as realtime-js sends it (`broadcast.self` / `ack`, `presence.enabled` / `key`, `private`, the
 * `postgres_changes` bindings) and the `access_token` it offers. Anything missing or of the wrong
 * type reads as its default; what the values allow is for the connection to decide. Also reads the
 * token of an `access_token` push.
 */
import { isObject } from './protocol.ts';

export interface JoinConfig {
	private: boolean;
	broadcast: { self: boolean; ack: boolean };
	/** `key` null: none offered (the server picks one). */
	presence: { enabled: boolean; key: string | null };
	/** The bindings asked for, as sent (only objects are kept). */
	postgresChanges: Record<string, unknown>[];
}

export interface JoinPayload {
	config: JoinConfig;
	/** A usable token the join offers instead of the socket's, or null. */
	accessToken: string | null;
}

/** The usable `access_token` of a join or `access_token` payload: a non-empty string, not an `sb_` API key. */
export function accessTokenOf(payload: unknown): string | null {
	const offered = isObject(payload) ? payload.access_token : undefined;
	return typeof offered === 'string' && offered && !offered.startsWith('sb_') ? offered : null;
}

export function decodeJoin(payload: unknown): JoinPayload {
	const config = isObject(payload) && isObject(payload.config) ? payload.config : {};
	const broadcast = isObject(config.broadcast) ? config.broadcast : {};
	const presence = isObject(config.presence) ? config.presence : {};
	return {
		config: {
			private: config.private === true,
			broadcast: { self: broadcast.self === true, ack: broadcast.ack === true },
			presence: {
				enabled: presence.enabled === true,
				key: typeof presence.key === 'string' && presence.key ? presence.key : null
			},
			postgresChanges: Array.isArray(config.postgres_changes) ? config.postgres_changes.filter(isObject) : []
		},
		accessToken: accessTokenOf(payload)
	};
}
