import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import WebSocket from 'ws';
import { Value } from 'typebox/value';
import { buildApp } from '../../server/src/app.js';
import { can, KIOSK_KINDS, ROLE_NAMES, type KioskKind, type Permission, type Role } from '../../server/src/modules/auth/roles.js';
import { createKiosk, enrolKiosk } from '../../server/src/modules/kiosks/service.js';
import { createClient } from '../../server/src/modules/clients/service.js';
import { createPortalSession } from '../../server/src/modules/portal/service.js';
import { SYSTEM_ACTOR } from '../../server/src/context.js';
import { createTestUser, createTestInstance, signedIn, STRONG_PASSWORD, isErrorShape } from '../helpers/instance.js';

/**
 * The role × route matrix. It walks app.routeCatalog, so a route added later by any module is
 * covered without touching this file: anonymous callers get 401, roles without the route's
 * permission get 403 (audited), and a refusal changes nothing in the database.
 */
const inst = await createTestInstance(t);
const { app } = inst;
await app.listen({ host: '127.0.0.1', port: 0 });
const port = (app.server.address() as AddressInfo).port;

/** Public by design; any other public route fails this test until it is added here consciously. */
const PUBLIC_ROUTES = new Set([
  'GET /api/health',
  'POST /api/auth/login',
  'POST /api/setup',
  'GET /api/openapi.json',
  // An unenrolled screen must reach its page and the enrolment exchange; all else it shows needs its token.
  'POST /api/kiosk/enrol',
  // A client enters the portal with the access code its lawyer gave it.
  'POST /api/portal/enter',
  // The client portal's pages (what they show comes from portal routes or the signing link).
  ...['/portal', '/portal/', '/portal/invoices', '/portal/confirm/:id', '/portal/evaluate/:id', '/portal/sign'].map((url) => `GET ${url}`),
  // The signer holds a one-time link instead of a session; anyone holding a signed document may verify it.
  'POST /api/sign/view',
  'POST /api/sign/code',
  'POST /api/sign/complete',
  'POST /api/signatures/verify',
  // Prometheus has no session: the route answers LAWBOX_METRICS_NETWORKS only (tests/server/metrics.test.ts).
  'GET /metrics',
  ...KIOSK_KINDS.flatMap((k) => [`GET /kiosk/${k}`, `GET /kiosk/${k}/`]),
]);
/** The kiosk apps' bundles: public, present once kiosk-ui is built. */
const isKioskAsset = (key: string) => key === 'GET /kiosk/*';
const isDocs = (url: string) => url === '/api/docs' || url.startsWith('/api/docs/');

type Schema = Record<string, any>;
interface Route {
  key: string;
  method: string;
  url: string;
  config: { public?: boolean; permission?: Permission; allowDuringPasswordChange?: boolean; agent?: boolean; kiosk?: readonly KioskKind[]; portal?: boolean };
  schema: Schema;
  websocket: boolean;
}

const routes: Route[] = inst.app.routeCatalog.flatMap((r) =>
  (Array.isArray(r.method) ? r.method : [r.method])
    .filter((method) => method !== 'HEAD')
    .map((method) => ({
      key: `${method} ${r.url}`,
      method,
      url: r.url,
      config: (r.config ?? {}) as Route['config'],
      schema: (r.schema ?? {}) as Schema,
      websocket: (r as { websocket?: boolean }).websocket === true,
    })),
);
/** every route the matrix exercises: all but the public ones (which include the swagger-ui files) */
const guarded = routes.filter((r) => !r.config.public);
/** routes for device agents: no user session of any role gets in */
const agentOnly = guarded.filter((r) => r.config.agent);
/** routes for enrolled kiosks: no user session of any role gets in */
const kioskOnly = guarded.filter((r) => r.config.kiosk);
/** routes for the firm's clients in their portal: no staff session and no kiosk gets in */
const portalOnly = guarded.filter((r) => r.config.portal);
/** routes for users (some also admit kiosks, as the WebSocket does) */
const forUsers = guarded.filter((r) => !r.config.agent && !r.config.kiosk && !r.config.portal);

