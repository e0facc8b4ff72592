import { existsSync } from 'node:fs';
import path from 'node:path';
import mqtt from 'mqtt';
import t from 'tap';
import { loadProfiles } from '../../firmware-profiles/index.js';
import { Agent, type AgentDeviceConfig } from '../../device-agent/src/agent.js';
import type { DriverFactory } from '../../device-agent/src/drivers/driver.js';
import { mdcDisplayDriver } from '../../device-agent/src/drivers/tcp/mdc-display.js';
import { MdcDisplaySimulator } from '../../device-agent/src/simulators/mdc-display.js';
import { startBroker, until } from '../helpers/devices.js';

const profiles = loadProfiles();
const quiet = { info: () => {}, warn: () => {} };
const fastBackoff = { minMs: 100, maxMs: 800, stableMs: 5000 };

/** Retained messages as a late subscriber sees them: topic → last payload. */
async function watch(t: { teardown(fn: () => unknown): void }, url: string, topics: string[]): Promise<Map<string, unknown>> {
  const seen = new Map<string, unknown>();
  const client = mqtt.connect(url, { protocolVersion: 4 });
  t.teardown(() => client.endAsync(true));
  client.on('message', (topic, payload) => seen.set(topic, payload.length ? JSON.parse(payload.toString()) : null));
  await new Promise((r) => client.once('connect', r));
  await client.subscribeAsync(topics, { qos: 1 });
  return seen;
}

function config(version: number, devices: AgentDeviceConfig['devices']): AgentDeviceConfig {
  return { version, issued_at: new Date().toISOString(), devices };
}

