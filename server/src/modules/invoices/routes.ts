import type { FastifyPluginAsync } from 'fastify';

export const invoicesRoutes: FastifyPluginAsync = async () => {};
