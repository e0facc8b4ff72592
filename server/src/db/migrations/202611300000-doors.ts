import { sql, type Kysely } from 'kysely';

/**
 * Doors, the credentials that open them and the signed access lists the agents decide from
 * (门禁: clause 4.2, hardware layer). The agents hold a copy of the list and decide offline, so the
 * database keeps what was signed for each agent, and never a QR token: only its salted digest.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  // Door, lock and reader ids appear in MQTT payloads and topics, like device ids.
  await sql`create table doors (
    id text primary key check (id ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
    agent_id text not null references agents(id),
    name text not null,
    lock_device text not null check (lock_device ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
    relay_channel integer check (relay_channel between 1 and 16),
    readers text[] not null check (cardinality(readers) between 1 and 16),
    pulse_ms integer not null check (pulse_ms between 100 and 60000),
    fail_mode text not null check (fail_mode in ('fail_secure', 'fail_safe')),
    created_at timestamptz not null,
    updated_at timestamptz not null
  )`.execute(db);
  await sql`create index doors_agent_idx on doors (agent_id)`.execute(db);

  // A credential is a staff card (its number, as the agent normalises reads), a staff QR code or a
  // visitor pass (QR or card); the last two are kept only as the salted digest the list carries.
  // One schedule per credential: the list has one entry per credential, with one set of windows.
  await sql`create table access_credentials (
    id serial primary key,
    kind text not null check (kind in ('card', 'qr', 'visitor_pass')),
    medium text not null check (medium in ('card', 'qr')),
    card_number text check (card_number ~ '^[0-9A-F]{2,32}$'),
    digest text check (digest ~ '^sha256:[0-9a-f]{64}$'),
    holder_user_id integer references users(id),
    visitor_name text,
    windows jsonb not null,
    valid_from timestamptz,
    valid_until timestamptz,
    revoked_at timestamptz,
    created_by integer references users(id),
    created_at timestamptz not null,
    check ((kind = 'card') = (card_number is not null)),
    check ((kind = 'card') = (digest is null)),
    check (kind <> 'card' or medium = 'card'),
    check (kind <> 'qr' or medium = 'qr'),
    check ((kind = 'visitor_pass') = (visitor_name is not null)),
    check (kind = 'card' or valid_until is not null),
    check (valid_from is null or valid_until is null or valid_from < valid_until)
  )`.execute(db);
  await sql`create index access_credentials_card_idx on access_credentials (card_number) where revoked_at is null`.execute(db);
  await sql`create index access_credentials_digest_idx on access_credentials (digest) where revoked_at is null`.execute(db);

  await sql`create table access_grants (
    credential_id integer not null references access_credentials(id) on delete cascade,
    door_id text not null references doors(id),
    primary key (credential_id, door_id)
  )`.execute(db);
  await sql`create index access_grants_door_idx on access_grants (door_id)`.execute(db);

  await sql`create table access_signing_keys (
    key_id text primary key check (key_id ~ '^[A-Za-z0-9._:-]{1,64}$'),
    alg text not null check (alg = 'ed25519'),
    public_pem text not null,
    private_pem text not null,
    created_at timestamptz not null,
    retired_at timestamptz
  )`.execute(db);

  // The list as last signed for each agent: served for diagnosis and published again after a broker restart.
  await sql`create table access_list_versions (
    agent_id text primary key references agents(id),
    version integer not null check (version >= 1),
    published_at timestamptz not null,
    sha256 text not null,
    content_sha256 text not null,
    list jsonb not null
  )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['access_list_versions', 'access_signing_keys', 'access_grants', 'access_credentials', 'doors']) {
    await sql`drop table if exists ${sql.table(table)} cascade`.execute(db);
  }
  await sql`delete from settings where key = 'access_credential_salt'`.execute(db);
}
