import { sql, type Transaction } from 'kysely';
import { dateDayNumber, shanghaiDateTime, shanghaiDayNumber, shanghaiDayStart } from '../../calendar.js';
import { SYSTEM_ACTOR, type Actor, type ServiceContext } from '../../context.js';
import type { Db } from '../../db/index.js';
import type { Database } from '../../db/schema.js';
import { readSetting, writeSetting } from '../../db/settings.js';
import { badRequest, conflict, notFound } from '../../errors.js';
import type { Job } from '../../scheduler.js';
import { fileToArchive } from '../archive/filing.js';
import { appendAudit } from '../audit/service.js';
import { requirePermission } from '../auth/roles.js';
import { assertMatterVisible, matterNotFound, matterVisibleTo } from '../matters/access.js';
import { notify } from '../notifications/service.js';
import { computeDeadline, dayToDate, getRule, missingCalendarWarning, MILESTONES, RestDayCalendar, type CalendarYear, type DeadlineQuery, type DeadlineResult, type Milestone } from './engine.js';
import { parseCalendarDocument } from './holidays.js';
import type { DeadlineRow, DeadlineStatus, HearingRow, HearingStatus } from './tables.js';

/**
 * Deadlines and hearings of matters (T/ZSM 0038-2024 Z5.5.2a–c): the holiday calendar the engine
 * counts over, a matter's deadlines (from a rule and a trigger date, e.g. a received judgment, or
 * entered by date), hearings with the pre-hearing notice and the post-hearing summary, and the
 * reminders that reach the lawyer, the team and the client before each milestone.
 */

const DAY_MS = 86_400_000;

// ---------------------------------------------------------------------------------------------
// The holiday calendar

async function readCalendarYears(db: Db): Promise<CalendarYear[]> {
  const rows = await db.selectFrom('holiday_calendars').select(['year', 'notice', 'off', 'workdays']).orderBy('year').execute();
  return rows.map((r) => ({ year: r.year, notice: r.notice, off: r.off, workdays: r.workdays }));
}

/**
 * The engine's calendar, built once per process and rebuilt when the stored years change: each use
 * compares a fingerprint of the stored years (one small query), so a year loaded by the CLI or by
 * another server process is used from the next computation on.
 */
let cached: { fingerprint: string; calendar: RestDayCalendar } | null = null;

export async function currentCalendar(db: Db): Promise<RestDayCalendar> {
  const { rows } = await sql<{ fingerprint: string | null }>`
    select md5(string_agg(year::text || notice || off::text || workdays::text, '|' order by year)) as fingerprint from holiday_calendars`.execute(db);
  const fingerprint = rows[0]?.fingerprint ?? '';
  if (cached?.fingerprint === fingerprint) return cached.calendar;
  const calendar = new RestDayCalendar(await readCalendarYears(db));
  cached = { fingerprint, calendar };
  return calendar;
}

export interface CalendarView {
  year: number;
  notice: string;
  off: [string, string][];
  workdays: string[];
  loaded_at: string;
  loaded_by: string;
}

export async function listCalendars(ctx: ServiceContext, actor: Actor): Promise<CalendarView[]> {
  requirePermission(actor, 'calendar.manage');
  return loadedCalendars(ctx.db);
}

/** The loaded years, for the console (`lawbox calendar list`) and the API above. */
export async function loadedCalendars(db: Db): Promise<CalendarView[]> {
  const rows = await db.selectFrom('holiday_calendars').selectAll().orderBy('year').execute();
  return rows.map((r) => ({ year: r.year, notice: r.notice, off: r.off, workdays: r.workdays, loaded_at: r.loaded_at.toISOString(), loaded_by: r.loaded_by }));
}

export interface CalendarLoadResult {
  loaded: { year: number; replaced: boolean }[];
  /** open deadlines whose due date moved with the new calendar */
  recomputed: number;
  calendars: CalendarView[];
}

/** Loads one or more years from the API (calendar.manage); each replaces a year already loaded. */
export async function loadCalendars(ctx: ServiceContext, actor: Actor, doc: unknown): Promise<CalendarLoadResult> {
  requirePermission(actor, 'calendar.manage');
  return storeCalendars(ctx, actor, doc);
}

/**
 * Loads years from the console (`lawbox calendar load <file>`): whoever runs lawbox on the box itself
 * is its operator, as for `lawbox user create`; the audit record names the system account.
 */
export async function loadCalendarsFromConsole(ctx: ServiceContext, actor: Actor, doc: unknown): Promise<CalendarLoadResult> {
  return storeCalendars(ctx, actor, doc);
}

async function storeCalendars(ctx: ServiceContext, actor: Actor, doc: unknown): Promise<CalendarLoadResult> {
  // Every year is checked before anything is written: a bad file changes nothing.
  const years = parseCalendarDocument(doc);
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    const loaded: CalendarLoadResult['loaded'] = [];
    for (const y of years) {
      const before = await trx.selectFrom('holiday_calendars').select(['notice', 'off', 'workdays']).where('year', '=', y.year).forUpdate().executeTakeFirst();
      const values = { notice: y.notice, off: JSON.stringify(y.off), workdays: JSON.stringify(y.workdays), loaded_at: now, loaded_by: actor.username.slice(0, 100) };
      await trx
        .insertInto('holiday_calendars')
        .values({ year: y.year, ...values })
        .onConflict((oc) => oc.column('year').doUpdateSet(values))
        .execute();
      await appendAudit(trx, {
        at: now,
        actor: actor.username,
        action: 'calendar.load',
        object: `calendar:${y.year}`,
        result: 'success',
        sourceIp: actor.sourceIp,
        detail: { notice: y.notice, off: y.off, workdays: y.workdays, replaced: before ? { notice: before.notice, off: before.off, workdays: before.workdays } : null },
      });
      loaded.push({ year: y.year, replaced: !!before });
    }
    const recomputed = await recomputeOpenDeadlines(trx, ctx, actor, new RestDayCalendar(await readCalendarYears(trx)));
    return { loaded, recomputed, calendars: await loadedCalendars(trx) };
  });
}

/**
 * Open deadlines computed by a rule are counted again over a changed calendar: a year loaded after
 * the deadline was made may move its due date. The lawyer and, where told of the date, the client
 * hear of every move.
 */
async function recomputeOpenDeadlines(trx: Transaction<Database>, ctx: ServiceContext, actor: Actor, calendar: RestDayCalendar): Promise<number> {
  const open = await trx.selectFrom('matter_deadlines').selectAll().where('status', '=', 'open').where('rule', 'is not', null).orderBy('id').execute();
  let moved = 0;
  // The firm may have turned client reminders off altogether; a moved date then reaches staff only.
  const tellClients = (await reminderSettings(trx)).notify_client;
  for (const d of open) {
    const result = computeDeadline(calendar, { rule: d.rule!, trigger_date: d.trigger_date!, foreign: d.foreign_party, in_custody: d.in_custody, days: d.days });
    const same = result.due === d.due_date && result.basis === d.basis && JSON.stringify(result.warnings) === JSON.stringify(d.warnings);
    if (same) continue;
    await trx.updateTable('matter_deadlines').set({ due_date: result.due, basis: result.basis, warnings: JSON.stringify(result.warnings) }).where('id', '=', d.id).execute();
    if (result.due === d.due_date) continue;
    moved++;
    await appendAudit(trx, { at: ctx.clock.now(), actor: actor.username, action: 'deadline.recompute', object: `deadline:${d.id}`, result: 'success', sourceIp: actor.sourceIp, detail: { from: d.due_date, to: result.due } });
    const matter = await matterFacts(trx, d.matter_id);
    const title = `期限变更：${d.title}`;
    const body =
      `案件：${matter.number} ${matter.title}\n期限：${d.title}\n届满日由 ${d.due_date} 改为 ${result.due}（已按新载入的法定节假日安排重新计算）。\n\n` +
      `Deadline moved: "${d.title}" is now due ${result.due} instead of ${d.due_date}, counted again over the newly loaded holiday calendar.`;
    await notify(trx, ctx, { event: 'deadline.reminder', user_ids: [d.responsible_user_id], matter_id: d.matter_id, title, body, dedupe_key: `deadline.moved:${d.id}:${result.due}:staff` });
    if (d.notify_client && tellClients) {
      for (const clientId of await matterClientIds(trx, d.matter_id)) {
        await notify(trx, ctx, { event: 'deadline.reminder', client_id: clientId, matter_id: d.matter_id, title, body, dedupe_key: `deadline.moved:${d.id}:${result.due}:client:${clientId}` });
      }
    }
  }
  return moved;
}

