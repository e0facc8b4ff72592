import { shanghaiDate } from '../../calendar.js';
import type { Actor, ServiceContext } from '../../context.js';
import { createProject, createTask } from '../collaboration/service.js';
import { recordFee } from '../fees/service.js';
import { scanMatters } from '../tracking/service.js';
import { createMatter, addWorkRecord, recordClientInformed, type MatterInput } from '../matters/service.js';
import { updateNumberingSettings } from '../matters/numbering.js';

/**
 * The demo firm's book of matters: clients of both kinds, an intake that hits an existing matter and
 * waits in the conflict reviewers' queue, work records and working papers. Identifiers are made up
 * but pass their check digits, so the demo behaves like real data. Names carry no real person.
 */
const MATTERS: { by: string; input: Omit<MatterInput, 'responsible_lawyer_id' | 'team_ids'>; team?: string[]; informed?: boolean; records?: { kind: 'work_log' | 'working_paper'; title: string; content: string; hours?: string }[] }[] = [
  {
    by: 'lawyer.zhang',
    team: ['intern.zhao'],
    informed: true,
    input: {
      title: '北京华信科技有限公司诉上海瑞丰国际贸易有限公司买卖合同纠纷',
      type: 'civil',
      cause: '买卖合同纠纷',
      court: '北京市朝阳区人民法院',
      stage: '一审',
      fee_arrangement: 'fixed',
      fee_amount: '80000.00',
      intake: { facts: '2025年供货服务器一批，对方拖欠货款人民币126万元。', claims: '支付货款126万元及逾期付款损失', materials: '买卖合同、送货单、对账单', source: '老客户推荐', risk_notice_given: true },
      parties: [
        {
          role: 'client',
          kind: 'organization',
          name: '北京华信科技有限公司',
          uscc: '91110105MA01ABCD13',
          legal_representative: '李建国',
          shareholders: [{ name: '李建国', id_number: '110105196504051152' }, { name: '赵丽华', id_number: '110108197211304623' }],
          phone: '010-65880001',
          address: '北京市朝阳区酒仙桥路10号',
        },
        { role: 'opposing', kind: 'organization', name: '上海瑞丰国际贸易有限公司', uscc: '91310115MA1K4XYR2X', legal_representative: '周瑞丰' },
      ],
    },
    records: [
      { kind: 'work_log', title: '与客户财务核对欠款金额', content: '确认未付货款1,260,000元，取得对账单原件。', hours: '2' },
      { kind: 'working_paper', title: '证据目录（第一组）', content: '1. 买卖合同；2. 送货单12份；3. 对账单；4. 催款函及快递单。' },
    ],
  },
  {
    by: 'lawyer.chen',
    informed: true,
    input: {
      title: '王秀英与刘建军离婚纠纷',
      type: 'civil',
      cause: '离婚纠纷',
      court: '北京市海淀区人民法院',
      stage: '一审',
      fee_arrangement: 'fixed',
      fee_amount: '30000.00',
      intake: { facts: '婚后共同财产包括房产一套，子女一名八岁。', claims: '离婚、子女抚养权、分割共同财产', risk_notice_given: true },
      parties: [
        { role: 'client', kind: 'person', name: '王秀英', id_number: '110105197803152310', phone: '13911112222', address: '北京市海淀区中关村南大街5号' },
        { role: 'opposing', kind: 'person', name: '刘建军', id_number: '440305199001083516' },
      ],
    },
    records: [{ kind: 'work_log', title: '首次会见当事人', content: '了解婚姻状况及财产情况，告知诉讼风险。', hours: '1.5' }],
  },
  {
    by: 'partner.li',
    team: ['lawyer.zhang'],
    input: {
      title: '赵磊涉嫌合同诈骗罪辩护',
      type: 'criminal',
      cause: '合同诈骗罪',
      court: '北京市海淀区人民检察院',
      stage: '审查起诉',
      fee_arrangement: 'fixed',
      fee_amount: '150000.00',
      intake: { facts: '犯罪嫌疑人赵磊于2026年9月被刑事拘留，现羁押于海淀区看守所。', risk_notice_given: true },
      parties: [{ role: 'client', kind: 'person', name: '赵磊', id_number: '310104198506224029' }],
    },
  },
  {
    by: 'lawyer.chen',
    input: {
      title: '深圳市腾跃电子股份有限公司诉深圳市市场监督管理局行政处罚',
      type: 'administrative',
      cause: '行政处罚',
      court: '深圳市福田区人民法院',
      stage: '一审',
      fee_arrangement: 'hourly',
      parties: [
        { role: 'client', kind: 'organization', name: '深圳市腾跃电子股份有限公司', uscc: '91440300MA5F8QRT3L', legal_representative: '马腾跃', shareholders: [{ name: '马腾跃' }] },
        { role: 'opposing', kind: 'organization', name: '深圳市市场监督管理局' },
      ],
    },
  },
  {
    by: 'partner.li',
    team: ['lawyer.chen'],
    informed: true,
    input: {
      title: '杭州云栖文化传媒有限公司与北京星河影视有限公司著作权许可合同仲裁',
      type: 'arbitration',
      cause: '著作权许可使用合同纠纷',
      court: '北京仲裁委员会',
      stage: '仲裁',
      fee_arrangement: 'contingency',
      parties: [
        { role: 'client', kind: 'organization', name: '杭州云栖文化传媒有限公司', uscc: '91330106MA2H3JKL4H', legal_representative: '沈云' },
        { role: 'opposing', kind: 'organization', name: '北京星河影视有限公司', uscc: '91110108MA00EFGH5Y' },
      ],
    },
  },
  {
    by: 'director',
    team: ['partner.li'],
    informed: true,
    input: {
      title: '北京首创置业集团有限公司常年法律顾问',
      type: 'legal_counsel',
      fee_arrangement: 'retainer',
      fee_amount: '200000.00',
      parties: [{ role: 'client', kind: 'organization', name: '北京首创置业集团有限公司', legal_representative: '陈首创' }],
    },
  },
  {
    by: 'lawyer.zhang',
    input: {
      title: '陈立新申请执行民间借贷纠纷判决',
      type: 'enforcement',
      cause: '民间借贷纠纷',
      court: '北京市朝阳区人民法院',
      stage: '执行',
      parties: [
        { role: 'client', kind: 'person', name: '陈立新', id_number: '330106198812121737' },
        { role: 'opposing', kind: 'person', name: '孙浩' },
      ],
    },
  },
  // The other side of the first matter wants to hire the firm: the intake check hits it, and a
  // lawyer who is not on that matter sees the hit redacted while it waits for a reviewer. The target
  // company's shareholder runs a client of another matter: a related-party hit.
  {
    by: 'lawyer.chen',
    input: {
      title: '上海瑞丰国际贸易有限公司股权收购尽职调查',
      type: 'non_litigation',
      fee_arrangement: 'fixed',
      fee_amount: '120000.00',
      parties: [
        { role: 'client', kind: 'organization', name: '上海瑞丰國際貿易有限責任公司', legal_representative: '周瑞丰' },
        { role: 'related', kind: 'organization', name: '苏州东吴精密制造有限公司', shareholders: [{ name: '马腾跃' }] },
      ],
    },
  },
];

