/** The part of the `web-push` package (no bundled types) the worker uses. */
declare module 'web-push' {
	import type { WebPushLib } from '../supabase/functions/_shared/delivery.ts';
	const webpush: WebPushLib & {
		generateVAPIDKeys(): { publicKey: string; privateKey: string };
	};
	export default webpush;
}
