import t from 'tap';
import { JOBS, runJob } from '../../server/src/scheduler.js';
import { verifyAuditChain } from '../../server/src/modules/audit/service.js';
import { REALTIME_CHANNEL } from '../../server/src/modules/realtime/hub.js';
import type { ScanResult } from '../../server/src/modules/tracking/service.js';
import { createTestUser, createTestInstance, isErrorShape, loginToken, signedIn } from '../helpers/instance.js';

/**
 * Fees and matter tracking (Z6.3.3.5): the fee routes, the tracking settings, and the daily scan
 * driven by a fake clock through the scheduler's own runJob.
 */
const inst = await createTestInstance(t);
const { app, clock } = inst;
const db = inst.ctx.db;
const DAY = 86_400_000;

const job = JOBS.find((j) => j.name === 'matters.tracking');
if (!job) throw new Error('the matters.tracking job is not registered');

const director = await signedIn(inst, 'director');
const lawyerA = await signedIn(inst, 'lawyer');
const lawyerB = await signedIn(inst, 'lawyer');
const lawyerC = await signedIn(inst, 'lawyer');
const finance = await signedIn(inst, 'finance');
// A director whose account is disabled receives nothing.
const retired = await createTestUser(inst, 'director');
await db.updateTable('users').set({ disabled: true }).where('id', '=', retired.id).execute();

/** Moves the clock; sessions end after 30 idle minutes, so everyone signs in again. */
async function advance(ms: number): Promise<void> {
  clock.advance(ms);
  for (const u of [director, lawyerA, lawyerB, lawyerC, finance]) u.headers.authorization = `Bearer ${await loginToken(inst, u.username)}`;
}

// Every realtime notice, to check who was told of an alert.
const notices: { topic: string; data: Record<string, unknown> }[] = [];
const unlisten = await inst.database.listen(REALTIME_CHANNEL, (payload) => notices.push(JSON.parse(payload) as (typeof notices)[number]));
t.teardown(unlisten);

/** A client name per matter that no earlier matter's conflict search can match. */
const CLIENT_NAMES = ['张三', '李四', '王五', '赵六', '孙七', '周八', '吴九', '郑十'];
let matterCount = 0;

/** Opens a matter through the API (the conflict check is clear, so it opens at once). */
async function openMatter(by: { headers: { authorization: string } }, extra: Record<string, unknown> = {}): Promise<{ id: number; number: string }> {
  const name = CLIENT_NAMES[matterCount++]!;
  const res = await app.inject({
    method: 'POST',
    url: '/api/matters',
    headers: by.headers,
    payload: { title: `${name}合同纠纷`, type: 'civil', parties: [{ role: 'client', kind: 'person', name }], ...extra },
  });
  if (res.statusCode !== 201) throw new Error(`POST /api/matters: ${res.statusCode} ${res.body}`);
  const m = res.json() as { id: number; number: string; status: string };
  if (m.status !== 'open') throw new Error(`matter ${m.number} is ${m.status}, expected open`);
  return m;
}

async function scan(): Promise<ScanResult> {
  const r = await runJob(inst.ctx, job!);
  if (!r.ran) throw new Error('the job did not run');
  return r.result as ScanResult;
}

/** Open alerts of a matter, by kind. */
async function openAlerts(matterId: number) {
  const rows = await db.selectFrom('matter_alerts').selectAll().where('matter_id', '=', matterId).where('resolved_at', 'is', null).execute();
  return new Map(rows.map((r) => [r.kind, r]));
}

/** Today's date in Beijing, shifted by `days`. */
function shanghaiDate(days = 0): string {
  return new Date(clock.now().getTime() + 8 * 3_600_000 + days * DAY).toISOString().slice(0, 10);
}

async function fee(matterId: number, body: Record<string, unknown>, by = finance) {
  return app.inject({ method: 'POST', url: `/api/matters/${matterId}/fees`, headers: by.headers, payload: body });
}

