/**
 * Reactions: one row per user per emoji per message. Participants read them through RLS; they are
 * added and removed through add_reaction / remove_reaction.
 */

create table public.message_reactions (
  message_id uuid not null references public.messages (id) on delete cascade,
  user_id uuid not null references public.profiles (id) on delete cascade,
  emoji text not null check (char_length(emoji) between 1 and 16 and emoji !~ '[[:space:][:cntrl:]]'),
  conversation_id uuid not null references public.conversations (id) on delete cascade,
  created_at timestamptz not null default now(),
  primary key (message_id, user_id, emoji)
);
comment on table public.message_reactions is 'Emoji reactions, one row per (message, user, emoji). Visible to the conversation''s participants.';
comment on column public.message_reactions.conversation_id is 'The message''s conversation (denormalized for RLS and realtime topics).';

create index message_reactions_user_idx on public.message_reactions (user_id);
comment on index public.message_reactions_user_idx is 'Covers the user_id foreign key.';
create index message_reactions_conversation_idx on public.message_reactions (conversation_id);
comment on index public.message_reactions_conversation_idx is 'Covers the conversation_id foreign key.';

alter table public.message_reactions enable row level security;

create policy "participants read the reactions of their conversations"
  on public.message_reactions for select to authenticated
  using (conversation_id in (select private.my_conversation_ids()));

revoke all on table public.message_reactions from anon, authenticated;
grant select on table public.message_reactions to authenticated;

/** Raises 400 `invalid_emoji` unless `emoji` is 1 to 16 characters without whitespace or control characters. */
create or replace function private.check_emoji(emoji text)
returns void
language plpgsql
immutable
security invoker
set search_path = ''
as $$
begin
  if emoji is null or char_length(emoji) not between 1 and 16
     or emoji ~ '[[:space:][:cntrl:]\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]' then
    raise exception using errcode = 'PT400', message = 'A reaction is one emoji (up to 16 characters, no spaces).', detail = 'invalid_emoji';
  end if;
end;
$$;
revoke all on function private.check_emoji(text) from public;

/** The caller reacts to a message with `emoji`; reacting twice returns the existing row. Not on deleted messages (`message_deleted`). Security definer: clients cannot insert reactions directly. */
create or replace function public.add_reaction(message_id uuid, emoji text)
returns public.message_reactions
language plpgsql
security definer
set search_path = ''
as $$
declare
  uid uuid := private.require_user();
  msg public.messages;
  result public.message_reactions;
begin
  perform private.check_emoji(add_reaction.emoji);
  msg := private.visible_message(add_reaction.message_id, uid);
  if msg.deleted_at is not null then
    raise exception using errcode = 'PT409', message = 'That message was deleted.', detail = 'message_deleted';
  end if;
  insert into public.message_reactions (message_id, user_id, emoji, conversation_id)
  values (msg.id, uid, add_reaction.emoji, msg.conversation_id)
  on conflict on constraint message_reactions_pkey do nothing
  returning * into result;
  if not found then
    select r.* into result from public.message_reactions r
    where r.message_id = msg.id and r.user_id = uid and r.emoji = add_reaction.emoji;
  end if;
  return result;
end;
$$;
revoke all on function public.add_reaction(uuid, text) from public, anon;
grant execute on function public.add_reaction(uuid, text) to authenticated, service_role;

/** Removes the caller's `emoji` reaction from a message (no-op if absent). Security definer: clients cannot delete reactions directly. */
create or replace function public.remove_reaction(message_id uuid, emoji text)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  uid uuid := private.require_user();
  msg public.messages;
begin
  perform private.check_emoji(remove_reaction.emoji);
  msg := private.visible_message(remove_reaction.message_id, uid);
  delete from public.message_reactions r
  where r.message_id = msg.id and r.user_id = uid and r.emoji = remove_reaction.emoji;
end;
$$;
revoke all on function public.remove_reaction(uuid, text) from public, anon;
grant execute on function public.remove_reaction(uuid, text) to authenticated, service_role;

/** The reactions on `message_ids` that the caller may see (messages of their conversations), at most 500 ids. */
create or replace function public.get_reactions(message_ids uuid[])
returns setof public.message_reactions
language plpgsql
stable
security invoker
set search_path = ''
as $$
begin
  if cardinality(message_ids) > 500 then
    raise exception using errcode = 'PT400', message = 'Ask for at most 500 messages at a time.', detail = 'too_many_ids';
  end if;
  return query
    select r.* from public.message_reactions r
    where r.message_id = any (message_ids)
    order by r.message_id, r.created_at, r.user_id, r.emoji;
end;
$$;
revoke all on function public.get_reactions(uuid[]) from public, anon;
grant execute on function public.get_reactions(uuid[]) to authenticated, service_role;
