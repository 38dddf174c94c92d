/**
 * Live channels that follow membership (see docs/live-channels.md).
 *
 * Hosted Realtime authorizes a private channel when it is joined and again only when the client
 * sends a new token, so a policy alone cannot silence a channel that is already open. Two rules
 * make membership hold on open channels too:
 *
 * - Topics carry the conversation's key epoch, which bumps whenever someone leaves or is removed,
 *   and a channel may only be joined for the current epoch. The database sends to the current
 *   epoch's topic; on a bump it tells the old topic (`key_epoch_changed`), the remaining members
 *   move, and the removed member is left alone on a topic nobody writes to or reads from again.
 *   Joining the next epoch's topic in advance is refused, because it is not current yet.
 * - Database events and client events have separate topics, and no client may send on the
 *   database's: a member cannot forge `message_created` or `participants_changed`.
 *
 * Topics (one policy per operation, all for `authenticated`; anon gets nothing):
 *   conversation:<id>:<epoch>  database events. Participants receive broadcast; nobody sends.
 *   members:<id>:<epoch>       typing, key requests, presence. Participants receive and send.
 *   user:<id>                  database events for one user. That user receives; nobody sends.
 *
 * Also the publication `realtime_authorization`: the embedded stack re-checks open channels after
 * a committed change in its tables (participant rows deleted). Hosted Supabase ignores it.
 */

drop policy "participants and owners receive on their topics" on realtime.messages;
drop policy "participants and owners send on their topics" on realtime.messages;
drop function private.can_use_topic(text);

/**
 * The conversation of a live topic `<kind>:<uuid>:<epoch>` when the current user is a participant
 * and `<epoch>` is the conversation's current key epoch; null otherwise (never throws). The uuid
 * must be written as the database writes it (lowercase), so one topic has one name. Security
 * definer for the same reason as is_participant: policies ask it without recursing into RLS.
 */
create or replace function private.live_topic_conversation(topic text, kind text)
returns uuid
language sql
stable
security definer
set search_path = ''
as $$
  select c.id
  from regexp_match(live_topic_conversation.topic, '^([a-z]+):([0-9a-fA-F-]{36}):([1-9][0-9]{0,8})$') as m
  join public.conversations c on c.id = private.try_uuid(m[2]) and c.id::text = m[2] and c.key_epoch = m[3]::int
  join public.conversation_participants p on p.conversation_id = c.id and p.user_id = (select auth.uid())
  where m[1] = live_topic_conversation.kind
$$;
revoke all on function private.live_topic_conversation(text, text) from public;
grant execute on function private.live_topic_conversation(text, text) to authenticated, service_role;

/** May the current user receive `extension` messages on `topic`? Presence only on members topics. */
create or replace function private.may_receive(topic text, extension text)
returns boolean
language sql
stable
security invoker
set search_path = ''
as $$
  select coalesce(
    case
      when topic like 'conversation:%' then
        extension = 'broadcast' and private.live_topic_conversation(topic, 'conversation') is not null
      when topic like 'members:%' then private.live_topic_conversation(topic, 'members') is not null
      when topic like 'user:%' then extension = 'broadcast' and private.try_uuid(substr(topic, 6)) = (select auth.uid())
      else false
    end,
    false
  )
$$;
revoke all on function private.may_receive(text, text) from public;
grant execute on function private.may_receive(text, text) to authenticated, service_role;

/** May the current user send (broadcast, track presence) on `topic`? Only on members topics: database topics are written by the database alone. */
create or replace function private.may_send(topic text)
returns boolean
language sql
stable
security invoker
set search_path = ''
as $$
  select topic like 'members:%' and private.live_topic_conversation(topic, 'members') is not null
$$;
revoke all on function private.may_send(text) from public;
grant execute on function private.may_send(text) to authenticated, service_role;

create policy "participants and owners receive on their current topics"
  on realtime.messages for select to authenticated
  using (topic = (select realtime.topic()) and private.may_receive((select realtime.topic()), extension));

create policy "participants send on their conversation's members topic"
  on realtime.messages for insert to authenticated
  with check (topic = (select realtime.topic()) and (select private.may_send((select realtime.topic()))));

/**
 * `conversation:<id>:<epoch>` for the conversation's current epoch: where the database's events for
 * it go. PL/pgSQL, not SQL: a SQL function called from a trigger is not inlined and is planned
 * again on every call, which cost send_message about a fifth of its throughput; PL/pgSQL keeps
 * the plan for the session.
 */
create or replace function private.live_topic(conversation_id uuid)
returns text
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  topic text;
begin
  select 'conversation:' || c.id || ':' || c.key_epoch into topic from public.conversations c where c.id = live_topic.conversation_id;
  return topic;