async function auditCount(action: string): Promise<number> {
  const r = await db.selectFrom('audit_log').select((eb) => eb.fn.countAll<number>().as('n')).where('action', '=', action).executeTakeFirstOrThrow();
  return Number(r.n);
}

/** Waits for the realtime notices of a commit (PostgreSQL delivers them on another connection). */
async function noticesSettle(): Promise<void> {
  let n = -1;
  for (let i = 0; i < 20 && n !== notices.length; i++) {
    n = notices.length;
    await new Promise((r) => setTimeout(r, 100));
  }
}

// Nine in the evening on 27 November in UTC is five in the morning of the 28th in Beijing: the
// calendar day that counts is Beijing's.
await advance(20 * 3_600_000);

const feeMatter = await openMatter(lawyerA, { fee_arrangement: 'fixed', fee_amount: '10000' });

t.test('fees: recording needs fees.manage and a valid amount and date', async (t) => {
  const byLawyer = await fee(feeMatter.id, { kind: 'bill', amount: '100', occurred_on: shanghaiDate() }, lawyerA);
  t.equal(byLawyer.statusCode, 403, 'a lawyer (no fees.manage) may not record fees');

  const cases: [string, Record<string, unknown>, string][] = [
    ['three decimals', { kind: 'bill', amount: '1.234', occurred_on: shanghaiDate() }, 'VALIDATION_FAILED'],
    // Numbers are coerced to their text like every body field; a float artefact then fails the pattern.
    ['a float sum', { kind: 'bill', amount: 0.1 + 0.2, occurred_on: shanghaiDate() }, 'VALIDATION_FAILED'],
    ['a negative amount', { kind: 'bill', amount: '-5', occurred_on: shanghaiDate() }, 'VALIDATION_FAILED'],
    ['a zero amount', { kind: 'payment', amount: '0.00', occurred_on: shanghaiDate() }, 'INVALID_AMOUNT'],
    ['thirteen integer digits', { kind: 'bill', amount: '1234567890123', occurred_on: shanghaiDate() }, 'VALIDATION_FAILED'],
    ['an unknown kind', { kind: 'refund', amount: '5', occurred_on: shanghaiDate() }, 'VALIDATION_FAILED'],
    ['no such calendar day', { kind: 'bill', amount: '5', occurred_on: '2026-02-30' }, 'VALIDATION_FAILED'],
    ['tomorrow in Beijing', { kind: 'bill', amount: '5', occurred_on: shanghaiDate(1) }, 'FUTURE_DATE'],
    ['an unknown field', { kind: 'bill', amount: '5', occurred_on: shanghaiDate(), currency: 'CNY' }, 'VALIDATION_FAILED'],
    ['no date', { kind: 'bill', amount: '5' }, 'VALIDATION_FAILED'],
  ];
  for (const [what, body, code] of cases) {
    const res = await fee(feeMatter.id, body);
    t.equal(res.statusCode, 400, `${what}: 400`);
    t.ok(isErrorShape(res.json()), `${what}: the error shape`);
    t.equal(res.json().error.code, code, `${what}: ${code}`);
  }
  const none = await db.selectFrom('matter_fees').select('id').where('matter_id', '=', feeMatter.id).execute();
  t.equal(none.length, 0, 'no refused request recorded anything');

  t.ok(new Date(clock.now()).toISOString().startsWith(shanghaiDate(-1)), 'the UTC date is still the day before');
  const today = await fee(feeMatter.id, { kind: 'bill', amount: '3000.1', occurred_on: shanghaiDate(), note: '  首期律师费  ' });
  t.equal(today.statusCode, 201, 'a bill dated today in Beijing is accepted');
  t.match(today.json(), { kind: 'bill', amount: '3000.10', occurred_on: shanghaiDate(), note: '首期律师费', recorded_by: finance.id }, 'the entry is returned with a normalised amount');

  const missing = await fee(999_999, { kind: 'bill', amount: '5', occurred_on: shanghaiDate() });
  t.equal(missing.statusCode, 404, 'a matter that does not exist: 404');
  t.equal(missing.json().error.code, 'MATTER_NOT_FOUND', 'MATTER_NOT_FOUND');
});

