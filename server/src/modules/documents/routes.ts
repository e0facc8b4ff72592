import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { Empty, Id, IdParams, Nullable, responses } from '../../schemas.js';
import {
  cancelSignatureRequest,
  completeSigning,
  listDocumentSignatures,
  listSignatureRequests,
  requestSignature,
  sendSigningCode,
  signatureFile,
  signedCopy,
  verifyPresented,
  viewSigning,
  type CompleteInput,
} from './esign.js';
import { applyForSeal, decideSealApplication, listMatterSealApplications, listSealApplications, type SealApplicationInput } from './seals.js';
import {
  addTemplateVersion,
  createTemplate,
  documentPdf,
  generateDocument,
  getDocument,
  getTemplate,
  getTemplateVersion,
  listMatterDocuments,
  listTemplates,
  templateVariables,
  type GenerateInput,
  type TemplateInput,
} from './service.js';

const DateTime = Type.String({ format: 'date-time' });
const Sha = Type.String({ pattern: '^[0-9a-f]{64}$' });
const TemplateKind = Type.Union(['service_contract', 'risk_notice', 'intake_record', 'custom'].map((k) => Type.Literal(k)));
const SealType = Type.Union(['official', 'contract', 'letter'].map((k) => Type.Literal(k)), { description: 'official 公章 · contract 合同专用章 · letter 律师事务所函件章' });
const SealMode = Type.Union(['physical', 'electronic'].map((k) => Type.Literal(k)), { description: 'physical: stamped on paper copies; electronic: the firm’s e-seal signs the document' });
const TemplateTitle = Type.String({ minLength: 1, maxLength: 200, description: 'may hold {{variables}}' });
const TemplateBody = Type.String({
  minLength: 1,
  maxLength: 50_000,
  description: 'text with {{variables}} (GET /api/templates/variables); a line "# …" is the heading, "## …" a section, an empty line a space',
});
const Note = Type.String({ maxLength: 500 });
const Token = Type.String({ pattern: '^[A-Za-z0-9_-]{43}$', description: 'the t parameter of the signing link', examples: ['Zm9vYmFyYmF6cXV4cXV1eHl6enlnb29kZ29vZGdvb2Q'] });
/** the largest PDF the verification takes: 10 MB, base64 */
const MAX_PDF_BASE64 = Math.ceil((10 * 1024 * 1024) / 3) * 4;
const MAX_SIGNATURE_BASE64 = 64 * 1024;

const TemplateSchema = Type.Object(
  {
    id: Type.Integer(),
    key: Type.String(),
    name: Type.String(),
    kind: TemplateKind,
    kind_label: Type.String(),
    builtin: Type.Boolean(),
    latest_version: Type.Integer(),
    created_at: Type.String(),
    updated_at: Type.String(),
  },
  { additionalProperties: false },
);
const VersionSchema = Type.Object(
  { version: Type.Integer(), title: Type.String(), body: Type.String(), variables: Type.Array(Type.String()), note: Nullable(Type.String()), created_by: Nullable(Type.Integer()), created_at: Type.String() },
  { additionalProperties: false },
);
const TemplateDetail = Type.Object({ ...TemplateSchema.properties, versions: Type.Array(VersionSchema, { description: 'newest first' }) }, { additionalProperties: false });

const DocumentSchema = Type.Object(
  {
    id: Type.Integer(),
    matter: Type.Object({ id: Type.Integer(), number: Type.String() }, { additionalProperties: false }),
    client: Nullable(Type.Object({ id: Type.Integer(), name: Type.String() }, { additionalProperties: false })),
    template: Type.Object({ id: Type.Integer(), key: Type.String(), version: Type.Integer() }, { additionalProperties: false }),
    title: Type.String(),
    bytes: Type.Integer(),
    sha256: Sha,
    sm3: Sha,
    created_by: Type.Integer(),
    created_at: Type.String(),
    signatures: Type.Object({ client: Type.Integer(), firm_seal: Type.Integer() }, { additionalProperties: false }),
  },
  { additionalProperties: false },
);

const Person = Type.Object({ id: Type.Integer(), display_name: Type.String() }, { additionalProperties: false });
const SealSchema = Type.Object(
  {
    id: Type.Integer(),
    matter: Type.Object({ id: Type.Integer(), number: Type.String() }, { additionalProperties: false }),
    document_id: Nullable(Type.Integer()),
    title: Type.String(),
    seal_type: SealType,
    seal_label: Type.String(),
    mode: SealMode,
    purpose: Type.String(),
    copies: Type.Integer(),
    status: Type.Union([Type.Literal('pending'), Type.Literal('approved'), Type.Literal('rejected')]),
    applied_by: Person,
    applied_at: Type.String(),
    decided_by: Nullable(Person),
    decided_at: Nullable(Type.String()),
    decision_note: Nullable(Type.String()),
    signature_id: Nullable(Type.Integer({ description: 'the firm’s e-seal signature, for an approved electronic application' })),
  },
  { additionalProperties: false },
);

