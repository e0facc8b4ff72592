import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { Empty, Id, IdParams, Nullable, responses } from '../../schemas.js';
import { registerTopic, usersWith } from '../realtime/hub.js';
import {
  cancelVisit,
  checkOutVisit,
  createInvitation,
  decideVisit,
  getRollCall,
  getVisit,
  kioskCheckIn,
  kioskCheckOut,
  listHosts,
  listOnSite,
  listVisits,
  lookupInvitation,
  markAccounted,
  readIdCard,
  startRollCall,
  updateVisitorSettings,
  VISITOR_SETTING_LIMITS,
  visitorSettings,
  type CheckInInput,
  type InvitationInput,
  type VisitFilter,
  type VisitorSettings,
} from './service.js';

const STATUSES = ['invited', 'flagged', 'checked_in', 'checked_out', 'denied', 'cancelled', 'expired'] as const;
const Status = Type.Union(STATUSES.map((s) => Type.Literal(s)));
const DateTime = Type.String({ format: 'date-time' });
const Name = Type.String({ minLength: 1, maxLength: 100 });
const Purpose = Type.String({ minLength: 1, maxLength: 200 });
const IdNumber = Type.String({ minLength: 5, maxLength: 30, description: 'resident ID (18 characters, check digit verified) or a passport or permit number' });
const Phone = Type.String({ pattern: '^\\+?[0-9][0-9 ()（）-]{4,24}$', examples: ['13812345678'] });
const Organization = Type.String({ minLength: 1, maxLength: 200 });
const InviteCode = Type.String({ minLength: 8, maxLength: 20, description: 'the 8-character code, or the QR payload LBV1:<code>' });
const ReadId = Type.String({ pattern: '^[A-Za-z0-9_-]{16,64}$', description: 'from POST /api/kiosk/lobby/id-card/read', examples: ['Zm9vYmFyYmF6cXV4cXV1'] });
const QrToken = Type.String({ pattern: '^[A-Za-z2-7]{16,64}$', description: 'the visitor pass QR code', examples: ['MFRGGZDFMZTWQ2LKNNWG23TP'] });

const Visit = Type.Object(
  {
    id: Type.Integer(),
    visitor_name: Type.String(),
    id_number_masked: Nullable(Type.String()),
    phone_masked: Nullable(Type.String()),
    organization: Nullable(Type.String()),
    purpose: Type.String(),
    host: Type.Object({ id: Type.Integer(), display_name: Type.String() }, { additionalProperties: false }),
    matter: Nullable(Type.Object({ id: Type.Integer(), number: Type.String() }, { additionalProperties: false })),
    status: Status,
    source: Type.Union([Type.Literal('invitation'), Type.Literal('walk_in')]),
    expected_at: Nullable(Type.String()),
    checked_in_at: Nullable(Type.String()),
    checked_out_at: Nullable(Type.String()),
    screening: Nullable(
      Type.Object(
        {
          flagged: Type.Boolean(),
          matches: Type.Array(Type.Object({ matter_number: Type.String(), party_role: Type.String(), match: Type.String() }, { additionalProperties: false }), {
            description: 'empty unless the caller may review conflicts or runs the front desk',
          }),
        },
        { additionalProperties: false },
      ),
    ),
    pass: Nullable(
      Type.Object(
        { id: Type.Integer(), kind: Type.Union([Type.Literal('qr'), Type.Literal('card')]), valid_until: Type.String(), doors: Type.Array(Type.String(), { description: 'door ids' }) },
        { additionalProperties: false },
      ),
    ),
    created_at: Type.String(),
  },
  { additionalProperties: false },
);
const KioskVisit = Type.Object(
  {
    id: Type.Integer(),
    visitor_name_masked: Type.String(),
    host_name: Type.String({ description: 'masked' }),
    purpose: Type.String(),
    status: Type.Union([...STATUSES.map((s) => Type.Literal(s)), Type.Literal('pending_review')], { description: 'a flagged visit shows as pending_review' }),
    expected_at: Nullable(Type.String()),
    valid_until: Nullable(Type.String({ description: 'the pass’s end once checked in, else the invitation’s' })),
  },
  { additionalProperties: false },
);
const IssuedPass = Type.Object(
  { qr_token: Type.String({ description: 'shown this once' }), valid_until: Type.String(), doors: Type.Array(Type.String(), { description: 'door names' }) },
  { additionalProperties: false },
);
const RollCall = Type.Object(
  {
    id: Type.Integer(),
    started_at: Type.String(),
    entries: Type.Array(
      Type.Object({ visit_id: Type.Integer(), visitor_name: Type.String(), host_name: Type.String(), checked_in_at: Type.String(), accounted_at: Nullable(Type.String()) }, { additionalProperties: false }),
    ),
  },
  { additionalProperties: false },
);
const Settings = Type.Object(
  {
    retention_days: Type.Integer({ ...VISITOR_SETTING_LIMITS.retention_days, description: 'personal data of a visit is purged this many days after it ended' }),
    pass_doors: Type.Array(Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,63}$' }), { maxItems: 128, uniqueItems: true, description: 'doors a visitor pass opens; none: no pass is issued' }),
    pass_hours: Type.Integer({ ...VISITOR_SETTING_LIMITS.pass_hours, description: 'how long a pass lasts from check-in' }),
  },
  { additionalProperties: false },
);
const RollCallEntryParams = Type.Object({ id: Id(), visit_id: Id() }, { additionalProperties: false });

