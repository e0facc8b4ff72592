import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { Empty, responses } from '../../schemas.js';
import { pingDatabase } from '../../db/index.js';
import { VERSION } from '../../version.js';

const Health = Type.Object(
  { status: Type.Union([Type.Literal('ok'), Type.Literal('degraded')]), db: Type.String(), mqtt: Type.String(), version: Type.String() },
  { additionalProperties: false },
);

export const healthRoutes: FastifyPluginAsync = async (app) => {
  app.get(
    '/api/health',
    { config: { public: true }, schema: { tags: ['system'], summary: 'Liveness of the server, its database and its MQTT broker', querystring: Empty, response: responses({ 200: Health, 503: Health }) } },
    async (_request, reply) => {
      const db = (await pingDatabase(app.services.db)) ? 'ok' : 'down';
      const mqtt = app.mqtt.connected() ? 'ok' : 'down';
      const healthy = db === 'ok' && mqtt === 'ok';
      reply.status(healthy ? 200 : 503);
      return { status: healthy ? 'ok' : 'degraded', db, mqtt, version: VERSION };
    },
  );

  app.get(
    '/api/system',
    {
      config: { permission: 'system.read' },
      schema: {
        tags: ['system'],
        summary: 'Running configuration for administrators (no secrets)',
        querystring: Empty,
        response: responses({
          200: Type.Object(
            {
              version: Type.String(),
              uptime_s: Type.Number(),
              database: Type.String(),
              mqtt: Type.Object({ embedded: Type.Boolean(), port: Type.Union([Type.Integer(), Type.Null()]), connected: Type.Boolean() }, { additionalProperties: false }),
              tls: Type.Boolean(),
              password_policy: Type.Object({ enabled: Type.Boolean(), min_length: Type.Integer(), min_classes: Type.Integer(), max_age_days: Type.Integer() }, { additionalProperties: false }),
              lockout: Type.Object({ threshold: Type.Integer(), minutes: Type.Integer() }, { additionalProperties: false }),
              session: Type.Object({ idle_minutes: Type.Integer(), absolute_hours: Type.Integer() }, { additionalProperties: false }),
              audit_retention_days: Type.Integer(),
            },
            { additionalProperties: false },
          ),
        }),
      },
    },
    async () => {
      const c = app.services.config;
      return {
        version: VERSION,
        uptime_s: Math.round(process.uptime()),
        database: app.database.kind,
        mqtt: { embedded: app.mqtt.embedded !== null, port: app.mqtt.embedded?.port ?? null, connected: app.mqtt.connected() },
        tls: c.tlsMode !== 'off',
        password_policy: { enabled: c.passwordPolicy.enabled, min_length: c.passwordPolicy.minLength, min_classes: c.passwordPolicy.minClasses, max_age_days: c.passwordPolicy.maxAgeDays },
        lockout: { threshold: c.lockout.threshold, minutes: c.lockout.minutes },
        session: { idle_minutes: c.session.idleMinutes, absolute_hours: c.session.absoluteHours },
        audit_retention_days: c.auditRetentionDays,
      };
    },
  );
};
