-- Supabase platform layer, part 9: the `storage` schema of Supabase Storage, a faithful subset of
-- what its tenant migrations create. Buckets and objects are rows here (under row-level security:
-- apps write policies on storage.objects in their migrations); the embedded storage service
-- (stack/storage) keeps the bytes on disk and reads and writes these rows as the caller.
--
-- Differences from Supabase, on purpose:
-- - no storage.migrations table: this file is versioned by the platform layer instead;
-- - no S3 multipart tables (s3_multipart_uploads, s3_multipart_uploads_parts), no prefixes
--   table, no analytics, vector or iceberg buckets, no object versioning tables;
-- - no search functions (storage.search, search_v2, list_objects_with_delimiter, get_size_by_bucket):
--   the storage service lists objects with its own query, under the same policies;
-- - objects.level and buckets.type are absent.

create schema if not exists storage;
alter schema storage owner to supabase_admin;
grant all on schema storage to supabase_storage_admin;
grant usage on schema storage to postgres with grant option;
grant usage on schema storage to anon, authenticated, service_role, dashboard_user;
alter role supabase_storage_admin set search_path = storage;

/** Buckets: containers of objects with their own upload limits. */
create table if not exists storage.buckets (
  id text not null primary key,
  name text not null,
  owner uuid,
  owner_id text,
  public boolean default false,
  avif_autodetection boolean default false,
  file_size_limit bigint,
  allowed_mime_types text[],
  created_at timestamptz default now(),
  updated_at timestamptz default now()
);
create unique index if not exists bname on storage.buckets using btree (name);
comment on column storage.buckets.owner is 'Field is deprecated, use owner_id instead';
alter table storage.buckets enable row level security;

/** Objects: one row per stored file; `name` is its path inside the bucket. */
create table if not exists storage.objects (
  id uuid not null default gen_random_uuid() primary key,
  bucket_id text,
  name text,
  owner uuid,
  owner_id text,
  created_at timestamptz default now(),
  updated_at timestamptz default now(),
  last_accessed_at timestamptz default now(),
  metadata jsonb,
  path_tokens text[] generated always as (string_to_array(name, '/')) stored,
  version text,
  user_metadata jsonb,
  constraint "objects_bucketId_fkey" foreign key (bucket_id) references storage.buckets (id)
);
create unique index if not exists bucketid_objname on storage.objects using btree (bucket_id, name);
create index if not exists name_prefix_search on storage.objects (name text_pattern_ops);
comment on column storage.objects.owner is 'Field is deprecated, use owner_id instead';
alter table storage.objects enable row level security;

/** The folders of an object name: every path segment but the last. */
create or replace function storage.foldername(name text)
returns text[]
language plpgsql
immutable
as $function$
declare
  _parts text[];
begin
  select string_to_array(name, '/') into _parts;
  return _parts[1 : array_length(_parts, 1) - 1];
end
$function$;

/** The file name of an object name: its last path segment. */
create or replace function storage.filename(name text)
returns text
language plpgsql
immutable
as $function$
declare
  _parts text[];
begin
  select string_to_array(name, '/') into _parts;
  return _parts[array_length(_parts, 1)];
end
$function$;

/** The extension of an object name: what follows the last dot of its file name. */
create or replace function storage.extension(name text)
returns text
language plpgsql
immutable
as $function$
declare
  _parts text[];
  _filename text;
begin
  select string_to_array(name, '/') into _parts;
  select _parts[array_length(_parts, 1)] into _filename;
  return reverse(split_part(reverse(_filename), '.', 1));
end
$function$;

/** Keeps updated_at current on every update of an object. */
create or replace function storage.update_updated_at_column()
returns trigger
language plpgsql
as $function$
begin
  new.updated_at = now();
  return new;
end;
$function$;

drop trigger if exists update_objects_updated_at on storage.objects;
create trigger update_objects_updated_at
  before update on storage.objects
  for each row execute function storage.update_updated_at_column();

/**
 * Refuses deletes from the storage tables unless `storage.can_delete` is 'true' in the
 * transaction (the storage service sets it): a row deleted with SQL would orphan its file.
 */
create or replace function storage.protect_delete()
returns trigger
language plpgsql
as $function$
begin
  if coalesce(current_setting('storage.can_delete', true), 'false') != 'true' then
    raise exception 'Direct deletion from storage tables is not allowed. Use the Storage API instead.'
      using hint = 'This prevents accidental data loss from orphaned objects.',
            errcode = '42501';
  end if;
  return null;
end;
$function$;

drop trigger if exists protect_buckets_delete on storage.buckets;
create trigger protect_buckets_delete
  before delete on storage.buckets
  for each statement execute function storage.protect_delete();
drop trigger if exists protect_objects_delete on storage.objects;
create trigger protect_objects_delete
  before delete on storage.objects
  for each statement execute function storage.protect_delete();

-- Ownership and grants as on Supabase: the storage admin owns its objects; the API roles get
-- everything and row-level security decides (service_role bypasses it).
alter table storage.buckets owner to supabase_storage_admin;
alter table storage.objects owner to supabase_storage_admin;
alter function storage.foldername(text) owner to supabase_storage_admin;
alter function storage.filename(text) owner to supabase_storage_admin;
alter function storage.extension(text) owner to supabase_storage_admin;
alter function storage.update_updated_at_column() owner to supabase_storage_admin;
alter function storage.protect_delete() owner to supabase_storage_admin;

grant all on storage.buckets, storage.objects to anon, authenticated, service_role;
grant all on storage.buckets, storage.objects to postgres with grant option;
grant all on storage.buckets, storage.objects to dashboard_user;
grant all on all routines in schema storage to anon, authenticated, service_role, dashboard_user;
grant all on all routines in schema storage to postgres with grant option;

alter default privileges for role supabase_storage_admin in schema storage
  grant all on tables to postgres, anon, authenticated, service_role;
alter default privileges for role supabase_storage_admin in schema storage
  grant all on functions to postgres, anon, authenticated, service_role;
alter default privileges for role supabase_storage_admin in schema storage
  grant all on sequences to postgres, anon, authenticated, service_role;
