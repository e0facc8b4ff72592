import type { FastifyPluginAsync } from 'fastify';

export const communicationsRoutes: FastifyPluginAsync = async () => {};
