import { randomBytes } from 'node:crypto';
import { sql, type ExpressionBuilder, type Transaction } from 'kysely';
import { shanghaiDate, shanghaiDayStart } from '../../calendar.js';
import { SYSTEM_ACTOR, type Actor, type ServiceContext } from '../../context.js';
import type { Db } from '../../db/index.js';
import type { Database } from '../../db/schema.js';
import { AppError, badRequest, conflict, forbidden, notFound } from '../../errors.js';
import type { Job } from '../../scheduler.js';
import { appendAudit } from '../audit/service.js';
import { hashToken } from '../auth/service.js';
import { can, may, requirePermission, ROLE_NAMES } from '../auth/roles.js';
import { checkResidentId, maskIdNumber, maskName, maskPhone } from '../clients/identifiers.js';
import { findConflicts } from '../conflicts/engine.js';
import type { DeviceBridge } from '../devices/bridge.js';
import { findVisitorPassByToken, issueVisitorPassIn, revokeVisitorPassIn } from '../doors/service.js';
import type { TxContext } from '../doors/access-list.js';
import { newShortCode, normalizeEnrolmentCode, type Kiosk } from '../kiosks/service.js';
import { assertMatterVisible } from '../matters/access.js';
import { announce } from '../realtime/hub.js';
import type { Screening, ScreeningMatch, VisitRow, VisitStatus } from './tables.js';
import { readSetting, writeSetting } from '../../db/settings.js';

/**
 * Lobby visitor management (T/ZSM 0038-2024 Z4.2, Z6.4.3). A visit is pre-registered by its host or
 * starts as a walk-in at the lobby kiosk. The visitor is screened against the conflict index when
 * invited and again on arrival: an opposing party of any matter gets no door pass until a conflicts
 * reviewer admits them. Personal data stays server-side and masked on every screen, and is purged
 * `retention_days` after the visit ended.
 */

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** An ID card read waits this long for the check-in that uses it, then it is gone. */
const ID_READ_TTL_MS = 10 * 60_000;
/** A SAM reader needs three exchanges of up to 2 s each for one read. */
const ID_READ_TIMEOUT_MS = 7_000;
/** A visitor still on the list a day after arriving has left without checking out. */
const STALE_VISIT_MS = DAY_MS;
/** An invitation may be made up to a year ahead. */
const MAX_INVITE_AHEAD_MS = 365 * DAY_MS;
const PURGED_NAME = '（已清除）';
const QR_PREFIX = 'LBV1:';
/** Letters and digits that cannot be mistaken for each other on a screen or over the phone. */
const MAX_LISTED = 500;

// ---------------------------------------------------------------------------------------------
// Settings

export interface VisitorSettings {
  /** personal data of a visit is purged this many days after it ended */
  retention_days: number;
  /** the doors a visitor pass opens; none: check-in issues no pass */
  pass_doors: string[];
  /** how long a pass lasts from check-in */
  pass_hours: number;
}

export const VISITORS_SETTINGS_KEY = 'visitors';
export const DEFAULT_VISITOR_SETTINGS: VisitorSettings = { retention_days: 180, pass_doors: [], pass_hours: 4 };
export const VISITOR_SETTING_LIMITS = { retention_days: { minimum: 30, maximum: 3650 }, pass_hours: { minimum: 1, maximum: 24 } } as const;

const inRange = (key: keyof typeof VISITOR_SETTING_LIMITS, value: unknown): value is number =>
  typeof value === 'number' && Number.isInteger(value) && value >= VISITOR_SETTING_LIMITS[key].minimum && value <= VISITOR_SETTING_LIMITS[key].maximum;

/** The stored settings over the defaults; a stored value out of range falls back to its default. */
export async function visitorSettings(db: Db): Promise<VisitorSettings> {
  const stored = ((await readSetting(db, VISITORS_SETTINGS_KEY)) ?? {}) as Record<string, unknown>;
  return {
    retention_days: inRange('retention_days', stored.retention_days) ? stored.retention_days : DEFAULT_VISITOR_SETTINGS.retention_days,
    pass_hours: inRange('pass_hours', stored.pass_hours) ? stored.pass_hours : DEFAULT_VISITOR_SETTINGS.pass_hours,
    pass_doors: Array.isArray(stored.pass_doors) && stored.pass_doors.every((d) => typeof d === 'string') ? (stored.pass_doors as string[]) : DEFAULT_VISITOR_SETTINGS.pass_doors,
  };
}

export async function updateVisitorSettings(ctx: ServiceContext, actor: Actor, next: VisitorSettings): Promise<VisitorSettings> {
  requirePermission(actor, 'practice.configure');
  for (const key of ['retention_days', 'pass_hours'] as const) {
    if (!inRange(key, next[key])) {
      const { minimum, maximum } = VISITOR_SETTING_LIMITS[key];
      throw badRequest('INVALID_SETTING', `${key} must be a whole number from ${minimum} to ${maximum}. / 设置值超出范围（${minimum}–${maximum}）。`);
    }
  }
  const value: VisitorSettings = { retention_days: next.retention_days, pass_hours: next.pass_hours, pass_doors: [...new Set(next.pass_doors)].sort() };
  const now = ctx.clock.now();
  await ctx.db.transaction().execute(async (trx) => {
    if (value.pass_doors.length) {
      const found = (await trx.selectFrom('doors').select('id').where('id', 'in', value.pass_doors).execute()).map((d) => d.id);
      const missing = value.pass_doors.filter((d) => !found.includes(d));
      if (missing.length) throw badRequest('UNKNOWN_DOOR', `No door ${missing.join(', ')}. / 门不存在：${missing.join('、')}。`);
    }
    const before = await visitorSettings(trx);
    await writeSetting(trx, VISITORS_SETTINGS_KEY, value);
    await appendAudit(trx, { at: now, actor: actor.username, action: 'settings.visitors', object: `settings:${VISITORS_SETTINGS_KEY}`, result: 'success', sourceIp: actor.sourceIp, detail: { from: before, to: value } });
  });
  return value;
}

// ---------------------------------------------------------------------------------------------
// Presentation

export interface VisitView {
  id: number;
  visitor_name: string;
  id_number_masked: string | null;
  phone_masked: string | null;
  organization: string | null;
  purpose: string;
  host: { id: number; display_name: string };
  matter: { id: number; number: string } | null;
  status: VisitStatus;
  source: VisitRow['source'];
  expected_at: string | null;
  checked_in_at: string | null;
  checked_out_at: string | null;
  screening: Screening | null;
  pass: { id: number; kind: 'qr' | 'card'; valid_until: string; doors: string[] } | null;
  created_at: string;
}

/** What a lobby screen may show of a visit: masked names, no identifiers. */
export interface KioskVisitView {
  id: number;
  visitor_name_masked: string;
  host_name: string;
  purpose: string;
  /** a flagged visit shows as `pending_review`: the screen never says why */
  status: VisitStatus | 'pending_review';
  expected_at: string | null;
  /** the pass's end once checked in, else the invitation's */
  valid_until: string | null;
}

/** A freshly issued pass as the visitor gets it: the QR token is shown this once. */
export interface IssuedPass {
  qr_token: string;
  valid_until: string;
  /** door names, for the visitor */
  doors: string[];
}

/** A visit not yet arrived whose invitation ran out is expired, whether or not the job has recorded it yet. */
function currentStatus(now: Date) {
  return sql<VisitStatus>`case when v.status in ('invited', 'flagged') and v.checked_in_at is null and v.expires_at <= ${now} then 'expired' else v.status end`;
}