// One signed-in user per role, and an account the :id routes can point at.
const users = {} as Record<Role, { id: number; username: string; headers: { authorization: string } }>;
for (const role of ROLE_NAMES) users[role] = await signedIn(inst, role);
const target = await createTestUser(inst, 'lawyer');
// One enrolled kiosk of each kind.
const kiosks = {} as Record<KioskKind, { id: number; headers: { authorization: string } }>;
for (const kind of KIOSK_KINDS) {
  const { kiosk, enrolment_code } = await createKiosk(inst.ctx, SYSTEM_ACTOR, { name: `测试终端 ${kind}`, kind });
  kiosks[kind] = { id: kiosk.id, headers: { authorization: `Bearer ${(await enrolKiosk(inst.ctx, enrolment_code, null)).token}` } };
}
// A client with a live portal session.
const portalClient = await createClient(inst.ctx, { ...SYSTEM_ACTOR, userId: users.lawyer.id, role: 'lawyer' }, { kind: 'organization', name: '矩阵探测有限公司' });
const portalHeaders = { authorization: `Bearer ${(await createPortalSession(inst.ctx, portalClient.client.id)).token}` };

// ---------------------------------------------------------------------------------------------
// Plausible, schema-valid requests for any route, built from its own schemas.

/** Realistic values for field names the API uses; anything else is derived from the schema. */
const HINTS: Record<string, unknown> = {
  username: 'matrix.probe',
  display_name: '矩阵 测试',
  role: 'lawyer',
  password: 'Matrix-Probe-42',
  temporary_password: 'Temp-Probe-42',
  current_password: STRONG_PASSWORD,
  new_password: 'Matrix-Probe-43',
  setup_token: 'probe-setup-token',
  profile: 'samsung/qm55r',
  id: target.id,
};

function sampleString(schema: Schema): string {
  switch (schema.format) {
    case 'date-time':
      return inst.clock.now().toISOString();
    case 'date':
      return inst.clock.now().toISOString().slice(0, 10);
    case 'email':
      return 'probe@example.com';
    case 'uuid':
      return randomUUID();
  }
  const min = schema.minLength ?? 0;
  const max = schema.maxLength ?? Infinity;
  const candidates = ['probe', 'probe-1', 'probe.1', 'p1', 'P1', 'a', '1', '2026', 'x'.repeat(Math.max(min, 1))];
  const fits = (s: string) => s.length >= min && s.length <= max && (!schema.pattern || new RegExp(schema.pattern, 'u').test(s));
  return candidates.find(fits) ?? 'x'.repeat(Math.max(min, 1));
}

function sample(schema: Schema, name?: string): unknown {
  if (name !== undefined && name in HINTS && Value.Check(schema, HINTS[name])) return HINTS[name];
  if ('const' in schema) return schema.const;
  if (schema.default !== undefined) return schema.default;
  if (Array.isArray(schema.examples) && schema.examples.length > 0) return schema.examples[0];
  if (Array.isArray(schema.enum)) return schema.enum[0];
  const branches = schema.anyOf ?? schema.oneOf;
  if (Array.isArray(branches)) return sample(branches[0] as Schema, name);
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'object':
      return Object.fromEntries(Object.entries((schema.properties ?? {}) as Record<string, Schema>).map(([k, s]) => [k, sample(s, k)]));
    case 'array':
      return Array.from({ length: schema.minItems ?? 0 }, () => sample((schema.items ?? {}) as Schema));
    case 'string':
      return sampleString(schema);
    case 'integer':
    case 'number':
      return Math.max(1, schema.minimum ?? 1, schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + 1 : 1);
    case 'boolean':
      return false;
    default:
      return null;
  }
}

