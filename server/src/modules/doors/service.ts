import { randomBytes } from 'node:crypto';
import type { Transaction } from 'kysely';
import { canonicalCard, credentialDigest } from '../../../../firmware-profiles/access.js';
import { SYSTEM_ACTOR, type Actor, type ServiceContext } from '../../context.js';
import type { AccessCredentialRow, AccessWindow, Database, DoorRow, FailMode } from '../../db/schema.js';
import type { Db } from '../../db/index.js';
import { badRequest, conflict, notFound } from '../../errors.js';
import { appendAudit } from '../audit/service.js';
import { requirePermission, type Permission } from '../auth/roles.js';
import { credentialSalt, lockAccess, refreshAccessList, type TxContext } from './access-list.js';

/**
 * Doors (门禁点), access credentials (门卡、二维码) and visitor passes (访客通行证). Every change is
 * checked against the actor's permission, audited, and re-signs the access lists of the agents whose
 * doors it touches, all in one transaction (see access-list.ts for how the lists reach the agents).
 */

const HOUR_MS = 3_600_000;
/** A visitor pass lasts a day unless the issuer says otherwise, and never more than a week. */
const VISITOR_PASS_DEFAULT_MS = 24 * HOUR_MS;
const VISITOR_PASS_MAX_MS = 7 * 24 * HOUR_MS;
/** The agent_access schema's limit of doors in one list. */
const MAX_DOORS_PER_AGENT = 128;
const ALL_WEEK: AccessWindow[] = [{ days: [1, 2, 3, 4, 5, 6, 7], from: '00:00', to: '24:00' }];

export interface DoorInput {
  agent_id: string;
  name: string;
  lock_device: string;
  relay_channel?: number | null;
  readers: string[];
  pulse_ms: number;
  fail_mode: FailMode;
}

interface GrantInput {
  /** doors the credential opens */
  doors: string[];
  /** when, each week (Beijing time); one schedule for all its doors, as the list carries it */
  windows: AccessWindow[];
  valid_from?: string | null;
  valid_until?: string | null;
}

export interface CredentialInput extends GrantInput {
  kind: 'card' | 'qr';
  card_number?: string | null;
  holder_user_id?: number | null;
}

export interface VisitorPassInput {
  /** a display name only: no ID number, no phone */
  visitor_name: string;
  doors: string[];
  valid_until?: string | null;
  kind: 'qr' | 'card';
  card_number?: string | null;
}

type CredentialStatus = 'active' | 'expired' | 'revoked';

export interface CredentialView {
  id: number;
  kind: AccessCredentialRow['kind'];
  medium: AccessCredentialRow['medium'];
  card_number: string | null;
  holder_user_id: number | null;
  visitor_name: string | null;
  doors: string[];
  windows: AccessWindow[];
  valid_from: string | null;
  valid_until: string | null;
  revoked_at: string | null;
  created_by: number | null;
  created_at: string;
  status: CredentialStatus;
}


/**
 * One access change: permission, then the work in a transaction under the access lock, then the lists
 * of every agent the work names are re-signed before the commit.
 */
async function accessChange<T>(ctx: ServiceContext, actor: Actor, permission: Permission | null, work: (tx: TxContext) => Promise<{ result: T; agents: string[] }>): Promise<T> {
  if (permission) requirePermission(actor, permission);
  return ctx.db.transaction().execute((trx) => accessChangeIn({ ...ctx, db: trx }, actor, work));
}

/** The same inside a caller's transaction; the access lock is taken first (lock order: access, then audit). */
async function accessChangeIn<T>(tx: TxContext, actor: Actor, work: (tx: TxContext) => Promise<{ result: T; agents: string[] }>): Promise<T> {
  await lockAccess(tx.db);
  const { result, agents } = await work(tx);
  for (const agent of [...new Set(agents)].sort()) await refreshAccessList(tx, actor, agent);
  return result;
}

// ---------------------------------------------------------------------------------------------
// Doors

