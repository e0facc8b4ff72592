import { sql } from 'kysely';
import type { Actor, ServiceContext } from '../../context.js';
import type { Db } from '../../db/index.js';
import { shanghaiDate, shanghaiDayStart, shanghaiMonthStart } from '../../calendar.js';
import { badRequest } from '../../errors.js';
import { appendAudit } from '../audit/service.js';
import { announce } from '../realtime/hub.js';
import { requirePermission } from '../auth/roles.js';
import { MATTER_TYPES, type MatterType } from '../matters/numbering.js';
import { RECORD_TYPES } from '../meetings/service.js';
import { upcomingCounts } from '../deadlines/service.js';
import { readSetting, writeSetting } from '../../db/settings.js';

/**
 * Firm statistics for wall screens and management (Z6.4.3). Counts only: no client, party or visitor
 * identity is ever part of them, so a wall in the lobby can show them.
 */
export interface Stats {
  generated_at: string;
  matters: {
    open: number;
    new_this_month: number;
    closed_this_month: number;
    by_type: { type: string; label_zh: string; label_en: string; count: number }[];
    new_by_month: { month: string; count: number }[];
  };
  hearings: { today: number; this_week: number };
  deadlines: { due_7_days: number; overdue: number };
  visitors: { on_site: number; today: number };
  /** meeting_title: the kind of meeting running (案件讨论会…), never its title */
  rooms: { in_use: number; total: number; list: { id: string; name: string; in_use: boolean; meeting_title: string | null }[] };
  devices: { online: number; offline: number; total: number };
  /** only when the director has enabled revenue on walls; amounts in yuan as exact decimal strings */
  revenue: { this_month: string; this_year: string } | null;
}

export const STATS_SETTINGS_KEY = 'stats';
export interface StatsSettings {
  /** revenue on wall screens: off unless the firm decides to show it */
  show_revenue: boolean;
}

export async function statsSettings(db: Db): Promise<StatsSettings> {
  return { show_revenue: ((await readSetting(db, STATS_SETTINGS_KEY)) as Partial<StatsSettings> | undefined)?.show_revenue === true };
}

export async function updateStatsSettings(ctx: ServiceContext, actor: Actor, next: StatsSettings): Promise<StatsSettings> {
  requirePermission(actor, 'practice.configure');
  if (typeof next.show_revenue !== 'boolean') throw badRequest('INVALID_SETTING', 'show_revenue must be true or false. / 设置值不正确。');
  const now = ctx.clock.now();
  await ctx.db.transaction().execute(async (trx) => {
    const before = await statsSettings(trx);
    await writeSetting(trx, STATS_SETTINGS_KEY, next);
    // Walls show the change at once: the announcement reaches the stats publisher of every process.
    await announce(trx, { topic: 'stats', data: { type: 'settings.changed' } });
    await appendAudit(trx, { at: now, actor: actor.username, action: 'settings.stats', object: `settings:${STATS_SETTINGS_KEY}`, result: 'success', sourceIp: actor.sourceIp, detail: { show_revenue: { from: before.show_revenue, to: next.show_revenue } } });
  });
  return next;
}

const shanghaiMonth = (at: Date) => shanghaiDate(at).slice(0, 7);
const count = (v: unknown) => Number(v ?? 0);

