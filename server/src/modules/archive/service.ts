import { createHash, randomUUID } from 'node:crypto';
import { mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Actor, ServiceContext } from '../../context.js';
import type { Db } from '../../db/index.js';
import { readSetting, writeSetting } from '../../db/settings.js';
import { AppError, badRequest, notFound } from '../../errors.js';
import type { Job } from '../../scheduler.js';
import { appendAudit, recordAudit } from '../audit/service.js';
import { requirePermission } from '../auth/roles.js';
import { assertMatterVisible } from '../matters/access.js';
import { fileToArchive } from './filing.js';
import { ACCEPTED_FORMATS, sniff, SNIFF_BYTES, type Sniffed } from './magic.js';
import type { MediaKind, ProcessCategory, ProcessFileRow } from './tables.js';

/**
 * The matter archive (T/ZSM 0038-2024 Z6.3.5) and the process archive (Z5.5.3).
 *
 * Every module files its notices and records with `fileToArchive`; the archive lists them together
 * with the process files uploaded here and the camera recordings of the matter (kept where the media
 * module stored them). Process files are evidence of the work: each upload streams to a temporary
 * file through a SHA-256 and a check of its magic bytes against the declared kind, and becomes a file
 * and a row in one step, or leaves neither.
 */

export const PROCESS_CATEGORY_LABELS: Record<ProcessCategory, string> = {
  client_communication: '与委托人沟通',
  opposing_party: '与对方当事人沟通',
  authorities: '与办案机关沟通',
  third_party: '与第三方沟通',
  visit: '走访',
  material_preparation: '材料准备',
  drafting: '文书起草',
  research: '法律研究',
};
export const MEDIA_KIND_LABELS: Record<MediaKind, string> = { photo: '照片', audio: '录音', video: '录像', file: '文件' };

const GIB = 1024 ** 3;
/** An upload that sends nothing for this long has stalled: it is dropped rather than holding a temporary file. */
const UPLOAD_IDLE_MS = 60_000;
/** Temporary files older than this belong to a server process that died mid-upload. */
const STALE_PART_MS = 24 * 3_600_000;
const MAX_LISTED = 2000;

/** Where process files live: `<dataDir>/process-files/<uuid>.<ext>`, temporary ones as `<uuid>.part`. */
export const processFilesDir = (ctx: ServiceContext) => path.join(ctx.config.dataDir, 'process-files');
export const processFilePath = (ctx: ServiceContext, storageName: string) => path.join(processFilesDir(ctx), storageName);

// ---------------------------------------------------------------------------------------------
// Settings

export interface ProcessArchiveSettings {
  /** the largest upload accepted, in bytes */
  max_upload_bytes: number;
}
export const PROCESS_ARCHIVE_SETTINGS_KEY = 'process_archive';
export const DEFAULT_PROCESS_ARCHIVE_SETTINGS: ProcessArchiveSettings = { max_upload_bytes: 2 * GIB };
export const PROCESS_ARCHIVE_LIMITS = { max_upload_bytes: { minimum: 1024 * 1024, maximum: 64 * GIB } } as const;

const validLimit = (v: unknown): v is number =>
  Number.isSafeInteger(v) && (v as number) >= PROCESS_ARCHIVE_LIMITS.max_upload_bytes.minimum && (v as number) <= PROCESS_ARCHIVE_LIMITS.max_upload_bytes.maximum;

export async function processArchiveSettings(db: Db): Promise<ProcessArchiveSettings> {
  const stored = ((await readSetting(db, PROCESS_ARCHIVE_SETTINGS_KEY)) ?? {}) as Record<string, unknown>;
  return { max_upload_bytes: validLimit(stored.max_upload_bytes) ? stored.max_upload_bytes : DEFAULT_PROCESS_ARCHIVE_SETTINGS.max_upload_bytes };
}

