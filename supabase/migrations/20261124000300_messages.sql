/**
 * Messages: end-to-end encrypted content with a gap-free per-conversation `seq`, delivery and read
 * watermarks, and the conversation list. Participants read messages through RLS; every write goes
 * through the RPCs below (security definer: they update the conversation counter and watermarks
 * that clients may not write directly, and check membership and roles themselves).
 */

create table public.messages (
  id uuid primary key default gen_random_uuid(),
  conversation_id uuid not null references public.conversations (id) on delete cascade,
  sender_id uuid references public.profiles (id) on delete set null,
  seq bigint not null check (seq >= 1),
  content_encrypted text check (char_length(content_encrypted) <= 65536),
  message_type text not null default 'text' check (message_type in ('text', 'image', 'file', 'voice')),
  attachment jsonb check (jsonb_typeof(attachment) = 'object'),
  encryption jsonb check (jsonb_typeof(encryption) = 'object'),
  reply_to_id uuid references public.messages (id) on delete set null,
  client_id uuid,
  created_at timestamptz not null default now(),
  edited_at timestamptz,
  deleted_at timestamptz,
  constraint messages_conversation_seq_key unique (conversation_id, seq),
  constraint messages_sender_client_key unique (sender_id, client_id),
  constraint messages_tombstone_check check (
    deleted_at is null or (content_encrypted is null and attachment is null and encryption is null)
  )
);
comment on table public.messages is 'Encrypted messages. seq is per conversation, gap-free from 1; a deleted message stays as a tombstone with its content erased. Visible to the conversation''s participants.';
comment on column public.messages.seq is 'Position in the conversation (1, 2, 3, ...), assigned by send_message under the conversation row lock.';
comment on column public.messages.content_encrypted is 'Ciphertext (base64) under the conversation key of encryption.epoch; null once deleted.';
comment on column public.messages.encryption is '{epoch, nonce} needed to decrypt content_encrypted; null once deleted.';
comment on column public.messages.client_id is 'Sender-chosen id that makes send_message idempotent: a retry returns the first row.';
comment on constraint messages_conversation_seq_key on public.messages is 'Also the index of history pages: (conversation_id, seq), scanned backwards for newest-first.';

create index messages_reply_to_idx on public.messages (reply_to_id) where reply_to_id is not null;
comment on index public.messages_reply_to_idx is 'Covers the reply_to_id foreign key (ON DELETE SET NULL lookups).';

alter table public.messages enable row level security;

create policy "participants read the messages of their conversations"
  on public.messages for select to authenticated
  using (conversation_id in (select private.my_conversation_ids()));

revoke all on table public.messages from anon, authenticated;
grant select on table public.messages to authenticated;

/** The message `message_id` if the caller is a participant of its conversation, else 404 `message_not_found`. */
create or replace function private.visible_message(message_id uuid, uid uuid)
returns public.messages
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  result public.messages;
begin
  select m.* into result from public.messages m
  where m.id = visible_message.message_id
    and exists (
      select 1 from public.conversation_participants p
      where p.conversation_id = m.conversation_id and p.user_id = uid
    );
  if not found then
    raise exception using errcode = 'PT404', message = 'Message not found.', detail = 'message_not_found';
  end if;
  return result;
end;
$$;
revoke all on function private.visible_message(uuid, uuid) from public;

/** Checks the writable fields of a message; raises PT400 with the field's code. */
create or replace function private.check_message_content(
  content_encrypted text,
  message_type text,
  attachment jsonb,
  encryption jsonb
)
returns void
language plpgsql
immutable
security invoker
set search_path = ''
as $$
begin
  if message_type is null or message_type not in ('text', 'image', 'file', 'voice') then
    raise exception using errcode = 'PT400', message = 'Message type must be text, image, file or voice.', detail = 'invalid_message_type';
  end if;
  if attachment is not null and jsonb_typeof(attachment) <> 'object' then
    raise exception using errcode = 'PT400', message = 'An attachment must be a JSON object.', detail = 'invalid_attachment';
  end if;
  if encryption is not null and jsonb_typeof(encryption) <> 'object' then
    raise exception using errcode = 'PT400', message = 'Encryption must be a JSON object like {epoch, nonce}.', detail = 'invalid_encryption';
  end if;
  if (content_encrypted is null or content_encrypted = '') and (message_type = 'text' or attachment is null) then
    raise exception using errcode = 'PT400', message = 'A message needs content.', detail = 'content_required';
  end if;
  if char_length(content_encrypted) > 65536 then
    raise exception using errcode = 'PT400', message = 'A message can be at most 64 KiB of ciphertext.', detail = 'content_too_long';
  end if;
