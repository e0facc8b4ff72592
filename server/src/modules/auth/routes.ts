import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { Empty, Ok, responses } from '../../schemas.js';
import { SESSION_COOKIE } from '../../plugins/auth.js';
import { changeOwnPassword, login, logout, type SessionUser } from './service.js';
import { completeSetup } from '../users/service.js';
import { PERMISSIONS, ROLES, can, type Permission } from './roles.js';

const UserView = Type.Object(
  {
    id: Type.Integer(),
    username: Type.String(),
    display_name: Type.String(),
    role: Type.String(),
    role_label: Type.String(),
    password_change_required: Type.Boolean(),
    permissions: Type.Array(Type.String()),
  },
  { additionalProperties: false },
);

const userView = (u: SessionUser) => ({
  id: u.id,
  username: u.username,
  display_name: u.displayName,
  role: u.role,
  role_label: ROLES[u.role as keyof typeof ROLES]?.zh ?? u.role,
  password_change_required: u.passwordChangeRequired,
  permissions: (Object.keys(PERMISSIONS) as Permission[]).filter((p) => can(u.role, p)),
});

const Credentials = Type.Object(
  { username: Type.String({ minLength: 1, maxLength: 64 }), password: Type.String({ minLength: 1, maxLength: 256 }) },
  { additionalProperties: false },
);

export const authRoutes: FastifyPluginAsync = async (app) => {
  const authRateLimit = { max: app.services.config.authRateLimitPerMinute, timeWindow: '1 minute' };
  const cookieOptions = {
    path: '/',
    httpOnly: true,
    sameSite: 'strict' as const,
    secure: app.services.config.tlsMode !== 'off',
  };

  app.post(
    '/api/auth/login',
    {
      config: { public: true, rateLimit: authRateLimit },
      schema: { tags: ['auth'], summary: 'Sign in with username and password', body: Credentials, response: responses({ 200: Type.Object({ token: Type.String(), expires_at: Type.String(), user: UserView }, { additionalProperties: false }) }) },
    },
    async (request, reply) => {
      const { username, password } = request.body as { username: string; password: string };
      const { token, session } = await login(app.services, username.trim().toLowerCase(), password, { ip: request.ip, userAgent: request.headers['user-agent'] ?? null });
      reply.setCookie(SESSION_COOKIE, token, { ...cookieOptions, expires: session.expiresAt });
      return { token, expires_at: session.expiresAt.toISOString(), user: userView(session.user) };
    },
  );

  app.post(
    '/api/auth/logout',
    { config: { allowDuringPasswordChange: true }, schema: { tags: ['auth'], summary: 'End this session', body: Empty, response: responses({ 200: Ok }) } },
    async (request, reply) => {
      await logout(app.services, request.session!, request.actor);
      reply.clearCookie(SESSION_COOKIE, { path: '/' });
      return { ok: true as const };
    },
  );

  app.post(
    '/api/auth/password',
    {
      config: { allowDuringPasswordChange: true, rateLimit: authRateLimit },
      schema: {
        tags: ['auth'],
        summary: 'Change your own password (also the forced change at first login)',
        body: Type.Object({ current_password: Type.String({ minLength: 1, maxLength: 256 }), new_password: Type.String({ minLength: 1, maxLength: 256 }) }, { additionalProperties: false }),
        response: responses({ 200: Ok }),
      },
    },
    async (request) => {
      const body = request.body as { current_password: string; new_password: string };
      await changeOwnPassword(app.services, request.session!, request.actor, body.current_password, body.new_password);
      return { ok: true as const };
    },
  );

  app.get(
    '/api/me',
    { config: { allowDuringPasswordChange: true }, schema: { tags: ['auth'], summary: 'The signed-in user', querystring: Empty, response: responses({ 200: UserView }) } },
    async (request) => userView(request.session!.user),
  );

  app.post(
    '/api/setup',
    {
      config: { public: true, rateLimit: authRateLimit },
      schema: {
        tags: ['auth'],
        summary: 'Create the first security administrator with the one-time setup token printed at first start',
        body: Type.Object(
          {
            setup_token: Type.String({ minLength: 1, maxLength: 200 }),
            username: Type.String({ minLength: 2, maxLength: 64 }),
            display_name: Type.String({ minLength: 1, maxLength: 100 }),
            password: Type.String({ minLength: 1, maxLength: 256 }),
          },
          { additionalProperties: false },
        ),
        response: responses({ 201: Type.Object({ username: Type.String(), role: Type.String() }, { additionalProperties: false }) }),
      },
    },
    async (request, reply) => {
      const b = request.body as { setup_token: string; username: string; display_name: string; password: string };
      const user = await completeSetup(app.services, request.ip, b.setup_token, { username: b.username, displayName: b.display_name, password: b.password });
      reply.status(201);
      return { username: user.username, role: user.role };
    },
  );
};