type Loaded = VisitRow & {
  current_status: VisitStatus;
  host_name: string;
  matter_number: string | null;
  pass_medium: 'card' | 'qr' | null;
  pass_valid_until: Date | null;
};

function visitQuery(db: Db, now: Date) {
  return db
    .selectFrom('visitor_visits as v')
    .innerJoin('users as h', 'h.id', 'v.host_user_id')
    .leftJoin('matters as m', 'm.id', 'v.matter_id')
    .leftJoin('access_credentials as c', 'c.id', 'v.pass_credential_id')
    .selectAll('v')
    .select(['h.display_name as host_name', 'm.number as matter_number', 'c.medium as pass_medium', 'c.valid_until as pass_valid_until'])
    .select(currentStatus(now).as('current_status'));
}

async function passDoors(db: Db, credentialIds: number[]): Promise<Map<number, string[]>> {
  const out = new Map<number, string[]>();
  if (credentialIds.length === 0) return out;
  const grants = await db.selectFrom('access_grants').select(['credential_id', 'door_id']).where('credential_id', 'in', credentialIds).orderBy('door_id').execute();
  for (const g of grants) out.set(g.credential_id, [...(out.get(g.credential_id) ?? []), g.door_id]);
  return out;
}

/** Who sees why a visit was flagged: the reviewers and the front desk, not every host. */
const seesMatches = (actor: Actor) => may(actor, 'conflicts.review') || may(actor, 'visitors.manage');

async function present(db: Db, actor: Actor, rows: Loaded[]): Promise<VisitView[]> {
  const doors = await passDoors(db, rows.map((r) => r.pass_credential_id).filter((id): id is number => id !== null));
  const matches = seesMatches(actor);
  return rows.map((r) => ({
    id: r.id,
    visitor_name: r.visitor_name,
    id_number_masked: maskIdNumber(r.id_number),
    phone_masked: maskPhone(r.phone),
    organization: r.organization,
    purpose: r.purpose,
    host: { id: r.host_user_id, display_name: r.host_name },
    matter: r.matter_id !== null && r.matter_number !== null ? { id: r.matter_id, number: r.matter_number } : null,
    status: r.current_status,
    source: r.source,
    expected_at: r.expected_at?.toISOString() ?? null,
    checked_in_at: r.checked_in_at?.toISOString() ?? null,
    checked_out_at: r.checked_out_at?.toISOString() ?? null,
    screening: r.screening ? { flagged: r.screening.flagged, matches: matches ? r.screening.matches : [] } : null,
    pass:
      r.pass_credential_id !== null && r.pass_medium && r.pass_valid_until
        ? { id: r.pass_credential_id, kind: r.pass_medium, valid_until: r.pass_valid_until.toISOString(), doors: doors.get(r.pass_credential_id) ?? [] }
        : null,
    created_at: r.created_at.toISOString(),
  }));
}

function presentKiosk(r: Loaded): KioskVisitView {
  const validUntil = r.checked_in_at ? r.pass_valid_until : r.expires_at;
  return {
    id: r.id,
    visitor_name_masked: maskName(r.visitor_name),
    host_name: maskName(r.host_name),
    purpose: r.purpose,
    status: r.current_status === 'flagged' ? 'pending_review' : r.current_status,
    expected_at: r.expected_at?.toISOString() ?? null,
    valid_until: validUntil?.toISOString() ?? null,
  };
}

async function loadVisit(db: Db, now: Date, id: number): Promise<Loaded | undefined> {
  return (await visitQuery(db, now).where('v.id', '=', id).executeTakeFirst()) as Loaded | undefined;
}

const visitNotFound = (id: number) => notFound('VISIT_NOT_FOUND', `No visit ${id}, or it is not one of yours. / 来访记录不存在或您无权查看。`);

// ---------------------------------------------------------------------------------------------
// Checks



function requireLobbyKiosk(actor: Actor): void {
  if (!may(actor, 'kiosk.lobby')) throw forbidden('FORBIDDEN', 'Only an enrolled lobby kiosk may do this. / 仅前台自助终端可执行此操作。');
}

/** Roles that may receive visitors: whoever may pre-register one. */
const HOST_ROLES = ROLE_NAMES.filter((r) => can(r, 'visitors.invite'));

async function assertHost(db: Db, userId: number): Promise<{ id: number; display_name: string }> {
  const user = await db.selectFrom('users').select(['id', 'display_name', 'role', 'disabled']).where('id', '=', userId).executeTakeFirst();
  if (!user || user.disabled || !(HOST_ROLES as string[]).includes(user.role)) {
    throw badRequest('INVALID_HOST', `No active member of staff with id ${userId} can receive visitors. / 被访人不存在、已停用或不能接待访客。`);
  }
  return user;
}

/** A resident ID (checked by its check digit) or a passport or permit number; upper case, no spaces. */
export function cleanIdNumber(value: string | null | undefined): string | null {
  const v = value?.replace(/\s+/g, '').toUpperCase();
  if (!v) return null;
  if (/^\d{17}[\dX]$/.test(v)) {
    const check = checkResidentId(v);
    if (!check.valid) throw badRequest('INVALID_ID_NUMBER', `The resident ID number is not valid: ${check.reason}`);
    return check.normalized;
  }
  if (!/^[A-Z0-9]{5,20}$/.test(v)) {
    throw badRequest('INVALID_ID_NUMBER', 'An ID number is a resident ID (18 characters) or a passport or permit number (5–20 letters and digits). / 证件号码应为18位居民身份证号码，或5–20位字母数字的护照、通行证号码。');
  }
  return v;
}

const optionalText = (value: string | null | undefined): string | null => value?.trim() || null;

function requiredText(value: string | null | undefined, field: string, zh: string): string {
  const v = optionalText(value);
  if (!v) throw badRequest('INVALID_INPUT', `${field} must not be blank. / 请填写${zh}。`);
  return v;
}

// ---------------------------------------------------------------------------------------------
// Screening

/** Every opposing-party hit of the conflict engine on the visitor's name and ID number. */
export async function screenVisitor(db: Db, name: string, idNumber: string | null): Promise<Screening> {
  const hits = await findConflicts(db, [{ name, id_number: idNumber, kind: 'person' }]);
  const matches: ScreeningMatch[] = [];
  for (const h of hits) {
    if (h.party_role !== 'opposing' || matches.some((m) => m.matter_number === h.matter_number && m.match === h.match)) continue;
    matches.push({ matter_number: h.matter_number, party_role: h.party_role, match: h.match });
  }
  return { flagged: matches.length > 0, matches };
}

/**
 * Whether a screening holds the visitor back. Once a reviewer admitted a visitor, only a hit the
 * reviewer has not seen holds them back again.
 */
function holdsBack(screening: Screening, visit: Pick<VisitRow, 'review_decision' | 'screening'> | null): boolean {
  if (!screening.flagged) return false;
  if (visit?.review_decision !== 'admit') return true;
  const seen = new Set((visit.screening?.matches ?? []).map((m) => `${m.matter_number}|${m.match}`));
  return screening.matches.some((m) => !seen.has(`${m.matter_number}|${m.match}`));
}

/** The host and every active director hear of a flagged visitor, in the transaction that flags it. */
const REVIEWER_ROLES = ROLE_NAMES.filter((r) => can(r, 'conflicts.review'));

