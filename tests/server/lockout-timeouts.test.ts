import t from 'tap';
import type { Actor } from '../../server/src/context.js';
import { JOBS, runJob } from '../../server/src/scheduler.js';
import { unlockUser } from '../../server/src/modules/users/service.js';
import { createTestInstance, createTestUser, loginToken, signedIn, STRONG_PASSWORD, type TestInstance } from '../helpers/instance.js';

// One instance and one FakeClock for the whole file: the clock only moves forward, so every
// subtest creates the accounts it needs at the time it runs.
const inst = await createTestInstance(t);
const { app } = inst;
const db = inst.ctx.db;

const WRONG = 'Wrong-Pass-99';
const DAY_MINUTES = 24 * 60;

const attempt = (i: TestInstance, username: string, password: string) => i.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username, password } });
const me = (token: string) => app.inject({ url: '/api/me', headers: { authorization: `Bearer ${token}` } });
const userRow = (i: TestInstance, id: number) => i.ctx.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
const auditFor = (i: TestInstance, action: string, username: string) =>
  i.ctx.db.selectFrom('audit_log').selectAll().where('action', '=', action).where('object', '=', `user:${username}`).orderBy('seq').execute();

/** Fails `times` logins in a row, one after the other, and returns the status codes. */
async function failLogins(i: TestInstance, username: string, times: number): Promise<number[]> {
  const codes: number[] = [];
  for (let n = 0; n < times; n++) codes.push((await attempt(i, username, WRONG)).statusCode);
  return codes;
}

t.test('five wrong passwords in a row lock the account for fifteen minutes', async (t) => {
  const u = await createTestUser(inst, 'lawyer');
  t.same(await failLogins(inst, u.username, 4), [401, 401, 401, 401], 'the first four wrong passwords are plain 401s');
  const after4 = await userRow(inst, u.id);
  t.equal(after4.failed_logins, 4, 'four failures are counted');
  t.equal(after4.locked_until, null, 'four failures do not lock');

  const fifth = await attempt(inst, u.username, WRONG);
  t.equal(fifth.statusCode, 401, 'the fifth wrong password is still answered as wrong credentials');
  t.equal(fifth.json().error.code, 'INVALID_CREDENTIALS', 'without revealing the lock to a guesser');
  const locked = await userRow(inst, u.id);
  t.equal(locked.locked_until?.getTime(), inst.clock.now().getTime() + 15 * 60_000, 'locked until exactly 15 minutes from now');
  t.equal(locked.failed_logins, 0, 'the counter starts again for the next lock');

  const right = await attempt(inst, u.username, u.password);
  t.equal(right.statusCode, 423, 'the right password is refused while locked');
  t.equal(right.json().error.code, 'ACCOUNT_LOCKED', 'with ACCOUNT_LOCKED');
  t.notOk(right.cookies.some((c) => c.name === 'lawbox_session'), 'no session cookie is handed out');
  t.equal(await db.selectFrom('sessions').select('token_hash').where('user_id', '=', u.id).executeTakeFirst(), undefined, 'no session was created');

  const locks = await auditFor(inst, 'user.lock', u.username);
  t.equal(locks.length, 1, 'the lock is audited once');
  t.equal(locks[0]?.actor, 'system', 'the lock is recorded as done by the system');
  t.match(locks[0]?.detail, { failures: 5, until: locked.locked_until?.toISOString() }, 'the record names the failure count and the end of the lock');
  const refusals = (await auditFor(inst, 'auth.login', u.username)).filter((r) => r.result === 'denied');
  t.equal(refusals.length, 1, 'the refused login during the lock is audited');
  t.match(refusals[0]?.detail, { reason: 'locked' }, 'with the reason locked');

  inst.clock.advanceMinutes(14);
  t.equal((await attempt(inst, u.username, u.password)).statusCode, 423, 'after 14 minutes it is still locked');
  inst.clock.advanceMinutes(1);
  t.equal((await attempt(inst, u.username, u.password)).statusCode, 200, 'after 15 minutes the right password works again');
  const unlocked = await userRow(inst, u.id);
  t.equal(unlocked.locked_until, null, 'a successful login clears the lock');
  t.equal(unlocked.failed_logins, 0, 'and the counter');
});

