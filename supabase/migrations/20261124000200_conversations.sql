/**
 * Conversations and their participants. Clients read them through RLS (participants only) and
 * change them only through the RPCs below: the tables grant `authenticated` nothing but select.
 *
 * The write RPCs are security definer: one call writes rows the caller may not write directly
 * (another user's participant row, the conversation's counters), and each checks the caller's
 * membership and role itself before touching anything. All have an empty search_path.
 */

create table public.conversations (
  id uuid primary key default gen_random_uuid(),
  kind text not null check (kind in ('direct', 'group')),
  title text check (char_length(title) between 1 and 100),
  direct_key text unique,
  created_by uuid references public.profiles (id) on delete set null,
  last_seq bigint not null default 0 check (last_seq >= 0),
  last_message_at timestamptz,
  key_epoch int not null default 1 check (key_epoch >= 1),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint conversations_direct_key_check check ((kind = 'direct') = (direct_key is not null)),
  constraint conversations_group_title_check check (kind = 'direct' or title is not null)
);
comment on table public.conversations is 'A direct (two people) or group conversation. Visible to its participants only.';
comment on column public.conversations.direct_key is 'For direct conversations: the two user ids, sorted, joined by a colon; unique, so a pair has one conversation.';
comment on column public.conversations.last_seq is 'Sequence number of the newest message (0 when empty); send_message increments it under the row lock.';
comment on column public.conversations.key_epoch is 'E2EE key epoch, from 1; bumps when a member leaves or is removed, so the next key is made for the remaining members only. Added members receive the current epoch key from a member who holds it.';

create index conversations_created_by_idx on public.conversations (created_by);
comment on index public.conversations_created_by_idx is 'Covers the created_by foreign key.';

create trigger conversations_set_updated_at
  before update on public.conversations
  for each row execute function private.set_updated_at();
comment on trigger conversations_set_updated_at on public.conversations is 'Keeps updated_at current.';

create table public.conversation_participants (
  conversation_id uuid not null references public.conversations (id) on delete cascade,
  user_id uuid not null references public.profiles (id) on delete cascade,
  role text not null default 'member' check (role in ('admin', 'moderator', 'member')),
  joined_at timestamptz not null default now(),
  last_delivered_seq bigint not null default 0 check (last_delivered_seq >= 0),
  last_read_seq bigint not null default 0 check (last_read_seq >= 0),
  primary key (conversation_id, user_id),
  constraint conversation_participants_read_delivered_check check (last_read_seq <= last_delivered_seq)
);
comment on table public.conversation_participants is 'Membership, role and delivery/read watermarks. Visible to the conversation''s participants; removing a member deletes the row.';
comment on column public.conversation_participants.last_delivered_seq is 'Every message with seq <= this has reached one of the user''s devices. Only moves forward.';
comment on column public.conversation_participants.last_read_seq is 'Every message with seq <= this has been read. Only moves forward; never above last_delivered_seq.';

create index conversation_participants_user_idx on public.conversation_participants (user_id, conversation_id);
comment on index public.conversation_participants_user_idx is 'A user''s conversations: RLS membership sets, list_conversations, and the user_id foreign key.';

