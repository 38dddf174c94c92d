-- Supabase platform layer, part 4: Realtime's broadcast-from-database objects with Supabase's
-- signatures. Rows inserted into realtime.messages are delivered by the Realtime server to the
-- sockets joined to their topic; policies on this table authorize private channels.

/** Broadcast and presence messages, and the table private-channel policies are written on. */
create table if not exists realtime.messages (
  topic text not null,
  extension text not null,
  payload jsonb,
  event text,
  private boolean default false,
  updated_at timestamp not null default now(),
  inserted_at timestamp not null default now(),
  id uuid not null default gen_random_uuid(),
  primary key (id, inserted_at)
);
create index if not exists messages_inserted_at_topic_index on realtime.messages (inserted_at desc, topic)
  where extension = 'broadcast' and private is true;
alter table realtime.messages enable row level security;
comment on table realtime.messages is 'Realtime: broadcast messages from the database and the target of private-channel policies.';

/** The topic of the channel being authorized (set by the Realtime server), or null. */
create or replace function realtime.topic()
returns text
language sql
stable
as $$
  select nullif(current_setting('realtime.topic', true), '')::text
$$;

/** Sends a broadcast `event` with `payload` to `topic`; never fails the calling transaction. */
create or replace function realtime.send(payload jsonb, event text, topic text, private boolean default true)
returns void
language plpgsql
as $$
begin
  begin
    perform pg_catalog.set_config('realtime.topic', topic, true);
    insert into realtime.messages (payload, event, topic, private, extension)
    values (payload, event, topic, private, 'broadcast');
  exception when others then
    -- As on Supabase: a broadcast failure is a warning, not a rollback of the caller's work.
    raise warning 'ErrorSendingBroadcastMessage: %', sqlerrm;
  end;
end;
$$;

/** Broadcasts a row change from a row-level trigger in Supabase's payload shape. */
create or replace function realtime.broadcast_changes(
  topic_name text,
  event_name text,
  operation text,
  table_name text,
  table_schema text,
  new record,
  old record,
  level text default 'ROW'
)
returns void
language plpgsql
as $$
declare
  row_data jsonb;
begin
  if level = 'STATEMENT' then
    raise exception 'function can only be triggered for each row, not for each statement';
  end if;
  if operation not in ('INSERT', 'UPDATE', 'DELETE') then
    raise exception 'Unexpected operation type: %', operation;
  end if;
  row_data := jsonb_build_object(
    'old_record', case when old is null then null else to_jsonb(old) end,
    'record', case when new is null then null else to_jsonb(new) end,
    'operation', operation,
    'table', table_name,
    'schema', table_schema
  );
  perform realtime.send(row_data, event_name, topic_name, true);
end;
$$;

grant usage on schema realtime to postgres, anon, authenticated, service_role, supabase_realtime_admin;
grant select, insert, update on realtime.messages to anon, authenticated;
grant all on realtime.messages to postgres, service_role, supabase_realtime_admin;
grant execute on function realtime.topic() to postgres, anon, authenticated, service_role;
grant execute on function realtime.send(jsonb, text, text, boolean), realtime.broadcast_changes(text, text, text, text, text, record, record, text)
  to postgres, anon, authenticated, service_role;
