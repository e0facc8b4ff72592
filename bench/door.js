// npm run bench:door — a card frame in → relay frame out over real serial lines (socat pty pairs):
// 1,000 presentations on a simulated OSDP reader, p50/p99 of the agent's local decision (from the
// decoded RAW reply to the relay command arriving at the simulated board), next to the bare pty
// transfer of the same 4 relay bytes measured in the same run; and event → database latency (publish
// until the server's acknowledgement, which it sends after the row is committed), next to a bare MQTT
// round trip on the same broker. Env: BENCH_PRESENTATIONS (1000), DATABASE_URL (else embedded PGlite).
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { AccessIndex } from '../device-agent/dist/access/decide.js';
import { EventPublisher } from '../device-agent/dist/bus/events.js';
import { DoorController } from '../device-agent/dist/doors/controller.js';
import { OsdpReader } from '../device-agent/dist/drivers/serial/osdp-cp.js';
import { openSerial, RelayBoard } from '../device-agent/dist/drivers/serial/relay.js';
import { Journal } from '../device-agent/dist/journal/journal.js';
import { RelayDeframer, encodeRelay } from '../device-agent/dist/protocols/usb-relay.js';
import { OsdpReaderSimulator } from '../device-agent/dist/simulators/osdp-pd.js';
import { ptyPair as makePtyPair } from '../device-agent/dist/simulators/pty.js';
import { systemClock } from '../server/dist/clock.js';
import { loadConfig } from '../server/dist/config.js';
import { migrateToLatest, openDatabase } from '../server/dist/db/index.js';
import { startDeviceBridge } from '../server/dist/modules/devices/bridge.js';
import { round } from './lib.js';

if (spawnSync('socat', ['-V']).status !== 0) {
  console.error('bench:door needs socat (apt-get install socat) for its pty pairs');
  process.exit(2);
}
const presentations = Number(process.env.BENCH_PRESENTATIONS ?? 1000);
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil((p / 100) * s.length) - 1)];
};
const dir = mkdtempSync(path.join(tmpdir(), 'lawbox-bench-door-'));
const cleanups = [];

async function ptyPair(name) {
  const pair = await makePtyPair(dir, name);
  cleanups.push(async () => pair.stop());
  return pair;
}