export async function updateProcessArchiveSettings(ctx: ServiceContext, actor: Actor, next: ProcessArchiveSettings): Promise<ProcessArchiveSettings> {
  requirePermission(actor, 'practice.configure');
  if (!validLimit(next.max_upload_bytes)) {
    const { minimum, maximum } = PROCESS_ARCHIVE_LIMITS.max_upload_bytes;
    throw badRequest('INVALID_SETTING', `max_upload_bytes must be a whole number from ${minimum} to ${maximum}. / 上传上限超出范围（${minimum}–${maximum} 字节）。`);
  }
  const value: ProcessArchiveSettings = { max_upload_bytes: next.max_upload_bytes };
  await ctx.db.transaction().execute(async (trx) => {
    const before = await processArchiveSettings(trx);
    await writeSetting(trx, PROCESS_ARCHIVE_SETTINGS_KEY, value);
    await appendAudit(trx, { at: ctx.clock.now(), actor: actor.username, action: 'settings.process_archive', object: `settings:${PROCESS_ARCHIVE_SETTINGS_KEY}`, result: 'success', sourceIp: actor.sourceIp, detail: { from: before, to: value } });
  });
  return value;
}

// ---------------------------------------------------------------------------------------------
// The matter archive

export interface ArchiveItem {
  kind: string;
  title: string;
  /** the module that keeps the record and its id there */
  source: string;
  source_id: string;
  /** the process-archive category of a process file or camera recording; null for other records */
  category: ProcessCategory | null;
  sha256: string | null;
  bytes: number | null;
  filed_at: string;
  filed_by: { id: number; display_name: string } | null;
  /** where to fetch the file, for records that are files */
  download: string | null;
}

/**
 * Everything filed for a matter, oldest first: the archive index, and the matter's stored camera
 * recordings (the process archive's video of reception, mediation and meetings), which stay in the
 * media module's table and files.
 */
export async function listMatterArchive(ctx: ServiceContext, actor: Actor, matterId: number, filter: { kind?: string } = {}): Promise<ArchiveItem[]> {
  requirePermission(actor, 'matters.read');
  await assertMatterVisible(ctx.db, actor, matterId);
  let filed = ctx.db
    .selectFrom('archive_entries as a')
    .leftJoin('users as u', 'u.id', 'a.filed_by')
    .leftJoin('process_files as f', (join) => join.on('a.source', '=', 'process_files').on((eb) => eb('a.source_id', '=', eb.cast<string>('f.id', 'text'))))
    .select(['a.kind', 'a.title', 'a.source', 'a.source_id', 'a.sha256', 'a.filed_at', 'a.filed_by', 'u.display_name', 'f.id as file_id', 'f.category', 'f.bytes'])
    .where('a.matter_id', '=', matterId)
    .orderBy('a.filed_at')
    .orderBy('a.id')
    .limit(MAX_LISTED);
  if (filter.kind) filed = filed.where('a.kind', '=', filter.kind);
  const items: ArchiveItem[] = (await filed.execute()).map((r) => ({
    kind: r.kind,
    title: r.title,
    source: r.source,
    source_id: r.source_id,
    category: r.category ?? null,
    sha256: r.sha256,
    bytes: r.bytes === null ? null : Number(r.bytes),
    filed_at: r.filed_at.toISOString(),
    filed_by: r.filed_by !== null && r.display_name !== null ? { id: r.filed_by, display_name: r.display_name } : null,
    download: r.file_id !== null ? `/api/matters/${matterId}/process-files/${r.file_id}/file` : null,
  }));
  if (!filter.kind || filter.kind === CAMERA_KIND) {
    const recordings = await ctx.db
      .selectFrom('camera_recordings as c')
      .innerJoin('users as u', 'u.id', 'c.requested_by')
      .select(['c.id', 'c.reason', 'c.sha256', 'c.bytes', 'c.stored_at', 'c.requested_at', 'c.requested_by', 'u.display_name'])
      .where('c.matter_id', '=', matterId)
      .where('c.status', '=', 'stored')
      .limit(MAX_LISTED)
      .execute();
    for (const r of recordings) {
      items.push({
        kind: CAMERA_KIND,
        title: r.reason,
        source: 'camera_recordings',
        source_id: r.id,
        category: null,
        sha256: r.sha256,
        bytes: r.bytes === null ? null : Number(r.bytes),
        filed_at: (r.stored_at ?? r.requested_at).toISOString(),
        filed_by: { id: r.requested_by, display_name: r.display_name },
        download: `/api/recordings/${r.id}/file`,
      });
    }
    items.sort((a, b) => a.filed_at.localeCompare(b.filed_at));
  }
  return items;
}

