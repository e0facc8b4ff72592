import { createHash } from 'node:crypto';
import { SYSTEM_ACTOR, type Actor, type ServiceContext } from '../../context.js';
import type { Db } from '../../db/index.js';
import { badRequest, conflict, forbidden, notFound } from '../../errors.js';
import type { Job } from '../../scheduler.js';
import { fileToArchive } from '../archive/filing.js';
import { appendAudit, canonicalJson } from '../audit/service.js';
import { may, requirePermission } from '../auth/roles.js';
import { maskName } from '../clients/identifiers.js';
import { matterVisibleTo } from '../matters/access.js';
import { notify } from '../notifications/service.js';
import { portalOwnsMatter, type PortalClient } from '../portal/service.js';
import { announce } from '../realtime/hub.js';
import { DIMENSIONS, type Dimension, type EvaluationRow } from './tables.js';

/**
 * Client evaluation after service (T/ZSM 0038-2024 Z5.6). When a matter is closed its clients are
 * invited once, by a notice that leads to the portal's rating page; each client may rate the matter
 * once, on the six dimensions of the standard, and comment. A rating counts for the lawyer who was
 * responsible when it was given; the per-lawyer aggregates feed the lawyer record (Z6.2.1.6). The
 * evaluation is filed into the matter archive with its hash (Z6.3.5).
 */

export const DIMENSION_LABELS: Record<Dimension, string> = {
  functionality: '功能性',
  timeliness: '时间性',
  security: '安全性',
  economy: '经济性',
  comfort: '舒适性',
  civility: '文明性',
};

/** Matters closed longer ago than this when the job first sees them get no invitation (e.g. closed before this feature). */
const INVITE_WINDOW_DAYS = 30;
const INVITE_BATCH = 500;
const COMMENT_MAX = 2000;
const DAY_MS = 86_400_000;

export type Scores = Record<Dimension, number>;
export interface EvaluationInput extends Scores {
  comment?: string | null;
}

/** Portal routes use this for a matter that is not the client's, or not shown in the portal. */
const matterNotFound = (id: number) => notFound('MATTER_NOT_FOUND', `No matter ${id} of yours. / 未找到您的该案件。`);

// ---------------------------------------------------------------------------------------------
// The client's side (portal)

interface PortalMatter {
  id: number;
  number: string;
  title: string;
  status: string;
  lawyer_name: string;
  closed_at: string | null;
}

async function ownMatter(ctx: ServiceContext, portal: PortalClient, matterId: number): Promise<PortalMatter & { responsible_lawyer_id: number }> {
  if (!(await portalOwnsMatter(ctx, portal, matterId))) throw matterNotFound(matterId);
  const m = await ctx.db
    .selectFrom('matters as m')
    .innerJoin('users as u', 'u.id', 'm.responsible_lawyer_id')
    .select(['m.id', 'm.number', 'm.title', 'm.status', 'm.closed_at', 'm.responsible_lawyer_id', 'u.display_name as lawyer_name'])
    .where('m.id', '=', matterId)
    .executeTakeFirst();
  // The portal shows accepted matters only; an intake still in review or declined is not the client's matter yet.
  if (!m || !['open', 'suspended', 'closed'].includes(m.status)) throw matterNotFound(matterId);
  return { ...m, closed_at: m.closed_at?.toISOString() ?? null };
}

export interface ClientEvaluation extends Scores {
  comment: string | null;
  submitted_at: string;
}

const clientView = (r: EvaluationRow): ClientEvaluation => ({
  ...(Object.fromEntries(DIMENSIONS.map((d) => [d, r[d]])) as Scores),
  comment: r.comment,
  submitted_at: r.submitted_at.toISOString(),
});

/** The client's closed matters, each with whether it has been rated: the portal's list of ratings to give. */
export async function portalEvaluationList(ctx: ServiceContext, portal: PortalClient): Promise<{ matter: Omit<PortalMatter, 'status'>; evaluated_at: string | null }[]> {
  const rows = await ctx.db
    .selectFrom('matters as m')
    .innerJoin('users as u', 'u.id', 'm.responsible_lawyer_id')
    .leftJoin('evaluations as e', (join) => join.onRef('e.matter_id', '=', 'm.id').on('e.client_id', '=', portal.clientId))
    .select(['m.id', 'm.number', 'm.title', 'm.closed_at', 'u.display_name as lawyer_name', 'e.submitted_at'])
    .where('m.status', '=', 'closed')
    .where((eb) => eb.exists(eb.selectFrom('parties as p').select('p.id').whereRef('p.matter_id', '=', 'm.id').where('p.role', '=', 'client').where('p.client_id', '=', portal.clientId)))
    .orderBy('m.closed_at', 'desc')
    .orderBy('m.id', 'desc')
    .execute();
  return rows.map((r) => ({
    matter: { id: r.id, number: r.number, title: r.title, lawyer_name: r.lawyer_name, closed_at: r.closed_at?.toISOString() ?? null },
    evaluated_at: r.submitted_at?.toISOString() ?? null,
  }));
}

