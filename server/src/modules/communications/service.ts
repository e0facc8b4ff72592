import type { Transaction } from 'kysely';
import { parseCalendarDate, shanghaiDate } from '../../calendar.js';
import type { Actor, ServiceContext } from '../../context.js';
import type { Db } from '../../db/index.js';
import type { Database } from '../../db/schema.js';
import { badRequest, conflict, notFound } from '../../errors.js';
import { fileToArchive } from '../archive/filing.js';
import { appendAudit } from '../audit/service.js';
import { requirePermission } from '../auth/roles.js';
import { getRule } from '../deadlines/engine.js';
import { createDeadlinesForDocument } from '../deadlines/service.js';
import { assertMatterVisible, matterNotFound, visibleMatterIds } from '../matters/access.js';
import { notify } from '../notifications/service.js';
import type { PortalClient } from '../portal/service.js';
import { announce } from '../realtime/hub.js';
import { clientOfMatter, matterClientIds, optionalText, pastDay, pastInstant, recordHash, requiredText, sha256Hex } from './input.js';
import {
  CONFIRMABLE_KINDS,
  type AuthorityKind,
  type ClientConfirmationRow,
  type CommunicationDeliveryRow,
  type CommunicationRecordRow,
  type ConfirmableKind,
  type DeliveryMethod,
  type DeliveryResult,
  type RecordDetails,
  type RecordKind,
} from './tables.js';

/**
 * The communications register of a matter (T/ZSM 0038-2024 Z5.5.1 a–f): documents received from the
 * authorities, drafts the client confirms before they go out and the evidence of their delivery,
 * investigation and interview records, settlement and mediation plans agreed in advance, meetings
 * with a detained client, and the plan and progress of non-litigation work. Every record belongs to
 * a matter the actor works on (matters.work and sight of the matter) and is filed into its archive
 * (Z6.3.5). What a client confirms goes through one mechanism for every kind: a snapshot of the text
 * with its SHA-256, answered once in the portal and kept unchangeable by the database.
 */

export const KIND_LABELS: Record<RecordKind, string> = {
  received_document: '收到的法律文书',
  draft: '待确认文书',
  interview_record: '调查/询问笔录',
  settlement_plan: '和解/调解方案',
  detention_meeting: '会见记录',
  service_plan: '非诉服务方案',
  service_progress: '非诉工作进展',
  key_document: '关键文件内容',
};
export const AUTHORITY_LABELS: Record<AuthorityKind, string> = { police: '公安机关', procuratorate: '检察机关', court: '人民法院', arbitration: '仲裁机构', government: '行政机关' };
const DRAFT_LABELS: Record<RecordDetails['draft']['draft_kind'], string> = { lawyer_letter: '律师函', legal_opinion: '法律意见书', other: '文书' };
const METHOD_LABELS: Record<DeliveryMethod, string> = { ems: 'EMS', courier: '快递', registered_mail: '挂号信', email: '电子邮件', in_person: '直接送达', fax: '传真', other: '其他方式' };
const RESULT_LABELS: Record<DeliveryResult, string> = { delivered: '已签收', refused: '拒收', returned: '退回' };
const POSTAL: ReadonlySet<DeliveryMethod> = new Set(['ems', 'courier', 'registered_mail']);

/** The archive kind a record is filed under when it is made; drafts, plans and key documents are filed with the client's answer. */
const FILED_AS: Partial<Record<RecordKind, string>> = {
  received_document: 'received_document',
  interview_record: 'interview_record',
  detention_meeting: 'detention_meeting',
  service_plan: 'service_plan',
  service_progress: 'service_plan',
};
const isConfirmable = (kind: RecordKind): kind is ConfirmableKind => (CONFIRMABLE_KINDS as readonly string[]).includes(kind);

const MAX_LISTED = 500;

// ---------------------------------------------------------------------------------------------
// Presentation

export interface ConfirmationView {
  id: number;
  record_id: number;
  client_id: number;
  title: string;
  content_sha256: string;
  requested_at: string;
  status: 'pending' | 'confirmed' | 'commented' | 'superseded';
  response_text: string | null;
  responded_at: string | null;
  responder_ip: string | null;
  evidence_sha256: string | null;
}

export interface DeliveryView {
  id: number;
  method: DeliveryMethod;
  tracking_number: string | null;
  recipient: string;
  sent_on: string;
  result: DeliveryResult;
  result_on: string;
  process_file_id: number | null;
  file_sha256: string | null;
  note: string | null;
  client_informed_at: string | null;
  recorded_at: string;
}

export interface RecordView {
  id: number;
  matter: { id: number; number: string };
  kind: RecordKind;
  kind_label: string;
  title: string;
  occurred_on: string;
  content: string | null;
  content_sha256: string | null;
  details: RecordDetails[RecordKind];
  deadline: { id: number; due: string; status: string } | null;
  /** for what a client confirms: where the current text stands */
  confirmation_status: 'not_sent' | 'awaiting_client' | 'confirmed' | 'commented' | null;
  client_informed: { at: string; via: string; note: string | null } | null;
  confirmations: ConfirmationView[];
  deliveries: DeliveryView[];
  created_by: { id: number; display_name: string };
  created_at: string;
  updated_at: string;
}

function confirmationStatus(c: ClientConfirmationRow): ConfirmationView['status'] {
  if (c.decision) return c.decision;
  return c.superseded_at ? 'superseded' : 'pending';
}

function presentConfirmation(c: ClientConfirmationRow): ConfirmationView {
  return {
    id: c.id,
    record_id: c.record_id,
    client_id: c.client_id,
    title: c.title,
    content_sha256: c.content_sha256,
    requested_at: c.requested_at.toISOString(),
    status: confirmationStatus(c),
    response_text: c.response_text,
    responded_at: c.responded_at?.toISOString() ?? null,
    responder_ip: c.responder_ip,
    evidence_sha256: c.evidence_sha256,
  };
}

