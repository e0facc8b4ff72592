import { sql, type Kysely } from 'kysely';

/**
 * The client portal (客户门户): a firm's client sees its notices, signs, confirms drafts, requests
 * invoices and rates the service. A lawyer hands the client a one-time access code (24 h … 7 days);
 * the client's browser exchanges it for a session token. Both are stored only as SHA-256 hashes.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table client_portal_codes (
      id serial primary key,
      client_id integer not null references clients (id) on delete cascade,
      code_hash text not null unique,
      expires_at timestamptz not null,
      used_at timestamptz,
      created_by integer not null references users (id),
      created_at timestamptz not null
    )`.execute(db);
  await sql`create index client_portal_codes_client_idx on client_portal_codes (client_id)`.execute(db);
  await sql`
    create table client_portal_sessions (
      id serial primary key,
      client_id integer not null references clients (id) on delete cascade,
      token_hash text not null unique,
      created_at timestamptz not null,
      expires_at timestamptz not null,
      last_seen_at timestamptz not null,
      source_ip text,
      revoked_at timestamptz
    )`.execute(db);
  await sql`create index client_portal_sessions_client_idx on client_portal_sessions (client_id)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table if exists client_portal_sessions`.execute(db);
  await sql`drop table if exists client_portal_codes`.execute(db);
}
