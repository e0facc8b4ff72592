import type { ExpressionBuilder } from 'kysely';
import type { Actor, ServiceContext } from '../../context.js';
import type { Db } from '../../db/index.js';
import type { Database } from '../../db/schema.js';
import { badRequest, notFound } from '../../errors.js';
import { appendAudit, canonicalJson } from '../audit/service.js';
import { dateDayNumber, shanghaiDayNumber } from '../../calendar.js';
import { formatFen, toFen } from '../fees/service.js';
import { matterVisibleTo, seesAllMatters } from '../matters/access.js';
import { announce } from '../realtime/hub.js';
import { readSetting, writeSetting } from '../../db/settings.js';

/**
 * Matter tracking (Z6.3.3.5, with Z6.3.3.2's duty to inform the client): a daily scan raises an
 * alert per matter and kind while a condition holds, and resolves it once the condition clears.
 */

// ---------------------------------------------------------------------------------------------
// Settings

export interface TrackingSettings {
  /** a matter still open (or suspended) this many days after it was opened is flagged */
  open_max_days: number;
  /** no change to the matter for this many days */
  stale_days: number;
  /** the oldest bill not covered by payments (first in, first out) is this many days old */
  unpaid_days: number;
  /** bills may exceed the agreed fee by this percentage before they are flagged */
  overbilled_tolerance_percent: number;
  /** the client must be told of the engagement within this many days of opening */
  client_inform_days: number;
}

export const TRACKING_SETTINGS_KEY = 'matter_tracking';

export const DEFAULT_TRACKING: TrackingSettings = {
  open_max_days: 365,
  stale_days: 30,
  unpaid_days: 60,
  overbilled_tolerance_percent: 0,
  client_inform_days: 7,
};

/** Accepted range of each setting (whole numbers). */
export const TRACKING_LIMITS: Record<keyof TrackingSettings, { minimum: number; maximum: number }> = {
  open_max_days: { minimum: 1, maximum: 3650 },
  stale_days: { minimum: 1, maximum: 365 },
  unpaid_days: { minimum: 1, maximum: 730 },
  overbilled_tolerance_percent: { minimum: 0, maximum: 100 },
  client_inform_days: { minimum: 1, maximum: 90 },
};

const SETTING_KEYS = Object.keys(DEFAULT_TRACKING) as (keyof TrackingSettings)[];

function validSetting(key: keyof TrackingSettings, value: unknown): value is number {
  const { minimum, maximum } = TRACKING_LIMITS[key];
  return typeof value === 'number' && Number.isInteger(value) && value >= minimum && value <= maximum;
}

/** The stored settings over the defaults; a stored value out of range falls back to its default. */
export async function trackingSettings(db: Db): Promise<TrackingSettings> {
  const stored = ((await readSetting(db, TRACKING_SETTINGS_KEY)) ?? {}) as Record<string, unknown>;
  const out = { ...DEFAULT_TRACKING };
  for (const key of SETTING_KEYS) if (validSetting(key, stored[key])) out[key] = stored[key];
  return out;
}

export async function updateTrackingSettings(ctx: ServiceContext, actor: Actor, next: TrackingSettings): Promise<TrackingSettings> {
  const value: TrackingSettings = { ...DEFAULT_TRACKING };
  for (const key of SETTING_KEYS) {
    if (!validSetting(key, next[key])) {
      const { minimum, maximum } = TRACKING_LIMITS[key];
      throw badRequest('INVALID_SETTING', `${key} must be a whole number from ${minimum} to ${maximum}. / 设置值超出范围。`);
    }
    value[key] = next[key];
  }
  const now = ctx.clock.now();
  await ctx.db.transaction().execute(async (trx) => {
    const before = await trackingSettings(trx);
    await writeSetting(trx, TRACKING_SETTINGS_KEY, value);
    const diff = Object.fromEntries(SETTING_KEYS.filter((k) => before[k] !== value[k]).map((k) => [k, { from: before[k], to: value[k] }]));
    await appendAudit(trx, { at: now, actor: actor.username, action: 'settings.matter_tracking', object: `settings:${TRACKING_SETTINGS_KEY}`, result: 'success', sourceIp: actor.sourceIp, detail: diff });
  });
  return value;
}

// ---------------------------------------------------------------------------------------------
// The scan

export const ALERT_KINDS = ['open_too_long', 'stale', 'overbilled', 'unpaid', 'client_not_informed'] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

/** Statuses the scan watches; an alert of a matter in any other status is resolved. */
const WATCHED_STATUSES = ['open', 'suspended'] as const;

