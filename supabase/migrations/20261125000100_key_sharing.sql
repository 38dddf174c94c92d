/**
 * Key sharing: members who hold an epoch's key give it to members who lack it.
 *
 * A conversation key is wrapped for the members who had a public key when it was made. Someone
 * who had none yet (they signed up a moment ago, or never opened the app) has no row for the
 * epoch and cannot read it. Any member holding the key can close the gap: `members_missing_key`
 * says who lacks it, `publish_conversation_keys` adds their rows, and the trigger below tells
 * each of them (`key_added` on their `user:<id>` topic) so their device decrypts again.
 */

/**
 * The current members (with a public key) who have no key row for the conversation's current
 * epoch, with that epoch. Only a current member who holds the key gets rows, so the answer reveals
 * nothing outsiders or keyless members could use. Security definer: conversation_keys rows of
 * other members are invisible under RLS.
 */
create or replace function public.members_missing_key(conversation_id uuid)
returns table (user_id uuid, public_key text, epoch int)
language sql
stable
security definer
set search_path = ''
as $$
  select p.user_id, pr.public_key, c.key_epoch
  from public.conversations c
  join public.conversation_participants p on p.conversation_id = c.id
  join public.profiles pr on pr.id = p.user_id
  where c.id = members_missing_key.conversation_id
    and pr.public_key is not null
    and exists (
      select 1
      from public.conversation_participants me
      join public.conversation_keys mine
        on mine.conversation_id = me.conversation_id and mine.user_id = me.user_id and mine.epoch = c.key_epoch
      where me.conversation_id = c.id and me.user_id = (select auth.uid())
    )
    and not exists (
      select 1 from public.conversation_keys k
      where k.conversation_id = c.id and k.epoch = c.key_epoch and k.user_id = p.user_id
    )
$$;
revoke all on function public.members_missing_key(uuid) from public, anon;
grant execute on function public.members_missing_key(uuid) to authenticated, service_role;

/**
 * key_added ({conversation_id, epoch}) to the `user:<id>` topic of each member who received a key
 * row from someone else (the publisher of a fresh epoch already has it), one insert per statement.
 * As realtime.send, a failure is a warning and never undoes the keys.
 */
create or replace function private.broadcast_keys_added()
returns trigger
language plpgsql
security invoker
set search_path = ''
as $$
begin
  begin
    insert into realtime.messages (payload, event, topic, private, extension)
    select jsonb_build_object('conversation_id', k.conversation_id, 'epoch', k.epoch), 'key_added',
      'user:' || k.user_id, true, 'broadcast'
    from inserted k
    where k.user_id is distinct from k.wrapped_by;
  exception when others then
    raise warning 'ErrorSendingBroadcastMessage: %', sqlerrm;
  end;
  return null;
end;
$$;
revoke all on function private.broadcast_keys_added() from public;

create trigger conversation_keys_broadcast_insert
  after insert on public.conversation_keys
  referencing new table as inserted
  for each statement execute function private.broadcast_keys_added();
comment on trigger conversation_keys_broadcast_insert on public.conversation_keys is 'key_added to each member given a key by someone else.';
