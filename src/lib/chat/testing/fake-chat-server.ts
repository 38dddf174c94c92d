/**
 * An in-memory imitation of the chat RPCs in docs/chat-api.md, installed on `FakeSupabase`
 * clients, for unit tests of the chat store. It keeps to the contract's rules that the store
 * relies on (per-conversation seq, `send_message` idempotent on client id, forward-only watermarks,
 * key epochs) and leaves broadcasting to the test, which controls event timing.
 */
import { FakeDatabase, FakeRpcError, FakeSupabase } from './fake-supabase.ts';

type Row = Record<string, unknown>;

export class FakeChatServer {
	readonly db = new FakeDatabase();
	#now = Date.parse('2030-01-01T00:00:00Z');
	/** Awaited before `send_message` answers (tests hold replies to stage races). */
	sendGate: Promise<void> | null = null;

	constructor() {
		// profiles_record_identity_key: every published signing key joins the identity history.
		this.db.afterWrite.profiles = (profile) => {
			const keys = this.db.table('identity_keys');
			const signing_key = profile.signing_key;
			if (typeof signing_key !== 'string') return;
			if (keys.some((k) => k.user_id === profile.id && k.signing_key === signing_key)) return;
			keys.push({
				user_id: profile.id,
				signing_key,
				public_key: profile.public_key,
				created_at: this.tick()
			});
		};
	}

	tick(): string {
		this.#now += 1000;
		return new Date(this.#now).toISOString();
	}

	addUser(id: string, username = id): void {
		this.db.table('profiles').push({
			id,
			username,
			display_name: username[0].toUpperCase() + username.slice(1),
			avatar_url: null,
			public_key: null
		});
	}

	addConversation(
		id: string,
		kind: 'direct' | 'group',
		members: string[],
		title: string | null = null
	): void {
		const at = this.tick();
		this.db.table('conversations').push({
			id,
			kind,
			title,
			created_by: members[0],
			last_seq: 0,
			last_message_at: null,
			// As the database: epochs count from 1.
			key_epoch: 1,
			history_visibility: 'joined',
			created_at: at,
			updated_at: at
		});
		members.forEach((user_id, i) => this.#join(id, user_id, i === 0 ? 'admin' : 'member'));
	}

	#join(conversation_id: string, user_id: string, role: string) {
		this.db.table('conversation_participants').push({
			conversation_id,
			user_id,
			role,
			joined_at: this.tick(),
			joined_epoch: this.conversation(conversation_id).key_epoch,
			last_delivered_seq: 0,
			last_read_seq: 0
		});
	}

	conversation(id: string): Row {
		const c = this.db.table('conversations').find((r) => r.id === id);
		if (!c) throw new FakeRpcError(404, 'conversation_not_found');
		return c;
	}

	participant(conversationId: string, userId: string): Row | undefined {
		return this.db
			.table('conversation_participants')
			.find((p) => p.conversation_id === conversationId && p.user_id === userId);
	}

	#member(conversationId: string, userId: string): Row {
		const c = this.conversation(conversationId);
		if (!this.participant(conversationId, userId)) throw new FakeRpcError(404, 'conversation_not_found');
		return c;
	}

