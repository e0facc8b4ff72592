import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { Empty, Nullable, responses } from '../../schemas.js';
import { notFound } from '../../errors.js';
import { can } from '../auth/roles.js';
import { registerTopic } from '../realtime/hub.js';
import { startDeviceBridge } from './bridge.js';

const DeviceSchema = Type.Object(
  {
    id: Type.String(),
    agent_id: Nullable(Type.String()),
    profile: Nullable(Type.String()),
    name: Nullable(Type.String()),
    location: Nullable(Type.String()),
    availability: Type.String(),
    state: Nullable(Type.Record(Type.String(), Type.Unknown())),
    updated_at: Type.String(),
  },
  { additionalProperties: false },
);
const EventSchema = Type.Object(
  { event_id: Type.String(), device_id: Type.String(), type: Type.String(), at: Type.String(), data: Type.Record(Type.String(), Type.Unknown()), received_at: Type.String() },
  { additionalProperties: false },
);
const DeviceParams = Type.Object({ id: Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,63}$' }) }, { additionalProperties: false });

export const devicesRoutes: FastifyPluginAsync = async (app) => {
  const ctx = app.services;
  registerTopic('devices', (user) => can(user.role, 'devices.read'));
  // The bridge lives as long as the app: tests and the server get it alike.
  const stopBridge = startDeviceBridge(ctx, app.mqtt.client, app.log);
  app.addHook('onClose', stopBridge);

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
};
