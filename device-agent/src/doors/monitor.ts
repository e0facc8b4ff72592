import { randomUUID } from 'node:crypto';
import type { DeviceEvent } from '../bus/events.js';

/**
 * Door-position supervision on the device host: from the door contacts (inputs of a door controller or
 * reader) it tells an opening the agent allowed from a forced one, and a door left open. Pure logic and
 * timers, no I/O: drivers report input changes to `input`, the agent reports lock releases to `released`,
 * and events leave through `publish` to the journal.
 */

/** One input of a device, as the agent config's `doors[].contact` and `doors[].exit_button` name it. */
export interface InputRef {
  device: string;
  /** default 0 */
  input?: number;
  /** default true: the circuit is closed at rest (door shut, button not pressed), so the input is active then */
  normally_closed?: boolean;
}

/** `doors[]` of `lawbox/agent/<agent>/config` (firmware-profiles/schema/mqtt/agent-config.schema.json). */
export interface MonitoredDoor {
  door: string;
  name?: string;
  contact?: InputRef;
  exit_button?: InputRef;
  held_open_ms?: number;
}

/** Where a driver reports a change of one of its device's inputs; `at` is when it was seen (Date.now()). */
export type InputSink = (device: string, input: number, active: boolean, at: number) => void;

/** Time and timers, injected so tests can run the monitor on a clock of their own. */
export interface MonitorClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface DoorMonitorOptions {
  publish(event: DeviceEvent): void;
  clock?: MonitorClock;
}

/** The door-controller profiles' default held_open_ms (firmware-profiles/generic/osdp-single-door.json). */
export const DEFAULT_HELD_OPEN_MS = 30_000;
/** A person needs a moment to push the door after the lock clicks, so an opening just after the release is still allowed. */
export const RELEASE_GRACE_MS = 2000;
/** A contact that changes back within this long was a bounce or a rattle, not the door moving. */
export const DEBOUNCE_MS = 100;
/** An exit button frees the door for as long as a lock pulse lasts by default (the profiles' pulse_ms). */
export const EXIT_RELEASE_MS = 3000;

const systemClock: MonitorClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

interface InputLine {
  /** the debounced state and since when it holds */
  level: boolean;
  since: number;
  /** a change waiting out the debounce time */
  pending: { active: boolean; at: number; timer: unknown } | null;
}

interface DoorState {
  config: MonitoredDoor;
  /** JSON of the config, to keep the state of a door a new config leaves unchanged */
  key: string;
  contact: { key: string; normallyClosed: boolean } | null;
  exit: { key: string; normallyClosed: boolean } | null;
  heldOpenMs: number;
  /** null until the contact has reported */
  open: boolean | null;
  openedAt: number;
  heldTimer: unknown;
  /** an opening up to this time (plus the grace) was allowed */
  releasedUntil: number;
}

const inputKey = (device: string, input: number) => `${device}#${input}`;
const refOf = (ref: InputRef | undefined) => (ref ? { key: inputKey(ref.device, ref.input ?? 0), normallyClosed: ref.normally_closed !== false } : null);
/** Open door or pressed button: the circuit is out of its rest state. */
const away = (ref: { normallyClosed: boolean }, active: boolean) => active !== ref.normallyClosed;

/**
 * Emits, with the contact's device as the event's device:
 * - `door_opened` {door} on every opening, followed by `door_forced` {door} when nothing allowed it (no
 *   release or exit button since the release window ended, grace included);
 * - `door_held_open` {door, open_ms} once per opening, when it is still open after held_open_ms;
 * - `door_closed` {door, open_ms}.
 * The first state a contact reports is taken as it is: a door found open when the agent starts is not
 * reported as opened or forced, but it is timed from then and reported held open. Inputs no door names
 * are tracked (a door configured later starts from their state) and otherwise ignored.
 */
export class DoorMonitor {
  private readonly clock: MonitorClock;
  private readonly inputs = new Map<string, InputLine>();
  private doors = new Map<string, DoorState>();

  constructor(
    doors: MonitoredDoor[],
    private readonly opts: DoorMonitorOptions,
  ) {
    this.clock = opts.clock ?? systemClock;
    this.configure(doors);
  }

