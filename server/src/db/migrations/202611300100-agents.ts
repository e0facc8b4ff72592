import { sql, type Kysely } from 'kysely';

/**
 * Agent enrolment and device assignment: each agent has its own MQTT secret (stored as an argon2id
 * hash; the embedded broker checks it and confines the agent to its own topics), and each device
 * carries what the agent needs to drive it, published retained on `lawbox/agent/<agent>/config`.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table agents add column secret_hash text`.execute(db);
  await sql`alter table agents add column enrolled_at timestamptz`.execute(db);
  await sql`alter table agents add column config_version integer not null default 0`.execute(db);
  await sql`alter table devices add column transport jsonb`.execute(db);
  await sql`alter table devices add column settings jsonb`.execute(db);
  await sql`alter table devices add column enabled boolean not null default true`.execute(db);
  await sql`create index devices_agent_idx on devices (agent_id)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index if exists devices_agent_idx`.execute(db);
  for (const column of ['transport', 'settings', 'enabled']) await sql`alter table devices drop column if exists ${sql.ref(column)}`.execute(db);
  for (const column of ['secret_hash', 'enrolled_at', 'config_version']) await sql`alter table agents drop column if exists ${sql.ref(column)}`.execute(db);
}