t.test('fees: the summary is exact, and only those who see the matter see its fees', async (t) => {
  const updatedBefore = (await db.selectFrom('matters').select('updated_at').where('id', '=', feeMatter.id).executeTakeFirstOrThrow()).updated_at;
  const auditsBefore = await auditCount('matter.fee_record');
  t.equal((await fee(feeMatter.id, { kind: 'bill', amount: '0.2', occurred_on: shanghaiDate(-3) })).statusCode, 201, 'a second bill');
  t.equal((await fee(feeMatter.id, { kind: 'payment', amount: '1000.05', occurred_on: shanghaiDate(-1) }, director)).statusCode, 201, 'a payment, recorded by the director');
  t.equal(await auditCount('matter.fee_record'), auditsBefore + 2, 'each entry is audited');
  const record = await db.selectFrom('audit_log').selectAll().where('action', '=', 'matter.fee_record').orderBy('seq', 'desc').limit(1).executeTakeFirstOrThrow();
  t.match(record, { actor: director.username, object: `matter:${feeMatter.number}`, detail: { kind: 'payment', amount: '1000.05' } }, 'the audit record names the matter and the sum');
  const updatedAfter = (await db.selectFrom('matters').select('updated_at').where('id', '=', feeMatter.id).executeTakeFirstOrThrow()).updated_at;
  t.same(updatedAfter, updatedBefore, 'fee entries are not case progress: updated_at is unchanged');

  const res = await app.inject({ method: 'GET', url: `/api/matters/${feeMatter.id}/fees`, headers: lawyerA.headers });
  t.equal(res.statusCode, 200, 'the responsible lawyer reads the fees');
  const body = res.json() as { entries: { kind: string; amount: string; occurred_on: string }[]; summary: Record<string, string | null> };
  t.same(body.summary, { agreed: '10000.00', billed: '3000.30', paid: '1000.05', outstanding: '2000.25' }, 'sums in exact decimals (0.1 + 0.2 is 0.30)');
  t.same(body.entries.map((e) => [e.kind, e.amount]), [['bill', '0.20'], ['payment', '1000.05'], ['bill', '3000.10']], 'entries in date order');

  const other = await app.inject({ method: 'GET', url: `/api/matters/${feeMatter.id}/fees`, headers: lawyerB.headers });
  t.equal(other.statusCode, 404, 'a lawyer not on the matter gets 404');
  t.equal(other.json().error.code, 'MATTER_NOT_FOUND', 'as if the matter did not exist');
  t.equal((await app.inject({ method: 'GET', url: `/api/matters/${feeMatter.id}/fees`, headers: finance.headers })).statusCode, 200, 'finance sees every matter');
  t.equal((await app.inject({ method: 'GET', url: `/api/matters/${feeMatter.id}/fees?x=1`, headers: finance.headers })).statusCode, 400, 'unknown query parameters are refused');

  // Settled and closed, so the scans below leave it alone.
  t.equal((await fee(feeMatter.id, { kind: 'payment', amount: '2000.25', occurred_on: shanghaiDate() })).statusCode, 201, 'the rest is paid');
  const closed = await app.inject({ method: 'PATCH', url: `/api/matters/${feeMatter.id}`, headers: lawyerA.headers, payload: { status: 'closed' } });
  t.equal(closed.statusCode, 200, 'the matter is closed');
  const summary = (await app.inject({ method: 'GET', url: `/api/matters/${feeMatter.id}/fees`, headers: lawyerA.headers })).json().summary;
  t.equal(summary.outstanding, '0.00', 'nothing is outstanding');
  t.equal((await fee(feeMatter.id, { kind: 'payment', amount: '1', occurred_on: shanghaiDate() })).statusCode, 201, 'a closed matter still takes a late payment');
});