t.test('a successful login resets the count of failures', async (t) => {
  const u = await createTestUser(inst, 'lawyer');
  await failLogins(inst, u.username, 4);
  t.equal((await attempt(inst, u.username, u.password)).statusCode, 200, 'the right password after four failures works');
  t.equal((await userRow(inst, u.id)).failed_logins, 0, 'the count is back to zero');
  t.same(await failLogins(inst, u.username, 4), [401, 401, 401, 401], 'four more failures');
  t.equal((await attempt(inst, u.username, u.password)).statusCode, 200, 'do not lock, because the count started again');
  t.equal((await auditFor(inst, 'user.lock', u.username)).length, 0, 'no lock was recorded');
});

t.test('a security administrator can lift a lock through the API, and it is audited', async (t) => {
  const admin = await signedIn(inst, 'security_admin');
  const lawyer = await signedIn(inst, 'lawyer');
  const u = await createTestUser(inst, 'lawyer');
  await failLogins(inst, u.username, 5);
  t.equal((await attempt(inst, u.username, u.password)).statusCode, 423, 'the account is locked');
  const shown = await app.inject({ url: `/api/users/${u.id}`, headers: admin.headers });
  t.equal(shown.json().locked, true, 'the account list shows the lock');

  const byLawyer = await app.inject({ method: 'POST', url: `/api/users/${u.id}/unlock`, headers: lawyer.headers });
  t.equal(byLawyer.statusCode, 403, 'a lawyer may not unlock accounts');
  t.equal((await attempt(inst, u.username, u.password)).statusCode, 423, 'so the account stays locked');

  const res = await app.inject({ method: 'POST', url: `/api/users/${u.id}/unlock`, headers: admin.headers });
  t.equal(res.statusCode, 200, 'the security administrator unlocks it');
  t.equal(res.json().locked, false, 'the answer shows the account unlocked');
  const unlocks = await auditFor(inst, 'user.unlock', u.username);
  t.equal(unlocks.length, 1, 'the unlock is audited');
  t.equal(unlocks[0]?.actor, admin.username, 'naming the administrator');
  t.equal(unlocks[0]?.source_ip, '127.0.0.1', 'and the address the request came from');
  t.equal((await attempt(inst, u.username, u.password)).statusCode, 200, 'the user can sign in at once, without waiting 15 minutes');

  const missing = await app.inject({ method: 'POST', url: '/api/users/999999/unlock', headers: admin.headers });
  t.equal(missing.statusCode, 404, 'unlocking an unknown account id is a 404');
});

t.test('unlockUser in the service lifts a lock and is audited', async (t) => {
  const u = await createTestUser(inst, 'partner');
  await failLogins(inst, u.username, 5);
  t.equal((await attempt(inst, u.username, u.password)).statusCode, 423, 'the account is locked');
  const actor: Actor = { userId: null, username: 'cli-admin', role: null, sourceIp: null };
  const user = await unlockUser(inst.ctx, actor, `  ${u.username.toUpperCase()} `);
  t.equal(user.id, u.id, 'the name is matched after trimming and lower-casing');
  t.equal(user.locked_until, null, 'the returned account has no lock');
  t.equal(user.failed_logins, 0, 'and no failures counted');
  const unlocks = await auditFor(inst, 'user.unlock', u.username);
  t.equal(unlocks.length, 1, 'the unlock is audited');
  t.equal(unlocks[0]?.actor, 'cli-admin', 'with the acting name');
  t.equal((await attempt(inst, u.username, u.password)).statusCode, 200, 'the user can sign in again');
  await t.rejects(unlockUser(inst.ctx, actor, 'nobody-at-all'), { code: 'USER_NOT_FOUND' }, 'an unknown name is refused');
});

