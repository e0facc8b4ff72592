import { sql, type Kysely } from 'kysely';

/** Device agents, their devices and the events they report (clause 4.2, hardware layer). */
export async function up(db: Kysely<unknown>): Promise<void> {
  // Ids appear in MQTT topics (`lawbox/device/<id>`): one topic level, no wildcards or separators.
  await sql`create table agents (
    id text primary key check (id ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
    name text,
    state text not null default 'unknown' check (state in ('online', 'offline', 'unknown')),
    last_seen_at timestamptz,
    created_at timestamptz not null
  )`.execute(db);
  await sql`create table devices (
    id text primary key check (id ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
    agent_id text references agents(id),
    profile text,
    name text,
    location text,
    state jsonb,
    availability text not null default 'unknown' check (availability in ('online', 'offline', 'unknown')),
    updated_at timestamptz not null
  )`.execute(db);
  // Stored once per event_id whatever the number of deliveries: agents resend until acknowledged.
  await sql`create table device_events (
    event_id uuid primary key,
    device_id text not null,
    type text not null,
    at timestamptz not null,
    data jsonb not null,
    received_at timestamptz not null
  )`.execute(db);
  await sql`create index device_events_device_idx on device_events (device_id, at desc)`.execute(db);
  await sql`create index device_events_type_idx on device_events (type, at desc)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['device_events', 'devices', 'agents']) await sql`drop table if exists ${sql.table(table)} cascade`.execute(db);
}
