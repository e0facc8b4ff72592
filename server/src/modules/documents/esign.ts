import { randomInt, timingSafeEqual } from 'node:crypto';
import type { Transaction } from 'kysely';
import { shanghaiDateTime } from '../../calendar.js';
import type { Actor, ServiceContext } from '../../context.js';
import type { Db } from '../../db/index.js';
import type { Database } from '../../db/schema.js';
import { readSetting } from '../../db/settings.js';
import { AppError, badRequest, conflict, notFound } from '../../errors.js';
import { fileToArchive } from '../archive/filing.js';
import { appendAudit, canonicalJson } from '../audit/service.js';
import { hashToken, newToken } from '../auth/service.js';
import { requirePermission } from '../auth/roles.js';
import { maskIdNumber, maskPhone } from '../clients/identifiers.js';
import { channelsFor, notify } from '../notifications/service.js';
import { SEAL_TYPES } from './defaults.js';
import { renderSignedCopy, type CertificateEntry } from './pdf.js';
import { documentForSigning, documentLayout, findVisibleDocument, readDocumentPdf } from './service.js';
import { knownKeys, makeSeal, parseSignature, readProperty, signDocument, signingKey, sm3Hex, verifyDetached, wholeSeconds, SM2_WITH_SM3, type Reason } from './signature.js';
import type { SealApplicationRow, SignatureRequestRow, SignatureRow } from './tables.js';

/**
 * Online signing (T/ZSM 0038-2024 Z5.4.2). A lawyer sends a document to the client: a one-time link,
 * valid for 7 days, and — when the email or SMS channel can reach the client — a 6-digit code sent by
 * the notification outbox. The signer reads the document, ticks the consent text and types their
 * name; the server records the evidence (document hashes, signer identity masked, time, address,
 * device, consent) and makes a detached SM2 signature over the document's bytes by the firm's
 * platform key (signature.ts). The firm's e-seal adds a second signature once a seal application is
 * approved. The link's token is stored hashed and never written to the audit trail.
 */

export const SIGN_LINK_DAYS = 7;
const DAY_MS = 86_400_000;
const CODE_TTL_MS = 10 * 60_000;
const CODE_RESEND_MS = 60_000;
const CODE_MAX_SENDS = 5;
/** Wrong codes allowed per code sent; then only a new code helps (at most 5 × 5 guesses of 10⁶ per link). */
const CODE_MAX_FAILURES = 5;
const FIRM_SEAL_YEARS = 10;

/** What the signer confirms by ticking the box; kept word for word in the evidence. */
export const CONSENT_TEXT =
  '本人已完整阅读上述文书的全部内容，自愿以电子签名方式签署，确认该电子签名为本人真实意思表示，与手写签名或者盖章具有同等法律效力（《中华人民共和国电子签名法》第十三条、第十四条）。';

/**
 * A request's notice carries its link (the client opens it from the portal) while the request is
 * open; once it is signed, cancelled or replaced the token is wiped there too, so the only live
 * copy of a token is in the client's hands and the database keeps just its hash.
 */
async function forgetSigningLinks(trx: Transaction<Database>, requestIds: number[]): Promise<void> {
  if (requestIds.length === 0) return;
  await trx.updateTable('notifications').set({ link: null }).where('dedupe_key', 'in', requestIds.map((id) => `signature.request:${id}`)).execute();
}

/** The token goes in the fragment, which browsers never send: it stays out of request logs. */
export const signLink = (token: string) => `/portal/sign#t=${token}`;

/** `zhang***@example.com` */
function maskEmail(value: string | null): string | null {
  if (!value) return null;
  const at = value.indexOf('@');
  if (at < 1) return '***';
  return `${value.slice(0, Math.min(2, at))}***${value.slice(at)}`;
}

/** Names compared as a person types them: full-width forms, spaces and the middle dot do not count. */
const normalName = (s: string) => s.normalize('NFKC').replace(/[\s·•・]/g, '').toLowerCase();

async function firmName(db: Db): Promise<string> {
  return (((await readSetting(db, 'firm')) ?? {}) as { name?: string }).name ?? '律师事务所';
}

// ---------------------------------------------------------------------------------------------
// Requests (staff)

export interface SignatureRequestView {
  id: number;
  document_id: number;
  client_id: number;
  signer_name: string;
  phone_masked: string | null;
  email_masked: string | null;
  status: 'pending' | 'signed' | 'cancelled' | 'expired';
  code_required: boolean;
  expires_at: string;
  created_by: number;
  created_at: string;
  signed_at: string | null;
}

