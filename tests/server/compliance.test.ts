import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { REGISTER } from '../../server/src/modules/compliance/register.js';
import { buildComplianceReport, renderHtml, renderText } from '../../server/src/modules/compliance/report.js';
import { loadRequirements, parseRequirements } from '../../server/src/modules/compliance/requirements.js';
import { addCorrectiveAction, closeCorrectiveAction, listCorrectiveActions, recordEvaluation, remindEvaluationDue, runSelfCheck } from '../../server/src/modules/compliance/service.js';
import { readTestResults } from '../../server/src/modules/compliance/test-results.js';
import { SYSTEM_ACTOR } from '../../server/src/context.js';
import { lawbox } from '../helpers/cli.js';
import { createDatabase, createTestInstance, createTestUser, USING_POSTGRES } from '../helpers/instance.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const requirements = loadRequirements();
const ids = new Set(requirements.map((r) => r.id));
const actor = { ...SYSTEM_ACTOR, username: 'cli:tester' };

t.test('the register names every requirement, and only those, with tests that exist', async (t) => {
  t.ok(requirements.length >= 70, `the requirement register has all its rows (${requirements.length})`);
  for (const id of ['Z4.1', 'Z5.5.1a', 'Z6.3.4.4', 'Z7.4', 'G-auth', 'G-pi']) t.ok(ids.has(id), `${id} is read from the register`);
  t.same(Object.keys(REGISTER).filter((id) => !ids.has(id)), [], 'no entry names a requirement that does not exist');
  t.same([...ids].filter((id) => !REGISTER[id]), [], 'every requirement has an entry');
  const missing = Object.values(REGISTER).flatMap((e) => e.tests).filter((f) => !existsSync(path.join(root, f)));
  t.same([...new Set(missing)], [], 'every test file named exists');
  for (const [id, e] of Object.entries(REGISTER)) {
    if (e.coverage === 'met' || e.coverage === 'partial') t.ok(e.tests.length > 0, `${id} (${e.coverage}) is demonstrated by at least one test`);
  }
});

t.test('a malformed register is refused, not half read', async (t) => {
  t.throws(() => parseRequirements('## 4 Basic\n| ID | str. | x |\n|---|---|---|\n| Z4.1 | 应 | a |\n| Z4 .2 | 应 | b |\n'), /"Z4 \.2" is not a requirement ID/);
  t.throws(() => parseRequirements('| Z4.1 | 应 | a |\n| Z4.1 | 应 | b |\n'), /Z4\.1 appears twice/);
  const rows = parseRequirements('## 7 Eval\n| ID | str. | req |\n|---|---|---|\n| Z7.1 | 应 | evaluate |\n## G\n| ID | req |\n|---|---|\n| G-auth | accounts |\n');
  t.same(
    rows.map((r) => [r.id, r.strength, r.text, r.section]),
    [
      ['Z7.1', '应', 'evaluate', '7 Eval'],
      ['G-auth', '应', 'accounts', 'G'],
    ],
  );
});

/** Raw TAP as tap 21 keeps it in .tap/test-results, with subtests indented. */
const tapPass = 'TAP version 14\n# Subtest: group\n    ok 1 - a\n    ok 2 - b\n    1..2\nok 1 - group\n1..1\n';
const tapNestedFail = 'TAP version 14\n# Subtest: group\n    ok 1 - a\n    not ok 2 - <img src=x onerror=alert(1)> refused\n      ---\n      ...\n    1..2\nnot ok 1 - group\n1..1\n';
const tapCrashed = 'TAP version 14\n# Subtest: group\n    ok 1 - a\n';

// A fresh directory for this run's fixtures (t.testdir removes what an earlier run left).
const fixtures = t.testdir({});

function resultsDir(name: string, files: Record<string, string>): string {
  const dir = path.join(fixtures, name);
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, `${file}.tap`)), { recursive: true });
    writeFileSync(path.join(dir, `${file}.tap`), text);
  }
  return dir;
}