interface WatchedMatter {
  id: number;
  number: string;
  opened_at: Date | null;
  created_at: Date;
  updated_at: Date;
  client_informed_at: Date | null;
  fee_arrangement: string | null;
  fee_amount: string | null;
  responsible_lawyer_id: number;
}

interface FeeRow {
  matter_id: number;
  kind: 'bill' | 'payment';
  amount: string;
  occurred_on: string;
}

/**
 * The conditions that hold for one matter today, each with the figures behind it. Days are counted
 * in Beijing calendar days: a matter opened on 1 March is 1 day old on 2 March whatever the hour.
 */
export function evaluateMatter(m: WatchedMatter, fees: FeeRow[], settings: TrackingSettings, now: Date): Map<AlertKind, Record<string, unknown>> {
  const found = new Map<AlertKind, Record<string, unknown>>();
  const today = shanghaiDayNumber(now);
  const opened = m.opened_at ?? m.created_at;
  const openDays = today - shanghaiDayNumber(opened);

  if (openDays > settings.open_max_days) {
    found.set('open_too_long', { days: openDays, opened_at: opened.toISOString(), limit_days: settings.open_max_days });
  }
  const staleDays = today - shanghaiDayNumber(m.updated_at);
  if (staleDays > settings.stale_days) {
    found.set('stale', { days: staleDays, updated_at: m.updated_at.toISOString(), limit_days: settings.stale_days });
  }
  if (m.client_informed_at === null && openDays > settings.client_inform_days) {
    found.set('client_not_informed', { days: openDays, opened_at: opened.toISOString(), limit_days: settings.client_inform_days });
  }

  // Bills in order (date, then entry); payments cover the oldest bills first.
  const bills = fees.filter((f) => f.kind === 'bill').sort((a, b) => (a.occurred_on < b.occurred_on ? -1 : a.occurred_on > b.occurred_on ? 1 : 0));
  const billed = bills.reduce((s, f) => s + toFen(f.amount), 0n);
  const paid = fees.filter((f) => f.kind === 'payment').reduce((s, f) => s + toFen(f.amount), 0n);

  // Only a fixed fee caps the bills: hourly, contingency, retainer (renewed yearly) and mixed fees grow.
  if (m.fee_arrangement === 'fixed' && m.fee_amount !== null) {
    const agreed = toFen(m.fee_amount);
    const tolerance = BigInt(settings.overbilled_tolerance_percent);
    // billed > agreed × (1 + t/100)  ⇔  billed × 100 > agreed × (100 + t): exact, no division.
    if (billed * 100n > agreed * (100n + tolerance)) {
      found.set('overbilled', {
        agreed: formatFen(agreed),
        billed: formatFen(billed),
        excess: formatFen(billed - agreed),
        tolerance_percent: settings.overbilled_tolerance_percent,
      });
    }
  }

  if (billed > paid) {
    let covered = paid;
    let oldest: FeeRow | undefined;
    for (const bill of bills) {
      const amount = toFen(bill.amount);
      if (covered >= amount) {
        covered -= amount;
        continue;
      }
      oldest = bill;
      break;
    }
    const days = oldest ? today - dateDayNumber(oldest.occurred_on)! : 0;
    if (oldest && days > settings.unpaid_days) {
      found.set('unpaid', {
        billed: formatFen(billed),
        paid: formatFen(paid),
        outstanding: formatFen(billed - paid),
        oldest_unpaid_bill_on: oldest.occurred_on,
        days,
        limit_days: settings.unpaid_days,
      });
    }
  }
  return found;
}

export interface ScanResult {
  raised: number;
  resolved: number;
}

/**
 * Raises the alerts whose condition holds and has no open alert yet, refreshes the figures of those
 * still open, and resolves the ones whose condition cleared (or whose matter left open/suspended).
 * One transaction: the alerts, their recipients, the notices and the audit record commit together.
 */
