import type { Transaction } from 'kysely';
import type { Actor, ServiceContext } from '../../context.js';
import type { Db } from '../../db/index.js';
import type { Database } from '../../db/schema.js';
import { badRequest, conflict, notFound } from '../../errors.js';
import { fileToArchive } from '../archive/filing.js';
import { appendAudit } from '../audit/service.js';
import { requirePermission } from '../auth/roles.js';
import { maskAddress, maskBankCard, maskPhone } from '../clients/identifiers.js';
import { validateUscc } from '../clients/service.js';
import { clientOfMatter, optionalText, pastDay, recordHash, requiredText } from '../communications/input.js';
import { assertMatterVisible, matterNotFound } from '../matters/access.js';
import { notify } from '../notifications/service.js';
import { portalOwnsMatter, type PortalClient } from '../portal/service.js';
import type { InvoiceRequestRow, InvoiceStatus, InvoiceType } from './tables.js';

/**
 * Invoice requests (T/ZSM 0038-2024 Z5.4.4): the client gives the invoice details (抬头, taxpayer
 * number, 普票 or 专票, amount, and for a 专票 the address, phone, bank and account) and where to send
 * it, in the portal or through the firm's staff; finance takes it up, issues it (number and date) or
 * turns it down with a reason. Each step is filed into the matter archive and told to the client.
 */

export const STATUS_LABELS: Record<InvoiceStatus, string> = { submitted: '已提交', processing: '开票中', issued: '已开具', rejected: '已退回' };
const TYPE_LABELS: Record<InvoiceType, string> = { normal: '增值税普通发票', special: '增值税专用发票' };
/** Where finance may move a request from each status. */
const NEXT: Record<InvoiceStatus, InvoiceStatus[]> = { submitted: ['processing', 'rejected'], processing: ['issued', 'rejected'], issued: [], rejected: [] };
const MAX_AMOUNT = 1e12;
const MAX_LISTED = 500;

export interface InvoiceDetailsInput {
  invoice_type: InvoiceType;
  title_kind: 'organization' | 'person';
  title: string;
  taxpayer_id?: string | null;
  amount: string;
  company_address?: string | null;
  company_phone?: string | null;
  bank_name?: string | null;
  bank_account?: string | null;
  delivery: 'email' | 'post';
  email?: string | null;
  recipient_name?: string | null;
  recipient_phone?: string | null;
  postal_address?: string | null;
  note?: string | null;
}

export interface InvoiceRequestView {
  id: number;
  matter: { id: number; number: string };
  client_id: number;
  invoice_type: InvoiceType;
  invoice_type_label: string;
  title_kind: 'organization' | 'person';
  title: string;
  taxpayer_id: string | null;
  amount: string;
  company_address: string | null;
  company_phone: string | null;
  bank_name: string | null;
  bank_account: string | null;
  delivery: 'email' | 'post';
  email: string | null;
  recipient_name: string | null;
  recipient_phone: string | null;
  postal_address: string | null;
  note: string | null;
  status: InvoiceStatus;
  status_label: string;
  invoice_number: string | null;
  invoice_date: string | null;
  reject_reason: string | null;
  submitted_via: 'portal' | 'staff';
  created_at: string;
  updated_at: string;
  masked: boolean;
  warnings?: string[];
}

type Loaded = InvoiceRequestRow & { matter_number: string };

function present(r: Loaded, unmasked: boolean): InvoiceRequestView {
  return {
    id: r.id,
    matter: { id: r.matter_id, number: r.matter_number },
    client_id: r.client_id,
    invoice_type: r.invoice_type,
    invoice_type_label: TYPE_LABELS[r.invoice_type],
    title_kind: r.title_kind,
    title: r.title,
    taxpayer_id: r.taxpayer_id,
    amount: r.amount,
    company_address: r.company_address,
    company_phone: r.company_phone,
    bank_name: r.bank_name,
    bank_account: unmasked ? r.bank_account : maskBankCard(r.bank_account),
    delivery: r.delivery,
    email: r.email,
    recipient_name: r.recipient_name,
    recipient_phone: unmasked ? r.recipient_phone : maskPhone(r.recipient_phone),
    postal_address: unmasked ? r.postal_address : maskAddress(r.postal_address),
    note: r.note,
    status: r.status,
    status_label: STATUS_LABELS[r.status],
    invoice_number: r.invoice_number,
    invoice_date: r.invoice_date,
    reject_reason: r.reject_reason,
    submitted_via: r.submitted_via,
    created_at: r.created_at.toISOString(),
    updated_at: r.updated_at.toISOString(),
    masked: !unmasked,
  };
}

