-- Supabase platform layer, part 10: database broadcasts carry their rows in the notification.
--
-- Part 4's trigger notified the Realtime server with row ids only, and the server then read the
-- rows back: one query per burst of messages, and a round trip between a commit and its delivery.
-- Now each notification holds the rows themselves as a JSON array of {id, topic, event, private,
-- payload}, in insertion order, split across notifications to stay under PostgreSQL's 8000-byte
-- limit; a row too large to fit (a big payload) is sent as {id} and read back as before. The
-- guarantees are unchanged: notifications are delivered at commit, in commit order, once per
-- listener, never for a rolled-back transaction. (Supabase's server reads the same rows from
-- logical replication instead; see stack/realtime/db-broadcast.ts.)

/**
 * Notifies channel `realtime_messages` with the broadcast rows a statement inserted (see the
 * header): JSON arrays of rows, or of {id} for rows over 7000 bytes, each notification under 7900.
 */
create or replace function realtime.notify_message()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  items text[];
  total bigint;
  item text;
  batch text := '';
begin
  select pg_catalog.array_agg(e.item order by e.n), pg_catalog.sum(pg_catalog.octet_length(e.item) + 1)
  into items, total
  from (
    select r.n, case
      when pg_catalog.octet_length(r.row_json) <= 7000 then r.row_json
      else pg_catalog.json_build_object('id', r.id)::text
    end as item
    from (
      select pg_catalog.row_number() over () as n, m.id, pg_catalog.json_build_object(
        'id', m.id, 'topic', m.topic, 'event', m.event, 'private', m.private, 'payload', m.payload
      )::text as row_json
      from inserted m
      where m.extension = 'broadcast'
    ) r
  ) e;
  if items is null then
    return null;
  end if;
  -- Usually everything fits in one notification.
  if total <= 7900 then
    perform pg_catalog.pg_notify('realtime_messages', '[' || pg_catalog.array_to_string(items, ',') || ']');
    return null;
  end if;
  foreach item in array items loop
    if batch <> '' and pg_catalog.octet_length(batch) + pg_catalog.octet_length(item) + 2 > 7900 then
      perform pg_catalog.pg_notify('realtime_messages', '[' || batch || ']');
      batch := '';
    end if;
    batch := case when batch = '' then item else batch || ',' || item end;
  end loop;
  if batch <> '' then
    perform pg_catalog.pg_notify('realtime_messages', '[' || batch || ']');
  end if;
  return null;
end;
$$;
