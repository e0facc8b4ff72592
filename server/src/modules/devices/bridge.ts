import { randomUUID } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { Type } from 'typebox';
import { Compile } from 'typebox/compile';
import type { ServiceContext } from '../../context.js';
import type { Availability } from '../../db/schema.js';
import { ENTITY_ID } from '../agents/service.js';
import { announce } from '../realtime/hub.js';

/**
 * The server's side of the MQTT contract (design/ARCHITECTURE.md): it stores every device event once
 * (`lawbox/event/<device>/<type>`, QoS 1, unique `event_id`), answers each on
 * `lawbox/device/<device>/event_ack` so the agent may drop it from its journal, and follows the retained state and
 * availability of agents and devices. A malformed message is logged and dropped; it never stops the
 * server, and it never reaches the database.
 */

export const TOPICS = {
  event: 'lawbox/event/+/+',
  deviceState: 'lawbox/device/+',
  deviceAvailability: 'lawbox/device/+/availability',
  agentState: 'lawbox/agent/+/state',
  deviceResult: 'lawbox/device/+/result',
} as const;

const ID = new RegExp(ENTITY_ID);
const EventPayload = Compile(
  Type.Object(
    {
      event_id: Type.String({ format: 'uuid', pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' }),
      device: Type.Optional(Type.String()),
      type: Type.Optional(Type.String()),
      at: Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?(Z|[+-]\\d{2}:\\d{2})$' }),
      data: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    },
    { additionalProperties: false },
  ),
);
const AvailabilityPayload = Compile(Type.Object({ state: Type.Union([Type.Literal('online'), Type.Literal('offline')]) }, { additionalProperties: false }));

export type IngestResult = 'stored' | 'duplicate' | 'rejected';

interface BridgeLog {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

function parseJson(payload: Buffer): unknown {
  try {
    return JSON.parse(payload.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** An event message that passed every check, ready to store. */
interface EventRow {
  event_id: string;
  device: string;
  type: string;
  at: Date;
  data: Record<string, unknown>;
}

/** Checks one event message against its topic and the contract; nothing is stored here. */
export function parseEvent(topic: string, payload: Buffer): { row: EventRow } | { reason: string } {
  const [, , device, type] = topic.split('/');
  if (!device || !type || !ID.test(device) || !ID.test(type)) return { reason: 'bad topic' };
  const body = parseJson(payload);
  if (!EventPayload.Check(body)) return { reason: 'payload does not match the event schema' };
  if ((body.device && body.device !== device) || (body.type && body.type !== type)) return { reason: 'payload disagrees with its topic' };
  const at = new Date(body.at);
  if (Number.isNaN(at.getTime())) return { reason: 'bad time' };
  return { row: { event_id: body.event_id.toLowerCase(), device, type, at, data: body.data ?? {} } };
}

/**
 * Stores events in one transaction; an event_id seen before is a redelivery and changes nothing.
 * Returns the ids stored now (the others were already there).
 */
export async function storeEvents(ctx: ServiceContext, rows: EventRow[]): Promise<Set<string>> {
  if (rows.length === 0) return new Set();
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    const stored = await trx
      .insertInto('device_events')
      .values(rows.map((r) => ({ event_id: r.event_id, device_id: r.device, type: r.type, at: r.at, data: JSON.stringify(r.data), received_at: now })))
      .onConflict((oc) => oc.column('event_id').doNothing())
      .returning('event_id')
      .execute();
    const ids = new Set(stored.map((r) => r.event_id));
    for (const r of rows) if (ids.has(r.event_id)) await announce(trx, { topic: 'devices', data: { type: 'device.event', device: r.device, event: r.type, at: r.at.toISOString() } });
    return ids;
  });
}

/** Stores one event message: the single-message form of parseEvent + storeEvents. */
export async function ingestEvent(ctx: ServiceContext, topic: string, payload: Buffer): Promise<{ result: IngestResult; reason?: string; device?: string; eventId?: string }> {
  const parsed = parseEvent(topic, payload);
  if ('reason' in parsed) return { result: 'rejected', reason: parsed.reason };
  const stored = await storeEvents(ctx, [parsed.row]);
  return { result: stored.has(parsed.row.event_id) ? 'stored' : 'duplicate', device: parsed.row.device, eventId: parsed.row.event_id };
}

/** The largest device state (JSON characters) that travels inside a `device.state` event. */
const STATE_IN_EVENT_MAX = 2000;

/** Follows a device's retained state or availability, and an agent's state. */
export async function trackState(ctx: ServiceContext, topic: string, payload: Buffer): Promise<{ result: 'stored' | 'rejected'; reason?: string }> {
  const parts = topic.split('/');
  const now = ctx.clock.now();
  // An empty retained message clears the topic: the device or agent was removed from the broker.
  const body = payload.length === 0 ? null : parseJson(payload);
  if (payload.length > 0 && (body === undefined || typeof body !== 'object' || body === null || Array.isArray(body))) return { result: 'rejected', reason: 'not a JSON object' };
  const id = parts[2] ?? '';
  if (!ID.test(id)) return { result: 'rejected', reason: 'bad id in topic' };
  if (parts[1] === 'agent' && parts[3] === 'state') {
    if (body !== null && !AvailabilityPayload.Check(body)) return { result: 'rejected', reason: 'agent state must be {"state":"online"|"offline"}' };
    const state: Availability = body === null ? 'unknown' : body.state;
    await ctx.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('agents')
        .values({ id, state, last_seen_at: state === 'online' ? now : null, created_at: now })
        .onConflict((oc) => oc.column('id').doUpdateSet(state === 'online' ? { state, last_seen_at: now } : { state }))
        .execute();
      // A dead agent cannot withdraw its devices' retained "online": its devices are offline with it.
      if (state !== 'online') await trx.updateTable('devices').set({ availability: 'offline', updated_at: now }).where('agent_id', '=', id).where('availability', '=', 'online').execute();
      await announce(trx, { topic: 'devices', data: { type: 'agent.state', agent: id, state } });
    });
    return { result: 'stored' };
  }
  if (parts[1] === 'device' && parts.length === 4 && parts[3] === 'availability') {
    if (body !== null && !AvailabilityPayload.Check(body)) return { result: 'rejected', reason: 'availability must be {"state":"online"|"offline"}' };
    const availability: Availability = body === null ? 'unknown' : body.state;
    await ctx.db.transaction().execute(async (trx) => {
      await trx.insertInto('devices').values({ id, availability, updated_at: now }).onConflict((oc) => oc.column('id').doUpdateSet({ availability, updated_at: now })).execute();
      await announce(trx, { topic: 'devices', data: { type: 'device.availability', device: id, availability } });
    });
    return { result: 'stored' };
  }
  if (parts[1] === 'device' && parts.length === 3) {
    const state = body === null ? null : JSON.stringify(body);
    await ctx.db.transaction().execute(async (trx) => {
      await trx.insertInto('devices').values({ id, state, updated_at: now }).onConflict((oc) => oc.column('id').doUpdateSet({ state, updated_at: now })).execute();
      // The state rides along when small (NOTIFY payloads end at 8000 bytes); else listeners read it from the table.
      await announce(trx, { topic: 'devices', data: { type: 'device.state', device: id, ...(state && state.length <= STATE_IN_EVENT_MAX ? { state: body } : {}) } });
    });
    return { result: 'stored' };
  }
  return { result: 'rejected', reason: 'unknown topic' };
}

export interface CommandResult {
  ok: boolean;
  error?: { code: string; message: string };
  state?: Record<string, unknown>;
}

export interface DeviceBridge {
  /** Sends `/set` with a fresh transaction and waits for the device's `/result`; null on timeout. */
  command(device: string, body: Record<string, unknown>, timeoutMs: number): Promise<CommandResult | null>;
  stop(): Promise<void>;
}

/** Events stored per transaction at most: a burst after an outage is stored in batches, not one by one. */
const EVENT_BATCH = 500;

/**
 * Subscribes the server's MQTT client to the contract's topics. Messages are handled in arrival order,
 * so a device's state updates cannot overtake each other; consecutive events are stored together.
 */
export function startDeviceBridge(ctx: ServiceContext, client: MqttClient, log: BridgeLog): DeviceBridge {
  const inbox: { topic: string; payload: Buffer }[] = [];
  let draining: Promise<void> | null = null;
  const waiting = new Map<string, (result: CommandResult) => void>();
  const subscribe = () => client.subscribe(Object.values(TOPICS), { qos: 1 }, (err) => err && log.warn({ err: err.message }, 'device topics: subscribe failed'));
  const isEvent = (topic: string) => topic.startsWith('lawbox/event/');

  const storeBatch = async (batch: { topic: string; payload: Buffer }[]) => {
    const rows = [];
    for (const { topic, payload } of batch) {
      const parsed = parseEvent(topic, payload);
      if ('reason' in parsed) log.warn({ topic, reason: parsed.reason, bytes: payload.length }, 'MQTT message refused');
      else rows.push(parsed.row);
    }
    try {
      await storeEvents(ctx, rows);
    } catch (err) {
      // Not acknowledged: the agents send these again.
      log.error({ err, events: rows.length }, 'device events could not be stored');
      return;
    }
    // Stored now or before: the agents may forget them. A lost answer only costs a harmless resend.
    const byDevice = new Map<string, string[]>();
    for (const r of rows) byDevice.set(r.device, [...(byDevice.get(r.device) ?? []), r.event_id]);
    for (const [device, ids] of byDevice) client.publish(`lawbox/device/${device}/event_ack`, JSON.stringify({ event_ids: ids }), { qos: 0 });
  };

  /** Messages in arrival order, so a device's state updates cannot overtake each other; runs of events go together. */
  const drain = async () => {
    while (inbox.length > 0) {
      if (isEvent(inbox[0]!.topic)) {
        let n = 1;
        while (n < inbox.length && n < EVENT_BATCH && isEvent(inbox[n]!.topic)) n++;
        await storeBatch(inbox.splice(0, n));
        continue;
      }
      const { topic, payload } = inbox.shift()!;
      try {
        const outcome = await trackState(ctx, topic, payload);
        if (outcome.result === 'rejected') log.warn({ topic, reason: outcome.reason, bytes: payload.length }, 'MQTT message refused');
      } catch (err) {
        log.error({ err, topic }, 'MQTT message could not be stored');
      }
    }
  };
  const kick = () => {
    draining ??= drain().finally(() => {
      draining = null;
      if (inbox.length > 0) kick();
    });
  };

  const onMessage = (topic: string, payload: Buffer) => {
    if (topic.endsWith('/result')) {
      // Answers to commands are matched by transaction and never stored.
      const body = parseJson(payload) as { transaction?: unknown; ok?: unknown; error?: CommandResult['error']; state?: CommandResult['state'] } | undefined;
      const done = typeof body?.transaction === 'string' ? waiting.get(body.transaction) : undefined;
      if (done && typeof body?.ok === 'boolean') done({ ok: body.ok, error: body.error, state: body.state });
      return;
    }
    inbox.push({ topic, payload });
    kick();
  };
  client.on('message', onMessage);
  client.on('connect', subscribe);
  if (client.connected) subscribe();
  return {
    command: (device, body, timeoutMs) =>
      new Promise((resolve) => {
        const transaction = randomUUID();
        const timer = setTimeout(() => {
          waiting.delete(transaction);
          resolve(null);
        }, timeoutMs);
        waiting.set(transaction, (result) => {
          clearTimeout(timer);
          waiting.delete(transaction);
          resolve(result);
        });
        client.publish(`lawbox/device/${device}/set`, JSON.stringify({ transaction, ...body }), { qos: 1 });
      }),
    stop: async () => {
      client.off('message', onMessage);
      client.off('connect', subscribe);
      while (draining) await draining;
    },
  };
}
