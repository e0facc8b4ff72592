import { sql, type Kysely } from 'kysely';

/**
 * Client evaluation after service (T/ZSM 0038-2024 Z5.6): six dimensions rated 1–5 and a comment,
 * once per client and matter, counted for the lawyer responsible when it was given (Z6.2.1.6: the
 * lawyer record carries client ratings). Invitations are kept so each closed matter invites its
 * clients once.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table evaluation_invitations (
      matter_id integer not null references matters (id),
      client_id integer not null references clients (id),
      notification_id integer,
      invited_at timestamptz not null,
      primary key (matter_id, client_id)
    )`.execute(db);

  await sql`
    create table evaluations (
      id serial primary key,
      matter_id integer not null references matters (id),
      client_id integer not null references clients (id),
      lawyer_id integer not null references users (id),
      functionality smallint not null check (functionality between 1 and 5),
      timeliness smallint not null check (timeliness between 1 and 5),
      security smallint not null check (security between 1 and 5),
      economy smallint not null check (economy between 1 and 5),
      comfort smallint not null check (comfort between 1 and 5),
      civility smallint not null check (civility between 1 and 5),
      comment text check (length(comment) <= 2000),
      sha256 text not null check (sha256 ~ '^[0-9a-f]{64}$'),
      submitted_at timestamptz not null,
      source_ip text,
      unique (matter_id, client_id)
    )`.execute(db);
  await sql`create index evaluations_lawyer on evaluations (lawyer_id, submitted_at)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table if exists evaluations`.execute(db);
  await sql`drop table if exists evaluation_invitations`.execute(db);
}