t.test('settings: directors read and set the thresholds, lawyers may not', async (t) => {
  const url = '/api/settings/matter-tracking';
  const defaults = { open_max_days: 365, stale_days: 30, unpaid_days: 60, overbilled_tolerance_percent: 0, client_inform_days: 7 };
  const read = await app.inject({ method: 'GET', url, headers: director.headers });
  t.equal(read.statusCode, 200, 'the director reads the settings');
  t.same(read.json(), defaults, 'the defaults apply while nothing is stored');
  t.equal((await app.inject({ method: 'GET', url, headers: finance.headers })).statusCode, 200, 'finance (sees every matter) reads them too');
  t.equal((await app.inject({ method: 'GET', url, headers: lawyerA.headers })).statusCode, 403, 'a lawyer may not read them');

  const byLawyer = await app.inject({ method: 'PUT', url, headers: lawyerA.headers, payload: defaults });
  t.equal(byLawyer.statusCode, 403, 'a lawyer may not change them');
  t.equal(byLawyer.json().error.code, 'FORBIDDEN', 'FORBIDDEN');
  t.equal((await app.inject({ method: 'PUT', url, headers: finance.headers, payload: defaults })).statusCode, 403, 'nor may finance');

  for (const [what, payload] of [
    ['stale_days 0', { ...defaults, stale_days: 0 }],
    ['a fraction', { ...defaults, unpaid_days: 1.5 }],
    ['a tolerance over 100%', { ...defaults, overbilled_tolerance_percent: 101 }],
    ['a missing threshold', { open_max_days: 100 }],
    ['an unknown threshold', { ...defaults, idle_days: 3 }],
  ] as [string, object][]) {
    const res = await app.inject({ method: 'PUT', url, headers: director.headers, payload });
    t.equal(res.statusCode, 400, `${what}: 400`);
    t.ok(isErrorShape(res.json()), `${what}: the error shape`);
  }
  t.equal(await db.selectFrom('settings').select('key').where('key', '=', 'matter_tracking').executeTakeFirst(), undefined, 'nothing was stored');

  const put = await app.inject({ method: 'PUT', url, headers: director.headers, payload: { ...defaults, stale_days: 45 } });
  t.equal(put.statusCode, 200, 'the director changes a threshold');
  t.same(put.json(), { ...defaults, stale_days: 45 }, 'and gets the new settings back');
  t.same((await app.inject({ method: 'GET', url, headers: director.headers })).json(), { ...defaults, stale_days: 45 }, 'they are stored');
  const record = await db.selectFrom('audit_log').selectAll().where('action', '=', 'settings.matter_tracking').orderBy('seq', 'desc').limit(1).executeTakeFirstOrThrow();
  t.match(record, { actor: director.username, result: 'success', detail: { stale_days: { from: 30, to: 45 } } }, 'the change is audited with what changed');
  t.equal((await app.inject({ method: 'PUT', url, headers: director.headers, payload: defaults })).statusCode, 200, 'back to the defaults');
});

let m1: { id: number; number: string };
let m2: { id: number; number: string };

