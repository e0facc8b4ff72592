import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import type { KeyObject } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import { randomUUID } from 'node:crypto';
import { validateMessage, type Profile } from '../../firmware-profiles/index.js';
import { AccessIndex, verifyAccessList, type AccessList, type Decision } from './access/decide.js';
import { EventPublisher } from './bus/events.js';
import { DoorController } from './doors/controller.js';
import { DoorMonitor, type MonitoredDoor } from './doors/monitor.js';
import type { DeviceAssignment, DriverFactory } from './drivers/driver.js';
import { Journal } from './journal/journal.js';
import { DeviceRuntime } from './runtime/devices.js';
import type { BackoffOptions } from './runtime/supervisor.js';

export interface AgentConfig {
  /** topic-safe id, e.g. `front-desk` */
  id: string;
  brokerUrl: string;
  username?: string;
  password?: string;
  /** PEM certificates the MQTT link trusts (mqtts://); unset: the system's */
  ca?: string[];
  /** where the journal and the last access list live; survives restarts */
  stateDir: string;
  /** public keys the agent trusts for access lists, by key id; from local configuration only */
  trustedKeys: Map<string, KeyObject | string>;
  /** device profiles by id and the driver of each protocol (null: the device speaks MQTT itself) */
  profiles?: Map<string, Profile>;
  drivers?: Partial<Record<string, DriverFactory | null>>;
  /** passwords named by `secret_ref` in the device config (cameras); never sent over MQTT */
  secrets?: (ref: string) => string | undefined;
  backoff?: BackoffOptions;
  /** a fixed device configuration that replaces the server's (`--simulate`) */
  localConfig?: AgentDeviceConfig;
}

/** `lawbox/agent/<agent>/config`, as firmware-profiles/schema/mqtt/agent-config.schema.json defines it. */
export interface AgentDeviceConfig {
  version: number;
  issued_at: string;
  devices: DeviceAssignment[];
  doors?: MonitoredDoor[];
}

export interface AgentLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export type AgentDecision = Decision | { granted: false; reason: 'no_access_list'; door: null };

/** A device's answer to a `/set` command; thrown errors with a `code` become `{ok:false,error}`. */
export type CommandHandler = (body: Record<string, unknown>) => Promise<Record<string, unknown> | void>;

/** A crash mid-write leaves the previous file, never half of the new one. */
function writeAtomically(file: string, payload: Buffer | string): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, payload);
  renameSync(tmp, file);
}

export class CommandError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The agent's core: its MQTT presence (retained online, offline as last will), the access list it
 * decides from (taken only when verified, kept on disk so a restart without network still opens
 * doors), and its event publisher. Drivers feed card reads into `decide` and events into `publish`.
 */
export class Agent {
  readonly client: MqttClient;
  readonly events: EventPublisher;
  private readonly journal: Journal;
  private index: AccessIndex | null = null;
  private readonly accessFile: string;
  private readonly handlers = new Map<string, CommandHandler>();
  private readonly configFile: string;
  private deviceConfig: AgentDeviceConfig | null = null;
  readonly devices: DeviceRuntime;
  readonly doors: DoorController;
  /** door contacts → door_opened / door_forced / door_held_open / door_closed */
  readonly doorMonitor: DoorMonitor;

