import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { AppError, notFound } from '../../errors.js';
import { Empty, Nullable, responses } from '../../schemas.js';
import { recordAudit } from '../audit/service.js';
import { ENTITY_ID } from '../agents/service.js';
import type { DeviceBridge } from '../devices/bridge.js';
import { cameraOf, CONTENT_TYPES, failRecording, LIVE_FILE, liveDir, putLiveFile, recordingFile, requestRecording, storeRecording, type RecordingRequest } from './service.js';

const DeviceParams = Type.Object({ id: Type.String({ pattern: ENTITY_ID }) }, { additionalProperties: false });
const LiveFileParams = Type.Object({ id: Type.String({ pattern: ENTITY_ID }), file: Type.String({ pattern: LIVE_FILE }) }, { additionalProperties: false });
const RecordingParams = Type.Object({ id: Type.String({ format: 'uuid' }) }, { additionalProperties: false });
const Recording = Type.Object(
  {
    id: Type.String(),
    device_id: Type.String(),
    matter_id: Nullable(Type.Integer()),
    reason: Type.String(),
    seconds: Type.Integer(),
    status: Type.String(),
    error: Nullable(Type.String()),
    bytes: Nullable(Type.Integer()),
    sha256: Nullable(Type.String()),
    duration_s: Nullable(Type.Number()),
    requested_at: Type.String(),
    stored_at: Nullable(Type.String()),
  },
  { additionalProperties: false },
);
/** How long the camera's agent has to confirm a start. */
const COMMAND_TIMEOUT_MS = 10_000;
/** A file answer (HLS, MP4): streamed bytes, not JSON. */
const FileResponse = responses({ 200: Type.String({ description: 'the file’s bytes' }) });
const Stored = responses({ 204: Type.Null({ description: 'stored' }) });
const UPLOAD_TYPES = ['video/mp2t', 'video/mp4', 'video/iso.segment', 'application/vnd.apple.mpegurl', 'application/x-mpegurl', 'application/octet-stream'];

/**
 * Cameras: live view (the agent's ffmpeg remuxes RTSP to HLS and PUTs it here; the building watches it
 * from here, so cameras never face the browsers) and recordings filed into the process archive.
 */
