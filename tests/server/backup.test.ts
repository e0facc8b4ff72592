import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { sql } from 'kysely';
import pg from 'pg';
import t from 'tap';
import type { Config } from '../../server/src/config.js';
import type { Actor } from '../../server/src/context.js';
import { migrateTo, migrateToLatest, openDatabase, type Db } from '../../server/src/db/index.js';
import { migrations } from '../../server/src/db/migrations/index.js';
import { verifyAuditChain } from '../../server/src/modules/audit/service.js';
import { BackupError, DecryptStream, HEADER_BYTES, MAGIC, parseHeader } from '../../server/src/modules/backup/format.js';
import { copyBackup, createBackup, newestBackup, pruneBackups, restoreBackup, verifyBackup } from '../../server/src/modules/backup/service.js';
import { loadDemoFirm } from '../../server/src/modules/demo/service.js';
import { mulberry32 } from '../helpers/fuzz.js';
import { createDatabase, createTestInstance, testConfig, USING_POSTGRES } from '../helpers/instance.js';

// Two restores into embedded PGlite directories (about 5 s each to create) besides the demo firm.
t.setTimeout(150_000);

const dirs = t.testdir({ source: {}, target: {}, crossTarget: {}, backups: {}, share: {}, rsynced: {}, prune: {}, bin: {} });
const keyFile = path.join(dirs, 'backup-key');
writeFileSync(keyFile, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
const otherKeyFile = path.join(dirs, 'other-key');
writeFileSync(otherKeyFile, randomBytes(32).toString('hex'), { mode: 0o600 });
const actor: Actor = { userId: null, username: 'cli:test', role: null, sourceIp: null };

const sourceDir = path.join(dirs, 'source');
const inst = await createTestInstance(t, { env: { LAWBOX_DATA_DIR: sourceDir, LAWBOX_BACKUP_KEY_FILE: keyFile, LAWBOX_BACKUP_DIR: path.join(dirs, 'backups') } });
if (!(await loadDemoFirm(inst.ctx))) throw new Error('the demo firm did not load');

// Values at the edges of each type's text form, beside the demo's realistic rows.
const db = inst.ctx.db;
await sql`insert into settings (key, value) values ('test.json_null', 'null'::jsonb), ('test.json_string', '"a\\"b\\n"'::jsonb), ('test.nested', ${JSON.stringify({ z: [1, 2.5, null, { 'é': '\u2028' }], a: '𠮷' })}::jsonb)`.execute(db);
const client = await db.selectFrom('clients').select('id').orderBy('id').executeTakeFirstOrThrow();
await sql`update clients set aliases = array['a,b', '{x}', '"q"', null, 'back\\slash', 'NULL', ''] where id = ${client.id}`.execute(db);
await sql`update users set last_login_at = '2026-01-02 03:04:05.123456+08', locked_until = 'infinity' where username = 'director'`.execute(db);
const fee = await db.selectFrom('matter_fees').select('id').orderBy('id').executeTakeFirstOrThrow();
await sql`update matter_fees set amount = 123456789012.34 where id = ${fee.id}`.execute(db);
const meetingDocument = await db.selectFrom('meeting_documents').select('id').orderBy('id').executeTakeFirst();
if (!meetingDocument) throw new Error('the demo has no meeting document to hold the bytea test value');
await sql`update meeting_documents set content = ${Buffer.from(Array.from({ length: 256 }, (_, i) => i))} where id = ${meetingDocument.id}`.execute(db);
// A sequence ahead of its table (rows deleted at the end): restored ids must not be reused.
await sql`select setval('users_id_seq', 500)`.execute(db);

// Stored files: the demo's documents and process files, plus a recording spanning several chunks and the TLS CA.
mkdirSync(path.join(sourceDir, 'media', 'recordings'), { recursive: true });
writeFileSync(path.join(sourceDir, 'media', 'recordings', 'cam-1.mp4'), randomBytes(300_000), { mode: 0o640 });
mkdirSync(path.join(sourceDir, 'tls'), { recursive: true });
writeFileSync(path.join(sourceDir, 'tls', 'ca.key'), 'PRIVATE KEY\n', { mode: 0o600 });
utimesSync(path.join(sourceDir, 'tls', 'ca.key'), new Date('2026-01-01T00:00:00Z'), new Date('2026-01-01T00:00:00Z'));
// Not part of a backup: a file still being written, live video segments.
writeFileSync(path.join(sourceDir, 'media', 'recordings', 'cam-2.part'), 'half');
mkdirSync(path.join(sourceDir, 'media', 'live', 'cam-1'), { recursive: true });
writeFileSync(path.join(sourceDir, 'media', 'live', 'cam-1', 'seg1.ts'), 'live');

/** Per table: its row count and a digest of its rows' text forms, as the database itself prints them. */
async function tableDigests(target: Db): Promise<Record<string, string>> {
  return target.transaction().execute(async (trx) => {
    await sql`set local timezone = 'UTC'`.execute(trx);
    await sql`set local datestyle = 'ISO, YMD'`.execute(trx);
    const { rows: tables } = await sql<{ name: string }>`select tablename as name from pg_tables where schemaname = 'public' and tablename not like 'schema_migrations%' order by 1`.execute(trx);
    const digests: Record<string, string> = {};
    for (const { name } of tables) {
      const { rows } = await sql<{ n: string; digest: string }>`select count(*)::text as n, md5(coalesce(string_agg(r::text, E'\n' order by r::text), '')) as digest from ${sql.id(name)} r`.execute(trx);
      digests[name] = `${rows[0]!.n} rows ${rows[0]!.digest}`;
    }
    return digests;
  });
}

async function sequences(target: Db): Promise<Record<string, string>> {
  const { rows } = await sql<{ name: string }>`select relname as name from pg_class where relkind = 'S' and relnamespace = 'public'::regnamespace order by 1`.execute(target);
  const values: Record<string, string> = {};
  for (const { name } of rows) {
    const { rows: v } = await sql<{ v: string }>`select last_value::text || ' ' || is_called::text as v from ${sql.id(name)}`.execute(target);
    values[name] = v[0]!.v;
  }
  return values;
}

/** relative path → SHA-256 of every file under the stored-file folders. */
function storedFiles(dataDir: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const folder of ['documents', 'process-files', 'media', 'tls']) {
    const root = path.join(dataDir, folder);
    if (!existsSync(root)) continue;
    for (const rel of readdirSync(root, { recursive: true }) as string[]) {
      const abs = path.join(root, rel);
      if (statSync(abs).isFile()) files[`${folder}/${rel}`] = createHash('sha256').update(readFileSync(abs)).digest('hex');
    }
  }
  return files;
}

