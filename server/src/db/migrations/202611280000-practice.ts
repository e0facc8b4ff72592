import { sql, type Kysely } from 'kysely';

/** Clients, matters, conflict checks, collaboration and matter tracking (Z5.3, Z6.3.3). */
export async function up(db: Kysely<unknown>): Promise<void> {
  // Tasks are assigned across offices and departments (Z6.3.3.3).
  await sql`alter table users add column office text, add column department text`.execute(db);

  // 客户: natural persons and organisations. Identifiers are stored normalised (upper case, no spaces).
  await sql`create table clients (
    id serial primary key,
    kind text not null check (kind in ('person', 'organization')),
    name text not null,
    id_type text,
    id_number text,
    uscc text,
    -- GB 32100: early pilot codes fail the check digit and are still legal, so this warns, never rejects
    uscc_check_failed boolean not null default false,
    legal_representative text,
    legal_representative_id_number text,
    contact_name text,
    phone text,
    email text,
    address text,
    aliases text[] not null default '{}',
    notes text,
    created_by integer not null references users(id),
    created_at timestamptz not null,
    updated_at timestamptz not null
  )`.execute(db);
  await sql`create unique index clients_id_number_key on clients (id_type, id_number) where id_number is not null`.execute(db);
  await sql`create unique index clients_uscc_key on clients (uscc) where uscc is not null`.execute(db);
  await sql`create index clients_name_idx on clients (name)`.execute(db);

  // Shareholders and partners of an organisation client, with their own identifiers.
  await sql`create table client_members (
    id serial primary key,
    client_id integer not null references clients(id) on delete cascade,
    relation text not null check (relation in ('shareholder', 'partner')),
    kind text not null check (kind in ('person', 'organization')),
    name text not null,
    id_number text,
    uscc text,
    share_percent numeric(6, 3)
  )`.execute(db);
  await sql`create index client_members_client_idx on client_members (client_id)`.execute(db);

  // 利益冲突检索: the query and the hits are fixed at creation; only the review decision is added, once.
  await sql`create table conflict_checks (
    id serial primary key,
    purpose text not null check (purpose in ('intake', 'ad_hoc', 'new_party')),
    query jsonb not null,
    hits jsonb not null,
    hit_count integer not null,
    report_hash text not null,
    created_by integer not null references users(id),
    created_at timestamptz not null,
    matter_id integer,
    status text not null check (status in ('pending_review', 'clear', 'conflict', 'waived')),
    decided_by integer references users(id),
    decided_at timestamptz,
    decision_note text,
    consent jsonb
  )`.execute(db);
  await sql`create index conflict_checks_status_idx on conflict_checks (status, created_at)`.execute(db);
  await sql`create function conflict_checks_guard() returns trigger language plpgsql as $$
    begin
      if tg_op = 'DELETE' then
        raise exception 'conflict checks are kept for good (DELETE refused)' using errcode = 'insufficient_privilege';
      end if;
      if new.query is distinct from old.query or new.hits is distinct from old.hits
         or new.hit_count is distinct from old.hit_count or new.report_hash is distinct from old.report_hash
         or new.created_by is distinct from old.created_by or new.created_at is distinct from old.created_at
         or new.purpose is distinct from old.purpose then
        raise exception 'a conflict check report is immutable' using errcode = 'insufficient_privilege';
      end if;
      if old.matter_id is not null and new.matter_id is distinct from old.matter_id then
        raise exception 'a conflict check belongs to one matter' using errcode = 'insufficient_privilege';
      end if;
      if old.status <> 'pending_review' and (new.status is distinct from old.status
         or new.decided_by is distinct from old.decided_by or new.decided_at is distinct from old.decided_at
         or new.decision_note is distinct from old.decision_note or new.consent is distinct from old.consent) then
        raise exception 'a conflict check decision is final' using errcode = 'insufficient_privilege';
      end if;
      return new;
    end $$`.execute(db);
  await sql`create trigger conflict_checks_immutable before update or delete on conflict_checks
    for each row execute function conflict_checks_guard()`.execute(db);

  // 案件编号 sequence per year and matter type: the row lock serialises concurrent allocations.
  await sql`create table matter_sequences (
    year integer not null,
    type text not null,
    last integer not null,
    primary key (year, type)
  )`.execute(db);

  await sql`create table matters (
    id serial primary key,
    number text not null unique,
    title text not null,
    type text not null,
    cause text,
    court text,
    stage text,
    status text not null check (status in ('pending_conflict_review', 'open', 'suspended', 'closed', 'declined')),
    fee_arrangement text,
    fee_amount numeric(14, 2),
    responsible_lawyer_id integer not null references users(id),
    conflict_check_id integer not null references conflict_checks(id),
    intake jsonb not null,
    client_informed_at timestamptz,
    client_informed_by integer references users(id),
    client_informed_method text,
    client_informed_note text,
    closing_summary text,
    created_by integer not null references users(id),
    created_at timestamptz not null,
    updated_at timestamptz not null,
    opened_at timestamptz,
    closed_at timestamptz
  )`.execute(db);
  await sql`create index matters_status_idx on matters (status, updated_at)`.execute(db);
  await sql`create index matters_created_by_idx on matters (created_by)`.execute(db);
  await sql`alter table conflict_checks add foreign key (matter_id) references matters(id)`.execute(db);

  // 承办律师 and the team: visibility for ordinary users follows membership (Z6.3.3.4).
  await sql`create table matter_team (
    matter_id integer not null references matters(id) on delete cascade,
    user_id integer not null references users(id),
    role text not null check (role in ('responsible', 'member')),
    added_at timestamptz not null,
    primary key (matter_id, user_id)
  )`.execute(db);
  await sql`create index matter_team_user_idx on matter_team (user_id)`.execute(db);

  await sql`create table parties (
    id serial primary key,
    matter_id integer not null references matters(id) on delete cascade,
    role text not null check (role in ('client', 'opposing', 'third_party', 'related')),
    kind text not null check (kind in ('person', 'organization')),
    name text not null,
    id_type text,
    id_number text,
    uscc text,
    legal_representative text,
    -- as entered at intake; with the client's record they make the party's conflict_index rows
    aliases text[] not null default '{}',
    shareholders jsonb not null default '[]',
    client_id integer references clients(id),
    created_at timestamptz not null
  )`.execute(db);
  await sql`create index parties_matter_idx on parties (matter_id)`.execute(db);
  await sql`create index parties_client_idx on parties (client_id) where client_id is not null`.execute(db);

  // Every name a conflict check searches, one row each: a party itself, its former names and aliases,
  // its legal representative and its shareholders. One narrow table keeps each search to index scans.
  await sql`create table conflict_index (
    id bigserial primary key,
    matter_id integer not null references matters(id) on delete cascade,
    party_id integer not null references parties(id) on delete cascade,
    relation text not null check (relation in ('party', 'alias', 'legal_representative', 'shareholder')),
    name text not null,
    name_norm text not null,
    pinyin text,
    -- organisation names of 4-8 characters: one key per position with that character blanked
    name_keys text[] not null default '{}',
    id_number text,
    uscc text
  )`.execute(db);
  await sql`create index conflict_index_id_number_idx on conflict_index (id_number) where id_number is not null`.execute(db);
  await sql`create index conflict_index_uscc_idx on conflict_index (uscc) where uscc is not null`.execute(db);
  await sql`create index conflict_index_name_idx on conflict_index (name)`.execute(db);
  await sql`create index conflict_index_norm_idx on conflict_index (name_norm)`.execute(db);
  await sql`create index conflict_index_pinyin_idx on conflict_index (pinyin) where pinyin is not null`.execute(db);
  await sql`create index conflict_index_trgm_idx on conflict_index using gin (name_norm gin_trgm_ops)`.execute(db);
  await sql`create index conflict_index_keys_idx on conflict_index using gin (name_keys)`.execute(db);
  await sql`create index conflict_index_party_idx on conflict_index (party_id)`.execute(db);

  // 工作记录与工作底稿 (Z6.3.3.2): append-only; a correction is a new record that names the one it corrects.
  await sql`create table work_records (
    id serial primary key,
    matter_id integer not null references matters(id) on delete cascade,
    kind text not null check (kind in ('work_log', 'working_paper', 'intake_note')),
    title text not null,
    content text not null,
    hours numeric(6, 2),
    occurred_on date not null,
    corrects_id integer references work_records(id),
    author_id integer not null references users(id),
    created_at timestamptz not null
  )`.execute(db);
  await sql`create index work_records_matter_idx on work_records (matter_id, created_at)`.execute(db);

  // Bills and payments, for the fee anomaly checks (Z6.3.3.5).
  await sql`create table matter_fees (
    id serial primary key,
    matter_id integer not null references matters(id) on delete cascade,
    kind text not null check (kind in ('bill', 'payment')),
    amount numeric(14, 2) not null check (amount > 0),
    occurred_on date not null,
    note text,
    recorded_by integer not null references users(id),
    created_at timestamptz not null
  )`.execute(db);
  await sql`create index matter_fees_matter_idx on matter_fees (matter_id)`.execute(db);

  // Tracking alerts: at most one open alert per matter and kind; resolved when the condition clears.
  await sql`create table matter_alerts (
    id serial primary key,
    matter_id integer not null references matters(id) on delete cascade,
    kind text not null,
    detail jsonb not null,
    raised_at timestamptz not null,
    resolved_at timestamptz
  )`.execute(db);
  await sql`create unique index matter_alerts_open_key on matter_alerts (matter_id, kind) where resolved_at is null`.execute(db);
  await sql`create table matter_alert_recipients (
    alert_id integer not null references matter_alerts(id) on delete cascade,
    user_id integer not null references users(id),
    acknowledged_at timestamptz,
    primary key (alert_id, user_id)
  )`.execute(db);
  await sql`create index matter_alert_recipients_user_idx on matter_alert_recipients (user_id)`.execute(db);

  // 协作: projects, tasks with subtasks, assignees, comments (Z6.3.3.3).
  await sql`create table projects (
    id serial primary key,
    name text not null,
    description text,
    matter_id integer references matters(id),
    status text not null check (status in ('active', 'completed', 'archived')),
    created_by integer not null references users(id),
    created_at timestamptz not null,
    updated_at timestamptz not null
  )`.execute(db);
  await sql`create table project_members (
    project_id integer not null references projects(id) on delete cascade,
    user_id integer not null references users(id),
    primary key (project_id, user_id)
  )`.execute(db);
  await sql`create table tasks (
    id serial primary key,
    project_id integer not null references projects(id) on delete cascade,
    parent_id integer references tasks(id),
    title text not null,
    description text,
    status text not null check (status in ('todo', 'in_progress', 'blocked', 'done', 'cancelled')),
    priority text not null check (priority in ('low', 'normal', 'high', 'urgent')),
    due_on date,
    created_by integer not null references users(id),
    created_at timestamptz not null,
    updated_at timestamptz not null,
    completed_at timestamptz
  )`.execute(db);
  await sql`create index tasks_project_idx on tasks (project_id)`.execute(db);
  await sql`create index tasks_parent_idx on tasks (parent_id) where parent_id is not null`.execute(db);
  await sql`create table task_assignees (
    task_id integer not null references tasks(id) on delete cascade,
    user_id integer not null references users(id),
    primary key (task_id, user_id)
  )`.execute(db);
  await sql`create index task_assignees_user_idx on task_assignees (user_id)`.execute(db);
  await sql`create table task_comments (
    id serial primary key,
    task_id integer not null references tasks(id) on delete cascade,
    author_id integer not null references users(id),
    body text not null,
    created_at timestamptz not null
  )`.execute(db);
  await sql`create index task_comments_task_idx on task_comments (task_id, created_at)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of [
    'task_comments', 'task_assignees', 'tasks', 'project_members', 'projects',
    'matter_alert_recipients', 'matter_alerts', 'matter_fees', 'work_records', 'conflict_index',
    'parties', 'matter_team', 'conflict_checks', 'matters', 'matter_sequences', 'client_members', 'clients',
  ]) {
    await sql`drop table if exists ${sql.table(table)} cascade`.execute(db);
  }
  await sql`drop function if exists conflict_checks_guard`.execute(db);
  await sql`alter table users drop column if exists office, drop column if exists department`.execute(db);
}