function presentDelivery(d: CommunicationDeliveryRow): DeliveryView {
  return {
    id: d.id,
    method: d.method,
    tracking_number: d.tracking_number,
    recipient: d.recipient,
    sent_on: d.sent_on,
    result: d.result,
    result_on: d.result_on,
    process_file_id: d.process_file_id,
    file_sha256: d.file_sha256,
    note: d.note,
    client_informed_at: d.client_informed_at?.toISOString() ?? null,
    recorded_at: d.recorded_at.toISOString(),
  };
}

/** Where the record's current text stands with the client: the latest request decides. */
function currentConfirmation(r: CommunicationRecordRow, confirmations: ClientConfirmationRow[]): RecordView['confirmation_status'] {
  if (!isConfirmable(r.kind)) return null;
  const latest = confirmations.filter((c) => !c.superseded_at).at(-1);
  if (!latest) return 'not_sent';
  if (!latest.decision) return 'awaiting_client';
  if (latest.decision === 'commented') return 'commented';
  return latest.content_sha256 === r.content_sha256 ? 'confirmed' : 'not_sent';
}

type LoadedRecord = CommunicationRecordRow & { matter_number: string; author: string };

async function presentRecords(db: Db, rows: LoadedRecord[]): Promise<RecordView[]> {
  const ids = rows.map((r) => r.id);
  const deadlineIds = rows.map((r) => r.deadline_id).filter((id): id is number => id !== null);
  const [confirmations, deliveries, deadlines] = ids.length
    ? await Promise.all([
        db.selectFrom('client_confirmations').selectAll().where('record_id', 'in', ids).orderBy('id').execute(),
        db.selectFrom('communication_deliveries').selectAll().where('record_id', 'in', ids).orderBy('id').execute(),
        deadlineIds.length ? db.selectFrom('matter_deadlines').select(['id', 'due_date', 'status']).where('id', 'in', deadlineIds).execute() : Promise.resolve([]),
      ])
    : [[], [], []];
  return rows.map((r) => {
    const mine = confirmations.filter((c) => c.record_id === r.id);
    const deadline = deadlines.find((d) => d.id === r.deadline_id);
    return {
      id: r.id,
      matter: { id: r.matter_id, number: r.matter_number },
      kind: r.kind,
      kind_label: KIND_LABELS[r.kind],
      title: r.title,
      occurred_on: r.occurred_on,
      content: r.content,
      content_sha256: r.content_sha256,
      details: r.details,
      deadline: deadline ? { id: deadline.id, due: deadline.due_date, status: deadline.status } : null,
      confirmation_status: currentConfirmation(r, mine),
      client_informed: r.client_informed_at && r.client_informed_via ? { at: r.client_informed_at.toISOString(), via: r.client_informed_via, note: r.client_informed_note } : null,
      confirmations: mine.map(presentConfirmation),
      deliveries: deliveries.filter((d) => d.record_id === r.id).map(presentDelivery),
      created_by: { id: r.created_by, display_name: r.author },
      created_at: r.created_at.toISOString(),
      updated_at: r.updated_at.toISOString(),
    };
  });
}

function recordQuery(db: Db) {
  return db
    .selectFrom('communication_records as r')
    .innerJoin('matters as m', 'm.id', 'r.matter_id')
    .innerJoin('users as u', 'u.id', 'r.created_by')
    .selectAll('r')
    .select(['m.number as matter_number', 'u.display_name as author']);
}

const recordNotFound = (id: number) => notFound('RECORD_NOT_FOUND', `No communication record ${id}, or it belongs to a matter you do not work on. / 沟通记录不存在或您无权查看。`);

/** A record of a matter the actor works on; the same 404 for a missing one and one out of sight. */
async function loadRecord(db: Db, actor: Actor, id: number): Promise<LoadedRecord> {
  requirePermission(actor, 'matters.work');
  const row = (await recordQuery(db).where('r.id', '=', id).executeTakeFirst()) as LoadedRecord | undefined;
  if (!row || !(await visibleMatterIds(db, actor, [row.matter_id])).has(row.matter_id)) throw recordNotFound(id);
  return row;
}

async function getRecordView(db: Db, id: number): Promise<RecordView> {
  const row = (await recordQuery(db).where('r.id', '=', id).executeTakeFirstOrThrow()) as LoadedRecord;
  return (await presentRecords(db, [row]))[0]!;
}

// ---------------------------------------------------------------------------------------------
// Making records

interface WorkMatter {
  id: number;
  number: string;
  title: string;
  type: string;
  responsible_lawyer_id: number;
}

/** A matter the actor may add records to: visible, worked on, not declined. */
async function workMatter(db: Db, actor: Actor, matterId: number): Promise<WorkMatter> {
  requirePermission(actor, 'matters.work');
  await assertMatterVisible(db, actor, matterId);
  const m = await db.selectFrom('matters').select(['id', 'number', 'title', 'type', 'status', 'responsible_lawyer_id']).where('id', '=', matterId).executeTakeFirst();
  if (!m) throw matterNotFound(matterId);
  if (m.status === 'declined') throw conflict('MATTER_DECLINED', 'This matter was declined; nothing more is recorded on it. / 该案件已拒绝收案，不能再登记记录。');
  return m;
}

interface Prepared<K extends RecordKind> {
  title: string;
  occurred_on: string;
  content: string | null;
  details: RecordDetails[K];
  informed?: { at: Date; via: string; note: string | null } | null;
}

/**
 * Inserts a record, files it where its kind is filed at once, and audits it, in one transaction;
 * `after` does the kind's own work (a deadline, a notice) in the same transaction.
 */