function requestStatus(r: SignatureRequestRow, now: Date): SignatureRequestView['status'] {
  return r.status === 'pending' && r.expires_at <= now ? 'expired' : r.status;
}

const presentRequest = (r: SignatureRequestRow, now: Date): SignatureRequestView => ({
  id: r.id,
  document_id: r.document_id,
  client_id: r.client_id,
  signer_name: r.signer_name,
  phone_masked: maskPhone(r.signer_phone),
  email_masked: maskEmail(r.signer_email),
  status: requestStatus(r, now),
  code_required: r.code_required,
  expires_at: r.expires_at.toISOString(),
  created_by: r.created_by,
  created_at: r.created_at.toISOString(),
  signed_at: r.signed_at?.toISOString() ?? null,
});

/**
 * Takes the document's row lock: sending for signature and signing one document happen one after
 * the other, so a link can never be issued beside a signature being made.
 */
async function lockDocument(trx: Transaction<Database>, documentId: number): Promise<void> {
  await trx.selectFrom('documents').select('id').where('id', '=', documentId).forUpdate().execute();
}

/** The channels by which a code can reach this client now. */
async function codeChannels(db: Db, client: { phone: string | null; email: string | null }): Promise<('email' | 'sms')[]> {
  const on = await channelsFor(db, 'signature.code');
  return (['email', 'sms'] as const).filter((c) => on.includes(c) && (c === 'email' ? !!client.email : !!client.phone));
}

/**
 * Sends a document to its client for signature. A new link replaces any earlier one still open for
 * the document. The link (holding the token) is returned this once, for the lawyer to pass on, and
 * goes to the client by the notification channels.
 */
