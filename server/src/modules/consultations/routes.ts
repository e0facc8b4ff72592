import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { Empty, Id, IdParams, Nullable, responses } from '../../schemas.js';
import { PartyKindSchema, ShareholderSchema } from '../conflicts/routes.js';
import { MATTER_TYPE_IDS } from '../matters/numbering.js';
import { convertConsultation, getConsultation, listConsultations, recordConsultation, unmaskConsultation, type ConsultationFilter, type ConsultationInput, type ConversionInput } from './service.js';
import { CONSULTATION_CHANNELS } from './tables.js';

const Text = (min: number, max: number) => Type.String({ minLength: min, maxLength: max });
const Channel = Type.Union(CONSULTATION_CHANNELS.map((c) => Type.Literal(c)), { description: 'phone 电话, visit 来所面谈 (offline), online_chat 在线, email 邮件, video 视频' });
const Phone = Type.String({ pattern: '^\\+?[0-9][0-9 ()（）-]{4,24}$', examples: ['13812345678'] });
const Email = Type.String({ pattern: '^[^\\s@]{1,64}@[^\\s@]{1,190}\\.[^\\s@]{1,20}$', maxLength: 200, examples: ['client@example.cn'] });
const Money = Type.String({ pattern: '^\\d{1,12}(\\.\\d{1,2})?$', description: 'yuan, e.g. "30000.00"' });

const Summary = {
  id: Type.Integer(),
  channel: Channel,
  channel_label: Type.String(),
  online: Type.Boolean({ description: 'false for a visit to the office (线下), true otherwise (线上)' }),
  person_name: Type.String(),
  organization: Nullable(Type.String()),
  topic: Type.String(),
  lawyer: Type.Object({ id: Type.Integer(), display_name: Type.String() }, { additionalProperties: false }),
  consulted_at: Type.String(),
  duration_minutes: Type.Integer(),
  matter: Nullable(Type.Object({ id: Type.Integer(), number: Type.String() }, { additionalProperties: false })),
};
const ConsultationSummary = Type.Object(Summary, { additionalProperties: false });
const Consultation = Type.Object(
  {
    ...Summary,
    phone: Nullable(Type.String({ description: 'masked unless unmasked with a reason' })),
    email: Nullable(Type.String()),
    summary: Type.String(),
    advice: Type.String(),
    masked: Type.Boolean(),
    created_at: Type.String(),
  },
  { additionalProperties: false },
);

const OtherParty = Type.Object(
  {
    role: Type.Union([Type.Literal('opposing'), Type.Literal('third_party'), Type.Literal('related')]),
    kind: PartyKindSchema,
    name: Text(1, 200),
    id_type: Type.Optional(Nullable(Type.String({ maxLength: 40 }))),
    id_number: Type.Optional(Nullable(Type.String({ maxLength: 40 }))),
    uscc: Type.Optional(Nullable(Type.String({ maxLength: 40 }))),
    legal_representative: Type.Optional(Nullable(Type.String({ maxLength: 200 }))),
    shareholders: Type.Optional(Type.Array(ShareholderSchema, { maxItems: 100 })),
    aliases: Type.Optional(Type.Array(Text(1, 200), { maxItems: 20 })),
  },
  { additionalProperties: false },
);

