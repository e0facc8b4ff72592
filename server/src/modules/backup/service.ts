import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { copyFile, lstat, mkdir, mkdtemp, open, readdir, rename, rm, stat, unlink, utimes } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { sql } from 'kysely';
import tar from 'tar-stream';
import type { Config } from '../../config.js';
import { systemClock } from '../../clock.js';
import type { Actor, ServiceContext } from '../../context.js';
import { migrateTo, migrateToLatest, openDatabase, type Db } from '../../db/index.js';
import { migrations as knownMigrations } from '../../db/migrations/index.js';
import { VERSION } from '../../version.js';
import { appendAudit, recordAudit, verifyAuditChain, type AuditVerification } from '../audit/service.js';
import { checkForeignKeys, deferForeignKeys, describeTables, dumpRows, insertRows, readSequences, restoreSequences, useCanonicalTextFormats, type Column, type SequenceValue, type Table } from './database.js';
import { BackupError, DecryptStream, EncryptStream, loadBackupKey } from './format.js';
import type { BackupProgress, ProgressListener } from './progress.js';

/**
 * The folders of the data directory that hold stored files (a module adding a file store adds its
 * folder here). `tls` is included so a restored box keeps the CA its browsers and agents trust.
 * Left out: `pgdata` (the embedded database, dumped logically instead), `backups`, live media
 * segments and the demo agent's state (both made anew at start), and `.part` files being written.
 */
export const STORED_FILE_FOLDERS = ['documents', 'process-files', 'media/recordings', 'tls'] as const;

