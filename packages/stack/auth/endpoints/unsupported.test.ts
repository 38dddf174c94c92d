/** The GoTrue features the embedded stack leaves out, as supabase-js sees their refusal. */
import { describe, expect, it } from 'vitest';
import { newEmail, useAuthStack } from '../testing.ts';

const kit = useAuthStack();

describe('requests', () => {
	it('answers unsupported features with a clear GoTrue-shaped error', async () => {
		const client = kit.anonClient();
		const otp = await client.auth.signInWithOtp({ email: newEmail() });
		expect(otp.error).toMatchObject({ status: 400, code: 'feature_not_supported' });
		expect(otp.error!.message).toMatch(/not supported by the embedded Parley stack/);
		const reset = await client.auth.resetPasswordForEmail(newEmail());
		expect(reset.error).toMatchObject({ code: 'feature_not_supported' });
		const anonymous = await client.auth.signInAnonymously();
		expect(anonymous.error).toMatchObject({ status: 422, code: 'anonymous_provider_disabled' });
	});
});
