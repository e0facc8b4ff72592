import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { Empty, Nullable, responses } from '../../schemas.js';
import { AppError, notFound } from '../../errors.js';
import { recordAudit } from '../audit/service.js';
import { registerTopic, usersWith } from '../realtime/hub.js';
import { forgetDeviceOwners } from '../agents/broker-access.js';
import { ENTITY_ID } from '../agents/service.js';
import { configureDevice, publishAgentConfig, type DeviceAssignmentInput } from './assignments.js';
import { mediaRoutes } from '../media/routes.js';

const DeviceSchema = Type.Object(
  {
    id: Type.String(),
    agent_id: Nullable(Type.String()),
    profile: Nullable(Type.String()),
    name: Nullable(Type.String()),
    location: Nullable(Type.String()),
    availability: Type.String(),
    state: Nullable(Type.Record(Type.String(), Type.Unknown())),
    transport: Nullable(Type.Record(Type.String(), Type.Unknown())),
    settings: Nullable(Type.Record(Type.String(), Type.Unknown())),
    enabled: Type.Boolean(),
    updated_at: Type.String(),
  },
  { additionalProperties: false },
);
const JsonObject = Type.Record(Type.String({ pattern: '^[a-z][a-z0-9_]{0,63}$' }), Type.Unknown(), { maxProperties: 32 });
const EventSchema = Type.Object(
  { event_id: Type.String(), device_id: Type.String(), type: Type.String(), at: Type.String(), data: Type.Record(Type.String(), Type.Unknown()), received_at: Type.String() },
  { additionalProperties: false },
);
/** How long a remote command waits for the device's answer. */
const COMMAND_TIMEOUT_MS = 5000;

const DeviceParams = Type.Object({ id: Type.String({ pattern: ENTITY_ID }) }, { additionalProperties: false });