async function insertRecord<K extends RecordKind>(
  ctx: ServiceContext,
  actor: Actor,
  matter: WorkMatter,
  kind: K,
  p: Prepared<K>,
  after?: (trx: Transaction<Database>, row: CommunicationRecordRow) => Promise<Record<string, unknown> | void>,
): Promise<RecordView> {
  const now = ctx.clock.now();
  const id = await ctx.db.transaction().execute(async (trx) => {
    let row = await trx
      .insertInto('communication_records')
      .values({
        matter_id: matter.id,
        kind,
        title: p.title,
        occurred_on: p.occurred_on,
        content: p.content,
        content_sha256: p.content === null ? null : sha256Hex(p.content),
        details: JSON.stringify(p.details),
        client_informed_at: p.informed?.at ?? null,
        client_informed_via: p.informed?.via ?? null,
        client_informed_note: p.informed?.note ?? null,
        created_by: actor.userId!,
        created_at: now,
        updated_at: now,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    const extra = (await after?.(trx, row)) ?? {};
    row = await trx.selectFrom('communication_records').selectAll().where('id', '=', row.id).executeTakeFirstOrThrow();
    const filedAs = FILED_AS[kind];
    if (filedAs) await fileToArchive(trx, ctx, { matter_id: matter.id, kind: filedAs, title: `${KIND_LABELS[kind]}：${p.title}`, source: 'communication_records', source_id: row.id, sha256: hashOfRecord(row), filed_by: actor.userId });
    await trx.updateTable('matters').set({ updated_at: now }).where('id', '=', matter.id).execute();
    await appendAudit(trx, { at: now, actor: actor.username, action: `communication.${kind}`, object: `matter:${matter.number}`, result: 'success', sourceIp: actor.sourceIp, detail: { record_id: row.id, ...extra } });
    return row.id;
  });
  return getRecordView(ctx.db, id);
}

/** The fingerprint of a record as filed: what it says, not who looked at it since. */
const hashOfRecord = (r: CommunicationRecordRow) =>
  recordHash({ id: r.id, matter_id: r.matter_id, kind: r.kind, title: r.title, occurred_on: r.occurred_on, content_sha256: r.content_sha256, details: r.details, deadline_id: r.deadline_id });

/** Staff who should hear of a record someone else made: the matter's responsible lawyer. */
const staffToTell = (actor: Actor, matter: WorkMatter): number[] => (matter.responsible_lawyer_id === actor.userId ? [] : [matter.responsible_lawyer_id]);

/**
 * Tells every registered client of the matter (and the staff named) in the caller's transaction.
 * Returns the clients told: none when the matter has no client record to tell.
 */
async function tellClients(trx: Transaction<Database>, ctx: ServiceContext, matter: WorkMatter, staff: number[], notice: { event: 'document.received'; title: string; body: string; key: string }): Promise<number[]> {
  const clients = await matterClientIds(trx, matter.id);
  for (const [i, clientId] of clients.entries()) {
    await notify(trx, ctx, { event: notice.event, client_id: clientId, user_ids: i === 0 ? staff : [], matter_id: matter.id, title: notice.title, body: notice.body, dedupe_key: `${notice.key}:${clientId}` });
  }
  if (!clients.length && staff.length) await notify(trx, ctx, { event: notice.event, user_ids: staff, matter_id: matter.id, title: notice.title, body: notice.body, dedupe_key: `${notice.key}:staff` });
  return clients;
}

const informedByNotice = (now: Date, clients: number[]) => (clients.length ? { client_informed_at: now, client_informed_via: 'notification', client_informed_note: `系统通知（客户 ${clients.join('、')}）` } : {});

// a. Documents received from the authorities ---------------------------------------------------

export interface ReceivedDocumentInput {
  authority_kind: AuthorityKind;
  authority: string;
  document_kind: string;
  document_number?: string | null;
  received_on: string;
  served_on?: string | null;
  stated_deadline_on?: string | null;
  consequence?: string | null;
  summary?: string | null;
  /** the deadline the document starts, computed by the deadline engine */
  deadline?: { rule: string; trigger_date?: string; foreign?: boolean; in_custody?: boolean; days?: number } | null;
  /** tell the matter's clients at once (default) */
  inform_client?: boolean;
}

/**
 * 收到公检法、仲裁或行政机关文书 (Z5.5.1a, Z5.5.2c): recorded, its deadline created by the deadline
 * engine (reminders follow from there), filed, and the client told of the document, the deadline and
 * what missing it means — all in one transaction.
 */
export async function recordReceivedDocument(ctx: ServiceContext, actor: Actor, matterId: number, input: ReceivedDocumentInput): Promise<RecordView> {
  const matter = await workMatter(ctx.db, actor, matterId);
  const now = ctx.clock.now();
  if (!AUTHORITY_LABELS[input.authority_kind]) throw badRequest('INVALID_AUTHORITY', 'Unknown kind of authority. / 发文机关类别不正确。');
  const authority = requiredText(input.authority, 'authority', '发文机关');
  const documentKind = requiredText(input.document_kind, 'document_kind', '文书种类');
  const receivedOn = pastDay(input.received_on, 'received_on', '收到日期', now);
  const servedOn = input.served_on ? pastDay(input.served_on, 'served_on', '送达日期', now) : null;
  const statedOn = input.stated_deadline_on ? parseCalendarDate(input.stated_deadline_on, 'stated_deadline_on') : null;
  const rule = input.deadline ? getRule(input.deadline.rule) : null;
  const triggerDate = input.deadline ? (input.deadline.trigger_date ? parseCalendarDate(input.deadline.trigger_date, 'deadline.trigger_date') : servedOn) : null;
  if (input.deadline && !triggerDate) throw badRequest('TRIGGER_DATE_REQUIRED', 'Give the day the deadline counts from (deadline.trigger_date), or served_on. / 请填写期限起算日或送达日期。');
  const consequence = optionalText(input.consequence) ?? rule?.consequence.zh ?? null;
  if ((statedOn || rule) && !consequence) throw badRequest('CONSEQUENCE_REQUIRED', 'Say what happens if the deadline is missed (consequence); the client is told. / 请填写逾期后果，系统将一并告知客户。');
  const details: RecordDetails['received_document'] = {
    authority_kind: input.authority_kind,
    authority,
    document_kind: documentKind,
    document_number: optionalText(input.document_number),
    received_on: receivedOn,
    served_on: servedOn,
    stated_deadline_on: statedOn,
    deadline: null,
    consequence,
  };
  const title = `${authority}《${documentKind}》${details.document_number ? `（${details.document_number}）` : ''}`;
  return insertRecord(ctx, actor, matter, 'received_document', { title, occurred_on: receivedOn, content: optionalText(input.summary), details }, async (trx, row) => {
    if (rule && triggerDate) {
      const created = await createDeadlinesForDocument(trx, ctx, actor, {
        matter_id: matter.id,
        source: 'received_document',
        source_id: row.id,
        rule: rule.id,
        trigger_date: triggerDate,
        foreign: input.deadline?.foreign,
        in_custody: input.deadline?.in_custody,
        days: input.deadline?.days,
        title: `${documentKind}：${rule.name.zh}`,
      });
      details.deadline = { rule: rule.id, trigger_date: triggerDate, due: created.due, warnings: created.warnings };
      await trx.updateTable('communication_records').set({ deadline_id: created.id, details: JSON.stringify(details) }).where('id', '=', row.id).execute();
    }
    if (input.inform_client === false) return { deadline: details.deadline?.due ?? null };
    const lines = [
      `案件：${matter.number} ${matter.title}`,
      `文书：${AUTHORITY_LABELS[details.authority_kind]} ${title}`,
      `收到日期：${receivedOn}${servedOn ? `；送达日期：${servedOn}` : ''}`,
      ...(details.deadline ? [`期限：${rule!.name.zh}，届满日 ${details.deadline.due}`] : []),
      ...(statedOn ? [`文书载明的期限：${statedOn}`] : []),
      ...(consequence && (details.deadline || statedOn) ? [`逾期后果：${consequence}`] : []),
      ...(details.deadline?.warnings ?? []),
      '承办律师将就后续安排与您联系。',
    ];
    const clients = await tellClients(trx, ctx, matter, staffToTell(actor, matter), { event: 'document.received', title: `收到${authority}《${documentKind}》`.slice(0, 200), body: lines.join('\n'), key: `document.received:${row.id}` });
    if (clients.length) await trx.updateTable('communication_records').set(informedByNotice(ctx.clock.now(), clients)).where('id', '=', row.id).execute();
    return { deadline: details.deadline?.due ?? null, clients_told: clients };
  });
}

// b. Drafts for the client's confirmation --------------------------------------------------------

export interface DraftInput {
  draft_kind: RecordDetails['draft']['draft_kind'];
  title: string;
  content: string;
  recipient?: string | null;
  drafted_on?: string;
}

/** A lawyer's letter or legal opinion to be confirmed by the client before it is issued (Z5.5.1b). */
export async function recordDraft(ctx: ServiceContext, actor: Actor, matterId: number, input: DraftInput): Promise<RecordView> {
  const matter = await workMatter(ctx.db, actor, matterId);
  const now = ctx.clock.now();
  if (!DRAFT_LABELS[input.draft_kind]) throw badRequest('INVALID_KIND', 'Unknown kind of draft. / 文书种类不正确。');
  return insertRecord(ctx, actor, matter, 'draft', {
    title: requiredText(input.title, 'title', '文书标题'),
    occurred_on: input.drafted_on ? pastDay(input.drafted_on, 'drafted_on', '起草日期', now) : shanghaiDate(now),
    content: requiredText(input.content, 'content', '文书内容'),
    details: { draft_kind: input.draft_kind, recipient: optionalText(input.recipient) },
  });
}

// c. Investigation and interview records -----------------------------------------------------------

export interface InterviewInput {
  title?: string | null;
  interviewed_at: string;
  subject: string;
  place: string;
  content: string;
}

/** 调查、询问笔录 (Z5.5.1c): time, person, place, content; the client confirms it and gives an opinion. */
export async function recordInterview(ctx: ServiceContext, actor: Actor, matterId: number, input: InterviewInput): Promise<RecordView> {
  const matter = await workMatter(ctx.db, actor, matterId);
  const now = ctx.clock.now();
  const at = pastInstant(input.interviewed_at, 'interviewed_at', '调查时间', now);
  const subject = requiredText(input.subject, 'subject', '被调查人');
  return insertRecord(ctx, actor, matter, 'interview_record', {
    title: optionalText(input.title) ?? `调查笔录（${subject}）`,
    occurred_on: shanghaiDate(at),
    content: requiredText(input.content, 'content', '笔录内容'),
    details: { interviewed_at: at.toISOString(), subject, place: requiredText(input.place, 'place', '调查地点') },
  });
}

// d. Settlement and mediation plans ---------------------------------------------------------------

export interface SettlementPlanInput {
  plan_kind: RecordDetails['settlement_plan']['plan_kind'];
  title: string;
  content: string;
  counterparty?: string | null;
}

/** 和解/调解方案 (Z5.5.1d): agreed with the client in advance; the client's consent is its confirmation. */
export async function recordSettlementPlan(ctx: ServiceContext, actor: Actor, matterId: number, input: SettlementPlanInput): Promise<RecordView> {
  const matter = await workMatter(ctx.db, actor, matterId);
  if (input.plan_kind !== 'settlement' && input.plan_kind !== 'mediation') throw badRequest('INVALID_KIND', 'plan_kind is settlement or mediation. / 方案类型应为和解或调解。');
  return insertRecord(ctx, actor, matter, 'settlement_plan', {
    title: requiredText(input.title, 'title', '方案名称'),
    occurred_on: shanghaiDate(ctx.clock.now()),
    content: requiredText(input.content, 'content', '方案内容'),
    details: { plan_kind: input.plan_kind, counterparty: optionalText(input.counterparty) },
  });
}

// e. Criminal-case meetings with the detained client -------------------------------------------------

export interface DetentionMeetingInput {
  met_at: string;
  duration_minutes: number;
  place: string;
  detainee: string;
  summary?: string | null;
  non_case_needs?: string | null;
  /** when and how the needs were passed on to the family or client, if already */
  told?: { at: string; method: InformMethod; to: string } | null;
}

/** 会见记录 (Z5.5.1e): time, length and place of the meeting, and the detainee's non-case needs passed on. */
export async function recordDetentionMeeting(ctx: ServiceContext, actor: Actor, matterId: number, input: DetentionMeetingInput): Promise<RecordView> {
  const matter = await workMatter(ctx.db, actor, matterId);
  if (matter.type !== 'criminal') throw badRequest('NOT_A_CRIMINAL_MATTER', 'Meeting logs are kept for criminal matters. / 会见记录仅适用于刑事案件。');
  const now = ctx.clock.now();
  const at = pastInstant(input.met_at, 'met_at', '会见时间', now);
  if (!Number.isInteger(input.duration_minutes) || input.duration_minutes < 1 || input.duration_minutes > 1440) {
    throw badRequest('INVALID_DURATION', 'duration_minutes must be a whole number from 1 to 1440. / 会见时长应为1–1440分钟。');
  }
  const detainee = requiredText(input.detainee, 'detainee', '在押人员');
  const place = requiredText(input.place, 'place', '会见地点');
  const told = input.told ? { at: pastInstant(input.told.at, 'told.at', '告知时间', now), via: informMethod(input.told.method), note: `告知对象：${requiredText(input.told.to, 'told.to', '告知对象')}` } : null;
  if (told && told.at < at) throw badRequest('INVALID_TIME', 'The needs cannot be passed on before the meeting. / 告知时间不能早于会见时间。');
  return insertRecord(ctx, actor, matter, 'detention_meeting', {
    title: `会见${detainee}（${place}）`,
    occurred_on: shanghaiDate(at),
    content: optionalText(input.summary),
    details: { met_at: at.toISOString(), duration_minutes: input.duration_minutes, place, detainee, non_case_needs: optionalText(input.non_case_needs) },
    informed: told,
  });
}

// f. Non-litigation: service plan, progress, key documents --------------------------------------------

export interface TextRecordInput {
  title: string;
  content: string;
  occurred_on?: string;
}

/** 非诉服务方案、工作进展 (Z5.5.1f): each confirmed with the client. */
export async function recordServiceText(ctx: ServiceContext, actor: Actor, matterId: number, kind: 'service_plan' | 'service_progress', input: TextRecordInput): Promise<RecordView> {
  const matter = await workMatter(ctx.db, actor, matterId);
  const now = ctx.clock.now();
  return insertRecord(ctx, actor, matter, kind, {
    title: requiredText(input.title, 'title', '标题'),
    occurred_on: input.occurred_on ? pastDay(input.occurred_on, 'occurred_on', '日期', now) : shanghaiDate(now),
    content: requiredText(input.content, 'content', '内容'),
    details: {},
  });
}

export interface KeyDocumentInput {
  title: string;
  document_title: string;
  content: string;
}

/** 关键文件内容 (Z5.5.1f): the key terms of a document, confirmed with the client. */
export async function recordKeyDocument(ctx: ServiceContext, actor: Actor, matterId: number, input: KeyDocumentInput): Promise<RecordView> {
  const matter = await workMatter(ctx.db, actor, matterId);
  return insertRecord(ctx, actor, matter, 'key_document', {
    title: requiredText(input.title, 'title', '标题'),
    occurred_on: shanghaiDate(ctx.clock.now()),
    content: requiredText(input.content, 'content', '关键内容'),
    details: { document_title: requiredText(input.document_title, 'document_title', '文件名称') },
  });
}

// ---------------------------------------------------------------------------------------------
// Reading

export async function listCommunications(ctx: ServiceContext, actor: Actor, matterId: number, filter: { kind?: RecordKind } = {}): Promise<RecordView[]> {
  requirePermission(actor, 'matters.work');
  await assertMatterVisible(ctx.db, actor, matterId);
  let q = recordQuery(ctx.db).where('r.matter_id', '=', matterId).orderBy('r.occurred_on', 'desc').orderBy('r.id', 'desc').limit(MAX_LISTED);
  if (filter.kind) q = q.where('r.kind', '=', filter.kind);
  return presentRecords(ctx.db, (await q.execute()) as LoadedRecord[]);
}

export async function getCommunication(ctx: ServiceContext, actor: Actor, id: number): Promise<RecordView> {
  const row = await loadRecord(ctx.db, actor, id);
  return (await presentRecords(ctx.db, [row]))[0]!;
}

// ---------------------------------------------------------------------------------------------
// The client told by a person

export const INFORM_METHODS = ['phone', 'visit', 'wechat', 'sms', 'email', 'letter', 'other'] as const;
export type InformMethod = (typeof INFORM_METHODS)[number];

function informMethod(method: string): InformMethod {
  if (!(INFORM_METHODS as readonly string[]).includes(method)) throw badRequest('INVALID_METHOD', `How the client was told: ${INFORM_METHODS.join(', ')}. / 告知方式不正确。`);
  return method as InformMethod;
}

/** Records when and how a person told the client (or the family) of a record; once per record. */
export async function markClientInformed(ctx: ServiceContext, actor: Actor, id: number, input: { method: InformMethod; informed_at?: string; note?: string | null }): Promise<RecordView> {
  const row = await loadRecord(ctx.db, actor, id);
  const now = ctx.clock.now();
  const via = informMethod(input.method);
  const at = input.informed_at ? pastInstant(input.informed_at, 'informed_at', '告知时间', now) : now;
  await ctx.db.transaction().execute(async (trx) => {
    const updated = await trx
      .updateTable('communication_records')
      .set({ client_informed_at: at, client_informed_via: via, client_informed_note: optionalText(input.note), updated_at: now })
      .where('id', '=', id)
      .where('client_informed_at', 'is', null)
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) === 0) throw conflict('ALREADY_INFORMED', 'The client was already recorded as told of this record. / 该记录已登记告知客户。');
    await appendAudit(trx, { at: now, actor: actor.username, action: 'communication.client_informed', object: `matter:${row.matter_number}`, result: 'success', sourceIp: actor.sourceIp, detail: { record_id: id, method: via, informed_at: at.toISOString() } });
  });
  return getRecordView(ctx.db, id);
}