  constructor(
    readonly config: AgentConfig,
    private readonly log: AgentLog,
  ) {
    mkdirSync(config.stateDir, { recursive: true });
    this.accessFile = path.join(config.stateDir, 'access.json');
    this.configFile = path.join(config.stateDir, 'config.json');
    this.loadCachedAccessList();
    this.journal = new Journal(path.join(config.stateDir, 'events.ndjson'));
    const stateTopic = `lawbox/agent/${config.id}/state`;
    const configTopic = `lawbox/agent/${config.id}/config`;
    this.client = mqtt.connect(config.brokerUrl, {
      protocolVersion: 4,
      clientId: `lawbox-agent-${config.id}`,
      username: config.username,
      password: config.password,
      ...(config.ca ? { ca: config.ca } : {}),
      reconnectPeriod: 1000,
      will: { topic: stateTopic, payload: Buffer.from(JSON.stringify({ state: 'offline' })), qos: 1, retain: true },
    });
    this.client.on('connect', () => {
      // Small packets at once: Nagle's algorithm would hold a door event back by up to ~40 ms.
      (this.client.stream as { setNoDelay?: (on: boolean) => void } | undefined)?.setNoDelay?.(true);
      this.client.publish(stateTopic, JSON.stringify({ state: 'online' }), { qos: 1, retain: true });
      const topics = [`lawbox/agent/${config.id}/access`, ...this.commandDevices().map((d) => `lawbox/device/${d}/set`)];
      if (!config.localConfig) topics.push(configTopic);
      this.client.subscribe(topics, { qos: 1 });
      // The retained availability and state of running devices may have been lost with a broker restart.
      for (const device of this.devices.ids) this.publishAvailability(device, this.devices.driver(device) !== null);
      this.log.info({ broker: config.brokerUrl }, 'agent connected');
    });
    this.client.on('error', (err) => this.log.warn({ err: err.message }, 'MQTT error'));
    this.client.on('message', (topic, payload) => {
      if (topic === `lawbox/agent/${config.id}/access`) this.takeAccessList(payload, 'mqtt');
      else if (topic === configTopic) void this.takeConfig(payload, 'mqtt');
      else if (topic.startsWith('lawbox/device/') && topic.endsWith('/set')) void this.runCommand(topic.split('/')[2] ?? '', payload);
    });
    this.events = new EventPublisher(this.journal, this.client);
    this.doors = new DoorController({
      decide: (credential, reader, at) => this.decide(credential, reader, at),
      release: async (device, channel, ms) => {
        const lock = this.devices.driver(device);
        if (!lock?.release) throw new CommandError('LOCK_UNAVAILABLE', `the lock device ${device} is not running on this agent`);
        await lock.release(channel, ms);
      },
      publish: (event) => this.events.publish(event),
      listVersion: () => this.accessVersion,
    });
    this.doorMonitor = new DoorMonitor([], { publish: (event) => this.events.publish(event) });
    this.devices = new DeviceRuntime(
      {
        log,
        publishAvailability: (device, online) => this.publishAvailability(device, online),
        publishState: (device, state) => this.publishRetained(`lawbox/device/${device}`, state),
        emit: (device, type, data, at = new Date()) => this.events.publish({ event_id: randomUUID(), device, type, at: at.toISOString(), data }),
        credential: async (reader, credential) => {
          const decision = await this.doors.cardRead(credential, reader);
          // An opening within the release window is the card holder's, not a forced door.
          if (decision.granted && decision.door) this.doorMonitor.released(decision.door.door, Date.now() + decision.door.pulse_ms);
          return decision;
        },
        input: (device, index, active, at) => this.doorMonitor.input(device, index, active, at),
        secret: (ref) => config.secrets?.(ref),
      },
      config.profiles ?? new Map(),
      config.drivers ?? {},
      config.backoff,
    );
    // Doors keep working through a restart without network: the last config is run from disk at once.
    if (config.localConfig) void this.takeConfig(JSON.stringify(config.localConfig), 'local');
    else if (existsSync(this.configFile)) void this.takeConfig(readFileSync(this.configFile), 'disk');
  }

  get configVersion(): number | null {
    return this.deviceConfig?.version ?? null;
  }

  private commandDevices(): string[] {
    return [...new Set([...this.handlers.keys(), ...this.devices.ids])];
  }

  private publishAvailability(device: string, online: boolean): void {
    this.publishRetained(`lawbox/device/${device}/availability`, { state: online ? 'online' : 'offline' });
  }

  private publishRetained(topic: string, body: object): void {
    // Offline: nothing is queued; the current value is published again on reconnection.
    if (this.client.connected) this.client.publish(topic, JSON.stringify(body), { qos: 1, retain: true }, () => {});
  }

  /**
   * Takes a device configuration only when it is well formed and newer than the one running, keeps it
   * on disk, and brings the running devices in line with it.
   */
  private async takeConfig(payload: Buffer | string, source: 'mqtt' | 'disk' | 'local'): Promise<boolean> {
    const next = this.contractMessage<AgentDeviceConfig>('agent_config', 'device config', payload, source);
    if (!next) return false;
    if (this.deviceConfig && next.version <= this.deviceConfig.version) {
      if (next.version < this.deviceConfig.version) this.log.warn({ source, version: next.version, running: this.deviceConfig.version }, 'device config refused: older than the one running');
      return false;
    }
    const before = new Set(this.devices.ids);
    this.deviceConfig = next;
    this.doorMonitor.configure(next.doors ?? []);
    if (source === 'mqtt') writeAtomically(this.configFile, payload);
    await this.devices.apply(next.devices);
    const after = new Set(this.devices.ids);
    if (this.client.connected) {
      const added = [...after].filter((d) => !before.has(d) && !this.handlers.has(d)).map((d) => `lawbox/device/${d}/set`);
      const removed = [...before].filter((d) => !after.has(d) && !this.handlers.has(d)).map((d) => `lawbox/device/${d}/set`);
      if (added.length) this.client.subscribe(added, { qos: 1 });
      if (removed.length) this.client.unsubscribe(removed);
    }
    this.log.info({ source, version: next.version, devices: next.devices.length }, 'device config in force');
    return true;
  }

  get accessVersion(): number | null {
    return this.index?.list.version ?? null;
  }

  /** Takes `/set` commands for a device this agent drives. */
  handle(device: string, handler: CommandHandler): void {
    this.handlers.set(device, handler);
    if (this.client.connected) this.client.subscribe(`lawbox/device/${device}/set`, { qos: 1 });
  }

