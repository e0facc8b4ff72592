import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import mqtt from 'mqtt';
import t from 'tap';
import { signedBytes, type AccessList } from '../../device-agent/src/access/decide.js';
import { Agent, type AgentConfig } from '../../device-agent/src/agent.js';
import { startBroker, until } from '../helpers/devices.js';

const { publicKey, privateKey } = generateKeyPairSync('ed25519');
const quiet = { info: () => {}, warn: () => {} };
const allDay = [{ days: [1, 2, 3, 4, 5, 6, 7], from: '00:00', to: '24:00' }];
function accessList(version: number, cards: string[]): AccessList {
  const body: Omit<AccessList, 'signature'> = {
    version,
    agent: 'front-desk',
    issued_at: new Date().toISOString(),
    expires_at: new Date(Date.now() + 7 * 86_400_000).toISOString(),
    timezone: 'Asia/Shanghai',
    doors: [{ door: 'main-entrance', device: 'door-osdp-1', readers: ['door-osdp-1'], pulse_ms: 3000, fail_mode: 'fail_secure' }],
    credentials: cards.map((credential) => ({ credential, kind: 'card' as const, doors: ['main-entrance'], windows: allDay })),
  };
  return { ...body, signature: { alg: 'ed25519', key_id: 'server-test', value: sign(null, signedBytes(body), privateKey).toString('base64') } };
}

t.test('the agent takes a signed list, keeps deciding with the broker gone, and after a restart without network', async (t) => {
  let broker = await startBroker(t);
  const port = broker.port;
  const config: AgentConfig = { id: 'front-desk', brokerUrl: `mqtt://127.0.0.1:${port}`, stateDir: t.testdir(), trustedKeys: new Map([['server-test', publicKey]]) };
  const server = mqtt.connect(`mqtt://127.0.0.1:${port}`, { protocolVersion: 4, clientId: `server-${randomBytes(3).toString('hex')}` });
  await new Promise((r) => server.once('connect', r));
  t.teardown(() => server.endAsync(true));
  const states: string[] = [];
  server.on('message', (topic, payload) => topic === 'lawbox/agent/front-desk/state' && states.push(JSON.parse(payload.toString()).state));
  await server.subscribeAsync('lawbox/agent/front-desk/state', { qos: 1 });

  let agent = new Agent(config, quiet);
  t.match(agent.decide('12345640', 'door-osdp-1'), { granted: false, reason: 'no_access_list' }, 'no list yet: nobody enters');
  await server.publishAsync('lawbox/agent/front-desk/access', JSON.stringify(accessList(1, ['12345640'])), { qos: 1, retain: true });
  t.ok(await until(() => agent.accessVersion === 1), 'the retained list arrives and is taken');
  t.ok(await until(() => states.includes('online')), 'the agent announces itself online (retained)');
  t.equal(agent.decide('12345640', 'door-osdp-1').granted, true, 'the card opens the door');

  const forged = accessList(2, ['12345640', '66666666']);
  forged.credentials.push({ credential: '77777777', kind: 'card', doors: ['main-entrance'], windows: allDay });
  await server.publishAsync('lawbox/agent/front-desk/access', JSON.stringify(forged), { qos: 1 });
  await server.publishAsync('lawbox/agent/front-desk/access', '{not json', { qos: 1 });
  await new Promise((r) => setTimeout(r, 300));
  t.equal(agent.accessVersion, 1, 'a forged list and garbage are refused; the signed one stays');
  t.equal(agent.decide('77777777', 'door-osdp-1').granted, false, 'the forged card does not open');

  await broker.stop();
  t.equal(agent.decide('12345640', 'door-osdp-1').granted, true, 'broker down: the door still opens for the card');
  t.equal(agent.decide('00000000', 'door-osdp-1').granted, false, 'and still refuses others');
  await agent.stop();

  agent = new Agent(config, quiet);
  t.equal(agent.accessVersion, 1, 'a restart with no network loads the last verified list from disk');
  t.equal(agent.decide('12345640', 'door-osdp-1').granted, true, 'and the door opens');

  broker = await startBroker(t, port);
  t.ok(await until(() => agent.client.connected, 8000), 'the agent reconnects when the broker returns');
  await agent.stop();
});