try {
  // Broker and server side (the device bridge on its own database).
  const broker = await Aedes.createBroker();
  // As the embedded broker does: no Nagle delay on small MQTT packets.
  const brokerServer = createServer((socket) => {
    socket.setNoDelay(true);
    broker.handle(socket);
  });
  brokerServer.listen(0, '127.0.0.1');
  await once(brokerServer, 'listening');
  cleanups.push(async () => {
    await new Promise((r) => broker.close(r));
    await new Promise((r) => brokerServer.close(r));
  });
  const url = `mqtt://127.0.0.1:${brokerServer.address().port}`;
  const config = loadConfig({ ...process.env, LAWBOX_DATA_DIR: dir, LAWBOX_LOG_LEVEL: 'silent' });
  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: null });
  cleanups.push(() => database.close());
  await migrateToLatest(database.db);
  const serverClient = mqtt.connect(url, { protocolVersion: 4 });
  await new Promise((r) => serverClient.once('connect', r));
  serverClient.stream.setNoDelay(true);
  cleanups.push(() => serverClient.endAsync(true));
  const bridge = startDeviceBridge({ db: database.db, config, clock: systemClock }, serverClient, { warn: () => {}, error: () => {} });
  cleanups.push(bridge.stop);

  // Serial lines, the simulated devices and the agent's pieces.
  const readerLine = await ptyPair('reader');
  const relayLine = await ptyPair('relay');
  const ports = await Promise.all([openSerial(readerLine.b), openSerial(relayLine.b), openSerial(readerLine.a), openSerial(relayLine.a)]);
  cleanups.push(async () => {
    for (const p of ports) await new Promise((r) => p.close(() => r()));
  });
  const [readerPort, boardPort, cpPort, relayPort] = ports;
  const pd = new OsdpReaderSimulator(readerPort, 0x65);
  const relayDeframer = new RelayDeframer();
  let onRelay = null;
  boardPort.on('data', (chunk) => {
    const now = performance.now();
    for (const item of relayDeframer.push(chunk)) if ('command' in item && item.command.on && onRelay) onRelay(now);
  });
  const relay = new RelayBoard(relayPort);
  cleanups.push(() => relay.close(false));
  const agentClient = mqtt.connect(url, { protocolVersion: 4, reconnectPeriod: 200 });
  await new Promise((r) => agentClient.once('connect', r));
  agentClient.stream.setNoDelay(true);
  cleanups.push(() => agentClient.endAsync(true));
  const journal = new Journal(path.join(dir, 'events.ndjson'));
  cleanups.push(async () => journal.close());
  const publisher = new EventPublisher(journal, agentClient);
  cleanups.push(async () => publisher.close());
  const allDay = [{ days: [1, 2, 3, 4, 5, 6, 7], from: '00:00', to: '24:00' }];
  const index = new AccessIndex({
    version: 1, agent: 'bench', issued_at: new Date().toISOString(), timezone: 'Asia/Shanghai',
    doors: [{ door: 'lobby', device: 'relay-1', relay_channel: 1, readers: ['door-osdp-1'], pulse_ms: 5, fail_mode: 'fail_secure' }],
    credentials: [{ credential: '12345640', kind: 'card', doors: ['lobby'], windows: allDay }],
    signature: { alg: 'ed25519', key_id: 'bench', value: 'A'.repeat(86) + '==' },
  });
  const published = new Map();
  const doors = new DoorController({
    decide: (c, r, at) => index.decide(c, r, at),
    release: (_d, channel, ms) => relay.pulse(channel ?? 1, ms),
    publish: (e) => {
      published.set(e.event_id, performance.now());
      publisher.publish(e);
    },
    listVersion: () => 1,
  });
  const eventToDb = [];
  agentClient.on('message', (topic, payload) => {
    if (!topic.endsWith('/event_ack')) return;
    for (const id of JSON.parse(payload.toString()).event_ids) {
      const sent = published.get(id);
      if (sent !== undefined) {
        eventToDb.push(performance.now() - sent);
        published.delete(id);
      }
    }
  });
  const cp = new OsdpReader(cpPort, { address: 0x65, pollMs: 10 });
  let cardAt = 0;
  cp.on('card', (read) => {
    cardAt = read.at;
    void doors.cardRead(read.card, 'door-osdp-1');
  });
  cp.start();
  cleanups.push(async () => cp.stop());
  await new Promise((r) => setTimeout(r, 300));

  // Baseline first: the same 4 relay bytes straight through the pty, no decision.
  const bare = [];
  for (let i = 0; i < 200; i++) {
    const arrived = new Promise((r) => (onRelay = r));
    const t0 = performance.now();
    relayPort.write(encodeRelay({ channel: 1, on: true }));
    bare.push((await arrived) - t0);
    relayPort.write(encodeRelay({ channel: 1, on: false }));
    await new Promise((r) => setTimeout(r, 5));
  }

  const decisions = [];
  for (let i = 0; i < presentations; i++) {
    const arrived = new Promise((r) => (onRelay = r));
    pd.present('12345640');
    const at = await arrived;
    decisions.push(at - cardAt);
    await new Promise((r) => setTimeout(r, 15));
    if ((i + 1) % 250 === 0) console.log(`  ${i + 1} presentations; decision p99 so far ${round(pct(decisions, 99), 2)} ms`);
  }
  const deadline = Date.now() + 30_000;
  while (eventToDb.length < presentations && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));

  // Baseline for the event path: a bare MQTT round trip through the same broker.
  const rtt = [];
  await agentClient.subscribeAsync('bench/echo', { qos: 1 });
  for (let i = 0; i < 200; i++) {
    const id = randomUUID();
    const got = new Promise((r) => {
      const h = (topic, payload) => {
        if (topic === 'bench/echo' && payload.toString() === id) {
          agentClient.off('message', h);
          r(performance.now());
        }
      };
      agentClient.on('message', h);
    });
    const t0 = performance.now();
    agentClient.publish('bench/echo', id, { qos: 1 });
    rtt.push((await got) - t0);
  }

  const rows = [
    ['card frame in → relay frame out (agent decision)', decisions],
    ['bare pty transfer of the relay frame (baseline)', bare],
    ['event published → stored and acknowledged', eventToDb],
    ['bare MQTT round trip (baseline)', rtt],
  ];
  console.log(`\n${presentations} presentations, ${database.kind}; ms                     n     p50     p95     p99`);
  for (const [label, xs] of rows) console.log(`${label.padEnd(52)} ${String(xs.length).padStart(5)} ${String(round(pct(xs, 50), 2)).padStart(7)} ${String(round(pct(xs, 95), 2)).padStart(7)} ${String(round(pct(xs, 99), 2)).padStart(7)}`);
  const p99 = pct(decisions, 99);
  console.log(`decision p99 ${round(p99, 2)} ms (target ≤ 30 ms): ${p99 <= 30 ? 'met' : 'MISSED'}`);
  console.log(
    JSON.stringify({
      bench: 'door',
      database: database.kind,
      presentations,
      p50_ms: round(pct(decisions, 50), 2),
      p99_ms: round(p99, 2),
      baseline_pty_p50_ms: round(pct(bare, 50), 2),
      baseline_pty_p99_ms: round(pct(bare, 99), 2),
      event_to_db_p50_ms: round(pct(eventToDb, 50), 2),
      event_to_db_p95_ms: round(pct(eventToDb, 95), 2),
      events_acknowledged: eventToDb.length,
      baseline_mqtt_rtt_p95_ms: round(pct(rtt, 95), 2),
    }),
  );
} finally {
  for (const fn of cleanups.reverse()) await fn().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
}
