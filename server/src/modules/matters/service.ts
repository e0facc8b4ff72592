import type { Transaction, Updateable } from 'kysely';
import type { Actor, ServiceContext } from '../../context.js';
import type { Database, Matter, MatterStatus, MattersTable, Party, PartyRole } from '../../db/schema.js';
import { parseCalendarDate, shanghaiDate } from '../../calendar.js';
import { badRequest, conflict } from '../../errors.js';
import { appendAudit } from '../audit/service.js';
import { can, requirePermission } from '../auth/roles.js';
import { maskIdNumber } from '../clients/identifiers.js';
import { clientForParty, findVisibleClient, validatePersonId, validateUscc, type PartyKind } from '../clients/service.js';
import { findConflicts, indexParty, lockIntake, normalizeIdNumber, normalizeUscc, type SearchedParty } from '../conflicts/engine.js';
import { normalizeName } from '../conflicts/names.js';
import { recordConflictCheck } from '../conflicts/service.js';
import { notifyLawyerChanged, notifyMatterAccepted } from '../notifications/matter-events.js';
import { announce } from '../realtime/hub.js';
import { assertMatterVisible, matterNotFound, matterVisibleTo } from './access.js';
import { allocateMatterNumber, MATTER_TYPES, parseMatterType } from './numbering.js';

export interface PartyInput {
  role: PartyRole;
  kind: PartyKind;
  name: string;
  id_type?: string | null;
  id_number?: string | null;
  uscc?: string | null;
  legal_representative?: string | null;
  shareholders?: { name: string; id_number?: string | null }[];
  aliases?: string[];
  /** contact data of a client party, kept on its client record */
  phone?: string | null;
  address?: string | null;
  /** an already registered client this party is */
  client_id?: number | null;
}

/** 收案信息 (Z6.3.3.2): what the firm learned and handed over when it accepted the matter. */
export interface Intake {
  facts?: string;
  claims?: string;
  source?: string;
  materials?: string;
  risk_notice_given?: boolean;
}

export interface MatterInput {
  title: string;
  type: string;
  cause?: string | null;
  court?: string | null;
  stage?: string | null;
  fee_arrangement?: string | null;
  fee_amount?: string | null;
  responsible_lawyer_id?: number;
  team_ids?: number[];
  parties: PartyInput[];
  intake?: Intake;
  conflict_check_id?: number;
}

/** Who may be 承办律师: practising roles only. */
const LAWYER_ROLES = new Set(['lawyer', 'partner', 'director']);

interface CleanParty extends PartyInput {
  id_type: string | null;
  id_number: string | null;
  uscc: string | null;
  uscc_check_failed: boolean;
}

function cleanParties(parties: PartyInput[], warnings: string[]): CleanParty[] {
  return parties.map((p) => {
    const name = p.name.trim();
    if (!name) throw badRequest('INVALID_NAME', 'Every party needs a name. / 当事人须填写名称。');
    if (p.kind === 'person' && (p.uscc || p.legal_representative || p.shareholders?.length)) {
      throw badRequest('NOT_AN_ORGANIZATION', `${name}: a natural person has no USCC, legal representative or shareholders. / 自然人不适用统一社会信用代码、法定代表人或股东。`);
    }
    const id = p.kind === 'person' ? validatePersonId(p.id_type, p.id_number) : { idType: null, idNumber: null };
    if (p.kind === 'organization' && p.id_number) {
      throw badRequest('NOT_A_PERSON', `${name}: an organisation is identified by its USCC. / 组织请填写统一社会信用代码。`);
    }
    const { uscc, checkFailed } = p.kind === 'organization' ? validateUscc(p.uscc, warnings) : { uscc: null, checkFailed: false };
    const shareholders = (p.shareholders ?? []).map((s) => ({ name: s.name.trim(), id_number: validatePersonId('resident_id', s.id_number).idNumber }));
    return { ...p, name, id_type: id.idType, id_number: id.idNumber, uscc, uscc_check_failed: checkFailed, shareholders };
  });
}

function asSearched(p: CleanParty): SearchedParty {
  return {
    name: p.name,
    kind: p.kind,
    role: p.role,
    id_number: p.id_number,
    uscc: p.uscc,
    legal_representative: p.legal_representative ?? null,
    shareholders: p.shareholders ?? [],
    aliases: p.aliases ?? [],
  };
}

