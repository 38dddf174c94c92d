/**
 * One history rule per group, chosen by its admins (`conversations.history_visibility`):
 *
 * - `joined` (the default): new members see messages from when they join. Adding a member moves
 *   the group to a new key epoch, so the newcomer's first key opens nothing sent before, and no
 *   key of an earlier epoch can be published for anyone. A member removed and added back is a
 *   newcomer again: what was sent while she was out stays sealed for her.
 * - `shared`: new members can read the history. Adding keeps the epoch, and a member who holds
 *   an earlier epoch's key may wrap it for any current member who lacks it
 *   (`members_missing_key` lists those too, `publish_conversation_keys` accepts them).
 *
 * `conversation_participants.joined_epoch` is the epoch a member's current membership began
 * with: under `joined`, keys of earlier epochs will never reach them, which is how a client tells
 * "sent before you joined" from "waiting for a key". Direct conversations keep `joined` and never
 * gain members, so nothing changes for them. Changing the rule is told to the members
 * (`history_visibility_changed`).
 */

alter table public.conversations
  add column history_visibility text not null default 'joined'
    constraint conversations_history_visibility_check check (history_visibility in ('joined', 'shared')),
  add constraint conversations_direct_history_check check (kind = 'group' or history_visibility = 'joined');
comment on column public.conversations.history_visibility is 'Who reads a group''s history: ''joined'' (members see messages from when they join; adding a member bumps key_epoch) or ''shared'' (members holding earlier epoch keys wrap them for newcomers). Set by admins through set_history_visibility; always ''joined'' for direct conversations.';
comment on constraint conversations_direct_history_check on public.conversations is 'Direct conversations never gain members, so they have no history rule to choose.';
comment on column public.conversations.key_epoch is 'E2EE key epoch, from 1; bumps when a member leaves or is removed, and when one is added under the ''joined'' history rule, so the next key is made for the current members only. Under ''shared'', added members receive the current and earlier epoch keys from a member who holds them.';

alter table public.conversation_participants
  add column joined_epoch int not null default 1
    constraint conversation_participants_joined_epoch_check check (joined_epoch >= 1);
comment on column public.conversation_participants.joined_epoch is 'The key epoch this membership began with (1 for the founders; for an added member, the epoch after the bump under ''joined'', the current one under ''shared''). Under ''joined'' no key of an earlier epoch is ever published for them.';

-- Members from before this migration joined at some epoch nobody recorded. The earliest key they
-- hold was made while they were in (keys were only ever published for current members), so it is
-- the best estimate short of 1; a member holding no key keeps 1 (nothing is claimed about them).
update public.conversation_participants p
set joined_epoch = k.first_epoch
from (
  select k.conversation_id, k.user_id, min(k.epoch) as first_epoch
  from public.conversation_keys k
  group by k.conversation_id, k.user_id
) k
where k.conversation_id = p.conversation_id and k.user_id = p.user_id and k.first_epoch > 1;

/** The participants of a conversation with their profile fields, watermarks and joined_epoch, as a jsonb array (join order). */
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
    'joined_epoch', p.joined_epoch,
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

/**
 * Adds `user_id` to a group as `role` (admins only). Under the `joined` history rule the key epoch
 * then bumps (after the insert, so participants_changed is told on the topic everyone is on, and
 * key_epoch_changed follows it), and the newcomer's joined_epoch is the new epoch: no key they can
 * be given opens anything sent before. Under `shared` the epoch stays, and members who hold the
 * current and earlier keys wrap them for the newcomer (publish_conversation_keys). Security
 * definer: writes another user's participant row and the conversation's epoch.
 */
create or replace function public.add_participant(conversation_id uuid, user_id uuid, role text default 'member')
returns public.conversation_participants
language plpgsql
security definer
set search_path = ''
as $$
declare
  uid uuid := private.require_user();
  locked record;
  rotate boolean;
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

  rotate := (locked.conversation).history_visibility = 'joined';
  -- A new member starts with everything so far counted as read: unread counts start at joining.
  insert into public.conversation_participants (conversation_id, user_id, role, last_delivered_seq, last_read_seq, joined_epoch)
  values (add_participant.conversation_id, add_participant.user_id, add_participant.role,
          (locked.conversation).last_seq, (locked.conversation).last_seq,
          (locked.conversation).key_epoch + case when rotate then 1 else 0 end)
  returning * into result;
  if rotate then
    update public.conversations c set key_epoch = result.joined_epoch where c.id = add_participant.conversation_id;
  end if;
  return result;
