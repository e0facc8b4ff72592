import type { Profile } from '../../../firmware-profiles/index.js';
import type { AgentDecision, AgentLog } from '../agent.js';

/** One device instance from `lawbox/agent/<agent>/config`, as the schema defines it. */
export interface DeviceAssignment {
  device: string;
  profile: string;
  name?: string;
  enabled?: boolean;
  transport: { type: string; [key: string]: unknown };
  settings?: Record<string, unknown>;
}

/**
 * What the agent runtime lends a driver. A driver never talks MQTT itself: it reports state and events
 * here and the runtime publishes them (retained state, journaled QoS 1 events).
 */
export interface DriverContext {
  readonly assignment: DeviceAssignment;
  readonly profile: Profile;
  /** the profile's defaults with the instance's settings laid over them */
  readonly settings: Record<string, unknown>;
  readonly log: AgentLog;
  /** the device's current state; published retained on `lawbox/device/<device>` (merged with what was there) */
  setState(state: Record<string, unknown>): void;
  /** an event of this device; journaled and delivered exactly once by `event_id` */
  emit(type: string, data: Record<string, unknown>, at?: Date): void;
  /** a credential read at this device (a reader): decided locally, door released, event published */
  credential(credential: string, kind: 'card' | 'qr' | 'pin'): Promise<AgentDecision>;
  /** one of the device's inputs changed (a door contact, an exit button); `at` is when (Date.now()) */
  input(index: number, active: boolean, at: number): void;
  /** a password from the agent's local secret store (never from MQTT) */
  secret(ref: string): string | undefined;
  /**
   * The driver lost its device for good (port gone, connection refused after start): the supervisor
   * stops it, marks the device offline and starts it again after a backoff.
   */
  fail(err: Error): void;
}

/**
 * A running device. `start` opens the device and resolves once it answers (a throw is retried with
 * backoff); `stop` releases every handle and must not throw. Optional parts are what the category needs.
 */
export interface Driver {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** `/set` on `lawbox/device/<device>/set`; returns the state to answer with. Throw `CommandError` for a refusal. */
  command?(body: Record<string, unknown>): Promise<Record<string, unknown> | void>;
  /** a door lock on this device's relay output `channel`, energised for `ms` */
  release?(channel: number | undefined, ms: number): Promise<void>;
}

export type DriverFactory = (ctx: DriverContext) => Driver;
