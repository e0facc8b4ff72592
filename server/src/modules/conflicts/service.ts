import { createHash } from 'node:crypto';
import type { Transaction } from 'kysely';
import type { Actor, ServiceContext } from '../../context.js';
import type { Db } from '../../db/index.js';
import type { ConflictCheckRow, Database } from '../../db/schema.js';
import { badRequest, conflict, forbidden, notFound } from '../../errors.js';
import { appendAudit, canonicalJson } from '../audit/service.js';
import { may } from '../auth/roles.js';
import { maskIdNumber, maskName } from '../clients/identifiers.js';
import { visibleMatterIds } from '../matters/access.js';
import { announce } from '../realtime/hub.js';
import { notifyMatterAccepted } from '../notifications/matter-events.js';
import { findConflicts, type ConflictHit, type SearchedParty } from './engine.js';

export type Decision = 'clear' | 'conflict' | 'waived';

/** The client's recorded consent that lets a reviewer waive a conflict (律师执业行为规范: 书面同意). */
export interface Consent {
  given_by: string;
  given_on: string;
  method: 'written' | 'electronic' | 'in_person';
  reference: string;
}

export interface ConflictCheck {
  id: number;
  purpose: ConflictCheckRow['purpose'];
  status: ConflictCheckRow['status'];
  matter_id: number | null;
  created_by: number;
  created_at: string;
  query: SearchedParty[];
  hits: ShownHit[];
  hit_count: number;
  /** hits the viewer may not see in detail: they know the conflict exists, a reviewer sees the rest */
  redacted_count: number;
  report_hash: string;
  decided_by: number | null;
  decided_at: string | null;
  decision_note: string | null;
  consent: Consent | null;
}

export type ShownHit = Omit<ConflictHit, 'matter_id' | 'matter_number' | 'matter_title' | 'responsible_lawyer' | 'party_id'> & {
  matter_id: number | null;
  matter_number: string | null;
  matter_title: string | null;
  responsible_lawyer: string | null;
  party_id: number | null;
  redacted: boolean;
};

/**
 * Runs a check and records it in the caller's transaction. The report is fixed from here on: the
 * table refuses changes to query and hits, and the hash lets a printout be compared with the record.
 * With no hit it is clear at once; any hit sends it to a reviewer.
 */
