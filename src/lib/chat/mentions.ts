/**
 * @mentions, pure: finding `@username` in a text, resolving it against a conversation's members,
 * and the composer's autocomplete (the `@partial` being typed, the members it may mean, inserting
 * the pick).
 *
 * Where a mention lives: in the text, as `@username`. The text is sealed and signed by the
 * sender's device, so what a receiver highlights is what the sender wrote, and it reads the same
 * everywhere text goes (previews, search, copies, clients that know nothing of mentions). The
 * sender also tells the server the mentioned ids (`messages.mentions`, from `mentionedUserIds`),
 * which is all it needs to notify them; that copy is not signed, so the UI never highlights from
 * it. Usernames are unique, lowercase `[a-z0-9_]{3,32}` (profiles), so a name names one person;
 * one that matches no member is plain text.
 */

/** At most this many people per message (the database refuses more: `too_many_mentions`). */
export const MAX_MENTIONS = 50;

/** What a mention needs to know of a member. */
export interface Mentionable {
	user_id: string;
	username: string | null;
	display_name?: string | null;
}

/** One `@username` in a text: `[start, end)` covers the `@` and the name (lowercased). */
export interface MentionMatch {
	start: number;
	end: number;
	username: string;
}

const NAME_CHAR = /[A-Za-z0-9_]/;
/** `@` at the start or after anything but a name character or `@` (so `ann@example.com` is not one). */
const MENTION = /(^|[^A-Za-z0-9_@])@([A-Za-z0-9_]{3,32})(?![A-Za-z0-9_@])/g;

/** Every `@username` of `text`, in order. */
export function findMentions(text: string): MentionMatch[] {
	const found: MentionMatch[] = [];
	for (const m of text.matchAll(MENTION)) {
		const start = (m.index ?? 0) + m[1].length;
		found.push({ start, end: start + 1 + m[2].length, username: m[2].toLowerCase() });
	}
	return found;
}

/** The member a username names, if any. */
export function memberByUsername<M extends Mentionable>(
	members: readonly M[],
	username: string
): M | undefined {
	const name = username.toLowerCase();
	return members.find((m) => m.username?.toLowerCase() === name);
}

/**
 * The ids of the members `text` mentions, each once, in order of first mention, at most
 * MAX_MENTIONS: what a send or an edit tells the server.
 */
export function mentionedUserIds(text: string | null, members: readonly Mentionable[]): string[] {
	if (!text) return [];
	const ids: string[] = [];
	for (const match of findMentions(text)) {
		const member = memberByUsername(members, match.username);
		if (member && !ids.includes(member.user_id)) ids.push(member.user_id);
		if (ids.length === MAX_MENTIONS) break;
	}
	return ids;
}

/** Does `text` mention `userId` (by the username the members list gives them)? */
export function mentionsUser(text: string | null, members: readonly Mentionable[], userId: string): boolean {
	return mentionedUserIds(text, members).includes(userId);
}

/** The `@partial` being typed at the caret: where its `@` is and what follows it. */
export interface MentionQuery {
	/** Index of the `@`. */
	start: number;
	/** What was typed after it (possibly empty). */
	query: string;
}

/**
 * The mention being typed when the caret is at `caret`: an `@` at the start or after a space or
 * punctuation, followed by up to 32 name characters up to the caret. Null otherwise (also inside
 * an email address, or once a space was typed).
 */
export function mentionQueryAt(text: string, caret: number): MentionQuery | null {
	if (caret < 0 || caret > text.length) return null;
	let i = caret;
	while (i > 0 && NAME_CHAR.test(text[i - 1]) && caret - i < 32) i--;
	if (i === 0 || text[i - 1] !== '@') return null;
	const at = i - 1;
	if (at > 0 && /[A-Za-z0-9_@]/.test(text[at - 1])) return null;
	// The caret must end the name: typing in the middle of one edits it, no picker.
	if (caret < text.length && NAME_CHAR.test(text[caret])) return null;
	return { start: at, query: text.slice(i, caret) };
}

/**
 * The members `query` may mean, best first: username or display name starting with it, then
 * containing it; never `me`, never a member without a username. At most `limit`.
 */
export function mentionCandidates<M extends Mentionable>(
	members: readonly M[],
	query: string,
	me: string | null,
	limit = 8
): M[] {
	const q = query.toLowerCase();
	const scored: { member: M; score: number }[] = [];
	for (const member of members) {
		if (member.user_id === me || !member.username) continue;
		const username = member.username.toLowerCase();
		const name = (member.display_name ?? '').toLowerCase();
		const words = name.split(/\s+/);
		let score: number;
		if (username.startsWith(q)) score = 0;
		else if (words.some((w) => w.startsWith(q))) score = 1;
		else if (username.includes(q) || name.includes(q)) score = 2;
		else continue;
		scored.push({ member, score });
	}
	return scored
		.sort(
			(a, b) =>
				a.score - b.score ||
				(a.member.display_name || a.member.username || '').localeCompare(
					b.member.display_name || b.member.username || ''
				)
		)
		.slice(0, limit)
		.map((s) => s.member);
}

/**
 * `text` with the mention being typed (`query`, from `mentionQueryAt`) replaced by `@username`
 * and a space, and where the caret goes after it.
 */
export function insertMention(
	text: string,
	query: MentionQuery,
	username: string
): { text: string; caret: number } {
	const end = query.start + 1 + query.query.length;
	const rest = text.slice(end);
	const mention = `@${username}`;
	const space = rest.startsWith(' ') ? '' : ' ';
	const next = text.slice(0, query.start) + mention + space + rest;
	return { text: next, caret: query.start + mention.length + 1 };
}
