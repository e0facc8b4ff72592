import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo } from 'node:net';
import { FfmpegSupervisor, killOnExit, resolveFfmpeg } from '../drivers/media/ffmpeg.js';
import type { RtspTransport } from '../drivers/media/pipelines.js';

/**
 * Debian's rtsp-server-perl (clients pull on one port, sources push with ANNOUNCE/RECORD on another),
 * started through its module rather than its script: whenever it has no mount it resets its RTP port
 * counter to the package global (20000), ignoring `--rtp_start_port`, so two servers on one machine
 * would fight over the same UDP ports. The first argument sets that global.
 */
const RTSP_SERVER_LAUNCHER = 'use AnyEvent; use RTSP::Server; $RTSP::Server::RTP_START_PORT = shift @ARGV; RTSP::Server->new_with_options->listen; AnyEvent->condvar->recv;';

/**
 * Why the simulated camera cannot run here, or null when it can: it needs ffmpeg with libx264 and
 * rtsp-server-perl. (ffmpeg alone cannot stand in: its RTSP `-rtsp_flags listen` mode receives a push,
 * it never serves a pull the way a camera does.)
 */
export function mediaToolsMissing(env: NodeJS.ProcessEnv = process.env): string | null {
  let ffmpeg: string;
  try {
    ffmpeg = resolveFfmpeg(env).path;
  } catch (err) {
    return (err as Error).message;
  }
  const encoders = spawnSync(ffmpeg, ['-hide_banner', '-encoders'], { encoding: 'utf8', timeout: 10_000 });
  if (!/\blibx264\b/.test(encoders.stdout ?? '')) return `${ffmpeg} has no libx264 encoder`;
  if (spawnSync('perl', ['-MRTSP::Server', '-e', '1'], { env }).status !== 0) return 'the RTSP::Server perl module is missing (apt install rtsp-server-perl)';
  return null;
}

/** A TCP port on 127.0.0.1 that was free a moment ago (and nothing listens on). */
export async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

/** One RTSP exchange on a fresh connection; resolves with the status code, or 0 when nothing answers. */
function rtspStatus(port: number, method: string, url: string, header = 'Accept: application/sdp'): Promise<number> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    const done = (status: number) => {
      socket.destroy();
      resolve(status);
    };
    socket.setTimeout(1000, () => done(0));
    socket.on('error', () => done(0));
    socket.on('connect', () => socket.write(`${method} ${url} RTSP/1.0\r\nCSeq: 1\r\n${header}\r\n\r\n`));
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
      const status = /^RTSP\/1\.0 (\d{3})/.exec(text);
      if (status) done(Number(status[1]));
    });
  });
}

async function poll(ok: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`simulated camera: ${what} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface RtspTestStream {
  /** pull URL, `rtsp://127.0.0.1:<port>/cam` */
  url: string;
  port: number;
  /** rtsp-server-perl relays RTP over UDP only (no interleaved TCP), so pull with this transport */
  transport: RtspTransport;
  /** the camera goes away: server and encoder stop, open pulls break */
  stop(): Promise<void>;
}

/**
 * A simulated IP camera: rtsp-server-perl serving `/cam` on `port` (a free one when 0), fed by an ffmpeg
 * encoding the `testsrc2` pattern (H.264, one keyframe a second) and, unless `audio` is false, a tone
 * as PCM A-law like most cameras send. 25 fps rather than a camera-like 10: a puller probes ~20 frames
 * before it starts, which at 10 fps costs every test two seconds. Resolves once the stream can be pulled.
 */
export async function startRtspTestStream(opts: { port?: number; audio?: boolean; path?: string } = {}): Promise<RtspTestStream> {
  const port = opts.port || (await freePort());
  const sourcePort = await freePort();
  const mount = opts.path ?? '/cam';
  // The server takes two UDP ports per track and per pulling client from here on; a random even base
  // below the ephemeral range keeps simulated cameras of parallel test files apart.
  const rtpBase = 20_000 + 2 * Math.floor(Math.random() * 5000);
  const server = spawn(
    'perl',
    ['-e', RTSP_SERVER_LAUNCHER, String(rtpBase), '--clientport', String(port), '--serverport', String(sourcePort), '--client_listen_address', '127.0.0.1', '--source_listen_address', '127.0.0.1', '--rtp_start_port', String(rtpBase), '--loglevel', '1'],
    { stdio: 'ignore' },
  );
  killOnExit(server);
  let serverError: Error | null = null;
  // `once` also takes the 'error' of a server that could not be spawned.
  const serverExited = once(server, 'exit').catch((err: Error) => (serverError = err));
  let encoder: FfmpegSupervisor | null = null;
  const stop = async () => {
    await encoder?.stop();
    if (server.pid !== undefined && server.exitCode === null && server.signalCode === null) {
      server.kill('SIGKILL');
      await serverExited;
    }
  };
  try {
    await poll(async () => {
      if (serverError) throw new Error(`simulated camera: rtsp-server-perl could not be started: ${serverError.message}`);
      if (server.exitCode !== null) throw new Error(`simulated camera: rtsp-server-perl exited with ${server.exitCode} (port ${port} or ${sourcePort} taken?)`);
      return (await rtspStatus(sourcePort, 'OPTIONS', '*')) === 200;
    }, 5000, 'rtsp-server-perl did not listen');
    const audio = opts.audio === false ? [] : ['-re', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=8000'];
    encoder = new FfmpegSupervisor({
      args: [
        ...['-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', ...audio],
        ...['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '25'],
        ...(opts.audio === false ? [] : ['-c:a', 'pcm_alaw', '-ac', '1']),
        ...['-f', 'rtsp', `rtsp://127.0.0.1:${sourcePort}${mount}`],
      ],
      restart: false,
      stallMs: 0,
      quitMs: 0,
      graceMs: 1000,
    });
    encoder.start();
    const url = `rtsp://127.0.0.1:${port}${mount}`;
    // The mount appears at ANNOUNCE, its tracks one SETUP each after: pullable once the last track
    // accepts a SETUP (a throwaway one, to the discard port, dropped with the connection).
    const lastTrack = `${url}/streamid=${opts.audio === false ? 0 : 1}`;
    await poll(async () => {
      if (!encoder!.running) throw new Error(`simulated camera: the encoder exited: ${encoder!.tail().join(' | ')}`);
      return (await rtspStatus(port, 'SETUP', lastTrack, 'Transport: RTP/AVP;unicast;client_port=9-10')) === 200;
    }, 10_000, 'the stream was not announced');
    return { url, port, transport: 'udp', stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
