import { createHash, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, mkdirSync } from 'node:fs';
import { rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { AgentLog } from '../../agent.js';
import { FfmpegSupervisor, MediaError, redactText, redactUrl, type FfmpegExit, type FfmpegSupervisorOptions } from './ffmpeg.js';

/**
 * How the camera's RTP is pulled. TCP (interleaved) survives lossy links and NAT and is what cameras
 * are pulled with in production; UDP is for sources that offer nothing else.
 */
export type RtspTransport = 'tcp' | 'udp';

/**
 * What happens to the camera's audio. Video is always copied, never re-encoded. Audio defaults to AAC
 * because most IP cameras send G.711 (PCM A-law/µ-law), which neither MPEG-TS (HLS), MP4 nor a live
 * platform's FLV ingest accepts as is; encoding a mono speech track costs next to nothing.
 */
export type AudioMode = 'aac' | 'copy' | 'none';

export interface InputOptions {
  /** the camera's RTSP URI (may carry `user:pass@`; never logged as is) */
  input: string;
  transport?: RtspTransport;
  audio?: AudioMode;
}

export interface HlsOptions extends InputOptions {
  /** a directory the playlist `index.m3u8` and its segments are written to */
  outDir?: string;
  /** or an HTTP(S) URL of the playlist that it and the segments are PUT to (and DELETEd from) */
  putUrl?: string;
  /** HTTP headers sent with every PUT, e.g. the agent's `authorization` at the server */
  headers?: Record<string, string>;
  /** target segment length; segments cut at keyframes, so the camera's GOP sets the real length */
  segmentSeconds?: number;
  /** segments in the live playlist */
  listSize?: number;
}

export interface RtmpOptions extends InputOptions {
  /** the live platform's ingest URL with its stream key, `rtmp://` or `rtmps://` */
  url: string;
}

export interface RecordOptions extends InputOptions {
  /** where the finished MP4 goes */
  file: string;
  seconds: number;
}

function parseUrl(url: string, schemes: readonly string[], what: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new MediaError('BAD_URL', `${what} ${redactUrl(url)} is not a URL; expected ${schemes.map((s) => `${s}//…`).join(' or ')}`);
  }
  if (!schemes.includes(u.protocol)) throw new MediaError('BAD_URL', `${what} ${redactUrl(url)} must be ${schemes.map((s) => `${s}//…`).join(' or ')}, not ${u.protocol}//…`);
  return u;
}

function positive(value: number, name: string, max: number): number {
  if (!Number.isFinite(value) || value <= 0 || value > max) throw new MediaError('BAD_OPTION', `${name} must be a number above 0 and at most ${max}, got ${value}`);
  return value;
}

function inputArgs({ input, transport = 'tcp' }: InputOptions): string[] {
  parseUrl(input, ['rtsp:', 'rtsps:'], 'camera URI');
  return ['-rtsp_transport', transport, '-i', input];
}

/** First video and, if the camera has one, first audio track: cameras also send ONVIF metadata tracks no muxer here takes. */
function codecArgs({ audio = 'aac' }: InputOptions): string[] {
  const video = ['-map', '0:v:0', '-c:v', 'copy'];
  if (audio === 'none') return [...video, '-an'];
  // 32 kb/s: speech from a camera microphone; more is refused (and warned about) for 8 kHz mono G.711 sources.
  return [...video, '-map', '0:a:0?', ...(audio === 'copy' ? ['-c:a', 'copy'] : ['-c:a', 'aac', '-b:a', '32k'])];
}

/** ffmpeg's `-headers`: CRLF-terminated lines, so a name or value must not hold a line break of its own. */
function headerArgs(headers: Record<string, string> | undefined): string[] {
  if (!headers || Object.keys(headers).length === 0) return [];
  const lines = Object.entries(headers).map(([name, value]) => {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name) || /[\r\n]/.test(value)) throw new MediaError('BAD_OPTION', `HTTP header ${JSON.stringify(name)} has a bad name or a line break in its value`);
    return `${name}: ${value}\r\n`;
  });
  return ['-headers', lines.join('')];
}

/** RTSP → HLS live playlist, rolling (old segments deleted, no end marker) so it can run for months. */
export function hlsArgs(opts: HlsOptions): string[] {
  if ((opts.outDir === undefined) === (opts.putUrl === undefined)) throw new MediaError('BAD_OPTION', 'HLS needs exactly one of outDir or putUrl');
  const time = positive(opts.segmentSeconds ?? 2, 'segmentSeconds', 60);
  const size = positive(opts.listSize ?? 6, 'listSize', 100);
  const args = [...inputArgs(opts), ...codecArgs(opts), '-f', 'hls', '-hls_time', String(time), '-hls_list_size', String(Math.round(size))];
  if (opts.putUrl !== undefined) {
    parseUrl(opts.putUrl, ['http:', 'https:'], 'HLS ingest URL');
    // -http_persistent: ffmpeg then reads each answer; without it, it hangs up right after sending a
    // small playlist, and a server still checking credentials loses the upload.
    return [...args, '-hls_flags', 'delete_segments+omit_endlist', '-http_persistent', '1', '-method', 'PUT', ...headerArgs(opts.headers), opts.putUrl];
  }
  if (opts.headers) throw new MediaError('BAD_OPTION', 'HLS headers go with putUrl, not with a directory');
  // temp_file: the playlist is written aside and renamed, so the server never serves half of one.
  // -y: a restarted run overwrites the playlist of the run before instead of asking on stdin.
  return [...args, '-hls_flags', 'delete_segments+omit_endlist+temp_file', '-y', path.join(opts.outDir!, 'index.m3u8')];
}

