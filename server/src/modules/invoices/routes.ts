import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { Empty, Id, IdParams, Nullable, responses } from '../../schemas.js';
import {
  changeInvoiceStatus,
  enterInvoiceRequest,
  getInvoiceRequest,
  listInvoiceRequests,
  listMatterInvoiceRequests,
  listPortalInvoiceRequests,
  submitPortalInvoiceRequest,
  type InvoiceDetailsInput,
  type StatusChange,
} from './service.js';
import { INVOICE_STATUSES, type InvoiceStatus } from './tables.js';

const Text = (min: number, max: number, description?: string) => Type.String({ minLength: min, maxLength: max, ...(description ? { description } : {}) });
const Status = Type.Union(INVOICE_STATUSES.map((s) => Type.Literal(s)));
const Phone = Type.String({ pattern: '^\\+?[0-9][0-9 ()（）-]{4,24}$', examples: ['010-65880001'] });

/** What the client gives: the same in the portal and when staff enter it. */
const detailFields = {
  invoice_type: Type.Union([Type.Literal('normal'), Type.Literal('special')], { description: 'normal 增值税普通发票, special 增值税专用发票 (organisations only)' }),
  title_kind: Type.Union([Type.Literal('organization'), Type.Literal('person')]),
  title: Text(1, 200, '发票抬头'),
  taxpayer_id: Type.Optional(Nullable(Text(1, 40, '纳税人识别号: the unified social credit code (GB 32100); required for an organisation'))),
  amount: Type.String({ pattern: '^\\d{1,12}(\\.\\d{1,2})?$', description: 'yuan, e.g. "30000.00"' }),
  company_address: Type.Optional(Nullable(Text(1, 300, 'required for a 专票'))),
  company_phone: Type.Optional(Nullable(Phone)),
  bank_name: Type.Optional(Nullable(Text(1, 200, 'required for a 专票'))),
  bank_account: Type.Optional(Nullable(Type.String({ pattern: '^[0-9][0-9 -]{4,40}$', description: 'required for a 专票', examples: ['0200001009200012345'] }))),
  delivery: Type.Union([Type.Literal('email'), Type.Literal('post')]),
  email: Type.Optional(Nullable(Type.String({ pattern: '^[^\\s@]{1,64}@[^\\s@]{1,190}\\.[^\\s@]{1,20}$', maxLength: 200, examples: ['finance@example.cn'] }))),
  recipient_name: Type.Optional(Nullable(Text(1, 100))),
  recipient_phone: Type.Optional(Nullable(Phone)),
  postal_address: Type.Optional(Nullable(Text(1, 300))),
  note: Type.Optional(Nullable(Text(1, 1000))),
};

const InvoiceRequest = Type.Object(
  {
    id: Type.Integer(),
    matter: Type.Object({ id: Type.Integer(), number: Type.String() }, { additionalProperties: false }),
    client_id: Type.Integer(),
    invoice_type: Type.Union([Type.Literal('normal'), Type.Literal('special')]),
    invoice_type_label: Type.String(),
    title_kind: Type.Union([Type.Literal('organization'), Type.Literal('person')]),
    title: Type.String(),
    taxpayer_id: Nullable(Type.String()),
    amount: Type.String(),
    company_address: Nullable(Type.String()),
    company_phone: Nullable(Type.String()),
    bank_name: Nullable(Type.String()),
    bank_account: Nullable(Type.String({ description: 'masked in lists' })),
    delivery: Type.Union([Type.Literal('email'), Type.Literal('post')]),
    email: Nullable(Type.String()),
    recipient_name: Nullable(Type.String()),
    recipient_phone: Nullable(Type.String({ description: 'masked in lists' })),
    postal_address: Nullable(Type.String({ description: 'masked in lists' })),
    note: Nullable(Type.String()),
    status: Status,
    status_label: Type.String(),
    invoice_number: Nullable(Type.String()),
    invoice_date: Nullable(Type.String()),
    reject_reason: Nullable(Type.String()),
    submitted_via: Type.Union([Type.Literal('portal'), Type.Literal('staff')]),
    created_at: Type.String(),
    updated_at: Type.String(),
    masked: Type.Boolean(),
    warnings: Type.Optional(Type.Array(Type.String())),
  },
  { additionalProperties: false },
);

