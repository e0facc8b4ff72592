import type { FastifyPluginAsync } from 'fastify';

export const documentsRoutes: FastifyPluginAsync = async () => {};