interface Probe {
  url: string;
  body: unknown;
  /** the parts of the request that the route's schemas can check, with whether each passes */
  valid: { part: string; ok: boolean }[];
}

/** Routes whose body is raw bytes (media uploads), not JSON. */
const takesRawBody = (route: Route) => ['POST', 'PATCH', 'PUT'].includes(route.method) && Array.isArray(route.schema.consumes) && !route.schema.consumes.includes('application/json');
/** Raw uploads that staff make (the process archive); all others are the agents' media uploads. */
const STAFF_RAW_UPLOADS = new Set(['POST /api/matters/:id/process-files']);

/** A request that passes the route's validation: path params filled, query and body from the schemas. */
function plausibleRequest(route: Route, extraField = false): Probe {
  const valid: Probe['valid'] = [];
  const params = (route.schema.params?.properties ?? {}) as Record<string, Schema>;
  const path = route.url.replace(/:(\w+)/g, (_m, name: string) => String(name === 'id' ? target.id : params[name] ? sample(params[name], name) : 1));
  const query = route.schema.querystring ? (sample(route.schema.querystring as Schema) as Record<string, unknown>) : {};
  if (route.schema.querystring) valid.push({ part: 'querystring', ok: Value.Check(route.schema.querystring, query) });
  const search = new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)]));
  let body: unknown;
  if (takesRawBody(route)) {
    // Raw uploads carry their metadata in the query; the probe sends a few bytes.
    body = Buffer.from('probe');
  } else if (['POST', 'PATCH', 'PUT'].includes(route.method)) {
    body = route.schema.body ? sample(route.schema.body as Schema) : {};
    if (route.schema.body) valid.push({ part: 'body', ok: Value.Check(route.schema.body, body) });
  }
  if (extraField) {
    // An unknown field: every schema forbids extras, so this stops at validation, past the access check.
    if (body !== undefined && !Buffer.isBuffer(body)) body = { ...(body as object), __probe: true };
    else search.set('__probe', '1');
  }
  const qs = search.toString();
  return { url: qs ? `${path}?${qs}` : path, body, valid };
}

interface Answer {
  status: number;
  body: { error?: { code?: unknown; message?: unknown } } & Record<string, unknown>;
}

