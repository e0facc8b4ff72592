import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Actor, ServiceContext } from '../../context.js';
import { AppError, badRequest, conflict, notFound } from '../../errors.js';
import { appendAudit } from '../audit/service.js';
import { deviceProfiles } from '../devices/contract.js';
import { assertMatterVisible } from '../matters/access.js';

/** Where media lives under the data directory: live HLS (transient) and recordings (kept). */
export const liveDir = (ctx: ServiceContext, device: string) => path.join(ctx.config.dataDir, 'media', 'live', device);
export const recordingFile = (ctx: ServiceContext, id: string) => path.join(ctx.config.dataDir, 'media', 'recordings', `${id}.mp4`);

/** HLS files an agent may put: a playlist or a segment, nothing that could climb out of the folder. */
export const LIVE_FILE = '^[A-Za-z0-9_-]{1,64}\\.(m3u8|ts|m4s|mp4)$';
const LIVE_LIMITS: Record<string, number> = { m3u8: 64 * 1024, ts: 32 * 1024 * 1024, m4s: 32 * 1024 * 1024, mp4: 4 * 1024 * 1024 };
export const CONTENT_TYPES: Record<string, string> = { m3u8: 'application/vnd.apple.mpegurl', ts: 'video/mp2t', m4s: 'video/iso.segment', mp4: 'video/mp4' };
/** A recording of up to an hour at a camera's main-stream bitrate fits comfortably. */
const RECORDING_LIMIT = 4 * 1024 * 1024 * 1024;

/** A device that is a camera assigned to `agentId` (or any agent when omitted); anything else is a 404. */
export async function cameraOf(ctx: ServiceContext, device: string, agentId?: string): Promise<{ id: string; agent_id: string | null }> {
  let query = ctx.db.selectFrom('devices').select(['id', 'agent_id', 'profile']).where('id', '=', device);
  if (agentId) query = query.where('agent_id', '=', agentId);
  const row = await query.executeTakeFirst();
  const profile = row?.profile ? (await deviceProfiles()).get(row.profile) : undefined;
  if (!row || profile?.category !== 'camera') throw notFound('CAMERA_NOT_FOUND', `No camera ${device}. / 摄像机不存在。`);
  return row;
}

/**
 * Streams a request body to `final` through a temporary file: the byte limit and the SHA-256 are
 * checked on the way, and only a complete, matching upload is renamed into place. Anything else leaves
 * nothing behind.
 */
async function storeStream(body: Readable, final: string, limit: number, expectedSha256?: string): Promise<{ bytes: number; sha256: string }> {
  await mkdir(path.dirname(final), { recursive: true });
  const part = `${final}.${randomUUID()}.part`;
  const hash = createHash('sha256');
  let bytes = 0;
  try {
    await pipeline(
      body,
      async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          bytes += chunk.length;
          if (bytes > limit) throw new AppError(413, 'TOO_LARGE', `The upload exceeds ${limit} bytes. / 文件过大。`);
          hash.update(chunk);
          yield chunk;
        }
      },
      createWriteStream(part, { flags: 'wx', mode: 0o640 }),
    );
    const sha256 = hash.digest('hex');
    if (expectedSha256 && expectedSha256.toLowerCase() !== sha256) throw badRequest('HASH_MISMATCH', 'The upload does not match its x-content-sha256: it was damaged or cut short. / 上传内容校验不符。');
    await rename(part, final);
    return { bytes, sha256 };
  } catch (err) {
    await unlink(part).catch(() => {});
    if (err instanceof AppError) throw err;
    throw badRequest('UPLOAD_INCOMPLETE', `The upload broke off: ${(err as Error).message}. / 上传中断。`);
  }
}

/** One HLS file from the agent's ffmpeg (`-method PUT`). A new playlist drops the segments it no longer lists. */
export async function putLiveFile(ctx: ServiceContext, agentId: string, device: string, file: string, body: Readable): Promise<void> {
  await cameraOf(ctx, device, agentId);
  const ext = file.slice(file.lastIndexOf('.') + 1);
  const dir = liveDir(ctx, device);
  await storeStream(body, path.join(dir, file), LIVE_LIMITS[ext] ?? 0);
  if (ext !== 'm3u8') return;
  const listed = new Set((await readFile(path.join(dir, file), 'utf8')).split('\n').filter((l) => l && !l.startsWith('#')).map((l) => path.basename(l.trim())));
  for (const name of await readdir(dir)) {
    if (/\.(ts|m4s)$/.test(name) && !listed.has(name)) await unlink(path.join(dir, name)).catch(() => {});
  }
}

export interface RecordingRequest {
  seconds: number;
  reason: string;
  matter_id?: number | null;
}

/** Opens a recording row (audited); the camera's agent is told to record and uploads the file later. */
export async function requestRecording(ctx: ServiceContext, actor: Actor, device: string, input: RecordingRequest): Promise<{ id: string }> {
  await cameraOf(ctx, device);
  if (input.matter_id) await assertMatterVisible(ctx.db, actor, input.matter_id);
  const id = randomUUID();
  const now = ctx.clock.now();
  await ctx.db.transaction().execute(async (trx) => {
    await trx.insertInto('camera_recordings').values({ id, device_id: device, matter_id: input.matter_id ?? null, reason: input.reason, requested_by: actor.userId!, seconds: input.seconds, error: null, bytes: null, sha256: null, duration_s: null, requested_at: now, stored_at: null }).execute();
    await appendAudit(trx, { at: now, actor: actor.username, action: 'camera.record', object: `device:${device}`, result: 'success', sourceIp: actor.sourceIp, detail: { recording_id: id, seconds: input.seconds, matter_id: input.matter_id ?? null, reason: input.reason } });
  });
  return { id };
}

export async function failRecording(ctx: ServiceContext, id: string, error: string): Promise<void> {
  await ctx.db.updateTable('camera_recordings').set({ status: 'failed', error: error.slice(0, 500) }).where('id', '=', id).where('status', '=', 'recording').execute();
}

/** The agent's upload of a finished recording: stored whole and hash-checked, or not at all. */
export async function storeRecording(ctx: ServiceContext, agentId: string, id: string, body: Readable, meta: { sha256?: string; durationS?: number }): Promise<{ bytes: number; sha256: string }> {
  const row = await ctx.db.selectFrom('camera_recordings').innerJoin('devices', 'devices.id', 'camera_recordings.device_id').select(['camera_recordings.status', 'camera_recordings.device_id', 'devices.agent_id']).where('camera_recordings.id', '=', id).executeTakeFirst();
  if (!row || row.agent_id !== agentId) throw notFound('RECORDING_NOT_FOUND', `No recording ${id} for this agent. / 录像任务不存在。`);
  if (row.status !== 'recording') throw conflict('RECORDING_CLOSED', `Recording ${id} is already ${row.status}. / 该录像已结束。`);
  const stored = await storeStream(body, recordingFile(ctx, id), RECORDING_LIMIT, meta.sha256);
  const now = ctx.clock.now();
  await ctx.db.transaction().execute(async (trx) => {
    await trx.updateTable('camera_recordings').set({ status: 'stored', bytes: stored.bytes, sha256: stored.sha256, duration_s: meta.durationS ?? null, stored_at: now }).where('id', '=', id).execute();
    await appendAudit(trx, { at: now, actor: `agent:${agentId}`, action: 'camera.recording_stored', object: `device:${row.device_id}`, result: 'success', detail: { recording_id: id, bytes: stored.bytes, sha256: stored.sha256 } });
  });
  return stored;
}
