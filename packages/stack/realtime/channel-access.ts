/**
 * What a joined channel may do, kept current: its read and write permissions from the RLS checks
 * (authorization.ts), write permissions checked once per token and again when a change that can
 * revoke access committed meanwhile, and the outcome of a re-check after such a change
 * (reauthorize.ts). Public channels may do everything; a channel that loses anything it could
 * read is closed, as Supabase closes one whose refreshed token no longer reads it.
 */
import type { Claims } from '../jwt.ts';
import { readPermissions, writePermissions, type Permissions } from './authorization.ts';
import type { ChannelHost, ConnectionContext } from './connection-context.ts';
import type { Channel } from './hub.ts';

/** What a public channel may do. */
export const EVERYTHING: Permissions = Object.freeze({ broadcast: true, presence: true });

/** The outcome of a check: one that could not run refuses, and is logged as Supabase logs it. */
async function refusedOnError(
	ctx: ConnectionContext,
	name: string,
	check: Promise<Permissions>
): Promise<Permissions> {
	try {
		return await check;
	} catch (error) {
		ctx.log(`RlsPolicyError on ${name}: ${(error as Error).message}`);
		return { broadcast: false, presence: false };
	}
}

/** What `claims` may read of the private topic `name`. */
export function checkRead(ctx: ConnectionContext, name: string, claims: Claims): Promise<Permissions> {
	return refusedOnError(ctx, name, readPermissions(ctx.pool, name, claims));
}

/** Can read neither broadcasts nor presence: a join or refresh is refused. */
export function readsNothing(read: Permissions): boolean {
	return !read.broadcast && !read.presence;
}

/** Write permissions of a channel, checked once per token (private channels). */
export async function channelWrite(ctx: ConnectionContext, channel: Channel): Promise<Permissions> {
	if (!channel.private) return EVERYTHING;
	if (channel.write) return channel.write;
	channel.writeCheck ??= refusedOnError(ctx, channel.name, checkWrite(ctx, channel)).then((permissions) => {
		channel.write = permissions;
		channel.writeCheck = null;
		return permissions;
	});
	return channel.writeCheck;
}

/** The write check, run again when a change that can revoke access committed meanwhile. */
async function checkWrite(ctx: ConnectionContext, channel: Channel): Promise<Permissions> {
	for (;;) {
		const version = ctx.authorizationVersion?.();
		const permissions = await writePermissions(ctx.pool, channel.name, channel.claims);
		if (version === ctx.authorizationVersion?.()) return permissions;
	}
}

/** Forgets the write permissions (the token changed): the next write checks again. */
export function forgetWrite(channel: Channel): void {
	channel.write = null;
	channel.writeCheck = null;
}

/**
 * Narrows a private channel to what it may read now; a channel that lost anything it could read
 * is closed instead (false).
 */
export function keepReading(
	host: ChannelHost,
	channel: Channel,
	previous: Permissions,
	read: Permissions
): boolean {
	if ((previous.broadcast && !read.broadcast) || (previous.presence && !read.presence)) {
		host.shutdown(channel, `You no longer have permission to read from this Channel topic: ${channel.name}`);
		return false;
	}
	channel.read = read;
	return true;
}

/**
 * Applies a re-check after a committed change: a channel that can no longer read what it could is
 * closed as a refused token refresh is; one that can no longer write stops being able to, and
 * its presence leaves at once.
 */
export function applyRecheck(
	host: ChannelHost,
	channel: Channel,
	read: Permissions,
	write: Permissions
): void {
	if (!keepReading(host, channel, channel.read, read)) return;
	channel.write = write;
	channel.writeCheck = null;
	if (!write.presence) host.ctx.hub.untrack(channel);
}
