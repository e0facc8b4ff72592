import { shanghaiDate } from '../../calendar.js';
import type { ServiceContext } from '../../context.js';
import { VERSION } from '../../version.js';
import { REGISTER, type Coverage } from './register.js';
import { loadRequirements, type Requirement } from './requirements.js';
import { addMonths, EVALUATION_INTERVAL_MONTHS, lastEvaluation, listCorrectiveActions, listEvaluations, runSelfCheck, type SelfCheck } from './service.js';
import type { ComplianceActionRow, ComplianceEvaluationRow } from './tables.js';
import { readTestResults, type TestFileResult } from './test-results.js';

/**
 * met / partial: the feature exists and every test that demonstrates it passed in the latest run;
 * failing: one of its tests failed, or a live check of the running configuration did;
 * untested: a test of it has no result in the latest run; gap: not built; not_applicable.
 */
export type RequirementStatus = Coverage | 'failing' | 'untested';
export const STATUSES: RequirementStatus[] = ['met', 'partial', 'failing', 'untested', 'gap', 'not_applicable'];

export interface RequirementResult extends Requirement {
  status: RequirementStatus;
  coverage: Coverage;
  feature: string;
  tests: { file: string; result: TestFileResult | null }[];
  failedChecks: string[];
  openActions: number;
}

export interface ComplianceReport {
  generatedAt: Date;
  version: string;
  requirements: RequirementResult[];
  counts: Record<RequirementStatus, number>;
  checks: SelfCheck[];
  /** the oldest and newest run times of the test files the register names */
  testRun: { files: number; from: Date; to: Date } | null;
  actions: ComplianceActionRow[];
  evaluations: ComplianceEvaluationRow[];
  nextEvaluationDue: Date | null;
}

/** Every requirement of the register with its feature, its tests' latest results and the live self-check (Z7.1, Z7.3). */
export async function buildComplianceReport(ctx: ServiceContext, opts: { resultsDir?: string; requirements?: Requirement[] } = {}): Promise<ComplianceReport> {
  const requirements = opts.requirements ?? loadRequirements();
  const results = readTestResults(opts.resultsDir);
  const checks = await runSelfCheck(ctx);
  const actions = await listCorrectiveActions(ctx);
  const evaluations = await listEvaluations(ctx);
  const last = await lastEvaluation(ctx);

  const rows = requirements.map((req): RequirementResult => {
    const entry = REGISTER[req.id];
    if (!entry) throw new Error(`${req.id} is in the requirement register but not in the compliance register (server/src/modules/compliance/register.ts)`);
    const tests = entry.tests.map((file) => ({ file, result: results.get(file) ?? null }));
    const failedChecks = checks.filter((c) => c.requirement === req.id && !c.ok).map((c) => c.id);
    let status: RequirementStatus = entry.coverage;
    if (entry.coverage === 'met' || entry.coverage === 'partial') {
      if (tests.some((t) => t.result && !t.result.ok) || failedChecks.length) status = 'failing';
      else if (tests.some((t) => !t.result)) status = 'untested';
    }
    const openActions = actions.filter((a) => a.requirement_id === req.id && a.status === 'open').length;
    return { ...req, status, coverage: entry.coverage, feature: entry.feature, tests, failedChecks, openActions };
  });
  const counts = Object.fromEntries(STATUSES.map((s) => [s, rows.filter((r) => r.status === s).length])) as Record<RequirementStatus, number>;
  const ranAt = rows.flatMap((r) => r.tests.map((t) => t.result?.ranAt)).filter((d): d is Date => !!d);
  return {
    generatedAt: ctx.clock.now(),
    version: VERSION,
    requirements: rows,
    counts,
    checks,
    testRun: ranAt.length ? { files: new Set(rows.flatMap((r) => r.tests.filter((t) => t.result).map((t) => t.file))).size, from: new Date(Math.min(...ranAt.map(Number))), to: new Date(Math.max(...ranAt.map(Number))) } : null,
    actions,
    evaluations,
    nextEvaluationDue: last ? addMonths(last.evaluated_at, EVALUATION_INTERVAL_MONTHS) : null,
  };
}

