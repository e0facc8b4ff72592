import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'kysely';
import { shanghaiDate } from '../../calendar.js';
import type { Actor, ServiceContext } from '../../context.js';
import type { Db } from '../../db/index.js';
import { readSetting } from '../../db/settings.js';
import { AppError, badRequest, conflict, notFound } from '../../errors.js';
import { appendAudit } from '../audit/service.js';
import { may, requirePermission } from '../auth/roles.js';
import { maskIdNumber } from '../clients/identifiers.js';
import { assertMatterVisible, matterVisibleTo } from '../matters/access.js';
import { MATTER_TYPES } from '../matters/numbering.js';
import { BUILTIN_TEMPLATES } from './defaults.js';
import { renderDocumentPdf, type DocumentLayout } from './pdf.js';
import { sha256Hex, sm3Hex } from './signature.js';
import type { DocumentRow, TemplateKind, TemplateRow, TemplateVersionRow } from './tables.js';
import { amountInWords, fillTemplate, parseTemplate, TEMPLATE_VARIABLES, variablesOf, type TemplateValues, type TemplateVariable } from './template.js';

/**
 * Documents (T/ZSM 0038-2024 Z5.4.1): versioned templates with variables from the matter and its
 * client, and PDFs generated from them for a matter, stored with their SHA-256 and SM3.
 */

// ---------------------------------------------------------------------------------------------
// Templates

export const TEMPLATE_KINDS: Record<TemplateKind, string> = {
  service_contract: '委托代理合同（法律服务合同）',
  risk_notice: '风险告知书',
  intake_record: '收案审批表',
  custom: '律所自定义文书',
};

export interface TemplateVersionView {
  version: number;
  title: string;
  body: string;
  variables: string[];
  note: string | null;
  created_by: number | null;
  created_at: string;
}

export interface TemplateView {
  id: number;
  key: string;
  name: string;
  kind: TemplateKind;
  kind_label: string;
  builtin: boolean;
  latest_version: number;
  created_at: string;
  updated_at: string;
}

const presentTemplate = (t: TemplateRow): TemplateView => ({
  id: t.id,
  key: t.key,
  name: t.name,
  kind: t.kind,
  kind_label: TEMPLATE_KINDS[t.kind],
  builtin: t.builtin,
  latest_version: t.latest_version,
  created_at: t.created_at.toISOString(),
  updated_at: t.updated_at.toISOString(),
});

const presentVersion = (v: TemplateVersionRow): TemplateVersionView => ({
  version: v.version,
  title: v.title,
  body: v.body,
  variables: v.variables,
  note: v.note,
  created_by: v.created_by,
  created_at: v.created_at.toISOString(),
});

/** The built-in templates, written the first time templates are looked at (version 1 of each). */
async function ensureBuiltinTemplates(ctx: ServiceContext): Promise<void> {
  const present = new Set((await ctx.db.selectFrom('document_templates').select('key').where('builtin', '=', true).execute()).map((t) => t.key));
  const missing = BUILTIN_TEMPLATES.filter((b) => !present.has(b.key));
  if (!missing.length) return;
  const now = ctx.clock.now();
  await ctx.db.transaction().execute(async (trx) => {
    for (const b of missing) {
      const variables = variablesOf(parseTemplate(b.title, 'title'), parseTemplate(b.body));
      const made = await trx
        .insertInto('document_templates')
        .values({ key: b.key, name: b.name, kind: b.kind, builtin: true, latest_version: 1, created_by: null, created_at: now, updated_at: now })
        .onConflict((oc) => oc.column('key').doNothing())
        .returning('id')
        .executeTakeFirst();
      if (!made) continue;
      await trx.insertInto('document_template_versions').values({ template_id: made.id, version: 1, title: b.title, body: b.body, variables, note: '内置模板 / built-in', created_by: null, created_at: now }).execute();
      await appendAudit(trx, { at: now, actor: 'system', action: 'template.builtin', object: `template:${made.id}`, result: 'success', detail: { key: b.key } });
    }
  });
}

/** Who may read templates: whoever may make documents, and whoever manages templates. */
function requireTemplateReader(actor: Actor): void {
  if (!may(actor, 'templates.manage')) requirePermission(actor, 'matters.work');
}

export async function listTemplates(ctx: ServiceContext, actor: Actor): Promise<TemplateView[]> {
  requireTemplateReader(actor);
  await ensureBuiltinTemplates(ctx);
  return (await ctx.db.selectFrom('document_templates').selectAll().orderBy('builtin', 'desc').orderBy('id').execute()).map(presentTemplate);
}

