-- Supabase platform layer, part 6: role attributes, memberships, per-role settings and the
-- default privileges a current Supabase database has, beyond what parts 1 and 2 set up.
--
-- Known difference kept on purpose: here `postgres` is the cluster's bootstrap superuser (the
-- embedded server cannot demote it), while on Supabase it is a non-superuser with createrole,
-- createdb, replication and bypassrls and without create on schemas auth and realtime. A
-- migration that creates objects inside auth or realtime therefore succeeds here but fails there.

-- The API roles inherit since Supabase's 2023 migration, so roles granted to them (for example
-- a custom role granted to authenticated) take effect without `set role`.
alter role anon inherit;
alter role authenticated inherit;
alter role service_role inherit;

-- authenticator only switches role, never inherits one; its request timeouts.
alter role authenticator noinherit;
alter role authenticator set statement_timeout = '8s';
alter role authenticator set lock_timeout = '8s';

-- GoTrue's own role: not allowed to create roles any more, short idle transactions, auth first.
alter role supabase_auth_admin nocreaterole;
alter role supabase_auth_admin set search_path = auth;
alter role supabase_auth_admin set idle_in_transaction_session_timeout = 60000;

-- The platform superuser sees auth and extensions on its path.
alter role supabase_admin set search_path = "$user", public, auth, extensions;

-- Roles every Supabase cluster has for replication and read-only access.
do $$
begin
  if not exists (select 1 from pg_catalog.pg_roles where rolname = 'supabase_replication_admin') then
    create role supabase_replication_admin login replication;
  end if;
  if not exists (select 1 from pg_catalog.pg_roles where rolname = 'supabase_read_only_user') then
    create role supabase_read_only_user login bypassrls;
  end if;
end
$$;
grant pg_read_all_data to supabase_read_only_user;

-- postgres may grant the API roles to others (PostgreSQL 16+ needs the admin option for that).
grant anon, authenticated, service_role to postgres with admin option;
-- The storage service switches to the API roles through authenticator.
grant authenticator to supabase_storage_admin;
grant pg_monitor, pg_read_all_data, pg_signal_backend to postgres;

-- GoTrue creates its own objects in the database.
do $$
begin
  execute format('grant create on database %I to supabase_auth_admin', current_database());
  execute format('grant all on database %I to postgres, dashboard_user', current_database());
end
$$;

-- Objects supabase_admin creates in public are reachable by the API roles too, as for postgres.
alter default privileges for role supabase_admin in schema public
  grant all on tables to postgres, anon, authenticated, service_role;
alter default privileges for role supabase_admin in schema public
  grant all on functions to postgres, anon, authenticated, service_role;
alter default privileges for role supabase_admin in schema public
  grant all on sequences to postgres, anon, authenticated, service_role;

-- The platform schemas belong to supabase_admin, as on Supabase.
alter schema auth owner to supabase_admin;
alter schema realtime owner to supabase_admin;
alter schema graphql_public owner to supabase_admin;

-- Schema extensions: postgres can use and re-grant whatever extensions install there.
grant all on schema extensions to postgres, dashboard_user;
grant all on all tables in schema extensions to postgres with grant option;
grant all on all routines in schema extensions to postgres with grant option;
grant all on all sequences in schema extensions to postgres with grant option;
grant all on all tables in schema extensions to dashboard_user;
grant all on all routines in schema extensions to dashboard_user;
grant all on all sequences in schema extensions to dashboard_user;
alter default privileges for role postgres in schema extensions
  grant all on tables to postgres with grant option;
alter default privileges for role postgres in schema extensions
  grant all on routines to postgres with grant option;
alter default privileges for role postgres in schema extensions
  grant all on sequences to postgres with grant option;
alter default privileges for role supabase_admin in schema extensions
  grant all on tables to postgres with grant option;
alter default privileges for role supabase_admin in schema extensions
  grant all on routines to postgres with grant option;
alter default privileges for role supabase_admin in schema extensions
  grant all on sequences to postgres with grant option;

-- Schema graphql_public: reachable by the API roles, for objects of postgres and supabase_admin.
alter default privileges for role postgres in schema graphql_public
  grant all on tables to postgres, anon, authenticated, service_role;
alter default privileges for role postgres in schema graphql_public
  grant all on functions to postgres, anon, authenticated, service_role;
alter default privileges for role postgres in schema graphql_public
  grant all on sequences to postgres, anon, authenticated, service_role;
alter default privileges for role supabase_admin in schema graphql_public
  grant all on tables to postgres, anon, authenticated, service_role;
alter default privileges for role supabase_admin in schema graphql_public
  grant all on functions to postgres, anon, authenticated, service_role;
alter default privileges for role supabase_admin in schema graphql_public
  grant all on sequences to postgres, anon, authenticated, service_role;

-- Schema auth: GoTrue owns its objects; postgres and the dashboard get them by default.
grant all on schema auth to supabase_auth_admin, dashboard_user;
grant usage on schema auth to postgres, anon, authenticated, service_role;
grant all on all routines in schema auth to postgres, dashboard_user;
alter default privileges for role supabase_auth_admin in schema auth
  grant all on tables to postgres, dashboard_user;
alter default privileges for role supabase_auth_admin in schema auth
  grant all on sequences to postgres, dashboard_user;
alter default privileges for role supabase_auth_admin in schema auth
  grant all on routines to postgres, dashboard_user;

-- Schema realtime: Realtime's admin owns its objects; the API roles can use the schema, and
-- postgres can pass that on (for custom roles' channel policies).
grant all on schema realtime to supabase_realtime_admin;
grant usage on schema realtime to postgres with grant option;
grant usage on schema realtime to anon, authenticated, service_role;
grant all on all tables in schema realtime to dashboard_user;
grant all on all sequences in schema realtime to dashboard_user;
grant all on all routines in schema realtime to dashboard_user;
alter default privileges for role supabase_admin in schema realtime
  grant all on tables to postgres, dashboard_user;
alter default privileges for role supabase_admin in schema realtime
  grant all on sequences to postgres, dashboard_user;
alter default privileges for role supabase_admin in schema realtime
  grant all on routines to postgres, dashboard_user;