/** Is the current user a participant of `conversation_id`? Security definer so that policies on the participants table can ask without recursing into its own RLS. */
create or replace function private.is_participant(conversation_id uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (
    select 1 from public.conversation_participants p
    where p.conversation_id = is_participant.conversation_id and p.user_id = (select auth.uid())
  )
$$;
revoke all on function private.is_participant(uuid) from public;
grant execute on function private.is_participant(uuid) to authenticated, service_role;

/** The ids of the current user's conversations, for `conversation_id in (select ...)` policies (evaluated once per query). Security definer for the same reason as is_participant. */
create or replace function private.my_conversation_ids()
returns setof uuid
language sql
stable
security definer
set search_path = ''
as $$
  select p.conversation_id from public.conversation_participants p where p.user_id = (select auth.uid())
$$;
revoke all on function private.my_conversation_ids() from public;
grant execute on function private.my_conversation_ids() to authenticated, service_role;

/** The current user id, or PT401 `not_authenticated` when the request carries no user. */
create or replace function private.require_user()
returns uuid
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  uid uuid := auth.uid();
begin
  if uid is null then
    raise exception using errcode = 'PT401', message = 'Sign in first.', detail = 'not_authenticated';
  end if;
  return uid;
end;
$$;
revoke all on function private.require_user() from public;
grant execute on function private.require_user() to authenticated, service_role;

/** Raises 404 `conversation_not_found`; the same answer whether the conversation does not exist or the caller is not in it. */
create or replace function private.conversation_not_found()
returns void
language plpgsql
security invoker
set search_path = ''
as $$
begin
  raise exception using errcode = 'PT404', message = 'Conversation not found.', detail = 'conversation_not_found';
end;
$$;
revoke all on function private.conversation_not_found() from public;
grant execute on function private.conversation_not_found() to authenticated, service_role;

/**
 * Locks the conversation row (serializing membership changes and senders) and returns it with
 * the caller's participant row; 404 unless the caller is a participant. Checks membership after
 * taking the lock, so a concurrent removal is always seen.
 */
create or replace function private.lock_conversation(
  conversation_id uuid,
  uid uuid,
  out conversation public.conversations,
  out me public.conversation_participants
)
language plpgsql
security invoker
set search_path = ''
as $$
begin
  if not exists (
    select 1 from public.conversation_participants p
    where p.conversation_id = lock_conversation.conversation_id and p.user_id = uid
  ) then
    perform private.conversation_not_found();
  end if;
  select c.* into conversation from public.conversations c where c.id = lock_conversation.conversation_id for update;
  select p.* into me from public.conversation_participants p
  where p.conversation_id = lock_conversation.conversation_id and p.user_id = uid;
  if conversation.id is null or me.user_id is null then
    perform private.conversation_not_found();
  end if;
end;
$$;
revoke all on function private.lock_conversation(uuid, uuid) from public;

alter table public.conversations enable row level security;
alter table public.conversation_participants enable row level security;

create policy "participants read their conversations"
  on public.conversations for select to authenticated
  using (id in (select private.my_conversation_ids()));

create policy "participants read the members of their conversations"
  on public.conversation_participants for select to authenticated
  using (conversation_id in (select private.my_conversation_ids()));

revoke all on table public.conversations from anon, authenticated;
revoke all on table public.conversation_participants from anon, authenticated;
grant select on table public.conversations to authenticated;
grant select on table public.conversation_participants to authenticated;

/** The participants of a conversation with their profile fields and watermarks, as a jsonb array (join order). */
create or replace function private.participants_json(conversation_id uuid)
returns jsonb
language sql
stable
security invoker
set search_path = ''
as $$
  select coalesce(jsonb_agg(jsonb_build_object(
    'user_id', p.user_id,
    'role', p.role,
    'joined_at', p.joined_at,
    'last_delivered_seq', p.last_delivered_seq,
    'last_read_seq', p.last_read_seq,
    'username', pr.username,
    'display_name', pr.display_name,
    'avatar_url', pr.avatar_url,
    'public_key', pr.public_key
  ) order by p.joined_at, p.user_id), '[]'::jsonb)
  from public.conversation_participants p
  -- One index lookup per participant (the limit keeps the planner from hashing all profiles).
  cross join lateral (
    select pr.username, pr.display_name, pr.avatar_url, pr.public_key
    from public.profiles pr where pr.id = p.user_id limit 1
  ) pr
  where p.conversation_id = participants_json.conversation_id
$$;
revoke all on function private.participants_json(uuid) from public;
grant execute on function private.participants_json(uuid) to authenticated, service_role;

/** The direct conversation between the caller and `other_user_id`, created on first use. Race-safe and idempotent (unique direct_key). Security definer: writes the other user's participant row. */
create or replace function public.create_direct_conversation(other_user_id uuid)
returns public.conversations
language plpgsql
security definer
set search_path = ''
as $$
declare
  uid uuid := private.require_user();
  pair_key text;
  result public.conversations;
begin
  if other_user_id is null or other_user_id = uid then
    raise exception using errcode = 'PT400', message = 'Pick someone else to talk to.', detail = 'invalid_participant';
  end if;
  if not exists (select 1 from public.profiles where id = other_user_id) then
    raise exception using errcode = 'PT404', message = 'No such user.', detail = 'user_not_found';
  end if;
  pair_key := least(uid, other_user_id)::text || ':' || greatest(uid, other_user_id)::text;

  insert into public.conversations (kind, direct_key, created_by)
  values ('direct', pair_key, uid)
  on conflict (direct_key) do nothing
  returning * into result;

  if found then
    insert into public.conversation_participants (conversation_id, user_id, role)
    values (result.id, uid, 'member'), (result.id, other_user_id, 'member');
  else
    -- Another transaction created it first (and has committed: the insert waited for it).
    select c.* into result from public.conversations c where c.direct_key = pair_key;
  end if;
  return result;
end;
$$;
revoke all on function public.create_direct_conversation(uuid) from public, anon;
grant execute on function public.create_direct_conversation(uuid) to authenticated, service_role;

/** A new group titled `title`; the caller is its admin, `participant_ids` its members. Security definer: writes other users' participant rows. */
create or replace function public.create_group_conversation(title text, participant_ids uuid[])
returns public.conversations
language plpgsql
security definer
set search_path = ''
as $$
declare
  uid uuid := private.require_user();
  clean_title text := trim(create_group_conversation.title);
  members uuid[];
  result public.conversations;
begin
  if clean_title is null or char_length(clean_title) not between 1 and 100 then
    raise exception using errcode = 'PT400', message = 'A group needs a title of 1 to 100 characters.', detail = 'invalid_title';
  end if;
  select coalesce(array_agg(distinct m), '{}') into members
  from unnest(coalesce(participant_ids, '{}')) m
  where m is not null and m <> uid;
  if cardinality(members) > 500 then
    raise exception using errcode = 'PT400', message = 'A group can start with at most 500 members.', detail = 'too_many_participants';
  end if;
  if exists (select 1 from unnest(members) m where not exists (select 1 from public.profiles p where p.id = m)) then
    raise exception using errcode = 'PT404', message = 'One of the people you picked does not exist.', detail = 'user_not_found';
  end if;

  insert into public.conversations (kind, title, created_by)
  values ('group', clean_title, uid)
  returning * into result;

  insert into public.conversation_participants (conversation_id, user_id, role)
  select result.id, uid, 'admin'
  union all
  select result.id, m, 'member' from unnest(members) m;
  return result;
end;
$$;
revoke all on function public.create_group_conversation(text, uuid[]) from public, anon;
grant execute on function public.create_group_conversation(text, uuid[]) to authenticated, service_role;

/** The conversation (without direct_key) plus `participants`; 404 unless the caller is one of them. */
create or replace function public.get_conversation(conversation_id uuid)
returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  result jsonb;
begin
  select to_jsonb(c) - 'direct_key' || jsonb_build_object('participants', private.participants_json(c.id))
  into result
  from public.conversations c
  where c.id = get_conversation.conversation_id;
  if result is null then
    perform private.conversation_not_found();
  end if;
  return result;
end;
$$;
revoke all on function public.get_conversation(uuid) from public, anon;
grant execute on function public.get_conversation(uuid) to authenticated, service_role;

/** Raises PT400 `invalid_role` unless `role` is admin, moderator or member. */
create or replace function private.check_role(role text)
returns void
language plpgsql
immutable
security invoker
set search_path = ''
as $$
begin
  if role is null or role not in ('admin', 'moderator', 'member') then
    raise exception using errcode = 'PT400', message = 'Role must be admin, moderator or member.', detail = 'invalid_role';
  end if;
end;
$$;
revoke all on function private.check_role(text) from public;

/** Adds `user_id` to a group as `role` (admins only). key_epoch stays: a member who holds the current key wraps it for the newcomer (publish_conversation_keys). Security definer: writes another user's participant row. */
create or replace function public.add_participant(conversation_id uuid, user_id uuid, role text default 'member')
returns public.conversation_participants
language plpgsql
security definer
set search_path = ''
as $$
declare
  uid uuid := private.require_user();
  locked record;
  result public.conversation_participants;
begin
  select * into locked from private.lock_conversation(add_participant.conversation_id, uid);
  if (locked.conversation).kind = 'direct' then
    raise exception using errcode = 'PT403', message = 'A direct conversation always has exactly two people.', detail = 'direct_conversation';
  end if;
  if (locked.me).role <> 'admin' then
    raise exception using errcode = 'PT403', message = 'Only admins can add members.', detail = 'not_admin';
  end if;
  perform private.check_role(add_participant.role);
  if user_id is null or not exists (select 1 from public.profiles p where p.id = add_participant.user_id) then
    raise exception using errcode = 'PT404', message = 'No such user.', detail = 'user_not_found';
  end if;
  if exists (
    select 1 from public.conversation_participants p
    where p.conversation_id = add_participant.conversation_id and p.user_id = add_participant.user_id
  ) then
    raise exception using errcode = 'PT409', message = 'That person is already in the conversation.', detail = 'already_participant';
  end if;

  -- A new member starts with everything so far counted as read: unread counts start at joining.
  insert into public.conversation_participants (conversation_id, user_id, role, last_delivered_seq, last_read_seq)
  values (add_participant.conversation_id, add_participant.user_id, add_participant.role,
          (locked.conversation).last_seq, (locked.conversation).last_seq)
  returning * into result;
  return result;
end;
$$;
revoke all on function public.add_participant(uuid, uuid, text) from public, anon;
grant execute on function public.add_participant(uuid, uuid, text) to authenticated, service_role;

/** Removes the caller (same as leave_conversation) or, for an admin, anyone; for a moderator, members only. Bumps key_epoch. Security definer: deletes another user's participant row. */
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

  update public.conversations c set key_epoch = c.key_epoch + 1 where c.id = remove_participant.conversation_id;
  delete from public.conversation_participants p
  where p.conversation_id = remove_participant.conversation_id and p.user_id = remove_participant.user_id;
end;
$$;
revoke all on function public.remove_participant(uuid, uuid) from public, anon;
grant execute on function public.remove_participant(uuid, uuid) to authenticated, service_role;

/** Changes a member's role (admins only). The last admin cannot demote themself (`last_admin`). Security definer: writes another user's participant row. */
create or replace function public.set_participant_role(conversation_id uuid, user_id uuid, role text)
returns public.conversation_participants
language plpgsql
security definer
set search_path = ''
as $$
declare
  uid uuid := private.require_user();
  locked record;
  target public.conversation_participants;
  result public.conversation_participants;
begin
  select * into locked from private.lock_conversation(set_participant_role.conversation_id, uid);
  if (locked.conversation).kind = 'direct' then
    raise exception using errcode = 'PT403', message = 'Roles do not apply to direct conversations.', detail = 'direct_conversation';
  end if;
  if (locked.me).role <> 'admin' then
    raise exception using errcode = 'PT403', message = 'Only admins can change roles.', detail = 'not_admin';
  end if;
  perform private.check_role(set_participant_role.role);
  select p.* into target from public.conversation_participants p
  where p.conversation_id = set_participant_role.conversation_id and p.user_id = set_participant_role.user_id;
  if not found then
    raise exception using errcode = 'PT404', message = 'That person is not in the conversation.', detail = 'participant_not_found';
  end if;
  if target.role = 'admin' and set_participant_role.role <> 'admin' and (
    select count(*) from public.conversation_participants p
    where p.conversation_id = set_participant_role.conversation_id and p.role = 'admin'
  ) = 1 then
    raise exception using errcode = 'PT403', message = 'Make someone else an admin first.', detail = 'last_admin';
  end if;

  update public.conversation_participants p set role = set_participant_role.role
  where p.conversation_id = set_participant_role.conversation_id and p.user_id = set_participant_role.user_id
  returning p.* into result;
  return result;
end;
$$;
revoke all on function public.set_participant_role(uuid, uuid, text) from public, anon;
grant execute on function public.set_participant_role(uuid, uuid, text) to authenticated, service_role;

/** The caller leaves a group. The last admin must hand over first (`last_admin`) unless nobody else is left, in which case the conversation is deleted. Bumps key_epoch. Security definer: updates the conversation row. */
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

  update public.conversations c set key_epoch = c.key_epoch + 1 where c.id = leave_conversation.conversation_id;
  delete from public.conversation_participants p
  where p.conversation_id = leave_conversation.conversation_id and p.user_id = uid;
end;
$$;
revoke all on function public.leave_conversation(uuid) from public, anon;
grant execute on function public.leave_conversation(uuid) to authenticated, service_role;