// ---------------------------------------------------------------------------------------------
// Client confirmation: one mechanism for drafts, interview records, plans, progress and key documents

/**
 * Asks the client to confirm the record's text in the portal. A revised text (`content`) replaces
 * the record's and retires every unanswered request for the old one; asking the same client again
 * retires that client's unanswered request. The request keeps the text it showed and its hash.
 */
export async function requestConfirmation(ctx: ServiceContext, actor: Actor, id: number, input: { client_id?: number | null; content?: string | null } = {}): Promise<{ record: RecordView; confirmation: ConfirmationView }> {
  const row = await loadRecord(ctx.db, actor, id);
  if (!isConfirmable(row.kind)) throw badRequest('NOT_CONFIRMABLE', `A ${KIND_LABELS[row.kind]} is not sent to the client for confirmation. / 该类记录无需客户确认。`);
  const revised = input.content == null ? null : requiredText(input.content, 'content', '内容');
  const content = revised ?? row.content;
  if (!content) throw badRequest('CONTENT_REQUIRED', 'There is no text to confirm. / 没有需要确认的内容。');
  const hash = sha256Hex(content);
  const changed = hash !== row.content_sha256;
  const clientId = await clientOfMatter(ctx.db, row.matter_id, input.client_id);
  const matter = await workMatter(ctx.db, actor, row.matter_id);
  const now = ctx.clock.now();
  const confirmationId = await ctx.db.transaction().execute(async (trx) => {
    // Two revisions at once must not leave the record's text and its open requests out of step.
    const current = await trx.selectFrom('communication_records').select('content_sha256').where('id', '=', id).forUpdate().executeTakeFirstOrThrow();
    if (current.content_sha256 !== row.content_sha256) throw conflict('RECORD_CHANGED', 'The text was revised meanwhile; reload it and ask again. / 该文本已被他人修改，请刷新后重新发送确认。');
    if (changed) {
      const revisedRow = await trx.updateTable('communication_records').set({ content, content_sha256: hash, updated_at: now }).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
      // The archive holds the record's hash as it stands: a revised text is filed again.
      const filedAs = FILED_AS[row.kind];
      if (filedAs) await fileToArchive(trx, ctx, { matter_id: row.matter_id, kind: filedAs, title: `${KIND_LABELS[row.kind]}：${row.title}`, source: 'communication_records', source_id: id, sha256: hashOfRecord(revisedRow), filed_by: actor.userId });
    }
    let retire = trx.updateTable('client_confirmations').set({ superseded_at: now }).where('record_id', '=', id).where('decision', 'is', null).where('superseded_at', 'is', null);
    if (!changed) retire = retire.where('client_id', '=', clientId);
    await retire.execute();
    const c = await trx
      .insertInto('client_confirmations')
      .values({ record_id: id, matter_id: row.matter_id, client_id: clientId, title: row.title, content, content_sha256: hash, requested_by: actor.userId!, requested_at: now })
      .returning('id')
      .executeTakeFirstOrThrow();
    await notify(trx, ctx, {
      event: 'confirmation.request',
      client_id: clientId,
      matter_id: row.matter_id,
      title: `请确认：${row.title}`.slice(0, 200),
      body: `案件 ${matter.number} 的${KIND_LABELS[row.kind]}「${row.title}」需要您审阅。请在客户门户中确认，或提出修改意见。`,
      link: `/portal/confirm/${c.id}`,
      dedupe_key: `confirmation.request:${c.id}`,
    });
    await appendAudit(trx, { at: now, actor: actor.username, action: 'communication.confirmation_request', object: `matter:${row.matter_number}`, result: 'success', sourceIp: actor.sourceIp, detail: { record_id: id, confirmation_id: c.id, client_id: clientId, content_sha256: hash, revised: changed } });
    return c.id;
  });
  const confirmation = await ctx.db.selectFrom('client_confirmations').selectAll().where('id', '=', confirmationId).executeTakeFirstOrThrow();
  return { record: await getRecordView(ctx.db, id), confirmation: presentConfirmation(confirmation) };
}