t.test('scan: a client not informed within 7 days raises one alert, to the right people', async (t) => {
  m1 = await openMatter(lawyerA, { fee_arrangement: 'fixed', fee_amount: '10000' });
  m2 = await openMatter(lawyerA, { fee_arrangement: 'hourly', fee_amount: '5000' });
  const scansBefore = await auditCount('matter.tracking_scan');
  t.same(await scan(), { raised: 0, resolved: 0 }, 'fresh matters raise nothing');
  await advance(7 * DAY);
  t.same(await scan(), { raised: 0, resolved: 0 }, 'seven days is still within the limit');

  await advance(DAY);
  const noticesBefore = notices.length;
  t.same(await scan(), { raised: 2, resolved: 0 }, 'on the eighth day both matters are flagged');
  const alert = (await openAlerts(m1.id)).get('client_not_informed');
  t.ok(alert, 'matter 1 has a client_not_informed alert');
  t.same([...(await openAlerts(m1.id)).keys()], ['client_not_informed'], 'and nothing else');
  t.match(alert!.detail, { days: 8, limit_days: 7 }, 'the detail holds the figures');
  t.same(await scan(), { raised: 0, resolved: 0 }, 'a second run raises nothing new');
  t.equal((await db.selectFrom('matter_alerts').select('id').where('matter_id', '=', m1.id).execute()).length, 1, 'still one alert for the matter');
  t.equal(await auditCount('matter.tracking_scan'), scansBefore + 4, 'one audit record per run');
  const scanRecord = await db.selectFrom('audit_log').selectAll().where('action', '=', 'matter.tracking_scan').orderBy('seq', 'desc').limit(1).executeTakeFirstOrThrow();
  t.match(scanRecord, { actor: 'system', result: 'success', detail: { raised: 0, resolved: 0 } }, 'the record is the system’s, with the counts');

  const recipients = await db.selectFrom('matter_alert_recipients').select('user_id').where('alert_id', '=', alert!.id).orderBy('user_id').execute();
  t.same(recipients.map((r) => r.user_id), [director.id, lawyerA.id].sort((a, b) => a - b), 'the responsible lawyer and the active director receive it (not the disabled director)');

  await noticesSettle();
  const told = notices.slice(noticesBefore).filter((n) => n.data.type === 'matter.alert' && n.data.alert_id === alert!.id);
  t.same(told.map((n) => n.topic).sort(), [`user:${director.id}`, `user:${lawyerA.id}`].sort(), 'each recipient is notified on their own topic');
  t.match(told[0]!.data, { matter_id: m1.id, kind: 'client_not_informed' }, 'the notice names the matter and the kind');

  const mine = await app.inject({ method: 'GET', url: '/api/alerts', headers: lawyerA.headers });
  t.equal(mine.statusCode, 200, 'the lawyer lists their alerts');
  const seen = (mine.json() as { id: number }[]).find((a) => a.id === alert!.id) as Record<string, unknown> | undefined;
  t.match(seen, { matter_id: m1.id, matter_number: m1.number, kind: 'client_not_informed', recipient: true, acknowledged_at: null, resolved_at: null }, 'the alert is listed with its matter');
  t.match(seen?.message, /8 天.*\/.*8 days/, 'with a message in Chinese and English');

  const others = await app.inject({ method: 'GET', url: '/api/alerts', headers: lawyerB.headers });
  t.same(others.json(), [], 'an unrelated lawyer sees none of it');
  const all = (await app.inject({ method: 'GET', url: '/api/alerts', headers: finance.headers })).json() as { id: number; recipient: boolean }[];
  t.match(all.find((a) => a.id === alert!.id), { recipient: false }, 'finance (sees every matter) sees it, as a non-recipient');
});

t.test('acknowledging: recipients only, once each', async (t) => {
  const alert = (await openAlerts(m1.id)).get('client_not_informed')!;
  const url = `/api/alerts/${alert.id}/acknowledge`;
  for (const [who, user] of [['an unrelated lawyer', lawyerB], ['finance, who sees but does not receive it', finance]] as const) {
    const res = await app.inject({ method: 'POST', url, headers: user.headers });
    t.equal(res.statusCode, 404, `${who}: 404`);
    t.equal(res.json().error.code, 'ALERT_NOT_FOUND', `${who}: ALERT_NOT_FOUND`);
  }
  t.equal((await app.inject({ method: 'POST', url: '/api/alerts/999999/acknowledge', headers: lawyerA.headers })).statusCode, 404, 'an alert that does not exist: 404');
  const before = await auditCount('matter.alert_acknowledge');
  const ack = await app.inject({ method: 'POST', url, headers: lawyerA.headers });
  t.equal(ack.statusCode, 200, 'the responsible lawyer acknowledges it');
  t.equal(ack.json().acknowledged_at, clock.now().toISOString(), 'with the time');
  clock.advance(60_000);
  const again = await app.inject({ method: 'POST', url, headers: lawyerA.headers });
  t.equal(again.json().acknowledged_at, ack.json().acknowledged_at, 'acknowledging twice keeps the first time');
  t.equal(await auditCount('matter.alert_acknowledge'), before + 1, 'and writes one audit record');
  const forDirector = (await app.inject({ method: 'GET', url: '/api/alerts', headers: director.headers })).json() as { id: number; acknowledged_at: string | null }[];
  t.equal(forDirector.find((a) => a.id === alert.id)?.acknowledged_at, null, 'each recipient acknowledges for themselves');
  t.equal((await app.inject({ method: 'POST', url, headers: lawyerA.headers, payload: { seen: true } })).statusCode, 400, 'an unknown body field is refused');
});