const sourceDigests = await tableDigests(db);
const sourceSequences = await sequences(db);
const sourceAudit = (await sql<{ r: string }>`select r::text as r from audit_log r order by seq`.execute(db)).rows.map((x) => x.r);
const backup = await createBackup(inst.ctx, actor, { out: path.join(dirs, 'backups') });
const bytes = readFileSync(backup.path);
const CHUNK = 64 * 1024 + 16;

function targetConfig(dataDir: string, databaseUrl: string | null, keyPath = keyFile): Config {
  return testConfig({ LAWBOX_DATA_DIR: dataDir, DATABASE_URL: databaseUrl ?? '', LAWBOX_BACKUP_KEY_FILE: keyPath });
}

/** The code of the BackupError `fn` rejects with, or what happened instead. */
async function refusal(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
    return 'accepted';
  } catch (err) {
    return err instanceof BackupError ? err.code : `not a BackupError: ${String(err)}`;
  }
}

let variant = 0;
/** Verifies a changed copy of the backup; returns the refusal code and the message. */
async function verifyVariant(content: Buffer, keyPath = keyFile): Promise<{ code: string; message: string }> {
  const file = path.join(dirs, `variant-${++variant}.lbk`);
  writeFileSync(file, content);
  try {
    await verifyBackup(targetConfig(dirs, null, keyPath), file);
    return { code: 'accepted', message: '' };
  } catch (err) {
    return err instanceof BackupError ? { code: err.code, message: err.message } : { code: `not a BackupError: ${String(err)}`, message: '' };
  }
}

/**
 * A restore target: a new PostgreSQL database owned by a role that is not a superuser (as lawbox's
 * role is in production), or an embedded instance in a new directory.
 */