/** The rating page of one of the client's matters: the matter, the dimensions, and the rating if given. */
export async function portalEvaluationView(ctx: ServiceContext, portal: PortalClient, matterId: number) {
  const { responsible_lawyer_id: _lawyer, ...matter } = await ownMatter(ctx, portal, matterId);
  const row = await ctx.db.selectFrom('evaluations').selectAll().where('matter_id', '=', matterId).where('client_id', '=', portal.clientId).executeTakeFirst();
  return {
    matter,
    dimensions: DIMENSIONS.map((id) => ({ id, label: DIMENSION_LABELS[id] })),
    can_evaluate: matter.status === 'closed' && !row,
    evaluation: row ? clientView(row) : null,
  };
}

function cleanInput(input: EvaluationInput): { scores: Scores; comment: string | null } {
  for (const d of DIMENSIONS) {
    const v = input[d];
    if (!Number.isInteger(v) || v < 1 || v > 5) {
      throw badRequest('INVALID_SCORE', `${d} (${DIMENSION_LABELS[d]}) must be a whole number from 1 to 5. / ${DIMENSION_LABELS[d]}须为1–5分。`);
    }
  }
  const comment = input.comment?.trim() || null;
  if (comment && comment.length > COMMENT_MAX) throw badRequest('COMMENT_TOO_LONG', `The comment is limited to ${COMMENT_MAX} characters. / 评价意见不超过${COMMENT_MAX}字。`);
  return { scores: Object.fromEntries(DIMENSIONS.map((d) => [d, input[d]])) as Scores, comment };
}

/**
 * The client rates one of its own closed matters, once. The rating is kept with its hash, filed into
 * the matter archive and audited in one transaction.
 */
export async function submitEvaluation(ctx: ServiceContext, portal: PortalClient, actor: Actor, matterId: number, input: EvaluationInput): Promise<ClientEvaluation> {
  const { scores, comment } = cleanInput(input);
  const matter = await ownMatter(ctx, portal, matterId);
  if (matter.status !== 'closed') {
    throw conflict('MATTER_NOT_CLOSED', 'This matter is not closed yet; you can rate the service once it is. / 案件尚未办结，办结后方可评价。');
  }
  const now = ctx.clock.now();
  const sha256 = createHash('sha256')
    .update(canonicalJson({ matter_id: matterId, client_id: portal.clientId, lawyer_id: matter.responsible_lawyer_id, ...scores, comment, submitted_at: now.toISOString() }))
    .digest('hex');
  const row = await ctx.db.transaction().execute(async (trx) => {
    const row = await trx
      .insertInto('evaluations')
      .values({ matter_id: matterId, client_id: portal.clientId, lawyer_id: matter.responsible_lawyer_id, ...scores, comment, sha256, submitted_at: now, source_ip: actor.sourceIp })
      .onConflict((oc) => oc.columns(['matter_id', 'client_id']).doNothing())
      .returningAll()
      .executeTakeFirst();
    if (!row) throw conflict('ALREADY_EVALUATED', 'You have already rated this matter; thank you. / 您已评价过该案件，感谢您的反馈。');
    const client = await trx.selectFrom('clients').select(['name', 'kind']).where('id', '=', portal.clientId).executeTakeFirstOrThrow();
    const mean = DIMENSIONS.reduce((s, d) => s + scores[d], 0) / DIMENSIONS.length;
    await fileToArchive(trx, ctx, {
      matter_id: matterId,
      kind: 'evaluation',
      title: `客户评价（${client.name}，平均 ${mean.toFixed(1)} 分）`,
      source: 'evaluations',
      source_id: row.id,
      sha256,
      filed_by: null,
    });
    await appendAudit(trx, {
      at: now,
      actor: actor.username,
      action: 'evaluation.submit',
      object: `matter:${matter.number}`,
      result: 'success',
      sourceIp: actor.sourceIp,
      detail: { evaluation_id: row.id, lawyer_id: matter.responsible_lawyer_id, ...scores, commented: comment !== null, sha256 },
    });
    await announce(trx, { topic: `user:${matter.responsible_lawyer_id}`, data: { type: 'evaluation.received', matter_id: matterId, number: matter.number } });
    return row;
  });
  return clientView(row);
}

