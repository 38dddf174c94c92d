/**
 * How far I trust each contact's identity: the keys their profile publishes now, whether I
 * verified them (compared safety numbers; `contact_verifications`, signed by my own identity so the
 * server cannot forge one), and whether they changed since this device first saw them (trust on
 * first use, remembered in IndexedDB, so a server that swaps a key and rewrites the history is
 * still noticed here). Every signing key in their history counts: one this device never saw (a
 * server could slip an old-looking key in to sign a forgery) is a change too. A verified contact
 * whose key changed blocks sending until I look again.
 */
/* eslint-disable svelte/prefer-svelte-reactivity -- per-call bookkeeping; the state is `contacts`. */
import type { SupabaseClient } from '@supabase/supabase-js';
import { ChatError, unwrap } from '../chat/errors.ts';
import { defaultIndexedDB, openDatabase, transaction } from '../chat/idb.ts';
import type { IdentityKeys } from './identity-keys.ts';
import type { Keyring } from './keyring.svelte.ts';
import type { Party } from './safety-number.ts';
import { checkBytes } from './signing.ts';

export interface ContactState {
	/** The identity the contact's profile publishes now (null: they have not published one yet). */
	current: Party | null;
	/** I verified exactly the current identity. */
	verified: boolean;
	/** I verified an earlier identity: sending to them waits until I look at the new one. */
	verifiedKeyChanged: boolean;
	/** Their identity changed since this device first saw it, and I have not acknowledged it. */
	changed: boolean;
}

export interface ContactTrustDeps {
	client(): SupabaseClient;
	me(): string;
	keyring: Keyring;
	identities: IdentityKeys;
	indexedDB?: IDBFactory;
}

interface Seen {
	/** `${me}:${contact}`: one record per account on a shared browser. */
	id: string;
	/** The contact's signing keys this device has seen and I accepted. */
	keys: string[];
}

const DB_NAME = 'parley-trust';
const STORE = 'seen';

/** What a verification signs: my id, the contact's, and the key I compared. */
export function verificationStatement(me: string, contactId: string, signingKey: string): Uint8Array {
	return new TextEncoder().encode(JSON.stringify(['parley/verification/v1', me, contactId, signingKey]));
}

export class ContactTrust {
	/** What I know of each contact loaded so far, by user id. */
	contacts = $state<Record<string, ContactState>>({});

	#deps: ContactTrustDeps;
	#db: Promise<IDBDatabase> | null = null;

	constructor(deps: ContactTrustDeps) {
		this.#deps = deps;
	}

