import type { ExpressionBuilder } from 'kysely';
import { shanghaiDate } from '../../calendar.js';
import type { Actor, ServiceContext } from '../../context.js';
import type { Db } from '../../db/index.js';
import type { Database } from '../../db/schema.js';
import { badRequest, conflict, notFound } from '../../errors.js';
import { fileToArchive } from '../archive/filing.js';
import { appendAudit } from '../audit/service.js';
import { requirePermission } from '../auth/roles.js';
import { maskPhone } from '../clients/identifiers.js';
import type { PartyKind } from '../clients/service.js';
import { optionalText, pastInstant, recordHash, requiredText } from '../communications/input.js';
import { matterVisibleTo, seesAllMatters } from '../matters/access.js';
import { createMatter, type MatterInput, type PartyInput } from '../matters/service.js';
import type { ConsultationChannel, ConsultationRow } from './tables.js';

/**
 * Consultations (T/ZSM 0038-2024 Z5.2.1): online and offline, kept confidential. A consultation is
 * seen by the lawyer who gave and recorded it and by those who see every matter — no other lawyer —
 * and once converted into a matter also by that matter's team, in whose archive it is filed. Every
 * read of the full record is audited; the contact phone is masked unless unmasked for a reason.
 */

export const CHANNEL_LABELS: Record<ConsultationChannel, { zh: string; online: boolean }> = {
  phone: { zh: '电话咨询', online: true },
  visit: { zh: '来所面谈', online: false },
  online_chat: { zh: '在线咨询', online: true },
  email: { zh: '邮件咨询', online: true },
  video: { zh: '视频咨询', online: true },
};

/** How long a conversion holds the consultation: longer than any intake with its conflict check takes. */
const CONVERSION_HOLD_MS = 5 * 60_000;
const MAX_LISTED = 500;

export interface ConsultationInput {
  channel: ConsultationChannel;
  person_name: string;
  organization?: string | null;
  phone?: string | null;
  email?: string | null;
  topic: string;
  summary: string;
  advice: string;
  consulted_at: string;
  duration_minutes: number;
}

/** What a list shows: who, when, about what; never the summary or the advice. */
export interface ConsultationSummary {
  id: number;
  channel: ConsultationChannel;
  channel_label: string;
  online: boolean;
  person_name: string;
  organization: string | null;
  topic: string;
  lawyer: { id: number; display_name: string };
  consulted_at: string;
  duration_minutes: number;
  matter: { id: number; number: string } | null;
}

export interface ConsultationView extends ConsultationSummary {
  phone: string | null;
  email: string | null;
  summary: string;
  advice: string;
  masked: boolean;
  created_at: string;
}

type Loaded = ConsultationRow & { lawyer_name: string; matter_number: string | null };

/**
 * A where-clause over `consultations as c`: those the actor may see. The recording lawyer, those who
 * see every matter, and — for a converted one — whoever may see its matter.
 */
function consultationVisibleTo(actor: Actor) {
  return (eb: ExpressionBuilder<Database & { c: Database['consultations'] }, 'c'>) => {
    if (seesAllMatters(actor)) return eb.lit(true);
    return eb.or([
      eb('c.lawyer_id', '=', actor.userId ?? -1),
      eb.exists(eb.selectFrom('matters as m').select('m.id').whereRef('m.id', '=', 'c.matter_id').where(matterVisibleTo(actor))),
    ]);
  };
}

function consultationQuery(db: Db, actor: Actor) {
  return db
    .selectFrom('consultations as c')
    .innerJoin('users as u', 'u.id', 'c.lawyer_id')
    .leftJoin('matters as mm', 'mm.id', 'c.matter_id')
    .selectAll('c')
    .select(['u.display_name as lawyer_name', 'mm.number as matter_number'])
    .where(consultationVisibleTo(actor));
}

const consultationNotFound = (id: number) => notFound('CONSULTATION_NOT_FOUND', `No consultation ${id}, or it is not yours to see. / 咨询记录不存在或您无权查看。`);

