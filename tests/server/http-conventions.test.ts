import { Writable } from 'node:stream';
import t from 'tap';
import { pino } from 'pino';
import { Type } from 'typebox';
import { buildApp } from '../../server/src/app.js';
import { responses } from '../../server/src/schemas.js';
import { VERSION } from '../../server/src/version.js';
import { countUsers, issueSetupToken } from '../../server/src/modules/users/service.js';
import pg from 'pg';
import { createTestInstance, signedIn, STRONG_PASSWORD, isErrorShape, USING_POSTGRES } from '../helpers/instance.js';

const inst = await createTestInstance(t);
const { app } = inst;


t.test('GET /api/health answers exactly status, db, mqtt and version, without a session', async (t) => {
  const res = await app.inject({ url: '/api/health' });
  t.equal(res.statusCode, 200, 'health answers 200');
  t.match(res.headers['content-type'], /^application\/json/, 'as JSON');
  const body = res.json();
  t.same(Object.keys(body).sort(), ['db', 'mqtt', 'status', 'version'], 'with exactly these four fields');
  t.same(body, { status: 'ok', db: 'ok', mqtt: 'ok', version: VERSION }, 'all ok, with the running version');
  t.type(body.version, 'string', 'the version is a string');
});

t.test('answers carry the security headers, errors included', async (t) => {
  const lawyer = await signedIn(inst, 'lawyer');
  const cases = [
    { what: 'a public answer', url: '/api/health', headers: {}, status: 200 },
    { what: 'a signed-in answer', url: '/api/me', headers: lawyer.headers, status: 200 },
    { what: 'a 401', url: '/api/me', headers: {}, status: 401 },
    { what: 'a 404', url: '/api/no-such-route', headers: lawyer.headers, status: 404 },
  ];
  for (const c of cases) {
    const res = await app.inject({ url: c.url, headers: c.headers });
    t.equal(res.statusCode, c.status, `${c.what}: ${c.url} answers ${c.status}`);
    const h = res.headers;
    t.equal(h['x-content-type-options'], 'nosniff', `${c.what}: X-Content-Type-Options is nosniff`);
    const csp = String(h['content-security-policy'] ?? '');
    t.match(csp, /default-src 'self'/, `${c.what}: a Content-Security-Policy restricts sources to the appliance`);
    t.ok(/^(DENY|SAMEORIGIN)$/i.test(String(h['x-frame-options'] ?? '')) || /frame-ancestors ('none'|'self')/.test(csp), `${c.what}: framing by other sites is forbidden`);
    t.match(String(h['referrer-policy'] ?? ''), /^(no-referrer|same-origin|strict-origin(-when-cross-origin)?)$/, `${c.what}: a Referrer-Policy keeps URLs from leaking`);
  }
});

t.test('an unknown route is a 404 NOT_FOUND with the error shape, signed in or not', async (t) => {
  const lawyer = await signedIn(inst, 'lawyer');
  for (const [who, headers] of [['anonymous', {}], ['signed in', lawyer.headers]] as const) {
    for (const [method, url] of [['GET', '/api/no-such-route'], ['POST', '/api/users/1/no-such-action'], ['GET', '/no-such-page']] as const) {
      const res = await app.inject({ method, url, headers, ...(method === 'POST' ? { payload: {} } : {}) });
      t.equal(res.statusCode, 404, `${who}: ${method} ${url} → 404`);
      t.ok(isErrorShape(res.json()), `${who}: ${method} ${url} has the error shape`);
      t.equal(res.json().error.code, 'NOT_FOUND', `${who}: ${method} ${url} has code NOT_FOUND`);
    }
  }
});

t.test('a malformed JSON body is a 400 with the error shape', async (t) => {
  const login = await app.inject({ method: 'POST', url: '/api/auth/login', headers: { 'content-type': 'application/json' }, payload: '{"username": "x", "password": ' });
  t.equal(login.statusCode, 400, 'a truncated JSON login is refused with 400');
  t.ok(isErrorShape(login.json()), 'with the error shape');

  const admin = await signedIn(inst, 'security_admin');
  const patch = await app.inject({ method: 'PATCH', url: `/api/users/${admin.id}`, headers: { ...admin.headers, 'content-type': 'application/json' }, payload: "{display_name: 'x'}" });
  t.equal(patch.statusCode, 400, 'a signed-in request with invalid JSON is refused with 400');
  t.ok(isErrorShape(patch.json()), 'with the error shape');
});