/** Visitor management: the hosts' and the front desk's routes, and the lobby kiosk's. */
export const visitorsRoutes: FastifyPluginAsync = async (app) => {
  const ctx = app.services;
  registerTopic('visitors', usersWith('visitors.manage'));
  registerTopic('lobby', (who, qualifier) => who.kiosk?.kind === 'lobby' && qualifier === String(who.kiosk.id));

  app.post(
    '/api/visitors/invitations',
    {
      config: { permission: 'visitors.invite' },
      schema: {
        tags: ['visitors'],
        summary: 'Pre-register a visitor (screened for conflicts at once); the invitation code is returned this once',
        body: Type.Object(
          {
            visitor_name: Name,
            id_number: Type.Optional(Nullable(IdNumber)),
            phone: Type.Optional(Nullable(Phone)),
            organization: Type.Optional(Nullable(Organization)),
            purpose: Purpose,
            host_user_id: Type.Optional(Id({ description: 'default: the caller; only the front desk (visitors.manage) may name another host' })),
            matter_id: Type.Optional(Nullable(Id())),
            expected_at: DateTime,
            valid_hours: Type.Optional(Type.Integer({ minimum: 1, maximum: 24, default: 4, description: 'the code works from the start of that day until expected_at plus this' })),
          },
          { additionalProperties: false },
        ),
        response: responses({
          201: Type.Object({ visit: Visit, invite_code: Type.String({ pattern: '^[A-Z2-9]{8}$' }), qr_payload: Type.String({ description: 'LBV1:<code>' }) }, { additionalProperties: false }),
        }),
      },
    },
    async (request, reply) => {
      reply.code(201);
      return createInvitation(ctx, request.actor, request.body as InvitationInput);
    },
  );

  app.get(
    '/api/visitors/visits',
    {
      config: { permission: 'visitors.invite' },
      schema: {
        tags: ['visitors'],
        summary: 'Visits, latest first: the front desk sees all, reviewers also every flagged one, hosts their own',
        querystring: Type.Object({ status: Type.Optional(Status), from: Type.Optional(DateTime), to: Type.Optional(DateTime) }, { additionalProperties: false }),
        response: responses({ 200: Type.Array(Visit) }),
      },
    },
    async (request) => listVisits(ctx, request.actor, request.query as VisitFilter),
  );

  app.get(
    '/api/visitors/visits/:id',
    { config: { permission: 'visitors.invite' }, schema: { tags: ['visitors'], summary: 'One visit', params: IdParams, querystring: Empty, response: responses({ 200: Visit }) } },
    async (request) => getVisit(ctx, request.actor, (request.params as { id: number }).id),
  );

  app.post(
    '/api/visitors/visits/:id/check-out',
    { config: { permission: 'visitors.manage' }, schema: { tags: ['visitors'], summary: 'Check a visitor out; the pass stops opening doors', params: IdParams, body: Empty, response: responses({ 200: Visit }) } },
    async (request) => checkOutVisit(ctx, request.actor, (request.params as { id: number }).id),
  );

  app.post(
    '/api/visitors/visits/:id/decision',
    {
      config: { permission: 'conflicts.review' },
      schema: {
        tags: ['visitors'],
        summary: 'Admit or deny a flagged visitor; admitting one waiting in the lobby issues the pass and tells the kiosk',
        params: IdParams,
        body: Type.Object({ decision: Type.Union([Type.Literal('admit'), Type.Literal('deny')]), note: Type.String({ minLength: 1, maxLength: 1000 }) }, { additionalProperties: false }),
        response: responses({ 200: Type.Object({ visit: Visit, pass: Nullable(IssuedPass) }, { additionalProperties: false }) }),
      },
    },
    async (request) => decideVisit(ctx, request.actor, (request.params as { id: number }).id, request.body as { decision: 'admit' | 'deny'; note: string }),
  );

  app.post(
    '/api/visitors/visits/:id/cancel',
    { config: { permission: 'visitors.invite' }, schema: { tags: ['visitors'], summary: 'Cancel a visit not yet arrived (its host or the front desk)', params: IdParams, body: Empty, response: responses({ 200: Visit }) } },
    async (request) => cancelVisit(ctx, request.actor, (request.params as { id: number }).id),
  );

  app.get(
    '/api/visitors/on-site',
    { config: { permission: 'visitors.manage' }, schema: { tags: ['visitors'], summary: 'Visitors in the building now (arrived, not left)', querystring: Empty, response: responses({ 200: Type.Array(Visit) }) } },
    async (request) => listOnSite(ctx, request.actor),
  );

  app.post(
    '/api/visitors/roll-calls',
    { config: { permission: 'visitors.manage' }, schema: { tags: ['visitors'], summary: 'Start an evacuation roll call of every visitor on site', body: Empty, response: responses({ 201: RollCall }) } },
    async (request, reply) => {
      reply.code(201);
      return startRollCall(ctx, request.actor);
    },
  );

  app.get(
    '/api/visitors/roll-calls/:id',
    { config: { permission: 'visitors.manage' }, schema: { tags: ['visitors'], summary: 'A roll call and who is accounted for', params: IdParams, querystring: Empty, response: responses({ 200: RollCall }) } },
    async (request) => getRollCall(ctx, request.actor, (request.params as { id: number }).id),
  );

  app.post(
    '/api/visitors/roll-calls/:id/entries/:visit_id/accounted',
    { config: { permission: 'visitors.manage' }, schema: { tags: ['visitors'], summary: 'Mark a visitor as found at the assembly point', params: RollCallEntryParams, body: Empty, response: responses({ 200: RollCall }) } },
    async (request) => {
      const { id, visit_id } = request.params as { id: number; visit_id: number };
      return markAccounted(ctx, request.actor, id, visit_id);
    },
  );

  app.get(
    '/api/visitors/settings',
    { config: { permission: 'visitors.manage' }, schema: { tags: ['visitors'], summary: 'Visitor pass doors and hours, retention of visitor data', querystring: Empty, response: responses({ 200: Settings }) } },
    async () => visitorSettings(ctx.db),
  );

  app.put(
    '/api/visitors/settings',
    { config: { permission: 'practice.configure' }, schema: { tags: ['visitors'], summary: 'Change the visitor settings (audited)', body: Settings, response: responses({ 200: Settings }) } },
    async (request) => updateVisitorSettings(ctx, request.actor, request.body as VisitorSettings),
  );

  // The lobby kiosk: every name it gets is masked, and it never gets an ID number.

  app.get(
    '/api/kiosk/lobby/hosts',
    {
      config: { kiosk: ['lobby'] },
      schema: {
        tags: ['visitors'],
        summary: 'Staff a walk-in visitor may name as host (names masked)',
        querystring: Type.Object({ q: Type.Optional(Type.String({ maxLength: 50, description: 'part of the name or department' })) }, { additionalProperties: false }),
        response: responses({ 200: Type.Array(Type.Object({ id: Type.Integer(), display_name: Type.String(), department: Nullable(Type.String()) }, { additionalProperties: false })) }),
      },
    },
    async (request) => listHosts(ctx, request.actor, (request.query as { q?: string }).q),
  );

  app.post(
    '/api/kiosk/lobby/invitations/lookup',
    {
      config: { kiosk: ['lobby'] },
      schema: {
        tags: ['visitors'],
        summary: 'Find an invitation by its code (404 unknown, 409 withdrawn, 410 expired)',
        body: Type.Object({ code: InviteCode }, { additionalProperties: false }),
        response: responses({ 200: KioskVisit }),
      },
    },
    async (request) => lookupInvitation(ctx, request.actor, (request.body as { code: string }).code),
  );

  app.post(
    '/api/kiosk/lobby/id-card/read',
    {
      config: { kiosk: ['lobby'] },
      schema: {
        tags: ['visitors'],
        summary: 'Read the ID card on this kiosk’s reader; the full text stays on the server for 10 minutes under read_id',
        body: Empty,
        response: responses({ 200: Type.Object({ read_id: Type.String(), name_masked: Type.String(), id_number_masked: Type.String() }, { additionalProperties: false }) }),
      },
    },
    async (request) => readIdCard(ctx, app.deviceBridge, request.actor, request.kiosk!),
  );

  app.post(
    '/api/kiosk/lobby/check-in',
    {
      config: { kiosk: ['lobby'] },
      schema: {
        tags: ['visitors'],
        summary: 'Check a visitor in, invited or walk-in; a visitor flagged by the conflict screening waits for review (no pass)',
        body: Type.Object(
          {
            invite_code: Type.Optional(InviteCode),
            read_id: Type.Optional(ReadId),
            walk_in: Type.Optional(
              Type.Object(
                {
                  visitor_name: Type.Optional(Name),
                  read_id: Type.Optional(ReadId),
                  id_number: Type.Optional(IdNumber),
                  phone: Type.Optional(Phone),
                  organization: Type.Optional(Organization),
                  purpose: Purpose,
                  host_user_id: Id(),
                },
                { additionalProperties: false, description: 'read_id, or visitor_name with id_number' },
              ),
            ),
          },
          { additionalProperties: false, description: 'either invite_code (with an optional read_id confirming the identity) or walk_in' },
        ),
        response: responses({
          200: Type.Object(
            {
              visit: KioskVisit,
              status: Type.Union([Type.Literal('checked_in'), Type.Literal('pending_review')]),
              pass: Nullable(IssuedPass),
              message_zh: Type.String(),
              message_en: Type.String(),
            },
            { additionalProperties: false },
          ),
        }),
      },
    },
    async (request) => kioskCheckIn(ctx, request.actor, request.kiosk!, request.body as CheckInInput),
  );

  app.post(
    '/api/kiosk/lobby/check-out',
    {
      config: { kiosk: ['lobby'] },
      schema: {
        tags: ['visitors'],
        summary: 'A visitor checks out with the pass QR code or the invitation code; the pass stops opening doors',
        body: Type.Object({ qr_token: Type.Optional(QrToken), invite_code: Type.Optional(InviteCode) }, { additionalProperties: false, description: 'either qr_token or invite_code' }),
        response: responses({ 200: Type.Object({ visit: KioskVisit }, { additionalProperties: false }) }),
      },
    },
    async (request) => kioskCheckOut(ctx, request.actor, request.body as { qr_token?: string; invite_code?: string }),
  );
};
