import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  // pg_trgm powers fuzzy name matching (conflict checks); PGlite ships it as a contrib extension.
  await sql`create extension if not exists pg_trgm`.execute(db);

  await sql`create table users (
    id serial primary key,
    username text not null unique check (username ~ '^[a-z0-9][a-z0-9._-]{1,63}$'),
    display_name text not null,
    role text not null,
    password_hash text not null,
    password_changed_at timestamptz not null,
    must_change_password boolean not null,
    failed_logins integer not null default 0,
    locked_until timestamptz,
    disabled boolean not null default false,
    last_login_at timestamptz,
    created_at timestamptz not null
  )`.execute(db);

  // Only the SHA-256 of a session token is stored: a database leak yields no usable session.
  await sql`create table sessions (
    token_hash text primary key,
    user_id integer not null references users(id) on delete cascade,
    created_at timestamptz not null,
    last_seen_at timestamptz not null,
    expires_at timestamptz not null,
    revoked_at timestamptz,
    source_ip text,
    user_agent text
  )`.execute(db);
  await sql`create index sessions_user_idx on sessions (user_id)`.execute(db);

  await sql`create table setup_tokens (
    token_hash text primary key,
    created_at timestamptz not null,
    expires_at timestamptz not null,
    used_at timestamptz
  )`.execute(db);

  await sql`create table settings (
    key text primary key,
    value jsonb not null
  )`.execute(db);

  // Hash-chained, append-only audit trail (GB/T 22239 level 2, 安全审计).
  await sql`create table audit_log (
    seq bigint primary key,
    at timestamptz not null,
    actor text not null,
    action text not null,
    object text,
    result text not null check (result in ('success', 'failure', 'denied')),
    source_ip text,
    detail jsonb,
    prev_hash text not null,
    hash text not null
  )`.execute(db);
  await sql`create index audit_log_at_idx on audit_log (at)`.execute(db);
  await sql`create index audit_log_actor_idx on audit_log (actor, at)`.execute(db);

  // Rows may never be changed; they may be deleted only by the retention purge, which must
  // announce itself for the transaction and may only take rows older than the legal minimum.
  await sql`create function audit_log_guard() returns trigger language plpgsql as $$
    begin
      if tg_op = 'DELETE'
         and current_setting('lawbox.audit_purge', true) = 'on'
         and old.at < now() - interval '183 days' then
        return old;
      end if;
      raise exception 'audit_log is append-only (% refused)', tg_op using errcode = 'insufficient_privilege';
    end $$`.execute(db);
  await sql`create trigger audit_log_no_change before update or delete on audit_log
    for each row execute function audit_log_guard()`.execute(db);
  await sql`create function audit_log_no_truncate() returns trigger language plpgsql as $$
    begin
      raise exception 'audit_log is append-only (TRUNCATE refused)' using errcode = 'insufficient_privilege';
    end $$`.execute(db);
  await sql`create trigger audit_log_no_truncate before truncate on audit_log
    for each statement execute function audit_log_no_truncate()`.execute(db);
  // The chain anchor: after a purge, the first remaining row links to the last purged hash.
  await sql`create table audit_anchor (
    id boolean primary key default true check (id),
    seq bigint not null,
    hash text not null
  )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['audit_anchor', 'audit_log', 'settings', 'setup_tokens', 'sessions', 'users']) {
    await sql`drop table if exists ${sql.table(table)} cascade`.execute(db);
  }
  await sql`drop function if exists audit_log_guard`.execute(db);
  await sql`drop function if exists audit_log_no_truncate`.execute(db);
}
