/**
 * Realtime: who may join which private channel (policies on realtime.messages), and the database
 * events broadcast to them (triggers writing realtime.messages: through realtime.send, or for a new
 * message one multi-row insert, which keeps send_message's transaction short).
 *
 * Topics: `conversation:<id>` (participants only) and `user:<id>` (that user only). The trigger
 * functions are security invoker: the tables they watch are written only by the security definer
 * RPCs (running as their owner) or by service_role, both of which can read the participants and
 * write realtime.messages.
 */

-- Both policies also require the row's topic to be the channel's topic (as Realtime's own
-- authorization probes are), so a channel never exposes another topic's rows.

/** May the current user join the channel `topic` (receive, send, track presence)? Never throws: a malformed topic is simply refused. */
create or replace function private.can_use_topic(topic text)
returns boolean
language sql
stable
security invoker
set search_path = ''
as $$
  select coalesce(
    case
      when topic like 'conversation:%' then private.is_participant(private.try_uuid(substr(topic, 14)))
      when topic like 'user:%' then private.try_uuid(substr(topic, 6)) = (select auth.uid())
      else false
    end,
    false
  )
$$;
revoke all on function private.can_use_topic(text) from public;
grant execute on function private.can_use_topic(text) to authenticated, service_role;

create policy "participants and owners receive on their topics"
  on realtime.messages for select to authenticated
  using (topic = (select realtime.topic()) and (select private.can_use_topic((select realtime.topic()))));

create policy "participants and owners send on their topics"
  on realtime.messages for insert to authenticated
  with check (topic = (select realtime.topic()) and (select private.can_use_topic((select realtime.topic()))));

/**
 * message_created to `conversation:<id>` and `inbox` ({conversation_id, seq, sender_id}) to every
 * other participant's `user:<id>`, for a new message: one insert into realtime.messages rather
 * than a realtime.send per event, the conversation event first. A row trigger: messages arrive
 * one per send_message, and a row trigger costs less per message than a statement trigger's
 * transition table. As realtime.send, a failure is a warning and never rolls back the message.
 */
create or replace function private.broadcast_message_created()
returns trigger
language plpgsql
security invoker
set search_path = ''
as $$
begin
  begin
    insert into realtime.messages (payload, event, topic, private, extension)
    select to_jsonb(new), 'message_created', 'conversation:' || new.conversation_id, true, 'broadcast'
    union all
    select jsonb_build_object('conversation_id', new.conversation_id, 'seq', new.seq, 'sender_id', new.sender_id),
      'inbox', 'user:' || p.user_id, true, 'broadcast'
    from public.conversation_participants p
    where p.conversation_id = new.conversation_id and p.user_id is distinct from new.sender_id;
  exception when others then
    raise warning 'ErrorSendingBroadcastMessage: %', sqlerrm;
  end;
  return null;
end;
$$;
revoke all on function private.broadcast_message_created() from public;

create trigger messages_broadcast_insert
  after insert on public.messages
  for each row execute function private.broadcast_message_created();
comment on trigger messages_broadcast_insert on public.messages is 'message_created to the conversation, inbox to the other participants (one insert per message).';

/** message_updated to `conversation:<id>`. */
create or replace function private.broadcast_message()
returns trigger
language plpgsql
security invoker
set search_path = ''
as $$
begin
  perform realtime.send(to_jsonb(new), 'message_updated', 'conversation:' || new.conversation_id, true);
  return null;
end;
$$;
revoke all on function private.broadcast_message() from public;

create trigger messages_broadcast_update
  after update on public.messages
  for each row
  when (old.content_encrypted is distinct from new.content_encrypted
        or old.encryption is distinct from new.encryption
        or old.attachment is distinct from new.attachment
        or old.deleted_at is distinct from new.deleted_at)
  execute function private.broadcast_message();
comment on trigger messages_broadcast_update on public.messages is 'message_updated when content changes or the message is deleted.';