t.test('resolving: informing the client clears the alert', async (t) => {
  const alert = (await openAlerts(m1.id)).get('client_not_informed')!;
  const informed = await app.inject({ method: 'POST', url: `/api/matters/${m1.id}/client-informed`, headers: lawyerA.headers, payload: { method: 'phone' } });
  t.equal(informed.statusCode, 200, 'the lawyer records that the client was informed');
  t.same(await scan(), { raised: 0, resolved: 1 }, 'the next run resolves one alert');
  const row = await db.selectFrom('matter_alerts').selectAll().where('id', '=', alert.id).executeTakeFirstOrThrow();
  t.same(row.resolved_at, clock.now(), 'it is resolved as of the run');
  t.ok((await openAlerts(m2.id)).has('client_not_informed'), 'the other matter’s alert stays open');
  const open = (await app.inject({ method: 'GET', url: '/api/alerts', headers: lawyerA.headers })).json() as { id: number }[];
  t.notOk(open.some((a) => a.id === alert.id), 'it is gone from the open list');
  const all = (await app.inject({ method: 'GET', url: '/api/alerts?status=all', headers: lawyerA.headers })).json() as { id: number; resolved_at: string | null }[];
  t.equal(all.find((a) => a.id === alert.id)?.resolved_at, clock.now().toISOString(), 'status=all still lists it, resolved');
});

t.test('stale: no change for 30 days raises, an update clears', async (t) => {
  await advance(30 * DAY);
  t.notOk((await openAlerts(m1.id)).has('stale'), 'not before the run');
  await scan();
  t.notOk((await openAlerts(m1.id)).has('stale'), 'thirty days after the last change is within the limit');
  await advance(DAY);
  const r = await scan();
  const stale = (await openAlerts(m1.id)).get('stale');
  t.ok(stale, 'thirty-one days without a change raise a stale alert');
  t.match(stale?.detail, { days: 31, limit_days: 30 }, 'with the days');
  t.ok(r.raised >= 1, 'counted as raised');
  t.same(await scan(), { raised: 0, resolved: 0 }, 'a second run raises nothing new');
  const patched = await app.inject({ method: 'PATCH', url: `/api/matters/${m1.id}`, headers: lawyerA.headers, payload: { stage: '一审' } });
  t.equal(patched.statusCode, 200, 'the lawyer updates the matter');
  t.same(await scan(), { raised: 0, resolved: 1 }, 'the next run resolves the stale alert');
  t.notOk((await openAlerts(m1.id)).has('stale'), 'no stale alert is open');
});

