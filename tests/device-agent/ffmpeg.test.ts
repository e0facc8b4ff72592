import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import { FfmpegSupervisor, findOnPath, redactText, redactUrl, resolveFfmpeg, type FfmpegExit } from '../../device-agent/src/drivers/media/ffmpeg.js';
import { hlsArgs, hlsPipeline, recordArgs, recordSegment, rtmpArgs, rtmpPipeline } from '../../device-agent/src/drivers/media/pipelines.js';
import { freePort, mediaToolsMissing, startRtspTestStream } from '../../device-agent/src/simulators/rtsp-stream.js';
import { until } from '../helpers/devices.js';

/** An executable shell script standing in for ffmpeg (it ignores the arguments it is given). */
function script(dir: string, name: string, body: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}

/** Whether `pid` is a live process (not gone, not a zombie). */
function running(pid: number): boolean {
  try {
    return !/^\S+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function exits(sup: FfmpegSupervisor): FfmpegExit[] {
  const list: FfmpegExit[] = [];
  sup.on('exit', (e) => list.push(e));
  return list;
}

t.test('ffmpeg is found through FFMPEG_PATH, then ffmpeg-static, then PATH', async (t) => {
  // Outside the repository, so no node_modules up the tree can answer for ffmpeg-static.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lawbox-ffmpeg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const bin = path.join(dir, 'bin');
  mkdirSync(bin);
  const onPath = script(bin, 'ffmpeg', 'exit 0');
  const chosen = script(dir, 'my-ffmpeg', 'exit 0');
  const bare = pathToFileURL(path.join(dir, 'entry.js')).href;

  t.throws(() => resolveFfmpeg({ FFMPEG_PATH: path.join(dir, 'nope'), PATH: bin }, bare), { code: 'FFMPEG_NOT_FOUND', message: /FFMPEG_PATH is .*nope, which is not an executable file/ }, 'a wrong FFMPEG_PATH is an error, not skipped');
  t.throws(() => resolveFfmpeg({ FFMPEG_PATH: bin, PATH: bin }, bare), { code: 'FFMPEG_NOT_FOUND' }, 'a directory is not an ffmpeg');
  t.same(resolveFfmpeg({ FFMPEG_PATH: chosen, PATH: bin }, bare), { path: chosen, source: 'FFMPEG_PATH' }, 'FFMPEG_PATH wins over PATH');
  t.same(resolveFfmpeg({ PATH: `/nonexistent${path.delimiter}${bin}` }, bare), { path: onPath, source: 'PATH' }, 'without it, the first ffmpeg on PATH');

  const pkg = path.join(dir, 'app', 'node_modules', 'ffmpeg-static');
  mkdirSync(pkg, { recursive: true });
  writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: 'ffmpeg-static', main: 'index.js' }));
  const bundled = script(pkg, 'ffmpeg', 'exit 0');
  writeFileSync(path.join(pkg, 'index.js'), `module.exports = ${JSON.stringify(bundled)};`);
  const app = pathToFileURL(path.join(dir, 'app', 'entry.js')).href;
  t.same(resolveFfmpeg({ PATH: bin }, app), { path: bundled, source: 'ffmpeg-static' }, 'an installed ffmpeg-static comes before PATH');
  t.same(resolveFfmpeg({ FFMPEG_PATH: chosen, PATH: bin }, app), { path: chosen, source: 'FFMPEG_PATH' }, 'and after FFMPEG_PATH');
  rmSync(bundled);
  t.same(resolveFfmpeg({ PATH: bin }, app), { path: onPath, source: 'PATH' }, 'ffmpeg-static whose download failed (no binary) is passed over');

  t.throws(() => resolveFfmpeg({ PATH: path.join(dir, 'app') }, bare), { code: 'FFMPEG_NOT_FOUND', message: /FFMPEG_PATH.*ffmpeg-static.*PATH/ }, 'none at all names all three ways to provide one');
});