export async function recordConflictCheck(
  ctx: ServiceContext,
  trx: Transaction<Database>,
  actor: Actor,
  input: { purpose: ConflictCheckRow['purpose']; parties: SearchedParty[]; hits: ConflictHit[]; matterId?: number | null },
): Promise<ConflictCheckRow> {
  const now = ctx.clock.now();
  const createdBy = actor.userId;
  if (createdBy === null) throw forbidden('FORBIDDEN', 'A conflict check needs a signed-in user. / 需要登录用户。');
  const reportHash = createHash('sm3')
    .update(canonicalJson({ query: input.parties, hits: input.hits, created_at: now.toISOString(), created_by: createdBy, purpose: input.purpose }))
    .digest('hex');
  const clear = input.hits.length === 0;
  const row = await trx
    .insertInto('conflict_checks')
    .values({
      purpose: input.purpose,
      query: JSON.stringify(input.parties),
      hits: JSON.stringify(input.hits),
      hit_count: input.hits.length,
      report_hash: reportHash,
      created_by: createdBy,
      created_at: now,
      matter_id: input.matterId ?? null,
      status: clear ? 'clear' : 'pending_review',
      decided_at: clear ? now : null,
      decision_note: clear ? 'No hits: cleared automatically. / 未发现冲突，自动通过。' : null,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  await appendAudit(trx, {
    at: now,
    actor: actor.username,
    action: 'conflict_check.run',
    object: `conflict_check:${row.id}`,
    result: 'success',
    sourceIp: actor.sourceIp,
    detail: { purpose: input.purpose, parties: input.parties.length, hits: input.hits.length, status: row.status },
  });
  if (!clear) await announce(trx, { topic: 'conflicts', data: { type: 'conflict_check.pending', id: row.id } });
  return row;
}

/** An ad hoc check (or one run before opening a matter that will reference it). */
export async function runConflictCheck(ctx: ServiceContext, actor: Actor, parties: SearchedParty[]): Promise<ConflictCheckRow> {
  if (parties.length === 0) throw badRequest('NO_PARTIES', 'Name at least one party to check. / 请至少填写一个当事人。');
  const hits = await findConflicts(ctx.db, parties);
  return ctx.db.transaction().execute((trx) => recordConflictCheck(ctx, trx, actor, { purpose: 'ad_hoc', parties, hits }));
}

const checkNotFound = (id: number) => notFound('CONFLICT_CHECK_NOT_FOUND', `No conflict check with id ${id}. / 利益冲突检索记录不存在。`);

/**
 * Who may read a check: its author, the reviewers, and whoever may see the matter it was run for.
 * Anyone else gets the same 404 as for a check that does not exist.
 */
export async function findConflictCheck(ctx: ServiceContext, actor: Actor, id: number): Promise<ConflictCheckRow> {
  const row = await ctx.db.selectFrom('conflict_checks').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw checkNotFound(id);
  if (row.created_by === actor.userId || isReviewer(actor)) return row;
  if (row.matter_id !== null && (await visibleMatterIds(ctx.db, actor, [row.matter_id])).has(row.matter_id)) return row;
  throw checkNotFound(id);
}

function isReviewer(actor: Actor): boolean {
  return may(actor, 'conflicts.review');
}

export async function listConflictChecks(ctx: ServiceContext, actor: Actor, filter: { status?: ConflictCheckRow['status']; limit: number }): Promise<ConflictCheckRow[]> {
  let q = ctx.db.selectFrom('conflict_checks').selectAll().orderBy('id', 'desc').limit(filter.limit);
  if (filter.status) q = q.where('status', '=', filter.status);
  if (!isReviewer(actor)) q = q.where('created_by', '=', actor.userId ?? -1);
  return q.execute();
}

/**
 * The check as this viewer may see it. Hits on matters the viewer cannot see stay in the list, so a
 * conflict is never hidden, but lose what identifies the matter and the party (Z6.3.3.4, Z5.3).
 * Reviewers see everything: deciding needs it.
 */
export async function presentConflictCheck(db: Db, actor: Actor, row: ConflictCheckRow): Promise<ConflictCheck> {
  const hits = row.hits as ConflictHit[];
  // A reviewer sees everything on checks others ran; on their own, the same as anyone, or a partner
  // could search every matter of the firm through ad hoc checks.
  const reviewing = isReviewer(actor) && row.created_by !== actor.userId;
  const visible = reviewing ? null : await visibleMatterIds(db, actor, [...new Set(hits.map((h) => h.matter_id))]);
  const shown: ShownHit[] = hits.map((h) =>
    !visible || visible.has(h.matter_id)
      ? { ...h, redacted: false }
      : {
          ...h,
          matter_id: null,
          matter_number: null,
          matter_title: null,
          responsible_lawyer: null,
          party_id: null,
          party_name: maskName(h.party_name) ?? '',
          matched_name: maskName(h.matched_name) ?? '',
          // A related name may come from the client register rather than from what the user typed.
          query_name: h.query_via ? (maskName(h.query_name) ?? '') : h.query_name,
          redacted: true,
        },
  );
  return {
    id: row.id,
    purpose: row.purpose,
    status: row.status,
    matter_id: row.matter_id,
    created_by: row.created_by,
    created_at: row.created_at.toISOString(),
    query: (row.query as SearchedParty[]).map(maskQueryParty),
    hits: shown,
    hit_count: row.hit_count,
    redacted_count: shown.filter((h) => h.redacted).length,
    report_hash: row.report_hash,
    decided_by: row.decided_by,
    decided_at: row.decided_at?.toISOString() ?? null,
    decision_note: row.decision_note,
    consent: (row.consent as Consent | null) ?? null,
  };
}

/** The searched parties as echoed back: their ID numbers masked like everywhere else (GB/T 35273). */
function maskQueryParty(p: SearchedParty): SearchedParty {
  return {
    ...p,
    ...(p.id_number ? { id_number: maskIdNumber(p.id_number) } : {}),
    ...(p.shareholders ? { shareholders: p.shareholders.map((s) => (s.id_number ? { ...s, id_number: maskIdNumber(s.id_number) } : s)) } : {}),
  };
}

/** Whether the user created the matter, is its responsible lawyer or is on its team. */
async function worksOnMatter(trx: Transaction<Database>, matterId: number, userId: number | null): Promise<boolean> {
  const row = await trx
    .selectFrom('matters as m')
    .select('m.id')
    .where('m.id', '=', matterId)
    .where((eb) =>
      eb.or([
        eb('m.created_by', '=', userId ?? -1),
        eb('m.responsible_lawyer_id', '=', userId ?? -1),
        eb.exists(eb.selectFrom('matter_team as t').select('t.user_id').whereRef('t.matter_id', '=', 'm.id').where('t.user_id', '=', userId ?? -1)),
      ]),
    )
    .executeTakeFirst();
  return !!row;
}

/**
 * A reviewer's decision, final once made. Someone else than the check's author decides (four eyes);
 * a waiver needs the client's recorded consent. A matter waiting on this check opens on clear or
 * waived and is declined on conflict.
 */
export async function decideConflictCheck(ctx: ServiceContext, actor: Actor, id: number, input: { decision: Decision; note: string; consent?: Consent }): Promise<ConflictCheckRow> {
  if (input.decision === 'waived' && !input.consent) {
    throw badRequest('CONSENT_REQUIRED', 'Waiving a conflict needs the client’s recorded consent. / 豁免利益冲突须记录委托人的同意。');
  }
  if (input.decision !== 'waived' && input.consent) {
    throw badRequest('CONSENT_NOT_EXPECTED', 'Consent is recorded only with a waiver. / 仅豁免时记录委托人同意。');
  }
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    const row = await trx.selectFrom('conflict_checks').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
    if (!row) throw checkNotFound(id);
    if (row.status !== 'pending_review') {
      throw conflict('ALREADY_DECIDED', `This check was already decided (${row.status}). / 该检索已有审查结论。`);
    }
    if (row.created_by === actor.userId || (row.matter_id !== null && (await worksOnMatter(trx, row.matter_id, actor.userId)))) {
      throw forbidden('SELF_REVIEW', 'Another reviewer must decide on a check you ran or on a matter you work on. / 不能审查本人发起的检索或本人承办的案件。');
    }
    const decided = await trx
      .updateTable('conflict_checks')
      .set({ status: input.decision, decided_by: actor.userId, decided_at: now, decision_note: input.note, consent: input.consent ? JSON.stringify(input.consent) : null })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await appendAudit(trx, {
      at: now,
      actor: actor.username,
      action: 'conflict_check.decide',
      object: `conflict_check:${id}`,
      result: 'success',
      sourceIp: actor.sourceIp,
      detail: { decision: input.decision, consent: input.consent ?? null },
    });
    if (row.matter_id !== null) {
      // An intake check opens or declines its waiting matter. A conflict found on a party added later
      // suspends the running matter: the firm must now decide whether it may go on acting.
      const matter =
        row.purpose === 'new_party'
          ? input.decision === 'conflict'
            ? await trx
                .updateTable('matters')
                .set({ status: 'suspended', updated_at: now })
                .where('id', '=', row.matter_id)
                .where('status', '=', 'open')
                .returning(['id', 'number', 'status'])
                .executeTakeFirst()
            : undefined
          : await trx
              .updateTable('matters')
              .set(input.decision === 'conflict' ? { status: 'declined', updated_at: now } : { status: 'open', opened_at: now, updated_at: now })
              .where('id', '=', row.matter_id)
              .where('status', '=', 'pending_conflict_review')
              .where('conflict_check_id', '=', id)
              .returning(['id', 'number', 'status'])
              .executeTakeFirst();
      if (matter) {
        await appendAudit(trx, { at: now, actor: actor.username, action: 'matter.status_change', object: `matter:${matter.number}`, result: 'success', sourceIp: actor.sourceIp, detail: { to: matter.status, conflict_check: id } });
        await announce(trx, { topic: 'matters', data: { type: 'matter.status', id: matter.id, status: matter.status } });
        // Z5.4.3: a matter accepted after review tells its client as one accepted at once does.
        if (matter.status === 'open') await notifyMatterAccepted(trx, ctx, matter.id);
      }
    }
    await announce(trx, { topic: `user:${row.created_by}`, data: { type: 'conflict_check.decided', id, decision: input.decision } });
    return decided;
  });
}
