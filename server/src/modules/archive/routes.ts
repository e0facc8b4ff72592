import type { FastifyPluginAsync } from 'fastify';

export const archiveRoutes: FastifyPluginAsync = async () => {};
