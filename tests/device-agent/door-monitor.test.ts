import { spawnSync } from 'node:child_process';
import t from 'tap';
import { loadProfiles, validateMessage } from '../../firmware-profiles/index.js';
import { AccessIndex, type AccessList } from '../../device-agent/src/access/decide.js';
import type { DeviceEvent } from '../../device-agent/src/bus/events.js';
import { DoorController } from '../../device-agent/src/doors/controller.js';
import { DEBOUNCE_MS, DEFAULT_HELD_OPEN_MS, DoorMonitor, EXIT_RELEASE_MS, RELEASE_GRACE_MS, type MonitorClock, type MonitoredDoor } from '../../device-agent/src/doors/monitor.js';
import type { DriverContext } from '../../device-agent/src/drivers/driver.js';
import { osdpReaderDriver } from '../../device-agent/src/drivers/serial/osdp-cp.js';
import { openSerial } from '../../device-agent/src/drivers/serial/relay.js';
import { OsdpReaderSimulator, type OutputChange } from '../../device-agent/src/simulators/osdp-pd.js';
import { ptyPair, until } from '../helpers/devices.js';

const profiles = loadProfiles();

/** A clock the test moves by hand: timers fire in order as `advance` passes them. */
class ManualClock implements MonitorClock {
  private time = Date.parse('2026-11-27T02:00:00.000Z');
  private readonly timers = new Map<number, { at: number; fn: () => void }>();
  private nextId = 1;

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): number {
    this.timers.set(this.nextId, { at: this.time + ms, fn });
    return this.nextId++;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const due = [...this.timers].filter(([, timer]) => timer.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.time = due[1].at;
      due[1].fn();
    }
    this.time = end;
  }

  get pending(): number {
    return this.timers.size;
  }
}

/** Every event must match the MQTT event schema: a mismatch throws out of the monitor into the test. */
function checked(events: DeviceEvent[]): (e: DeviceEvent) => void {
  return (e) => {
    const shape = validateMessage('event', e);
    if (!shape.ok) throw new Error(`${e.type} does not match the event schema: ${shape.errors.join('; ')}`);
    events.push(e);
  };
}

/** A monitor on a manual clock and the events it published. */
function setup(t: { teardown(fn: () => unknown): void }, doors: MonitoredDoor[]) {
  const clock = new ManualClock();
  const events: DeviceEvent[] = [];
  const monitor = new DoorMonitor(doors, { clock, publish: checked(events) });
  t.teardown(() => monitor.close());
  /** the events as `type door [open_ms]`, the easiest form to compare */
  const seen = () => events.map((e) => [e.type, e.data.door, ...(e.data.open_ms === undefined ? [] : [e.data.open_ms])].join(' '));
  return { clock, events, monitor, seen };
}

const archive: MonitoredDoor = { door: 'archive-room', contact: { device: 'reader-1', input: 0 }, held_open_ms: 5000 };
const CLOSED = true; // a normally-closed contact is active while the door is shut
const OPEN = false;

t.test('the defaults are the profile’s', async (t) => {
  t.equal(DEFAULT_HELD_OPEN_MS, profiles.get('generic/osdp-single-door')!.defaults!.held_open_ms, 'held_open_ms defaults to the door controller profile’s');
  t.equal(EXIT_RELEASE_MS, profiles.get('generic/osdp-single-door')!.defaults!.pulse_ms, 'an exit button frees the door for the profile’s lock pulse');
});

t.test('an opening with no release is forced', async (t) => {
  const { clock, events, monitor, seen } = setup(t, [archive]);
  monitor.input('reader-1', 0, CLOSED, clock.now());
  clock.advance(1000);
  t.same(seen(), [], 'the first report is the door’s state, not a change');
  const openedAt = clock.now();
  monitor.input('reader-1', 0, OPEN, openedAt);
  clock.advance(DEBOUNCE_MS - 1);
  t.same(seen(), [], 'nothing before the debounce time is out');
  clock.advance(1);
  t.same(seen(), ['door_opened archive-room', 'door_forced archive-room'], 'opened, and forced');
  t.equal(events[0]!.device, 'reader-1', 'the contact’s device is the event’s device');
  t.equal(events[1]!.at, new Date(openedAt).toISOString(), 'at is when the contact changed, not when the debounce ended');
  t.not(events[0]!.event_id, events[1]!.event_id, 'every event has its own id');
  monitor.input('reader-1', 0, CLOSED, clock.now());
  clock.advance(DEBOUNCE_MS);
  t.same(seen().slice(2), [`door_closed archive-room ${DEBOUNCE_MS}`], 'closed, with how long it was open');
});

