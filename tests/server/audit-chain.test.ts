import { createHash } from 'node:crypto';
import t from 'tap';
import { sql } from 'kysely';
import { FakeClock } from '../../server/src/clock.js';
import type { ServiceContext } from '../../server/src/context.js';
import type { Db } from '../../server/src/db/index.js';
import { auditHash, canonicalJson, GENESIS_HASH, purgeAudit, recordAudit, verifyAuditChain, type AuditEntry } from '../../server/src/modules/audit/service.js';
import { createDatabase, createTestInstance, signedIn, testConfig } from '../helpers/instance.js';

const inst = await createTestInstance(t);
const { app } = inst;
const DAY_MS = 86_400_000;

const entry = (ctx: { clock: { now(): Date } }, i: number, extra: Partial<AuditEntry> = {}): AuditEntry => ({
  at: ctx.clock.now(),
  actor: `clerk-${i}`,
  action: 'test.entry',
  object: `doc:${i}`,
  result: 'success',
  sourceIp: '10.1.2.3',
  detail: { i, note: '卷宗' },
  ...extra,
});

const allRows = (db: Db) => db.selectFrom('audit_log').selectAll().orderBy('seq').execute();

/** A fresh database of its own with `n` chained records, one a minute; its chain verifies. */
async function chainedDatabase(t: Parameters<typeof createDatabase>[0], n: number, clock = new FakeClock()): Promise<ServiceContext> {
  const { database } = await createDatabase(t);
  const ctx: ServiceContext = { db: database.db, config: testConfig(), clock };
  for (let i = 1; i <= n; i++) {
    await recordAudit(ctx.db, entry(ctx, i));
    clock.advanceMinutes(1);
  }
  return ctx;
}

/** Runs `change` with the append-only trigger switched off, as a superuser could; switches it back on. */
async function tamper(db: Db, change: () => Promise<unknown>): Promise<void> {
  await sql`alter table audit_log disable trigger audit_log_no_change`.execute(db);
  try {
    await change();
  } finally {
    await sql`alter table audit_log enable trigger audit_log_no_change`.execute(db);
  }
}

t.test('concurrent appends form one unbroken chain without a fork', async (t) => {
  // Whatever the fresh instance recorded at start-up belongs to the same chain.
  const before = (await allRows(inst.ctx.db)).length;

  await Promise.all(Array.from({ length: 50 }, (_, i) => recordAudit(inst.ctx.db, entry(inst.ctx, i + 1))));
  const logins = await Promise.all(
    Array.from({ length: 30 }, (_, i) => app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: `ghost-${i}`, password: 'Nope-nope-1' } })),
  );
  t.ok(logins.every((r) => r.statusCode === 401), 'the 30 concurrent failed logins are refused');

  const rows = await allRows(inst.ctx.db);
  const total = before + 80;
  t.equal(rows.length, total, 'every append wrote exactly one record');
  t.same(rows.map((r) => Number(r.seq)), Array.from({ length: total }, (_, i) => i + 1), `seq runs 1..${total} without a gap or a duplicate`);
  t.equal(rows[0]?.prev_hash, GENESIS_HASH, 'the first record links to the genesis hash');
  const forks = rows.filter((r, i) => i > 0 && r.prev_hash !== rows[i - 1]!.hash);
  t.same(forks.map((r) => Number(r.seq)), [], 'every record links to the one just before it');
  t.equal(new Set(rows.map((r) => r.prev_hash)).size, rows.length, 'no two records share a predecessor (no fork)');
  t.equal(new Set(rows.filter((r) => r.action === 'test.entry').map((r) => r.actor)).size, 50, 'all 50 direct appends are there');
  t.equal(rows.filter((r) => r.action === 'auth.login' && r.result === 'failure').length, 30, 'all 30 failed logins are there');
  t.same(await verifyAuditChain(inst.ctx.db), { ok: true, rows: total, lastSeq: total }, 'the chain verifies');
  t.same(await verifyAuditChain(inst.ctx.db, 7), { ok: true, rows: total, lastSeq: total }, 'also when read in small batches');
});