const RequestSchema = Type.Object(
  {
    id: Type.Integer(),
    document_id: Type.Integer(),
    client_id: Type.Integer(),
    signer_name: Type.String(),
    phone_masked: Nullable(Type.String()),
    email_masked: Nullable(Type.String()),
    status: Type.Union(['pending', 'signed', 'cancelled', 'expired'].map((s) => Type.Literal(s))),
    code_required: Type.Boolean(),
    expires_at: Type.String(),
    created_by: Type.Integer(),
    created_at: Type.String(),
    signed_at: Nullable(Type.String()),
  },
  { additionalProperties: false },
);

const Reason = Type.Object({ code: Type.String(), message: Type.String() }, { additionalProperties: false });
const SignatureSchema = Type.Object(
  {
    id: Type.Integer(),
    kind: Type.Union([Type.Literal('client'), Type.Literal('firm_seal')]),
    signer_name: Type.String(),
    signed_at: Type.String(),
    source_ip: Nullable(Type.String()),
    user_agent: Nullable(Type.String()),
    document_sha256: Sha,
    document_sm3: Sha,
    evidence: Type.Record(Type.String(), Type.Unknown(), { description: 'what was recorded at signing; its SM3 is bound into the signature' }),
    evidence_sm3: Sha,
    key: Type.String({ description: 'platform, or seal:<type>' }),
    signature_base64: Type.String({ description: 'the detached DER SES_Signature (GB/T 38540)' }),
    verification: Type.Object({ valid: Type.Boolean(), reasons: Type.Array(Reason) }, { additionalProperties: false }),
  },
  { additionalProperties: false },
);

const PdfResponse = responses({ 200: Type.String({ description: 'the PDF’s bytes (application/pdf)' }) });

function sendFile(reply: FastifyReply, file: { content: Buffer; name: string; sha256?: string }, type: string) {
  reply.header('content-type', type);
  reply.header('cache-control', 'no-store');
  if (file.sha256) reply.header('x-content-sha256', file.sha256);
  reply.header('content-disposition', `attachment; filename*=UTF-8''${encodeURIComponent(file.name)}`);
  return reply.send(file.content);
}

const source = (request: FastifyRequest) => ({ ip: request.ip, userAgent: request.headers['user-agent'] ?? null });

/**
 * Templates, documents, seal-use applications and e-signature for staff; the signer's routes and the
 * verification of a signed document are public (the signing link's token, or nothing, is the key).
 */