/** What a client sees of a request in the portal: the text itself and where it stands. */
export interface PortalConfirmationView {
  id: number;
  matter: { id: number; number: string; title: string };
  kind: RecordKind;
  kind_label: string;
  title: string;
  content: string;
  content_sha256: string;
  requested_at: string;
  status: ConfirmationView['status'];
  response_text: string | null;
  responded_at: string | null;
}

function portalConfirmationQuery(db: Db, portal: PortalClient) {
  return db
    .selectFrom('client_confirmations as c')
    .innerJoin('communication_records as r', 'r.id', 'c.record_id')
    .innerJoin('matters as m', 'm.id', 'c.matter_id')
    .selectAll('c')
    .select(['r.kind', 'm.number as matter_number', 'm.title as matter_title'])
    .where('c.client_id', '=', portal.clientId)
    // Only while the client is still a client of the matter: a party removed sees nothing more of it.
    .where((eb) => eb.exists(eb.selectFrom('parties as p').select('p.id').whereRef('p.matter_id', '=', 'c.matter_id').where('p.role', '=', 'client').where('p.client_id', '=', portal.clientId)));
}

type PortalLoaded = ClientConfirmationRow & { kind: RecordKind; matter_number: string; matter_title: string };

function presentPortal(c: PortalLoaded): PortalConfirmationView {
  return {
    id: c.id,
    matter: { id: c.matter_id, number: c.matter_number, title: c.matter_title },
    kind: c.kind,
    kind_label: KIND_LABELS[c.kind],
    title: c.title,
    content: c.content,
    content_sha256: c.content_sha256,
    requested_at: c.requested_at.toISOString(),
    status: confirmationStatus(c),
    response_text: c.response_text,
    responded_at: c.responded_at?.toISOString() ?? null,
  };
}

