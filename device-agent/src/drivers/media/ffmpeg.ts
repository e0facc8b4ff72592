import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { accessSync, constants, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { BackoffOptions } from '../../runtime/supervisor.js';

/** A media failure with a stable machine code, e.g. `FFMPEG_NOT_FOUND`, `BAD_URL`, `RECORDING_FAILED`. */
export class MediaError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'MediaError';
  }
}

export type FfmpegSource = 'FFMPEG_PATH' | 'ffmpeg-static' | 'PATH';

function isExecutableFile(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The first executable `name` in the directories of `env.PATH`, or null. */
export function findOnPath(name: string, env: NodeJS.ProcessEnv = process.env): string | null {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return null;
}

/**
 * Which ffmpeg the agent runs: `FFMPEG_PATH` (an admin's explicit choice, so a wrong one is an error
 * rather than silently skipped), else the binary of the optional `ffmpeg-static` package (its install
 * downloads the binary and fails offline, so the package or its file is often absent), else `ffmpeg`
 * on PATH. `resolveFrom` is where `ffmpeg-static` is looked up from, this module by default.
 */
export function resolveFfmpeg(env: NodeJS.ProcessEnv = process.env, resolveFrom: string = import.meta.url): { path: string; source: FfmpegSource } {
  const explicit = env.FFMPEG_PATH;
  if (explicit) {
    if (!isExecutableFile(explicit)) throw new MediaError('FFMPEG_NOT_FOUND', `FFMPEG_PATH is ${explicit}, which is not an executable file; point it at an ffmpeg binary or unset it`);
    return { path: explicit, source: 'FFMPEG_PATH' };
  }
  try {
    // ffmpeg-static exports the binary's path, or null on a platform it has no build for.
    const bundled: unknown = createRequire(resolveFrom)('ffmpeg-static');
    if (typeof bundled === 'string' && isExecutableFile(bundled)) return { path: bundled, source: 'ffmpeg-static' };
  } catch {
    // not installed: fall through to PATH
  }
  const onPath = findOnPath('ffmpeg', env);
  if (onPath) return { path: onPath, source: 'PATH' };
  throw new MediaError(
    'FFMPEG_NOT_FOUND',
    'no ffmpeg found: set FFMPEG_PATH to an ffmpeg binary, install the ffmpeg-static package (needs network at install), or install ffmpeg on PATH (apt install ffmpeg)',
  );
}

/** Query parameters whose values are credentials in camera and streaming URLs. */
const SECRET_PARAM = /pass|pwd|user|token|key|secret|auth|sig/i;

/**
 * A URL fit for a log line: user and password become `***`, as do secret-looking query values and,
 * for RTMP, the last path segment (the stream key is the credential of a live platform).
 */
export function redactUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    // Not parseable, but may still carry `user:pass@`.
    return url.replace(/\/\/[^/@\s]*@/, '//***@');
  }
  if (u.username || u.password) {
    u.username = '***';
    u.password = '';
  }
  for (const key of [...u.searchParams.keys()]) if (SECRET_PARAM.test(key)) u.searchParams.set(key, '***');
  if ((u.protocol === 'rtmp:' || u.protocol === 'rtmps:') && /\/[^/]+\/[^/]+/.test(u.pathname)) u.pathname = u.pathname.replace(/[^/]+$/, '***');
  return u.toString();
}

/** Every URL inside free text (an ffmpeg stderr line, an error message) redacted. */
export function redactText(text: string): string {
  return text.replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s'"]+/gi, (url) => redactUrl(url));
}

