import Fastify, { type FastifyBaseLogger, type FastifyInstance, type RouteOptions } from 'fastify';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { Type } from 'typebox';
import type { Config } from './config.js';
import { systemClock, type Clock } from './clock.js';
import type { ServiceContext } from './context.js';
import type { DatabaseHandle } from './db/index.js';
import type { MqttLink } from './mqtt.js';
import { VERSION } from './version.js';
import { AppError } from './errors.js';
import { Empty, responses } from './schemas.js';
import errorsPlugin from './plugins/errors.js';
import authPlugin from './plugins/auth.js';
import realtimePlugin from './plugins/realtime.js';
import { healthRoutes } from './modules/health/routes.js';
import { authRoutes } from './modules/auth/routes.js';
import { userRoutes } from './modules/users/routes.js';
import { auditRoutes } from './modules/audit/routes.js';
import { clientsRoutes } from './modules/clients/routes.js';
import { mattersRoutes } from './modules/matters/routes.js';
import { conflictsRoutes } from './modules/conflicts/routes.js';
import { collaborationRoutes } from './modules/collaboration/routes.js';
import { feesRoutes } from './modules/fees/routes.js';
import { trackingRoutes } from './modules/tracking/routes.js';
import { devicesRoutes } from './modules/devices/routes.js';
import { startDeviceBridge, type DeviceBridge } from './modules/devices/bridge.js';
import { doorsRoutes } from './modules/doors/routes.js';
import { agentsRoutes } from './modules/agents/routes.js';
import { kiosksRoutes } from './modules/kiosks/routes.js';
import { visitorsRoutes } from './modules/visitors/routes.js';
import { meetingsRoutes } from './modules/meetings/routes.js';
import { statsRoutes } from './modules/stats/routes.js';
import { portalRoutes } from './modules/portal/routes.js';
import { notificationsRoutes } from './modules/notifications/routes.js';
import { archiveRoutes } from './modules/archive/routes.js';
import { deadlinesRoutes } from './modules/deadlines/routes.js';
import { documentsRoutes } from './modules/documents/routes.js';
import { consultationsRoutes } from './modules/consultations/routes.js';
import { communicationsRoutes } from './modules/communications/routes.js';
import { invoicesRoutes } from './modules/invoices/routes.js';
import { evaluationsRoutes } from './modules/evaluations/routes.js';
import { kioskUiRoutes } from './plugins/kiosk-ui.js';
import { metricsRoutes } from './modules/metrics/routes.js';
import { createMetrics, type AppMetrics } from './modules/metrics/service.js';

declare module 'fastify' {
  interface FastifyInstance {
    services: ServiceContext;
    database: DatabaseHandle;
    mqtt: MqttLink;
    /** device state and events from MQTT, and commands to devices (any module may send one) */
    deviceBridge: DeviceBridge;
    /** every route with its access rule, for documentation and the role × route test */
    routeCatalog: RouteOptions[];
    /** this app's Prometheus registry and what feeds it (the scheduler reports its job runs here) */
    metrics: AppMetrics;
  }
}

export interface AppOptions {
  config: Config;
  database: DatabaseHandle;
  mqtt: MqttLink;
  clock?: Clock;
  /** pino logger; none = silent (tests) */
  logger?: FastifyBaseLogger;
  https?: { cert: Buffer; key: Buffer } | null;
}

const OpenObject = Type.Object({}, { additionalProperties: true });

