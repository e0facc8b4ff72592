import { BlockList } from 'node:net';
import pg from 'pg';
import { register as globalRegistry } from 'prom-client';
import { pino } from 'pino';
import t from 'tap';
import { buildApp } from '../../server/src/app.js';
import { startMqtt } from '../../server/src/mqtt.js';
import { createMetrics } from '../../server/src/modules/metrics/service.js';
import { JOBS, runJob, type Job } from '../../server/src/scheduler.js';
import { createTestInstance, isErrorShape, signedIn, testConfig, USING_POSTGRES } from '../helpers/instance.js';

const inst = await createTestInstance(t);
const admin = await signedIn(inst, 'it_admin');

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * Parses the Prometheus text exposition format strictly: every sample line must parse, and every
 * metric must be announced by its HELP and TYPE lines first. Throws on anything else.
 */
function parseExposition(text: string): { samples: Sample[]; types: Map<string, string>; help: Map<string, string> } {
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line);
    if (meta) {
      (meta[1] === 'HELP' ? help : types).set(meta[2]!, meta[3]!);
      continue;
    }
    // Values as Prometheus reads them (Go's ParseFloat: NaN and Inf in any case; prom-client writes Nan).
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.e+-]+|[nN][aA][nN]|[+-]?[iI][nN][fF])$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (m[2] ?? '').match(/[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"/g) ?? []) {
      const eq = pair.indexOf('=');
      labels[pair.slice(0, eq)] = JSON.parse(pair.slice(eq + 1)) as string;
    }
    const name = m[1]!;
    const family = name.replace(/_(bucket|sum|count|total|created)$/, '');
    if (!types.has(name) && !types.has(family)) throw new Error(`sample of ${name} before its TYPE line`);
    samples.push({ name, labels, value: Number(m[3]) });
  }
  return { samples, types, help };
}

async function scrape(app = inst.app, remoteAddress = '127.0.0.1') {
  const res = await app.inject({ url: '/metrics', remoteAddress });
  if (res.statusCode !== 200) throw new Error(`/metrics answered ${res.statusCode}: ${res.body}`);
  return { ...parseExposition(res.body), contentType: String(res.headers['content-type']), body: res.body };
}

/** The value of one sample (0 when the series does not exist yet). */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return found?.value ?? 0;
}