t.test('an opening within the release window and its grace is allowed', async (t) => {
  const { clock, monitor, seen } = setup(t, [archive]);
  monitor.input('reader-1', 0, CLOSED, clock.now());
  monitor.released('archive-room', clock.now() + 3000);
  monitor.released('archive-room', clock.now() - 10_000);
  clock.advance(3000 + RELEASE_GRACE_MS);
  monitor.input('reader-1', 0, OPEN, clock.now());
  clock.advance(500);
  monitor.input('reader-1', 0, CLOSED, clock.now());
  clock.advance(500);
  t.same(seen(), ['door_opened archive-room', 'door_closed archive-room 500'], 'opened at the very end of the grace: allowed (a stale release did not shorten the window)');
  monitor.input('reader-1', 0, OPEN, clock.now());
  clock.advance(DEBOUNCE_MS);
  t.same(seen().slice(2), ['door_opened archive-room', 'door_forced archive-room'], '1 s later the window has passed: forced');
  monitor.released('no-such-door', clock.now() + 3000);
  t.same(seen().length, 4, 'a release for a door the monitor does not know changes nothing');
});

t.test('held open once per opening, after held_open_ms', async (t) => {
  const { clock, events, monitor, seen } = setup(t, [archive]);
  monitor.input('reader-1', 0, CLOSED, clock.now());
  monitor.released('archive-room', clock.now() + 3000);
  monitor.input('reader-1', 0, OPEN, clock.now());
  clock.advance(4999);
  t.same(seen(), ['door_opened archive-room'], 'not yet held open at 4.999 s');
  clock.advance(1);
  t.same(seen(), ['door_opened archive-room', 'door_held_open archive-room 5000'], 'held open at 5 s, with how long');
  t.equal(events[1]!.at, new Date(clock.now()).toISOString(), 'held open is dated when it was noticed');
  clock.advance(60_000);
  t.equal(events.length, 2, 'and only once however long it stays open');
  monitor.input('reader-1', 0, CLOSED, clock.now());
  clock.advance(DEBOUNCE_MS);
  t.same(seen().slice(2), ['door_closed archive-room 65000'], 'closed after 65 s');
  monitor.input('reader-1', 0, OPEN, clock.now());
  clock.advance(5000);
  t.same(seen().slice(3), ['door_opened archive-room', 'door_forced archive-room', 'door_held_open archive-room 5000'], 'the next opening is timed afresh');
  monitor.input('reader-1', 0, CLOSED, clock.now());
  clock.advance(DEBOUNCE_MS);
  t.equal(clock.pending, 0, 'a closed door leaves no timer behind');
});

t.test('a contact that flaps within the debounce time is a bounce', async (t) => {
  const { clock, events, monitor, seen } = setup(t, [archive]);
  monitor.input('reader-1', 0, CLOSED, clock.now());
  for (let i = 0; i < 5; i++) {
    monitor.input('reader-1', 0, OPEN, clock.now());
    clock.advance(40);
    monitor.input('reader-1', 0, CLOSED, clock.now());
    clock.advance(40);
  }
  clock.advance(1000);
  t.same(seen(), [], 'five 40 ms rattles: no event');
  const openedAt = clock.now();
  monitor.input('reader-1', 0, OPEN, openedAt);
  clock.advance(50);
  monitor.input('reader-1', 0, OPEN, clock.now());
  clock.advance(50);
  t.same(seen(), ['door_opened archive-room', 'door_forced archive-room'], 'an opening that holds 100 ms is reported once; a repeated report does not restart the wait');
  t.equal(events[0]!.at, new Date(openedAt).toISOString(), 'dated from its first report');
  monitor.input('reader-1', 0, CLOSED, clock.now());
  clock.advance(30);
  monitor.input('reader-1', 0, OPEN, clock.now());
  clock.advance(30);
  const closedAt = clock.now();
  monitor.input('reader-1', 0, CLOSED, closedAt);
  clock.advance(DEBOUNCE_MS);
  t.same(seen().slice(2), [`door_closed archive-room ${closedAt - openedAt}`], 'a closing that rattles is reported once, from the change it held since');
});