/** POST /api/deadlines/compute: the engine over the loaded calendar. */
export async function computeForActor(ctx: ServiceContext, actor: Actor, query: DeadlineQuery): Promise<DeadlineResult> {
  requirePermission(actor, 'matters.read');
  return computeDeadline(await currentCalendar(ctx.db), query);
}

// ---------------------------------------------------------------------------------------------
// Reminder settings

export interface ReminderSettings {
  /** days before a deadline's due date the lawyer, the team and the client are reminded */
  lead_days: number[];
  /** days before a hearing */
  hearing_lead_days: number[];
  /** whether clients are told at all (each deadline can also be kept from the client) */
  notify_client: boolean;
}

export const REMINDER_SETTINGS_KEY = 'deadline_reminders';
export const DEFAULT_REMINDER_SETTINGS: ReminderSettings = { lead_days: [7, 3, 1], hearing_lead_days: [3, 1], notify_client: true };
export const REMINDER_LIMITS = { lead_days: { minimum: 0, maximum: 90 }, hearing_lead_days: { minimum: 0, maximum: 30 }, maxItems: 5 } as const;

function validLeads(value: unknown, key: 'lead_days' | 'hearing_lead_days'): value is number[] {
  const { minimum, maximum } = REMINDER_LIMITS[key];
  return (
    Array.isArray(value) &&
    value.length >= 1 &&
    value.length <= REMINDER_LIMITS.maxItems &&
    new Set(value).size === value.length &&
    value.every((n) => typeof n === 'number' && Number.isInteger(n) && n >= minimum && n <= maximum)
  );
}

/** The stored settings over the defaults; a stored value out of range falls back to its default. */
export async function reminderSettings(db: Db): Promise<ReminderSettings> {
  const stored = ((await readSetting(db, REMINDER_SETTINGS_KEY)) ?? {}) as Record<string, unknown>;
  const desc = (a: number[]) => [...a].sort((x, y) => y - x);
  return {
    lead_days: desc(validLeads(stored.lead_days, 'lead_days') ? stored.lead_days : DEFAULT_REMINDER_SETTINGS.lead_days),
    hearing_lead_days: desc(validLeads(stored.hearing_lead_days, 'hearing_lead_days') ? stored.hearing_lead_days : DEFAULT_REMINDER_SETTINGS.hearing_lead_days),
    notify_client: typeof stored.notify_client === 'boolean' ? stored.notify_client : DEFAULT_REMINDER_SETTINGS.notify_client,
  };
}

export async function updateReminderSettings(ctx: ServiceContext, actor: Actor, next: ReminderSettings): Promise<ReminderSettings> {
  requirePermission(actor, 'practice.configure');
  for (const key of ['lead_days', 'hearing_lead_days'] as const) {
    if (!validLeads(next[key], key)) {
      const { minimum, maximum } = REMINDER_LIMITS[key];
      throw badRequest('INVALID_SETTING', `${key}: 1–${REMINDER_LIMITS.maxItems} different whole numbers of days from ${minimum} to ${maximum}. / 提前提醒天数须为1–${REMINDER_LIMITS.maxItems}个互不相同的整数（${minimum}–${maximum}天）。`);
    }
  }
  const value: ReminderSettings = { lead_days: [...next.lead_days].sort((a, b) => b - a), hearing_lead_days: [...next.hearing_lead_days].sort((a, b) => b - a), notify_client: next.notify_client };
  await ctx.db.transaction().execute(async (trx) => {
    const before = await reminderSettings(trx);
    await writeSetting(trx, REMINDER_SETTINGS_KEY, value);
    await appendAudit(trx, { at: ctx.clock.now(), actor: actor.username, action: 'settings.deadline_reminders', object: `settings:${REMINDER_SETTINGS_KEY}`, result: 'success', sourceIp: actor.sourceIp, detail: { from: before, to: value } });
  });
  return value;
}

// ---------------------------------------------------------------------------------------------
// Matters: who is told

interface MatterFacts {
  id: number;
  number: string;
  title: string;
  status: string;
  responsible_lawyer_id: number;
  lawyer_name: string;
}

async function matterFacts(db: Db, matterId: number): Promise<MatterFacts> {
  const m = await db
    .selectFrom('matters as m')
    .innerJoin('users as u', 'u.id', 'm.responsible_lawyer_id')
    .select(['m.id', 'm.number', 'm.title', 'm.status', 'm.responsible_lawyer_id', 'u.display_name as lawyer_name'])
    .where('m.id', '=', matterId)
    .executeTakeFirst();
  if (!m) throw matterNotFound(matterId);
  return m;
}

/** The matter the actor may see, else the same 404 as a missing one. */
async function visibleMatter(db: Db, actor: Actor, matterId: number): Promise<MatterFacts> {
  await assertMatterVisible(db, actor, matterId);
  return matterFacts(db, matterId);
}

/** The clients of a matter (its client parties linked to a client record): who hears of its milestones. */
async function matterClientIds(db: Db, matterId: number): Promise<number[]> {
  const rows = await db.selectFrom('parties').select('client_id').distinct().where('matter_id', '=', matterId).where('role', '=', 'client').where('client_id', 'is not', null).orderBy('client_id').execute();
  return rows.map((r) => r.client_id!);
}

/** The responsible lawyer and the team of a matter. */
async function matterTeamIds(db: Db, matterId: number): Promise<number[]> {
  const rows = await db.selectFrom('matter_team').select('user_id').where('matter_id', '=', matterId).orderBy('user_id').execute();
  return rows.map((r) => r.user_id);
}

const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);
/** `2026-12-03 09:30`, Beijing time. */
const beijingMinute = (at: Date) => shanghaiDateTime(at).slice(0, 16);

// ---------------------------------------------------------------------------------------------
// Deadlines

export interface DeadlineView {
  id: number;
  matter: { id: number; number: string; title: string };
  milestone: Milestone;
  rule: string | null;
  title: string;
  trigger_date: string | null;
  days: number | null;
  foreign: boolean;
  in_custody: boolean;
  due_date: string;
  basis: string;
  warnings: string[];
  source: string;
  source_id: string | null;
  status: DeadlineStatus;
  responsible: { id: number; display_name: string };
  notify_client: boolean;
  note: string | null;
  created_at: string;
  done_at: string | null;
  done_note: string | null;
}

