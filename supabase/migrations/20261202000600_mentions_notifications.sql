/**
 * Mentions and notification levels (issue 18, items 2 and 3).
 *
 * Mentions: the sealed text itself says whom it mentions (`@username`, which receivers resolve
 * against the members, see src/lib/chat/mentions.ts); `messages.mentions` repeats only what the
 * server needs to notify: the mentioned user ids, given by the sender to send_message and
 * edit_message, each a current member, at most 50. It is visible exactly where the message is
 * (the messages policy) and erased with the content when the message is deleted.
 *
 * Notification levels: `public.notification_settings` holds, per member and conversation, what
 * pushes they want (`all`, `mentions`, `none`) and a mute (`muted_until`, `infinity` until turned
 * back on). It is a table of its own, not columns of conversation_participants, because every
 * member reads every participant row of their conversations: whether someone muted a group is
 * theirs alone. Each user reads only their own rows and writes them only through
 * set_notification_level; a row goes with the membership (a member removed and added back starts
 * again from `all`).
 *
 * The delivery decision is SQL (delivery.wants_push, used by take_outbox and claim_pushes), so the
 * Node worker and the Edge Function, which share those calls, honour the settings alike.
 */

-- ---------------------------------------------------------------------------------------------
-- Mentions

alter table public.messages
  add column mentions uuid[] not null default '{}'
    constraint messages_mentions_check check (cardinality(mentions) <= 50 and array_position(mentions, null) is null),
  add constraint messages_tombstone_mentions_check check (deleted_at is null or mentions = '{}');
comment on column public.messages.mentions is 'The user ids the message mentions (at most 50, each a member when it was sent or edited), sorted and distinct: what the server needs to notify them. The text, sealed, names them too; this copy is not signed, so clients highlight from the text. Emptied when the message is deleted.';
comment on constraint messages_tombstone_mentions_check on public.messages is 'A deleted message mentions nobody.';

/**
 * The mentions a send or an edit asks for, checked: null is none; otherwise each must be a current
 * member of the conversation (400 `invalid_mentions`), at most 50 (400 `too_many_mentions`).
 * Returns them sorted and distinct.
 */
create or replace function private.check_mentions(conversation_id uuid, mentions uuid[])
returns uuid[]
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  result uuid[];
begin
  if mentions is null or cardinality(mentions) = 0 then
    return '{}';
  end if;
  if array_position(mentions, null) is not null then
    raise exception using errcode = 'PT400', message = 'Mentions must name members of the conversation.', detail = 'invalid_mentions';
  end if;
  select coalesce(array_agg(distinct m order by m), '{}') into result from unnest(mentions) m;
  if cardinality(result) > 50 then
    raise exception using errcode = 'PT400', message = 'A message can mention at most 50 people.', detail = 'too_many_mentions';
  end if;
  if exists (
    select 1 from unnest(result) m
    where not exists (
      select 1 from public.conversation_participants p
      where p.conversation_id = check_mentions.conversation_id and p.user_id = m
    )
  ) then
    raise exception using errcode = 'PT400', message = 'Mentions must name members of the conversation.', detail = 'invalid_mentions';
  end if;
  return result;
end;
$$;
revoke all on function private.check_mentions(uuid, uuid[]) from public;

/** Empties the mentions of a message being deleted (whoever deletes it: the RPC or service_role). */
create or replace function private.clear_deleted_mentions()
returns trigger
language plpgsql
security invoker
set search_path = ''
as $$
begin
  new.mentions := '{}';
  return new;
end;
$$;
revoke all on function private.clear_deleted_mentions() from public;

create trigger messages_clear_deleted_mentions
  before update on public.messages
  for each row
  when (new.deleted_at is not null and new.mentions <> '{}')
  execute function private.clear_deleted_mentions();
comment on trigger messages_clear_deleted_mentions on public.messages is 'A tombstone keeps no mentions (messages_tombstone_mentions_check).';

-- send_message and edit_message gain `mentions`: a new signature, so the old ones go first (a
-- second overload would make calls without mentions ambiguous).
drop function public.send_message(uuid, text, text, uuid, uuid, jsonb, jsonb);
drop function public.edit_message(uuid, text, jsonb);

/**
 * Sends a message: the next `seq` of the conversation, assigned under the conversation row lock
 * (senders of one conversation are serialized, so sequences are gap-free). Idempotent on
 * (sender, client_id): a retry, even a concurrent one, returns the first row. `mentions`: the
 * members it mentions (private.check_mentions), checked under the lock, after the retry lookup (a
 * retry returns the stored row even if someone mentioned has left since).
 * Security definer: increments conversations.last_seq, which clients cannot write.
 */