const BACKUP_EXTENSION = '.lbk';
const BACKUP_NAME = /^lawbox-.+-(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z\.lbk$/;
const MANIFEST = 'manifest.json';
const MANIFEST_FORMAT = 'lawbox-backup';
const MANIFEST_VERSION = 1;
/** A table's rows go into parts of about this size, so no part is held in memory whole. */
const ROWS_PART_BYTES = 1024 * 1024;
/** Rows per INSERT when restoring. */
const INSERT_BATCH_BYTES = 1024 * 1024;

export interface ManifestEntry {
  path: string;
  size: number;
  sha256: string;
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  format_version: number;
  lawbox_version: string;
  created_at: string;
  instance: string;
  database: {
    kind: 'postgres' | 'pglite';
    server_version: string;
    /** kysely migrations applied, in order: the schema level the rows belong to */
    migrations: string[];
    tables: { name: string; columns: Column[]; rows: number }[];
    sequences: SequenceValue[];
  };
  files: number;
  /** every entry before the manifest, in order */
  entries: ManifestEntry[];
}

export interface BackupSummary {
  path: string;
  sizeBytes: number;
  manifest: Manifest;
  rows: number;
}

const noProgress: ProgressListener = () => {};
const totalRows = (m: Manifest) => m.database.tables.reduce((n, t) => n + t.rows, 0);

// ─── create ──────────────────────────────────────────────────────────────────────────────────────

/**
 * Writes an encrypted backup of the database and the stored files. `out` is a directory (the file
 * is named `lawbox-<host>-<UTC time>.lbk` inside) or a file path; by default LAWBOX_BACKUP_DIR.
 * The file appears under its name only when complete: it is written as `<name>.part`, synced and renamed.
 */
export async function createBackup(ctx: ServiceContext, actor: Actor, opts: { out?: string; onProgress?: ProgressListener } = {}): Promise<BackupSummary> {
  const key = loadBackupKey(ctx.config.backup.keyFile);
  const now = ctx.clock.now();
  const file = await chooseBackupPath(ctx.config, opts.out, now);
  const part = `${file}.part`;
  try {
    const manifest = await writeBackup(ctx, key, part, now, opts.onProgress ?? noProgress);
    await syncFile(part);
    await rename(part, file);
    await syncDirectory(path.dirname(file));
    const summary: BackupSummary = { path: file, sizeBytes: (await stat(file)).size, manifest, rows: totalRows(manifest) };
    await recordAudit(ctx.db, {
      at: ctx.clock.now(),
      actor: actor.username,
      action: 'backup.create',
      object: path.basename(file),
      result: 'success',
      sourceIp: actor.sourceIp,
      detail: { path: file, size_bytes: summary.sizeBytes, tables: manifest.database.tables.length, rows: summary.rows, files: manifest.files },
    });
    return summary;
  } catch (err) {
    await rm(part, { force: true });
    // The failure is worth a record too, unless the database itself is what failed.
    await recordAudit(ctx.db, {
      at: ctx.clock.now(),
      actor: actor.username,
      action: 'backup.create',
      object: path.basename(file),
      result: 'failure',
      sourceIp: actor.sourceIp,
      detail: { path: file, error: (err as Error).message },
    }).catch(() => {});
    throw err;
  }
}

async function chooseBackupPath(config: Config, out: string | undefined, now: Date): Promise<string> {
  const target = path.resolve(out ?? config.backup.dir);
  const isDirectory = out === undefined || out.endsWith('/') || (await stat(target).catch(() => null))?.isDirectory() === true;
  const file = isDirectory ? path.join(target, backupFileName(now)) : target;
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  if (existsSync(file)) throw new BackupError('ALREADY_EXISTS', `${file} already exists: a backup is never overwritten; choose another --out`);
  return file;
}

function backupFileName(at: Date): string {
  const instance = os.hostname().toLowerCase().replace(/[^a-z0-9.-]+/g, '-').replace(/^[-.]+|[-.]+$/g, '') || 'lawbox';
  return `lawbox-${instance}-${at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}${BACKUP_EXTENSION}`;
}

async function writeBackup(ctx: ServiceContext, key: Buffer, part: string, now: Date, onProgress: ProgressListener): Promise<Manifest> {
  const pack = tar.pack();
  const output = createWriteStream(part, { flags: 'wx', mode: 0o600 });
  let outputError: Error | null = null;
  const writing = pipeline(pack, new EncryptStream(key), output).catch((err: Error) => {
    outputError = err;
  });
  const entries: ManifestEntry[] = [];
  const progress: BackupProgress = { stage: 'database', tablesDone: 0, tablesTotal: null, rows: 0, filesDone: 0, filesTotal: null, bytesDone: 0, bytesTotal: null };
  const addBuffer = async (name: string, content: Buffer) => {
    entries.push({ path: name, size: content.length, sha256: createHash('sha256').update(content).digest('hex') });
    await new Promise<void>((resolve, reject) => pack.entry({ name, size: content.length, mode: 0o600, mtime: now }, content, (err) => (err ? reject(err) : resolve())));
  };

  try {
    const database = await ctx.db.transaction().setIsolationLevel('repeatable read').execute(async (trx) => {
      // One snapshot for every table: the rows are consistent with each other, as of one instant.
      await sql`set transaction read only`.execute(trx);
      await useCanonicalTextFormats(trx);
      const { rows: applied } = await sql<{ name: string }>`select name from schema_migrations order by name`.execute(trx);
      const { rows: version } = await sql<{ version: string }>`select version() as version`.execute(trx);
      const tables = await describeTables(trx);
      const sequences = await readSequences(trx);
      progress.tablesTotal = tables.length;
      onProgress(progress);
      const dumped: Manifest['database']['tables'] = [];
      for (const table of tables) {
        let rows = 0;
        let partNo = 0;
        let buffered: string[] = [];
        let bufferedBytes = 0;
        const flush = async () => {
          await addBuffer(`db/${table.name}/${String(++partNo).padStart(5, '0')}.jsonl`, Buffer.from(buffered.join(''), 'utf8'));
          buffered = [];
          bufferedBytes = 0;
        };
        for await (const lines of dumpRows(trx, table)) {
          for (const line of lines) {
            buffered.push(`${line}\n`);
            const bytes = Buffer.byteLength(line) + 1;
            bufferedBytes += bytes;
            progress.bytesDone += bytes;
          }
          rows += lines.length;
          progress.rows += lines.length;
          if (bufferedBytes >= ROWS_PART_BYTES) await flush();
          onProgress(progress);
        }
        // An empty table gets an empty part too, so every table shows in the stream (and in its progress).
        if (buffered.length || partNo === 0) await flush();
        dumped.push({ name: table.name, columns: table.columns, rows });
        progress.tablesDone++;
        onProgress(progress);
      }
      return { migrations: applied.map((r) => r.name), serverVersion: version[0]!.version, tables: dumped, sequences };
    });

    const files = await listStoredFiles(ctx.config.dataDir);
    Object.assign(progress, { stage: 'files', filesTotal: files.length, bytesDone: 0, bytesTotal: files.reduce((n, f) => n + f.size, 0) });
    onProgress(progress);
    for (const f of files) {
      const name = `files/${f.relPath}`;
      // Stored files are written once, but the server runs beside a PostgreSQL-mode backup: a file
      // deleted since it was listed is left out, and one that changed size fails the backup clearly.
      const handle = await open(f.absPath, 'r').catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return null;
        throw err;
      });
      if (!handle) {
        progress.filesDone++;
        continue;
      }
      const hash = createHash('sha256');
      let read = 0;
      let sink!: ReturnType<tar.Pack['entry']>;
      const finished = new Promise<void>((resolve, reject) => {
        sink = pack.entry({ name, size: f.size, mode: f.mode & 0o777, mtime: f.mtime }, (err) => (err ? reject(err) : resolve()));
      });
      // The entry's error also reaches the callback above; unheard, it would end the process. And a
      // backup that fails below never awaits `finished`, which then rejects when the pack is torn down.
      sink.on('error', () => {});
      finished.catch(() => {});
      try {
        if (f.size > 0) {
          for await (const chunk of handle.createReadStream({ start: 0, end: f.size - 1, autoClose: false }) as AsyncIterable<Buffer>) {
            hash.update(chunk);
            read += chunk.length;
            progress.bytesDone += chunk.length;
            if (!sink.write(chunk)) await Promise.race([once(sink, 'drain'), finished]);
            onProgress(progress);
          }
        }
      } finally {
        await handle.close();
      }
      if (read !== f.size) throw new BackupError('FILE_CHANGED', `${f.relPath} changed while it was backed up (${read} of ${f.size} bytes); run the backup again`);
      sink.end(undefined); // streamx: the optional last chunk
      await finished;
      entries.push({ path: name, size: f.size, sha256: hash.digest('hex') });
      progress.filesDone++;
      onProgress(progress);
    }

    const manifest: Manifest = {
      format: MANIFEST_FORMAT,
      format_version: MANIFEST_VERSION,
      lawbox_version: VERSION,
      created_at: now.toISOString(),
      instance: os.hostname(),
      database: {
        kind: ctx.config.databaseUrl ? 'postgres' : 'pglite',
        server_version: database.serverVersion,
        migrations: database.migrations,
        tables: database.tables,
        sequences: database.sequences,
      },
      files: entries.filter((e) => e.path.startsWith('files/')).length,
      entries: [...entries],
    };
    await addBuffer(MANIFEST, Buffer.from(JSON.stringify(manifest, null, 1), 'utf8'));
    pack.finalize();
    await writing;
    if (outputError) throw outputError;
    return manifest;
  } catch (err) {
    pack.destroy(err as Error);
    await writing;
    // A full disk or a vanished directory is the real cause of a pack that stopped taking entries.
    throw outputError ?? err;
  }
}

