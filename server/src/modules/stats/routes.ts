import type { FastifyPluginAsync } from 'fastify';
import { Type, type TSchema } from 'typebox';
import { Empty, Nullable, responses } from '../../schemas.js';
import { can } from '../auth/roles.js';
import { registerTopic } from '../realtime/hub.js';
import { computeStats, statsSettings, updateStatsSettings, type StatsSettings } from './service.js';
import { startStatsPublisher } from './publisher.js';

const Obj = (props: Record<string, TSchema>) => Type.Object(props, { additionalProperties: false });
const N = Type.Integer({ minimum: 0 });
export const StatsSchema = Obj({
  generated_at: Type.String(),
  matters: Obj({
    open: N,
    new_this_month: N,
    closed_this_month: N,
    by_type: Type.Array(Obj({ type: Type.String(), label_zh: Type.String(), label_en: Type.String(), count: N })),
    new_by_month: Type.Array(Obj({ month: Type.String(), count: N })),
  }),
  hearings: Obj({ today: N, this_week: N }),
  deadlines: Obj({ due_7_days: N, overdue: N }),
  visitors: Obj({ on_site: N, today: N }),
  rooms: Obj({ in_use: N, total: N, list: Type.Array(Obj({ id: Type.String(), name: Type.String(), in_use: Type.Boolean(), meeting_title: Nullable(Type.String()) })) }),
  devices: Obj({ online: N, offline: N, total: N }),
  revenue: Nullable(Obj({ this_month: Type.String(), this_year: Type.String() })),
});
const SettingsSchema = Obj({ show_revenue: Type.Boolean({ description: 'show revenue on wall screens' }) });

/** Firm statistics: for wall screens (kiosk token) and for management (stats.read), live over `stats:wall`. */
export const statsRoutes: FastifyPluginAsync = async (app) => {
  const ctx = app.services;
  registerTopic('stats', (who, qualifier) => qualifier === 'wall' && (who.kiosk ? who.kiosk.kind === 'wall' : can(who.user.role, 'stats.read')));
  const stopPublisher = startStatsPublisher(app);
  app.addHook('onClose', async () => stopPublisher());

  app.get(
    '/api/kiosk/wall/stats',
    { config: { kiosk: ['wall'] }, schema: { tags: ['stats'], summary: 'The wall screen’s statistics (then live on the stats:wall topic)', querystring: Empty, response: responses({ 200: StatsSchema }) } },
    async () => computeStats(ctx),
  );
  app.get(
    '/api/stats',
    { config: { permission: 'stats.read' }, schema: { tags: ['stats'], summary: 'The firm’s statistics, as the wall screens show them', querystring: Empty, response: responses({ 200: StatsSchema }) } },
    async () => computeStats(ctx),
  );
  app.get(
    '/api/stats/settings',
    { config: { permission: 'stats.read' }, schema: { tags: ['stats'], summary: 'What wall screens may show', querystring: Empty, response: responses({ 200: SettingsSchema }) } },
    async () => statsSettings(ctx.db),
  );
  app.put(
    '/api/stats/settings',
    { config: { permission: 'practice.configure' }, schema: { tags: ['stats'], summary: 'Choose what wall screens may show (revenue is off by default)', body: SettingsSchema, response: responses({ 200: SettingsSchema }) } },
    async (request) => updateStatsSettings(ctx, request.actor, request.body as StatsSettings),
  );
};