end;
$$;
revoke all on function private.check_message_content(text, text, jsonb, jsonb) from public;

/**
 * Sends a message: the next `seq` of the conversation, assigned under the conversation row lock
 * (senders of one conversation are serialized, so sequences are gap-free). Idempotent on
 * (sender, client_id): a retry, even a concurrent one, returns the first row.
 * Security definer: increments conversations.last_seq, which clients cannot write.
 */
create or replace function public.send_message(
  conversation_id uuid,
  content_encrypted text,
  message_type text default 'text',
  client_id uuid default null,
  reply_to_id uuid default null,
  attachment jsonb default null,
  encryption jsonb default null
)
returns public.messages
language plpgsql
security definer
set search_path = ''
as $$
declare
  uid uuid := private.require_user();
  next_seq bigint;
  result public.messages;
begin
  -- Retries are looked up under the lock below, not before it: a first send (nearly every call)
  -- then costs one lookup of its client_id instead of two.
  perform private.check_message_content(
    send_message.content_encrypted, send_message.message_type, send_message.attachment, send_message.encryption
  );

  -- Lock the counter (outsiders never reach the lock), then re-check under it: a concurrent
  -- removal or a concurrent retry of the same client_id has committed by now if it went first.
  select c.last_seq into next_seq from public.conversations c
  where c.id = send_message.conversation_id
    and exists (
      select 1 from public.conversation_participants p
      where p.conversation_id = c.id and p.user_id = uid
    )
  for no key update;
  if not found or not exists (
    select 1 from public.conversation_participants p
    where p.conversation_id = send_message.conversation_id and p.user_id = uid
  ) then
    perform private.conversation_not_found();
  end if;
  if send_message.client_id is not null then
    select m.* into result from public.messages m
    where m.sender_id = uid and m.client_id = send_message.client_id;
    if found then
      if result.conversation_id is distinct from send_message.conversation_id then
        raise exception using errcode = 'PT409', message = 'That client_id was already used in another conversation.', detail = 'duplicate_client_id';
      end if;
      return result;
    end if;
  end if;
  if send_message.reply_to_id is not null and not exists (
    select 1 from public.messages m
    where m.id = send_message.reply_to_id and m.conversation_id = send_message.conversation_id
  ) then
    raise exception using errcode = 'PT404', message = 'The message you reply to does not exist.', detail = 'message_not_found';
  end if;

  next_seq := next_seq + 1;
  update public.conversations c set last_seq = next_seq, last_message_at = now()
  where c.id = send_message.conversation_id;
  insert into public.messages (
    conversation_id, sender_id, seq, content_encrypted, message_type, attachment, encryption, reply_to_id, client_id
  ) values (
    send_message.conversation_id, uid, next_seq, nullif(send_message.content_encrypted, ''),
    send_message.message_type, send_message.attachment, send_message.encryption,
    send_message.reply_to_id, send_message.client_id
  )
  returning * into result;
  return result;
end;
$$;
revoke all on function public.send_message(uuid, text, text, uuid, uuid, jsonb, jsonb) from public, anon;
grant execute on function public.send_message(uuid, text, text, uuid, uuid, jsonb, jsonb) to authenticated, service_role;

/** Replaces the content of the caller's own message (`not_sender` otherwise; `message_deleted` once deleted). Security definer: clients cannot update messages directly. */
create or replace function public.edit_message(message_id uuid, content_encrypted text, encryption jsonb default null)
returns public.messages
language plpgsql
security definer
set search_path = ''
as $$
declare
  uid uuid := private.require_user();
  result public.messages;
begin
  result := private.visible_message(edit_message.message_id, uid);
  if result.sender_id is distinct from uid then
    raise exception using errcode = 'PT403', message = 'You can only edit your own messages.', detail = 'not_sender';
  end if;
  perform private.check_message_content(
    edit_message.content_encrypted, result.message_type, result.attachment, edit_message.encryption
  );
  update public.messages m
  set content_encrypted = edit_message.content_encrypted,
      encryption = coalesce(edit_message.encryption, m.encryption),
      edited_at = now()
  where m.id = edit_message.message_id and m.deleted_at is null
  returning m.* into result;
  if not found then
    raise exception using errcode = 'PT409', message = 'That message was deleted.', detail = 'message_deleted';
  end if;
  return result;