interface StoredFile {
  relPath: string;
  absPath: string;
  size: number;
  mode: number;
  mtime: Date;
}

/** Regular files under the stored-file folders, in a stable order. */
async function listStoredFiles(dataDir: string): Promise<StoredFile[]> {
  const found: StoredFile[] = [];
  const walk = async (rel: string): Promise<void> => {
    const entries = await readdir(path.join(dataDir, rel), { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [];
      throw err;
    });
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const childRel = `${rel}/${entry.name}`;
      if (entry.isDirectory()) await walk(childRel);
      // Unfinished writes (process files' .part, the TLS module's .tmp) are not part of the store.
      else if (entry.isFile() && !entry.name.endsWith('.part') && !entry.name.endsWith('.tmp')) {
        const absPath = path.join(dataDir, childRel);
        const s = await lstat(absPath);
        found.push({ relPath: childRel, absPath, size: s.size, mode: s.mode, mtime: s.mtime });
      }
    }
  };
  for (const folder of STORED_FILE_FOLDERS) await walk(folder);
  return found;
}

async function syncFile(file: string): Promise<void> {
  const handle = await open(file, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Makes a rename durable. Some network file systems cannot sync a directory; the rename still stands there. */
async function syncDirectory(dir: string): Promise<void> {
  await syncFile(dir).catch(() => {});
}

// ─── read (verify, and the second pass of restore) ──────────────────────────────────────────────

interface ReadVisitor {
  /** a batch of a table's rows, in the order they were dumped */
  rows?(table: string, lines: string[]): Promise<void>;
  /** a stored file; `content` must be read to its end */
  file?(relPath: string, mode: number, mtime: Date, content: AsyncIterable<Buffer>): Promise<void>;
}

/** A failure of the visitor (the database refusing a row, a full disk), passed on as it is rather than blamed on the backup. */
class VisitorFailure extends Error {
  constructor(readonly failure: unknown) {
    super('visitor failed');
  }
}

async function visit(fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    throw new VisitorFailure(err);
  }
}

type EntryKind = { kind: 'manifest' } | { kind: 'rows'; table: string } | { kind: 'file'; relPath: string };

/** What an entry's name says it holds; a name that could escape the data directory is refused. */
function classifyEntry(name: string): EntryKind {
  if (name === MANIFEST) return { kind: 'manifest' };
  const rows = /^db\/([a-z_][a-z0-9_]*)\/\d{5,}\.jsonl$/.exec(name);
  if (rows) return { kind: 'rows', table: rows[1]! };
  if (name.startsWith('files/')) {
    const relPath = name.slice('files/'.length);
    const segments = relPath.split('/');
    const safe = segments.every((s) => s !== '' && s !== '.' && s !== '..' && !s.includes('\0') && !s.includes('\\'));
    if (safe && STORED_FILE_FOLDERS.some((folder) => relPath.startsWith(`${folder}/`))) return { kind: 'file', relPath };
  }
  throw new BackupError('BAD_CONTENT', `the backup holds an unexpected entry "${name}": it was not made by lawbox, or by a newer version`);
}

/** Splits a stream into complete lines (a newline never occurs inside a UTF-8 character), in batches of about `batchBytes`. */
async function* lineBatches(content: AsyncIterable<Buffer>, batchBytes: number): AsyncGenerator<string[]> {
  let rest = Buffer.alloc(0);
  let batch: string[] = [];
  let size = 0;
  for await (const chunk of content) {
    let data = rest.length ? Buffer.concat([rest, chunk]) : chunk;
    let newline: number;
    while ((newline = data.indexOf(0x0a)) !== -1) {
      batch.push(data.toString('utf8', 0, newline));
      size += newline + 1;
      data = data.subarray(newline + 1);
      if (size >= batchBytes) {
        yield batch;
        batch = [];
        size = 0;
      }
    }
    rest = Buffer.from(data);
  }
  if (rest.length) throw new BackupError('BAD_CONTENT', 'a table part of the backup does not end with a complete row');
  if (batch.length) yield batch;
}

/**
 * Reads a backup from end to end: every chunk authenticated, every entry hashed and compared with
 * the manifest, every row checked to be a row of its table. Returns the manifest only if all holds.
 */
async function readBackup(file: string, key: Buffer, visitor: ReadVisitor, stage: 'verify' | 'restore', onProgress: ProgressListener, expected?: Manifest): Promise<{ manifest: Manifest; manifestSha256: string; sizeBytes: number }> {
  const sizeBytes = await backupFileSize(file);
  const progress: BackupProgress = {
    stage,
    tablesDone: 0,
    tablesTotal: expected?.database.tables.length ?? null,
    rows: 0,
    filesDone: 0,
    filesTotal: expected?.files ?? null,
    bytesDone: 0,
    bytesTotal: sizeBytes,
  };
  const source = createReadStream(file);
  source.on('data', (chunk) => {
    progress.bytesDone += chunk.length;
  });
  // The first failure is the one to report; the streams torn down after it fail with echoes of it.
  let readError: Error | null = null;
  source.on('error', (err: NodeJS.ErrnoException) => {
    if (err.syscall) readError ??= new Error(`cannot read ${file}: ${err.message}`);
  });
  const decrypt = new DecryptStream(key);
  decrypt.on('error', (err) => {
    if (err instanceof BackupError) readError ??= err;
  });
  const extract = tar.extract();
  const reading = pipeline(source, decrypt, extract);
  reading.catch(() => {}); // the same failure surfaces through the entry loop below

  const seen: ManifestEntry[] = [];
  const rowsSeen = new Map<string, { rows: number; widths: Set<number> }>();
  let manifestBytes: Buffer | null = null;
  let lastTable: string | null = null;
  try {
    for await (const entry of extract) {
      const name = entry.header.name;
      if (manifestBytes) throw new BackupError('BAD_CONTENT', `the backup goes on after its manifest (entry "${name}")`);
      if (entry.header.type !== 'file') throw new BackupError('BAD_CONTENT', `the backup holds "${name}" of type ${entry.header.type}; only files are expected`);
      const kind = classifyEntry(name);
      const hash = createHash('sha256');
      let size = 0;
      async function* hashed(): AsyncGenerator<Buffer> {
        for await (const chunk of entry as AsyncIterable<Buffer>) {
          hash.update(chunk);
          size += chunk.length;
          yield chunk;
        }
      }
      if (kind.kind === 'manifest') {
        const parts: Buffer[] = [];
        for await (const chunk of hashed()) parts.push(chunk);
        manifestBytes = Buffer.concat(parts);
        continue;
      }
      if (kind.kind === 'rows') {
        if (kind.table !== lastTable) {
          if (lastTable !== null) progress.tablesDone++;
          lastTable = kind.table;
        }
        const tally = rowsSeen.get(kind.table) ?? { rows: 0, widths: new Set<number>() };
        rowsSeen.set(kind.table, tally);
        for await (const lines of lineBatches(hashed(), INSERT_BATCH_BYTES)) {
          for (const line of lines) {
            const row: unknown = JSON.parse(line);
            tally.widths.add(Array.isArray(row) && row.every((v) => v === null || typeof v === 'string') ? row.length : -1);
          }
          tally.rows += lines.length;
          progress.rows += lines.length;
          if (visitor.rows) await visit(() => visitor.rows!(kind.table, lines));
          onProgress(progress);
        }
      } else {
        if (lastTable !== null) {
          progress.tablesDone++;
          lastTable = null;
        }
        if (visitor.file) await visit(() => visitor.file!(kind.relPath, (entry.header.mode ?? 0o640) & 0o777, entry.header.mtime ?? new Date(), hashed()));
        else for await (const _ of hashed());
        progress.filesDone++;
      }
      if (size !== entry.header.size) throw new BackupError('BAD_CONTENT', `entry "${name}" was not read to its end`);
      seen.push({ path: name, size, sha256: hash.digest('hex') });
      onProgress(progress);
    }
    await reading;
  } catch (err) {
    source.destroy();
    if (readError) throw readError;
    if (err instanceof VisitorFailure) throw err.failure;
    if (err instanceof BackupError) throw err;
    if (err instanceof SyntaxError) throw new BackupError('BAD_CONTENT', `a row of the backup is not valid JSON: ${err.message}`);
    throw new BackupError('BAD_CONTENT', `the backup's content is malformed: ${(err as Error).message}`);
  }
  if (lastTable !== null) progress.tablesDone++;
  onProgress(progress);

  if (!manifestBytes) throw new BackupError('BAD_CONTENT', 'the backup has no manifest: it was cut short while being written');
  const manifest = parseManifest(manifestBytes);
  if (seen.length !== manifest.entries.length) {
    throw new BackupError('BAD_CONTENT', `the backup holds ${seen.length} entries but its manifest lists ${manifest.entries.length}`);
  }
  manifest.entries.forEach((listed, i) => {
    const got = seen[i]!;
    if (got.path !== listed.path) throw new BackupError('BAD_CONTENT', `entry ${i + 1} is "${got.path}" but the manifest lists "${listed.path}"`);
    if (got.size !== listed.size || got.sha256 !== listed.sha256) {
      throw new BackupError('BAD_CONTENT', `"${got.path}" does not match its manifest entry (size ${got.size}, SHA-256 ${got.sha256}; listed ${listed.size}, ${listed.sha256})`);
    }
  });
  for (const table of rowsSeen.keys()) {
    if (!manifest.database.tables.some((t) => t.name === table)) throw new BackupError('BAD_CONTENT', `the backup holds rows of table ${table}, which its manifest does not list`);
  }
  for (const table of manifest.database.tables) {
    const tally = rowsSeen.get(table.name) ?? { rows: 0, widths: new Set<number>() };
    if (tally.rows !== table.rows) throw new BackupError('BAD_CONTENT', `table ${table.name} has ${tally.rows} rows in the backup but ${table.rows} in its manifest`);
    if ([...tally.widths].some((w) => w !== table.columns.length)) throw new BackupError('BAD_CONTENT', `a row of table ${table.name} is not an array of its ${table.columns.length} columns`);
  }
  const files = seen.filter((e) => e.path.startsWith('files/')).length;
  if (files !== manifest.files) throw new BackupError('BAD_CONTENT', `the backup holds ${files} files but its manifest counts ${manifest.files}`);
  return { manifest, manifestSha256: createHash('sha256').update(manifestBytes).digest('hex'), sizeBytes };
}

async function backupFileSize(file: string): Promise<number> {
  const info = await stat(file).catch(() => null);
  if (!info?.isFile()) throw new BackupError('NOT_A_BACKUP', `${file} does not exist or is not a file`);
  return info.size;
}

function parseManifest(bytes: Buffer): Manifest {
  let m: Manifest;
  try {
    m = JSON.parse(bytes.toString('utf8')) as Manifest;
  } catch {
    throw new BackupError('BAD_CONTENT', 'the backup manifest is not valid JSON');
  }
  if (m?.format !== MANIFEST_FORMAT) throw new BackupError('BAD_CONTENT', 'the manifest does not describe a lawbox backup');
  if (m.format_version !== MANIFEST_VERSION) {
    throw new BackupError('UNSUPPORTED_VERSION', `the backup manifest has version ${m.format_version}; this lawbox (${VERSION}) reads version ${MANIFEST_VERSION}: use the lawbox version that made it (${m.lawbox_version})`);
  }
  const well =
    typeof m.created_at === 'string' &&
    Array.isArray(m.entries) &&
    Array.isArray(m.database?.migrations) &&
    Array.isArray(m.database?.sequences) &&
    Array.isArray(m.database?.tables) &&
    m.database.tables.every((t) => typeof t?.name === 'string' && Number.isInteger(t.rows) && Array.isArray(t.columns));
  if (!well) throw new BackupError('BAD_CONTENT', 'the backup manifest is incomplete');
  return m;
}

/** Checks a backup completely (every chunk, entry, hash and row) without changing anything. */
export async function verifyBackup(config: Config, file: string, opts: { onProgress?: ProgressListener } = {}): Promise<BackupSummary> {
  const key = loadBackupKey(config.backup.keyFile);
  const { manifest, sizeBytes } = await readBackup(path.resolve(file), key, {}, 'verify', opts.onProgress ?? noProgress);
  return { path: path.resolve(file), sizeBytes, manifest, rows: totalRows(manifest) };
}

// ─── restore ─────────────────────────────────────────────────────────────────────────────────────

/**
 * Restores a backup into the empty instance the configuration names (DATABASE_URL, or the embedded
 * database in LAWBOX_DATA_DIR). The whole file is verified before anything changes; the rows go in
 * one transaction, and the files are put in place just before it commits, so a failure leaves the
 * target as it was. The database is then migrated up to this version, as at any upgrade.
 */
export async function restoreBackup(
  config: Config,
  actor: Actor,
  file: string,
  opts: { onProgress?: ProgressListener } = {},
): Promise<BackupSummary & { upgradedBy: string[]; audit: AuditVerification }> {
  const key = loadBackupKey(config.backup.keyFile);
  const source = path.resolve(file);
  const onProgress = opts.onProgress ?? noProgress;
  await backupFileSize(source);
  await assertNoStoredFiles(config.dataDir);
  await mkdir(config.dataDir, { recursive: true, mode: 0o750 });
  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  try {
    const db = database.db;
    await assertEmptyDatabase(db);
    const verified = await readBackup(source, key, {}, 'verify', onProgress);
    const { manifest } = verified;
    await migrateToLevel(db, manifest.database.migrations);
    const tables = await matchTables(db, manifest);

    const staging = await mkdtemp(path.join(config.dataDir, '.restore-'));
    const placed: string[] = [];
    try {
      await db.transaction().execute(async (trx) => {
        await useCanonicalTextFormats(trx);
        const foreignKeys = await deferForeignKeys(trx);
        // The migrations fill some reference tables (the holiday calendars): the backup's rows replace them.
        for (const table of tables.values()) {
          const { rows } = await sql<{ filled: boolean }>`select exists (select from ${sql.id('public', table.name)}) as filled`.execute(trx);
          if (rows[0]!.filled) await sql`delete from ${sql.id('public', table.name)}`.execute(trx);
        }
        const again = await readBackup(
          source,
          key,
          {
            rows: (table, lines) => {
              const into = tables.get(table);
              if (!into) throw new BackupError('BAD_CONTENT', `${source} changed while it was being restored (it now holds table ${table})`);
              return insertRows(trx, into, lines);
            },
            file: (relPath, mode, mtime, content) => stageFile(staging, relPath, mode, mtime, content),
          },
          'restore',
          onProgress,
          manifest,
        );
        // The file could have been swapped for another backup between the two passes.
        if (again.manifestSha256 !== verified.manifestSha256) throw new BackupError('BAD_CONTENT', `${source} changed while it was being restored`);
        await checkForeignKeys(trx, foreignKeys);
        await restoreSequences(trx, manifest.database.sequences);
        await placeStagedFiles(staging, config.dataDir, placed);
        await appendAudit(trx, {
          at: systemClock.now(),
          actor: actor.username,
          action: 'backup.restore',
          object: path.basename(source),
          result: 'success',
          sourceIp: actor.sourceIp,
          detail: { path: source, created_at: manifest.created_at, lawbox_version: manifest.lawbox_version, from: manifest.database.kind, rows: totalRows(manifest), files: manifest.files },
        });
      });
    } catch (err) {
      for (const folder of placed) await rm(folder, { recursive: true, force: true });
      throw err;
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
    const upgradedBy = await migrateToLatest(db);
    return { path: source, sizeBytes: verified.sizeBytes, manifest, rows: totalRows(manifest), upgradedBy, audit: await verifyAuditChain(db) };
  } finally {
    await database.close();
  }
}

const NOT_EMPTY_NEXT =
  'A backup is restored only into a new, empty instance: on PostgreSQL create a new database and point DATABASE_URL at it; ' +
  'embedded, point LAWBOX_DATA_DIR at a new directory (or move the old one away). / 只能恢复到全新的空实例。';

/** A restore never overwrites a stored file. */
async function assertNoStoredFiles(dataDir: string): Promise<void> {
  const files = await listStoredFiles(dataDir);
  if (files.length > 0) {
    throw new BackupError('TARGET_NOT_EMPTY', `the target data directory ${dataDir} already holds ${files.length} stored files (e.g. ${files[0]!.relPath}); nothing was changed. ${NOT_EMPTY_NEXT}`);
  }
}

/**
 * A restore never overwrites rows: the target must have no accounts and no audit records. Every
 * change lawbox makes writes an audit record, so a database without any holds nothing but what its
 * migrations put there.
 */
async function assertEmptyDatabase(db: Db): Promise<void> {
  const { rows } = await sql<{ tables: string; migrated: boolean; users: boolean; audit: boolean }>`
    select (select count(*) from pg_tables where schemaname = 'public')::text as tables,
           to_regclass('public.schema_migrations') is not null as migrated,
           to_regclass('public.users') is not null as users,
           to_regclass('public.audit_log') is not null as audit`.execute(db);
  const info = rows[0]!;
  if (Number(info.tables) > 0 && !info.migrated) throw new BackupError('TARGET_NOT_EMPTY', `the target database holds tables but is not a lawbox database. ${NOT_EMPTY_NEXT}`);
  const count = async (table: string, present: boolean) =>
    present ? Number((await sql<{ n: string }>`select count(*)::text as n from ${sql.id('public', table)}`.execute(db)).rows[0]!.n) : 0;
  const users = await count('users', info.users);
  const audit = await count('audit_log', info.audit);
  if (users > 0 || audit > 0) {
    throw new BackupError('TARGET_NOT_EMPTY', `the target instance is not empty: it has ${users} accounts and ${audit} audit records; nothing was changed. ${NOT_EMPTY_NEXT}`);
  }
}

/** Brings the target to the schema level the rows were dumped at (up, or down while it is still empty). */
async function migrateToLevel(db: Db, level: string[]): Promise<void> {
  const known = Object.keys(knownMigrations).sort();
  const unknown = level.filter((name) => !known.includes(name));
  if (unknown.length) {
    throw new BackupError('NEWER_SCHEMA', `the backup was made by a newer lawbox: this version (${VERSION}) does not know its migrations ${unknown.join(', ')}. Install that lawbox version or newer, then restore.`);
  }
  if (level.length === 0 || level.some((name, i) => known[i] !== name)) {
    throw new BackupError('BAD_CONTENT', `the backup's migration history (${level.join(', ')}) is not a beginning of this lawbox's (${known.join(', ')})`);
  }
  await migrateTo(db, level[level.length - 1]!);
}

/** The target's tables, which must be exactly the backup's, column for column. */
async function matchTables(db: Db, manifest: Manifest): Promise<Map<string, Table>> {
  const tables = await describeTables(db);
  const byName = new Map(tables.map((t) => [t.name, t]));
  const signature = (columns: Column[]) => columns.map((c) => `${c.name} ${c.type}`).join(', ');
  for (const t of manifest.database.tables) {
    const target = byName.get(t.name);
    if (!target) throw new BackupError('BAD_CONTENT', `the backup has table ${t.name}, which this database does not have at the backup's schema level`);
    if (signature(target.columns) !== signature(t.columns)) {
      throw new BackupError('BAD_CONTENT', `table ${t.name} differs between the backup (${signature(t.columns)}) and this database (${signature(target.columns)})`);
    }
  }
  const missing = tables.filter((t) => !manifest.database.tables.some((m) => m.name === t.name));
  if (missing.length) throw new BackupError('BAD_CONTENT', `the backup lacks tables this database has at its schema level: ${missing.map((t) => t.name).join(', ')}`);
  return byName;
}

async function stageFile(staging: string, relPath: string, mode: number, mtime: Date, content: AsyncIterable<Buffer>): Promise<void> {
  const target = path.join(staging, ...relPath.split('/'));
  await mkdir(path.dirname(target), { recursive: true, mode: 0o750 });
  await pipeline(content, createWriteStream(target, { flags: 'wx', mode }));
  await utimes(target, mtime, mtime);
}

/**
 * Moves each restored folder into the data directory (where it is absent or holds no files), noting
 * each in `placed` as soon as it is moved, so a failure half-way still lets the caller take them back.
 */
async function placeStagedFiles(staging: string, dataDir: string, placed: string[]): Promise<void> {
  for (const folder of STORED_FILE_FOLDERS) {
    const from = path.join(staging, ...folder.split('/'));
    if (!existsSync(from)) continue;
    const to = path.join(dataDir, ...folder.split('/'));
    // Only empty directories can be in the way: assertEmptyTarget found no files.
    await rm(to, { recursive: true, force: true });
    await mkdir(path.dirname(to), { recursive: true, mode: 0o750 });
    await rename(from, to);
    placed.push(to);
  }
}

// ─── copy, prune, newest ─────────────────────────────────────────────────────────────────────────

/** `host:/path`, `user@host:path` or `rsync://…`; a local path has no colon before its first slash. */
const isRsyncTarget = (dest: string) => /^rsync:\/\//.test(dest) || /^[^/]+:/.test(dest);

/**
 * Copies a backup to a second location: a local directory (e.g. a mounted SMB share), written as
 * `.part`, synced and renamed so a copy is complete or absent; or an rsync target `host:/path`.
 */
export async function copyBackup(ctx: ServiceContext, actor: Actor, file: string, dest: string): Promise<string> {
  const source = path.resolve(file);
  await stat(source).catch(() => {
    throw new BackupError('COPY_FAILED', `${source} does not exist`);
  });
  const copied = isRsyncTarget(dest) ? await rsyncTo(source, dest) : await copyToDirectory(source, dest);
  await recordAudit(ctx.db, { at: ctx.clock.now(), actor: actor.username, action: 'backup.copy', object: path.basename(source), result: 'success', sourceIp: actor.sourceIp, detail: { from: source, to: copied } });
  return copied;
}

async function copyToDirectory(source: string, dir: string): Promise<string> {
  const info = await stat(dir).catch(() => null);
  if (!info?.isDirectory()) throw new BackupError('COPY_FAILED', `cannot copy to ${dir}: it is not a directory (is the share mounted?)`);
  const target = path.join(dir, path.basename(source));
  const part = `${target}.part`;
  try {
    await copyFile(source, part);
    await syncFile(part);
    if ((await stat(part)).size !== (await stat(source)).size) throw new Error('the copy is shorter than the backup');
    await rename(part, target);
    await syncDirectory(dir);
  } catch (err) {
    await rm(part, { force: true });
    throw new BackupError('COPY_FAILED', `cannot copy to ${dir}: ${(err as Error).message}`);
  }
  return target;
}

async function rsyncTo(source: string, dest: string): Promise<string> {
  const target = dest.endsWith('/') ? dest : `${dest}/`;
  // rsync writes into a temporary name and renames when complete; --times keeps the backup's mtime.
  // --timeout: an unreachable host fails the copy in minutes instead of holding the nightly run.
  const child = spawn('rsync', ['--times', '--chmod=F600', '--timeout=300', '--', source, target], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c) => (stderr += c));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  }).catch((err: NodeJS.ErrnoException) => {
    throw new BackupError('COPY_FAILED', err.code === 'ENOENT' ? `cannot copy to ${dest}: rsync is not installed (apt-get install rsync), or copy to a mounted share instead` : `cannot run rsync: ${err.message}`);
  });
  if (code !== 0) throw new BackupError('COPY_FAILED', `rsync to ${dest} failed (exit ${code}): ${stderr.trim().split('\n').slice(-3).join(' / ')}`);
  return `${target}${path.basename(source)}`;
}