  /**
   * Runs one command and answers on `/result` with the same transaction. A message without a
   * transaction cannot be answered and is logged; a bad one is answered with an error, never fatal.
   */
  private async runCommand(device: string, payload: Buffer): Promise<void> {
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(payload.toString('utf8')) as Record<string, unknown>;
    } catch {
      this.log.warn({ device }, 'command refused: not JSON');
      return;
    }
    const transaction = typeof body?.transaction === 'string' && body.transaction.length <= 64 ? body.transaction : null;
    if (!transaction) {
      this.log.warn({ device }, 'command refused: no transaction to answer');
      return;
    }
    const answer = (result: Record<string, unknown>) => this.client.publish(`lawbox/device/${device}/result`, JSON.stringify({ transaction, ...result }), { qos: 1 });
    let handler = this.handlers.get(device);
    if (!handler && this.devices.has(device)) {
      const shape = validateMessage('device_set', body);
      if (!shape.ok) return void answer({ ok: false, error: { code: 'INVALID_MESSAGE', message: shape.errors.slice(0, 3).join('; ') } });
      const driver = this.devices.driver(device);
      if (!driver?.command) return void answer({ ok: false, error: driver ? { code: 'NOT_SUPPORTED', message: `${device} takes no commands` } : { code: 'DEVICE_UNAVAILABLE', message: `${device} is offline; the agent is reconnecting it` } });
      handler = (b) => driver.command!(b);
    }
    if (!handler) return void answer({ ok: false, error: { code: 'UNKNOWN_DEVICE', message: `this agent does not drive ${device}` } });
    try {
      const state = await handler(body);
      if (body.action === 'open') this.remotelyOpened(device, (body.params ?? {}) as Record<string, unknown>);
      answer(state ? { ok: true, state } : { ok: true });
    } catch (err) {
      const code = err instanceof CommandError ? err.code : 'COMMAND_FAILED';
      answer({ ok: false, error: { code, message: (err as Error).message } });
    }
  }

  /** A remote open released the doors whose lock is `device`: their next opening is allowed. */
  private remotelyOpened(device: string, params: Record<string, unknown>): void {
    for (const door of this.index?.list.doors ?? []) {
      if (door.device === device) this.doorMonitor.released(door.door, Date.now() + Number(params.pulse_ms ?? params.duration_ms ?? door.pulse_ms));
    }
  }

  /** A credential at a reader, decided from memory: no network involved. */
  decide(credential: string, reader: string, at = new Date()): AgentDecision {
    return this.index ? this.index.decide(credential, reader, at) : { granted: false, reason: 'no_access_list', door: null };
  }

  /** Goes offline cleanly: the retained state says so at once instead of after the keep-alive. */
  async stop(): Promise<void> {
    await this.devices.stopAll();
    this.doorMonitor.close();
    this.events.close();
    // Best effort and bounded: a broker that just went away never answers, and stopping must not hang.
    if (this.client.connected) {
      const said = this.client.publishAsync(`lawbox/agent/${this.config.id}/state`, JSON.stringify({ state: 'offline' }), { qos: 1, retain: true }).catch(() => {});
      await Promise.race([said, new Promise((r) => setTimeout(r, 1000).unref())]);
    }
    await Promise.race([this.client.endAsync(true).catch(() => {}), new Promise((r) => setTimeout(r, 1000).unref())]);
    this.journal.close();
  }

  /** A message from the server parsed and checked against its schema, or null (and a log line saying why). */
  private contractMessage<T>(kind: 'agent_config' | 'agent_access', what: string, payload: Buffer | string, source: string): T | null {
    let message: unknown;
    try {
      message = JSON.parse(payload.toString());
    } catch {
      this.log.warn({ source }, `${what} refused: not JSON`);
      return null;
    }
    const shape = validateMessage(kind, message);
    if (!shape.ok) {
      this.log.warn({ source, errors: shape.errors.slice(0, 5) }, `${what} refused: does not match the schema`);
      return null;
    }
    return message as T;
  }

  /**
   * Takes a list only if it is well formed, signed by a trusted key, for this agent and newer than the
   * current one; otherwise the current list stays. An accepted list is written to disk atomically.
   */
  private takeAccessList(payload: Buffer | string, source: 'mqtt' | 'disk'): boolean {
    const list = this.contractMessage<AccessList>('agent_access', 'access list', payload, source);
    if (!list) return false;
    const verdict = verifyAccessList(list, this.config.trustedKeys, {
      // A cached list is checked for its signature and addressee; its expiry is for `decide` to apply.
      now: source === 'disk' ? new Date(list.issued_at) : new Date(),
      agent: this.config.id,
      currentVersion: source === 'disk' ? undefined : (this.accessVersion ?? undefined),
    });
    if (!verdict.ok) {
      this.log.warn({ source, reason: verdict.reason, version: list.version }, 'access list refused');
      return false;
    }
    this.index = new AccessIndex(list);
    if (source === 'mqtt') writeAtomically(this.accessFile, payload);
    this.log.info({ source, version: this.index.list.version }, 'access list in force');
    return true;
  }

  private loadCachedAccessList(): void {
    if (existsSync(this.accessFile)) this.takeAccessList(readFileSync(this.accessFile), 'disk');
  }
}
