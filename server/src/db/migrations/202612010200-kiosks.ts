import { sql, type Kysely } from 'kysely';

/**
 * Kiosks: lobby check-in screens, meeting terminals and wall screens. Each is enrolled by an
 * administrator and holds its own token (stored as a SHA-256 hash), which grants only what its kind
 * of screen needs. A new kiosk gets a one-time enrolment code that the screen exchanges for the token.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table kiosks (
      id serial primary key,
      name text not null,
      kind text not null check (kind in ('lobby', 'meeting', 'wall')),
      room_id text references meeting_rooms (id) on delete set null,
      id_reader_device text references devices (id) on delete set null,
      enrolment_code_hash text unique,
      enrolment_expires_at timestamptz,
      token_hash text unique,
      enrolled_at timestamptz,
      revoked_at timestamptz,
      last_seen_at timestamptz,
      created_by integer references users (id),
      created_at timestamptz not null
    )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table if exists kiosks`.execute(db);
}