end;
$$;
revoke all on function public.add_participant(uuid, uuid, text) from public, anon;
grant execute on function public.add_participant(uuid, uuid, text) to authenticated, service_role;

/**
 * Sets a group's history rule, `joined` or `shared` (admins only: `not_admin` for moderators and
 * members, `direct_conversation` for a direct one, `invalid_history_visibility` for anything
 * else). Setting the rule it already has changes nothing and tells nobody. Returns the
 * conversation. Security definer: clients cannot update conversations directly.
 */
create or replace function public.set_history_visibility(conversation_id uuid, history_visibility text)
returns public.conversations
language plpgsql
security definer
set search_path = ''
as $$
declare
  uid uuid := private.require_user();
  locked record;
  result public.conversations;
begin
  select * into locked from private.lock_conversation(set_history_visibility.conversation_id, uid);
  if (locked.conversation).kind = 'direct' then
    raise exception using errcode = 'PT403', message = 'A direct conversation has no history rule: both people read all of it.', detail = 'direct_conversation';
  end if;
  if (locked.me).role <> 'admin' then
    raise exception using errcode = 'PT403', message = 'Only admins can choose who reads the history.', detail = 'not_admin';
  end if;
  if set_history_visibility.history_visibility is null
     or set_history_visibility.history_visibility not in ('joined', 'shared') then
    raise exception using errcode = 'PT400', message = 'The history rule must be joined or shared.', detail = 'invalid_history_visibility';
  end if;

  update public.conversations c set history_visibility = set_history_visibility.history_visibility
  where c.id = set_history_visibility.conversation_id
    and c.history_visibility is distinct from set_history_visibility.history_visibility;
  select c.* into result from public.conversations c where c.id = set_history_visibility.conversation_id;
  return result;
end;
$$;
revoke all on function public.set_history_visibility(uuid, text) from public, anon;
grant execute on function public.set_history_visibility(uuid, text) to authenticated, service_role;

/** history_visibility_changed ({conversation_id, history_visibility}) to the conversation's current topic. */
create or replace function private.broadcast_history_visibility()
returns trigger
language plpgsql
security invoker
set search_path = ''
as $$
begin
  perform realtime.send(
    jsonb_build_object('conversation_id', new.id, 'history_visibility', new.history_visibility),
    'history_visibility_changed', 'conversation:' || new.id || ':' || new.key_epoch, true
  );
  return null;
end;
$$;
revoke all on function private.broadcast_history_visibility() from public;

create trigger conversations_broadcast_history_visibility
  after update on public.conversations
  for each row
  when (old.history_visibility is distinct from new.history_visibility)
  execute function private.broadcast_history_visibility();
comment on trigger conversations_broadcast_history_visibility on public.conversations is 'history_visibility_changed to the current topic, so members show the new rule (and, for ''shared'', share earlier keys).';

/**
 * Stores keys of one epoch wrapped for current members. `keys` = [{user_id, wrapped_key, nonce}],
 * each user_id a current member, at most once.
 *
 * The current epoch: the first publisher makes its key; afterwards only a member who has a row for
 * the epoch (and so holds the key) may add rows, for members who lack one (409 `epoch_keys_exist`
 * for anyone else: read your key from conversation_keys instead).
 * An earlier epoch: only under the `shared` history rule (409 `stale_epoch` under `joined`, as for
 * an epoch that is not yet current), and only from a member who holds its key (403
 * `key_not_held`): nobody makes a key for an epoch that is over.
 * Rows already present are kept (first wins). Publishers of a conversation are serialized by the
 * conversation row lock, so two members racing to key a fresh epoch cannot mix keys, and a rule
 * change is seen by every publish after it. Security definer: writes rows for other members,
 * which clients cannot insert directly.
 */
create or replace function public.publish_conversation_keys(conversation_id uuid, epoch int, keys jsonb)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  uid uuid := private.require_user();
  locked record;
  entry jsonb;
  past boolean;
