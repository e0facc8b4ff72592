import type { Actor, ServiceContext } from '../../context.js';
import type { Db } from '../../db/index.js';
import { badRequest, conflict, forbidden, notFound } from '../../errors.js';
import { fileToArchive } from '../archive/filing.js';
import { appendAudit } from '../audit/service.js';
import { requirePermission } from '../auth/roles.js';
import { assertMatterVisible } from '../matters/access.js';
import { SEAL_TYPES } from './defaults.js';
import { signFirmSeal } from './esign.js';
import type { SealApplicationRow, SealMode, SealType } from './tables.js';

/**
 * Seal-use applications (用印申请, T/ZSM 0038-2024 Z5.4.1): a lawyer applies to use one of the firm's
 * seals on a document of a matter, the director approves or rejects, and the record is kept and filed
 * into the matter's archive. An approved electronic application puts the firm's e-seal on the document.
 */

export interface SealApplicationView {
  id: number;
  matter: { id: number; number: string };
  document_id: number | null;
  title: string;
  seal_type: SealType;
  seal_label: string;
  mode: SealMode;
  purpose: string;
  copies: number;
  status: SealApplicationRow['status'];
  applied_by: { id: number; display_name: string };
  applied_at: string;
  decided_by: { id: number; display_name: string } | null;
  decided_at: string | null;
  decision_note: string | null;
  signature_id: number | null;
}

function sealQuery(db: Db) {
  return db
    .selectFrom('seal_applications as s')
    .innerJoin('matters as m', 'm.id', 's.matter_id')
    .innerJoin('users as a', 'a.id', 's.applied_by')
    .leftJoin('users as dcd', 'dcd.id', 's.decided_by')
    .leftJoin('document_signatures as sig', 'sig.seal_application_id', 's.id')
    .selectAll('s')
    .select(['m.number as matter_number', 'a.display_name as applicant_name', 'dcd.display_name as decider_name', 'sig.id as signature_id']);
}
type LoadedSeal = SealApplicationRow & { matter_number: string; applicant_name: string; decider_name: string | null; signature_id: number | null };

const presentSeal = (s: LoadedSeal): SealApplicationView => ({
  id: s.id,
  matter: { id: s.matter_id, number: s.matter_number },
  document_id: s.document_id,
  title: s.title,
  seal_type: s.seal_type,
  seal_label: SEAL_TYPES[s.seal_type],
  mode: s.mode,
  purpose: s.purpose,
  copies: s.copies,
  status: s.status,
  applied_by: { id: s.applied_by, display_name: s.applicant_name },
  applied_at: s.applied_at.toISOString(),
  decided_by: s.decided_by !== null ? { id: s.decided_by, display_name: s.decider_name ?? '' } : null,
  decided_at: s.decided_at?.toISOString() ?? null,
  decision_note: s.decision_note,
  signature_id: s.signature_id,
});

export interface SealApplicationInput {
  document_id?: number | null;
  /** what is sealed; default: the document's title */
  title?: string;
  seal_type: SealType;
  /** physical: the seal is stamped on paper copies; electronic: the firm's e-seal signs the document */
  mode: SealMode;
  purpose: string;
  copies: number;
}