const confirmationNotFound = (id: number) => notFound('CONFIRMATION_NOT_FOUND', `No confirmation request ${id} for you. / 确认事项不存在。`);

/** The client's requests, unanswered first, then the latest. */
export async function listPortalConfirmations(ctx: ServiceContext, portal: PortalClient): Promise<PortalConfirmationView[]> {
  const rows = (await portalConfirmationQuery(ctx.db, portal).orderBy('c.id', 'desc').limit(MAX_LISTED).execute()) as PortalLoaded[];
  const rank = (c: PortalLoaded) => (confirmationStatus(c) === 'pending' ? 0 : 1);
  return rows.sort((a, b) => rank(a) - rank(b) || b.id - a.id).map(presentPortal);
}

export async function getPortalConfirmation(ctx: ServiceContext, portal: PortalClient, id: number): Promise<PortalConfirmationView> {
  const row = (await portalConfirmationQuery(ctx.db, portal).where('c.id', '=', id).executeTakeFirst()) as PortalLoaded | undefined;
  if (!row) throw confirmationNotFound(id);
  return presentPortal(row);
}

/** What the evidence hash covers: the answer, who gave it, from where, and the exact text it answers. */
function confirmationEvidence(c: ClientConfirmationRow, answer: { decision: 'confirmed' | 'commented'; text: string | null; at: Date; responder: string; ip: string | null }): string {
  return recordHash({
    confirmation_id: c.id,
    record_id: c.record_id,
    matter_id: c.matter_id,
    client_id: c.client_id,
    content_sha256: c.content_sha256,
    requested_at: c.requested_at.toISOString(),
    decision: answer.decision,
    response_text: answer.text,
    responded_at: answer.at.toISOString(),
    responder: answer.responder,
    responder_ip: answer.ip,
  });
}

