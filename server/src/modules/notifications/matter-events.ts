import type { Transaction } from 'kysely';
import type { ServiceContext } from '../../context.js';
import type { Database } from '../../db/schema.js';
import { notify } from './service.js';

/**
 * The notices the matters module sends its clients (Z5.4.3): the matter is accepted (number, title,
 * fee arrangement and amount, the responsible lawyer's name and work phone), and the responsible
 * lawyer changed. Each registered client party of the matter gets its own, in the transaction of
 * the change.
 */

const FEE_ARRANGEMENTS: Record<string, string> = {
  fixed: '固定收费',
  hourly: '计时收费',
  contingency: '风险代理收费',
  retainer: '常年顾问（按年收费）',
  mixed: '混合收费',
  pro_bono: '法律援助（免费）',
};

/** `80000.5` → `80,000.50` */
const yuan = (amount: string): string => {
  const [int = '0', frac = ''] = amount.split('.');
  return `${int.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}.${frac.padEnd(2, '0').slice(0, 2)}`;
};

async function matterFacts(trx: Transaction<Database>, matterId: number) {
  const matter = await trx
    .selectFrom('matters as m')
    .innerJoin('users as u', 'u.id', 'm.responsible_lawyer_id')
    .select(['m.id', 'm.number', 'm.title', 'm.status', 'm.fee_arrangement', 'm.fee_amount', 'm.responsible_lawyer_id', 'u.display_name as lawyer_name', 'u.phone as lawyer_phone'])
    .where('m.id', '=', matterId)
    .executeTakeFirstOrThrow();
  const clients = await trx
    .selectFrom('parties as p')
    .innerJoin('clients as c', 'c.id', 'p.client_id')
    .select(['c.id', 'c.name'])
    .where('p.matter_id', '=', matterId)
    .where('p.role', '=', 'client')
    .distinct()
    .orderBy('c.id')
    .execute();
  return { matter, clients };
}

const lawyerLines = (name: string, phone: string | null) => [`承办律师：${name}`, `联系电话：${phone ?? '请致电本所前台转接'}`];

/** The matter was accepted (收案): sent once per client, however often the matter reopens. */
export async function notifyMatterAccepted(trx: Transaction<Database>, ctx: ServiceContext, matterId: number): Promise<number[]> {
  const { matter, clients } = await matterFacts(trx, matterId);
  if (matter.status !== 'open') return [];
  const fee = [
    `收费方式：${matter.fee_arrangement ? (FEE_ARRANGEMENTS[matter.fee_arrangement] ?? matter.fee_arrangement) : '以委托合同约定为准'}`,
    ...(matter.fee_amount !== null ? [`律师费：人民币 ${yuan(matter.fee_amount)} 元`] : []),
  ];
  const ids: number[] = [];
  for (const client of clients) {
    const id = await notify(trx, ctx, {
      event: 'matter.accepted',
      client_id: client.id,
      matter_id: matter.id,
      title: `案件受理通知：${matter.number}`,
      body: [
        `${client.name}：`,
        '您委托的案件已由本所正式受理，现将有关事项告知如下：',
        `案件编号：${matter.number}`,
        `案件名称：${matter.title}`,
        ...fee,
        ...lawyerLines(matter.lawyer_name, matter.lawyer_phone),
        '如有疑问，请与承办律师联系。',
      ].join('\n'),
      dedupe_key: `matter.accepted:${matter.id}:${client.id}`,
    });
    if (id !== null) ids.push(id);
  }
  return ids;
}

/** The responsible lawyer changed: the client is told at once who now handles the matter and how to reach them. */
export async function notifyLawyerChanged(trx: Transaction<Database>, ctx: ServiceContext, matterId: number, formerLawyerId: number): Promise<number[]> {
  const { matter, clients } = await matterFacts(trx, matterId);
  const former = await trx.selectFrom('users').select('display_name').where('id', '=', formerLawyerId).executeTakeFirstOrThrow();
  const ids: number[] = [];
  for (const client of clients) {
    const id = await notify(trx, ctx, {
      event: 'matter.lawyer_changed',
      client_id: client.id,
      matter_id: matter.id,
      title: `承办律师变更通知：${matter.number}`,
      body: [
        `${client.name}：`,
        `您委托的“${matter.title}”（${matter.number}）承办律师已由${former.display_name}律师变更为${matter.lawyer_name}律师。`,
        ...lawyerLines(matter.lawyer_name, matter.lawyer_phone),
        '原承办律师的工作记录已完整移交，案件办理不受影响。如有疑问，请与本所联系。',
      ].join('\n'),
    });
    if (id !== null) ids.push(id);
  }
  return ids;
}