/** The archive kind of a camera recording (its rows stay in camera_recordings). */
export const CAMERA_KIND = 'camera_recording';

// ---------------------------------------------------------------------------------------------
// Process files

export interface ProcessFile {
  id: number;
  matter_id: number;
  category: ProcessCategory;
  kind: MediaKind;
  content_type: string;
  title: string;
  original_name: string | null;
  note: string | null;
  bytes: number;
  sha256: string;
  uploaded_by: { id: number; display_name: string };
  uploaded_at: string;
  download: string;
}

export interface ProcessUpload {
  category: ProcessCategory;
  kind: MediaKind;
  title?: string;
  /** the uploader's file name: shown, never used as a path */
  name?: string;
  note?: string;
  /** the uploader's SHA-256 of the file, checked when given */
  sha256?: string;
  /** the request's Content-Length, if it had one */
  declared_length: number | null;
}

/** A file name as typed by someone else: kept for display only, without any path or control characters. */
export function displayName(name: string | undefined): string | null {
  if (!name) return null;
  const base = name.replace(/[\u0000-\u001f\u007f]/g, '').split(/[\\/]/).pop()!.trim();
  const clean = base.replace(/^\.+/, '').slice(0, 255);
  return clean || null;
}

/** An upload without content (also a request that sent no body at all). */
export const emptyUpload = () => badRequest('EMPTY_UPLOAD', 'The upload has no content; send the file’s bytes as the request body. / 上传内容为空，请将文件内容作为请求体发送。');

/**
 * Streams one process file into the archive. The bytes go through the size limit, a SHA-256 and the
 * magic check into `<uuid>.part`; only a complete upload that matches its declared kind (and length
 * and hash, when given) is renamed into place, in the same transaction that inserts its row, files it
 * into the matter archive and writes the audit record. Anything else leaves no file and no row.
 */
