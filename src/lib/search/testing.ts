/**
 * Test fixtures for the search modules: a fake `get_messages` over stored rows, with the
 * server's paging (newest first before a seq, oldest first after one, both bounds together).
 */
import type { MessageRow } from '../chat/types.ts';
import type { PageRequest } from './backfill.ts';

/** A plain (unsealed) row: these tests decrypt by reading `content_encrypted` as the text. */
export function plainRow(conversationId: string, seq: number, text = `message ${seq}`): MessageRow {
	return {
		id: `${conversationId}-m${seq}`,
		conversation_id: conversationId,
		sender_id: seq % 2 ? 'ana' : 'ben',
		seq,
		content_encrypted: text,
		message_type: 'text',
		attachment: null,
		encryption: { epoch: 1, nonce: 'n' },
		reply_to_id: null,
		client_id: null,
		created_at: new Date(Date.parse('2026-01-01T00:00:00Z') + seq * 60_000).toISOString(),
		edited_at: null,
		deleted_at: null,
		mentions: []
	};
}

/** `get_messages` over `rows`: what a page request returns, and the requests made. */
export class FakePages {
	rows = new Map<string, MessageRow[]>();
	calls: string[] = [];
	/** Throws for the next call (a network failure). */
	failNext = false;

	add(conversationId: string, count: number, text?: (seq: number) => string): void {
		const list = this.rows.get(conversationId) ?? [];
		for (let i = 0; i < count; i++) {
			const seq = list.length + 1;
			list.push(plainRow(conversationId, seq, text?.(seq)));
		}
		this.rows.set(conversationId, list);
	}

	lastSeq(conversationId: string): number {
		return this.rows.get(conversationId)?.length ?? 0;
	}

	fetch = async (conversationId: string, page: PageRequest): Promise<MessageRow[]> => {
		this.calls.push(`${conversationId} ${page.after_seq ?? '-'}/${page.before_seq ?? '-'}:${page.page_size}`);
		if (this.failNext) {
			this.failNext = false;
			throw new Error('offline');
		}
		const size = Math.min(page.page_size, 100);
		const upper = page.before_seq ?? Infinity;
		const all = (this.rows.get(conversationId) ?? []).filter((r) => r.seq < upper);
		if (page.after_seq != null) return all.filter((r) => r.seq > page.after_seq!).slice(0, size);
		return all.slice(-size).reverse();
	};
}