export async function listDoors(ctx: ServiceContext): Promise<DoorRow[]> {
  return ctx.db.selectFrom('doors').selectAll().orderBy('id').execute();
}

/** The rules a door must keep so every agent's list stays valid: a known agent, one reader → one door. */
async function checkDoor(trx: Transaction<Database>, id: string, input: DoorInput): Promise<void> {
  const agent = await trx.selectFrom('agents').select('id').where('id', '=', input.agent_id).executeTakeFirst();
  if (!agent) throw badRequest('UNKNOWN_AGENT', `No device agent "${input.agent_id}"; enrol the agent first. / 设备代理不存在，请先登记。`);
  const others = await trx.selectFrom('doors').select(['id', 'agent_id', 'readers']).where('id', '<>', id).execute();
  for (const other of others) {
    const shared = other.readers.find((r) => input.readers.includes(r));
    // A card read must name one door, or the agent could not tell which lock to release.
    if (shared) throw conflict('READER_IN_USE', `Reader ${shared} already opens door ${other.id}; a reader serves one door. / 读卡器 ${shared} 已用于门 ${other.id}，一个读卡器只能对应一道门。`);
  }
  if (others.filter((d) => d.agent_id === input.agent_id).length >= MAX_DOORS_PER_AGENT) {
    throw conflict('TOO_MANY_DOORS', `Agent ${input.agent_id} already has ${MAX_DOORS_PER_AGENT} doors; attach this door to another agent. / 该设备代理的门数已达上限。`);
  }
}

function doorValues(input: DoorInput) {
  return {
    agent_id: input.agent_id,
    name: input.name.trim(),
    lock_device: input.lock_device,
    relay_channel: input.relay_channel ?? null,
    readers: input.readers,
    pulse_ms: input.pulse_ms,
    fail_mode: input.fail_mode,
  };
}

async function insertDoor(tx: TxContext, actor: Actor, id: string, input: DoorInput): Promise<DoorRow> {
  if (!input.name.trim()) throw badRequest('INVALID_NAME', 'A door needs a name. / 请填写门的名称。');
  if (await tx.db.selectFrom('doors').select('id').where('id', '=', id).executeTakeFirst()) throw conflict('DOOR_EXISTS', `Door ${id} already exists. / 门 ${id} 已存在。`);
  await checkDoor(tx.db, id, input);
  const now = tx.clock.now();
  const door = await tx.db.insertInto('doors').values({ id, ...doorValues(input), created_at: now, updated_at: now }).returningAll().executeTakeFirstOrThrow();
  await appendAudit(tx.db, { at: now, actor: actor.username, action: 'door.create', object: `door:${id}`, result: 'success', sourceIp: actor.sourceIp, detail: doorValues(input) });
  return door;
}

export async function createDoor(ctx: ServiceContext, actor: Actor, id: string, input: DoorInput): Promise<DoorRow> {
  return accessChange(ctx, actor, 'doors.manage', async (tx) => {
    const door = await insertDoor(tx, actor, id, input);
    return { result: door, agents: [door.agent_id] };
  });
}

/** Replaces a door's settings; moving it to another agent re-signs both agents' lists. */
export async function updateDoor(ctx: ServiceContext, actor: Actor, id: string, input: DoorInput): Promise<DoorRow> {
  if (!input.name.trim()) throw badRequest('INVALID_NAME', 'A door needs a name. / 请填写门的名称。');
  return accessChange(ctx, actor, 'doors.manage', async (tx) => {
    const before = await tx.db.selectFrom('doors').selectAll().where('id', '=', id).executeTakeFirst();
    if (!before) throw notFound('DOOR_NOT_FOUND', `No door ${id}. / 门不存在。`);
    await checkDoor(tx.db, id, input);
    const now = tx.clock.now();
    const door = await tx.db.updateTable('doors').set({ ...doorValues(input), updated_at: now }).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
    const { created_at: _c, updated_at: _u, id: _id, ...from } = before;
    await appendAudit(tx.db, { at: now, actor: actor.username, action: 'door.update', object: `door:${id}`, result: 'success', sourceIp: actor.sourceIp, detail: { from, to: doorValues(input) } });
    return { result: door, agents: [before.agent_id, door.agent_id] };
  });
}