t.test('the application connection cannot update, delete or truncate audit records', async (t) => {
  const db = inst.ctx.db;
  const count = async () => (await allRows(db)).length;
  const n = await count();
  t.ok(n > 0, 'there are records to attack');
  const firstActor = async () => (await db.selectFrom('audit_log').select('actor').where('seq', '=', 1).executeTakeFirstOrThrow()).actor;
  const original = await firstActor();
  await t.rejects(sql`update audit_log set actor = 'mallory' where seq = 1`.execute(db), { message: /append-only \(UPDATE refused\)/ }, 'UPDATE is refused');
  await t.rejects(sql`delete from audit_log where seq = ${n}`.execute(db), { message: /append-only \(DELETE refused\)/ }, 'DELETE is refused');
  await t.rejects(sql`truncate audit_log`.execute(db), { message: /append-only \(TRUNCATE refused\)/ }, 'TRUNCATE is refused');
  await t.rejects(
    db.transaction().execute(async (trx) => {
      await sql`select set_config('lawbox.audit_purge', 'on', true)`.execute(trx);
      await sql`delete from audit_log where seq = 1`.execute(trx);
    }),
    { message: /append-only/ },
    'announcing a purge does not allow deleting a young record',
  );
  t.equal(await count(), n, 'no record is gone');
  t.equal(await firstActor(), original, 'the first record is unchanged');
  t.match(await verifyAuditChain(db), { ok: true }, 'the chain still verifies');
});

t.test('tampering by someone who can switch the trigger off is detected', async (t) => {
  t.test('a changed field names that record as altered', async (t) => {
    const { db } = await chainedDatabase(t, 10);
    t.same(await verifyAuditChain(db), { ok: true, rows: 10, lastSeq: 10 }, 'the untouched chain verifies');
    await tamper(db, () => sql`update audit_log set actor = 'someone-else' where seq = 5`.execute(db));
    const v = await verifyAuditChain(db);
    t.match(v, { ok: false, badSeq: 5, rows: 4 }, 'verification stops at record 5');
    t.match(v, { reason: /record 5 was altered/ }, 'and says it was altered');
    await t.rejects(sql`update audit_log set actor = 'again' where seq = 6`.execute(db), { message: /append-only/ }, 'the trigger is on again afterwards');

    await tamper(db, () => sql`update audit_log set actor = 'clerk-5' where seq = 5`.execute(db));
    t.same(await verifyAuditChain(db), { ok: true, rows: 10, lastSeq: 10 }, 'putting the original value back makes the chain whole again');
    // A forger who also recomputes the row's own hash still breaks the link from the next record.
    const row = await db.selectFrom('audit_log').selectAll().where('seq', '=', 7).executeTakeFirstOrThrow();
    const forged = { ...row, object: 'doc:forged' };
    await tamper(db, () => sql`update audit_log set object = ${forged.object}, hash = ${auditHash(forged)} where seq = 7`.execute(db));
    t.match(await verifyAuditChain(db), { ok: false, badSeq: 8, reason: /record 8 does not link to record 7/ }, 'a change with a recomputed hash is caught at the next record');
  });

  t.test('a deleted record is named as missing', async (t) => {
    const { db } = await chainedDatabase(t, 10);
    await tamper(db, () => sql`delete from audit_log where seq = 5`.execute(db));
    t.equal((await allRows(db)).length, 9, 'the record is gone');
    const v = await verifyAuditChain(db);
    t.match(v, { ok: false, badSeq: 5, rows: 4 }, 'verification names record 5');
    t.match(v, { reason: /record 5 is missing/ }, 'and says it is missing');
    await t.rejects(sql`delete from audit_log where seq = 6`.execute(db), { message: /append-only/ }, 'the trigger is on again afterwards');
  });

  t.test('two records swapped in place name the first of them', async (t) => {
    const { db } = await chainedDatabase(t, 10);
    await tamper(db, async () => {
      await sql`update audit_log set seq = -4 where seq = 4`.execute(db);
      await sql`update audit_log set seq = 4 where seq = 5`.execute(db);
      await sql`update audit_log set seq = 5 where seq = -4`.execute(db);
    });
    const rows = await allRows(db);
    t.same([rows[3]?.actor, rows[4]?.actor], ['clerk-5', 'clerk-4'], 'records 4 and 5 now hold each other’s contents');
    const v = await verifyAuditChain(db);
    t.match(v, { ok: false, badSeq: 4, rows: 3 }, 'verification names record 4');
    t.match(v, { reason: /record 4 does not link to record 3/ }, 'as no longer linking to its predecessor');
  });
});

