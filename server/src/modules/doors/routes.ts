import type { FastifyPluginAsync } from 'fastify';
import { ENTITY_ID } from '../agents/service.js';
import { Type } from 'typebox';
import { Empty, IdParams, Nullable, responses } from '../../schemas.js';
import { notFound } from '../../errors.js';
import type { DoorRow } from '../../db/schema.js';
import { currentPublicKey, startAccessListPublisher, storedAccessList } from './access-list.js';
import {
  createCredential,
  createDoor,
  issueVisitorPass,
  listCredentials,
  listDoors,
  revokeCredential,
  revokeVisitorPass,
  updateDoor,
  type CredentialInput,
  type DoorInput,
  type VisitorPassInput,
} from './service.js';

/** An id that appears in MQTT topics and payloads: doors, agents, devices. */
const EntityId = (description?: string) => Type.String({ pattern: ENTITY_ID, ...(description ? { description } : {}) });
const EntityParams = Type.Object({ id: EntityId() }, { additionalProperties: false });
const FailMode = Type.Union([Type.Literal('fail_secure'), Type.Literal('fail_safe')], { description: 'fail_secure stays locked without power; fail_safe releases (fire egress)' });
const DateTime = Type.String({ format: 'date-time' });
const Window = Type.Object(
  {
    days: Type.Array(Type.Integer({ minimum: 1, maximum: 7 }), { minItems: 1, maxItems: 7, uniqueItems: true, description: 'ISO weekdays, 1 = Monday … 7 = Sunday' }),
    from: Type.String({ pattern: '^(?:[01][0-9]|2[0-3]):[0-5][0-9]$', examples: ['08:00'], description: 'HH:MM Beijing time, inclusive' }),
    to: Type.String({ pattern: '^(?:(?:[01][0-9]|2[0-3]):[0-5][0-9]|24:00)$', examples: ['20:00'], description: 'HH:MM Beijing time, exclusive; 24:00 for the end of the day' }),
  },
  { additionalProperties: false },
);
const DoorIds = Type.Array(EntityId(), { minItems: 1, maxItems: 128, uniqueItems: true });
const CardNumber = Type.String({ minLength: 2, maxLength: 64, examples: ['12345640'], description: 'hexadecimal as the reader reports it; separators (space, colon, dash) are ignored' });

const doorFields = {
  agent_id: EntityId('the device agent that drives this door’s lock and readers'),
  name: Type.String({ minLength: 1, maxLength: 100 }),
  lock_device: EntityId('the device that releases the lock (a relay board or an OSDP controller)'),
  relay_channel: Type.Optional(Nullable(Type.Integer({ minimum: 1, maximum: 16 }))),
  readers: Type.Array(EntityId(), { minItems: 1, maxItems: 16, uniqueItems: true, description: 'devices whose reads open this door; a reader serves one door' }),
  pulse_ms: Type.Integer({ minimum: 100, maximum: 60_000, default: 3000 }),
  fail_mode: FailMode,
};
const DoorBody = Type.Object(doorFields, { additionalProperties: false });

const DoorSchema = Type.Object(
  {
    id: Type.String(),
    agent_id: Type.String(),
    name: Type.String(),
    lock_device: Type.String(),
    relay_channel: Nullable(Type.Integer()),
    readers: Type.Array(Type.String()),
    pulse_ms: Type.Integer(),
    fail_mode: Type.String(),
    created_at: Type.String(),
    updated_at: Type.String(),
  },
  { additionalProperties: false },
);

const CredentialSchema = Type.Object(
  {
    id: Type.Integer(),
    kind: Type.String(),
    medium: Type.String(),
    card_number: Nullable(Type.String()),
    holder_user_id: Nullable(Type.Integer()),
    visitor_name: Nullable(Type.String()),
    doors: Type.Array(Type.String()),
    windows: Type.Array(Window),
    valid_from: Nullable(Type.String()),
    valid_until: Nullable(Type.String()),
    revoked_at: Nullable(Type.String()),
    created_by: Nullable(Type.Integer()),
    created_at: Type.String(),
    status: Type.Union([Type.Literal('active'), Type.Literal('expired'), Type.Literal('revoked')]),
  },
  { additionalProperties: false },
);
const IssuedSchema = Type.Object(
  { ...CredentialSchema.properties, token: Nullable(Type.String({ description: 'the QR code’s content, shown this once and never stored' })) },
  { additionalProperties: false },
);