const templateNotFound = (id: number) => notFound('TEMPLATE_NOT_FOUND', `No template with id ${id}. / 模板不存在。`);

export async function getTemplate(ctx: ServiceContext, actor: Actor, id: number): Promise<TemplateView & { versions: TemplateVersionView[] }> {
  requireTemplateReader(actor);
  await ensureBuiltinTemplates(ctx);
  const t = await ctx.db.selectFrom('document_templates').selectAll().where('id', '=', id).executeTakeFirst();
  if (!t) throw templateNotFound(id);
  const versions = await ctx.db.selectFrom('document_template_versions').selectAll().where('template_id', '=', id).orderBy('version', 'desc').execute();
  return { ...presentTemplate(t), versions: versions.map(presentVersion) };
}

export async function getTemplateVersion(ctx: ServiceContext, actor: Actor, id: number, version: number): Promise<TemplateVersionView> {
  requireTemplateReader(actor);
  const v = await ctx.db.selectFrom('document_template_versions').selectAll().where('template_id', '=', id).where('version', '=', version).executeTakeFirst();
  if (!v) throw notFound('TEMPLATE_VERSION_NOT_FOUND', `Template ${id} has no version ${version}. / 模板版本不存在。`);
  return presentVersion(v);
}

export function templateVariables(actor: Actor): { name: string; description: string }[] {
  requireTemplateReader(actor);
  return Object.entries(TEMPLATE_VARIABLES).map(([name, description]) => ({ name, description }));
}

/** Checks a title and body: well-formed placeholders of known variables only (400 otherwise). */
function checkedContent(input: { title: string; body: string }): { title: string; body: string; variables: TemplateVariable[] } {
  const title = input.title.trim();
  if (!title) throw badRequest('INVALID_TITLE', 'A template needs a title. / 请填写模板标题。');
  if (!input.body.trim()) throw badRequest('INVALID_BODY', 'A template needs a body. / 请填写模板正文。');
  return { title, body: input.body, variables: variablesOf(parseTemplate(title, 'title'), parseTemplate(input.body, 'body')) };
}

export interface TemplateInput {
  key: string;
  name: string;
  kind: TemplateKind;
  title: string;
  body: string;
  note?: string | null;
}

export async function createTemplate(ctx: ServiceContext, actor: Actor, input: TemplateInput): Promise<TemplateView & { versions: TemplateVersionView[] }> {
  requirePermission(actor, 'templates.manage');
  const content = checkedContent(input);
  const now = ctx.clock.now();
  await ensureBuiltinTemplates(ctx);
  const id = await ctx.db.transaction().execute(async (trx) => {
    const made = await trx
      .insertInto('document_templates')
      .values({ key: input.key, name: input.name.trim(), kind: input.kind, builtin: false, latest_version: 1, created_by: actor.userId, created_at: now, updated_at: now })
      .onConflict((oc) => oc.column('key').doNothing())
      .returning('id')
      .executeTakeFirst();
    if (!made) throw conflict('TEMPLATE_KEY_TAKEN', `A template with key ${input.key} exists; add a version to it instead. / 模板标识已存在，请为该模板保存新版本。`);
    await trx.insertInto('document_template_versions').values({ template_id: made.id, version: 1, ...content, note: input.note ?? null, created_by: actor.userId, created_at: now }).execute();
    await appendAudit(trx, { at: now, actor: actor.username, action: 'template.create', object: `template:${made.id}`, result: 'success', sourceIp: actor.sourceIp, detail: { key: input.key, kind: input.kind, variables: content.variables } });
    return made.id;
  });
  return getTemplate(ctx, actor, id);
}

/** Saves a new version; the earlier ones, and every document made from them, stay as they were. */
export async function addTemplateVersion(ctx: ServiceContext, actor: Actor, id: number, input: { title: string; body: string; note?: string | null }): Promise<TemplateVersionView> {
  requirePermission(actor, 'templates.manage');
  const content = checkedContent(input);
  const now = ctx.clock.now();
  await ensureBuiltinTemplates(ctx);
  const version = await ctx.db.transaction().execute(async (trx) => {
    const t = await trx.selectFrom('document_templates').select(['id', 'latest_version']).where('id', '=', id).forUpdate().executeTakeFirst();
    if (!t) throw templateNotFound(id);
    const next = t.latest_version + 1;
    await trx.insertInto('document_template_versions').values({ template_id: id, version: next, ...content, note: input.note ?? null, created_by: actor.userId, created_at: now }).execute();
    await trx.updateTable('document_templates').set({ latest_version: next, updated_at: now }).where('id', '=', id).execute();
    await appendAudit(trx, { at: now, actor: actor.username, action: 'template.version', object: `template:${id}`, result: 'success', sourceIp: actor.sourceIp, detail: { version: next, variables: content.variables } });
    return next;
  });
  return getTemplateVersion(ctx, actor, id, version);
}

