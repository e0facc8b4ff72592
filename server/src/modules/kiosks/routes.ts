import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { Empty, IdParams, Nullable, responses } from '../../schemas.js';
import { KIOSK_COOKIE } from '../../plugins/auth.js';
import { ENTITY_ID } from '../agents/service.js';
import { KIOSK_KINDS } from '../auth/roles.js';
import { createKiosk, enrolKiosk, listKiosks, presentKiosk, renewEnrolment, revokeKiosk, type KioskInput } from './service.js';

const KioskKindSchema = Type.Union(KIOSK_KINDS.map((k) => Type.Literal(k)));
export const KioskSchema = Type.Object(
  {
    id: Type.Integer(),
    name: Type.String(),
    kind: KioskKindSchema,
    room_id: Nullable(Type.String()),
    id_reader_device: Nullable(Type.String()),
    status: Type.Union([Type.Literal('pending'), Type.Literal('enrolled'), Type.Literal('revoked')]),
    enrolment_expires_at: Nullable(Type.String()),
    enrolled_at: Nullable(Type.String()),
    last_seen_at: Nullable(Type.String()),
    created_at: Type.String(),
  },
  { additionalProperties: false },
);
const WithCode = Type.Object(
  { kiosk: KioskSchema, enrolment_code: Type.String({ description: 'one-time code, shown this once; type it in at the screen or open /kiosk/<kind>?enrol=<code>' }) },
  { additionalProperties: false },
);

/** Kiosks (lobby check-in, meeting terminals, wall screens): enrolment by an administrator, then each screen's own token. */
export const kiosksRoutes: FastifyPluginAsync = async (app) => {
  const ctx = app.services;
  const cookieOptions = { path: '/', httpOnly: true, sameSite: 'strict' as const, secure: ctx.config.tlsMode !== 'off', maxAge: 10 * 365 * 24 * 3600 };

  app.get(
    '/api/kiosks',
    { config: { permission: 'devices.read' }, schema: { tags: ['kiosks'], summary: 'Kiosks and their enrolment state', querystring: Empty, response: responses({ 200: Type.Array(KioskSchema) }) } },
    async () => listKiosks(ctx),
  );

  app.post(
    '/api/kiosks',
    {
      config: { permission: 'devices.manage' },
      schema: {
        tags: ['kiosks'],
        summary: 'Register a kiosk; its one-time enrolment code is returned once',
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 100 }),
            kind: KioskKindSchema,
            room_id: Type.Optional(Nullable(Type.String({ pattern: ENTITY_ID }))),
            id_reader_device: Type.Optional(Nullable(Type.String({ pattern: ENTITY_ID }))),
          },
          { additionalProperties: false },
        ),
        response: responses({ 201: WithCode }),
      },
    },
    async (request, reply) => {
      reply.code(201);
      return createKiosk(ctx, request.actor, request.body as KioskInput);
    },
  );

  app.post(
    '/api/kiosks/:id/enrolment',
    { config: { permission: 'devices.manage' }, schema: { tags: ['kiosks'], summary: 'A new enrolment code (the current token stops working)', params: IdParams, body: Empty, response: responses({ 200: WithCode }) } },
    async (request) => renewEnrolment(ctx, request.actor, (request.params as { id: number }).id),
  );

  app.post(
    '/api/kiosks/:id/revoke',
    { config: { permission: 'devices.manage' }, schema: { tags: ['kiosks'], summary: 'Revoke a kiosk: its screen is signed out at once', params: IdParams, body: Empty, response: responses({ 200: KioskSchema }) } },
    async (request) => revokeKiosk(ctx, request.actor, (request.params as { id: number }).id),
  );

  app.post(
    '/api/kiosk/enrol',
    {
      config: { public: true, rateLimit: { max: ctx.config.authRateLimitPerMinute, timeWindow: '1 minute' } },
      schema: {
        tags: ['kiosks'],
        summary: 'At the screen: exchange the enrolment code for the kiosk’s token (also set as an httpOnly cookie)',
        body: Type.Object({ code: Type.String({ minLength: 4, maxLength: 40 }) }, { additionalProperties: false }),
        response: responses({ 200: Type.Object({ token: Type.String(), kiosk: KioskSchema }, { additionalProperties: false }) }),
      },
    },
    async (request, reply) => {
      const result = await enrolKiosk(ctx, (request.body as { code: string }).code, request.ip);
      reply.setCookie(KIOSK_COOKIE, result.token, cookieOptions);
      return result;
    },
  );

  app.get(
    '/api/kiosk/me',
    { config: { kiosk: KIOSK_KINDS }, schema: { tags: ['kiosks'], summary: 'The calling kiosk (401 KIOSK_AUTH_REQUIRED when not enrolled)', querystring: Empty, response: responses({ 200: KioskSchema }) } },
    async (request) => presentKiosk(await ctx.db.selectFrom('kiosks').selectAll().where('id', '=', request.kiosk!.id).executeTakeFirstOrThrow()),
  );
};
