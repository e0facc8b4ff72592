import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { Empty, IdParams, responses } from '../../schemas.js';
import { acknowledgeAlert, DEFAULT_TRACKING, listAlerts, TRACKING_LIMITS, trackingSettings, updateTrackingSettings, type TrackingSettings } from './service.js';

/** A whole number within the setting's range; a PUT states every threshold. */
const setting = (key: keyof TrackingSettings, description: string) =>
  Type.Integer({ ...TRACKING_LIMITS[key], description: `${description} (default ${DEFAULT_TRACKING[key]})` });

const Settings = Type.Object(
  {
    open_max_days: setting('open_max_days', 'alert when a matter is still open this many days after opening'),
    stale_days: setting('stale_days', 'alert when a matter has not changed for this many days'),
    unpaid_days: setting('unpaid_days', 'alert when the oldest bill not covered by payments is this many days old'),
    overbilled_tolerance_percent: setting('overbilled_tolerance_percent', 'bills may exceed the agreed fee by this percentage'),
    client_inform_days: setting('client_inform_days', 'alert when the client is not recorded as informed this many days after opening'),
  },
  { additionalProperties: false },
);

const Alert = Type.Object(
  {
    id: Type.Integer(),
    matter_id: Type.Integer(),
    matter_number: Type.String(),
    matter_title: Type.String(),
    kind: Type.String(),
    detail: Type.Object({}, { additionalProperties: true }),
    message: Type.String(),
    raised_at: Type.String(),
    resolved_at: Type.Union([Type.String(), Type.Null()]),
    recipient: Type.Boolean(),
    acknowledged_at: Type.Union([Type.String(), Type.Null()]),
  },
  { additionalProperties: false },
);

export const trackingRoutes: FastifyPluginAsync = async (app) => {
  const ctx = app.services;

  app.get(
    '/api/settings/matter-tracking',
    {
      config: { permission: 'matters.read_all' },
      schema: { tags: ['tracking'], summary: 'Thresholds of the daily matter tracking scan (Z6.3.3.5)', querystring: Empty, response: responses({ 200: Settings }) },
    },
    async () => trackingSettings(ctx.db),
  );

  app.put(
    '/api/settings/matter-tracking',
    {
      config: { permission: 'practice.configure' },
      schema: {
        tags: ['tracking'],
        summary: 'Set the thresholds of the matter tracking scan; they apply from its next run',
        body: Settings,
        response: responses({ 200: Settings }),
      },
    },
    async (request) => updateTrackingSettings(ctx, request.actor, request.body as TrackingSettings),
  );

  app.get(
    '/api/alerts',
    {
      config: { permission: 'matters.read' },
      schema: {
        tags: ['tracking'],
        summary: 'Matter alerts addressed to you (everyone’s, for roles that see every matter), newest first',
        querystring: Type.Object(
          { status: Type.Union([Type.Literal('open'), Type.Literal('all')], { default: 'open', description: 'open: unresolved only; all: resolved ones too' }) },
          { additionalProperties: false },
        ),
        response: responses({ 200: Type.Array(Alert) }),
      },
    },
    async (request) => listAlerts(ctx, request.actor, (request.query as { status: 'open' | 'all' }).status),
  );

  app.post(
    '/api/alerts/:id/acknowledge',
    {
      config: { permission: 'matters.read' },
      schema: { tags: ['tracking'], summary: 'Mark an alert addressed to you as seen', params: IdParams, body: Empty, response: responses({ 200: Alert }) },
    },
    async (request) => acknowledgeAlert(ctx, request.actor, (request.params as { id: number }).id),
  );
};

