import { randomUUID } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import { defsSchema, loadProfiles, messageSchemas, validateMessage, type Expose, type Param, type Profile } from '../../../firmware-profiles/index.js';
import { CommandError, type AgentLog } from '../agent.js';
import { eventPayload, eventTopic, type DeviceEvent } from '../bus/events.js';

export interface MqttDeviceOptions {
  /** topic-safe device id, as in `lawbox/device/<device>` */
  device: string;
  brokerUrl: string;
  username?: string;
  password?: string;
  /** default `<model>-<device>` */
  clientId?: string;
  logger?: AgentLog;
}

// Taken from the contract's schemas so the simulators accept exactly what the schemas allow.
const ENTITY_ID = new RegExp((defsSchema.$defs as Record<string, { pattern: string }>).entity_id!.pattern);
const TRANSACTION = new RegExp((messageSchemas.device_set.$defs as Record<string, { pattern: string }>).transaction!.pattern);
const ONLINE = JSON.stringify({ state: 'online' });
const OFFLINE = JSON.stringify({ state: 'offline' });
const silent: AgentLog = { info: () => {}, warn: () => {} };
const giveUpAfter = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

export const show = (value: unknown) => JSON.stringify(value) ?? String(value);
const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
/** Characters as a display shows them (code points), not UTF-16 units. */
const characters = (text: string) => [...text].length;

function oneOf(value: unknown, allowed: readonly unknown[], path: string): string | null {
  return allowed.includes(value) ? null : `${path} must be one of ${allowed.map(show).join(', ')}, got ${show(value)}`;
}

function rangeProblem(value: number, path: string, min?: number, max?: number): string | null {
  if (min !== undefined && value < min) return `${path} must be at least ${min}, got ${value}`;
  if (max !== undefined && value > max) return `${path} must be at most ${max}, got ${value}`;
  return null;
}

function textProblem(value: unknown, path: string, maxLength?: number): string | null {
  if (typeof value !== 'string') return `${path} must be a string, got ${show(value)}`;
  if (maxLength !== undefined && characters(value) > maxLength) return `${path} must be at most ${maxLength} characters, got ${characters(value)}`;
  return null;
}

/** Why `value` cannot be written to an exposed property (type, range, step, values, length), or null. */
export function exposeProblem(expose: Expose, value: unknown, path: string): string | null {
  switch (expose.type) {
    case 'binary':
      return oneOf(value, expose.value_on !== undefined && expose.value_off !== undefined ? [expose.value_on, expose.value_off] : [true, false], path);
    case 'numeric': {
      if (typeof value !== 'number' || !Number.isFinite(value)) return `${path} must be a number, got ${show(value)}`;
      if (expose.step !== undefined) {
        const steps = (value - (expose.min ?? 0)) / expose.step;
        // A tolerance, because 0.3 / 0.1 is not exactly 3 in floating point.
        if (Math.abs(steps - Math.round(steps)) > 1e-9) return `${path} must move in steps of ${expose.step}, got ${value}`;
      }
      return rangeProblem(value, path, expose.min, expose.max);
    }
    case 'enum':
      return oneOf(value, expose.values ?? [], path);
    case 'text':
      return textProblem(value, path, expose.max_length);
    case 'composite': {
      if (!isObject(value)) return `${path} must be an object, got ${show(value)}`;
      const features = expose.features ?? [];
      for (const [key, member] of Object.entries(value)) {
        const feature = features.find((f) => f.property === key);
        if (!feature) return `${path} has no member ${key} (${features.map((f) => f.property).join(', ')})`;
        if (!feature.access.write) return `${path}.${key} is read-only`;
        const problem = exposeProblem(feature, member, `${path}.${key}`);
        if (problem) return problem;
      }
      return null;
    }
    default:
      return `${path} cannot be written`;
  }
}

/** Why `value` does not fit a command parameter or an event field of a profile, or null. */
function paramProblem(param: Param, value: unknown, path: string): string | null {
  switch (param.type) {
    case 'boolean':
      return typeof value === 'boolean' ? null : `${path} must be true or false, got ${show(value)}`;
    case 'integer':
      return Number.isInteger(value) ? rangeProblem(value as number, path, param.min, param.max) : `${path} must be an integer, got ${show(value)}`;
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) ? rangeProblem(value, path, param.min, param.max) : `${path} must be a number, got ${show(value)}`;
    case 'string':
      return textProblem(value, path, param.max_length);
    case 'enum':
      return oneOf(value, param.values ?? [], path);
    case 'object':
      return isObject(value) ? null : `${path} must be an object, got ${show(value)}`;
    case 'array':
      return Array.isArray(value) ? null : `${path} must be an array, got ${show(value)}`;
  }
}