end;
$$;
revoke all on function private.live_topic(uuid) from public;
-- Triggers run as whoever wrote the row: the RPCs' owner, or service_role writing directly.
grant execute on function private.live_topic(uuid) to service_role;

/**
 * message_created to the conversation's current topic, inbox ({conversation_id, seq, sender_id,
 * key_epoch}) to every other participant's user topic (one insert). The epoch in inbox lets a
 * client whose channels missed key_epoch_changed notice and move.
 */
create or replace function private.broadcast_message_created()
returns trigger
language plpgsql
security invoker
set search_path = ''
as $$
begin
  begin
    with c as (select c.id, c.key_epoch from public.conversations c where c.id = new.conversation_id)
    insert into realtime.messages (payload, event, topic, private, extension)
    select to_jsonb(new), 'message_created', 'conversation:' || c.id || ':' || c.key_epoch, true, 'broadcast'
    from c
    union all
    select jsonb_build_object('conversation_id', new.conversation_id, 'seq', new.seq, 'sender_id', new.sender_id, 'key_epoch', c.key_epoch),
      'inbox', 'user:' || p.user_id, true, 'broadcast'
    from c join public.conversation_participants p on p.conversation_id = c.id
    where p.user_id is distinct from new.sender_id;
  exception when others then
    raise warning 'ErrorSendingBroadcastMessage: %', sqlerrm;
  end;
  return null;
end;
$$;

/** message_updated to the conversation's current topic. */
create or replace function private.broadcast_message()
returns trigger
language plpgsql
security invoker
set search_path = ''
as $$
begin
  perform realtime.send(to_jsonb(new), 'message_updated', private.live_topic(new.conversation_id), true);
  return null;
end;
$$;

/** reaction_changed ({message_id, user_id, emoji, op}) to the conversation's current topic. */
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
    'reaction_changed', private.live_topic(r.conversation_id), true
  );
  return null;
end;
$$;

/** receipt_updated ({conversation_id, user_id, last_delivered_seq, last_read_seq}) to the conversation's current topic. */
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
    'receipt_updated', private.live_topic(new.conversation_id), true
  );
  return null;
end;
$$;

/**
 * participants_changed ({conversation_id, user_id, role, op, key_epoch}) to the conversation's
 * current topic, and conversation_added / conversation_removed ({conversation_id}) to the member's
 * `user:<id>`. A removal is told on the epoch it ends (the bump comes after, from its own trigger),
 * so everyone on that topic hears it, followed by key_epoch_changed.
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
  -- The conversation itself is being deleted (its last member left): nobody is left to tell.
  if epoch is null then
    if tg_op = 'DELETE' then
      perform realtime.send(jsonb_build_object('conversation_id', r.conversation_id), 'conversation_removed', 'user:' || r.user_id, true);
    end if;
    return null;
  end if;
  perform realtime.send(
    jsonb_build_object(
      'conversation_id', r.conversation_id, 'user_id', r.user_id, 'role', r.role,
      'op', case tg_op when 'INSERT' then 'added' when 'DELETE' then 'removed' else 'role' end,
      'key_epoch', epoch
    ),
    'participants_changed', 'conversation:' || r.conversation_id || ':' || epoch, true
  );
  if tg_op = 'INSERT' then
    perform realtime.send(jsonb_build_object('conversation_id', r.conversation_id), 'conversation_added', 'user:' || r.user_id, true);
  elsif tg_op = 'DELETE' then
    perform realtime.send(jsonb_build_object('conversation_id', r.conversation_id), 'conversation_removed', 'user:' || r.user_id, true);
  end if;
  return null;
end;
$$;

/**
 * key_epoch_changed ({conversation_id, key_epoch}) to the old epoch's topic: the members still
 * there move to the new topic. Whoever was removed in the same transaction hears this one last
 * event, which names nothing but the new number; the new topic refuses them.
 */
create or replace function private.broadcast_key_epoch()
returns trigger
language plpgsql
security invoker
set search_path = ''
as $$
begin
  perform realtime.send(
    jsonb_build_object('conversation_id', new.id, 'key_epoch', new.key_epoch),
    'key_epoch_changed', 'conversation:' || new.id || ':' || old.key_epoch, true
  );
  return null;
end;
$$;
revoke all on function private.broadcast_key_epoch() from public;

create trigger conversations_broadcast_key_epoch
  after update on public.conversations
  for each row
  when (old.key_epoch is distinct from new.key_epoch)
  execute function private.broadcast_key_epoch();
comment on trigger conversations_broadcast_key_epoch on public.conversations is 'key_epoch_changed to the old epoch''s topic, so its members move to the new one.';


