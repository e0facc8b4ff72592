import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { Empty, IdParams, Nullable, responses } from '../../schemas.js';
import { PartyKindSchema } from '../conflicts/routes.js';
import { ID_TYPES } from './identifiers.js';
import { createClient, getClient, listClients, presentClient, unmaskClient, updateClient, type ClientInput } from './service.js';

const Text = (max: number) => Type.String({ maxLength: max });
const IdType = Type.Union(ID_TYPES.map((t) => Type.Literal(t)));

const MemberInput = Type.Object(
  {
    relation: Type.Union([Type.Literal('shareholder'), Type.Literal('partner')]),
    kind: Type.Optional(PartyKindSchema),
    name: Type.String({ minLength: 1, maxLength: 200 }),
    id_number: Type.Optional(Nullable(Text(40))),
    uscc: Type.Optional(Nullable(Text(40))),
    share_percent: Type.Optional(Nullable(Type.Number({ minimum: 0, maximum: 100 }))),
  },
  { additionalProperties: false },
);

const clientFields = {
  name: Type.String({ minLength: 1, maxLength: 200 }),
  id_type: Type.Optional(Nullable(IdType)),
  id_number: Type.Optional(Nullable(Text(40))),
  uscc: Type.Optional(Nullable(Text(40))),
  legal_representative: Type.Optional(Nullable(Text(200))),
  legal_representative_id_number: Type.Optional(Nullable(Text(40))),
  contact_name: Type.Optional(Nullable(Text(200))),
  phone: Type.Optional(Nullable(Type.String({ maxLength: 40, pattern: '^[0-9+()\\- ]*$' }))),
  email: Type.Optional(Nullable(Type.String({ maxLength: 200, format: 'email' }))),
  address: Type.Optional(Nullable(Text(300))),
  aliases: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { maxItems: 50, description: 'former names and aliases (曾用名、别名)' })),
  notes: Type.Optional(Nullable(Text(5000))),
  members: Type.Optional(Type.Array(MemberInput, { maxItems: 200, description: 'shareholders or partners of an organisation' })),
};

const ClientSchema = Type.Object(
  {
    id: Type.Integer(),
    kind: Type.String(),
    name: Type.String(),
    id_type: Nullable(Type.String()),
    id_number: Nullable(Type.String()),
    uscc: Nullable(Type.String()),
    uscc_check_failed: Type.Boolean(),
    legal_representative: Nullable(Type.String()),
    legal_representative_id_number: Nullable(Type.String()),
    contact_name: Nullable(Type.String()),
    phone: Nullable(Type.String()),
    email: Nullable(Type.String()),
    address: Nullable(Type.String()),
    aliases: Type.Array(Type.String()),
    notes: Nullable(Type.String()),
    members: Type.Array(
      Type.Object(
        { id: Type.Integer(), relation: Type.String(), kind: Type.String(), name: Type.String(), id_number: Nullable(Type.String()), uscc: Nullable(Type.String()), share_percent: Nullable(Type.String()) },
        { additionalProperties: false },
      ),
    ),
    masked: Type.Boolean(),
    created_at: Type.String(),
    updated_at: Type.String(),
    warnings: Type.Optional(Type.Array(Type.String())),
  },
  { additionalProperties: false },
);

export const clientsRoutes: FastifyPluginAsync = async (app) => {
  const ctx = app.services;

  app.post(
    '/api/clients',
    {
      config: { permission: 'clients.manage' },
      schema: {
        tags: ['clients'],
        summary: 'Register a client: a natural person or an organisation with its shareholders/partners',
        body: Type.Object({ kind: PartyKindSchema, ...clientFields }, { additionalProperties: false }),
        response: responses({ 201: ClientSchema }),
      },
    },
    async (request, reply) => {
      const { client, members, warnings } = await createClient(ctx, request.actor, request.body as ClientInput);
      reply.status(201);
      return { ...presentClient(client, members), warnings };
    },
  );

  app.get(
    '/api/clients',
    {
      config: { permission: 'clients.read' },
      schema: {
        tags: ['clients'],
        summary: 'Clients the user may see, personal data masked',
        querystring: Type.Object(
          { q: Type.Optional(Type.String({ maxLength: 100 })), limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }), offset: Type.Integer({ minimum: 0, default: 0 }) },
          { additionalProperties: false },
        ),
        response: responses({ 200: Type.Array(ClientSchema) }),
      },
    },
    async (request) => {
      const clients = await listClients(ctx, request.actor, request.query as { q?: string; limit: number; offset: number });
      return clients.map((c) => presentClient(c, []));
    },
  );

  app.get(
    '/api/clients/:id',
    { config: { permission: 'clients.read' }, schema: { tags: ['clients'], summary: 'One client, personal data masked', params: IdParams, querystring: Empty, response: responses({ 200: ClientSchema }) } },
    async (request) => {
      const { client, members } = await getClient(ctx, request.actor, (request.params as { id: number }).id);
      return presentClient(client, members);
    },
  );

  app.patch(
    '/api/clients/:id',
    {
      config: { permission: 'clients.manage' },
      schema: {
        tags: ['clients'],
        summary: 'Edit a client; a changed name is kept as a former name',
        params: IdParams,
        body: Type.Object({ ...clientFields, name: Type.Optional(clientFields.name) }, { additionalProperties: false, minProperties: 1 }),
        response: responses({ 200: ClientSchema }),
      },
    },
    async (request) => {
      const { client, members, warnings } = await updateClient(ctx, request.actor, (request.params as { id: number }).id, request.body as Partial<ClientInput>);
      return { ...presentClient(client, members), warnings };
    },
  );

  app.post(
    '/api/clients/:id/unmask',
    {
      config: { permission: 'personal_data.unmask' },
      schema: {
        tags: ['clients'],
        summary: 'Show a client’s full ID numbers, phone and address (audited, with the reason)',
        params: IdParams,
        body: Type.Object({ reason: Type.String({ minLength: 2, maxLength: 500 }) }, { additionalProperties: false }),
        response: responses({ 200: ClientSchema }),
      },
    },
    async (request) => {
      const { client, members } = await unmaskClient(ctx, request.actor, (request.params as { id: number }).id, (request.body as { reason: string }).reason);
      return presentClient(client, members, true);
    },
  );
};
