/**
 * Tunables of the embedded Realtime server. Defaults follow Supabase Realtime's tenant defaults
 * (100 channels per client, 100 events per second, 3,000 KB payloads, 5 MB frames) so an app that
 * works here keeps working on Supabase. The stack config (config.ts, `realtime`) sets some of them
 * from `PARLEY_REALTIME_*` variables.
 */

export interface RealtimeOptions {
	/** A socket that sends nothing (not even a heartbeat) for this long is dropped. */
	heartbeatTimeoutMs: number;
	/** Channels one socket may have joined at once (`too_many_channels` beyond). */
	maxChannelsPerClient: number;
	/** Client events (broadcasts, presence, unknown pushes) one socket may send per second. */
	maxEventsPerSecond: number;
	/** Largest broadcast / presence payload, in bytes (Supabase: 3,000 KB plus 500 bytes of slack). */
	maxPayloadBytes: number;
	/** Largest WebSocket frame accepted; larger frames close that socket with 1009. */
	maxFrameBytes: number;
	/** Presence track/untrack calls per channel per window (Supabase: 5 per 30 s). */
	maxClientPresenceEventsPerWindow: number;
	clientPresenceWindowMs: number;
	/** How often a joined channel's token is re-checked at most (Supabase: every 5 minutes). */
	tokenRecheckMs: number;
	/** Rows of realtime.messages older than this are deleted by the janitor. */
	retentionMs: number;
	janitorIntervalMs: number;
	/** A socket whose unsent output exceeds this is too slow to keep up and is dropped. */
	maxBufferedBytes: number;
	/** Delay before re-opening the replication connection after it drops (doubles up to 5 s). */
	replicationReconnectMs: number;
	/** How often the replication connection confirms its position unasked (the server's timeout is 60 s). */
	replicationStatusMs: number;
	/** Connections of the pool used for authorization checks and the HTTP broadcast API. */
	poolSize: number;
}

export const DEFAULT_REALTIME_OPTIONS: RealtimeOptions = {
	heartbeatTimeoutMs: 60_000,
	maxChannelsPerClient: 100,
	maxEventsPerSecond: 100,
	maxPayloadBytes: 3_000 * 1000 + 500,
	maxFrameBytes: 5_000_000,
	maxClientPresenceEventsPerWindow: 5,
	clientPresenceWindowMs: 30_000,
	tokenRecheckMs: 5 * 60_000,
	retentionMs: 3 * 24 * 3600_000,
	janitorIntervalMs: 10 * 60_000,
	maxBufferedBytes: 16 * 1024 * 1024,
	replicationReconnectMs: 100,
	replicationStatusMs: 10_000,
	poolSize: 10
};