/** Attempts a WebSocket upgrade that should be refused: the HTTP status and body it gets instead. */
function refusedUpgrade(url: string, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}${url}`, { headers });
    const timer = setTimeout(() => {
      socket.terminate();
      reject(new Error(`no answer to the upgrade of ${url} within 5 s`));
    }, 5000);
    socket.on('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        const text = Buffer.concat(chunks).toString();
        let body: Answer['body'];
        try {
          body = JSON.parse(text) as Answer['body'];
        } catch {
          body = { raw: text };
        }
        resolve({ status: res.statusCode ?? 0, body });
        socket.terminate();
      });
    });
    socket.on('open', () => {
      clearTimeout(timer);
      socket.close();
      resolve({ status: 101, body: {} });
    });
    socket.on('error', () => {});
  });
}

/** Sends the route's plausible request; a WebSocket route gets a real upgrade attempt. */
async function call(route: Route, headers: Record<string, string>, extraField = false): Promise<Answer & { probe: Probe }> {
  const probe = plausibleRequest(route, extraField);
  if (route.websocket && !extraField) return { ...(await refusedUpgrade(probe.url, headers)), probe };
  const raw = Buffer.isBuffer(probe.body);
  const res = await app.inject({
    method: route.method as 'GET',
    url: probe.url,
    headers: raw ? { ...headers, 'content-type': 'application/octet-stream' } : headers,
    ...(probe.body !== undefined ? { payload: probe.body as object } : {}),
  });
  let body: Answer['body'];
  try {
    body = res.json();
  } catch {
    body = { raw: res.body };
  }
  return { status: res.statusCode, body, probe };
}


// ---------------------------------------------------------------------------------------------
// What a refusal must leave untouched.

async function snapshot() {
  const db = inst.ctx.db;
  const users = await db.selectFrom('users').selectAll().orderBy('id').execute();
  const sessions = (await db.selectFrom('sessions').selectAll().orderBy('token_hash').execute()).map(({ last_seen_at: _ignored, ...rest }) => rest);
  const settings = await db.selectFrom('settings').selectAll().orderBy('key').execute();
  const setupTokens = await db.selectFrom('setup_tokens').selectAll().orderBy('token_hash').execute();
  const audit = await db.selectFrom('audit_log').selectAll().where('action', '<>', 'access.denied').orderBy('seq').execute();
  const kiosks = (await db.selectFrom('kiosks').selectAll().orderBy('id').execute()).map(({ last_seen_at: _ignored, ...rest }) => rest);
  return JSON.parse(JSON.stringify({ users, sessions, settings, setupTokens, audit, kiosks })) as unknown;
}

async function lastAuditSeq(): Promise<number> {
  const row = await inst.ctx.db.selectFrom('audit_log').select((eb) => eb.fn.max('seq').as('seq')).executeTakeFirst();
  return Number(row?.seq ?? 0);
}

// ---------------------------------------------------------------------------------------------

t.test('the catalog lists every module’s routes, and only the allow-listed ones are public', async (t) => {
  const keys = new Set(routes.map((r) => r.key));
  for (const known of ['GET /api/health', 'GET /api/me', 'GET /api/users', 'PATCH /api/users/:id', 'GET /api/audit', 'GET /api/system', 'GET /api/ws', 'GET /api/docs/']) {
    t.ok(keys.has(known), `the catalog holds ${known}`);
  }
  for (const r of routes.filter((r) => r.config.public)) {
    t.ok(isDocs(r.url) || isKioskAsset(r.key) || PUBLIC_ROUTES.has(r.key), `${r.key} is public only because it is allow-listed`);
  }
  for (const key of PUBLIC_ROUTES) {
    t.equal(routes.find((r) => r.key === key)?.config.public, true, `${key} exists and is public`);
  }
  for (const r of routes.filter((r) => isDocs(r.url))) t.equal(r.config.public, true, `${r.key} (API documentation) is public`);
  t.ok(guarded.length >= 10, `the matrix has real work to do (${guarded.length} guarded routes)`);
});

t.test('public routes answer anonymous callers without asking them to sign in', async (t) => {
  for (const r of routes.filter((r) => r.config.public && !r.url.includes('*'))) {
    const res = await call(r, {});
    t.not(res.body.error?.code, 'AUTH_REQUIRED', `${r.key} does not ask an anonymous caller to sign in (got ${res.status})`);
    t.ok(res.status < 500, `${r.key} answers an anonymous caller without a server error`);
  }
});

t.test('every route declares the schemas that keep unknown input out', async (t) => {
  for (const r of routes.filter((r) => !isDocs(r.url) && !isKioskAsset(r.key))) {
    const s = r.schema;
    if (r.websocket) {
      // A WebSocket answers 101, not JSON; its refusals are checked for the error shape below.
      t.comment(`${r.key}: WebSocket route, response schema not required`);
    } else {
      t.ok(s.response && Object.keys(s.response as object).some((code) => /^2(\d\d|xx)$/.test(code)), `${r.key} has a response schema for success`);
    }
    if (r.method === 'GET') {
      t.equal(s.querystring?.type, 'object', `${r.key} has a querystring schema`);
      t.equal(s.querystring?.additionalProperties, false, `${r.key} refuses unknown query parameters`);
    }
    if (['POST', 'PATCH', 'PUT'].includes(r.method) && Array.isArray(s.consumes) && !s.consumes.includes('application/json')) {
      // Media uploads: raw bytes, checked by name, size, magic and hash instead of a JSON schema.
      t.ok(r.config.agent || STAFF_RAW_UPLOADS.has(r.key), `${r.key} takes a raw ${s.consumes.join(' | ')} body: an agent's media, or a listed staff upload`);
    } else if (['POST', 'PATCH', 'PUT'].includes(r.method)) {
      t.equal(s.body?.type, 'object', `${r.key} has a body schema`);
      t.equal(s.body?.additionalProperties, false, `${r.key} refuses unknown body fields`);
    }
    if (r.url.includes(':')) t.equal(s.params?.type, 'object', `${r.key} has a params schema`);
  }
});