// ---------------------------------------------------------------------------------------------
// Invitations

/**
 * Invites the clients of recently closed matters to rate the service, each (matter, client) once:
 * a portal notice leading to `/portal/evaluate/<matter id>`, sent by the client's channels that are on.
 */
export async function inviteClosedMatters(ctx: ServiceContext): Promise<{ invited: number }> {
  const now = ctx.clock.now();
  const since = new Date(now.getTime() - INVITE_WINDOW_DAYS * DAY_MS);
  const due = await ctx.db
    .selectFrom('matters as m')
    .innerJoin('parties as p', (join) => join.onRef('p.matter_id', '=', 'm.id').on('p.role', '=', 'client'))
    .innerJoin('users as u', 'u.id', 'm.responsible_lawyer_id')
    .select(['m.id', 'm.number', 'm.title', 'p.client_id', 'u.display_name as lawyer_name'])
    .distinct()
    .where('m.status', '=', 'closed')
    .where('m.closed_at', '>=', since)
    .where('p.client_id', 'is not', null)
    .where((eb) => eb.not(eb.exists(eb.selectFrom('evaluation_invitations as i').select('i.matter_id').whereRef('i.matter_id', '=', 'm.id').whereRef('i.client_id', '=', 'p.client_id'))))
    .where((eb) => eb.not(eb.exists(eb.selectFrom('evaluations as e').select('e.id').whereRef('e.matter_id', '=', 'm.id').whereRef('e.client_id', '=', 'p.client_id'))))
    .orderBy('m.id')
    .limit(INVITE_BATCH)
    .execute();
  let invited = 0;
  for (const m of due) {
    const clientId = m.client_id!;
    const made = await ctx.db.transaction().execute(async (trx) => {
      const claimed = await trx.insertInto('evaluation_invitations').values({ matter_id: m.id, client_id: clientId, notification_id: null, invited_at: now }).onConflict((oc) => oc.doNothing()).returning('matter_id').executeTakeFirst();
      if (!claimed) return false;
      const notificationId = await notify(trx, ctx, {
        event: 'evaluation.invite',
        client_id: clientId,
        matter_id: m.id,
        title: '诚邀您评价本所法律服务 / Please rate our service',
        body:
          `您委托的「${m.title}」（${m.number}）已办结，承办律师${m.lawyer_name}。诚邀您从功能性、时间性、安全性、经济性、舒适性、文明性六个方面为本所服务评分（每项1–5分）并留下意见，这将帮助我们改进服务。\n` +
          `Your matter ${m.number} is closed. Please rate our service on six points (1–5 each) and tell us what we could do better.`,
        link: `/portal/evaluate/${m.id}`,
        dedupe_key: `evaluation.invite:${m.id}:${clientId}`,
      });
      if (notificationId !== null) await trx.updateTable('evaluation_invitations').set({ notification_id: notificationId }).where('matter_id', '=', m.id).where('client_id', '=', clientId).execute();
      await appendAudit(trx, { at: now, actor: SYSTEM_ACTOR.username, action: 'evaluation.invite', object: `matter:${m.number}`, result: 'success', detail: { client_id: clientId, notification_id: notificationId } });
      return true;
    });
    if (made) invited++;
  }
  return { invited };
}

export const evaluationJobs: Job[] = [{ name: 'evaluations.invite', schedule: '*/15 * * * *', run: inviteClosedMatters }];

// ---------------------------------------------------------------------------------------------
// Staff: aggregates and the evaluations themselves

export interface Aggregate {
  count: number;
  /** mean per dimension, two decimals; null without ratings */
  means: Record<Dimension, number | null>;
  /** mean of every score given (the six dimensions weigh the same) */
  overall: number | null;
  last_at: string | null;
}
export interface LawyerAggregate extends Aggregate {
  lawyer: { id: number; display_name: string };
}

const round2 = (x: number) => Math.round(x * 100) / 100;

interface SumsRow {
  count: number | string | bigint;
  last_at: Date | null;
  functionality: number | string | bigint | null;
  timeliness: number | string | bigint | null;
  security: number | string | bigint | null;
  economy: number | string | bigint | null;
  comfort: number | string | bigint | null;
  civility: number | string | bigint | null;
}

