import { createReadStream } from 'node:fs';
import { mkdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { CommandError } from '../../agent.js';
import type { DriverContext, DriverFactory } from '../driver.js';
import type { OnvifCameraDriver } from '../onvif/camera.js';
import { MediaError, redactText } from './ffmpeg.js';
import { hlsPipeline, recordSegment, rtmpPipeline, type LivePipeline } from './pipelines.js';

/** Where a camera's media goes: the lawbox server, reached with this agent's own credential. */
export interface MediaLink {
  serverUrl: string;
  username: string;
  password: string;
  /** recordings wait here until the server has them */
  workDir: string;
}

/** How often an upload is tried before the recording is reported failed, and the wait between tries. */
const UPLOAD_TRIES = 3;
const UPLOAD_RETRY_MS = 5000;

/**
 * Adds the camera's media actions to its ONVIF driver: `stream_start`/`stream_stop` (RTSP remuxed to
 * HLS and PUT to the server, which serves the building), `live_start {target_ref}`/`live_stop` (RTMP to
 * a live platform whose URL, stream key included, stays in the agent's secret store) and
 * `record {recording_id, seconds}` (an MP4 uploaded to the server's process archive, hash-checked).
 * ffmpeg runs only while asked for, each pipeline supervised and restarted with backoff.
 */
export function withMedia(camera: DriverFactory, link: MediaLink | null): DriverFactory {
  return (ctx) => {
    const inner = camera(ctx) as OnvifCameraDriver;
    const device = ctx.assignment.device;
    let hls: LivePipeline | null = null;
    let rtmp: LivePipeline | null = null;
    const recordings = new Set<Promise<void>>();
    const authorization = link ? `Basic ${Buffer.from(`${link.username}:${link.password}`).toString('base64')}` : '';
    const transport = ctx.settings.rtsp_transport === 'udp' ? 'udp' : 'tcp';
    const source = () => {
      const uri = inner.streamUri();
      if (!uri) throw new CommandError('DEVICE_UNAVAILABLE', 'the camera has no stream address yet');
      return uri;
    };
    const needServer = (): MediaLink => {
      if (!link) throw new CommandError('NO_SERVER', 'LAWBOX_AGENT_SERVER_URL is not set: this agent cannot deliver media to the server');
      return link;
    };
    const state = () => ({ streaming: hls !== null, live: rtmp !== null, recording: recordings.size > 0 });

    const record = (id: string, seconds: number) => {
      const server = needServer();
      const file = path.join(server.workDir, `${id}.mp4`);
      const job = (async () => {
        try {
          await mkdir(server.workDir, { recursive: true });
          const made = await recordSegment({ input: source(), transport, file, seconds });
          await upload(ctx, server, authorization, id, made);
          ctx.emit('recording_stored', { recording_id: id, bytes: made.bytes, sha256: made.sha256 });
          await unlink(file).catch(() => {});
        } catch (err) {
          const code = err instanceof MediaError || err instanceof CommandError ? err.code : 'RECORDING_FAILED';
          ctx.log.warn({ recording_id: id, err: redactText((err as Error).message) }, 'recording failed');
          ctx.emit('recording_failed', { recording_id: id, code });
        }
      })();
      recordings.add(job);
      void job.finally(() => {
        recordings.delete(job);
        ctx.setState(state());
      });
    };

    return {
      start: () => inner.start(),
      async stop() {
        await Promise.all([hls?.stop(), rtmp?.stop()]);
        hls = rtmp = null;
        await inner.stop();
      },
      async command(body) {
        const params = (body.params ?? {}) as Record<string, unknown>;
        switch (body.action) {
          case 'stream_start': {
            const server = needServer();
            if (!hls) {
              hls = hlsPipeline({ input: source(), transport, putUrl: `${server.serverUrl}/api/media/live/${device}/index.m3u8`, headers: { authorization, 'content-type': 'application/octet-stream' } }, { log: ctx.log });
              hls.start();
            }
            break;
          }
          case 'stream_stop':
            await hls?.stop();
            hls = null;
            break;
          case 'live_start': {
            const ref = typeof params.target_ref === 'string' ? params.target_ref : '';
            const url = ref ? ctx.secret(ref) : undefined;
            if (!url) throw new CommandError('BAD_VALUE', `no live platform URL named ${JSON.stringify(ref)} in this agent's secret store`);
            if (!rtmp) {
              try {
                rtmp = rtmpPipeline({ input: source(), transport, url }, { log: ctx.log });
              } catch (err) {
                throw new CommandError('BAD_VALUE', redactText((err as Error).message));
              }
              rtmp.start();
            }
            break;
          }
          case 'live_stop':
            await rtmp?.stop();
            rtmp = null;
            break;
          case 'record': {
            const id = params.recording_id;
            const seconds = params.seconds ?? 60;
            if (typeof id !== 'string' || !/^[0-9a-f-]{36}$/i.test(id)) throw new CommandError('BAD_VALUE', 'recording_id must be the server’s recording UUID');
            if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 1 || seconds > 3600) throw new CommandError('BAD_VALUE', 'seconds must be 1-3600');
            source();
            record(id, seconds);
            break;
          }
          default:
            if (!inner.command) throw new CommandError('NOT_SUPPORTED', 'this camera takes no commands');
            return inner.command(body);
        }
        const now = state();
        ctx.setState(now);
        return now;
      },
    };
  };
}

/** PUTs a finished recording with its hash; the server keeps it only if every byte arrived. */
async function upload(ctx: DriverContext, link: MediaLink, authorization: string, id: string, made: { file: string; sha256: string; duration_s: number }): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await fetch(`${link.serverUrl}/api/media/recordings/${id}`, {
        method: 'PUT',
        headers: { authorization, 'content-type': 'video/mp4', 'x-content-sha256': made.sha256, 'x-duration-seconds': String(made.duration_s) },
        body: Readable.toWeb(createReadStream(made.file)) as ReadableStream,
        duplex: 'half',
      } as RequestInit);
      if (res.ok) return;
      const text = await res.text();
      // A refusal on the merits (unknown recording, already stored) is final; a server error is retried.
      if (res.status < 500) throw new MediaError('UPLOAD_REFUSED', `the server refused the recording: ${res.status} ${text.slice(0, 200)}`);
      throw new Error(`server answered ${res.status}`);
    } catch (err) {
      if (err instanceof MediaError || attempt >= UPLOAD_TRIES) throw err;
      ctx.log.warn({ recording_id: id, attempt, err: (err as Error).message }, 'recording upload failed; retrying');
      await new Promise((r) => setTimeout(r, UPLOAD_RETRY_MS * attempt));
    }
  }
}
