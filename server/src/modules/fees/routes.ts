import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { Empty, IdParams, responses } from '../../schemas.js';
import { AMOUNT_PATTERN, listFees, recordFee, type FeeInput } from './service.js';

const Money = Type.String({ pattern: '^-?\\d+\\.\\d{2}$', description: 'yuan, exactly two decimals' });

const FeeEntry = Type.Object(
  {
    id: Type.Integer(),
    kind: Type.Union([Type.Literal('bill'), Type.Literal('payment')]),
    amount: Money,
    occurred_on: Type.String({ format: 'date' }),
    note: Type.Union([Type.String(), Type.Null()]),
    recorded_by: Type.Integer(),
    recorded_by_username: Type.Union([Type.String(), Type.Null()]),
    created_at: Type.String(),
  },
  { additionalProperties: false },
);

const FeeSummary = Type.Object(
  {
    agreed: Type.Union([Money, Type.Null()]),
    billed: Money,
    paid: Money,
    outstanding: Money,
  },
  { additionalProperties: false },
);

export const feesRoutes: FastifyPluginAsync = async (app) => {
  const ctx = app.services;

  app.get(
    '/api/matters/:id/fees',
    {
      config: { permission: 'matters.read' },
      schema: {
        tags: ['fees'],
        summary: 'Bills and payments of a matter, with the agreed fee, the sums billed and paid and what is outstanding',
        params: IdParams,
        querystring: Empty,
        response: responses({ 200: Type.Object({ entries: Type.Array(FeeEntry), summary: FeeSummary }, { additionalProperties: false }) }),
      },
    },
    async (request) => listFees(ctx, request.actor, (request.params as { id: number }).id),
  );

  app.post(
    '/api/matters/:id/fees',
    {
      config: { permission: 'fees.manage' },
      schema: {
        tags: ['fees'],
        summary: 'Record a bill or a payment of a matter (Z6.3.3.5)',
        params: IdParams,
        body: Type.Object(
          {
            kind: Type.Union([Type.Literal('bill'), Type.Literal('payment')]),
            amount: Type.String({ pattern: AMOUNT_PATTERN, description: 'yuan, more than zero, at most two decimals, e.g. "1500.00"' }),
            occurred_on: Type.String({ format: 'date', description: 'the day of the bill or payment (Beijing time), not in the future' }),
            note: Type.Optional(Type.Union([Type.String({ maxLength: 500 }), Type.Null()])),
          },
          { additionalProperties: false },
        ),
        response: responses({ 201: FeeEntry }),
      },
    },
    async (request, reply) => {
      const entry = await recordFee(ctx, request.actor, (request.params as { id: number }).id, request.body as FeeInput);
      reply.status(201);
      return entry;
    },
  );
};