t.test('test results are read from tap’s raw output, counting nested assertions', async (t) => {
  const dir = resultsDir('parse', { 'tests/server/a.test.ts': tapPass, 'tests/server/b.test.ts': tapNestedFail, 'tests/ops/c.test.ts': tapCrashed });
  const r = readTestResults(dir);
  t.same([...r.keys()].sort(), ['tests/ops/c.test.ts', 'tests/server/a.test.ts', 'tests/server/b.test.ts']);
  t.match(r.get('tests/server/a.test.ts'), { ok: true, pass: 2, fail: 0 }, 'a passing file: both assertions, the subtest line not counted again');
  t.match(r.get('tests/server/b.test.ts'), { ok: false, pass: 1, fail: 1 }, 'a failure inside a subtest fails the file');
  t.match(r.get('tests/server/b.test.ts')!.failures, [/onerror/], 'the failing assertion is named');
  t.equal(r.get('tests/ops/c.test.ts')!.ok, false, 'a file that stopped before its plan fails');
  t.equal(readTestResults(path.join(dir, 'nothing-here')).size, 0, 'no results directory: no results');
});

const inst = await createTestInstance(t);
const { ctx } = inst;

t.test('the report joins the register, the latest run and the live self-check', async (t) => {
  const every = Object.fromEntries(Object.values(REGISTER).flatMap((e) => e.tests).map((f) => [f, tapPass]));
  const allPass = resultsDir('all-pass', every);
  let report = await buildComplianceReport(ctx, { resultsDir: allPass });
  t.equal(report.requirements.length, requirements.length, 'every requirement is in the report');
  const status = (id: string) => report.requirements.find((r) => r.id === id)!.status;
  t.equal(status('Z5.3'), 'met', 'a met requirement whose tests passed is met');
  t.equal(status('Z6.3.4.2'), 'gap', 'a gap stays a gap whatever the tests say');
  t.equal(status('Z4.3.1'), 'not_applicable');
  t.equal(status('G-integrity'), 'failing', 'TLS is off in this instance: its self-check fails the requirement');
  t.equal(report.checks.find((c) => c.id === 'tls')!.ok, false);
  t.equal(report.checks.find((c) => c.id === 'backup')!.ok, false, 'no backup key configured: the backup check fails');
  t.ok(report.checks.find((c) => c.id === 'audit_trail')!.ok, 'the audit chain verifies');
  t.equal(report.testRun?.files, Object.keys(every).length, 'the run covers every named file');

  const oneFails = resultsDir('one-fails', { ...every, 'tests/server/conflict-check.test.ts': tapNestedFail });
  report = await buildComplianceReport(ctx, { resultsDir: oneFails });
  t.equal(status('Z5.3'), 'failing', 'a failed test turns its requirement red');
  const partial = { ...every };
  delete partial['tests/server/tracking.test.ts'];
  report = await buildComplianceReport(ctx, { resultsDir: resultsDir('partial', partial) });
  t.equal(status('Z6.3.3.5'), 'untested', 'a test with no result leaves its requirement untested');
  const counted = Object.values(report.counts).reduce((a, b) => a + b, 0);
  t.equal(counted, requirements.length, 'the counts add up to the register');

  const text = renderText(report).join('\n');
  for (const id of ids) t.match(text, new RegExp(`^${id.replace(/\./g, '\\.')}\\s`, 'm'), `the text report lists ${id}`);

  report = await buildComplianceReport(ctx, { resultsDir: oneFails });
  const html = renderHtml(report);
  for (const id of ids) t.ok(html.includes(`<td>${id}</td>`), `the HTML report lists ${id}`);
  t.notMatch(html, /<img src=x/, 'a test name is escaped, not markup');
  t.match(html, /&lt;img src=x/, '(it is shown escaped)');
  t.notMatch(html, /(src|href)=["']?(https?:)?\/\//, 'the page loads nothing from outside');
});

t.test('the self-check reads the running configuration', async (t) => {
  const strict = await createTestInstance(t, {
    env: { LAWBOX_PASSWORD_POLICY: 'off', LAWBOX_LOCKOUT_THRESHOLD: '50', LAWBOX_MANAGEMENT_NETWORKS: '0.0.0.0/0', LAWBOX_ACCOUNT_INACTIVE_DAYS: '0' },
    database: await createDatabase(t),
  });
  const checks = Object.fromEntries((await runSelfCheck(strict.ctx)).map((c) => [c.id, c]));
  t.equal(checks.password_policy!.ok, false, 'password policy off fails');
  t.equal(checks.lockout!.ok, false, 'a lockout after 50 failures fails');
  t.equal(checks.management_networks!.ok, false, 'administration open to any address fails');
  t.match(checks.management_networks!.detail, /public addresses/);
  t.equal(checks.inactive_accounts!.ok, false, 'never disabling unused accounts fails');
  const defaults = Object.fromEntries((await runSelfCheck(ctx)).map((c) => [c.id, c]));
  for (const id of ['password_policy', 'lockout', 'session_timeout', 'management_networks', 'metrics_networks', 'inactive_accounts', 'audit_trail']) t.ok(defaults[id]!.ok, `the default ${id} passes`);

  // An account whose one-time password was never replaced is named after a week.
  const u = await createTestUser(inst, 'lawyer');
  await ctx.db.updateTable('users').set({ must_change_password: true, password_changed_at: new Date(ctx.clock.now().getTime() - 8 * 86_400_000) }).where('id', '=', u.id).execute();
  const after = (await runSelfCheck(ctx)).find((c) => c.id === 'one_time_passwords')!;
  t.equal(after.ok, false);
  t.match(after.detail, u.username);
  await ctx.db.updateTable('users').set({ disabled: true }).where('id', '=', u.id).execute();
  t.ok((await runSelfCheck(ctx)).find((c) => c.id === 'one_time_passwords')!.ok, 'a disabled account is no longer a finding');
});

t.test('evaluations are kept as history with the hash of their report (Z7.1, Z7.2)', async (t) => {
  const report = await buildComplianceReport(ctx, { resultsDir: resultsDir('eval', {}) });
  const html = renderHtml(report);
  await t.rejects(recordEvaluation(ctx, actor, { evaluator: '  ', kind: 'self', report, html }), { code: 'INVALID_EVALUATOR' });
  const row = await recordEvaluation(ctx, actor, { evaluator: '张伟明（安全管理员）', kind: 'self', report, html });
  t.match(row.report_sha256, /^[0-9a-f]{64}$/);
  t.equal(row.summary.statuses['Z7.4'], report.requirements.find((r) => r.id === 'Z7.4')!.status, 'the status of each requirement is kept');
  t.ok(row.summary.checks_failed.includes('tls'), 'and the failed self-checks');
  await t.rejects(ctx.db.updateTable('compliance_evaluations').set({ evaluator: 'someone else' }).where('id', '=', row.id).execute(), /history/, 'an evaluation cannot be changed');
  await t.rejects(ctx.db.deleteFrom('compliance_evaluations').where('id', '=', row.id).execute(), /history/, 'nor deleted');
  const audit = await ctx.db.selectFrom('audit_log').selectAll().where('action', '=', 'compliance.evaluate').execute();
  t.equal(audit.length, 1, 'recording it is audited');
  t.equal(audit[0]!.object, `evaluation:${row.id}`);

  const next = await buildComplianceReport(ctx, { resultsDir: resultsDir('eval', {}) });
  t.equal(next.nextEvaluationDue?.toISOString().slice(0, 10), new Date(Date.UTC(row.evaluated_at.getUTCFullYear() + 2, row.evaluated_at.getUTCMonth(), row.evaluated_at.getUTCDate())).toISOString().slice(0, 10), 'the next is due two years later');
  t.ok(next.checks.find((c) => c.id === 'evaluation_due')!.ok, 'so the evaluation check passes');
});

t.test('corrective actions are tracked per requirement until closed (Z7.4)', async (t) => {
  await t.rejects(addCorrectiveAction(ctx, actor, { requirement: 'Z9.9', title: 'x', owner: 'y', due_on: '2027-01-01' }, ids), { code: 'UNKNOWN_REQUIREMENT' });
  await t.rejects(addCorrectiveAction(ctx, actor, { requirement: 'Z6.3.4.2', title: 'x', owner: 'y', due_on: '2027-02-30' }, ids), { code: 'INVALID_DATE' });
  await t.rejects(addCorrectiveAction(ctx, actor, { requirement: 'Z6.3.4.2', title: ' ', owner: 'y', due_on: '2027-02-01' }, ids), { code: 'INVALID_ACTION' });
  await t.rejects(addCorrectiveAction(ctx, actor, { requirement: 'Z6.3.4.2', title: 'x', owner: 'y', due_on: '2027-02-01', evaluation_id: 999_999 }, ids), { code: 'EVALUATION_NOT_FOUND' });

  const today = ctx.clock.now();
  const soon = new Date(today.getTime() + 10 * 86_400_000).toISOString().slice(0, 10);
  const a = await addCorrectiveAction(ctx, actor, { requirement: 'Z6.3.4.2', title: '建立档案借阅登记 / archive borrowing register', owner: '行政部 李娜', due_on: soon }, ids);
  t.equal(a.status, 'open');
  let report = await buildComplianceReport(ctx, { resultsDir: resultsDir('eval', {}) });
  t.equal(report.requirements.find((r) => r.id === 'Z6.3.4.2')!.openActions, 1, 'the report shows the open action against its requirement');
  t.ok(report.checks.find((c) => c.id === 'corrective_actions')!.ok, 'not yet overdue');

  inst.clock.advance(11 * 86_400_000);
  report = await buildComplianceReport(ctx, { resultsDir: resultsDir('eval', {}) });
  const overdue = report.checks.find((c) => c.id === 'corrective_actions')!;
  t.equal(overdue.ok, false, 'past its due date the action fails the self-check');
  t.match(overdue.detail, `#${a.id} Z6.3.4.2`);
  t.equal(report.requirements.find((r) => r.id === 'Z7.4')!.status, 'failing', 'Z7.4 fails while an action is overdue');

  await t.rejects(closeCorrectiveAction(ctx, actor, a.id, ''), { code: 'INVALID_ACTION' });
  const closed = await closeCorrectiveAction(ctx, actor, a.id, '已上线借阅登记表 / register in use');
  t.equal(closed.status, 'done');
  await t.rejects(closeCorrectiveAction(ctx, actor, a.id, 'again'), { code: 'ACTION_CLOSED' }, 'an action is closed once');
  await t.rejects(closeCorrectiveAction(ctx, actor, 424_242, 'x'), { code: 'ACTION_NOT_FOUND' });
  t.same((await listCorrectiveActions(ctx, { openOnly: true })).map((r) => r.id), [], 'nothing open any more');
  t.ok((await runSelfCheck(ctx)).find((c) => c.id === 'corrective_actions')!.ok, 'and nothing overdue');
  const audited = await ctx.db.selectFrom('audit_log').select('action').where('object', '=', `compliance_action:${a.id}`).orderBy('seq').execute();
  t.same(audited.map((r) => r.action), ['compliance.action_add', 'compliance.action_close'], 'both steps are audited');
});

t.test('the two-yearly reminder goes to the security administrators and the director, once per stage (Z7.2)', async (t) => {
  const fresh = await createTestInstance(t, { database: await createDatabase(t) });
  const sec = await createTestUser(fresh, 'security_admin');
  const director = await createTestUser(fresh, 'director');
  await createTestUser(fresh, 'lawyer');
  const reminders = () => fresh.ctx.db.selectFrom('notifications').select(['id', 'dedupe_key']).where('event', '=', 'compliance.evaluation_due').orderBy('id').execute();

  t.same(await remindEvaluationDue(fresh.ctx), { reminded: true }, 'with no evaluation recorded, a reminder goes out');
  t.same(await remindEvaluationDue(fresh.ctx), { reminded: false }, 'once');
  const first = await reminders();
  const to = await fresh.ctx.db.selectFrom('notification_recipients').select('user_id').where('notification_id', '=', first[0]!.id).orderBy('user_id').execute();
  t.same(to.map((r) => r.user_id), [sec.id, director.id].sort((a, b) => a - b), 'to the security administrator and the director only');

  const report = await buildComplianceReport(fresh.ctx, { resultsDir: resultsDir('eval', {}) });
  await recordEvaluation(fresh.ctx, actor, { evaluator: '第三方测评机构', kind: 'third_party', report, html: renderHtml(report) });
  t.same(await remindEvaluationDue(fresh.ctx), { reminded: false }, 'just after an evaluation: nothing');
  fresh.clock.advance(705 * 86_400_000);
  t.same(await remindEvaluationDue(fresh.ctx), { reminded: true }, 'within 30 days of the two years: reminded');
  t.same(await remindEvaluationDue(fresh.ctx), { reminded: false }, 'once');
  fresh.clock.advance(40 * 86_400_000);
  t.same(await remindEvaluationDue(fresh.ctx), { reminded: true }, 'overdue: reminded again');
  t.match(
    (await reminders()).map((r) => r.dedupe_key),
    ['compliance.evaluation_due:never', /^compliance\.evaluation_due:soon:\d{4}-\d{2}-\d{2}$/, /^compliance\.evaluation_due:overdue:\d{4}-\d{2}-\d{2}$/],
  );
  t.equal((await runSelfCheck(fresh.ctx)).find((c) => c.id === 'evaluation_due')!.ok, false, 'the self-check fails while overdue');
});

t.test('lawbox compliance on the command line', async (t) => {
  const dataDir = path.join(fixtures, 'cli-data');
  const results = resultsDir('cli', { 'tests/server/conflict-check.test.ts': tapNestedFail });
  const env: Record<string, string> = { LAWBOX_DATA_DIR: dataDir, ...(USING_POSTGRES ? { DATABASE_URL: (await createDatabase(t)).databaseUrl! } : {}) };
  const html = path.join(fixtures, 'report.html');

  const report = await lawbox(['compliance', '--results', results, '--html', html], env);
  t.equal(report.code, 0, report.stderr);
  t.match(report.stdout, /^Z5\.3\s+应\s+failing/m, 'the failed test shows');
  t.match(report.stdout, /FAIL\s+tls\s+LAWBOX_TLS=off/, 'the self-check shows');
  t.match(readFileSync(html, 'utf8'), /<td>G-backup<\/td>/, 'the HTML report is written');

  const strict = await lawbox(['compliance', '--results', results, '--strict'], env);
  t.equal(strict.code, 1, '--strict exits 1 when something fails');
  t.match(strict.stderr, /requirement\(s\) failing/);

  const evaluate = await lawbox(['compliance', 'evaluate', '--evaluator', '王芳', '--html', html, '--results', results], env);
  t.equal(evaluate.code, 0, evaluate.stderr);
  t.match(evaluate.stdout, /evaluation #1 recorded \(self, 王芳\)/);

  const add = await lawbox(['compliance', 'action', 'add', '--requirement', 'Z6.3.4.2', '--title', '档案借阅登记', '--owner', '李娜', '--due', '2027-03-31', '--evaluation', '1'], env);
  t.equal(add.code, 0, add.stderr);
  t.match(add.stdout, /corrective action #1 opened for Z6.3.4.2, due 2027-03-31/);
  const badDate = await lawbox(['compliance', 'action', 'add', '--requirement', 'Z6.3.4.2', '--title', 'x', '--owner', 'y', '--due', '31/03/2027'], env);
  t.equal(badDate.code, 1, 'a bad date fails');
  t.match(badDate.stderr, /not a calendar date \(YYYY-MM-DD\)/);
  const badId = await lawbox(['compliance', 'action', 'close', 'abc', '--resolution', 'x'], env);
  t.equal(badId.code, 2, 'a non-number id is a usage error');
  const list = await lawbox(['compliance', 'action', 'list', '--open'], env);
  t.match(list.stdout, /#1\s+Z6\.3\.4\.2\s+open\s+due 2027-03-31\s+李娜: 档案借阅登记/);
  const close = await lawbox(['compliance', 'action', 'close', '1', '--resolution', '已建立'], env);
  t.equal(close.code, 0, close.stderr);
  t.match((await lawbox(['compliance', 'action', 'list', '--open'], env)).stdout, /no corrective actions/);
});
