import { sql, type Kysely } from 'kysely';

/**
 * Notifications (T/ZSM 0038-2024 Z5.4.3, Z5.5.2a, Z6.3.5): an outbox written in the transaction of
 * the change it tells of. A notice has its staff recipients (read in the app) and at most one client
 * (read in the portal); each recipient × channel is one delivery, sent and retried by a job. Accounts
 * get a work phone and email, which the matter-accepted notice gives to the client.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table users add column phone text, add column email text`.execute(db);

  await sql`
    create table notifications (
      id serial primary key,
      event text not null,
      client_id integer references clients (id),
      matter_id integer references matters (id),
      title text not null check (length(title) between 1 and 200),
      body text not null check (length(body) <= 5000),
      link text,
      dedupe_key text unique,
      client_read_at timestamptz,
      created_at timestamptz not null,
      check (client_read_at is null or client_id is not null)
    )`.execute(db);
  await sql`create index notifications_client on notifications (client_id, created_at) where client_id is not null`.execute(db);
  await sql`create index notifications_matter on notifications (matter_id) where matter_id is not null`.execute(db);

  await sql`
    create table notification_recipients (
      notification_id integer not null references notifications (id) on delete cascade,
      user_id integer not null references users (id),
      read_at timestamptz,
      primary key (notification_id, user_id)
    )`.execute(db);
  await sql`create index notification_recipients_user on notification_recipients (user_id, notification_id)`.execute(db);

  await sql`
    create table notification_deliveries (
      id serial primary key,
      notification_id integer not null references notifications (id) on delete cascade,
      channel text not null check (channel in ('in_app', 'email', 'sms', 'wecom', 'dingtalk')),
      user_id integer references users (id),
      client_id integer references clients (id),
      status text not null check (status in ('pending', 'sent', 'failed', 'gave_up')),
      attempts integer not null default 0,
      last_error text,
      next_attempt_at timestamptz,
      sent_at timestamptz,
      created_at timestamptz not null,
      check (user_id is null or client_id is null),
      check ((status in ('pending', 'failed')) = (next_attempt_at is not null))
    )`.execute(db);
  await sql`create index notification_deliveries_notification on notification_deliveries (notification_id)`.execute(db);
  // The delivery job's queue: only what is still to be sent.
  await sql`create index notification_deliveries_due on notification_deliveries (next_attempt_at) where status in ('pending', 'failed')`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table if exists notification_deliveries`.execute(db);
  await sql`drop table if exists notification_recipients`.execute(db);
  await sql`drop table if exists notifications`.execute(db);
  await sql`alter table users drop column if exists phone, drop column if exists email`.execute(db);
}