function requestQuery(db: Db) {
  return db.selectFrom('invoice_requests as i').innerJoin('matters as m', 'm.id', 'i.matter_id').selectAll('i').select('m.number as matter_number');
}

const requestNotFound = (id: number) => notFound('INVOICE_REQUEST_NOT_FOUND', `No invoice request ${id}. / 开票申请不存在。`);

const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,190}\.[^\s@]{1,20}$/;
const PHONE = /^\+?[0-9][0-9 ()（）-]{4,24}$/;

/** The invoice details as stored: what a 专票 needs is there, the taxpayer number passes GB 32100. */
function cleanDetails(input: InvoiceDetailsInput, warnings: string[]) {
  if (input.invoice_type !== 'normal' && input.invoice_type !== 'special') throw badRequest('INVALID_INVOICE_TYPE', 'invoice_type is normal (普票) or special (专票). / 发票类型应为普票或专票。');
  if (input.title_kind !== 'organization' && input.title_kind !== 'person') throw badRequest('INVALID_TITLE_KIND', 'title_kind is organization or person. / 抬头类型应为单位或个人。');
  const amount = String(input.amount ?? '').trim();
  if (!/^\d{1,12}(\.\d{1,2})?$/.test(amount) || !(Number(amount) > 0) || Number(amount) >= MAX_AMOUNT) {
    throw badRequest('INVALID_AMOUNT', 'amount is a positive sum in yuan with at most two decimals, e.g. "30000.00". / 开票金额应为大于零的金额，最多两位小数。');
  }
  const special = input.invoice_type === 'special';
  if (special && input.title_kind !== 'organization') throw badRequest('SPECIAL_NEEDS_ORGANIZATION', 'A special VAT invoice (专票) is issued to an organisation only. / 增值税专用发票仅能开具给单位。');
  // An organisation's invoice carries its taxpayer number (its USCC); a person's carries none.
  const { uscc, checkFailed } = input.title_kind === 'organization' ? validateUscc(input.taxpayer_id, warnings) : { uscc: null, checkFailed: false };
  if (input.title_kind === 'organization' && !uscc) throw badRequest('TAXPAYER_ID_REQUIRED', 'An organisation’s invoice needs its taxpayer number (unified social credit code). / 单位抬头须填写纳税人识别号（统一社会信用代码）。');
  if (input.title_kind === 'person' && optionalText(input.taxpayer_id)) throw badRequest('NOT_AN_ORGANIZATION', 'A personal invoice has no taxpayer number. / 个人抬头无需填写纳税人识别号。');
  const forSpecial = (value: string | null | undefined, field: string, zh: string) => (special ? requiredText(value, field, zh) : optionalText(value));
  const companyPhone = forSpecial(input.company_phone, 'company_phone', '单位电话');
  if (companyPhone && !PHONE.test(companyPhone)) throw badRequest('INVALID_PHONE', 'company_phone is not a phone number. / 单位电话格式不正确。');
  const bankAccount = forSpecial(input.bank_account, 'bank_account', '银行账号')?.replace(/[\s-]/g, '') ?? null;
  if (bankAccount && !/^[0-9]{6,34}$/.test(bankAccount)) throw badRequest('INVALID_BANK_ACCOUNT', 'bank_account is 6–34 digits. / 银行账号应为6–34位数字。');
  const delivery = input.delivery;
  if (delivery !== 'email' && delivery !== 'post') throw badRequest('INVALID_DELIVERY', 'delivery is email or post. / 交付方式应为电子邮件或邮寄。');
  const email = delivery === 'email' ? requiredText(input.email, 'email', '接收邮箱') : optionalText(input.email);
  if (email && !EMAIL.test(email)) throw badRequest('INVALID_EMAIL', 'email is not an email address. / 邮箱格式不正确。');
  const post = (value: string | null | undefined, field: string, zh: string) => (delivery === 'post' ? requiredText(value, field, zh) : optionalText(value));
  const recipientPhone = post(input.recipient_phone, 'recipient_phone', '收件人电话');
  if (recipientPhone && !PHONE.test(recipientPhone)) throw badRequest('INVALID_PHONE', 'recipient_phone is not a phone number. / 收件人电话格式不正确。');
  return {
    invoice_type: input.invoice_type,
    title_kind: input.title_kind,
    title: requiredText(input.title, 'title', '发票抬头'),
    taxpayer_id: uscc,
    taxpayer_id_check_failed: checkFailed,
    amount,
    company_address: forSpecial(input.company_address, 'company_address', '单位地址'),
    company_phone: companyPhone,
    bank_name: forSpecial(input.bank_name, 'bank_name', '开户银行'),
    bank_account: bankAccount,
    delivery,
    email,
    recipient_name: post(input.recipient_name, 'recipient_name', '收件人'),
    recipient_phone: recipientPhone,
    postal_address: post(input.postal_address, 'postal_address', '邮寄地址'),
    note: optionalText(input.note),
  };
}