export async function uploadProcessFile(ctx: ServiceContext, actor: Actor, matterId: number, body: Readable, meta: ProcessUpload): Promise<ProcessFile> {
  requirePermission(actor, 'matters.work');
  await assertMatterVisible(ctx.db, actor, matterId);
  const { max_upload_bytes: limit } = await processArchiveSettings(ctx.db);
  const tooLarge = () => new AppError(413, 'UPLOAD_TOO_LARGE', `The file is larger than the ${limit}-byte limit; ask an administrator to raise it, or split the file. / 文件超过上传上限（${limit} 字节），请联系管理员调整或拆分文件。`);
  if (meta.declared_length !== null && meta.declared_length > limit) throw tooLarge();

  const originalName = displayName(meta.name);
  const nameExtension = originalName?.includes('.') ? originalName.slice(originalName.lastIndexOf('.') + 1).toLowerCase() : undefined;
  const dir = processFilesDir(ctx);
  await mkdir(dir, { recursive: true });
  const uuid = randomUUID();
  const part = path.join(dir, `${uuid}.part`);
  const hash = createHash('sha256');
  let bytes = 0;
  let sniffed: Sniffed | null = null;
  const head: Buffer[] = [];
  let headLength = 0;
  const decide = (): Buffer => {
    const first = Buffer.concat(head);
    sniffed = sniff(meta.kind, first, nameExtension);
    if (!sniffed) {
      throw new AppError(415, 'MEDIA_TYPE_MISMATCH', `This file is not a ${meta.kind} (${ACCEPTED_FORMATS[meta.kind]}) by its content; choose the right kind or convert the file. / 文件内容与所选类型（${MEDIA_KIND_LABELS[meta.kind]}：${ACCEPTED_FORMATS[meta.kind]}）不符，请重新选择类型或转换格式。`);
    }
    return first;
  };
  async function* inspect(source: AsyncIterable<Buffer>) {
    for await (const chunk of source) {
      bytes += chunk.length;
      if (bytes > limit) throw tooLarge();
      hash.update(chunk);
      if (sniffed) {
        yield chunk;
        continue;
      }
      head.push(chunk);
      headLength += chunk.length;
      if (headLength >= SNIFF_BYTES) yield decide();
    }
    if (bytes === 0) throw emptyUpload();
    if (!sniffed) yield decide();
  }

  const matter = await ctx.db.selectFrom('matters').select('number').where('id', '=', matterId).executeTakeFirstOrThrow();
  // The file exists (opened exclusively) before any byte arrives, so removing it afterwards can never
  // race its creation. A stalled sender is cut off rather than holding the file open forever.
  const handle = await open(part, 'wx', 0o640);
  const idle = setTimeout(() => body.destroy(new Error('no data for 60 s')), UPLOAD_IDLE_MS);
  const source = (async function* () {
    // destroyOnReturn: false — a refused upload stops reading, but the request stays able to carry the answer.
    for await (const chunk of body.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
      idle.refresh();
      yield chunk;
    }
  })();
  let placed: string | null = null;
  try {
    try {
      await pipeline(source, inspect, handle.createWriteStream());
    } catch (err) {
      if (err instanceof AppError) throw err;
      throw badRequest('UPLOAD_INCOMPLETE', `The upload broke off (${(err as Error).message}); send the file again. / 上传中断，请重新上传。`);
    } finally {
      clearTimeout(idle);
    }
    if (meta.declared_length !== null && bytes !== meta.declared_length) {
      throw badRequest('UPLOAD_INCOMPLETE', `Received ${bytes} of ${meta.declared_length} bytes; send the file again. / 上传不完整，请重新上传。`);
    }
    const sha256 = hash.digest('hex');
    if (meta.sha256 && meta.sha256.toLowerCase() !== sha256) {
      throw badRequest('HASH_MISMATCH', 'The file received does not match the SHA-256 you sent: it was changed or cut short on the way. Send it again. / 文件校验值不符，请重新上传。');
    }
    // Set by decide() inside the stream (TypeScript cannot follow that assignment); the pipeline only ends after it.
    const type = sniffed as unknown as Sniffed;
    const storageName = `${uuid}.${type.extension}`;
    const title = meta.title?.trim() || originalName || `${PROCESS_CATEGORY_LABELS[meta.category]}${MEDIA_KIND_LABELS[meta.kind]}`;
    const now = ctx.clock.now();
    const row = await ctx.db.transaction().execute(async (trx) => {
      const row = await trx
        .insertInto('process_files')
        .values({
          matter_id: matterId,
          category: meta.category,
          media_kind: meta.kind,
          content_type: type.content_type,
          extension: type.extension,
          title,
          original_name: originalName,
          note: meta.note?.trim() || null,
          bytes,
          sha256,
          storage_name: storageName,
          uploaded_by: actor.userId!,
          uploaded_at: now,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      await fileToArchive(trx, ctx, { matter_id: matterId, kind: 'process_file', title: `${PROCESS_CATEGORY_LABELS[meta.category]}：${title}`, source: 'process_files', source_id: row.id, sha256, filed_by: actor.userId });
      await appendAudit(trx, {
        at: now,
        actor: actor.username,
        action: 'archive.process_file_upload',
        object: `matter:${matter.number}`,
        result: 'success',
        sourceIp: actor.sourceIp,
        detail: { file_id: row.id, category: meta.category, kind: meta.kind, content_type: type.content_type, bytes, sha256 },
      });
      // Last, so any failure before it rolls back with the file still temporary; a failed commit after
      // it is undone below.
      placed = processFilePath(ctx, storageName);
      await rename(part, placed);
      return row;
    });
    const user = await ctx.db.selectFrom('users').select(['id', 'display_name']).where('id', '=', actor.userId!).executeTakeFirstOrThrow();
    return toProcessFile(row, user);
  } catch (err) {
    // Everything on disk goes before the failure is recorded: whoever sees the record sees nothing left.
    if (placed) await unlink(placed).catch(() => {});
    await handle.close().catch(() => {});
    await unlink(part).catch(() => {});
    await recordAudit(ctx.db, {
      at: ctx.clock.now(),
      actor: actor.username,
      action: 'archive.process_file_upload',
      object: `matter:${matter.number}`,
      result: 'failure',
      sourceIp: actor.sourceIp,
      detail: { reason: err instanceof AppError ? err.code : 'UPLOAD_FAILED', category: meta.category, kind: meta.kind, bytes },
    });
    throw err;
  } finally {
    await handle.close().catch(() => {});
    await unlink(part).catch(() => {});
  }
}

function toProcessFile(r: ProcessFileRow, user: { id: number; display_name: string }): ProcessFile {
  return {
    id: r.id,
    matter_id: r.matter_id,
    category: r.category,
    kind: r.media_kind,
    content_type: r.content_type,
    title: r.title,
    original_name: r.original_name,
    note: r.note,
    bytes: Number(r.bytes),
    sha256: r.sha256,
    uploaded_by: user,
    uploaded_at: r.uploaded_at.toISOString(),
    download: `/api/matters/${r.matter_id}/process-files/${r.id}/file`,
  };
}

export async function listProcessFiles(ctx: ServiceContext, actor: Actor, matterId: number, filter: { category?: ProcessCategory; kind?: MediaKind } = {}): Promise<ProcessFile[]> {
  requirePermission(actor, 'matters.read');
  await assertMatterVisible(ctx.db, actor, matterId);
  let query = ctx.db
    .selectFrom('process_files as f')
    .innerJoin('users as u', 'u.id', 'f.uploaded_by')
    .selectAll('f')
    .select(['u.display_name'])
    .where('f.matter_id', '=', matterId)
    .orderBy('f.uploaded_at')
    .orderBy('f.id')
    .limit(MAX_LISTED);
  if (filter.category) query = query.where('f.category', '=', filter.category);
  if (filter.kind) query = query.where('f.media_kind', '=', filter.kind);
  return (await query.execute()).map((r) => toProcessFile(r, { id: r.uploaded_by, display_name: r.display_name }));
}

/** A process file to send: its row and where it is on disk (a missing file is reported, not hidden). */
export async function processFileForDownload(ctx: ServiceContext, actor: Actor, matterId: number, fileId: number): Promise<{ file: ProcessFileRow; path: string; size: number }> {
  requirePermission(actor, 'matters.read');
  await assertMatterVisible(ctx.db, actor, matterId);
  const file = await ctx.db.selectFrom('process_files').selectAll().where('id', '=', fileId).where('matter_id', '=', matterId).executeTakeFirst();
  if (!file) throw notFound('PROCESS_FILE_NOT_FOUND', `No process file ${fileId} in this matter. / 过程档案文件不存在。`);
  const full = processFilePath(ctx, file.storage_name);
  const info = await stat(full).catch(() => null);
  if (!info) throw new AppError(410, 'PROCESS_FILE_MISSING', `The stored file of process file ${fileId} is missing from the data directory; restore it from the backup. / 文件已不在存储中，请从备份恢复。`);
  return { file, path: full, size: info.size };
}

/** The audit record of a download (one per viewing: a player's follow-up range requests are not counted again). */
export async function auditProcessFileDownload(ctx: ServiceContext, actor: Actor, file: ProcessFileRow): Promise<void> {
  const matter = await ctx.db.selectFrom('matters').select('number').where('id', '=', file.matter_id).executeTakeFirstOrThrow();
  await recordAudit(ctx.db, { at: ctx.clock.now(), actor: actor.username, action: 'archive.process_file_download', object: `matter:${matter.number}`, result: 'success', sourceIp: actor.sourceIp, detail: { file_id: file.id, sha256: file.sha256 } });
}

/** Removes temporary files left by a server process that stopped mid-upload (stored files are never touched). */
export async function removeStaleUploads(ctx: ServiceContext): Promise<{ removed: number }> {
  const dir = processFilesDir(ctx);
  const names = await readdir(dir).catch(() => [] as string[]);
  const cutoff = ctx.clock.now().getTime() - STALE_PART_MS;
  let removed = 0;
  for (const name of names.filter((n) => n.endsWith('.part'))) {
    const info = await stat(path.join(dir, name)).catch(() => null);
    if (info && info.mtimeMs < cutoff) {
      await unlink(path.join(dir, name)).catch(() => {});
      removed++;
    }
  }
  return { removed };
}

export const archiveJobs: Job[] = [{ name: 'archive.remove_stale_uploads', schedule: '50 3 * * *', run: removeStaleUploads }];
