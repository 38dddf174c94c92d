-- Supabase platform layer, part 8: Realtime's objects as Supabase Realtime leaves them (owner,
-- grants, function bodies), replacing the approximations of part 4.
--
-- Differences kept on purpose:
-- - Supabase partitions realtime.messages by day (range on inserted_at; the Realtime server
--   creates the partitions and drops old ones). Here it is one plain table with the same columns,
--   keys and indexes, trimmed by the Realtime server's janitor (stack/realtime/db-broadcast.ts):
--   no partitions to pre-create, and inserts never fail for a missing day. Policies, grants and
--   queries on realtime.messages behave the same; only catalog queries (relkind 'p',
--   pg_partition_tree) see the difference.
-- - Since late 2025 Supabase's realtime.send also writes the generated message id into the
--   stored payload (when it has no `id`). Here the stored payload is left as sent and the id is
--   added on delivery (stack/realtime/db-broadcast.ts), so clients receive the same payload.

alter table realtime.messages owner to supabase_realtime_admin;

-- The API roles read, write and update messages under RLS; none may delete or truncate them.
revoke all on realtime.messages from anon, authenticated, service_role;
grant select, insert, update on realtime.messages to anon, authenticated, service_role;
grant all on realtime.messages to postgres, dashboard_user;

alter function realtime.topic() owner to supabase_realtime_admin;

/**
 * Sends a broadcast `event` with `payload` to `topic` by inserting into realtime.messages. It sets
 * `realtime.topic` for the rest of the transaction first (so insert policies can use
 * realtime.topic()). A failure (a policy refusal, a null topic) is only a warning and never
 * undoes the caller's work.
 */
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
    raise warning 'WarnSendingBroadcastMessage: %', sqlerrm;
  end;
end;
$$;
alter function realtime.send(jsonb, text, text, boolean) owner to supabase_realtime_admin;

/**
 * Broadcasts a row change from a row-level trigger, on a private channel, with the payload
 * `{old_record, record, operation, table, schema}` (records as JSON, null when absent). Any
 * failure is raised as "Failed to process the row: ...".
 */
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
  row_data jsonb := '{}'::jsonb;
begin
  if level = 'STATEMENT' then
    raise exception 'function can only be triggered for each row, not for each statement';
  end if;
  if operation in ('INSERT', 'UPDATE', 'DELETE') then
    -- The records go in as they are: a row whose columns are all null is still an object.
    row_data := jsonb_build_object('old_record', old, 'record', new, 'operation', operation,
                                   'table', table_name, 'schema', table_schema);
    perform realtime.send(row_data, event_name, topic_name);
  else
    raise exception 'Unexpected operation type: %', operation;
  end if;
exception when others then
  raise exception 'Failed to process the row: %', sqlerrm;
end;
$$;
alter function realtime.broadcast_changes(text, text, text, text, text, record, record, text)
  owner to supabase_realtime_admin;

-- Functions in realtime are callable by everyone, as PostgreSQL's default for new functions is.
grant execute on function realtime.topic(), realtime.send(jsonb, text, text, boolean),
  realtime.broadcast_changes(text, text, text, text, text, record, record, text)
  to public, postgres, anon, authenticated, service_role, supabase_realtime_admin, dashboard_user;