t.test('URLs are redacted for logs and the argument builders refuse bad configuration', async (t) => {
  t.equal(redactUrl('rtsp://admin:s3cret@10.0.0.5:554/Streaming/Channels/101'), 'rtsp://***@10.0.0.5:554/Streaming/Channels/101', 'user and password of a camera URI');
  t.equal(redactUrl('rtsp://10.0.0.6/cam/realmonitor?channel=1&user=admin&password=s3cret'), 'rtsp://10.0.0.6/cam/realmonitor?channel=1&user=***&password=***', 'credentials in the query, the channel kept');
  t.equal(redactUrl('rtmp://push.example.com/live/sk-9f8e7d'), 'rtmp://push.example.com/live/***', 'the stream key of a live platform');
  t.equal(redactUrl('rtsp://admin:s3cret@[bad'), 'rtsp://***@[bad', 'even a URL that does not parse');
  t.equal(
    redactText('[rtsp @ 0x55d] method DESCRIBE failed: 401 Unauthorized\nrtsp://admin:s3cret@10.0.0.5/ch1: Server returned 401'),
    '[rtsp @ 0x55d] method DESCRIBE failed: 401 Unauthorized\nrtsp://***@10.0.0.5/ch1: Server returned 401',
    'a URL inside an ffmpeg message',
  );

  const input = 'rtsp://admin:s3cret@10.0.0.5/ch1';
  t.same(
    hlsArgs({ input, outDir: '/srv/hls/cam1', segmentSeconds: 2, listSize: 5 }),
    ['-rtsp_transport', 'tcp', '-i', input, '-map', '0:v:0', '-c:v', 'copy', '-map', '0:a:0?', '-c:a', 'aac', '-b:a', '32k', '-f', 'hls', '-hls_time', '2', '-hls_list_size', '5', '-hls_flags', 'delete_segments+omit_endlist+temp_file', '-y', '/srv/hls/cam1/index.m3u8'],
    'HLS to a directory: video copied, G.711-safe audio, rolling playlist',
  );
  t.match(hlsArgs({ input, putUrl: 'http://127.0.0.1:8080/ingest/cam1/index.m3u8', audio: 'none' }).join(' '), /-an -f hls .* -method PUT http:\/\/127\.0\.0\.1:8080\/ingest\/cam1\/index\.m3u8$/, 'HLS PUT to an ingest URL');
  t.throws(() => hlsArgs({ input }), { code: 'BAD_OPTION' }, 'HLS needs a destination');
  t.throws(() => hlsArgs({ input, outDir: '/x', putUrl: 'http://h/x.m3u8' }), { code: 'BAD_OPTION' }, 'and only one');
  t.throws(() => hlsArgs({ input, putUrl: 'ftp://h/x.m3u8' }), { code: 'BAD_URL' }, 'the ingest is HTTP(S)');
  t.same(hlsArgs({ input, putUrl: 'http://h/x.m3u8', headers: { authorization: 'Basic YQ==', 'x-camera': 'cam1' } }).slice(-4), ['PUT', '-headers', 'authorization: Basic YQ==\r\nx-camera: cam1\r\n', 'http://h/x.m3u8'], 'headers for the ingest');
  t.throws(() => hlsArgs({ input, putUrl: 'http://h/x.m3u8', headers: { 'x-a': 'v\r\nx-injected: 1' } }), { code: 'BAD_OPTION' }, 'a header value cannot smuggle in another header');
  t.match(rtmpArgs({ input, url: 'rtmps://push.example.com/live/key' }).slice(-3), ['-f', 'flv', 'rtmps://push.example.com/live/key'], 'RTMPS push as FLV');
  for (const url of ['http://push.example.com/live/key', 'file:///etc/passwd', 'srt://h:9000', 'push.example.com/live/key'])
    t.throws(() => rtmpArgs({ input, url }), { code: 'BAD_URL', message: /live platform URL .*rtmp:\/\/… or rtmps:\/\/…/ }, `${url} is refused as a live platform URL`);
  t.throws(() => rtmpArgs({ input: 'http://admin:s3cret@10.0.0.5/ch1', url: 'rtmp://h/live/k' }), { code: 'BAD_URL', message: /^camera URI http:\/\/\*\*\*@10\.0\.0\.5\/ch1 must be rtsp/ }, 'the camera URI is RTSP, and its password is not in the error');
  t.match(recordArgs({ input, file: '/tmp/a.partial', seconds: 60, transport: 'udp' }), ['-rtsp_transport', 'udp', '-i', input, '-t', '60'], 'a recording of 60 s');
  t.same(recordArgs({ input, file: '/tmp/a.partial', seconds: 60 }).slice(-6), ['-movflags', '+faststart', '-f', 'mp4', '-y', '/tmp/a.partial'], 'as faststart MP4 whatever the file is called');
  t.throws(() => recordArgs({ input, file: '/tmp/a.mp4', seconds: 0 }), { code: 'BAD_OPTION' }, 'a recording has a length');
});

