/**
 * Other people's signing keys, as their devices published them (`identity_keys`: every identity a
 * user has had, so messages signed before a key reset still verify). Fetched once per person and
 * cached; a signature that does not verify against the cached keys asks again (the sender may have
 * just published a new identity), at most once per person every half minute, so a forged message
 * cannot make every render hit the database.
 */
import type { SupabaseClient } from '@supabase/supabase-js';
import { unwrap } from '../chat/errors.ts';
import { checkBytes, signedBytes, type SignatureCheck, type SignedFields } from './signing.ts';

const REFETCH_AFTER_MS = 30_000;

export class IdentityKeys {
	#client: () => SupabaseClient;
	#keys = new Map<string, { at: number; keys: Promise<string[]> }>();

	constructor(client: () => SupabaseClient) {
		this.#client = client;
	}

	/** A person's signing keys, newest first (cached). */
	of(userId: string, fresh = false): Promise<string[]> {
		const cached = this.#keys.get(userId);
		if (cached && !fresh) return cached.keys;
		const keys = (async () => {
			const rows = unwrap(
				await this.#client()
					.from('identity_keys')
					.select('signing_key')
					.eq('user_id', userId)
					.order('created_at', { ascending: false })
			) as { signing_key: string }[] | null;
			return (rows ?? []).map((r) => r.signing_key);
		})();
		this.#keys.set(userId, { at: Date.now(), keys });
		keys.catch(() => {
			if (this.#keys.get(userId)?.keys === keys) this.#keys.delete(userId);
		});
		return keys;
	}

	/** Whether `signature` over `fields` is by `fields.senderId`. */
	check(fields: SignedFields, signature: string | null | undefined): Promise<SignatureCheck> {
		return this.checkStatement(fields.senderId, signedBytes(fields), signature);
	}

	/** Whether `signature` over raw `bytes` (a reaction, a statement) is by `userId`. */
	async checkStatement(
		userId: string,
		bytes: Uint8Array,
		signature: string | null | undefined
	): Promise<SignatureCheck> {
		if (!signature) return 'unsigned';
		const result = await checkBytes(bytes, signature, await this.of(userId));
		const cached = this.#keys.get(userId);
		if (result === 'verified' || (cached && Date.now() - cached.at < REFETCH_AFTER_MS)) return result;
		return checkBytes(bytes, signature, await this.of(userId, true));
	}

	/** Forgets every cached key (sign-out). */
	reset(): void {
		this.#keys.clear();
	}
}
