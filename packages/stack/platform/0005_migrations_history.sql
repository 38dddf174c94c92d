-- Supabase platform layer, part 5: the Supabase CLI's migration history table, so that
-- `supabase migration list` and `db push` agree with what this stack applied.

/** Applied migrations, recorded as the Supabase CLI records them. */
create table if not exists supabase_migrations.schema_migrations (
  version text primary key,
  statements text[],
  name text
);

/** Seed files applied, as the Supabase CLI records them. */
create table if not exists supabase_migrations.seed_files (
  path text primary key,
  hash text not null
);