export async function requestSignature(ctx: ServiceContext, actor: Actor, documentId: number, input: { signer_name?: string }): Promise<{ request: SignatureRequestView; link: string }> {
  requirePermission(actor, 'matters.work');
  const doc = await findVisibleDocument(ctx.db, actor, documentId);
  if (doc.client_id === null) throw conflict('NO_CLIENT', 'This document names no client to sign it. / 该文书没有对应的委托人，无法发起签署。');
  const now = ctx.clock.now();
  const token = newToken();
  const request = await ctx.db.transaction().execute(async (trx) => {
    await lockDocument(trx, documentId);
    const signed = await trx.selectFrom('document_signatures').select('id').where('document_id', '=', documentId).where('kind', '=', 'client').executeTakeFirst();
    if (signed) throw conflict('ALREADY_SIGNED', 'The client has signed this document already. / 委托人已签署该文书。');
    const client = await trx.selectFrom('clients').selectAll().where('id', '=', doc.client_id!).executeTakeFirstOrThrow();
    const signerName = (input.signer_name?.trim() || (client.kind === 'person' ? client.name : (client.contact_name ?? client.legal_representative ?? client.name))).slice(0, 100);
    const channels = await codeChannels(trx, client);
    const replaced = await trx.updateTable('signature_requests').set({ status: 'cancelled' }).where('document_id', '=', documentId).where('status', '=', 'pending').returning('id').execute();
    await forgetSigningLinks(trx, replaced.map((r) => r.id));
    const row = await trx
      .insertInto('signature_requests')
      .values({
        document_id: documentId,
        client_id: client.id,
        signer_name: signerName,
        signer_phone: client.phone,
        signer_email: client.email,
        token_hash: hashToken(token),
        expires_at: new Date(now.getTime() + SIGN_LINK_DAYS * DAY_MS),
        code_required: channels.length > 0,
        code_hash: null,
        code_expires_at: null,
        code_last_sent_at: null,
        status: 'pending',
        signed_at: null,
        created_by: actor.userId!,
        created_at: now,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    await notify(trx, ctx, {
      event: 'signature.request',
      client_id: client.id,
      matter_id: doc.matter_id,
      title: `请签署《${doc.title}》`.slice(0, 200),
      body: `${await firmName(trx)}请您在线签署《${doc.title}》（案号 ${doc.matter_number}）。请在 ${shanghaiDateTime(row.expires_at)} 前打开链接，完整阅读文书后签署${row.code_required ? '，签署时需输入发送给您的验证码' : ''}。`,
      link: signLink(token),
      dedupe_key: `signature.request:${row.id}`,
    });
    await appendAudit(trx, {
      at: now,
      actor: actor.username,
      action: 'signature.request',
      object: `signature_request:${row.id}`,
      result: 'success',
      sourceIp: actor.sourceIp,
      detail: { document_id: documentId, client_id: client.id, code_required: row.code_required, channels, expires_at: row.expires_at.toISOString() },
    });
    return row;
  });
  return { request: presentRequest(request, now), link: signLink(token) };
}

export async function listSignatureRequests(ctx: ServiceContext, actor: Actor, documentId: number): Promise<SignatureRequestView[]> {
  requirePermission(actor, 'matters.read');
  await findVisibleDocument(ctx.db, actor, documentId);
  const now = ctx.clock.now();
  return (await ctx.db.selectFrom('signature_requests').selectAll().where('document_id', '=', documentId).orderBy('created_at', 'desc').orderBy('id', 'desc').execute()).map((r) => presentRequest(r, now));
}

export async function cancelSignatureRequest(ctx: ServiceContext, actor: Actor, id: number): Promise<SignatureRequestView> {
  requirePermission(actor, 'matters.work');
  const row = await ctx.db.selectFrom('signature_requests').select('document_id').where('id', '=', id).executeTakeFirst();
  if (!row) throw notFound('SIGNATURE_REQUEST_NOT_FOUND', `No signature request with id ${id}. / 签署请求不存在。`);
  await findVisibleDocument(ctx.db, actor, row.document_id);
  const now = ctx.clock.now();
  const updated = await ctx.db.transaction().execute(async (trx) => {
    const r = await trx.selectFrom('signature_requests').selectAll().where('id', '=', id).forUpdate().executeTakeFirstOrThrow();
    if (r.status !== 'pending') throw conflict('REQUEST_ENDED', `This request is ${r.status} already. / 该签署请求已结束。`);
    const next = await trx.updateTable('signature_requests').set({ status: 'cancelled', code_hash: null, code_expires_at: null }).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
    await forgetSigningLinks(trx, [id]);
    await appendAudit(trx, { at: now, actor: actor.username, action: 'signature.cancel', object: `signature_request:${id}`, result: 'success', sourceIp: actor.sourceIp, detail: { document_id: r.document_id } });
    return next;
  });
  return presentRequest(updated, now);
}

// ---------------------------------------------------------------------------------------------
// The signer (public routes, holding the link's token)

export interface SignerSource {
  ip: string | null;
  userAgent: string | null;
}

const signerActor = (requestId: number, ip: string | null): Actor => ({ userId: null, username: `signer:${requestId}`, role: null, sourceIp: ip });
const gone = (code: string, message: string) => new AppError(410, code, message);

/** The request a token opens, refused unless it can still be signed. */
async function openRequest(db: Db, token: string, now: Date, lock = false): Promise<SignatureRequestRow> {
  let q = db.selectFrom('signature_requests').selectAll().where('token_hash', '=', hashToken(token));
  if (lock) q = q.forUpdate();
  const r = await q.executeTakeFirst();
  if (!r) throw notFound('SIGN_LINK_INVALID', 'This signing link is not valid; check it was copied whole, or ask your lawyer for a new one. / 签署链接无效，请确认链接完整或联系律师重新发送。');
  if (r.status === 'signed') throw gone('SIGN_LINK_USED', 'This document was signed with this link already; a link signs once. / 该链接已完成签署，不能重复使用。');
  if (r.status === 'cancelled') throw gone('SIGN_LINK_CANCELLED', 'This signing link was withdrawn; ask your lawyer for the current one. / 该签署链接已撤回，请联系律师获取新链接。');
  if (r.expires_at <= now) throw gone('SIGN_LINK_EXPIRED', 'This signing link has expired; ask your lawyer to send a new one. / 签署链接已过期，请联系律师重新发送。');
  return r;
}

export interface SigningView {
  signer_name: string;
  code_required: boolean;
  /** where a code goes, masked */
  code_channels: string[];
  expires_at: string;
  consent_text: string;
  document: { title: string; matter_number: string; bytes: number; sha256: string; sm3: string; created_at: string };
  pdf_base64: string;
}

/** What the signer sees: the document (its PDF too) and what signing will ask. Each opening is audited. */
export async function viewSigning(ctx: ServiceContext, token: string, source: SignerSource): Promise<SigningView> {
  const now = ctx.clock.now();
  const r = await openRequest(ctx.db, token, now);
  const doc = await documentForSigning(ctx.db, r.document_id);
  const pdf = await readDocumentPdf(ctx, doc);
  const channels = r.code_required ? await codeChannels(ctx.db, { phone: r.signer_phone, email: r.signer_email }) : [];
  await ctx.db.transaction().execute((trx) =>
    appendAudit(trx, { at: now, actor: signerActor(r.id, source.ip).username, action: 'signature.view', object: `signature_request:${r.id}`, result: 'success', sourceIp: source.ip, detail: { document_id: doc.id } }),
  );
  return {
    signer_name: r.signer_name,
    code_required: r.code_required,
    code_channels: channels.map((c) => (c === 'email' ? `email ${maskEmail(r.signer_email)}` : `sms ${maskPhone(r.signer_phone)}`)),
    expires_at: r.expires_at.toISOString(),
    consent_text: CONSENT_TEXT,
    document: { title: doc.title, matter_number: doc.matter_number, bytes: doc.bytes, sha256: doc.sha256, sm3: doc.sm3, created_at: doc.created_at.toISOString() },
    pdf_base64: pdf.toString('base64'),
  };
}

const codeHash = (requestId: number, code: string) => hashToken(`signature-code:${requestId}:${code}`);

/** Sends a fresh 6-digit code by the client's email or SMS (at most 5 per link, one a minute). */
export async function sendSigningCode(ctx: ServiceContext, token: string, source: SignerSource): Promise<{ sent_to: string[]; expires_at: string; resend_after: string }> {
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    const r = await openRequest(trx, token, now, true);
    if (!r.code_required) throw conflict('CODE_NOT_REQUIRED', 'This link needs no code: sign directly. / 本次签署无需验证码。');
    if (r.code_sends >= CODE_MAX_SENDS) throw new AppError(429, 'CODE_SEND_LIMIT', 'No more codes can be sent for this link; ask your lawyer for a new link. / 验证码发送次数已达上限，请联系律师重新发送签署链接。');
    if (r.code_last_sent_at && now.getTime() - r.code_last_sent_at.getTime() < CODE_RESEND_MS) {
      throw new AppError(429, 'CODE_TOO_SOON', 'A code was just sent; wait a minute before asking for another. / 验证码刚刚发送，请一分钟后再试。');
    }
    const channels = await codeChannels(trx, { phone: r.signer_phone, email: r.signer_email });
    if (!channels.length) throw conflict('CODE_CHANNEL_OFF', 'No email or SMS channel can reach you now; ask your lawyer for a new link. / 目前无法通过短信或邮件发送验证码，请联系律师。');
    const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
    const expiresAt = new Date(now.getTime() + CODE_TTL_MS);
    await trx
      .updateTable('signature_requests')
      .set({ code_hash: codeHash(r.id, code), code_expires_at: expiresAt, code_sends: r.code_sends + 1, code_last_sent_at: now, code_failures: 0 })
      .where('id', '=', r.id)
      .execute();
    const doc = await documentForSigning(trx, r.document_id);
    await notify(trx, ctx, {
      event: 'signature.code',
      client_id: r.client_id,
      matter_id: doc.matter_id,
      title: '签署验证码',
      body: `您签署《${doc.title}》的验证码为 ${code}，10 分钟内有效。请勿将验证码告诉他人。（${await firmName(trx)}）`,
      dedupe_key: `signature.code:${r.id}:${r.code_sends + 1}`,
    });
    await appendAudit(trx, { at: now, actor: signerActor(r.id, source.ip).username, action: 'signature.code_sent', object: `signature_request:${r.id}`, result: 'success', sourceIp: source.ip, detail: { channels, send: r.code_sends + 1 } });
    return {
      sent_to: channels.map((c) => (c === 'email' ? `email ${maskEmail(r.signer_email)}` : `sms ${maskPhone(r.signer_phone)}`)),
      expires_at: expiresAt.toISOString(),
      resend_after: new Date(now.getTime() + CODE_RESEND_MS).toISOString(),
    };
  });
}