t.test('an ffmpeg that keeps exiting is restarted with a doubling delay', async (t) => {
  const dir = t.testdir();
  const starts = path.join(dir, 'starts');
  const binary = script(dir, 'ffmpeg', `echo x >> ${starts}; echo "Connection refused" >&2; exit 3`);
  const sup = new FfmpegSupervisor({ binary, args: [], backoff: { minMs: 40, maxMs: 320, stableMs: 10_000 }, stallMs: 0 });
  t.teardown(() => sup.stop());
  const startedAt: number[] = [];
  sup.on('started', () => startedAt.push(Date.now()));
  const seen = exits(sup);
  sup.start();
  t.ok(await until(() => seen.length >= 6, 5000), 'six runs');
  await sup.stop();
  t.same(seen.slice(0, 6).map((e) => e.delayMs), [40, 80, 160, 320, 320, 320], 'the delay doubles up to the maximum');
  t.ok(seen.slice(0, 6).every((e) => e.code === 3 && e.restarting), 'each exit is reported with its code and a restart');
  for (let i = 1; i < 5; i++) t.ok(startedAt[i]! - startedAt[i - 1]! >= seen[i - 1]!.delayMs - 5, `run ${i + 1} waited its delay`);
  t.match(sup.tail().at(-1), 'Connection refused', 'stderr is kept for diagnostics');
  const runs = readFileSync(starts, 'utf8').split('\n').filter(Boolean).length;
  await new Promise((r) => setTimeout(r, 400));
  t.equal(readFileSync(starts, 'utf8').split('\n').filter(Boolean).length, runs, 'nothing starts after stop');
  t.equal(sup.stats.starts, runs, 'every start was a real run');
});

t.test('a run that lasted stableMs starts the backoff over', async (t) => {
  const binary = script(t.testdir(), 'ffmpeg', 'sleep 0.2; exit 1');
  const sup = new FfmpegSupervisor({ binary, args: [], backoff: { minMs: 30, maxMs: 1000, stableMs: 150 }, stallMs: 0 });
  t.teardown(() => sup.stop());
  const seen = exits(sup);
  sup.start();
  t.ok(await until(() => seen.length >= 3, 3000), 'three runs');
  t.same(seen.slice(0, 3).map((e) => e.delayMs), [30, 30, 30], 'each ran long enough to count as stable');
});

t.test('stop sends q, then SIGTERM, then SIGKILL to a process that ignores both', async (t) => {
  // An ignored signal stays ignored across exec: `sleep` shrugs off SIGTERM and never reads stdin.
  const binary = script(t.testdir(), 'ffmpeg', `trap '' TERM; echo ready >&2; exec sleep 30`);
  const sup = new FfmpegSupervisor({ binary, args: [], stallMs: 0, quitMs: 100, graceMs: 300 });
  const seen = exits(sup);
  sup.start();
  t.ok(await until(() => sup.tail().includes('ready'), 3000), 'running, TERM ignored');
  const pid = sup.pid!;
  const t0 = Date.now();
  await sup.stop();
  const took = Date.now() - t0;
  t.ok(took >= 380 && took < 2000, `stop waited for q and the grace period, then killed (${took} ms)`);
  t.match(seen, [{ signal: 'SIGKILL', restarting: false }], 'one exit, by SIGKILL, not restarted');
  t.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, 'the process is gone and reaped, no zombie');
  t.notOk(sup.running, 'the supervisor is idle');
});

