import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { pino } from 'pino';
import t from 'tap';
import { buildApp } from '../../server/src/app.js';
import { startMqtt, MqttPortInUseError, type MqttLink } from '../../server/src/mqtt.js';
import { createDatabase, testConfig } from '../helpers/instance.js';

const silent = pino({ level: 'silent' });

/** The embedded broker: an empty MQTT_URL counts as unset, whatever this run's environment says. */
const embeddedConfig = (overrides: Record<string, string> = {}) => testConfig({ MQTT_URL: '', ...overrides });

async function start(t: { teardown(fn: () => unknown): void }, config = embeddedConfig()): Promise<MqttLink> {
  const link = await startMqtt(config, silent);
  t.teardown(() => link.close());
  return link;
}

/** Connects a client that does not retry and reports how the broker answered: connected, or the refusal code. */
function tryConnect(url: string, opts: IClientOptions): Promise<{ connected: boolean; code: number | null; client: MqttClient }> {
  return new Promise((resolve) => {
    const client = mqtt.connect(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 3000, ...opts });
    const timer = setTimeout(() => resolve({ connected: false, code: null, client }), 4000);
    client.once('connect', () => {
      clearTimeout(timer);
      resolve({ connected: true, code: null, client });
    });
    client.once('error', (err) => {
      clearTimeout(timer);
      resolve({ connected: false, code: (err as Error & { code?: number }).code ?? null, client });
    });
  });
}

/** Publishes on one client and waits for the message on another (or the same) one. */
async function roundTrip(publisher: MqttClient, subscriber: MqttClient, topic: string): Promise<string | null> {
  await subscriber.subscribeAsync(topic, { qos: 1 });
  const received = new Promise<string | null>((resolve) => {
    const timer = setTimeout(() => resolve(null), 3000);
    subscriber.on('message', (tp, payload) => {
      if (tp !== topic) return;
      clearTimeout(timer);
      resolve(payload.toString());
    });
  });
  await publisher.publishAsync(topic, 'hello from lawbox', { qos: 1 });
  return received;
}

t.test('the embedded broker starts, and the server’s own client is connected to it', async (t) => {
  const link = await start(t);
  t.ok(link.embedded, 'the link reports an embedded broker');
  t.ok(link.embedded!.port > 0, 'which listens on a real port');
  t.equal(link.connected(), true, 'the server’s client is connected');
  t.equal(await roundTrip(link.client, link.client, 'lawbox/test/self'), 'hello from lawbox', 'a message published through the broker comes back');
});

t.test('the embedded broker refuses anonymous clients and wrong passwords', async (t) => {
  const link = await start(t);
  const url = `mqtt://127.0.0.1:${link.embedded!.port}`;

  const anonymous = await tryConnect(url, {});
  t.teardown(() => anonymous.client.end(true));
  t.equal(anonymous.connected, false, 'an anonymous client is not connected');
  t.ok(anonymous.code === 4 || anonymous.code === 5, 'it is refused with CONNACK code 4 or 5', { code: anonymous.code });

  const wrong = await tryConnect(url, { username: 'lawbox-server', password: 'not-the-password' });
  t.teardown(() => wrong.client.end(true));
  t.equal(wrong.connected, false, 'a client with a wrong password is not connected');
  t.ok(wrong.code === 4 || wrong.code === 5, 'it is refused with CONNACK code 4 or 5', { code: wrong.code });

  const emptyPassword = await tryConnect(url, { username: 'lawbox-server', password: '' });
  t.teardown(() => emptyPassword.client.end(true));
  t.equal(emptyPassword.connected, false, 'the server’s username with an empty password is refused too');
  t.equal(link.connected(), true, 'the refusals do not disturb the server’s own client');
});

t.test('a second embedded broker on a taken port fails with MqttPortInUseError', async (t) => {
  const first = await start(t);
  const port = first.embedded!.port;
  const outcome = await startMqtt(embeddedConfig({ LAWBOX_MQTT_PORT: String(port) }), silent).then(
    async (link) => {
      await link.close();
      return null;
    },
    (e: unknown) => e,
  );
  t.ok(outcome instanceof MqttPortInUseError, 'the second start rejects with MqttPortInUseError', { outcome });
  const err = outcome as MqttPortInUseError;
  t.equal(err?.code, 'MQTT_PORT_IN_USE', 'with a stable code');
  t.match(err?.message, /already in use/, 'the message says the port is in use');
  t.match(err?.message, `127.0.0.1:${port}`, 'it names the address and port');
  t.match(err?.message, /LAWBOX_MQTT_PORT/, 'it names LAWBOX_MQTT_PORT');
  t.equal(first.connected(), true, 'the first broker keeps running');
  t.equal(await roundTrip(first.client, first.client, 'lawbox/test/still-up'), 'hello from lawbox', 'and still carries messages');
});

t.test('an unreachable MQTT_URL is not fatal: startMqtt returns soon and /api/health reports degraded', async (t) => {
  const began = performance.now();
  const link = await start(t, testConfig({ MQTT_URL: 'mqtt://127.0.0.1:1' }));
  const ms = performance.now() - began;
  t.ok(ms < 4500, `startMqtt returns within ~4 s (took ${Math.round(ms)} ms)`);
  t.equal(link.embedded, null, 'no embedded broker is started when MQTT_URL is set');
  t.equal(link.connected(), false, 'connected() is false');

  const { database } = await createDatabase(t);
  const app = await buildApp({ config: testConfig({ MQTT_URL: 'mqtt://127.0.0.1:1' }), database, mqtt: link });
  t.teardown(() => app.close());
  const res = await app.inject({ url: '/api/health' });
  t.equal(res.statusCode, 503, '/api/health answers 503');
  t.match(res.json(), { status: 'degraded', db: 'ok', mqtt: 'down' }, 'with mqtt "down" and status "degraded"');
});

// Runs with an external broker only (CI's Mosquitto run sets MQTT_URL).
if (process.env.MQTT_URL) t.test('with MQTT_URL set, startMqtt connects to that broker (Mosquitto)', async (t) => {
  const link = await start(t, testConfig({ MQTT_URL: process.env.MQTT_URL! }));
  t.equal(link.embedded, null, 'no embedded broker is started');
  t.equal(link.connected(), true, 'the link is connected to the external broker');
  t.equal(await roundTrip(link.client, link.client, `lawbox/test/external-${process.pid}`), 'hello from lawbox', 'messages go through the external broker');

  const { database } = await createDatabase(t);
  const app = await buildApp({ config: testConfig({ MQTT_URL: process.env.MQTT_URL! }), database, mqtt: link });
  t.teardown(() => app.close());
  const res = await app.inject({ url: '/api/health' });
  t.equal(res.statusCode, 200, '/api/health answers 200');
  t.match(res.json(), { status: 'ok', mqtt: 'ok' }, 'with mqtt "ok"');
});
