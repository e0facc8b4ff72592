import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { createDatabase } from '../helpers/instance.js';
import { serveDemo } from '../helpers/cli.js';

t.setTimeout(120_000);

t.test('lawbox serve --demo starts, prints the demo accounts once, and stops cleanly on SIGTERM', async (t) => {
  const dataDir = t.testdir({});
  const env: Record<string, string> = { LAWBOX_DATA_DIR: dataDir };
  if (process.env.DATABASE_URL) env.DATABASE_URL = (await createDatabase(t)).databaseUrl!;
  if (process.env.MQTT_URL) env.MQTT_URL = process.env.MQTT_URL;

  const first = await serveDemo(env);
  const health = await fetch(`${first.url}/api/health`).then((r) => r.json());
  t.match(health, { status: 'ok', db: 'ok', mqtt: 'ok' }, 'the running appliance is healthy');
  const printed = first.output();
  t.match(printed, '【演示】', 'the demo firm is clearly marked');
  const director = /director\s+director\s+(\S+)/.exec(printed)?.[1];
  t.ok(director, 'the director’s one-time password is printed');
  const login = await fetch(`${first.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'director', password: director }) });
  t.equal(login.status, 200, 'the printed password signs the director in');
  const signedIn = (await login.json()) as { token: string; user: { password_change_required: boolean } };
  t.equal(signedIn.user.password_change_required, true, 'and must be changed first');
  if (!process.env.DATABASE_URL) t.ok(existsSync(path.join(dataDir, 'lawbox.lock')), 'the embedded data directory is locked while running');

  // The simulated building: `lawbox-agent --simulate` beside the server, its devices online.
  const token = signedIn.token;
  const changed = await fetch(`${first.url}/api/auth/password`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ current_password: director, new_password: 'Minghang-Front-77!' }) });
  t.equal(changed.status, 200, 'the director sets a password of their own');
  const session = (await (await fetch(`${first.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'director', password: 'Minghang-Front-77!' }) })).json()) as { token: string };
  const online = async () => {
    const devices = (await (await fetch(`${first.url}/api/devices`, { headers: { authorization: `Bearer ${session.token}` } })).json()) as { id: string; profile: string; availability: string }[];
    return devices.filter((d) => d.availability === 'online');
  };
  let up: { id: string; profile: string }[] = [];
  for (let i = 0; i < 120 && up.length < 11; i++) {
    up = await online();
    if (up.length < 11) await new Promise((r) => setTimeout(r, 250));
  }
  const profiles = new Set(up.map((d) => d.profile));
  t.ok(up.length >= 6, `the demo shows at least six simulated devices online (${up.length}: ${up.map((d) => d.id).join(', ')})`);
  t.ok(profiles.size >= 6, `of at least six device models (${[...profiles].join(', ')})`);

  first.child.kill('SIGTERM');
  const code = await new Promise((r) => first.child.once('exit', r));
  t.equal(code, 0, 'SIGTERM ends the server with exit code 0');
  const leftovers = spawnSync('pgrep', ['-f', dataDir], { encoding: 'utf8' }).stdout.trim();
  t.equal(leftovers, '', 'the simulated building stops with it: no agent or pty left running');
  t.notOk(existsSync(path.join(dataDir, 'lawbox.lock')), 'the lock is released');

  const second = await serveDemo(env);
  t.notMatch(second.output(), /One-time passwords/, 'a second start prints no passwords: the demo loads only once');
  second.child.kill('SIGINT');
  t.equal(await new Promise((r) => second.child.once('exit', r)), 0, 'SIGINT also stops it cleanly');
});
