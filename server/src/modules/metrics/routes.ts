import fp from 'fastify-plugin';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { addressIn } from '../../config.js';
import { forbidden } from '../../errors.js';
import { Empty, responses } from '../../schemas.js';
import { UNMATCHED_ROUTE, type AppMetrics } from './service.js';

/**
 * Counts every answered request under its route pattern, and serves the metrics at `GET /metrics` in
 * Prometheus text format. The endpoint needs no session (Prometheus has none): it is public to
 * LAWBOX_METRICS_NETWORKS only, judged by the connecting address (trustProxy is off, so a forwarded
 * header never counts). Registered without encapsulation so the hook sees every route.
 */
export const metricsRoutes = fp<{ metrics: AppMetrics }>(async (app, { metrics }) => {
  app.addHook('onResponse', async (request, reply) => {
    metrics.requestAnswered(request.method, request.routeOptions.url ?? UNMATCHED_ROUTE, reply.statusCode, reply.elapsedTime / 1000);
  });

  const networks = app.services.config.metricsNetworks;
  const fromMetricsNetwork = async (request: FastifyRequest) => {
    if (!addressIn(networks, request.socket.remoteAddress ?? '')) {
      throw forbidden('METRICS_ADDRESS', 'Metrics are not served to this address (LAWBOX_METRICS_NETWORKS). / 不允许从该地址读取监控指标。');
    }
  };

  app.get(
    '/metrics',
    {
      config: { public: true },
      onRequest: fromMetricsNetwork,
      schema: {
        tags: ['system'],
        summary: 'Prometheus metrics (text format), for the addresses in LAWBOX_METRICS_NETWORKS',
        querystring: Empty,
        response: responses({ 200: Type.String() }),
      },
    },
    async (_request, reply) => {
      reply.type(metrics.registry.contentType);
      return metrics.registry.metrics();
    },
  );
});