/** Consultations (Z5.2.1): confidential to their lawyer; conversion into a matter. */
export const consultationsRoutes: FastifyPluginAsync = async (app) => {
  const ctx = app.services;

  app.post(
    '/api/consultations',
    {
      config: { permission: 'consultations.record' },
      schema: {
        tags: ['consultations'],
        summary: 'Record a consultation one gave (online or offline); only its lawyer and those who see every matter see it',
        body: Type.Object(
          {
            channel: Channel,
            person_name: Text(1, 100),
            organization: Type.Optional(Nullable(Text(1, 200))),
            phone: Type.Optional(Nullable(Phone)),
            email: Type.Optional(Nullable(Email)),
            topic: Text(1, 200),
            summary: Text(1, 20000),
            advice: Text(1, 20000),
            consulted_at: Type.String({ format: 'date-time' }),
            duration_minutes: Type.Integer({ minimum: 1, maximum: 1440 }),
          },
          { additionalProperties: false },
        ),
        response: responses({ 201: Consultation }),
      },
    },
    async (request, reply) => {
      reply.code(201);
      return recordConsultation(ctx, request.actor, request.body as ConsultationInput);
    },
  );

  app.get(
    '/api/consultations',
    {
      config: { permission: 'consultations.record' },
      schema: {
        tags: ['consultations'],
        summary: 'Consultations one may see, latest first (summaries: no content, no contact)',
        querystring: Type.Object(
          {
            mine: Type.Optional(Type.Boolean()),
            converted: Type.Optional(Type.Boolean()),
            q: Type.Optional(Type.String({ maxLength: 100 })),
            limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
            offset: Type.Integer({ minimum: 0, default: 0 }),
          },
          { additionalProperties: false },
        ),
        response: responses({ 200: Type.Array(ConsultationSummary) }),
      },
    },
    async (request) => listConsultations(ctx, request.actor, request.query as ConsultationFilter),
  );

  app.get(
    '/api/consultations/:id',
    {
      config: { permission: 'consultations.record' },
      schema: { tags: ['consultations'], summary: 'The full record (audited at every read); phone masked', params: IdParams, querystring: Empty, response: responses({ 200: Consultation }) },
    },
    async (request) => getConsultation(ctx, request.actor, (request.params as { id: number }).id),
  );

  app.post(
    '/api/consultations/:id/unmask',
    {
      config: { permission: 'personal_data.unmask' },
      schema: {
        tags: ['consultations'],
        summary: 'The full record with the phone unmasked; the reason is kept in the audit trail',
        params: IdParams,
        body: Type.Object({ reason: Type.String({ minLength: 2, maxLength: 500 }) }, { additionalProperties: false }),
        response: responses({ 200: Consultation }),
      },
    },
    async (request) => unmaskConsultation(ctx, request.actor, (request.params as { id: number }).id, (request.body as { reason: string }).reason),
  );

  app.post(
    '/api/consultations/:id/convert',
    {
      config: { permission: 'consultations.record' },
      schema: {
        tags: ['consultations'],
        summary: 'Open a matter from a consultation (its own conflict check, as every intake); the consultation is filed in its archive',
        params: IdParams,
        body: Type.Object(
          {
            title: Text(1, 300),
            type: Type.String({ minLength: 1, maxLength: 20, description: `${MATTER_TYPE_IDS.join(' | ')}, or the Chinese name` }),
            cause: Type.Optional(Nullable(Type.String({ maxLength: 200 }))),
            court: Type.Optional(Nullable(Type.String({ maxLength: 200 }))),
            stage: Type.Optional(Nullable(Type.String({ maxLength: 100 }))),
            fee_arrangement: Type.Optional(Nullable(Type.Union(['fixed', 'hourly', 'contingency', 'retainer', 'mixed', 'pro_bono'].map((s) => Type.Literal(s))))),
            fee_amount: Type.Optional(Nullable(Money)),
            responsible_lawyer_id: Type.Optional(Id({ description: 'default: the consultation’s lawyer' })),
            team_ids: Type.Optional(Type.Array(Id(), { maxItems: 50 })),
            conflict_check_id: Type.Optional(Id()),
            client: Type.Object(
              {
                kind: PartyKindSchema,
                name: Type.Optional(Text(1, 200)),
                id_type: Type.Optional(Nullable(Type.String({ maxLength: 40 }))),
                id_number: Type.Optional(Nullable(Type.String({ maxLength: 40 }))),
                uscc: Type.Optional(Nullable(Type.String({ maxLength: 40 }))),
                legal_representative: Type.Optional(Nullable(Type.String({ maxLength: 200 }))),
                address: Type.Optional(Nullable(Type.String({ maxLength: 300 }))),
                client_id: Type.Optional(Nullable(Id())),
              },
              { additionalProperties: false, description: 'default name: the person who consulted (kind person) or their organisation; the phone comes from the consultation' },
            ),
            other_parties: Type.Optional(Type.Array(OtherParty, { maxItems: 100 })),
            claims: Type.Optional(Type.String({ maxLength: 5000 })),
          },
          { additionalProperties: false },
        ),
        response: responses({
          201: Type.Object(
            {
              consultation: Consultation,
              matter: Type.Object({ id: Type.Integer(), number: Type.String(), status: Type.String({ description: 'open, or pending_conflict_review when the check found hits' }) }, { additionalProperties: false }),
              warnings: Type.Array(Type.String()),
            },
            { additionalProperties: false },
          ),
        }),
      },
    },
    async (request, reply) => {
      reply.code(201);
      return convertConsultation(ctx, request.actor, (request.params as { id: number }).id, request.body as ConversionInput);
    },
  );
};
