import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { Empty, Id, IdParams, Nullable, Ok, responses } from '../../schemas.js';
import { PartyKindSchema, PartyRoleSchema, ShareholderSchema } from '../conflicts/routes.js';
import { registerTopic, usersWith } from '../realtime/hub.js';
import { MATTER_TYPE_IDS, MATTER_TYPES, numberingSettings, updateNumberingSettings, type NumberingSettings } from './numbering.js';
import {
  addParty,
  addTeamMember,
  addWorkRecord,
  createMatter,
  getMatter,
  listMatters,
  listWorkRecords,
  presentMatter,
  presentParty,
  recordClientInformed,
  removeTeamMember,
  unmaskParty,
  updateMatter,
  type MatterChanges,
  type MatterFilter,
  type MatterInput,
  type PartyInput,
  type WorkRecordInput,
} from './service.js';

const Text = (max: number) => Type.String({ maxLength: max });
const Money = Type.String({ pattern: '^\\d{1,12}(\\.\\d{1,2})?$', description: 'yuan, e.g. "30000.00"' });
const MatterStatusSchema = Type.Union(['pending_conflict_review', 'open', 'suspended', 'closed', 'declined'].map((s) => Type.Literal(s)));
const FeeArrangement = Type.Union(['fixed', 'hourly', 'contingency', 'retainer', 'mixed', 'pro_bono'].map((s) => Type.Literal(s)));
const TypeSchema = Type.String({ minLength: 1, maxLength: 20, description: `${MATTER_TYPE_IDS.join(' | ')}, or the Chinese name (民事, 刑事 …)` });

