import { describe, expect, it } from 'vitest';
import {
	MAX_MENTIONS,
	findMentions,
	insertMention,
	mentionCandidates,
	mentionQueryAt,
	mentionedUserIds,
	mentionsUser
} from './mentions.ts';

const members = [
	{ user_id: 'u1', username: 'alice', display_name: 'Alice Liddell' },
	{ user_id: 'u2', username: 'bob_99', display_name: 'Bob' },
	{ user_id: 'u3', username: 'albert', display_name: 'Al' },
	{ user_id: 'u4', username: null, display_name: 'No Name' }
];

describe('the mention parser', () => {
	it('finds @username at the start, after spaces and punctuation, lowercased', () => {
		expect(findMentions('@Alice, (@bob_99) hi @albert!')).toEqual([
			{ start: 0, end: 6, username: 'alice' },
			{ start: 9, end: 16, username: 'bob_99' },
			{ start: 21, end: 28, username: 'albert' }
		]);
	});

	it('ignores emails, too short or too long names, and @@', () => {
		expect(findMentions('ann@alice.com @al @@alice @alice@x')).toEqual([]);
		expect(findMentions(`@${'a'.repeat(33)}`)).toEqual([]);
		expect(findMentions(`@${'a'.repeat(32)}`)).toHaveLength(1);
	});

	it('resolves mentions to member ids, once each, in order; non-members stay out', () => {
		expect(mentionedUserIds('@bob_99 @alice @carol @BOB_99', members)).toEqual(['u2', 'u1']);
		expect(mentionedUserIds(null, members)).toEqual([]);
		expect(mentionsUser('hey @alice', members, 'u1')).toBe(true);
		expect(mentionsUser('hey alice', members, 'u1')).toBe(false);
	});

	it(`caps the ids at ${MAX_MENTIONS}`, () => {
		const many = Array.from({ length: 60 }, (_, i) => ({ user_id: `id${i}`, username: `user${i}x` }));
		const text = many.map((m) => `@${m.username}`).join(' ');
		expect(mentionedUserIds(text, many)).toHaveLength(MAX_MENTIONS);
	});
});

describe('the composer autocomplete', () => {
	it('knows the @partial before the caret', () => {
		expect(mentionQueryAt('hi @al', 6)).toEqual({ start: 3, query: 'al' });
		expect(mentionQueryAt('@', 1)).toEqual({ start: 0, query: '' });
		expect(mentionQueryAt('(@b', 3)).toEqual({ start: 1, query: 'b' });
		expect(mentionQueryAt('ann@al', 6)).toBeNull();
		expect(mentionQueryAt('hi @al ', 7)).toBeNull();
		expect(mentionQueryAt('hi @alice', 6)).toBeNull(); // in the middle of a name
		expect(mentionQueryAt('no at here', 5)).toBeNull();
	});

	it('ranks members: username prefix, then a word of the name, then anywhere; never me', () => {
		expect(mentionCandidates(members, 'al', 'u9').map((m) => m.username)).toEqual(['albert', 'alice']);
		expect(mentionCandidates(members, 'lid', 'u9').map((m) => m.username)).toEqual(['alice']);
		expect(mentionCandidates(members, 'bob', 'u2')).toEqual([]);
		expect(mentionCandidates(members, '', 'u1').map((m) => m.username)).toEqual(['albert', 'bob_99']);
		expect(mentionCandidates(members, 'no', null)).toEqual([]);
	});

	it('inserts the pick with one space and puts the caret after it', () => {
		expect(insertMention('hi @al', { start: 3, query: 'al' }, 'alice')).toEqual({
			text: 'hi @alice ',
			caret: 10
		});
		expect(insertMention('@b and more', { start: 0, query: 'b' }, 'bob_99')).toEqual({
			text: '@bob_99 and more',
			caret: 8
		});
	});
});
