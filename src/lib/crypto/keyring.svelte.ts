/**
 * The key ring: this device's identity key pair, the signing key derived from it (signing.ts), and
 * the conversation keys it can unwrap.
 *
 * The identity secret key lives only in IndexedDB (per user) and, passphrase-encrypted (backup.ts),
 * in `key_backups`. Conversation keys come from `conversation_keys` (wrapped for me with `nacl.box`) and
 * are kept in memory only. When the current epoch of a conversation has no key yet, the first member
 * who needs one (a sender) makes it and publishes it wrapped for every current member.
 */
/* eslint-disable svelte/prefer-svelte-reactivity -- the caches and timestamps here are private, not state. */
import type { SupabaseClient } from '@supabase/supabase-js';
import { defaultIndexedDB, openDatabase, transaction } from '../chat/idb.ts';
import { ChatError, isNetworkError, unwrap } from '../chat/errors.ts';
import { normalizeParticipant } from '../chat/derive.ts';
import { getConversation, membersMissingKey, publishConversationKeys, refusal } from '../rpc.ts';
import { backupNeedsReseal, decryptBackup, encryptBackup, type KeyBackup } from './backup.ts';
import { generateIdentity, newConversationKey, publicKeyOf, toBase64, unwrapKey, wrapKey } from './e2ee.ts';
import { deriveLocalKey } from './local-key.ts';
import {
	signBytes,
	signFields,
	signingKeyOf,
	signingPublicKeyOf,
	type SignedFields,
	type SigningKey
} from './signing.ts';

interface StoredIdentity {
	userId: string;
	publicKey: string;
	secretKey: Uint8Array;
	createdAt: string;
}

interface KeyRow {
	wrapped_key: string;
	nonce: string;
	wrapped_by: string;
}

const DB_NAME = 'parley-keys';
const STORE = 'identities';

export class Keyring {
	/** The signed-in user this ring belongs to. */
	userId = $state<string | null>(null);
	/** My base64 public key once this device has the identity. */
	publicKey = $state<string | null>(null);
	/** My base64 signing public key (derived from the identity) once this device has it. */
	signingPublicKey = $state<string | null>(null);
	/** This device holds the identity secret key matching `profiles.public_key`. */
	ready = $state(false);
	/** The profile has a public key but this device lacks (or has another) secret key: restore the backup. */
	needsRestore = $state(false);
	/** Whether `key_backups` holds a backup for me. */
	hasBackup = $state(false);
	/** Called after the identity changed (restored or reset), so readers can decrypt again. */
	onIdentityChange: (() => void) | null = null;

	#factory: IDBFactory | undefined;
	#db: Promise<IDBDatabase> | null = null;
	#supabase: SupabaseClient | null = null;
	#secretKey: Uint8Array | null = null;
	#signing: Promise<SigningKey> | null = null;
	#keys = new Map<string, Promise<Uint8Array | null>>();
	#publicKeys = new Map<string, string | null>();

	/** `factory` defaults to the global `indexedDB` (pass `fake-indexeddb`'s in tests). */
	constructor(factory?: IDBFactory) {
		this.#factory = factory;
	}

