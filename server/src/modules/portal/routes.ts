import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { Empty, IdParams, Nullable, Ok, responses } from '../../schemas.js';
import { PORTAL_COOKIE } from '../../plugins/auth.js';
import { PORTAL_SESSION_DAYS, createPortalCode, enterPortal, leavePortal, portalOverview, revokePortalSessions } from './service.js';

const Overview = Type.Object(
  {
    client: Type.Object({ id: Type.Integer(), name: Type.String() }, { additionalProperties: false }),
    matters: Type.Array(
      Type.Object(
        {
          id: Type.Integer(),
          number: Type.String(),
          title: Type.String(),
          type: Type.String(),
          status: Type.String(),
          lawyer_name: Type.String(),
          opened_at: Nullable(Type.String()),
          closed_at: Nullable(Type.String()),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

/** The client portal's entry: staff hand out access codes; the client's browser exchanges one for a session. */
export const portalRoutes: FastifyPluginAsync = async (app) => {
  const ctx = app.services;
  const cookieOptions = { path: '/', httpOnly: true, sameSite: 'strict' as const, secure: ctx.config.tlsMode !== 'off', maxAge: PORTAL_SESSION_DAYS * 86_400 };

  app.post(
    '/api/clients/:id/portal-code',
    {
      config: { permission: 'clients.manage' },
      schema: {
        tags: ['portal'],
        summary: 'A one-time access code to the client portal for this client (shown once, valid 7 days)',
        params: IdParams,
        body: Empty,
        response: responses({ 201: Type.Object({ code: Type.String(), link: Type.String(), expires_at: Type.String(), client_name: Type.String() }, { additionalProperties: false }) }),
      },
    },
    async (request, reply) => {
      reply.code(201);
      return createPortalCode(ctx, request.actor, (request.params as { id: number }).id);
    },
  );

  app.post(
    '/api/clients/:id/portal-revoke',
    { config: { permission: 'clients.manage' }, schema: { tags: ['portal'], summary: 'Sign the client out of the portal everywhere and void unused codes', params: IdParams, body: Empty, response: responses({ 200: Type.Object({ revoked: Type.Integer() }, { additionalProperties: false }) }) } },
    async (request) => ({ revoked: await revokePortalSessions(ctx, request.actor, (request.params as { id: number }).id) }),
  );

  app.post(
    '/api/portal/enter',
    {
      config: { public: true, rateLimit: { max: ctx.config.authRateLimitPerMinute, timeWindow: '1 minute' } },
      schema: {
        tags: ['portal'],
        summary: 'The client exchanges an access code for a portal session (set as an httpOnly cookie)',
        body: Type.Object({ code: Type.String({ minLength: 4, maxLength: 40 }) }, { additionalProperties: false }),
        response: responses({ 200: Overview }),
      },
    },
    async (request, reply) => {
      const entered = await enterPortal(ctx, (request.body as { code: string }).code, request.ip);
      reply.setCookie(PORTAL_COOKIE, entered.token, cookieOptions);
      return portalOverview(ctx, entered.client_id);
    },
  );

  app.get(
    '/api/portal/me',
    { config: { portal: true }, schema: { tags: ['portal'], summary: 'The client and its matters', querystring: Empty, response: responses({ 200: Overview }) } },
    async (request) => portalOverview(ctx, request.portal!.clientId),
  );

  app.post(
    '/api/portal/leave',
    { config: { portal: true }, schema: { tags: ['portal'], summary: 'Sign out of the portal on this device', body: Empty, response: responses({ 200: Ok }) } },
    async (request, reply) => {
      await leavePortal(ctx, request.portal!, request.actor);
      reply.clearCookie(PORTAL_COOKIE, { path: '/' });
      return { ok: true as const };
    },
  );
};
