import type { FastifyPluginAsync } from 'fastify';
import { Type, type TObject } from 'typebox';
import type { Actor, ServiceContext } from '../../context.js';
import { Empty, Id, IdParams, Nullable, responses } from '../../schemas.js';
import { RULE_IDS } from '../deadlines/engine.js';
import {
  answerConfirmation,
  getCommunication,
  getPortalConfirmation,
  INFORM_METHODS,
  listCommunications,
  listPortalConfirmations,
  markClientInformed,
  recordDelivery,
  recordDetentionMeeting,
  recordDraft,
  recordInterview,
  recordKeyDocument,
  recordReceivedDocument,
  recordServiceText,
  recordSettlementPlan,
  requestConfirmation,
  type DeliveryInput,
  type InformMethod,
  type RecordView,
} from './service.js';
import { AUTHORITY_KINDS, DELIVERY_METHODS, DELIVERY_RESULTS, RECORD_KINDS, type RecordKind } from './tables.js';

const Text = (min: number, max: number, description?: string) => Type.String({ minLength: min, maxLength: max, ...(description ? { description } : {}) });
const Day = (description?: string) => Type.String({ format: 'date', ...(description ? { description } : {}) });
const DateTime = (description?: string) => Type.String({ format: 'date-time', ...(description ? { description } : {}) });
const Literals = <T extends string>(values: readonly T[], description?: string) => Type.Union(values.map((v) => Type.Literal(v)), description ? { description } : {});
const InformMethod = Literals(INFORM_METHODS);

const DeadlineDetail = Type.Object({ rule: Type.String(), trigger_date: Type.String(), due: Type.String(), warnings: Type.Array(Type.String()) }, { additionalProperties: false });
const Details = Type.Union([
  Type.Object(
    {
      authority_kind: Literals(AUTHORITY_KINDS),
      authority: Type.String(),
      document_kind: Type.String(),
      document_number: Nullable(Type.String()),
      received_on: Type.String(),
      served_on: Nullable(Type.String()),
      stated_deadline_on: Nullable(Type.String()),
      deadline: Nullable(DeadlineDetail),
      consequence: Nullable(Type.String()),
    },
    { additionalProperties: false, title: 'received_document' },
  ),
  Type.Object({ draft_kind: Literals(['lawyer_letter', 'legal_opinion', 'other']), recipient: Nullable(Type.String()) }, { additionalProperties: false, title: 'draft' }),
  Type.Object({ interviewed_at: Type.String(), subject: Type.String(), place: Type.String() }, { additionalProperties: false, title: 'interview_record' }),
  Type.Object({ plan_kind: Literals(['settlement', 'mediation']), counterparty: Nullable(Type.String()) }, { additionalProperties: false, title: 'settlement_plan' }),
  Type.Object(
    { met_at: Type.String(), duration_minutes: Type.Integer(), place: Type.String(), detainee: Type.String(), non_case_needs: Nullable(Type.String()) },
    { additionalProperties: false, title: 'detention_meeting' },
  ),
  Type.Object({ document_title: Type.String() }, { additionalProperties: false, title: 'key_document' }),
  Type.Object({}, { additionalProperties: false, title: 'service_plan, service_progress' }),
]);

