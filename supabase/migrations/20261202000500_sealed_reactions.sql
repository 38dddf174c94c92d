/**
 * Sealed reactions (issue 16): the server no longer learns which emoji anyone reacted with.
 *
 * A reaction is sealed on the reacting device under keys derived from the reacted message's epoch
 * key (src/lib/crypto/reactions.ts), which everyone who can read the message holds:
 *   tag           HMAC-SHA-256 of message id ‖ emoji: equal reactions to one message have equal
 *                 tags, so the database keeps one per (message, user, tag) and counts group by it;
 *                 the tag of an emoji on one message says nothing about the same emoji elsewhere.
 *   emoji_sealed  the emoji, padded to a fixed length and sealed (`nacl.secretbox`) with `nonce`.
 *   epoch         the message's key epoch (must be the one its content was sealed under).
 *   sig           the sender's Ed25519 signature over conversation, epoch, message, sender, tag,
 *                 sealed emoji and nonce; receivers count a reaction only if it verifies.
 * The database checks shapes and membership only; it cannot read, forge or move a reaction.
 *
 * `emoji` (the plaintext) stays as a nullable column that nothing writes again, held at null by a
 * check. The reactions stored before this migration are deleted, not kept: their emoji are the
 * very plaintext this removes from the server, nothing signed them (so receivers, who count only
 * verified reactions, would drop them anyway), and taking one back would need its emoji sent in
 * the clear again. Truncate, not delete, so the row triggers do not broadcast them once more.
 */

truncate public.message_reactions;

alter table public.message_reactions
  drop constraint message_reactions_pkey,
  drop constraint message_reactions_emoji_check,
  alter column emoji drop not null,
  add column tag text not null check (tag ~ '^[A-Za-z0-9+/]{43}=$'),
  add column emoji_sealed text not null check (
    char_length(emoji_sealed) between 24 and 256 and char_length(emoji_sealed) % 4 = 0
    and emoji_sealed ~ '^[A-Za-z0-9+/]+={0,2}$'
  ),
  add column nonce text not null check (nonce ~ '^[A-Za-z0-9+/]{32}$'),
  add column epoch int not null check (epoch >= 1),
  add column sig text not null check (sig ~ '^[A-Za-z0-9+/]{86}==$'),
  add constraint message_reactions_no_plaintext check (emoji is null),
  add constraint message_reactions_pkey primary key (message_id, user_id, tag);

comment on table public.message_reactions is 'Sealed emoji reactions, one row per (message, user, tag). Visible to the conversation''s participants, who alone can open them.';
comment on column public.message_reactions.emoji is 'Retired: reactions were plaintext before 20261202000500_sealed_reactions. Always null (message_reactions_no_plaintext).';
comment on column public.message_reactions.tag is 'Base64 HMAC-SHA-256 of message id ‖ emoji under a key derived from the epoch key: equal for equal reactions to one message.';
comment on column public.message_reactions.emoji_sealed is 'Base64 nacl.secretbox of the padded emoji under a key derived from the epoch key.';
comment on column public.message_reactions.nonce is 'Base64 24-byte nonce of emoji_sealed.';
comment on column public.message_reactions.epoch is 'The key epoch the reaction is sealed under: the reacted message''s.';
comment on column public.message_reactions.sig is 'Base64 Ed25519 signature by the reacting user''s identity (src/lib/crypto/reactions.ts: reactionSignedBytes).';
comment on constraint message_reactions_no_plaintext on public.message_reactions is 'No plaintext emoji is ever stored.';
comment on constraint message_reactions_pkey on public.message_reactions is 'One reaction per user per tag (that is, per emoji) per message.';

drop function public.add_reaction(uuid, text);
drop function public.remove_reaction(uuid, text);
drop function private.check_emoji(text);

/** Raises 400 `invalid_tag` unless `tag` is the base64 of 32 bytes (an HMAC-SHA-256). */
create or replace function private.check_reaction_tag(tag text)
returns void
language plpgsql
immutable
security invoker
set search_path = ''
as $$
begin
  if tag is null or tag !~ '^[A-Za-z0-9+/]{43}=$' then
    raise exception using errcode = 'PT400', message = 'A reaction tag is the base64 of 32 bytes.', detail = 'invalid_tag';
  end if;
end;
$$;
revoke all on function private.check_reaction_tag(text) from public;

/**
 * Checks the shapes of a sealed reaction; raises 400 with the field's code: `invalid_tag`,
 * `invalid_sealed_emoji` (base64, 24 to 256 characters), `invalid_nonce` (24 bytes),
 * `invalid_signature` (64 bytes), `invalid_epoch` (missing or below 1).
 */
