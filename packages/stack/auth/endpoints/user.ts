/**
 * `GET /user` and `PUT /user`: the signed-in user, and its own changes: user metadata (merged),
 * the password (which ends every other session) and the email (applied at once: no mail server
 * locally). An anonymous user becomes a permanent one by setting an email. App metadata and phone
 * numbers are not the user's to set here.
 */
import { sendJson } from '../../http.ts';
import { optionalObject, optionalString, withBody, type Json } from '../body.ts';
import type { AuthRequest } from '../context.ts';
import { emailTaken, forbidden, notSupported, uniqueAs, unprocessable } from '../errors.ts';
import { requireUser, type WithCaller } from '../guards.ts';
import { byMethod, type RouteTable } from '../router.ts';
import { transaction } from '../sessions.ts';
import {
	changedEmail,
	checkPasswordStrength,
	findUserById,
	hashPassword,
	mergeMetadata,
	updateEmail,
	userJson,
	verifyPassword
} from '../users.ts';

type UserRequest = AuthRequest & WithCaller;

async function getUser(r: UserRequest): Promise<void> {
	sendJson(r.res, 200, userJson(r.caller.user));
}

async function updateUser(r: UserRequest & { body: Json }): Promise<void> {
	const { config, pool } = r.auth;
	const { user, sessionId } = r.caller;
	const email = optionalString(r.body, 'email');
	const password = optionalString(r.body, 'password');
	const data = optionalObject(r.body, 'data');
	if (optionalObject(r.body, 'app_metadata')) {
		throw forbidden('not_admin', 'Updating app_metadata requires admin privileges');
	}
	if (optionalString(r.body, 'phone')) throw notSupported('Phone numbers');
	const newEmail = email ? await changedEmail(pool, user, email) : undefined;
	if (user.is_anonymous && password && !newEmail) {
		throw unprocessable(
			'validation_failed',
			'Updating password of an anonymous user without an email or phone is not allowed'
		);
	}
	let passwordHash: string | undefined;
	if (password) {
		checkPasswordStrength(password, config.auth.minimumPasswordLength);
		if (user.encrypted_password && (await verifyPassword(password, user.encrypted_password))) {
			throw unprocessable('same_password', 'New password should be different from the old password.');
		}
		passwordHash = await hashPassword(password);
	}
	await transaction(pool, async (db) => {
		const locked = await findUserById(db, user.id, true);
		if (!locked) throw forbidden('user_not_found', 'User from sub claim in JWT does not exist');
		if (passwordHash) {
			await db.query('update auth.users set encrypted_password = $2, updated_at = now() where id = $1', [
				user.id,
				passwordHash
			]);
			// A new password ends every other session, so a thief holding one is signed out.
			await db.query('delete from auth.sessions where user_id = $1 and id is distinct from $2', [
				user.id,
				sessionId ?? null
			]);
		}
		if (data) {
			await db.query('update auth.users set raw_user_meta_data = $2, updated_at = now() where id = $1', [
				user.id,
				mergeMetadata(locked.raw_user_meta_data, data)
			]);
		}
		// No mail server locally: an email change applies at once, as with autoconfirm.
		if (newEmail) await updateEmail(db, locked, newEmail, true).catch(uniqueAs(emailTaken()));
	});
	const updated = await findUserById(pool, user.id);
	sendJson(r.res, 200, userJson(updated!));
}

export const userRoutes: RouteTable = [
	{ path: '/user', handle: byMethod({ GET: requireUser(getUser), PUT: requireUser(withBody(updateUser)) }) }
];