  /**
   * Takes a new set of doors (a new agent config). A door whose entry is unchanged keeps its state and
   * timers; a new or changed one starts from the current state of its contact.
   */
  configure(doors: MonitoredDoor[]): void {
    const next = new Map<string, DoorState>();
    for (const config of doors) {
      const key = JSON.stringify(config);
      const kept = this.doors.get(config.door);
      if (kept?.key === key) {
        next.set(config.door, kept);
        continue;
      }
      if (kept) this.clock.clearTimeout(kept.heldTimer);
      const door: DoorState = {
        config,
        key,
        contact: refOf(config.contact),
        exit: refOf(config.exit_button),
        heldOpenMs: config.held_open_ms ?? DEFAULT_HELD_OPEN_MS,
        open: null,
        openedAt: 0,
        heldTimer: null,
        releasedUntil: kept?.releasedUntil ?? -Infinity,
      };
      next.set(config.door, door);
      const line = door.contact ? this.inputs.get(door.contact.key) : undefined;
      if (line) this.baseline(door, line.level, line.since);
    }
    for (const [id, door] of this.doors) if (!next.has(id)) this.clock.clearTimeout(door.heldTimer);
    this.doors = next;
  }

  /** A driver saw an input change (an InputSink: pass `monitor.input` as it is). */
  readonly input: InputSink = (device, input, active, at) => {
    const key = inputKey(device, input);
    const line = this.inputs.get(key);
    if (!line) {
      this.inputs.set(key, { level: active, since: at, pending: null });
      for (const door of this.doors.values()) if (door.contact?.key === key && door.open === null) this.baseline(door, active, at);
      return;
    }
    if (active === line.level) {
      // Back where it was before the debounce time ran out: a bounce, nothing happened.
      if (line.pending) this.clock.clearTimeout(line.pending.timer);
      line.pending = null;
      return;
    }
    if (line.pending) return;
    const timer = this.clock.setTimeout(() => {
      line.pending = null;
      line.level = active;
      line.since = at;
      this.changed(key, active, at);
    }, Math.max(0, at + DEBOUNCE_MS - this.clock.now()));
    line.pending = { active, at, timer };
  };

  /** The agent released the door's lock until `untilMs` (a granted card, a remote open). */
  released(door: string, untilMs: number): void {
    const state = this.doors.get(door);
    if (state) state.releasedUntil = Math.max(state.releasedUntil, untilMs);
  }

  /** Someone asked to leave (an exit button): an opening now is allowed. */
  exit(door: string, at = this.clock.now()): void {
    this.released(door, at + EXIT_RELEASE_MS);
  }

  close(): void {
    for (const door of this.doors.values()) this.clock.clearTimeout(door.heldTimer);
    for (const line of this.inputs.values()) if (line.pending) this.clock.clearTimeout(line.pending.timer);
  }

  private baseline(door: DoorState, active: boolean, since: number): void {
    door.open = away(door.contact!, active);
    if (door.open) this.startOpen(door, since);
  }

  private changed(key: string, active: boolean, at: number): void {
    for (const door of this.doors.values()) {
      if (door.exit?.key === key && away(door.exit, active)) this.exit(door.config.door, at);
      if (door.contact?.key !== key) continue;
      const open = away(door.contact, active);
      if (open === door.open) continue;
      door.open = open;
      if (open) {
        this.publish(door, 'door_opened', at, {});
        if (at > door.releasedUntil + RELEASE_GRACE_MS) this.publish(door, 'door_forced', at, {});
        this.startOpen(door, at);
      } else {
        this.clock.clearTimeout(door.heldTimer);
        door.heldTimer = null;
        this.publish(door, 'door_closed', at, { open_ms: Math.max(0, at - door.openedAt) });
      }
    }
  }

  private startOpen(door: DoorState, at: number): void {
    door.openedAt = at;
    this.clock.clearTimeout(door.heldTimer);
    door.heldTimer = this.clock.setTimeout(() => {
      door.heldTimer = null;
      const now = this.clock.now();
      this.publish(door, 'door_held_open', now, { open_ms: Math.max(0, now - door.openedAt) });
    }, Math.max(0, at + door.heldOpenMs - this.clock.now()));
  }

  private publish(door: DoorState, type: string, at: number, data: Record<string, unknown>): void {
    this.opts.publish({ event_id: randomUUID(), device: door.config.contact!.device, type, at: new Date(at).toISOString(), data: { door: door.config.door, ...data } });
  }
}