t.test('the probe requests are valid, so every refusal below is about access and not validation', async (t) => {
  for (const r of guarded) {
    for (const { part, ok } of plausibleRequest(r).valid) t.ok(ok, `${r.key}: the probe ${part} satisfies the route’s schema`);
  }
});

t.test('anonymous callers get 401 with the error shape on every non-public route, and nothing changes', async (t) => {
  for (const r of guarded) {
    const before = await snapshot();
    const res = await call(r, {});
    t.equal(res.status, 401, `${r.key} refuses an anonymous caller with 401`);
    t.ok(isErrorShape(res.body), `${r.key}: the body is exactly {"error":{"code","message"}} (${JSON.stringify(res.body)})`);
    const expected = r.config.agent ? 'AGENT_AUTH_REQUIRED' : r.config.kiosk ? 'KIOSK_AUTH_REQUIRED' : r.config.portal ? 'PORTAL_AUTH_REQUIRED' : 'AUTH_REQUIRED';
    t.equal(res.body.error?.code, expected, `${r.key}: the code asks the caller to sign in`);
    t.same(await snapshot(), before, `${r.key}: the anonymous attempt changed nothing`);
  }
});

t.test('every role lacking a route’s permission gets 403 FORBIDDEN, an access.denied record, and no change', async (t) => {
  const refused: string[] = [];
  for (const r of forUsers.filter((r) => r.config.permission)) {
    const permission = r.config.permission!;
    for (const role of ROLE_NAMES.filter((role) => !can(role, permission))) {
      const user = users[role];
      const before = await snapshot();
      const seq = await lastAuditSeq();
      const res = await call(r, user.headers);
      t.equal(res.status, 403, `${role} → ${r.key} is refused with 403`);
      t.ok(isErrorShape(res.body), `${role} → ${r.key}: the body has the error shape`);
      t.equal(res.body.error?.code, 'FORBIDDEN', `${role} → ${r.key}: the code is FORBIDDEN`);
      t.same(await snapshot(), before, `${role} → ${r.key}: the refusal changed nothing`);
      const written = await inst.ctx.db.selectFrom('audit_log').selectAll().where('seq', '>', seq).execute();
      t.equal(written.length, 1, `${role} → ${r.key}: exactly one audit record is written`);
      t.match(
        written[0],
        { action: 'access.denied', actor: user.username, result: 'denied', object: `${r.method} ${r.url}`, detail: { role, permission, reason: 'FORBIDDEN' } },
        `${role} → ${r.key}: the record is an access.denied naming the user, the role and the permission`,
      );
      refused.push(`${role} ${r.key}`);
    }
  }
  for (const pair of ['lawyer GET /api/users', 'it_admin POST /api/users', 'security_admin GET /api/audit', 'auditor GET /api/system', 'finance PATCH /api/users/:id']) {
    t.ok(refused.includes(pair), `the matrix covered ${pair}`);
  }
});

t.test('agent routes refuse every user session with 401, whatever the role', async (t) => {
  for (const r of agentOnly) {
    for (const role of ROLE_NAMES) {
      const before = await snapshot();
      const res = await call(r, users[role].headers, true);
      t.equal(res.status, 401, `${role} → ${r.key} is refused: agents only`);
      t.equal(res.body.error?.code, 'AGENT_AUTH_REQUIRED', `${role} → ${r.key}: AGENT_AUTH_REQUIRED`);
      t.same(await snapshot(), before, `${role} → ${r.key}: nothing changed`);
    }
  }
});

