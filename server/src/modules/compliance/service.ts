import { createHash } from 'node:crypto';
import { parseCalendarDate, shanghaiDate } from '../../calendar.js';
import { addressIn, type Config } from '../../config.js';
import type { BlockList } from 'node:net';
import type { Actor, ServiceContext } from '../../context.js';
import { readSetting, writeSetting } from '../../db/settings.js';
import { SYSTEM_ACTOR } from '../../context.js';
import { badRequest, notFound } from '../../errors.js';
import type { Job } from '../../scheduler.js';
import { appendAudit, verifyAuditChain } from '../audit/service.js';
import { newestBackup } from '../backup/service.js';
import { keysInClear, unopenableKeys } from '../keys/service.js';
import { notify } from '../notifications/service.js';
import type { ComplianceActionRow, ComplianceEvaluationRow, EvaluationSummary } from './tables.js';
import type { ComplianceReport } from './report.js';

/** Z7.2: an evaluation every two years. */
export const EVALUATION_INTERVAL_MONTHS = 24;
/** The reminder comes this long before the evaluation is due, and again when it is overdue. */
const REMINDER_LEAD_DAYS = 30;

/**
 * What the running server was started with, recorded at each start: `lawbox compliance` run from an
 * admin's shell lacks the unit's environment and credentials (LAWBOX_TLS, the master key), so it
 * judges those by what the server itself reported.
 */
export interface ServerRuntime {
  started_at: string;
  tls_mode: Config['tlsMode'];
  master_key: boolean;
}
const RUNTIME_SETTING = 'server.runtime';

export async function recordServerRuntime(ctx: ServiceContext): Promise<void> {
  const runtime: ServerRuntime = { started_at: ctx.clock.now().toISOString(), tls_mode: ctx.config.tlsMode, master_key: ctx.config.masterKeyFile !== null };
  await writeSetting(ctx.db, RUNTIME_SETTING, runtime);
}

export interface SelfCheck {
  id: string;
  /** the requirement the check speaks for: a failed check turns it red in the report */
  requirement: string;
  title: string;
  ok: boolean;
  detail: string;
}

const DAY = 86_400_000;

export const addMonths = (d: Date, months: number): Date => {
  const r = new Date(d);
  r.setUTCMonth(r.getUTCMonth() + months);
  return r;
};

export async function lastEvaluation(ctx: ServiceContext): Promise<ComplianceEvaluationRow | null> {
  return (await ctx.db.selectFrom('compliance_evaluations').selectAll().orderBy('evaluated_at', 'desc').orderBy('id', 'desc').limit(1).executeTakeFirst()) ?? null;
}

/**
 * A live look at the running configuration and the instance's state, as `lawbox compliance` sees it
 * with the server's own environment (the systemd unit's EnvironmentFile).
 */
