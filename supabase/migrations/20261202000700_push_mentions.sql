/**
 * Pushes say "mentioned you": `delivery.claim_pushes` also returns whether one of the messages a
 * push is about mentions its recipient, so the notification can say so (the only thing it adds;
 * still no message content). The return type changes, so the function is dropped and made again.
 */

drop function delivery.claim_pushes(jsonb, int, int, int);

/**
 * Decides what each job of a batch does and leases the ledger rows of the pushes to send.
 *
 * `jobs`: `[{job_id, user_id, conversation_id, first_at}]`. Per job, one of:
 * - `skip`: nothing undelivered from others that the recipient wants a push for now
 *   (delivery.wants_push: muted, level `none`, or level `mentions` and nothing mentions them; or
 *   they were online and acknowledged), or every subscription is already notified up to the
 *   newest such message or leased by another job.
 * - `defer` until `run_at`: the newest such message is younger than `grace_ms`, so wait for it
 *   (debounce), but never past `first_at + max_wait_ms`.
 * - `send`: one row per subscription leased for this job (for `lease_ms`), with what the
 *   notification shows (`unread` counts the messages it is about; `mentioned` says whether one of
 *   them mentions the recipient). Never message content.
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
  unread int,
  mentioned boolean
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
    select j.*, p.last_delivered_seq, ns.notify_level, ns.muted_until, latest.seq as latest_seq,
      latest.created_at as latest_at, latest.sender_id as latest_sender
    from j
    left join public.conversation_participants p
      on p.conversation_id = j.conversation_id and p.user_id = j.user_id
    left join public.notification_settings ns
      on ns.conversation_id = j.conversation_id and ns.user_id = j.user_id
    left join lateral (
      select m.seq, m.created_at, m.sender_id
      from public.messages m
      where m.conversation_id = j.conversation_id
        and m.seq > p.last_delivered_seq
        and m.sender_id is distinct from j.user_id
        and m.deleted_at is null
        and delivery.wants_push(ns.notify_level, ns.muted_until, m.mentions @> array[j.user_id])
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
      d.latest_sender, d.notify_level, d.muted_until
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
    d.latest_seq, null::uuid, null, null, null, d.conversation_id, null, null, null, null::int, null::boolean
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
          and delivery.wants_push(s.notify_level, s.muted_until, m.mentions @> array[s.user_id])
        limit 100
      ) n
    ),
    exists (
      select 1 from public.messages m
      where m.conversation_id = s.conversation_id
        and m.seq > s.last_delivered_seq
        and m.sender_id is distinct from s.user_id
        and m.deleted_at is null
        and m.mentions @> array[s.user_id]
    )
  from sends s
  join public.push_subscriptions sub on sub.id = s.subscription_id
  join public.conversations c on c.id = s.conversation_id
  left join public.profiles pr on pr.id = s.latest_sender
$$;
revoke all on function delivery.claim_pushes(jsonb, int, int, int) from public;
grant execute on function delivery.claim_pushes(jsonb, int, int, int) to service_role;
