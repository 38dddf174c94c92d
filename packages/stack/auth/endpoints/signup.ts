/**
 * `POST /signup`: a new email + password account, confirmed at once (no mail server locally, as
 * with `enable_confirmations = false`), signed in with its first session. Without an email or
 * phone it is an anonymous sign-in, when the config allows those. Requests count against the
 * sign-in budget once the switches and field types are known to allow them.
 */
import { optionalObject, optionalString, withBody, type Json } from '../body.ts';
import type { AuthRequest } from '../context.ts';
import { badRequest, uniqueAs, unprocessable } from '../errors.ts';
import { rateLimited } from '../rate-limit.ts';
import { attach, byMethod, type RouteTable } from '../router.ts';
import { openSession, sendSession, transaction } from '../sessions.ts';
import { checkPasswordStrength, findUserByEmail, hashPassword, insertUser, validateEmail } from '../users.ts';

interface SignupInput {
	email?: string;
	phone?: string;
	password?: string;
	data: Json;
}

type SignupRequest = AuthRequest & { input: SignupInput };

/** The fields of a sign-up, refused before it counts when the instance takes no such sign-up. */
function signupInput(r: AuthRequest & { body: Json }): SignupInput {
	const { config } = r.auth;
	if (!config.auth.enableSignup)
		throw unprocessable('signup_disabled', 'Signups not allowed for this instance');
	const input: SignupInput = {
		email: optionalString(r.body, 'email'),
		phone: optionalString(r.body, 'phone'),
		password: optionalString(r.body, 'password'),
		data: optionalObject(r.body, 'data') ?? {}
	};
	if (!input.email && !input.phone && !config.auth.enableAnonymousSignIns) {
		throw unprocessable('anonymous_provider_disabled', 'Anonymous sign-ins are disabled');
	}
	return input;
}

const userExists = () => unprocessable('user_already_exists', 'User already registered');

async function signup(r: SignupRequest): Promise<void> {
	const { config, pool } = r.auth;
	const { email, phone, password, data } = r.input;
	if (!email && !phone) return anonymousSignup(r);
	if (!password) throw badRequest('validation_failed', 'Signup requires a valid password');
	if (email && phone) {
		throw badRequest(
			'validation_failed',
			'Only an email address or phone number should be provided on signup.'
		);
	}
	if (phone) throw badRequest('phone_provider_disabled', 'Phone signups are disabled');
	const normalized = validateEmail(email);
	checkPasswordStrength(password, config.auth.minimumPasswordLength);
	if (await findUserByEmail(pool, normalized)) throw userExists();
	// Hash outside the transaction: bcrypt is slow and must not hold a connection.
	const passwordHash = await hashPassword(password);
	const opened = await transaction(pool, async (db) => {
		const id = await insertUser(db, {
			email: normalized,
			passwordHash,
			emailConfirmed: true, // the local default: no confirmation email, as `enable_confirmations = false`
			userMetadata: data
		});
		return { id, ...(await openSession(db, id, 'password', r.client)) };
	}).catch(uniqueAs(userExists()));
	return sendSession(r, opened.id, opened);
}

async function anonymousSignup(r: SignupRequest): Promise<void> {
	const opened = await transaction(r.auth.pool, async (db) => {
		const id = await insertUser(db, {
			email: null,
			passwordHash: null,
			emailConfirmed: false,
			userMetadata: r.input.data,
			isAnonymous: true
		});
		return { id, ...(await openSession(db, id, 'anonymous', r.client)) };
	});
	return sendSession(r, opened.id, opened);
}

export const signupRoutes: RouteTable = [
	{
		path: '/signup',
		handle: byMethod({ POST: withBody(attach('input', signupInput, rateLimited('signIn', signup))) })
	}
];