export interface FfmpegSupervisorOptions {
  /** ffmpeg's input and output arguments; the supervisor adds its own logging and progress flags in front */
  args: readonly string[];
  /** the binary; `resolveFfmpeg()` when absent */
  binary?: string;
  /** start again after an exit nobody asked for (a live pipeline); false for a one-shot job */
  restart?: boolean;
  backoff?: BackoffOptions;
  /** a run whose output time has not advanced for this long is killed (and restarted); 0 turns this off */
  stallMs?: number;
  /** how long `stop` waits after `q` on stdin before SIGTERM */
  quitMs?: number;
  /** how long a SIGTERM gets before SIGKILL */
  graceMs?: number;
  /** stderr lines kept for diagnostics */
  tailLines?: number;
}

export interface FfmpegExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** whether another run follows, after `delayMs` */
  restarting: boolean;
  delayMs: number;
  /** set when the process could not be started at all */
  error?: string;
  /** set when the supervisor killed the run for making no progress */
  stalled?: boolean;
}

export type FfmpegEvents = {
  started: [{ pid: number }];
  exit: [FfmpegExit];
  stalled: [{ ms: number }];
};

export const DEFAULT_FFMPEG_BACKOFF: BackoffOptions = { minMs: 1000, maxMs: 30_000, stableMs: 30_000 };

/**
 * Flags in front of every run: warnings and errors only on stderr (kept as the diagnostic tail) and
 * machine-readable progress blocks on stdout (the stall watchdog reads them). stdin stays open: `q` on
 * it is ffmpeg's clean stop, which finalises the output.
 */
const GLOBAL_ARGS = ['-hide_banner', '-nostats', '-loglevel', 'warning', '-progress', 'pipe:1'];

interface Run {
  child: ChildProcess;
  startedAt: number;
  lastProgressAt: number;
  progress: { out_time_us?: string; total_size?: string };
  stalled: boolean;
  exited: Promise<void>;
  watchdog: NodeJS.Timeout | null;
}

/** Children still alive, killed when the agent exits so no ffmpeg outlives it. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/**
 * Registers a spawned child to be SIGKILLed if the agent exits first (best effort: a signal that kills
 * the agent outright skips 'exit' handlers). Children stay in the agent's process group on purpose,
 * so Ctrl-C, `timeout` or a service manager signalling the group reaches them too.
 */
export function killOnExit(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const c of live) c.kill('SIGKILL');
    });
  }
  live.add(child);
  child.once('exit', () => live.delete(child));
}

/**
 * Runs one ffmpeg process: `start` on demand, a fresh run after an unexpected exit (exponential backoff,
 * back to the minimum after a run that lasted `stableMs`), a watchdog that kills a run whose output
 * time stands still, and `stop` as `q` → SIGTERM → SIGKILL, resolved once the process is gone.
 * Emits `started`, `exit` and `stalled`; nothing it does throws at the caller after construction.
 */
export class FfmpegSupervisor extends EventEmitter<FfmpegEvents> {
  readonly binary: string;
  readonly stats = { starts: 0 };
  /** output time of the current (or last) run in microseconds, from ffmpeg's progress report */
  outTimeUs = 0;
  private run: Run | null = null;
  private wanted = false;
  private failures = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private readonly tailBuf: string[] = [];
  private readonly opts: Required<Omit<FfmpegSupervisorOptions, 'binary'>>;

  constructor(options: FfmpegSupervisorOptions) {
    super();
    this.binary = options.binary ?? resolveFfmpeg().path;
    this.opts = {
      args: options.args,
      restart: options.restart ?? true,
      backoff: options.backoff ?? DEFAULT_FFMPEG_BACKOFF,
      stallMs: options.stallMs ?? 20_000,
      quitMs: options.quitMs ?? 1000,
      graceMs: options.graceMs ?? 5000,
      tailLines: options.tailLines ?? 50,
    };
  }

  get running(): boolean {
    return this.run !== null;
  }

  get pid(): number | undefined {
    return this.run?.child.pid;
  }

  /** The last stderr lines (URLs redacted), oldest first. */
  tail(): string[] {
    return [...this.tailBuf];
  }

  start(): void {
    if (this.wanted) return;
    this.wanted = true;
    this.failures = 0;
    this.spawnRun();
  }