async function loadVisible(db: Db, actor: Actor, id: number): Promise<Loaded> {
  const row = (await consultationQuery(db, actor).where('c.id', '=', id).executeTakeFirst()) as Loaded | undefined;
  if (!row) throw consultationNotFound(id);
  return row;
}

function summarize(r: Loaded): ConsultationSummary {
  return {
    id: r.id,
    channel: r.channel,
    channel_label: CHANNEL_LABELS[r.channel].zh,
    online: CHANNEL_LABELS[r.channel].online,
    person_name: r.person_name,
    organization: r.organization,
    topic: r.topic,
    lawyer: { id: r.lawyer_id, display_name: r.lawyer_name },
    consulted_at: r.consulted_at.toISOString(),
    duration_minutes: r.duration_minutes,
    matter: r.matter_id !== null && r.matter_number !== null ? { id: r.matter_id, number: r.matter_number } : null,
  };
}

function present(r: Loaded, unmasked = false): ConsultationView {
  return {
    ...summarize(r),
    phone: unmasked ? r.phone : maskPhone(r.phone),
    email: r.email,
    summary: r.summary,
    advice: r.advice,
    masked: !unmasked,
    created_at: r.created_at.toISOString(),
  };
}

/** The fingerprint of a consultation as filed into its matter's archive. */
const consultationHash = (r: ConsultationRow) =>
  recordHash({ id: r.id, channel: r.channel, person_name: r.person_name, organization: r.organization, phone: r.phone, email: r.email, topic: r.topic, summary: r.summary, advice: r.advice, lawyer_id: r.lawyer_id, consulted_at: r.consulted_at.toISOString(), duration_minutes: r.duration_minutes });

/** Records a consultation the actor gave (咨询记录); the actor is its lawyer. */
export async function recordConsultation(ctx: ServiceContext, actor: Actor, input: ConsultationInput): Promise<ConsultationView> {
  requirePermission(actor, 'consultations.record');
  if (actor.userId === null) throw badRequest('INVALID_ACTOR', 'A consultation is recorded by the lawyer who gave it. / 咨询记录须由接待律师登记。');
  const now = ctx.clock.now();
  if (!(input.duration_minutes >= 1 && input.duration_minutes <= 1440 && Number.isInteger(input.duration_minutes))) {
    throw badRequest('INVALID_DURATION', 'duration_minutes must be a whole number from 1 to 1440. / 咨询时长应为1–1440分钟。');
  }
  const values = {
    channel: input.channel,
    person_name: requiredText(input.person_name, 'person_name', '咨询人姓名'),
    organization: optionalText(input.organization),
    phone: optionalText(input.phone),
    email: optionalText(input.email),
    topic: requiredText(input.topic, 'topic', '咨询事项'),
    summary: requiredText(input.summary, 'summary', '咨询内容'),
    advice: requiredText(input.advice, 'advice', '律师意见'),
    consulted_at: pastInstant(input.consulted_at, 'consulted_at', '咨询时间', now),
    duration_minutes: input.duration_minutes,
  };
  if (!CHANNEL_LABELS[values.channel]) throw badRequest('INVALID_CHANNEL', 'Unknown consultation channel. / 咨询方式不正确。');
  const id = await ctx.db.transaction().execute(async (trx) => {
    const row = await trx
      .insertInto('consultations')
      .values({ ...values, lawyer_id: actor.userId!, created_at: now })
      .returning('id')
      .executeTakeFirstOrThrow();
    // The audit names the record, never the person or what was said: the trail is read more widely.
    await appendAudit(trx, { at: now, actor: actor.username, action: 'consultation.record', object: `consultation:${row.id}`, result: 'success', sourceIp: actor.sourceIp, detail: { channel: values.channel } });
    return row.id;
  });
  return present(await loadVisible(ctx.db, actor, id));
}

export interface ConsultationFilter {
  /** only the actor's own (for those who see every consultation) */
  mine?: boolean;
  converted?: boolean;
  q?: string;
  limit?: number;
  offset?: number;
}

