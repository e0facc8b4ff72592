import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { Empty, IdParams, responses } from '../../schemas.js';
import { ROLE_NAMES, ROLES, PERMISSIONS, can, type Permission } from '../auth/roles.js';
import { createUser, findUser, listUsers, ORG_UNIT_MAX_LENGTH, resetPassword, toPublicUser, unlockUser, updateUser, USERNAME_PATTERN } from './service.js';

const PublicUser = Type.Object(
  {
    id: Type.Integer(),
    username: Type.String(),
    display_name: Type.String(),
    role: Type.String(),
    disabled: Type.Boolean(),
    locked: Type.Boolean(),
    must_change_password: Type.Boolean(),
    last_login_at: Type.Union([Type.String(), Type.Null()]),
    created_at: Type.String(),
    office: Type.Union([Type.String(), Type.Null()]),
    department: Type.Union([Type.String(), Type.Null()]),
  },
  { additionalProperties: false },
);
/** An office or department name; an empty string or null clears it. */
const OrgUnit = Type.Union([Type.Null(), Type.String({ maxLength: ORG_UNIT_MAX_LENGTH })]);
const RoleName = Type.Union(ROLE_NAMES.map((r) => Type.Literal(r)));

export const userRoutes: FastifyPluginAsync = async (app) => {
  const ctx = app.services;

  app.get(
    '/api/roles',
    {
      schema: {
        tags: ['users'],
        summary: 'Roles and the permissions each grants',
        querystring: Empty,
        response: responses({ 200: Type.Array(Type.Object({ role: Type.String(), label_zh: Type.String(), label_en: Type.String(), permissions: Type.Array(Type.String()) }, { additionalProperties: false })) }),
      },
    },
    async () =>
      ROLE_NAMES.map((role) => ({ role, label_zh: ROLES[role].zh, label_en: ROLES[role].en, permissions: (Object.keys(PERMISSIONS) as Permission[]).filter((p) => can(role, p)) })),
  );

  app.get(
    '/api/users',
    { config: { permission: 'users.read' }, schema: { tags: ['users'], summary: 'List accounts', querystring: Empty, response: responses({ 200: Type.Array(PublicUser) }) } },
    async () => (await listUsers(ctx)).map((u) => toPublicUser(ctx, u)),
  );

  app.get(
    '/api/users/:id',
    { config: { permission: 'users.read' }, schema: { tags: ['users'], summary: 'One account', params: IdParams, querystring: Empty, response: responses({ 200: PublicUser }) } },
    async (request) => toPublicUser(ctx, await findUser(ctx, (request.params as { id: number }).id)),
  );

  app.post(
    '/api/users',
    {
      config: { permission: 'users.manage' },
      schema: {
        tags: ['users'],
        summary: 'Create an account with a temporary password the user must change at first login',
        body: Type.Object(
          {
            username: Type.String({ pattern: USERNAME_PATTERN }),
            display_name: Type.String({ minLength: 1, maxLength: 100 }),
            role: RoleName,
            password: Type.String({ minLength: 1, maxLength: 256 }),
            office: Type.Optional(OrgUnit),
            department: Type.Optional(OrgUnit),
          },
          { additionalProperties: false },
        ),
        response: responses({ 201: PublicUser }),
      },
    },
    async (request, reply) => {
      const b = request.body as { username: string; display_name: string; role: string; password: string; office?: string | null; department?: string | null };
      const user = await createUser(ctx, request.actor, {
        username: b.username,
        displayName: b.display_name,
        role: b.role,
        password: b.password,
        mustChangePassword: true,
        office: b.office,
        department: b.department,
      });
      reply.status(201);
      return toPublicUser(ctx, user);
    },
  );

  app.patch(
    '/api/users/:id',
    {
      config: { permission: 'users.manage' },
      schema: {
        tags: ['users'],
        summary: 'Change display name, role, office or department (empty or null clears them), or disable/enable an account',
        params: IdParams,
        body: Type.Object(
          {
            display_name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
            role: Type.Optional(RoleName),
            disabled: Type.Optional(Type.Boolean()),
            office: Type.Optional(OrgUnit),
            department: Type.Optional(OrgUnit),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: responses({ 200: PublicUser }),
      },
    },
    async (request) => toPublicUser(ctx, await updateUser(ctx, request.actor, (request.params as { id: number }).id, request.body as object)),
  );

  app.post(
    '/api/users/:id/unlock',
    { config: { permission: 'users.manage' }, schema: { tags: ['users'], summary: 'Lift a lockout', params: IdParams, body: Empty, response: responses({ 200: PublicUser }) } },
    async (request) => {
      const user = await findUser(ctx, (request.params as { id: number }).id);
      return toPublicUser(ctx, await unlockUser(ctx, request.actor, user.username));
    },
  );

  app.post(
    '/api/users/:id/password-reset',
    {
      config: { permission: 'users.manage' },
      schema: {
        tags: ['users'],
        summary: 'Set a temporary password; the user must change it at next login and loses open sessions',
        params: IdParams,
        body: Type.Object({ temporary_password: Type.String({ minLength: 1, maxLength: 256 }) }, { additionalProperties: false }),
        response: responses({ 200: PublicUser }),
      },
    },
    async (request) => toPublicUser(ctx, await resetPassword(ctx, request.actor, (request.params as { id: number }).id, (request.body as { temporary_password: string }).temporary_password)),
  );
};