export async function loadDemoPractice(ctx: ServiceContext): Promise<{ matters: number; alerts: number }> {
  const users = await ctx.db.selectFrom('users').select(['id', 'username', 'role']).execute();
  const actor = (username: string): Actor => {
    const u = users.find((x) => x.username === username);
    if (!u) throw new Error(`demo user ${username} missing`);
    return { userId: u.id, username: u.username, role: u.role, sourceIp: null };
  };
  await updateNumberingSettings(ctx, actor('director'), { pattern: '({year}){firm}{type}字第{seq:4}号', firm_abbreviation: '京明衡' });
  const ids: number[] = [];
  for (const m of MATTERS) {
    const by = actor(m.by);
    const { matter } = await createMatter(ctx, by, { ...m.input, responsible_lawyer_id: by.userId!, team_ids: (m.team ?? []).map((u) => actor(u).userId!) });
    for (const r of m.records ?? []) await addWorkRecord(ctx, by, matter.id, r);
    if (m.informed) await recordClientInformed(ctx, by, matter.id, { method: 'phone', note: '已告知收案、收费标准及承办律师联系方式' });
    ids.push(matter.id);
  }

  // Fees: the first matter's bill is half paid and old enough for the tracking job to flag it.
  const daysAgo = (n: number) => shanghaiDate(new Date(ctx.clock.now().getTime() - n * 86_400_000));
  const finance = actor('finance.sun');
  await recordFee(ctx, finance, ids[0]!, { kind: 'bill', amount: '80000.00', occurred_on: daysAgo(75), note: '律师费（一审）' });
  await recordFee(ctx, finance, ids[0]!, { kind: 'payment', amount: '40000.00', occurred_on: daysAgo(60), note: '首期款' });
  await recordFee(ctx, finance, ids[5]!, { kind: 'bill', amount: '200000.00', occurred_on: daysAgo(20), note: '2026年度顾问费' });
  await recordFee(ctx, finance, ids[5]!, { kind: 'payment', amount: '200000.00', occurred_on: daysAgo(10) });

  // Collaboration across offices: a matter's evidence work with subtasks, and a firm-wide project.
  const zhang = actor('lawyer.zhang');
  const evidence = await createProject(ctx, zhang, { name: '华信买卖合同案证据整理', description: '一审举证期限届满前完成证据目录与质证意见', matter_id: ids[0]!, member_ids: [actor('intern.zhao').userId!] });
  const catalogue = await createTask(ctx, zhang, evidence.id, { title: '编制证据目录', assignee_ids: [actor('intern.zhao').userId!], due_on: daysAgo(-5), priority: 'high' });
  await createTask(ctx, zhang, evidence.id, { title: '核对送货单原件（12份）', parent_id: catalogue.id, assignee_ids: [actor('intern.zhao').userId!], due_on: daysAgo(-3) });
  await createTask(ctx, zhang, evidence.id, { title: '起草质证意见', assignee_ids: [zhang.userId!], due_on: daysAgo(-10) });
  const director = actor('director');
  const training = await createProject(ctx, director, { name: '2026年度数据合规培训', description: '北京总所与上海分所联合举办', member_ids: [actor('lawyer.chen').userId!, actor('partner.li').userId!, actor('admin.liu').userId!] });
  await createTask(ctx, director, training.id, { title: '上海分所场地与直播安排', assignee_ids: [actor('lawyer.chen').userId!], due_on: daysAgo(-14) });
  await createTask(ctx, director, training.id, { title: '培训课件：个人信息保护合规要点', assignee_ids: [actor('partner.li').userId!], due_on: daysAgo(-12), priority: 'high' });

  const { raised } = await scanMatters(ctx);
  return { matters: MATTERS.length, alerts: raised };
}