t.test('GET /metrics serves the Prometheus text format, with process metrics and every lawbox metric described', async (t) => {
  const m = await scrape();
  t.match(m.contentType, /^text\/plain; version=0\.0\.4/, 'the Prometheus text content type');
  for (const name of ['lawbox_http_requests_total', 'lawbox_http_request_duration_seconds', 'lawbox_http_server_errors_total', 'lawbox_job_runs_total', 'lawbox_job_duration_seconds', 'lawbox_mqtt_connected', 'lawbox_agents_online', 'process_cpu_user_seconds_total', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) {
    t.ok(m.types.has(name), `${name} is exposed with its TYPE`);
    t.ok((m.help.get(name) ?? '').length > 10, `${name} has a help text`);
  }
  t.equal(m.types.get('lawbox_http_requests_total'), 'counter', 'requests are a counter');
  t.equal(m.types.get('lawbox_http_request_duration_seconds'), 'histogram', 'durations are a histogram');
  t.equal(value(m.samples, 'lawbox_mqtt_connected'), 1, 'the MQTT link is up');
  t.same(await globalRegistry.getMetricsAsJSON(), [], 'nothing went into prom-client’s global registry');
});

t.test('requests are counted by method, route pattern and status class; a raw id or URL never becomes a label', async (t) => {
  const before = (await scrape()).samples;
  const key = { method: 'GET', route: '/api/users/:id', status_class: '4xx' };
  for (const id of [987654, 987655]) {
    const res = await inst.app.inject({ url: `/api/users/${id}`, headers: admin.headers });
    t.equal(res.statusCode, 404, `GET /api/users/${id} is a 404`);
  }
  t.equal((await inst.app.inject({ url: '/api/me', headers: admin.headers })).statusCode, 200, 'a signed-in request');
  t.equal((await inst.app.inject({ url: '/api/no-such-route/424242?secret=s3cr3t' })).statusCode, 404, 'a request no route matches');

  const after = await scrape();
  t.equal(value(after.samples, 'lawbox_http_requests_total', key) - value(before, 'lawbox_http_requests_total', key), 2, 'both lookups are counted under the pattern /api/users/:id');
  t.equal(
    value(after.samples, 'lawbox_http_request_duration_seconds_count', key) - value(before, 'lawbox_http_request_duration_seconds_count', key),
    2,
    'and timed under it',
  );
  t.ok(value(after.samples, 'lawbox_http_requests_total', { method: 'GET', route: '/api/me', status_class: '2xx' }) >= 1, '/api/me counted as 2xx');
  t.ok(value(after.samples, 'lawbox_http_requests_total', { method: 'GET', route: 'unmatched', status_class: '4xx' }) >= 1, 'an unmatched URL is counted as route="unmatched"');
  for (const raw of ['987654', '424242', 's3cr3t', 'no-such-route']) t.notOk(after.body.includes(raw), `"${raw}" appears nowhere in the metrics`);
  const routes = new Set(after.samples.filter((s) => s.name === 'lawbox_http_requests_total').map((s) => s.labels.route!));
  const patterns = new Set(inst.app.routeCatalog.map((r) => r.url));
  for (const route of routes) t.ok(route === 'unmatched' || patterns.has(route), `route label "${route}" is a declared route pattern`);
});

t.test('a 5xx answer is counted as a server error of its route', async (t) => {
  const other = await buildApp({ config: inst.config, database: inst.database, mqtt: inst.mqtt, clock: inst.clock });
  t.teardown(() => other.close());
  other.get('/api/test/failing/:id', { config: { public: true } }, async () => {
    throw new Error('broken on purpose');
  });
  await other.ready();
  t.equal((await other.inject({ url: '/api/test/failing/77' })).statusCode, 500, 'the failing route answers 500');
  const m = await scrape(other);
  t.equal(value(m.samples, 'lawbox_http_server_errors_total', { method: 'GET', route: '/api/test/failing/:id' }), 1, 'one server error of that route');
  t.equal(value(m.samples, 'lawbox_http_requests_total', { method: 'GET', route: '/api/test/failing/:id', status_class: '5xx' }), 1, 'counted as 5xx');
  t.equal(value((await scrape()).samples, 'lawbox_http_server_errors_total', { route: '/api/test/failing/:id' }), 0, 'each app counts in its own registry: the first app saw no such error');
});

t.test('job runs are counted by job and outcome and timed', async (t) => {
  const cleanup = JOBS.find((j) => j.name === 'sessions.cleanup')!;
  const failing: Job = {
    name: 'test.failing',
    schedule: '* * * * *',
    run: async () => {
      throw new Error('job failed on purpose');
    },
  };
  const before = (await scrape()).samples;
  t.ok((await runJob(inst.ctx, cleanup, inst.app.metrics.jobs)).ran, 'sessions.cleanup ran');
  await t.rejects(runJob(inst.ctx, failing, inst.app.metrics.jobs), /on purpose/, 'the failing job still throws to its caller');
  const after = (await scrape()).samples;
  const ok = { job: 'sessions.cleanup', outcome: 'ok' };
  t.equal(value(after, 'lawbox_job_runs_total', ok) - value(before, 'lawbox_job_runs_total', ok), 1, 'one ok run of sessions.cleanup');
  t.equal(value(after, 'lawbox_job_duration_seconds_count', ok) - value(before, 'lawbox_job_duration_seconds_count', ok), 1, 'and its duration observed');
  t.equal(value(after, 'lawbox_job_runs_total', { job: 'test.failing', outcome: 'failed' }), 1, 'one failed run of the failing job');
});

// Only on PostgreSQL: PGlite is one connection, where the job lock cannot be contended.
if (USING_POSTGRES) t.test('a run left to another process is counted as skipped', async (t) => {
  const { openDatabase } = await import('../../server/src/db/index.js');
  const other = await openDatabase({ databaseUrl: inst.databaseUrl, dataDir: null });
  t.teardown(() => other.close());
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const slow: Job = { name: 'test.slow', schedule: '* * * * *', run: () => gate };
  const first = runJob({ ...inst.ctx, db: other.db }, slow);
  await new Promise((r) => setTimeout(r, 200));
  t.same(await runJob(inst.ctx, slow, inst.app.metrics.jobs), { ran: false }, 'the lock is held elsewhere');
  release();
  await first;
  t.equal(value((await scrape()).samples, 'lawbox_job_runs_total', { job: 'test.slow', outcome: 'skipped' }), 1, 'counted as skipped');
});

t.test('agents online follow the agents table', async (t) => {
  const before = value((await scrape()).samples, 'lawbox_agents_online');
  const now = inst.clock.now();
  await inst.ctx.db
    .insertInto('agents')
    .values([
      { id: 'metrics-online', name: null, secret_hash: null, enrolled_at: null, created_at: now, state: 'online', last_seen_at: now },
      { id: 'metrics-offline', name: null, secret_hash: null, enrolled_at: null, created_at: now, state: 'offline', last_seen_at: now },
    ])
    .execute();
  t.equal(value((await scrape()).samples, 'lawbox_agents_online') - before, 1, 'one more agent online, the offline one not counted');
  await inst.ctx.db.updateTable('agents').set({ state: 'offline' }).where('id', '=', 'metrics-online').execute();
  t.equal(value((await scrape()).samples, 'lawbox_agents_online'), before, 'back when it goes offline');
});

t.test('the database connections are reported', async (t) => {
  const m = await scrape();
  if (inst.database.kind === 'pglite') {
    t.equal(value(m.samples, 'lawbox_db_pool_connections'), 1, 'PGlite: one in-process connection');
    t.match(m.help.get('lawbox_db_pool_connections'), /PGlite/, 'and the help text says why');
    t.notOk(m.types.has('lawbox_db_pool_waiting_queries'), 'no pool queue to report');
  } else {
    t.equal(m.types.has('lawbox_db_pool_connections'), 'pool' in inst.database, 'PostgreSQL: the pool gauges are there exactly when the database handle exposes its pool');
  }
});

if (USING_POSTGRES) t.test('a PostgreSQL pool’s open, idle and waiting counts are read at each scrape', async (t) => {
  const pool = new pg.Pool({ connectionString: inst.databaseUrl!, max: 1 });
  t.teardown(() => pool.end());
  const metrics = createMetrics({ db: inst.ctx.db, database: 'postgres', pool, mqttConnected: () => true });
  const read = async () => parseExposition(await metrics.registry.metrics()).samples;
  const held = await pool.connect();
  const waiting = pool.query('select 1');
  let m = await read();
  t.equal(value(m, 'lawbox_db_pool_connections'), 1, 'one connection open');
  t.equal(value(m, 'lawbox_db_pool_idle_connections'), 0, 'none idle (it is checked out)');
  t.equal(value(m, 'lawbox_db_pool_waiting_queries'), 1, 'one query waiting for it');
  held.release();
  await waiting;
  m = await read();
  t.equal(value(m, 'lawbox_db_pool_idle_connections'), 1, 'idle again once released');
  t.equal(value(m, 'lawbox_db_pool_waiting_queries'), 0, 'nothing waiting');
});

t.test('the MQTT gauge says 0 while the link is down', async (t) => {
  const link = await startMqtt(testConfig({ MQTT_URL: 'mqtt://127.0.0.1:1' }), pino({ level: 'silent' }));
  t.teardown(() => link.close());
  const other = await buildApp({ config: inst.config, database: inst.database, mqtt: link, clock: inst.clock });
  t.teardown(() => other.close());
  await other.ready();
  t.equal(value((await scrape(other)).samples, 'lawbox_mqtt_connected'), 0, 'an unreachable broker reads 0');
});

t.test('only LAWBOX_METRICS_NETWORKS may read the metrics, judged by the connecting address', async (t) => {
  for (const address of ['192.168.1.50', '10.0.0.7', '2001:db8::1']) {
    const res = await inst.app.inject({ url: '/metrics', remoteAddress: address });
    t.equal(res.statusCode, 403, `${address} is refused (the default is the loopback only)`);
    t.ok(isErrorShape(res.json()), 'with the error shape');
    t.equal(res.json().error.code, 'METRICS_ADDRESS', 'and a code that names the reason');
    t.notOk(res.body.includes('lawbox_'), 'and no metric');
  }
  const forwarded = await inst.app.inject({ url: '/metrics', remoteAddress: '192.168.1.50', headers: { 'x-forwarded-for': '127.0.0.1' } });
  t.equal(forwarded.statusCode, 403, 'a forwarded-for header claiming the loopback changes nothing');
  t.equal((await inst.app.inject({ url: '/metrics', remoteAddress: '::1' })).statusCode, 200, '::1 may read them');
  t.equal((await inst.app.inject({ url: '/metrics', remoteAddress: '::ffff:127.0.0.1' })).statusCode, 200, 'so may 127.0.0.1 on a dual-stack socket');

  const prometheusHost = new BlockList();
  prometheusHost.addSubnet('10.20.0.0', 16, 'ipv4');
  const widened = await buildApp({ config: { ...inst.config, metricsNetworks: prometheusHost }, database: inst.database, mqtt: inst.mqtt, clock: inst.clock });
  t.teardown(() => widened.close());
  await widened.ready();
  t.equal((await widened.inject({ url: '/metrics', remoteAddress: '10.20.3.4' })).statusCode, 200, 'a configured Prometheus network may read them');
  t.equal((await widened.inject({ url: '/metrics', remoteAddress: '127.0.0.1' })).statusCode, 403, 'and then only it: the loopback was not listed');
});