async function newTarget(name: string, engine: 'postgres' | 'pglite'): Promise<{ config: Config; open: () => Promise<{ db: Db; close: () => Promise<void> }> }> {
  const dataDir = path.join(dirs, name);
  let databaseUrl: string | null = null;
  if (engine === 'postgres') {
    const owner = `lawbox_restore_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await admin.connect();
    await admin.query(`create role ${owner} login`);
    await admin.query(`create database ${owner} owner ${owner} template template0 encoding 'UTF8' lc_collate 'C.UTF-8' lc_ctype 'C.UTF-8'`);
    await admin.end();
    t.teardown(async () => {
      const c = new pg.Client({ connectionString: process.env.DATABASE_URL });
      await c.connect();
      await c.query(`drop database if exists ${owner} with (force)`);
      await c.query(`drop role if exists ${owner}`);
      await c.end();
    });
    const url = new URL(process.env.DATABASE_URL!);
    url.username = owner;
    url.pathname = `/${owner}`;
    databaseUrl = url.toString();
  }
  return {
    config: targetConfig(dataDir, databaseUrl),
    open: async () => {
      const database = await openDatabase({ databaseUrl, dataDir: databaseUrl ? null : dataDir });
      return { db: database.db, close: () => database.close() };
    },
  };
}

// Made before the subtests start: the root test must not run out of work while set-up is awaited.
const engine = USING_POSTGRES ? 'postgres' : 'pglite';
const target = await newTarget('target', engine);

// A backup made by an older lawbox: a database four migrations behind, with one account in it.
const knownMigrations = Object.keys(migrations).sort();
const olderLevel = knownMigrations[knownMigrations.length - 5]!;
const older = await createDatabase(t);
await migrateTo(older.database.db, olderLevel);
await sql`insert into users (username, display_name, role, password_hash, password_changed_at, must_change_password, created_at)
  values ('old.timer', '老用户', 'lawyer', 'x', now(), false, now())`.execute(older.database.db);
const olderBackup = await createBackup({ db: older.database.db, config: targetConfig(path.join(dirs, 'older-source'), older.databaseUrl), clock: inst.clock }, actor, { out: path.join(dirs, 'older.lbk') });
// Its target was already migrated to this version (as `lawbox migrate` leaves it): restore goes down first.
const olderTarget = await newTarget('older-target', engine);
{
  const { db: migrated, close } = await olderTarget.open();
  await migrateToLatest(migrated);
  await close();
}

t.test('a backup holds every table, the stored files and a manifest, and nothing else', async (t) => {
  t.equal(path.dirname(backup.path), path.join(dirs, 'backups'), 'written into the directory given');
  t.match(path.basename(backup.path), /^lawbox-.+-20261127T010000Z\.lbk$/, 'named after the host and the UTC time of the (fake) clock');
  t.notOk(existsSync(`${backup.path}.part`), 'no .part file is left');
  t.equal(statSync(backup.path).mode & 0o777, 0o600, 'only the owner may read the file');
  t.ok(bytes.subarray(0, 8).equals(MAGIC), 'the file starts with LAWBOXBK');
  t.notOk(bytes.includes(Buffer.from('王建国')) || bytes.includes(Buffer.from('PRIVATE KEY')), 'nothing of the content shows in clear');
  const m = backup.manifest;
  t.equal(m.database.kind, USING_POSTGRES ? 'postgres' : 'pglite', 'the database kind is recorded');
  t.same(m.database.tables.map((x) => x.name).sort(), Object.keys(sourceDigests).sort(), 'every table of the schema is in it');
  t.ok(m.database.migrations.length > 10, 'the migrations applied are listed');
  const files = m.entries.filter((e) => e.path.startsWith('files/')).map((e) => e.path.slice(6)).sort();
  t.same(files, Object.keys(storedFiles(sourceDir)).filter((f) => !f.endsWith('.part') && !f.startsWith('media/live/')).sort(), 'every stored file, without .part files and live segments');
  t.ok(files.includes('tls/ca.key') && files.includes('media/recordings/cam-1.mp4'), 'the TLS CA and the recordings are included');
  t.ok(m.entries.every((e) => /^[0-9a-f]{64}$/.test(e.sha256)), 'each entry carries its SHA-256');
  const users = m.database.tables.find((x) => x.name === 'users')!;
  t.equal(users.rows, Number(sourceDigests.users!.split(' ')[0]), 'the row count of each table is recorded');
  const audit = await db.selectFrom('audit_log').select(['action', 'result', 'detail']).orderBy('seq', 'desc').executeTakeFirstOrThrow();
  t.match(audit, { action: 'backup.create', result: 'success', detail: { path: backup.path } }, 'the backup is recorded in the audit trail');
  t.same(await newestBackup(inst.config), { path: backup.path, createdAt: inst.clock.now(), sizeBytes: bytes.length }, 'newestBackup finds it for the compliance check');
});

t.test('verify accepts the backup and reports what it holds', async (t) => {
  const verified = await verifyBackup(inst.config, backup.path);
  t.equal(verified.rows, backup.rows, 'the same row count');
  t.equal(verified.manifest.files, backup.manifest.files, 'the same file count');
  t.equal(verified.sizeBytes, bytes.length, 'its size');
});

t.test('verify refuses every damaged copy and says what is wrong', async (t) => {
  t.ok(bytes.length > HEADER_BYTES + 4 * CHUNK, 'the backup spans several chunks, so chunk damage can be tested');
  const flipped = async (at: number) => {
    const copy = Buffer.from(bytes);
    copy[at]! ^= 0x01;
    return verifyVariant(copy);
  };
  t.equal((await flipped(0)).code, 'NOT_A_BACKUP', 'a flipped magic byte: not a backup');
  t.equal((await flipped(8)).code, 'UNSUPPORTED_VERSION', 'a flipped version byte: unsupported version');
  t.equal((await flipped(12)).code, 'DAMAGED', 'a flipped chunk-size byte: damaged');
  t.equal((await flipped(20)).code, 'WRONG_KEY', 'a flipped salt byte: the key does not open it');
  t.equal((await flipped(40)).code, 'WRONG_KEY', 'a flipped key-check byte: the key does not open it');
  for (const at of [HEADER_BYTES, HEADER_BYTES + CHUNK + 1000, HEADER_BYTES + 2 * CHUNK - 1, Math.floor(bytes.length / 2), bytes.length - 17, bytes.length - 1]) {
    const r = await flipped(at);
    t.equal(r.code, 'DAMAGED', `a flipped bit at byte ${at}: damaged`);
    t.match(r.message, /chunk \d+ \(bytes \d+–\d+\) does not authenticate/, 'the message names the chunk and its bytes');
  }

  t.equal((await verifyVariant(Buffer.alloc(0))).code, 'NOT_A_BACKUP', 'an empty file: not a backup');
  t.equal((await verifyVariant(Buffer.from('%PDF-1.7 not a backup'))).code, 'NOT_A_BACKUP', 'another kind of file: not a backup');
  for (const length of [5, HEADER_BYTES - 1, HEADER_BYTES, HEADER_BYTES + 10]) {
    t.equal((await verifyVariant(bytes.subarray(0, length))).code, 'TRUNCATED', `cut at ${length} bytes: truncated`);
  }
  for (const chunks of [1, 2, 3]) {
    const r = await verifyVariant(bytes.subarray(0, HEADER_BYTES + chunks * CHUNK));
    t.equal(r.code, 'TRUNCATED', `cut exactly after chunk ${chunks - 1}: truncated`);
    t.match(r.message, /end is missing/, 'the message says the end is missing');
  }
  // Inside a chunk, a cut cannot be told from damage (at least a tag's length of it remains in each case).
  for (const length of [HEADER_BYTES + CHUNK + 100, HEADER_BYTES + 2 * CHUNK + CHUNK / 2, bytes.length - 1]) {
    t.equal((await verifyVariant(bytes.subarray(0, length))).code, 'DAMAGED', `cut inside a chunk at ${length} bytes: refused`);
  }

  t.equal((await verifyVariant(bytes, otherKeyFile)).code, 'WRONG_KEY', 'another key: refused as the wrong key');
  for (const extra of [1, 100, 70_000]) {
    t.match((await verifyVariant(Buffer.concat([bytes, randomBytes(extra)]))).code, /^(DAMAGED|TRAILING_DATA)$/, `${extra} bytes appended: refused`);
  }
  const chunk = (i: number) => bytes.subarray(HEADER_BYTES + i * CHUNK, HEADER_BYTES + (i + 1) * CHUNK);
  const rest = bytes.subarray(HEADER_BYTES + 3 * CHUNK);
  const header = bytes.subarray(0, HEADER_BYTES);
  t.equal((await verifyVariant(Buffer.concat([header, chunk(0), chunk(2), chunk(1), rest]))).code, 'DAMAGED', 'chunks 1 and 2 swapped: damaged');
  t.equal((await verifyVariant(Buffer.concat([header, chunk(0), chunk(2), rest]))).code, 'DAMAGED', 'chunk 1 dropped: damaged');
  t.equal((await verifyVariant(Buffer.concat([header, chunk(0), chunk(1), chunk(1), chunk(2), rest]))).code, 'DAMAGED', 'chunk 1 repeated: damaged');

  t.equal(await refusal(() => verifyBackup(targetConfig(dirs, null, path.join(dirs, 'bin')), backup.path)), 'BAD_KEY', 'an unreadable key file (a directory) is refused');
  const shortKey = path.join(dirs, 'short-key');
  writeFileSync(shortKey, 'abcd\n');
  t.equal(await refusal(() => verifyBackup(targetConfig(dirs, null, shortKey), backup.path)), 'BAD_KEY', 'a key of 4 hex characters is refused');
  const noKey = testConfig({ LAWBOX_DATA_DIR: dirs, LAWBOX_BACKUP_KEY_FILE: '' });
  t.equal(await refusal(() => verifyBackup(noKey, backup.path)), 'NO_KEY', 'no key configured is refused');
  t.equal(await refusal(() => createBackup({ ...inst.ctx, config: noKey }, actor)), 'NO_KEY', 'and a backup cannot be made without one');
});

t.test('the header parser and the decryptor refuse random input with a BackupError only', async (t) => {
  const random = mulberry32(7);
  const bytesOf = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(random() * 256)));
  const outcomes = new Set<string>();
  for (let i = 0; i < 3000; i++) {
    // Half start like a real header, so the later fields are reached.
    const head = i % 2 ? bytes.subarray(0, Math.floor(random() * HEADER_BYTES)) : Buffer.alloc(0);
    const input = Buffer.concat([head, bytesOf(Math.floor(random() * 80))]);
    try {
      parseHeader(input);
      outcomes.add('parsed');
    } catch (err) {
      outcomes.add(err instanceof BackupError ? err.code : `other: ${String(err)}`);
    }
  }
  t.notOk([...outcomes].some((o) => o.startsWith('other')), `only BackupErrors: ${[...outcomes].join(', ')}`);
  t.ok(outcomes.has('NOT_A_BACKUP') && outcomes.has('TRUNCATED'), 'the fuzzing reached several refusals');

  const key = Buffer.from(readFileSync(keyFile, 'utf8').trim(), 'hex');
  const streamed = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const input = Buffer.concat([bytes.subarray(0, HEADER_BYTES), bytesOf(Math.floor(random() * 3000))]);
    if (i % 3 === 0) input[Math.floor(random() * HEADER_BYTES)]! ^= 1 << Math.floor(random() * 8);
    const pieces = [input.subarray(0, 7), input.subarray(7, 50), input.subarray(50)];
    try {
      await pipeline(Readable.from(pieces), new DecryptStream(key), async (source: AsyncIterable<Buffer>) => {
        for await (const _ of source);
      });
      streamed.add('accepted');
    } catch (err) {
      streamed.add(err instanceof BackupError ? err.code : `other: ${String(err)}`);
    }
  }
  t.notOk(streamed.has('accepted'), 'no random chunk authenticates');
  t.notOk([...streamed].some((o) => o.startsWith('other')), `only BackupErrors from the stream: ${[...streamed].join(', ')}`);
});

/** The assertions assertRestored makes, on whichever subtest runs it. */
interface Checks {
  same(found: unknown, wanted: unknown, message: string): unknown;
  equal(found: unknown, wanted: unknown, message: string): unknown;
  ok(value: unknown, message: string): unknown;
}

async function assertRestored(t: Checks, target: Awaited<ReturnType<typeof newTarget>>, label: string): Promise<void> {
  const { db: restored, close } = await target.open();
  try {
    const digests = await tableDigests(restored);
    const expected = { ...sourceDigests };
    // The restore itself adds one audit record after the backup's chain.
    delete expected.audit_log;
    const { audit_log: auditDigest, ...rest } = digests;
    t.same(rest, expected, `${label}: every table's rows are identical`);
    const restoredAudit = await sql<{ r: string }>`select r::text as r from audit_log r order by seq`.execute(restored);
    t.same(restoredAudit.rows.slice(0, -1).map((x) => x.r), sourceAudit, `${label}: the audit trail is the one backed up, record for record`);
    t.ok(auditDigest, `${label}: the audit table exists`);
    const last = await restored.selectFrom('audit_log').select(['action', 'actor']).orderBy('seq', 'desc').executeTakeFirstOrThrow();
    t.same(last, { action: 'backup.restore', actor: 'cli:test' }, `${label}: the restore is recorded in the audit trail`);
    const chain = await verifyAuditChain(restored);
    t.equal(chain.ok, true, `${label}: the audit hash chain verifies`);
    t.same(await sequences(restored), sourceSequences, `${label}: every sequence continues where the source left off`);
    const director = await sql<{ at: string; until: string }>`select to_char(last_login_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') as at, locked_until::text as until from users where username = 'director'`.execute(restored);
    t.same(director.rows[0], { at: '2026-01-01 19:04:05.123456', until: 'infinity' }, `${label}: microseconds and infinity survive`);
    const setting = await sql<{ v: string | null; kind: string }>`select value::text as v, jsonb_typeof(value) as kind from settings where key = 'test.json_null'`.execute(restored);
    t.same(setting.rows[0], { v: 'null', kind: 'null' }, `${label}: a JSON null stays a JSON null, not SQL NULL`);
  } finally {
    await close();
  }
  const expectedFiles = storedFiles(sourceDir);
  delete expectedFiles['media/recordings/cam-2.part'];
  delete expectedFiles['media/live/cam-1/seg1.ts'];
  t.same(storedFiles(target.config.dataDir), expectedFiles, `${label}: every stored file is back, byte for byte`);
  t.equal(statSync(path.join(target.config.dataDir, 'tls', 'ca.key')).mode & 0o777, 0o600, `${label}: file modes are kept`);
  t.equal(statSync(path.join(target.config.dataDir, 'tls', 'ca.key')).mtime.toISOString(), '2026-01-01T00:00:00.000Z', `${label}: and modification times`);
  t.same(readdirSync(target.config.dataDir).filter((n) => n.startsWith('.restore-')), [], `${label}: no staging directory is left`);
}