t.test('a body in a content type the API does not speak is a 415 with the error shape', async (t) => {
  for (const type of ['application/xml', 'application/x-www-form-urlencoded']) {
    const res = await app.inject({ method: 'POST', url: '/api/auth/login', headers: { 'content-type': type }, payload: type.includes('xml') ? '<login user="x"/>' : 'username=x&password=y' });
    t.equal(res.statusCode, 415, `${type} → 415`);
    t.ok(isErrorShape(res.json()), `${type}: the answer has the error shape`);
  }
});

t.test('an unexpected error is a 500 INTERNAL_ERROR that reveals nothing but stays in the log', async (t) => {
  const logLines: string[] = [];
  const logStream = new Writable({
    write(chunk: Buffer, _enc, done) {
      logLines.push(chunk.toString());
      done();
    },
  });
  const other = await buildApp({ config: inst.config, database: inst.database, mqtt: inst.mqtt, clock: inst.clock, logger: pino({ level: 'error' }, logStream) });
  t.teardown(() => other.close());
  const SECRET = 'password authentication failed for postgres://lawbox:hunter2@db.internal/lawbox';
  other.get('/api/test/plain-error', { config: { public: true } }, async () => {
    throw new Error(SECRET);
  });
  other.get('/api/test/type-error', { config: { public: true }, schema: { response: responses({ 200: Type.Object({ ok: Type.Boolean() }) }) } }, async () => {
    const missing = undefined as unknown as { deep: { value: number } };
    return { ok: missing.deep.value === 1 };
  });
  other.get('/api/test/status-error', { config: { public: true } }, async () => {
    throw Object.assign(new Error(SECRET), { statusCode: 503 });
  });
  await other.ready();

  for (const url of ['/api/test/plain-error', '/api/test/type-error', '/api/test/status-error']) {
    const res = await other.inject({ url });
    t.ok(res.statusCode >= 500, `${url}: a server error status (${res.statusCode})`);
    const body = res.json();
    t.ok(isErrorShape(body), `${url}: the body has exactly the error shape`);
    t.equal(body.error.code, 'INTERNAL_ERROR', `${url}: the code is INTERNAL_ERROR`);
    t.notMatch(res.body, /hunter2|postgres:\/\/|db\.internal|password authentication/, `${url}: the internal message is not revealed`);
    t.notMatch(res.body, /stack|\bat .+:\d+|\.ts:\d+|\.js:\d+|TypeError|Cannot read/, `${url}: no stack trace or exception detail is revealed`);
    const requestId = /request id (\S+)/.exec(String(body.error.message))?.[1];
    t.ok(requestId, `${url}: the message gives a request id to quote`);
    t.ok(logLines.some((l) => (JSON.parse(l) as { reqId?: string; level?: number }).reqId === requestId && (JSON.parse(l) as { level: number }).level >= 50), `${url}: the server log has the error under that request id`);
  }
  t.equal((await other.inject({ url: '/api/test/plain-error' })).statusCode, 500, 'a plain thrown Error is exactly 500');
  t.ok(logLines.some((l) => l.includes('hunter2')), 'the details are in the server log for the administrator');
});

t.test('the OpenAPI document is public and lists the core paths', async (t) => {
  const res = await app.inject({ url: '/api/openapi.json' });
  t.equal(res.statusCode, 200, '/api/openapi.json answers without a session');
  const doc = res.json();
  for (const path of ['/api/health', '/api/auth/login', '/api/me', '/api/users']) t.ok(doc.paths?.[path], `it documents ${path}`);
  t.same(doc, JSON.parse(JSON.stringify(app.swagger())), 'the served document is the complete generated one');
});

