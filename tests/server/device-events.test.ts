import { randomBytes, randomUUID } from 'node:crypto';
import t from 'tap';
import { ingestEvent, trackState } from '../../server/src/modules/devices/bridge.js';
import { createTestInstance, signedIn } from '../helpers/instance.js';

const inst = await createTestInstance(t);
const { app } = inst;
const client = inst.mqtt.client;
// Unique per run: the PostgreSQL run shares one Mosquitto with other test files.
const run = randomBytes(3).toString('hex');
const device = `door-${run}`;

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}
const count = (id = device) => inst.ctx.db.selectFrom('device_events').select((eb) => eb.fn.countAll<number>().as('n')).where('device_id', '=', id).executeTakeFirstOrThrow().then((r) => Number(r.n));
const event = (id = randomUUID()) => ({ event_id: id, at: new Date().toISOString(), data: { door: 'lobby', credential_hash: 'ab12' } });

t.test('an event published over MQTT is stored once, whatever the number of deliveries', async (t) => {
  const e = event();
  for (let i = 0; i < 3; i++) await client.publishAsync(`lawbox/event/${device}/door_granted`, JSON.stringify(e), { qos: 1 });
  await until(() => count(), (n) => n >= 1);
  await new Promise((r) => setTimeout(r, 300));
  t.equal(await count(), 1, 'three deliveries, one row');
  const row = await inst.ctx.db.selectFrom('device_events').selectAll().where('event_id', '=', e.event_id).executeTakeFirstOrThrow();
  t.match(row, { device_id: device, type: 'door_granted', data: { door: 'lobby' } }, 'device and type come from the topic');
});

t.test('a stream with redeliveries mixed in ends with each event exactly once', async (t) => {
  const id = `stream-${run}`;
  const events = Array.from({ length: 500 }, () => event());
  const sends = [...events, ...events.filter((_, i) => i % 3 === 0)];
  for (const e of sends) client.publish(`lawbox/event/${id}/door_denied`, JSON.stringify(e), { qos: 1 });
  const n = await until(() => count(id), (v) => v >= 500, 20_000);
  await new Promise((r) => setTimeout(r, 300));
  t.equal(n, 500, '500 distinct events stored');
  t.equal(await count(id), 500, 'and no more');
});

t.test('malformed messages are refused and change nothing; the bridge goes on', async (t) => {
  const ctx = inst.ctx;
  const cases: [string, string, string | Buffer][] = [
    ['not JSON', `lawbox/event/${device}/door_granted`, '{oops'],
    ['no event_id', `lawbox/event/${device}/door_granted`, JSON.stringify({ at: new Date().toISOString() })],
    ['bad uuid', `lawbox/event/${device}/door_granted`, JSON.stringify({ event_id: 'nope', at: new Date().toISOString() })],
    ['bad time', `lawbox/event/${device}/door_granted`, JSON.stringify({ event_id: randomUUID(), at: 'yesterday' })],
    ['unknown field', `lawbox/event/${device}/door_granted`, JSON.stringify({ ...event(), extra: 1 })],
    ['device disagrees with topic', `lawbox/event/${device}/door_granted`, JSON.stringify({ ...event(), device: 'other' })],
    ['bad device id in topic', 'lawbox/event/Door!/door_granted', JSON.stringify(event())],
  ];
  const before = await count();
  for (const [label, topic, payload] of cases) {
    const r = await ingestEvent(ctx, topic, Buffer.from(payload));
    t.equal(r.result, 'rejected', `${label}: rejected (${r.reason})`);
  }
  t.equal(await count(), before, 'nothing stored');
  let thrown = 0;
  for (let i = 0; i < 2000; i++) {
    const bytes = randomBytes(Math.floor(Math.random() * 80));
    try {
      await ingestEvent(ctx, `lawbox/event/${device}/x`, bytes);
      await trackState(ctx, `lawbox/device/${device}`, bytes);
    } catch {
      thrown++;
    }
  }
  t.equal(thrown, 0, '2,000 random payloads: nothing thrown');
  const e = event();
  await client.publishAsync(`lawbox/event/${device}/door_forced`, JSON.stringify(e), { qos: 1 });
  await until(() => count(), (n) => n > before);
  t.equal(await count(), before + 1, 'a good event after the bad ones is stored');
});

t.test('retained state and availability of devices and agents are followed', async (t) => {
  const agent = `agent-${run}`;
  await client.publishAsync(`lawbox/agent/${agent}/state`, JSON.stringify({ state: 'online' }), { qos: 1, retain: true });
  await client.publishAsync(`lawbox/device/${device}/availability`, JSON.stringify({ state: 'online' }), { qos: 1, retain: true });
  await client.publishAsync(`lawbox/device/${device}`, JSON.stringify({ door: 'closed', lock: 'locked', last_seen: new Date().toISOString() }), { qos: 1, retain: true });
  t.teardown(async () => {
    // Clear the retained messages so they do not outlive the test on a shared broker.
    for (const topic of [`lawbox/agent/${agent}/state`, `lawbox/device/${device}/availability`, `lawbox/device/${device}`]) await client.publishAsync(topic, '', { qos: 1, retain: true }).catch(() => {});
  });
  const row = await until(() => inst.ctx.db.selectFrom('devices').selectAll().where('id', '=', device).executeTakeFirst(), (r) => !!r && r.availability === 'online' && !!r.state);
  t.match(row, { availability: 'online', state: { door: 'closed', lock: 'locked' } }, 'state and availability stored');
  const a = await until(() => inst.ctx.db.selectFrom('agents').selectAll().where('id', '=', agent).executeTakeFirst(), (r) => !!r);
  t.equal(a?.state, 'online', 'agent online');
  await client.publishAsync(`lawbox/agent/${agent}/state`, JSON.stringify({ state: 'offline' }), { qos: 1, retain: true });
  const off = await until(() => inst.ctx.db.selectFrom('agents').selectAll().where('id', '=', agent).executeTakeFirst(), (r) => r?.state === 'offline');
  t.equal(off?.state, 'offline', 'the last will reaches the agent row');
  t.equal((await trackState(inst.ctx, `lawbox/device/${device}/availability`, Buffer.from('{"state":"maybe"}'))).result, 'rejected', 'an unknown availability is refused');

  const it = await signedIn(inst, 'it_admin');
  const list = await app.inject({ url: '/api/devices', headers: it.headers });
  t.ok(list.json().some((d: { id: string; availability: string }) => d.id === device && d.availability === 'online'), 'GET /api/devices lists it');
  const events = await app.inject({ url: `/api/devices/${device}/events?limit=5`, headers: it.headers });
  t.equal(events.statusCode, 200, 'events listed');
  t.ok(events.json().length >= 1, 'with the stored events');
  const lawyer = await signedIn(inst, 'lawyer');
  t.equal((await app.inject({ url: '/api/devices', headers: lawyer.headers })).statusCode, 403, 'a lawyer does not see devices');
});