t.test('an agent that exits takes its ffmpeg along', async (t) => {
  const dir = t.testdir();
  const binary = script(dir, 'ffmpeg', 'exec sleep 30');
  const module = pathToFileURL(path.resolve('device-agent/src/drivers/media/ffmpeg.js')).href;
  // A separate agent process (with this test's TypeScript loader) that starts a run and exits at once.
  const code = `import { FfmpegSupervisor } from ${JSON.stringify(module)};
    const sup = new FfmpegSupervisor({ binary: ${JSON.stringify(binary)}, args: [], stallMs: 0 });
    sup.on('started', ({ pid }) => { console.log(pid); process.exit(0); });
    sup.start();`;
  const agent = spawnSync(process.execPath, [...process.execArgv, '--input-type=module', '-e', code], { encoding: 'utf8', timeout: 20_000 });
  const pid = Number(agent.stdout.trim());
  t.ok(pid > 0, 'the agent started a run', { stderr: agent.stderr });
  // Orphaned by the agent's exit, the killed run stays a zombie until init reaps it; it must not run on.
  t.ok(await until(() => !running(pid), 2000), 'which did not outlive it');
});

t.test('a run whose output time stands still is killed and restarted; one that progresses is left alone', async (t) => {
  const dir = t.testdir();
  const stuck = new FfmpegSupervisor({ binary: script(dir, 'stuck', 'exec sleep 30'), args: [], stallMs: 300, quitMs: 0, graceMs: 500, backoff: { minMs: 50, maxMs: 50, stableMs: 10_000 } });
  t.teardown(() => stuck.stop());
  const stalls: number[] = [];
  stuck.on('stalled', ({ ms }) => stalls.push(ms));
  const seen = exits(stuck);
  stuck.start();
  t.ok(await until(() => stuck.stats.starts >= 2, 3000), 'started again');
  t.ok(stalls.length >= 1 && stalls[0]! >= 300, 'reported as stalled');
  t.match(seen[0], { stalled: true, signal: 'SIGTERM', restarting: true }, 'SIGTERM ended the stalled run');
  await stuck.stop();

  const flowing = new FfmpegSupervisor({
    binary: script(dir, 'flowing', 'i=0; while :; do i=$((i+100000)); echo "out_time_us=$i"; echo progress=continue; sleep 0.1; done'),
    args: [],
    stallMs: 300,
    quitMs: 0,
  });
  t.teardown(() => flowing.stop());
  let flowStalls = 0;
  flowing.on('stalled', () => flowStalls++);
  flowing.start();
  await new Promise((r) => setTimeout(r, 1000));
  t.equal(flowStalls, 0, 'progress lines keep the watchdog quiet');
  t.equal(flowing.stats.starts, 1, 'and the run alive');
  t.ok(flowing.outTimeUs >= 500_000, 'the output time is read from the progress report');
});

