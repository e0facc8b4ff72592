import { sql, type Kysely } from 'kysely';

/**
 * Matter archive (T/ZSM 0038-2024 Z6.3.5) and process archive (Z5.5.3).
 *
 * `archive_entries` is the matter archive's index: one row per record filed by any module (notices,
 * communications records, signed documents, process files, evaluations). The record itself stays in
 * its module's table; (source, source_id) names it, so filing the same record twice keeps one row.
 * Camera recordings are listed from their own table and are not copied here.
 *
 * `process_files` are photos, audio, video and files uploaded as evidence of the work, each in one of
 * the eight categories of Z5.5.3. The bytes live under the data directory; the row holds the SHA-256
 * computed while the upload streamed, so a later change to the file is evident.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table archive_entries (
      id serial primary key,
      matter_id integer not null references matters (id),
      kind text not null check (kind ~ '^[a-z][a-z0-9_.]{0,39}$'),
      title text not null check (length(title) between 1 and 300),
      source text not null check (source ~ '^[a-z][a-z0-9_.]{0,39}$'),
      source_id text not null check (length(source_id) between 1 and 100),
      sha256 text check (sha256 ~ '^[0-9a-f]{64}$'),
      filed_by integer references users (id),
      filed_at timestamptz not null,
      unique (source, source_id)
    )`.execute(db);
  await sql`create index archive_entries_matter on archive_entries (matter_id, filed_at)`.execute(db);

  await sql`
    create table process_files (
      id serial primary key,
      matter_id integer not null references matters (id),
      category text not null check (category in ('client_communication', 'opposing_party', 'authorities', 'third_party',
        'visit', 'material_preparation', 'drafting', 'research')),
      media_kind text not null check (media_kind in ('photo', 'audio', 'video', 'file')),
      content_type text not null,
      extension text not null check (extension ~ '^[a-z0-9]{1,5}$'),
      title text not null check (length(title) between 1 and 200),
      original_name text check (length(original_name) between 1 and 255),
      note text check (length(note) <= 2000),
      bytes bigint not null check (bytes > 0),
      sha256 text not null check (sha256 ~ '^[0-9a-f]{64}$'),
      storage_name text not null unique check (storage_name ~ '^[0-9a-f-]{36}[.][a-z0-9]{1,5}$'),
      uploaded_by integer not null references users (id),
      uploaded_at timestamptz not null
    )`.execute(db);
  await sql`create index process_files_matter on process_files (matter_id, uploaded_at)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table if exists process_files`.execute(db);
  await sql`drop table if exists archive_entries`.execute(db);
}