const Confirmation = Type.Object(
  {
    id: Type.Integer(),
    record_id: Type.Integer(),
    client_id: Type.Integer(),
    title: Type.String(),
    content_sha256: Type.String(),
    requested_at: Type.String(),
    status: Literals(['pending', 'confirmed', 'commented', 'superseded']),
    response_text: Nullable(Type.String()),
    responded_at: Nullable(Type.String()),
    responder_ip: Nullable(Type.String()),
    evidence_sha256: Nullable(Type.String({ description: 'SHA-256 of the answer with who, when, from where and the hash of the text answered' })),
  },
  { additionalProperties: false },
);
const Delivery = Type.Object(
  {
    id: Type.Integer(),
    method: Literals(DELIVERY_METHODS),
    tracking_number: Nullable(Type.String()),
    recipient: Type.String(),
    sent_on: Type.String(),
    result: Literals(DELIVERY_RESULTS),
    result_on: Type.String(),
    process_file_id: Nullable(Type.Integer()),
    file_sha256: Nullable(Type.String()),
    note: Nullable(Type.String()),
    client_informed_at: Nullable(Type.String()),
    recorded_at: Type.String(),
  },
  { additionalProperties: false },
);
const Record = Type.Object(
  {
    id: Type.Integer(),
    matter: Type.Object({ id: Type.Integer(), number: Type.String() }, { additionalProperties: false }),
    kind: Literals(RECORD_KINDS),
    kind_label: Type.String(),
    title: Type.String(),
    occurred_on: Type.String(),
    content: Nullable(Type.String()),
    content_sha256: Nullable(Type.String()),
    details: Details,
    deadline: Nullable(Type.Object({ id: Type.Integer(), due: Type.String(), status: Type.String() }, { additionalProperties: false })),
    confirmation_status: Nullable(Literals(['not_sent', 'awaiting_client', 'confirmed', 'commented'])),
    client_informed: Nullable(Type.Object({ at: Type.String(), via: Type.String(), note: Nullable(Type.String()) }, { additionalProperties: false })),
    confirmations: Type.Array(Confirmation),
    deliveries: Type.Array(Delivery),
    created_by: Type.Object({ id: Type.Integer(), display_name: Type.String() }, { additionalProperties: false }),
    created_at: Type.String(),
    updated_at: Type.String(),
  },
  { additionalProperties: false },
);
const PortalConfirmation = Type.Object(
  {
    id: Type.Integer(),
    matter: Type.Object({ id: Type.Integer(), number: Type.String(), title: Type.String() }, { additionalProperties: false }),
    kind: Literals(RECORD_KINDS),
    kind_label: Type.String(),
    title: Type.String(),
    content: Type.String(),
    content_sha256: Type.String(),
    requested_at: Type.String(),
    status: Literals(['pending', 'confirmed', 'commented', 'superseded']),
    response_text: Nullable(Type.String()),
    responded_at: Nullable(Type.String()),
  },
  { additionalProperties: false },
);

type Create = (ctx: ServiceContext, actor: Actor, matterId: number, body: never) => Promise<RecordView>;