// ---------------------------------------------------------------------------------------------
// Documents

const FEE_ARRANGEMENTS: Record<string, string> = {
  fixed: '固定收费',
  hourly: '计时收费',
  contingency: '风险代理收费',
  retainer: '常年顾问（按年收费）',
  mixed: '混合收费',
  pro_bono: '法律援助（免费）',
};

/** `80000` → `80,000.00` */
function formatYuan(amount: string): string {
  const [int = '0', frac = ''] = amount.split('.');
  return `${int.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}.${frac.padEnd(2, '0').slice(0, 2)}`;
}

interface FirmSetting {
  name?: string;
  address?: string;
}

/**
 * The values of every variable for a matter and one of its clients. ID numbers are masked: the PDF
 * is read by everyone on the matter's team, interns too (Z6.3.3.4).
 */
async function templateValues(db: Db, matterId: number, clientId: number | null, now: Date): Promise<TemplateValues> {
  const m = await db.selectFrom('matters').selectAll().where('id', '=', matterId).executeTakeFirstOrThrow();
  const lawyer = await db.selectFrom('users').select(['display_name', 'office']).where('id', '=', m.responsible_lawyer_id).executeTakeFirstOrThrow();
  const client = clientId === null ? null : await db.selectFrom('clients').selectAll().where('id', '=', clientId).executeTakeFirst();
  const firm = ((await readSetting(db, 'firm')) ?? {}) as FirmSetting;
  const fee = m.fee_amount === null ? null : String(m.fee_amount);
  const today = shanghaiDate(now);
  const [y, mo, d] = today.split('-').map(Number);
  return {
    'matter.number': m.number,
    'matter.title': m.title,
    'matter.type': MATTER_TYPES[m.type as keyof typeof MATTER_TYPES]?.zh ?? m.type,
    'matter.cause': m.cause,
    'matter.court': m.court,
    'matter.stage': m.stage,
    'matter.opened_on': m.opened_at ? shanghaiDate(m.opened_at) : null,
    'client.name': client?.name ?? null,
    'client.kind': client ? (client.kind === 'person' ? '自然人' : '法人或其他组织') : null,
    'client.id_number': client ? (client.kind === 'person' ? maskIdNumber(client.id_number) : client.uscc) : null,
    'client.legal_representative': client?.legal_representative ?? null,
    'client.contact_name': client?.contact_name ?? null,
    'lawyer.name': lawyer.display_name,
    'lawyer.office': lawyer.office,
    'fee.amount': fee === null ? null : formatYuan(fee),
    'fee.amount_upper': fee === null ? null : amountInWords(fee),
    'fee.arrangement': m.fee_arrangement ? (FEE_ARRANGEMENTS[m.fee_arrangement] ?? m.fee_arrangement) : null,
    'firm.name': firm.name ?? null,
    'firm.address': firm.address ?? null,
    today,
    today_cn: `${y}年${mo}月${d}日`,
  };
}

export interface DocumentView {
  id: number;
  matter: { id: number; number: string };
  client: { id: number; name: string } | null;
  template: { id: number; key: string; version: number };
  title: string;
  bytes: number;
  sha256: string;
  sm3: string;
  created_by: number;
  created_at: string;
  signatures: { client: number; firm_seal: number };
}

type LoadedDocument = DocumentRow & { matter_number: string; client_name: string | null; template_key: string };

function documentQuery(db: Db) {
  return db
    .selectFrom('documents as d')
    .innerJoin('matters as m', 'm.id', 'd.matter_id')
    .innerJoin('document_templates as t', 't.id', 'd.template_id')
    .leftJoin('clients as c', 'c.id', 'd.client_id')
    .selectAll('d')
    .select(['m.number as matter_number', 'c.name as client_name', 't.key as template_key']);
}