t.test('a restore that fails half-way leaves the empty target as it was', async (t) => {
  const damaged = path.join(dirs, 'damaged-later.lbk');
  writeFileSync(damaged, bytes);
  let cut = false;
  const code = await refusal(() =>
    restoreBackup(target.config, actor, damaged, {
      onProgress: (p) => {
        // The file is verified, then read again to restore: cut it while the rows go in.
        if (p.stage === 'restore' && p.rows > 0 && !cut) {
          cut = true;
          truncateSync(damaged, bytes.length - 5000);
        }
      },
    }),
  );
  t.ok(cut, 'the file was cut during the second pass');
  t.equal(code, 'DAMAGED', 'the restore fails on the cut file');
  const { db: after, close } = await target.open();
  try {
    t.equal((await after.selectFrom('users').select('id').execute()).length, 0, 'no account was restored: the transaction was rolled back');
    t.equal((await after.selectFrom('audit_log').select('seq').execute()).length, 0, 'and no audit record');
  } finally {
    await close();
  }
  t.same(storedFiles(target.config.dataDir), {}, 'no stored file was put in place');
  t.same(readdirSync(target.config.dataDir).filter((n) => n.startsWith('.restore-')), [], 'the staging directory is removed');
});

t.test('restore refuses a backup from a newer lawbox before changing anything', async (t) => {
  await sql`insert into schema_migrations (name, timestamp) values ('209912310000-future', '2099-12-31')`.execute(db);
  const future = await createBackup(inst.ctx, actor, { out: path.join(dirs, 'future.lbk') }).finally(() => sql`delete from schema_migrations where name = '209912310000-future'`.execute(db));
  const err = await restoreBackup(target.config, actor, future.path).catch((e: Error) => e);
  t.ok(err instanceof BackupError && err.code === 'NEWER_SCHEMA', 'refused as made by a newer version');
  t.match((err as Error).message, /does not know its migrations 209912310000-future\. Install that lawbox version or newer/, 'the message names the unknown migration and what to do');
  const { db: after, close } = await target.open();
  try {
    t.equal((await after.selectFrom('users').select('id').execute()).length, 0, 'the target still has no account');
  } finally {
    await close();
  }
  t.same(storedFiles(target.config.dataDir), {}, 'and no stored file');
});