const archiveTitle = (r: Pick<InvoiceRequestRow, 'title' | 'amount' | 'status' | 'invoice_type'>) => `开票申请：${r.title} ¥${r.amount}（${r.invoice_type === 'special' ? '专票' : '普票'}，${STATUS_LABELS[r.status]}）`;

const hashOf = (r: InvoiceRequestRow) =>
  recordHash({
    id: r.id,
    matter_id: r.matter_id,
    client_id: r.client_id,
    invoice_type: r.invoice_type,
    title_kind: r.title_kind,
    title: r.title,
    taxpayer_id: r.taxpayer_id,
    amount: r.amount,
    company_address: r.company_address,
    company_phone: r.company_phone,
    bank_name: r.bank_name,
    bank_account: r.bank_account,
    delivery: r.delivery,
    email: r.email,
    recipient_name: r.recipient_name,
    recipient_phone: r.recipient_phone,
    postal_address: r.postal_address,
    status: r.status,
    invoice_number: r.invoice_number,
    invoice_date: r.invoice_date,
    reject_reason: r.reject_reason,
  });

async function insertRequest(
  ctx: ServiceContext,
  actor: Actor,
  target: { matter_id: number; client_id: number; via: 'portal' | 'staff' },
  input: InvoiceDetailsInput,
): Promise<{ id: number; warnings: string[] }> {
  const warnings: string[] = [];
  const values = cleanDetails(input, warnings);
  const now = ctx.clock.now();
  const id = await ctx.db.transaction().execute(async (trx) => {
    const row = await trx
      .insertInto('invoice_requests')
      .values({ ...values, matter_id: target.matter_id, client_id: target.client_id, status: 'submitted', submitted_via: target.via, submitted_by: actor.username, created_at: now, updated_at: now })
      .returningAll()
      .executeTakeFirstOrThrow();
    await fileToArchive(trx, ctx, { matter_id: row.matter_id, kind: 'invoice_request', title: archiveTitle(row), source: 'invoice_requests', source_id: row.id, sha256: hashOf(row), filed_by: actor.userId });
    await appendAudit(trx, {
      at: now,
      actor: actor.username,
      action: 'invoice_request.submit',
      object: `invoice_request:${row.id}`,
      result: 'success',
      sourceIp: actor.sourceIp,
      detail: { matter_id: row.matter_id, client_id: row.client_id, via: target.via, invoice_type: row.invoice_type, amount: row.amount, taxpayer_id_check_failed: row.taxpayer_id_check_failed },
    });
    return row.id;
  });
  return { id, warnings };
}

async function loadRequest(db: Db, id: number): Promise<Loaded> {
  const row = (await requestQuery(db).where('i.id', '=', id).executeTakeFirst()) as Loaded | undefined;
  if (!row) throw requestNotFound(id);
  return row;
}

// Portal -----------------------------------------------------------------------------------------