export async function runSelfCheck(ctx: ServiceContext): Promise<SelfCheck[]> {
  const { config } = ctx;
  const now = ctx.clock.now();
  const checks: SelfCheck[] = [];
  const add = (id: string, requirement: string, title: string, ok: boolean, detail: string) => checks.push({ id, requirement, title, ok, detail });

  const p = config.passwordPolicy;
  add(
    'password_policy',
    'G-auth',
    '口令复杂度与定期更换 / Password complexity and change',
    p.enabled && p.minLength >= 8 && p.minClasses >= 3 && p.maxAgeDays > 0 && p.maxAgeDays <= 180,
    p.enabled ? `at least ${p.minLength} characters of ${p.minClasses} classes, changed every ${p.maxAgeDays || '∞'} days (needs ≥ 8, ≥ 3, ≤ 180)` : 'LAWBOX_PASSWORD_POLICY=off',
  );
  add('lockout', 'G-auth', '登录失败锁定 / Lockout after failed logins', config.lockout.threshold <= 10, `locked after ${config.lockout.threshold} failures for ${config.lockout.minutes} min (needs ≤ 10 failures)`);
  add(
    'session_timeout',
    'G-auth',
    '会话超时 / Session timeouts',
    config.session.idleMinutes <= 30 && config.session.absoluteHours <= 24,
    `idle ${config.session.idleMinutes} min, absolute ${config.session.absoluteHours} h (needs ≤ 30 min, ≤ 24 h)`,
  );
  const runtime = (await readSetting(ctx.db, RUNTIME_SETTING)) as ServerRuntime | null;
  const server = runtime ? ` (as the server reported at its start, ${runtime.started_at})` : '';
  const tlsMode = runtime?.tls_mode ?? config.tlsMode;
  add('tls', 'G-integrity', '传输加密 / TLS for HTTP and MQTT', tlsMode !== 'off', tlsMode === 'off' ? `LAWBOX_TLS=off${server}: set LAWBOX_TLS=auto or give LAWBOX_TLS_CERT/KEY` : `LAWBOX_TLS=${tlsMode}${server}`);
  const admitsPublic = (networks: BlockList) => addressIn(networks, '8.8.8.8') || addressIn(networks, '2001:4860:4860::8888');
  add(
    'management_networks',
    'G-intrusion',
    '管理地址限制 / Administration restricted by address',
    !admitsPublic(config.managementNetworks),
    admitsPublic(config.managementNetworks) ? 'LAWBOX_MANAGEMENT_NETWORKS admits public addresses' : 'no public address admitted',
  );
  add(
    'metrics_networks',
    'G-intrusion',
    '监控接口地址限制 / /metrics restricted by address',
    !admitsPublic(config.metricsNetworks),
    admitsPublic(config.metricsNetworks) ? 'LAWBOX_METRICS_NETWORKS admits public addresses' : 'no public address admitted',
  );
  add(
    'inactive_accounts',
    'G-access',
    '清理长期未用账号 / Unused accounts disabled',
    config.accountInactiveDays > 0 && config.accountInactiveDays <= 180,
    config.accountInactiveDays > 0 ? `after ${config.accountInactiveDays} days` : 'LAWBOX_ACCOUNT_INACTIVE_DAYS=0 (never)',
  );
  const staleOneTime = await ctx.db
    .selectFrom('users')
    .select('username')
    .where('disabled', '=', false)
    .where('must_change_password', '=', true)
    .where('password_changed_at', '<', new Date(now.getTime() - 7 * DAY))
    .orderBy('username')
    .execute();
  add(
    'one_time_passwords',
    'G-access',
    '初始口令已更换 / One-time passwords replaced',
    staleOneTime.length === 0,
    staleOneTime.length ? `unchanged for over 7 days: ${staleOneTime.map((u) => u.username).join(', ')} (disable them or reset their password)` : 'none older than 7 days',
  );

  const chain = await verifyAuditChain(ctx.db);
  add(
    'audit_trail',
    'G-audit',
    '审计记录完整并保留 ≥ 6 个月 / Audit trail intact, kept ≥ 6 months',
    chain.ok,
    chain.ok ? `${chain.rows} records intact; kept ${config.auditRetentionDays} days` : `BROKEN at seq ${chain.badSeq}: ${chain.reason}`,
  );

  const clear = await keysInClear(ctx.db);
  // The server refuses to start with a master key that does not open the keys: where this shell has
  // no key of its own to try, the server's having one and nothing left in clear is the evidence.
  const masterKey = config.masterKeyFile !== null || runtime?.master_key === true;
  const unopenable = config.masterKeyFile === null ? [] : await unopenableKeys(ctx.db, config);
  add(
    'keys_at_rest',
    'Z6.4.2',
    '签名私钥加密存储 / Signing keys encrypted at rest',
    masterKey && clear === 0 && unopenable.length === 0,
    !masterKey
      ? `LAWBOX_MASTER_KEY_FILE is not set${server}: private keys are stored in clear`
      : unopenable.length
        ? `${unopenable.join(', ')} cannot be opened with ${config.masterKeyFile}`
        : clear
          ? `${clear} key(s) still in clear: restart the server to seal them`
          : 'sealed under the master key, and it opens them',
  );

  const backup = await newestBackup(config);
  const ageHours = backup ? (now.getTime() - backup.createdAt.getTime()) / 3_600_000 : null;
  // Judged by the backups themselves: the key lives with the backup unit, not in an admin's shell.
  add(
    'backup',
    'G-backup',
    '备份 / Recent encrypted backup',
    ageHours !== null && ageHours <= config.backup.maxAgeHours,
    backup ? `newest ${backup.path}, ${ageHours!.toFixed(1)} h old (needs ≤ ${config.backup.maxAgeHours} h)` : `no backup in ${config.backup.dir}: set LAWBOX_BACKUP_KEY_FILE and run lawbox backup create`,
  );
  add('backup_copy', 'G-backup', '异地副本 / Copy to a second location', config.backup.copyTo !== null, config.backup.copyTo ? `to ${config.backup.copyTo}` : 'LAWBOX_BACKUP_COPY_TO is not set');

  const last = await lastEvaluation(ctx);
  const due = last ? addMonths(last.evaluated_at, EVALUATION_INTERVAL_MONTHS) : null;
  add(
    'evaluation_due',
    'Z7.2',
    '两年一次评价 / Evaluation within two years',
    due !== null && due > now,
    last ? `last ${shanghaiDate(last.evaluated_at)} by ${last.evaluator}; next due ${shanghaiDate(due!)}` : 'no evaluation recorded: run lawbox compliance evaluate',
  );
  const overdue = await ctx.db.selectFrom('compliance_actions').select(['id', 'requirement_id', 'due_on']).where('status', '=', 'open').where('due_on', '<', shanghaiDate(now)).orderBy('due_on').execute();
  add(
    'corrective_actions',
    'Z7.4',
    '整改措施按期完成 / Corrective actions on time',
    overdue.length === 0,
    overdue.length ? `overdue: ${overdue.map((a) => `#${a.id} ${a.requirement_id} (due ${a.due_on})`).join(', ')}` : 'none overdue',
  );
  return checks;
}

