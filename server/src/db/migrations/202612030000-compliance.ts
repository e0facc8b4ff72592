import { sql, type Kysely } from 'kysely';

/**
 * Evaluation and improvement (T/ZSM 0038-2024 chapter 7): each evaluation is kept with the summary of
 * its report and the hash of the HTML handed to the evaluators (Z7.2: history kept), and corrective
 * actions are tracked per requirement until closed (Z7.4). Evaluations are history: never changed.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table compliance_evaluations (
      id serial primary key,
      evaluated_at timestamptz not null,
      evaluator text not null check (length(evaluator) between 1 and 200),
      kind text not null check (kind in ('self', 'third_party')),
      summary jsonb not null,
      report_sha256 text not null check (report_sha256 ~ '^[0-9a-f]{64}$'),
      recorded_by text not null
    )`.execute(db);
  await sql`
    create function compliance_evaluations_keep() returns trigger language plpgsql as $$
    begin
      raise exception 'an evaluation is history (% refused)', tg_op using errcode = 'insufficient_privilege';
    end $$`.execute(db);
  await sql`create trigger compliance_evaluations_keep before update or delete on compliance_evaluations for each row execute function compliance_evaluations_keep()`.execute(db);

  await sql`
    create table compliance_actions (
      id serial primary key,
      requirement_id text not null check (requirement_id ~ '^(Z[0-9]+(\\.[0-9]+)*[a-f]?|G-[a-z]+)$'),
      evaluation_id integer references compliance_evaluations (id),
      title text not null check (length(title) between 1 and 500),
      owner text not null check (length(owner) between 1 and 100),
      due_on date not null,
      status text not null default 'open' check (status in ('open', 'done')),
      created_at timestamptz not null,
      created_by text not null,
      closed_at timestamptz,
      closed_by text,
      resolution text check (length(resolution) <= 2000),
      check ((status = 'done') = (closed_at is not null and resolution is not null))
    )`.execute(db);
  await sql`create index compliance_actions_open on compliance_actions (status, due_on)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table if exists compliance_actions`.execute(db);
  await sql`drop table if exists compliance_evaluations`.execute(db);
  await sql`drop function if exists compliance_evaluations_keep`.execute(db);
}