const LABELS: Record<RequirementStatus, string> = {
  met: '符合 / met',
  partial: '部分符合 / partial',
  failing: '不通过 / failing',
  untested: '未测试 / untested',
  gap: '未实现 / gap',
  not_applicable: '不适用 / n/a',
};

/** Plain lines for the terminal. */
export function renderText(report: ComplianceReport): string[] {
  const lines: string[] = [];
  lines.push(`lawbox ${report.version} compliance report (T/ZSM 0038-2024, GB/T 22239-2019 level 2), ${report.generatedAt.toISOString()}`);
  lines.push(report.testRun ? `tests: latest results of ${report.testRun.files} files, run ${report.testRun.from.toISOString()} – ${report.testRun.to.toISOString()}` : 'tests: no test results found (run `npm test` in the repository, or pass --results DIR)');
  lines.push('');
  for (const r of report.requirements) {
    const tests = r.tests.map((t) => `${t.file.replace(/^tests\//, '')} ${t.result ? (t.result.ok ? `✓${t.result.pass}` : `✗${t.result.fail}`) : '–'}`).join(', ');
    lines.push(`${r.id.padEnd(9)} ${r.strength.padEnd(3)} ${r.status.padEnd(14)} ${r.feature}${tests ? `  [${tests}]` : ''}${r.failedChecks.length ? `  (check failed: ${r.failedChecks.join(', ')})` : ''}${r.openActions ? `  (${r.openActions} open action${r.openActions > 1 ? 's' : ''})` : ''}`);
  }
  lines.push('');
  lines.push('live self-check / 运行配置自检:');
  for (const c of report.checks) lines.push(`  ${c.ok ? 'PASS' : 'FAIL'}  ${c.id.padEnd(20)} ${c.detail}`);
  lines.push('');
  const open = report.actions.filter((a) => a.status === 'open');
  lines.push(`corrective actions / 整改措施: ${open.length} open, ${report.actions.length - open.length} done`);
  lines.push(`next evaluation due / 下次评价: ${report.nextEvaluationDue ? shanghaiDate(report.nextEvaluationDue) : 'none recorded yet / 尚无评价记录'}`);
  lines.push(STATUSES.map((s) => `${report.counts[s]} ${s}`).join(', '));
  return lines;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const day = (d: Date | string | null) => (d === null ? '' : typeof d === 'string' ? d : shanghaiDate(d));

/** One self-contained page (no external resource) for the two-yearly evaluation (Z7.1–Z7.4). */
export function renderHtml(report: ComplianceReport): string {
  const e = escapeHtml;
  const sections = [...new Set(report.requirements.map((r) => r.section))];
  const reqRows = (section: string) =>
    report.requirements
      .filter((r) => r.section === section)
      .map(
        (r) => `<tr class="${r.status}"><td>${e(r.id)}</td><td>${e(r.strength)}</td><td>${e(r.text)}</td><td>${e(r.feature)}</td><td>${r.tests
          .map((t) => `<div>${e(t.file)} ${t.result ? (t.result.ok ? `<b class="ok">✓ ${t.result.pass}</b>` : `<b class="bad">✗ ${t.result.fail}</b> ${e(t.result.failures.join('; '))}`) : '<i>–</i>'}</div>`)
          .join('')}${r.failedChecks.map((c) => `<div class="bad">self-check: ${e(c)}</div>`).join('')}</td><td><span class="badge ${r.status}">${e(LABELS[r.status])}</span>${r.openActions ? `<div>${r.openActions} 项整改 / open actions</div>` : ''}</td></tr>`,
      )
      .join('\n');
  return `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>律师事务所数字化服务管理评价报告 / Compliance report</title>
<style>
body{font-family:system-ui,"Noto Sans CJK SC","WenQuanYi Micro Hei",sans-serif;margin:2rem;color:#1f2328;line-height:1.45}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{border:1px solid #d0d7de;padding:.35rem .5rem;vertical-align:top;text-align:left}th{background:#f6f8fa}
.badge{display:inline-block;padding:0 .4rem;border-radius:.3rem;white-space:nowrap}.met{background:#dafbe1}.partial{background:#fff8c5}
.failing{background:#ffebe9}.untested{background:#eaeef2}.gap{background:#fbefff}.not_applicable{background:#f6f8fa}
tr.met,tr.partial,tr.failing,tr.untested,tr.gap,tr.not_applicable{background:none}.ok{color:#1a7f37}.bad{color:#cf222e}
.summary span{margin-right:1rem}@media print{body{margin:0}}
</style></head><body>
<h1>律师事务所数字化服务管理评价报告<br><small>Compliance report — T/ZSM 0038-2024 and GB/T 22239-2019 level 2</small></h1>
<p>lawbox ${e(report.version)} · 生成时间 / generated ${e(report.generatedAt.toISOString())} · ${
    report.testRun ? `测试结果 / test results: ${report.testRun.files} files, ${e(report.testRun.from.toISOString())} – ${e(report.testRun.to.toISOString())}` : '无测试结果 / no test results'
  }</p>
<p class="summary">${STATUSES.map((s) => `<span class="badge ${s}">${e(LABELS[s])}: ${report.counts[s]}</span>`).join('')}</p>
${sections.map((s) => `<h2>${e(s)}</h2><table><thead><tr><th>ID</th><th>强度</th><th>要求 / requirement</th><th>功能 / feature</th><th>测试 / tests (latest run)</th><th>结论 / status</th></tr></thead><tbody>\n${reqRows(s)}\n</tbody></table>`).join('\n')}
<h2>运行配置自检 / Live self-check</h2>
<table><thead><tr><th>检查 / check</th><th>要求</th><th>结果</th><th>说明 / detail</th></tr></thead><tbody>
${report.checks.map((c) => `<tr><td>${e(c.title)}</td><td>${e(c.requirement)}</td><td class="${c.ok ? 'ok' : 'bad'}">${c.ok ? '通过 / pass' : '不通过 / fail'}</td><td>${e(c.detail)}</td></tr>`).join('\n')}
</tbody></table>
<h2>整改措施 / Corrective actions (Z7.4)</h2>
${
  report.actions.length
    ? `<table><thead><tr><th>#</th><th>要求</th><th>措施 / action</th><th>责任人 / owner</th><th>期限 / due</th><th>状态 / status</th><th>结果 / resolution</th></tr></thead><tbody>
${report.actions.map((a) => `<tr><td>${a.id}</td><td>${e(a.requirement_id)}</td><td>${e(a.title)}</td><td>${e(a.owner)}</td><td>${e(day(a.due_on))}</td><td>${a.status === 'open' ? '进行中 / open' : `完成 / done ${e(day(a.closed_at))}`}</td><td>${e(a.resolution ?? '')}</td></tr>`).join('\n')}
</tbody></table>`
    : '<p>无 / none</p>'
}
<h2>评价记录 / Evaluations (Z7.2)</h2>
<p>下次评价 / next evaluation due: ${report.nextEvaluationDue ? e(day(report.nextEvaluationDue)) : '尚无评价记录 / none recorded yet'}</p>
${
  report.evaluations.length
    ? `<table><thead><tr><th>#</th><th>日期 / date</th><th>评价人 / evaluator</th><th>方式 / kind</th><th>报告 SHA-256</th></tr></thead><tbody>
${report.evaluations.map((v) => `<tr><td>${v.id}</td><td>${e(day(v.evaluated_at))}</td><td>${e(v.evaluator)}</td><td>${v.kind === 'self' ? '自评 / self' : '第三方 / third party'}</td><td><code>${e(v.report_sha256)}</code></td></tr>`).join('\n')}
</tbody></table>`
    : ''
}
</body></html>
`;
}