export interface StoredBackup {
  path: string;
  createdAt: Date;
  sizeBytes: number;
}

/** The backups in a directory, newest first; their time is the one in their name (a copy keeps it), else the file's mtime. */
export async function listBackups(dir: string): Promise<StoredBackup[]> {
  const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  const backups: StoredBackup[] = [];
  for (const name of names) {
    if (!name.endsWith(BACKUP_EXTENSION)) continue;
    const file = path.join(dir, name);
    const info = await stat(file).catch(() => null);
    if (!info?.isFile()) continue;
    const m = BACKUP_NAME.exec(name);
    const createdAt = m ? new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!)) : info.mtime;
    backups.push({ path: file, createdAt, sizeBytes: info.size });
  }
  return backups.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.path < b.path ? 1 : -1));
}

/** The newest backup in LAWBOX_BACKUP_DIR, for the compliance self-check; null when there is none. */
export async function newestBackup(config: Config): Promise<StoredBackup | null> {
  return (await listBackups(config.backup.dir))[0] ?? null;
}

/** Deletes backups in LAWBOX_BACKUP_DIR older than LAWBOX_BACKUP_KEEP_DAYS; the newest is always kept. */
export async function pruneBackups(ctx: ServiceContext, actor: Actor): Promise<{ deleted: StoredBackup[]; kept: StoredBackup[] }> {
  const cutoff = ctx.clock.now().getTime() - ctx.config.backup.keepDays * 86_400_000;
  const [newest, ...older] = await listBackups(ctx.config.backup.dir);
  const deleted = older.filter((b) => b.createdAt.getTime() < cutoff);
  for (const b of deleted) await unlink(b.path);
  // A backup killed part-way (power cut, OOM) leaves its .part file: gone once a day has passed.
  const stale: string[] = [];
  for (const name of await readdir(ctx.config.backup.dir).catch(() => [] as string[])) {
    if (!name.endsWith(`${BACKUP_EXTENSION}.part`)) continue;
    const file = path.join(ctx.config.backup.dir, name);
    if ((await stat(file)).mtimeMs < ctx.clock.now().getTime() - 86_400_000) {
      await unlink(file);
      stale.push(name);
    }
  }
  const kept = [newest, ...older.filter((b) => !deleted.includes(b))].filter((b): b is StoredBackup => b !== undefined);
  await recordAudit(ctx.db, {
    at: ctx.clock.now(),
    actor: actor.username,
    action: 'backup.prune',
    object: ctx.config.backup.dir,
    result: 'success',
    sourceIp: actor.sourceIp,
    detail: { keep_days: ctx.config.backup.keepDays, deleted: deleted.map((b) => path.basename(b.path)), unfinished_removed: stale, kept: kept.length },
  });
  return { deleted, kept };
}
