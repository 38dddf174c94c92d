/** Request bodies the Auth API refuses: malformed JSON (400) and more than 1 MB (413). */
import { describe, expect, it } from 'vitest';
import { newEmail, PASSWORD, useAuthStack } from './testing.ts';

const kit = useAuthStack();

describe('requests', () => {
	it('answers malformed JSON with 400', async () => {
		const response = await fetch(`${kit.stack.apiUrl}/auth/v1/signup`, {
			method: 'POST',
			headers: { apikey: kit.stack.anonKey, 'content-type': 'application/json' },
			body: '{"email": "a@b.co", '
		});
		expect(response.status).toBe(400);
		expect(await response.json()).toMatchObject({ code: 400, error_code: 'bad_json' });
	});

	it('answers a body over 1 MB with 413', async () => {
		const response = await fetch(`${kit.stack.apiUrl}/auth/v1/signup`, {
			method: 'POST',
			headers: { apikey: kit.stack.anonKey, 'content-type': 'application/json' },
			body: JSON.stringify({
				email: newEmail(),
				password: PASSWORD,
				data: { blob: 'x'.repeat(2 * 1024 * 1024) }
			})
		});
		expect(response.status).toBe(413);
		expect(await response.json()).toMatchObject({ error_code: 'request_entity_too_large' });
	});
});
