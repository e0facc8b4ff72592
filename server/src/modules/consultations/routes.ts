import type { FastifyPluginAsync } from 'fastify';

export const consultationsRoutes: FastifyPluginAsync = async () => {};
