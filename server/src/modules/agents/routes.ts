import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { Empty, Nullable, responses } from '../../schemas.js';
import { ENTITY_ID, enrollAgent, listAgents, rotateAgentSecret } from './service.js';

const AgentSchema = Type.Object(
  {
    id: Type.String(),
    name: Nullable(Type.String()),
    state: Type.String(),
    last_seen_at: Nullable(Type.String()),
    enrolled: Type.Boolean(),
    config_version: Type.Integer(),
    devices: Type.Integer(),
  },
  { additionalProperties: false },
);
const Credential = Type.Object(
  {
    id: Type.String(),
    username: Type.String({ description: 'MQTT username (the agent id)' }),
    password: Type.String({ description: 'MQTT password, shown this once; put it in LAWBOX_AGENT_PASSWORD_FILE' }),
  },
  { additionalProperties: false },
);
const AgentParams = Type.Object({ id: Type.String({ pattern: ENTITY_ID }) }, { additionalProperties: false });

/** Device agents: enrolment with a per-agent MQTT credential (the broker confines each to its own topics). */
export const agentsRoutes: FastifyPluginAsync = async (app) => {
  const ctx = app.services;

  app.get(
    '/api/agents',
    { config: { permission: 'devices.read' }, schema: { tags: ['devices'], summary: 'Device agents, online state and device count', querystring: Empty, response: responses({ 200: Type.Array(AgentSchema) }) } },
    async () => listAgents(ctx),
  );

  app.post(
    '/api/agents',
    {
      config: { permission: 'devices.manage' },
      schema: {
        tags: ['devices'],
        summary: 'Enrol an agent: its MQTT credential is returned once',
        body: Type.Object({ id: Type.String({ pattern: ENTITY_ID }), name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })) }, { additionalProperties: false }),
        response: responses({ 201: Credential }),
      },
    },
    async (request, reply) => {
      const body = request.body as { id: string; name?: string };
      reply.code(201);
      return enrollAgent(ctx, request.actor, body);
    },
  );

  app.post(
    '/api/agents/:id/secret',
    {
      config: { permission: 'devices.manage' },
      schema: { tags: ['devices'], summary: 'Rotate an agent’s MQTT secret: the new one is returned once', params: AgentParams, body: Empty, response: responses({ 200: Credential }) },
    },
    async (request) => rotateAgentSecret(ctx, request.actor, (request.params as { id: string }).id),
  );
};