// ---------------------------------------------------------------------------------------------
// Credentials

const toMinute = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** Windows as the list needs them: from before to (a night shift is two windows), weekdays in order. */
function cleanWindows(windows: AccessWindow[]): AccessWindow[] {
  return windows.map((w) => {
    if (toMinute(w.from) >= toMinute(w.to)) {
      throw badRequest('INVALID_WINDOW', `A window runs from ${w.from} to ${w.to}: the start must come first; split a window across midnight in two. / 时段开始时间须早于结束时间，跨午夜请拆成两段。`);
    }
    return { days: [...new Set(w.days)].sort((a, b) => a - b), from: w.from, to: w.to };
  });
}

/** A card number as the reader reports it, in hex, separators allowed; refused when it is anything else. */
function parseCardNumber(value: string | null | undefined): string {
  const raw = (value ?? '').replace(/[\s:-]/g, '');
  if (!/^[0-9A-Fa-f]{2,32}$/.test(raw)) {
    throw badRequest('INVALID_CARD_NUMBER', 'A card number is 2 to 32 hexadecimal digits, as the reader reports it (e.g. 12345640). / 卡号须为 2–32 位十六进制数字（如 12345640）。');
  }
  return canonicalCard(raw);
}

/** Whether a card is taken: by an active staff card, or by an active visitor card (known only by its digest). */
async function assertCardFree(tx: TxContext, card: string, salt: string): Promise<void> {
  const now = tx.clock.now();
  const taken = await tx.db
    .selectFrom('access_credentials')
    .select('id')
    .where((eb) => eb.or([eb('card_number', '=', card), eb('digest', '=', credentialDigest('sha256', salt, card))]))
    .where('revoked_at', 'is', null)
    .where((eb) => eb.or([eb('valid_until', 'is', null), eb('valid_until', '>', now)]))
    .executeTakeFirst();
  if (taken) throw conflict('CARD_IN_USE', `Card ${card} is already in use (credential ${taken.id}); revoke it first. / 卡号 ${card} 已在使用中，请先撤销原授权。`);
}

/** The doors named, each of which must exist; returns their agents. */
async function grantedDoors(trx: Transaction<Database>, doors: string[]): Promise<string[]> {
  const found = await trx.selectFrom('doors').select(['id', 'agent_id']).where('id', 'in', doors).execute();
  const missing = doors.filter((d) => !found.some((f) => f.id === d));
  if (missing.length) throw badRequest('UNKNOWN_DOOR', `No door ${missing.join(', ')}. / 门不存在：${missing.join('、')}。`);
  return found.map((f) => f.agent_id);
}

function parseTime(value: string | null | undefined, field: string): Date | null {
  if (!value) return null;
  const at = new Date(value);
  if (Number.isNaN(at.getTime())) throw badRequest('INVALID_TIME', `${field} is not a valid time. / ${field} 时间格式不正确。`);
  return at;
}

function checkValidity(validFrom: Date | null, validUntil: Date | null, now: Date): void {
  if (validUntil && validUntil <= now) throw badRequest('ALREADY_EXPIRED', 'valid_until is in the past. / 有效期截止时间已过。');
  if (validFrom && validUntil && validFrom >= validUntil) throw badRequest('INVALID_VALIDITY', 'valid_from must be before valid_until. / 生效时间须早于截止时间。');
}

/** A QR token: 128 random bits in RFC 4648 base32 (upper case, no padding), dense in a QR code's alphanumeric mode. */
function newToken(): string {
  const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of randomBytes(16)) {
    value = ((value << 8) | byte) & 0xffff;
    bits += 8;
    for (; bits >= 5; bits -= 5) out += ALPHABET[(value >>> (bits - 5)) & 31];
  }
  return bits > 0 ? out + ALPHABET[(value << (5 - bits)) & 31] : out;
}

