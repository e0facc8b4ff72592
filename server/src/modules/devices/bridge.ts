import { randomUUID } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { Type } from 'typebox';
import { Compile } from 'typebox/compile';
import type { ServiceContext } from '../../context.js';
import type { Availability } from '../../db/schema.js';
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

const ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;
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

/** Stores one event message; an event_id seen before is a redelivery and changes nothing. */
export async function ingestEvent(ctx: ServiceContext, topic: string, payload: Buffer): Promise<{ result: IngestResult; reason?: string; device?: string; eventId?: string }> {
  const [, , device, type] = topic.split('/');
  if (!device || !type || !ID.test(device) || !ID.test(type)) return { result: 'rejected', reason: 'bad topic' };
  const body = parseJson(payload);
  if (!EventPayload.Check(body)) return { result: 'rejected', reason: 'payload does not match the event schema' };
  if ((body.device && body.device !== device) || (body.type && body.type !== type)) return { result: 'rejected', reason: 'payload disagrees with its topic' };
  const at = new Date(body.at);
  if (Number.isNaN(at.getTime())) return { result: 'rejected', reason: 'bad time' };
  const inserted = await ctx.db.transaction().execute(async (trx) => {
    const row = await trx
      .insertInto('device_events')
      .values({ event_id: body.event_id.toLowerCase(), device_id: device, type, at, data: JSON.stringify(body.data ?? {}), received_at: ctx.clock.now() })
      .onConflict((oc) => oc.column('event_id').doNothing())
      .returning('event_id')
      .executeTakeFirst();
    if (row) await announce(trx, { topic: 'devices', data: { type: 'device.event', device, event: type, at: at.toISOString() } });
    return !!row;
  });
  return { result: inserted ? 'stored' : 'duplicate', device, eventId: body.event_id };
}

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
    });
    return { result: 'stored' };
  }
  if (parts[1] === 'device' && parts.length === 4 && parts[3] === 'availability') {
    if (body !== null && !AvailabilityPayload.Check(body)) return { result: 'rejected', reason: 'availability must be {"state":"online"|"offline"}' };
    const availability: Availability = body === null ? 'unknown' : body.state;
    await ctx.db.insertInto('devices').values({ id, availability, updated_at: now }).onConflict((oc) => oc.column('id').doUpdateSet({ availability, updated_at: now })).execute();
    return { result: 'stored' };
  }
  if (parts[1] === 'device' && parts.length === 3) {
    const state = body === null ? null : JSON.stringify(body);
    await ctx.db.insertInto('devices').values({ id, state, updated_at: now }).onConflict((oc) => oc.column('id').doUpdateSet({ state, updated_at: now })).execute();
    return { result: 'stored' };
  }
  return { result: 'rejected', reason: 'unknown topic' };
}

/**
 * Subscribes the server's MQTT client to the contract's topics. Messages are handled one at a time in
 * arrival order, so a device's state updates cannot overtake each other.
 */
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

export function startDeviceBridge(ctx: ServiceContext, client: MqttClient, log: BridgeLog): DeviceBridge {
  let queue = Promise.resolve();
  const waiting = new Map<string, (result: CommandResult) => void>();
  const subscribe = () => client.subscribe(Object.values(TOPICS), { qos: 1 }, (err) => err && log.warn({ err: err.message }, 'device topics: subscribe failed'));
  const onMessage = (topic: string, payload: Buffer) => {
    if (topic.endsWith('/result')) {
      // Answers to commands are matched by transaction and never stored.
      const body = parseJson(payload) as { transaction?: unknown; ok?: unknown; error?: CommandResult['error']; state?: CommandResult['state'] } | undefined;
      const done = typeof body?.transaction === 'string' ? waiting.get(body.transaction) : undefined;
      if (done && typeof body?.ok === 'boolean') done({ ok: body.ok, error: body.error, state: body.state });
      return;
    }
    queue = queue.then(async () => {
      try {
        if (topic.startsWith('lawbox/event/')) {
          const outcome = await ingestEvent(ctx, topic, payload);
          if (outcome.result === 'rejected') log.warn({ topic, reason: outcome.reason, bytes: payload.length }, 'MQTT message refused');
          // Stored now or before: the agent may forget it. A lost answer only costs a harmless resend.
          else client.publish(`lawbox/device/${outcome.device}/event_ack`, JSON.stringify({ event_ids: [outcome.eventId] }), { qos: 0 });
          return;
        }
        const outcome = await trackState(ctx, topic, payload);
        if (outcome.result === 'rejected') log.warn({ topic, reason: outcome.reason, bytes: payload.length }, 'MQTT message refused');
      } catch (err) {
        log.error({ err, topic }, 'MQTT message could not be stored');
      }
    });
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
      await queue;
    },
  };
}