const missing = mediaToolsMissing() ?? (findOnPath('ffprobe') ? null : 'ffprobe is not on PATH');
if (missing) console.log(`# skipping the real ffmpeg tests: ${missing}`);
const ffprobe = (file: string) =>
  JSON.parse(spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration:stream=codec_name', '-of', 'json', file], { encoding: 'utf8' }).stdout) as { streams?: { codec_name: string }[]; format?: { duration: string } };
const fast = { backoff: { minMs: 200, maxMs: 800, stableMs: 10_000 }, stallMs: 5000, graceMs: 2000 };

/** The segments an HLS playlist lists. */
function listed(playlist: string): string[] {
  return playlist.split('\n').filter((l) => l && !l.startsWith('#'));
}

if (!missing)
  t.test('from a simulated camera', async (t) => {
    const cam = await startRtspTestStream();
    t.teardown(() => cam.stop());
    const input = { input: cam.url, transport: cam.transport };
    // The camera serves many pulls at once, and each of these mostly waits on real time.
    t.jobs = 4;

    t.test('RTSP is remuxed to a rolling HLS playlist in a directory', async (t) => {
      const outDir = path.join(t.testdir(), 'hls');
      const hls = hlsPipeline({ ...input, outDir, segmentSeconds: 1, listSize: 4 }, fast);
      t.teardown(() => hls.stop());
      const exitsSeen = exits(hls.supervisor);
      hls.start();
      const playlist = path.join(outDir, 'index.m3u8');
      const ready = () => existsSync(playlist) && listed(readFileSync(playlist, 'utf8')).filter((s) => existsSync(path.join(outDir, s))).length >= 2;
      t.ok(await until(ready, 10_000), 'the playlist lists two segments that exist');
      t.match(readFileSync(playlist, 'utf8'), /^#EXTM3U\n[\s\S]*#EXT-X-TARGETDURATION:\d+/, 'it is an HLS playlist');
      t.notMatch(readFileSync(playlist, 'utf8'), '#EXT-X-ENDLIST', 'a live one, without an end');
      const segment = path.join(outDir, listed(readFileSync(playlist, 'utf8'))[0]!);
      t.same(ffprobe(segment).streams?.map((s) => s.codec_name), ['h264', 'aac'], 'H.264 copied, the camera G.711 audio as AAC');
      await hls.stop();
      // SIGTERM would end ffmpeg with 255: code 0 means `q` on stdin stopped it.
      t.match(exitsSeen, [{ code: 0, signal: null, restarting: false }], 'q stops it cleanly, after one run');
    });

    t.test('HLS can be PUT to an HTTP ingest instead', async (t) => {
      const stored = new Map<string, Buffer>();
      const unauthorized: string[] = [];
      const server = createHttpServer((req, res) => {
        if (req.headers.authorization !== 'Basic YWdlbnQ6cHc=') unauthorized.push(`${req.method} ${req.url}`);
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          if (req.method === 'PUT' || req.method === 'POST') stored.set(req.url!, Buffer.concat(chunks));
          else if (req.method === 'DELETE') stored.delete(req.url!);
          res.end();
        });
      });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      t.teardown(() => new Promise((r) => server.close(r)));
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/ingest/cam1`;
      const hls = hlsPipeline({ ...input, putUrl: `${base}/index.m3u8`, headers: { authorization: 'Basic YWdlbnQ6cHc=' }, segmentSeconds: 1, listSize: 4 }, fast);
      t.teardown(() => hls.stop());
      hls.start();
      const playlist = () => stored.get('/ingest/cam1/index.m3u8')?.toString() ?? '';
      t.ok(await until(() => listed(playlist()).filter((s) => (stored.get(`/ingest/cam1/${s}`)?.length ?? 0) > 0).length >= 2, 10_000), 'the playlist and two segments it lists arrived by PUT');
      t.ok(listed(playlist()).every((s) => !s.includes('/')), 'segments are named relative to the playlist');
      t.same(unauthorized, [], 'every request carried the authorization header');
      t.notMatch(hls.label, 'Basic', 'which is not in the log label');
    });

    t.test('a 3 s recording is a finished MP4 with its size and hash', async (t) => {
      const dir = t.testdir();
      const file = path.join(dir, 'clip.mp4');
      const rec = await recordSegment({ ...input, file, seconds: 3 }, fast);
      t.equal(rec.file, file, 'stored under the name asked for');
      t.same(readdirSync(dir), ['clip.mp4'], 'no temporary file left');
      t.equal(rec.bytes, statSync(file).size, 'its size');
      t.equal(rec.sha256, createHash('sha256').update(readFileSync(file)).digest('hex'), 'its SHA-256');
      const probe = ffprobe(file);
      t.ok(Math.abs(Number(probe.format?.duration) - 3) < 0.3, `ffprobe reads about 3 s (${probe.format?.duration})`);
      t.ok(Math.abs(rec.duration_s - 3) < 0.3, `and so does the result (${rec.duration_s})`);
      t.same(probe.streams?.map((s) => s.codec_name), ['h264', 'aac'], 'video and audio');
      const head = readFileSync(file).subarray(0, 64).toString('latin1');
      t.ok(head.indexOf('moov') >= 0 && (head.indexOf('mdat') < 0 || head.indexOf('moov') < head.indexOf('mdat')), 'the index is at the front (faststart)');
    });

    t.test('the stream is pushed to an RTMP receiver', async (t) => {
      const dir = t.testdir();
      const port = await freePort();
      const received = path.join(dir, 'received.flv');
      // ffmpeg in RTMP listen mode stands in for the live platform's ingest.
      const receiver = new FfmpegSupervisor({ args: ['-listen', '1', '-f', 'flv', '-i', `rtmp://127.0.0.1:${port}/live/stream-key`, '-c', 'copy', '-f', 'flv', '-y', received], restart: false, stallMs: 0, graceMs: 1000 });
      t.teardown(() => receiver.stop());
      const receiverExit = once(receiver, 'exit');
      receiver.start();
      const push = rtmpPipeline({ ...input, url: `rtmp://127.0.0.1:${port}/live/stream-key` }, fast);
      t.teardown(() => push.stop());
      push.start();
      const pushExits = exits(push.supervisor);
      const receiverExits = exits(receiver);
      t.ok(await until(() => existsSync(received) && statSync(received).size > 10_000, 15_000), 'media bytes arrive at the receiver', {
        push: { exits: pushExits, stderr: push.supervisor.tail() },
        receiver: { exits: receiverExits, stderr: receiver.tail() },
      });
      await push.stop();
      await receiverExit;
      t.same(ffprobe(received).streams?.map((s) => s.codec_name), ['h264', 'aac'], 'as FLV with H.264 and AAC');
    });
  });

