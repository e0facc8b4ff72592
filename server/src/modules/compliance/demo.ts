import { shanghaiDate } from '../../calendar.js';
import type { Actor, ServiceContext } from '../../context.js';
import { buildComplianceReport, renderHtml } from './report.js';
import { loadRequirements } from './requirements.js';
import { addCorrectiveAction, closeCorrectiveAction, recordEvaluation } from './service.js';

const DAY_MS = 86_400_000;

/**
 * The demo firm's chapter 7 story: its security administrator recorded a self-evaluation 23 months
 * ago, so the two-yearly one falls due next month and the reminder job tells her; two gaps found then
 * are still being worked on and one is done. Runs once.
 */
export async function seedComplianceDemo(ctx: ServiceContext): Promise<{ evaluations: number }> {
  if (await ctx.db.selectFrom('compliance_evaluations').select('id').limit(1).executeTakeFirst()) return { evaluations: 0 };
  const user = await ctx.db.selectFrom('users').select(['id', 'username', 'role']).where('username', '=', 'security.wu').executeTakeFirst();
  if (!user) return { evaluations: 0 };
  const admin: Actor = { userId: user.id, username: user.username, role: user.role, sourceIp: null };
  const now = ctx.clock.now().getTime();
  const at = (daysAgo: number): ServiceContext => ({ ...ctx, clock: { now: () => new Date(now - daysAgo * DAY_MS) } });
  const day = (daysFromNow: number) => shanghaiDate(new Date(now + daysFromNow * DAY_MS));
  const known = new Set(loadRequirements().map((r) => r.id));

  const report = await buildComplianceReport(at(700));
  const evaluation = await recordEvaluation(at(700), admin, { evaluator: '吴静（安全管理员）', kind: 'self', report, html: renderHtml(report) });
  const action = (daysAgo: number, requirement: string, title: string, owner: string, due: number) =>
    addCorrectiveAction(at(daysAgo), admin, { requirement, title, owner, due_on: day(due), evaluation_id: evaluation.id }, known);
  await action(699, 'Z6.3.4.2', '建立档案借阅、复制登记（借阅事项、申请人、日期）', '刘洋（行政）', 45);
  await action(699, 'Z5.2.2', '上线律师名录：职称、所属机构、业务领域、代表案例，可按姓名和领域检索', '王建国（主任）', 120);
  const done = await action(699, 'Z6.2.1.2', '补齐律师档案：执业证号、学历与工作经历', '刘洋（行政）', -300);
  await closeCorrectiveAction(at(320), admin, done.id, '律师执业证号与学历已按人事档案录入并核对 / licence numbers and education entered and checked against the HR files');
  return { evaluations: 1 };
}