t.test('devices from the retained config run under supervision; one failing device never stops another', async (t) => {
  const { url } = await startBroker(t);
  const panel = new MdcDisplaySimulator();
  const panelPort = await panel.listen();
  t.teardown(() => panel.close());

  // A driver that fails on start twice, then runs: what a USB adapter that is still enumerating does.
  const starts: number[] = [];
  const flaky: DriverFactory = () => ({
    async start() {
      starts.push(Date.now());
      if (starts.length <= 2) throw new Error('port not there yet');
    },
    async stop() {},
  });
  const stateDir = t.testdir();
  const agent = new Agent(
    { id: 'front-desk', brokerUrl: url, stateDir, trustedKeys: new Map(), profiles, drivers: { samsung_mdc: mdcDisplayDriver, usb_relay: flaky, lawbox_mqtt: null }, backoff: fastBackoff },
    quiet,
  );
  t.teardown(() => agent.stop());
  const seen = await watch(t, url, ['lawbox/device/+/availability', 'lawbox/device/+']);
  const publisher = mqtt.connect(url, { protocolVersion: 4 });
  t.teardown(() => publisher.endAsync(true));
  await new Promise((r) => publisher.once('connect', r));
  const devices: AgentDeviceConfig['devices'] = [
    { device: 'wall-lobby', profile: 'samsung/qm55r', transport: { type: 'tcp', host: '127.0.0.1', port: panelPort }, settings: { poll_interval_ms: 200 } },
    { device: 'relay-archive', profile: 'lctech/lcus-1', transport: { type: 'serial', path: '/dev/ttyUSB9' } },
    { device: 'terminal-1', profile: 'lawbox/paperless-terminal', transport: { type: 'mqtt' } },
    { device: 'mystery', profile: 'acme/unknown', transport: { type: 'mqtt' } },
  ];
  await publisher.publishAsync('lawbox/agent/front-desk/config', JSON.stringify(config(3, devices)), { qos: 1, retain: true });

  t.ok(await until(() => (seen.get('lawbox/device/wall-lobby/availability') as { state?: string })?.state === 'online'), 'the display is online');
  t.ok(await until(() => (seen.get('lawbox/device/wall-lobby') as { power?: string })?.power === 'off'), 'and its state is retained');
  t.ok(await until(() => (seen.get('lawbox/device/relay-archive/availability') as { state?: string })?.state === 'online', 5000), 'the flaky device came online after its retries');
  t.equal(starts.length, 3, 'started three times');
  const gaps = [starts[1]! - starts[0]!, starts[2]! - starts[1]!];
  t.ok(gaps[0]! >= 90 && gaps[1]! >= gaps[0]! * 1.5, `the delay doubles (${gaps.join(' ms, ')} ms)`);
  t.same(seen.get('lawbox/device/mystery/availability'), { state: 'offline' }, 'a device with an unknown profile is reported offline');
  t.notOk(seen.has('lawbox/device/terminal-1/availability'), 'an MQTT-native device speaks for itself');
  t.equal(agent.configVersion, 3, 'config version 3 in force');

  // The panel is unplugged: the display goes offline and comes back by itself; the other device is untouched.
  await panel.close();
  t.ok(await until(() => (seen.get('lawbox/device/wall-lobby/availability') as { state?: string })?.state === 'offline'), 'the lost display is reported offline');
  t.same(seen.get('lawbox/device/relay-archive/availability'), { state: 'online' }, 'the other device stays online');
  await panel.listen(panelPort);
  t.ok(await until(() => (seen.get('lawbox/device/wall-lobby/availability') as { state?: string })?.state === 'online', 5000), 'the display is back after the backoff');

  // A /set reaches the driver, validated against the contract first.
  const results: Record<string, unknown>[] = [];
  publisher.on('message', (_topic, payload) => results.push(JSON.parse(payload.toString())));
  await publisher.subscribeAsync('lawbox/device/wall-lobby/result', { qos: 1 });
  await publisher.publishAsync('lawbox/device/wall-lobby/set', JSON.stringify({ transaction: 'p1', power: 'on' }), { qos: 1 });
  await publisher.publishAsync('lawbox/device/wall-lobby/set', JSON.stringify({ transaction: 'p2', action: 'refresh_status', power: 'on' }), { qos: 1 });
  t.ok(await until(() => results.length >= 2), 'both answered');
  t.match(results.find((r) => r.transaction === 'p1'), { ok: true, state: { power: 'on' } }, 'power on, state read back');
  t.match(results.find((r) => r.transaction === 'p2'), { ok: false, error: { code: 'INVALID_MESSAGE' } }, 'an action mixed with properties is refused by the contract');
  t.ok(await until(() => (seen.get('lawbox/device/wall-lobby') as { power?: string })?.power === 'on'), 'the retained state follows');

  // An older config is ignored; a newer one without the display stops it.
  await publisher.publishAsync('lawbox/agent/front-desk/config', JSON.stringify(config(2, [])), { qos: 1, retain: true });
  await new Promise((r) => setTimeout(r, 200));
  t.equal(agent.configVersion, 3, 'an older config is refused');
  await publisher.publishAsync('lawbox/agent/front-desk/config', JSON.stringify(config(4, devices.filter((d) => d.device !== 'wall-lobby'))), { qos: 1, retain: true });
  t.ok(await until(() => (seen.get('lawbox/device/wall-lobby/availability') as { state?: string })?.state === 'offline'), 'a device taken off the agent goes offline');
  t.ok(existsSync(path.join(stateDir, 'config.json')), 'the config is kept on disk');
});

t.test('a restart without a broker runs the last config from disk', async (t) => {
  const { url, stop } = await startBroker(t);
  const panel = new MdcDisplaySimulator();
  const panelPort = await panel.listen();
  t.teardown(() => panel.close());
  const stateDir = t.testdir();
  const opts = { id: 'wall-host', brokerUrl: url, stateDir, trustedKeys: new Map(), profiles, drivers: { samsung_mdc: mdcDisplayDriver }, backoff: fastBackoff };
  const first = new Agent(opts, quiet);
  const publisher = mqtt.connect(url, { protocolVersion: 4 });
  await new Promise((r) => publisher.once('connect', r));
  await publisher.publishAsync(
    'lawbox/agent/wall-host/config',
    JSON.stringify(config(1, [{ device: 'wall-1', profile: 'samsung/qm55r', transport: { type: 'tcp', host: '127.0.0.1', port: panelPort } }])),
    { qos: 1, retain: true },
  );
  t.ok(await until(() => first.devices.driver('wall-1') !== null), 'running');
  await publisher.endAsync(true);
  await first.stop();
  await stop();

  const second = new Agent({ ...opts, brokerUrl: 'mqtt://127.0.0.1:1' }, quiet);
  t.teardown(() => second.stop());
  t.ok(await until(() => second.devices.driver('wall-1') !== null), 'the display runs again with no broker at all');
  t.equal(second.configVersion, 1, 'from the config kept on disk');
});