export async function applyForSeal(ctx: ServiceContext, actor: Actor, matterId: number, input: SealApplicationInput): Promise<SealApplicationView> {
  requirePermission(actor, 'matters.work');
  await assertMatterVisible(ctx.db, actor, matterId);
  const purpose = input.purpose.trim();
  if (!purpose) throw badRequest('INVALID_PURPOSE', 'Say what the seal is for. / 请填写用印事由。');
  if (input.mode === 'electronic' && !input.document_id) throw badRequest('DOCUMENT_REQUIRED', 'An electronic seal is put on a document of this matter: name it (document_id). / 电子用印须指定本案文书。');
  const now = ctx.clock.now();
  const id = await ctx.db.transaction().execute(async (trx) => {
    const doc = input.document_id ? await trx.selectFrom('documents').select(['id', 'matter_id', 'title']).where('id', '=', input.document_id).executeTakeFirst() : null;
    if (input.document_id && (!doc || doc.matter_id !== matterId)) throw badRequest('NOT_A_DOCUMENT_OF_MATTER', `Document ${input.document_id} is not a document of this matter. / 该文书不属于本案。`);
    const title = (input.title?.trim() || doc?.title || '').slice(0, 200);
    if (!title) throw badRequest('INVALID_TITLE', 'Name what is to be sealed (title). / 请填写用印文件名称。');
    const made = await trx
      .insertInto('seal_applications')
      .values({
        matter_id: matterId,
        document_id: doc?.id ?? null,
        title,
        seal_type: input.seal_type,
        mode: input.mode,
        purpose,
        copies: input.copies,
        status: 'pending',
        applied_by: actor.userId!,
        applied_at: now,
        decided_by: null,
        decided_at: null,
        decision_note: null,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    await appendAudit(trx, {
      at: now,
      actor: actor.username,
      action: 'seal.apply',
      object: `seal_application:${made.id}`,
      result: 'success',
      sourceIp: actor.sourceIp,
      detail: { matter_id: matterId, document_id: doc?.id ?? null, seal_type: input.seal_type, mode: input.mode, copies: input.copies },
    });
    return made.id;
  });
  return presentSeal(await sealQuery(ctx.db).where('s.id', '=', id).executeTakeFirstOrThrow());
}

export async function listMatterSealApplications(ctx: ServiceContext, actor: Actor, matterId: number): Promise<SealApplicationView[]> {
  requirePermission(actor, 'matters.read');
  await assertMatterVisible(ctx.db, actor, matterId);
  return (await sealQuery(ctx.db).where('s.matter_id', '=', matterId).orderBy('s.applied_at', 'desc').orderBy('s.id', 'desc').execute()).map(presentSeal);
}

/** The approvers' queue (or every application, with a status filter). */
export async function listSealApplications(ctx: ServiceContext, actor: Actor, filter: { status?: SealApplicationRow['status'] }): Promise<SealApplicationView[]> {
  requirePermission(actor, 'seals.approve');
  let q = sealQuery(ctx.db).orderBy('s.applied_at', 'desc').orderBy('s.id', 'desc').limit(500);
  if (filter.status) q = q.where('s.status', '=', filter.status);
  return (await q.execute()).map(presentSeal);
}

/**
 * The director approves or rejects an application (never one's own). An approved application is
 * filed into the matter's archive; an approved electronic one also puts the firm's e-seal on the
 * document: a second SM2 signature, by the key of the seal applied for.
 */
export async function decideSealApplication(ctx: ServiceContext, actor: Actor, id: number, input: { decision: 'approve' | 'reject'; note?: string | null }): Promise<SealApplicationView> {
  requirePermission(actor, 'seals.approve');
  const now = ctx.clock.now();
  await ctx.db.transaction().execute(async (trx) => {
    const s = await trx.selectFrom('seal_applications').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
    if (!s) throw notFound('SEAL_APPLICATION_NOT_FOUND', `No seal application with id ${id}. / 用印申请不存在。`);
    if (s.status !== 'pending') throw conflict('ALREADY_DECIDED', `This application was already ${s.status}. / 该用印申请已处理。`);
    if (s.applied_by === actor.userId) throw forbidden('OWN_APPLICATION', 'An application is decided by someone other than its applicant. / 不能审批本人提交的用印申请。');
    const status = input.decision === 'approve' ? 'approved' : 'rejected';
    const note = input.note?.trim() || null;
    if (status === 'rejected' && !note) throw badRequest('NOTE_REQUIRED', 'Say why the application is rejected (note). / 驳回时请说明理由。');
    await trx.updateTable('seal_applications').set({ status, decided_by: actor.userId, decided_at: now, decision_note: note }).where('id', '=', id).execute();
    let signatureId: number | null = null;
    if (status === 'approved') {
      if (s.mode === 'electronic') signatureId = await signFirmSeal(trx, ctx, s, actor);
      await fileToArchive(trx, ctx, {
        matter_id: s.matter_id,
        kind: 'seal_application',
        title: `用印申请：${s.title}（${SEAL_TYPES[s.seal_type]}，${s.mode === 'electronic' ? '电子用印' : `${s.copies} 份`}）`,
        source: 'seal_application',
        source_id: s.id,
        sha256: null,
        filed_by: actor.userId,
      });
    }
    await appendAudit(trx, {
      at: now,
      actor: actor.username,
      action: `seal.${input.decision}`,
      object: `seal_application:${id}`,
      result: 'success',
      sourceIp: actor.sourceIp,
      detail: { matter_id: s.matter_id, document_id: s.document_id, seal_type: s.seal_type, mode: s.mode, note, signature_id: signatureId },
    });
  });
  return presentSeal(await sealQuery(ctx.db).where('s.id', '=', id).executeTakeFirstOrThrow());
}