t.test('a normally-open contact is active while the door is open', async (t) => {
  const { clock, monitor, seen } = setup(t, [{ door: 'store-room', contact: { device: 'io-1', input: 3, normally_closed: false } }]);
  monitor.input('io-1', 3, false, clock.now());
  monitor.input('io-1', 3, true, clock.now());
  clock.advance(DEBOUNCE_MS);
  t.same(seen(), ['door_opened store-room', 'door_forced store-room'], 'active: opened');
  clock.advance(DEFAULT_HELD_OPEN_MS - DEBOUNCE_MS);
  t.same(seen().slice(2), [`door_held_open store-room ${DEFAULT_HELD_OPEN_MS}`], 'without held_open_ms the default applies');
  monitor.input('io-1', 3, false, clock.now());
  clock.advance(DEBOUNCE_MS);
  t.same(seen().slice(3), [`door_closed store-room ${DEFAULT_HELD_OPEN_MS}`], 'inactive: closed');
});

t.test('an exit button allows the opening that follows it', async (t) => {
  const door: MonitoredDoor = { ...archive, exit_button: { device: 'reader-1', input: 1 } };
  const { clock, monitor, seen } = setup(t, [door]);
  monitor.input('reader-1', 0, CLOSED, clock.now());
  monitor.input('reader-1', 1, true, clock.now()); // a normally-closed button at rest
  monitor.input('reader-1', 1, false, clock.now());
  clock.advance(300);
  monitor.input('reader-1', 1, true, clock.now());
  clock.advance(EXIT_RELEASE_MS + RELEASE_GRACE_MS - 300);
  monitor.input('reader-1', 0, OPEN, clock.now());
  clock.advance(1000);
  monitor.input('reader-1', 0, CLOSED, clock.now());
  clock.advance(DEBOUNCE_MS);
  t.same(seen(), ['door_opened archive-room', 'door_closed archive-room 1000'], 'pressed, then the door opened just within the window: allowed');
  monitor.input('reader-1', 1, false, clock.now());
  clock.advance(50);
  monitor.input('reader-1', 1, true, clock.now());
  clock.advance(EXIT_RELEASE_MS + RELEASE_GRACE_MS + 100);
  monitor.input('reader-1', 0, OPEN, clock.now());
  clock.advance(DEBOUNCE_MS);
  t.same(seen().slice(2), ['door_opened archive-room', 'door_forced archive-room'], 'a 50 ms touch of the button is a bounce, not a press');
  monitor.input('reader-1', 0, CLOSED, clock.now());
  clock.advance(DEBOUNCE_MS);
  const pressedAt = clock.now();
  monitor.input('reader-1', 1, false, pressedAt);
  clock.advance(1000);
  monitor.input('reader-1', 1, true, clock.now());
  clock.advance(pressedAt + EXIT_RELEASE_MS + RELEASE_GRACE_MS + 1 - clock.now());
  monitor.input('reader-1', 0, OPEN, clock.now());
  clock.advance(DEBOUNCE_MS);
  t.same(seen().slice(5), ['door_opened archive-room', 'door_forced archive-room'], 'the window runs from the press, not from letting go of the button');
  monitor.input('reader-1', 0, CLOSED, clock.now());
  clock.advance(DEBOUNCE_MS);
  monitor.exit('archive-room');
  clock.advance(1000);
  monitor.input('reader-1', 0, OPEN, clock.now());
  clock.advance(DEBOUNCE_MS);
  t.same(seen().slice(8), ['door_opened archive-room'], 'exit() from another source allows it too');
});

