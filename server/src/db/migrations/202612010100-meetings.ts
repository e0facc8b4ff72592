import { sql, type Kysely } from 'kysely';

/**
 * Paperless meetings (无纸化会议, clause 4.2) and the Party branch's meetings and votes (三会一课、主题党日,
 * Z6.1.2): rooms, sessions with their agenda and participants, sign-ins at the terminals, PDF documents
 * kept in the database, the presenter's page, private annotations, votes, ballots and minutes.
 *
 * What a meeting decided is a record: sign-ins, ballots, who voted, votes, documents and minutes are
 * never deleted, and a ballot is never changed (triggers refuse it). Kiosk ids carry no foreign key:
 * the kiosks table is created after this one (it names the rooms).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  // Room ids appear in realtime topics (`room:<id>`), like device ids in MQTT topics.
  await sql`create table meeting_rooms (
    id text primary key check (id ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
    name text not null,
    floor text,
    capacity integer not null check (capacity between 1 and 1000),
    devices text[] not null default '{}' check (cardinality(devices) <= 64),
    created_at timestamptz not null,
    updated_at timestamptz not null
  )`.execute(db);

  await sql`create table meeting_sessions (
    id serial primary key,
    title text not null,
    kind text not null check (kind in ('firm', 'party_branch')),
    record_type text not null,
    room_id text not null references meeting_rooms (id),
    starts_at timestamptz not null,
    ends_at timestamptz not null,
    confidential boolean not null,
    started_at timestamptz,
    ended_at timestamptz,
    created_by integer references users (id),
    created_at timestamptz not null,
    check (starts_at < ends_at),
    check (ended_at is null or started_at is not null),
    check (
      (kind = 'firm' and record_type in ('partners_meeting', 'staff_meeting', 'case_discussion', 'other'))
      or (kind = 'party_branch' and record_type in ('branch_general_meeting', 'branch_committee', 'party_group', 'party_lecture', 'theme_day'))
    )
  )`.execute(db);
  await sql`create index meeting_sessions_room_idx on meeting_sessions (room_id, starts_at)`.execute(db);
  await sql`create index meeting_sessions_starts_idx on meeting_sessions (starts_at)`.execute(db);

  await sql`create table meeting_agenda_items (
    id serial primary key,
    meeting_id integer not null references meeting_sessions (id),
    position integer not null check (position >= 1),
    title text not null,
    unique (meeting_id, position)
  )`.execute(db);

  await sql`create table meeting_participants (
    id serial primary key,
    meeting_id integer not null references meeting_sessions (id),
    user_id integer not null references users (id),
    role text not null check (role in ('chair', 'secretary', 'member', 'observer')),
    unique (meeting_id, user_id)
  )`.execute(db);
  await sql`create index meeting_participants_user_idx on meeting_participants (user_id)`.execute(db);
  // One chair; at most one secretary (without one, the chair keeps the record).
  await sql`create unique index meeting_participants_chair_idx on meeting_participants (meeting_id) where role = 'chair'`.execute(db);
  await sql`create unique index meeting_participants_secretary_idx on meeting_participants (meeting_id) where role = 'secretary'`.execute(db);

  // A sign-in is made at a terminal (kiosk_id) or by the secretary for a latecomer (recorded_by).
  await sql`create table meeting_sign_ins (
    participant_id integer primary key references meeting_participants (id),
    meeting_id integer not null references meeting_sessions (id),
    signed_in_at timestamptz not null,
    kiosk_id integer,
    recorded_by integer references users (id),
    note text,
    check (kiosk_id is not null or recorded_by is not null)
  )`.execute(db);

  // The terminal a participant sits at: one terminal per participant, one participant per terminal.
  await sql`create table meeting_seats (
    participant_id integer primary key references meeting_participants (id),
    meeting_id integer not null references meeting_sessions (id),
    kiosk_id integer not null,
    bound_at timestamptz not null,
    unique (meeting_id, kiosk_id)
  )`.execute(db);

  await sql`create table meeting_documents (
    id serial primary key,
    meeting_id integer not null references meeting_sessions (id),
    name text not null,
    content bytea not null,
    size integer not null check (size between 1 and 20971520),
    pages integer not null check (pages >= 1),
    sha256 text not null check (sha256 ~ '^[0-9a-f]{64}$'),
    uploaded_by integer references users (id),
    uploaded_at timestamptz not null,
    withdrawn_at timestamptz
  )`.execute(db);
  await sql`create index meeting_documents_meeting_idx on meeting_documents (meeting_id)`.execute(db);

  // Who presents (null = the chair) and the page everybody follows.
  await sql`create table meeting_presenter (
    meeting_id integer primary key references meeting_sessions (id),
    presenter_participant_id integer references meeting_participants (id),
    document_id integer references meeting_documents (id),
    page integer check (page >= 1),
    updated_at timestamptz not null,
    check ((document_id is null) = (page is null))
  )`.execute(db);

  await sql`create table meeting_annotations (
    participant_id integer not null references meeting_participants (id),
    document_id integer not null references meeting_documents (id),
    page integer not null check (page >= 1),
    strokes jsonb not null,
    updated_at timestamptz not null,
    primary key (participant_id, document_id, page)
  )`.execute(db);

  await sql`create table meeting_votes (
    id serial primary key,
    meeting_id integer not null references meeting_sessions (id),
    title text not null,
    options text[] not null check (cardinality(options) between 2 and 10),
    anonymous boolean not null,
    rule text not null check (rule in ('simple_majority_of_votes', 'majority_of_participants', 'two_thirds_of_participants')),
    status text not null check (status in ('draft', 'open', 'closed')),
    eligible integer check (eligible >= 1),
    cast_count integer check (cast_count >= 0),
    tally jsonb,
    passed boolean,
    created_by integer references users (id),
    created_at timestamptz not null,
    opened_at timestamptz,
    closed_at timestamptz,
    check ((status = 'draft') = (opened_at is null)),
    check ((status = 'closed') = (closed_at is not null)),
    check ((status = 'closed') = (tally is not null and passed is not null and cast_count is not null))
  )`.execute(db);
  await sql`create index meeting_votes_meeting_idx on meeting_votes (meeting_id)`.execute(db);

  // "Has voted", so nobody votes twice; for an anonymous vote nothing else names the voter.
  await sql`create table meeting_vote_voters (
    vote_id integer not null references meeting_votes (id),
    participant_id integer not null references meeting_participants (id),
    voted_at timestamptz not null,
    kiosk_id integer not null,
    primary key (vote_id, participant_id)
  )`.execute(db);
  // A named vote's ballots: who chose what.
  await sql`create table meeting_ballots (
    vote_id integer not null references meeting_votes (id),
    participant_id integer not null references meeting_participants (id),
    choice text not null,
    primary key (vote_id, participant_id)
  )`.execute(db);
  // An anonymous vote keeps no ballots, only a counter per choice, all of a vote's counters rewritten
  // by every ballot: no row, id, time or row version (xmin) tells which choice a voter made.
  await sql`create table meeting_vote_counts (
    vote_id integer not null references meeting_votes (id),
    choice text not null,
    n integer not null check (n >= 0),
    primary key (vote_id, choice)
  )`.execute(db);
  // Counters only go up.
  await sql`create function meeting_vote_count_guard() returns trigger language plpgsql as $$
    begin
      if new.vote_id <> old.vote_id or new.choice <> old.choice or new.n < old.n then
        raise exception 'a vote counter only counts up' using errcode = 'insufficient_privilege';
      end if;
      return new;
    end $$`.execute(db);
  await sql`create trigger meeting_vote_counts_up before update on meeting_vote_counts for each row execute function meeting_vote_count_guard()`.execute(db);

  // Every version the secretary saved is kept; the chair approves the latest.
  await sql`create table meeting_minutes (
    id serial primary key,
    meeting_id integer not null references meeting_sessions (id),
    version integer not null check (version >= 1),
    text text not null,
    written_by integer references users (id),
    written_at timestamptz not null,
    approved_by integer references users (id),
    approved_at timestamptz,
    unique (meeting_id, version),
    check ((approved_by is null) = (approved_at is null))
  )`.execute(db);

  await sql`create function meeting_record_guard() returns trigger language plpgsql as $$
    begin
      raise exception '% is a meeting record and is kept (% refused)', tg_table_name, tg_op using errcode = 'insufficient_privilege';
    end $$`.execute(db);
  for (const table of ['meeting_ballots', 'meeting_vote_voters', 'meeting_sign_ins']) {
    await sql`create trigger ${sql.raw(`${table}_keep`)} before update or delete on ${sql.table(table)} for each row execute function meeting_record_guard()`.execute(db);
  }
  for (const table of ['meeting_sessions', 'meeting_participants', 'meeting_documents', 'meeting_votes', 'meeting_vote_counts', 'meeting_minutes', 'meeting_agenda_items']) {
    await sql`create trigger ${sql.raw(`${table}_keep`)} before delete on ${sql.table(table)} for each row execute function meeting_record_guard()`.execute(db);
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of [
    'meeting_minutes',
    'meeting_vote_counts',
    'meeting_ballots',
    'meeting_vote_voters',
    'meeting_votes',
    'meeting_annotations',
    'meeting_presenter',
    'meeting_documents',
    'meeting_seats',
    'meeting_sign_ins',
    'meeting_participants',
    'meeting_agenda_items',
    'meeting_sessions',
  ]) {
    await sql`drop table if exists ${sql.table(table)} cascade`.execute(db);
  }
  await sql`drop function if exists meeting_record_guard`.execute(db);
  await sql`drop function if exists meeting_vote_count_guard`.execute(db);
  // The kiosks migration (after this one) names the rooms.
  await sql`drop table if exists meeting_rooms cascade`.execute(db);
}