interface NewCredential {
  kind: AccessCredentialRow['kind'];
  medium: AccessCredentialRow['medium'];
  card_number: string | null;
  digest: string | null;
  holder_user_id: number | null;
  visitor_name: string | null;
  windows: AccessWindow[];
  valid_from: Date | null;
  valid_until: Date | null;
  doors: string[];
}

async function insertCredential(tx: TxContext, actor: Actor, c: NewCredential): Promise<{ row: AccessCredentialRow; agents: string[] }> {
  const agents = await grantedDoors(tx.db, c.doors);
  const { doors, windows, ...values } = c;
  const row = await tx.db
    .insertInto('access_credentials')
    .values({ ...values, windows: JSON.stringify(windows), created_by: actor.userId, created_at: tx.clock.now() })
    .returningAll()
    .executeTakeFirstOrThrow();
  await tx.db.insertInto('access_grants').values(doors.map((door_id) => ({ credential_id: row.id, door_id }))).execute();
  return { row, agents };
}

function statusOf(row: AccessCredentialRow, now: Date): CredentialStatus {
  if (row.revoked_at) return 'revoked';
  return row.valid_until && row.valid_until <= now ? 'expired' : 'active';
}

function present(row: AccessCredentialRow, doors: string[], now: Date): CredentialView {
  return {
    id: row.id,
    kind: row.kind,
    medium: row.medium,
    card_number: row.card_number,
    holder_user_id: row.holder_user_id,
    visitor_name: row.visitor_name,
    doors,
    windows: row.windows,
    valid_from: row.valid_from?.toISOString() ?? null,
    valid_until: row.valid_until?.toISOString() ?? null,
    revoked_at: row.revoked_at?.toISOString() ?? null,
    created_by: row.created_by,
    created_at: row.created_at.toISOString(),
    status: statusOf(row, now),
  };
}

async function doorsOf(db: ServiceContext['db'], ids: number[]): Promise<Map<number, string[]>> {
  const byCredential = new Map<number, string[]>(ids.map((id) => [id, []]));
  if (ids.length === 0) return byCredential;
  const grants = await db.selectFrom('access_grants').select(['credential_id', 'door_id']).where('credential_id', 'in', ids).orderBy('door_id').execute();
  for (const g of grants) byCredential.get(g.credential_id)!.push(g.door_id);
  return byCredential;
}

export async function listCredentials(ctx: ServiceContext, filter: { kind?: AccessCredentialRow['kind']; status: 'active' | 'all' }): Promise<CredentialView[]> {
  const now = ctx.clock.now();
  let query = ctx.db.selectFrom('access_credentials').selectAll().orderBy('id');
  if (filter.kind) query = query.where('kind', '=', filter.kind);
  if (filter.status === 'active') query = query.where('revoked_at', 'is', null).where((eb) => eb.or([eb('valid_until', 'is', null), eb('valid_until', '>', now)]));
  const rows = await query.execute();
  const doors = await doorsOf(ctx.db, rows.map((r) => r.id));
  return rows.map((r) => present(r, doors.get(r.id)!, now));
}

