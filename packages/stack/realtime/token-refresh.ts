/**
 * A joined channel's token over time: re-checked when it expires (or every `tokenRecheckMs`), and
 * replaced by the token an `access_token` push offers, after which a private channel's read
 * permissions are checked again and its write permissions forgotten. A channel whose token stops
 * being valid, or whose new token reads less, is closed, as on Supabase.
 */
import { checkRead, forgetWrite, keepReading, readsNothing } from './channel-access.ts';
import type { ChannelHost } from './connection-context.ts';
import type { Channel } from './hub.ts';
import { checkToken, msUntilExpiry } from './tokens.ts';

/** Re-checks the channel's token when it expires (or every `tokenRecheckMs`). */
export function scheduleTokenCheck(host: ChannelHost, channel: Channel): void {
	if (channel.tokenTimer) clearTimeout(channel.tokenTimer);
	const { ctx } = host;
	const wait = Math.max(0, Math.min(ctx.options.tokenRecheckMs, msUntilExpiry(channel.claims)));
	channel.tokenTimer = setTimeout(async () => {
		channel.tokenTimer = null;
		const checked = await checkToken(channel.token, ctx.jwtSecret);
		if (channel.closed) return;
		if (!checked.ok) return host.shutdown(channel, checked.message);
		scheduleTokenCheck(host, channel);
	}, wait + 50);
	channel.tokenTimer.unref();
}

/** Stops re-checking (the channel is gone). */
export function stopTokenCheck(channel: Channel): void {
	if (channel.tokenTimer) clearTimeout(channel.tokenTimer);
	channel.tokenTimer = null;
}

/** Takes the token an `access_token` push offers (null: none usable, ignored as Supabase does). */
export async function refreshToken(
	host: ChannelHost,
	channel: Channel,
	offered: string | null
): Promise<void> {
	if (!offered || offered === channel.token) return;
	const checked = await checkToken(offered, host.ctx.jwtSecret);
	if (channel.closed) return;
	if (!checked.ok) return host.shutdown(channel, checked.message);
	const previous = channel.read;
	channel.token = offered;
	channel.claims = checked.claims;
	forgetWrite(channel);
	if (channel.private) {
		const read = await checkRead(host.ctx, channel.name, checked.claims);
		if (channel.closed) return;
		if (readsNothing(read)) {
			return host.shutdown(
				channel,
				`You do not have permissions to read from this Channel topic: ${channel.name}`
			);
		}
		if (!keepReading(host, channel, previous, read)) return;
	}
	scheduleTokenCheck(host, channel);
}