function catalogueProfile(id: string): Profile {
  const profile = loadProfiles().get(id);
  if (!profile) throw new Error(`firmware profile ${id} is missing from the catalogue`);
  return profile;
}

/**
 * A device that speaks the lawbox MQTT contract itself, modelled on its firmware profile: a last will
 * and a retained `online` on its availability topic, its exposed properties as retained state, `/set`
 * checked against the profile (writable properties with their type, range and length; actions with
 * their parameters) and answered on `/result` with the same transaction, and QoS 1 events.
 *
 * Lives in this file, not a module of its own, because the simulator files are what this change owns;
 * the e-ink nameplate imports it from here.
 */
export abstract class MqttNativeDevice<S extends Record<string, unknown>> {
  readonly client: MqttClient;
  readonly device: string;
  /** Resolves once the device listens on its `/set` topic and has said it is online. */
  readonly ready: Promise<void>;
  protected readonly profile: Profile;
  protected readonly log: AgentLog;
  private readonly topic: string;

  protected constructor(
    profileId: string,
    opts: MqttDeviceOptions,
    /** The exposed properties; published (with `last_seen`) retained on `lawbox/device/<device>`. */
    readonly state: S,
  ) {
    if (!ENTITY_ID.test(opts.device)) throw new TypeError(`device id ${show(opts.device)} is not topic-safe (${ENTITY_ID.source})`);
    this.profile = catalogueProfile(profileId);
    this.device = opts.device;
    this.log = opts.logger ?? silent;
    this.topic = `lawbox/device/${opts.device}`;
    const transport = this.profile.transports.find((t) => t.type === 'mqtt');
    this.client = mqtt.connect(opts.brokerUrl, {
      protocolVersion: 4,
      clientId: opts.clientId ?? `${this.profile.model}-${opts.device}`,
      username: opts.username,
      password: opts.password,
      reconnectPeriod: 1000,
      // The profile's heartbeat as the keep-alive: a device that loses power is declared offline (its
      // last will) within 1.5 heartbeats, as the agent supervising it expects.
      keepalive: transport && 'heartbeat_s' in transport && transport.heartbeat_s ? transport.heartbeat_s : 60,
      will: { topic: `${this.topic}/availability`, payload: Buffer.from(OFFLINE), qos: 1, retain: true },
    });
    let announced!: () => void;
    this.ready = new Promise((resolve) => (announced = resolve));
    this.client.on('connect', () => {
      this.announce().then(announced, (err: Error) => this.log.warn({ device: this.device, err: err.message }, 'could not announce the device'));
    });
    this.client.on('error', (err) => this.log.warn({ device: this.device, err: err.message }, 'MQTT error'));
    this.client.on('message', (topic, payload) => {
      if (topic === `${this.topic}/set`) this.onSet(payload);
    });
  }

  /** Says offline (retained) and disconnects; bounded, so a broker that is gone cannot hang it. */
  async stop(): Promise<void> {
    if (this.client.connected) {
      const said = this.client.publishAsync(`${this.topic}/availability`, OFFLINE, { qos: 1, retain: true }).catch(() => {});
      await Promise.race([said, giveUpAfter(1000)]);
    }
    await Promise.race([this.client.endAsync().catch(() => {}), giveUpAfter(1000)]);
  }

  /** Applies checked property writes; may return an event to publish after the new state. */
  protected abstract write(values: Partial<S>): DeviceEvent | void;
  /** Runs a profile action with its checked parameters (defaults filled in). */
  protected abstract act(action: string, params: Record<string, unknown>): DeviceEvent | void;

  /** Throws CommandError BAD_VALUE unless `value` fits the exposed property (for local input). */
  protected check(property: string, value: unknown): void {
    const expose = this.expose(property);
    const problem = expose ? exposeProblem(expose, value, property) : `${this.profile.id} exposes no ${property}`;
    if (problem) throw new CommandError('BAD_VALUE', problem);
  }

  protected expose(property: string): Expose | undefined {
    return this.profile.exposes.find((e) => e.property === property);
  }

  /** An event with a fresh id; its data is checked against the profile's declaration (CommandError BAD_VALUE). */
  protected event(type: string, data: Record<string, unknown>): DeviceEvent {
    const declared = this.profile.events.find((e) => e.type === type);
    if (!declared) throw new Error(`${this.profile.id} declares no event ${type}`);
    for (const [name, param] of Object.entries(declared.data ?? {})) {
      const value = data[name];
      const problem = value === undefined ? (param.required ? `${name} is required` : null) : paramProblem(param, value, name);
      if (problem) throw new CommandError('BAD_VALUE', problem);
    }
    return { event_id: randomUUID(), device: this.device, type, at: new Date().toISOString(), data };
  }