t.test('auditHash is SM3 in hex over the canonical encoding of the record', async (t) => {
  t.equal(createHash('sm3').update('abc').digest('hex'), '66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0', 'this Node has SM3 (GB/T 32905 test vector)');
  const rows = await allRows(inst.ctx.db);
  const row = rows.find((r) => r.action === 'test.entry')!;
  t.match(row.hash, /^[0-9a-f]{64}$/, 'the stored hash is 64 lowercase hex characters');
  const material = JSON.stringify([row.prev_hash, Number(row.seq), row.at.toISOString(), row.actor, row.action, row.object, row.result, row.source_ip, { i: (row.detail as { i: number }).i, note: '卷宗' }]);
  t.equal(row.hash, createHash('sm3').update(material).digest('hex'), 'an independent SM3 over [prev_hash, seq, at, actor, action, object, result, source_ip, detail] gives the stored hash');
  t.equal(auditHash(row), row.hash, 'auditHash agrees with it');
  t.equal(canonicalJson({ b: 1, a: { d: 2, c: [3, { f: 4, e: 5 }] } }), '{"a":{"c":[3,{"e":5,"f":4}],"d":2},"b":1}', 'object keys are sorted at every depth');
  t.equal(auditHash({ ...row, detail: { note: '卷宗', i: (row.detail as { i: number }).i } }), row.hash, 'the key order of detail does not matter');
  for (const field of ['actor', 'action', 'object', 'result', 'source_ip', 'prev_hash'] as const) {
    t.not(auditHash({ ...row, [field]: 'x' }), row.hash, `changing ${field} changes the hash`);
  }
  t.not(auditHash({ ...row, seq: Number(row.seq) + 1 }), row.hash, 'changing seq changes the hash');
  t.not(auditHash({ ...row, at: new Date(row.at.getTime() + 1) }), row.hash, 'changing the time by 1 ms changes the hash');
  t.not(auditHash({ ...row, detail: { i: -1, note: '卷宗' } }), row.hash, 'changing detail changes the hash');
});

t.test('retention: old records can be purged, young ones cannot, and the chain survives through its anchor', async (t) => {
  // The table's trigger measures age with the database's own clock, so times here are relative to now.
  const clock = new FakeClock(new Date(Date.now() - 400 * DAY_MS));
  const ctx = await chainedDatabase(t, 3, clock);
  const old = await allRows(ctx.db);
  t.equal(await purgeAudit(ctx.db, new Date(Date.now() - 395 * DAY_MS)), 3, 'three records from 400 days ago are purged');
  t.equal((await allRows(ctx.db)).length, 0, 'the table is empty');
  const anchor = await ctx.db.selectFrom('audit_anchor').select(['seq', 'hash']).executeTakeFirstOrThrow();
  t.same({ seq: Number(anchor.seq), hash: anchor.hash }, { seq: 3, hash: old[2]!.hash }, 'the anchor holds the last purged record');
  t.same(await verifyAuditChain(ctx.db), { ok: true, rows: 0, lastSeq: 3 }, 'the empty table verifies against the anchor');

  clock.advance(10 * DAY_MS);
  await recordAudit(ctx.db, entry(ctx, 4));
  const [next] = await allRows(ctx.db);
  t.equal(Number(next?.seq), 4, 'the next record continues the numbering');
  t.equal(next?.prev_hash, old[2]!.hash, 'and links to the anchor');
  t.same(await verifyAuditChain(ctx.db), { ok: true, rows: 1, lastSeq: 4 }, 'the chain verifies');

  clock.advance(290 * DAY_MS);
  for (let i = 5; i <= 6; i++) await recordAudit(ctx.db, entry(ctx, i));
  await t.rejects(purgeAudit(ctx.db, new Date(Date.now())), { message: /append-only/ }, 'a purge reaching records 100 days old is refused');
  t.same((await allRows(ctx.db)).map((r) => Number(r.seq)), [4, 5, 6], 'the refused purge removed nothing, not even the old record');
  t.equal(Number((await ctx.db.selectFrom('audit_anchor').select('seq').executeTakeFirstOrThrow()).seq), 3, 'nor moved the anchor');

  t.equal(await purgeAudit(ctx.db, new Date(Date.now() - 365 * DAY_MS)), 1, 'the retention purge (365 days) removes only the old record');
  t.same((await allRows(ctx.db)).map((r) => Number(r.seq)), [5, 6], 'the young records remain');
  t.same(await verifyAuditChain(ctx.db), { ok: true, rows: 2, lastSeq: 6 }, 'and verify from the moved anchor');
  t.equal(await purgeAudit(ctx.db, new Date(Date.now() - 365 * DAY_MS)), 0, 'purging again finds nothing');

  await tamper(ctx.db, () => sql`delete from audit_log where seq = 5`.execute(ctx.db));
  t.match(await verifyAuditChain(ctx.db), { ok: false, badSeq: 5, reason: /record 5 is missing/ }, 'deleting the first record after the anchor is detected');
});