export const documentsRoutes: FastifyPluginAsync = async (app) => {
  const ctx = app.services;
  // Like login: a token or code can be guessed only as fast as this allows, per client address.
  const publicRateLimit = { max: ctx.config.authRateLimitPerMinute, timeWindow: '1 minute' };

  // ---- templates

  app.get(
    '/api/templates',
    { config: { permission: 'matters.work' }, schema: { tags: ['documents'], summary: 'Document templates (the built-in contract, risk notice and intake record, and the firm’s own)', querystring: Empty, response: responses({ 200: Type.Array(TemplateSchema) }) } },
    async (request) => listTemplates(ctx, request.actor),
  );

  app.get(
    '/api/templates/variables',
    {
      config: { permission: 'matters.work' },
      schema: {
        tags: ['documents'],
        summary: 'The variables a template may use, taken from the matter and its client',
        querystring: Empty,
        response: responses({ 200: Type.Array(Type.Object({ name: Type.String(), description: Type.String() }, { additionalProperties: false })) }),
      },
    },
    async (request) => templateVariables(request.actor),
  );

  app.post(
    '/api/templates',
    {
      config: { permission: 'templates.manage' },
      schema: {
        tags: ['documents'],
        summary: 'Create a firm-defined template (version 1); an unknown variable or a malformed placeholder is a 400',
        body: Type.Object(
          {
            key: Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,63}$', examples: ['engagement-letter'] }),
            name: Type.String({ minLength: 1, maxLength: 100 }),
            kind: TemplateKind,
            title: TemplateTitle,
            body: TemplateBody,
            note: Type.Optional(Nullable(Note)),
          },
          { additionalProperties: false },
        ),
        response: responses({ 201: TemplateDetail }),
      },
    },
    async (request, reply) => {
      reply.code(201);
      return createTemplate(ctx, request.actor, request.body as TemplateInput);
    },
  );

  app.get(
    '/api/templates/:id',
    { config: { permission: 'matters.work' }, schema: { tags: ['documents'], summary: 'A template with all its versions', params: IdParams, querystring: Empty, response: responses({ 200: TemplateDetail }) } },
    async (request) => getTemplate(ctx, request.actor, (request.params as { id: number }).id),
  );

  app.post(
    '/api/templates/:id/versions',
    {
      config: { permission: 'templates.manage' },
      schema: {
        tags: ['documents'],
        summary: 'Save a new version of a template; earlier versions and the documents made from them do not change',
        params: IdParams,
        body: Type.Object({ title: TemplateTitle, body: TemplateBody, note: Type.Optional(Nullable(Note)) }, { additionalProperties: false }),
        response: responses({ 201: VersionSchema }),
      },
    },
    async (request, reply) => {
      reply.code(201);
      return addTemplateVersion(ctx, request.actor, (request.params as { id: number }).id, request.body as { title: string; body: string; note?: string | null });
    },
  );

  app.get(
    '/api/templates/:id/versions/:version',
    {
      config: { permission: 'matters.work' },
      schema: { tags: ['documents'], summary: 'One version of a template', params: Type.Object({ id: Id(), version: Id() }, { additionalProperties: false }), querystring: Empty, response: responses({ 200: VersionSchema }) },
    },
    async (request) => {
      const { id, version } = request.params as { id: number; version: number };
      return getTemplateVersion(ctx, request.actor, id, version);
    },
  );

  // ---- documents

  app.post(
    '/api/matters/:id/documents',
    {
      config: { permission: 'matters.work' },
      schema: {
        tags: ['documents'],
        summary: 'Generate a PDF document for the matter from a template version; a variable without a value in the matter is a 400 naming it',
        params: IdParams,
        body: Type.Object(
          {
            template_id: Id(),
            version: Type.Optional(Id({ description: 'default: the latest' })),
            client_id: Type.Optional(Id({ description: 'which of the matter’s clients; default: the first' })),
          },
          { additionalProperties: false },
        ),
        response: responses({ 201: DocumentSchema }),
      },
    },
    async (request, reply) => {
      reply.code(201);
      return generateDocument(ctx, request.actor, (request.params as { id: number }).id, request.body as GenerateInput);
    },
  );

  app.get(
    '/api/matters/:id/documents',
    { config: { permission: 'matters.read' }, schema: { tags: ['documents'], summary: 'The matter’s documents, newest first', params: IdParams, querystring: Empty, response: responses({ 200: Type.Array(DocumentSchema) }) } },
    async (request) => listMatterDocuments(ctx, request.actor, (request.params as { id: number }).id),
  );

  app.get(
    '/api/documents/:id',
    { config: { permission: 'matters.read' }, schema: { tags: ['documents'], summary: 'One document', params: IdParams, querystring: Empty, response: responses({ 200: DocumentSchema }) } },
    async (request) => getDocument(ctx, request.actor, (request.params as { id: number }).id),
  );

  app.get(
    '/api/documents/:id/pdf',
    { config: { permission: 'matters.read' }, schema: { tags: ['documents'], summary: 'The document’s PDF as issued (what signatures cover)', params: IdParams, querystring: Empty, response: PdfResponse } },
    async (request, reply) => sendFile(reply, await documentPdf(ctx, request.actor, (request.params as { id: number }).id), 'application/pdf'),
  );

  app.get(
    '/api/documents/:id/signed-pdf',
    {
      config: { permission: 'matters.read' },
      schema: {
        tags: ['documents'],
        summary: 'A readable signed copy: the pages, a 电子签署证书 page, the original PDF and the detached signatures attached (verify the attachments, not this copy)',
        params: IdParams,
        querystring: Empty,
        response: PdfResponse,
      },
    },
    async (request, reply) => sendFile(reply, await signedCopy(ctx, request.actor, (request.params as { id: number }).id), 'application/pdf'),
  );

  app.get(
    '/api/documents/:id/signatures',
    {
      config: { permission: 'matters.read' },
      schema: { tags: ['documents'], summary: 'The document’s signatures with their evidence, each verified again now', params: IdParams, querystring: Empty, response: responses({ 200: Type.Array(SignatureSchema) }) },
    },
    async (request) => listDocumentSignatures(ctx, request.actor, (request.params as { id: number }).id),
  );

  app.get(
    '/api/signatures/:id/file',
    {
      config: { permission: 'matters.read' },
      schema: { tags: ['documents'], summary: 'The detached signature (DER SES_Signature, GB/T 38540)', params: IdParams, querystring: Empty, response: responses({ 200: Type.String({ description: 'application/octet-stream' }) }) },
    },
    async (request, reply) => sendFile(reply, await signatureFile(ctx, request.actor, (request.params as { id: number }).id), 'application/octet-stream'),
  );

  app.post(
    '/api/documents/:id/signature-requests',
    {
      config: { permission: 'matters.work' },
      schema: {
        tags: ['documents'],
        summary: 'Send the document to its client for signature: a one-time link valid 7 days (returned this once; also sent to the client); replaces an open earlier link',
        params: IdParams,
        body: Type.Object({ signer_name: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'default: the client (a person) or its contact' })) }, { additionalProperties: false }),
        response: responses({ 201: Type.Object({ request: RequestSchema, link: Type.String({ description: '/portal/sign#t=<token>' }) }, { additionalProperties: false }) }),
      },
    },
    async (request, reply) => {
      reply.code(201);
      return requestSignature(ctx, request.actor, (request.params as { id: number }).id, request.body as { signer_name?: string });
    },
  );

  app.get(
    '/api/documents/:id/signature-requests',
    { config: { permission: 'matters.read' }, schema: { tags: ['documents'], summary: 'The document’s signature requests', params: IdParams, querystring: Empty, response: responses({ 200: Type.Array(RequestSchema) }) } },
    async (request) => listSignatureRequests(ctx, request.actor, (request.params as { id: number }).id),
  );

  app.post(
    '/api/signature-requests/:id/cancel',
    { config: { permission: 'matters.work' }, schema: { tags: ['documents'], summary: 'Withdraw an open signing link', params: IdParams, body: Empty, response: responses({ 200: RequestSchema }) } },
    async (request) => cancelSignatureRequest(ctx, request.actor, (request.params as { id: number }).id),
  );

  // ---- seal-use applications

  app.post(
    '/api/matters/:id/seal-applications',
    {
      config: { permission: 'matters.work' },
      schema: {
        tags: ['documents'],
        summary: 'Apply to use a seal (用印申请) on a document of the matter',
        params: IdParams,
        body: Type.Object(
          {
            document_id: Type.Optional(Nullable(Id({ description: 'required for an electronic seal' }))),
            title: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'what is sealed; default: the document’s title' })),
            seal_type: SealType,
            mode: SealMode,
            purpose: Type.String({ minLength: 1, maxLength: 500 }),
            copies: Type.Integer({ minimum: 1, maximum: 100, default: 1 }),
          },
          { additionalProperties: false },
        ),
        response: responses({ 201: SealSchema }),
      },
    },
    async (request, reply) => {
      reply.code(201);
      return applyForSeal(ctx, request.actor, (request.params as { id: number }).id, request.body as SealApplicationInput);
    },
  );

  app.get(
    '/api/matters/:id/seal-applications',
    { config: { permission: 'matters.read' }, schema: { tags: ['documents'], summary: 'The matter’s seal-use records', params: IdParams, querystring: Empty, response: responses({ 200: Type.Array(SealSchema) }) } },
    async (request) => listMatterSealApplications(ctx, request.actor, (request.params as { id: number }).id),
  );

  app.get(
    '/api/seal-applications',
    {
      config: { permission: 'seals.approve' },
      schema: {
        tags: ['documents'],
        summary: 'Seal-use applications across matters (status=pending: the approval queue)',
        querystring: Type.Object({ status: Type.Optional(Type.Union([Type.Literal('pending'), Type.Literal('approved'), Type.Literal('rejected')])) }, { additionalProperties: false }),
        response: responses({ 200: Type.Array(SealSchema) }),
      },
    },
    async (request) => listSealApplications(ctx, request.actor, request.query as { status?: 'pending' | 'approved' | 'rejected' }),
  );

  app.post(
    '/api/seal-applications/:id/decision',
    {
      config: { permission: 'seals.approve' },
      schema: {
        tags: ['documents'],
        summary: 'Approve or reject a seal-use application (not one’s own); approval files it, and an electronic one puts the firm’s e-seal on the document',
        params: IdParams,
        body: Type.Object({ decision: Type.Union([Type.Literal('approve'), Type.Literal('reject')]), note: Type.Optional(Nullable(Note)) }, { additionalProperties: false }),
        response: responses({ 200: SealSchema }),
      },
    },
    async (request) => decideSealApplication(ctx, request.actor, (request.params as { id: number }).id, request.body as { decision: 'approve' | 'reject'; note?: string | null }),
  );

  // ---- the signer (public: the link's token is the credential, sent in the body so it is never logged)

  app.post(
    '/api/sign/view',
    {
      config: { public: true, rateLimit: publicRateLimit },
      schema: {
        tags: ['signing'],
        summary: 'Open a signing link: the document (PDF as base64), its hashes, the consent text, and whether a code is needed',
        body: Type.Object({ token: Token }, { additionalProperties: false }),
        response: responses({
          200: Type.Object(
            {
              signer_name: Type.String(),
              code_required: Type.Boolean(),
              code_channels: Type.Array(Type.String(), { description: 'where a code goes, masked' }),
              expires_at: Type.String(),
              consent_text: Type.String(),
              document: Type.Object(
                { title: Type.String(), matter_number: Type.String(), bytes: Type.Integer(), sha256: Sha, sm3: Sha, created_at: Type.String() },
                { additionalProperties: false },
              ),
              pdf_base64: Type.String(),
            },
            { additionalProperties: false },
          ),
        }),
      },
    },
    async (request) => viewSigning(ctx, (request.body as { token: string }).token, source(request)),
  );

  app.post(
    '/api/sign/code',
    {
      config: { public: true, rateLimit: publicRateLimit },
      schema: {
        tags: ['signing'],
        summary: 'Send a 6-digit code to the client’s email or phone (valid 10 minutes; at most 5 per link, one a minute)',
        body: Type.Object({ token: Token }, { additionalProperties: false }),
        response: responses({ 200: Type.Object({ sent_to: Type.Array(Type.String()), expires_at: DateTime, resend_after: DateTime }, { additionalProperties: false }) }),
      },
    },
    async (request) => sendSigningCode(ctx, (request.body as { token: string }).token, source(request)),
  );

  app.post(
    '/api/sign/complete',
    {
      config: { public: true, rateLimit: publicRateLimit },
      schema: {
        tags: ['signing'],
        summary: 'Sign: consent ticked (with the consent text as shown), name typed, and the code when one is needed; returns the detached signature',
        body: Type.Object(
          {
            token: Token,
            consent: Type.Boolean({ description: 'the consent box; must be true' }),
            consent_text: Type.String({ maxLength: 2000, description: 'the consent_text of /api/sign/view, as shown' }),
            typed_name: Type.String({ minLength: 1, maxLength: 100 }),
            code: Type.Optional(Type.String({ pattern: '^[0-9]{6}$' })),
          },
          { additionalProperties: false },
        ),
        response: responses({
          200: Type.Object(
            {
              signature_id: Type.Integer(),
              signed_at: Type.String(),
              signer_name: Type.String(),
              document_sha256: Sha,
              document_sm3: Sha,
              evidence_sm3: Sha,
              signature_base64: Type.String({ description: 'the detached DER SES_Signature, for POST /api/signatures/verify' }),
            },
            { additionalProperties: false },
          ),
        }),
      },
    },
    async (request) => {
      const { token, ...input } = request.body as CompleteInput & { token: string };
      return completeSigning(ctx, token, input, source(request));
    },
  );

  app.post(
    '/api/signatures/verify',
    {
      config: { public: true, rateLimit: publicRateLimit },
      bodyLimit: MAX_PDF_BASE64 + MAX_SIGNATURE_BASE64 + 64 * 1024,
      schema: {
        tags: ['signing'],
        summary: 'Verify a signed document: the original PDF and its detached signature; any changed byte makes it invalid, with the reasons',
        body: Type.Object(
          {
            pdf_base64: Type.String({ minLength: 1, maxLength: MAX_PDF_BASE64, examples: ['JVBERi0xLjcK'] }),
            signature_base64: Type.String({ minLength: 1, maxLength: MAX_SIGNATURE_BASE64, examples: ['MAA='] }),
          },
          { additionalProperties: false },
        ),
        response: responses({
          200: Type.Object(
            {
              valid: Type.Boolean(),
              kind: Nullable(Type.Union([Type.Literal('client'), Type.Literal('firm_seal')])),
              signer: Nullable(Type.String()),
              signed_at: Nullable(Type.String()),
              algorithm: Nullable(Type.String()),
              document: Type.Object({ sha256: Sha, sm3: Sha, signed_sm3: Nullable(Type.String()) }, { additionalProperties: false }),
              registered: Type.Boolean(),
              reasons: Type.Array(Reason),
            },
            { additionalProperties: false },
          ),
        }),
      },
    },
    async (request) => verifyPresented(ctx, request.body as { pdf_base64: string; signature_base64: string }),
  );
};
