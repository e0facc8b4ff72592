import { SYSTEM_ACTOR, type ServiceContext } from '../../context.js';
import { createKiosk, renewEnrolment } from '../kiosks/service.js';

/** The demo building's lobby kiosk (with the simulated ID card reader) and its wall screen. */
export async function seedDemoKiosks(ctx: ServiceContext): Promise<void> {
  if (await ctx.db.selectFrom('kiosks').select('id').where('kind', 'in', ['lobby', 'wall']).executeTakeFirst()) return;
  await createKiosk(ctx, SYSTEM_ACTOR, { name: '前台自助登记机', kind: 'lobby', id_reader_device: 'id-reader-lobby' });
  await createKiosk(ctx, SYSTEM_ACTOR, { name: '大堂统计大屏', kind: 'wall' });
}

export interface DemoKioskLink {
  name: string;
  kind: string;
  url: string;
}

/**
 * Addresses that enrol the demo's screens not enrolled yet: each start of the demo issues fresh
 * one-time codes for them, so whoever runs the demo can open every screen in a browser.
 */
export async function demoKioskLinks(ctx: ServiceContext, baseUrl: string): Promise<DemoKioskLink[]> {
  const pending = await ctx.db.selectFrom('kiosks').select(['id', 'name', 'kind']).where('token_hash', 'is', null).where('revoked_at', 'is', null).orderBy('id').execute();
  const links: DemoKioskLink[] = [];
  for (const k of pending) {
    const { enrolment_code } = await renewEnrolment(ctx, SYSTEM_ACTOR, k.id);
    links.push({ name: k.name, kind: k.kind, url: `${baseUrl}/kiosk/${k.kind}?enrol=${enrolment_code}` });
  }
  return links;
}