/** reaction_changed ({message_id, user_id, emoji, op}) to `conversation:<id>`. */
create or replace function private.broadcast_reaction()
returns trigger
language plpgsql
security invoker
set search_path = ''
as $$
declare
  r public.message_reactions := case when tg_op = 'DELETE' then old else new end;
begin
  perform realtime.send(
    jsonb_build_object(
      'message_id', r.message_id, 'user_id', r.user_id, 'emoji', r.emoji,
      'op', case when tg_op = 'DELETE' then 'removed' else 'added' end
    ),
    'reaction_changed', 'conversation:' || r.conversation_id, true
  );
  return null;
end;
$$;
revoke all on function private.broadcast_reaction() from public;

create trigger message_reactions_broadcast
  after insert or delete on public.message_reactions
  for each row execute function private.broadcast_reaction();
comment on trigger message_reactions_broadcast on public.message_reactions is 'reaction_changed to the conversation.';

/** receipt_updated ({conversation_id, user_id, last_delivered_seq, last_read_seq}) to `conversation:<id>`. */
create or replace function private.broadcast_receipt()
returns trigger
language plpgsql
security invoker
set search_path = ''
as $$
begin
  perform realtime.send(
    jsonb_build_object(
      'conversation_id', new.conversation_id, 'user_id', new.user_id,
      'last_delivered_seq', new.last_delivered_seq, 'last_read_seq', new.last_read_seq
    ),
    'receipt_updated', 'conversation:' || new.conversation_id, true
  );
  return null;
end;
$$;
revoke all on function private.broadcast_receipt() from public;

create trigger conversation_participants_broadcast_receipt
  after update on public.conversation_participants
  for each row
  when (old.last_delivered_seq is distinct from new.last_delivered_seq
        or old.last_read_seq is distinct from new.last_read_seq)
  execute function private.broadcast_receipt();
comment on trigger conversation_participants_broadcast_receipt on public.conversation_participants is 'receipt_updated when a watermark moves.';

/**
 * participants_changed ({conversation_id, user_id, role, op, key_epoch}) to `conversation:<id>`,
 * and conversation_added / conversation_removed ({conversation_id}) to the member's `user:<id>`.
 */
create or replace function private.broadcast_participants()
returns trigger
language plpgsql
security invoker
set search_path = ''
as $$
declare
  r public.conversation_participants := case when tg_op = 'DELETE' then old else new end;
  epoch int;
begin
  select c.key_epoch into epoch from public.conversations c where c.id = r.conversation_id;
  perform realtime.send(
    jsonb_build_object(
      'conversation_id', r.conversation_id, 'user_id', r.user_id, 'role', r.role,
      'op', case tg_op when 'INSERT' then 'added' when 'DELETE' then 'removed' else 'role' end,
      'key_epoch', epoch
    ),
    'participants_changed', 'conversation:' || r.conversation_id, true
  );
  if tg_op = 'INSERT' then
    perform realtime.send(jsonb_build_object('conversation_id', r.conversation_id), 'conversation_added', 'user:' || r.user_id, true);
  elsif tg_op = 'DELETE' then
    perform realtime.send(jsonb_build_object('conversation_id', r.conversation_id), 'conversation_removed', 'user:' || r.user_id, true);
  end if;
  return null;
end;
$$;
revoke all on function private.broadcast_participants() from public;

create trigger conversation_participants_broadcast_membership
  after insert or delete on public.conversation_participants
  for each row execute function private.broadcast_participants();
comment on trigger conversation_participants_broadcast_membership on public.conversation_participants is 'participants_changed, conversation_added / conversation_removed.';

create trigger conversation_participants_broadcast_role
  after update on public.conversation_participants
  for each row
  when (old.role is distinct from new.role)
  execute function private.broadcast_participants();
comment on trigger conversation_participants_broadcast_role on public.conversation_participants is 'participants_changed (op role) when a role changes.';