export async function computeStats(ctx: ServiceContext): Promise<Stats> {
  const db = ctx.db;
  const now = ctx.clock.now();
  const thisMonth = shanghaiMonthStart(now);
  const dayStart = shanghaiDayStart(now);
  // Twelve month boundaries, oldest first, and the end of the current month.
  const bounds = Array.from({ length: 13 }, (_, i) => shanghaiMonthStart(now, 11 - i));

  const [matters, byType, byMonth, devices, settings] = await Promise.all([
    db
      .selectFrom('matters')
      .select((eb) => [
        eb.fn.countAll().filterWhere('status', 'in', ['open', 'suspended']).as('open'),
        eb.fn.countAll().filterWhere('opened_at', '>=', thisMonth).as('new_this_month'),
        eb.fn.countAll().filterWhere('closed_at', '>=', thisMonth).as('closed_this_month'),
      ])
      .executeTakeFirstOrThrow(),
    db.selectFrom('matters').select(['type', (eb) => eb.fn.countAll().as('n')]).where('status', 'in', ['open', 'suspended']).groupBy('type').execute(),
    db
      .selectFrom('matters')
      .select(bounds.slice(0, 12).map((from, i) => sql<number>`count(*) filter (where opened_at >= ${from} and opened_at < ${bounds[i + 1]!})`.as(`m${i}`)))
      .executeTakeFirstOrThrow(),
    db
      .selectFrom('devices')
      .select((eb) => [eb.fn.countAll().filterWhere('availability', '=', 'online').as('online'), eb.fn.countAll().as('total')])
      .where('enabled', '=', true)
      .executeTakeFirstOrThrow(),
    statsSettings(db),
  ]);

  // On site: arrived and not gone, including a flagged visitor waiting in the lobby (who counts at a roll call too).
  const visitors = await db
    .selectFrom('visitor_visits')
    .select((eb) => [
      eb.fn.countAll().filterWhere((f) => f.and([f('checked_in_at', 'is not', null), f('checked_out_at', 'is', null)])).as('on_site'),
      eb.fn.countAll().filterWhere('checked_in_at', '>=', dayStart).as('today'),
    ])
    .executeTakeFirstOrThrow();
  const rooms = await roomsInUse(ctx);
  const { hearings, deadlines } = await upcomingCounts(db, now);

  let revenue: Stats['revenue'] = null;
  if (settings.show_revenue) {
    const year = `${shanghaiDate(now).slice(0, 4)}-01-01`;
    const month = `${shanghaiMonth(now)}-01`;
    const r = await db
      .selectFrom('matter_fees')
      .select([
        sql<string>`coalesce(sum(amount) filter (where occurred_on >= ${month}::date), 0)::text`.as('this_month'),
        sql<string>`coalesce(sum(amount) filter (where occurred_on >= ${year}::date), 0)::text`.as('this_year'),
      ])
      .where('kind', '=', 'payment')
      .executeTakeFirstOrThrow();
    revenue = { this_month: r.this_month, this_year: r.this_year };
  }

  const byMonthRow = byMonth as Record<string, unknown>;
  return {
    generated_at: now.toISOString(),
    matters: {
      open: count(matters.open),
      new_this_month: count(matters.new_this_month),
      closed_this_month: count(matters.closed_this_month),
      by_type: byType
        .map((r) => {
          const label = MATTER_TYPES[r.type as MatterType];
          return { type: r.type, label_zh: label?.zh ?? r.type, label_en: label?.en ?? r.type, count: count(r.n) };
        })
        .sort((a, b) => b.count - a.count || a.type.localeCompare(b.type)),
      new_by_month: bounds.slice(0, 12).map((from, i) => ({ month: shanghaiMonth(from), count: count(byMonthRow[`m${i}`]) })),
    },
    hearings,
    deadlines,
    visitors: { on_site: count(visitors.on_site), today: count(visitors.today) },
    rooms,
    devices: { online: count(devices.online), offline: count(devices.total) - count(devices.online), total: count(devices.total) },
    revenue,
  };
}

/** Rooms and whether a meeting is running in each now, shown by its kind (案件讨论会, 支部党员大会…). */
async function roomsInUse(ctx: ServiceContext): Promise<Stats['rooms']> {
  const rooms = await ctx.db.selectFrom('meeting_rooms').select(['id', 'name']).orderBy('id').execute();
  const running = await ctx.db
    .selectFrom('meeting_sessions')
    .select(['room_id', 'kind', 'record_type'])
    .where('started_at', 'is not', null)
    .where('ended_at', 'is', null)
    .execute();
  const byRoom = new Map(running.map((m) => [m.room_id, m]));
  const list = rooms.map((r) => {
    const m = byRoom.get(r.id);
    // The kind of meeting, never its title: titles name clients and opposing parties (华信诉瑞丰…).
    const label = m ? (RECORD_TYPES.find((t) => t.kind === m.kind && t.record_type === m.record_type)?.label ?? '会议中') : null;
    return { id: r.id, name: r.name, in_use: !!m, meeting_title: label };
  });
  return { in_use: list.filter((r) => r.in_use).length, total: list.length, list };
}