/** The client submits a request for one of its own matters. */
export async function submitPortalInvoiceRequest(ctx: ServiceContext, portal: PortalClient, actor: Actor, input: InvoiceDetailsInput & { matter_id: number }): Promise<InvoiceRequestView> {
  if (!(await portalOwnsMatter(ctx, portal, input.matter_id))) throw matterNotFound(input.matter_id);
  const matter = await ctx.db.selectFrom('matters').select('status').where('id', '=', input.matter_id).executeTakeFirstOrThrow();
  if (matter.status === 'declined' || matter.status === 'pending_conflict_review') throw matterNotFound(input.matter_id);
  const { id, warnings } = await insertRequest(ctx, actor, { matter_id: input.matter_id, client_id: portal.clientId, via: 'portal' }, input);
  return { ...present(await loadRequest(ctx.db, id), true), warnings };
}

/** The client's own requests with their status, latest first. */
export async function listPortalInvoiceRequests(ctx: ServiceContext, portal: PortalClient): Promise<InvoiceRequestView[]> {
  const rows = (await requestQuery(ctx.db)
    .where('i.client_id', '=', portal.clientId)
    .where((eb) => eb.exists(eb.selectFrom('parties as p').select('p.id').whereRef('p.matter_id', '=', 'i.matter_id').where('p.role', '=', 'client').where('p.client_id', '=', portal.clientId)))
    .orderBy('i.id', 'desc')
    .limit(MAX_LISTED)
    .execute()) as Loaded[];
  return rows.map((r) => present(r, true));
}

// Staff ------------------------------------------------------------------------------------------

/** A member of the matter's team enters the client's request (given by phone, email or on paper). */
export async function enterInvoiceRequest(ctx: ServiceContext, actor: Actor, matterId: number, input: InvoiceDetailsInput & { client_id?: number | null }): Promise<InvoiceRequestView> {
  requirePermission(actor, 'matters.work');
  await assertMatterVisible(ctx.db, actor, matterId);
  const matter = await ctx.db.selectFrom('matters').select('status').where('id', '=', matterId).executeTakeFirstOrThrow();
  if (matter.status === 'declined') throw conflict('MATTER_DECLINED', 'This matter was declined. / 该案件已拒绝收案。');
  const clientId = await clientOfMatter(ctx.db, matterId, input.client_id);
  const { id, warnings } = await insertRequest(ctx, actor, { matter_id: matterId, client_id: clientId, via: 'staff' }, input);
  return { ...present(await loadRequest(ctx.db, id), false), warnings };
}

/** The requests of one matter, for its team (delivery details masked). */
export async function listMatterInvoiceRequests(ctx: ServiceContext, actor: Actor, matterId: number): Promise<InvoiceRequestView[]> {
  requirePermission(actor, 'matters.work');
  await assertMatterVisible(ctx.db, actor, matterId);
  const rows = (await requestQuery(ctx.db).where('i.matter_id', '=', matterId).orderBy('i.id', 'desc').limit(MAX_LISTED).execute()) as Loaded[];
  return rows.map((r) => present(r, false));
}

/** Finance's queue: every request, oldest open first (delivery details masked in the list). */
export async function listInvoiceRequests(ctx: ServiceContext, actor: Actor, filter: { status?: InvoiceStatus; limit?: number; offset?: number } = {}): Promise<InvoiceRequestView[]> {
  requirePermission(actor, 'invoices.manage');
  let q = requestQuery(ctx.db).orderBy('i.created_at', 'asc').orderBy('i.id', 'asc').limit(Math.min(filter.limit ?? 100, MAX_LISTED)).offset(filter.offset ?? 0);
  if (filter.status) q = q.where('i.status', '=', filter.status);
  return ((await q.execute()) as Loaded[]).map((r) => present(r, false));
}

/** One request in full, for finance to issue it: the read is audited. */
export async function getInvoiceRequest(ctx: ServiceContext, actor: Actor, id: number): Promise<InvoiceRequestView> {
  requirePermission(actor, 'invoices.manage');
  const row = await loadRequest(ctx.db, id);
  await ctx.db.transaction().execute((trx) =>
    appendAudit(trx, { at: ctx.clock.now(), actor: actor.username, action: 'invoice_request.read', object: `invoice_request:${id}`, result: 'success', sourceIp: actor.sourceIp, detail: { matter_id: row.matter_id } }),
  );
  return present(row, true);
}

/** Finance's step: `issued` carries the invoice number and date, `rejected` the reason; nothing else carries either. */
export interface StatusChange {
  status: 'processing' | 'issued' | 'rejected';
  invoice_number?: string;
  invoice_date?: string;
  reason?: string;
}