async function presentDocuments(db: Db, rows: LoadedDocument[]): Promise<DocumentView[]> {
  const ids = rows.map((r) => r.id);
  const counts = ids.length
    ? await db.selectFrom('document_signatures').select(['document_id', 'kind']).select((eb) => eb.fn.countAll<string>().as('n')).where('document_id', 'in', ids).groupBy(['document_id', 'kind']).execute()
    : [];
  const count = (id: number, kind: 'client' | 'firm_seal') => Number(counts.find((c) => c.document_id === id && c.kind === kind)?.n ?? 0);
  return rows.map((r) => ({
    id: r.id,
    matter: { id: r.matter_id, number: r.matter_number },
    client: r.client_id !== null && r.client_name !== null ? { id: r.client_id, name: r.client_name } : null,
    template: { id: r.template_id, key: r.template_key, version: r.template_version },
    title: r.title,
    bytes: r.bytes,
    sha256: r.sha256,
    sm3: r.sm3,
    created_by: r.created_by,
    created_at: r.created_at.toISOString(),
    signatures: { client: count(r.id, 'client'), firm_seal: count(r.id, 'firm_seal') },
  }));
}

export const documentNotFound = (id: number) => notFound('DOCUMENT_NOT_FOUND', `No document with id ${id}, or you are not on its matter's team. / 文书不存在或您无权查看。`);

/** A document the actor may see (its matter visible), else the same 404 as a missing one. */
export async function findVisibleDocument(db: Db, actor: Actor, id: number): Promise<LoadedDocument> {
  const row = await documentQuery(db).where('d.id', '=', id).where(matterVisibleTo(actor)).executeTakeFirst();
  if (!row) throw documentNotFound(id);
  return row;
}

export const documentFile = (ctx: ServiceContext, storageName: string) => path.join(ctx.config.dataDir, 'documents', storageName);

/** Writes through a temporary file renamed into place, so a reader never sees half a PDF. */
async function writeAtomically(file: string, content: Buffer): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const part = `${file}.${randomUUID()}.part`;
  try {
    await writeFile(part, content, { flag: 'wx', mode: 0o640 });
    await rename(part, file);
  } catch (err) {
    await unlink(part).catch(() => {});
    throw err;
  }
}

/** The layout a document was rendered from: rendering it again gives the stored bytes. */
export async function documentLayout(db: Db, doc: Pick<DocumentRow, 'id' | 'template_id' | 'template_version' | 'values' | 'created_at'> & { matter_number: string }): Promise<DocumentLayout> {
  const v = await db.selectFrom('document_template_versions').select(['title', 'body']).where('template_id', '=', doc.template_id).where('version', '=', doc.template_version).executeTakeFirstOrThrow();
  const filled = fillTemplate({ title: parseTemplate(v.title, 'title'), body: parseTemplate(v.body) }, doc.values);
  return { title: filled.title, body: filled.body, createdAt: doc.created_at, footer: `文书编号 D${doc.id} · ${doc.matter_number}` };
}

export interface GenerateInput {
  template_id: number;
  /** default: the latest */
  version?: number;
  /** which of the matter's clients; default: the first */
  client_id?: number;
}

/**
 * Generates a document for a matter from a template version (default the latest) and stores its PDF.
 * The PDF is written before the row that names it commits; a failed commit removes it again.
 */