create or replace function public.send_message(
  conversation_id uuid,
  content_encrypted text,
  message_type text default 'text',
  client_id uuid default null,
  reply_to_id uuid default null,
  attachment jsonb default null,
  encryption jsonb default null,
  mentions uuid[] default null
)
returns public.messages
language plpgsql
security definer
set search_path = ''
as $$
declare
  uid uuid := private.require_user();
  next_seq bigint;
  checked_mentions uuid[];
  result public.messages;
begin
  -- Retries are looked up under the lock below, not before it: a first send (nearly every call)
  -- then costs one lookup of its client_id instead of two.
  perform private.check_message_content(
    send_message.content_encrypted, send_message.message_type, send_message.attachment, send_message.encryption
  );

  -- Lock the counter (outsiders never reach the lock), then re-check under it: a concurrent
  -- removal or a concurrent retry of the same client_id has committed by now if it went first.
  select c.last_seq into next_seq from public.conversations c
  where c.id = send_message.conversation_id
    and exists (
      select 1 from public.conversation_participants p
      where p.conversation_id = c.id and p.user_id = uid
    )
  for no key update;
  if not found or not exists (
    select 1 from public.conversation_participants p
    where p.conversation_id = send_message.conversation_id and p.user_id = uid
  ) then
    perform private.conversation_not_found();
  end if;
  if send_message.client_id is not null then
    select m.* into result from public.messages m
    where m.sender_id = uid and m.client_id = send_message.client_id;
    if found then
      if result.conversation_id is distinct from send_message.conversation_id then
        raise exception using errcode = 'PT409', message = 'That client_id was already used in another conversation.', detail = 'duplicate_client_id';
      end if;
      return result;
    end if;
  end if;
  if send_message.reply_to_id is not null and not exists (
    select 1 from public.messages m
    where m.id = send_message.reply_to_id and m.conversation_id = send_message.conversation_id
  ) then
    raise exception using errcode = 'PT404', message = 'The message you reply to does not exist.', detail = 'message_not_found';
  end if;
  checked_mentions := private.check_mentions(send_message.conversation_id, send_message.mentions);

  next_seq := next_seq + 1;
  update public.conversations c set last_seq = next_seq, last_message_at = now()
  where c.id = send_message.conversation_id;
  insert into public.messages (
    conversation_id, sender_id, seq, content_encrypted, message_type, attachment, encryption, reply_to_id, client_id,
    mentions
  ) values (
    send_message.conversation_id, uid, next_seq, nullif(send_message.content_encrypted, ''),
    send_message.message_type, send_message.attachment, send_message.encryption,
    send_message.reply_to_id, send_message.client_id, checked_mentions
  )
  returning * into result;
  return result;
end;
$$;
revoke all on function public.send_message(uuid, text, text, uuid, uuid, jsonb, jsonb, uuid[]) from public, anon;
grant execute on function public.send_message(uuid, text, text, uuid, uuid, jsonb, jsonb, uuid[]) to authenticated, service_role;

/**
 * Replaces the content of the caller's own message (`not_sender` otherwise; `message_deleted` once
 * deleted). `mentions` replaces the message's mentions (checked as for send_message); null keeps
 * them. An edit pushes nobody: only new messages are delivered. Security definer: clients cannot
 * update messages directly.
 */
create or replace function public.edit_message(
  message_id uuid,
  content_encrypted text,
  encryption jsonb default null,
  mentions uuid[] default null
)
returns public.messages
language plpgsql
security definer
set search_path = ''
as $$
declare
  uid uuid := private.require_user();
  checked_mentions uuid[];
  result public.messages;
begin
  result := private.visible_message(edit_message.message_id, uid);
  if result.sender_id is distinct from uid then
    raise exception using errcode = 'PT403', message = 'You can only edit your own messages.', detail = 'not_sender';
  end if;
  perform private.check_message_content(
    edit_message.content_encrypted, result.message_type, result.attachment, edit_message.encryption
  );
  if edit_message.mentions is not null then
    checked_mentions := private.check_mentions(result.conversation_id, edit_message.mentions);
  end if;
  update public.messages m
  set content_encrypted = edit_message.content_encrypted,
      encryption = coalesce(edit_message.encryption, m.encryption),
      mentions = coalesce(checked_mentions, m.mentions),
      edited_at = now()
  where m.id = edit_message.message_id and m.deleted_at is null
  returning m.* into result;
  if not found then
    raise exception using errcode = 'PT409', message = 'That message was deleted.', detail = 'message_deleted';
  end if;
  return result;