/**
 * Bumps the conversation's key epoch whenever a participant row goes, whatever removed it: the
 * RPCs, an account deletion (the row cascades from profiles), or service_role writing directly.
 * The epoch is what moves the live topics (and rotates the E2EE key), so no way out of a
 * conversation may skip it. A conversation being deleted has no row left to bump.
 */
create or replace function private.bump_key_epoch()
returns trigger
language plpgsql
security invoker
set search_path = ''
as $$
begin
  update public.conversations c set key_epoch = c.key_epoch + 1 where c.id = old.conversation_id;
  return null;
end;
$$;
revoke all on function private.bump_key_epoch() from public;

-- After conversation_participants_broadcast_membership (triggers fire in name order), so the
-- removal is told on the old topic, where everyone still is, and key_epoch_changed follows it.
create trigger conversation_participants_bump_key_epoch
  after delete on public.conversation_participants
  for each row execute function private.bump_key_epoch();
comment on trigger conversation_participants_bump_key_epoch on public.conversation_participants is 'A participant leaving, removed or deleted bumps key_epoch (moves the live topics).';

-- The RPCs no longer bump the epoch themselves: the trigger above does it for every removal.
/** Removes the caller (same as leave_conversation) or, for an admin, anyone; for a moderator, members only. The epoch bump is the participants table's trigger (bump_key_epoch). Security definer: deletes another user's participant row. */
create or replace function public.remove_participant(conversation_id uuid, user_id uuid)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  uid uuid := private.require_user();
  locked record;
  target public.conversation_participants;
begin
  if remove_participant.user_id = uid then
    perform public.leave_conversation(remove_participant.conversation_id);
    return;
  end if;
  select * into locked from private.lock_conversation(remove_participant.conversation_id, uid);
  if (locked.conversation).kind = 'direct' then
    raise exception using errcode = 'PT403', message = 'A direct conversation always has exactly two people.', detail = 'direct_conversation';
  end if;
  if (locked.me).role not in ('admin', 'moderator') then
    raise exception using errcode = 'PT403', message = 'Only moderators and admins can remove members.', detail = 'not_moderator';
  end if;
  select p.* into target from public.conversation_participants p
  where p.conversation_id = remove_participant.conversation_id and p.user_id = remove_participant.user_id;
  if not found then
    raise exception using errcode = 'PT404', message = 'That person is not in the conversation.', detail = 'participant_not_found';
  end if;
  if (locked.me).role = 'moderator' and target.role <> 'member' then
    raise exception using errcode = 'PT403', message = 'Only admins can remove moderators and admins.', detail = 'not_admin';
  end if;

  delete from public.conversation_participants p
  where p.conversation_id = remove_participant.conversation_id and p.user_id = remove_participant.user_id;
end;
$$;
revoke all on function public.remove_participant(uuid, uuid) from public, anon;
grant execute on function public.remove_participant(uuid, uuid) to authenticated, service_role;

/** The caller leaves a group. The last admin must hand over first (`last_admin`) unless nobody else is left, in which case the conversation is deleted. The epoch bump is the participants table's trigger (bump_key_epoch). Security definer: updates the conversation row. */
create or replace function public.leave_conversation(conversation_id uuid)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  uid uuid := private.require_user();
  locked record;
  others int;
  other_admins int;
begin
  select * into locked from private.lock_conversation(leave_conversation.conversation_id, uid);
  if (locked.conversation).kind = 'direct' then
    raise exception using errcode = 'PT403', message = 'You cannot leave a direct conversation.', detail = 'direct_conversation';
  end if;
  select count(*), count(*) filter (where p.role = 'admin') into others, other_admins
  from public.conversation_participants p
  where p.conversation_id = leave_conversation.conversation_id and p.user_id <> uid;

  if others = 0 then
    delete from public.conversations c where c.id = leave_conversation.conversation_id;
    return;
  end if;
  if (locked.me).role = 'admin' and other_admins = 0 then
    raise exception using errcode = 'PT403', message = 'You are the last admin: make someone else an admin first.', detail = 'last_admin';
  end if;

  delete from public.conversation_participants p
  where p.conversation_id = leave_conversation.conversation_id and p.user_id = uid;
end;
$$;
revoke all on function public.leave_conversation(uuid) from public, anon;
grant execute on function public.leave_conversation(uuid) to authenticated, service_role;

/**
 * Tables whose changes can revoke someone's access to a live topic. The embedded stack reads it
 * (docs/live-channels.md) and re-checks the open channels such a change can concern; nothing on
 * hosted Supabase subscribes to it. Deletes only: a removal or a leave (and its epoch bump, in
 * the same transaction) is what takes a topic away; adds and role changes take nothing away.
 */
create publication realtime_authorization for table public.conversation_participants with (publish = 'delete');
comment on publication realtime_authorization is 'Changes after which the embedded Realtime re-checks open private channels (deletes of participant rows).';