t.test('overbilled: bills beyond the fixed fee and its tolerance', async (t) => {
  const settingsUrl = '/api/settings/matter-tracking';
  const defaults = (await app.inject({ method: 'GET', url: settingsUrl, headers: director.headers })).json() as Record<string, number>;
  t.equal((await fee(m1.id, { kind: 'bill', amount: '10000', occurred_on: shanghaiDate() })).statusCode, 201, 'the agreed fee is billed');
  t.equal((await fee(m2.id, { kind: 'bill', amount: '9000', occurred_on: shanghaiDate() })).statusCode, 201, 'an hourly matter bills more than its estimate');
  t.same(await scan(), { raised: 0, resolved: 0 }, 'billing exactly the agreed fee is fine; hourly fees have no cap');
  t.equal((await fee(m1.id, { kind: 'bill', amount: '2000', occurred_on: shanghaiDate() })).statusCode, 201, 'a second bill goes beyond it');
  t.same(await scan(), { raised: 1, resolved: 0 }, 'the run raises one alert');
  const first = (await openAlerts(m1.id)).get('overbilled');
  t.match(first?.detail, { agreed: '10000.00', billed: '12000.00', excess: '2000.00', tolerance_percent: 0 }, 'with the sums as decimal strings');
  t.notOk((await openAlerts(m2.id)).has('overbilled'), 'the hourly matter is not flagged');
  t.same(await scan(), { raised: 0, resolved: 0 }, 'a second run raises nothing new');

  await app.inject({ method: 'PUT', url: settingsUrl, headers: director.headers, payload: { ...defaults, overbilled_tolerance_percent: 20 } });
  t.same(await scan(), { raised: 0, resolved: 1 }, 'a 20% tolerance (12000 is not above 10000 × 1.2) resolves it');
  await app.inject({ method: 'PUT', url: settingsUrl, headers: director.headers, payload: defaults });
  t.same(await scan(), { raised: 1, resolved: 0 }, 'back to no tolerance, it is raised again');
  const second = (await openAlerts(m1.id)).get('overbilled');
  t.not(second?.id, first?.id, 'as a new alert');
  t.equal((await db.selectFrom('matter_alerts').select('id').where('matter_id', '=', m1.id).where('kind', '=', 'overbilled').execute()).length, 2, 'the resolved one is kept');

  const shown = (await app.inject({ method: 'GET', url: '/api/alerts', headers: lawyerA.headers })).json() as { id: number; message: string }[];
  t.match(shown.find((a) => a.id === second?.id)?.message, /12000\.00.*10000\.00/, 'the message names the sums');
});

t.test('unpaid: payments cover the oldest bills first', async (t) => {
  // m2 has a 9000 bill of today. Older bills and a payment that covers the oldest one:
  t.equal((await fee(m2.id, { kind: 'bill', amount: '1000', occurred_on: shanghaiDate(-90) })).statusCode, 201, 'a bill of 90 days ago');
  t.equal((await fee(m2.id, { kind: 'payment', amount: '1000', occurred_on: shanghaiDate() })).statusCode, 201, 'a payment that covers it');
  await scan();
  t.notOk((await openAlerts(m2.id)).has('unpaid'), 'the old bill is paid; the unpaid one is new');
  t.equal((await fee(m2.id, { kind: 'bill', amount: '300', occurred_on: shanghaiDate(-61) })).statusCode, 201, 'a bill of 61 days ago');
  t.same(await scan(), { raised: 1, resolved: 0 }, 'it is not covered (the payment went to the older bill): one alert');
  const unpaid = (await openAlerts(m2.id)).get('unpaid');
  t.match(unpaid?.detail, { billed: '10300.00', paid: '1000.00', outstanding: '9300.00', oldest_unpaid_bill_on: shanghaiDate(-61), days: 61, limit_days: 60 }, 'the detail names the oldest unpaid bill');
  t.same(await scan(), { raised: 0, resolved: 0 }, 'a second run raises nothing new');

  t.equal((await fee(m2.id, { kind: 'payment', amount: '299.99', occurred_on: shanghaiDate() })).statusCode, 201, 'a payment one fen short');
  t.same(await scan(), { raised: 0, resolved: 0 }, 'the bill is still not covered');
  t.match((await openAlerts(m2.id)).get('unpaid')?.detail, { outstanding: '9000.01', paid: '1299.99' }, 'the figures of the open alert are brought up to date');
  t.equal((await fee(m2.id, { kind: 'payment', amount: '0.01', occurred_on: shanghaiDate() })).statusCode, 201, 'the last fen');
  t.same(await scan(), { raised: 0, resolved: 1 }, 'resolved although 9000 is outstanding: that bill is only days old');
});