export async function scanMatters(ctx: ServiceContext): Promise<ScanResult> {
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    const settings = await trackingSettings(trx);
    const matters = await trx
      .selectFrom('matters')
      .select(['id', 'number', 'opened_at', 'created_at', 'updated_at', 'client_informed_at', 'fee_arrangement', 'fee_amount', 'responsible_lawyer_id'])
      .where('status', 'in', [...WATCHED_STATUSES])
      .orderBy('id')
      .execute();
    const fees = await trx
      .selectFrom('matter_fees as f')
      .innerJoin('matters as m', 'm.id', 'f.matter_id')
      .select(['f.matter_id', 'f.kind', 'f.amount', 'f.occurred_on'])
      .where('m.status', 'in', [...WATCHED_STATUSES])
      .orderBy('f.matter_id')
      .orderBy('f.occurred_on')
      .orderBy('f.id')
      .execute();
    const feesOf = new Map<number, FeeRow[]>();
    for (const f of fees) {
      const list = feesOf.get(f.matter_id) ?? [];
      list.push(f);
      feesOf.set(f.matter_id, list);
    }
    const wanted = new Map<string, { matter: WatchedMatter; kind: AlertKind; detail: Record<string, unknown> }>();
    for (const m of matters) {
      for (const [kind, detail] of evaluateMatter(m, feesOf.get(m.id) ?? [], settings, now)) wanted.set(`${m.id}/${kind}`, { matter: m, kind, detail });
    }

    // Open alerts: resolve those no longer wanted, refresh the figures of the others.
    const open = await trx.selectFrom('matter_alerts').select(['id', 'matter_id', 'kind', 'detail']).where('resolved_at', 'is', null).execute();
    const toResolve: number[] = [];
    const stillOpen = new Map<string, number>();
    for (const a of open) {
      const key = `${a.matter_id}/${a.kind}`;
      const w = wanted.get(key);
      if (!w) {
        toResolve.push(a.id);
        continue;
      }
      stillOpen.set(key, a.id);
      if (canonicalJson(a.detail) !== canonicalJson(w.detail)) {
        await trx.updateTable('matter_alerts').set({ detail: JSON.stringify(w.detail) }).where('id', '=', a.id).execute();
      }
    }
    if (toResolve.length) await trx.updateTable('matter_alerts').set({ resolved_at: now }).where('id', 'in', toResolve).execute();

    const directors = (await trx.selectFrom('users').select('id').where('role', '=', 'director').where('disabled', '=', false).execute()).map((u) => u.id);
    let raised = 0;
    for (const [key, w] of wanted) {
      let alertId = stillOpen.get(key);
      let isNew = false;
      if (alertId === undefined) {
        // The partial unique index keeps one open alert per (matter, kind) even against a racing writer.
        const row = await trx
          .insertInto('matter_alerts')
          .values({ matter_id: w.matter.id, kind: w.kind, detail: JSON.stringify(w.detail), raised_at: now })
          .onConflict((oc) => oc.columns(['matter_id', 'kind']).where('resolved_at', 'is', null).doNothing())
          .returning('id')
          .executeTakeFirst();
        if (!row) continue;
        alertId = row.id;
        isNew = true;
        raised++;
      }
      // The responsible lawyer and every active director; an open alert also reaches a lawyer who
      // took the matter over (or a director appointed) since it was raised.
      const recipients = [...new Set([w.matter.responsible_lawyer_id, ...directors])];
      const added = await trx
        .insertInto('matter_alert_recipients')
        .values(recipients.map((user_id) => ({ alert_id: alertId, user_id, acknowledged_at: null })))
        .onConflict((oc) => oc.columns(['alert_id', 'user_id']).doNothing())
        .returning('user_id')
        .execute();
      for (const { user_id } of added) {
        await announce(trx, { topic: `user:${user_id}`, data: { type: 'matter.alert', alert_id: alertId, matter_id: w.matter.id, number: w.matter.number, kind: w.kind, new: isNew } });
      }
    }

    await appendAudit(trx, {
      at: now,
      actor: 'system',
      action: 'matter.tracking_scan',
      object: null,
      result: 'success',
      detail: { matters: matters.length, raised, resolved: toResolve.length, open: wanted.size },
    });
    return { raised, resolved: toResolve.length };
  });
}

// ---------------------------------------------------------------------------------------------
// Reading and acknowledging alerts

export interface AlertView {
  id: number;
  matter_id: number;
  matter_number: string;
  matter_title: string;
  kind: string;
  detail: Record<string, unknown>;
  message: string;
  raised_at: string;
  resolved_at: string | null;
  /** whether the actor is among the alert's recipients (only they may acknowledge it) */
  recipient: boolean;
  /** when the actor acknowledged it; null when not (yet) */
  acknowledged_at: string | null;
}

/** A sentence in Chinese and English for an alert, from its figures. */
export function alertMessage(kind: string, d: Record<string, unknown>): string {
  switch (kind) {
    case 'open_too_long':
      return `案件已办理 ${d.days} 天未结案（上限 ${d.limit_days} 天） / open for ${d.days} days without being closed (limit ${d.limit_days})`;
    case 'stale':
      return `案件已 ${d.days} 天无进展更新（上限 ${d.limit_days} 天） / no progress recorded for ${d.days} days (limit ${d.limit_days})`;
    case 'overbilled':
      return `已开账单 ${d.billed} 元，超出约定律师费 ${d.agreed} 元（容差 ${d.tolerance_percent}%） / billed ${d.billed} exceeds the agreed fee of ${d.agreed} (tolerance ${d.tolerance_percent}%)`;
    case 'unpaid':
      return `尚有 ${d.outstanding} 元未收，最早未收账单（${d.oldest_unpaid_bill_on}）已 ${d.days} 天 / ${d.outstanding} outstanding; the oldest unpaid bill (${d.oldest_unpaid_bill_on}) is ${d.days} days old`;
    case 'client_not_informed':
      return `收案已 ${d.days} 天，尚未登记告知委托人（期限 ${d.limit_days} 天） / client not recorded as informed ${d.days} days after opening (limit ${d.limit_days})`;
    default:
      return kind;
  }
}

