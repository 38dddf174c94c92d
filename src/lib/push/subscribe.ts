/**
 * Web Push in the browser: asks for permission, subscribes this browser with the delivery worker's
 * VAPID key and stores the subscription through the `save_push_subscription` RPC (src/lib/rpc.ts),
 * so the worker can notify this user while they are offline. Call `enablePush` from a user gesture
 * (a click): browsers refuse permission prompts otherwise.
 */
import type { SupabaseClient } from '@supabase/supabase-js';
import { deletePushSubscription, getVapidPublicKey, refusal, savePushSubscription } from '../rpc.ts';

export type PushState =
	/** This browser has no service workers, Push API or notifications. */
	| 'unsupported'
	/** The user blocked notifications (or dismissed the prompt). */
	| 'denied'
	/** No VAPID key yet: the delivery worker has never run against this database. */
	| 'unavailable'
	| 'subscribed';

/** Decodes base64url (the VAPID public key) into the bytes `pushManager.subscribe` expects. */
export function base64UrlToBytes(value: string): Uint8Array<ArrayBuffer> {
	const base64 = value
		.replace(/-/g, '+')
		.replace(/_/g, '/')
		.padEnd(Math.ceil(value.length / 4) * 4, '=');
	const binary = atob(base64);
	const bytes = new Uint8Array(new ArrayBuffer(binary.length));
	for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
	return bytes;
}

/** Does this browser support Web Push at all? */
export function pushSupported(): boolean {
	return (
		typeof navigator !== 'undefined' &&
		'serviceWorker' in navigator &&
		typeof window !== 'undefined' &&
		'PushManager' in window &&
		'Notification' in window
	);
}

/** The service worker registration (SvelteKit registers `/service-worker.js` itself). */
async function registration(): Promise<ServiceWorkerRegistration> {
	const existing = await navigator.serviceWorker.getRegistration();
	if (!existing) {
		await navigator.serviceWorker.register('/service-worker.js', {
			type: import.meta.env?.DEV ? 'module' : 'classic'
		});
	}
	return navigator.serviceWorker.ready;
}

function sameKey(subscription: PushSubscription, key: Uint8Array): boolean {
	const current = subscription.options.applicationServerKey;
	if (!current) return false;
	const bytes = new Uint8Array(current);
	return bytes.length === key.length && bytes.every((b, i) => b === key[i]);
}

/**
 * Subscribes this browser to pushes for the signed-in user and saves the subscription. Safe to
 * call again (e.g. on every sign-in): an existing subscription is reused and re-saved, and one made
 * with an old VAPID key is replaced.
 */
export async function enablePush(supabase: SupabaseClient): Promise<PushState> {
	if (!pushSupported()) return 'unsupported';
	const permission =
		Notification.permission === 'granted' ? 'granted' : await Notification.requestPermission();
	if (permission !== 'granted') return 'denied';

	const vapidKey = await getVapidPublicKey(supabase);
	if (!vapidKey) return 'unavailable';
	const applicationServerKey = base64UrlToBytes(vapidKey);

	const reg = await registration();
	let subscription = await reg.pushManager.getSubscription();
	if (subscription && !sameKey(subscription, applicationServerKey)) {
		await subscription.unsubscribe();
		subscription = null;
	}
	subscription ??= await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey });

	const json = subscription.toJSON();
	await savePushSubscription(supabase, {
		endpoint: subscription.endpoint,
		// A push subscription always has its keys; without them the database answers invalid_push_subscription.
		p256dh: json.keys?.p256dh ?? null,
		auth: json.keys?.auth ?? null,
		user_agent: navigator.userAgent
	});
	return 'subscribed';
}

/** Stops pushes to this browser: unsubscribes and deletes the stored subscription (e.g. on sign-out). */
export async function disablePush(supabase: SupabaseClient): Promise<void> {
	if (!pushSupported()) return;
	const reg = await navigator.serviceWorker.getRegistration();
	const subscription = await reg?.pushManager.getSubscription();
	if (!subscription) return;
	// Unsubscribe even when the server refused the delete: this browser stops receiving either way.
	const refused = await refusal(deletePushSubscription(supabase, { endpoint: subscription.endpoint }));
	await subscription.unsubscribe();
	if (refused) throw refused;
}
