import { describe, expect, it } from 'vitest';
import { ChatError, errorMessage } from './errors.ts';

describe('errorMessage', () => {
	it("gives an Error's or a PostgREST error object's message, a thrown string, or a generic sentence", () => {
		expect(errorMessage(new ChatError('Conversation not found', 404))).toBe('Conversation not found');
		expect(errorMessage({ code: 'PT403', message: 'Only admins can change roles.' })).toBe(
			'Only admins can change roles.'
		);
		expect(errorMessage('offline')).toBe('offline');
		for (const nothing of [undefined, null, 42, {}, { message: '' }, ''])
			expect(errorMessage(nothing)).toBe('Something went wrong. Please try again.');
	});
});
