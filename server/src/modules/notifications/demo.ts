import { shanghaiDayStart } from '../../calendar.js';
import { SYSTEM_ACTOR, type ServiceContext } from '../../context.js';
import { appendAudit } from '../audit/service.js';
import { notify, type NotificationInput } from './service.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** The demo lawyers' work numbers: the firm's switchboard extensions (the demo firm's own number block). */
const DEMO_CONTACTS: { username: string; phone: string; email: string }[] = [
  { username: 'director', phone: '010-65880100', email: 'wang.jianguo@demo-minghang.example' },
  { username: 'partner.li', phone: '010-65880101', email: 'li.minghua@demo-minghang.example' },
  { username: 'lawyer.zhang', phone: '010-65880102', email: 'zhang.weiming@demo-minghang.example' },
  { username: 'lawyer.chen', phone: '010-65880103', email: 'chen.xiaoyan@demo-minghang.example' },
];

/**
 * Gives the demo lawyers work phones and emails. Run it before the demo's matters are opened, so the
 * matter-accepted notices the clients get name their lawyer's number. A user who has one keeps it.
 */
export async function seedDemoStaffContacts(ctx: ServiceContext): Promise<void> {
  await ctx.db.transaction().execute(async (trx) => {
    let set = 0;
    for (const c of DEMO_CONTACTS) {
      const r = await trx.updateTable('users').set({ phone: c.phone, email: c.email }).where('username', '=', c.username).where('phone', 'is', null).where('email', 'is', null).executeTakeFirst();
      set += Number(r.numUpdatedRows);
    }
    if (set) await appendAudit(trx, { at: ctx.clock.now(), actor: SYSTEM_ACTOR.username, action: 'notifications.demo_contacts', object: null, result: 'success', detail: { users: set } });
  });
}

/**
 * The demo client 王秀英's portal: besides the matter-accepted notice her matter's intake sent, the
 * court's summons received a week ago, already read (the hearing it set, with its pre-hearing
 * notice, comes from the deadlines demo). Her lawyer gets the summons in the app too. External
 * channels stay off in the demo, so nothing leaves the appliance. Runs once (dedupe key).
 */
export async function seedNotificationsDemo(ctx: ServiceContext): Promise<void> {
  const matter = await ctx.db
    .selectFrom('matters as m')
    .innerJoin('parties as p', 'p.matter_id', 'm.id')
    .innerJoin('users as u', 'u.id', 'm.responsible_lawyer_id')
    .select(['m.id', 'm.number', 'm.court', 'm.opened_at', 'p.client_id', 'm.responsible_lawyer_id', 'u.display_name as lawyer_name', 'u.phone as lawyer_phone'])
    .where('m.title', 'like', '王秀英与刘建军%')
    .where('p.role', '=', 'client')
    .where('p.client_id', 'is not', null)
    .executeTakeFirst();
  if (!matter?.client_id) return;
  const now = ctx.clock.now();
  const court = matter.court ?? '人民法院';
  /** `hour` o'clock Beijing time, `daysAgo` days ago */
  // Never before the matter was opened (it was opened just now on a fresh demo), never in the future.
  const opened = matter.opened_at?.getTime() ?? now.getTime();
  const at = (daysAgo: number, hour: number) => new Date(Math.min(now.getTime(), Math.max(opened, shanghaiDayStart(now).getTime() - daysAgo * DAY_MS + hour * HOUR_MS)));
  const call = `如有疑问，请联系承办律师${matter.lawyer_name}${matter.lawyer_phone ? `（${matter.lawyer_phone}）` : ''}。`;

  const notices: { when: Date; read: boolean; input: NotificationInput }[] = [
    {
      when: at(7, 15),
      read: true,
      input: {
        event: 'document.received',
        client_id: matter.client_id,
        user_ids: [matter.responsible_lawyer_id],
        matter_id: matter.id,
        title: `收到法院文书：${court}传票及举证通知书`,
        body: `您委托的案件（${matter.number}）今日收到${court}送达的开庭传票、举证通知书及起诉状副本。本所已登记并据此计算举证期限，文书扫描件已归入案件档案。${call}`,
        dedupe_key: 'demo:document.received:summons',
      },
    },
  ];
  for (const n of notices) {
    const when = { ...ctx, clock: { now: () => n.when } };
    await ctx.db.transaction().execute(async (trx) => {
      const id = await notify(trx, when, n.input);
      if (id !== null && n.read) await trx.updateTable('notifications').set({ client_read_at: new Date(Math.min(now.getTime(), n.when.getTime() + 2 * HOUR_MS)) }).where('id', '=', id).execute();
    });
  }
}