/** Every alert with its matter, and the actor's own recipient row when there is one. */
function alertQuery(db: Db, actor: Actor) {
  const userId = actor.userId ?? -1;
  return db
    .selectFrom('matter_alerts as a')
    .innerJoin('matters as m', 'm.id', 'a.matter_id')
    .leftJoin('matter_alert_recipients as r', (j) => j.onRef('r.alert_id', '=', 'a.id').on('r.user_id', '=', userId))
    .select(['a.id', 'a.matter_id', 'm.number as matter_number', 'm.title as matter_title', 'a.kind', 'a.detail', 'a.raised_at', 'a.resolved_at', 'r.user_id as recipient_id', 'r.acknowledged_at'])
    // Whoever cannot see the matter (e.g. a recipient since taken off its team) does not see its alerts (Z6.3.3.4).
    .where((eb) => matterVisibleTo(actor)(eb as unknown as ExpressionBuilder<Database & { m: Database['matters'] }, 'm'>));
}

function toView(r: {
  id: number;
  matter_id: number;
  matter_number: string;
  matter_title: string;
  kind: string;
  detail: Record<string, unknown>;
  raised_at: Date;
  resolved_at: Date | null;
  recipient_id: number | null;
  acknowledged_at: Date | null;
}): AlertView {
  return {
    id: r.id,
    matter_id: r.matter_id,
    matter_number: r.matter_number,
    matter_title: r.matter_title,
    kind: r.kind,
    detail: r.detail,
    message: alertMessage(r.kind, r.detail),
    raised_at: r.raised_at.toISOString(),
    resolved_at: r.resolved_at?.toISOString() ?? null,
    recipient: r.recipient_id !== null,
    acknowledged_at: r.acknowledged_at?.toISOString() ?? null,
  };
}

/**
 * The alerts the actor receives; whoever sees every matter (director, administrative staff, finance)
 * sees every alert. `open` leaves out resolved ones.
 */
export async function listAlerts(ctx: ServiceContext, actor: Actor, status: 'open' | 'all'): Promise<AlertView[]> {
  let q = alertQuery(ctx.db, actor);
  if (!seesAllMatters(actor)) q = q.where('r.user_id', 'is not', null);
  if (status === 'open') q = q.where('a.resolved_at', 'is', null);
  const rows = await q.orderBy('a.raised_at', 'desc').orderBy('a.id', 'desc').limit(1000).execute();
  return rows.map(toView);
}

/** Marks an alert as seen by the actor; only its recipients may, anyone else gets the same 404. */
export async function acknowledgeAlert(ctx: ServiceContext, actor: Actor, alertId: number): Promise<AlertView> {
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    const row = await alertQuery(trx, actor).where('a.id', '=', alertId).where('r.user_id', 'is not', null).executeTakeFirst();
    if (!row) throw notFound('ALERT_NOT_FOUND', `No alert ${alertId} addressed to you. / 提醒不存在或不是发给您的。`);
    if (row.acknowledged_at) return toView(row);
    const ack = await trx
      .updateTable('matter_alert_recipients')
      .set({ acknowledged_at: now })
      .where('alert_id', '=', alertId)
      .where('user_id', '=', actor.userId!)
      .where('acknowledged_at', 'is', null)
      .returning('acknowledged_at')
      .executeTakeFirst();
    if (!ack) return toView(row);
    await appendAudit(trx, {
      at: now,
      actor: actor.username,
      action: 'matter.alert_acknowledge',
      object: `matter:${row.matter_number}`,
      result: 'success',
      sourceIp: actor.sourceIp,
      detail: { alert_id: alertId, kind: row.kind },
    });
    return toView({ ...row, acknowledged_at: ack.acknowledged_at });
  });
}

/** For tests and the CLI: the open alert of a matter and kind, if any. */
export async function openAlert(db: Db, matterId: number, kind: AlertKind) {
  return db.selectFrom('matter_alerts').selectAll().where('matter_id', '=', matterId).where('kind', '=', kind).where('resolved_at', 'is', null).executeTakeFirst();
}