const PartyInputSchema = Type.Object(
  {
    role: PartyRoleSchema,
    kind: PartyKindSchema,
    name: Type.String({ minLength: 1, maxLength: 200 }),
    id_type: Type.Optional(Nullable(Text(40))),
    id_number: Type.Optional(Nullable(Text(40))),
    uscc: Type.Optional(Nullable(Text(40))),
    legal_representative: Type.Optional(Nullable(Text(200))),
    shareholders: Type.Optional(Type.Array(ShareholderSchema, { maxItems: 100 })),
    aliases: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { maxItems: 20 })),
    phone: Type.Optional(Nullable(Text(40))),
    address: Type.Optional(Nullable(Text(300))),
    client_id: Type.Optional(Nullable(Id())),
  },
  { additionalProperties: false },
);
const IntakeSchema = Type.Object(
  {
    facts: Type.Optional(Text(20000)),
    claims: Type.Optional(Text(5000)),
    source: Type.Optional(Text(500)),
    materials: Type.Optional(Text(5000)),
    risk_notice_given: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
const PartySchema = Type.Object(
  {
    id: Type.Integer(),
    role: Type.String(),
    kind: Type.String(),
    name: Type.String(),
    id_type: Nullable(Type.String()),
    id_number: Nullable(Type.String()),
    uscc: Nullable(Type.String()),
    legal_representative: Nullable(Type.String()),
    client_id: Nullable(Type.Integer()),
  },
  { additionalProperties: false },
);
const MatterSchema = Type.Object(
  {
    id: Type.Integer(),
    number: Type.String(),
    title: Type.String(),
    type: Type.String(),
    type_label: Type.String(),
    cause: Nullable(Type.String()),
    court: Nullable(Type.String()),
    stage: Nullable(Type.String()),
    status: Type.String(),
    fee_arrangement: Nullable(Type.String()),
    fee_amount: Nullable(Type.String()),
    responsible_lawyer_id: Type.Integer(),
    intake: IntakeSchema,
    client_informed: Nullable(Type.Object({ at: Type.String(), by: Nullable(Type.Integer()), method: Nullable(Type.String()), note: Nullable(Type.String()) }, { additionalProperties: false })),
    closing_summary: Nullable(Type.String()),
    conflict_check: Type.Object({ id: Type.Integer(), status: Type.String(), hit_count: Type.Integer() }, { additionalProperties: false }),
    parties: Type.Array(PartySchema),
    team: Type.Array(
      Type.Object({ user_id: Type.Integer(), role: Type.String(), display_name: Type.String(), office: Nullable(Type.String()), department: Nullable(Type.String()) }, { additionalProperties: false }),
    ),
    created_by: Type.Integer(),
    created_at: Type.String(),
    updated_at: Type.String(),
    opened_at: Nullable(Type.String()),
    closed_at: Nullable(Type.String()),
    warnings: Type.Optional(Type.Array(Type.String())),
  },
  { additionalProperties: false },
);
const MatterSummary = Type.Object(
  {
    id: Type.Integer(),
    number: Type.String(),
    title: Type.String(),
    type: Type.String(),
    type_label: Type.String(),
    status: Type.String(),
    cause: Nullable(Type.String()),
    court: Nullable(Type.String()),
    stage: Nullable(Type.String()),
    responsible_lawyer_id: Type.Integer(),
    responsible_lawyer: Type.String(),
    client_names: Type.Array(Type.String()),
    created_at: Type.String(),
    updated_at: Type.String(),
  },
  { additionalProperties: false },
);
const WorkRecordSchema = Type.Object(
  {
    id: Type.Integer(),
    kind: Type.String(),
    title: Type.String(),
    content: Type.String(),
    hours: Nullable(Type.String()),
    occurred_on: Type.String(),
    corrects_id: Nullable(Type.Integer()),
    author_id: Type.Integer(),
    author: Type.String(),
    created_at: Type.String(),
  },
  { additionalProperties: false },
);
const Reason = Type.Object({ reason: Type.String({ minLength: 2, maxLength: 500, description: 'why the full data is needed; kept in the audit trail' }) }, { additionalProperties: false });
const PartyParams = Type.Object({ id: Id(), partyId: Id() }, { additionalProperties: false });
const TeamParams = Type.Object({ id: Id(), userId: Id() }, { additionalProperties: false });

export const mattersRoutes: FastifyPluginAsync = async (app) => {
  const ctx = app.services;
  // Matter events carry ids and statuses only, never a party's identity: walls and lists refresh on them.
  registerTopic('matters', usersWith('matters.read'));

  app.get(
    '/api/matter-types',
    {
      config: { permission: 'matters.read' },
      schema: {
        tags: ['matters'],
        summary: 'Matter types and their codes in matter numbers',
        querystring: Empty,
        response: responses({ 200: Type.Array(Type.Object({ type: Type.String(), label_zh: Type.String(), label_en: Type.String(), code: Type.String() }, { additionalProperties: false })) }),
      },
    },
    async () => MATTER_TYPE_IDS.map((type) => ({ type, label_zh: MATTER_TYPES[type].zh, label_en: MATTER_TYPES[type].en, code: MATTER_TYPES[type].code })),
  );

  const Numbering = Type.Object(
    {
      pattern: Type.String({ minLength: 1, maxLength: 100, description: 'tokens {year} {firm} {type} {seq} {seq:N}, e.g. ({year}){firm}{type}字第{seq:4}号' }),
      firm_abbreviation: Type.String({ maxLength: 20, description: 'the firm’s short name in its numbers, e.g. 京明衡' }),
    },
    { additionalProperties: false },
  );
  app.get(
    '/api/settings/matter-numbering',
    { config: { permission: 'matters.read' }, schema: { tags: ['matters'], summary: 'How matter numbers are made', querystring: Empty, response: responses({ 200: Numbering }) } },
    async () => numberingSettings(ctx.db),
  );
  app.put(
    '/api/settings/matter-numbering',
    {
      config: { permission: 'practice.configure' },
      schema: { tags: ['matters'], summary: 'Set the matter number pattern; applies to the next matter opened', body: Numbering, response: responses({ 200: Numbering }) },
    },
    async (request) => updateNumberingSettings(ctx, request.actor, request.body as NumberingSettings),
  );

  app.post(
    '/api/matters',
    {
      config: { permission: 'matters.manage' },
      schema: {
        tags: ['matters'],
        summary: 'Open a matter (收案); records its own conflict check unless one is referenced',
        body: Type.Object(
          {
            title: Type.String({ minLength: 1, maxLength: 300 }),
            type: TypeSchema,
            cause: Type.Optional(Nullable(Text(200))),
            court: Type.Optional(Nullable(Text(200))),
            stage: Type.Optional(Nullable(Text(100))),
            fee_arrangement: Type.Optional(Nullable(FeeArrangement)),
            fee_amount: Type.Optional(Nullable(Money)),
            responsible_lawyer_id: Type.Optional(Id()),
            team_ids: Type.Optional(Type.Array(Id(), { maxItems: 50 })),
            parties: Type.Array(PartyInputSchema, { minItems: 1, maxItems: 100 }),
            intake: Type.Optional(IntakeSchema),
            conflict_check_id: Type.Optional(Id()),
          },
          { additionalProperties: false },
        ),
        response: responses({ 201: MatterSchema }),
      },
    },
    async (request, reply) => {
      const { matter, warnings } = await createMatter(ctx, request.actor, request.body as MatterInput);
      reply.status(201);
      return { ...presentMatter(await getMatter(ctx, request.actor, matter.id)), warnings };
    },
  );

  app.get(
    '/api/matters',
    {
      config: { permission: 'matters.read' },
      schema: {
        tags: ['matters'],
        summary: 'Matters the user may see (all for director and administration; else own and team)',
        querystring: Type.Object(
          {
            status: Type.Optional(MatterStatusSchema),
            type: Type.Optional(TypeSchema),
            q: Type.Optional(Type.String({ maxLength: 100 })),
            mine: Type.Optional(Type.Boolean()),
            limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
            offset: Type.Integer({ minimum: 0, default: 0 }),
          },
          { additionalProperties: false },
        ),
        response: responses({ 200: Type.Array(MatterSummary) }),
      },
    },
    async (request) => listMatters(ctx, request.actor, request.query as MatterFilter),
  );

  app.get(
    '/api/matters/:id',
    { config: { permission: 'matters.read' }, schema: { tags: ['matters'], summary: 'One matter with parties (masked), team and conflict check', params: IdParams, querystring: Empty, response: responses({ 200: MatterSchema }) } },
    async (request) => presentMatter(await getMatter(ctx, request.actor, (request.params as { id: number }).id)),
  );

  app.patch(
    '/api/matters/:id',
    {
      config: { permission: 'matters.manage' },
      schema: {
        tags: ['matters'],
        summary: 'Edit a matter, change its status (open/suspended/closed) or its responsible lawyer',
        params: IdParams,
        body: Type.Object(
          {
            title: Type.Optional(Type.String({ minLength: 1, maxLength: 300 })),
            cause: Type.Optional(Nullable(Text(200))),
            court: Type.Optional(Nullable(Text(200))),
            stage: Type.Optional(Nullable(Text(100))),
            fee_arrangement: Type.Optional(Nullable(FeeArrangement)),
            fee_amount: Type.Optional(Nullable(Money)),
            status: Type.Optional(Type.Union([Type.Literal('open'), Type.Literal('suspended'), Type.Literal('closed')])),
            closing_summary: Type.Optional(Nullable(Text(20000))),
            responsible_lawyer_id: Type.Optional(Id()),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: responses({ 200: MatterSchema }),
      },
    },
    async (request) => {
      const id = (request.params as { id: number }).id;
      await updateMatter(ctx, request.actor, id, request.body as MatterChanges);
      return presentMatter(await getMatter(ctx, request.actor, id));
    },
  );

  app.post(
    '/api/matters/:id/team',
    {
      config: { permission: 'matters.manage' },
      schema: { tags: ['matters'], summary: 'Add a team member', params: IdParams, body: Type.Object({ user_id: Id() }, { additionalProperties: false }), response: responses({ 200: Ok }) },
    },
    async (request) => {
      await addTeamMember(ctx, request.actor, (request.params as { id: number }).id, (request.body as { user_id: number }).user_id);
      return { ok: true as const };
    },
  );

  app.delete(
    '/api/matters/:id/team/:userId',
    { config: { permission: 'matters.manage' }, schema: { tags: ['matters'], summary: 'Remove a team member (not the responsible lawyer)', params: TeamParams, querystring: Empty, response: responses({ 200: Ok }) } },
    async (request) => {
      const p = request.params as { id: number; userId: number };
      await removeTeamMember(ctx, request.actor, p.id, p.userId);
      return { ok: true as const };
    },
  );

  app.post(
    '/api/matters/:id/parties',
    {
      config: { permission: 'matters.manage' },
      schema: {
        tags: ['matters'],
        summary: 'Add a party to a running matter; its own conflict check is recorded',
        params: IdParams,
        body: PartyInputSchema,
        response: responses({ 201: Type.Object({ party: PartySchema, conflict_check: Type.Object({ id: Type.Integer(), status: Type.String(), hit_count: Type.Integer() }, { additionalProperties: false }), warnings: Type.Array(Type.String()) }, { additionalProperties: false }) }),
      },
    },
    async (request, reply) => {
      const { party, check, warnings } = await addParty(ctx, request.actor, (request.params as { id: number }).id, request.body as PartyInput);
      reply.status(201);
      return { party: presentParty(party), conflict_check: { id: check.id, status: check.status, hit_count: check.hit_count }, warnings };
    },
  );

  app.post(
    '/api/matters/:id/parties/:partyId/unmask',
    {
      config: { permission: 'personal_data.unmask' },
      schema: { tags: ['matters'], summary: 'Show a party’s full ID number (audited, with the reason)', params: PartyParams, body: Reason, response: responses({ 200: PartySchema }) },
    },
    async (request) => {
      const p = request.params as { id: number; partyId: number };
      return presentParty(await unmaskParty(ctx, request.actor, p.id, p.partyId, (request.body as { reason: string }).reason), true);
    },
  );

  app.post(
    '/api/matters/:id/records',
    {
      config: { permission: 'matters.work' },
      schema: {
        tags: ['matters'],
        summary: 'Add a work record or working paper (append-only)',
        params: IdParams,
        body: Type.Object(
          {
            kind: Type.Union([Type.Literal('work_log'), Type.Literal('working_paper'), Type.Literal('intake_note')]),
            title: Type.String({ minLength: 1, maxLength: 300 }),
            content: Type.String({ minLength: 1, maxLength: 100000 }),
            hours: Type.Optional(Nullable(Type.String({ pattern: '^\\d{1,3}(\\.\\d{1,2})?$' }))),
            occurred_on: Type.Optional(Type.String({ format: 'date' })),
            corrects_id: Type.Optional(Nullable(Id())),
          },
          { additionalProperties: false },
        ),
        response: responses({ 201: Type.Object({ id: Type.Integer() }, { additionalProperties: false }) }),
      },
    },
    async (request, reply) => {
      const record = await addWorkRecord(ctx, request.actor, (request.params as { id: number }).id, request.body as WorkRecordInput);
      reply.status(201);
      return { id: record.id };
    },
  );

  app.get(
    '/api/matters/:id/records',
    { config: { permission: 'matters.read' }, schema: { tags: ['matters'], summary: 'Work records and working papers, newest first', params: IdParams, querystring: Empty, response: responses({ 200: Type.Array(WorkRecordSchema) }) } },
    async (request) => (await listWorkRecords(ctx, request.actor, (request.params as { id: number }).id)).map((r) => ({ ...r, created_at: r.created_at.toISOString() })),
  );

  app.post(
    '/api/matters/:id/client-informed',
    {
      config: { permission: 'matters.work' },
      schema: {
        tags: ['matters'],
        summary: 'Record that the client was informed of the acceptance, fee and responsible lawyer',
        params: IdParams,
        body: Type.Object(
          {
            method: Type.Union(['in_person', 'phone', 'letter', 'email', 'sms', 'wechat', 'portal'].map((m) => Type.Literal(m))),
            informed_at: Type.Optional(Type.String({ format: 'date-time' })),
            note: Type.Optional(Nullable(Text(2000))),
          },
          { additionalProperties: false },
        ),
        response: responses({ 200: Ok }),
      },
    },
    async (request) => {
      await recordClientInformed(ctx, request.actor, (request.params as { id: number }).id, request.body as { method: string });
      return { ok: true as const };
    },
  );
};
