import type { Actor, ServiceContext } from '../../context.js';
import { requestSignature } from '../documents/esign.js';
import { createPortalCode } from '../portal/service.js';
import type { DemoKioskLink } from './kiosks.js';

/**
 * The demo clients whose portals have something to show: a signed contract and an invoice request
 * (华信), notices and a coming hearing (王秀英), a lawyer's letter to confirm (首创置业), a closed
 * matter to rate (陈立新).
 */
const DEMO_PORTAL_CLIENTS = ['北京华信科技有限公司', '王秀英', '北京首创置业集团有限公司', '陈立新'];

/**
 * Addresses for whoever runs the demo to see the client's side: at each start of the demo, fresh
 * one-time portal codes for the demo clients, and the open signature link of the demo renewed (a
 * link's token is shown only once, so a restarted demo makes a new one; the old one stops working).
 */
export async function demoClientLinks(ctx: ServiceContext, baseUrl: string): Promise<DemoKioskLink[]> {
  const links: DemoKioskLink[] = [];
  for (const name of DEMO_PORTAL_CLIENTS) {
    const client = await ctx.db
      .selectFrom('clients as c')
      .innerJoin('parties as p', 'p.client_id', 'c.id')
      .innerJoin('matters as m', 'm.id', 'p.matter_id')
      .select(['c.id', 'm.responsible_lawyer_id'])
      .where('c.name', '=', name)
      .where('p.role', '=', 'client')
      .orderBy('m.id')
      .executeTakeFirst();
    if (!client) continue;
    const { link } = await createPortalCode(ctx, await lawyerActor(ctx, client.responsible_lawyer_id), client.id);
    links.push({ name, kind: 'portal', url: `${baseUrl}${link}` });
  }
  const pending = await ctx.db
    .selectFrom('signature_requests as r')
    .innerJoin('documents as d', 'd.id', 'r.document_id')
    .select(['r.document_id', 'r.created_by', 'd.title'])
    .where('r.status', '=', 'pending')
    .orderBy('r.id')
    .executeTakeFirst();
  if (pending) {
    const { link } = await requestSignature(ctx, await lawyerActor(ctx, pending.created_by), pending.document_id, {});
    links.push({ name: pending.title, kind: 'sign', url: `${baseUrl}${link}` });
  }
  return links;
}

async function lawyerActor(ctx: ServiceContext, userId: number): Promise<Actor> {
  const user = await ctx.db.selectFrom('users').select(['id', 'username', 'role']).where('id', '=', userId).executeTakeFirstOrThrow();
  return { userId: user.id, username: user.username, role: user.role, sourceIp: null };
}