/** One route per kind of record: its own body, one shared response. */
const KINDS: { path: string; kind: RecordKind; summary: string; body: TObject; create: Create }[] = [
  {
    path: 'received-documents',
    kind: 'received_document',
    summary: 'Z5.5.1a, Z5.5.2c: a document received from the police, procuratorate, court, arbitration or an authority; its deadline is created and the client told',
    body: Type.Object(
      {
        authority_kind: Literals(AUTHORITY_KINDS),
        authority: Text(1, 100, 'e.g. 北京市朝阳区人民法院'),
        document_kind: Text(1, 50, 'e.g. 传票, 判决书, 裁定书, 缴费通知, 举证通知书'),
        document_number: Type.Optional(Nullable(Text(1, 100, '文号, e.g. (2026)京0105民初12345号'))),
        received_on: Day(),
        served_on: Type.Optional(Nullable(Day())),
        stated_deadline_on: Type.Optional(Nullable(Day('a day the document itself names (e.g. the fee notice’s payment date)'))),
        consequence: Type.Optional(Nullable(Text(1, 1000, 'what missing the deadline means; default: the rule’s'))),
        summary: Type.Optional(Nullable(Text(1, 20000))),
        deadline: Type.Optional(
          Nullable(
            Type.Object(
              {
                rule: Type.String({ minLength: 1, maxLength: 60, description: `a rule of GET /api/deadlines/rules: ${RULE_IDS.join(', ')}` }),
                trigger_date: Type.Optional(Day('default: served_on')),
                foreign: Type.Optional(Type.Boolean()),
                in_custody: Type.Optional(Type.Boolean()),
                days: Type.Optional(Type.Integer({ minimum: 1, maximum: 365, description: 'the days the document itself sets, for periods a court sets (evidence periods)' })),
              },
              { additionalProperties: false },
            ),
          ),
        ),
        inform_client: Type.Optional(Type.Boolean({ default: true })),
      },
      { additionalProperties: false },
    ),
    create: recordReceivedDocument as Create,
  },
  {
    path: 'drafts',
    kind: 'draft',
    summary: 'Z5.5.1b: a lawyer’s letter or legal opinion, to be confirmed by the client before it is issued',
    body: Type.Object(
      { draft_kind: Literals(['lawyer_letter', 'legal_opinion', 'other']), title: Text(1, 300), content: Text(1, 100000), recipient: Type.Optional(Nullable(Text(1, 200))), drafted_on: Type.Optional(Day()) },
      { additionalProperties: false },
    ),
    create: recordDraft as Create,
  },
  {
    path: 'interview-records',
    kind: 'interview_record',
    summary: 'Z5.5.1c: an investigation or interview record (time, person, place, content), for the client’s confirmation and opinion',
    body: Type.Object(
      { title: Type.Optional(Nullable(Text(1, 300))), interviewed_at: DateTime(), subject: Text(1, 200), place: Text(1, 200), content: Text(1, 100000) },
      { additionalProperties: false },
    ),
    create: recordInterview as Create,
  },
  {
    path: 'settlement-plans',
    kind: 'settlement_plan',
    summary: 'Z5.5.1d: a settlement or mediation plan, agreed with the client in advance (its consent is the confirmation)',
    body: Type.Object({ plan_kind: Literals(['settlement', 'mediation']), title: Text(1, 300), content: Text(1, 100000), counterparty: Type.Optional(Nullable(Text(1, 200))) }, { additionalProperties: false }),
    create: recordSettlementPlan as Create,
  },
  {
    path: 'detention-meetings',
    kind: 'detention_meeting',
    summary: 'Z5.5.1e: a meeting with the detained client (criminal matters): time, length, place, non-case needs and when they were passed on',
    body: Type.Object(
      {
        met_at: DateTime(),
        duration_minutes: Type.Integer({ minimum: 1, maximum: 1440 }),
        place: Text(1, 200, 'the detention centre'),
        detainee: Text(1, 100),
        summary: Type.Optional(Nullable(Text(1, 20000))),
        non_case_needs: Type.Optional(Nullable(Text(1, 5000, 'e.g. clothes, money for the canteen, messages to the family'))),
        told: Type.Optional(Nullable(Type.Object({ at: DateTime(), method: InformMethod, to: Text(1, 100, 'who was told, e.g. 妻子 李某') }, { additionalProperties: false }))),
      },
      { additionalProperties: false },
    ),
    create: recordDetentionMeeting as Create,
  },
  {
    path: 'service-plans',
    kind: 'service_plan',
    summary: 'Z5.5.1f: the non-litigation service plan, for the client’s confirmation',
    body: Type.Object({ title: Text(1, 300), content: Text(1, 100000), occurred_on: Type.Optional(Day()) }, { additionalProperties: false }),
    create: ((ctx, actor, matterId, body) => recordServiceText(ctx, actor, matterId, 'service_plan', body)) as Create,
  },
  {
    path: 'service-progress',
    kind: 'service_progress',
    summary: 'Z5.5.1f: a progress entry of non-litigation work, for the client’s confirmation',
    body: Type.Object({ title: Text(1, 300), content: Text(1, 100000), occurred_on: Type.Optional(Day()) }, { additionalProperties: false }),
    create: ((ctx, actor, matterId, body) => recordServiceText(ctx, actor, matterId, 'service_progress', body)) as Create,
  },
  {
    path: 'key-documents',
    kind: 'key_document',
    summary: 'Z5.5.1f: the key content of a document, for the client’s confirmation',
    body: Type.Object({ title: Text(1, 300), document_title: Text(1, 300), content: Text(1, 100000) }, { additionalProperties: false }),
    create: recordKeyDocument as Create,
  },
];