export async function generateDocument(ctx: ServiceContext, actor: Actor, matterId: number, input: GenerateInput): Promise<DocumentView> {
  requirePermission(actor, 'matters.work');
  await assertMatterVisible(ctx.db, actor, matterId);
  await ensureBuiltinTemplates(ctx);
  const now = ctx.clock.now();
  let written: string | null = null;
  try {
    const id = await ctx.db.transaction().execute(async (trx) => {
      const matter = await trx.selectFrom('matters').select(['id', 'number', 'status']).where('id', '=', matterId).executeTakeFirstOrThrow();
      if (matter.status === 'declined') throw conflict('MATTER_DECLINED', 'This matter was declined: no documents are issued for it. / 该案件已拒绝收案，不能生成文书。');
      const template = await trx.selectFrom('document_templates').select(['id', 'latest_version']).where('id', '=', input.template_id).executeTakeFirst();
      if (!template) throw templateNotFound(input.template_id);
      const versionNo = input.version ?? template.latest_version;
      const version = await trx.selectFrom('document_template_versions').selectAll().where('template_id', '=', template.id).where('version', '=', versionNo).executeTakeFirst();
      if (!version) throw notFound('TEMPLATE_VERSION_NOT_FOUND', `Template ${template.id} has no version ${versionNo}. / 模板版本不存在。`);
      const clients = await trx.selectFrom('parties').select('client_id').where('matter_id', '=', matterId).where('role', '=', 'client').where('client_id', 'is not', null).orderBy('id').execute();
      const clientIds = clients.map((c) => c.client_id!);
      if (input.client_id !== undefined && !clientIds.includes(input.client_id)) {
        throw badRequest('NOT_A_CLIENT_OF_MATTER', `Client ${input.client_id} is not a client of this matter. / 该委托人不是本案委托人。`);
      }
      const clientId = input.client_id ?? clientIds[0] ?? null;
      const values = await templateValues(trx, matterId, clientId, now);
      const used = Object.fromEntries(version.variables.map((v) => [v, values[v as TemplateVariable] ?? null]));
      const filled = fillTemplate({ title: parseTemplate(version.title, 'title'), body: parseTemplate(version.body) }, used);
      const { nextval } = await sql<{ nextval: string | number }>`select nextval(pg_get_serial_sequence('documents', 'id')) as nextval`.execute(trx).then((r) => r.rows[0]!);
      const docId = Number(nextval);
      const pdf = await renderDocumentPdf({ title: filled.title, body: filled.body, createdAt: now, footer: `文书编号 D${docId} · ${matter.number}` });
      const sha256 = sha256Hex(pdf);
      const storageName = `d${docId}-${sha256.slice(0, 16)}.pdf`;
      written = documentFile(ctx, storageName);
      await writeAtomically(written, pdf);
      await trx
        .insertInto('documents')
        .values({
          id: docId,
          matter_id: matterId,
          client_id: clientId,
          template_id: template.id,
          template_version: versionNo,
          title: filled.title.slice(0, 200),
          values: JSON.stringify(used),
          storage_name: storageName,
          bytes: pdf.length,
          sha256,
          sm3: sm3Hex(pdf),
          created_by: actor.userId!,
          created_at: now,
        })
        .execute();
      await appendAudit(trx, {
        at: now,
        actor: actor.username,
        action: 'document.generate',
        object: `document:${docId}`,
        result: 'success',
        sourceIp: actor.sourceIp,
        detail: { matter_id: matterId, template_id: template.id, version: versionNo, sha256 },
      });
      return docId;
    });
    written = null;
    return (await presentDocuments(ctx.db, [await findVisibleDocument(ctx.db, actor, id)]))[0]!;
  } finally {
    if (written) await unlink(written).catch(() => {});
  }
}

export async function listMatterDocuments(ctx: ServiceContext, actor: Actor, matterId: number): Promise<DocumentView[]> {
  requirePermission(actor, 'matters.read');
  await assertMatterVisible(ctx.db, actor, matterId);
  return presentDocuments(ctx.db, await documentQuery(ctx.db).where('d.matter_id', '=', matterId).orderBy('d.created_at', 'desc').orderBy('d.id', 'desc').execute());
}

export async function getDocument(ctx: ServiceContext, actor: Actor, id: number): Promise<DocumentView> {
  requirePermission(actor, 'matters.read');
  return (await presentDocuments(ctx.db, [await findVisibleDocument(ctx.db, actor, id)]))[0]!;
}

/**
 * The stored PDF, checked against its recorded hash: a file changed on disk is refused rather than
 * handed out as the document.
 */
export async function readDocumentPdf(ctx: ServiceContext, doc: Pick<DocumentRow, 'id' | 'storage_name' | 'sha256'>): Promise<Buffer> {
  const content = await readFile(documentFile(ctx, doc.storage_name)).catch(() => null);
  if (!content || sha256Hex(content) !== doc.sha256) {
    throw new AppError(500, 'DOCUMENT_FILE_DAMAGED', `The stored PDF of document ${doc.id} is missing or does not match its hash; restore it from the backup. / 文书 PDF 文件缺失或已被改动，请从备份恢复。`);
  }
  return content;
}

export async function documentPdf(ctx: ServiceContext, actor: Actor, id: number): Promise<{ content: Buffer; sha256: string; name: string }> {
  requirePermission(actor, 'matters.read');
  const doc = await findVisibleDocument(ctx.db, actor, id);
  return { content: await readDocumentPdf(ctx, doc), sha256: doc.sha256, name: `${doc.title}.pdf` };
}

/** A document with its matter's number, whoever asks (the signer's routes check their token instead). */
export async function documentForSigning(db: Db, id: number) {
  return db
    .selectFrom('documents as d')
    .innerJoin('matters as m', 'm.id', 'd.matter_id')
    .selectAll('d')
    .select(['m.number as matter_number'])
    .where('d.id', '=', id)
    .executeTakeFirstOrThrow();
}
