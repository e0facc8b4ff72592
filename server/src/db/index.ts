import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { Kysely, Migrator, PostgresDialect, sql, type MigrationResultSet } from 'kysely';
import pg from 'pg';
import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { PGliteDialect } from 'kysely-pglite-dialect';
import type { Database } from './schema.js';
import { migrations } from './migrations/index.js';

export type Db = Kysely<Database>;

export interface DatabaseHandle {
  db: Db;
  kind: 'postgres' | 'pglite';
  /** the PostgreSQL pool's counters, for /metrics; null for PGlite (one connection in-process) */
  pool: { readonly totalCount: number; readonly idleCount: number; readonly waitingCount: number } | null;
  /** LISTEN on a channel; NOTIFY is transactional, so only committed changes are announced. */
  listen(channel: string, onMessage: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export class DataDirInUseError extends Error {
  readonly code = 'DATA_DIR_IN_USE';
  override name = 'DataDirInUseError';
  constructor(dir: string, pid: number) {
    super(
      `the embedded database in ${dir} is in use by another lawbox process (pid ${pid}). ` +
        'PGlite allows one process at a time: stop that process (e.g. the running server) and try again, ' +
        'or run lawbox on PostgreSQL (DATABASE_URL) to use the CLI while the server runs.',
    );
  }
}

// pg returns bigint and numeric as strings by default; counts and sequence numbers fit in a JS number.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));
// A date in law (a deadline, the day a fee was paid) is a calendar day, not an instant: keep `YYYY-MM-DD`.
pg.types.setTypeParser(pg.types.builtins.DATE, (v) => v);
const DATE_OID = 1082;

export interface OpenOptions {
  databaseUrl: string | null;
  /** directory of the embedded database; null = in memory (tests) */
  dataDir: string | null;
}

export async function openDatabase(opts: OpenOptions): Promise<DatabaseHandle> {
  if (opts.databaseUrl) {
    const pool = new pg.Pool({ connectionString: opts.databaseUrl, max: 10 });
    // An idle connection the server ends (a restart, an administrator's terminate) is dropped by the
    // pool, which opens a new one for the next query. Unhandled, the pool's 'error' event would end
    // the whole process.
    pool.on('error', () => {});
    // Fail fast with the real reason (refused, auth, missing database) instead of at the first query.
    const client = await pool.connect().catch(async (err: Error) => {
      await pool.end();
      throw new Error(`cannot connect to PostgreSQL (DATABASE_URL): ${err.message}`);
    });
    client.release();
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    return { db, kind: 'postgres', pool, listen: (channel, onMessage) => listenPostgres(opts.databaseUrl!, channel, onMessage), close: () => db.destroy() };
  }
  let releaseLock = () => {};
  let dataDir: string | undefined;
  if (opts.dataDir) {
    const dir = path.join(opts.dataDir, 'pgdata');
    mkdirSync(dir, { recursive: true });
    releaseLock = lockDirectory(opts.dataDir);
    dataDir = dir;
  }
  try {
    const pglite = await PGlite.create({ dataDir, extensions: { pg_trgm }, parsers: { [DATE_OID]: (v: string) => v } });
    const db = new Kysely<Database>({ dialect: new PGliteDialect(pglite) });
    return {
      db,
      kind: 'pglite',
      pool: null,
      listen: async (channel, onMessage) => {
        const unlisten = await pglite.listen(channel, onMessage);
        return async () => {
          if (!pglite.closed) await unlisten();
        };
      },
      close: async () => {
        await db.destroy();
        releaseLock();
      },
    };
  } catch (err) {
    releaseLock();
    throw err;
  }
}

/**
 * A dedicated connection for LISTEN (a pooled one would be handed to other queries). If it drops,
 * it reconnects with a growing delay so notifications resume after a database restart.
 */
async function listenPostgres(url: string, channel: string, onMessage: (payload: string) => void): Promise<() => Promise<void>> {
  let client: pg.Client | null = null;
  let stopped = false;
  let delay = 500;
  const retry = (): void => {
    if (stopped) return;
    setTimeout(() => void connect().catch(retry), delay);
    delay = Math.min(delay * 2, 10_000);
  };
  const connect = async (): Promise<void> => {
    const c = new pg.Client({ connectionString: url });
    c.on('notification', (msg) => {
      if (msg.channel === channel && msg.payload !== undefined) onMessage(msg.payload);
    });
    c.on('error', () => {
      client = null;
      c.end().catch(() => {});
      retry();
    });
    await c.connect();
    await c.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
    delay = 500;
    client = c;
  };
  await connect();
  return async () => {
    stopped = true;
    await client?.end();
  };
}

/**
 * PGlite is one Postgres backend inside this process; a second process opening the same files would
 * corrupt them. An exclusive lock file holding our pid keeps the directory to one process; a lock
 * left by a process that no longer exists is taken over.
 */
function lockDirectory(dir: string): () => void {
  const lockPath = path.join(dir, 'lawbox.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockPath, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(lockPath, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(readFileSync(lockPath, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
        throw new DataDirInUseError(dir, pid);
      }
      rmSync(lockPath, { force: true });
    }
  }
  throw new Error(`cannot lock ${lockPath}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const migrator = (db: Db) =>
  new Migrator({ db, provider: { getMigrations: async () => migrations }, migrationTableName: 'schema_migrations', migrationLockTableName: 'schema_migrations_lock' });

function appliedOrThrow({ error, results }: MigrationResultSet): string[] {
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    const cause = error instanceof Error ? error.message : String(error ?? '');
    throw new Error(`migration ${failed?.migrationName ?? ''} failed: ${cause}`);
  }
  return (results ?? []).map((r) => r.migrationName);
}

export async function migrateToLatest(db: Db): Promise<string[]> {
  return appliedOrThrow(await migrator(db).migrateToLatest());
}

/** Migrates up or down to exactly the named migration: a restore brings an empty database to its backup's level. */
export async function migrateTo(db: Db, name: string): Promise<string[]> {
  return appliedOrThrow(await migrator(db).migrateTo(name));
}

export async function pingDatabase(db: Db): Promise<boolean> {
  try {
    await sql`select 1`.execute(db);
    return true;
  } catch {
    return false;
  }
}