t.test('kiosk routes refuse every user session with 401, and kiosks of another kind with 403', async (t) => {
  t.ok(kioskOnly.length >= 1, `there are kiosk routes (${kioskOnly.length})`);
  for (const r of kioskOnly) {
    for (const role of ROLE_NAMES) {
      const before = await snapshot();
      const res = await call(r, users[role].headers, true);
      t.equal(res.status, 401, `${role} → ${r.key} is refused: kiosks only`);
      t.equal(res.body.error?.code, 'KIOSK_AUTH_REQUIRED', `${role} → ${r.key}: KIOSK_AUTH_REQUIRED`);
      t.same(await snapshot(), before, `${role} → ${r.key}: nothing changed`);
    }
    for (const kind of KIOSK_KINDS) {
      const before = await snapshot();
      const seq = await lastAuditSeq();
      const res = await call(r, kiosks[kind].headers, true);
      if (r.config.kiosk!.includes(kind)) {
        t.equal(res.status, 400, `${kind} kiosk → ${r.key} passes the access check and fails only validation`);
        t.same(await snapshot(), before, `${kind} kiosk → ${r.key}: the invalid request changed nothing`);
        continue;
      }
      t.equal(res.status, 403, `${kind} kiosk → ${r.key} is refused with 403`);
      t.equal(res.body.error?.code, 'WRONG_KIOSK_KIND', `${kind} kiosk → ${r.key}: WRONG_KIOSK_KIND`);
      t.same(await snapshot(), before, `${kind} kiosk → ${r.key}: nothing changed`);
      const written = await inst.ctx.db.selectFrom('audit_log').selectAll().where('seq', '>', seq).execute();
      t.match(written, [{ action: 'access.denied', actor: `kiosk:${kiosks[kind].id}`, result: 'denied' }], `${kind} kiosk → ${r.key}: the refusal is audited`);
    }
  }
});

t.test('portal routes refuse every staff session and every kiosk with 401; a client’s session passes the access check', async (t) => {
  t.ok(portalOnly.length >= 1, `there are portal routes (${portalOnly.length})`);
  for (const r of portalOnly) {
    for (const headers of [...ROLE_NAMES.map((role) => users[role].headers), ...KIOSK_KINDS.map((kind) => kiosks[kind].headers)]) {
      const before = await snapshot();
      const res = await call(r, headers, true);
      t.equal(res.status, 401, `${r.key} refuses a staff or kiosk token with 401`);
      t.equal(res.body.error?.code, 'PORTAL_AUTH_REQUIRED', `${r.key}: PORTAL_AUTH_REQUIRED`);
      t.same(await snapshot(), before, `${r.key}: nothing changed`);
    }
    const before = await snapshot();
    const res = await call(r, portalHeaders, true);
    t.equal(res.status, 400, `client → ${r.key} passes the access check and fails only validation (${JSON.stringify(res.body)})`);
    t.same(await snapshot(), before, `client → ${r.key}: the invalid request changed nothing`);
  }
});

t.test('a client’s portal session opens no staff, kiosk or agent route', async (t) => {
  for (const r of guarded.filter((r) => !r.config.portal && !r.websocket)) {
    const before = await snapshot();
    const res = await call(r, portalHeaders, true);
    t.equal(res.status, 401, `client → ${r.key} is refused with 401`);
    t.same(await snapshot(), before, `client → ${r.key}: nothing changed`);
  }
});

t.test('a kiosk token opens no user route: each screen holds only its own powers', async (t) => {
  for (const r of forUsers.filter((r) => !r.websocket)) {
    for (const kind of KIOSK_KINDS) {
      const before = await snapshot();
      const res = await call(r, kiosks[kind].headers, true);
      t.equal(res.status, 401, `${kind} kiosk → ${r.key} is refused with 401`);
      t.same(await snapshot(), before, `${kind} kiosk → ${r.key}: nothing changed`);
    }
  }
});

