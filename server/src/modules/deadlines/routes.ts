import type { FastifyPluginAsync } from 'fastify';

export const deadlinesRoutes: FastifyPluginAsync = async () => {};