end;
$$;
revoke all on function public.edit_message(uuid, text, jsonb) from public, anon;
grant execute on function public.edit_message(uuid, text, jsonb) to authenticated, service_role;

/** Deletes a message (its sender, or a moderator/admin of the conversation): content, attachment and encryption are erased, the tombstone stays. Deleting a tombstone returns it. Security definer: clients cannot update messages directly. */
create or replace function public.delete_message(message_id uuid)
returns public.messages
language plpgsql
security definer
set search_path = ''
as $$
declare
  uid uuid := private.require_user();
  result public.messages;
begin
  result := private.visible_message(delete_message.message_id, uid);
  if result.sender_id is distinct from uid and not exists (
    select 1 from public.conversation_participants p
    where p.conversation_id = result.conversation_id and p.user_id = uid and p.role in ('admin', 'moderator')
  ) then
    raise exception using errcode = 'PT403', message = 'Only moderators and admins can delete other people''s messages.', detail = 'not_moderator';
  end if;
  update public.messages m
  set content_encrypted = null, attachment = null, encryption = null, deleted_at = now()
  where m.id = delete_message.message_id and m.deleted_at is null
  returning m.* into result;
  if not found then
    select m.* into result from public.messages m where m.id = delete_message.message_id;
  end if;
  return result;
end;
$$;
revoke all on function public.delete_message(uuid) from public, anon;
grant execute on function public.delete_message(uuid) to authenticated, service_role;

/** Moves the caller's watermarks forward to `up_to_seq` (clamped to last_seq); `mark_read` also moves delivered. Never moves them back. */
create or replace function private.advance_watermarks(conversation_id uuid, up_to_seq bigint, mark_read boolean)
returns public.conversation_participants
language plpgsql
security invoker
set search_path = ''
as $$
declare
  uid uuid := private.require_user();
  target bigint;
  result public.conversation_participants;
begin
  if up_to_seq is null or up_to_seq < 0 then
    raise exception using errcode = 'PT400', message = 'up_to_seq must be a sequence number (0 or more).', detail = 'invalid_seq';
  end if;
  select least(up_to_seq, c.last_seq) into target from public.conversations c
  where c.id = advance_watermarks.conversation_id;
  update public.conversation_participants p
  set last_delivered_seq = greatest(p.last_delivered_seq, target),
      last_read_seq = case when mark_read then greatest(p.last_read_seq, target) else p.last_read_seq end
  where p.conversation_id = advance_watermarks.conversation_id and p.user_id = uid
    and (p.last_delivered_seq < target or (mark_read and p.last_read_seq < target))
  returning p.* into result;
  if not found then
    select p.* into result from public.conversation_participants p
    where p.conversation_id = advance_watermarks.conversation_id and p.user_id = uid;
    if not found then
      perform private.conversation_not_found();
    end if;
  end if;
  return result;
end;
$$;
revoke all on function private.advance_watermarks(uuid, bigint, boolean) from public;

/** The caller has received every message up to `up_to_seq`. Security definer: watermarks are not writable directly (they must only move forward). */
create or replace function public.mark_delivered(conversation_id uuid, up_to_seq bigint)
returns public.conversation_participants
language sql
security definer
set search_path = ''
as $$
  select private.advance_watermarks(mark_delivered.conversation_id, mark_delivered.up_to_seq, false)
$$;
revoke all on function public.mark_delivered(uuid, bigint) from public, anon;
grant execute on function public.mark_delivered(uuid, bigint) to authenticated, service_role;

/** The caller has read every message up to `up_to_seq` (implies delivered). Security definer: as mark_delivered. */
create or replace function public.mark_read(conversation_id uuid, up_to_seq bigint)
returns public.conversation_participants
language sql
security definer
set search_path = ''
as $$
  select private.advance_watermarks(mark_read.conversation_id, mark_read.up_to_seq, true)
$$;
revoke all on function public.mark_read(uuid, bigint) from public, anon;
grant execute on function public.mark_read(uuid, bigint) to authenticated, service_role;

/** mark_delivered / mark_read up to the given message (`status` = 'delivered' or 'read'). Security definer: as mark_delivered. */
create or replace function public.mark_message_status(message_id uuid, status text)
returns public.conversation_participants
language plpgsql
security definer
set search_path = ''
as $$
declare
  uid uuid := private.require_user();
  msg public.messages;