/** The communications register (Z5.5.1 a–f) and the client's confirmations in the portal. */
export const communicationsRoutes: FastifyPluginAsync = async (app) => {
  const ctx = app.services;

  for (const k of KINDS) {
    app.post(
      `/api/matters/:id/communications/${k.path}`,
      { config: { permission: 'matters.work' }, schema: { tags: ['communications'], summary: k.summary, params: IdParams, body: k.body, response: responses({ 201: Record }) } },
      async (request, reply) => {
        reply.code(201);
        return k.create(ctx, request.actor, (request.params as { id: number }).id, request.body as never);
      },
    );
  }

  app.get(
    '/api/matters/:id/communications',
    {
      config: { permission: 'matters.work' },
      schema: {
        tags: ['communications'],
        summary: 'The matter’s communications register, latest first',
        params: IdParams,
        querystring: Type.Object({ kind: Type.Optional(Literals(RECORD_KINDS)) }, { additionalProperties: false }),
        response: responses({ 200: Type.Array(Record) }),
      },
    },
    async (request) => listCommunications(ctx, request.actor, (request.params as { id: number }).id, request.query as { kind?: RecordKind }),
  );

  app.get(
    '/api/communications/:id',
    { config: { permission: 'matters.work' }, schema: { tags: ['communications'], summary: 'One record with its confirmations and delivery evidence', params: IdParams, querystring: Empty, response: responses({ 200: Record }) } },
    async (request) => getCommunication(ctx, request.actor, (request.params as { id: number }).id),
  );

  app.post(
    '/api/communications/:id/client-informed',
    {
      config: { permission: 'matters.work' },
      schema: {
        tags: ['communications'],
        summary: 'Record when and how a person told the client (or the family) of this record; once',
        params: IdParams,
        body: Type.Object({ method: InformMethod, informed_at: Type.Optional(DateTime()), note: Type.Optional(Nullable(Text(1, 1000))) }, { additionalProperties: false }),
        response: responses({ 200: Record }),
      },
    },
    async (request) => markClientInformed(ctx, request.actor, (request.params as { id: number }).id, request.body as { method: InformMethod; informed_at?: string; note?: string | null }),
  );

  app.post(
    '/api/communications/:id/confirmation-requests',
    {
      config: { permission: 'matters.work' },
      schema: {
        tags: ['communications'],
        summary: 'Ask the client to confirm the text in the portal (notice with link /portal/confirm/<id>); a new content revises the text',
        params: IdParams,
        body: Type.Object(
          { client_id: Type.Optional(Nullable(Id({ description: 'default: the matter’s only client' }))), content: Type.Optional(Nullable(Text(1, 100000, 'a revised text; default: the record’s'))) },
          { additionalProperties: false },
        ),
        response: responses({ 201: Type.Object({ record: Record, confirmation: Confirmation }, { additionalProperties: false }) }),
      },
    },
    async (request, reply) => {
      reply.code(201);
      return requestConfirmation(ctx, request.actor, (request.params as { id: number }).id, request.body as { client_id?: number | null; content?: string | null });
    },
  );

  app.post(
    '/api/communications/:id/deliveries',
    {
      config: { permission: 'matters.work' },
      schema: {
        tags: ['communications'],
        summary: 'Delivery, refusal or return evidence of a draft the client confirmed; the client is told',
        params: IdParams,
        body: Type.Object(
          {
            method: Literals(DELIVERY_METHODS),
            tracking_number: Type.Optional(Nullable(Text(1, 60))),
            recipient: Type.Optional(Nullable(Text(1, 200, 'default: the draft’s recipient'))),
            sent_on: Day(),
            result: Literals(DELIVERY_RESULTS),
            result_on: Day(),
            process_file_id: Type.Optional(Nullable(Id({ description: 'the uploaded proof in the matter’s process archive' }))),
            file_sha256: Type.Optional(Nullable(Type.String({ pattern: '^[0-9a-fA-F]{64}$', description: 'SHA-256 of the proof kept elsewhere', examples: ['e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'] }))),
            note: Type.Optional(Nullable(Text(1, 2000))),
          },
          { additionalProperties: false },
        ),
        response: responses({ 201: Record }),
      },
    },
    async (request, reply) => {
      reply.code(201);
      return recordDelivery(ctx, request.actor, (request.params as { id: number }).id, request.body as DeliveryInput);
    },
  );

  // The client's side, in the portal: only its own requests, of matters it is still a client of.

  app.get(
    '/api/portal/confirmations',
    { config: { portal: true }, schema: { tags: ['portal'], summary: 'What the client is asked to confirm, unanswered first', querystring: Empty, response: responses({ 200: Type.Array(PortalConfirmation) }) } },
    async (request) => listPortalConfirmations(ctx, request.portal!),
  );

  app.get(
    '/api/portal/confirmations/:id',
    { config: { portal: true }, schema: { tags: ['portal'], summary: 'One request with the text to confirm', params: IdParams, querystring: Empty, response: responses({ 200: PortalConfirmation }) } },
    async (request) => getPortalConfirmation(ctx, request.portal!, (request.params as { id: number }).id),
  );

  app.post(
    '/api/portal/confirmations/:id',
    {
      config: { portal: true },
      schema: {
        tags: ['portal'],
        summary: 'Confirm the text, or send comments instead; the answer is final and kept with its time, address and hash',
        params: IdParams,
        body: Type.Object({ decision: Literals(['confirm', 'comment']), text: Type.Optional(Nullable(Text(1, 5000, 'the opinion or the comments; required to comment'))) }, { additionalProperties: false }),
        response: responses({ 200: PortalConfirmation }),
      },
    },
    async (request) => answerConfirmation(ctx, request.portal!, request.actor, (request.params as { id: number }).id, request.body as { decision: 'confirm' | 'comment'; text?: string | null }),
  );
};
