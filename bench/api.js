// npm run bench:api — authenticated GET /api/me through the whole lawbox stack, against a bare
// fastify route doing the same session lookup on the same database, in the same run.
// Rounds alternate between the two so machine noise hits both alike; medians are reported.
// Env: DATABASE_URL selects PostgreSQL (else embedded PGlite); BENCH_ROUNDS, BENCH_SECONDS, BENCH_CONNECTIONS.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Fastify from 'fastify';
import { pino } from 'pino';
import { buildApp } from '../server/dist/app.js';
import { loadConfig } from '../server/dist/config.js';
import { systemClock } from '../server/dist/clock.js';
import { migrateToLatest, openDatabase } from '../server/dist/db/index.js';
import { startMqtt } from '../server/dist/mqtt.js';
import { hashToken } from '../server/dist/modules/auth/service.js';
import { createUser } from '../server/dist/modules/users/service.js';
import { load, median, round } from './lib.js';

const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 20);

const dataDir = mkdtempSync(path.join(tmpdir(), 'lawbox-bench-'));
const config = loadConfig({ ...process.env, LAWBOX_DATA_DIR: dataDir, LAWBOX_HTTP_HOST: '127.0.0.1', LAWBOX_HTTP_PORT: '0', LAWBOX_MQTT_HOST: '127.0.0.1', LAWBOX_MQTT_PORT: '0', LAWBOX_LOG_LEVEL: 'silent' });
const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.databaseUrl ? null : dataDir });
await migrateToLatest(database.db);
const ctx = { db: database.db, config, clock: systemClock };
const username = `bench${Date.now()}`;
const password = 'Bench-Password-1';
await createUser(ctx, { userId: null, username: 'bench', role: null, sourceIp: null }, { username, displayName: '压测', role: 'lawyer', password, mustChangePassword: false });

const mqtt = await startMqtt(config, pino({ level: 'silent' }));
const app = await buildApp({ config, database, mqtt });
await app.listen({ host: '127.0.0.1', port: 0 });
const login = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username, password } });
const token = login.json().token;

// The baseline: the same lookup (hash the token, join session and user, check expiry) with nothing else.
const bare = Fastify({ logger: false });
bare.get('/me', async (request, reply) => {
  const t = request.headers.authorization?.slice(7) ?? '';
  const row = await database.db
    .selectFrom('sessions')
    .innerJoin('users', 'users.id', 'sessions.user_id')
    .select(['users.id', 'users.username', 'users.display_name', 'users.role', 'sessions.expires_at', 'sessions.last_seen_at', 'sessions.revoked_at'])
    .where('sessions.token_hash', '=', hashToken(t))
    .executeTakeFirst();
  if (!row || row.revoked_at || row.expires_at <= new Date()) return reply.status(401).send({ error: 'unauthorized' });
  return { id: row.id, username: row.username, display_name: row.display_name, role: row.role };
});
await bare.listen({ host: '127.0.0.1', port: 0 });

const headers = { authorization: `Bearer ${token}` };
const target = { name: 'lawbox GET /api/me', url: `http://127.0.0.1:${app.server.address().port}/api/me`, runs: [] };
const baseline = { name: 'bare fastify + same lookup', url: `http://127.0.0.1:${bare.server.address().port}/me`, runs: [] };

await load(target.url, { seconds: 1, connections, headers }); // warm-up: JIT, connection pools
await load(baseline.url, { seconds: 1, connections, headers });
for (let i = 0; i < rounds; i++) {
  for (const side of i % 2 ? [baseline, target] : [target, baseline]) {
    side.runs.push(await load(side.url, { seconds, connections, headers }));
  }
}

await bare.close();
await app.close();
await mqtt.close();
await database.close();
rmSync(dataDir, { recursive: true, force: true });

const summary = (side) => ({ rps: median(side.runs.map((r) => r.rps)), p50_ms: median(side.runs.map((r) => r.p50_ms)), p99_ms: median(side.runs.map((r) => r.p99_ms)) });
const t = summary(target);
const b = summary(baseline);
console.log(`database: ${database.kind}; ${rounds} alternating rounds of ${seconds} s, ${connections} connections; medians`);
console.log('                               req/s    p50 ms   p99 ms');
for (const [name, s] of [[target.name, t], [baseline.name, b]]) {
  console.log(`${name.padEnd(30)} ${String(round(s.rps, 0)).padStart(7)} ${String(s.p50_ms).padStart(8)} ${String(s.p99_ms).padStart(8)}`);
}
console.log(`ratio lawbox / bare: ${round((t.rps / b.rps) * 100, 1)}% (target ≥ 60%)`);
console.log(JSON.stringify({ bench: 'api', database: database.kind, rps: round(t.rps, 0), baseline_rps: round(b.rps, 0), ratio: round(t.rps / b.rps, 3), p50_ms: t.p50_ms, p99_ms: t.p99_ms, baseline_p99_ms: b.p99_ms, rounds, seconds, connections }));
