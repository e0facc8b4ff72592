import type { Actor, ServiceContext } from '../../context.js';
import { CONSENT_TEXT, completeSigning, requestSignature } from './esign.js';
import { applyForSeal } from './seals.js';
import { generateDocument, listTemplates } from './service.js';

/**
 * The demo's documents, on the first matter of lawyer.zhang (华信 v 瑞丰): the legal service contract,
 * signed online by the client with the firm's e-seal applied for and waiting for the director, and
 * the risk notice sent for signature with its link still open (each start of the demo renews that
 * link and prints it: see demo/portal.ts). Returns that first link, or null when the demo's
 * documents exist already.
 */
export async function seedDocumentsDemo(ctx: ServiceContext): Promise<{ signLink: string } | null> {
  if (await ctx.db.selectFrom('documents').select('id').limit(1).executeTakeFirst()) return null;
  const user = await ctx.db.selectFrom('users').select(['id', 'username', 'role']).where('username', '=', 'lawyer.zhang').executeTakeFirst();
  if (!user) throw new Error('demo user lawyer.zhang missing');
  const zhang: Actor = { userId: user.id, username: user.username, role: user.role, sourceIp: null };
  const matter = await ctx.db.selectFrom('matters').select('id').where('created_by', '=', user.id).orderBy('id').executeTakeFirst();
  if (!matter) throw new Error('demo matter of lawyer.zhang missing');
  const templates = await listTemplates(ctx, zhang);
  const template = (key: string) => {
    const t = templates.find((x) => x.key === key);
    if (!t) throw new Error(`built-in template ${key} missing`);
    return t.id;
  };

  const contract = await generateDocument(ctx, zhang, matter.id, { template_id: template('service-contract') });
  const sent = await requestSignature(ctx, zhang, contract.id, {});
  const token = new URLSearchParams(new URL(sent.link, 'http://demo.invalid').hash.slice(1)).get('t')!;
  await completeSigning(ctx, token, { typed_name: sent.request.signer_name, consent: true, consent_text: CONSENT_TEXT }, { ip: '192.168.1.66', userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) 【演示】' });
  await applyForSeal(ctx, zhang, matter.id, { document_id: contract.id, seal_type: 'contract', mode: 'electronic', purpose: '委托代理合同加盖合同专用章（电子）', copies: 1 });

  const notice = await generateDocument(ctx, zhang, matter.id, { template_id: template('risk-notice') });
  const pending = await requestSignature(ctx, zhang, notice.id, {});
  return { signLink: pending.link };
}
