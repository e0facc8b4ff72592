import { shanghaiDate } from '../../calendar.js';
import type { Actor, ServiceContext } from '../../context.js';
import { convertConsultation, recordConsultation } from '../consultations/service.js';
import { changeInvoiceStatus, enterInvoiceRequest } from '../invoices/service.js';
import { recordDetentionMeeting, recordDraft, recordReceivedDocument, requestConfirmation } from './service.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/**
 * The demo's client records, on the demo practice's matters (demo/practice.ts): a consultation that
 * became a labour arbitration and one still open; the first-instance judgment in the 华信 sales case,
 * registered by the front desk with its appeal deadline and the client told; a lawyer's letter for
 * the 首创置业 retainer waiting for the client's confirmation in the portal; a meeting with the
 * detained client in the 赵磊 defence; and 华信's invoice request, taken up by finance. Each goes
 * through the services at plausible times before now, so audit, archive and notices read as real.
 * Runs once: when the 华信 matter already has records, the instance is left alone.
 */
export async function seedClientRecordsDemo(ctx: ServiceContext): Promise<void> {
  const users = await ctx.db.selectFrom('users').select(['id', 'username', 'role']).execute();
  const person = (username: string): Actor => {
    const u = users.find((x) => x.username === username);
    if (!u) throw new Error(`demo user ${username} missing`);
    return { userId: u.id, username: u.username, role: u.role, sourceIp: null };
  };
  const matter = async (title: string) => {
    const m = await ctx.db.selectFrom('matters').select('id').where('title', '=', title).executeTakeFirst();
    if (!m) throw new Error(`demo matter ${title} missing`);
    return m.id;
  };
  const huaxin = await matter('北京华信科技有限公司诉上海瑞丰国际贸易有限公司买卖合同纠纷');
  if (await ctx.db.selectFrom('communication_records').select('id').where('matter_id', '=', huaxin).limit(1).executeTakeFirst()) return;
  const now = ctx.clock.now().getTime();
  const ago = (ms: number) => new Date(now - ms);
  const at = (ms: number): ServiceContext => ({ ...ctx, clock: { now: () => ago(ms) } });
  const [zhang, chen, li, director, liu, finance] = ['lawyer.zhang', 'lawyer.chen', 'partner.li', 'director', 'admin.liu', 'finance.sun'].map(person) as [Actor, Actor, Actor, Actor, Actor, Actor];

  // Z5.2.1: a visit that became a matter, and an online consultation still on the lawyer's desk.
  const labour = await recordConsultation(at(5 * DAY_MS), chen, {
    channel: 'visit',
    person_name: '吴晓丽',
    phone: '13661234567',
    topic: '被公司违法解除劳动合同',
    summary: '咨询人在北京远航物流有限公司任仓储主管五年，公司以“不胜任工作”为由解除劳动合同，未经培训或调岗，未支付经济补偿。月平均工资12,000元。',
    advice: '公司未经培训或调岗即以不胜任为由解除，涉嫌违法解除；可申请劳动仲裁，主张违法解除赔偿金（2N，约12万元）。注意自解除之日起一年仲裁时效，保留解除通知书、工资流水。',
    consulted_at: ago(5 * DAY_MS + 2 * HOUR_MS).toISOString(),
    duration_minutes: 50,
  });
  await convertConsultation(at(4 * DAY_MS), chen, labour.id, {
    title: '吴晓丽与北京远航物流有限公司劳动争议仲裁',
    type: 'arbitration',
    cause: '劳动争议（违法解除劳动合同）',
    court: '北京市朝阳区劳动人事争议仲裁委员会',
    stage: '仲裁',
    fee_arrangement: 'fixed',
    fee_amount: '15000.00',
    client: { kind: 'person' },
    other_parties: [{ role: 'opposing', kind: 'organization', name: '北京远航物流有限公司' }],
    claims: '支付违法解除劳动合同赔偿金120,000元',
  });
  await recordConsultation(at(DAY_MS), zhang, {
    channel: 'online_chat',
    person_name: '钱伟',
    email: 'qianwei@example.cn',
    topic: '民间借贷到期未还',
    summary: '2024年借给朋友30万元，有借条和银行转账记录，约定2025年底还款，至今未还，对方已不回复消息。',
    advice: '借条与转账记录可形成完整证据链；先发律师函催告，同时注意三年诉讼时效自约定还款期届满起算；可考虑诉前财产保全。',
    consulted_at: ago(DAY_MS + 3 * HOUR_MS).toISOString(),
    duration_minutes: 25,
  });

  // Z5.5.1a, Z5.5.2c: the front desk registers the judgment the court served three days ago.
  const served = shanghaiDate(ago(3 * DAY_MS));
  await recordReceivedDocument(at(3 * DAY_MS - 2 * HOUR_MS), liu, huaxin, {
    authority_kind: 'court',
    authority: '北京市朝阳区人民法院',
    document_kind: '判决书',
    document_number: '(2026)京0105民初12345号',
    received_on: served,
    served_on: served,
    summary: '判决被告上海瑞丰国际贸易有限公司于判决生效之日起十日内支付货款1,260,000元及逾期付款损失；驳回原告其他诉讼请求。',
    deadline: { rule: 'civil_appeal_judgment' },
  });

  // Z5.4.4: 华信's finance asked for a 专票 on the fee paid; finance has taken it up.
  const invoice = await enterInvoiceRequest(at(2 * DAY_MS), zhang, huaxin, {
    invoice_type: 'special',
    title_kind: 'organization',
    title: '北京华信科技有限公司',
    taxpayer_id: '91110105MA01ABCD13',
    amount: '40000.00',
    company_address: '北京市朝阳区酒仙桥路10号',
    company_phone: '010-65880001',
    bank_name: '中国工商银行北京酒仙桥支行',
    bank_account: '0200001009200012345',
    delivery: 'post',
    recipient_name: '赵丽华',
    recipient_phone: '13801010002',
    postal_address: '北京市朝阳区酒仙桥路10号华信科技财务部',
    note: '客户财务部邮件申请：首期律师费发票',
  });
  await changeInvoiceStatus(at(DAY_MS), finance, invoice.id, { status: 'processing' });

  // Z5.5.1b: a lawyer's letter for the retainer client, waiting for its confirmation in the portal.
  const retainer = await matter('北京首创置业集团有限公司常年法律顾问');
  const letter = await recordDraft(at(DAY_MS + 4 * HOUR_MS), director, retainer, {
    draft_kind: 'lawyer_letter',
    title: '关于催告支付拖欠租金的律师函',
    recipient: '北京悦来餐饮管理有限公司',
    content: [
      '北京悦来餐饮管理有限公司：',
      '【演示】北京明衡律师事务所受北京首创置业集团有限公司（以下简称“委托人”）委托，就贵司拖欠租金事宜致函如下：',
      '一、贵司承租委托人位于北京市朝阳区建国路 88 号一层的商铺，自2026年7月起拖欠租金共计人民币486,000元。',
      '二、请贵司于收到本函之日起十日内付清上述欠款；逾期未付，委托人将依据租赁合同第十二条解除合同，并通过诉讼追索欠款及违约金。',
      '特此函告。',
    ].join('\n'),
  });
  await requestConfirmation(at(DAY_MS + 3 * HOUR_MS), director, letter.id);

  // Z5.5.1e: the defence lawyer met the detained client; the family was told of his needs that evening.
  const defence = await matter('赵磊涉嫌合同诈骗罪辩护');
  const met = ago(2 * DAY_MS + 5 * HOUR_MS);
  await recordDetentionMeeting(at(2 * DAY_MS), li, defence, {
    met_at: met.toISOString(),
    duration_minutes: 75,
    place: '北京市海淀区看守所',
    detainee: '赵磊',
    summary: '核实合同签订及货款往来经过，告知审查起诉阶段的诉讼权利及认罪认罚从宽制度；当事人情绪稳定。',
    non_case_needs: '天气转冷，需要厚衣物两套；请家属向看守所账户存入生活费500元；转告父母保重身体。',
    told: { at: new Date(met.getTime() + 4 * HOUR_MS).toISOString(), method: 'phone', to: '赵磊之妻 孙悦' },
  });
}