function deadlineQuery(db: Db) {
  return db
    .selectFrom('matter_deadlines as d')
    .innerJoin('matters as m', 'm.id', 'd.matter_id')
    .innerJoin('users as u', 'u.id', 'd.responsible_user_id')
    .selectAll('d')
    .select(['m.number as matter_number', 'm.title as matter_title', 'u.display_name as responsible_name']);
}
type LoadedDeadline = DeadlineRow & { matter_number: string; matter_title: string; responsible_name: string };

function presentDeadline(d: LoadedDeadline): DeadlineView {
  return {
    id: d.id,
    matter: { id: d.matter_id, number: d.matter_number, title: d.matter_title },
    milestone: d.milestone,
    rule: d.rule,
    title: d.title,
    trigger_date: d.trigger_date,
    days: d.days,
    foreign: d.foreign_party,
    in_custody: d.in_custody,
    due_date: d.due_date,
    basis: d.basis,
    warnings: d.warnings,
    source: d.source,
    source_id: d.source_id,
    status: d.status,
    responsible: { id: d.responsible_user_id, display_name: d.responsible_name },
    notify_client: d.notify_client,
    note: d.note,
    created_at: d.created_at.toISOString(),
    done_at: d.done_at?.toISOString() ?? null,
    done_note: d.done_note,
  };
}

async function loadDeadline(db: Db, id: number): Promise<LoadedDeadline | undefined> {
  return deadlineQuery(db).where('d.id', '=', id).executeTakeFirst();
}

const deadlineNotFound = (id: number) => notFound('DEADLINE_NOT_FOUND', `No deadline ${id}, or its matter is not one of yours. / 期限不存在或您无权查看。`);

/** Whether a user is an active member of the matter's team: whom a deadline may be given to. */
async function isActiveMember(db: Db, matterId: number, userId: number): Promise<boolean> {
  const row = await db
    .selectFrom('matter_team as t')
    .innerJoin('users as u', 'u.id', 't.user_id')
    .select('u.id')
    .where('t.matter_id', '=', matterId)
    .where('t.user_id', '=', userId)
    .where('u.disabled', '=', false)
    .executeTakeFirst();
  return !!row;
}

async function assertResponsible(db: Db, matterId: number, userId: number): Promise<void> {
  if (!(await isActiveMember(db, matterId, userId))) throw badRequest('INVALID_RESPONSIBLE', `User ${userId} is not an active member of this matter's team. / 负责人须为本案团队中的在职人员。`);
}

const SOURCE_PATTERN = /^[a-z][a-z0-9_.]{0,39}$/;

interface DeadlineSpec {
  milestone: Milestone;
  rule: string | null;
  title: string;
  trigger_date: string | null;
  days: number | null;
  foreign: boolean;
  in_custody: boolean;
  due_date: string;
  basis: string;
  warnings: string[];
  source: string;
  source_id: string | null;
  responsible_user_id: number;
  notify_client: boolean;
  note: string | null;
}

/**
 * Records a deadline in the caller's transaction, audits it, and tells the client its date and what
 * happens when it passes (Z5.5.2c), and the responsible lawyer when someone else recorded it.
 */