/** Invoice requests (Z5.4.4): the client's portal, the matter's team and finance. */
export const invoicesRoutes: FastifyPluginAsync = async (app) => {
  const ctx = app.services;

  app.post(
    '/api/portal/invoice-requests',
    {
      config: { portal: true },
      schema: {
        tags: ['portal'],
        summary: 'The client asks for an invoice for one of its matters',
        body: Type.Object({ matter_id: Id(), ...detailFields }, { additionalProperties: false }),
        response: responses({ 201: InvoiceRequest }),
      },
    },
    async (request, reply) => {
      reply.code(201);
      return submitPortalInvoiceRequest(ctx, request.portal!, request.actor, request.body as InvoiceDetailsInput & { matter_id: number });
    },
  );

  app.get(
    '/api/portal/invoice-requests',
    { config: { portal: true }, schema: { tags: ['portal'], summary: 'The client’s invoice requests and their status', querystring: Empty, response: responses({ 200: Type.Array(InvoiceRequest) }) } },
    async (request) => listPortalInvoiceRequests(ctx, request.portal!),
  );

  app.post(
    '/api/matters/:id/invoice-requests',
    {
      config: { permission: 'matters.work' },
      schema: {
        tags: ['invoices'],
        summary: 'Enter an invoice request for the matter’s client (given by phone, email or on paper)',
        params: IdParams,
        body: Type.Object({ client_id: Type.Optional(Nullable(Id({ description: 'default: the matter’s only client' }))), ...detailFields }, { additionalProperties: false }),
        response: responses({ 201: InvoiceRequest }),
      },
    },
    async (request, reply) => {
      reply.code(201);
      return enterInvoiceRequest(ctx, request.actor, (request.params as { id: number }).id, request.body as InvoiceDetailsInput & { client_id?: number | null });
    },
  );

  app.get(
    '/api/matters/:id/invoice-requests',
    { config: { permission: 'matters.work' }, schema: { tags: ['invoices'], summary: 'The matter’s invoice requests', params: IdParams, querystring: Empty, response: responses({ 200: Type.Array(InvoiceRequest) }) } },
    async (request) => listMatterInvoiceRequests(ctx, request.actor, (request.params as { id: number }).id),
  );

  app.get(
    '/api/invoice-requests',
    {
      config: { permission: 'invoices.manage' },
      schema: {
        tags: ['invoices'],
        summary: 'Finance’s queue, oldest first',
        querystring: Type.Object(
          { status: Type.Optional(Status), limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }), offset: Type.Integer({ minimum: 0, default: 0 }) },
          { additionalProperties: false },
        ),
        response: responses({ 200: Type.Array(InvoiceRequest) }),
      },
    },
    async (request) => listInvoiceRequests(ctx, request.actor, request.query as { status?: InvoiceStatus; limit: number; offset: number }),
  );

  app.get(
    '/api/invoice-requests/:id',
    { config: { permission: 'invoices.manage' }, schema: { tags: ['invoices'], summary: 'One request in full, to issue it (the read is audited)', params: IdParams, querystring: Empty, response: responses({ 200: InvoiceRequest }) } },
    async (request) => getInvoiceRequest(ctx, request.actor, (request.params as { id: number }).id),
  );

  app.post(
    '/api/invoice-requests/:id/status',
    {
      config: { permission: 'invoices.manage' },
      schema: {
        tags: ['invoices'],
        summary: 'submitted → processing → issued (number, date) or rejected (reason); the client is told',
        params: IdParams,
        body: Type.Object(
          {
            status: Type.Union([Type.Literal('processing'), Type.Literal('issued'), Type.Literal('rejected')]),
            invoice_number: Type.Optional(Type.String({ pattern: '^[0-9A-Za-z-]{1,40}$', description: 'with issued: 发票号码' })),
            invoice_date: Type.Optional(Type.String({ format: 'date', description: 'with issued: 开票日期' })),
            reason: Type.Optional(Text(1, 1000, 'with rejected: why, for the client')),
          },
          { additionalProperties: false },
        ),
        response: responses({ 200: InvoiceRequest }),
      },
    },
    async (request) => changeInvoiceStatus(ctx, request.actor, (request.params as { id: number }).id, request.body as StatusChange),
  );
};
