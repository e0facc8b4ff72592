import type { Actor, ServiceContext } from '../../context.js';
import { updateMatter } from '../matters/service.js';
import { portalActor } from '../portal/service.js';
import { inviteClosedMatters, submitEvaluation } from './service.js';

const DAY_MS = 86_400_000;
const DEMO_MATTER_TITLE = '陈立新申请执行民间借贷纠纷判决';

/**
 * The demo's client evaluation: the enforcement matter was closed twelve days ago once the judgment
 * debt was recovered, its client was invited the same day and rated the service two days later. The
 * story is played through the services at those times, so the invitation notice, the rating, its
 * archive entry and the audit trail read as they would have been written. Runs once.
 */
export async function seedEvaluationsDemo(ctx: ServiceContext): Promise<{ evaluations: number }> {
  if (await ctx.db.selectFrom('evaluations').select('id').limit(1).executeTakeFirst()) return { evaluations: 0 };
  const matter = await ctx.db.selectFrom('matters').select(['id', 'status', 'created_by']).where('title', '=', DEMO_MATTER_TITLE).executeTakeFirst();
  if (!matter || matter.status !== 'open') return { evaluations: 0 };
  const client = await ctx.db.selectFrom('parties').select('client_id').where('matter_id', '=', matter.id).where('role', '=', 'client').where('client_id', 'is not', null).executeTakeFirst();
  if (!client?.client_id) return { evaluations: 0 };
  const user = await ctx.db.selectFrom('users').select(['id', 'username', 'role']).where('id', '=', matter.created_by).executeTakeFirstOrThrow();
  const lawyer: Actor = { userId: user.id, username: user.username, role: user.role, sourceIp: null };
  const now = ctx.clock.now().getTime();
  const at = (daysAgo: number, hour = 0): ServiceContext => ({ ...ctx, clock: { now: () => new Date(now - daysAgo * DAY_MS + hour * 3_600_000) } });

  await updateMatter(at(12), lawyer, matter.id, { status: 'closed', closing_summary: '被执行人已履行全部给付义务，执行款人民币35万元已划付申请人，申请执行人撤回执行申请，本案执行终结。' });
  await inviteClosedMatters(at(12, 1));
  await submitEvaluation(at(10), { clientId: client.client_id, sessionId: 0 }, portalActor(client.client_id, null), matter.id, {
    functionality: 5,
    timeliness: 4,
    security: 5,
    economy: 4,
    comfort: 5,
    civility: 5,
    comment: '张律师沟通及时，执行款到位很快。希望立案阶段的进度能再多通报几次。',
  });
  return { evaluations: 1 };
}
