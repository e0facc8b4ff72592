import type { Actor, ServiceContext } from '../../context.js';
import { badRequest, conflict } from '../../errors.js';
import { dateDayNumber, shanghaiDayNumber } from '../../calendar.js';
import { appendAudit } from '../audit/service.js';
import { assertMatterVisible } from '../matters/access.js';

/**
 * Bills and payments of a matter (Z6.3.3.5: the fee anomaly checks read them). Money never passes
 * through a float: amounts are decimal strings in the API and `numeric` in the database, and every
 * sum is taken in integer fen (分) as a bigint.
 */

export type FeeKind = 'bill' | 'payment';

/** Up to 12 integer digits and 2 decimals: what `numeric(14, 2)` holds. */
export const AMOUNT_PATTERN = '^\\d{1,12}(\\.\\d{1,2})?$';

export interface FeeInput {
  kind: FeeKind;
  amount: string;
  /** calendar day of the bill or payment, `YYYY-MM-DD` */
  occurred_on: string;
  note?: string | null;
}

export interface FeeEntry {
  id: number;
  kind: FeeKind;
  amount: string;
  occurred_on: string;
  note: string | null;
  recorded_by: number;
  recorded_by_username: string | null;
  created_at: string;
}

export interface FeeSummary {
  /** the agreed fee of the matter (matters.fee_amount), null when none was agreed */
  agreed: string | null;
  billed: string;
  paid: string;
  /** billed − paid; negative when the client paid ahead of the bills */
  outstanding: string;
}

// ---------------------------------------------------------------------------------------------
// Exact money and calendar days.

/** `'1234.5'` → 123450n. Accepts what `numeric` gives back too (`'-3.00'`, `'0'`). */
export function toFen(amount: string): bigint {
  const m = /^(-?)(\d+)(?:\.(\d{1,2})\d*)?$/.exec(amount.trim());
  if (!m) throw new Error(`not a decimal amount: ${amount}`);
  const fen = BigInt(m[2]!) * 100n + BigInt((m[3] ?? '').padEnd(2, '0') || '0');
  return m[1] ? -fen : fen;
}

/** 123450n → `'1234.50'`. */
export function formatFen(fen: bigint): string {
  const sign = fen < 0n ? '-' : '';
  const abs = fen < 0n ? -fen : fen;
  return `${sign}${abs / 100n}.${String(abs % 100n).padStart(2, '0')}`;
}

// ---------------------------------------------------------------------------------------------

/** Statuses a matter may take fees in: not before it was accepted, nor when it was declined. */
const FEE_STATUSES = new Set(['open', 'suspended', 'closed']);

export async function recordFee(ctx: ServiceContext, actor: Actor, matterId: number, input: FeeInput): Promise<FeeEntry> {
  await assertMatterVisible(ctx.db, actor, matterId);
  if (!new RegExp(AMOUNT_PATTERN).test(input.amount) || toFen(input.amount) <= 0n) {
    throw badRequest('INVALID_AMOUNT', 'The amount must be a positive sum in yuan with at most two decimals, e.g. 1500.00. / 金额须为大于零、最多两位小数的数字。');
  }
  const day = dateDayNumber(input.occurred_on);
  if (day === null) throw badRequest('INVALID_DATE', `"${input.occurred_on}" is not a calendar date (YYYY-MM-DD). / 日期不正确。`);
  const now = ctx.clock.now();
  if (day > shanghaiDayNumber(now)) {
    throw badRequest('FUTURE_DATE', `The date ${input.occurred_on} lies in the future; record bills and payments once they happen. / 日期不能晚于今天。`);
  }
  const note = input.note?.trim() || null;
  return ctx.db.transaction().execute(async (trx) => {
    // The row lock keeps a concurrent status change (e.g. to declined) from slipping in between.
    const matter = await trx.selectFrom('matters').select(['number', 'status']).where('id', '=', matterId).forShare().executeTakeFirstOrThrow();
    if (!FEE_STATUSES.has(matter.status)) {
      throw conflict('MATTER_NOT_ACCEPTED', `Matter ${matter.number} is ${matter.status}: fees are recorded only for accepted matters. / 案件尚未收案或已拒绝，不能登记费用。`);
    }
    const row = await trx
      .insertInto('matter_fees')
      .values({ matter_id: matterId, kind: input.kind, amount: input.amount, occurred_on: input.occurred_on, note, recorded_by: actor.userId!, created_at: now })
      .returningAll()
      .executeTakeFirstOrThrow();
    // Not case progress: matters.updated_at (the "stale" check) is left alone.
    await appendAudit(trx, {
      at: now,
      actor: actor.username,
      action: 'matter.fee_record',
      object: `matter:${matter.number}`,
      result: 'success',
      sourceIp: actor.sourceIp,
      detail: { fee_id: row.id, kind: row.kind, amount: formatFen(toFen(row.amount)), occurred_on: row.occurred_on },
    });
    return {
      id: row.id,
      kind: row.kind,
      amount: formatFen(toFen(row.amount)),
      occurred_on: row.occurred_on,
      note: row.note,
      recorded_by: row.recorded_by,
      recorded_by_username: actor.username,
      created_at: row.created_at.toISOString(),
    };
  });
}

/** Sums of bills and payments in fen. */
export function summarize(agreed: string | null, entries: { kind: FeeKind; amount: string }[]): FeeSummary {
  let billed = 0n;
  let paid = 0n;
  for (const e of entries) {
    if (e.kind === 'bill') billed += toFen(e.amount);
    else paid += toFen(e.amount);
  }
  return { agreed: agreed === null ? null : formatFen(toFen(agreed)), billed: formatFen(billed), paid: formatFen(paid), outstanding: formatFen(billed - paid) };
}

export async function listFees(ctx: ServiceContext, actor: Actor, matterId: number): Promise<{ entries: FeeEntry[]; summary: FeeSummary }> {
  await assertMatterVisible(ctx.db, actor, matterId);
  const matter = await ctx.db.selectFrom('matters').select('fee_amount').where('id', '=', matterId).executeTakeFirstOrThrow();
  const rows = await ctx.db
    .selectFrom('matter_fees as f')
    .leftJoin('users as u', 'u.id', 'f.recorded_by')
    .select(['f.id', 'f.kind', 'f.amount', 'f.occurred_on', 'f.note', 'f.recorded_by', 'u.username as recorded_by_username', 'f.created_at'])
    .where('f.matter_id', '=', matterId)
    .orderBy('f.occurred_on')
    .orderBy('f.id')
    .execute();
  const entries = rows.map((r) => ({ ...r, amount: formatFen(toFen(r.amount)), created_at: r.created_at.toISOString() }));
  return { entries, summary: summarize(matter.fee_amount, entries) };
}