t.test('a backup from an older version is restored at its own schema level, then migrated up', async (t) => {
  t.equal(olderBackup.manifest.database.migrations.at(-1), olderLevel, 'the backup records its schema level');
  const restored = await restoreBackup(olderTarget.config, actor, olderBackup.path);
  t.same(restored.upgradedBy, knownMigrations.slice(-4), 'the four later migrations ran after the rows went in');
  const { db: upgraded, close } = await olderTarget.open();
  try {
    const user = await upgraded.selectFrom('users').select(['username', 'display_name']).execute();
    t.same(user, [{ username: 'old.timer', display_name: '老用户' }], 'the account is there');
    const applied = await sql<{ name: string }>`select name from schema_migrations order by name`.execute(upgraded);
    t.same(applied.rows.map((r) => r.name), knownMigrations, 'the schema is at this version');
    t.equal((await verifyAuditChain(upgraded)).ok, true, 'the audit chain (just the restore record) verifies');
  } finally {
    await close();
  }
});

t.test(`restore puts every row and file back into an empty ${USING_POSTGRES ? 'PostgreSQL database owned by a role that is no superuser' : 'embedded instance'}`, async (t) => {
  const restored = await restoreBackup(target.config, actor, backup.path);
  t.equal(restored.rows, backup.rows, 'all rows restored');
  t.same(restored.upgradedBy, [], 'the backup was at this version’s schema: nothing more to migrate');
  t.equal(restored.audit.ok, true, 'the restore reports the audit chain intact');
  await assertRestored(t, target, engine);
});