async function insertDeadline(trx: Transaction<Database>, ctx: ServiceContext, actor: Actor, matter: MatterFacts, spec: DeadlineSpec): Promise<DeadlineRow> {
  if (!SOURCE_PATTERN.test(spec.source)) throw badRequest('INVALID_SOURCE', 'source: lowercase letters, digits, dot and underscore, up to 40. / 来源标识格式不正确。');
  if (spec.source_id !== null && (spec.source_id.length < 1 || spec.source_id.length > 100)) throw badRequest('INVALID_SOURCE', 'source_id: 1–100 characters. / 来源编号须为1–100个字符。');
  await assertResponsible(trx, matter.id, spec.responsible_user_id);
  const now = ctx.clock.now();
  const row = await trx
    .insertInto('matter_deadlines')
    .values({
      matter_id: matter.id,
      milestone: spec.milestone,
      rule: spec.rule,
      title: spec.title,
      trigger_date: spec.trigger_date,
      days: spec.days,
      foreign_party: spec.foreign,
      in_custody: spec.in_custody,
      due_date: spec.due_date,
      basis: spec.basis,
      warnings: JSON.stringify(spec.warnings),
      source: spec.source,
      source_id: spec.source_id,
      status: 'open',
      responsible_user_id: spec.responsible_user_id,
      notify_client: spec.notify_client,
      note: spec.note,
      created_by: actor.userId,
      created_at: now,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  await appendAudit(trx, {
    at: now,
    actor: actor.username,
    action: 'deadline.create',
    object: `deadline:${row.id}`,
    result: 'success',
    sourceIp: actor.sourceIp,
    detail: { matter_id: matter.id, rule: spec.rule, milestone: spec.milestone, trigger_date: spec.trigger_date, due_date: spec.due_date, source: spec.source, source_id: spec.source_id, responsible_user_id: spec.responsible_user_id },
  });

  const rule = spec.rule ? getRule(spec.rule) : null;
  const title = clip(`期限通知：${spec.title}，${spec.due_date}届满`, 200);
  const consequence = rule ? `\n逾期后果：${rule.consequence.zh}` : '';
  const body =
    `案件：${matter.number} ${matter.title}\n期限：${spec.title}\n届满日：${spec.due_date}${consequence}\n请在届满日前与承办律师${matter.lawyer_name}确认需要您配合的事项。\n\n` +
    `Deadline: ${rule ? rule.name.en : spec.title}, due ${spec.due_date}.${rule ? ` If missed: ${rule.consequence.en}` : ''}`;
  if (spec.notify_client && (await reminderSettings(trx)).notify_client) {
    for (const clientId of await matterClientIds(trx, matter.id)) {
      await notify(trx, ctx, { event: 'deadline.reminder', client_id: clientId, matter_id: matter.id, title, body, dedupe_key: `deadline.created:${row.id}:client:${clientId}` });
    }
  }
  if (spec.responsible_user_id !== actor.userId) {
    await notify(trx, ctx, { event: 'deadline.reminder', user_ids: [spec.responsible_user_id], matter_id: matter.id, title, body: `${body}\n\n${spec.basis}`.slice(0, 5000), dedupe_key: `deadline.created:${row.id}:staff` });
  }
  return row;
}

/**
 * For the communications module: the deadlines a received document starts (Z5.5.2c), in the
 * caller's transaction. The same (source, source_id, rule) again returns the deadline already made.
 */
export async function createDeadlinesForDocument(
  trx: Transaction<Database>,
  ctx: ServiceContext,
  actor: Actor,
  input: { matter_id: number; source: string; source_id: string | number; rule: string; trigger_date: string; foreign?: boolean; in_custody?: boolean; days?: number | null; title?: string | null },
): Promise<{ id: number; due: string; warnings: string[] }> {
  requirePermission(actor, 'matters.work');
  const matter = await visibleMatter(trx, actor, input.matter_id);
  const rule = getRule(input.rule);
  const sourceId = String(input.source_id);
  const existing = await trx.selectFrom('matter_deadlines').select(['id', 'matter_id', 'due_date', 'warnings']).where('source', '=', input.source).where('source_id', '=', sourceId).where('rule', '=', rule.id).executeTakeFirst();
  if (existing) {
    if (existing.matter_id !== matter.id) throw conflict('DEADLINE_SOURCE_USED', `${input.source} ${sourceId} already started a deadline of another matter. / 该来源已用于其他案件的期限。`);
    return { id: existing.id, due: existing.due_date, warnings: existing.warnings };
  }
  // `days`: what the court's notice set, for the periods a court sets (evidence); the statute's bound otherwise.
  const result = computeDeadline(await currentCalendar(trx), { rule: rule.id, trigger_date: input.trigger_date, foreign: input.foreign, in_custody: input.in_custody, days: input.days });
  // A court's deadline is never lost because the responsible lawyer's account was disabled (the
  // inactivity rule): whoever records the document takes it on, and the warning says so.
  const lawyerActive = await isActiveMember(trx, matter.id, matter.responsible_lawyer_id);
  const responsible = lawyerActive || actor.userId === null ? matter.responsible_lawyer_id : actor.userId;
  if (!lawyerActive && responsible !== matter.responsible_lawyer_id) {
    result.warnings.push('承办律师账号已停用，该期限暂由登记人负责，请及时指定负责人。 / The responsible lawyer’s account is disabled: the deadline is given to whoever recorded the document; assign it to an active lawyer.');
  }
  const row = await insertDeadline(trx, ctx, actor, matter, {
    milestone: rule.milestone,
    rule: rule.id,
    title: cleanTitle(input.title) ?? rule.name.zh,
    trigger_date: result.trigger_date,
    days: input.days ?? null,
    foreign: input.foreign === true,
    in_custody: input.in_custody === true,
    due_date: result.due,
    basis: result.basis,
    warnings: result.warnings,
    source: input.source,
    source_id: sourceId,
    responsible_user_id: responsible,
    notify_client: true,
    note: null,
  });
  return { id: row.id, due: row.due_date, warnings: result.warnings };
}

function cleanTitle(title: string | null | undefined): string | null {
  const t = title?.trim();
  if (!t) return null;
  if (t.length > 200) throw badRequest('INVALID_TITLE', 'title: at most 200 characters. / 标题不超过200字。');
  return t;
}

export interface DeadlineInput {
  /** a rule of the engine with its trigger date… */
  rule?: string;
  trigger_date?: string;
  foreign?: boolean;
  in_custody?: boolean;
  days?: number | null;
  /** …or a deadline entered by date */
  milestone?: Milestone;
  due_date?: string;
  title?: string | null;
  responsible_user_id?: number;
  notify_client?: boolean;
  note?: string | null;
}

/** A deadline a lawyer adds to a matter: computed from a rule, or entered by its date (e.g. a preservation measure's end). */
export async function addDeadline(ctx: ServiceContext, actor: Actor, matterId: number, input: DeadlineInput): Promise<{ deadline: DeadlineView; warnings: string[] }> {
  requirePermission(actor, 'matters.work');
  const note = input.note?.trim() || null;
  if (note && note.length > 2000) throw badRequest('INVALID_NOTE', 'note: at most 2000 characters. / 备注不超过2000字。');
  const byRule = input.rule !== undefined || input.trigger_date !== undefined;
  const byDate = input.due_date !== undefined || input.milestone !== undefined;
  if (byRule === byDate) {
    throw badRequest('INVALID_DEADLINE', 'Give either rule and trigger_date, or milestone, due_date and title. / 请填写“规则与起算日”，或“节点、届满日与标题”，二者择一。');
  }
  const id = await ctx.db.transaction().execute(async (trx) => {
    const matter = await visibleMatter(trx, actor, matterId);
    const responsible = input.responsible_user_id ?? matter.responsible_lawyer_id;
    const calendar = await currentCalendar(trx);
    let spec: DeadlineSpec;
    if (byRule) {
      if (input.rule === undefined || input.trigger_date === undefined) throw badRequest('INVALID_DEADLINE', 'A rule needs its trigger_date, and a trigger_date its rule. / 规则与起算日须同时填写。');
      const rule = getRule(input.rule);
      const r = computeDeadline(calendar, { rule: rule.id, trigger_date: input.trigger_date, foreign: input.foreign, in_custody: input.in_custody, days: input.days });
      spec = {
        milestone: rule.milestone,
        rule: rule.id,
        title: cleanTitle(input.title) ?? rule.name.zh,
        trigger_date: r.trigger_date,
        days: input.days ?? null,
        foreign: input.foreign === true,
        in_custody: input.in_custody === true,
        due_date: r.due,
        basis: r.basis,
        warnings: r.warnings,
        source: 'manual',
        source_id: null,
        responsible_user_id: responsible,
        notify_client: input.notify_client ?? true,
        note,
      };
    } else {
      if (input.milestone === undefined || !MILESTONES.includes(input.milestone)) throw badRequest('INVALID_MILESTONE', `milestone: one of ${MILESTONES.join(', ')}. / 请选择期限节点。`);
      const title = cleanTitle(input.title);
      if (!title) throw badRequest('INVALID_TITLE', 'A deadline entered by date needs a title. / 请填写期限标题。');
      const day = dateDayNumber(String(input.due_date));
      if (day === null) throw badRequest('INVALID_DATE', `due_date: "${String(input.due_date).slice(0, 40)}" is not a calendar date (YYYY-MM-DD). / 届满日无效。`);
      if (input.foreign === true || input.in_custody === true || (input.days ?? null) !== null) {
        throw badRequest('INVALID_DEADLINE', 'foreign, in_custody and days belong to a rule; a deadline entered by date has none. / 按日期录入的期限不适用涉外、在押或天数选项。');
      }
      const year = new Date(day * DAY_MS).getUTCFullYear();
      const warnings = calendar.hasYear(year) ? [] : [missingCalendarWarning(year)];
      if (calendar.isRestDay(day)) warnings.push(`${dayToDate(day)} is a rest day; check the date. / ${dayToDate(day)}为休息日，请核对日期。`);
      spec = {
        milestone: input.milestone,
        rule: null,
        title,
        trigger_date: null,
        days: null,
        foreign: false,
        in_custody: false,
        due_date: dayToDate(day),
        basis: note ?? '按日期录入 / Entered by date.',
        warnings,
        source: 'manual',
        source_id: null,
        responsible_user_id: responsible,
        notify_client: input.notify_client ?? true,
        note,
      };
    }
    return (await insertDeadline(trx, ctx, actor, matter, spec)).id;
  });
  const deadline = presentDeadline((await loadDeadline(ctx.db, id))!);
  return { deadline, warnings: deadline.warnings };
}

export async function listMatterDeadlines(ctx: ServiceContext, actor: Actor, matterId: number): Promise<DeadlineView[]> {
  requirePermission(actor, 'matters.read');
  await assertMatterVisible(ctx.db, actor, matterId);
  const rows = await deadlineQuery(ctx.db).where('d.matter_id', '=', matterId).orderBy('d.due_date').orderBy('d.id').execute();
  return rows.map(presentDeadline);
}

/** Marks a deadline met (also one the job marked missed, when it was met after all). */
export async function markDeadlineDone(ctx: ServiceContext, actor: Actor, id: number, input: { note?: string | null }): Promise<DeadlineView> {
  requirePermission(actor, 'matters.work');
  const note = input.note?.trim() || null;
  if (note && note.length > 2000) throw badRequest('INVALID_NOTE', 'note: at most 2000 characters. / 备注不超过2000字。');
  const now = ctx.clock.now();
  await ctx.db.transaction().execute(async (trx) => {
    const d = await trx.selectFrom('matter_deadlines').select(['id', 'matter_id', 'status']).where('id', '=', id).forUpdate().executeTakeFirst();
    if (!d) throw deadlineNotFound(id);
    await assertMatterVisible(trx, actor, d.matter_id).catch(() => {
      throw deadlineNotFound(id);
    });
    if (d.status === 'done') throw conflict('DEADLINE_DONE', `Deadline ${id} is already marked done. / 该期限已标记完成。`);
    await trx.updateTable('matter_deadlines').set({ status: 'done', done_at: now, done_by: actor.userId, done_note: note }).where('id', '=', id).execute();
    await appendAudit(trx, { at: now, actor: actor.username, action: 'deadline.done', object: `deadline:${id}`, result: 'success', sourceIp: actor.sourceIp, detail: { matter_id: d.matter_id, was: d.status, note } });
  });
  return presentDeadline((await loadDeadline(ctx.db, id))!);
}

// ---------------------------------------------------------------------------------------------
// Hearings

export interface HearingSummaryView {
  held_at: string;
  record: string;
  materials_to_supply: string;
  facts_to_verify: string;
  judge_requests: string;
  created_at: string;
}

export interface HearingView {
  id: number;
  matter: { id: number; number: string; title: string };
  court: string;
  room: string | null;
  address: string | null;
  judge: string | null;
  starts_at: string;
  note: string | null;
  status: HearingStatus;
  notice_sent_at: string | null;
  cancelled_at: string | null;
  cancel_reason: string | null;
  summary: HearingSummaryView | null;
  created_at: string;
}

function hearingQuery(db: Db) {
  return db
    .selectFrom('hearings as h')
    .innerJoin('matters as m', 'm.id', 'h.matter_id')
    .leftJoin('hearing_summaries as s', 's.hearing_id', 'h.id')
    .selectAll('h')
    .select([
      'm.number as matter_number',
      'm.title as matter_title',
      's.held_at as s_held_at',
      's.record as s_record',
      's.materials_to_supply as s_materials',
      's.facts_to_verify as s_facts',
      's.judge_requests as s_judge',
      's.created_at as s_created_at',
    ]);
}
type LoadedHearing = HearingRow & {
  matter_number: string;
  matter_title: string;
  s_held_at: Date | null;
  s_record: string | null;
  s_materials: string | null;
  s_facts: string | null;
  s_judge: string | null;
  s_created_at: Date | null;
};

function presentHearing(h: LoadedHearing): HearingView {
  return {
    id: h.id,
    matter: { id: h.matter_id, number: h.matter_number, title: h.matter_title },
    court: h.court,
    room: h.room,
    address: h.address,
    judge: h.judge,
    starts_at: h.starts_at.toISOString(),
    note: h.note,
    status: h.status,
    notice_sent_at: h.notice_sent_at?.toISOString() ?? null,
    cancelled_at: h.cancelled_at?.toISOString() ?? null,
    cancel_reason: h.cancel_reason,
    summary:
      h.s_held_at && h.s_created_at
        ? { held_at: h.s_held_at.toISOString(), record: h.s_record!, materials_to_supply: h.s_materials!, facts_to_verify: h.s_facts!, judge_requests: h.s_judge!, created_at: h.s_created_at.toISOString() }
        : null,
    created_at: h.created_at.toISOString(),
  };
}

const hearingNotFound = (id: number) => notFound('HEARING_NOT_FOUND', `No hearing ${id}, or its matter is not one of yours. / 开庭记录不存在或您无权查看。`);

async function loadHearing(db: Db, id: number): Promise<LoadedHearing | undefined> {
  return hearingQuery(db).where('h.id', '=', id).executeTakeFirst() as Promise<LoadedHearing | undefined>;
}

/** The hearing, locked for the change, if the actor may see its matter. */
async function hearingForChange(trx: Transaction<Database>, actor: Actor, id: number): Promise<HearingRow> {
  const h = await trx.selectFrom('hearings').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
  if (!h) throw hearingNotFound(id);
  await assertMatterVisible(trx, actor, h.matter_id).catch(() => {
    throw hearingNotFound(id);
  });
  return h;
}

const place = (h: Pick<HearingRow, 'court' | 'room' | 'address'>) => [h.court, h.room, h.address].filter(Boolean).join(' ');

/** The pre-hearing notice (Z5.5.2b): time, place, and to bring the original evidence. */
function hearingNoticeText(matter: MatterFacts, h: HearingRow, lead: string | null): { title: string; body: string } {
  const when = beijingMinute(h.starts_at);
  return {
    title: clip(`开庭通知：${when}，${h.court}${lead ? `（${lead}）` : ''}`, 200),
    body:
      `案件：${matter.number} ${matter.title}\n开庭时间：${when}（北京时间）\n地点：${place(h)}\n${h.judge ? `承办法官：${h.judge}\n` : ''}` +
      `请携带本人身份证件及全部证据的原件，提前三十分钟到达法院办理安检；如需出庭请与承办律师${matter.lawyer_name}确认。${h.note ? `\n其他事项：${h.note}` : ''}\n\n` +
      `Hearing notice: ${when} (Beijing time) at ${place(h)}. Please bring your identity document and the originals of all evidence, and arrive 30 minutes early for security.`,
  };
}

export interface HearingInput {
  court: string;
  room?: string | null;
  address?: string | null;
  judge?: string | null;
  starts_at: string;
  note?: string | null;
  /** send the pre-hearing notice to the client now (default true) */
  send_notice?: boolean;
}

function text(value: string | null | undefined, field: string, max: number): string | null {
  const v = value?.trim() || null;
  if (v && v.length > max) throw badRequest('INVALID_INPUT', `${field}: at most ${max} characters. / ${field} 不超过${max}字。`);
  return v;
}

/** Records a hearing (Z5.5.2a milestone) and, unless asked not to, sends the client the pre-hearing notice. */
export async function recordHearing(ctx: ServiceContext, actor: Actor, matterId: number, input: HearingInput): Promise<{ hearing: HearingView; warnings: string[] }> {
  requirePermission(actor, 'matters.work');
  const court = text(input.court, 'court', 200);
  if (!court) throw badRequest('INVALID_INPUT', 'court must not be blank. / 请填写法院。');
  const startsAt = new Date(input.starts_at);
  const now = ctx.clock.now();
  if (Number.isNaN(startsAt.getTime()) || Math.abs(startsAt.getTime() - now.getTime()) > 3 * 366 * DAY_MS) {
    throw badRequest('INVALID_INPUT', 'starts_at: a date and time within three years of today. / 开庭时间须为三年内的有效时间。');
  }
  const values = { court, room: text(input.room, 'room', 100), address: text(input.address, 'address', 300), judge: text(input.judge, 'judge', 100), note: text(input.note, 'note', 2000) };
  const warnings: string[] = [];
  const id = await ctx.db.transaction().execute(async (trx) => {
    const matter = await visibleMatter(trx, actor, matterId);
    const h = await trx
      .insertInto('hearings')
      .values({ matter_id: matter.id, ...values, starts_at: startsAt, status: 'scheduled', created_by: actor.userId!, created_at: now })
      .returningAll()
      .executeTakeFirstOrThrow();
    await appendAudit(trx, { at: now, actor: actor.username, action: 'hearing.create', object: `hearing:${h.id}`, result: 'success', sourceIp: actor.sourceIp, detail: { matter_id: matter.id, court, starts_at: startsAt.toISOString() } });
    if (input.send_notice !== false) {
      if (startsAt <= now) warnings.push('The hearing is in the past; no notice was sent. / 开庭时间已过，未发送开庭通知。');
      else if (!(await sendNoticeIn(trx, ctx, actor, matter, h))) warnings.push('The matter has no client record to notify; tell the client yourself. / 本案没有可通知的委托人档案，请自行通知委托人。');
    }
    return h.id;
  });
  return { hearing: presentHearing((await loadHearing(ctx.db, id))!), warnings };
}

/** Sends the pre-hearing notice to each client of the matter; false when there is none to tell. */
async function sendNoticeIn(trx: Transaction<Database>, ctx: ServiceContext, actor: Actor, matter: MatterFacts, h: HearingRow): Promise<boolean> {
  const clients = await matterClientIds(trx, matter.id);
  if (!clients.length) return false;
  const { title, body } = hearingNoticeText(matter, h, null);
  for (const clientId of clients) {
    await notify(trx, ctx, { event: 'hearing.notice', client_id: clientId, matter_id: matter.id, title, body, dedupe_key: `hearing.notice:${h.id}:${h.starts_at.toISOString()}:client:${clientId}` });
  }
  const now = ctx.clock.now();
  await trx.updateTable('hearings').set({ notice_sent_at: now, notice_sent_by: actor.userId }).where('id', '=', h.id).execute();
  await appendAudit(trx, { at: now, actor: actor.username, action: 'hearing.notice', object: `hearing:${h.id}`, result: 'success', sourceIp: actor.sourceIp, detail: { matter_id: matter.id, clients } });
  return true;
}

export async function sendHearingNotice(ctx: ServiceContext, actor: Actor, id: number): Promise<HearingView> {
  requirePermission(actor, 'matters.work');
  await ctx.db.transaction().execute(async (trx) => {
    const h = await hearingForChange(trx, actor, id);
    if (h.status !== 'scheduled' || h.starts_at <= ctx.clock.now()) throw conflict('HEARING_NOT_UPCOMING', 'The hearing is over or cancelled; no notice is sent. / 该庭审已结束或已取消，不再发送开庭通知。');
    if (h.notice_sent_at) throw conflict('NOTICE_ALREADY_SENT', `The pre-hearing notice was sent on ${beijingMinute(h.notice_sent_at)}; reminders follow on their own. / 开庭通知已于${beijingMinute(h.notice_sent_at)}发送，系统将按设置自动提醒。`);
    const matter = await matterFacts(trx, h.matter_id);
    if (!(await sendNoticeIn(trx, ctx, actor, matter, h))) throw conflict('NO_CLIENT_TO_NOTIFY', 'The matter has no client record to notify; tell the client yourself. / 本案没有可通知的委托人档案，请自行通知委托人。');
  });
  return presentHearing((await loadHearing(ctx.db, id))!);
}

export async function cancelHearing(ctx: ServiceContext, actor: Actor, id: number, input: { reason: string }): Promise<HearingView> {
  requirePermission(actor, 'matters.work');
  const reason = text(input.reason, 'reason', 1000);
  if (!reason) throw badRequest('INVALID_INPUT', 'Give the reason (e.g. postponed by the court). / 请填写取消原因（如法院通知延期）。');
  const now = ctx.clock.now();
  await ctx.db.transaction().execute(async (trx) => {
    const h = await hearingForChange(trx, actor, id);
    if (h.status !== 'scheduled') throw conflict('HEARING_NOT_SCHEDULED', `The hearing is already ${h.status}. / 该庭审已${h.status === 'held' ? '开庭' : '取消'}。`);
    await trx.updateTable('hearings').set({ status: 'cancelled', cancelled_at: now, cancelled_by: actor.userId, cancel_reason: reason }).where('id', '=', id).execute();
    await appendAudit(trx, { at: now, actor: actor.username, action: 'hearing.cancel', object: `hearing:${id}`, result: 'success', sourceIp: actor.sourceIp, detail: { matter_id: h.matter_id, reason } });
    // A client told of the hearing must hear that it will not take place.
    if (h.notice_sent_at) {
      const matter = await matterFacts(trx, h.matter_id);
      const when = beijingMinute(h.starts_at);
      for (const clientId of await matterClientIds(trx, h.matter_id)) {
        await notify(trx, ctx, {
          event: 'hearing.notice',
          client_id: clientId,
          matter_id: h.matter_id,
          title: clip(`开庭取消：原定${when}`, 200),
          body: `案件：${matter.number} ${matter.title}\n原定${when}在${place(h)}的开庭取消。原因：${reason}\n新的开庭时间确定后将另行通知。\n\nThe hearing set for ${when} will not take place (${reason}); you will be told of the new date.`,
          dedupe_key: `hearing.cancelled:${id}:client:${clientId}`,
        });
      }
    }
  });
  return presentHearing((await loadHearing(ctx.db, id))!);
}

export async function listMatterHearings(ctx: ServiceContext, actor: Actor, matterId: number): Promise<HearingView[]> {
  requirePermission(actor, 'matters.read');
  await assertMatterVisible(ctx.db, actor, matterId);
  const rows = (await hearingQuery(ctx.db).where('h.matter_id', '=', matterId).orderBy('h.starts_at').orderBy('h.id').execute()) as LoadedHearing[];
  return rows.map(presentHearing);
}

export interface HearingSummaryInput {
  held_at: string;
  record: string;
  materials_to_supply: string;
  facts_to_verify: string;
  judge_requests: string;
}

const SUMMARY_FIELDS = [
  ['record', '庭审主要记录', 'main record of the hearing', 2000],
  ['materials_to_supply', '需补充的材料', 'materials to supply', 800],
  ['facts_to_verify', '需核实的事实', 'facts to verify', 800],
  ['judge_requests', '法官的要求', 'judge’s requests', 800],
] as const;

/**
 * The post-hearing summary (Z5.5.2b): its five fields, sent to the client and filed in the matter
 * archive (Z6.3.5). One per hearing; it marks the hearing held.
 */
export async function recordHearingSummary(ctx: ServiceContext, actor: Actor, id: number, input: HearingSummaryInput): Promise<{ hearing: HearingView; warnings: string[] }> {
  requirePermission(actor, 'matters.work');
  const heldAt = new Date(input.held_at);
  const now = ctx.clock.now();
  if (Number.isNaN(heldAt.getTime()) || heldAt.getTime() > now.getTime() + 3_600_000) throw badRequest('INVALID_INPUT', 'held_at: when the hearing took place (not in the future). / 开庭时间无效（不能晚于现在）。');
  const fields = {} as Record<(typeof SUMMARY_FIELDS)[number][0], string>;
  for (const [key, zh, en, max] of SUMMARY_FIELDS) {
    const v = input[key]?.trim();
    if (!v || v.length > max) throw badRequest('INVALID_INPUT', `${key}: the ${en}, 1–${max} characters (write “无” if there is none). / 请填写${zh}（1–${max}字，没有请填“无”）。`);
    fields[key] = v;
  }
  const warnings: string[] = [];
  await ctx.db.transaction().execute(async (trx) => {
    const h = await hearingForChange(trx, actor, id);
    if (h.status === 'cancelled') throw conflict('HEARING_CANCELLED', 'The hearing was cancelled; record the summary on the hearing that took place. / 该庭审已取消，请在实际开庭的记录上填写庭后小结。');
    if (await trx.selectFrom('hearing_summaries').select('hearing_id').where('hearing_id', '=', id).executeTakeFirst()) {
      throw conflict('SUMMARY_EXISTS', 'This hearing already has its summary, which was sent to the client. / 该庭审已有庭后小结并已发送委托人。');
    }
    await trx.insertInto('hearing_summaries').values({ hearing_id: id, held_at: heldAt, ...fields, created_by: actor.userId!, created_at: now }).execute();
    await trx.updateTable('hearings').set({ status: 'held' }).where('id', '=', id).execute();
    const matter = await matterFacts(trx, h.matter_id);
    const when = beijingMinute(heldAt);
    const title = clip(`庭后小结：${matter.number}，${when}开庭`, 200);
    await fileToArchive(trx, ctx, { matter_id: h.matter_id, kind: 'hearing_summary', title, source: 'hearing', source_id: id, sha256: null, filed_by: actor.userId });
    const body =
      `案件：${matter.number} ${matter.title}\n开庭时间：${when}（北京时间），${place(h)}\n` +
      SUMMARY_FIELDS.map(([key, zh]) => `${zh}：${fields[key]}`).join('\n') +
      `\n如有疑问请联系承办律师${matter.lawyer_name}。\n\nPost-hearing summary from your lawyer: time, main record, materials to supply, facts to verify and the judge’s requests.`;
    const clients = await matterClientIds(trx, h.matter_id);
    for (const clientId of clients) {
      await notify(trx, ctx, { event: 'hearing.summary', client_id: clientId, matter_id: h.matter_id, title, body, dedupe_key: `hearing.summary:${id}:client:${clientId}` });
    }
    if (!clients.length) warnings.push('The matter has no client record; the summary was filed but not sent. Give it to the client yourself. / 本案没有委托人档案，小结已归档但未发送，请自行交付委托人。');
    await appendAudit(trx, { at: now, actor: actor.username, action: 'hearing.summary', object: `hearing:${id}`, result: 'success', sourceIp: actor.sourceIp, detail: { matter_id: h.matter_id, held_at: heldAt.toISOString(), clients } });
  });
  return { hearing: presentHearing((await loadHearing(ctx.db, id))!), warnings };
}

// ---------------------------------------------------------------------------------------------
// What is coming

/** The actor's visible open deadlines and scheduled hearings of the next `days` Beijing calendar days (today included). */
export async function upcoming(ctx: ServiceContext, actor: Actor, days: number): Promise<{ from: string; to: string; deadlines: DeadlineView[]; hearings: HearingView[] }> {
  requirePermission(actor, 'matters.read');
  const now = ctx.clock.now();
  const today = shanghaiDayNumber(now);
  const last = today + days - 1;
  const visible = ctx.db.selectFrom('matters as m').select('m.id').where(matterVisibleTo(actor));
  const deadlines = await deadlineQuery(ctx.db)
    .where('d.status', '=', 'open')
    .where('d.due_date', '>=', dayToDate(today))
    .where('d.due_date', '<=', dayToDate(last))
    .where('d.matter_id', 'in', visible)
    .orderBy('d.due_date')
    .orderBy('d.id')
    .execute();
  const hearings = (await hearingQuery(ctx.db)
    .where('h.status', '=', 'scheduled')
    .where('h.starts_at', '>=', now)
    .where('h.starts_at', '<', shanghaiDayStart(new Date((last + 1) * DAY_MS)))
    .where('h.matter_id', 'in', visible)
    .orderBy('h.starts_at')
    .execute()) as LoadedHearing[];
  return { from: dayToDate(today), to: dayToDate(last), deadlines: deadlines.map(presentDeadline), hearings: hearings.map(presentHearing) };
}

export interface PortalMilestones {
  deadlines: { matter: { id: number; number: string; title: string }; title: string; due_date: string; consequence: string | null }[];
  hearings: { matter: { id: number; number: string; title: string }; starts_at: string; court: string; room: string | null; address: string | null }[];
}

/**
 * The client's own coming milestones (Z5.5.2a, in the portal): open deadlines of its matters that the
 * client is told of, and scheduled hearings. Nothing of the firm's internal notes or basis.
 */
export async function portalMilestones(ctx: ServiceContext, clientId: number): Promise<PortalMilestones> {
  const now = ctx.clock.now();
  const own = ctx.db
    .selectFrom('parties as p')
    .innerJoin('matters as pm', 'pm.id', 'p.matter_id')
    .select('p.matter_id')
    .where('p.role', '=', 'client')
    .where('p.client_id', '=', clientId)
    .where('pm.status', 'in', ['open', 'suspended', 'closed']);
  const deadlines = await ctx.db
    .selectFrom('matter_deadlines as d')
    .innerJoin('matters as m', 'm.id', 'd.matter_id')
    .select(['d.matter_id', 'm.number', 'm.title as matter_title', 'd.title', 'd.due_date', 'd.rule'])
    .where('d.matter_id', 'in', own)
    .where('d.status', '=', 'open')
    .where('d.notify_client', '=', true)
    .where('d.due_date', '>=', dayToDate(shanghaiDayNumber(now)))
    .orderBy('d.due_date')
    .orderBy('d.id')
    .execute();
  const hearings = await ctx.db
    .selectFrom('hearings as h')
    .innerJoin('matters as m', 'm.id', 'h.matter_id')
    .select(['h.matter_id', 'm.number', 'm.title as matter_title', 'h.starts_at', 'h.court', 'h.room', 'h.address'])
    .where('h.matter_id', 'in', own)
    .where('h.status', '=', 'scheduled')
    .where('h.starts_at', '>=', now)
    .orderBy('h.starts_at')
    .execute();
  const consequence = (rule: string | null) => (rule ? `${getRule(rule).consequence.zh} / ${getRule(rule).consequence.en}` : null);
  return {
    deadlines: deadlines.map((d) => ({ matter: { id: d.matter_id, number: d.number, title: d.matter_title }, title: d.title, due_date: d.due_date, consequence: consequence(d.rule) })),
    hearings: hearings.map((h) => ({ matter: { id: h.matter_id, number: h.number, title: h.matter_title }, starts_at: h.starts_at.toISOString(), court: h.court, room: h.room, address: h.address })),
  };
}

/**
 * What the statistics wall shows (counts only, no matter named), Beijing calendar: hearings today and
 * in the seven days from today; open deadlines due in those seven days, and those past due within the
 * last 30 days and not done (older misses are the tracking report's business, not the wall's).
 */
export async function upcomingCounts(db: Db, now: Date): Promise<{ hearings: { today: number; this_week: number }; deadlines: { due_7_days: number; overdue: number } }> {
  const today = shanghaiDayNumber(now);
  const dayStart = shanghaiDayStart(now);
  const tomorrow = new Date(dayStart.getTime() + DAY_MS);
  const weekEnd = new Date(dayStart.getTime() + 7 * DAY_MS);
  const [h, d] = await Promise.all([
    db
      .selectFrom('hearings')
      .select((eb) => [eb.fn.countAll().filterWhere('starts_at', '<', tomorrow).as('today'), eb.fn.countAll().as('this_week')])
      .where('status', '<>', 'cancelled')
      .where('starts_at', '>=', dayStart)
      .where('starts_at', '<', weekEnd)
      .executeTakeFirstOrThrow(),
    db
      .selectFrom('matter_deadlines')
      .select((eb) => [
        eb.fn.countAll().filterWhere((f) => f.and([f('status', '=', 'open'), f('due_date', '>=', dayToDate(today)), f('due_date', '<=', dayToDate(today + 6))])).as('due_7_days'),
        eb.fn.countAll().filterWhere((f) => f.and([f('due_date', '<', dayToDate(today)), f('due_date', '>=', dayToDate(today - 30))])).as('overdue'),
      ])
      .where('status', '<>', 'done')
      .executeTakeFirstOrThrow(),
  ]);
  return { hearings: { today: Number(h.today), this_week: Number(h.this_week) }, deadlines: { due_7_days: Number(d.due_7_days), overdue: Number(d.overdue) } };
}

// ---------------------------------------------------------------------------------------------
// Jobs

/**
 * The reminder a milestone `daysLeft` away is due for: the tightest lead time it has reached. A
 * reminder missed while the server was down is sent at the next run, and a milestone recorded
 * late gets the lead time it is within, not every earlier one.
 */
export function leadFor(daysLeft: number, leads: readonly number[]): number | null {
  const reached = leads.filter((l) => daysLeft <= l);
  return reached.length ? Math.min(...reached) : null;
}

const inDays = (n: number) => (n <= 0 ? '今日届满' : `还有${n}天`);
const inDaysEn = (n: number) => (n <= 0 ? 'due today' : `${n} day${n === 1 ? '' : 's'} left`);

/**
 * Z5.5.2a/c reminders: each open deadline and each scheduled hearing reaches the responsible lawyer
 * and the team (in the app and their channels) and the client, once per lead time (the notice's
 * dedupe key), at the configured days before.
 */
export async function sendReminders(ctx: ServiceContext): Promise<{ deadline_reminders: number; hearing_reminders: number }> {
  const settings = await reminderSettings(ctx.db);
  const now = ctx.clock.now();
  const today = shanghaiDayNumber(now);
  let deadlineReminders = 0;
  let hearingReminders = 0;

  const maxLead = Math.max(...settings.lead_days);
  const due = await ctx.db
    .selectFrom('matter_deadlines as d')
    .innerJoin('matters as m', 'm.id', 'd.matter_id')
    .selectAll('d')
    .where('d.status', '=', 'open')
    .where('m.status', '<>', 'declined')
    .where('d.due_date', '>=', dayToDate(today))
    .where('d.due_date', '<=', dayToDate(today + maxLead))
    .orderBy('d.due_date')
    .orderBy('d.id')
    .execute();
  for (const d of due) {
    const daysLeft = dateDayNumber(d.due_date)! - today;
    const lead = leadFor(daysLeft, settings.lead_days);
    if (lead === null) continue;
    const sent = await ctx.db.transaction().execute(async (trx) => {
      const matter = await matterFacts(trx, d.matter_id);
      const rule = d.rule ? getRule(d.rule) : null;
      const title = clip(`期限提醒：${d.title}，${d.due_date}届满（${inDays(daysLeft)}）`, 200);
      const body =
        `案件：${matter.number} ${matter.title}\n期限：${d.title}\n届满日：${d.due_date}（${inDays(daysLeft)}）` +
        `${rule ? `\n逾期后果：${rule.consequence.zh}` : ''}\n承办律师：${matter.lawyer_name}\n\n` +
        `Reminder: ${rule ? rule.name.en : d.title}, due ${d.due_date} (${inDaysEn(daysLeft)}).${rule ? ` If missed: ${rule.consequence.en}` : ''}`;
      const key = `deadline.reminder:${d.id}:${d.due_date}:${lead}`;
      let n = 0;
      const staff = [...new Set([d.responsible_user_id, ...(await matterTeamIds(trx, d.matter_id))])];
      if (await notify(trx, ctx, { event: 'deadline.reminder', user_ids: staff, matter_id: d.matter_id, title, body: clip(`${body}\n\n${d.basis}`, 5000), dedupe_key: `${key}:staff` })) n++;
      if (d.notify_client && settings.notify_client) {
        for (const clientId of await matterClientIds(trx, d.matter_id)) {
          if (await notify(trx, ctx, { event: 'deadline.reminder', client_id: clientId, matter_id: d.matter_id, title, body, dedupe_key: `${key}:client:${clientId}` })) n++;
        }
      }
      return n;
    });
    deadlineReminders += sent;
  }

  const maxHearingLead = Math.max(...settings.hearing_lead_days);
  const hearings = await ctx.db
    .selectFrom('hearings')
    .selectAll()
    .where('status', '=', 'scheduled')
    .where('starts_at', '>', now)
    .where('starts_at', '<', shanghaiDayStart(new Date((today + maxHearingLead + 1) * DAY_MS)))
    .orderBy('starts_at')
    .execute();
  for (const h of hearings) {
    const daysLeft = shanghaiDayNumber(h.starts_at) - today;
    const lead = leadFor(daysLeft, settings.hearing_lead_days);
    if (lead === null) continue;
    const sent = await ctx.db.transaction().execute(async (trx) => {
      const matter = await matterFacts(trx, h.matter_id);
      const { title, body } = hearingNoticeText(matter, h, daysLeft <= 0 ? '今日开庭' : `${daysLeft}天后开庭`);
      const key = `hearing.reminder:${h.id}:${h.starts_at.toISOString()}:${lead}`;
      let n = 0;
      if (await notify(trx, ctx, { event: 'hearing.notice', user_ids: await matterTeamIds(trx, h.matter_id), matter_id: h.matter_id, title, body, dedupe_key: `${key}:staff` })) n++;
      if (settings.notify_client) {
        for (const clientId of await matterClientIds(trx, h.matter_id)) {
          if (await notify(trx, ctx, { event: 'hearing.notice', client_id: clientId, matter_id: h.matter_id, title, body, dedupe_key: `${key}:client:${clientId}` })) n++;
        }
      }
      return n;
    });
    hearingReminders += sent;
  }
  return { deadline_reminders: deadlineReminders, hearing_reminders: hearingReminders };
}

/** Open deadlines whose due date has passed become missed; the responsible lawyer and the team hear of it. */
export async function markMissedDeadlines(ctx: ServiceContext): Promise<{ missed: number }> {
  const now = ctx.clock.now();
  const today = dayToDate(shanghaiDayNumber(now));
  return ctx.db.transaction().execute(async (trx) => {
    const rows = await trx.updateTable('matter_deadlines').set({ status: 'missed', missed_at: now }).where('status', '=', 'open').where('due_date', '<', today).returningAll().execute();
    for (const d of rows) {
      await appendAudit(trx, { at: now, actor: SYSTEM_ACTOR.username, action: 'deadline.missed', object: `deadline:${d.id}`, result: 'success', sourceIp: null, detail: { matter_id: d.matter_id, due_date: d.due_date } });
      const matter = await matterFacts(trx, d.matter_id);
      await notify(trx, ctx, {
        event: 'deadline.reminder',
        user_ids: [...new Set([d.responsible_user_id, ...(await matterTeamIds(trx, d.matter_id))])],
        matter_id: d.matter_id,
        title: clip(`期限已过未完成：${d.title}（${d.due_date}）`, 200),
        body: `案件：${matter.number} ${matter.title}\n期限“${d.title}”已于${d.due_date}届满，系统中未标记完成。如已按期办理，请标记完成并注明。\n\nThe deadline "${d.title}" passed on ${d.due_date} without being marked done. If it was met, mark it done with a note.`,
        dedupe_key: `deadline.missed:${d.id}`,
      });
    }
    return { missed: rows.length };
  });
}

export const deadlineJobs: Job[] = [
  // Hourly in office hours: a hearing set this afternoon for tomorrow morning still gets its reminder today.
  { name: 'deadlines.reminders', schedule: '0 8-20 * * *', run: (ctx) => sendReminders(ctx) },
  { name: 'deadlines.mark_missed', schedule: '10 0 * * *', run: (ctx) => markMissedDeadlines(ctx) },
];