async function assertActiveUser(trx: Transaction<Database>, id: number, what: string): Promise<{ id: number; role: string; display_name: string }> {
  const user = await trx.selectFrom('users').select(['id', 'role', 'display_name', 'disabled']).where('id', '=', id).executeTakeFirst();
  if (!user || user.disabled) throw badRequest('INVALID_USER', `${what}: no active user with id ${id}. / ${what}：用户不存在或已停用。`);
  return user;
}


/**
 * Opens a matter (收案). It always stands on a recorded conflict check: the one referenced, which must
 * cover every party, or one run here in the same transaction. A check with hits leaves the matter
 * waiting for a reviewer (`pending_conflict_review`); a check decided as a conflict refuses it.
 */
export async function createMatter(ctx: ServiceContext, actor: Actor, input: MatterInput): Promise<{ matter: Matter; warnings: string[] }> {
  const type = parseMatterType(input.type);
  const title = input.title.trim();
  if (!title) throw badRequest('INVALID_TITLE', 'A matter needs a title. / 请填写案件名称。');
  if (!input.parties.some((p) => p.role === 'client')) throw badRequest('CLIENT_REQUIRED', 'A matter needs at least one client party. / 案件须至少有一名委托人。');
  const warnings: string[] = [];
  const parties = cleanParties(input.parties, warnings);
  const responsibleId = input.responsible_lawyer_id ?? actor.userId;
  if (responsibleId === null) throw badRequest('RESPONSIBLE_LAWYER_REQUIRED', 'Name the responsible lawyer. / 请指定承办律师。');
  const searched = parties.map(asSearched);
  const now = ctx.clock.now();
  const matter = await ctx.db.transaction().execute(async (trx) => {
    await lockIntake(trx);
    const hits = input.conflict_check_id === undefined ? await findConflicts(trx, searched) : null;
    const responsible = await assertActiveUser(trx, responsibleId, 'responsible_lawyer_id');
    if (!LAWYER_ROLES.has(responsible.role)) {
      throw badRequest('NOT_A_LAWYER', 'The responsible lawyer must be a practising lawyer (lawyer, partner or director). / 承办律师须为执业律师。');
    }
    const team = [...new Set((input.team_ids ?? []).filter((id) => id !== responsibleId))];
    for (const id of team) await assertActiveUser(trx, id, 'team_ids');

    const check = hits
      ? await recordConflictCheck(ctx, trx, actor, { purpose: 'intake', parties: searched, hits })
      : await referencedCheck(trx, actor, input.conflict_check_id!, parties, now);
    if (check.status === 'conflict') {
      throw conflict('CONFLICT_OF_INTEREST', `Conflict check ${check.id} found a conflict; the matter cannot be opened. / 利益冲突审查结论为存在冲突，不能收案。`);
    }
    const status: MatterStatus = check.status === 'pending_review' ? 'pending_conflict_review' : 'open';
    const number = await allocateMatterNumber(trx, type, now);
    const matter = await trx
      .insertInto('matters')
      .values({
        number,
        title,
        type,
        cause: input.cause?.trim() || null,
        court: input.court?.trim() || null,
        stage: input.stage?.trim() || null,
        status,
        fee_arrangement: input.fee_arrangement ?? null,
        fee_amount: input.fee_amount ?? null,
        responsible_lawyer_id: responsibleId,
        conflict_check_id: check.id,
        intake: JSON.stringify(input.intake ?? {}),
        created_by: actor.userId!,
        created_at: now,
        updated_at: now,
        opened_at: status === 'open' ? now : null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    await trx.updateTable('conflict_checks').set({ matter_id: matter.id }).where('id', '=', check.id).execute();
    await trx
      .insertInto('matter_team')
      .values([{ matter_id: matter.id, user_id: responsibleId, role: 'responsible', added_at: now }, ...team.map((user_id) => ({ matter_id: matter.id, user_id, role: 'member' as const, added_at: now }))])
      .execute();
    for (const p of parties) await insertParty(trx, actor, matter.id, p, now, warnings);
    await appendAudit(trx, {
      at: now,
      actor: actor.username,
      action: 'matter.create',
      object: `matter:${number}`,
      result: 'success',
      sourceIp: actor.sourceIp,
      detail: { id: matter.id, type, status, conflict_check: check.id, parties: parties.length, responsible_lawyer_id: responsibleId },
    });
    await announce(trx, { topic: 'matters', data: { type: 'matter.created', id: matter.id, status } });
    // Z5.4.3: the client hears that the matter was accepted, with the fee and the lawyer to call.
    if (status === 'open') await notifyMatterAccepted(trx, ctx, matter.id);
    if (responsibleId !== actor.userId) await announce(trx, { topic: `user:${responsibleId}`, data: { type: 'matter.assigned', matter_id: matter.id, number } });
    return matter;
  });
  return { matter, warnings };
}

/** A check run beforehand: the actor's own (or any, for a reviewer), unused, and naming every party. */
/** How long an earlier check may stand for an intake: the firm's book changes every day. */
const CHECK_VALID_DAYS = 30;

function coveredBy(p: CleanParty, q: SearchedParty | undefined): boolean {
  if (!q) return false;
  const names = (list: (string | null | undefined)[]) => new Set(list.filter((x): x is string => !!x?.trim()).map(normalizeName));
  const searched = names([...(q.aliases ?? []), q.legal_representative, ...(q.shareholders ?? []).map((s) => s.name)]);
  const needed = names([...(p.aliases ?? []), p.legal_representative, ...(p.shareholders ?? []).map((s) => s.name)]);
  return (
    (p.id_number === null || normalizeIdNumber(q.id_number) === p.id_number) &&
    (p.uscc === null || normalizeUscc(q.uscc) === p.uscc) &&
    [...needed].every((n) => searched.has(n))
  );
}

async function referencedCheck(trx: Transaction<Database>, actor: Actor, id: number, parties: CleanParty[], now: Date) {
  const check = await trx.selectFrom('conflict_checks').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
  const mayUse = check && (check.created_by === actor.userId || (actor.role && can(actor.role, 'conflicts.review')));
  if (!check || !mayUse) throw badRequest('CONFLICT_CHECK_NOT_FOUND', `No conflict check ${id} of yours to use. / 引用的利益冲突检索不存在。`);
  if (check.matter_id !== null) throw conflict('CONFLICT_CHECK_USED', `Conflict check ${id} already belongs to a matter. / 该检索已用于其他案件。`);
  if (now.getTime() - check.created_at.getTime() > CHECK_VALID_DAYS * 86_400_000) {
    throw conflict('CONFLICT_CHECK_STALE', `Conflict check ${id} is older than ${CHECK_VALID_DAYS} days; run a new one. / 引用的检索已超过 ${CHECK_VALID_DAYS} 天，请重新检索。`);
  }
  // Covered means searched with everything the matter now records of the party: its identifier,
  // former names, legal representative and shareholders. A name alone can miss an exact_id hit.
  const checked = new Map((check.query as SearchedParty[]).map((q) => [normalizeName(q.name), q]));
  const missing = parties.filter((p) => !coveredBy(p, checked.get(normalizeName(p.name)))).map((p) => p.name);
  if (missing.length) {
    throw badRequest('CONFLICT_CHECK_INCOMPLETE', `Conflict check ${id} does not cover: ${missing.join(', ')} (with identifiers, former names, representative and shareholders). Run a check with every party. / 引用的检索未完整包含以下当事人：${missing.join('、')}。`);
  }
  return check;
}

async function insertParty(trx: Transaction<Database>, actor: Actor, matterId: number, p: CleanParty, now: Date, warnings: string[]): Promise<Party> {
  let clientId: number | null = null;
  if (p.client_id) {
    // Naming a client by id needs sight of it: a guessed id must not attach someone else's client.
    clientId = (await findVisibleClient(trx, actor, p.client_id)).id;
  } else if (p.role === 'client') {
    clientId = await clientForParty(
      trx,
      actor,
      {
        kind: p.kind,
        name: p.name,
        id_type: p.id_type,
        id_number: p.id_number,
        uscc: p.uscc,
        legal_representative: p.legal_representative,
        phone: p.phone,
        address: p.address,
        aliases: p.aliases,
        members: p.shareholders?.map((s) => ({ relation: 'shareholder' as const, name: s.name, id_number: s.id_number })),
      },
      now,
      warnings,
    );
  }
  const party = await trx
    .insertInto('parties')
    .values({
      matter_id: matterId,
      role: p.role,
      kind: p.kind,
      name: p.name,
      id_type: p.id_type,
      id_number: p.id_number,
      uscc: p.uscc,
      legal_representative: p.legal_representative?.trim() || null,
      aliases: [...new Set((p.aliases ?? []).map((a) => a.trim()).filter(Boolean))],
      shareholders: JSON.stringify(p.shareholders ?? []),
      client_id: clientId,
      created_at: now,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  await indexParty(trx, party.id);
  return party;
}

export interface MatterFilter {
  status?: MatterStatus;
  type?: string;
  q?: string;
  mine?: boolean;
  limit: number;
  offset: number;
}

export async function listMatters(ctx: ServiceContext, actor: Actor, filter: MatterFilter) {
  let q = ctx.db
    .selectFrom('matters as m')
    .innerJoin('users as u', 'u.id', 'm.responsible_lawyer_id')
    .select(['m.id', 'm.number', 'm.title', 'm.type', 'm.status', 'm.cause', 'm.court', 'm.stage', 'm.responsible_lawyer_id', 'u.display_name as responsible_lawyer', 'm.created_at', 'm.updated_at'])
    .select((eb) =>
      eb
        .selectFrom('parties as p')
        .select((e) => e.fn<string[]>('array_agg', [e.ref('p.name')]).as('names'))
        .whereRef('p.matter_id', '=', 'm.id')
        .where('p.role', '=', 'client')
        .as('client_names'),
    )
    .where(matterVisibleTo(actor))
    .orderBy('m.updated_at', 'desc')
    .orderBy('m.id', 'desc')
    .limit(filter.limit)
    .offset(filter.offset);
  if (filter.status) q = q.where('m.status', '=', filter.status);
  if (filter.type) q = q.where('m.type', '=', parseMatterType(filter.type));
  if (filter.mine) {
    const userId = actor.userId ?? -1;
    q = q.where((eb) => eb.exists(eb.selectFrom('matter_team as t').select('t.user_id').whereRef('t.matter_id', '=', 'm.id').where('t.user_id', '=', userId)));
  }
  if (filter.q?.trim()) {
    const like = `%${filter.q.trim().replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
    q = q.where((eb) => eb.or([eb('m.title', 'like', like), eb('m.number', 'like', like), eb('m.cause', 'like', like)]));
  }
  const rows = await q.execute();
  return rows.map((r) => ({ ...r, type_label: MATTER_TYPES[r.type as keyof typeof MATTER_TYPES]?.zh ?? r.type, client_names: r.client_names ?? [], created_at: r.created_at.toISOString(), updated_at: r.updated_at.toISOString() }));
}

export async function getMatter(ctx: ServiceContext, actor: Actor, id: number) {
  await assertMatterVisible(ctx.db, actor, id);
  const matter = await ctx.db.selectFrom('matters').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const [parties, team, check] = await Promise.all([
    ctx.db.selectFrom('parties').selectAll().where('matter_id', '=', id).orderBy('id').execute(),
    ctx.db.selectFrom('matter_team as t').innerJoin('users as u', 'u.id', 't.user_id').select(['t.user_id', 't.role', 'u.display_name', 'u.office', 'u.department']).where('t.matter_id', '=', id).orderBy('t.added_at').execute(),
    ctx.db.selectFrom('conflict_checks').select(['id', 'status', 'hit_count']).where('id', '=', matter.conflict_check_id).executeTakeFirstOrThrow(),
  ]);
  return { matter, parties, team, check };
}

/** A party as shown: ID numbers masked (GB/T 35273); only the audited unmask route reveals them. */
export function presentParty(p: Party, unmasked = false) {
  return {
    id: p.id,
    role: p.role,
    kind: p.kind,
    name: p.name,
    id_type: p.id_type,
    id_number: unmasked ? p.id_number : maskIdNumber(p.id_number),
    uscc: p.uscc,
    legal_representative: p.legal_representative,
    client_id: p.client_id,
  };
}

export function presentMatter(detail: Awaited<ReturnType<typeof getMatter>>) {
  const m = detail.matter;
  return {
    id: m.id,
    number: m.number,
    title: m.title,
    type: m.type,
    type_label: MATTER_TYPES[m.type as keyof typeof MATTER_TYPES]?.zh ?? m.type,
    cause: m.cause,
    court: m.court,
    stage: m.stage,
    status: m.status,
    fee_arrangement: m.fee_arrangement,
    fee_amount: m.fee_amount,
    responsible_lawyer_id: m.responsible_lawyer_id,
    intake: m.intake as Intake,
    client_informed: m.client_informed_at
      ? { at: m.client_informed_at.toISOString(), by: m.client_informed_by, method: m.client_informed_method, note: m.client_informed_note }
      : null,
    closing_summary: m.closing_summary,
    conflict_check: detail.check,
    parties: detail.parties.map((p) => presentParty(p)),
    team: detail.team,
    created_by: m.created_by,
    created_at: m.created_at.toISOString(),
    updated_at: m.updated_at.toISOString(),
    opened_at: m.opened_at?.toISOString() ?? null,
    closed_at: m.closed_at?.toISOString() ?? null,
  };
}

export interface MatterChanges {
  title?: string;
  cause?: string | null;
  court?: string | null;
  stage?: string | null;
  fee_arrangement?: string | null;
  fee_amount?: string | null;
  status?: 'open' | 'suspended' | 'closed';
  closing_summary?: string | null;
  responsible_lawyer_id?: number;
}

/** Where a matter may go from each status by an edit; review decisions move it out of pending. */
const TRANSITIONS: Record<MatterStatus, MatterStatus[]> = {
  pending_conflict_review: [],
  declined: [],
  open: ['suspended', 'closed'],
  suspended: ['open', 'closed'],
  closed: ['open'],
};

export async function updateMatter(ctx: ServiceContext, actor: Actor, id: number, changes: MatterChanges): Promise<void> {
  await assertMatterVisible(ctx.db, actor, id);
  const now = ctx.clock.now();
  await ctx.db.transaction().execute(async (trx) => {
    const before = await trx.selectFrom('matters').selectAll().where('id', '=', id).forUpdate().executeTakeFirstOrThrow();
    const set: Updateable<MattersTable> = { updated_at: now };
    const diff: Record<string, { from: unknown; to: unknown }> = {};
    for (const key of ['title', 'cause', 'court', 'stage', 'fee_arrangement', 'fee_amount', 'closing_summary'] as const) {
      const value = changes[key];
      if (value === undefined) continue;
      const next = typeof value === 'string' ? value.trim() || null : value;
      if (key === 'title' && !next) throw badRequest('INVALID_TITLE', 'A matter needs a title. / 请填写案件名称。');
      if (next !== before[key]) {
        Object.assign(set, { [key]: next });
        diff[key] = { from: before[key], to: next };
      }
    }
    if (changes.status && changes.status !== before.status) {
      if (!TRANSITIONS[before.status].includes(changes.status)) {
        throw conflict('INVALID_STATUS_CHANGE', `A matter cannot go from ${before.status} to ${changes.status}. / 案件状态不能由 ${before.status} 变更为 ${changes.status}。`);
      }
      set.status = changes.status;
      if (changes.status === 'closed') set.closed_at = now;
      if (before.status === 'closed') set.closed_at = null;
      diff.status = { from: before.status, to: changes.status };
    }
    if (changes.responsible_lawyer_id !== undefined && changes.responsible_lawyer_id !== before.responsible_lawyer_id) {
      const lawyer = await assertActiveUser(trx, changes.responsible_lawyer_id, 'responsible_lawyer_id');
      if (!LAWYER_ROLES.has(lawyer.role)) throw badRequest('NOT_A_LAWYER', 'The responsible lawyer must be a practising lawyer. / 承办律师须为执业律师。');
      set.responsible_lawyer_id = lawyer.id;
      diff.responsible_lawyer_id = { from: before.responsible_lawyer_id, to: lawyer.id };
      // The former lawyer stays on the team: the file's history is theirs too.
      await trx.updateTable('matter_team').set({ role: 'member' }).where('matter_id', '=', id).where('role', '=', 'responsible').execute();
      await trx
        .insertInto('matter_team')
        .values({ matter_id: id, user_id: lawyer.id, role: 'responsible', added_at: now })
        .onConflict((oc) => oc.columns(['matter_id', 'user_id']).doUpdateSet({ role: 'responsible' }))
        .execute();
      await announce(trx, { topic: `user:${lawyer.id}`, data: { type: 'matter.assigned', matter_id: id, number: before.number } });
    }
    if (Object.keys(diff).length === 0) return;
    await trx.updateTable('matters').set(set).where('id', '=', id).execute();
    // Z5.4.3: a client already told of the acceptance is told promptly who handles the matter now.
    if (diff.responsible_lawyer_id && before.opened_at !== null) await notifyLawyerChanged(trx, ctx, id, before.responsible_lawyer_id);
    const action = diff.status ? 'matter.status_change' : diff.responsible_lawyer_id ? 'matter.reassign' : 'matter.update';
    await appendAudit(trx, { at: now, actor: actor.username, action, object: `matter:${before.number}`, result: 'success', sourceIp: actor.sourceIp, detail: diff });
    await announce(trx, { topic: 'matters', data: { type: 'matter.updated', id, status: set.status ?? before.status } });
  });
}

export async function addTeamMember(ctx: ServiceContext, actor: Actor, id: number, userId: number): Promise<void> {
  await assertMatterVisible(ctx.db, actor, id);
  const now = ctx.clock.now();
  await ctx.db.transaction().execute(async (trx) => {
    await assertActiveUser(trx, userId, 'user_id');
    const added = await trx.insertInto('matter_team').values({ matter_id: id, user_id: userId, role: 'member', added_at: now }).onConflict((oc) => oc.doNothing()).returning('user_id').executeTakeFirst();
    if (!added) return;
    const m = await trx.updateTable('matters').set({ updated_at: now }).where('id', '=', id).returning('number').executeTakeFirstOrThrow();
    await appendAudit(trx, { at: now, actor: actor.username, action: 'matter.team_add', object: `matter:${m.number}`, result: 'success', sourceIp: actor.sourceIp, detail: { user_id: userId } });
    await announce(trx, { topic: `user:${userId}`, data: { type: 'matter.assigned', matter_id: id, number: m.number } });
  });
}

export async function removeTeamMember(ctx: ServiceContext, actor: Actor, id: number, userId: number): Promise<void> {
  await assertMatterVisible(ctx.db, actor, id);
  const now = ctx.clock.now();
  await ctx.db.transaction().execute(async (trx) => {
    const member = await trx.selectFrom('matter_team').select('role').where('matter_id', '=', id).where('user_id', '=', userId).executeTakeFirst();
    if (!member) throw badRequest('NOT_ON_TEAM', `User ${userId} is not on this matter's team. / 该用户不在案件团队中。`);
    if (member.role === 'responsible') throw conflict('RESPONSIBLE_LAWYER', 'Name another responsible lawyer first. / 请先更换承办律师。');
    await trx.deleteFrom('matter_team').where('matter_id', '=', id).where('user_id', '=', userId).execute();
    const m = await trx.updateTable('matters').set({ updated_at: now }).where('id', '=', id).returning('number').executeTakeFirstOrThrow();
    await appendAudit(trx, { at: now, actor: actor.username, action: 'matter.team_remove', object: `matter:${m.number}`, result: 'success', sourceIp: actor.sourceIp, detail: { user_id: userId } });
  });
}

/**
 * A party joins a running matter (a third party, a new defendant): it gets its own recorded check,
 * against every other matter, before it is added.
 */
export async function addParty(ctx: ServiceContext, actor: Actor, id: number, input: PartyInput) {
  await assertMatterVisible(ctx.db, actor, id);
  const warnings: string[] = [];
  const [party] = cleanParties([input], warnings);
  const searched = [asSearched(party!)];
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    await lockIntake(trx);
    const hits = await findConflicts(trx, searched, { excludeMatterId: id });
    const m = await trx.updateTable('matters').set({ updated_at: now }).where('id', '=', id).returning('number').executeTakeFirstOrThrow();
    const check = await recordConflictCheck(ctx, trx, actor, { purpose: 'new_party', parties: searched, hits, matterId: id });
    const row = await insertParty(trx, actor, id, party!, now, warnings);
    await appendAudit(trx, { at: now, actor: actor.username, action: 'matter.party_add', object: `matter:${m.number}`, result: 'success', sourceIp: actor.sourceIp, detail: { party_id: row.id, role: row.role, conflict_check: check.id } });
    return { party: row, check, warnings };
  });
}

/** Reveals a party's full ID number to a role that may see it; audited each time. */
export async function unmaskParty(ctx: ServiceContext, actor: Actor, matterId: number, partyId: number, reason: string): Promise<Party> {
  requirePermission(actor, 'personal_data.unmask');
  await assertMatterVisible(ctx.db, actor, matterId);
  const party = await ctx.db.selectFrom('parties').selectAll().where('id', '=', partyId).where('matter_id', '=', matterId).executeTakeFirst();
  if (!party) throw matterNotFound(matterId);
  await ctx.db.transaction().execute((trx) =>
    appendAudit(trx, { at: ctx.clock.now(), actor: actor.username, action: 'party.unmask', object: `party:${partyId}`, result: 'success', sourceIp: actor.sourceIp, detail: { matter_id: matterId, reason } }),
  );
  return party;
}

export interface WorkRecordInput {
  kind: 'work_log' | 'working_paper' | 'intake_note';
  title: string;
  content: string;
  hours?: string | null;
  occurred_on?: string;
  corrects_id?: number | null;
}

/** 工作记录/工作底稿 (Z6.3.3.2): append-only; a correction is a new record naming the one it corrects. */
export async function addWorkRecord(ctx: ServiceContext, actor: Actor, matterId: number, input: WorkRecordInput) {
  await assertMatterVisible(ctx.db, actor, matterId);
  const now = ctx.clock.now();
  const today = shanghaiDate(now);
  const occurredOn = input.occurred_on === undefined ? today : parseCalendarDate(input.occurred_on, 'occurred_on');
  if (occurredOn > today) throw badRequest('FUTURE_DATE', 'Work cannot be recorded for a future day. / 工作日期不能晚于今天。');
  return ctx.db.transaction().execute(async (trx) => {
    if (input.corrects_id) {
      const target = await trx.selectFrom('work_records').select('id').where('id', '=', input.corrects_id).where('matter_id', '=', matterId).executeTakeFirst();
      if (!target) throw badRequest('INVALID_CORRECTION', `Record ${input.corrects_id} is not a record of this matter. / 被更正的记录不属于本案。`);
    }
    const m = await trx.updateTable('matters').set({ updated_at: now }).where('id', '=', matterId).returning(['number', 'status']).executeTakeFirstOrThrow();
    if (m.status === 'declined') throw conflict('MATTER_DECLINED', 'This matter was declined; nothing more is recorded on it. / 该案件已拒绝收案。');
    const record = await trx
      .insertInto('work_records')
      .values({ matter_id: matterId, kind: input.kind, title: input.title.trim(), content: input.content, hours: input.hours ?? null, occurred_on: occurredOn, corrects_id: input.corrects_id ?? null, author_id: actor.userId!, created_at: now })
      .returningAll()
      .executeTakeFirstOrThrow();
    await appendAudit(trx, { at: now, actor: actor.username, action: 'matter.record_add', object: `matter:${m.number}`, result: 'success', sourceIp: actor.sourceIp, detail: { record_id: record.id, kind: record.kind } });
    return record;
  });
}

export async function listWorkRecords(ctx: ServiceContext, actor: Actor, matterId: number) {
  await assertMatterVisible(ctx.db, actor, matterId);
  return ctx.db
    .selectFrom('work_records as w')
    .innerJoin('users as u', 'u.id', 'w.author_id')
    .select(['w.id', 'w.kind', 'w.title', 'w.content', 'w.hours', 'w.occurred_on', 'w.corrects_id', 'w.author_id', 'u.display_name as author', 'w.created_at'])
    .where('w.matter_id', '=', matterId)
    .orderBy('w.created_at', 'desc')
    .orderBy('w.id', 'desc')
    .execute();
}

/** Records that the client was told of the acceptance and of who handles the matter (Z6.3.3.2, Z5.4.3). */
export async function recordClientInformed(ctx: ServiceContext, actor: Actor, matterId: number, input: { method: string; informed_at?: string; note?: string | null }) {
  await assertMatterVisible(ctx.db, actor, matterId);
  const now = ctx.clock.now();
  const at = input.informed_at ? new Date(input.informed_at) : now;
  if (Number.isNaN(at.getTime()) || at > now || at.getUTCFullYear() < 1900) throw badRequest('INVALID_TIME', 'informed_at must be a past date-time. / 告知时间不正确。');
  await ctx.db.transaction().execute(async (trx) => {
    const m = await trx
      .updateTable('matters')
      .set({ client_informed_at: at, client_informed_by: actor.userId, client_informed_method: input.method, client_informed_note: input.note?.trim() || null, updated_at: now })
      .where('id', '=', matterId)
      .returning('number')
      .executeTakeFirstOrThrow();
    await appendAudit(trx, { at: now, actor: actor.username, action: 'matter.client_informed', object: `matter:${m.number}`, result: 'success', sourceIp: actor.sourceIp, detail: { method: input.method, informed_at: at.toISOString() } });
  });
}