/**
 * The client's answer in the portal (确认 or 修改意见), given once: who, when, from which address, the
 * text of the answer and the hash of what was answered are kept for good and filed into the archive.
 */
export async function answerConfirmation(ctx: ServiceContext, portal: PortalClient, actor: Actor, id: number, input: { decision: 'confirm' | 'comment'; text?: string | null }): Promise<PortalConfirmationView> {
  const row = (await portalConfirmationQuery(ctx.db, portal).where('c.id', '=', id).executeTakeFirst()) as PortalLoaded | undefined;
  if (!row) throw confirmationNotFound(id);
  if (input.decision !== 'confirm' && input.decision !== 'comment') throw badRequest('INVALID_DECISION', 'Answer confirm or comment. / 请选择确认或提出意见。');
  const decision = input.decision === 'confirm' ? 'confirmed' : 'commented';
  const text = optionalText(input.text);
  if (decision === 'commented' && !text) throw badRequest('COMMENT_REQUIRED', 'Write what should change. / 请填写修改意见。');
  if (row.decision) throw conflict('ALREADY_ANSWERED', 'You already answered this request; your answer is kept as given. / 您已答复该事项，答复不可更改。');
  if (row.superseded_at) throw conflict('SUPERSEDED', 'Your lawyer sent a newer version; please answer that one. / 律师已发送新版本，请对新版本进行确认。');
  const now = ctx.clock.now();
  const evidence = confirmationEvidence(row, { decision, text, at: now, responder: actor.username, ip: actor.sourceIp });
  await ctx.db.transaction().execute(async (trx) => {
    const updated = await trx
      .updateTable('client_confirmations')
      .set({ decision, response_text: text, responded_at: now, responder: actor.username, responder_ip: actor.sourceIp, evidence_sha256: evidence })
      .where('id', '=', id)
      .where('decision', 'is', null)
      .where('superseded_at', 'is', null)
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) === 0) throw conflict('ALREADY_ANSWERED', 'This request was answered or replaced meanwhile. / 该事项已答复或已被新版本替代。');
    await fileToArchive(trx, ctx, {
      matter_id: row.matter_id,
      kind: row.kind === 'settlement_plan' ? 'settlement_consent' : 'client_confirmation',
      title: `客户${decision === 'confirmed' ? '确认' : '意见'}：${row.title}`,
      source: 'client_confirmations',
      source_id: id,
      sha256: evidence,
      filed_by: null,
    });
    await announce(trx, { topic: `user:${row.requested_by}`, data: { type: 'confirmation.answered', confirmation_id: id, record_id: row.record_id, matter_id: row.matter_id, decision } });
    await appendAudit(trx, { at: now, actor: actor.username, action: 'communication.confirmation_answer', object: `confirmation:${id}`, result: 'success', sourceIp: actor.sourceIp, detail: { record_id: row.record_id, decision, content_sha256: row.content_sha256, evidence_sha256: evidence } });
  });
  return getPortalConfirmation(ctx, portal, id);
}

// ---------------------------------------------------------------------------------------------
// b. Delivery, refusal and return evidence of an issued draft

