import { readFileSync } from 'node:fs';
import { sql, type Kysely } from 'kysely';
import { parseCalendarDocument } from '../../modules/deadlines/holidays.js';

/** The holiday years shipped with lawbox; the same path from src/ (tsx, tap) and dist/ (node). */
export const SHIPPED_CALENDAR = new URL('../../../data/cn-public-holidays.json', import.meta.url);

/**
 * Deadlines and hearings (T/ZSM 0038-2024 Z5.5.2a–c).
 *
 * `holiday_calendars` holds one row per year of the State Council's holiday arrangement, seeded here
 * from server/data/cn-public-holidays.json; an administrator loads later years (`lawbox calendar
 * load`, POST /api/deadlines/calendars). `matter_deadlines` are a matter's time limits, computed by
 * the engine from a rule and a trigger date or entered by date; (source, source_id, rule) names the
 * record that produced one, so a received document never makes the same deadline twice. `hearings`
 * and their `hearing_summaries` (the five fields of Z5.5.2b) complete the milestones.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table holiday_calendars (
      year integer primary key check (year between 1990 and 2100),
      notice text not null check (length(notice) between 1 and 300),
      off jsonb not null check (jsonb_typeof(off) = 'array'),
      workdays jsonb not null check (jsonb_typeof(workdays) = 'array'),
      loaded_at timestamptz not null,
      loaded_by text not null check (length(loaded_by) between 1 and 100)
    )`.execute(db);

  await sql`
    create table matter_deadlines (
      id serial primary key,
      matter_id integer not null references matters (id),
      milestone text not null check (milestone in ('filing', 'preservation', 'appeal', 'enforcement', 'reply', 'evidence', 'service', 'other')),
      rule text check (rule ~ '^[a-z][a-z0-9_]{0,59}$'),
      title text not null check (length(title) between 1 and 200),
      trigger_date date,
      days integer check (days between 1 and 365),
      foreign_party boolean not null default false,
      in_custody boolean not null default false,
      due_date date not null,
      basis text not null check (length(basis) between 1 and 5000),
      warnings jsonb not null default '[]' check (jsonb_typeof(warnings) = 'array'),
      source text not null check (source ~ '^[a-z][a-z0-9_.]{0,39}$'),
      source_id text check (length(source_id) between 1 and 100),
      status text not null check (status in ('open', 'done', 'missed')),
      responsible_user_id integer not null references users (id),
      notify_client boolean not null default true,
      note text check (length(note) <= 2000),
      created_by integer references users (id),
      created_at timestamptz not null,
      done_at timestamptz,
      done_by integer references users (id),
      done_note text check (length(done_note) <= 2000),
      missed_at timestamptz,
      check ((rule is null) = (trigger_date is null)),
      check ((status = 'done') = (done_at is not null))
    )`.execute(db);
  await sql`create unique index matter_deadlines_source on matter_deadlines (source, source_id, rule) where source_id is not null and rule is not null`.execute(db);
  await sql`create index matter_deadlines_matter on matter_deadlines (matter_id, due_date)`.execute(db);
  await sql`create index matter_deadlines_open on matter_deadlines (due_date) where status = 'open'`.execute(db);

  await sql`
    create table hearings (
      id serial primary key,
      matter_id integer not null references matters (id),
      court text not null check (length(court) between 1 and 200),
      room text check (length(room) between 1 and 100),
      address text check (length(address) between 1 and 300),
      judge text check (length(judge) between 1 and 100),
      starts_at timestamptz not null,
      note text check (length(note) <= 2000),
      status text not null check (status in ('scheduled', 'held', 'cancelled')),
      notice_sent_at timestamptz,
      notice_sent_by integer references users (id),
      cancelled_at timestamptz,
      cancelled_by integer references users (id),
      cancel_reason text check (length(cancel_reason) <= 1000),
      created_by integer not null references users (id),
      created_at timestamptz not null,
      check ((status = 'cancelled') = (cancelled_at is not null))
    )`.execute(db);
  await sql`create index hearings_matter on hearings (matter_id, starts_at)`.execute(db);
  await sql`create index hearings_upcoming on hearings (starts_at) where status = 'scheduled'`.execute(db);

  await sql`
    create table hearing_summaries (
      hearing_id integer primary key references hearings (id),
      held_at timestamptz not null,
      record text not null check (length(record) between 1 and 2000),
      materials_to_supply text not null check (length(materials_to_supply) between 1 and 800),
      facts_to_verify text not null check (length(facts_to_verify) between 1 and 800),
      judge_requests text not null check (length(judge_requests) between 1 and 800),
      created_by integer not null references users (id),
      created_at timestamptz not null
    )`.execute(db);

  // The years known when this version was built; checked like any file an administrator loads.
  const years = parseCalendarDocument(JSON.parse(readFileSync(SHIPPED_CALENDAR, 'utf8')));
  for (const y of years) {
    await sql`insert into holiday_calendars (year, notice, off, workdays, loaded_at, loaded_by)
      values (${y.year}, ${y.notice}, ${JSON.stringify(y.off)}::jsonb, ${JSON.stringify(y.workdays)}::jsonb, now(), 'migration')`.execute(db);
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table if exists hearing_summaries`.execute(db);
  await sql`drop table if exists hearings`.execute(db);
  await sql`drop table if exists matter_deadlines`.execute(db);
  await sql`drop table if exists holiday_calendars`.execute(db);
}