	#open(): Promise<IDBDatabase> {
		this.#db ??= openDatabase(this.#factory ?? defaultIndexedDB(), DB_NAME, 1, (db) => {
			db.createObjectStore(STORE, { keyPath: 'userId' });
		});
		return this.#db;
	}

	async #load(userId: string): Promise<StoredIdentity | undefined> {
		const db = await this.#open();
		return (
			(await transaction(db, STORE, 'readonly', (s) => s.get(userId) as IDBRequest<StoredIdentity>)) ??
			undefined
		);
	}

	async #save(identity: StoredIdentity): Promise<void> {
		const db = await this.#open();
		await transaction(db, STORE, 'readwrite', (s) => s.put(identity));
	}

	#client(): { supabase: SupabaseClient; userId: string } {
		if (!this.#supabase || !this.userId) throw new Error('Keyring.ensureIdentity has not run');
		return { supabase: this.#supabase, userId: this.userId };
	}

	#requireSecret(): Uint8Array {
		if (!this.#secretKey) throw new ChatError('This device has no identity key yet', 0, 'no_identity');
		return this.#secretKey;
	}

	#use(identity: StoredIdentity) {
		this.#secretKey = identity.secretKey;
		this.#signing = signingKeyOf(identity.secretKey);
		this.signingPublicKey = signingPublicKeyOf(identity.secretKey);
		this.publicKey = identity.publicKey;
		this.#publicKeys.set(identity.userId, identity.publicKey);
		this.ready = true;
		this.needsRestore = false;
	}

	/** Publishes an identity: its box key and the signing key derived from it, together. */
	async #publishPublicKey(publicKey: string, secretKey: Uint8Array): Promise<void> {
		const { supabase, userId } = this.#client();
		const signing_key = signingPublicKeyOf(secretKey);
		unwrap(await supabase.from('profiles').update({ public_key: publicKey, signing_key }).eq('id', userId));
		this.#publicKeys.set(userId, publicKey);
	}

	/** Signs a message's fields with this device's identity (throws without one). */
	async sign(fields: SignedFields): Promise<string> {
		return signFields(await this.#signingKey(), fields);
	}

	/** Signs a statement of mine (e.g. "I verified this contact's key") with my identity. */
	async signStatement(bytes: Uint8Array): Promise<string> {
		return toBase64(await signBytes(await this.#signingKey(), bytes));
	}

	#signingKey(): Promise<SigningKey> {
		this.#requireSecret();
		if (!this.#signing) throw new ChatError('This device has no identity key yet', 0, 'no_identity');
		return this.#signing;
	}

	/**
	 * Loads this device's identity for `userId`, creating and publishing one on first use. Sets
	 * `needsRestore` instead when the profile already has a public key this device cannot match.
	 */
	async ensureIdentity(supabase: SupabaseClient, userId: string): Promise<void> {
		if (this.userId !== userId) this.#forgetSecrets();
		this.#supabase = supabase;
		this.userId = userId;
		const [local, profile, backup] = await Promise.all([
			this.#load(userId),
			supabase.from('profiles').select('public_key, signing_key').eq('id', userId).maybeSingle(),
			supabase.from('key_backups').select('user_id').eq('user_id', userId).maybeSingle()
		]);
		if (profile.error && local && isNetworkError(new ChatError(profile.error.message, profile.status))) {
			// Offline start: trust this device's key; the next online start checks it against the profile.
			this.#use(local);
			return;
		}
		const row = unwrap(profile) as { public_key: string | null; signing_key: string | null } | null;
		const published = row?.public_key ?? null;
		this.hasBackup = !backup.error && !!backup.data;

		if (local && (published === null || published === local.publicKey)) {
			// An identity made before messages were signed publishes its signing key on first use.
			if (published === null || row?.signing_key !== signingPublicKeyOf(local.secretKey))
				await this.#publishPublicKey(local.publicKey, local.secretKey);
			this.#use(local);
			return;
		}
		if (!local && published === null) {
			const identity = generateIdentity();
			const stored: StoredIdentity = { userId, ...identity, createdAt: new Date().toISOString() };
			await this.#save(stored);
			await this.#publishPublicKey(identity.publicKey, identity.secretKey);
			this.#use(stored);
			return;
		}
		// The profile's key was made elsewhere: only the backup (or a reset) can bring it here.
		this.#secretKey = null;
		this.#signing = null;
		this.publicKey = null;
		this.ready = false;
		this.needsRestore = true;
	}

	/** Uploads the identity secret key encrypted under `passphrase` (replacing any earlier backup). */
	async backup(passphrase: string): Promise<void> {
		const { supabase, userId } = this.#client();
		if (passphrase.length < 8)
			throw new ChatError('Choose a passphrase of at least 8 characters', 400, 'weak_passphrase');
		const backup = await encryptBackup(this.#requireSecret(), passphrase);
		// Insert, else update: an upsert would also "update" user_id, which the grants rightly forbid.
		const existing = unwrap(
			await supabase.from('key_backups').select('user_id').eq('user_id', userId).maybeSingle()
		);
		if (existing) {
			unwrap(await supabase.from('key_backups').update({ backup }).eq('user_id', userId));
		} else {
			unwrap(await supabase.from('key_backups').insert({ user_id: userId, backup }));
		}
		this.hasBackup = true;
	}

	/**
	 * Restores the identity from `key_backups`: true on success, false for a wrong passphrase.
	 * Throws when there is no backup, or it holds a key other than the one in my profile. A backup
	 * sealed with an older setting (PBKDF2, v1) is sealed again with today's, since the passphrase
	 * is at hand only now.
	 */
	async restore(passphrase: string): Promise<boolean> {
		const { supabase, userId } = this.#client();
		const row = unwrap(
			await supabase.from('key_backups').select('backup, updated_at').eq('user_id', userId).maybeSingle()
		) as { backup: KeyBackup; updated_at: string } | null;
		if (!row) throw new ChatError('There is no key backup for this account', 404, 'backup_not_found');
		const secretKey = await decryptBackup(row.backup, passphrase);
		if (!secretKey) return false;
		const publicKey = publicKeyOf(secretKey);
		const profile = unwrap(
			await supabase.from('profiles').select('public_key, signing_key').eq('id', userId).maybeSingle()
		) as { public_key: string | null; signing_key: string | null } | null;
		const published = profile?.public_key ?? null;
		if (published && published !== publicKey) {
			throw new ChatError(
				'The backup holds an older key than the one this account uses now',
				409,
				'backup_outdated'
			);
		}
		const stored: StoredIdentity = { userId, publicKey, secretKey, createdAt: new Date().toISOString() };
		await this.#save(stored);
		if (!published || profile?.signing_key !== signingPublicKeyOf(secretKey))
			await this.#publishPublicKey(publicKey, secretKey);
		this.#keys.clear();
		this.#use(stored);
		this.hasBackup = true;
		this.onIdentityChange?.();
		if (backupNeedsReseal(row.backup)) await this.#reseal(row.updated_at, secretKey, passphrase);
		return true;
	}

	/**
	 * Replaces an outdated backup with one sealed under today's setting, if it is still the stored
	 * one. Best effort: when it fails the old backup still opens, and the next restore tries again.
	 */
	async #reseal(updatedAt: string, secretKey: Uint8Array, passphrase: string): Promise<void> {
		const { supabase, userId } = this.#client();
		try {
			const backup = await encryptBackup(secretKey, passphrase);
			// Only over the backup just opened: another device may have saved a new one meanwhile.
			unwrap(
				await supabase
					.from('key_backups')
					.update({ backup })
					.eq('user_id', userId)
					.eq('updated_at', updatedAt)
			);
		} catch {
			// Kept as it was: still openable with the same passphrase.
		}
	}

	/**
	 * Makes a new identity and publishes it, for a user who lost the old one without a backup.
	 * Messages encrypted for the old key stay unreadable; new conversation keys reach the new one.
	 */
	async resetIdentity(): Promise<void> {
		const { userId } = this.#client();
		const identity = generateIdentity();
		const stored: StoredIdentity = { userId, ...identity, createdAt: new Date().toISOString() };
		await this.#save(stored);
		await this.#publishPublicKey(identity.publicKey, identity.secretKey);
		this.#keys.clear();
		this.#use(stored);
		this.onIdentityChange?.();
	}

	/** Forgets everything in memory (sign-out). The IndexedDB copy stays for the next sign-in. */
	/** A non-extractable AES-GCM key from my identity for data sealed on this device (local-key.ts). */
	async localKey(purpose: string): Promise<CryptoKey | null> {
		const secret = this.#secretKey;
		return secret && this.userId ? deriveLocalKey(secret, `${purpose}:${this.userId}`) : null;
	}

	lock(): void {
		this.#forgetSecrets();
		this.userId = null;
		this.#supabase = null;
	}

	#forgetSecrets() {
		this.#secretKey = null;
		this.#signing = null;
		this.signingPublicKey = null;
		this.#keys.clear();
		this.#publicKeys.clear();
		this.publicKey = null;
		this.ready = false;
		this.needsRestore = false;
		this.hasBackup = false;
	}

	/** A cached conversation key, without any network access (for encrypting while offline). */
	async cachedConversationKey(conversationId: string, epoch: number): Promise<Uint8Array | null> {
		const cached = this.#keys.get(`${conversationId}:${epoch}`);
		return cached ? await cached.catch(() => null) : null;
	}

	/**
	 * The key of a conversation's epoch: unwrapped from my `conversation_keys` row, or — when
	 * `create` (default) and the epoch is the conversation's current one with no key for me yet —
	 * made here and published wrapped for all current members. Null when there is none for me.
	 */
	conversationKey(
		conversationId: string,
		epoch: number,
		options: { create?: boolean } = {}
	): Promise<Uint8Array | null> {
		const id = `${conversationId}:${epoch}`;
		const cached = this.#keys.get(id);
		if (cached) return cached;
		const pending = this.#fetchKey(conversationId, epoch, options.create ?? true);
		this.#keys.set(id, pending);
		// Only keys are cached: "no key yet" may change once someone publishes one.
		pending.then(
			(key) => {
				if (!key && this.#keys.get(id) === pending) this.#keys.delete(id);
			},
			() => {
				if (this.#keys.get(id) === pending) this.#keys.delete(id);
			}
		);
		return pending;
	}

	async #fetchKey(conversationId: string, epoch: number, create: boolean): Promise<Uint8Array | null> {
		const existing = await this.#readKey(conversationId, epoch);
		if (existing !== undefined || !create) return existing ?? null;
		return this.#createKey(conversationId, epoch);
	}

	/** My unwrapped key for the epoch; `undefined` when no row exists, null when it does not open. */
	async #readKey(conversationId: string, epoch: number): Promise<Uint8Array | null | undefined> {
		const { supabase, userId } = this.#client();
		const secret = this.#requireSecret();
		const row = unwrap(
			await supabase
				.from('conversation_keys')
				.select('wrapped_key, nonce, wrapped_by')
				.eq('conversation_id', conversationId)
				.eq('epoch', epoch)
				.eq('user_id', userId)
				.maybeSingle()
		) as KeyRow | null;
		if (!row) return undefined;
		const wrapperKey = await this.#publicKeyOf(row.wrapped_by);
		if (!wrapperKey) return null;
		return unwrapKey(row.wrapped_key, row.nonce, wrapperKey, secret);
	}

	async #publicKeyOf(userId: string): Promise<string | null> {
		if (this.#publicKeys.has(userId)) return this.#publicKeys.get(userId) ?? null;
		const { supabase } = this.#client();
		const row = unwrap(
			await supabase.from('profiles').select('public_key').eq('id', userId).maybeSingle()
		) as {
			public_key: string | null;
		} | null;
		const key = row?.public_key ?? null;
		this.#publicKeys.set(userId, key);
		return key;
	}

	/** Current members with a public key (members without one cannot receive a key yet). */
	async #members(
		conversationId: string
	): Promise<{ epoch: number; members: { user_id: string; public_key: string }[] }> {
		const { supabase } = this.#client();
		// get_conversation answers jsonb (typed Json): the fields read here are its documented ones.
		const conversation = (await getConversation(supabase, { conversation_id: conversationId })) as {
			key_epoch: number | string;
			participants?: unknown[];
		};
		const participants = (conversation.participants ?? []).map(normalizeParticipant);
		const missing = participants.filter((p) => !p.public_key).map((p) => p.user_id);
		if (missing.length) {
			// Some payloads may omit public keys; the profiles table has them.
			const rows = unwrap(await supabase.from('profiles').select('id, public_key').in('id', missing)) as {
				id: string;
				public_key: string | null;
			}[];
			for (const r of rows ?? []) {
				const p = participants.find((x) => x.user_id === r.id);
				if (p) p.public_key = r.public_key;
			}
		}
		const members = participants
			.filter((p): p is typeof p & { public_key: string } => !!p.public_key)
			.map((p) => ({ user_id: p.user_id, public_key: p.public_key }));
		for (const m of members) this.#publicKeys.set(m.user_id, m.public_key);
		return { epoch: Number(conversation.key_epoch), members };
	}

	async #createKey(conversationId: string, epoch: number): Promise<Uint8Array | null> {
		const { supabase, userId } = this.#client();
		const secret = this.#requireSecret();
		const { epoch: current, members } = await this.#members(conversationId);
		// Old epochs are never re-keyed: their messages were sealed under keys that already exist.
		if (current !== epoch || !members.some((m) => m.user_id === userId)) return null;
		const key = newConversationKey();
		const refused = await refusal(
			publishConversationKeys(supabase, {
				conversation_id: conversationId,
				epoch,
				keys: this.#wrapFor(key, members, secret)
			})
		);
		// Two members may race to key the same epoch; whichever row the database kept for me wins.
		const stored = await this.#readKey(conversationId, epoch);
		if (stored) return stored;
		if (refused) throw refused;
		return key;
	}

	/** `key` wrapped for each member (nacl.box from me to them), as publish_conversation_keys takes it. */
	#wrapFor(key: Uint8Array, members: { user_id: string; public_key: string }[], secret: Uint8Array) {
		return members.map((m) => ({ user_id: m.user_id, ...wrapKey(key, m.public_key, secret) }));
	}

	/**
	 * Gives the keys I hold to the members who lack them: the current epoch's (they had no public
	 * key when it was made, or joined since) and, when the group's history rule is `shared`, each
	 * earlier epoch's, as `members_missing_key` lists them. One publish per epoch, newest first; an
	 * epoch refused meanwhile (the rule or the epoch moved) is skipped, the next ask starts over.
	 * Resolves with how many key rows were given.
	 */
	async shareMissingKeys(conversationId: string): Promise<number> {
		const { supabase } = this.#client();
		const secret = this.#requireSecret();
		const missing = await membersMissingKey(supabase, { conversation_id: conversationId });
		const byEpoch = new Map<number, { user_id: string; public_key: string }[]>();
		for (const m of missing ?? []) {
			const epoch = Number(m.epoch);
			byEpoch.set(epoch, [...(byEpoch.get(epoch) ?? []), m]);
		}
		let given = 0;
		for (const [epoch, members] of [...byEpoch].sort(([a], [b]) => b - a)) {
			const key = await this.conversationKey(conversationId, epoch, { create: false });
			if (!key) continue;
			const keys = this.#wrapFor(key, members, secret);
			const refused = await refusal(
				publishConversationKeys(supabase, { conversation_id: conversationId, epoch, keys })
			);
			if (!refused) given += keys.length;
		}
		return given;
	}

	/**
	 * Wraps an existing epoch key for members who lack it (e.g. just added) and publishes those rows.
	 * Does nothing when I do not have the key myself.
	 */
	async shareConversationKey(conversationId: string, epoch: number, userIds: string[]): Promise<void> {
		const { supabase } = this.#client();
		const secret = this.#requireSecret();
		const key = await this.conversationKey(conversationId, epoch, { create: false });
		if (!key || userIds.length === 0) return;
		const { members } = await this.#members(conversationId);
		const keys = this.#wrapFor(
			key,
			members.filter((m) => userIds.includes(m.user_id)),
			secret
		);
		if (keys.length === 0) return;
		await publishConversationKeys(supabase, { conversation_id: conversationId, epoch, keys });
	}
}