async function staffCredential(tx: TxContext, input: CredentialInput): Promise<{ credential: NewCredential; token: string | null }> {
  const now = tx.clock.now();
  const validFrom = parseTime(input.valid_from, 'valid_from');
  const validUntil = parseTime(input.valid_until, 'valid_until');
  checkValidity(validFrom, validUntil, now);
  if (input.holder_user_id != null) {
    const holder = await tx.db.selectFrom('users').select('id').where('id', '=', input.holder_user_id).executeTakeFirst();
    if (!holder) throw badRequest('INVALID_USER', `No user with id ${input.holder_user_id}. / 持卡人账号不存在。`);
  }
  const common = { holder_user_id: input.holder_user_id ?? null, visitor_name: null, windows: cleanWindows(input.windows), valid_from: validFrom, valid_until: validUntil, doors: input.doors };
  if (input.kind === 'card') {
    const card = parseCardNumber(input.card_number);
    await assertCardFree(tx, card, await credentialSalt(tx.db));
    return { credential: { ...common, kind: 'card', medium: 'card', card_number: card, digest: null }, token: null };
  }
  // A QR code is a bearer secret that cannot be taken back from a phone: it must run out by itself.
  if (!validUntil) throw badRequest('VALID_UNTIL_REQUIRED', 'A QR credential needs valid_until. / 二维码凭证须设置有效期。');
  const token = newToken();
  return { credential: { ...common, kind: 'qr', medium: 'qr', card_number: null, digest: credentialDigest('sha256', await credentialSalt(tx.db), token) }, token };
}

/**
 * Registers a staff card or QR code with its doors and weekly windows. A QR code's token is returned
 * here, once; only its salted digest is kept.
 */
export async function createCredential(ctx: ServiceContext, actor: Actor, input: CredentialInput): Promise<{ credential: CredentialView; token: string | null }> {
  return accessChange(ctx, actor, 'doors.manage', async (tx) => {
    const { credential, token } = await staffCredential(tx, input);
    const { row, agents } = await insertCredential(tx, actor, credential);
    await appendAudit(tx.db, {
      at: row.created_at,
      actor: actor.username,
      action: 'access_credential.create',
      object: `access_credential:${row.id}`,
      result: 'success',
      sourceIp: actor.sourceIp,
      detail: { kind: row.kind, card_number: row.card_number, holder_user_id: row.holder_user_id, doors: credential.doors, windows: credential.windows, valid_until: row.valid_until?.toISOString() ?? null },
    });
    return { result: { credential: present(row, [...credential.doors].sort(), tx.clock.now()), token }, agents };
  });
}

async function visitorCredential(tx: TxContext, input: VisitorPassInput): Promise<{ credential: NewCredential; token: string | null }> {
  const now = tx.clock.now();
  const name = input.visitor_name.trim();
  if (!name) throw badRequest('INVALID_NAME', 'A visitor pass needs the visitor’s name. / 请填写访客姓名。');
  const validUntil = parseTime(input.valid_until, 'valid_until') ?? new Date(now.getTime() + VISITOR_PASS_DEFAULT_MS);
  checkValidity(now, validUntil, now);
  if (validUntil.getTime() - now.getTime() > VISITOR_PASS_MAX_MS) throw badRequest('PASS_TOO_LONG', 'A visitor pass lasts at most 7 days. / 访客通行证有效期最长 7 天。');
  const salt = await credentialSalt(tx.db);
  // Within its validity a pass opens its doors at any hour: the visit itself is the limit.
  const common = { kind: 'visitor_pass' as const, card_number: null, holder_user_id: null, visitor_name: name, windows: ALL_WEEK, valid_from: now, valid_until: validUntil, doors: input.doors };
  if (input.kind === 'card') {
    const card = parseCardNumber(input.card_number);
    await assertCardFree(tx, card, salt);
    return { credential: { ...common, medium: 'card', digest: credentialDigest('sha256', salt, card) }, token: null };
  }
  const token = newToken();
  return { credential: { ...common, medium: 'qr', digest: credentialDigest('sha256', salt, token) }, token };
}

async function issuePass(tx: TxContext, actor: Actor, input: VisitorPassInput): Promise<{ result: { pass: CredentialView; token: string | null }; agents: string[] }> {
  const { credential, token } = await visitorCredential(tx, input);
  const { row, agents } = await insertCredential(tx, actor, credential);
  await appendAudit(tx.db, {
    at: row.created_at,
    actor: actor.username,
    action: 'visitor_pass.issue',
    object: `access_credential:${row.id}`,
    result: 'success',
    sourceIp: actor.sourceIp,
    detail: { visitor_name: row.visitor_name, medium: row.medium, doors: credential.doors, valid_until: row.valid_until!.toISOString() },
  });
  return { result: { pass: present(row, [...credential.doors].sort(), tx.clock.now()), token }, agents };
}