  /** Stops for good (no restart follows); resolves once the process has exited. Never rejects. */
  async stop(): Promise<void> {
    this.wanted = false;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const run = this.run;
    if (!run) return;
    run.child.stdin?.end('q');
    await this.terminate(run, this.opts.quitMs);
  }

  private spawnRun(): void {
    this.retryTimer = null;
    this.outTimeUs = 0;
    const child = spawn(this.binary, [...GLOBAL_ARGS, ...this.opts.args], { stdio: ['pipe', 'pipe', 'pipe'] });
    const now = Date.now();
    let exited!: () => void;
    const run: Run = { child, startedAt: now, lastProgressAt: now, progress: {}, stalled: false, exited: new Promise((r) => (exited = r)), watchdog: null };
    this.run = run;
    this.stats.starts++;
    killOnExit(child);
    // A stdin write racing the process's end must not surface as an uncaught EPIPE.
    child.stdin?.on('error', () => {});
    let finished = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null, error?: string) => {
      if (finished) return;
      finished = true;
      exited();
      this.onExit(run, code, signal, error);
    };
    child.once('spawn', () => this.emit('started', { pid: child.pid! }));
    child.once('error', (err) => finish(null, null, err.message));
    child.once('exit', (code, signal) => finish(code, signal));
    createInterface({ input: child.stderr! }).on('line', (line) => {
      this.tailBuf.push(redactText(line));
      if (this.tailBuf.length > this.opts.tailLines) this.tailBuf.shift();
    });
    createInterface({ input: child.stdout! }).on('line', (line) => this.onProgress(run, line));
    if (this.opts.stallMs > 0) {
      run.watchdog = setInterval(() => this.checkStall(run), Math.min(1000, this.opts.stallMs / 4));
      run.watchdog.unref();
    }
  }

  private onProgress(run: Run, line: string): void {
    const eq = line.indexOf('=');
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    // Progress means the output moved on: a later output time or more bytes written.
    if ((key !== 'out_time_us' && key !== 'total_size') || !/^\d+$/.test(value) || run.progress[key] === value) return;
    run.progress[key] = value;
    run.lastProgressAt = Date.now();
    if (key === 'out_time_us') this.outTimeUs = Number(value);
  }

  private checkStall(run: Run): void {
    const idle = Date.now() - run.lastProgressAt;
    if (run.stalled || this.run !== run || idle < this.opts.stallMs) return;
    run.stalled = true;
    this.emit('stalled', { ms: idle });
    // A stalled ffmpeg is stuck in a read and would not see `q`; SIGTERM interrupts blocking I/O.
    void this.terminate(run, 0);
  }

  private async terminate(run: Run, quitMs: number): Promise<void> {
    const gone = (ms: number) => Promise.race([run.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref())]);
    if (quitMs > 0 && (await gone(quitMs))) return;
    run.child.kill('SIGTERM');
    if (await gone(this.opts.graceMs)) return;
    run.child.kill('SIGKILL');
    await run.exited;
  }

  private onExit(run: Run, code: number | null, signal: NodeJS.Signals | null, error?: string): void {
    if (run.watchdog) clearInterval(run.watchdog);
    if (this.run !== run) return;
    this.run = null;
    const restarting = this.wanted && this.opts.restart;
    let delayMs = 0;
    if (restarting) {
      const { minMs, maxMs, stableMs } = this.opts.backoff;
      this.failures = Date.now() - run.startedAt >= stableMs ? 1 : this.failures + 1;
      delayMs = Math.min(maxMs, minMs * 2 ** (this.failures - 1));
      this.retryTimer = setTimeout(() => {
        if (this.wanted) this.spawnRun();
      }, delayMs);
    } else {
      this.wanted = false;
    }
    const info: FfmpegExit = { code, signal, restarting, delayMs };
    if (error) info.error = redactText(error);
    if (run.stalled) info.stalled = true;
    this.emit('exit', info);
  }
}