t.test('the API documentation is served without a session and loads nothing from outside', async (t) => {
  const res = await app.inject({ url: '/api/docs/' });
  t.equal(res.statusCode, 200, '/api/docs/ answers without a session');
  t.match(res.headers['content-type'], /^text\/html/, 'as HTML');
  t.match(res.body, /<html/i, 'with an HTML page');
  t.notMatch(res.body, /(src|href)\s*=\s*["']?(https?:)?\/\//i, 'the page itself references no other host');

  const csp = String(res.headers['content-security-policy'] ?? '');
  t.ok(csp.length > 0, 'the page has a Content-Security-Policy');
  const external: string[] = [];
  for (const directive of csp.split(';').map((d) => d.trim()).filter(Boolean)) {
    const [name, ...sources] = directive.split(/\s+/);
    for (const source of sources) {
      const local = /^'(self|none|unsafe-inline|unsafe-eval|strict-dynamic|nonce-[^']+|sha(256|384|512)-[^']+)'$/.test(source) || source === 'data:' || source === 'blob:';
      if (!local) external.push(`${name} ${source}`);
    }
  }
  t.same(external, [], `the CSP names no external host or scheme (${csp})`);
  t.notMatch(csp, /upgrade-insecure-requests/, 'and, served over plain HTTP, does not tell browsers to fetch its scripts over HTTPS');
  t.equal(inst.config.tlsCertPath, null, '(this instance indeed runs without TLS)');
});

t.test('the login route is rate limited per client address', async (t) => {
  const limited = await createTestInstance(t, { env: { LAWBOX_AUTH_RATE_LIMIT: '3' }, database: { database: inst.database, databaseUrl: inst.databaseUrl } });
  const attempt = (remoteAddress = '127.0.0.1') => limited.app.inject({ method: 'POST', url: '/api/auth/login', remoteAddress, payload: { username: 'rate.probe', password: 'Wrong-Pass-1' } });
  for (let i = 1; i <= 3; i++) t.equal((await attempt()).statusCode, 401, `attempt ${i} within the limit reaches the password check`);
  const fourth = await attempt();
  t.equal(fourth.statusCode, 429, 'the 4th attempt within a minute gets 429');
  t.ok(isErrorShape(fourth.json()), 'with the error shape');
  t.equal(fourth.json().error.code, 'RATE_LIMITED', 'and a code that says so');
  t.ok(Number(fourth.headers['retry-after']) > 0, 'Retry-After tells the client when to try again');
  const audited = await inst.ctx.db.selectFrom('audit_log').select('seq').where('action', '=', 'auth.login').where('actor', '=', 'rate.probe').execute();
  t.equal(audited.length, 3, 'the refused attempt never reached the password check (3 audited attempts, not 4)');
  t.equal((await attempt('127.0.0.2')).statusCode, 401, 'another client address is not affected');
});

t.test('setup: the one-time token creates the first security administrator, once', async (t) => {
  const fresh = await createTestInstance(t);
  t.equal(await countUsers(fresh.ctx), 0, 'a fresh database has no accounts');
  const token = await issueSetupToken(fresh.ctx);
  t.type(token, 'string', 'with no accounts, a setup token is issued');
  const setup = (setup_token: string, password = STRONG_PASSWORD) => fresh.app.inject({ method: 'POST', url: '/api/setup', payload: { setup_token, username: 'first.admin', display_name: '首任 安全管理员', password } });

  const wrong = await setup('not-the-token');
  t.equal(wrong.statusCode, 400, 'a wrong token is refused');
  t.ok(isErrorShape(wrong.json()), 'with the error shape');
  t.equal(wrong.json().error.code, 'INVALID_SETUP_TOKEN', 'and INVALID_SETUP_TOKEN');
  t.equal(await countUsers(fresh.ctx), 0, 'no account was created by the wrong token');

  const weak = await setup(token!, 'weak');
  t.equal(weak.statusCode, 400, 'a weak password is refused');
  t.equal(weak.json().error.code, 'WEAK_PASSWORD', 'with WEAK_PASSWORD');

  const ok = await setup(token!);
  t.equal(ok.statusCode, 201, 'the right token creates the account (the weak attempt did not burn it)');
  t.same(ok.json(), { username: 'first.admin', role: 'security_admin' }, 'a security administrator');
  const login = await fresh.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'first.admin', password: STRONG_PASSWORD } });
  t.equal(login.statusCode, 200, 'who can sign in at once');
  t.equal(login.json().user.password_change_required, false, 'without a forced password change');

  const again = await fresh.app.inject({ method: 'POST', url: '/api/setup', payload: { setup_token: token, username: 'second.admin', display_name: '第二', password: STRONG_PASSWORD } });
  t.equal(again.statusCode, 400, 'reusing the token is refused');
  t.equal(again.json().error.code, 'INVALID_SETUP_TOKEN', 'with INVALID_SETUP_TOKEN');
  t.equal(await countUsers(fresh.ctx), 1, 'still exactly one account');
  t.equal(await issueSetupToken(fresh.ctx), null, 'and no new token is issued once an account exists');
});

// Only on PostgreSQL: PGlite runs in this process, with no server that could end a connection.
if (USING_POSTGRES) t.test('a connection the database server ends is replaced and the process lives on', async (t) => {
  t.equal((await app.inject({ url: '/api/health' })).statusCode, 200, 'healthy, with pooled connections open');
  const admin = new pg.Client({ connectionString: inst.databaseUrl! });
  await admin.connect();
  const { rowCount } = await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()');
  await admin.end();
  t.ok((rowCount ?? 0) >= 1, 'the server ended the pool’s connections');
  await new Promise((r) => setTimeout(r, 300));
  t.equal((await app.inject({ url: '/api/health' })).statusCode, 200, 'the next request is served on a new connection');
});
