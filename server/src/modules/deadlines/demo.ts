import { shanghaiDate, shanghaiDayStart } from '../../calendar.js';
import type { Actor, ServiceContext } from '../../context.js';
import { addDeadline, recordHearing, recordHearingSummary } from './service.js';

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/**
 * The demo firm's deadlines and hearings, on the matters of demo/practice.ts and dated from today:
 * a hearing next week with its pre-hearing notice and last month's evidence exchange with its
 * summary, an evidence period running, an administrative appeal period from a judgment served this
 * week, the enforcement application period and a preservation measure to renew, and the end of a
 * prosecutor's review in the criminal matter. Runs once: an instance with any deadline is left alone.
 */
export async function seedDeadlinesDemo(ctx: ServiceContext): Promise<{ deadlines: number; hearings: number }> {
  if (await ctx.db.selectFrom('matter_deadlines').select('id').limit(1).executeTakeFirst()) return { deadlines: 0, hearings: 0 };
  const users = await ctx.db.selectFrom('users').select(['id', 'username', 'role']).execute();
  const person = (username: string): Actor => {
    const u = users.find((x) => x.username === username);
    if (!u) throw new Error(`demo user ${username} missing`);
    return { userId: u.id, username: u.username, role: u.role, sourceIp: null };
  };
  const matterId = async (title: string): Promise<number> => {
    const m = await ctx.db.selectFrom('matters').select('id').where('title', '=', title).executeTakeFirst();
    if (!m) throw new Error(`demo matter ${title} missing`);
    return m.id;
  };
  const now = ctx.clock.now();
  const day = (n: number) => shanghaiDate(new Date(now.getTime() + n * DAY_MS));
  /** `hour` o'clock Beijing time, `n` days from today. */
  const at = (n: number, hour: number, minute = 0) => new Date(shanghaiDayStart(new Date(now.getTime() + n * DAY_MS)).getTime() + hour * HOUR_MS + minute * 60_000).toISOString();

  const zhang = person('lawyer.zhang');
  const chen = person('lawyer.chen');
  const li = person('partner.li');
  let deadlines = 0;
  let hearings = 0;

  const huaxin = await matterId('北京华信科技有限公司诉上海瑞丰国际贸易有限公司买卖合同纠纷');
  const exchange = await recordHearing(ctx, zhang, huaxin, { court: '北京市朝阳区人民法院', room: '第十二法庭', judge: '孙立', starts_at: at(-20, 9, 30), send_notice: false });
  await recordHearingSummary(ctx, zhang, exchange.hearing.id, {
    held_at: at(-20, 9, 35),
    record: '庭前证据交换。我方提交买卖合同、送货单12份、对账单；对方对送货单第7、9份签收人身份提出异议，认可对账单真实性。',
    materials_to_supply: '送货单第7、9份签收人的授权委托书或劳动关系证明',
    facts_to_verify: '2025年8月两批货物的实际签收人及签收时间',
    judge_requests: '举证期限届满前补充签收人身份材料；双方考虑调解方案',
  });
  await recordHearing(ctx, zhang, huaxin, { court: '北京市朝阳区人民法院', room: '第十二法庭', address: '北京市朝阳区朝阳公园南路甲1号', judge: '孙立', starts_at: at(5, 9, 30), note: '请携带送货单原件12份及对账单原件' });
  hearings += 2;
  await addDeadline(ctx, zhang, huaxin, { rule: 'evidence_first_instance', trigger_date: day(-10), title: '补充证据（签收人身份材料）', note: '举证通知书：举证期限十五日' });
  deadlines++;

  const divorce = await matterId('王秀英与刘建军离婚纠纷');
  await recordHearing(ctx, chen, divorce, { court: '北京市海淀区人民法院', room: '第三法庭', starts_at: at(12, 14), note: '请携带结婚证、房产证原件及子女出生医学证明' });
  hearings++;

  const tengyue = await matterId('深圳市腾跃电子股份有限公司诉深圳市市场监督管理局行政处罚');
  await addDeadline(ctx, chen, tengyue, { rule: 'admin_appeal_judgment', trigger_date: day(-3), title: '上诉期限（一审行政判决）' });
  deadlines++;

  const enforcement = await matterId('陈立新申请执行民间借贷纠纷判决');
  await addDeadline(ctx, zhang, enforcement, { rule: 'enforcement_application', trigger_date: day(-600), title: '申请执行期间（判决履行期届满）' });
  await addDeadline(ctx, zhang, enforcement, { milestone: 'preservation', title: '孙浩名下银行存款冻结届满，申请续行冻结', due_date: day(40), note: '冻结民事裁定书载明冻结期限一年' });
  deadlines += 2;

  const criminal = await matterId('赵磊涉嫌合同诈骗罪辩护');
  await addDeadline(ctx, li, criminal, {
    milestone: 'other',
    title: '审查起诉期限届满',
    due_date: day(18),
    notify_client: false,
    note: '《刑事诉讼法》第一百七十二条：人民检察院对于移送起诉的案件，应当在一个月以内作出决定，重大、复杂的案件，可以延长十五日。',
  });
  deadlines++;
  return { deadlines, hearings };
}