/**
 * Issues a visitor pass (the front desk, the lobby kiosk): a QR code whose token is returned once and
 * never stored, or a visitor card. It opens its doors at any hour until valid_until (24 h by default,
 * 7 days at most); only the visitor's display name is kept.
 */
export async function issueVisitorPass(ctx: ServiceContext, actor: Actor, input: VisitorPassInput): Promise<{ pass: CredentialView; token: string | null }> {
  return accessChange(ctx, actor, 'visitor_passes.issue', (tx) => issuePass(tx, actor, input));
}

/**
 * Issues or revokes a visitor pass inside the caller's transaction, for a module that has itself
 * decided who may let the visitor in or out (the visitors module: a lobby kiosk, a partner admitting
 * a flagged visitor), so the pass and the visit change together or not at all. Call it before the
 * caller's first audit record: the access lock must come before the audit lock.
 */
export const issueVisitorPassIn = (tx: TxContext, actor: Actor, input: VisitorPassInput) => accessChangeIn(tx, actor, (tx) => issuePass(tx, actor, input));
export const revokeVisitorPassIn = (tx: TxContext, actor: Actor, id: number) => accessChangeIn(tx, actor, (tx) => revokeWork(tx, actor, id, true));

async function revoke(ctx: ServiceContext, actor: Actor, id: number, visitorPassOnly: boolean): Promise<CredentialView> {
  return accessChange(ctx, actor, visitorPassOnly ? 'visitor_passes.issue' : 'doors.manage', (tx) => revokeWork(tx, actor, id, visitorPassOnly));
}

async function revokeWork(tx: TxContext, actor: Actor, id: number, visitorPassOnly: boolean): Promise<{ result: CredentialView; agents: string[] }> {
  const row = await tx.db.selectFrom('access_credentials').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row || (visitorPassOnly && row.kind !== 'visitor_pass')) {
    throw visitorPassOnly ? notFound('VISITOR_PASS_NOT_FOUND', `No visitor pass ${id}. / 访客通行证不存在。`) : notFound('CREDENTIAL_NOT_FOUND', `No access credential ${id}. / 门禁凭证不存在。`);
  }
  if (row.revoked_at) throw conflict('ALREADY_REVOKED', `Credential ${id} was revoked at ${row.revoked_at.toISOString()}. / 该凭证已撤销。`);
  const now = tx.clock.now();
  const revoked = await tx.db.updateTable('access_credentials').set({ revoked_at: now }).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
  const doors = (await doorsOf(tx.db, [id])).get(id)!;
  await appendAudit(tx.db, {
    at: now,
    actor: actor.username,
    action: row.kind === 'visitor_pass' ? 'visitor_pass.revoke' : 'access_credential.revoke',
    object: `access_credential:${id}`,
    result: 'success',
    sourceIp: actor.sourceIp,
    detail: { kind: row.kind, card_number: row.card_number, doors },
  });
  const agents = doors.length ? (await tx.db.selectFrom('doors').select('agent_id').where('id', 'in', doors).execute()).map((d) => d.agent_id) : [];
  return { result: present(revoked, doors, now), agents };
}

/** The visitor pass a QR token (as scanned at a kiosk) belongs to, if any: found by its salted digest, as the agents find it. */
export async function findVisitorPassByToken(db: Db, token: string): Promise<number | null> {
  const digest = credentialDigest('sha256', await credentialSalt(db), token.trim().toUpperCase());
  const pass = await db.selectFrom('access_credentials').select('id').where('digest', '=', digest).where('kind', '=', 'visitor_pass').executeTakeFirst();
  return pass?.id ?? null;
}

