import mqtt from 'mqtt';
import t from 'tap';
import { loadProfiles } from '../../firmware-profiles/index.js';
import { Agent } from '../../device-agent/src/agent.js';
import { mdcDisplayDriver } from '../../device-agent/src/drivers/tcp/mdc-display.js';
import { MdcDisplaySimulator } from '../../device-agent/src/simulators/mdc-display.js';
import { until } from '../helpers/devices.js';
import { createTestInstance, isErrorShape, signedIn } from '../helpers/instance.js';

// The embedded broker is the one that enforces per-agent credentials and topic ACLs (Mosquitto gets the
// same rules from the Ansible role), so this file runs it whatever MQTT_URL says.
t.test('an enrolled agent gets its config over the embedded broker and is confined to its own topics', async (t) => {
  const inst = await createTestInstance(t, { env: { MQTT_URL: '' } });
  const brokerUrl = `mqtt://127.0.0.1:${inst.mqtt.embedded!.port}`;
  const it = await signedIn(inst, 'it_admin');
  const lawyer = await signedIn(inst, 'lawyer');

  const enrol = (id: string, as = it) => inst.app.inject({ method: 'POST', url: '/api/agents', headers: as.headers, payload: { id, name: '前台' } });
  t.equal((await enrol('front-desk', lawyer)).statusCode, 403, 'a lawyer cannot enrol agents');
  const enrolled = await enrol('front-desk');
  t.equal(enrolled.statusCode, 201, 'enrolled');
  const credential = enrolled.json() as { username: string; password: string };
  t.equal(credential.username, 'front-desk', 'the username is the agent id');
  t.ok(credential.password.length >= 32, 'with a long random secret');
  const again = await enrol('front-desk');
  t.equal(again.statusCode, 409, 'enrolling twice is refused');
  t.ok(isErrorShape(again.json()), 'with the error shape');
  t.equal((await enrol('Front Desk')).statusCode, 400, 'an id that cannot be a topic level is refused');
  const other = (await enrol('meeting-host')).json() as { password: string };

  const panel = new MdcDisplaySimulator();
  const panelPort = await panel.listen();
  t.teardown(() => panel.close());
  const configure = (id: string, payload: object) => inst.app.inject({ method: 'PUT', url: `/api/devices/${id}`, headers: it.headers, payload });
  const wall = { agent_id: 'front-desk', profile: 'samsung/qm55r', name: '大堂屏', location: '一层大堂', transport: { type: 'tcp', host: '127.0.0.1', port: panelPort }, settings: { poll_interval_ms: 500 } };
  t.equal((await configure('wall-lobby', { ...wall, transport: { type: 'serial', path: 'COM1' } })).statusCode, 400, 'an address the schema refuses is a 400');
  t.equal((await configure('wall-lobby', { ...wall, transport: { type: 'onvif', host: '10.0.0.1' } })).statusCode, 400, 'a transport the profile does not have is a 400');
  t.equal((await configure('wall-lobby', { ...wall, profile: 'acme/nothing' })).statusCode, 400, 'an unknown profile is a 400');
  t.equal((await configure('wall-lobby', { ...wall, agent_id: 'ghost' })).statusCode, 404, 'an unknown agent is a 404');
  const configured = await configure('wall-lobby', wall);
  t.equal(configured.statusCode, 200, 'configured');
  t.match(configured.json(), { id: 'wall-lobby', agent_id: 'front-desk', profile: 'samsung/qm55r', transport: { type: 'tcp', port: panelPort } }, 'as stored');
  t.equal((await configure('plate-1', { agent_id: 'meeting-host', profile: 'lawbox/eink-nameplate', transport: { type: 'mqtt' } })).statusCode, 200, 'a device of the other agent');

  // The real agent, with its enrolled credential, gets its config and drives the display.
  const agent = new Agent(
    { id: 'front-desk', brokerUrl, username: credential.username, password: credential.password, stateDir: t.testdir(), trustedKeys: new Map(), profiles: loadProfiles(), drivers: { samsung_mdc: mdcDisplayDriver } },
    { info: () => {}, warn: () => {} },
  );
  t.teardown(() => agent.stop());
  t.ok(await until(() => agent.devices.driver('wall-lobby') !== null, 8000), 'the agent runs the display from its config');
  const device = () => inst.ctx.db.selectFrom('devices').select(['availability', 'state']).where('id', '=', 'wall-lobby').executeTakeFirstOrThrow();
  t.ok(await until(async () => (await device()).availability === 'online'), 'the server sees it online');
  t.ok(await until(async () => ((await device()).state as { power?: string } | null)?.power === 'off'), 'and its state');
  const agents = await inst.app.inject({ method: 'GET', url: '/api/agents', headers: it.headers });
  t.match(agents.json(), [{ id: 'front-desk', enrolled: true, state: 'online', devices: 1 }, { id: 'meeting-host', enrolled: true, devices: 1 }], 'the agent list');

  // A wrong secret is refused; a right one may not reach another agent's topics.
  const connect = (username: string, password: string) =>
    new Promise<{ client: mqtt.MqttClient; error: Error | null }>((resolve) => {
      const client = mqtt.connect(brokerUrl, { protocolVersion: 4, username, password, reconnectPeriod: 0 });
      client.once('connect', () => resolve({ client, error: null }));
      client.once('error', (error) => resolve({ client, error }));
    });
  const wrong = await connect('front-desk', 'not-the-secret');
  t.match(wrong.error?.message, /Not authorized|Bad username/i, 'a wrong secret is refused');
  wrong.client.end(true);
  const anonymous = await connect('', '');
  t.ok(anonymous.error, 'anonymous clients are refused');
  anonymous.client.end(true);

  const intruder = (await connect('meeting-host', other.password)).client;
  t.teardown(() => intruder.endAsync(true));
  // mqtt.js rejects when any filter is refused; the SUBACK it carries says which.
  const suback = await intruder.subscribeAsync(['lawbox/agent/meeting-host/config', 'lawbox/agent/front-desk/access', 'lawbox/device/wall-lobby/set', 'lawbox/#'], { qos: 1 }).then(
    () => null,
    (err: { packet?: { granted?: number[] } }) => err.packet?.granted ?? null,
  );
  t.same(suback, [1, 128, 128, 128], 'its own config yes; another agent’s access list, commands or everything: no');
  const closed = new Promise<void>((r) => intruder.once('close', () => r()));
  intruder.publish('lawbox/device/wall-lobby/set', JSON.stringify({ transaction: 'x1', power: 'on' }), { qos: 1 });
  await closed;
  t.pass('publishing to another agent’s device closes the connection');
  t.equal((await device()).availability, 'online', 'and changes nothing there');

  // A rotated secret replaces the old one.
  const rotated = await inst.app.inject({ method: 'POST', url: '/api/agents/meeting-host/secret', headers: it.headers, payload: {} });
  t.equal(rotated.statusCode, 200, 'rotated');
  const old = await connect('meeting-host', other.password);
  t.ok(old.error, 'the old secret no longer works');
  old.client.end(true);

  const audit = await inst.ctx.db.selectFrom('audit_log').select(['action', 'object']).where('action', 'in', ['agent.enroll', 'agent.rotate_secret', 'device.configure']).orderBy('seq').execute();
  t.same(audit.map((a) => `${a.action} ${a.object}`), ['agent.enroll agent:front-desk', 'agent.enroll agent:meeting-host', 'device.configure device:wall-lobby', 'device.configure device:plate-1', 'agent.rotate_secret agent:meeting-host'], 'every change audited');
});
