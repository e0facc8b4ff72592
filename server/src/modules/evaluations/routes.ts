import type { FastifyPluginAsync } from 'fastify';

export const evaluationsRoutes: FastifyPluginAsync = async () => {};