export const devicesRoutes: FastifyPluginAsync = async (app) => {
  const ctx = app.services;
  registerTopic('devices', usersWith('devices.read'));
  const bridge = app.deviceBridge;
  await app.register(mediaRoutes, { bridge });

  /** After a change commits: the agents' retained configs, bounded so a broker outage cannot hang a request. */
  const publishConfigs = async (agents: string[]) => {
    forgetDeviceOwners(ctx);
    const sent = Promise.all(agents.map((a) => publishAgentConfig(ctx, app.mqtt.client, a))).catch((err: Error) => app.log.warn({ err: err.message, agents }, 'agent config not published; it is sent again when the broker is back'));
    await Promise.race([sent, new Promise((r) => setTimeout(r, 2000).unref())]);
  };
  // A broker that restarted may have lost its retained messages: every enrolled agent's config goes out again.
  const republishAll = () => {
    void ctx.db
      .selectFrom('agents')
      .select('id')
      .where('secret_hash', 'is not', null)
      .execute()
      .then((rows) => Promise.all(rows.map((r) => publishAgentConfig(ctx, app.mqtt.client, r.id))))
      .catch((err: Error) => app.log.warn({ err: err.message }, 'agent configs not republished'));
  };
  app.mqtt.client.on('connect', republishAll);
  app.addHook('onReady', async () => {
    if (app.mqtt.client.connected) republishAll();
  });
  app.addHook('onClose', async () => {
    app.mqtt.client.off('connect', republishAll);
  });

  app.put(
    '/api/devices/:id',
    {
      config: { permission: 'devices.manage' },
      schema: {
        tags: ['devices'],
        summary: 'Assign a device to an agent with its profile and address; the agent’s config is republished',
        params: DeviceParams,
        body: Type.Object(
          {
            agent_id: Nullable(Type.String({ pattern: ENTITY_ID })),
            profile: Type.String({ pattern: '^[a-z0-9-]+/[a-z0-9._-]+$', maxLength: 100 }),
            name: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 100 }))),
            location: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 100 }))),
            transport: Type.Object({ type: Type.String({ enum: ['serial', 'tcp', 'hid', 'onvif', 'mqtt'] }) }, { additionalProperties: true, maxProperties: 8 }),
            settings: Type.Optional(Nullable(JsonObject)),
            enabled: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false },
        ),
        response: responses({ 200: DeviceSchema }),
      },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      const agents = await configureDevice(ctx, request.actor, id, request.body as DeviceAssignmentInput);
      await publishConfigs(agents);
      const d = await ctx.db.selectFrom('devices').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
      return { ...d, updated_at: d.updated_at.toISOString() };
    },
  );

  app.get(
    '/api/devices',
    { config: { permission: 'devices.read' }, schema: { tags: ['devices'], summary: 'Devices with their last reported state and availability', querystring: Empty, response: responses({ 200: Type.Array(DeviceSchema) }) } },
    async () => {
      const rows = await ctx.db.selectFrom('devices').selectAll().orderBy('id').execute();
      return rows.map((d) => ({ ...d, updated_at: d.updated_at.toISOString() }));
    },
  );

  app.get(
    '/api/devices/:id/events',
    {
      config: { permission: 'devices.read' },
      schema: {
        tags: ['devices'],
        summary: 'A device’s events, newest first',
        params: DeviceParams,
        querystring: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }) }, { additionalProperties: false }),
        response: responses({ 200: Type.Array(EventSchema) }),
      },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      const device = await ctx.db.selectFrom('devices').select('id').where('id', '=', id).executeTakeFirst();
      if (!device) throw notFound('DEVICE_NOT_FOUND', `No device ${id}. / 设备不存在。`);
      const rows = await ctx.db.selectFrom('device_events').selectAll().where('device_id', '=', id).orderBy('at', 'desc').limit((request.query as { limit: number }).limit).execute();
      return rows.map((e) => ({ ...e, at: e.at.toISOString(), received_at: e.received_at.toISOString() }));
    },
  );

  app.post(
    '/api/devices/:id/open',
    {
      config: { permission: 'doors.open' },
      schema: {
        tags: ['devices'],
        summary: 'Open a door remotely: the door’s lock device pulses its relay (audited, with the outcome)',
        params: DeviceParams,
        body: Type.Object({ duration_ms: Type.Integer({ minimum: 500, maximum: 30_000, default: 3000 }), reason: Type.String({ minLength: 2, maxLength: 200 }) }, { additionalProperties: false }),
        response: responses({ 200: Type.Object({ ok: Type.Literal(true) }, { additionalProperties: false }) }),
      },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      const { duration_ms, reason } = request.body as { duration_ms: number; reason: string };
      const device = await ctx.db.selectFrom('devices').select('id').where('id', '=', id).executeTakeFirst();
      if (!device) throw notFound('DEVICE_NOT_FOUND', `No device ${id}. / 设备不存在。`);
      const result = await bridge.command(id, { action: 'open', params: { duration_ms } }, COMMAND_TIMEOUT_MS);
      const outcome = result === null ? 'timeout' : result.ok ? 'opened' : (result.error?.code ?? 'refused');
      await recordAudit(ctx.db, {
        at: ctx.clock.now(),
        actor: request.actor.username,
        action: 'door.remote_open',
        object: `device:${id}`,
        result: result?.ok ? 'success' : 'failure',
        sourceIp: request.actor.sourceIp,
        detail: { duration_ms, reason, outcome },
      });
      if (result === null) throw new AppError(504, 'DEVICE_TIMEOUT', `Device ${id} did not answer within ${COMMAND_TIMEOUT_MS / 1000} s; is its agent online? / 设备未响应。`);
      if (!result.ok) throw new AppError(502, result.error?.code ?? 'DEVICE_REFUSED', `Device ${id} refused: ${result.error?.message ?? 'no reason given'}. / 设备拒绝执行。`);
      return { ok: true as const };
    },
  );
};