t.test('the lockout threshold follows LAWBOX_LOCKOUT_THRESHOLD', async (t) => {
  const three = await createTestInstance(t, { env: { LAWBOX_LOCKOUT_THRESHOLD: '3' } });
  t.equal(three.config.lockout.threshold, 3, 'the setting is read');
  const u = await createTestUser(three, 'lawyer');
  t.same(await failLogins(three, u.username, 2), [401, 401], 'two failures');
  t.equal((await userRow(three, u.id)).locked_until, null, 'do not lock yet');
  await failLogins(three, u.username, 1);
  const row = await userRow(three, u.id);
  t.equal(row.locked_until?.getTime(), three.clock.now().getTime() + 15 * 60_000, 'the third failure locks for 15 minutes');
  const right = await attempt(three, u.username, u.password);
  t.equal(right.statusCode, 423, 'the right password is then refused');
  t.equal(right.json().error.code, 'ACCOUNT_LOCKED', 'with ACCOUNT_LOCKED');
  t.match((await auditFor(three, 'user.lock', u.username))[0]?.detail, { failures: 3 }, 'the lock record names three failures');
});

t.test('ten concurrent wrong passwords still lock the account (the count is atomic)', async (t) => {
  const u = await createTestUser(inst, 'lawyer');
  const answers = await Promise.all(Array.from({ length: 10 }, () => attempt(inst, u.username, WRONG)));
  const codes = answers.map((a) => a.statusCode);
  t.ok(codes.every((c) => c === 401 || c === 423), `every attempt is refused (${codes.join(' ')})`);
  const counted = codes.filter((c) => c === 401).length;
  t.ok(counted >= 5, `at least five attempts got to the password check (${counted})`);

  const right = await attempt(inst, u.username, u.password);
  t.equal(right.statusCode, 423, 'afterwards the account is locked');
  const failures = (await auditFor(inst, 'auth.login', u.username)).filter((r) => r.result === 'failure');
  t.equal(failures.length, counted, 'every checked wrong password is audited');
  // A lost update would leave fewer counted failures than wrong passwords checked.
  const locks = await auditFor(inst, 'user.lock', u.username);
  t.equal(locks.length, Math.floor(counted / 5), 'one lock per five counted failures');
  t.equal((await userRow(inst, u.id)).failed_logins, counted % 5, 'and the rest is still counted');
  t.same(locks.map((l) => (l.detail as { failures: number }).failures), locks.map(() => 5), 'each lock fired at exactly the threshold');
});

t.test('a session ends after 30 minutes without a request', async (t) => {
  const u = await createTestUser(inst, 'lawyer');
  const token = await loginToken(inst, u.username);
  t.equal((await me(token)).statusCode, 200, 'the new session works');
  inst.clock.advanceMinutes(29);
  t.equal((await me(token)).statusCode, 200, '29 idle minutes keep it alive');
  inst.clock.advanceMinutes(29);
  t.equal((await me(token)).statusCode, 200, 'another 29 minutes after that request too');
  inst.clock.advanceMinutes(30);
  const expired = await me(token);
  t.equal(expired.statusCode, 401, '30 idle minutes end it');
  t.equal(expired.json().error.code, 'SESSION_EXPIRED', 'with SESSION_EXPIRED');
  inst.clock.advanceMinutes(1);
  t.equal((await me(token)).statusCode, 401, 'and it does not come back');
});

t.test('last_seen is written at most once a minute, yet a request every 20 minutes keeps a session for 2 hours', async (t) => {
  const u = await createTestUser(inst, 'lawyer');
  const token = await loginToken(inst, u.username);
  const lastSeen = async () => (await db.selectFrom('sessions').select('last_seen_at').where('user_id', '=', u.id).executeTakeFirstOrThrow()).last_seen_at.getTime();
  const loginAt = inst.clock.now().getTime();
  inst.clock.advance(30_000);
  t.equal((await me(token)).statusCode, 200, 'a request after 30 s works');
  t.equal(await lastSeen(), loginAt, 'but does not write last_seen');
  inst.clock.advance(31_000);
  await me(token);
  t.equal(await lastSeen(), inst.clock.now().getTime(), 'a request more than a minute after the last write updates it');

  for (let minutes = 20; minutes <= 120; minutes += 20) {
    inst.clock.advanceMinutes(20);
    const res = await me(token);
    if (res.statusCode !== 200) {
      t.fail(`the session ended after ${minutes} minutes of activity (${res.statusCode})`);
      return;
    }
    t.equal(await lastSeen(), inst.clock.now().getTime(), `the request at ${minutes} minutes moves last_seen`);
  }
  inst.clock.advanceMinutes(30);
  t.equal((await me(token)).statusCode, 401, 'it still ends after 30 idle minutes');
});