/** Builds the whole HTTP application around an open database and MQTT link (which the caller owns). */
export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    ...(opts.logger ? { loggerInstance: opts.logger } : { logger: false }),
    https: opts.https ?? null,
    trustProxy: false,
    bodyLimit: 1024 * 1024,
    ajv: {
      // Unknown fields are an error, never silently dropped; querystrings still arrive as strings.
      customOptions: { removeAdditional: false, coerceTypes: true, useDefaults: true, allErrors: false },
    },
  }) as unknown as FastifyInstance;

  app.decorate('services', { db: opts.database.db, config: opts.config, clock: opts.clock ?? systemClock });
  app.decorate('database', opts.database);
  app.decorate('mqtt', opts.mqtt);
  app.decorate('routeCatalog', [] as RouteOptions[]);
  app.addHook('onRoute', (route) => {
    // The interactive API documentation is public, like the OpenAPI document it shows.
    // (Only /api/docs itself and what lies below it: a later /api/documents route must not be public.)
    if (route.url === '/api/docs' || route.url.startsWith('/api/docs/')) route.config = { ...(route.config as object), public: true };
    app.routeCatalog.push(route as RouteOptions);
  });

  await app.register(errorsPlugin);
  const metrics = createMetrics({ db: opts.database.db, database: opts.database.kind, pool: opts.database.pool, mqttConnected: () => opts.mqtt.connected() });
  app.decorate('metrics', metrics);
  await app.register(metricsRoutes, { metrics });
  // A POST without a body is an empty object, so body schemas (required fields, no extras) still apply.
  app.addHook('preValidation', async (request) => {
    if (request.body === undefined || request.body === null) request.body = {};
  });
  // HSTS for a year once TLS is on. Not includeSubDomains: the box does not own the names above it, and
  // an admin's certificate for firm.cn must not force HTTPS onto the firm's other intranet hosts.
  await app.register(helmet, { contentSecurityPolicy: { directives: { 'upgrade-insecure-requests': null } }, hsts: opts.https ? { maxAge: 31_536_000, includeSubDomains: false } : false });
  await app.register(rateLimit, {
    global: false,
    errorResponseBuilder: (_request, limit) =>
      new AppError(limit.statusCode, 'RATE_LIMITED', `Too many attempts; try again in ${limit.after}. / 尝试次数过多，请稍后再试。`),
  });
  await app.register(swagger, {
    openapi: {
      info: { title: 'lawbox API', version: VERSION, description: '律所数字化服务管理 (T/ZSM 0038-2024) appliance API' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' }, cookie: { type: 'apiKey', in: 'cookie', name: 'lawbox_session' } } },
      security: [{ bearer: [] }, { cookie: [] }],
    },
  });
  await app.register(swaggerUi, {
    routePrefix: '/api/docs',
    staticCSP: true,
    // Nothing is loaded from outside the appliance.
    // upgrade-insecure-requests is left out, as for helmet above: over plain HTTP (no TLS configured) it
    // would make browsers fetch the page's own scripts and styles over HTTPS, which is not there.
    transformStaticCSP: (header) => header.replace(' validator.swagger.io', '').replaceAll(' https:', '').replace(/\s*upgrade-insecure-requests;?/, ''),
    uiConfig: { validatorUrl: null },
  });
  await app.register(authPlugin);
  await app.register(realtimePlugin);
  // The bridge lives as long as the app: tests and the server get it alike.
  const bridge = startDeviceBridge(app.services, opts.mqtt.client, app.log);
  app.decorate('deviceBridge', bridge);
  app.addHook('onClose', bridge.stop);

  app.get(
    '/api/openapi.json',
    {
      config: { public: true },
      schema: {
        hide: true,
        querystring: Empty,
        // The document itself is open-ended; declaring its top level still keeps it a JSON object with paths.
        response: responses({ 200: Type.Object({ openapi: Type.String(), info: OpenObject, paths: OpenObject }, { additionalProperties: true }) }),
      },
    },
    async () => app.swagger(),
  );

  await app.register(healthRoutes);
  await app.register(authRoutes);
  await app.register(userRoutes);
  await app.register(auditRoutes);
  await app.register(clientsRoutes);
  await app.register(mattersRoutes);
  await app.register(conflictsRoutes);
  await app.register(collaborationRoutes);
  await app.register(feesRoutes);
  await app.register(trackingRoutes);
  await app.register(devicesRoutes);
  await app.register(doorsRoutes);
  await app.register(agentsRoutes);
  await app.register(kiosksRoutes);
  await app.register(visitorsRoutes);
  await app.register(meetingsRoutes);
  await app.register(statsRoutes);
  await app.register(portalRoutes);
  await app.register(notificationsRoutes);
  await app.register(archiveRoutes);
  await app.register(deadlinesRoutes);
  await app.register(documentsRoutes);
  await app.register(consultationsRoutes);
  await app.register(communicationsRoutes);
  await app.register(invoicesRoutes);
  await app.register(evaluationsRoutes);
  await app.register(kioskUiRoutes);
  return app;
}