	#full(conversationId: string): Row {
		const c = this.conversation(conversationId);
		const profiles = this.db.table('profiles');
		const participants = this.db
			.table('conversation_participants')
			.filter((p) => p.conversation_id === conversationId)
			.map((p) => {
				const profile = profiles.find((x) => x.id === p.user_id) ?? {};
				return {
					...p,
					username: profile.username,
					display_name: profile.display_name,
					avatar_url: profile.avatar_url,
					public_key: profile.public_key
				};
			});
		return { ...c, participants };
	}

	messages(conversationId: string): Row[] {
		return this.db
			.table('messages')
			.filter((m) => m.conversation_id === conversationId)
			.sort((a, b) => Number(a.seq) - Number(b.seq));
	}

	/** Stores a message as `send_message` would (also usable directly to play another device). */
	insertMessage(userId: string, args: Row): Row {
		const conversation = this.#member(String(args.conversation_id), userId);
		const existing = this.db
			.table('messages')
			.find((m) => m.sender_id === userId && args.client_id && m.client_id === args.client_id);
		if (existing) return existing;
		const seq = Number(conversation.last_seq) + 1;
		const at = this.tick();
		const row = {
			id: crypto.randomUUID(),
			conversation_id: args.conversation_id,
			sender_id: userId,
			seq,
			content_encrypted: args.content_encrypted,
			message_type: args.message_type ?? 'text',
			attachment: null,
			encryption: args.encryption ?? null,
			reply_to_id: args.reply_to_id ?? null,
			client_id: args.client_id ?? null,
			created_at: at,
			edited_at: null,
			deleted_at: null,
			mentions: Array.isArray(args.mentions) ? [...new Set(args.mentions as string[])].sort() : []
		};
		for (const id of row.mentions) {
			if (!this.participant(String(args.conversation_id), id))
				throw new FakeRpcError(400, 'invalid_mentions');
		}
		conversation.last_seq = seq;
		conversation.last_message_at = at;
		this.db.table('messages').push(row);
		return row;
	}

	/** Moves a participant's watermarks forward, as mark_delivered / mark_read do. */
	mark(conversationId: string, userId: string, kind: 'delivered' | 'read', upTo: number): Row {
		const p = this.participant(conversationId, userId);
		if (!p) throw new FakeRpcError(404, 'conversation_not_found');
		if (kind === 'read') p.last_read_seq = Math.max(Number(p.last_read_seq), upTo);
		p.last_delivered_seq = Math.max(
			Number(p.last_delivered_seq),
			Number(p.last_read_seq),
			kind === 'delivered' ? upTo : 0
		);
		return p;
	}

	/** A client for one user with every RPC installed. */
	client(userId: string): FakeSupabase {
		const c = new FakeSupabase(userId, this.db);
		const h = c.rpcHandlers;
		h.get_conversation = (a, me) => {
			this.#member(String(a.conversation_id), me);
			return this.#full(String(a.conversation_id));
		};
		h.list_conversations = (_a, me) =>
			this.db
				.table('conversation_participants')
				.filter((p) => p.user_id === me)
				.map((p) => {
					const full = this.#full(String(p.conversation_id));
					const all = this.messages(String(p.conversation_id));
					const last = all.at(-1) ?? null;
					const unread = all.filter(
						(m) => m.sender_id !== me && Number(m.seq) > Number(p.last_read_seq)
					).length;
					const mentions = all.filter(
						(m) =>
							m.sender_id !== me &&
							Number(m.seq) > Number(p.last_read_seq) &&
							(m.mentions as string[] | undefined)?.includes(me)
					).length;
					const settings = this.db
						.table('notification_settings')
						.find((n) => n.conversation_id === p.conversation_id && n.user_id === me);
					return {
						...full,
						last_message: last,
						unread_count: unread,
						unread_mentions: mentions,
						notify_level: settings?.notify_level ?? 'all',
						muted_until: settings?.muted_until ?? null
					} as Row;
				})
				.sort((x, y) =>
					String(y.last_message_at ?? y.created_at).localeCompare(String(x.last_message_at ?? x.created_at))
				);
		h.send_message = async (a, me) => {
			const row = this.insertMessage(me, a);
			if (this.sendGate) await this.sendGate;
			return row;
		};
		h.get_messages = (a, me) => {
			this.#member(String(a.conversation_id), me);
			const size = Math.min(Number(a.page_size ?? 50), 100);
			const all = this.messages(String(a.conversation_id));
			if (a.after_seq != null) return all.filter((m) => Number(m.seq) > Number(a.after_seq)).slice(0, size);
			const before = a.before_seq != null ? Number(a.before_seq) : Infinity;
			return all
				.filter((m) => Number(m.seq) < before)
				.reverse()
				.slice(0, size);
		};
		h.mark_delivered = (a, me) => this.mark(String(a.conversation_id), me, 'delivered', Number(a.up_to_seq));
		h.mark_read = (a, me) => this.mark(String(a.conversation_id), me, 'read', Number(a.up_to_seq));
		h.get_reactions = (a) =>
			this.db
				.table('message_reactions')
				.filter((r) => (a.message_ids as string[]).includes(String(r.message_id)));
		h.add_reaction = (a, me) => {
			const m = this.db.table('messages').find((x) => x.id === a.message_id);
			if (!m || !this.participant(String(m.conversation_id), me))
				throw new FakeRpcError(404, 'message_not_found');
			const t = this.db.table('message_reactions');
			const existing = t.find((r) => r.message_id === a.message_id && r.user_id === me && r.tag === a.tag);
			if (existing) return existing;
			const { tag, emoji_sealed, nonce, epoch, sig } = a;
			const row = {
				message_id: a.message_id,
				user_id: me,
				emoji: null,
				conversation_id: m.conversation_id,
				created_at: this.tick(),
				tag,
				emoji_sealed,
				nonce,
				epoch,
				sig
			};
			t.push(row);
			return row;
		};
		h.remove_reaction = (a, me) => {
			const t = this.db.table('message_reactions');
			const i = t.findIndex((r) => r.message_id === a.message_id && r.user_id === me && r.tag === a.tag);
			if (i >= 0) t.splice(i, 1);
			return null;
		};
		h.edit_message = (a, me) => {
			const m = this.db.table('messages').find((x) => x.id === a.message_id);
			if (!m) throw new FakeRpcError(404, 'message_not_found');
			if (m.sender_id !== me) throw new FakeRpcError(403, 'not_sender');
			Object.assign(m, {
				content_encrypted: a.content_encrypted,
				encryption: a.encryption,
				edited_at: this.tick(),
				...(Array.isArray(a.mentions) ? { mentions: [...new Set(a.mentions as string[])].sort() } : {})
			});
			return m;
		};
		h.delete_message = (a, me) => {
			const m = this.db.table('messages').find((x) => x.id === a.message_id);
			if (!m) throw new FakeRpcError(404, 'message_not_found');
			if (m.sender_id !== me) throw new FakeRpcError(403, 'not_sender');
			Object.assign(m, { content_encrypted: null, deleted_at: this.tick() });
			return m;
		};
		h.publish_conversation_keys = (a, me) => {
			this.#member(String(a.conversation_id), me);
			const rows = this.db.table('conversation_keys');
			for (const k of a.keys as Row[]) {
				if (
					rows.some(
						(r) => r.conversation_id === a.conversation_id && r.epoch === a.epoch && r.user_id === k.user_id
					)
				)
					continue;
				rows.push({
					conversation_id: a.conversation_id,
					epoch: a.epoch,
					...k,
					wrapped_by: me,
					created_at: this.tick()
				});
			}
			return null;
		};
		h.find_profile = (a) => {
			const p = this.db.table('profiles').find((x) => x.username === a.username);
			if (!p) throw new FakeRpcError(404, 'user_not_found');
			return p;
		};
		h.create_direct_conversation = (a, me) => {
			const id = crypto.randomUUID();
			this.addConversation(id, 'direct', [me, String(a.other_user_id)]);
			return this.conversation(id);
		};
		h.remove_participant = (a, me) => {
			this.#member(String(a.conversation_id), me);
			const t = this.db.table('conversation_participants');
			const i = t.findIndex((p) => p.conversation_id === a.conversation_id && p.user_id === a.user_id);
			if (i >= 0) t.splice(i, 1);
			this.conversation(String(a.conversation_id)).key_epoch =
				Number(this.conversation(String(a.conversation_id)).key_epoch) + 1;
			return null;
		};
		h.add_participant = (a, me) => {
			const conversation = this.#member(String(a.conversation_id), me);
			// Under the `joined` history rule an addition moves the epoch; the newcomer begins with the new one.
			if (conversation.history_visibility !== 'shared')
				conversation.key_epoch = Number(conversation.key_epoch) + 1;
			this.#join(String(a.conversation_id), String(a.user_id), String(a.role ?? 'member'));
			return this.participant(String(a.conversation_id), String(a.user_id));
		};
		h.set_notification_level = (a, me) => {
			this.#member(String(a.conversation_id), me);
			if (!['all', 'mentions', 'none'].includes(String(a.notify_level)))
				throw new FakeRpcError(400, 'invalid_notify_level');
			const t = this.db.table('notification_settings');
			let row = t.find((n) => n.conversation_id === a.conversation_id && n.user_id === me);
			if (!row) {
				row = { conversation_id: a.conversation_id, user_id: me };
				t.push(row);
			}
			const until = a.muted_until == null ? null : String(a.muted_until);
			Object.assign(row, {
				notify_level: a.notify_level,
				muted_until: until === 'infinity' || (until && Date.parse(until) > Date.now()) ? until : null,
				updated_at: this.tick()
			});
			return row;
		};
		h.set_history_visibility = (a, me) => {
			const conversation = this.#member(String(a.conversation_id), me);
			if (this.participant(String(a.conversation_id), me)?.role !== 'admin')
				throw new FakeRpcError(403, 'not_admin');
			conversation.history_visibility = a.history_visibility;
			return conversation;
		};
		return c;
	}
}
