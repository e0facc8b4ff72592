import { randomUUID } from 'node:crypto';
import path from 'node:path';
import mqtt from 'mqtt';
import t from 'tap';
import { EventPublisher, eventPayload, type DeviceEvent } from '../../device-agent/src/bus/events.js';
import { validateMessage } from '../../firmware-profiles/index.js';
import { Journal } from '../../device-agent/src/journal/journal.js';
import { startBroker, until } from '../helpers/devices.js';
import { createTestInstance } from '../helpers/instance.js';

t.test('the agent publishes events in the contract’s shape', async (t) => {
  const e: DeviceEvent = { event_id: randomUUID(), device: 'door-osdp-1', type: 'door_granted', at: new Date().toISOString(), data: { door: 'main-entrance', reader: 'door-osdp-1', kind: 'card', holder: 'person:17', list_version: 42 } };
  t.same(validateMessage('event', JSON.parse(eventPayload(e))), { ok: true }, 'valid by firmware-profiles/schema/mqtt/event.schema.json');
});

t.test('10,000 events, the broker killed and restarted mid-stream: every one stored exactly once', async (t) => {
  let broker = await startBroker(t);
  const port = broker.port;
  const inst = await createTestInstance(t, { env: { MQTT_URL: `mqtt://127.0.0.1:${port}` } });
  const journal = new Journal(path.join(t.testdir(), 'journal.ndjson'));
  const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, { protocolVersion: 4, clientId: 'agent-test', reconnectPeriod: 200 });
  await new Promise((r) => client.once('connect', r));
  const publisher = new EventPublisher(journal, client, { resendAfterMs: 2000 });
  t.teardown(async () => {
    publisher.close();
    await client.endAsync(true);
    journal.close();
  });

  const total = 10_000;
  const ids: string[] = [];
  const device = `door-${randomUUID().slice(0, 8)}`;
  for (let i = 0; i < total; i++) {
    const e: DeviceEvent = { event_id: randomUUID(), device, type: i % 7 === 0 ? 'door_denied' : 'door_granted', at: new Date().toISOString(), data: { n: i } };
    ids.push(e.event_id);
    publisher.publish(e);
    if (i === 3000) {
      // The broker dies with messages in flight; the agent goes on journaling through the outage.
      await broker.stop();
    }
    if (i === 6000) {
      t.ok(publisher.pending >= 3000, `events wait in the journal during the outage (${publisher.pending})`);
      broker = await startBroker(t, port);
    }
    if (i % 500 === 0) await new Promise((r) => setImmediate(r));
  }
  const stored = () =>
    inst.ctx.db
      .selectFrom('device_events')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('device_id', '=', device)
      .executeTakeFirstOrThrow()
      .then((r) => Number(r.n));
  const done = await until(async () => (await stored()) === total && publisher.pending === 0, 120_000);
  t.ok(done, `all delivered and acknowledged (stored ${await stored()}, pending ${publisher.pending})`);
  t.equal(await stored(), total, 'exactly 10,000 rows');
  const rows = new Set((await inst.ctx.db.selectFrom('device_events').select('event_id').where('device_id', '=', device).execute()).map((r) => r.event_id));
  t.equal(rows.size, total, 'each event once');
  t.ok(ids.every((id) => rows.has(id)), 'and they are the events that were published');
});
