import fp from 'fastify-plugin';
import type { FastifyError } from 'fastify';
import { AppError } from '../errors.js';
import { ErrorResponse } from '../schemas.js';

/** PostgreSQL SQLSTATE for a unique constraint violation. */
const UNIQUE_VIOLATION = '23505';

/** Turns every error into `{"error":{"code","message"}}`; 5xx details stay in the log. */
export default fp(async (app) => {
  app.addSchema(ErrorResponse);

  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (err instanceof AppError) {
      return reply.status(err.statusCode).send({ error: { code: err.code, message: err.message } });
    }
    // A unique constraint lost to a concurrent request: the other request won, this one is a conflict.
    if ((err as { code?: string }).code === UNIQUE_VIOLATION) {
      return reply.status(409).send({ error: { code: 'ALREADY_EXISTS', message: 'This record already exists (created at the same moment by another request). / 记录已存在。' } });
    }
    if (err.validation) {
      return reply.status(400).send({ error: { code: 'VALIDATION_FAILED', message: `Invalid request: ${err.message}. / 请求参数不正确。` } });
    }
    const status = err.statusCode ?? 500;
    if (status < 500) {
      return reply.status(status).send({ error: { code: err.code ?? 'BAD_REQUEST', message: err.message } });
    }
    request.log.error({ err }, 'request failed');
    return reply.status(status).send({
      error: { code: 'INTERNAL_ERROR', message: `Internal error; quote request id ${request.id} to your administrator. / 服务器内部错误。` },
    });
  });

  // An unknown route is a 404 for everyone, signed in or not: "please sign in" would mislead, and the
  // list of routes is public anyway (/api/openapi.json). Fastify gives the 404 route this config, which
  // the access check reads; its typings only declare the hook options.
  app.setNotFoundHandler({ config: { public: true } } as { preHandler?: undefined }, (request, reply) => {
    reply.status(404).send({ error: { code: 'NOT_FOUND', message: `No route ${request.method} ${request.url.split('?')[0]}. / 接口不存在。` } });
  });
});