/** Revokes any credential: the next list of each agent concerned leaves it out. */
export const revokeCredential = (ctx: ServiceContext, actor: Actor, id: number) => revoke(ctx, actor, id, false);
/** Revokes a visitor pass (a visitor who left early, a lost card). */
export const revokeVisitorPass = (ctx: ServiceContext, actor: Actor, id: number) => revoke(ctx, actor, id, true);

// ---------------------------------------------------------------------------------------------
// The demo firm

/** Demo staff who get a card (卡号 1234564x), and which of them may enter the archive room (档案室). */
const DEMO_CARDS: { username: string; card: string; archive: boolean }[] = [
  { username: 'director', card: '12345640', archive: true },
  { username: 'partner.li', card: '12345641', archive: false },
  { username: 'lawyer.zhang', card: '12345642', archive: false },
  { username: 'lawyer.chen', card: '12345643', archive: false },
  { username: 'intern.zhao', card: '12345644', archive: false },
  { username: 'admin.liu', card: '12345645', archive: true },
  { username: 'finance.sun', card: '12345646', archive: false },
  { username: 'it.zhou', card: '12345647', archive: false },
  { username: 'security.wu', card: '12345648', archive: false },
  { username: 'auditor.zheng', card: '12345649', archive: false },
];
const WORKING_HOURS: AccessWindow[] = [{ days: [1, 2, 3, 4, 5], from: '08:00', to: '20:00' }];
const DEMO_AGENT = 'front-desk';

/**
 * The demo firm's doors at the front-desk agent: the main entrance (大门) and the archive room (档案室),
 * a card for each demo employee (working hours, weekdays; the archive room for the director and
 * administrative staff only) and one visitor pass, whose QR token is returned for the demo's printout.
 * Meant for a fresh demo database; on one that has doors already it changes nothing and returns null.
 */
export async function seedDemoDoors(ctx: ServiceContext): Promise<{ visitor_pass_id: number; visitor_token: string } | null> {
  const system = SYSTEM_ACTOR;
  return accessChange(ctx, system, null, async (tx) => {
    if (await tx.db.selectFrom('doors').select('id').limit(1).executeTakeFirst()) return { result: null, agents: [] };
    await tx.db.insertInto('agents').values({ id: DEMO_AGENT, name: '前台设备主机', created_at: tx.clock.now() }).onConflict((oc) => oc.column('id').doNothing()).execute();
    const door = { agent_id: DEMO_AGENT, relay_channel: 1, pulse_ms: 3000, fail_mode: 'fail_secure' as const };
    await insertDoor(tx, system, 'main-entrance', { ...door, name: '大门', lock_device: 'relay-main', readers: ['reader-main'] });
    await insertDoor(tx, system, 'archive-room', { ...door, name: '档案室', lock_device: 'relay-archive', readers: ['reader-archive'] });
    const users = await tx.db.selectFrom('users').select(['id', 'username']).where('username', 'in', DEMO_CARDS.map((c) => c.username)).execute();
    for (const person of DEMO_CARDS) {
      const user = users.find((u) => u.username === person.username);
      if (!user) continue;
      await insertCredential(tx, system, {
        kind: 'card',
        medium: 'card',
        card_number: person.card,
        digest: null,
        holder_user_id: user.id,
        visitor_name: null,
        windows: WORKING_HOURS,
        valid_from: null,
        valid_until: null,
        doors: person.archive ? ['archive-room', 'main-entrance'] : ['main-entrance'],
      });
    }
    const { result } = await issuePass(tx, system, { visitor_name: '【演示】访客 陈先生', doors: ['main-entrance'], kind: 'qr' });
    await appendAudit(tx.db, { at: tx.clock.now(), actor: system.username, action: 'doors.demo_seed', object: `agent:${DEMO_AGENT}`, result: 'success', detail: { doors: 2, cards: users.length, visitor_passes: 1 } });
    return { result: { visitor_pass_id: result.pass.id, visitor_token: result.token! }, agents: [DEMO_AGENT] };
  });
}