if (!missing)
  t.test('a recording from a camera that does not answer rejects and leaves no file', async (t) => {
    const dir = t.testdir();
    const port = await freePort();
    const err = await recordSegment({ input: `rtsp://admin:s3cret@127.0.0.1:${port}/cam`, file: path.join(dir, 'clip.mp4'), seconds: 2 }, fast).then(
      () => new Error('resolved'),
      (e: unknown) => e as Error,
    );
    t.match(err, { code: 'RECORDING_FAILED', message: /^recording rtsp:\/\/\*\*\*@127\.0\.0\.1:\d+\/cam failed: ffmpeg exited with code \d+\n.*refused/is }, 'a clear error with the stderr tail');
    t.notMatch(err.message, 's3cret', 'without the password');
    t.same(readdirSync(dir), [], 'nothing is left behind');
  });

if (!missing)
  t.test('the HLS pipeline survives the camera going away and picks it up again', async (t) => {
    let cam = await startRtspTestStream({ audio: false });
    t.teardown(() => cam.stop());
    const outDir = path.join(t.testdir(), 'hls');
    const hls = hlsPipeline({ input: cam.url, transport: cam.transport, audio: 'none', outDir, segmentSeconds: 1, listSize: 3 }, { ...fast, stallMs: 3000 });
    t.teardown(() => hls.stop());
    const seen = exits(hls.supervisor);
    hls.start();
    const playlist = path.join(outDir, 'index.m3u8');
    const freshSegments = (since: number) =>
      // ffmpeg deletes segments as they roll off the playlist, so one listed may already be gone.
      existsSync(playlist) ? listed(readFileSync(playlist, 'utf8')).filter((s) => (statSync(path.join(outDir, s), { throwIfNoEntry: false })?.mtimeMs ?? 0) >= since).length : 0;
    t.ok(await until(() => freshSegments(1) >= 2, 10_000), 'streaming');

    const startsAtStop = hls.supervisor.stats.starts;
    await cam.stop();
    t.ok(await until(() => seen.some((e) => e.restarting), 6000), 'the broken run ends and a restart is scheduled');
    t.ok(await until(() => seen.some((e) => e.code !== 0), 3000), 'a run while the camera is gone fails');
    cam = await startRtspTestStream({ port: cam.port, audio: false });
    const back = Date.now();
    t.ok(await until(() => freshSegments(back) >= 2, 12_000), 'new segments after the camera is back');
    t.ok(hls.supervisor.stats.starts >= startsAtStop + 2, 'the same supervisor kept trying until it succeeded');
    t.ok(seen.every((e) => e.restarting), 'every exit so far was followed by a restart');
  });
