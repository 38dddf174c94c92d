/// <reference types="@sveltejs/kit" />
/// <reference no-default-lib="true"/>
/// <reference lib="esnext" />
/// <reference lib="webworker" />
/**
 * Parley's service worker: shows the delivery worker's Web Push notifications and opens the
 * conversation when one is clicked. Pushes carry no message content (sender name and conversation
 * only), so nothing here decrypts anything.
 */

const sw = self as unknown as ServiceWorkerGlobalScope;

/** What the delivery worker sends (see supabase/functions/_shared/delivery.ts, PushPayload). */
interface PushPayload {
	conversation_id?: string;
	title?: string;
	body?: string;
	tag?: string;
	count?: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

sw.addEventListener('install', () => {
	void sw.skipWaiting();
});

sw.addEventListener('activate', (event) => {
	event.waitUntil(sw.clients.claim());
});

sw.addEventListener('push', (event) => {
	let data: PushPayload = {};
	try {
		data = (event.data?.json() as PushPayload | undefined) ?? {};
	} catch {
		// A push without a JSON body still gets a generic notification (browsers require one).
	}
	const conversationId =
		typeof data.conversation_id === 'string' && UUID.test(data.conversation_id) ? data.conversation_id : null;
	const url = conversationId ? `/c/${conversationId}` : '/';
	event.waitUntil(
		sw.registration.showNotification(data.title || 'Parley', {
			body: data.body || 'New message',
			// One notification per conversation: a newer push replaces the older one.
			tag: data.tag || (conversationId ? `conversation:${conversationId}` : 'parley'),
			icon: '/favicon.svg',
			data: { url }
		})
	);
});

sw.addEventListener('notificationclick', (event) => {
	event.notification.close();
	const target = new URL(
		(event.notification.data as { url?: string } | null)?.url ?? '/',
		sw.location.origin
	);
	event.waitUntil(
		(async () => {
			const windows = await sw.clients.matchAll({ type: 'window', includeUncontrolled: true });
			const exact = windows.find((client) => new URL(client.url).pathname === target.pathname);
			if (exact) return exact.focus();
			const same = windows.find((client) => new URL(client.url).origin === target.origin);
			if (same) {
				const focused = await same.focus();
				return focused.navigate(target.href);
			}
			return sw.clients.openWindow(target.href);
		})()
	);
});