create or replace function private.check_sealed_reaction(tag text, emoji_sealed text, nonce text, epoch int, sig text)
returns void
language plpgsql
immutable
security invoker
set search_path = ''
as $$
begin
  perform private.check_reaction_tag(tag);
  if emoji_sealed is null or char_length(emoji_sealed) not between 24 and 256 or char_length(emoji_sealed) % 4 <> 0
     or emoji_sealed !~ '^[A-Za-z0-9+/]+={0,2}$' then
    raise exception using errcode = 'PT400', message = 'A sealed emoji is base64, 24 to 256 characters.', detail = 'invalid_sealed_emoji';
  end if;
  if nonce is null or nonce !~ '^[A-Za-z0-9+/]{32}$' then
    raise exception using errcode = 'PT400', message = 'A reaction nonce is the base64 of 24 bytes.', detail = 'invalid_nonce';
  end if;
  if epoch is null or epoch < 1 then
    raise exception using errcode = 'PT400', message = 'A reaction names the key epoch it is sealed under.', detail = 'invalid_epoch';
  end if;
  if sig is null or sig !~ '^[A-Za-z0-9+/]{86}==$' then
    raise exception using errcode = 'PT400', message = 'A reaction signature is the base64 of 64 bytes.', detail = 'invalid_signature';
  end if;
end;
$$;
revoke all on function private.check_sealed_reaction(text, text, text, int, text) from public;

/**
 * The caller reacts to a message with a sealed emoji. Reacting twice with one tag returns the row
 * already there, unchanged. The epoch must be the message's (`invalid_epoch`; a message without
 * one cannot take reactions); not on deleted messages (`message_deleted`). The signature is for
 * receivers to check: the database cannot. Security definer: clients cannot insert reactions directly.
 */
create or replace function public.add_reaction(
  message_id uuid,
  tag text,
  emoji_sealed text,
  nonce text,
  epoch int,
  sig text
)
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
  perform private.check_sealed_reaction(
    add_reaction.tag, add_reaction.emoji_sealed, add_reaction.nonce, add_reaction.epoch, add_reaction.sig
  );
  msg := private.visible_message(add_reaction.message_id, uid);
  if msg.deleted_at is not null then
    raise exception using errcode = 'PT409', message = 'That message was deleted.', detail = 'message_deleted';
  end if;
  if (msg.encryption -> 'epoch') is distinct from to_jsonb(add_reaction.epoch) then
    raise exception using errcode = 'PT400', message = 'A reaction is sealed under the key of its message''s epoch.', detail = 'invalid_epoch';
  end if;
  insert into public.message_reactions (message_id, user_id, conversation_id, tag, emoji_sealed, nonce, epoch, sig)
  values (
    msg.id, uid, msg.conversation_id,
    add_reaction.tag, add_reaction.emoji_sealed, add_reaction.nonce, add_reaction.epoch, add_reaction.sig
  )
  on conflict on constraint message_reactions_pkey do nothing
  returning * into result;
  if not found then
    select r.* into result from public.message_reactions r
    where r.message_id = msg.id and r.user_id = uid and r.tag = add_reaction.tag;
  end if;
  return result;
end;
$$;
revoke all on function public.add_reaction(uuid, text, text, text, int, text) from public, anon;
grant execute on function public.add_reaction(uuid, text, text, text, int, text) to authenticated, service_role;

/** Removes the caller's reaction with `tag` from a message (no-op if absent); the tag is computed again on the device from the emoji. Security definer: clients cannot delete reactions directly. */
create or replace function public.remove_reaction(message_id uuid, tag text)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  uid uuid := private.require_user();
  msg public.messages;
begin
  perform private.check_reaction_tag(remove_reaction.tag);
  msg := private.visible_message(remove_reaction.message_id, uid);
  delete from public.message_reactions r
  where r.message_id = msg.id and r.user_id = uid and r.tag = remove_reaction.tag;
end;
$$;
revoke all on function public.remove_reaction(uuid, text) from public, anon;
grant execute on function public.remove_reaction(uuid, text) to authenticated, service_role;

/** The sealed reactions on `message_ids` that the caller may see (messages of their conversations), at most 500 ids. */
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
    order by r.message_id, r.created_at, r.user_id, r.tag;
end;
$$;
revoke all on function public.get_reactions(uuid[]) from public, anon;
grant execute on function public.get_reactions(uuid[]) to authenticated, service_role;

/** reaction_changed ({message_id, user_id, tag, emoji_sealed, nonce, epoch, sig, op}) to the conversation's current topic: sealed, like the row. */
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
      'message_id', r.message_id, 'user_id', r.user_id, 'tag', r.tag,
      'emoji_sealed', r.emoji_sealed, 'nonce', r.nonce, 'epoch', r.epoch, 'sig', r.sig,
      'op', case when tg_op = 'DELETE' then 'removed' else 'added' end
    ),
    'reaction_changed', private.live_topic(r.conversation_id), true
  );
  return null;
end;
$$;
