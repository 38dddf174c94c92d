/**
 * End-to-end encryption keys: each user's passphrase-encrypted secret-key backup, and the
 * per-epoch conversation keys wrapped for each member. The server only ever stores ciphertext.
 */

create table public.key_backups (
  user_id uuid primary key references public.profiles (id) on delete cascade,
  backup jsonb not null check (jsonb_typeof(backup) = 'object' and pg_column_size(backup) <= 16384),
  updated_at timestamptz not null default now()
);
comment on table public.key_backups is 'A user''s identity secret key encrypted under their passphrase ({v, kdf, salt, iterations, nonce, ciphertext}). Owner only.';

create trigger key_backups_set_updated_at
  before update on public.key_backups
  for each row execute function private.set_updated_at();
comment on trigger key_backups_set_updated_at on public.key_backups is 'Keeps updated_at current.';

alter table public.key_backups enable row level security;

create policy "owners read their key backup"
  on public.key_backups for select to authenticated
  using (user_id = (select auth.uid()));

create policy "owners create their key backup"
  on public.key_backups for insert to authenticated
  with check (user_id = (select auth.uid()));

create policy "owners replace their key backup"
  on public.key_backups for update to authenticated
  using (user_id = (select auth.uid()))
  with check (user_id = (select auth.uid()));

create policy "owners delete their key backup"
  on public.key_backups for delete to authenticated
  using (user_id = (select auth.uid()));

revoke all on table public.key_backups from anon, authenticated;
grant select, delete on table public.key_backups to authenticated;
grant insert (user_id, backup), update (backup) on table public.key_backups to authenticated;

create table public.conversation_keys (
  conversation_id uuid not null references public.conversations (id) on delete cascade,
  epoch int not null check (epoch >= 1),
  user_id uuid not null references public.profiles (id) on delete cascade,
  wrapped_key text not null check (char_length(wrapped_key) between 1 and 512),
  nonce text not null check (char_length(nonce) between 1 and 128),
  wrapped_by uuid references public.profiles (id) on delete set null,
  created_at timestamptz not null default now(),
  primary key (conversation_id, epoch, user_id)
);
comment on table public.conversation_keys is 'The conversation key of an epoch, nacl.box-wrapped for one member by wrapped_by. Each user reads only their own rows.';

create index conversation_keys_user_idx on public.conversation_keys (user_id);
comment on index public.conversation_keys_user_idx is 'A user''s keys (the select policy) and the user_id foreign key.';
create index conversation_keys_wrapped_by_idx on public.conversation_keys (wrapped_by);
comment on index public.conversation_keys_wrapped_by_idx is 'Covers the wrapped_by foreign key.';

alter table public.conversation_keys enable row level security;

create policy "members read the keys wrapped for them"
  on public.conversation_keys for select to authenticated
  using (user_id = (select auth.uid()));

revoke all on table public.conversation_keys from anon, authenticated;
grant select on table public.conversation_keys to authenticated;

/**
 * Stores the key of the conversation's current epoch wrapped for current members.
 * `keys` = [{user_id, wrapped_key, nonce}], each user_id a current member, at most once.
 * The first publisher of an epoch makes its key; afterwards only a member who has a row for the
 * epoch (and so holds the key) may add rows, for members who lack one (409 `epoch_keys_exist`
 * for anyone else: read your key from conversation_keys instead). Rows already present are kept
 * (first wins). Publishers of a conversation are serialized by the conversation row lock, so two
 * members racing to key a fresh epoch cannot mix keys. An old epoch gets 409 `stale_epoch`.
 * Security definer: writes rows for other members, which clients cannot insert directly.
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
begin
  select * into locked from private.lock_conversation(publish_conversation_keys.conversation_id, uid);
  if publish_conversation_keys.epoch is distinct from (locked.conversation).key_epoch then
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