	#open(): Promise<IDBDatabase> {
		this.#db ??= openDatabase(this.#deps.indexedDB ?? defaultIndexedDB(), DB_NAME, 1, (db) => {
			db.createObjectStore(STORE, { keyPath: 'id' });
		});
		return this.#db;
	}

	async #seen(contactId: string): Promise<string[] | null> {
		const db = await this.#open();
		const id = `${this.#deps.me()}:${contactId}`;
		const row = await transaction(db, STORE, 'readonly', (s) => s.get(id) as IDBRequest<Seen | undefined>);
		return row?.keys ?? null;
	}

	/** Accepts the contact's keys as they are now (their history and current key). */
	async #remember(contactId: string): Promise<void> {
		const current = this.contacts[contactId]?.current?.signingKey;
		const history = await this.#deps.identities.of(contactId);
		const keys = [...new Set([...history, ...(current ? [current] : [])])];
		const db = await this.#open();
		await transaction(db, STORE, 'readwrite', (s) =>
			s.put({ id: `${this.#deps.me()}:${contactId}`, keys } satisfies Seen)
		);
	}

	/** Loads (or reloads) what I know of these contacts; my own id is skipped. */
	async load(userIds: string[]): Promise<void> {
		const me = this.#deps.me();
		const ids = [...new Set(userIds)].filter((id) => id !== me);
		if (ids.length === 0) return;
		const supabase = this.#deps.client();
		const [profiles, verifications] = await Promise.all([
			supabase.from('profiles').select('id, signing_key, public_key').in('id', ids),
			supabase
				.from('contact_verifications')
				.select('contact_id, signing_key, signature')
				.eq('user_id', me)
				.in('contact_id', ids)
		]);
		const published = (unwrap(profiles) ?? []) as {
			id: string;
			signing_key: string | null;
			public_key: string | null;
		}[];
		const confirmed = (unwrap(verifications) ?? []) as {
			contact_id: string;
			signing_key: string;
			signature: string;
		}[];
		const myKeys = confirmed.length ? await this.#deps.identities.of(me, true) : [];
		await Promise.all(
			published.map(async (p) => {
				const current: Party | null = p.signing_key
					? { userId: p.id, signingKey: p.signing_key, publicKey: p.public_key }
					: null;
				const record = confirmed.find((v) => v.contact_id === p.id);
				// A verification counts only if my own identity signed it (the server could insert rows).
				const genuine =
					!!record &&
					(await checkBytes(
						verificationStatement(me, p.id, record.signing_key),
						record.signature,
						myKeys
					)) === 'verified';
				const history = await this.#deps.identities.of(p.id, true);
				this.contacts[p.id] = {
					current,
					verified: genuine && record!.signing_key === current?.signingKey,
					verifiedKeyChanged: genuine && !!current && record!.signing_key !== current.signingKey,
					changed: false
				};
				const seen = await this.#seen(p.id).catch(() => null);
				if (seen === null) {
					// First sight: trust on first use, nothing to announce.
					if (current) await this.#remember(p.id).catch(() => undefined);
					return;
				}
				const all = current ? [...history, current.signingKey] : history;
				this.contacts[p.id].changed = all.some((k) => !seen.includes(k));
			})
		);
	}

	/** Contacts among `userIds` whose verified key changed: sending waits for them. */
	blocking(userIds: string[]): string[] {
		return userIds.filter((id) => this.contacts[id]?.verifiedKeyChanged);
	}

	/** I confirmed the contact's current safety number: recorded, signed by me. */
	async verify(contactId: string): Promise<void> {
		const state = this.contacts[contactId];
		if (!state?.current) {
			throw new ChatError('This person has no identity key to verify yet', 409, 'no_identity_key');
		}
		const me = this.#deps.me();
		const { signingKey } = state.current;
		const signature = await this.#deps.keyring.signStatement(
			verificationStatement(me, contactId, signingKey)
		);
		const supabase = this.#deps.client();
		const existing = unwrap(
			await supabase
				.from('contact_verifications')
				.select('contact_id')
				.eq('user_id', me)
				.eq('contact_id', contactId)
				.maybeSingle()
		);
		// Insert, else update: an upsert would also "update" the key columns the grants rightly fix.
		if (existing) {
			unwrap(
				await supabase
					.from('contact_verifications')
					.update({ signing_key: signingKey, signature, verified_at: new Date().toISOString() })
					.eq('user_id', me)
					.eq('contact_id', contactId)
			);
		} else {
			unwrap(
				await supabase
					.from('contact_verifications')
					.insert({ user_id: me, contact_id: contactId, signing_key: signingKey, signature })
			);
		}
		await this.#remember(contactId);
		Object.assign(state, { verified: true, verifiedKeyChanged: false, changed: false });
	}

	/** I no longer vouch for this contact's key. */
	async unverify(contactId: string): Promise<void> {
		unwrap(
			await this.#deps
				.client()
				.from('contact_verifications')
				.delete()
				.eq('user_id', this.#deps.me())
				.eq('contact_id', contactId)
		);
		const state = this.contacts[contactId];
		if (state) Object.assign(state, { verified: false, verifiedKeyChanged: false });
	}

	/**
	 * I saw that the contact's key changed and accept the new one without verifying it: the notice
	 * goes, and an earlier verification (of the old key) is cleared rather than carried over.
	 */
	async acknowledge(contactId: string): Promise<void> {
		const state = this.contacts[contactId];
		if (!state?.current) return;
		if (state.verifiedKeyChanged) await this.unverify(contactId);
		await this.#remember(contactId);
		Object.assign(state, { changed: false, verifiedKeyChanged: false });
	}

	reset(): void {
		this.contacts = {};
	}
}
