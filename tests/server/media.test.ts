import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { Agent, CommandError } from '../../device-agent/src/agent.js';
import { startBroker, until } from '../helpers/devices.js';
import { createTestInstance, isErrorShape, signedIn } from '../helpers/instance.js';

t.test('live view and recordings: the agent uploads, the server checks, stores and serves', async (t) => {
  const { url } = await startBroker(t);
  const inst = await createTestInstance(t, { env: { MQTT_URL: url, LAWBOX_DATA_DIR: t.testdir() } });
  const it = await signedIn(inst, 'it_admin');
  const staff = await signedIn(inst, 'admin_staff');
  const lawyer = await signedIn(inst, 'lawyer');
  const credential = (await inst.app.inject({ method: 'POST', url: '/api/agents', headers: it.headers, payload: { id: 'front-desk' } })).json() as { username: string; password: string };
  const basic = { authorization: `Basic ${Buffer.from(`${credential.username}:${credential.password}`).toString('base64')}` };
  const configured = await inst.app.inject({ method: 'PUT', url: '/api/devices/cam-reception', headers: it.headers, payload: { agent_id: 'front-desk', profile: 'hikvision/ds-2de4425iw-de', transport: { type: 'onvif', host: '127.0.0.1' } } });
  t.equal(configured.statusCode, 200, 'camera configured');

  // The agent's side of the commands: it acknowledges what it is asked to do.
  const agent = new Agent({ id: 'front-desk', brokerUrl: url, stateDir: t.testdir(), trustedKeys: new Map() }, { info: () => {}, warn: () => {} });
  t.teardown(() => agent.stop());
  const asked: Record<string, unknown>[] = [];
  agent.handle('cam-reception', async (body) => {
    asked.push(body);
    if ((body.params as { seconds?: number } | undefined)?.seconds === 7) throw new CommandError('CAMERA_BUSY', 'already recording');
    return { streaming: body.action === 'stream_start' };
  });
  t.ok(await until(() => agent.client.connected), 'agent connected');
  await new Promise((r) => setTimeout(r, 200));

  const live = await inst.app.inject({ method: 'POST', url: '/api/devices/cam-reception/live', headers: staff.headers, payload: { action: 'start' } });
  t.equal(live.statusCode, 200, 'live view started');
  t.same(live.json(), { playlist: '/api/media/live/cam-reception/index.m3u8' }, 'with the playlist to open');
  t.match(asked, [{ action: 'stream_start' }], 'the agent was asked to stream');
  t.equal((await inst.app.inject({ method: 'POST', url: '/api/devices/cam-reception/live', headers: lawyer.headers, payload: { action: 'start' } })).statusCode, 403, 'a lawyer may not watch cameras');

  const put = (file: string, body: Buffer | string, headers: Record<string, string> = basic, type = 'video/mp2t') =>
    inst.app.inject({ method: 'PUT', url: `/api/media/live/cam-reception/${file}`, headers: { ...headers, 'content-type': type }, payload: body });
  t.equal((await put('seg0.ts', Buffer.alloc(1000, 1))).statusCode, 204, 'a segment is accepted');
  t.equal((await put('seg1.ts', Buffer.alloc(1000, 2))).statusCode, 204, 'and another');
  t.equal((await put('index.m3u8', '#EXTM3U\n#EXTINF:2.0,\nseg1.ts\n', basic, 'application/vnd.apple.mpegurl')).statusCode, 204, 'the playlist');
  const dir = path.join(inst.config.dataDir, 'media', 'live', 'cam-reception');
  t.same(readdirSync(dir).sort(), ['index.m3u8', 'seg1.ts'], 'a segment the playlist dropped is deleted');
  const unauth = await put('seg2.ts', 'x', staff.headers);
  t.equal(unauth.statusCode, 401, 'a user session cannot upload media');
  t.ok(isErrorShape(unauth.json()), 'error shape');
  t.equal((await put('seg2.ts', 'x', { authorization: `Basic ${Buffer.from('front-desk:wrong').toString('base64')}` })).statusCode, 401, 'a wrong agent secret neither');
  t.equal((await put('..%2Fescape.ts', 'x')).statusCode, 400, 'a file name that climbs out is refused');
  t.equal((await put('big.m3u8', Buffer.alloc(70 * 1024, 35), basic, 'application/vnd.apple.mpegurl')).statusCode, 413, 'an oversized playlist is refused');
  t.notOk(readdirSync(dir).some((f) => f.includes('big') || f.endsWith('.part')), 'and leaves nothing behind');

  const playlist = await inst.app.inject({ method: 'GET', url: '/api/media/live/cam-reception/index.m3u8', headers: staff.headers });
  t.equal(playlist.statusCode, 200, 'the building watches from the server');
  t.equal(playlist.headers['content-type'], 'application/vnd.apple.mpegurl', 'as HLS');
  t.match(playlist.body, 'seg1.ts', 'the playlist as uploaded');
  t.equal((await inst.app.inject({ method: 'GET', url: '/api/media/live/cam-reception/seg9.ts', headers: staff.headers })).statusCode, 404, 'a missing segment is a 404');

  // Recording: requested by staff, recorded and uploaded by the agent, hash-checked, filed.
  const requested = await inst.app.inject({ method: 'POST', url: '/api/devices/cam-reception/recordings', headers: staff.headers, payload: { seconds: 10, reason: '调解过程录像' } });
  t.equal(requested.statusCode, 202, 'recording requested');
  const { id } = requested.json() as { id: string };
  t.match(asked.at(-1), { action: 'record', params: { recording_id: id, seconds: 10 } }, 'the agent was told which recording to make');
  const video = Buffer.alloc(256 * 1024, 7);
  const sha = createHash('sha256').update(video).digest('hex');
  const upload = (body: Buffer, hash: string) => inst.app.inject({ method: 'PUT', url: `/api/media/recordings/${id}`, headers: { ...basic, 'content-type': 'video/mp4', 'x-content-sha256': hash, 'x-duration-seconds': '10.0' }, payload: body });
  const damaged = await upload(video.subarray(0, 1000), sha);
  t.equal(damaged.statusCode, 400, 'a truncated upload is refused');
  t.equal(damaged.json().error.code, 'HASH_MISMATCH', 'by its hash');
  const recordingsDir = path.join(inst.config.dataDir, 'media', 'recordings');
  t.same(readdirSync(recordingsDir), [], 'and leaves nothing half-stored');
  t.equal((await upload(video, sha)).statusCode, 204, 'the whole file is stored');
  t.equal((await upload(video, sha)).statusCode, 409, 'a second upload of the same recording is refused');
  const list = await inst.app.inject({ method: 'GET', url: '/api/recordings?device=cam-reception', headers: staff.headers });
  t.match(list.json(), [{ id, status: 'stored', bytes: video.length, sha256: sha, duration_s: 10, reason: '调解过程录像' }], 'listed with its hash');
  const file = await inst.app.inject({ method: 'GET', url: `/api/recordings/${id}/file`, headers: staff.headers });
  t.equal(createHash('sha256').update(file.rawPayload).digest('hex'), sha, 'downloaded intact');
  t.ok(existsSync(path.join(recordingsDir, `${id}.mp4`)), 'kept in the data directory');

  const refused = await inst.app.inject({ method: 'POST', url: '/api/devices/cam-reception/recordings', headers: staff.headers, payload: { seconds: 7, reason: '测试' } });
  t.equal(refused.statusCode, 502, 'a camera that refuses is a 502');
  const failed = await inst.ctx.db.selectFrom('camera_recordings').select(['status', 'error']).where('seconds', '=', 7).executeTakeFirstOrThrow();
  t.match(failed, { status: 'failed', error: /already recording/ }, 'and the recording is marked failed');

  const audit = await inst.ctx.db.selectFrom('audit_log').select('action').where('action', 'like', 'camera.%').orderBy('seq').execute();
  t.same(audit.map((a) => a.action), ['camera.live_start', 'camera.record', 'camera.recording_stored', 'camera.recording_download', 'camera.record'], 'every step audited');
});
