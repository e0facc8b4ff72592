import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { Empty, Id, IdParams, Nullable, responses } from '../../schemas.js';
import { DIMENSION_LABELS, evaluationOverview, lawyerEvaluations, portalEvaluationList, portalEvaluationView, submitEvaluation, type EvaluationInput } from './service.js';
import { DIMENSIONS } from './tables.js';

const Score = (label: string) => Type.Integer({ minimum: 1, maximum: 5, description: `${label}, 1 (poor) – 5 (excellent)` });
const ScoreFields = Object.fromEntries(DIMENSIONS.map((d) => [d, Score(DIMENSION_LABELS[d])])) as Record<(typeof DIMENSIONS)[number], ReturnType<typeof Score>>;
const Mean = Nullable(Type.Number({ minimum: 1, maximum: 5 }));
const Means = Type.Object(Object.fromEntries(DIMENSIONS.map((d) => [d, Mean])) as Record<(typeof DIMENSIONS)[number], typeof Mean>, { additionalProperties: false });
const Comment = Nullable(Type.String({ maxLength: 2000 }));

const ClientEvaluation = Type.Object({ ...ScoreFields, comment: Comment, submitted_at: Type.String() }, { additionalProperties: false });
const AggregateFields = {
  count: Type.Integer({ minimum: 0 }),
  means: Means,
  overall: Mean,
  last_at: Nullable(Type.String()),
};
const Aggregate = Type.Object(AggregateFields, { additionalProperties: false });
const Lawyer = Type.Object({ id: Type.Integer(), display_name: Type.String() }, { additionalProperties: false });
const LawyerAggregate = Type.Object({ lawyer: Lawyer, ...AggregateFields }, { additionalProperties: false });
const StaffEvaluation = Type.Object(
  {
    id: Type.Integer(),
    matter: Type.Object({ id: Type.Integer(), number: Type.String(), title: Type.String() }, { additionalProperties: false }),
    client_name: Type.String({ description: 'a natural person’s name masked' }),
    ...ScoreFields,
    comment: Comment,
    submitted_at: Type.String(),
    sha256: Type.String({ description: 'as filed into the matter archive' }),
  },
  { additionalProperties: false },
);
const PortalMatter = Type.Object(
  { id: Type.Integer(), number: Type.String(), title: Type.String(), lawyer_name: Type.String(), closed_at: Nullable(Type.String()) },
  { additionalProperties: false },
);
const MatterParams = IdParams;

/** Client evaluation (Z5.6): the client's rating in the portal, and the firm's view of the ratings per lawyer. */
export const evaluationsRoutes: FastifyPluginAsync = async (app) => {
  const ctx = app.services;

  app.get(
    '/api/portal/evaluations',
    {
      config: { portal: true },
      schema: {
        tags: ['evaluations'],
        summary: 'For clients: your closed matters, each with whether you have rated the service',
        querystring: Empty,
        response: responses({ 200: Type.Array(Type.Object({ matter: PortalMatter, evaluated_at: Nullable(Type.String()) }, { additionalProperties: false })) }),
      },
    },
    async (request) => portalEvaluationList(ctx, request.portal!),
  );

  app.get(
    '/api/portal/matters/:id/evaluation',
    {
      config: { portal: true },
      schema: {
        tags: ['evaluations'],
        summary: 'For clients: the rating page of one of your matters (the page /portal/evaluate/<id>)',
        params: MatterParams,
        querystring: Empty,
        response: responses({
          200: Type.Object(
            {
              matter: Type.Object({ ...PortalMatter.properties, status: Type.String() }, { additionalProperties: false }),
              dimensions: Type.Array(Type.Object({ id: Type.String(), label: Type.String() }, { additionalProperties: false })),
              can_evaluate: Type.Boolean({ description: 'closed and not yet rated' }),
              evaluation: Nullable(ClientEvaluation),
            },
            { additionalProperties: false },
          ),
        }),
      },
    },
    async (request) => portalEvaluationView(ctx, request.portal!, (request.params as { id: number }).id),
  );

  app.post(
    '/api/portal/matters/:id/evaluation',
    {
      config: { portal: true },
      schema: {
        tags: ['evaluations'],
        summary: 'For clients: rate the service of one of your closed matters, once (功能性, 时间性, 安全性, 经济性, 舒适性, 文明性, 1–5 each)',
        params: MatterParams,
        body: Type.Object({ ...ScoreFields, comment: Type.Optional(Comment) }, { additionalProperties: false }),
        response: responses({ 201: ClientEvaluation }),
      },
    },
    async (request, reply) => {
      reply.code(201);
      return submitEvaluation(ctx, request.portal!, request.actor, (request.params as { id: number }).id, request.body as EvaluationInput);
    },
  );

  app.get(
    '/api/evaluations',
    {
      config: { permission: 'evaluations.read' },
      schema: {
        tags: ['evaluations'],
        summary: 'Client ratings: the firm’s figures and each rated lawyer’s (count, mean per dimension, overall), best first',
        querystring: Empty,
        response: responses({ 200: Type.Object({ firm: Aggregate, lawyers: Type.Array(LawyerAggregate) }, { additionalProperties: false }) }),
      },
    },
    async (request) => evaluationOverview(ctx, request.actor),
  );

  app.get(
    '/api/evaluations/lawyers/:id',
    {
      // Any lawyer reaches the route; the service lets them see their own record only, unless they hold evaluations.read.
      config: { permission: 'matters.read' },
      schema: {
        tags: ['evaluations'],
        summary: 'One lawyer’s client ratings: aggregate and the ratings, newest first (your own, or anyone’s with evaluations.read)',
        params: Type.Object({ id: Id() }, { additionalProperties: false }),
        querystring: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }) }, { additionalProperties: false }),
        response: responses({ 200: Type.Object({ ...LawyerAggregate.properties, evaluations: Type.Array(StaffEvaluation) }, { additionalProperties: false }) }),
      },
    },
    async (request) => lawyerEvaluations(ctx, request.actor, (request.params as { id: number }).id, (request.query as { limit: number }).limit),
  );
};