// The signed list in full: a property left out here would be dropped from the answer and break its signature.
const AccessListSchema = Type.Object(
  {
    version: Type.Integer(),
    agent: Type.String(),
    issued_at: Type.String(),
    expires_at: Type.Optional(Type.String()),
    timezone: Type.String(),
    credential_salt: Type.Optional(Type.String()),
    doors: Type.Array(
      Type.Object(
        {
          door: Type.String(),
          name: Type.Optional(Type.String()),
          device: Type.String(),
          relay_channel: Type.Optional(Type.Integer()),
          readers: Type.Array(Type.String()),
          pulse_ms: Type.Integer(),
          fail_mode: Type.String(),
        },
        { additionalProperties: false },
      ),
    ),
    credentials: Type.Array(
      Type.Object(
        {
          credential: Type.String(),
          kind: Type.String(),
          holder: Type.Optional(Type.String()),
          doors: Type.Array(Type.String()),
          windows: Type.Array(Window),
          valid_from: Type.Optional(Type.String()),
          valid_until: Type.Optional(Type.String()),
        },
        { additionalProperties: false },
      ),
    ),
    signature: Type.Object({ alg: Type.String(), key_id: Type.String(), value: Type.String() }, { additionalProperties: false }),
  },
  { additionalProperties: false },
);

const presentDoor = (d: DoorRow) => ({ ...d, created_at: d.created_at.toISOString(), updated_at: d.updated_at.toISOString() });