/** Means from integer sums (exact until the final division, whatever the driver returns for sum()). */
function aggregateOf(r: SumsRow | undefined): Aggregate {
  const count = Number(r?.count ?? 0);
  const sums = Object.fromEntries(DIMENSIONS.map((d) => [d, Number(r?.[d] ?? 0)])) as Scores;
  return {
    count,
    means: Object.fromEntries(DIMENSIONS.map((d) => [d, count ? round2(sums[d] / count) : null])) as Record<Dimension, number | null>,
    overall: count ? round2(DIMENSIONS.reduce((s, d) => s + sums[d], 0) / (count * DIMENSIONS.length)) : null,
    last_at: r?.last_at ? new Date(r.last_at).toISOString() : null,
  };
}

function sumsQuery(db: Db) {
  return db
    .selectFrom('evaluations as e')
    .select((eb) => [
      eb.fn.countAll<string>().as('count'),
      eb.fn.max('e.submitted_at').as('last_at'),
      ...DIMENSIONS.map((d) => eb.fn.sum<string>(`e.${d}`).as(d)),
    ]);
}

/** One lawyer's client ratings, for the lawyer record (Z6.2.1.6); zero ratings give a count of 0 and null means. */
export async function lawyerEvaluationSummary(db: Db, lawyerId: number): Promise<Aggregate> {
  return aggregateOf(await sumsQuery(db).where('e.lawyer_id', '=', lawyerId).executeTakeFirst());
}

/** The firm's overall figures and every rated lawyer's, best first. */
export async function evaluationOverview(ctx: ServiceContext, actor: Actor): Promise<{ firm: Aggregate; lawyers: LawyerAggregate[] }> {
  requirePermission(actor, 'evaluations.read');
  const firm = aggregateOf(await sumsQuery(ctx.db).executeTakeFirst());
  const rows = await sumsQuery(ctx.db).innerJoin('users as u', 'u.id', 'e.lawyer_id').select(['e.lawyer_id', 'u.display_name']).groupBy(['e.lawyer_id', 'u.display_name']).execute();
  const lawyers = rows
    .map((r) => ({ lawyer: { id: r.lawyer_id, display_name: r.display_name }, ...aggregateOf(r) }))
    .sort((a, b) => (b.overall ?? 0) - (a.overall ?? 0) || b.count - a.count || a.lawyer.id - b.lawyer.id);
  return { firm, lawyers };
}

export interface StaffEvaluation extends ClientEvaluation {
  id: number;
  matter: { id: number; number: string; title: string };
  /** a natural person's name masked: ratings are about the service, not about who gave them */
  client_name: string;
  sha256: string;
}

/**
 * One lawyer's aggregate and ratings, newest first: for whoever may read evaluations, and for the
 * lawyer themself (their own record); the ratings of matters the reader cannot see are left out.
 */
export async function lawyerEvaluations(ctx: ServiceContext, actor: Actor, lawyerId: number, limit = 100): Promise<LawyerAggregate & { evaluations: StaffEvaluation[] }> {
  if (!may(actor, 'evaluations.read') && actor.userId !== lawyerId) {
    throw forbidden('FORBIDDEN', 'You may see your own client ratings only. / 您只能查看本人的客户评价。');
  }
  const lawyer = await ctx.db.selectFrom('users').select(['id', 'display_name']).where('id', '=', lawyerId).executeTakeFirst();
  if (!lawyer) throw notFound('USER_NOT_FOUND', `No user ${lawyerId}. / 用户不存在。`);
  const rows = await ctx.db
    .selectFrom('evaluations as e')
    .innerJoin('matters as m', 'm.id', 'e.matter_id')
    .innerJoin('clients as c', 'c.id', 'e.client_id')
    .selectAll('e')
    .select(['m.number', 'm.title', 'c.name as client_name', 'c.kind as client_kind'])
    .where('e.lawyer_id', '=', lawyerId)
    // The aggregate counts every rating; the ratings themselves name matters, clients and comments,
    // so each is listed only to someone who may see its matter (a partner is not on every team).
    .where(matterVisibleTo(actor))
    .orderBy('e.submitted_at', 'desc')
    .orderBy('e.id', 'desc')
    .limit(limit)
    .execute();
  return {
    lawyer,
    ...(await lawyerEvaluationSummary(ctx.db, lawyerId)),
    evaluations: rows.map((r) => ({
      id: r.id,
      matter: { id: r.matter_id, number: r.number, title: r.title },
      client_name: r.client_kind === 'person' ? maskName(r.client_name) : r.client_name,
      ...clientView(r),
      sha256: r.sha256,
    })),
  };
}