t.test('every role that a route admits gets past the access check (a probe with an unknown field stops at validation)', async (t) => {
  for (const r of forUsers) {
    for (const role of ROLE_NAMES.filter((role) => !r.config.permission || can(role, r.config.permission))) {
      const before = await snapshot();
      const res = await call(r, users[role].headers, true);
      t.equal(res.status, 400, `${role} → ${r.key} passes the access check and fails only validation`);
      t.equal(res.body.error?.code, 'VALIDATION_FAILED', `${role} → ${r.key}: VALIDATION_FAILED (${JSON.stringify(res.body)})`);
      t.same(await snapshot(), before, `${role} → ${r.key}: the invalid request changed nothing`);
    }
  }
});

t.test('an anonymous WebSocket upgrade is refused with 401 and the error shape', async (t) => {
  const sockets = guarded.filter((r) => r.websocket);
  t.ok(sockets.some((r) => r.url === '/api/ws'), '/api/ws is in the catalog as a WebSocket route');
  for (const r of sockets) {
    const res = await refusedUpgrade(r.url, {});
    t.equal(res.status, 401, `an anonymous upgrade to ${r.url} is answered 401, not 101`);
    t.ok(isErrorShape(res.body), `${r.url}: the refusal has the error shape`);
    const forged = await refusedUpgrade(r.url, { authorization: 'Bearer not-a-session' });
    t.equal(forged.status, 401, `an upgrade to ${r.url} with a forged token is answered 401`);
    t.equal(forged.body.error?.code, 'SESSION_EXPIRED', `${r.url}: the forged token is reported as an ended session`);
  }
});

t.test('an unknown property in a body is a 400 VALIDATION_FAILED that changes nothing', async (t) => {
  const before = await snapshot();
  const login = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: target.username, password: target.password, remember_me: true } });
  t.equal(login.statusCode, 400, 'a login with an extra field is refused with 400');
  t.equal(login.json().error.code, 'VALIDATION_FAILED', 'with VALIDATION_FAILED');
  t.notOk(login.json().token, 'and no token is handed out');

  const patch = await app.inject({ method: 'PATCH', url: `/api/users/${target.id}`, headers: users.security_admin.headers, payload: { display_name: '改名', is_admin: true } });
  t.equal(patch.statusCode, 400, 'a security administrator’s PATCH with an extra field is refused with 400');
  t.equal(patch.json().error.code, 'VALIDATION_FAILED', 'with VALIDATION_FAILED');
  t.same(await snapshot(), before, 'neither request changed anything (no session, no rename, no audit record)');

  const proper = await app.inject({ method: 'PATCH', url: `/api/users/${target.id}`, headers: users.security_admin.headers, payload: { display_name: '改名' } });
  t.equal(proper.statusCode, 200, 'the same PATCH without the extra field succeeds');
  t.equal(proper.json().display_name, '改名', 'and renames the account');
});

t.test('a route whose path merely starts with /api/docs is not public', async (t) => {
  const other = await buildApp({ config: inst.config, database: inst.database, mqtt: inst.mqtt, clock: inst.clock });
  t.teardown(() => other.close());
  other.get('/api/docsearch', async () => ({ secret: true }));
  other.get('/api/docsx/:id', async () => ({ secret: true }));
  await other.ready();
  for (const url of ['/api/docsearch', '/api/docsx/1', '/api/documents/1']) {
    const res = await other.inject({ url });
    t.equal(res.statusCode, 401, `${url} needs a session`);
    t.notOk(res.body.includes('secret'), `${url} gives nothing away`);
  }
  t.equal((await other.inject({ url: '/api/docs/' })).statusCode, 200, 'the real documentation stays public');
});