export const doorsRoutes: FastifyPluginAsync = async (app) => {
  const ctx = app.services;
  // Lists reach the agents from committed changes, whichever process or job made them.
  const publisher = await startAccessListPublisher(ctx, app.database, app.mqtt.client, app.log);
  app.addHook('onClose', publisher.stop);

  app.get(
    '/api/doors',
    { config: { permission: 'devices.read' }, schema: { tags: ['doors'], summary: 'Doors with their lock, readers and agent', querystring: Empty, response: responses({ 200: Type.Array(DoorSchema) }) } },
    async () => (await listDoors(ctx)).map(presentDoor),
  );

  app.post(
    '/api/doors',
    {
      config: { permission: 'doors.manage' },
      schema: {
        tags: ['doors'],
        summary: 'Add a door (门禁点); its agent’s access list is signed and published again',
        body: Type.Object({ id: EntityId('door id, as it appears in the access list and in door events'), ...doorFields }, { additionalProperties: false }),
        response: responses({ 201: DoorSchema }),
      },
    },
    async (request, reply) => {
      const { id, ...input } = request.body as DoorInput & { id: string };
      const door = await createDoor(ctx, request.actor, id, input);
      reply.status(201);
      return presentDoor(door);
    },
  );

  app.put(
    '/api/doors/:id',
    {
      config: { permission: 'doors.manage' },
      schema: { tags: ['doors'], summary: 'Replace a door’s settings (its lock, readers, agent…); the lists concerned are published again', params: EntityParams, body: DoorBody, response: responses({ 200: DoorSchema }) },
    },
    async (request) => presentDoor(await updateDoor(ctx, request.actor, (request.params as { id: string }).id, request.body as DoorInput)),
  );

  app.get(
    '/api/doors/signing-key',
    {
      config: { permission: 'devices.read' },
      schema: {
        tags: ['doors'],
        summary: 'The public key access lists are signed with: install it as <key_id>.pem in each agent’s LAWBOX_AGENT_TRUSTED_KEYS directory',
        querystring: Empty,
        response: responses({ 200: Type.Object({ key_id: Type.String(), alg: Type.Literal('ed25519'), public_pem: Type.String() }, { additionalProperties: false }) }),
      },
    },
    async () => currentPublicKey(ctx),
  );

  app.get(
    '/api/access-credentials',
    {
      config: { permission: 'doors.manage' },
      schema: {
        tags: ['doors'],
        summary: 'Access credentials (cards, QR codes, visitor passes) with their doors; active ones unless status=all',
        querystring: Type.Object(
          {
            kind: Type.Optional(Type.Union([Type.Literal('card'), Type.Literal('qr'), Type.Literal('visitor_pass')])),
            status: Type.Union([Type.Literal('active'), Type.Literal('all')], { default: 'active' }),
          },
          { additionalProperties: false },
        ),
        response: responses({ 200: Type.Array(CredentialSchema) }),
      },
    },
    async (request) => listCredentials(ctx, request.query as Parameters<typeof listCredentials>[1]),
  );

  app.post(
    '/api/access-credentials',
    {
      config: { permission: 'doors.manage' },
      schema: {
        tags: ['doors'],
        summary: 'Register a staff card or QR code with the doors it opens and when; a QR code’s token is returned once',
        body: Type.Object(
          {
            kind: Type.Union([Type.Literal('card'), Type.Literal('qr')]),
            card_number: Type.Optional(Nullable(CardNumber)),
            holder_user_id: Type.Optional(Nullable(Type.Integer({ minimum: 1, maximum: 2_147_483_647 }))),
            doors: DoorIds,
            windows: Type.Array(Window, { minItems: 1, maxItems: 28, description: 'weekly windows; all hours is {days:[1..7], from:"00:00", to:"24:00"}' }),
            valid_from: Type.Optional(Nullable(DateTime)),
            valid_until: Type.Optional(Nullable(DateTime)),
          },
          { additionalProperties: false },
        ),
        response: responses({ 201: IssuedSchema }),
      },
    },
    async (request, reply) => {
      const { credential, token } = await createCredential(ctx, request.actor, request.body as CredentialInput);
      reply.status(201);
      return { ...credential, token };
    },
  );

  app.post(
    '/api/access-credentials/:id/revoke',
    {
      config: { permission: 'doors.manage' },
      schema: { tags: ['doors'], summary: 'Revoke a credential; the next lists leave it out', params: IdParams, body: Empty, response: responses({ 200: CredentialSchema }) },
    },
    async (request) => revokeCredential(ctx, request.actor, (request.params as { id: number }).id),
  );

  app.post(
    '/api/visitor-passes',
    {
      config: { permission: 'visitor_passes.issue' },
      schema: {
        tags: ['doors'],
        summary: 'Issue a visitor pass: a QR code (token returned once, never stored) or a visitor card, valid 24 h unless said otherwise (7 days at most)',
        body: Type.Object(
          {
            visitor_name: Type.String({ minLength: 1, maxLength: 100, description: 'display name only (no ID number)' }),
            doors: DoorIds,
            valid_until: Type.Optional(Nullable(DateTime)),
            kind: Type.Union([Type.Literal('qr'), Type.Literal('card')]),
            card_number: Type.Optional(Nullable(CardNumber)),
          },
          { additionalProperties: false },
        ),
        response: responses({ 201: IssuedSchema }),
      },
    },
    async (request, reply) => {
      const { pass, token } = await issueVisitorPass(ctx, request.actor, request.body as VisitorPassInput);
      reply.status(201);
      return { ...pass, token };
    },
  );

  app.post(
    '/api/visitor-passes/:id/revoke',
    {
      config: { permission: 'visitor_passes.issue' },
      schema: { tags: ['doors'], summary: 'Revoke a visitor pass (the visitor left, a card was lost)', params: IdParams, body: Empty, response: responses({ 200: CredentialSchema }) },
    },
    async (request) => revokeVisitorPass(ctx, request.actor, (request.params as { id: number }).id),
  );

  app.get(
    '/api/agents/:id/access-list',
    {
      config: { permission: 'devices.read' },
      schema: {
        tags: ['doors'],
        summary: 'The signed access list last published to an agent, as published (for diagnosis)',
        params: EntityParams,
        querystring: Empty,
        response: responses({ 200: Type.Object({ agent_id: Type.String(), version: Type.Integer(), published_at: Type.String(), sha256: Type.String(), list: AccessListSchema }, { additionalProperties: false }) }),
      },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      const stored = await storedAccessList(ctx.db, id);
      if (!stored) throw notFound('ACCESS_LIST_NOT_FOUND', `No access list was published for agent ${id}; it has no doors. / 该设备代理尚无门禁名单。`);
      return { agent_id: id, version: stored.version, published_at: stored.published_at.toISOString(), sha256: stored.sha256, list: stored.list };
    },
  );
};
