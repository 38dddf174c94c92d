-- Supabase platform layer, part 11: database broadcasts are read from logical replication, as
-- Supabase's Realtime reads them.
--
-- Databases set up before this part notified the Realtime server from an AFTER INSERT trigger on
-- realtime.messages; part 4 no longer creates it, part 10 (which rewrote its function) is gone,
-- and this part drops the trigger and its function from older databases. A transaction that has
-- notified takes PostgreSQL's global notify lock at commit and holds it until the commit is
-- durable, so every broadcasting commit in the cluster ran one at a time (with fsync on, that
-- halved the throughput of send_message). Now the Realtime server streams the publication below
-- through a temporary pgoutput slot (see stack/realtime/db-broadcast.ts); the writing transaction
-- does nothing extra. Supabase has the same publication (on the daily partitions of its
-- partitioned table; here on the table itself).

drop trigger if exists notify_message on realtime.messages;
drop function if exists realtime.notify_message();

/** What the Realtime server replicates: inserted realtime.messages rows. */
do $$
begin
  if not exists (select 1 from pg_catalog.pg_publication where pubname = 'supabase_realtime_messages_publication') then
    create publication supabase_realtime_messages_publication
      for table realtime.messages
      with (publish = 'insert, update, delete, truncate');
  end if;
end
$$;
alter publication supabase_realtime_messages_publication owner to supabase_admin;
