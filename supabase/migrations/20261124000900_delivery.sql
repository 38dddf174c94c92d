/**
 * Delivery (issue 8): Web Push to recipients who are offline.
 *
 * - `public.push_subscriptions`: each browser's Web Push subscription, owned by its user.
 * - `delivery.outbox`: the transactional outbox. A statement trigger on `public.messages` writes one
 *   row per new message in the sender's transaction, so delivery work exists exactly when the
 *   message does, whether or not the worker is running.
 * - `delivery.push_deliveries`: the ledger. Per subscription and conversation, the highest message
 *   seq already notified plus a short lease, so a job that runs twice notifies once.
 * - `delivery.vapid_keys`: the worker's VAPID key pair, generated on its first start.
 *
 * The `delivery` schema is not exposed by the Data API; only the worker (postgres or service_role)
 * touches it. Clients use the three public RPCs at the end.
 */

create schema if not exists delivery;
comment on schema delivery is 'Delivery worker internals: outbox, push ledger, VAPID keys. Not exposed by the Data API.';
revoke all on schema delivery from public;
grant usage on schema delivery to service_role;

-- ---------------------------------------------------------------------------------------------
-- Push subscriptions

create table public.push_subscriptions (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  endpoint text not null unique check (char_length(endpoint) <= 2048),
  p256dh text not null check (p256dh ~ '^[A-Za-z0-9_-]{86,88}={0,2}$'),
  auth text not null check (auth ~ '^[A-Za-z0-9_-]{22,24}={0,2}$'),
  user_agent text check (char_length(user_agent) <= 512),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.push_subscriptions is 'Web Push subscriptions (one per browser); the delivery worker notifies them when their user is offline. Each user sees and deletes only their own; saving goes through save_push_subscription.';
comment on column public.push_subscriptions.endpoint is 'The push service URL of the subscription; a capability URL that identifies one browser profile.';
comment on column public.push_subscriptions.p256dh is 'Base64url P-256 public key of the browser (65 bytes uncompressed) used to encrypt payloads.';
comment on column public.push_subscriptions.auth is 'Base64url 16-byte authentication secret of the subscription.';

create index push_subscriptions_user_id_idx on public.push_subscriptions (user_id);

create trigger push_subscriptions_set_updated_at
  before update on public.push_subscriptions
  for each row execute function private.set_updated_at();

alter table public.push_subscriptions enable row level security;

create policy "users read their own push subscriptions"
  on public.push_subscriptions for select to authenticated
  using (user_id = (select auth.uid()));

create policy "users delete their own push subscriptions"
  on public.push_subscriptions for delete to authenticated
  using (user_id = (select auth.uid()));

revoke all on table public.push_subscriptions from anon, authenticated;
grant select, delete on table public.push_subscriptions to authenticated;
grant all on table public.push_subscriptions to service_role;

-- ---------------------------------------------------------------------------------------------
-- Transactional outbox

create table delivery.outbox (
  id bigint generated always as identity primary key,
  message_id uuid not null,
  conversation_id uuid not null,
  sender_id uuid,
  seq bigint not null,
  created_at timestamptz not null default now()
);
comment on table delivery.outbox is 'One row per new message, written in the sending transaction; the worker turns rows into push jobs and deletes them in one transaction. No foreign keys: the row is consumed within seconds and must never block message writes.';

alter table delivery.outbox enable row level security;
-- No policies: only the worker (postgres, or service_role which bypasses RLS) reads it.
revoke all on table delivery.outbox from public;
grant select, insert, delete on table delivery.outbox to service_role;

/**
 * Writes the outbox row of a new message; the worker polls the outbox. No NOTIFY on purpose: a
 * notifying transaction holds PostgreSQL's global notify lock through its commit, which would
 * serialize every send in the cluster. Security definer because the sender's role has no
 * privileges on the delivery schema; `search_path` is empty.
 */
create or replace function delivery.enqueue_message()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into delivery.outbox (message_id, conversation_id, sender_id, seq, created_at)
  values (new.id, new.conversation_id, new.sender_id, new.seq, new.created_at);
  return null;
end;
$$;
revoke all on function delivery.enqueue_message() from public;

create trigger messages_enqueue_delivery
  after insert on public.messages
  for each row execute function delivery.enqueue_message();

-- ---------------------------------------------------------------------------------------------
-- Push ledger

create table delivery.push_deliveries (
  subscription_id uuid not null references public.push_subscriptions (id) on delete cascade,
  conversation_id uuid not null references public.conversations (id) on delete cascade,
  user_id uuid not null,
  notified_seq bigint not null default 0,
  notified_at timestamptz,
  notification_count int not null default 0,
  lease_job text,
  lease_seq bigint,
  lease_until timestamptz,
  primary key (subscription_id, conversation_id)
);
comment on table delivery.push_deliveries is 'Idempotency ledger: per subscription and conversation, the highest message seq a push has been sent for, and the lease of the job sending one now. A job that runs twice finds the seq already notified and sends nothing.';
comment on column delivery.push_deliveries.lease_job is 'The pg-boss job id sending a push for lease_seq now; its own retry may take the lease over, other jobs wait for lease_until.';

create index push_deliveries_conversation_idx on delivery.push_deliveries (conversation_id);

alter table delivery.push_deliveries enable row level security;
revoke all on table delivery.push_deliveries from public;
grant select, insert, update, delete on table delivery.push_deliveries to service_role;

-- ---------------------------------------------------------------------------------------------
-- VAPID keys

create table delivery.vapid_keys (
  id boolean primary key default true check (id),
  public_key text not null,
  private_key text not null,
  created_at timestamptz not null default now()
);
comment on table delivery.vapid_keys is 'The single VAPID key pair (base64url) the worker signs pushes with; generated by the worker on first start. The private key never leaves this table and the worker.';

alter table delivery.vapid_keys enable row level security;
revoke all on table delivery.vapid_keys from public;
grant select, insert on table delivery.vapid_keys to service_role;

-- ---------------------------------------------------------------------------------------------
-- Worker functions (postgres / service_role only)

/**
 * Consumes up to `batch_size` outbox rows (skipping rows another worker holds) and returns the
 * push work they imply: one row per recipient and conversation, for recipients who have a push
 * subscription and had not yet been delivered the newest message. Call it in a transaction that
 * also enqueues the jobs, so rows are consumed exactly when their jobs exist.
 */
create or replace function delivery.take_outbox(batch_size int)
returns table (user_id uuid, conversation_id uuid, first_at timestamptz, last_at timestamptz, messages int)
language sql
volatile
security invoker
set search_path = ''
as $$
  with taken as (
    delete from delivery.outbox o
    where o.id in (
      select x.id from delivery.outbox x order by x.id limit take_outbox.batch_size for update skip locked
    )
    returning o.conversation_id, o.sender_id, o.seq, o.created_at
  )
  select p.user_id, t.conversation_id, min(t.created_at), max(t.created_at), count(*)::int
  from taken t
  join public.conversation_participants p
    on p.conversation_id = t.conversation_id
   and p.user_id is distinct from t.sender_id
   and p.last_delivered_seq < t.seq
  where exists (select 1 from public.push_subscriptions s where s.user_id = p.user_id)
  group by p.user_id, t.conversation_id
$$;
revoke all on function delivery.take_outbox(int) from public;
grant execute on function delivery.take_outbox(int) to service_role;

/**
 * Decides what each job of a batch does and leases the ledger rows of the pushes to send.
 *
 * `jobs`: `[{job_id, user_id, conversation_id, first_at}]`. Per job, one of:
 * - `skip`: nothing undelivered from others (the recipient was online and acknowledged), or
 *   every subscription is already notified up to the newest message or leased by another job.
 * - `defer` until `run_at`: the newest undelivered message is younger than `grace_ms`, so wait
 *   for it (debounce), but never past `first_at + max_wait_ms`.
 * - `send`: one row per subscription leased for this job (for `lease_ms`), with what the
 *   notification shows. Never message content.
 */
create or replace function delivery.claim_pushes(jobs jsonb, grace_ms int, max_wait_ms int, lease_ms int)
returns table (
  job_id text,
  action text,
  run_at timestamptz,
  target_seq bigint,
  subscription_id uuid,
  endpoint text,
  p256dh text,
  auth text,
  conversation_id uuid,
  conversation_kind text,
  conversation_title text,
  sender_name text,
  unread int
)
language sql
volatile
security invoker
set search_path = ''
as $$
  with j as (
    select x.job_id, x.user_id, x.conversation_id, coalesce(x.first_at, now()) as first_at
    from jsonb_to_recordset(claim_pushes.jobs) as x(job_id text, user_id uuid, conversation_id uuid, first_at timestamptz)
  ),
  state as (
    select j.*, p.last_delivered_seq, latest.seq as latest_seq, latest.created_at as latest_at,
      latest.sender_id as latest_sender
    from j
    left join public.conversation_participants p
      on p.conversation_id = j.conversation_id and p.user_id = j.user_id
    left join lateral (
      select m.seq, m.created_at, m.sender_id
      from public.messages m
      where m.conversation_id = j.conversation_id
        and m.seq > p.last_delivered_seq
        and m.sender_id is distinct from j.user_id
        and m.deleted_at is null
      order by m.seq desc
      limit 1
    ) latest on true
  ),
  decided as (
    select s.*,
      case
        when s.latest_seq is null then 'skip'
        when s.latest_at > now() - make_interval(secs => claim_pushes.grace_ms / 1000.0)
          and now() < s.first_at + make_interval(secs => claim_pushes.max_wait_ms / 1000.0) then 'defer'
        else 'send'
      end as decision
    from state s
  ),
  wanted as (
    -- One job per (subscription, conversation): two jobs of a batch for the same recipient and
    -- conversation would see the same state, and one upsert may not touch a row twice.
    select distinct on (sub.id, d.conversation_id) d.job_id, d.user_id, d.conversation_id, d.latest_seq, sub.id as sub_id
    from decided d
    join public.push_subscriptions sub on sub.user_id = d.user_id
    where d.decision = 'send'
    order by sub.id, d.conversation_id, d.job_id
  ),
  claimed as (
    insert into delivery.push_deliveries as pd (subscription_id, conversation_id, user_id, lease_job, lease_seq, lease_until)
    select w.sub_id, w.conversation_id, w.user_id, w.job_id, w.latest_seq,
      now() + make_interval(secs => claim_pushes.lease_ms / 1000.0)
    from wanted w
    on conflict (subscription_id, conversation_id) do update
      set lease_job = excluded.lease_job, lease_seq = excluded.lease_seq, lease_until = excluded.lease_until
      where pd.notified_seq < excluded.lease_seq
        and (pd.lease_until is null or pd.lease_until < now() or pd.lease_job = excluded.lease_job)
    returning pd.subscription_id, pd.conversation_id, pd.lease_job
  ),
  sends as (
    select d.job_id, d.latest_seq, c.subscription_id, d.conversation_id, d.user_id, d.last_delivered_seq,
      d.latest_sender
    from decided d
    join claimed c on c.lease_job = d.job_id and c.conversation_id = d.conversation_id
    where d.decision = 'send'
  )
  select d.job_id,
    case when d.decision = 'send' then 'skip' else d.decision end,
    case when d.decision = 'defer'
      then least(
        d.latest_at + make_interval(secs => claim_pushes.grace_ms / 1000.0),
        d.first_at + make_interval(secs => claim_pushes.max_wait_ms / 1000.0)
      )
    end,
    d.latest_seq, null::uuid, null, null, null, d.conversation_id, null, null, null, null::int
  from decided d
  where d.decision <> 'send' or not exists (select 1 from sends s where s.job_id = d.job_id)
  union all
  select s.job_id, 'send', null, s.latest_seq, sub.id, sub.endpoint, sub.p256dh, sub.auth, s.conversation_id,
    c.kind, c.title, coalesce(pr.display_name, pr.username),
    (
      select count(*)::int from (
        select 1 from public.messages m
        where m.conversation_id = s.conversation_id
          and m.seq > s.last_delivered_seq
          and m.sender_id is distinct from s.user_id
          and m.deleted_at is null
        limit 100
      ) n
    )
  from sends s
  join public.push_subscriptions sub on sub.id = s.subscription_id
  join public.conversations c on c.id = s.conversation_id
  left join public.profiles pr on pr.id = s.latest_sender
$$;
revoke all on function delivery.claim_pushes(jsonb, int, int, int) from public;
grant execute on function delivery.claim_pushes(jsonb, int, int, int) to service_role;

/**
 * Records the outcome of the pushes claim_pushes leased. `results`: `[{subscription_id,
 * conversation_id, job_id, seq, outcome}]` with outcome `sent` (advance the watermark), `failed`
 * (release the lease so a retry can claim it) or `gone` (the push service said 404/410: delete the
 * subscription). Only rows still leased by that job change. Returns the number of rows changed.
 */
create or replace function delivery.settle_pushes(results jsonb)
returns int
language sql
volatile
security invoker
set search_path = ''
as $$
  with r as (
    select * from jsonb_to_recordset(settle_pushes.results)
      as x(subscription_id uuid, conversation_id uuid, job_id text, seq bigint, outcome text)
  ),
  gone as (
    delete from public.push_subscriptions s
    using r
    where r.outcome = 'gone' and s.id = r.subscription_id
    returning s.id
  ),
  settled as (
    update delivery.push_deliveries pd
    set notified_seq = case when r.outcome = 'sent' then greatest(pd.notified_seq, r.seq) else pd.notified_seq end,
        notified_at = case when r.outcome = 'sent' then now() else pd.notified_at end,
        notification_count = pd.notification_count + (r.outcome = 'sent')::int,
        lease_job = null,
        lease_seq = null,
        lease_until = null
    from r
    where r.outcome <> 'gone'
      and pd.subscription_id = r.subscription_id
      and pd.conversation_id = r.conversation_id
      and pd.lease_job = r.job_id
    returning 1
  )
  select ((select count(*) from gone) + (select count(*) from settled))::int
$$;
revoke all on function delivery.settle_pushes(jsonb) from public;
grant execute on function delivery.settle_pushes(jsonb) to service_role;

-- ---------------------------------------------------------------------------------------------
-- Client RPCs

/**
 * Saves the caller's push subscription for this browser (insert, or refresh the keys of the same
 * endpoint) and returns it. Security definer so that an endpoint last registered by another account
 * in the same browser moves to the caller: the endpoint is a capability URL only that browser
 * knows, and under RLS the caller could neither see nor replace the other account's row.
 */
create or replace function public.save_push_subscription(
  endpoint text,
  p256dh text,
  auth text,
  user_agent text default null
)
returns public.push_subscriptions
language plpgsql
security definer
set search_path = ''
as $$
declare
  uid uuid := private.require_user();
  result public.push_subscriptions;
begin
  if endpoint is null
    or char_length(endpoint) > 2048
    or not (endpoint ~ '^https://[^/\s]+/' or endpoint ~ '^http://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?/')
  then
    raise exception using errcode = 'PT400', message = 'That push endpoint is not a valid URL.', detail = 'invalid_push_subscription';
  end if;
  if p256dh is null or p256dh !~ '^[A-Za-z0-9_-]{86,88}={0,2}$' or auth is null or auth !~ '^[A-Za-z0-9_-]{22,24}={0,2}$' then
    raise exception using errcode = 'PT400', message = 'The push subscription keys are malformed.', detail = 'invalid_push_subscription';
  end if;

  insert into public.push_subscriptions as s (user_id, endpoint, p256dh, auth, user_agent)
  values (uid, save_push_subscription.endpoint, save_push_subscription.p256dh, save_push_subscription.auth,
    left(save_push_subscription.user_agent, 512))
  on conflict on constraint push_subscriptions_endpoint_key do update
    set user_id = excluded.user_id, p256dh = excluded.p256dh, auth = excluded.auth, user_agent = excluded.user_agent
  returning s.* into result;
  return result;
end;
$$;
revoke all on function public.save_push_subscription(text, text, text, text) from public, anon;
grant execute on function public.save_push_subscription(text, text, text, text) to authenticated, service_role;

/** Deletes the caller's subscription for `endpoint` (e.g. on sign-out or when the browser unsubscribes). Invoker rights: RLS limits it to the caller's own rows. */
create or replace function public.delete_push_subscription(endpoint text)
returns void
language sql
security invoker
set search_path = ''
as $$
  delete from public.push_subscriptions s
  where s.endpoint = delete_push_subscription.endpoint and s.user_id = (select auth.uid())
$$;
revoke all on function public.delete_push_subscription(text) from public, anon;
grant execute on function public.delete_push_subscription(text) to authenticated, service_role;

/** The VAPID public key (base64url) browsers subscribe with, or null before the worker first started. Security definer: the key table is service-only, and only the public half is returned. */
create or replace function public.get_vapid_public_key()
returns text
language sql
stable
security definer
set search_path = ''
as $$
  select k.public_key from delivery.vapid_keys k where k.id
$$;
revoke all on function public.get_vapid_public_key() from public, anon;
grant execute on function public.get_vapid_public_key() to authenticated, service_role;
