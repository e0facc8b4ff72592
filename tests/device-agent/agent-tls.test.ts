import { generateKeyPairSync } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createServer } from 'node:tls';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import t from 'tap';
import { Agent } from '../../device-agent/src/agent.js';
import { AGENT_VARIABLES, AgentConfigError, loadAgentConfig } from '../../device-agent/src/config.js';
import { ensureLocalCertificates } from '../../server/src/tls.js';
import { until } from '../helpers/devices.js';

// A broker speaking MQTT over TLS only, with a certificate from a local CA as `LAWBOX_TLS=auto` makes it.
const dir = t.testdir({ keys: {} });
const local = await ensureLocalCertificates(path.join(dir, 'tls'), { now: new Date(), names: { dns: ['localhost'], ips: ['127.0.0.1'] } });
const broker = await Aedes.createBroker();
const server = createServer({ cert: local.cert, key: local.key }, broker.handle);
server.listen(0, '127.0.0.1');
await once(server, 'listening');
t.teardown(async () => {
  await new Promise<void>((r) => broker.close(() => r()));
  await new Promise<void>((r) => server.close(() => r()));
});
const brokerUrl = `mqtts://127.0.0.1:${(server.address() as AddressInfo).port}`;
writeFileSync(path.join(dir, 'keys', 'server-test.pem'), generateKeyPairSync('ed25519').publicKey.export({ format: 'pem', type: 'spki' }));

const env = (extra: Record<string, string>) => ({ LAWBOX_AGENT_ID: 'front-desk', LAWBOX_AGENT_BROKER_URL: brokerUrl, LAWBOX_AGENT_TRUSTED_KEYS: path.join(dir, 'keys'), ...extra });

t.test('with LAWBOX_AGENT_CA_FILE the agent trusts the local CA and comes online over mqtts://', async (t) => {
  const config = loadAgentConfig(env({ LAWBOX_AGENT_CA_FILE: local.caFile, LAWBOX_AGENT_STATE_DIR: t.testdir() }));
  const watcher = await mqtt.connectAsync(brokerUrl, { protocolVersion: 4, ca: readFileSync(local.caFile) });
  t.teardown(() => watcher.endAsync(true));
  const states: string[] = [];
  watcher.on('message', (_topic, payload) => states.push(JSON.parse(payload.toString()).state));
  await watcher.subscribeAsync('lawbox/agent/front-desk/state', { qos: 1 });

  const agent = new Agent(config, { info: () => {}, warn: () => {} });
  t.teardown(() => agent.stop());
  t.ok(await until(() => states.includes('online')), 'the agent connected over TLS and announced itself online');
});

t.test('without it the broker’s certificate is refused and the agent stays offline', async (t) => {
  const warnings: string[] = [];
  const agent = new Agent(loadAgentConfig(env({ LAWBOX_AGENT_STATE_DIR: t.testdir() })), { info: () => {}, warn: (obj) => warnings.push(String((obj as { err?: string }).err)) });
  t.teardown(() => agent.stop());
  t.ok(await until(() => warnings.length > 0), 'an MQTT error is logged');
  t.match(warnings[0], /self.signed|unable to verify|certificate/i, 'naming the untrusted certificate');
  t.notOk(agent.client.connected, 'and the agent is not connected');
});

t.test('a missing or malformed CA file is a configuration error', async (t) => {
  const garbage = path.join(dir, 'garbage.pem');
  writeFileSync(garbage, 'not a certificate');
  for (const file of [path.join(dir, 'missing.pem'), garbage]) {
    const problems = configProblems(env({ LAWBOX_AGENT_CA_FILE: file }));
    t.ok(problems.some((p) => p.startsWith(`LAWBOX_AGENT_CA_FILE (${file}) is not a readable PEM certificate`)), `${path.basename(file)} is refused at start, naming the variable and the file`);
  }
  t.ok(AGENT_VARIABLES.some((v) => v.name === 'LAWBOX_AGENT_CA_FILE'), 'lawbox-agent --help lists LAWBOX_AGENT_CA_FILE');
});

/** The problems loadAgentConfig reports, or none. */
function configProblems(environment: NodeJS.ProcessEnv): string[] {
  try {
    loadAgentConfig(environment);
    return [];
  } catch (err) {
    if (err instanceof AgentConfigError) return err.problems;
    throw err;
  }
}
