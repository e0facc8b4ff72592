import t from 'tap';
import { JOBS, runJob, type Job } from '../../server/src/scheduler.js';
import { createTestInstance, createTestUser, USING_POSTGRES } from '../helpers/instance.js';

const inst = await createTestInstance(t);

t.test('every scheduled job has a valid cron expression and a unique name', async (t) => {
  const cron = (await import('node-cron')).default;
  const names = new Set<string>();
  for (const job of JOBS) {
    t.ok(cron.validate(job.schedule), `${job.name}: "${job.schedule}" is a valid cron expression`);
    t.notOk(names.has(job.name), `${job.name} is unique`);
    names.add(job.name);
  }
});

t.test('sessions.cleanup removes sessions that ended more than a day ago', async (t) => {
  const u = await createTestUser(inst, 'lawyer');
  await inst.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: u.username, password: u.password } });
  const before = await inst.ctx.db.selectFrom('sessions').select('token_hash').where('user_id', '=', u.id).execute();
  t.equal(before.length, 1, 'a live session exists');
  const job = JOBS.find((j) => j.name === 'sessions.cleanup')!;
  t.same((await runJob(inst.ctx, job)).result, { deleted: 0 }, 'a live session is kept');
  inst.clock.advanceMinutes(13 * 60 + 24 * 60);
  const r = await runJob(inst.ctx, job);
  t.ok(r.ran, 'the job ran');
  t.ok((r.result as { deleted: number }).deleted >= 1, 'the expired session was deleted');
  const after = await inst.ctx.db.selectFrom('sessions').select('token_hash').where('user_id', '=', u.id).execute();
  t.equal(after.length, 0, 'no session of that user is left');
});

// Only on PostgreSQL: PGlite is one process with one connection, where the lock cannot be contended.
if (USING_POSTGRES) t.test('a job runs in one process at a time (advisory lock)', async (t) => {
  const { openDatabase } = await import('../../server/src/db/index.js');
  const other = await openDatabase({ databaseUrl: inst.databaseUrl, dataDir: null });
  t.teardown(() => other.close());
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const slow: Job = { name: 'test.slow', schedule: '* * * * *', run: async () => { await gate; return 'done'; } };
  const first = runJob(inst.ctx, slow);
  await new Promise((r) => setTimeout(r, 200));
  const contender = await runJob({ ...inst.ctx, db: other.db }, slow);
  t.same(contender, { ran: false }, 'a second process skips the run while the first holds the lock');
  release();
  t.same(await first, { ran: true, result: 'done' }, 'the first process finishes its run');
  t.same(await runJob({ ...inst.ctx, db: other.db }, slow), { ran: true, result: 'done' }, 'once released, the other process may run it');
});