begin
  if status is null or status not in ('delivered', 'read') then
    raise exception using errcode = 'PT400', message = 'Status must be delivered or read.', detail = 'invalid_status';
  end if;
  msg := private.visible_message(mark_message_status.message_id, uid);
  return private.advance_watermarks(msg.conversation_id, msg.seq, status = 'read');
end;
$$;
revoke all on function public.mark_message_status(uuid, text) from public, anon;
grant execute on function public.mark_message_status(uuid, text) to authenticated, service_role;

/** A page of a conversation's messages: newest first before `before_seq` (or from the newest), or oldest first after `after_seq` (catch-up). At most 100. */
create or replace function public.get_messages(
  conversation_id uuid,
  before_seq bigint default null,
  after_seq bigint default null,
  page_size int default 50
)
returns setof public.messages
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  size int := least(coalesce(page_size, 50), 100);
  -- Plain variables (not expressions) as bounds: RLS keeps non-leakproof expressions out of
  -- index conditions, so `seq < coalesce(...)` would filter row by row in a generic plan.
  upper_seq bigint := coalesce(before_seq, 9223372036854775807);
  lower_seq bigint := coalesce(after_seq, 0);
begin
  if size < 1 then
    raise exception using errcode = 'PT400', message = 'page_size must be between 1 and 100.', detail = 'invalid_page_size';
  end if;
  if not private.is_participant(get_messages.conversation_id) then
    perform private.conversation_not_found();
  end if;
  -- Both bounds are always present, so even a generic plan walks the (conversation_id, seq)
  -- index straight to the page.
  if after_seq is not null then
    return query
      select m.* from public.messages m
      where m.conversation_id = get_messages.conversation_id
        and m.seq > lower_seq
        and m.seq < upper_seq
      order by m.seq
      limit size;
  else
    return query
      select m.* from public.messages m
      where m.conversation_id = get_messages.conversation_id
        and m.seq < upper_seq
      order by m.seq desc
      limit size;
  end if;
end;
$$;
revoke all on function public.get_messages(uuid, bigint, bigint, int) from public, anon;
grant execute on function public.get_messages(uuid, bigint, bigint, int) to authenticated, service_role;

/**
 * The caller's conversations, newest activity (last message, else creation) first, keyset
 * paginated by (activity_at, id): pass the last item's `activity_at` and `id` for the next page.
 * Each item: the conversation's fields, `activity_at`, `participants`, `last_message` (or null)
 * and `unread_count` (others' undeleted messages after the caller's read watermark, capped at 1000).
 * Security definer for speed: every row is reached through the caller's own participant rows
 * (`p.user_id = uid`), so it returns nothing RLS would hide, without re-evaluating the caller's
 * membership set in each of the page's sub-queries.
 */
create or replace function public.list_conversations(
  before_activity timestamptz default null,
  before_id uuid default null,
  page_size int default 30
)
returns setof jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  uid uuid := private.require_user();
  size int := least(coalesce(page_size, 30), 100);
begin
  if size < 1 then
    raise exception using errcode = 'PT400', message = 'page_size must be between 1 and 100.', detail = 'invalid_page_size';
  end if;
  return query
    with page as (
      select c.*, coalesce(c.last_message_at, c.created_at) as activity_at, p.last_read_seq as my_read_seq
      from public.conversation_participants p
      join public.conversations c on c.id = p.conversation_id
      where p.user_id = uid
        and (
          before_activity is null
          or (before_id is null and coalesce(c.last_message_at, c.created_at) < before_activity)
          or (before_id is not null and (coalesce(c.last_message_at, c.created_at), c.id) < (before_activity, before_id))
        )
      order by coalesce(c.last_message_at, c.created_at) desc, c.id desc
      limit size
    )
    select to_jsonb(pg) - 'direct_key' - 'my_read_seq' || jsonb_build_object(
      'participants', private.participants_json(pg.id),
      'last_message', (
        select to_jsonb(m) from public.messages m where m.conversation_id = pg.id and m.seq = pg.last_seq
      ),
      'unread_count', (
        select count(*) from (
          select 1 from public.messages m
          where m.conversation_id = pg.id and m.seq > pg.my_read_seq
            and m.sender_id is distinct from uid and m.deleted_at is null
          limit 1000
        ) unread
      )
    )
    from page pg
    order by pg.activity_at desc, pg.id desc;
end;
$$;
revoke all on function public.list_conversations(timestamptz, uuid, int) from public, anon;
grant execute on function public.list_conversations(timestamptz, uuid, int) to authenticated, service_role;