begin
  select * into locked from private.lock_conversation(publish_conversation_keys.conversation_id, uid);
  past := coalesce(publish_conversation_keys.epoch between 1 and (locked.conversation).key_epoch - 1, false);
  if not past and publish_conversation_keys.epoch is distinct from (locked.conversation).key_epoch
     or past and (locked.conversation).history_visibility <> 'shared' then
    raise exception using errcode = 'PT409', message = 'The conversation has moved to another key epoch.', detail = 'stale_epoch';
  end if;
  if jsonb_typeof(keys) is distinct from 'array' or jsonb_array_length(keys) = 0 then
    raise exception using errcode = 'PT400', message = 'keys must be a non-empty array of {user_id, wrapped_key, nonce}.', detail = 'invalid_keys';
  end if;
  for entry in select value from jsonb_array_elements(keys) loop
    if jsonb_typeof(entry) <> 'object'
       or private.try_uuid(entry ->> 'user_id') is null
       or jsonb_typeof(entry -> 'wrapped_key') is distinct from 'string'
       or char_length(entry ->> 'wrapped_key') not between 1 and 512
       or jsonb_typeof(entry -> 'nonce') is distinct from 'string'
       or char_length(entry ->> 'nonce') not between 1 and 128 then
      raise exception using errcode = 'PT400', message = 'keys must be a non-empty array of {user_id, wrapped_key, nonce}.', detail = 'invalid_keys';
    end if;
  end loop;
  if (select count(distinct k ->> 'user_id') from jsonb_array_elements(keys) k) <> jsonb_array_length(keys)
     or exists (
       select 1 from jsonb_array_elements(keys) k
       where not exists (
         select 1 from public.conversation_participants p
         where p.conversation_id = publish_conversation_keys.conversation_id and p.user_id = (k ->> 'user_id')::uuid
       )
     ) then
    raise exception using errcode = 'PT400', message = 'Wrap the key for current members only, once each.', detail = 'keys_mismatch';
  end if;
  if past and not exists (
    select 1 from public.conversation_keys k
    where k.conversation_id = publish_conversation_keys.conversation_id and k.epoch = publish_conversation_keys.epoch
      and k.user_id = uid
  ) then
    raise exception using errcode = 'PT403', message = 'Only a member who holds this epoch''s key can share it.', detail = 'key_not_held';
  end if;
  if exists (
    select 1 from public.conversation_keys k
    where k.conversation_id = publish_conversation_keys.conversation_id and k.epoch = publish_conversation_keys.epoch
  ) and not exists (
    select 1 from public.conversation_keys k
    where k.conversation_id = publish_conversation_keys.conversation_id and k.epoch = publish_conversation_keys.epoch
      and k.user_id = uid
  ) then
    raise exception using errcode = 'PT409', message = 'This epoch already has a key; read yours from conversation_keys.', detail = 'epoch_keys_exist';
  end if;

  insert into public.conversation_keys (conversation_id, epoch, user_id, wrapped_key, nonce, wrapped_by)
  select publish_conversation_keys.conversation_id, publish_conversation_keys.epoch, (k ->> 'user_id')::uuid,
         k ->> 'wrapped_key', k ->> 'nonce', uid
  from jsonb_array_elements(keys) k
  on conflict on constraint conversation_keys_pkey do nothing;
end;
$$;
revoke all on function public.publish_conversation_keys(uuid, int, jsonb) from public, anon;
grant execute on function public.publish_conversation_keys(uuid, int, jsonb) to authenticated, service_role;

/**
 * The current members (with a public key) who lack a key the caller can give them, with its
 * epoch: the current epoch's, and under the `shared` history rule also each earlier epoch's that
 * the caller holds. Newest epoch first. Only a current member gets rows, and only for epochs whose
 * key they hold, so the answer reveals nothing outsiders or keyless members could use. Security
 * definer: conversation_keys rows of other members are invisible under RLS.
 */
create or replace function public.members_missing_key(conversation_id uuid)
returns table (user_id uuid, public_key text, epoch int)
language sql
stable
security definer
set search_path = ''
as $$
  select p.user_id, pr.public_key, e.epoch
  from public.conversations c
  cross join lateral (
    select c.key_epoch as epoch
    union
    select mine.epoch from public.conversation_keys mine
    where c.history_visibility = 'shared' and mine.conversation_id = c.id
      and mine.user_id = (select auth.uid()) and mine.epoch < c.key_epoch
  ) e
  join public.conversation_participants p on p.conversation_id = c.id
  join public.profiles pr on pr.id = p.user_id
  where c.id = members_missing_key.conversation_id
    and pr.public_key is not null
    and exists (
      select 1
      from public.conversation_participants me
      join public.conversation_keys mine
        on mine.conversation_id = me.conversation_id and mine.user_id = me.user_id and mine.epoch = e.epoch
      where me.conversation_id = c.id and me.user_id = (select auth.uid())
    )
    and not exists (
      select 1 from public.conversation_keys k
      where k.conversation_id = c.id and k.epoch = e.epoch and k.user_id = p.user_id
    )
  order by e.epoch desc, p.user_id
$$;
revoke all on function public.members_missing_key(uuid) from public, anon;
grant execute on function public.members_missing_key(uuid) to authenticated, service_role;