end;
$$;
revoke all on function public.edit_message(uuid, text, jsonb, uuid[]) from public, anon;
grant execute on function public.edit_message(uuid, text, jsonb, uuid[]) to authenticated, service_role;

-- ---------------------------------------------------------------------------------------------
-- Notification levels

create table public.notification_settings (
  conversation_id uuid not null,
  user_id uuid not null,
  notify_level text not null default 'all'
    constraint notification_settings_notify_level_check check (notify_level in ('all', 'mentions', 'none')),
  muted_until timestamptz,
  updated_at timestamptz not null default now(),
  primary key (conversation_id, user_id),
  constraint notification_settings_participant_fkey foreign key (conversation_id, user_id)
    references public.conversation_participants (conversation_id, user_id) on delete cascade
);
comment on table public.notification_settings is 'What pushes a member wants from a conversation. One row per member who changed the default (no row: all, not muted); it goes with the membership. Each user reads only their own rows and writes them through set_notification_level.';
comment on column public.notification_settings.notify_level is '''all'' (every message from others), ''mentions'' (only messages that mention them) or ''none'' (no pushes).';
comment on column public.notification_settings.muted_until is 'No pushes at all before this time (''infinity'': until turned back on); null or past: not muted. The level applies again afterwards.';

create trigger notification_settings_set_updated_at
  before update on public.notification_settings
  for each row execute function private.set_updated_at();
comment on trigger notification_settings_set_updated_at on public.notification_settings is 'Keeps updated_at current.';

alter table public.notification_settings enable row level security;

create policy "users read their own notification settings"
  on public.notification_settings for select to authenticated
  using (user_id = (select auth.uid()));

revoke all on table public.notification_settings from anon, authenticated;
grant select on table public.notification_settings to authenticated;
grant all on table public.notification_settings to service_role;

/**
 * Sets the caller's own notification settings for a conversation they are in (404
 * `conversation_not_found` otherwise): `notify_level` `all`, `mentions` or `none` (400
 * `invalid_notify_level`), and `muted_until` (null or past: not muted; `infinity`: muted until
 * turned back on). Both are replaced: pass the mute to keep it. Returns the row. Security definer:
 * clients cannot write notification_settings directly, and there is no way to name another user.
 */
create or replace function public.set_notification_level(
  conversation_id uuid,
  notify_level text,
  muted_until timestamptz default null
)
returns public.notification_settings
language plpgsql
security definer
set search_path = ''
as $$
declare
  uid uuid := private.require_user();
  result public.notification_settings;
begin
  -- The membership first, so outsiders learn nothing from the validation; the key-share lock keeps
  -- a concurrent removal from slipping between this check and the insert.
  perform 1 from public.conversation_participants p
  where p.conversation_id = set_notification_level.conversation_id and p.user_id = uid
  for key share;
  if not found then
    perform private.conversation_not_found();
  end if;
  if set_notification_level.notify_level is null
     or set_notification_level.notify_level not in ('all', 'mentions', 'none') then
    raise exception using errcode = 'PT400', message = 'The notification level must be all, mentions or none.', detail = 'invalid_notify_level';
  end if;

  insert into public.notification_settings as s (conversation_id, user_id, notify_level, muted_until)
  values (
    set_notification_level.conversation_id, uid, set_notification_level.notify_level,
    case when set_notification_level.muted_until > now() then set_notification_level.muted_until end
  )
  on conflict on constraint notification_settings_pkey do update
    set notify_level = excluded.notify_level, muted_until = excluded.muted_until
  returning s.* into result;
  return result;
end;
$$;
revoke all on function public.set_notification_level(uuid, text, timestamptz) from public, anon;
grant execute on function public.set_notification_level(uuid, text, timestamptz) to authenticated, service_role;

-- ---------------------------------------------------------------------------------------------
-- The conversation list: my settings and my unread mentions

/**
 * The caller's conversations, newest activity (last message, else creation) first, keyset
 * paginated by (activity_at, id): pass the last item's `activity_at` and `id` for the next page.
 * Each item: the conversation's fields, `activity_at`, `participants`, `last_message` (or null),
 * `unread_count` (others' undeleted messages after the caller's read watermark, capped at 1000),
 * `unread_mentions` (those of them that mention the caller, capped at 100), and the caller's
 * `notify_level` and `muted_until` (null unless muted now).
 * Security definer for speed: every row is reached through the caller's own participant rows
 * (`p.user_id = uid`), so it returns nothing RLS would hide, without re-evaluating the caller's
 * membership set in each of the page's sub-queries.
 */
create or replace function public.list_conversations(
  before_activity timestamptz default null,
  before_id uuid default null,
  page_size int default 30
)
returns setof jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  uid uuid := private.require_user();
  size int := least(coalesce(page_size, 30), 100);
begin
  if size < 1 then
    raise exception using errcode = 'PT400', message = 'page_size must be between 1 and 100.', detail = 'invalid_page_size';
  end if;
  return query
    with page as (
      select c.*, coalesce(c.last_message_at, c.created_at) as activity_at, p.last_read_seq as my_read_seq,
        coalesce(ns.notify_level, 'all') as notify_level,
        case when ns.muted_until > now() then ns.muted_until end as muted_until
      from public.conversation_participants p
      join public.conversations c on c.id = p.conversation_id
      left join public.notification_settings ns on ns.conversation_id = p.conversation_id and ns.user_id = p.user_id
      where p.user_id = uid
        and (
          before_activity is null
          or (before_id is null and coalesce(c.last_message_at, c.created_at) < before_activity)
          or (before_id is not null and (coalesce(c.last_message_at, c.created_at), c.id) < (before_activity, before_id))
        )
      order by coalesce(c.last_message_at, c.created_at) desc, c.id desc
      limit size
    )
    select to_jsonb(pg) - 'direct_key' - 'my_read_seq' || jsonb_build_object(
      'participants', private.participants_json(pg.id),
      'last_message', (
        select to_jsonb(m) from public.messages m where m.conversation_id = pg.id and m.seq = pg.last_seq
      ),
      'unread_count', (
        select count(*) from (
          select 1 from public.messages m
          where m.conversation_id = pg.id and m.seq > pg.my_read_seq
            and m.sender_id is distinct from uid and m.deleted_at is null
          limit 1000
        ) unread
      ),
      'unread_mentions', (
        select count(*) from (
          select 1 from public.messages m
          where m.conversation_id = pg.id and m.seq > pg.my_read_seq
            and m.sender_id is distinct from uid and m.deleted_at is null
            and m.mentions @> array[uid]
          limit 100
        ) mentioned
      )
    )
    from page pg
    order by pg.activity_at desc, pg.id desc;
end;
$$;
revoke all on function public.list_conversations(timestamptz, uuid, int) from public, anon;
grant execute on function public.list_conversations(timestamptz, uuid, int) to authenticated, service_role;

-- ---------------------------------------------------------------------------------------------
-- Delivery: who is pushed

/**
 * Does a member with these settings want a push for a message (`mentioned`: it mentions them)?
 * Not while muted; then `all` yes, `mentions` only when mentioned, `none` never. No settings row
 * (nulls) is `all`, not muted. Used by take_outbox and claim_pushes, so the Node worker and the
 * Edge Function decide alike.
 */
create or replace function delivery.wants_push(notify_level text, muted_until timestamptz, mentioned boolean)
returns boolean
language sql
stable
security invoker
set search_path = ''
as $$
  select (wants_push.muted_until is null or wants_push.muted_until <= now())
    and case coalesce(wants_push.notify_level, 'all')
      when 'all' then true
      when 'mentions' then coalesce(wants_push.mentioned, false)
      else false
    end
$$;
revoke all on function delivery.wants_push(text, timestamptz, boolean) from public;
grant execute on function delivery.wants_push(text, timestamptz, boolean) to service_role;

/**
 * Consumes up to `batch_size` outbox rows (skipping rows another worker holds) and returns the
 * push work they imply: one row per recipient and conversation, for recipients who have a push
 * subscription, had not yet been delivered the message, and want a push for it now
 * (delivery.wants_push: their level, their mute, whether it mentions them). Call it in a
 * transaction that also enqueues the jobs, so rows are consumed exactly when their jobs exist.
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
    returning o.message_id, o.conversation_id, o.sender_id, o.seq, o.created_at
  )
  select p.user_id, t.conversation_id, min(t.created_at), max(t.created_at), count(*)::int
  from taken t
  join public.conversation_participants p
    on p.conversation_id = t.conversation_id
   and p.user_id is distinct from t.sender_id
   and p.last_delivered_seq < t.seq
  left join public.notification_settings ns
    on ns.conversation_id = p.conversation_id and ns.user_id = p.user_id
  left join public.messages m on m.id = t.message_id
  where exists (select 1 from public.push_subscriptions s where s.user_id = p.user_id)
    and delivery.wants_push(ns.notify_level, ns.muted_until, m.mentions @> array[p.user_id])
  group by p.user_id, t.conversation_id
$$;
revoke all on function delivery.take_outbox(int) from public;
grant execute on function delivery.take_outbox(int) to service_role;

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
 *   notification shows (`unread` counts the messages it is about). Never message content.
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
          and delivery.wants_push(s.notify_level, s.muted_until, m.mentions @> array[s.user_id])
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