/** RTSP → a live platform's RTMP ingest. */
export function rtmpArgs(opts: RtmpOptions): string[] {
  parseUrl(opts.url, ['rtmp:', 'rtmps:'], 'live platform URL');
  return [...inputArgs(opts), ...codecArgs(opts), '-f', 'flv', opts.url];
}

/** RTSP → one MP4 of `seconds`, index at the front so it plays while still downloading. */
export function recordArgs(opts: RecordOptions): string[] {
  const seconds = positive(opts.seconds, 'seconds', 24 * 3600);
  // -f mp4: the file may be a temporary name without the .mp4 extension ffmpeg would guess from.
  return [...inputArgs(opts), '-t', String(seconds), ...codecArgs(opts), '-movflags', '+faststart', '-f', 'mp4', '-y', opts.file];
}

/** Supervisor settings a pipeline passes on (intervals, binary), plus where it logs. */
export interface PipelineRuntime extends Omit<FfmpegSupervisorOptions, 'args' | 'restart'> {
  log?: AgentLog;
}

/** A live pipeline (HLS, RTMP): one supervised ffmpeg, restarted until stopped, its events logged with redacted URLs. */
export class LivePipeline {
  readonly supervisor: FfmpegSupervisor;

  constructor(
    /** for logs, e.g. `hls rtsp://***@10.0.0.5/… → /var/lib/lawbox/hls/cam1` */
    readonly label: string,
    args: string[],
    runtime: PipelineRuntime = {},
  ) {
    const { log, ...supervisorOptions } = runtime;
    this.supervisor = new FfmpegSupervisor({ ...supervisorOptions, args, restart: true });
    if (log) {
      this.supervisor.on('started', ({ pid }) => log.info({ pipeline: label, pid }, 'media pipeline started'));
      this.supervisor.on('stalled', ({ ms }) => log.warn({ pipeline: label, ms }, 'media pipeline stalled; restarting it'));
      this.supervisor.on('exit', (exit) => {
        if (exit.restarting) log.warn({ pipeline: label, ...exit, stderr: this.supervisor.tail().slice(-5) }, 'media pipeline exited; restarting it');
        else log.info({ pipeline: label, code: exit.code, signal: exit.signal }, 'media pipeline stopped');
      });
    }
  }

  start(): void {
    this.supervisor.start();
  }

  stop(): Promise<void> {
    return this.supervisor.stop();
  }
}

export function hlsPipeline(opts: HlsOptions, runtime?: PipelineRuntime): LivePipeline {
  const args = hlsArgs(opts);
  // ffmpeg's HLS muxer does not create the playlist's directory.
  if (opts.outDir !== undefined) mkdirSync(opts.outDir, { recursive: true });
  return new LivePipeline(`hls ${redactUrl(opts.input)} → ${opts.putUrl === undefined ? opts.outDir : redactUrl(opts.putUrl)}`, args, runtime);
}

export function rtmpPipeline(opts: RtmpOptions, runtime?: PipelineRuntime): LivePipeline {
  return new LivePipeline(`rtmp ${redactUrl(opts.input)} → ${redactUrl(opts.url)}`, rtmpArgs(opts), runtime);
}

export interface Recording {
  file: string;
  bytes: number;
  /** hex SHA-256 of the file, for the archive item's integrity record */
  sha256: string;
  /** the recorded length as ffmpeg wrote it */
  duration_s: number;
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Records one segment (run once, never restarted). ffmpeg writes to a hidden temporary name beside
 * `file`, renamed only after a clean exit, so a failed recording leaves nothing that looks stored.
 * Rejects with a `MediaError` `RECORDING_FAILED` carrying ffmpeg's last stderr lines.
 */
export async function recordSegment(opts: RecordOptions, runtime: Omit<PipelineRuntime, 'log'> = {}): Promise<Recording> {
  const partial = path.join(path.dirname(opts.file), `.${path.basename(opts.file)}.${randomUUID().slice(0, 8)}.partial`);
  const supervisor = new FfmpegSupervisor({ ...runtime, args: recordArgs({ ...opts, file: partial }), restart: false });
  const exited = once(supervisor, 'exit') as Promise<[FfmpegExit]>;
  supervisor.start();
  const [exit] = await exited;
  const fail = async (why: string) => {
    await unlink(partial).catch(() => {});
    const tail = supervisor.tail().slice(-10);
    return new MediaError('RECORDING_FAILED', `recording ${redactUrl(opts.input)} failed: ${why}${tail.length ? `\n${tail.join('\n')}` : ''}`);
  };
  if (exit.code !== 0) throw await fail(exit.stalled ? 'no data arrived (stalled)' : exit.error ?? `ffmpeg exited with ${exit.signal ?? `code ${exit.code}`}`);
  const bytes = await stat(partial).then((s) => s.size, () => 0);
  if (bytes === 0 || supervisor.outTimeUs === 0) throw await fail('ffmpeg wrote no media');
  const sha256 = await sha256File(partial);
  try {
    await rename(partial, opts.file);
  } catch (err) {
    throw await fail(redactText(err instanceof Error ? err.message : String(err)));
  }
  return { file: opts.file, bytes, sha256, duration_s: Math.round(supervisor.outTimeUs / 1000) / 1000 };
}
