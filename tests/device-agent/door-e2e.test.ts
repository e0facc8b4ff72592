import { spawnSync } from 'node:child_process';
import path from 'node:path';
import mqtt from 'mqtt';
import t from 'tap';
import { AccessIndex, type AccessList } from '../../device-agent/src/access/decide.js';
import { EventPublisher } from '../../device-agent/src/bus/events.js';
import { DoorController } from '../../device-agent/src/doors/controller.js';
import { OsdpReader } from '../../device-agent/src/drivers/serial/osdp-cp.js';
import { openSerial, RelayBoard } from '../../device-agent/src/drivers/serial/relay.js';
import { Journal } from '../../device-agent/src/journal/journal.js';
import { RelayDeframer } from '../../device-agent/src/protocols/usb-relay.js';
import { OsdpReaderSimulator } from '../../device-agent/src/simulators/osdp-pd.js';
import { ptyPair, startBroker, until } from '../helpers/devices.js';
import { createTestInstance } from '../helpers/instance.js';

const hasSocat = spawnSync('socat', ['-V']).status === 0;
if (!hasSocat) console.log('# skipping: socat is not installed (apt-get install socat); CI installs it');

const allDay = [{ days: [1, 2, 3, 4, 5, 6, 7], from: '00:00', to: '24:00' }];
const list: AccessList = {
  version: 5,
  agent: 'front-desk',
  issued_at: new Date().toISOString(),
  timezone: 'Asia/Shanghai',
  doors: [{ door: 'archive-room', device: 'relay-archive', relay_channel: 1, readers: ['door-osdp-1'], pulse_ms: 300, fail_mode: 'fail_secure' }],
  credentials: [{ credential: '12345640', kind: 'card', holder: 'person:17', doors: ['archive-room'], windows: allDay }],
  signature: { alg: 'ed25519', key_id: 'unused-here', value: 'A'.repeat(86) + '==' },
};

if (hasSocat) t.test('a card on a simulated OSDP reader → local decision → relay bytes on the line → event in the database', async (t) => {
  const dir = t.testdir();
  const readerLine = await ptyPair(t, dir, 'reader');
  const relayLine = await ptyPair(t, dir, 'relay');
  const { url } = await startBroker(t);
  const inst = await createTestInstance(t, { env: { MQTT_URL: url } });

  // Device side: the simulated reader and the relay board, each on the far end of its pty pair.
  const readerPort = await openSerial(readerLine.b, 9600);
  const pd = new OsdpReaderSimulator(readerPort, 0x65);
  const boardPort = await openSerial(relayLine.b, 9600);
  const relayCommands: { channel: number; on: boolean }[] = [];
  const relayDeframer = new RelayDeframer();
  boardPort.on('data', (chunk: Buffer) => {
    for (const item of relayDeframer.push(chunk)) if ('command' in item) relayCommands.push(item.command);
  });

  // Agent side.
  const cpPort = await openSerial(readerLine.a, 9600);
  const relayPort = await openSerial(relayLine.a, 9600);
  const relay = new RelayBoard(relayPort);
  const client = mqtt.connect(url, { protocolVersion: 4, reconnectPeriod: 200 });
  await new Promise((r) => client.once('connect', r));
  const journal = new Journal(path.join(dir, 'events.ndjson'));
  const events = new EventPublisher(journal, client);
  const index = new AccessIndex(list);
  const doors = new DoorController({
    decide: (c, r, at) => index.decide(c, r, at),
    release: (_device, channel, ms) => relay.pulse(channel ?? 1, ms),
    publish: (e) => events.publish(e),
    listVersion: () => list.version,
  });
  const cp = new OsdpReader(cpPort, { address: 0x65, pollMs: 20 });
  cp.on('card', (read) => void doors.cardRead(read.card, 'door-osdp-1'));
  cp.start();
  t.teardown(async () => {
    cp.stop();
    pd.close();
    events.close();
    await relay.close(false);
    await client.endAsync(true);
    journal.close();
    for (const p of [readerPort, boardPort, cpPort, relayPort]) await new Promise((r) => p.close(() => r(undefined)));
  });

  t.ok(await until(() => cp.stats.replies >= 3, 5000), 'the reader answers the polls');
  pd.present('12345640');
  t.ok(await until(() => relayCommands.length >= 2, 5000), 'the relay was switched');
  t.same(relayCommands, [{ channel: 1, on: true }, { channel: 1, on: false }], 'on, then off after the pulse');
  pd.present('DEADBEEF', 32);
  const stored = () => inst.ctx.db.selectFrom('device_events').selectAll().where('device_id', '=', 'door-osdp-1').orderBy('at').execute();
  t.ok(await until(async () => (await stored()).length === 2, 10_000), 'both events reach the database');
  const rows = await stored();
  t.same(rows.map((r) => r.type), ['door_granted', 'door_denied'], 'granted, then denied');
  t.match(rows[0]!.data, { door: 'archive-room', reader: 'door-osdp-1', list_version: 5 }, 'the granted event names the door');
  t.match(rows[1]!.data, { card_number: 'DEADBEEF', reason: 'unknown_credential' }, 'the refused card is named');
  t.equal(relayCommands.length, 2, 'the refused card did not touch the relay');
  t.equal(journal.pendingCount, 0, 'the server acknowledged both: nothing left in the journal');
});