/** Records an evaluation (Z7.1, Z7.2) with the summary of the report handed to the evaluators and its hash. */
export async function recordEvaluation(
  ctx: ServiceContext,
  actor: Actor,
  input: { evaluator: string; kind: 'self' | 'third_party'; report: ComplianceReport; html: string },
): Promise<ComplianceEvaluationRow> {
  const evaluator = input.evaluator.trim();
  if (!evaluator || evaluator.length > 200) throw badRequest('INVALID_EVALUATOR', 'Name who evaluated, 1–200 characters. / 请填写评价人（1–200 字）。');
  const summary: EvaluationSummary = {
    counts: input.report.counts,
    statuses: Object.fromEntries(input.report.requirements.map((r) => [r.id, r.status])),
    checks_failed: input.report.checks.filter((c) => !c.ok).map((c) => c.id),
  };
  const reportSha256 = createHash('sha256').update(input.html).digest('hex');
  return ctx.db.transaction().execute(async (trx) => {
    const row = await trx
      .insertInto('compliance_evaluations')
      .values({ evaluated_at: ctx.clock.now(), evaluator, kind: input.kind, summary: JSON.stringify(summary), report_sha256: reportSha256, recorded_by: actor.username })
      .returningAll()
      .executeTakeFirstOrThrow();
    await appendAudit(trx, { at: ctx.clock.now(), actor: actor.username, action: 'compliance.evaluate', object: `evaluation:${row.id}`, result: 'success', sourceIp: actor.sourceIp, detail: { kind: input.kind, evaluator, report_sha256: reportSha256, counts: summary.counts } });
    return row;
  });
}

export async function listEvaluations(ctx: ServiceContext): Promise<ComplianceEvaluationRow[]> {
  return ctx.db.selectFrom('compliance_evaluations').selectAll().orderBy('evaluated_at', 'desc').orderBy('id', 'desc').execute();
}

/** Z7.4: a corrective action against one requirement, with an owner and a due date. */
export async function addCorrectiveAction(
  ctx: ServiceContext,
  actor: Actor,
  input: { requirement: string; title: string; owner: string; due_on: string; evaluation_id?: number | null },
  knownRequirements: ReadonlySet<string>,
): Promise<ComplianceActionRow> {
  if (!knownRequirements.has(input.requirement)) throw badRequest('UNKNOWN_REQUIREMENT', `${input.requirement} is not in the requirement register. / 要求编号不存在。`);
  const title = input.title.trim();
  const owner = input.owner.trim();
  if (!title || title.length > 500) throw badRequest('INVALID_ACTION', 'Describe the action in 1–500 characters. / 请用 1–500 字描述整改措施。');
  if (!owner || owner.length > 100) throw badRequest('INVALID_ACTION', 'Name the owner, 1–100 characters. / 请填写责任人。');
  parseCalendarDate(input.due_on, 'due');
  return ctx.db.transaction().execute(async (trx) => {
    if (input.evaluation_id != null) {
      const ev = await trx.selectFrom('compliance_evaluations').select('id').where('id', '=', input.evaluation_id).executeTakeFirst();
      if (!ev) throw notFound('EVALUATION_NOT_FOUND', `No evaluation ${input.evaluation_id}. / 评价记录不存在。`);
    }
    const row = await trx
      .insertInto('compliance_actions')
      .values({ requirement_id: input.requirement, evaluation_id: input.evaluation_id ?? null, title, owner, due_on: input.due_on, created_at: ctx.clock.now(), created_by: actor.username })
      .returningAll()
      .executeTakeFirstOrThrow();
    await appendAudit(trx, { at: ctx.clock.now(), actor: actor.username, action: 'compliance.action_add', object: `compliance_action:${row.id}`, result: 'success', sourceIp: actor.sourceIp, detail: { requirement: row.requirement_id, owner, due_on: row.due_on } });
    return row;
  });
}