t.test('a purge on the live trail is refused while it reaches any young record', async (t) => {
  const db = inst.ctx.db;
  // One record stamped with the real time, so the trail holds a young record whatever date the fake clock shows.
  await recordAudit(db, { ...entry(inst.ctx, 0), at: new Date() });
  const n = (await allRows(db)).length;
  await t.rejects(purgeAudit(db, new Date(Date.now() + DAY_MS)), { message: /append-only \(DELETE refused\)/ }, 'purgeAudit throws');
  t.equal((await allRows(db)).length, n, 'no record was removed');
  t.equal(await db.selectFrom('audit_anchor').select('seq').executeTakeFirst(), undefined, 'no anchor was set');
  t.match(await verifyAuditChain(db), { ok: true, rows: n }, 'the chain still verifies');
});

t.test('logins, logouts, denials and account changes are audited with time, actor, action, result and address', async (t) => {
  const db = inst.ctx.db;
  const seen = (await allRows(db)).length;
  const admin = await signedIn(inst, 'security_admin');
  const lawyer = await signedIn(inst, 'lawyer');
  const wrong = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: lawyer.username, password: 'Nope-nope-1' } });
  t.equal(wrong.statusCode, 401, 'a wrong password is refused');
  const denied = await app.inject({ url: '/api/users', headers: lawyer.headers });
  t.equal(denied.statusCode, 403, 'a lawyer may not list accounts');
  const created = await app.inject({ method: 'POST', url: '/api/users', headers: admin.headers, payload: { username: 'audit.target', display_name: '审计对象', role: 'lawyer', password: 'Temp-Pass-123' } });
  t.equal(created.statusCode, 201, 'the administrator creates an account');
  const promoted = await app.inject({ method: 'PATCH', url: `/api/users/${created.json().id}`, headers: admin.headers, payload: { role: 'partner' } });
  t.equal(promoted.statusCode, 200, 'and changes its role');
  const out = await app.inject({ method: 'POST', url: '/api/auth/logout', headers: lawyer.headers });
  t.equal(out.statusCode, 200, 'the lawyer signs out');

  const rows = (await allRows(db)).slice(seen);
  const now = inst.clock.now().getTime();
  const expect: [string, string, string, string | null][] = [
    ['auth.login', lawyer.username, 'success', `user:${lawyer.username}`],
    ['auth.login', lawyer.username, 'failure', `user:${lawyer.username}`],
    ['access.denied', lawyer.username, 'denied', 'GET /api/users'],
    ['user.create', admin.username, 'success', 'user:audit.target'],
    ['user.role_change', admin.username, 'success', 'user:audit.target'],
    ['auth.logout', lawyer.username, 'success', `user:${lawyer.username}`],
  ];
  for (const [action, actor, result, object] of expect) {
    const row = rows.find((r) => r.action === action && r.actor === actor && r.result === result);
    if (!row) {
      t.fail(`${action} by ${actor} (${result}) is recorded`);
      continue;
    }
    t.equal(row.at.getTime(), now, `${action} ${result}: the time is recorded`);
    t.equal(row.source_ip, '127.0.0.1', `${action} ${result}: the source address is recorded`);
    t.equal(row.object, object, `${action} ${result}: the object is recorded`);
  }
  t.match(rows.find((r) => r.action === 'auth.login' && r.result === 'failure'), { detail: { reason: 'wrong_password' } }, 'the failed login says why');
  t.match(rows.find((r) => r.action === 'access.denied'), { detail: { reason: 'FORBIDDEN', permission: 'users.read', role: 'lawyer' } }, 'the denial names role, permission and reason');
  t.match(rows.find((r) => r.action === 'user.role_change'), { detail: { role: { from: 'lawyer', to: 'partner' } } }, 'the role change records old and new role');
  t.match(rows.find((r) => r.action === 'user.create' && r.actor === admin.username), { detail: { role: 'lawyer' } }, 'the creation records the role');
  t.notOk(rows.some((r) => JSON.stringify(r).includes('Temp-Pass-123') || JSON.stringify(r).includes('Nope-nope-1')), 'no password appears in any record');
  t.match(await verifyAuditChain(db), { ok: true }, 'the whole trail still verifies');
});