export interface DeliveryInput {
  method: DeliveryMethod;
  tracking_number?: string | null;
  recipient?: string | null;
  sent_on: string;
  result: DeliveryResult;
  result_on: string;
  process_file_id?: number | null;
  file_sha256?: string | null;
  note?: string | null;
}

/**
 * The evidence that a confirmed draft reached its addressee, was refused or came back: recorded
 * only for the text the client confirmed, filed, and the client told of the result.
 */
export async function recordDelivery(ctx: ServiceContext, actor: Actor, id: number, input: DeliveryInput): Promise<RecordView> {
  const row = await loadRecord(ctx.db, actor, id);
  if (row.kind !== 'draft') throw badRequest('NOT_A_DRAFT', 'Delivery evidence is kept for lawyer’s letters and legal opinions. / 送达凭证仅适用于律师函、法律意见书等文书。');
  const matter = await workMatter(ctx.db, actor, row.matter_id);
  const confirmations = await ctx.db.selectFrom('client_confirmations').selectAll().where('record_id', '=', id).orderBy('id').execute();
  if (currentConfirmation(row, confirmations) !== 'confirmed') {
    throw conflict('NOT_CONFIRMED', 'The client has not confirmed the current text; it may not be issued yet. / 客户尚未确认当前文本，不能发出。');
  }
  const now = ctx.clock.now();
  if (!METHOD_LABELS[input.method]) throw badRequest('INVALID_METHOD', 'Unknown delivery method. / 送达方式不正确。');
  if (!RESULT_LABELS[input.result]) throw badRequest('INVALID_RESULT', 'The result is delivered, refused or returned. / 送达结果应为签收、拒收或退回。');
  const tracking = optionalText(input.tracking_number);
  if (POSTAL.has(input.method) && !tracking) throw badRequest('TRACKING_REQUIRED', 'A postal delivery needs its tracking number. / 邮寄送达请填写运单号。');
  const details = row.details as RecordDetails['draft'];
  const recipient = optionalText(input.recipient) ?? details.recipient;
  if (!recipient) throw badRequest('INVALID_INPUT', 'recipient must not be blank. / 请填写收件人。');
  const sentOn = pastDay(input.sent_on, 'sent_on', '发出日期', now);
  const resultOn = pastDay(input.result_on, 'result_on', '结果日期', now);
  if (resultOn < sentOn) throw badRequest('INVALID_DATE', 'The result cannot come before the sending. / 结果日期不能早于发出日期。');
  let fileHash = optionalText(input.file_sha256)?.toLowerCase() ?? null;
  if (fileHash !== null && !/^[0-9a-f]{64}$/.test(fileHash)) throw badRequest('INVALID_HASH', 'file_sha256 is 64 hexadecimal digits. / 文件哈希应为64位十六进制。');
  if (input.process_file_id != null) {
    const file = await ctx.db.selectFrom('process_files').select(['sha256']).where('id', '=', input.process_file_id).where('matter_id', '=', row.matter_id).executeTakeFirst();
    if (!file) throw badRequest('FILE_NOT_FOUND', `No uploaded file ${input.process_file_id} in this matter’s archive. / 本案过程档案中没有该文件。`);
    if (fileHash !== null && fileHash !== file.sha256) throw badRequest('HASH_MISMATCH', 'file_sha256 differs from the uploaded file’s hash. / 文件哈希与已上传文件不符。');
    fileHash = file.sha256;
  }
  await ctx.db.transaction().execute(async (trx) => {
    const clients = await matterClientIds(trx, row.matter_id);
    const label = DRAFT_LABELS[details.draft_kind];
    const d = await trx
      .insertInto('communication_deliveries')
      .values({
        record_id: id,
        matter_id: row.matter_id,
        method: input.method,
        tracking_number: tracking,
        recipient,
        sent_on: sentOn,
        result: input.result,
        result_on: resultOn,
        process_file_id: input.process_file_id ?? null,
        file_sha256: fileHash,
        note: optionalText(input.note),
        client_informed_at: clients.length ? now : null,
        recorded_by: actor.userId!,
        recorded_at: now,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    const title = `${label}「${row.title}」${RESULT_LABELS[input.result]}`;
    await fileToArchive(trx, ctx, {
      matter_id: row.matter_id,
      kind: 'delivery_evidence',
      title: `送达凭证：${title}（${METHOD_LABELS[input.method]}${tracking ? ` ${tracking}` : ''}）`,
      source: 'communication_deliveries',
      source_id: d.id,
      sha256: fileHash ?? recordHash({ id: d.id, record_id: id, method: d.method, tracking_number: d.tracking_number, recipient: d.recipient, sent_on: d.sent_on, result: d.result, result_on: d.result_on, note: d.note }),
      filed_by: actor.userId,
    });
    // The returned receipt or envelope is a document received back: the client hears of it as of any other.
    await tellClients(trx, ctx, matter, [], {
      event: 'document.received',
      title: title.slice(0, 200),
      body: [
        `案件：${matter.number} ${matter.title}`,
        `${label}「${row.title}」于 ${sentOn} 以${METHOD_LABELS[input.method]}${tracking ? `（单号 ${tracking}）` : ''}发往${recipient}。`,
        `结果：${resultOn} ${RESULT_LABELS[input.result]}。`,
        ...(input.result === 'delivered' ? [] : ['承办律师将与您商定下一步（重新送达或其他方式）。']),
      ].join('\n'),
      key: `delivery:${d.id}`,
    });
    await appendAudit(trx, { at: now, actor: actor.username, action: 'communication.delivery', object: `matter:${row.matter_number}`, result: 'success', sourceIp: actor.sourceIp, detail: { record_id: id, delivery_id: d.id, method: input.method, result: input.result, clients_told: clients } });
  });
  return getRecordView(ctx.db, id);
}