async function alertFlagged(trx: Transaction<Database>, visitId: number, hostId: number): Promise<number[]> {
  // Whoever may decide on the visit hears of it (directors and partners), and the host.
  const reviewers = await trx.selectFrom('users').select('id').where('role', 'in', REVIEWER_ROLES).where('disabled', '=', false).execute();
  const recipients = [...new Set([hostId, ...reviewers.map((d) => d.id)])];
  for (const id of recipients) await announce(trx, { topic: `user:${id}`, data: { type: 'visitor.flagged', visit_id: visitId } });
  return recipients;
}

const announceVisit = (trx: Transaction<Database>, type: string, visitId: number, status: VisitStatus) => announce(trx, { topic: 'visitors', data: { type, visit_id: visitId, status } });

// ---------------------------------------------------------------------------------------------
// Passes

/**
 * Runs `work` in a transaction that first issues the visit's pass, so the pass exists if and only if
 * the visit changed. This service has already checked the actor's own right to let the visitor in
 * (a lobby kiosk, a reviewer admitting a flagged visitor); the doors' audit names that actor.
 * No doors configured: no pass.
 */
async function withPass<T>(ctx: ServiceContext, actor: Actor, visitorName: string, work: (trx: Transaction<Database>, pass: { id: number; issued: IssuedPass } | null) => Promise<T>): Promise<T> {
  const settings = await visitorSettings(ctx.db);
  return ctx.db.transaction().execute(async (trx) => {
    if (!settings.pass_doors.length) return work(trx, null);
    const validUntil = new Date(ctx.clock.now().getTime() + settings.pass_hours * HOUR_MS);
    // Only a masked name goes to the credential: the visit holds the person, and is purged in time.
    const issued = await issueVisitorPassIn({ ...ctx, db: trx }, actor, { visitor_name: `访客 ${maskName(visitorName)}`, doors: settings.pass_doors, valid_until: validUntil.toISOString(), kind: 'qr' });
    const names = await trx.selectFrom('doors').select(['id', 'name']).where('id', 'in', issued.pass.doors).orderBy('id').execute();
    return work(trx, { id: issued.pass.id, issued: { qr_token: issued.token!, valid_until: issued.pass.valid_until!, doors: names.map((d) => d.name) } });
  });
}

/** Revokes a visit's pass, in the caller's transaction, if it still opens doors. */
async function revokePassOf(tx: TxContext, actor: Actor, credentialId: number | null): Promise<void> {
  if (credentialId === null) return;
  const pass = await tx.db.selectFrom('access_credentials').select(['revoked_at', 'valid_until']).where('id', '=', credentialId).executeTakeFirst();
  if (!pass || pass.revoked_at || (pass.valid_until && pass.valid_until <= tx.clock.now())) return;
  await revokeVisitorPassIn(tx, actor, credentialId);
}

// ---------------------------------------------------------------------------------------------
// Invitations

export interface InvitationInput {
  visitor_name: string;
  id_number?: string | null;
  phone?: string | null;
  organization?: string | null;
  purpose: string;
  host_user_id?: number;
  matter_id?: number | null;
  expected_at: string;
  valid_hours?: number;
}

const newInviteCode = newShortCode;

/** A code as typed or scanned: with or without the QR prefix; case, spaces and dashes do not matter. */
const normalizeInviteCode = (code: string) => normalizeEnrolmentCode(code.trim().replace(/^LBV1:/i, ''));

/**
 * Pre-registers a visitor (预约来访). The visitor is screened at once, so a host learns of a conflict
 * before the visitor stands in the lobby. The code is returned this once; only its hash is kept.
 */