t.test('a new responsible lawyer receives the open alerts of the matter', async (t) => {
  const open = (await openAlerts(m2.id)).get('client_not_informed')!;
  const reassigned = await app.inject({ method: 'PATCH', url: `/api/matters/${m2.id}`, headers: lawyerA.headers, payload: { responsible_lawyer_id: lawyerC.id } });
  t.equal(reassigned.statusCode, 200, 'the matter is handed to another lawyer');
  const noticesBefore = notices.length;
  await scan();
  const recipients = await db.selectFrom('matter_alert_recipients').select('user_id').where('alert_id', '=', open.id).execute();
  t.ok(recipients.some((r) => r.user_id === lawyerC.id), 'the new lawyer is a recipient of the open alert');
  await noticesSettle();
  t.ok(notices.slice(noticesBefore).some((n) => n.topic === `user:${lawyerC.id}` && n.data.alert_id === open.id), 'and is notified');
  const listed = (await app.inject({ method: 'GET', url: '/api/alerts', headers: lawyerC.headers })).json() as { id: number }[];
  t.ok(listed.some((a) => a.id === open.id), 'and sees it');
});

t.test('open too long, and closing a matter resolves all its alerts', async (t) => {
  const settingsUrl = '/api/settings/matter-tracking';
  const defaults = (await app.inject({ method: 'GET', url: settingsUrl, headers: director.headers })).json() as Record<string, number>;
  await scan();
  t.notOk((await openAlerts(m1.id)).has('open_too_long'), 'not within 365 days');
  const put = await app.inject({ method: 'PUT', url: settingsUrl, headers: director.headers, payload: { ...defaults, open_max_days: 30 } });
  t.equal(put.statusCode, 200, 'the director lowers the limit to 30 days');
  const r = await scan();
  t.equal(r.raised, 2, 'both matters are now open too long');
  const alert = (await openAlerts(m1.id)).get('open_too_long');
  t.match(alert?.detail, { days: 39, limit_days: 30 }, 'with the days since opening');
  t.same(await scan(), { raised: 0, resolved: 0 }, 'a second run raises nothing new');
  const shown = (await app.inject({ method: 'GET', url: '/api/alerts', headers: director.headers })).json() as { id: number; message: string }[];
  t.match(shown.find((a) => a.id === alert?.id)?.message, /案件已办理 39 天未结案.*open for 39 days/, 'the message');

  const openOnM1 = (await openAlerts(m1.id)).size;
  t.ok(openOnM1 >= 2, `matter 1 has several open alerts (${openOnM1})`);
  const closed = await app.inject({ method: 'PATCH', url: `/api/matters/${m1.id}`, headers: lawyerA.headers, payload: { status: 'closed' } });
  t.equal(closed.statusCode, 200, 'the matter is closed');
  t.same(await scan(), { raised: 0, resolved: openOnM1 }, 'every alert of the closed matter is resolved');
  t.equal((await openAlerts(m1.id)).size, 0, 'none is left open');

  const suspended = await app.inject({ method: 'PATCH', url: `/api/matters/${m2.id}`, headers: lawyerC.headers, payload: { status: 'suspended' } });
  t.equal(suspended.statusCode, 200, 'the other matter is suspended');
  t.same(await scan(), { raised: 0, resolved: 0 }, 'a suspended matter is still watched: its open-too-long alert stays');
  t.ok((await openAlerts(m2.id)).has('open_too_long'), 'still open');
  await app.inject({ method: 'PUT', url: settingsUrl, headers: director.headers, payload: defaults });
});

t.test('the audit chain is intact after all of it', async (t) => {
  t.match(await verifyAuditChain(db), { ok: true }, 'verifies');
});
