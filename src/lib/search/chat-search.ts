/**
 * The search part as the chat store makes it (parts.ts): what it needs of the other parts. Pages
 * come from `get_messages`; the backfill's are decrypted like the timeline decrypts (signatures
 * are checked when a message is shown, not to index it), the "open at a message" pages are merged
 * into the timeline with their reactions, as history's are.
 */
import { getMessages } from '../rpc.ts';
import { normalizeMessage } from '../chat/derive.ts';
import type { ChatStoreOptions, Parts, PartsHost } from '../chat/parts.ts';
import type { PageRequest } from './backfill.ts';
import { Search } from './search.svelte.ts';

export function createSearch(host: PartsHost, p: Parts, options: ChatStoreOptions): Search {
	const fetch = async (conversationId: string, page: PageRequest) =>
		((await getMessages(host.client(), { conversation_id: conversationId, ...page })) ?? []).map(
			normalizeMessage
		);
	return new Search({
		userId: () => host.userId(),
		identity: () => (host.keyring.ready ? host.keyring.publicKey : null),
		localKey: () => host.keyring.localKey('search-index'),
		indexedDB: options.indexedDB,
		conversations: () => p.list.conversations,
		fetch,
		decrypt: async (row) => (await p.timeline.decrypt(row, false)).text,
		online: () => host.browserOnline() && host.started(),
		open: (id) => host.open(id),
		loadedSeq: (id) => p.timeline.messagesById[id]?.seq,
		seqs: (id) => p.timeline.seqs(id),
		page: async (id, page) => {
			const rows = await fetch(id, page);
			await Promise.all([p.timeline.ingest(rows), p.reactions.load(rows.map((r) => r.id))]);
			return rows;
		}
	});
}