export const mediaRoutes: FastifyPluginAsync<{ bridge: DeviceBridge }> = async (app, { bridge }) => {
  const ctx = app.services;
  // Media bodies are streamed, never buffered: this parser covers only this plugin's routes.
  app.addContentTypeParser(UPLOAD_TYPES, (_request, payload, done) => done(null, payload));

  const command = async (device: string, body: Record<string, unknown>) => {
    const result = await bridge.command(device, body, COMMAND_TIMEOUT_MS);
    if (result === null) throw new AppError(504, 'DEVICE_TIMEOUT', `Camera ${device} did not answer; is its agent online? / 摄像机未响应。`);
    if (!result.ok) throw new AppError(502, result.error?.code ?? 'DEVICE_REFUSED', `Camera ${device} refused: ${result.error?.message ?? 'no reason given'}. / 摄像机拒绝执行。`);
    return result;
  };

  app.post(
    '/api/devices/:id/live',
    {
      config: { permission: 'cameras.view' },
      schema: {
        tags: ['media'],
        summary: 'Start or stop a camera’s live view (HLS served by this server)',
        params: DeviceParams,
        body: Type.Object({ action: Type.Union([Type.Literal('start'), Type.Literal('stop')]) }, { additionalProperties: false }),
        response: responses({ 200: Type.Object({ playlist: Nullable(Type.String()) }, { additionalProperties: false }) }),
      },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      const { action } = request.body as { action: 'start' | 'stop' };
      await cameraOf(ctx, id);
      await command(id, { action: action === 'start' ? 'stream_start' : 'stream_stop' });
      await recordAudit(ctx.db, { at: ctx.clock.now(), actor: request.actor.username, action: `camera.live_${action}`, object: `device:${id}`, result: 'success', sourceIp: request.actor.sourceIp });
      return { playlist: action === 'start' ? `/api/media/live/${id}/index.m3u8` : null };
    },
  );

  app.get(
    '/api/media/live/:id/:file',
    { config: { permission: 'cameras.view' }, schema: { tags: ['media'], summary: 'A live-view playlist or segment', params: LiveFileParams, querystring: Empty, response: FileResponse } },
    async (request, reply) => {
      const { id, file } = request.params as { id: string; file: string };
      const full = path.join(liveDir(ctx, id), file);
      const info = await stat(full).catch(() => null);
      if (!info) throw notFound('LIVE_NOT_FOUND', `No live view of ${id} is running (start it first). / 实时画面未开启。`);
      reply.header('content-type', CONTENT_TYPES[file.slice(file.lastIndexOf('.') + 1)] ?? 'application/octet-stream');
      reply.header('cache-control', file.endsWith('.m3u8') ? 'no-cache' : 'private, max-age=60');
      return reply.send(createReadStream(full));
    },
  );

  app.put(
    '/api/media/live/:id/:file',
    { config: { agent: true }, schema: { tags: ['media'], summary: 'For agents: one HLS playlist or segment of a live view', params: LiveFileParams, consumes: UPLOAD_TYPES, response: Stored } },
    async (request, reply) => {
      const { id, file } = request.params as { id: string; file: string };
      await putLiveFile(ctx, request.agentId!, id, file, request.body as Readable);
      return reply.code(204).send();
    },
  );

  app.post(
    '/api/devices/:id/recordings',
    {
      config: { permission: 'cameras.record' },
      schema: {
        tags: ['media'],
        summary: 'Record a segment from a camera into the process archive (Z5.5.3), optionally for a matter',
        params: DeviceParams,
        body: Type.Object(
          { seconds: Type.Integer({ minimum: 5, maximum: 3600, default: 60 }), reason: Type.String({ minLength: 2, maxLength: 200 }), matter_id: Type.Optional(Nullable(Type.Integer({ minimum: 1, maximum: 2147483647 }))) },
          { additionalProperties: false },
        ),
        response: responses({ 202: Type.Object({ id: Type.String(), status: Type.String() }, { additionalProperties: false }) }),
      },
    },
    async (request, reply) => {
      const { id: device } = request.params as { id: string };
      const input = request.body as RecordingRequest;
      const { id } = await requestRecording(ctx, request.actor, device, input);
      try {
        await command(device, { action: 'record', params: { recording_id: id, seconds: input.seconds } });
      } catch (err) {
        await failRecording(ctx, id, (err as Error).message);
        throw err;
      }
      return reply.code(202).send({ id, status: 'recording' });
    },
  );

  app.put(
    '/api/media/recordings/:id',
    { config: { agent: true }, schema: { tags: ['media'], summary: 'For agents: the finished recording (MP4), hash-checked', params: RecordingParams, consumes: UPLOAD_TYPES, response: Stored } },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const sha256 = request.headers['x-content-sha256'];
      const duration = Number(request.headers['x-duration-seconds']);
      await storeRecording(ctx, request.agentId!, id, request.body as Readable, { sha256: typeof sha256 === 'string' ? sha256 : undefined, durationS: Number.isFinite(duration) ? duration : undefined });
      return reply.code(204).send();
    },
  );

  app.get(
    '/api/recordings',
    {
      config: { permission: 'cameras.view' },
      schema: {
        tags: ['media'],
        summary: 'Camera recordings, newest first',
        querystring: Type.Object({ device: Type.Optional(Type.String({ pattern: ENTITY_ID })), limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }) }, { additionalProperties: false }),
        response: responses({ 200: Type.Array(Recording) }),
      },
    },
    async (request) => {
      const { device, limit } = request.query as { device?: string; limit: number };
      let query = ctx.db.selectFrom('camera_recordings').select(['id', 'device_id', 'matter_id', 'reason', 'seconds', 'status', 'error', 'bytes', 'sha256', 'duration_s', 'requested_at', 'stored_at']).orderBy('requested_at', 'desc').limit(limit);
      if (device) query = query.where('device_id', '=', device);
      return (await query.execute()).map((r) => ({
        ...r,
        bytes: r.bytes === null ? null : Number(r.bytes),
        duration_s: r.duration_s === null ? null : Number(r.duration_s),
        requested_at: r.requested_at.toISOString(),
        stored_at: r.stored_at?.toISOString() ?? null,
      }));
    },
  );

  app.get(
    '/api/recordings/:id/file',
    { config: { permission: 'cameras.view' }, schema: { tags: ['media'], summary: 'Download a stored recording (audited)', params: RecordingParams, querystring: Empty, response: FileResponse } },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const row = await ctx.db.selectFrom('camera_recordings').select(['status', 'device_id', 'sha256']).where('id', '=', id).executeTakeFirst();
      if (!row || row.status !== 'stored') throw notFound('RECORDING_NOT_FOUND', `No stored recording ${id}. / 录像不存在。`);
      await recordAudit(ctx.db, { at: ctx.clock.now(), actor: request.actor.username, action: 'camera.recording_download', object: `device:${row.device_id}`, result: 'success', sourceIp: request.actor.sourceIp, detail: { recording_id: id } });
      reply.header('content-type', 'video/mp4');
      reply.header('x-content-sha256', row.sha256 ?? '');
      return reply.send(createReadStream(recordingFile(ctx, id)));
    },
  );
};
