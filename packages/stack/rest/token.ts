/**
 * The REST API's token check: verifies the request's JWT (PGRST301 for a bad one, PGRST303 once
 * expired) and keeps the last thousand verified tokens, since HS256 verification is the costliest
 * step of a fast read and a client sends the same token with every request.
 */
import { roleOf } from '../db/caller.ts';
import { JwtError, verifyJwt, type Claims } from '../jwt.ts';
import { errors } from './errors.ts';

/** A verified token: its claims, its role and the claims as the JSON `request.jwt.claims` holds. */
export interface Identity {
	claims: Claims;
	role: string;
	json: string;
}

export class TokenCheck {
	readonly #secret: string;
	readonly #known = new Map<string, Identity>();
	constructor(secret: string) {
		this.#secret = secret;
	}

	/** The identity `token` proves, or an ApiError. */
	async verify(token: string): Promise<Identity> {
		const known = this.#known.get(token);
		if (known) {
			if (typeof known.claims.exp !== 'number' || known.claims.exp * 1000 > Date.now()) return known;
			this.#known.delete(token);
		}
		let claims: Claims;
		try {
			claims = await verifyJwt(token, this.#secret);
		} catch (e) {
			if (e instanceof JwtError && e.reason === 'expired') throw errors.jwtExpired();
			throw errors.jwtInvalid();
		}
		const id = { claims, role: roleOf(claims), json: JSON.stringify(claims) };
		if (this.#known.size >= 1000) this.#known.delete(this.#known.keys().next().value!);
		this.#known.set(token, id);
		return id;
	}
}
