/**
 * A group's history rule (docs/chat-api.md, `set_history_visibility`) as the app tells it: the
 * two rules in words, and why a message this device cannot open stays closed. Under `joined` no
 * key older than my joining will ever reach me, and no key of an epoch that is over either; under
 * `shared` any member who holds a key may still give it to me. So a closed message is either sent
 * before I joined, waiting for a key that can still come, or closed for good: the UI never shows
 * a wait for a key that will not come.
 */
import type { HistoryVisibility, MessageView } from './types.ts';

/** The rules an admin picks from, in the order the group panel offers them (the default first). */
export const HISTORY_RULES: readonly { value: HistoryVisibility; label: string }[] = [
	{ value: 'joined', label: 'New members see messages from when they join' },
	{ value: 'shared', label: 'New members can read the history' }
];

/** The words for a rule. */
export function historyRuleLabel(rule: HistoryVisibility): string {
	return HISTORY_RULES.find((r) => r.value === rule)?.label ?? HISTORY_RULES[0].label;
}

/**
 * Why a message does not open here: sealed under an epoch from before I joined (`joined` rule),
 * waiting for a member to share its key, or unavailable (its key never reached me and no longer
 * can: an epoch that is over under `joined`, or a message without encryption facts).
 */
export type LockedReason = 'before_join' | 'waiting' | 'unavailable';

/** What decides it: the conversation's current epoch and rule, and the epoch my membership began with. */
export interface KeyExpectations {
	/** The conversation's current key epoch; unknown (undefined) while it is not loaded. */
	key_epoch?: number;
	history_visibility?: HistoryVisibility;
	/** My `joined_epoch` in it (1 when unknown). */
	joined_epoch?: number;
}

/** Why `message` (one that does not open) stays closed, given what I know of its conversation. */
export function lockedReason(message: Pick<MessageView, 'encryption'>, facts: KeyExpectations): LockedReason {
	const epoch = message.encryption?.epoch;
	if (epoch === undefined) return 'unavailable';
	const current = facts.key_epoch;
	// The current epoch's key (or one of an epoch the list has not caught up with) may still be made or shared.
	if (current === undefined || epoch >= current) return 'waiting';
	if (facts.history_visibility === 'shared') return 'waiting';
	return epoch < (facts.joined_epoch ?? 1) ? 'before_join' : 'unavailable';
}

/** Whether a key for `epoch` can still reach me: worth asking the members for. */
export function keyMayArrive(epoch: number, facts: KeyExpectations): boolean {
	return lockedReason({ encryption: { epoch, nonce: '' } }, facts) === 'waiting';
}

/** What a closed message says, for each reason. */
export const LOCKED_TEXT: Record<LockedReason, string> = {
	before_join: 'Sent before you joined',
	waiting: "Waiting for a member to share this conversation's key with you…",
	unavailable: 'The key for this message never reached you, and no longer can'
};
