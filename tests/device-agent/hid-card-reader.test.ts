import { randomUUID } from 'node:crypto';
import t from 'tap';
import { loadProfiles, validateMessage } from '../../firmware-profiles/index.js';
import { AccessIndex, type AccessList } from '../../device-agent/src/access/decide.js';
import type { AgentDecision } from '../../device-agent/src/agent.js';
import type { DriverContext } from '../../device-agent/src/drivers/driver.js';
import { createHidCardReaderDriver, hidCardReaderDriver, HidUnavailableError, listHidDevices, nodeHidBinding } from '../../device-agent/src/drivers/hid/card-reader.js';
import { SimulatedHidReader } from '../../device-agent/src/simulators/hid-card-reader.js';
import { until } from '../helpers/devices.js';

const profile = loadProfiles().get('generic/usb-hid-card-reader')!;
const allDay = [{ days: [1, 2, 3, 4, 5, 6, 7], from: '00:00', to: '24:00' }];
// AccessIndex decides from a list it is given; checking the list's signature is verifyAccessList's job
// (tests/device-agent/access-decide.test.ts), so this one carries none worth checking.
const list: AccessList = {
  version: 3,
  agent: 'front-desk',
  issued_at: '2026-11-27T08:00:00+08:00',
  timezone: 'Asia/Shanghai',
  doors: [{ door: 'archive', device: 'relay-1', relay_channel: 1, readers: ['hid-archive'], pulse_ms: 2000, fail_mode: 'fail_secure' }],
  credentials: [
    // 1234567890 as a 10-digit decimal reader types it.
    { credential: '499602D2', kind: 'card', holder: 'person:17', doors: ['archive'], windows: allDay },
    // Facility 36, card 26796 as a Wiegand 26 frame.
    { credential: '12345600', kind: 'card', holder: 'person:18', doors: ['archive'], windows: allDay },
  ],
  signature: { alg: 'ed25519', key_id: 'unchecked', value: '' },
};
const index = new AccessIndex(list);
const FRIDAY_10 = new Date('2026-11-27T10:00:00+08:00');

/** A DriverContext of our own: decisions from the real AccessIndex, everything the driver does recorded. */
function context(device: string, opts: { settings?: Record<string, unknown>; transport?: Record<string, unknown> } = {}) {
  const credentials: { credential: string; kind: string; decision: AgentDecision }[] = [];
  const events: { type: string; data: Record<string, unknown> }[] = [];
  const warnings: string[] = [];
  const failures: Error[] = [];
  const state: Record<string, unknown> = {};
  const ctx: DriverContext = {
    assignment: { device, profile: profile.id, transport: { type: 'hid', ...opts.transport } },
    profile,
    settings: { ...profile.defaults, ...opts.settings },
    log: { info: () => {}, warn: (obj, msg) => warnings.push(`${msg}: ${JSON.stringify(obj)}`) },
    setState: (s) => Object.assign(state, s),
    emit: (type, data) => events.push({ type, data }),
    credential: async (credential, kind) => {
      const decision = index.decide(credential, device, FRIDAY_10);
      credentials.push({ credential, kind, decision });
      return decision;
    },
    input: () => {},
    secret: () => undefined,
    fail: (err) => failures.push(err),
  };
  return { ctx, credentials, events, warnings, failures, state };
}

async function startReader(t: { teardown(fn: () => unknown): void }, sim: SimulatedHidReader, device: string, opts: Parameters<typeof context>[1] = {}) {
  const c = context(device, opts);
  const driver = createHidCardReaderDriver(sim)(c.ctx);
  t.teardown(() => driver.stop());
  await driver.start();
  return { ...c, driver };
}

t.test('a granted card is decided once with its canonical number; a held card is debounced', async (t) => {
  // Report ids and resent key-downs, as some readers do: the driver must still see each card once.
  const sim = new SimulatedHidReader(undefined, { reportId: 1, repeat: 3 });
  const { credentials, events, state } = await startReader(t, sim, 'hid-archive', { settings: { debounce_ms: 500 } });
  t.same(state, { reader: 'ready' }, 'the reader reports ready');
  await sim.present('499602D2', 'decimal_10');
  t.ok(await until(() => credentials.length === 1, 1000), 'the card reaches the door decision');
  t.match(credentials[0], { credential: '499602D2', kind: 'card', decision: { granted: true, reason: 'granted', door: { door: 'archive' } } }, 'as the canonical hex of 1234567890, and it opens the archive');

  await sim.present('499602D2', 'decimal_10');
  await sim.present('00000001', 'decimal_10');
  t.ok(await until(() => credentials.length === 2, 1000), 'another card is decided at once');
  t.same(credentials.map((c) => c.credential), ['499602D2', '00000001'], 'but the same card again within debounce_ms is not');
  t.equal(credentials[1]!.decision.reason, 'unknown_credential', 'the other card is unknown');
  await sim.present('00000001', 'decimal_10');
  await new Promise((r) => setTimeout(r, 550));
  await sim.present('00000001', 'decimal_10');
  t.ok(await until(() => credentials.length === 3, 1000), 'after debounce_ms the same card counts again');
  t.same(events, [], 'a reader at a door emits no card_read: the door decision is the event');
});

