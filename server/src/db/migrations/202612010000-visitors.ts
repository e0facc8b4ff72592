import { sql, type Kysely } from 'kysely';

/**
 * Lobby visitor management (T/ZSM 0038-2024 Z4.2, Z6.4.3): visits (pre-registered or walk-in) with
 * their conflict screening and door pass, ID card reads waiting for a check-in, and evacuation roll
 * calls. This migration runs before the kiosks table exists, so kiosk ids are plain integers.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table visitor_visits (
      id serial primary key,
      visitor_name text not null check (length(visitor_name) between 1 and 100),
      id_number text,
      phone text,
      organization text,
      purpose text not null check (length(purpose) between 1 and 200),
      host_user_id integer not null references users (id),
      matter_id integer references matters (id),
      status text not null check (status in ('invited', 'flagged', 'checked_in', 'checked_out', 'denied', 'cancelled', 'expired')),
      source text not null check (source in ('invitation', 'walk_in')),
      invite_code_hash text unique,
      expected_at timestamptz,
      expires_at timestamptz,
      screening jsonb,
      review_decision text check (review_decision in ('admit', 'deny')),
      reviewed_by integer references users (id),
      reviewed_at timestamptz,
      review_note text,
      checked_in_at timestamptz,
      checked_out_at timestamptz,
      ended_at timestamptz,
      kiosk_id integer,
      pass_credential_id integer references access_credentials (id),
      purged_at timestamptz,
      created_by integer references users (id),
      created_at timestamptz not null,
      check ((source = 'invitation') = (invite_code_hash is not null and expected_at is not null and expires_at is not null)),
      check (checked_out_at is null or checked_in_at is not null),
      check (status <> 'checked_in' or checked_in_at is not null),
      check ((review_decision is null) = (reviewed_at is null))
    )`.execute(db);
  await sql`create index visitor_visits_host on visitor_visits (host_user_id, created_at)`.execute(db);
  await sql`create index visitor_visits_on_site on visitor_visits (checked_in_at) where checked_in_at is not null and checked_out_at is null`.execute(db);
  await sql`create index visitor_visits_open_invitations on visitor_visits (expires_at) where status in ('invited', 'flagged') and checked_in_at is null`.execute(db);
  await sql`create index visitor_visits_to_purge on visitor_visits (ended_at) where purged_at is null`.execute(db);
  await sql`create index visitor_visits_pass on visitor_visits (pass_credential_id) where pass_credential_id is not null`.execute(db);

  await sql`
    create table visitor_id_reads (
      id text primary key,
      kiosk_id integer not null,
      name text not null,
      id_number text not null,
      read_at timestamptz not null,
      expires_at timestamptz not null
    )`.execute(db);
  await sql`create index visitor_id_reads_expiry on visitor_id_reads (expires_at)`.execute(db);

  await sql`
    create table visitor_roll_calls (
      id serial primary key,
      started_at timestamptz not null,
      started_by integer references users (id)
    )`.execute(db);
  await sql`
    create table visitor_roll_call_entries (
      roll_call_id integer not null references visitor_roll_calls (id) on delete cascade,
      visit_id integer not null references visitor_visits (id),
      accounted_at timestamptz,
      accounted_by integer references users (id),
      primary key (roll_call_id, visit_id)
    )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table if exists visitor_roll_call_entries`.execute(db);
  await sql`drop table if exists visitor_roll_calls`.execute(db);
  await sql`drop table if exists visitor_id_reads`.execute(db);
  await sql`drop table if exists visitor_visits`.execute(db);
}