t.test('a session ends 12 hours after login however busy it is', async (t) => {
  const u = await createTestUser(inst, 'lawyer');
  const res = await attempt(inst, u.username, u.password);
  const loginAt = inst.clock.now().getTime();
  t.equal(new Date(res.json().expires_at).getTime(), loginAt + 12 * 3_600_000, 'the login answer says it expires in 12 hours');
  const token = res.json().token as string;
  let alive = 0;
  for (let elapsed = 20; elapsed < 12 * 60; elapsed += 20) {
    inst.clock.advanceMinutes(20);
    if ((await me(token)).statusCode === 200) alive++;
  }
  t.equal(alive, 35, 'a request every 20 minutes keeps it alive for 11 h 40 min');
  inst.clock.advanceMinutes(20);
  const ended = await me(token);
  t.equal(ended.statusCode, 401, 'at 12 hours it ends despite the activity');
  t.equal(ended.json().error.code, 'SESSION_EXPIRED', 'with SESSION_EXPIRED');
  t.equal((await attempt(inst, u.username, u.password)).statusCode, 200, 'the user can simply sign in again');
});

t.test('a password older than 90 days must be changed before anything else', async (t) => {
  const u = await createTestUser(inst, 'lawyer');
  inst.clock.advanceMinutes(89 * DAY_MINUTES);
  const early = await loginToken(inst, u.username);
  t.equal((await me(early)).json().password_change_required, false, 'at 89 days no change is required');
  t.equal((await app.inject({ url: '/api/roles', headers: { authorization: `Bearer ${early}` } })).statusCode, 200, 'and the user may work');

  inst.clock.advanceMinutes(2 * DAY_MINUTES);
  const token = await loginToken(inst, u.username);
  const headers = { authorization: `Bearer ${token}` };
  const view = await me(token);
  t.equal(view.statusCode, 200, '/api/me still answers at 91 days');
  t.equal(view.json().password_change_required, true, 'and says a change is required');
  const blocked = await app.inject({ url: '/api/roles', headers });
  t.equal(blocked.statusCode, 403, 'other routes are refused');
  t.equal(blocked.json().error.code, 'PASSWORD_CHANGE_REQUIRED', 'with PASSWORD_CHANGE_REQUIRED');

  const changed = await app.inject({ method: 'POST', url: '/api/auth/password', headers, payload: { current_password: STRONG_PASSWORD, new_password: 'Fresh-Spring-2027' } });
  t.equal(changed.statusCode, 200, 'the password change is accepted');
  t.equal((await me(token)).json().password_change_required, false, 'no change is required any more');
  t.equal((await app.inject({ url: '/api/roles', headers })).statusCode, 200, 'the same session may now work');
  t.equal((await attempt(inst, u.username, STRONG_PASSWORD)).statusCode, 401, 'the expired password no longer works');
  t.equal((await attempt(inst, u.username, 'Fresh-Spring-2027')).statusCode, 200, 'the new one does');
  t.equal((await auditFor(inst, 'auth.password_change', u.username)).filter((r) => r.result === 'success').length, 1, 'the change is audited');
});

