import { spawnSync } from 'node:child_process';
import t from 'tap';
import { Agent } from '../../device-agent/src/agent.js';
import { MdcDisplay, mdcCommandHandler } from '../../device-agent/src/drivers/tcp/mdc-display.js';
import { MdcDisplaySimulator } from '../../device-agent/src/simulators/mdc-display.js';
import { openSerial } from '../../device-agent/src/drivers/serial/relay.js';
import { ptyPair, startBroker } from '../helpers/devices.js';
import { createTestInstance } from '../helpers/instance.js';

t.test('the wall display driver speaks MDC over TCP to the simulated panel', async (t) => {
  const sim = new MdcDisplaySimulator();
  const port = await sim.listen();
  t.teardown(() => sim.close());
  const display = new MdcDisplay({ host: '127.0.0.1', port });
  t.teardown(() => display.close());
  await display.setPower(true);
  await display.setVolume(35);
  await display.setInput('HDMI2');
  t.match(await display.status(), { power: true, volume: 35, input: 0x23 }, 'the panel holds what was set');
  const handler = mdcCommandHandler(display);
  t.same(await handler({ power: 'off' }), { power: 'off', volume: 35, mute: false, input: 'hdmi2' }, '/set answers with the state read back');
  await t.rejects(handler({ volume: 101 }), { code: 'BAD_VALUE' }, 'an out-of-range volume is refused before it reaches the panel');
  await t.rejects(handler({ input: 'vga9' }), { code: 'BAD_VALUE' }, 'an unknown input is refused');
  await sim.close();
  display.close();
  await t.rejects(display.status(), { code: 'DEVICE_UNREACHABLE' }, 'a panel that is gone is reported, not hung on');
});

t.test('a /set from the server reaches the panel through the agent and answers with its state', async (t) => {
  const sim = new MdcDisplaySimulator();
  const port = await sim.listen();
  t.teardown(() => sim.close());
  const { url } = await startBroker(t);
  const inst = await createTestInstance(t, { env: { MQTT_URL: url } });
  const display = new MdcDisplay({ host: '127.0.0.1', port });
  t.teardown(() => display.close());
  const agent = new Agent({ id: 'wall', brokerUrl: url, stateDir: t.testdir(), trustedKeys: new Map() }, { info: () => {}, warn: () => {} });
  t.teardown(() => agent.stop());
  agent.handle('wall-display', mdcCommandHandler(display));
  for (let i = 0; i < 100 && !agent.client.connected; i++) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 200));
  // The server's own MQTT link stands in for the console's command until a display route exists.
  const answers: unknown[] = [];
  inst.mqtt.client.on('message', (topic, payload) => topic === 'lawbox/device/wall-display/result' && answers.push(JSON.parse(payload.toString())));
  await inst.mqtt.client.subscribeAsync('lawbox/device/wall-display/result', { qos: 1 });
  await inst.mqtt.client.publishAsync('lawbox/device/wall-display/set', JSON.stringify({ transaction: 'tx-1', power: 'on', input: 'hdmi1' }), { qos: 1 });
  for (let i = 0; i < 100 && answers.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
  t.same(answers, [{ transaction: 'tx-1', ok: true, state: { power: 'on', volume: 20, mute: false, input: 'hdmi1' } }], 'the result echoes the transaction with the panel state');
  t.equal(sim.state.power, true, 'the panel is on');
});

const hasSocat = spawnSync('socat', ['-V']).status === 0;
if (!hasSocat) console.log('# skipping the RS-232 display test: socat is not installed (apt-get install socat); CI installs it');

if (hasSocat) t.test('the same driver speaks MDC over RS-232 (a pty pair) when the transport is serial', async (t) => {
  const line = await ptyPair(t, t.testdir(), 'wall');
  const panelEnd = await openSerial(line.b, 9600);
  t.teardown(() => new Promise((r) => panelEnd.close(() => r(undefined))));
  const sim = new MdcDisplaySimulator(1);
  sim.attach(panelEnd);
  const display = new MdcDisplay({ path: line.a, displayId: 1 });
  t.teardown(() => display.close());
  await display.setPower(true);
  await display.setVolume(12);
  t.match(await display.status(), { power: true, volume: 12 }, 'power and volume over the serial line');
  t.same(sim.state.power, true, 'the panel holds what was set');
  display.close();
  // The port is locked for exclusive use until the close completes.
  await new Promise((r) => setTimeout(r, 300));
  const stranger = new MdcDisplay({ path: line.a, displayId: 7, replyTimeoutMs: 300 });
  t.teardown(() => stranger.close());
  await t.rejects(stranger.setPower(false), { code: 'NAK' }, 'a display id the panel does not have is refused (NAK)');
});
