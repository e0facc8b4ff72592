import t from 'tap';
import { createTestInstance, createTestUser, loginToken, STRONG_PASSWORD } from '../helpers/instance.js';

const inst = await createTestInstance(t);
const { app } = inst;

t.test('login returns a token, the user and an HttpOnly SameSite cookie', async (t) => {
  const u = await createTestUser(inst, 'lawyer');
  const res = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: u.username, password: u.password } });
  t.equal(res.statusCode, 200, 'login succeeds');
  const body = res.json();
  t.type(body.token, 'string', 'token is returned');
  t.match(body.user, { username: u.username, role: 'lawyer' }, 'user carries username and role');
  const cookie = res.cookies.find((c) => c.name === 'lawbox_session');
  t.ok(cookie, 'session cookie is set');
  t.equal(cookie?.httpOnly, true, 'cookie is HttpOnly');
  t.equal(cookie?.sameSite, 'Strict', 'cookie is SameSite=Strict');
  t.equal(cookie?.value, body.token, 'cookie holds the same token');

  const viaBearer = await app.inject({ url: '/api/me', headers: { authorization: `Bearer ${body.token}` } });
  t.equal(viaBearer.statusCode, 200, 'token works as Bearer');
  t.equal(viaBearer.json().role, 'lawyer', '/api/me returns the role');
  const viaCookie = await app.inject({ url: '/api/me', cookies: { lawbox_session: body.token } });
  t.equal(viaCookie.statusCode, 200, 'token works as cookie');

  const stored = await inst.ctx.db.selectFrom('sessions').select('token_hash').execute();
  t.notOk(stored.some((s) => s.token_hash === body.token), 'the raw token is never stored');
});

t.test('wrong credentials get 401 with the same answer for unknown users', async (t) => {
  const u = await createTestUser(inst, 'lawyer');
  const wrong = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: u.username, password: 'Nope-nope-1' } });
  const unknown = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'nobody-here', password: 'Nope-nope-1' } });
  t.equal(wrong.statusCode, 401, 'wrong password → 401');
  t.equal(unknown.statusCode, 401, 'unknown user → 401');
  t.same(wrong.json(), unknown.json(), 'both answers are identical');
  t.equal(wrong.json().error.code, 'INVALID_CREDENTIALS', 'stable error code');
  const audit = await inst.ctx.db.selectFrom('audit_log').selectAll().where('action', '=', 'auth.login').where('result', '=', 'failure').execute();
  t.ok(audit.some((a) => a.actor === u.username), 'failed login is audited with the attempted username');
  t.ok(audit.some((a) => a.actor === 'nobody-here'), 'unknown-user attempt is audited');
});

t.test('/api/me needs a session; logout ends it', async (t) => {
  t.equal((await app.inject({ url: '/api/me' })).statusCode, 401, 'no session → 401');
  t.equal((await app.inject({ url: '/api/me', headers: { authorization: 'Bearer forged' } })).statusCode, 401, 'forged token → 401');
  const u = await createTestUser(inst, 'partner');
  const token = await loginToken(inst, u.username);
  const headers = { authorization: `Bearer ${token}` };
  const out = await app.inject({ method: 'POST', url: '/api/auth/logout', headers });
  t.equal(out.statusCode, 200, 'logout succeeds');
  const after = await app.inject({ url: '/api/me', headers });
  t.equal(after.statusCode, 401, 'the token stops working after logout');
  t.equal(after.json().error.code, 'SESSION_EXPIRED', 'the caller is told the session ended');
  const logged = await inst.ctx.db.selectFrom('audit_log').selectAll().where('action', '=', 'auth.logout').where('actor', '=', u.username).execute();
  t.equal(logged.length, 1, 'logout is audited');
});

t.test('a user whose password was set by someone else must change it first', async (t) => {
  const admin = await createTestUser(inst, 'security_admin');
  const adminHeaders = { authorization: `Bearer ${await loginToken(inst, admin.username)}` };
  const created = await app.inject({ method: 'POST', url: '/api/users', headers: adminHeaders, payload: { username: 'new.lawyer', display_name: '新律师', role: 'lawyer', password: 'Temp-Pass-123' } });
  t.equal(created.statusCode, 201, 'account created');
  t.equal(created.json().must_change_password, true, 'flagged for a password change');

  const token = await loginToken(inst, 'new.lawyer', 'Temp-Pass-123');
  const headers = { authorization: `Bearer ${token}` };
  const me = await app.inject({ url: '/api/me', headers });
  t.equal(me.json().password_change_required, true, '/api/me says a change is required');
  const blocked = await app.inject({ url: '/api/roles', headers });
  t.equal(blocked.statusCode, 403, 'other routes are refused until the change');
  t.equal(blocked.json().error.code, 'PASSWORD_CHANGE_REQUIRED', 'with a code saying why');

  const weak = await app.inject({ method: 'POST', url: '/api/auth/password', headers, payload: { current_password: 'Temp-Pass-123', new_password: 'short' } });
  t.equal(weak.statusCode, 400, 'a weak password is refused');
  t.equal(weak.json().error.code, 'WEAK_PASSWORD', 'with WEAK_PASSWORD');
  const wrongCurrent = await app.inject({ method: 'POST', url: '/api/auth/password', headers, payload: { current_password: 'not-it', new_password: STRONG_PASSWORD } });
  t.equal(wrongCurrent.statusCode, 400, 'the current password must be right');
  const ok = await app.inject({ method: 'POST', url: '/api/auth/password', headers, payload: { current_password: 'Temp-Pass-123', new_password: STRONG_PASSWORD } });
  t.equal(ok.statusCode, 200, 'a strong new password is accepted');
  t.equal((await app.inject({ url: '/api/roles', headers })).statusCode, 200, 'the user may now work');
  t.equal((await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'new.lawyer', password: 'Temp-Pass-123' } })).statusCode, 401, 'the old password no longer works');
});

t.test('the password policy is configurable and on by default', async (t) => {
  const { passwordProblems } = await import('../../server/src/modules/auth/passwords.js');
  const policy = inst.config.passwordPolicy;
  t.same(passwordProblems(policy, 'Abcdef1!', 'x'), [], '8 chars, 4 classes passes');
  t.ok(passwordProblems(policy, 'Abc1!', 'x').length > 0, 'too short fails');
  t.ok(passwordProblems(policy, 'abcdefgh1', 'x').length > 0, 'two classes fail');
  t.ok(passwordProblems(policy, 'Xzhang.w1!', 'zhang.w').length > 0, 'containing the username fails');
  t.same(passwordProblems({ ...policy, enabled: false }, 'a', 'x'), [], 'a disabled policy accepts anything short of the length cap');
});
