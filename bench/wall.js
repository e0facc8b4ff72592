// npm run bench:wall — 200 wall screens on WebSockets; a device goes offline or online (an MQTT
// availability message through the broker, the device bridge, the database and NOTIFY), and every
// screen receives the recomputed statistics: p50/p95 from the change to each screen's update.
// Baseline in the same run: the bare fan-out of a message of the same size to the same 200 sockets
// (no database, no statistics). Env: BENCH_CLIENTS (200), BENCH_CHANGES (30), DATABASE_URL.
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { buildApp } from '../server/dist/app.js';
import { loadConfig } from '../server/dist/config.js';
import { systemClock } from '../server/dist/clock.js';
import { SYSTEM_ACTOR } from '../server/dist/context.js';
import { migrateToLatest, openDatabase } from '../server/dist/db/index.js';
import { startMqtt } from '../server/dist/mqtt.js';
import { createKiosk, enrolKiosk } from '../server/dist/modules/kiosks/service.js';
import { computeStats } from '../server/dist/modules/stats/service.js';
import { median, round } from './lib.js';

const clients = Number(process.env.BENCH_CLIENTS ?? 200);
const changes = Number(process.env.BENCH_CHANGES ?? 30);
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil((p / 100) * s.length) - 1)];
};
const now = () => performance.timeOrigin + performance.now();

const dataDir = mkdtempSync(path.join(tmpdir(), 'lawbox-bench-wall-'));
const config = loadConfig({ ...process.env, LAWBOX_DATA_DIR: dataDir, LAWBOX_HTTP_HOST: '127.0.0.1', LAWBOX_HTTP_PORT: '0', LAWBOX_MQTT_HOST: '127.0.0.1', LAWBOX_MQTT_PORT: '0', LAWBOX_LOG_LEVEL: 'silent' });
const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.databaseUrl ? null : dataDir });
await migrateToLatest(database.db);
const ctx = { db: database.db, config, clock: systemClock };
const mqtt = await startMqtt(config, pino({ level: 'silent' }));
const app = await buildApp({ config, database, mqtt });
await app.listen({ host: '127.0.0.1', port: 0 });

const { enrolment_code } = await createKiosk(ctx, SYSTEM_ACTOR, { name: `压测大屏 ${Date.now()}`, kind: 'wall' });
const { token } = await enrolKiosk(ctx, enrolment_code, null);
const device = `bench-wall-${Date.now()}`;
const setAvailability = (state) => mqtt.client.publishAsync(`lawbox/device/${device}/availability`, JSON.stringify({ state }), { qos: 1, retain: true });
await setAvailability('online');
await sleep(200);

const child = fork(new URL('./wall-clients.js', import.meta.url), [], {
  env: { ...process.env, WALL_URL: `ws://127.0.0.1:${app.server.address().port}/api/ws`, WALL_TOKEN: token, WALL_CLIENTS: String(clients) },
});
const arrivals = [];
await new Promise((resolve, reject) => {
  child.on('message', (m) => (m.ready ? resolve() : arrivals.push(m)));
  child.on('exit', (code) => reject(new Error(`wall clients exited (${code})`)));
});

/** For each change: when it was made and, per screen, the first arrival that shows it. */
function latencies(sentAt, matches) {
  const first = new Map();
  for (const a of arrivals) if (a.at >= sentAt && matches(a) && !first.has(a.client)) first.set(a.client, a.at - sentAt);
  return [...first.values()];
}
async function settle(expectCount, sentAt, matches) {
  for (let i = 0; i < 200 && latencies(sentAt, matches).length < expectCount; i++) await sleep(25);
  const got = latencies(sentAt, matches);
  if (got.length < expectCount) throw new Error(`only ${got.length} of ${expectCount} screens were updated`);
  return got;
}

const online = async () => (await computeStats(ctx)).devices.online;
const change = [];
const baseline = [];
const payloadSize = JSON.stringify({ type: 'stats', stats: await computeStats(ctx) }).length;
for (let i = 0; i < changes; i++) {
  // The change: the device flips; every screen must show the new online count.
  const before = await online();
  const next = i % 2 ? 'online' : 'offline';
  const expected = next === 'online' ? before + 1 : before - 1;
  const t0 = now();
  await setAvailability(next);
  change.push(...(await settle(clients, t0, (a) => a.online === expected)));
  await sleep(100);

  // The baseline: the same sockets, a message of the same size, sent straight from memory.
  const marker = `m${i}`;
  const t1 = now();
  app.realtime.deliver('stats:wall', { marker, pad: 'x'.repeat(payloadSize) });
  baseline.push(...(await settle(clients, t1, (a) => a.marker === marker)));
  await sleep(100);
}

child.send('stop');
await app.close();
await mqtt.close();
await database.close();
rmSync(dataDir, { recursive: true, force: true });

const result = {
  bench: 'wall',
  database: config.databaseUrl ? 'postgresql' : 'pglite',
  clients,
  changes,
  p50_ms: round(pct(change, 50)),
  p95_ms: round(pct(change, 95)),
  max_ms: round(Math.max(...change)),
  baseline_p50_ms: round(pct(baseline, 50)),
  baseline_p95_ms: round(pct(baseline, 95)),
  target_p95_ms: 250,
  payload_bytes: payloadSize,
};
console.log(`change → ${clients} wall screens updated: p50 ${result.p50_ms} ms, p95 ${result.p95_ms} ms (target p95 ≤ 250 ms)`);
console.log(`baseline, bare fan-out of ${payloadSize} bytes to the same sockets: p50 ${result.baseline_p50_ms} ms, p95 ${result.baseline_p95_ms} ms`);
console.log(`overhead of the change path (MQTT → bridge → database → NOTIFY → statistics), medians: ${round(median(change) - median(baseline))} ms`);
console.log(JSON.stringify(result));
