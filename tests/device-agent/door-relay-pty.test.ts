import { spawnSync } from 'node:child_process';
import t from 'tap';
import { AccessIndex, type AccessList } from '../../device-agent/src/access/decide.js';
import type { DeviceEvent } from '../../device-agent/src/bus/events.js';
import { DoorController } from '../../device-agent/src/doors/controller.js';
import { openSerial, RelayBoard } from '../../device-agent/src/drivers/serial/relay.js';
import { RelayDeframer } from '../../device-agent/src/protocols/usb-relay.js';
import { validateMessage } from '../../firmware-profiles/index.js';
import { ptyPair } from '../helpers/devices.js';

const hasSocat = spawnSync('socat', ['-V']).status === 0;
if (!hasSocat) console.log('# skipping: socat is not installed (apt-get install socat); CI installs it');

const allDay = [{ days: [1, 2, 3, 4, 5, 6, 7], from: '00:00', to: '24:00' }];
const list: AccessList = {
  version: 3,
  agent: 'front-desk',
  issued_at: '2026-11-27T08:00:00+08:00',
  timezone: 'Asia/Shanghai',
  doors: [{ door: 'archive-room', device: 'relay-archive', relay_channel: 1, readers: ['hid-archive'], pulse_ms: 400, fail_mode: 'fail_secure' }],
  credentials: [{ credential: '12345640', kind: 'card', holder: 'person:17', doors: ['archive-room'], windows: allDay }],
  signature: { alg: 'ed25519', key_id: 'unused-here', value: 'A'.repeat(86) + '==' },
};

if (hasSocat) t.test('a granted card pulses the relay over a real serial line; a refused one sends nothing', async (t) => {
  const dir = t.testdir();
  const { a: agentEnd, b: boardEnd } = await ptyPair(t, dir, 'relay');

  // The relay board's side: a simulator reading the command bytes off the other end of the pty pair.
  const board = await openSerial(boardEnd);
  t.teardown(() => new Promise((r) => board.close(() => r(undefined))));
  const deframer = new RelayDeframer();
  const received: { channel: number; on: boolean; at: number }[] = [];
  board.on('data', (chunk: Buffer) => {
    for (const item of deframer.push(chunk)) if ('command' in item) received.push({ ...item.command, at: Date.now() });
  });

  const port = await openSerial(agentEnd);
  const relay = new RelayBoard(port);
  t.teardown(async () => {
    await relay.close();
    await new Promise((r) => port.close(() => r(undefined)));
  });
  const events: DeviceEvent[] = [];
  const index = new AccessIndex(list);
  const doors = new DoorController({
    decide: (c, r, at) => index.decide(c, r, at),
    release: (_device, channel, ms) => relay.pulse(channel ?? 1, ms),
    publish: (e) => events.push(e),
    listVersion: () => list.version,
  });

  const now = new Date('2026-11-27T10:00:00+08:00');
  const granted = await doors.cardRead('12345640', 'hid-archive', now);
  t.equal(granted.granted, true, 'granted');
  for (let i = 0; i < 40 && received.length < 2; i++) await new Promise((r) => setTimeout(r, 50));
  t.same(received.map(({ channel, on }) => ({ channel, on })), [{ channel: 1, on: true }, { channel: 1, on: false }], 'A0 01 01 A2 then A0 01 00 A1 on the line');
  t.ok(received[1]!.at - received[0]!.at >= 350, `released after the pulse (${received[1]!.at - received[0]!.at} ms for 400 ms)`);

  const denied = await doors.cardRead('99999999', 'hid-archive', now);
  t.match(denied, { granted: false, reason: 'unknown_credential' }, 'an unknown card is refused');
  await new Promise((r) => setTimeout(r, 200));
  t.equal(received.length, 2, 'and nothing is sent to the relay');

  t.same(events.map((e) => e.type), ['door_granted', 'door_denied'], 'one event per read');
  for (const e of events) t.same(validateMessage('event', e), { ok: true }, `${e.type} matches the event schema`);
});
