/**
 * Message signing keys: each identity's Ed25519 public key (derived on the device from the identity
 * secret key) beside its box key on the profile, and the history of every identity a user has
 * published, so messages signed before a key reset still verify and a key change can be noticed.
 * The signatures themselves travel in `messages.encryption.sig`; the server never checks them
 * (receivers do) and cannot make them.
 */

alter table public.profiles
  add column signing_key text check (signing_key ~ '^[A-Za-z0-9+/=]{43,44}$');
comment on column public.profiles.signing_key is 'Base64 Ed25519 public key that signs this user''s messages (derived from the identity; null until a device publishes it).';

grant update (signing_key) on table public.profiles to authenticated;

create table public.identity_keys (
  user_id uuid not null references public.profiles (id) on delete cascade,
  signing_key text not null,
  public_key text,
  created_at timestamptz not null default now(),
  primary key (user_id, signing_key)
);
comment on table public.identity_keys is 'Every identity (signing key and box key) a user has published, oldest first. Written only by the profile trigger; readable by signed-in users, like profiles.';

alter table public.identity_keys enable row level security;

create policy "identity keys are readable by signed-in users"
  on public.identity_keys for select to authenticated
  using (true);

revoke all on table public.identity_keys from anon, authenticated;
grant select on table public.identity_keys to authenticated;

/**
 * Records a newly published identity in identity_keys (a republished one keeps its first date).
 * Security definer: clients cannot write identity_keys, so the history holds exactly what profiles
 * published.
 */
create or replace function private.record_identity_key()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if new.signing_key is not null then
    insert into public.identity_keys (user_id, signing_key, public_key)
    values (new.id, new.signing_key, new.public_key)
    on conflict (user_id, signing_key) do update set public_key = excluded.public_key
      where public.identity_keys.public_key is distinct from excluded.public_key;
  end if;
  return null;
end;
$$;
revoke all on function private.record_identity_key() from public;

create trigger profiles_record_identity_key
  after insert or update of signing_key, public_key on public.profiles
  for each row execute function private.record_identity_key();
comment on trigger profiles_record_identity_key on public.profiles is 'Keeps the identity history in identity_keys.';

create table public.contact_verifications (
  user_id uuid not null references public.profiles (id) on delete cascade,
  contact_id uuid not null references public.profiles (id) on delete cascade,
  signing_key text not null check (signing_key ~ '^[A-Za-z0-9+/=]{43,44}$'),
  signature text not null check (char_length(signature) between 80 and 100),
  verified_at timestamptz not null default now(),
  primary key (user_id, contact_id),
  constraint contact_verifications_not_self check (user_id <> contact_id)
);
comment on table public.contact_verifications is 'Contacts whose safety number a user confirmed: the contact''s signing key at that moment, signed by the user''s own identity (so the server can neither forge nor move a verification, only delete it). Owner only.';

create index contact_verifications_contact_idx on public.contact_verifications (contact_id);
comment on index public.contact_verifications_contact_idx is 'Covers the contact_id foreign key.';

alter table public.contact_verifications enable row level security;

create policy "owners read their verifications"
  on public.contact_verifications for select to authenticated
  using (user_id = (select auth.uid()));

create policy "owners record their verifications"
  on public.contact_verifications for insert to authenticated
  with check (user_id = (select auth.uid()));

create policy "owners renew their verifications"
  on public.contact_verifications for update to authenticated
  using (user_id = (select auth.uid()))
  with check (user_id = (select auth.uid()));

create policy "owners clear their verifications"
  on public.contact_verifications for delete to authenticated
  using (user_id = (select auth.uid()));

revoke all on table public.contact_verifications from anon, authenticated;
grant select, delete on table public.contact_verifications to authenticated;
grant insert (user_id, contact_id, signing_key, signature) on table public.contact_verifications to authenticated;
grant update (signing_key, signature, verified_at) on table public.contact_verifications to authenticated;
