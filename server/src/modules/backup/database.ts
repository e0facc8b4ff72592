import { sql, type Kysely } from 'kysely';

/**
 * The logical database dump: every row of every table as a JSON array of its columns' text forms
 * (what `COPY` writes, so every type round-trips exactly: bytea, timestamptz to the microsecond,
 * numeric, jsonb, arrays, a JSON `null` apart from SQL NULL) under fixed output settings. It reads
 * and writes the same on PostgreSQL and PGlite, so a backup of one restores into the other.
 */

// Any Kysely over the lawbox database (a transaction included); the dump reads the catalog, not the typed schema.
type AnyDb = Kysely<any>;

/** kysely's own bookkeeping: a restore recreates it by migrating the target. */
const MIGRATION_TABLES = new Set(['schema_migrations', 'schema_migrations_lock']);

export interface Column {
  name: string;
  /** `format_type` of the column, e.g. `timestamp with time zone`, `text[]` */
  type: string;
}

export interface Table {
  name: string;
  /** stored columns in table order (generated columns are left out: the target computes them) */
  columns: Column[];
  primaryKey: string[];
}

/** The tables of the lawbox schema, in name order, with their stored columns and primary key. */
export async function describeTables(db: AnyDb): Promise<Table[]> {
  const columns = await sql<{ table: string; column: string; type: string }>`
    select c.relname as table, a.attname as column, format_type(a.atttypid, a.atttypmod) as type
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    join pg_attribute a on a.attrelid = c.oid
    where n.nspname = 'public' and c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped and a.attgenerated = ''
    order by c.relname, a.attnum`.execute(db);
  const keys = await sql<{ table: string; column: string }>`
    select c.relname as table, a.attname as column
    from pg_index i
    join pg_class c on c.oid = i.indrelid
    join pg_namespace n on n.oid = c.relnamespace
    join pg_attribute a on a.attrelid = c.oid and a.attnum = any(i.indkey)
    where n.nspname = 'public' and i.indisprimary
    order by c.relname, array_position(i.indkey::int2[], a.attnum)`.execute(db);
  const tables = new Map<string, Table>();
  for (const c of columns.rows) {
    if (MIGRATION_TABLES.has(c.table)) continue;
    const table = tables.get(c.table) ?? { name: c.table, columns: [], primaryKey: [] };
    table.columns.push({ name: c.column, type: c.type });
    tables.set(c.table, table);
  }
  for (const k of keys.rows) tables.get(k.table)?.primaryKey.push(k.column);
  return [...tables.values()];
}

export interface ForeignKey {
  table: string;
  name: string;
}

/**
 * Defers every foreign-key check to `checkForeignKeys`, so rows can go in whatever the order: tables
 * point at each other (a matter at its conflict check and back), and the check tables refuse the
 * update that would close such a loop afterwards. Altering a constraint needs only table ownership,
 * unlike switching triggers off (session_replication_role needs a superuser); it is transactional,
 * so a failed restore rolls it back with the rows. No trigger lawbox defines fires on insert.
 */
export async function deferForeignKeys(db: AnyDb): Promise<ForeignKey[]> {
  const { rows } = await sql<ForeignKey>`
    select c.relname as table, k.conname as name
    from pg_constraint k
    join pg_class c on c.oid = k.conrelid
    join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public' and k.contype = 'f' and not k.condeferrable
    order by 1, 2`.execute(db);
  for (const k of rows) await sql`alter table ${sql.id('public', k.table)} alter constraint ${sql.id(k.name)} deferrable initially deferred`.execute(db);
  return rows;
}

/** Runs every deferred check now (a restored row pointing nowhere fails here), then makes the keys immediate again. */
export async function checkForeignKeys(db: AnyDb, keys: ForeignKey[]): Promise<void> {
  await sql`set constraints all immediate`.execute(db);
  for (const k of keys) await sql`alter table ${sql.id('public', k.table)} alter constraint ${sql.id(k.name)} not deferrable`.execute(db);
}

export interface SequenceValue {
  name: string;
  last_value: string;
  is_called: boolean;
}

/** Every sequence's position, so restored ids continue where the source left off (never reusing a deleted row's id). */
export async function readSequences(db: AnyDb): Promise<SequenceValue[]> {
  const names = await sql<{ name: string }>`
    select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public' and c.relkind = 'S' order by c.relname`.execute(db);
  const values: SequenceValue[] = [];
  for (const { name } of names.rows) {
    const { rows } = await sql<{ last_value: string; is_called: boolean }>`select last_value::text as last_value, is_called from ${sql.id('public', name)}`.execute(db);
    values.push({ name, last_value: rows[0]!.last_value, is_called: rows[0]!.is_called });
  }
  return values;
}

export async function restoreSequences(db: AnyDb, values: SequenceValue[]): Promise<void> {
  for (const v of values) {
    await sql`select setval(${`public.${quoteIdent(v.name)}`}::regclass, ${v.last_value}::bigint, ${v.is_called})`.execute(db);
  }
}

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;

/**
 * Text output that reads back the same whatever the server's defaults (the settings pg_dump uses);
 * call it first in the dump's and the restore's transaction.
 */
export async function useCanonicalTextFormats(db: AnyDb): Promise<void> {
  await sql`set local datestyle = 'ISO, YMD'`.execute(db);
  await sql`set local intervalstyle = 'postgres'`.execute(db);
  await sql`set local timezone = 'UTC'`.execute(db);
  await sql`set local extra_float_digits = 3`.execute(db);
  await sql`set local bytea_output = 'hex'`.execute(db);
}

/** Yields a table's rows, each a JSON array line, in batches; inside a transaction (the cursor needs one). */
export async function* dumpRows(db: AnyDb, table: Table, batchSize = 1000): AsyncGenerator<string[]> {
  const row = sql`array_to_json(array[${sql.join(table.columns.map((c) => sql`${sql.id(c.name)}::text`))}])::text`;
  const order = table.primaryKey.length ? sql`order by ${sql.join(table.primaryKey.map((c) => sql.id(c)))}` : sql``;
  await sql`declare lawbox_backup_rows no scroll cursor for select ${row} as line from ${sql.id('public', table.name)} ${order}`.execute(db);
  try {
    for (;;) {
      const { rows } = await sql<{ line: string }>`fetch forward ${sql.lit(batchSize)} from lawbox_backup_rows`.execute(db);
      if (rows.length) yield rows.map((r) => r.line);
      if (rows.length < batchSize) break;
    }
  } finally {
    await sql`close lawbox_backup_rows`.execute(db);
  }
}

/** Inserts rows produced by dumpRows into the same table of another database, converting each text form back with its column's type. */
export async function insertRows(db: AnyDb, table: Table, lines: string[]): Promise<void> {
  const values = sql.join(table.columns.map((c, i) => sql`(r ->> ${sql.lit(i)})::${sql.raw(c.type)}`));
  await sql`insert into ${sql.id('public', table.name)} (${sql.join(table.columns.map((c) => sql.id(c.name)))})
    overriding system value
    select ${values} from json_array_elements(${`[${lines.join(',')}]`}::json) as e(r)`.execute(db);
}