export async function createInvitation(ctx: ServiceContext, actor: Actor, input: InvitationInput): Promise<{ visit: VisitView; invite_code: string; qr_payload: string }> {
  requirePermission(actor, 'visitors.invite');
  const hostId = input.host_user_id ?? actor.userId;
  if (hostId === null) throw badRequest('INVALID_HOST', 'Name the host (host_user_id). / 请指定被访人。');
  if (hostId !== actor.userId && !may(actor, 'visitors.manage')) {
    throw forbidden('FORBIDDEN_HOST', 'You may invite visitors for yourself only; the front desk registers visitors of others. / 您只能为本人预约访客，代他人预约请联系前台。');
  }
  const name = requiredText(input.visitor_name, 'visitor_name', '访客姓名');
  const purpose = requiredText(input.purpose, 'purpose', '来访事由');
  const idNumber = cleanIdNumber(input.id_number);
  const now = ctx.clock.now();
  const expectedAt = new Date(input.expected_at);
  if (Number.isNaN(expectedAt.getTime())) throw badRequest('INVALID_TIME', 'expected_at is not a valid time. / 预约时间格式不正确。');
  const expiresAt = new Date(expectedAt.getTime() + (input.valid_hours ?? 4) * HOUR_MS);
  if (expiresAt <= now) throw badRequest('ALREADY_EXPIRED', 'The visit would be over already: expected_at plus valid_hours is in the past. / 预约时间已过。');
  if (expectedAt.getTime() - now.getTime() > MAX_INVITE_AHEAD_MS) throw badRequest('TOO_FAR_AHEAD', 'A visit can be registered at most a year ahead. / 最多可提前一年预约。');
  await assertHost(ctx.db, hostId);
  if (input.matter_id != null) await assertMatterVisible(ctx.db, actor, input.matter_id);
  const screening = await screenVisitor(ctx.db, name, idNumber);
  const code = newInviteCode();
  const id = await ctx.db.transaction().execute(async (trx) => {
    const status: VisitStatus = screening.flagged ? 'flagged' : 'invited';
    const row = await trx
      .insertInto('visitor_visits')
      .values({
        visitor_name: name,
        id_number: idNumber,
        phone: optionalText(input.phone),
        organization: optionalText(input.organization),
        purpose,
        host_user_id: hostId,
        matter_id: input.matter_id ?? null,
        status,
        source: 'invitation',
        invite_code_hash: hashToken(code),
        expected_at: expectedAt,
        expires_at: expiresAt,
        screening: JSON.stringify(screening),
        created_by: actor.userId,
        created_at: now,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    await appendAudit(trx, {
      at: now,
      actor: actor.username,
      action: 'visit.invite',
      object: `visit:${row.id}`,
      result: 'success',
      sourceIp: actor.sourceIp,
      detail: { visitor: maskName(name), host_user_id: hostId, matter_id: input.matter_id ?? null, expected_at: expectedAt.toISOString(), flagged: screening.flagged },
    });
    await announceVisit(trx, 'visit.created', row.id, status);
    if (screening.flagged) await flag(trx, actor, row.id, hostId, screening, now);
    return row.id;
  });
  const [visit] = await present(ctx.db, actor, [(await loadVisit(ctx.db, now, id))!]);
  return { visit: visit!, invite_code: code, qr_payload: `${QR_PREFIX}${code}` };
}

/** Records and announces a flag: the audit names the matters behind it. */
async function flag(trx: Transaction<Database>, actor: Actor, visitId: number, hostId: number, screening: Screening, now: Date): Promise<void> {
  const alerted = await alertFlagged(trx, visitId, hostId);
  await appendAudit(trx, { at: now, actor: actor.username, action: 'visit.flag', object: `visit:${visitId}`, result: 'success', sourceIp: actor.sourceIp, detail: { matches: screening.matches, alerted } });
}

// ---------------------------------------------------------------------------------------------
// Staff: reading visits

export interface VisitFilter {
  status?: VisitStatus;
  from?: string;
  to?: string;
}

/** The visits an actor may see: the front desk all; reviewers their own and every flagged one; hosts their own. */
function visibleTo(actor: Actor) {
  return (eb: ExpressionBuilder<Database & { v: Database['visitor_visits'] }, 'v'>) => {
    if (may(actor, 'visitors.manage')) return eb.lit(true);
    const own = eb('v.host_user_id', '=', actor.userId ?? -1);
    if (!may(actor, 'conflicts.review')) return own;
    return eb.or([own, eb(sql<boolean>`coalesce((v.screening ->> 'flagged')::boolean, false)`, '=', true)]);
  };
}

function parseTime(value: string | undefined, field: string): Date | null {
  if (!value) return null;
  const at = new Date(value);
  if (Number.isNaN(at.getTime())) throw badRequest('INVALID_TIME', `${field} is not a valid time. / ${field} 时间格式不正确。`);
  return at;
}

/** Visits by when they happen (arrival, else the expected time, else registration), latest first. */
export async function listVisits(ctx: ServiceContext, actor: Actor, filter: VisitFilter): Promise<VisitView[]> {
  requirePermission(actor, 'visitors.invite');
  const now = ctx.clock.now();
  const from = parseTime(filter.from, 'from');
  const to = parseTime(filter.to, 'to');
  const when = sql<Date>`coalesce(v.checked_in_at, v.expected_at, v.created_at)`;
  let query = visitQuery(ctx.db, now).where(visibleTo(actor));
  if (filter.status) query = query.where((eb) => eb(currentStatus(now), '=', filter.status!));
  if (from) query = query.where((eb) => eb(when, '>=', from));
  if (to) query = query.where((eb) => eb(when, '<', to));
  const rows = (await query.orderBy(when, 'desc').orderBy('v.id', 'desc').limit(MAX_LISTED).execute()) as Loaded[];
  return present(ctx.db, actor, rows);
}

export async function getVisit(ctx: ServiceContext, actor: Actor, id: number): Promise<VisitView> {
  requirePermission(actor, 'visitors.invite');
  const row = (await visitQuery(ctx.db, ctx.clock.now()).where('v.id', '=', id).where(visibleTo(actor)).executeTakeFirst()) as Loaded | undefined;
  if (!row) throw visitNotFound(id);
  return (await present(ctx.db, actor, [row]))[0]!;
}

/** Who is in the building now: arrived and not gone (a flagged visitor waiting in the lobby counts). */
export async function listOnSite(ctx: ServiceContext, actor: Actor): Promise<VisitView[]> {
  requirePermission(actor, 'visitors.manage');
  const rows = (await visitQuery(ctx.db, ctx.clock.now()).where('v.checked_in_at', 'is not', null).where('v.checked_out_at', 'is', null).orderBy('v.checked_in_at').execute()) as Loaded[];
  return present(ctx.db, actor, rows);
}

// ---------------------------------------------------------------------------------------------
// Staff: decisions, check-out, cancellation

/**
 * A conflicts reviewer's decision on a flagged visitor. Admitting one who waits in the lobby issues
 * the pass and tells the kiosk; admitting one not yet arrived lets the invitation stand. Denying ends
 * the visit.
 */
export async function decideVisit(ctx: ServiceContext, actor: Actor, id: number, input: { decision: 'admit' | 'deny'; note: string }): Promise<{ visit: VisitView; pass: IssuedPass | null }> {
  requirePermission(actor, 'conflicts.review');
  const note = requiredText(input.note, 'note', '审查意见');
  const now = ctx.clock.now();
  const before = await loadVisit(ctx.db, now, id);
  if (!before) throw visitNotFound(id);
  if (before.current_status !== 'flagged') throw conflict('NOT_FLAGGED', `Visit ${id} is ${before.current_status}, not waiting for a conflicts review. / 该来访无需利益冲突审查。`);
  const arrived = before.checked_in_at !== null;
  const decide = async (trx: Transaction<Database>, pass: { id: number; issued: IssuedPass } | null) => {
    const current = await trx.selectFrom('visitor_visits').select(['status', 'checked_in_at']).where('id', '=', id).forUpdate().executeTakeFirstOrThrow();
    if (current.status !== 'flagged' || (current.checked_in_at !== null) !== arrived) throw conflict('VISIT_CHANGED', `Visit ${id} changed meanwhile; reload it. / 该来访状态已变化，请刷新。`);
    const status: VisitStatus = input.decision === 'deny' ? 'denied' : arrived ? 'checked_in' : 'invited';
    await trx
      .updateTable('visitor_visits')
      .set({
        status,
        review_decision: input.decision,
        reviewed_by: actor.userId,
        reviewed_at: now,
        review_note: note,
        ...(pass ? { pass_credential_id: pass.id } : {}),
        ...(input.decision === 'deny' ? { ended_at: now, checked_out_at: arrived ? now : null } : {}),
      })
      .where('id', '=', id)
      .execute();
    await appendAudit(trx, { at: now, actor: actor.username, action: `visit.${input.decision}`, object: `visit:${id}`, result: 'success', sourceIp: actor.sourceIp, detail: { note, matches: before.screening?.matches ?? [], pass_credential_id: pass?.id ?? null } });
    await announceVisit(trx, 'visit.decided', id, status);
    await announce(trx, { topic: `user:${before.host_user_id}`, data: { type: input.decision === 'admit' ? 'visitor.admitted' : 'visitor.denied', visit_id: id } });
    if (arrived && before.kiosk_id !== null) {
      await announce(trx, { topic: `lobby:${before.kiosk_id}`, data: { type: 'visit.decided', visit_id: id, status, ...(pass ? { pass_token: pass.issued.qr_token, valid_until: pass.issued.valid_until, doors: pass.issued.doors } : {}) } });
    }
    return pass?.issued ?? null;
  };
  const pass = input.decision === 'admit' && arrived ? await withPass(ctx, actor, before.visitor_name, decide) : await ctx.db.transaction().execute((trx) => decide(trx, null));
  return { visit: (await present(ctx.db, actor, [(await loadVisit(ctx.db, now, id))!]))[0]!, pass };
}

/** Ends a visit in the building: the pass stops opening doors in the same transaction that closes the visit. */
async function checkOut(ctx: ServiceContext, actor: Actor, visit: Loaded): Promise<void> {
  if (visit.checked_in_at === null || visit.checked_out_at !== null) {
    throw conflict('NOT_ON_SITE', `Visit ${visit.id} is ${visit.current_status}: the visitor is not checked in. / 该访客不在场，无法签离。`);
  }
  const now = ctx.clock.now();
  await ctx.db.transaction().execute(async (trx) => {
    // The pass stops opening doors in the same transaction that ends the visit.
    await revokePassOf({ ...ctx, db: trx }, actor, visit.pass_credential_id);
    const done = await trx
      .updateTable('visitor_visits')
      .set({ status: 'checked_out', checked_out_at: now, ended_at: now })
      .where('id', '=', visit.id)
      .where('checked_out_at', 'is', null)
      .returning('id')
      .executeTakeFirst();
    if (!done) throw conflict('NOT_ON_SITE', `Visit ${visit.id} was checked out meanwhile. / 该访客已签离。`);
    await appendAudit(trx, { at: now, actor: actor.username, action: 'visit.check_out', object: `visit:${visit.id}`, result: 'success', sourceIp: actor.sourceIp, detail: { pass_credential_id: visit.pass_credential_id } });
    await announceVisit(trx, 'visit.checked_out', visit.id, 'checked_out');
  });
}

export async function checkOutVisit(ctx: ServiceContext, actor: Actor, id: number): Promise<VisitView> {
  requirePermission(actor, 'visitors.manage');
  const visit = await loadVisit(ctx.db, ctx.clock.now(), id);
  if (!visit) throw visitNotFound(id);
  await checkOut(ctx, actor, visit);
  return (await present(ctx.db, actor, [(await loadVisit(ctx.db, ctx.clock.now(), id))!]))[0]!;
}

/** The host (or the front desk) calls a visit off before the visitor arrives. */
export async function cancelVisit(ctx: ServiceContext, actor: Actor, id: number): Promise<VisitView> {
  requirePermission(actor, 'visitors.invite');
  const now = ctx.clock.now();
  const visit = await loadVisit(ctx.db, now, id);
  if (!visit || (visit.host_user_id !== actor.userId && !may(actor, 'visitors.manage'))) throw visitNotFound(id);
  if (!['invited', 'flagged'].includes(visit.current_status) || visit.checked_in_at !== null) {
    throw conflict('NOT_CANCELLABLE', `Visit ${id} is ${visit.current_status}; only a visit not yet arrived can be cancelled. / 仅可取消尚未到访的预约。`);
  }
  await ctx.db.transaction().execute(async (trx) => {
    const done = await trx
      .updateTable('visitor_visits')
      .set({ status: 'cancelled', ended_at: now })
      .where('id', '=', id)
      .where('status', '=', visit.status)
      .where('checked_in_at', 'is', null)
      .returning('id')
      .executeTakeFirst();
    if (!done) throw conflict('VISIT_CHANGED', `Visit ${id} changed meanwhile; reload it. / 该来访状态已变化，请刷新。`);
    await appendAudit(trx, { at: now, actor: actor.username, action: 'visit.cancel', object: `visit:${id}`, result: 'success', sourceIp: actor.sourceIp, detail: null });
    await announceVisit(trx, 'visit.cancelled', id, 'cancelled');
  });
  return (await present(ctx.db, actor, [(await loadVisit(ctx.db, now, id))!]))[0]!;
}

// ---------------------------------------------------------------------------------------------
// Roll calls (疏散点名)

export interface RollCallView {
  id: number;
  started_at: string;
  entries: { visit_id: number; visitor_name: string; host_name: string; checked_in_at: string; accounted_at: string | null }[];
}

export async function getRollCall(ctx: ServiceContext, actor: Actor, id: number): Promise<RollCallView> {
  requirePermission(actor, 'visitors.manage');
  const call = await ctx.db.selectFrom('visitor_roll_calls').selectAll().where('id', '=', id).executeTakeFirst();
  if (!call) throw notFound('ROLL_CALL_NOT_FOUND', `No roll call ${id}. / 点名记录不存在。`);
  const entries = await ctx.db
    .selectFrom('visitor_roll_call_entries as e')
    .innerJoin('visitor_visits as v', 'v.id', 'e.visit_id')
    .innerJoin('users as h', 'h.id', 'v.host_user_id')
    .select(['e.visit_id', 'v.visitor_name', 'h.display_name as host_name', 'v.checked_in_at', 'e.accounted_at'])
    .where('e.roll_call_id', '=', id)
    .orderBy('v.checked_in_at')
    .orderBy('e.visit_id')
    .execute();
  return {
    id: call.id,
    started_at: call.started_at.toISOString(),
    entries: entries.map((e) => ({ visit_id: e.visit_id, visitor_name: e.visitor_name, host_name: e.host_name, checked_in_at: e.checked_in_at!.toISOString(), accounted_at: e.accounted_at?.toISOString() ?? null })),
  };
}

/** Starts an evacuation roll call of every visitor on site now. */
export async function startRollCall(ctx: ServiceContext, actor: Actor): Promise<RollCallView> {
  requirePermission(actor, 'visitors.manage');
  const now = ctx.clock.now();
  const id = await ctx.db.transaction().execute(async (trx) => {
    const call = await trx.insertInto('visitor_roll_calls').values({ started_at: now, started_by: actor.userId }).returning('id').executeTakeFirstOrThrow();
    const onSite = await trx.selectFrom('visitor_visits').select('id').where('checked_in_at', 'is not', null).where('checked_out_at', 'is', null).execute();
    if (onSite.length) await trx.insertInto('visitor_roll_call_entries').values(onSite.map((p) => ({ roll_call_id: call.id, visit_id: p.id }))).execute();
    await appendAudit(trx, { at: now, actor: actor.username, action: 'visitor.roll_call', object: `visitor_roll_call:${call.id}`, result: 'success', sourceIp: actor.sourceIp, detail: { visitors: onSite.length } });
    await announce(trx, { topic: 'visitors', data: { type: 'roll_call.started', roll_call_id: call.id } });
    return call.id;
  });
  return getRollCall(ctx, actor, id);
}

/** A visitor found at the assembly point. Marking one already accounted for changes nothing. */
export async function markAccounted(ctx: ServiceContext, actor: Actor, rollCallId: number, visitId: number): Promise<RollCallView> {
  requirePermission(actor, 'visitors.manage');
  const now = ctx.clock.now();
  await ctx.db.transaction().execute(async (trx) => {
    const entry = await trx.selectFrom('visitor_roll_call_entries').select('accounted_at').where('roll_call_id', '=', rollCallId).where('visit_id', '=', visitId).forUpdate().executeTakeFirst();
    if (!entry) throw notFound('ROLL_CALL_ENTRY_NOT_FOUND', `Visit ${visitId} is not on roll call ${rollCallId}. / 该访客不在此次点名名单中。`);
    if (entry.accounted_at) return;
    await trx.updateTable('visitor_roll_call_entries').set({ accounted_at: now, accounted_by: actor.userId }).where('roll_call_id', '=', rollCallId).where('visit_id', '=', visitId).execute();
    await appendAudit(trx, { at: now, actor: actor.username, action: 'visitor.roll_call_accounted', object: `visitor_roll_call:${rollCallId}`, result: 'success', sourceIp: actor.sourceIp, detail: { visit_id: visitId } });
    await announce(trx, { topic: 'visitors', data: { type: 'roll_call.accounted', roll_call_id: rollCallId, visit_id: visitId } });
  });
  return getRollCall(ctx, actor, rollCallId);
}

// ---------------------------------------------------------------------------------------------
// Lobby kiosk

/** Staff a visitor may name as host, masked: the screen is public. */
export async function listHosts(ctx: ServiceContext, actor: Actor, q: string | undefined): Promise<{ id: number; display_name: string; department: string | null }[]> {
  requireLobbyKiosk(actor);
  let query = ctx.db.selectFrom('users').select(['id', 'display_name', 'department']).where('disabled', '=', false).where('role', 'in', HOST_ROLES);
  const term = q?.trim();
  if (term) {
    const pattern = `%${term.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    query = query.where((eb) => eb.or([eb('display_name', 'ilike', pattern), eb('department', 'ilike', pattern)]));
  }
  const rows = await query.orderBy('display_name').orderBy('id').limit(20).execute();
  return rows.map((r) => ({ id: r.id, display_name: maskName(r.display_name), department: r.department }));
}

/** An invitation the kiosk may act on: known, not withdrawn, not run out. */
async function invitationByCode(ctx: ServiceContext, code: string): Promise<Loaded> {
  const now = ctx.clock.now();
  const row = (await visitQuery(ctx.db, now).where('v.invite_code_hash', '=', hashToken(normalizeInviteCode(code))).executeTakeFirst()) as Loaded | undefined;
  if (!row || row.purged_at) throw notFound('INVITATION_NOT_FOUND', 'No invitation with this code; please check it or ask at the front desk. / 未找到该预约码，请核对或咨询前台。');
  if (row.current_status === 'cancelled' || row.current_status === 'denied') {
    throw conflict('INVITATION_WITHDRAWN', 'This invitation was withdrawn; please ask at the front desk. / 该预约已取消，请咨询前台。');
  }
  if (row.current_status === 'expired') throw new AppError(410, 'INVITATION_EXPIRED', 'This invitation has expired; please ask at the front desk. / 该预约已过期，请咨询前台。');
  return row;
}

export async function lookupInvitation(ctx: ServiceContext, actor: Actor, code: string): Promise<KioskVisitView> {
  requireLobbyKiosk(actor);
  return presentKiosk(await invitationByCode(ctx, code));
}

const readerUnavailable = () => new AppError(503, 'ID_READER_UNAVAILABLE', 'The ID card reader is not available; please register at the front desk. / 身份证阅读器不可用，请到前台登记。');

/**
 * Reads the ID card on this kiosk's reader through its agent. The name and ID number stay here, for
 * ten minutes, under a random read id the check-in names; the screen sees them masked.
 */
export async function readIdCard(ctx: ServiceContext, bridge: Pick<DeviceBridge, 'command'>, actor: Actor, kiosk: Pick<Kiosk, 'id' | 'idReaderDevice'>): Promise<{ read_id: string; name_masked: string; id_number_masked: string }> {
  requireLobbyKiosk(actor);
  if (!kiosk.idReaderDevice) throw readerUnavailable();
  const device = await ctx.db.selectFrom('devices').select(['availability', 'enabled']).where('id', '=', kiosk.idReaderDevice).executeTakeFirst();
  if (!device || !device.enabled || device.availability === 'offline') throw readerUnavailable();
  const result = await bridge.command(kiosk.idReaderDevice, { action: 'read_card' }, ID_READ_TIMEOUT_MS);
  if (result === null) throw new AppError(504, 'ID_READER_TIMEOUT', 'The ID card reader did not answer; please try again or register at the front desk. / 身份证阅读器无响应，请重试或到前台登记。');
  if (!result.ok) {
    const code = result.error?.code;
    if (code === 'NO_CARD') throw conflict('NO_CARD', 'No ID card lies on the reader; please place it on the reader. / 请将身份证放在阅读器上。');
    if (code === 'DEVICE_UNAVAILABLE' || code === 'UNKNOWN_DEVICE') throw readerUnavailable();
    throw new AppError(502, 'ID_READER_FAILED', `The card could not be read (${code ?? 'unknown error'}); please place it again. / 读卡失败，请重新放置身份证。`);
  }
  const card = result.state?.card as { name?: unknown; id_number?: unknown } | undefined;
  if (typeof card?.name !== 'string' || !card.name.trim() || typeof card.id_number !== 'string') {
    throw new AppError(502, 'ID_READER_FAILED', 'The reader answered without the card’s name and number; please place the card again. / 读卡失败，请重新放置身份证。');
  }
  const name = card.name.trim();
  const idNumber = card.id_number.trim().toUpperCase();
  const readId = randomBytes(18).toString('base64url');
  const now = ctx.clock.now();
  await ctx.db.transaction().execute(async (trx) => {
    await trx.deleteFrom('visitor_id_reads').where('expires_at', '<=', now).execute();
    await trx.insertInto('visitor_id_reads').values({ id: readId, kiosk_id: kiosk.id, name, id_number: idNumber, read_at: now, expires_at: new Date(now.getTime() + ID_READ_TTL_MS) }).execute();
    await appendAudit(trx, { at: now, actor: actor.username, action: 'visitor.id_card_read', object: `device:${kiosk.idReaderDevice}`, result: 'success', sourceIp: actor.sourceIp, detail: { name: maskName(name), id_number: maskIdNumber(idNumber) } });
  });
  return { read_id: readId, name_masked: maskName(name), id_number_masked: maskIdNumber(idNumber) };
}

interface IdRead {
  name: string;
  id_number: string;
}

async function peekRead(db: Db, kioskId: number, readId: string, now: Date): Promise<IdRead> {
  const read = await db.selectFrom('visitor_id_reads').select(['name', 'id_number']).where('id', '=', readId).where('kiosk_id', '=', kioskId).where('expires_at', '>', now).executeTakeFirst();
  if (!read) throw badRequest('READ_EXPIRED', 'This ID card read is unknown or expired; please place the card on the reader again. / 读卡信息已失效，请重新放置身份证。');
  return read;
}

/** Spends a read in the check-in's transaction: one read, one check-in. */
async function takeRead(trx: Transaction<Database>, kioskId: number, readId: string, now: Date): Promise<void> {
  const gone = await trx.deleteFrom('visitor_id_reads').where('id', '=', readId).where('kiosk_id', '=', kioskId).where('expires_at', '>', now).returning('id').executeTakeFirst();
  if (!gone) throw badRequest('READ_EXPIRED', 'This ID card read is unknown or expired; please place the card on the reader again. / 读卡信息已失效，请重新放置身份证。');
}

export interface WalkInInput {
  visitor_name?: string;
  read_id?: string;
  id_number?: string;
  phone?: string;
  organization?: string;
  purpose: string;
  host_user_id: number;
}
/** Exactly one way in: an invitation code (its read_id confirming the identity) or a walk-in registration. */
export type CheckInInput = { invite_code?: string; read_id?: string; walk_in?: WalkInInput };

export interface CheckInResult {
  visit: KioskVisitView;
  status: 'checked_in' | 'pending_review';
  pass: IssuedPass | null;
  message_zh: string;
  message_en: string;
}


/**
 * A visitor checks in at the lobby kiosk, with an invitation code or as a walk-in. They are screened
 * (again); a flagged visitor waits for a reviewer, anyone else gets the pass and their host hears of
 * the arrival.
 */
export async function kioskCheckIn(ctx: ServiceContext, actor: Actor, kiosk: Pick<Kiosk, 'id'>, input: CheckInInput): Promise<CheckInResult> {
  requireLobbyKiosk(actor);
  if (!input.invite_code === !input.walk_in || (input.walk_in && input.read_id)) {
    throw badRequest('ONE_WAY_TO_CHECK_IN', 'Check in with an invitation code or as a walk-in, not both. / 请选择预约码登记或临时来访登记其中一种。');
  }
  const now = ctx.clock.now();
  const readId = input.invite_code ? input.read_id : input.walk_in!.read_id;
  const read = readId ? await peekRead(ctx.db, kiosk.id, readId, now) : null;

  let visit: Loaded | null = null;
  let person: { name: string; idNumber: string | null; hostId: number };
  if (input.invite_code) {
    visit = await invitationByCode(ctx, input.invite_code);
    if (visit.checked_in_at) throw conflict('ALREADY_CHECKED_IN', 'This invitation was used already; please ask at the front desk. / 该预约已签到，如有疑问请咨询前台。');
    if (now < shanghaiDayStart(visit.expected_at!)) {
      throw conflict('INVITATION_NOT_YET_VALID', `This invitation is for ${shanghaiDate(visit.expected_at!)}; please come back then. / 预约日期未到。`);
    }
    if (read) {
      const same = visit.id_number ? visit.id_number === read.id_number : visit.visitor_name.replace(/\s+/g, '') === read.name.replace(/\s+/g, '');
      if (!same) throw conflict('IDENTITY_MISMATCH', 'The ID card does not match the invitation; please ask at the front desk. / 身份证与预约信息不符，请咨询前台。');
    }
    person = { name: read?.name ?? visit.visitor_name, idNumber: read?.id_number ?? visit.id_number, hostId: visit.host_user_id };
  } else {
    const w = input.walk_in!;
    const name = read?.name ?? optionalText(w.visitor_name);
    const idNumber = read?.id_number ?? cleanIdNumber(w.id_number);
    if (!name || !idNumber) throw badRequest('IDENTITY_REQUIRED', 'A walk-in visitor places the ID card on the reader, or gives name and ID number. / 请刷身份证，或填写姓名和证件号码。');
    requiredText(w.purpose, 'purpose', '来访事由');
    await assertHost(ctx.db, w.host_user_id);
    person = { name, idNumber, hostId: w.host_user_id };
  }

  const screening = await screenVisitor(ctx.db, person.name, person.idNumber);
  const held = holdsBack(screening, visit);
  const checkIn = async (trx: Transaction<Database>, pass: { id: number; issued: IssuedPass } | null): Promise<number> => {
    if (readId) await takeRead(trx, kiosk.id, readId, now);
    const status: VisitStatus = held ? 'flagged' : 'checked_in';
    const values = {
      status,
      screening: JSON.stringify(screening),
      checked_in_at: now,
      kiosk_id: kiosk.id,
      pass_credential_id: pass?.id ?? null,
      // A screening that flags anew asks for a new decision.
      ...(held ? { review_decision: null, reviewed_by: null, reviewed_at: null, review_note: null } : {}),
    };
    let id: number;
    if (visit) {
      const done = await trx
        .updateTable('visitor_visits')
        .set({ ...values, visitor_name: person.name, id_number: person.idNumber })
        .where('id', '=', visit.id)
        .where('status', '=', visit.status)
        .where('checked_in_at', 'is', null)
        .returning('id')
        .executeTakeFirst();
      if (!done) throw conflict('ALREADY_CHECKED_IN', 'This invitation was used already; please ask at the front desk. / 该预约已签到，如有疑问请咨询前台。');
      id = done.id;
    } else {
      const w = input.walk_in!;
      const row = await trx
        .insertInto('visitor_visits')
        .values({
          ...values,
          visitor_name: person.name,
          id_number: person.idNumber,
          phone: optionalText(w.phone),
          organization: optionalText(w.organization),
          purpose: requiredText(w.purpose, 'purpose', '来访事由'),
          host_user_id: person.hostId,
          source: 'walk_in',
          created_by: null,
          created_at: now,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      id = row.id;
    }
    await appendAudit(trx, {
      at: now,
      actor: actor.username,
      action: 'visit.check_in',
      object: `visit:${id}`,
      result: 'success',
      sourceIp: actor.sourceIp,
      detail: { kiosk_id: kiosk.id, source: visit ? 'invitation' : 'walk_in', visitor: maskName(person.name), id_card_read: !!readId, flagged: held, pass_credential_id: pass?.id ?? null },
    });
    await announceVisit(trx, 'visit.checked_in', id, status);
    if (held) await flag(trx, actor, id, person.hostId, screening, now);
    else await announce(trx, { topic: `user:${person.hostId}`, data: { type: 'visitor.arrived', visit_id: id, visitor_name: person.name } });
    return id;
  };

  let pass: IssuedPass | null = null;
  const id = held
    ? await ctx.db.transaction().execute((trx) => checkIn(trx, null))
    : await withPass(ctx, actor, person.name, async (trx, issued) => {
        pass = issued?.issued ?? null;
        return checkIn(trx, issued);
      });
  const view = presentKiosk((await loadVisit(ctx.db, now, id))!);
  if (held) {
    return { visit: view, status: 'pending_review', pass: null, message_zh: '请稍候，前台工作人员将为您办理来访手续。', message_en: 'Please wait: the front desk will attend to you shortly.' };
  }
  return {
    visit: view,
    status: 'checked_in',
    pass,
    message_zh: pass ? `签到成功，已通知${view.host_name}。请使用通行二维码进门。` : `签到成功，已通知${view.host_name}，请在前台稍候。`,
    message_en: pass ? 'You are checked in and your host has been told. Use the pass QR code at the doors.' : 'You are checked in and your host has been told. Please wait at the front desk.',
  };
}

/** The visitor leaves: with the pass's QR code or the invitation code. */
export async function kioskCheckOut(ctx: ServiceContext, actor: Actor, input: { qr_token?: string; invite_code?: string }): Promise<{ visit: KioskVisitView }> {
  requireLobbyKiosk(actor);
  if (input.qr_token && input.invite_code) throw badRequest('ONE_CODE_AT_A_TIME', 'Show either the pass QR code or the invitation code. / 请出示通行二维码或预约码其中之一。');
  const now = ctx.clock.now();
  let visit: Loaded | undefined;
  if (input.qr_token) {
    const passId = await findVisitorPassByToken(ctx.db, input.qr_token);
    visit = passId ? ((await visitQuery(ctx.db, now).where('v.pass_credential_id', '=', passId).executeTakeFirst()) as Loaded | undefined) : undefined;
  } else if (input.invite_code) {
    visit = (await visitQuery(ctx.db, now).where('v.invite_code_hash', '=', hashToken(normalizeInviteCode(input.invite_code))).executeTakeFirst()) as Loaded | undefined;
  } else {
    throw badRequest('CODE_REQUIRED', 'Show the pass QR code or the invitation code. / 请出示通行二维码或预约码。');
  }
  if (!visit) throw notFound('VISIT_NOT_FOUND', 'No visit goes with this code; please ask at the front desk. / 未找到对应的来访记录，请咨询前台。');
  await checkOut(ctx, actor, visit);
  return { visit: presentKiosk((await loadVisit(ctx.db, ctx.clock.now(), visit.id))!) };
}

// ---------------------------------------------------------------------------------------------
// Jobs

/**
 * Closes what time has ended: invitations that ran out become expired, visitors still listed a day
 * after arriving are checked out by the system, ID card reads past their ten minutes are deleted.
 */
export async function closeVisits(ctx: ServiceContext): Promise<{ expired: number; checked_out: number; reads_deleted: number }> {
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    const expired = await trx
      .updateTable('visitor_visits')
      .set({ status: 'expired', ended_at: sql`expires_at` })
      .where('status', 'in', ['invited', 'flagged'])
      .where('checked_in_at', 'is', null)
      .where('expires_at', '<=', now)
      .returning('id')
      .execute();
    const stale = await trx
      .updateTable('visitor_visits')
      .set({ status: sql`case when status = 'flagged' then 'expired' else 'checked_out' end`, checked_out_at: now, ended_at: now })
      .where('checked_in_at', '<', new Date(now.getTime() - STALE_VISIT_MS))
      .where('checked_out_at', 'is', null)
      .returning(['id', 'status'])
      .execute();
    const reads = await trx.deleteFrom('visitor_id_reads').where('expires_at', '<=', now).executeTakeFirst();
    if (expired.length || stale.length) {
      await appendAudit(trx, { at: now, actor: SYSTEM_ACTOR.username, action: 'visit.close', object: null, result: 'success', detail: { expired: expired.map((v) => v.id), checked_out: stale.map((v) => v.id) } });
      for (const v of expired) await announceVisit(trx, 'visit.expired', v.id, 'expired');
      for (const v of stale) await announceVisit(trx, 'visit.checked_out', v.id, v.status);
    }
    return { expired: expired.length, checked_out: stale.length, reads_deleted: Number(reads.numDeletedRows) };
  });
}

/** Purges the personal data of visits that ended more than retention_days ago; the record of the visit stays. */
export async function purgeVisits(ctx: ServiceContext): Promise<{ purged: number }> {
  const now = ctx.clock.now();
  const { retention_days } = await visitorSettings(ctx.db);
  const cutoff = new Date(now.getTime() - retention_days * DAY_MS);
  return ctx.db.transaction().execute(async (trx) => {
    const purged = await trx
      .updateTable('visitor_visits')
      // Everything that could name or identify the person goes: the review note and the screening's matches too.
      .set({ visitor_name: PURGED_NAME, id_number: null, phone: null, organization: null, review_note: null, screening: null, purged_at: now })
      .where('ended_at', '<', cutoff)
      .where('purged_at', 'is', null)
      .returning('id')
      .execute();
    if (purged.length) {
      await appendAudit(trx, { at: now, actor: SYSTEM_ACTOR.username, action: 'visit.purge', object: null, result: 'success', detail: { visits: purged.length, ended_before: cutoff.toISOString(), retention_days } });
    }
    return { purged: purged.length };
  });
}

export const visitorJobs: Job[] = [
  { name: 'visitors.close', schedule: '*/10 * * * *', run: closeVisits },
  {
    // Z6.4.3: visitor records are kept no longer than the firm's retention period.
    name: 'visitors.retention',
    schedule: '45 3 * * *',
    run: async (ctx) => ({ ...(await closeVisits(ctx)), ...(await purgeVisits(ctx)) }),
  },
];

// ---------------------------------------------------------------------------------------------
// The demo firm

/** The demo client's invitation code, printed in the demo guide so the lobby kiosk can be tried with it. */
export const DEMO_INVITE_CODE = 'WANGXY88';

/**
 * The demo firm's lobby: a client expected this afternoon (invitation code DEMO_INVITE_CODE), a
 * company's legal representative on site with a pass, yesterday's visitor who has left, and an
 * opposing party's legal representative flagged for review. Visitor passes open the demo's main
 * entrance. Meant for a fresh demo database; with any visit recorded it changes nothing.
 */
export async function seedDemoVisitors(ctx: ServiceContext): Promise<void> {
  if (await ctx.db.selectFrom('visitor_visits').select('id').limit(1).executeTakeFirst()) return;
  const users = await ctx.db.selectFrom('users').select(['id', 'username']).where('username', 'in', ['lawyer.chen', 'lawyer.zhang', 'partner.li']).execute();
  const user = (username: string) => users.find((u) => u.username === username)?.id;
  const [chen, zhang, li] = [user('lawyer.chen'), user('lawyer.zhang'), user('partner.li')];
  if (chen === undefined || zhang === undefined || li === undefined) return;
  const matter = async (title: string) => (await ctx.db.selectFrom('matters').select('id').where('title', 'like', `${title}%`).executeTakeFirst())?.id ?? null;
  const system = SYSTEM_ACTOR;
  const now = ctx.clock.now();
  const today = shanghaiDayStart(now);
  const yesterday = (h: number, m = 0) => new Date(today.getTime() - DAY_MS + h * HOUR_MS + m * 60_000);
  // This afternoon at three, or an hour from now on the half hour when three o'clock has passed.
  const expected = new Date(Math.max(today.getTime() + 15 * HOUR_MS, Math.ceil((now.getTime() + HOUR_MS) / (30 * 60_000)) * 30 * 60_000));
  const door = await ctx.db.selectFrom('doors').select('id').where('id', '=', 'main-entrance').executeTakeFirst();
  const configured = (await readSetting(ctx.db, VISITORS_SETTINGS_KEY)) !== undefined;
  const settings: VisitorSettings = { ...DEFAULT_VISITOR_SETTINGS, pass_doors: door ? [door.id] : [] };

  const visits = [
    { code: DEMO_INVITE_CODE, visitor_name: '王秀英', id_number: '110105197803152310', phone: '13911112222', organization: null, purpose: '离婚纠纷案件沟通证据材料', host_user_id: chen, matter_id: await matter('王秀英与刘建军'), expected_at: expected, checked_in_at: null, checked_out_at: null },
    { code: newInviteCode(), visitor_name: '李建国', id_number: '110105196504051152', phone: '13801010001', organization: '北京华信科技有限公司', purpose: '买卖合同纠纷案庭前准备会', host_user_id: zhang, matter_id: await matter('北京华信科技有限公司'), expected_at: new Date(now.getTime() - HOUR_MS), checked_in_at: new Date(now.getTime() - 40 * 60_000), checked_out_at: null },
    { code: null, visitor_name: '孙志刚', id_number: null, phone: '13700001234', organization: '北京鼎信会计师事务所', purpose: '年度审计资料交接', host_user_id: li, matter_id: null, expected_at: null, checked_in_at: yesterday(10, 5), checked_out_at: yesterday(11, 40) },
    { code: newInviteCode(), visitor_name: '周瑞丰', id_number: null, phone: null, organization: '上海瑞丰国际贸易有限公司', purpose: '商谈货款支付事宜', host_user_id: zhang, matter_id: null, expected_at: new Date(expected.getTime() + HOUR_MS), checked_in_at: null, checked_out_at: null },
  ];
  const onSite = visits[1]!;
  await ctx.db.transaction().execute(async (trx) => {
    const pass = door
      ? await issueVisitorPassIn({ ...ctx, db: trx }, system, { visitor_name: `访客 ${maskName(onSite.visitor_name)}`, doors: [door.id], valid_until: new Date(now.getTime() + 3 * HOUR_MS).toISOString(), kind: 'qr' })
      : null;
    if (!configured) await writeSetting(trx, VISITORS_SETTINGS_KEY, settings);
    for (const { code, ...v } of visits) {
      const screening = await screenVisitor(trx, v.visitor_name, v.id_number);
      const status: VisitStatus = v.checked_out_at ? 'checked_out' : v.checked_in_at ? 'checked_in' : screening.flagged ? 'flagged' : 'invited';
      await trx
        .insertInto('visitor_visits')
        .values({
          ...v,
          status,
          source: code ? 'invitation' : 'walk_in',
          invite_code_hash: code ? hashToken(code) : null,
          expires_at: v.expected_at ? new Date(v.expected_at.getTime() + 4 * HOUR_MS) : null,
          screening: JSON.stringify(screening),
          ended_at: v.checked_out_at,
          pass_credential_id: v.visitor_name === onSite.visitor_name ? (pass?.pass.id ?? null) : null,
          created_by: code ? v.host_user_id : null,
          created_at: v.checked_in_at ?? yesterday(17),
        })
        .execute();
    }
    await appendAudit(trx, { at: now, actor: system.username, action: 'visitors.demo_seed', object: null, result: 'success', detail: { visits: visits.length, settings: configured ? null : settings } });
  });
}
