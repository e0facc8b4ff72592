import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import mqtt from 'mqtt';
import t from 'tap';
import { AGENT_VARIABLES } from '../../device-agent/src/config.js';
import { startBroker } from '../helpers/devices.js';

const bin = new URL('../../device-agent/bin/lawbox-agent.js', import.meta.url).pathname;

function run(args: string[], env: Record<string, string>): { done: Promise<{ code: number | null; stdout: string; stderr: string }>; kill: (s: NodeJS.Signals) => void } {
  const child = spawn(process.execPath, [bin, ...args], { env: { PATH: process.env.PATH ?? '', ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return { done: once(child, 'exit').then(([code]) => ({ code: code as number | null, stdout, stderr })), kill: (s) => child.kill(s) };
}

t.test('--help lists every variable', async (t) => {
  const { code, stdout } = await run(['--help'], {}).done;
  t.equal(code, 0, 'exit 0');
  for (const v of AGENT_VARIABLES) t.match(stdout, v.name, `${v.name} is listed`);
});

t.test('a bad configuration exits 2 and names every problem at once', async (t) => {
  const { code, stderr } = await run([], { LAWBOX_AGENT_ID: 'Front Desk!', LAWBOX_AGENT_BROKER_URL: 'http://x' }).done;
  t.equal(code, 2, 'exit 2');
  t.match(stderr, 'LAWBOX_AGENT_ID', 'the id');
  t.match(stderr, 'LAWBOX_AGENT_BROKER_URL', 'the broker');
  t.match(stderr, 'LAWBOX_AGENT_TRUSTED_KEYS', 'the keys');
});

t.test('the agent comes online, and on SIGTERM says offline and exits 0', async (t) => {
  const { url } = await startBroker(t);
  const dir = t.testdir({ keys: {}, state: {} });
  writeFileSync(path.join(dir, 'keys', 'server-2026.pem'), generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }));
  const watcher = mqtt.connect(url, { protocolVersion: 4 });
  t.teardown(() => watcher.endAsync(true));
  const states: string[] = [];
  watcher.on('message', (_topic, payload) => states.push(JSON.parse(payload.toString()).state));
  await new Promise((r) => watcher.once('connect', r));
  await watcher.subscribeAsync('lawbox/agent/front-desk/state', { qos: 1 });

  const agent = run([], { LAWBOX_AGENT_ID: 'front-desk', LAWBOX_AGENT_BROKER_URL: url, LAWBOX_AGENT_STATE_DIR: path.join(dir, 'state'), LAWBOX_AGENT_TRUSTED_KEYS: path.join(dir, 'keys') });
  const deadline = Date.now() + 10_000;
  while (!states.includes('online') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  t.ok(states.includes('online'), 'online announced');
  agent.kill('SIGTERM');
  const { code, stdout } = await agent.done;
  t.equal(code, 0, 'exit 0 on SIGTERM');
  t.match(stdout, '"msg":"agent connected"', 'structured JSON log lines');
  const until = Date.now() + 3000;
  while (states.at(-1) !== 'offline' && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  t.equal(states.at(-1), 'offline', 'offline announced on the way out');
});
