/**
 * Profiles: the public face of every account (username, display name, avatar, E2EE public key),
 * created by a trigger on auth.users. Also creates the `private` schema that holds helper
 * predicates and trigger functions the Data API does not expose.
 */

create schema if not exists private;
comment on schema private is 'Helpers for policies, triggers and RPCs; not exposed by the Data API.';
revoke all on schema private from public;
-- Policies call private predicates with the privileges of the querying role.
grant usage on schema private to authenticated, service_role;

/** Sets `updated_at` to the transaction time on every update. */
create or replace function private.set_updated_at()
returns trigger
language plpgsql
security invoker
set search_path = ''
as $$
begin
  new.updated_at := now();
  return new;
end;
$$;
revoke all on function private.set_updated_at() from public;

/** Is `value` a syntactically valid uuid? Returns it as uuid, or null (never throws). */
create or replace function private.try_uuid(value text)
returns uuid
language sql
immutable
set search_path = ''
as $$
  select case
    when value ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then value::uuid
  end
$$;
revoke all on function private.try_uuid(text) from public;
grant execute on function private.try_uuid(text) to authenticated, service_role;

create table public.profiles (
  id uuid primary key references auth.users (id) on delete cascade,
  username text not null unique check (username ~ '^[a-z0-9_]{3,32}$'),
  display_name text check (char_length(display_name) <= 64),
  avatar_url text check (char_length(avatar_url) <= 2048),
  public_key text check (public_key ~ '^[A-Za-z0-9+/_=-]{32,128}$'),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.profiles is 'One row per account: username, display name, avatar and E2EE public key. Readable by every signed-in user; each user updates only their own row.';
comment on column public.profiles.username is 'Unique handle, lowercase [a-z0-9_]{3,32}.';
comment on column public.profiles.public_key is 'Base64 nacl.box public key of the user''s identity key pair (null until the first device publishes one).';

create trigger profiles_set_updated_at
  before update on public.profiles
  for each row execute function private.set_updated_at();
comment on trigger profiles_set_updated_at on public.profiles is 'Keeps updated_at current.';

alter table public.profiles enable row level security;

create policy "profiles are readable by signed-in users"
  on public.profiles for select to authenticated
  using (true);

create policy "users update their own profile"
  on public.profiles for update to authenticated
  using (id = (select auth.uid()))
  with check (id = (select auth.uid()));

revoke all on table public.profiles from anon, authenticated;
grant select on table public.profiles to authenticated;
grant update (username, display_name, avatar_url, public_key) on table public.profiles to authenticated;

/**
 * Creates the profile of a new auth user. Username: `raw_user_meta_data.username` (lowercased) if
 * valid and free, else the email's local part reduced to [a-z0-9_] plus a numeric suffix until
 * unique. Security definer because the Auth server's role (supabase_auth_admin) inserts into
 * auth.users and has no privileges on public.profiles; `search_path` is empty.
 */
create or replace function private.handle_new_user()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  wanted text := lower(trim(coalesce(new.raw_user_meta_data ->> 'username', '')));
  base text;
  candidate text;
  suffix text;
  attempt int := 0;
  display text := nullif(trim(coalesce(
    new.raw_user_meta_data ->> 'display_name',
    new.raw_user_meta_data ->> 'full_name',
    new.raw_user_meta_data ->> 'name',
    ''
  )), '');
begin
  if wanted ~ '^[a-z0-9_]{3,32}$' then
    insert into public.profiles (id, username, display_name)
    values (new.id, wanted, left(coalesce(display, wanted), 64))
    on conflict do nothing;
    if found then
      return new;
    end if;
  end if;

  base := regexp_replace(lower(split_part(coalesce(new.email, ''), '@', 1)), '[^a-z0-9_]+', '_', 'g');
  base := left(trim(both '_' from base), 24);
  if char_length(base) < 3 then
    base := 'user' || base;
  end if;

  loop
    candidate := base;
    if attempt > 0 then
      -- 2, 3, ... for the first few clashes, then random digits so a popular name stays cheap.
      suffix := case when attempt < 10 then (attempt + 1)::text
                else lpad(floor(random() * 100000000)::bigint::text, 8, '0') end;
      candidate := left(base, 31 - char_length(suffix)) || '_' || suffix;
    end if;
    insert into public.profiles (id, username, display_name)
    values (new.id, candidate, left(coalesce(display, candidate), 64))
    on conflict do nothing;
    exit when found;
    attempt := attempt + 1;
    if attempt > 50 then
      raise exception 'could not derive a free username for %', new.id;
    end if;
  end loop;
  return new;
end;
$$;
revoke all on function private.handle_new_user() from public;

create trigger on_auth_user_created
  after insert on auth.users
  for each row execute function private.handle_new_user();
comment on trigger on_auth_user_created on auth.users is 'Creates the public profile of every new account.';

/** The profile with `username` (case-insensitive), or 404 `user_not_found`. */
create or replace function public.find_profile(username text)
returns public.profiles
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  result public.profiles;
begin
  select p.* into result from public.profiles p where p.username = lower(trim(find_profile.username));
  if not found then
    raise exception using errcode = 'PT404', message = 'No user has that username.', detail = 'user_not_found';
  end if;
  return result;
end;
$$;
revoke all on function public.find_profile(text) from public, anon;
grant execute on function public.find_profile(text) to authenticated, service_role;