t.test('restore refuses a target that is in use, and changes nothing', async (t) => {
  const { db: before, close } = await target.open();
  const digests = await tableDigests(before);
  await close();
  const files = storedFiles(target.config.dataDir);
  const err = await restoreBackup(target.config, actor, backup.path).catch((e: Error) => e);
  t.ok(err instanceof BackupError && err.code === 'TARGET_NOT_EMPTY', 'refused as not empty');
  t.match((err as Error).message, /already holds 8 stored files .*; nothing was changed/, 'the message says the target holds stored files');
  // With its files moved away, the database alone is found in use.
  const aside = path.join(dirs, 'target-files-aside');
  mkdirSync(aside);
  for (const folder of ['documents', 'process-files', 'media', 'tls']) renameSync(path.join(target.config.dataDir, folder), path.join(aside, folder));
  const dbErr = await restoreBackup(target.config, actor, backup.path).catch((e: Error) => e);
  for (const folder of ['documents', 'process-files', 'media', 'tls']) renameSync(path.join(aside, folder), path.join(target.config.dataDir, folder));
  t.ok(dbErr instanceof BackupError && dbErr.code === 'TARGET_NOT_EMPTY', 'a database in use is refused');
  t.match((dbErr as Error).message, /it has 10 accounts and \d+ audit records; nothing was changed/, 'the message says what the database holds');
  const { db: after, close: closeAfter } = await target.open();
  t.same(await tableDigests(after), digests, 'every table is unchanged');
  await closeAfter();
  t.same(storedFiles(target.config.dataDir), files, 'the files are unchanged');

  const filesOnly = targetConfig(path.join(dirs, 'files-only'), null);
  mkdirSync(path.join(filesOnly.dataDir, 'documents'), { recursive: true });
  writeFileSync(path.join(filesOnly.dataDir, 'documents', 'stray.pdf'), 'x');
  const stray = await restoreBackup(filesOnly, actor, backup.path).catch((e: Error) => e);
  t.ok(stray instanceof BackupError && stray.code === 'TARGET_NOT_EMPTY', 'a data directory that already holds stored files is refused too');
  t.match((stray as Error).message, /already holds 1 stored files \(e\.g\. documents\/stray\.pdf\)/, 'the message names a file');
  t.notOk(existsSync(path.join(filesOnly.dataDir, 'pgdata')), 'refused before any database was created there');
});