/** The consultations the actor may see, latest first; summaries only (no content, no contact). */
export async function listConsultations(ctx: ServiceContext, actor: Actor, filter: ConsultationFilter = {}): Promise<ConsultationSummary[]> {
  requirePermission(actor, 'consultations.record');
  let q = consultationQuery(ctx.db, actor)
    .orderBy('c.consulted_at', 'desc')
    .orderBy('c.id', 'desc')
    .limit(Math.min(filter.limit ?? 100, MAX_LISTED))
    .offset(filter.offset ?? 0);
  if (filter.mine) q = q.where('c.lawyer_id', '=', actor.userId ?? -1);
  if (filter.converted !== undefined) q = q.where('c.matter_id', filter.converted ? 'is not' : 'is', null);
  if (filter.q?.trim()) {
    const like = `%${filter.q.trim().replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
    q = q.where((eb) => eb.or([eb('c.person_name', 'like', like), eb('c.organization', 'like', like), eb('c.topic', 'like', like)]));
  }
  return ((await q.execute()) as Loaded[]).map(summarize);
}

/** The full record; each read is audited, whoever reads it. */
export async function getConsultation(ctx: ServiceContext, actor: Actor, id: number): Promise<ConsultationView> {
  requirePermission(actor, 'consultations.record');
  const row = await loadVisible(ctx.db, actor, id);
  await ctx.db.transaction().execute((trx) =>
    appendAudit(trx, { at: ctx.clock.now(), actor: actor.username, action: 'consultation.read', object: `consultation:${id}`, result: 'success', sourceIp: actor.sourceIp, detail: { own: row.lawyer_id === actor.userId } }),
  );
  return present(row);
}

/** The full record with the contact phone unmasked, for a reason kept in the audit trail. */
export async function unmaskConsultation(ctx: ServiceContext, actor: Actor, id: number, reason: string): Promise<ConsultationView> {
  requirePermission(actor, 'consultations.record');
  requirePermission(actor, 'personal_data.unmask');
  const why = requiredText(reason, 'reason', '查看理由');
  const row = await loadVisible(ctx.db, actor, id);
  await ctx.db.transaction().execute((trx) =>
    appendAudit(trx, { at: ctx.clock.now(), actor: actor.username, action: 'consultation.unmask', object: `consultation:${id}`, result: 'success', sourceIp: actor.sourceIp, detail: { reason: why } }),
  );
  return present(row, true);
}

/** The client as the new matter records it: the person (or the organisation) who consulted, unless named otherwise. */
export interface ConversionClient {
  kind: PartyKind;
  name?: string;
  id_type?: string | null;
  id_number?: string | null;
  uscc?: string | null;
  legal_representative?: string | null;
  address?: string | null;
  client_id?: number | null;
}

export interface ConversionInput {
  title: string;
  type: string;
  cause?: string | null;
  court?: string | null;
  stage?: string | null;
  fee_arrangement?: string | null;
  fee_amount?: string | null;
  responsible_lawyer_id?: number;
  team_ids?: number[];
  conflict_check_id?: number;
  client: ConversionClient;
  other_parties?: Omit<PartyInput, 'phone' | 'address' | 'client_id'>[];
  claims?: string;
}

/** The intake of the matter a consultation becomes: what was learned in the consultation. */
function matterInput(c: ConsultationRow, input: ConversionInput): MatterInput {
  const client = input.client;
  const name = optionalText(client.name) ?? (client.kind === 'organization' ? c.organization : c.person_name);
  if (!name) throw badRequest('INVALID_NAME', 'Name the client organisation (client.name). / 请填写委托单位名称。');
  const others = input.other_parties ?? [];
  if (others.some((p) => p.role === 'client')) throw badRequest('INVALID_PARTY', 'The client is given as `client`; other_parties are the other sides. / 委托人请填写在 client 中。');
  return {
    title: input.title,
    type: input.type,
    cause: input.cause,
    court: input.court,
    stage: input.stage,
    fee_arrangement: input.fee_arrangement,
    fee_amount: input.fee_amount,
    responsible_lawyer_id: input.responsible_lawyer_id ?? c.lawyer_id,
    team_ids: input.team_ids,
    conflict_check_id: input.conflict_check_id,
    parties: [
      {
        role: 'client',
        kind: client.kind,
        name,
        id_type: client.id_type,
        id_number: client.id_number,
        uscc: client.uscc,
        legal_representative: client.legal_representative,
        phone: c.phone,
        address: client.address,
        client_id: client.client_id,
      },
      ...others,
    ],
    intake: {
      facts: c.summary,
      ...(input.claims?.trim() ? { claims: input.claims.trim() } : {}),
      source: `${CHANNEL_LABELS[c.channel].zh}转化（咨询记录 ${c.id}，${shanghaiDate(c.consulted_at)}）`,
    },
  };
}

/**
 * Turns a consultation into a matter (咨询转委托). The matter is opened by the matters service with
 * its own conflict check, exactly as any intake; the consultation is then linked to it and filed in
 * its archive. createMatter commits on its own, so the consultation is held while it runs: a second
 * conversion of the same consultation is refused instead of opening a second matter.
 */
export async function convertConsultation(ctx: ServiceContext, actor: Actor, id: number, input: ConversionInput): Promise<{ consultation: ConsultationView; matter: { id: number; number: string; status: string }; warnings: string[] }> {
  requirePermission(actor, 'consultations.record');
  requirePermission(actor, 'matters.manage');
  const visible = await loadVisible(ctx.db, actor, id);
  const start = ctx.clock.now();
  const held = await ctx.db
    .updateTable('consultations')
    .set({ converting_since: start })
    .where('id', '=', visible.id)
    .where('matter_id', 'is', null)
    .where((eb) => eb.or([eb('converting_since', 'is', null), eb('converting_since', '<', new Date(start.getTime() - CONVERSION_HOLD_MS))]))
    .returningAll()
    .executeTakeFirst();
  if (!held) {
    if (visible.matter_id !== null) throw conflict('CONSULTATION_CONVERTED', `This consultation already became matter ${visible.matter_number}. / 该咨询已转为案件 ${visible.matter_number}。`);
    throw conflict('CONVERSION_IN_PROGRESS', 'This consultation is being converted right now; look again in a moment. / 该咨询正在转为案件，请稍后查看。');
  }
  const release = () => ctx.db.updateTable('consultations').set({ converting_since: null }).where('id', '=', id).where('converting_since', '=', start).execute();
  let created: Awaited<ReturnType<typeof createMatter>>;
  try {
    created = await createMatter(ctx, actor, matterInput(held, input));
  } catch (err) {
    await release();
    throw err;
  }
  const { matter, warnings } = created;
  const now = ctx.clock.now();
  await ctx.db.transaction().execute(async (trx) => {
    const linked = await trx
      .updateTable('consultations')
      .set({ matter_id: matter.id, converted_by: actor.userId, converted_at: now, converting_since: null })
      .where('id', '=', id)
      .where('converting_since', '=', start)
      .returningAll()
      .executeTakeFirst();
    if (!linked) throw conflict('CONVERSION_IN_PROGRESS', `The hold on consultation ${id} ran out; matter ${matter.number} was opened without the link. / 转案超时，案件 ${matter.number} 已建立但未关联该咨询。`);
    await fileToArchive(trx, ctx, { matter_id: matter.id, kind: 'consultation', title: `咨询记录：${linked.topic}`, source: 'consultations', source_id: id, sha256: consultationHash(linked), filed_by: actor.userId });
    await appendAudit(trx, { at: now, actor: actor.username, action: 'consultation.convert', object: `consultation:${id}`, result: 'success', sourceIp: actor.sourceIp, detail: { matter_id: matter.id, matter_number: matter.number, status: matter.status } });
  });
  return { consultation: present(await loadVisible(ctx.db, actor, id)), matter: { id: matter.id, number: matter.number, status: matter.status }, warnings };
}