export async function closeCorrectiveAction(ctx: ServiceContext, actor: Actor, id: number, resolution: string): Promise<ComplianceActionRow> {
  const text = resolution.trim();
  if (!text || text.length > 2000) throw badRequest('INVALID_ACTION', 'Say how it was resolved, 1–2000 characters. / 请说明整改结果（1–2000 字）。');
  return ctx.db.transaction().execute(async (trx) => {
    const current = await trx.selectFrom('compliance_actions').select(['id', 'status']).where('id', '=', id).forUpdate().executeTakeFirst();
    if (!current) throw notFound('ACTION_NOT_FOUND', `No corrective action ${id}. / 整改措施不存在。`);
    if (current.status === 'done') throw badRequest('ACTION_CLOSED', `Corrective action ${id} is already closed. / 该整改措施已关闭。`);
    const row = await trx
      .updateTable('compliance_actions')
      .set({ status: 'done', closed_at: ctx.clock.now(), closed_by: actor.username, resolution: text })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await appendAudit(trx, { at: ctx.clock.now(), actor: actor.username, action: 'compliance.action_close', object: `compliance_action:${id}`, result: 'success', sourceIp: actor.sourceIp, detail: { resolution: text } });
    return row;
  });
}

export async function listCorrectiveActions(ctx: ServiceContext, opts: { openOnly?: boolean } = {}): Promise<ComplianceActionRow[]> {
  let q = ctx.db.selectFrom('compliance_actions').selectAll();
  if (opts.openOnly) q = q.where('status', '=', 'open');
  return q.orderBy('status').orderBy('due_on').orderBy('id').execute();
}

/**
 * Z7.2: tells the security administrators and the director, once 30 days before the two-yearly
 * evaluation is due and once when it is overdue (or, with none recorded yet, once).
 */
export async function remindEvaluationDue(ctx: ServiceContext): Promise<{ reminded: boolean }> {
  const now = ctx.clock.now();
  const last = await lastEvaluation(ctx);
  const due = last ? addMonths(last.evaluated_at, EVALUATION_INTERVAL_MONTHS) : null;
  let stage: string;
  if (!due) stage = 'never';
  else if (now >= due) stage = `overdue:${shanghaiDate(due)}`;
  else if (now.getTime() >= due.getTime() - REMINDER_LEAD_DAYS * DAY) stage = `soon:${shanghaiDate(due)}`;
  else return { reminded: false };
  return ctx.db.transaction().execute(async (trx) => {
    const recipients = await trx.selectFrom('users').select('id').where('role', 'in', ['security_admin', 'director']).where('disabled', '=', false).orderBy('id').execute();
    if (!recipients.length) return { reminded: false };
    const when = due ? shanghaiDate(due) : null;
    const id = await notify(trx, ctx, {
      event: 'compliance.evaluation_due',
      user_ids: recipients.map((r) => r.id),
      title: stage === 'never' ? '尚未进行数字化服务管理评价 / No evaluation recorded yet' : `数字化服务管理评价${stage.startsWith('overdue') ? '已逾期' : '即将到期'} / Evaluation ${stage.startsWith('overdue') ? 'overdue' : 'due'} ${when}`,
      body:
        '按 T/ZSM 0038-2024 第 7.2 条，宜每两年对数字化服务与管理进行一次评价。请运行 `lawbox compliance evaluate` 生成报告并记录评价，整改措施以 `lawbox compliance action add` 跟踪。\n' +
        'T/ZSM 0038-2024 §7.2: evaluate the digital services and management every two years. Run `lawbox compliance evaluate` to produce the report and record the evaluation; track corrective actions with `lawbox compliance action add`.',
      dedupe_key: `compliance.evaluation_due:${stage}`,
    });
    if (id !== null) await appendAudit(trx, { at: now, actor: SYSTEM_ACTOR.username, action: 'compliance.remind', object: `notification:${id}`, result: 'success', detail: { stage } });
    return { reminded: id !== null };
  });
}

export const complianceJobs: Job[] = [{ name: 'compliance.evaluation_reminder', schedule: '10 9 * * *', run: (ctx) => remindEvaluationDue(ctx) }];