// Part of the PostgreSQL pass (its backup goes into PGlite); the embedded pass has no PostgreSQL to restore into.
if (USING_POSTGRES) {
  t.test('a backup from one engine restores into the other', async (t) => {
    const cross = await newTarget('crossTarget', 'pglite');
    await restoreBackup(cross.config, actor, backup.path);
    await assertRestored(t, cross, 'PostgreSQL → PGlite');
  });
}

t.test('copy puts a complete copy in a directory or sends it with rsync', async (t) => {
  const share = path.join(dirs, 'share');
  const copied = await copyBackup(inst.ctx, actor, backup.path, share);
  t.equal(copied, path.join(share, path.basename(backup.path)), 'copied under the same name');
  t.ok(readFileSync(copied).equals(bytes), 'byte for byte');
  t.same(readdirSync(share), [path.basename(backup.path)], 'no .part file is left');
  t.equal(await refusal(() => copyBackup(inst.ctx, actor, backup.path, path.join(dirs, 'not-mounted'))), 'COPY_FAILED', 'a missing directory is refused');

  // rsync runs for real; its remote shell is replaced by one that runs the remote side here.
  const rsh = path.join(dirs, 'bin', 'local-rsh');
  writeFileSync(rsh, '#!/bin/sh\nshift\nexec "$@"\n', { mode: 0o755 });
  const savedPath = process.env.PATH;
  try {
    process.env.RSYNC_RSH = rsh;
    const sent = await copyBackup(inst.ctx, actor, backup.path, `backuphost:${path.join(dirs, 'rsynced')}`);
    t.equal(sent, `backuphost:${path.join(dirs, 'rsynced')}/${path.basename(backup.path)}`, 'rsync reports the target');
    t.ok(readFileSync(path.join(dirs, 'rsynced', path.basename(backup.path))).equals(bytes), 'the rsynced copy is identical');
    process.env.PATH = path.join(dirs, 'bin');
    const missing = await copyBackup(inst.ctx, actor, backup.path, 'backuphost:/srv/backup').catch((e: Error) => e);
    t.match((missing as Error).message, /rsync is not installed/, 'without rsync the message says to install it');
  } finally {
    delete process.env.RSYNC_RSH;
    process.env.PATH = savedPath;
  }
  const audit = await db.selectFrom('audit_log').select('action').where('action', '=', 'backup.copy').execute();
  t.equal(audit.length, 2, 'each successful copy is recorded in the audit trail');
});

