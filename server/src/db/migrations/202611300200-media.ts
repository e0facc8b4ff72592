import { sql, type Kysely } from 'kysely';

/**
 * Camera recordings (Z5.5.3 process archive: video of reception, mediation and meetings). The file
 * lives in the data directory; the row holds its SHA-256 so any later change to the file is evident.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create table camera_recordings (
    id uuid primary key,
    device_id text not null,
    matter_id integer references matters(id),
    reason text not null,
    requested_by integer not null references users(id),
    seconds integer not null check (seconds between 1 and 3600),
    status text not null default 'recording' check (status in ('recording', 'stored', 'failed')),
    error text,
    bytes bigint,
    sha256 text check (sha256 ~ '^[0-9a-f]{64}$'),
    duration_s numeric(8, 2),
    requested_at timestamptz not null,
    stored_at timestamptz
  )`.execute(db);
  await sql`create index camera_recordings_device_idx on camera_recordings (device_id, requested_at desc)`.execute(db);
  await sql`create index camera_recordings_matter_idx on camera_recordings (matter_id) where matter_id is not null`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table if exists camera_recordings`.execute(db);
}
