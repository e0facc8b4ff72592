import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { Empty, IdParams, Nullable, responses } from '../../schemas.js';
import { registerTopic, usersWith } from '../realtime/hub.js';
import { decideConflictCheck, findConflictCheck, listConflictChecks, presentConflictCheck, runConflictCheck, type Consent, type Decision } from './service.js';
import type { SearchedParty } from './engine.js';
import { conflictReportHtml } from './report.js';

const Name = Type.String({ minLength: 1, maxLength: 200 });

export const PartyRoleSchema = Type.Union([Type.Literal('client'), Type.Literal('opposing'), Type.Literal('third_party'), Type.Literal('related')]);
export const PartyKindSchema = Type.Union([Type.Literal('person'), Type.Literal('organization')]);
export const ShareholderSchema = Type.Object({ name: Name, id_number: Type.Optional(Nullable(Type.String({ maxLength: 40 }))) }, { additionalProperties: false });

const SearchedPartySchema = Type.Object(
  {
    name: Name,
    kind: Type.Optional(PartyKindSchema),
    id_number: Type.Optional(Nullable(Type.String({ maxLength: 40 }))),
    uscc: Type.Optional(Nullable(Type.String({ maxLength: 40 }))),
    role: Type.Optional(PartyRoleSchema),
    legal_representative: Type.Optional(Nullable(Type.String({ maxLength: 200 }))),
    shareholders: Type.Optional(Type.Array(ShareholderSchema, { maxItems: 100 })),
    aliases: Type.Optional(Type.Array(Name, { maxItems: 20, description: 'former names and aliases' })),
  },
  { additionalProperties: false },
);

const MatchSchema = Type.Union(['exact_id', 'exact_name', 'normalized', 'fuzzy', 'pinyin', 'related'].map((m) => Type.Literal(m)));
const HitSchema = Type.Object(
  {
    query_index: Type.Integer(),
    query_name: Type.String(),
    query_via: Nullable(Type.String()),
    matter_id: Nullable(Type.Integer()),
    matter_number: Nullable(Type.String()),
    matter_title: Nullable(Type.String()),
    matter_status: Type.String(),
    responsible_lawyer: Nullable(Type.String()),
    party_id: Nullable(Type.Integer()),
    party_name: Type.String(),
    party_kind: Type.String(),
    party_role: Type.String(),
    matched_name: Type.String(),
    matched_relation: Type.String(),
    match: MatchSchema,
    underlying_match: Type.String(),
    score: Type.Number(),
    side: Type.String(),
    redacted: Type.Boolean(),
  },
  { additionalProperties: false },
);
const ConsentSchema = Type.Object(
  {
    given_by: Type.String({ minLength: 1, maxLength: 200 }),
    given_on: Type.String({ format: 'date' }),
    method: Type.Union([Type.Literal('written'), Type.Literal('electronic'), Type.Literal('in_person')]),
    reference: Type.String({ minLength: 1, maxLength: 500 }),
  },
  { additionalProperties: false },
);
const CheckSchema = Type.Object(
  {
    id: Type.Integer(),
    purpose: Type.String(),
    status: Type.String(),
    matter_id: Nullable(Type.Integer()),
    created_by: Type.Integer(),
    created_at: Type.String(),
    query: Type.Array(Type.Object({}, { additionalProperties: true })),
    hits: Type.Array(HitSchema),
    hit_count: Type.Integer(),
    redacted_count: Type.Integer(),
    report_hash: Type.String(),
    decided_by: Nullable(Type.Integer()),
    decided_at: Nullable(Type.String()),
    decision_note: Nullable(Type.String()),
    consent: Nullable(ConsentSchema),
  },
  { additionalProperties: false },
);

export const conflictsRoutes: FastifyPluginAsync = async (app) => {
  const ctx = app.services;
  // Reviewers hear of every check that needs them.
  registerTopic('conflicts', usersWith('conflicts.review'));

  app.post(
    '/api/conflict-checks',
    {
      config: { permission: 'conflicts.check' },
      schema: {
        tags: ['conflicts'],
        summary: 'Run and record a conflict-of-interest check (利益冲突检索)',
        body: Type.Object({ parties: Type.Array(SearchedPartySchema, { minItems: 1, maxItems: 50 }) }, { additionalProperties: false }),
        response: responses({ 201: CheckSchema }),
      },
    },
    async (request, reply) => {
      const row = await runConflictCheck(ctx, request.actor, (request.body as { parties: SearchedParty[] }).parties);
      reply.status(201);
      return presentConflictCheck(ctx.db, request.actor, row);
    },
  );

  app.get(
    '/api/conflict-checks',
    {
      config: { permission: 'conflicts.check' },
      schema: {
        tags: ['conflicts'],
        summary: 'Checks: reviewers see all, others their own',
        querystring: Type.Object(
          {
            status: Type.Optional(Type.Union([Type.Literal('pending_review'), Type.Literal('clear'), Type.Literal('conflict'), Type.Literal('waived')])),
            limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
          },
          { additionalProperties: false },
        ),
        response: responses({ 200: Type.Array(CheckSchema) }),
      },
    },
    async (request) => {
      const rows = await listConflictChecks(ctx, request.actor, request.query as { status?: 'pending_review'; limit: number });
      return Promise.all(rows.map((r) => presentConflictCheck(ctx.db, request.actor, r)));
    },
  );

  app.get(
    '/api/conflict-checks/:id',
    { config: { permission: 'conflicts.check' }, schema: { tags: ['conflicts'], summary: 'One check, hits redacted where the viewer may not see the matter', params: IdParams, querystring: Empty, response: responses({ 200: CheckSchema }) } },
    async (request) => presentConflictCheck(ctx.db, request.actor, await findConflictCheck(ctx, request.actor, (request.params as { id: number }).id)),
  );

  app.get(
    '/api/conflict-checks/:id/report',
    {
      config: { permission: 'conflicts.check' },
      schema: {
        tags: ['conflicts'],
        summary: 'Printable report (HTML) of a check and its decision',
        params: IdParams,
        querystring: Empty,
        response: responses({ 200: Type.String() }),
      },
    },
    async (request, reply) => {
      const check = await presentConflictCheck(ctx.db, request.actor, await findConflictCheck(ctx, request.actor, (request.params as { id: number }).id));
      reply.type('text/html; charset=utf-8');
      return conflictReportHtml(ctx, check);
    },
  );

  app.post(
    '/api/conflict-checks/:id/decision',
    {
      config: { permission: 'conflicts.review' },
      schema: {
        tags: ['conflicts'],
        summary: 'Record the reviewer’s decision: clear, conflict, or waived with the client’s consent',
        params: IdParams,
        body: Type.Object(
          {
            decision: Type.Union([Type.Literal('clear'), Type.Literal('conflict'), Type.Literal('waived')]),
            note: Type.String({ minLength: 1, maxLength: 5000 }),
            consent: Type.Optional(ConsentSchema),
          },
          { additionalProperties: false },
        ),
        response: responses({ 200: CheckSchema }),
      },
    },
    async (request) => {
      const row = await decideConflictCheck(ctx, request.actor, (request.params as { id: number }).id, request.body as { decision: Decision; note: string; consent?: Consent });
      return presentConflictCheck(ctx.db, request.actor, row);
    },
  );
};