t.test('a reader that belongs to no door reports card_read', async (t) => {
  const sim = new SimulatedHidReader();
  const { credentials, events } = await startReader(t, sim, 'hid-desk');
  await sim.present('499602D2', 'decimal_8h10d');
  t.ok(await until(() => events.length === 1, 1000), 'a card_read event is emitted');
  t.equal(credentials[0]?.decision.reason, 'reader_not_assigned', 'after the decision found no door for the reader');
  t.same(events, [{ type: 'card_read', data: { card_number: '499602D2' } }], 'naming the card');
  const event = { event_id: randomUUID(), device: 'hid-desk', type: 'card_read', at: FRIDAY_10.toISOString(), data: events[0]!.data };
  t.same(validateMessage('event', event), { ok: true }, 'which is a valid event by the MQTT schema');
});

t.test('card_format decides how the typed text becomes a credential', async (t) => {
  const sim = new SimulatedHidReader();
  const { credentials, warnings } = await startReader(t, sim, 'hid-archive', { settings: { card_format: 'wiegand_26' } });
  await sim.type('036,26796');
  t.ok(await until(() => credentials.length === 1, 1000), 'a Wiegand reader typing facility,card');
  t.match(credentials[0], { credential: '12345600', decision: { granted: true } }, 'is the 26-bit frame the list holds');
  await sim.type('1234567890');
  t.ok(await until(() => warnings.length === 1, 1000), 'ten decimal digits do not fit wiegand_26');
  t.match(warnings[0], /card read does not fit card_format wiegand_26.*BAD_CARD/, 'and are logged, not decided');
  await sim.type('1'.repeat(40));
  t.ok(await until(() => warnings.length === 2, 1000), 'a runaway read');
  t.match(warnings[1], /card read discarded.*TOO_LONG/, 'is discarded with its reason');
  t.equal(credentials.length, 1, 'neither reached the door decision');

  const bad = context('hid-archive', { settings: { card_format: 'wiegand_34' } });
  await t.rejects(createHidCardReaderDriver(new SimulatedHidReader())(bad.ctx).start(), /card_format "wiegand_34" is not one a keyboard-wedge reader types; use one of decimal_10, decimal_8h10d, wiegand_26, raw_hex/, 'a format the reader cannot type is refused at start');
});

t.test('unplugging the reader fails the driver; a missing reader fails its start', async (t) => {
  const sim = new SimulatedHidReader();
  const { failures, driver } = await startReader(t, sim, 'hid-archive');
  sim.unplug();
  t.equal(failures.length, 1, 'ctx.fail is called');
  t.match(failures[0]?.message, /^the USB HID card reader ffff:0035 was lost: could not read from HID device$/, 'naming the reader');
  await driver.stop();
  const again = createHidCardReaderDriver(sim)(context('hid-archive').ctx);
  await t.rejects(again.start(), /^cannot open the USB HID card reader ffff:0035: no such device is connected$/, 'a reader that is gone cannot be started');
  const other = new SimulatedHidReader({ vendorId: 0x1234, productId: 0x0035 });
  await t.rejects(createHidCardReaderDriver(other)(context('hid-archive').ctx).start(), /ffff:0035/, 'nor can one with other ids');
  const serial = new SimulatedHidReader({ vendorId: 0xffff, productId: 0x0035, serialNumber: 'A1' });
  const wrongSerial = context('hid-archive', { transport: { serial_number: 'B2' } });
  await t.rejects(createHidCardReaderDriver(serial)(wrongSerial.ctx).start(), /ffff:0035/, 'or with another serial number than the config names');
  const rightSerial = createHidCardReaderDriver(serial)(context('hid-archive', { transport: { serial_number: 'A1' } }).ctx);
  t.teardown(() => rightSerial.stop());
  await t.resolves(rightSerial.start(), 'the one with the right serial number opens');
  await t.rejects(createHidCardReaderDriver(serial)(context('hid-archive').ctx).start(), /already open/, 'once: the agent holds it exclusively');
});

t.test('node-hid, the default binding, on this host', async (t) => {
  let devices;
  try {
    devices = await listHidDevices();
  } catch (err) {
    if (!(err instanceof HidUnavailableError)) throw err;
    console.log(`# skipping: ${err.message}`);
    return;
  }
  t.ok(Array.isArray(devices), `HID.devicesAsync() lists ${devices.length} device(s) without throwing`);
  await t.rejects(nodeHidBinding.open({ path: '/dev/hidraw-none', vendorId: 0xffff, productId: 0x0035 }), /\/dev\/hidraw-none is not a hidraw device of this host/, 'a config path that is no hidraw node is named');
  if ((await listHidDevices(0xffff, 0x0035)).length > 0) {
    console.log('# skipping the missing-reader case: a ffff:0035 reader is plugged into this host');
    return;
  }
  const driver = hidCardReaderDriver(context('hid-archive').ctx);
  t.teardown(() => driver.stop());
  await t.rejects(driver.start(), /^cannot open the USB HID card reader ffff:0035: no such device is connected$/, 'with no reader plugged in, start rejects naming vendor:product');
});