export interface CompleteInput {
  typed_name: string;
  /** the consent box, ticked */
  consent: boolean;
  /** the consent text as shown (from the view): what the signer agreed to */
  consent_text: string;
  code?: string;
}

export interface SignedResult {
  signature_id: number;
  signed_at: string;
  signer_name: string;
  document_sha256: string;
  document_sm3: string;
  evidence_sm3: string;
  /** base64 of the DER SES_Signature: with the PDF, what POST /api/signatures/verify takes */
  signature_base64: string;
}

/**
 * Signs: checks the code (a wrong one counts, and is recorded, even though the signing fails), the
 * typed name and the consent, then records the evidence and the SM2 signature and closes the link.
 */
export async function completeSigning(ctx: ServiceContext, token: string, input: CompleteInput, source: SignerSource): Promise<SignedResult> {
  const now = ctx.clock.now();
  const outcome = await ctx.db.transaction().execute(async (trx): Promise<{ error: AppError } | { result: SignedResult }> => {
    // The document's lock before the request's, in the order requestSignature takes them.
    await lockDocument(trx, (await openRequest(trx, token, now)).document_id);
    const r = await openRequest(trx, token, now, true);
    const actor = signerActor(r.id, source.ip);
    if (input.consent !== true || input.consent_text !== CONSENT_TEXT) {
      throw badRequest('CONSENT_REQUIRED', 'Tick the consent to sign, with the consent text as shown. / 请勾选并确认签署声明（须与页面所示一致）。');
    }
    if (normalName(input.typed_name) !== normalName(r.signer_name)) {
      throw badRequest('NAME_MISMATCH', 'Type your name exactly as it stands on the signing page. / 请输入与签署页所示一致的姓名。');
    }
    let codeChannel: string | null = null;
    if (r.code_required) {
      if (!r.code_hash || !r.code_expires_at || r.code_expires_at <= now) {
        throw badRequest('CODE_EXPIRED', 'Ask for a code first, or a new one: the last one has expired. / 请先获取验证码，或重新获取（验证码已过期）。');
      }
      if (r.code_failures >= CODE_MAX_FAILURES) throw new AppError(429, 'CODE_LOCKED', 'Too many wrong codes; ask for a new code. / 验证码错误次数过多，请重新获取验证码。');
      const given = Buffer.from(codeHash(r.id, (input.code ?? '').trim()), 'hex');
      if (!timingSafeEqual(given, Buffer.from(r.code_hash, 'hex'))) {
        const failures = r.code_failures + 1;
        await trx.updateTable('signature_requests').set({ code_failures: failures }).where('id', '=', r.id).execute();
        await appendAudit(trx, { at: now, actor: actor.username, action: 'signature.code_failed', object: `signature_request:${r.id}`, result: 'failure', sourceIp: source.ip, detail: { failures } });
        const left = CODE_MAX_FAILURES - failures;
        return { error: badRequest('CODE_INVALID', `The code is wrong; ${left} ${left === 1 ? 'try' : 'tries'} left for this code. / 验证码错误，还可尝试 ${left} 次。`) };
      }
      codeChannel = (await codeChannels(trx, { phone: r.signer_phone, email: r.signer_email })).join('+') || 'sent';
    }

    const doc = await documentForSigning(trx, r.document_id);
    const pdf = await readDocumentPdf(ctx, doc);
    const client = await trx.selectFrom('clients').selectAll().where('id', '=', r.client_id).executeTakeFirstOrThrow();
    const signedAt = wholeSeconds(now);
    const evidence = {
      version: 1,
      kind: 'client',
      document: { id: doc.id, title: doc.title, matter_number: doc.matter_number, bytes: doc.bytes, sha256: doc.sha256, sm3: doc.sm3, template: `${doc.template_id}@${doc.template_version}` },
      signer: {
        name: r.signer_name,
        typed_name: input.typed_name.trim(),
        client_id: client.id,
        client_name: client.name,
        client_kind: client.kind,
        id_number_masked: client.kind === 'person' ? maskIdNumber(client.id_number) : client.uscc,
        phone_masked: maskPhone(r.signer_phone),
        email_masked: maskEmail(r.signer_email),
      },
      authentication: { method: 'one_time_link', request_id: r.id, link_sent_at: r.created_at.toISOString(), code: codeChannel },
      consent: { accepted: true, text: CONSENT_TEXT },
      signed_at: signedAt.toISOString(),
      network: { ip: source.ip, user_agent: source.userAgent?.slice(0, 500) ?? null },
    };
    const evidenceSm3 = sm3Hex(canonicalJson(evidence));
    const platform = await signingKey(trx, ctx.config, 'platform', now);
    const seal = makeSeal({ esId: `lawbox-signer-${r.id}`, type: 2, name: r.signer_name, createDate: r.created_at, validStart: r.created_at, validEnd: r.expires_at }, platform, platform);
    const der = signDocument({ seal, signedAt, document: pdf, propertyInfo: `lawbox;document=${doc.id};kind=client;evidence-sm3=${evidenceSm3}`, key: platform });
    const sig = await trx
      .insertInto('document_signatures')
      .values({
        document_id: doc.id,
        kind: 'client',
        request_id: r.id,
        seal_application_id: null,
        signer_name: r.signer_name,
        signed_at: signedAt,
        source_ip: source.ip,
        user_agent: evidence.network.user_agent,
        document_sha256: doc.sha256,
        document_sm3: doc.sm3,
        evidence: JSON.stringify(evidence),
        evidence_sm3: evidenceSm3,
        key_id: platform.id,
        signature_der: der.toString('base64'),
        signature_sm3: sm3Hex(der),
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    await trx.updateTable('signature_requests').set({ status: 'signed', signed_at: signedAt, code_hash: null, code_expires_at: null }).where('id', '=', r.id).execute();
    await forgetSigningLinks(trx, [r.id]);
    await fileSigned(trx, ctx, doc, null);
    await appendAudit(trx, {
      at: now,
      actor: actor.username,
      action: 'signature.sign',
      object: `document:${doc.id}`,
      result: 'success',
      sourceIp: source.ip,
      detail: { request_id: r.id, signature_id: sig.id, document_sm3: doc.sm3, evidence_sm3: evidenceSm3, code: codeChannel },
    });
    return {
      result: {
        signature_id: sig.id,
        signed_at: signedAt.toISOString(),
        signer_name: r.signer_name,
        document_sha256: doc.sha256,
        document_sm3: doc.sm3,
        evidence_sm3: evidenceSm3,
        signature_base64: der.toString('base64'),
      },
    };
  });
  if ('error' in outcome) throw outcome.error;
  return outcome.result;
}

/** Files (or refreshes) the signed document in its matter's archive, titled with who has signed. */
async function fileSigned(trx: Transaction<Database>, ctx: ServiceContext, doc: { id: number; matter_id: number; title: string; sha256: string }, filedBy: number | null): Promise<void> {
  const kinds = await trx.selectFrom('document_signatures').select('kind').distinct().where('document_id', '=', doc.id).execute();
  const who = [kinds.some((k) => k.kind === 'client') ? '委托人' : null, kinds.some((k) => k.kind === 'firm_seal') ? '律所盖章' : null].filter(Boolean).join('、');
  await fileToArchive(trx, ctx, { matter_id: doc.matter_id, kind: 'signed_document', title: `${doc.title}（已签署：${who}）`, source: 'document', source_id: doc.id, sha256: doc.sha256, filed_by: filedBy });
}

/**
 * The firm's e-seal on a document, for an approved electronic seal application: signed by the key
 * of the seal applied for, inside the approval's transaction. Returns the signature's id.
 */
export async function signFirmSeal(trx: Transaction<Database>, ctx: ServiceContext, application: SealApplicationRow, approver: Actor): Promise<number> {
  const now = ctx.clock.now();
  await lockDocument(trx, application.document_id!);
  const doc = await documentForSigning(trx, application.document_id!);
  const pdf = await readDocumentPdf(ctx, doc);
  const signedAt = wholeSeconds(now);
  const platform = await signingKey(trx, ctx.config, 'platform', now);
  const key = await signingKey(trx, ctx.config, `seal:${application.seal_type}`, now);
  const sealName = `${await firmName(trx)}${SEAL_TYPES[application.seal_type]}`;
  const validEnd = new Date(key.createdAt);
  validEnd.setUTCFullYear(validEnd.getUTCFullYear() + FIRM_SEAL_YEARS);
  const seal = makeSeal({ esId: `lawbox-seal-${application.seal_type}-${key.id}`, type: 1, name: sealName, createDate: key.createdAt, validStart: key.createdAt, validEnd }, platform, key);
  const evidence = {
    version: 1,
    kind: 'firm_seal',
    document: { id: doc.id, title: doc.title, matter_number: doc.matter_number, bytes: doc.bytes, sha256: doc.sha256, sm3: doc.sm3, template: `${doc.template_id}@${doc.template_version}` },
    seal: { type: application.seal_type, label: SEAL_TYPES[application.seal_type], name: sealName },
    application: {
      id: application.id,
      purpose: application.purpose,
      applied_by: application.applied_by,
      applied_at: application.applied_at.toISOString(),
      approved_by: approver.userId,
      approved_by_username: approver.username,
      approved_at: now.toISOString(),
    },
    signed_at: signedAt.toISOString(),
    network: { ip: approver.sourceIp, user_agent: null },
  };
  const evidenceSm3 = sm3Hex(canonicalJson(evidence));
  const der = signDocument({ seal, signedAt, document: pdf, propertyInfo: `lawbox;document=${doc.id};kind=firm_seal;evidence-sm3=${evidenceSm3}`, key });
  const sig = await trx
    .insertInto('document_signatures')
    .values({
      document_id: doc.id,
      kind: 'firm_seal',
      request_id: null,
      seal_application_id: application.id,
      signer_name: sealName,
      signed_at: signedAt,
      source_ip: approver.sourceIp,
      user_agent: null,
      document_sha256: doc.sha256,
      document_sm3: doc.sm3,
      evidence: JSON.stringify(evidence),
      evidence_sm3: evidenceSm3,
      key_id: key.id,
      signature_der: der.toString('base64'),
      signature_sm3: sm3Hex(der),
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  await fileSigned(trx, ctx, doc, approver.userId);
  return sig.id;
}

// ---------------------------------------------------------------------------------------------
// Verification

export interface VerificationView {
  valid: boolean;
  kind: 'client' | 'firm_seal' | null;
  signer: string | null;
  signed_at: string | null;
  algorithm: string | null;
  document: { sha256: string; sm3: string; signed_sm3: string | null };
  /** the firm holds this signature in its register */
  registered: boolean;
  reasons: Reason[];
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function decodeBase64(value: string, field: string): Buffer {
  const clean = value.replace(/\s+/g, '');
  if (!clean || clean.length % 4 !== 0 || !BASE64.test(clean)) throw badRequest('INVALID_BASE64', `${field} is not valid base64. / ${field} 不是有效的 base64 编码。`);
  return Buffer.from(clean, 'base64');
}

/** Checks a signature against the firm's keys and register, and the document against it. */
async function verifyWith(db: Db, pdf: Buffer, der: Buffer): Promise<VerificationView> {
  const v = verifyDetached(pdf, der, await knownKeys(db));
  const registered = !!(await db.selectFrom('document_signatures').select('id').where('signature_sm3', '=', sm3Hex(der)).executeTakeFirst());
  const reasons = [...v.reasons];
  if (!registered && v.parsed) reasons.push({ code: 'NOT_REGISTERED', message: 'This firm has no record of this signature. / 本所签署记录中没有该签名。' });
  const kind = v.parsed ? (readProperty(v.parsed.propertyInfo).kind ?? (v.parsed.seal.type === 1 ? 'firm_seal' : 'client')) : null;
  return {
    valid: reasons.length === 0,
    kind: kind === 'client' || kind === 'firm_seal' ? kind : null,
    signer: v.parsed?.seal.name ?? null,
    signed_at: v.parsed?.signedAt.toISOString() ?? null,
    algorithm: v.parsed ? (v.parsed.algorithm === SM2_WITH_SM3 ? 'SM2-with-SM3 (1.2.156.10197.1.501)' : v.parsed.algorithm) : null,
    document: { sha256: v.documentSha256, sm3: v.documentSm3, signed_sm3: v.parsed?.dataHash ?? null },
    registered,
    reasons,
  };
}

/** The public check: anyone holding a signed document and its detached signature. */
export async function verifyPresented(ctx: ServiceContext, input: { pdf_base64: string; signature_base64: string }): Promise<VerificationView> {
  return verifyWith(ctx.db, decodeBase64(input.pdf_base64, 'pdf_base64'), decodeBase64(input.signature_base64, 'signature_base64'));
}

export interface SignatureView {
  id: number;
  kind: 'client' | 'firm_seal';
  signer_name: string;
  signed_at: string;
  source_ip: string | null;
  user_agent: string | null;
  document_sha256: string;
  document_sm3: string;
  evidence: Record<string, unknown>;
  evidence_sm3: string;
  key: string;
  signature_base64: string;
  /** checked now against the stored PDF */
  verification: { valid: boolean; reasons: Reason[] };
}

/** The document's signatures with their evidence, each checked again against the stored PDF. */
export async function listDocumentSignatures(ctx: ServiceContext, actor: Actor, documentId: number): Promise<SignatureView[]> {
  requirePermission(actor, 'matters.read');
  const doc = await findVisibleDocument(ctx.db, actor, documentId);
  const rows = await ctx.db
    .selectFrom('document_signatures as s')
    .innerJoin('signing_keys as k', 'k.id', 's.key_id')
    .selectAll('s')
    .select('k.purpose')
    .where('s.document_id', '=', documentId)
    .orderBy('s.signed_at')
    .orderBy('s.id')
    .execute();
  if (!rows.length) return [];
  const pdf = await readDocumentPdf(ctx, doc);
  const out: SignatureView[] = [];
  for (const s of rows) {
    const v = await verifyWith(ctx.db, pdf, Buffer.from(s.signature_der, 'base64'));
    out.push({
      id: s.id,
      kind: s.kind,
      signer_name: s.signer_name,
      signed_at: s.signed_at.toISOString(),
      source_ip: s.source_ip,
      user_agent: s.user_agent,
      document_sha256: s.document_sha256,
      document_sm3: s.document_sm3,
      evidence: s.evidence,
      evidence_sm3: s.evidence_sm3,
      key: s.purpose,
      signature_base64: s.signature_der,
      verification: { valid: v.valid, reasons: v.reasons },
    });
  }
  return out;
}

/** One detached signature file (DER), for download. */
export async function signatureFile(ctx: ServiceContext, actor: Actor, id: number): Promise<{ content: Buffer; name: string }> {
  requirePermission(actor, 'matters.read');
  const s = await ctx.db.selectFrom('document_signatures').select(['id', 'document_id', 'signature_der']).where('id', '=', id).executeTakeFirst();
  if (!s) throw notFound('SIGNATURE_NOT_FOUND', `No signature with id ${id}. / 签名不存在。`);
  await findVisibleDocument(ctx.db, actor, s.document_id);
  return { content: Buffer.from(s.signature_der, 'base64'), name: `D${s.document_id}-signature-${s.id}.ses` };
}

function certificateEntry(s: SignatureRow): CertificateEntry {
  const e = s.evidence as Record<string, Record<string, unknown> | undefined>;
  const der = Buffer.from(s.signature_der, 'base64');
  const fileName = `signature-${s.id}.ses`;
  const signatureHex = parseSignature(der).signature.toString('hex');
  if (s.kind === 'client') {
    const signer = e.signer ?? {};
    const auth = e.authentication ?? {};
    return {
      kind: '委托人电子签名',
      signer: s.signer_name,
      signedAt: s.signed_at,
      facts: [
        ['委托人', `${String(signer.client_name ?? '')}（证件号码 ${String(signer.id_number_masked ?? '—')}）`],
        ['联系方式', [signer.phone_masked, signer.email_masked].filter(Boolean).join('，') || '—'],
        ['输入姓名', String(signer.typed_name ?? '')],
        ['身份验证', `一次性签署链接${auth.code ? `，验证码（${String(auth.code)}）已验证` : '（未要求验证码）'}`],
        ['签署地址', s.source_ip ?? '—'],
        ['设备', (s.user_agent ?? '—').slice(0, 160)],
        ['签署声明', CONSENT_TEXT],
        ['证据杂凑（SM3）', s.evidence_sm3],
      ],
      signatureHex,
      fileName,
      der,
    };
  }
  const app = e.application ?? {};
  return {
    kind: `律所电子印章（${String((e.seal ?? {}).label ?? '')}）`,
    signer: s.signer_name,
    signedAt: s.signed_at,
    facts: [
      ['用印申请', `第 ${String(app.id ?? '')} 号：${String(app.purpose ?? '')}`],
      ['批准', `${String(app.approved_by_username ?? '')}，${app.approved_at ? shanghaiDateTime(new Date(String(app.approved_at))) : ''}`],
      ['证据杂凑（SM3）', s.evidence_sm3],
    ],
    signatureHex,
    fileName,
    der,
  };
}

/**
 * The signed copy for people to read: the document's pages rendered again from its stored values
 * (the same layout as the original), then the 电子签署证书, with the original PDF and each detached
 * signature attached.
 */
export async function signedCopy(ctx: ServiceContext, actor: Actor, documentId: number): Promise<{ content: Buffer; name: string }> {
  requirePermission(actor, 'matters.read');
  const doc = await findVisibleDocument(ctx.db, actor, documentId);
  const signatures = await ctx.db.selectFrom('document_signatures').selectAll().where('document_id', '=', documentId).orderBy('signed_at').orderBy('id').execute();
  if (!signatures.length) throw conflict('NOT_SIGNED', 'Nobody has signed this document yet. / 该文书尚未签署。');
  const original = await readDocumentPdf(ctx, doc);
  const layout = await documentLayout(ctx.db, doc);
  const content = await renderSignedCopy({
    document: layout,
    original,
    facts: [
      ['文书', doc.title],
      ['文书编号', `D${doc.id}`],
      ['案号', doc.matter_number],
      ['生成时间', shanghaiDateTime(doc.created_at)],
      ['模板', `${doc.template_key} 第 ${doc.template_version} 版`],
      ['原文大小', `${doc.bytes} 字节`],
      ['原文 SHA-256', doc.sha256],
      ['原文 SM3', doc.sm3],
      ['签名算法', `SM2-with-SM3（${SM2_WITH_SM3}），GB/T 38540 签章结构`],
    ],
    entries: signatures.map(certificateEntry),
  });
  return { content, name: `${doc.title}（已签署）.pdf` };
}