  /** Publishes an event at QoS 1; resolves with it once the broker has it. */
  protected async send(event: DeviceEvent): Promise<DeviceEvent> {
    await this.client.publishAsync(eventTopic(event), eventPayload(event), { qos: 1 });
    return event;
  }

  protected publishState(): void {
    const body = JSON.stringify({ ...this.state, last_seen: new Date().toISOString() });
    // A failure (connection lost mid-publish) is only logged: the state goes out again on reconnection.
    this.client.publish(this.topic, body, { qos: 1, retain: true }, (err) => err && this.log.warn({ device: this.device, err: err.message }, 'state not published'));
  }

  private async announce(): Promise<void> {
    // Subscribed before saying online, so a command sent on seeing `online` is not missed.
    await this.client.subscribeAsync(`${this.topic}/set`, { qos: 1 });
    await this.client.publishAsync(`${this.topic}/availability`, ONLINE, { qos: 1, retain: true });
    this.publishState();
    this.log.info({ device: this.device, profile: this.profile.id }, 'simulated device online');
  }

  /**
   * One `/set`. Without a readable transaction there is no one to answer, so it is only logged; anything
   * else is answered, a refusal with a stable code. Nothing thrown here escapes to the MQTT client.
   */
  private onSet(payload: Buffer): void {
    let body: unknown;
    try {
      body = JSON.parse(payload.toString('utf8'));
    } catch {
      this.log.warn({ device: this.device, bytes: payload.length }, 'command ignored: not JSON');
      return;
    }
    const transaction = isObject(body) ? body.transaction : undefined;
    if (typeof transaction !== 'string' || !TRANSACTION.test(transaction)) {
      this.log.warn({ device: this.device }, 'command ignored: no valid transaction to answer');
      return;
    }
    let result: object;
    let event: DeviceEvent | void = undefined;
    try {
      event = this.apply(body as Record<string, unknown>);
      result = { ok: true, state: this.state };
    } catch (err) {
      if (!(err instanceof CommandError)) this.log.warn({ device: this.device, transaction, err: String(err) }, 'command failed');
      result = { ok: false, error: err instanceof CommandError ? { code: err.code, message: err.message } : { code: 'COMMAND_FAILED', message: (err as Error).message || 'command failed' } };
    }
    if ('state' in result) this.publishState();
    const answered = (err?: Error) => err && this.log.warn({ device: this.device, transaction, err: err.message }, 'result not published');
    this.client.publish(`${this.topic}/result`, JSON.stringify({ transaction, ...result }), { qos: 1 }, answered);
    if (event) {
      const { type } = event;
      this.send(event).catch((err: Error) => this.log.warn({ device: this.device, type, err: err.message }, 'event not published'));
    }
  }

  private apply(body: Record<string, unknown>): DeviceEvent | void {
    const shape = validateMessage('device_set', body);
    if (!shape.ok) throw new CommandError('INVALID_MESSAGE', shape.errors.slice(0, 3).join('; '));
    const { transaction: _transaction, action, params, ...values } = body;
    if (typeof action === 'string') return this.act(action, this.actionParams(action, params));
    for (const [property, value] of Object.entries(values)) {
      const expose = this.expose(property);
      if (!expose) {
        const hint = this.profile.commands[property]?.kind === 'action' ? `; ${property} is an action: send {"action":"${property}"}` : '';
        throw new CommandError('UNKNOWN_PROPERTY', `${this.profile.id} has no property ${property}${hint}`);
      }
      if (!expose.access.write) throw new CommandError('READ_ONLY', `${property} is read-only`);
      const problem = exposeProblem(expose, value, property);
      if (problem) throw new CommandError('BAD_VALUE', problem);
    }
    return this.write(values as Partial<S>);
  }

  private actionParams(action: string, given: unknown): Record<string, unknown> {
    const command = this.profile.commands[action];
    if (command?.kind !== 'action') {
      const actions = Object.entries(this.profile.commands).filter(([, c]) => c.kind === 'action').map(([name]) => name);
      throw new CommandError('UNKNOWN_COMMAND', `${this.profile.id} has no action ${action} (${actions.join(', ')})`);
    }
    const declared = command.params ?? {};
    const values = isObject(given) ? given : {};
    const unknown = Object.keys(values).find((key) => !(key in declared));
    if (unknown) throw new CommandError('BAD_VALUE', `${action} takes no parameter ${unknown} (${Object.keys(declared).join(', ') || 'none'})`);
    const params: Record<string, unknown> = {};
    for (const [name, param] of Object.entries(declared)) {
      const value = values[name] ?? param.default;
      const problem = value === undefined ? (param.required ? `params.${name} is required` : null) : paramProblem(param, value, `params.${name}`);
      if (problem) throw new CommandError('BAD_VALUE', problem);
      if (value !== undefined) params[name] = value;
    }
    return params;
  }
}
