import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { loadProfiles } from '../../firmware-profiles/index.js';
import { Agent } from '../../device-agent/src/agent.js';
import { findOnPath } from '../../device-agent/src/drivers/media/ffmpeg.js';
import { withMedia } from '../../device-agent/src/drivers/media/camera-media.js';
import { onvifCameraDriver } from '../../device-agent/src/drivers/onvif/camera.js';
import { OnvifCameraSimulator } from '../../device-agent/src/simulators/onvif-camera.js';
import { mediaToolsMissing, startRtspTestStream } from '../../device-agent/src/simulators/rtsp-stream.js';
import { startBroker, until } from '../helpers/devices.js';
import { createTestInstance, signedIn } from '../helpers/instance.js';

const missing = mediaToolsMissing() ?? (findOnPath('ffprobe') ? null : 'ffprobe is not on PATH');
if (missing) console.log(`# skipping the camera end-to-end test: ${missing}; CI installs ffmpeg and rtsp-server-perl`);

if (!missing) t.test('a camera through the agent: live view served by the server, a recording filed with its hash', async (t) => {
  const { url } = await startBroker(t);
  const inst = await createTestInstance(t, { env: { MQTT_URL: url, LAWBOX_DATA_DIR: t.testdir() } });
  await inst.app.listen({ host: '127.0.0.1', port: 0 });
  const serverUrl = `http://127.0.0.1:${(inst.app.server.address() as AddressInfo).port}`;
  const it = await signedIn(inst, 'it_admin');
  const staff = await signedIn(inst, 'admin_staff');
  const credential = (await inst.app.inject({ method: 'POST', url: '/api/agents', headers: it.headers, payload: { id: 'front-desk' } })).json() as { username: string; password: string };

  // The camera: an ONVIF service whose stream URI points at an RTSP test stream (rtsp-server-perl relays over UDP).
  const stream = await startRtspTestStream({ audio: false });
  t.teardown(() => stream.stop());
  const camera = new OnvifCameraSimulator({ username: 'lawbox', password: 'cam-secret-1', rtspUri: stream.url });
  const cameraPort = await camera.listen();
  t.teardown(() => camera.close());
  const assignment = { agent_id: 'front-desk', profile: 'hikvision/ds-2de4425iw-de', transport: { type: 'onvif', host: '127.0.0.1', port: cameraPort, username: 'lawbox', secret_ref: 'cam-reception' }, settings: { rtsp_transport: stream.transport } };
  t.equal((await inst.app.inject({ method: 'PUT', url: '/api/devices/cam-reception', headers: it.headers, payload: assignment })).statusCode, 200, 'camera assigned');

  const stateDir = t.testdir();
  const agent = new Agent(
    {
      id: 'front-desk',
      brokerUrl: url,
      stateDir,
      trustedKeys: new Map(),
      profiles: loadProfiles(),
      drivers: { onvif: withMedia(onvifCameraDriver, { serverUrl, username: credential.username, password: credential.password, workDir: `${stateDir}/recordings` }) },
      secrets: (ref) => (ref === 'cam-reception' ? 'cam-secret-1' : undefined),
    },
    { info: () => {}, warn: () => {} },
  );
  t.teardown(() => agent.stop());
  t.ok(await until(() => agent.devices.driver('cam-reception') !== null, 10_000), 'the agent drives the camera');

  const live = await inst.app.inject({ method: 'POST', url: '/api/devices/cam-reception/live', headers: staff.headers, payload: { action: 'start' } });
  t.equal(live.statusCode, 200, 'live view started');
  const playlistUrl = (live.json() as { playlist: string }).playlist;
  const playlist = async () => inst.app.inject({ method: 'GET', url: playlistUrl, headers: staff.headers });
  t.ok(await until(async () => (await playlist()).statusCode === 200 && /\.ts/.test((await playlist()).body), 30_000), 'the agent’s ffmpeg uploads HLS to the server');
  const segment = (await playlist()).body.split('\n').find((l) => l.endsWith('.ts'))!;
  const ts = await inst.app.inject({ method: 'GET', url: `/api/media/live/cam-reception/${segment}`, headers: staff.headers });
  t.equal(ts.statusCode, 200, 'a segment is served');
  t.equal(ts.rawPayload[0], 0x47, 'and it is MPEG-TS (sync byte 0x47)');
  t.equal((await inst.app.inject({ method: 'POST', url: '/api/devices/cam-reception/live', headers: staff.headers, payload: { action: 'stop' } })).statusCode, 200, 'live view stopped');

  const requested = await inst.app.inject({ method: 'POST', url: '/api/devices/cam-reception/recordings', headers: staff.headers, payload: { seconds: 5, reason: '接待区调解录像' } });
  t.equal(requested.statusCode, 202, 'recording requested');
  const { id } = requested.json() as { id: string };
  const row = () => inst.ctx.db.selectFrom('camera_recordings').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  t.ok(await until(async () => (await row()).status === 'stored', 40_000), 'the recording reached the server');
  const stored = await row();
  t.ok(Number(stored.bytes) > 1000, `with its bytes (${stored.bytes})`);
  t.ok(Math.abs(Number(stored.duration_s) - 5) < 1.5, `about 5 s long (${stored.duration_s} s)`);
  const file = await inst.app.inject({ method: 'GET', url: `/api/recordings/${id}/file`, headers: staff.headers });
  t.equal(createHash('sha256').update(file.rawPayload).digest('hex'), stored.sha256, 'the file matches the hash the agent computed');
  t.ok(await until(async () => (await inst.ctx.db.selectFrom('device_events').select('type').where('type', '=', 'recording_stored').execute()).length === 1), 'the agent’s recording_stored event is stored');
});
