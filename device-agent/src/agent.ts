import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import type { KeyObject } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import { validateMessage } from '../../firmware-profiles/index.js';
import { AccessIndex, verifyAccessList, type AccessList, type Decision } from './access/decide.js';
import { EventPublisher } from './bus/events.js';
import { Journal } from './journal/journal.js';

export interface AgentConfig {
  /** topic-safe id, e.g. `front-desk` */
  id: string;
  brokerUrl: string;
  username?: string;
  password?: string;
  /** where the journal and the last access list live; survives restarts */
  stateDir: string;
  /** public keys the agent trusts for access lists, by key id; from local configuration only */
  trustedKeys: Map<string, KeyObject | string>;
}

export interface AgentLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export type AgentDecision = Decision | { granted: false; reason: 'no_access_list'; door: null };

/** A device's answer to a `/set` command; thrown errors with a `code` become `{ok:false,error}`. */
export type CommandHandler = (body: Record<string, unknown>) => Promise<Record<string, unknown> | void>;

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

  constructor(
    readonly config: AgentConfig,
    private readonly log: AgentLog,
  ) {
    mkdirSync(config.stateDir, { recursive: true });
    this.accessFile = path.join(config.stateDir, 'access.json');
    this.loadCachedAccessList();
    this.journal = new Journal(path.join(config.stateDir, 'events.ndjson'));
    const stateTopic = `lawbox/agent/${config.id}/state`;
    this.client = mqtt.connect(config.brokerUrl, {
      protocolVersion: 4,
      clientId: `lawbox-agent-${config.id}`,
      username: config.username,
      password: config.password,
      reconnectPeriod: 1000,
      will: { topic: stateTopic, payload: Buffer.from(JSON.stringify({ state: 'offline' })), qos: 1, retain: true },
    });
    this.client.on('connect', () => {
      // Small packets at once: Nagle's algorithm would hold a door event back by up to ~40 ms.
      (this.client.stream as { setNoDelay?: (on: boolean) => void } | undefined)?.setNoDelay?.(true);
      this.client.publish(stateTopic, JSON.stringify({ state: 'online' }), { qos: 1, retain: true });
      this.client.subscribe([`lawbox/agent/${config.id}/access`, ...[...this.handlers.keys()].map((d) => `lawbox/device/${d}/set`)], { qos: 1 });
      this.log.info({ broker: config.brokerUrl }, 'agent connected');
    });
    this.client.on('error', (err) => this.log.warn({ err: err.message }, 'MQTT error'));
    this.client.on('message', (topic, payload) => {
      if (topic === `lawbox/agent/${config.id}/access`) this.takeAccessList(payload, 'mqtt');
      else if (topic.startsWith('lawbox/device/') && topic.endsWith('/set')) void this.runCommand(topic.split('/')[2] ?? '', payload);
    });
    this.events = new EventPublisher(this.journal, this.client);
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
    const handler = this.handlers.get(device);
    if (!handler) return void answer({ ok: false, error: { code: 'UNKNOWN_DEVICE', message: `this agent does not drive ${device}` } });
    try {
      const state = await handler(body);
      answer(state ? { ok: true, state } : { ok: true });
    } catch (err) {
      const code = err instanceof CommandError ? err.code : 'COMMAND_FAILED';
      answer({ ok: false, error: { code, message: (err as Error).message } });
    }
  }

  /** A credential at a reader, decided from memory: no network involved. */
  decide(credential: string, reader: string, at = new Date()): AgentDecision {
    return this.index ? this.index.decide(credential, reader, at) : { granted: false, reason: 'no_access_list', door: null };
  }

  /** Goes offline cleanly: the retained state says so at once instead of after the keep-alive. */
  async stop(): Promise<void> {
    this.events.close();
    // Best effort and bounded: a broker that just went away never answers, and stopping must not hang.
    if (this.client.connected) {
      const said = this.client.publishAsync(`lawbox/agent/${this.config.id}/state`, JSON.stringify({ state: 'offline' }), { qos: 1, retain: true }).catch(() => {});
      await Promise.race([said, new Promise((r) => setTimeout(r, 1000).unref())]);
    }
    await Promise.race([this.client.endAsync(true).catch(() => {}), new Promise((r) => setTimeout(r, 1000).unref())]);
    this.journal.close();
  }

  /**
   * Takes a list only if it is well formed, signed by a trusted key, for this agent and newer than the
   * current one; otherwise the current list stays. An accepted list is written to disk atomically.
   */
  private takeAccessList(payload: Buffer | string, source: 'mqtt' | 'disk'): boolean {
    let list: unknown;
    try {
      list = JSON.parse(payload.toString());
    } catch {
      this.log.warn({ source }, 'access list refused: not JSON');
      return false;
    }
    const shape = validateMessage('agent_access', list);
    if (!shape.ok) {
      this.log.warn({ source, errors: shape.errors.slice(0, 5) }, 'access list refused: does not match the schema');
      return false;
    }
    const verdict = verifyAccessList(list as AccessList, this.config.trustedKeys, {
      // A cached list is checked for its signature and addressee; its expiry is for `decide` to apply.
      now: source === 'disk' ? new Date((list as AccessList).issued_at) : new Date(),
      agent: this.config.id,
      currentVersion: source === 'disk' ? undefined : (this.accessVersion ?? undefined),
    });
    if (!verdict.ok) {
      this.log.warn({ source, reason: verdict.reason, version: (list as AccessList).version }, 'access list refused');
      return false;
    }
    this.index = new AccessIndex(list as AccessList);
    if (source === 'mqtt') {
      const tmp = `${this.accessFile}.tmp`;
      writeFileSync(tmp, payload);
      renameSync(tmp, this.accessFile);
    }
    this.log.info({ source, version: this.index.list.version }, 'access list in force');
    return true;
  }

  private loadCachedAccessList(): void {
    if (existsSync(this.accessFile)) this.takeAccessList(readFileSync(this.accessFile), 'disk');
  }
}
