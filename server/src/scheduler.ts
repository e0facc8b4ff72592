import cron from 'node-cron';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import { SYSTEM_ACTOR, type ServiceContext } from './context.js';
import { purgeAudit } from './modules/audit/service.js';
import { refreshAllAccessLists } from './modules/doors/access-list.js';
import { scanMatters } from './modules/tracking/service.js';
import { disableInactiveUsers } from './modules/users/service.js';
import { visitorJobs } from './modules/visitors/service.js';
import { meetingJobs } from './modules/meetings/service.js';
import { notificationJobs } from './modules/notifications/service.js';
import { archiveJobs } from './modules/archive/service.js';
import { evaluationJobs } from './modules/evaluations/service.js';
import { deadlineJobs } from './modules/deadlines/service.js';
import { complianceJobs } from './modules/compliance/service.js';

export interface Job {
  name: string;
  /** cron expression, Asia/Shanghai time */
  schedule: string;
  run(ctx: ServiceContext): Promise<unknown>;
}

export const JOBS: Job[] = [
  {
    name: 'sessions.cleanup',
    schedule: '17 * * * *',
    run: async (ctx) => {
      const dayAgo = new Date(ctx.clock.now().getTime() - 86_400_000);
      const r = await ctx.db.deleteFrom('sessions').where((eb) => eb.or([eb('expires_at', '<', dayAgo), eb('revoked_at', '<', dayAgo)])).executeTakeFirst();
      return { deleted: Number(r.numDeletedRows) };
    },
  },
  {
    name: 'users.disable_inactive',
    schedule: '5 2 * * *',
    run: async (ctx) => ({ disabled: await disableInactiveUsers(ctx, SYSTEM_ACTOR) }),
  },
  {
    name: 'audit.retention',
    schedule: '35 3 * * *',
    run: async (ctx) => ({ purged: await purgeAudit(ctx.db, new Date(ctx.clock.now().getTime() - ctx.config.auditRetentionDays * 86_400_000)) }),
  },
  {
    // Z6.3.3.5: matters open too long, without progress, overbilled or unpaid; clients not informed.
    name: 'matters.tracking',
    schedule: '20 6 * * *',
    run: (ctx) => scanMatters(ctx),
  },
  {
    // Every agent's door list is signed anew each day, so it never reaches its 7-day expiry while the
    // server runs; each process publishes what was signed when it hears of the commit.
    name: 'doors.resign_access_lists',
    schedule: '40 4 * * *',
    run: async (ctx) => ({ signed: (await refreshAllAccessLists(ctx, { force: true })).signed }),
  },
  ...visitorJobs,
  ...meetingJobs,
  ...notificationJobs,
  ...archiveJobs,
  ...evaluationJobs,
  ...deadlineJobs,
  ...complianceJobs,
];

/** ok: it ran and finished; failed: it threw; skipped: another server process holds its lock. */
export type JobOutcome = 'ok' | 'failed' | 'skipped';

/** Told of every run, e.g. by the metrics (runs by job and outcome, how long each took). */
export interface JobObserver {
  jobRan(job: string, outcome: JobOutcome, seconds: number): void;
}

/**
 * Runs one job if no other server process is running it: a PostgreSQL advisory lock, keyed by the
 * job's name, is held on one connection for the length of the run.
 */
export async function runJob(ctx: ServiceContext, job: Job, observer?: JobObserver): Promise<{ ran: boolean; result?: unknown }> {
  const started = performance.now();
  const report = (outcome: JobOutcome) => observer?.jobRan(job.name, outcome, (performance.now() - started) / 1000);
  try {
    const run = await ctx.db.connection().execute(async (conn) => {
      const key = sql`hashtext(${`lawbox.job.${job.name}`})`;
      const { rows } = await sql<{ locked: boolean }>`select pg_try_advisory_lock(${key}) as locked`.execute(conn);
      if (!rows[0]?.locked) return { ran: false };
      try {
        return { ran: true, result: await job.run({ ...ctx, db: conn }) };
      } finally {
        await sql`select pg_advisory_unlock(${key})`.execute(conn);
      }
    });
    report(run.ran ? 'ok' : 'skipped');
    return run;
  } catch (err) {
    report('failed');
    throw err;
  }
}

export function startScheduler(ctx: ServiceContext, log: Logger, observer?: JobObserver): () => void {
  const tasks = JOBS.map((job) =>
    cron.schedule(
      job.schedule,
      async () => {
        try {
          const { ran, result } = await runJob(ctx, job, observer);
          if (ran) log.info({ job: job.name, result }, 'job finished');
        } catch (err) {
          log.error({ err, job: job.name }, 'job failed');
        }
      },
      { name: job.name, timezone: 'Asia/Shanghai', noOverlap: true },
    ),
  );
  return () => {
    for (const t of tasks) t.destroy();
  };
}