/** Finance moves a request on; the client is told and the archive entry shows the new state. */
export async function changeInvoiceStatus(ctx: ServiceContext, actor: Actor, id: number, change: StatusChange): Promise<InvoiceRequestView> {
  requirePermission(actor, 'invoices.manage');
  const now = ctx.clock.now();
  if (!['processing', 'issued', 'rejected'].includes(change.status)) throw badRequest('INVALID_STATUS', 'status is processing, issued or rejected. / 状态应为开票中、已开具或已退回。');
  if (change.status !== 'issued' && (change.invoice_number !== undefined || change.invoice_date !== undefined)) {
    throw badRequest('INVALID_INPUT', 'invoice_number and invoice_date go with status issued only. / 发票号码和开票日期仅在开具时填写。');
  }
  if (change.status !== 'rejected' && change.reason !== undefined) throw badRequest('INVALID_INPUT', 'reason goes with status rejected only. / 退回原因仅在退回时填写。');
  const set: { status: InvoiceStatus; invoice_number?: string; invoice_date?: string; reject_reason?: string } = { status: change.status };
  if (change.status === 'issued') {
    const number = requiredText(change.invoice_number, 'invoice_number', '发票号码');
    if (!/^[0-9A-Za-z-]{1,40}$/.test(number)) throw badRequest('INVALID_INVOICE_NUMBER', 'invoice_number is letters and digits (up to 40). / 发票号码格式不正确。');
    set.invoice_number = number;
    set.invoice_date = pastDay(String(change.invoice_date ?? ''), 'invoice_date', '开票日期', now);
  }
  if (change.status === 'rejected') set.reject_reason = requiredText(change.reason, 'reason', '退回原因');
  const row = await loadRequest(ctx.db, id);
  await ctx.db.transaction().execute(async (trx) => {
    const before = await trx.selectFrom('invoice_requests').select('status').where('id', '=', id).forUpdate().executeTakeFirstOrThrow();
    if (!NEXT[before.status].includes(change.status)) {
      throw conflict('INVALID_STATUS_CHANGE', `A request that is ${STATUS_LABELS[before.status]} cannot become ${STATUS_LABELS[change.status]}. / 开票申请不能由「${STATUS_LABELS[before.status]}」变为「${STATUS_LABELS[change.status]}」。`);
    }
    const updated = await trx.updateTable('invoice_requests').set({ ...set, handled_by: actor.userId, updated_at: now }).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
    await tellClient(trx, ctx, updated, row.matter_number);
    await fileToArchive(trx, ctx, { matter_id: updated.matter_id, kind: 'invoice_request', title: archiveTitle(updated), source: 'invoice_requests', source_id: id, sha256: hashOf(updated), filed_by: actor.userId });
    await appendAudit(trx, { at: now, actor: actor.username, action: 'invoice_request.status', object: `invoice_request:${id}`, result: 'success', sourceIp: actor.sourceIp, detail: { from: before.status, to: change.status, invoice_number: set.invoice_number ?? null } });
  });
  return present(await loadRequest(ctx.db, id), true);
}

async function tellClient(trx: Transaction<Database>, ctx: ServiceContext, r: InvoiceRequestRow, matterNumber: string): Promise<void> {
  const lines = [`案件：${matterNumber}`, `发票：${r.title}，${TYPE_LABELS[r.invoice_type]}，金额 ¥${r.amount}`, `状态：${STATUS_LABELS[r.status]}`];
  if (r.status === 'issued') lines.push(`发票号码：${r.invoice_number}，开票日期：${r.invoice_date}`, r.delivery === 'email' ? `将发送至邮箱 ${r.email}。` : '将按您提供的地址邮寄。');
  if (r.status === 'rejected') lines.push(`原因：${r.reject_reason}`, '请核对开票信息后重新提交。');
  await notify(trx, ctx, {
    event: 'invoice.status',
    client_id: r.client_id,
    matter_id: r.matter_id,
    title: `开票申请${STATUS_LABELS[r.status]}：${r.title}`.slice(0, 200),
    body: lines.join('\n'),
    link: '/portal/invoices',
    dedupe_key: `invoice.status:${r.id}:${r.status}`,
  });
}