t.test('disabling an account ends its sessions at once', async (t) => {
  const admin = await signedIn(inst, 'security_admin');
  const u = await createTestUser(inst, 'lawyer');
  const tokens = [await loginToken(inst, u.username), await loginToken(inst, u.username)];
  for (const token of tokens) t.equal((await me(token)).statusCode, 200, 'each session works before');

  const res = await app.inject({ method: 'PATCH', url: `/api/users/${u.id}`, headers: admin.headers, payload: { disabled: true } });
  t.equal(res.statusCode, 200, 'the administrator disables the account');
  t.equal(res.json().disabled, true, 'the answer shows it disabled');
  for (const token of tokens) {
    const after = await me(token);
    t.equal(after.statusCode, 401, 'each session is refused right away');
    t.equal(after.json().error.code, 'SESSION_EXPIRED', 'as an ended session');
  }
  const live = await db.selectFrom('sessions').select('token_hash').where('user_id', '=', u.id).where('revoked_at', 'is', null).execute();
  t.equal(live.length, 0, 'every session of the account is revoked in the database');
  t.equal((await attempt(inst, u.username, u.password)).statusCode, 401, 'a new login is refused');
  const updates = await auditFor(inst, 'user.update', u.username);
  t.match(updates.at(-1), { actor: admin.username, detail: { disabled: { from: false, to: true } } }, 'the change is audited with who did it');

  const enabled = await app.inject({ method: 'PATCH', url: `/api/users/${u.id}`, headers: admin.headers, payload: { disabled: false } });
  t.equal(enabled.statusCode, 200, 'the account can be enabled again');
  t.equal((await me(tokens[0]!)).statusCode, 401, 'the old sessions stay dead after re-enabling');
  t.equal((await attempt(inst, u.username, u.password)).statusCode, 200, 'but the user may sign in anew');
});

t.test('users.disable_inactive disables accounts unused for 90 days and audits it', async (t) => {
  const job = JOBS.find((j) => j.name === 'users.disable_inactive');
  if (!job) return t.fail('the users.disable_inactive job exists');
  const stale = await createTestUser(inst, 'lawyer');
  await loginToken(inst, stale.username);
  const neverUsed = await createTestUser(inst, 'lawyer');
  const active = await createTestUser(inst, 'lawyer');

  inst.clock.advanceMinutes(60 * DAY_MINUTES);
  await loginToken(inst, active.username);
  const newcomer = await createTestUser(inst, 'lawyer');

  inst.clock.advanceMinutes(30 * DAY_MINUTES);
  const early = await runJob(inst.ctx, job);
  t.ok(early.ran, 'the job runs');
  const earlyNames = (early.result as { disabled: string[] }).disabled;
  t.notOk(earlyNames.includes(stale.username), 'exactly 90 days unused is not yet past the limit');

  inst.clock.advanceMinutes(DAY_MINUTES);
  const r = await runJob(inst.ctx, job);
  t.ok(r.ran, 'the job runs again a day later');
  const names = (r.result as { disabled: string[] }).disabled;
  t.ok(names.includes(stale.username), 'an account whose last login was 91 days ago is disabled');
  t.ok(names.includes(neverUsed.username), 'an account created 91 days ago and never used is disabled');
  t.notOk(names.includes(active.username), 'an account used 31 days ago is kept');
  t.notOk(names.includes(newcomer.username), 'an account created 31 days ago is kept');

  t.equal((await userRow(inst, stale.id)).disabled, true, 'the stale account is disabled in the database');
  t.equal((await userRow(inst, active.id)).disabled, false, 'the active one is not');
  t.equal((await attempt(inst, stale.username, stale.password)).statusCode, 401, 'the disabled account cannot sign in');
  t.equal((await attempt(inst, active.username, active.password)).statusCode, 200, 'the active one can');

  const audited = await auditFor(inst, 'user.disable_inactive', stale.username);
  t.equal(audited.length, 1, 'disabling is audited once per account');
  t.match(audited[0], { actor: 'system', result: 'success', detail: { inactive_days: 90 } }, 'by the system, naming the limit');
  t.equal((await auditFor(inst, 'user.disable_inactive', active.username)).length, 0, 'nothing is recorded for the kept account');

  const again = await runJob(inst.ctx, job);
  t.notOk((again.result as { disabled: string[] }).disabled.includes(stale.username), 'a second run does not disable the account twice');
});
