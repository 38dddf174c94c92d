-- Supabase platform layer, part 7: brings the auth tables of part 3 in line with GoTrue's schema
-- (defaults, index and constraint names, row-level security, grants) and documents the helpers
-- as GoTrue does. Newer GoTrue internals this stack does not use (MFA factors, SSO, OAuth
-- clients, sessions' OAuth and refresh-token columns) are left out.

-- GoTrue leaves the token columns null unless it writes them (it writes '' itself).
alter table auth.users alter column confirmation_token drop default;
alter table auth.users alter column recovery_token drop default;
alter table auth.users alter column email_change_token_new drop default;
alter table auth.users alter column email_change drop default;

comment on table auth.users is 'Auth: Stores user login data within a secure schema.';
comment on column auth.users.is_sso_user is
  'Auth: Set this column to true when the account comes from SSO. These accounts can have duplicate emails.';

create index if not exists users_instance_id_email_idx on auth.users (instance_id, lower(email::text));
create index if not exists users_is_anonymous_idx on auth.users (is_anonymous);
create unique index if not exists confirmation_token_idx on auth.users (confirmation_token)
  where confirmation_token::text !~ '^[0-9 ]*$';
create unique index if not exists recovery_token_idx on auth.users (recovery_token)
  where recovery_token::text !~ '^[0-9 ]*$';
create unique index if not exists email_change_token_current_idx on auth.users (email_change_token_current)
  where email_change_token_current::text !~ '^[0-9 ]*$';
create unique index if not exists email_change_token_new_idx on auth.users (email_change_token_new)
  where email_change_token_new::text !~ '^[0-9 ]*$';
create unique index if not exists reauthentication_token_idx on auth.users (reauthentication_token)
  where reauthentication_token::text !~ '^[0-9 ]*$';
comment on index auth.users_email_partial_key is 'Auth: A partial unique index that applies only when is_sso_user is false';

create index if not exists identities_email_idx on auth.identities (email text_pattern_ops);
create index if not exists user_id_created_at_idx on auth.sessions (user_id, created_at);
create index if not exists sessions_not_after_idx on auth.sessions (not_after desc);
create index if not exists refresh_tokens_instance_id_idx on auth.refresh_tokens (instance_id);
create index if not exists refresh_tokens_instance_id_user_id_idx on auth.refresh_tokens (instance_id, user_id);
create index if not exists refresh_tokens_updated_at_idx on auth.refresh_tokens (updated_at desc);
create index if not exists audit_logs_instance_id_idx on auth.audit_log_entries (instance_id);

-- GoTrue's constraint names (a migration may name them, e.g. in `on conflict on constraint`).
do $$
begin
  if exists (select 1 from pg_catalog.pg_constraint
             where conrelid = 'auth.identities'::regclass and conname = 'identities_provider_id_provider_key') then
    alter table auth.identities rename constraint identities_provider_id_provider_key
      to identities_provider_id_provider_unique;
  end if;
  if exists (select 1 from pg_catalog.pg_constraint
             where conrelid = 'auth.refresh_tokens'::regclass and conname = 'refresh_tokens_token_key') then
    alter table auth.refresh_tokens rename constraint refresh_tokens_token_key to refresh_tokens_token_unique;
  end if;
  if exists (select 1 from pg_catalog.pg_constraint
             where conrelid = 'auth.mfa_amr_claims'::regclass and conname = 'mfa_amr_claims_pkey') then
    alter table auth.mfa_amr_claims rename constraint mfa_amr_claims_pkey to amr_id_pk;
  end if;
end
$$;

-- GoTrue's instances table: unused by this stack, but present on every Supabase project.
/** Auth: manages users across multiple sites (legacy, always empty). */
create table if not exists auth.instances (
  id uuid primary key,
  uuid uuid,
  raw_base_config text,
  created_at timestamptz,
  updated_at timestamptz
);
comment on table auth.instances is 'Auth: Manages users across multiple sites.';
alter table auth.instances owner to supabase_auth_admin;

comment on table auth.identities is 'Auth: Stores identities associated to a user.';
comment on table auth.sessions is 'Auth: Stores session data associated to a user.';
comment on table auth.refresh_tokens is 'Auth: Store of tokens used to refresh JWT tokens once they expire.';
comment on table auth.mfa_amr_claims is 'auth: stores authenticator method reference claims for multi factor authentication';
comment on table auth.audit_log_entries is 'Auth: Audit trail for user actions.';

-- As on Supabase: row-level security is on for every auth table (no policies, so the API roles
-- see nothing even if granted), and postgres may read them and grant reading to others.
do $$
declare
  t text;
begin
  foreach t in array array['users', 'identities', 'sessions', 'refresh_tokens', 'mfa_amr_claims',
                           'audit_log_entries', 'instances']
  loop
    execute format('alter table auth.%I enable row level security', t);
    execute format('grant all on auth.%I to supabase_auth_admin, dashboard_user', t);
    execute format('grant select on auth.%I to postgres with grant option', t);
  end loop;
end
$$;

-- The request helpers belong to GoTrue's role; the three single-claim ones are deprecated there.
alter function auth.uid() owner to supabase_auth_admin;
alter function auth.role() owner to supabase_auth_admin;
alter function auth.email() owner to supabase_auth_admin;
alter function auth.jwt() owner to supabase_auth_admin;
comment on function auth.uid() is 'Deprecated. Use auth.jwt() -> ''sub'' instead.';
comment on function auth.role() is 'Deprecated. Use auth.jwt() -> ''role'' instead.';
comment on function auth.email() is 'Deprecated. Use auth.jwt() -> ''email'' instead.';
grant execute on function auth.uid(), auth.role(), auth.email(), auth.jwt() to public;