t.test('prune deletes backups past the retention, always keeping the newest', async (t) => {
  const dir = path.join(dirs, 'prune');
  const config = testConfig({ LAWBOX_BACKUP_DIR: dir, LAWBOX_BACKUP_KEEP_DAYS: '30', LAWBOX_BACKUP_KEY_FILE: keyFile });
  const ctx = { ...inst.ctx, config };
  const names = ['lawbox-box-20260101T020000Z.lbk', 'lawbox-box-20261001T020000Z.lbk', 'lawbox-box-20261029T020000Z.lbk', 'lawbox-box-20261120T020000Z.lbk'];
  for (const n of names) writeFileSync(path.join(dir, n), 'x');
  writeFileSync(path.join(dir, 'notes.txt'), 'not a backup');
  // now is 2026-11-27T01:00Z: 30 days back is 2026-10-28T01:00Z.
  const first = await pruneBackups(ctx, actor);
  t.same(first.deleted.map((b) => path.basename(b.path)).sort(), names.slice(0, 2), 'the two backups older than 30 days are deleted');
  t.same(readdirSync(dir).sort(), [...names.slice(2), 'notes.txt'].sort(), 'younger backups and other files stay');

  inst.clock.advance(400 * 86_400_000);
  const second = await pruneBackups(ctx, actor);
  t.same(second.deleted.map((b) => path.basename(b.path)), [names[2]], 'a year later all but the newest go');
  t.same(second.kept.map((b) => path.basename(b.path)), [names[3]], 'the newest is kept however old');
  t.same((await newestBackup(config))?.path, path.join(dir, names[3]!), 'and is still the newest');
  t.equal(await newestBackup(testConfig({ LAWBOX_BACKUP_DIR: path.join(dirs, 'nowhere') })), null, 'no backup directory: no backup');
  const audit = await db.selectFrom('audit_log').select('detail').where('action', '=', 'backup.prune').orderBy('seq').execute();
  t.same(audit.map((a) => [...(a.detail as { deleted: string[] }).deleted].sort()), [names.slice(0, 2), [names[2]]], 'each prune is recorded with what it deleted');
});

t.test('a stored file deleted or changed while the backup runs is left out or fails the backup cleanly', async (t) => {
  const docs = path.join(inst.config.dataDir, 'documents');
  mkdirSync(docs, { recursive: true });
  const gone = path.join(docs, 'zz-deleted-meanwhile.pdf');
  const shrinks = path.join(docs, 'zz-truncated-meanwhile.pdf');
  writeFileSync(gone, randomBytes(1000));
  writeFileSync(shrinks, randomBytes(200_000));
  t.teardown(() => rmSync(shrinks, { force: true }));

  // The files stage starts after the list is taken: that is when the server may delete or change one.
  const meanwhile = (change: () => void) => (p: { stage: string; filesDone: number }) => {
    if (p.stage === 'files' && p.filesDone === 0) change();
  };
  const left = await createBackup(inst.ctx, actor, { out: path.join(dirs, 'deleted-meanwhile.lbk'), onProgress: meanwhile(() => rmSync(gone, { force: true })) });
  t.notOk(left.manifest.entries.some((e) => e.path.endsWith('zz-deleted-meanwhile.pdf')), 'a file deleted since it was listed is left out');
  t.ok(left.manifest.entries.some((e) => e.path.endsWith('zz-truncated-meanwhile.pdf')), 'the others are there');
  await verifyBackup(targetConfig(dirs, null), left.path);

  const out = path.join(dirs, 'changed-meanwhile.lbk');
  t.equal(await refusal(() => createBackup(inst.ctx, actor, { out, onProgress: meanwhile(() => statSync(shrinks).size > 10 && truncateSync(shrinks, 10)) })), 'FILE_CHANGED', 'a file that shrank fails the backup with the reason');
  t.notOk(existsSync(out) || existsSync(`${out}.part`), 'and leaves no file behind, finished or not');
  const failure = await db.selectFrom('audit_log').select('detail').where('action', '=', 'backup.create').where('result', '=', 'failure').orderBy('seq', 'desc').executeTakeFirstOrThrow();
  t.match((failure.detail as { error: string }).error, /zz-truncated-meanwhile\.pdf changed while it was backed up/, 'the failure is recorded');
});