t.test('inputs no door names are ignored; a door configured later starts from its contact’s state', async (t) => {
  const { clock, monitor, seen } = setup(t, [archive]);
  monitor.input('ghost', 0, OPEN, clock.now());
  monitor.input('reader-1', 7, OPEN, clock.now());
  monitor.input('reader-1', 0, CLOSED, clock.now());
  monitor.input('ghost', 0, CLOSED, clock.now());
  monitor.input('reader-1', 7, CLOSED, clock.now());
  clock.advance(1000);
  t.same(seen(), [], 'changes of unknown devices and inputs publish nothing');

  monitor.input('reader-1', 0, OPEN, clock.now());
  clock.advance(1000);
  const ghost: MonitoredDoor = { door: 'ghost-room', contact: { device: 'ghost', input: 0 }, held_open_ms: 2000 };
  monitor.configure([archive, ghost]);
  t.same(seen(), ['door_opened archive-room', 'door_forced archive-room'], 'a new config does not repeat events of an unchanged door');
  monitor.input('ghost', 0, OPEN, clock.now());
  clock.advance(DEBOUNCE_MS);
  t.same(seen().slice(2), ['door_opened ghost-room', 'door_forced ghost-room'], 'the new door knew its contact was closed');
  clock.advance(4000 - DEBOUNCE_MS);
  t.same(seen().slice(4), ['door_held_open ghost-room 2000', 'door_held_open archive-room 5000'], 'both are timed from their own opening, the unchanged door not restarted');
  monitor.input('side', 0, CLOSED, clock.now());
  const sideOpenedAt = clock.now();
  monitor.input('side', 0, OPEN, sideOpenedAt);
  clock.advance(1000);
  monitor.configure([archive, ghost, { door: 'side-door', contact: { device: 'side' }, held_open_ms: 2000 }]);
  clock.advance(sideOpenedAt + 2000 - clock.now());
  t.same(seen().slice(6), ['door_held_open side-door 2000'], 'a door configured while open is timed from when its contact opened');
  monitor.configure([]);
  t.equal(clock.pending, 0, 'doors taken out of the config leave no timer behind');
});

t.test('a door already open when its contact first reports is timed, not reported opened or forced', async (t) => {
  const { clock, monitor, seen } = setup(t, [archive]);
  monitor.input('reader-1', 0, OPEN, clock.now());
  clock.advance(5000);
  t.same(seen(), ['door_held_open archive-room 5000'], 'held open after held_open_ms');
  monitor.input('reader-1', 0, CLOSED, clock.now());
  clock.advance(DEBOUNCE_MS);
  t.same(seen().slice(1), ['door_closed archive-room 5000'], 'and closed');
});

// ----------------------------------------------------------------------------- end to end over a pty

const hasSocat = spawnSync('socat', ['-V']).status === 0;
if (!hasSocat) console.log('# skipping the pty test: socat is not installed (apt-get install socat); CI installs it');

const allDay = [{ days: [1, 2, 3, 4, 5, 6, 7], from: '00:00', to: '24:00' }];
const list: AccessList = {
  version: 3,
  agent: 'front-desk',
  issued_at: new Date().toISOString(),
  timezone: 'Asia/Shanghai',
  // The lock is on the reader's own relay: the reader is also the lock device.
  doors: [{ door: 'archive-room', device: 'door-osdp-1', relay_channel: 1, readers: ['door-osdp-1'], pulse_ms: 400, fail_mode: 'fail_secure' }],
  credentials: [{ credential: '12345640', kind: 'card', holder: 'person:17', doors: ['archive-room'], windows: allDay }],
  signature: { alg: 'ed25519', key_id: 'unused-here', value: 'A'.repeat(86) + '==' },
};

