// npm run bench:startup — cold start (until /api/health answers) and idle memory of `lawbox serve`,
// in embedded mode on a new and on an existing data directory, and on PostgreSQL when DATABASE_URL
// is set; next to the same figures for a bare fastify process (the floor Node.js itself sets).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { median, round } from './lib.js';

const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const root = path.dirname(path.dirname(new URL(import.meta.url).pathname));
let nextPort = 28080 + Math.floor(Math.random() * 1000);

function rssMb(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function measure(args, env) {
  const port = nextPort++;
  const started = performance.now();
  const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env, LAWBOX_HTTP_HOST: '127.0.0.1', LAWBOX_HTTP_PORT: String(port), LAWBOX_MQTT_HOST: '127.0.0.1', LAWBOX_MQTT_PORT: String(port + 1000), LAWBOX_LOG_LEVEL: 'warn', PORT: String(port) }, stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${args.join(' ')} exited with ${child.exitCode}`);
      const ok = await fetch(`http://127.0.0.1:${port}/api/health`).then((r) => r.ok, () => false);
      if (ok) break;
      if (performance.now() - started > 60_000) throw new Error('no answer within 60 s');
      await new Promise((r) => setTimeout(r, 25));
    }
    const startMs = performance.now() - started;
    await new Promise((r) => setTimeout(r, 3000)); // settle: idle memory, not start-up garbage
    return { startMs, rssMb: rssMb(child.pid) };
  } finally {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  }
}

const bareServer = `
  const app = (await import('fastify')).default();
  app.get('/api/health', async () => ({ status: 'ok' }));
  await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) });`;

const results = [];
async function scenario(name, makeEnv, args = ['server/bin/lawbox.js', 'serve']) {
  const runs = [];
  for (let i = 0; i < rounds; i++) {
    const { env, cleanup } = await makeEnv();
    try {
      runs.push(await measure(args, env));
    } finally {
      await cleanup?.();
    }
  }
  const r = { name, start_ms: round(median(runs.map((x) => x.startMs)), 0), idle_rss_mb: round(median(runs.map((x) => x.rssMb)), 1) };
  results.push(r);
  console.log(`${name.padEnd(42)} start ${String(r.start_ms).padStart(6)} ms   idle RSS ${String(r.idle_rss_mb).padStart(6)} MB`);
}

await scenario('baseline: bare fastify process', async () => ({ env: {} }), ['--input-type=module', '-e', bareServer]);
await scenario('lawbox embedded, new data directory', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'lawbox-start-'));
  return { env: { LAWBOX_DATA_DIR: dir, DATABASE_URL: '', MQTT_URL: '' }, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
});
const warmDir = mkdtempSync(path.join(tmpdir(), 'lawbox-start-'));
spawnSync(process.execPath, ['server/bin/lawbox.js', 'migrate'], { cwd: root, env: { ...process.env, LAWBOX_DATA_DIR: warmDir, DATABASE_URL: '' } }); // creates the database files
await scenario('lawbox embedded, existing data directory', async () => ({ env: { LAWBOX_DATA_DIR: warmDir, DATABASE_URL: '', MQTT_URL: '' } }));
rmSync(warmDir, { recursive: true, force: true });

if (process.env.DATABASE_URL) {
  await scenario('lawbox on PostgreSQL (new database)', async () => {
    const name = `lawbox_bench_${process.pid}_${Date.now()}`;
    const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    const url = new URL(process.env.DATABASE_URL);
    url.pathname = `/${name}`;
    return {
      env: { DATABASE_URL: url.toString(), MQTT_URL: '' },
      cleanup: async () => {
        const c = new pg.Client({ connectionString: process.env.DATABASE_URL });
        await c.connect();
        await c.query(`drop database if exists ${name} with (force)`);
        await c.end();
      },
    };
  });
} else {
  console.log('(PostgreSQL mode not measured: set DATABASE_URL to an admin connection to include it)');
}
console.log(JSON.stringify({ bench: 'startup', rounds, results }));