if (hasSocat) t.test('simulated PD → OSDP driver → door monitor: a granted card opens the door, no card forces it, and it is held open', async (t) => {
  const line = await ptyPair(t, t.testdir(), 'reader');
  // Device side: a reader with two door contacts (normally closed, both doors shut) and one relay.
  const pdPort = await openSerial(line.b, 9600);
  const pd = new OsdpReaderSimulator(pdPort, 0x65, { inputs: [true, true], outputs: 1 });
  const switched: OutputChange[] = [];
  pd.on('output', (change) => switched.push(change));

  // Agent side: the real driver on the other end, the door controller and the monitor as the agent wires them.
  const events: DeviceEvent[] = [];
  const monitor = new DoorMonitor(
    [
      { door: 'archive-room', contact: { device: 'door-osdp-1', input: 0 }, held_open_ms: 1000 },
      { door: 'store-room', contact: { device: 'door-osdp-1', input: 1 }, held_open_ms: 1000 },
    ],
    { publish: (e) => events.push(e) },
  );
  const index = new AccessIndex(list);
  const state: Record<string, unknown> = {};
  const warnings: string[] = [];
  const profile = profiles.get('generic/osdp-single-door')!;
  // relay_channels 2 on a PD with one output: what a wrong setting looks like, and the PD refuses channel 2.
  const settings = { osdp_address: 0x65, poll_interval_ms: 20, relay_channels: 2 };
  const ctx: DriverContext = {
    assignment: { device: 'door-osdp-1', profile: profile.id, transport: { type: 'serial', path: line.a }, settings },
    profile,
    settings: { ...profile.defaults, ...settings },
    log: { info: () => {}, warn: (obj, msg) => warnings.push(`${msg} ${JSON.stringify(obj)}`) },
    setState: (s) => Object.assign(state, s),
    emit: () => t.fail('the driver emits no events of its own'),
    credential: async (credential) => {
      const decision = await doors.cardRead(credential, 'door-osdp-1');
      if (decision.granted && decision.door) monitor.released(decision.door.door, Date.now() + decision.door.pulse_ms);
      return decision;
    },
    input: (i, active, at) => monitor.input('door-osdp-1', i, active, at),
    secret: () => undefined,
    fail: (err) => warnings.push(`failed: ${err.message}`),
  };
  const driver = osdpReaderDriver(ctx);
  const doors = new DoorController({
    decide: (c, r, at) => index.decide(c, r, at),
    release: (_device, channel, ms) => driver.release!(channel, ms),
    publish: (e) => events.push(e),
    listVersion: () => list.version,
  });
  t.teardown(async () => {
    await driver.stop();
    monitor.close();
    pd.close();
    await new Promise((r) => pdPort.close(() => r(undefined)));
  });
  await driver.start();
  const types = (door: string) => events.filter((e) => e.data.door === door).map((e) => e.type);

  t.ok(await until(() => JSON.stringify(state.inputs) === '[true,true]', 3000), 'after the first reply the driver asked for the inputs: both contacts report closed');
  pd.present('12345640');
  t.ok(await until(() => pd.outputs[0] === true, 3000), 'the granted card released the lock: the PD’s output is on');
  // The PD switches on receiving OUT; the grant event follows its ACK.
  await until(() => types('archive-room').length > 0, 3000);
  t.same(types('archive-room'), ['door_granted'], 'granted');
  pd.setInput(0, false);
  t.ok(await until(() => types('archive-room').includes('door_opened'), 3000), 'the door contact opened');
  pd.setInput(0, true);
  t.ok(await until(() => types('archive-room').includes('door_closed'), 3000), 'and closed');
  t.same(types('archive-room'), ['door_granted', 'door_opened', 'door_closed'], 'an allowed opening: no door_forced');
  t.ok(await until(() => pd.outputs[0] === false, 3000), 'the PD ended the 400 ms pulse by itself');
  t.same(switched, [{ output: 0, on: true }, { output: 0, on: false }], 'the output went on once and off once');

  pd.setInput(1, false);
  t.ok(await until(() => types('store-room').includes('door_held_open'), 3000), 'the store room, opened with no card, is held open past 1 s');
  t.same(types('store-room'), ['door_opened', 'door_forced', 'door_held_open'], 'forced, then held open');
  pd.setInput(1, true);
  t.ok(await until(() => types('store-room').includes('door_closed'), 3000), 'and closed again');
  const closed = events.find((e) => e.type === 'door_closed' && e.data.door === 'store-room')!;
  t.ok((closed.data.open_ms as number) >= 1000, `open_ms covers the whole opening (${String(closed.data.open_ms)} ms)`);
  t.same(events.map((e) => validateMessage('event', e)).filter((v) => !v.ok), [], `all ${events.length} events match the event schema`);

  await driver.command!({ action: 'open', params: { duration_ms: 300 } });
  t.equal(pd.outputs[0], true, 'a remote open (duration_ms, as the server sends it) is ACKed once the output is on');
  await t.rejects(driver.command!({ action: 'open', params: { pulse_ms: 50 } }), { code: 'BAD_VALUE' }, 'a pulse under 100 ms is refused');
  await t.rejects(driver.command!({ relay: 'on' }), { code: 'BAD_COMMAND' }, 'only the open action is taken');
  await t.rejects(driver.release!(3, 300), { code: 'BAD_VALUE' }, 'a channel beyond relay_channels is refused before the line');
  await t.rejects(driver.release!(2, 300), /refused the output command: NAK UNABLE \(0x09\)/, 'an output the PD does not have: the PD’s NAK rejects the release');
  t.same(state.inputs, [true, true], 'the driver’s state carries the inputs');
  pd.close();
  await t.rejects(driver.release!(1, 300), /did not answer command 0x68 within 200 ms/, 'a PD that stops answering: the release rejects after the reply timeout');
  t.same(warnings, [], 'no bad frame and no failure on the line');
});
