import t from 'tap';
import { JOBS, runJob } from '../../server/src/scheduler.js';
import { SYSTEM_ACTOR } from '../../server/src/context.js';
import { createDeadlinesForDocument, deadlineJobs, upcomingCounts } from '../../server/src/modules/deadlines/service.js';
import { createPortalSession } from '../../server/src/modules/portal/service.js';
import { createTestInstance, isErrorShape, loginToken, signedIn } from '../helpers/instance.js';
import { mulberry32 } from '../helpers/fuzz.js';

/**
 * Deadlines and hearings through the API and the jobs (Z5.5.2a–c): the rules and the compute
 * contract, the holiday calendar loaded by an administrator (a bad file changes nothing; a new year
 * moves open deadlines), a matter's deadlines and hearings, the pre-hearing notice and the
 * post-hearing summary, reminders sent once per lead time, and missed deadlines. The fake clock
 * starts on Friday 2026-11-27, 09:00 Beijing time.
 */
const inst = await createTestInstance(t);
const { app, clock } = inst;
const db = inst.ctx.db;
const DAY = 86_400_000;

const lawyer = await signedIn(inst, 'lawyer');
const other = await signedIn(inst, 'lawyer');
const director = await signedIn(inst, 'director');
const it = await signedIn(inst, 'it_admin');
const people = [lawyer, other, director, it];

/** Moves the clock; sessions end after 30 idle minutes, so everyone signs in again. */
async function advance(ms: number): Promise<void> {
  clock.advance(ms);
  for (const u of people) u.headers.authorization = `Bearer ${await loginToken(inst, u.username)}`;
}

const api = (method: 'GET' | 'POST' | 'PUT', url: string, who: { headers: { authorization: string } } | null, payload?: unknown) =>
  app.inject({ method, url, headers: who?.headers ?? {}, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });

async function auditCount(action: string): Promise<number> {
  const r = await db.selectFrom('audit_log').select((eb) => eb.fn.countAll<number>().as('n')).where('action', '=', action).executeTakeFirstOrThrow();
  return Number(r.n);
}

/** Notices whose dedupe key starts so. */
const noticesLike = (prefix: string) => db.selectFrom('notifications').selectAll().where('dedupe_key', 'like', `${prefix}%`).orderBy('id').execute();

async function openMatter(name: string): Promise<{ id: number; number: string; clientId: number }> {
  const res = await api('POST', '/api/matters', lawyer, { title: `${name}借款合同纠纷`, type: 'civil', parties: [{ role: 'client', kind: 'person', name }] });
  if (res.statusCode !== 201) throw new Error(`POST /api/matters: ${res.statusCode} ${res.body}`);
  const m = res.json() as { id: number; number: string };
  const party = await db.selectFrom('parties').select('client_id').where('matter_id', '=', m.id).where('role', '=', 'client').executeTakeFirstOrThrow();
  return { ...m, clientId: party.client_id! };
}

const matter = await openMatter('周明远');

const job = (name: string) => {
  const j = deadlineJobs.find((x) => x.name === name);
  if (!j) throw new Error(`no job ${name}`);
  return j;
};

t.test('the jobs are exported and scheduled', async (t) => {
  t.same(deadlineJobs.map((j) => j.name).sort(), ['deadlines.mark_missed', 'deadlines.reminders'], 'two jobs');
  for (const j of deadlineJobs) t.ok(JOBS.includes(j), `${j.name} is in the scheduler`);
});

t.test('GET /api/deadlines/rules lists the rules with periods and basis', async (t) => {
  const res = await api('GET', '/api/deadlines/rules', lawyer);
  t.equal(res.statusCode, 200, '200');
  const rules = res.json() as { id: string; name_zh: string; name_en: string; period: { unit: string; count: number }; basis: string }[];
  for (const id of ['civil_appeal_judgment', 'civil_appeal_ruling', 'admin_appeal_judgment', 'admin_appeal_ruling', 'criminal_appeal_judgment', 'criminal_appeal_ruling', 'enforcement_application']) {
    const r = rules.find((x) => x.id === id);
    t.ok(r, `${id} is listed`);
    t.ok(r && r.name_zh && r.name_en && r.basis, `${id} has names and basis`);
  }
  t.same(rules.find((r) => r.id === 'civil_appeal_judgment')!.period, { unit: 'day', count: 15 }, 'periods are listed');
  t.equal((await api('GET', '/api/deadlines/rules', null)).statusCode, 401, 'anonymous: 401');
});

t.test('POST /api/deadlines/compute: the contract, and clear 400s', async (t) => {
  const res = await api('POST', '/api/deadlines/compute', lawyer, { rule: 'civil_appeal_ruling', trigger_date: '2025-09-26' });
  t.equal(res.statusCode, 200, '200');
  const body = res.json();
  t.equal(body.due, '2025-10-09', 'due past National Day');
  t.equal(body.extended_from, '2025-10-06', 'extended from the holiday');
  t.match(body.basis, /第一百七十一条/, 'basis cites the statute');
  t.same(body.warnings, [], 'no warnings');

  const foreign = await api('POST', '/api/deadlines/compute', lawyer, { rule: 'civil_appeal_judgment', trigger_date: '2025-09-26', foreign: true });
  t.equal(foreign.json().due, '2025-10-27', 'foreign party: 30 days');
  const custody = await api('POST', '/api/deadlines/compute', lawyer, { rule: 'criminal_appeal_judgment', trigger_date: '2025-09-26', in_custody: true });
  t.equal(custody.json().due, '2025-10-06', 'in custody: not extended');

  const missing = await api('POST', '/api/deadlines/compute', lawyer, { rule: 'enforcement_application', trigger_date: '2025-02-10' });
  t.equal(missing.statusCode, 200, 'a due date in 2027 still computes');
  t.equal(missing.json().due, '2027-02-10', 'weekends only');
  t.ok(missing.json().warnings.some((w: string) => /2027/.test(w) && /lawbox calendar load/.test(w)), 'with the warning naming 2027 and the command');

  for (const [what, payload, code] of [
    ['an unknown rule', { rule: 'civil_appeal', trigger_date: '2025-09-26' }, 'UNKNOWN_RULE'],
    ['an impossible date', { rule: 'civil_appeal_judgment', trigger_date: '2025-02-30' }, 'INVALID_DATE'],
    ['a malformed date', { rule: 'civil_appeal_judgment', trigger_date: '26/09/2025' }, 'INVALID_DATE'],
    ['no date', { rule: 'civil_appeal_judgment' }, 'VALIDATION_FAILED'],
    ['an unknown field', { rule: 'civil_appeal_judgment', trigger_date: '2025-09-26', court: 'x' }, 'VALIDATION_FAILED'],
  ] as const) {
    const r = await api('POST', '/api/deadlines/compute', lawyer, payload);
    t.equal(r.statusCode, 400, `${what}: 400`);
    t.ok(isErrorShape(r.json()), `${what}: the error shape`);
    t.equal(r.json().error.code, code, `${what}: ${code}`);
  }
  t.match((await api('POST', '/api/deadlines/compute', lawyer, { rule: 'civil_appeal_judgment', trigger_date: '2025-02-30' })).json().error.message, /日期无效/, 'the message is bilingual');
  t.equal((await api('POST', '/api/deadlines/compute', it, { rule: 'civil_appeal_judgment', trigger_date: '2025-09-26' })).statusCode, 403, 'the IT administrator sees no matters: 403');
});

t.test('fuzz: the compute route answers 200 or a clean 400, never anything else', async (t) => {
  const rand = mulberry32(0xdead_11e);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const values: unknown[] = ['2025-09-26', '2024-02-29', '2025-02-29', '2027-12-31', '', 'x', 0, -1, 1e12, null, true, [], {}, '2025-09-26T00:00:00Z', '9999-99-99', '\u202e2025-01-01', 'civil_appeal_judgment', 'enforcement_application'];
  const keys = ['rule', 'trigger_date', 'foreign', 'in_custody', 'days', 'extra'];
  const seen = new Set<number>();
  for (let i = 0; i < 250; i++) {
    const body: Record<string, unknown> = {};
    for (const k of keys) if (rand() < (k === 'extra' ? 0.05 : 0.7)) body[k] = pick(values);
    if (rand() < 0.6) body.rule = pick(['civil_appeal_judgment', 'criminal_appeal_ruling', 'evidence_small_claims', 'enforcement_application']);
    const res = await api('POST', '/api/deadlines/compute', lawyer, body);
    seen.add(res.statusCode);
    if (res.statusCode === 200) {
      if (!/^\d{4}-\d{2}-\d{2}$/.test(res.json().due)) t.fail(`${JSON.stringify(body)}: due ${res.json().due}`);
    } else if (res.statusCode !== 400 || !isErrorShape(res.json())) {
      t.fail(`${JSON.stringify(body)}: ${res.statusCode} ${res.body}`);
    }
  }
  t.ok(seen.has(200) && seen.has(400), `both outcomes occurred (${[...seen].join(', ')})`);
});

// A made-up 2027 for the test (the real one is published in November 2026): Spring Festival
// 2027-02-06..02-12 and a working Saturday after it.
const TEST_2027 = { notice: '测试：2027年部分节假日安排', off: [['2027-01-01', '2027-01-03'], ['2027-02-06', '2027-02-12']], workdays: ['2027-02-20'] };

t.test('the holiday calendar: listed and loaded by the IT administrator; a bad file changes nothing', async (t) => {
  const list = await api('GET', '/api/deadlines/calendars', it);
  t.equal(list.statusCode, 200, 'calendar.manage lists the years');
  t.same(list.json().map((y: { year: number }) => y.year), [2024, 2025, 2026], 'the shipped years, seeded by the migration');
  t.equal(list.json()[0].loaded_by, 'migration', 'and say so');
  t.equal((await api('GET', '/api/deadlines/calendars', lawyer)).statusCode, 403, 'a lawyer may not manage the calendar');
  t.equal((await api('POST', '/api/deadlines/calendars', lawyer, { years: { '2027': TEST_2027 } })).statusCode, 403, 'nor load one');

  // A deadline counted before 2027 is known: weekends only.
  const added = await api('POST', `/api/matters/${matter.id}/deadlines`, lawyer, { rule: 'enforcement_application', trigger_date: '2025-02-10', notify_client: true });
  t.equal(added.statusCode, 201, 'an enforcement deadline in 2027');
  const early = added.json().deadline;
  t.equal(early.due_date, '2027-02-10', 'weekends only');
  t.ok(early.warnings.some((w: string) => /2027/.test(w)), 'with the missing-year warning kept on it');

  const audits = await auditCount('calendar.load');
  const bad = await api('POST', '/api/deadlines/calendars', it, { years: { '2027': { ...TEST_2027, workdays: ['2027-02-22'] }, '2028': { notice: '测试', off: [['2028-01-01', '2028-01-01']], workdays: [] } } });
  t.equal(bad.statusCode, 400, 'a working day that is a Monday: 400');
  t.equal(bad.json().error.code, 'INVALID_CALENDAR', 'INVALID_CALENDAR');
  t.match(bad.json().error.message, /2027-02-22 is not a Saturday or Sunday/, 'the message names the day');
  const shape = await api('POST', '/api/deadlines/calendars', it, { years: { '2027': { ...TEST_2027, off: 'all of February' } } });
  t.equal(shape.statusCode, 400, 'a malformed shape: 400');
  t.same((await api('GET', '/api/deadlines/calendars', it)).json(), list.json(), 'nothing was loaded, not even the good year of the file');
  t.equal(await auditCount('calendar.load'), audits, 'and nothing audited');
  t.equal((await db.selectFrom('matter_deadlines').select('due_date').where('id', '=', early.id).executeTakeFirstOrThrow()).due_date, '2027-02-10', 'the deadline did not move');

  const ok = await api('POST', '/api/deadlines/calendars', it, { about: 'test', years: { '2027': TEST_2027 } });
  t.equal(ok.statusCode, 200, 'a good file loads');
  t.same(ok.json().loaded, [{ year: 2027, replaced: false }], '2027 is new');
  t.equal(ok.json().recomputed, 1, 'one open deadline moved');
  t.same(ok.json().calendars.map((y: { year: number }) => y.year), [2024, 2025, 2026, 2027], 'four years now');
  t.equal(await auditCount('calendar.load'), audits + 1, 'audited');

  const moved = await db.selectFrom('matter_deadlines').selectAll().where('id', '=', early.id).executeTakeFirstOrThrow();
  t.equal(moved.due_date, '2027-02-15', 'the deadline moved past the test Spring Festival and its weekend');
  t.same(moved.warnings, [], 'and lost its warning');
  t.equal((await noticesLike(`deadline.moved:${early.id}:2027-02-15:staff`)).length, 1, 'the lawyer was told');
  t.equal((await noticesLike(`deadline.moved:${early.id}:2027-02-15:client:${matter.clientId}`)).length, 1, 'and the client');

  // The engine of this process uses the new year at once.
  const after = await api('POST', '/api/deadlines/compute', lawyer, { rule: 'enforcement_application', trigger_date: '2025-02-10' });
  t.equal(after.json().due, '2027-02-15', 'compute uses the loaded year');
  t.same(after.json().warnings, [], 'without a warning');
  const sat = await api('POST', '/api/deadlines/compute', lawyer, { rule: 'civil_appeal_ruling', trigger_date: '2027-02-10' });
  t.equal(sat.json().due, '2027-02-20', 'and its adjusted working Saturday');

  const again = await api('POST', '/api/deadlines/calendars', it, { years: { '2027': TEST_2027 } });
  t.same(again.json().loaded, [{ year: 2027, replaced: true }], 'loading a year again replaces it');
  t.equal(again.json().recomputed, 0, 'nothing moves when nothing changed');
  const last = await db.selectFrom('audit_log').select(['detail', 'actor']).where('action', '=', 'calendar.load').orderBy('seq', 'desc').executeTakeFirstOrThrow();
  t.match(last, { actor: it.username, detail: { replaced: { notice: TEST_2027.notice } } }, 'the audit keeps what was replaced');
});

t.test('a matter’s deadlines: by rule or by date, the client told, visible to the team only', async (t) => {
  // 2026-11-27 + 15 = Saturday 2026-12-12: the period ends on Monday 2026-12-14.
  const res = await api('POST', `/api/matters/${matter.id}/deadlines`, lawyer, { rule: 'civil_appeal_judgment', trigger_date: '2026-11-27' });
  t.equal(res.statusCode, 201, 'added by rule');
  const d = res.json().deadline;
  t.match(d, { milestone: 'appeal', rule: 'civil_appeal_judgment', title: '民事上诉期限（判决）', due_date: '2026-12-14', status: 'open', source: 'manual', responsible: { id: lawyer.id } }, 'computed and attributed');
  const told = await noticesLike(`deadline.created:${d.id}:client:${matter.clientId}`);
  t.equal(told.length, 1, 'the client was told at once (Z5.5.2c)');
  t.match(told[0]!.body, /2026-12-14/, 'of the date');
  t.match(told[0]!.body, /逾期后果：逾期未上诉/, 'and of the consequence');

  const byDate = await api('POST', `/api/matters/${matter.id}/deadlines`, lawyer, { milestone: 'preservation', title: '银行存款冻结到期，申请续行冻结', due_date: '2026-12-20', notify_client: false, note: '（2026）京0105民初1234号民事裁定书' });
  t.equal(byDate.statusCode, 201, 'added by date');
  t.match(byDate.json().deadline, { milestone: 'preservation', rule: null, due_date: '2026-12-20', basis: '（2026）京0105民初1234号民事裁定书' }, 'kept as entered, the note as basis');
  t.ok(byDate.json().warnings.some((w: string) => /rest day/.test(w)), 'Sunday 2026-12-20 is flagged as a rest day');
  t.equal((await noticesLike(`deadline.created:${byDate.json().deadline.id}:client`)).length, 0, 'notify_client false: the client is not told');

  for (const [what, payload] of [
    ['both forms', { rule: 'civil_appeal_judgment', trigger_date: '2026-11-27', due_date: '2026-12-01', milestone: 'appeal', title: 'x' }],
    ['neither', { title: 'x' }],
    ['a date without a title', { milestone: 'filing', due_date: '2026-12-01' }],
    ['an impossible date', { milestone: 'filing', due_date: '2026-11-31', title: '起诉' }],
    ['a rule without its trigger', { rule: 'civil_appeal_judgment' }],
    ['a responsible user off the team', { rule: 'civil_appeal_judgment', trigger_date: '2026-11-27', responsible_user_id: other.id }],
  ] as const) {
    const r = await api('POST', `/api/matters/${matter.id}/deadlines`, lawyer, payload);
    t.equal(r.statusCode, 400, `${what}: 400`);
    t.ok(isErrorShape(r.json()), `${what}: the error shape`);
  }

  const list = await api('GET', `/api/matters/${matter.id}/deadlines`, lawyer);
  t.equal(list.statusCode, 200, 'the team lists them');
  t.same(list.json().map((x: { due_date: string }) => x.due_date), ['2026-12-14', '2026-12-20', '2027-02-15'], 'by due date');
  t.equal((await api('GET', `/api/matters/${matter.id}/deadlines`, other)).statusCode, 404, 'another lawyer: 404, like a missing matter');
  t.equal((await api('POST', `/api/matters/${matter.id}/deadlines`, other, { rule: 'civil_appeal_judgment', trigger_date: '2026-11-27' })).statusCode, 404, 'and cannot add one');
  t.equal((await api('POST', `/api/deadlines/${d.id}/done`, other, {})).statusCode, 404, 'nor mark one done');
  t.equal((await api('GET', `/api/matters/${matter.id}/deadlines`, director)).statusCode, 200, 'the director sees every matter');

  const done = await api('POST', `/api/deadlines/${d.id}/done`, lawyer, { note: '已于12月10日递交上诉状' });
  t.equal(done.statusCode, 200, 'marked done');
  t.match(done.json(), { status: 'done', done_note: '已于12月10日递交上诉状' }, 'with its note');
  t.equal((await api('POST', `/api/deadlines/${d.id}/done`, lawyer, {})).statusCode, 409, 'twice: 409');
  t.equal(await auditCount('deadline.done'), 1, 'audited once');
});

t.test('createDeadlinesForDocument: a received document starts its deadline once', async (t) => {
  const actor = { userId: lawyer.id, username: lawyer.username, role: 'lawyer', sourceIp: null };
  const input = { matter_id: matter.id, source: 'documents_received', source_id: 71, rule: 'civil_reply', trigger_date: '2026-11-20', title: '答辩期限（起诉状副本）' };
  const first = await db.transaction().execute((trx) => createDeadlinesForDocument(trx, inst.ctx, actor, input));
  // 2026-11-20 + 15 = Saturday 2026-12-05 → Monday 2026-12-07.
  t.match(first, { due: '2026-12-07', warnings: [] }, 'computed');
  const second = await db.transaction().execute((trx) => createDeadlinesForDocument(trx, inst.ctx, actor, input));
  t.equal(second.id, first.id, 'the same document and rule again: the same deadline');
  const row = await db.selectFrom('matter_deadlines').selectAll().where('id', '=', first.id).executeTakeFirstOrThrow();
  t.match(row, { source: 'documents_received', source_id: '71', title: '答辩期限（起诉状副本）', milestone: 'reply', responsible_user_id: lawyer.id }, 'it names its source');

  const otherMatter = await openMatter('吴佳怡');
  await t.rejects(
    db.transaction().execute((trx) => createDeadlinesForDocument(trx, inst.ctx, actor, { ...input, matter_id: otherMatter.id })),
    { statusCode: 409, code: 'DEADLINE_SOURCE_USED' },
    'the same source on another matter is refused',
  );
  const outsider = { userId: other.id, username: other.username, role: 'lawyer', sourceIp: null };
  await t.rejects(db.transaction().execute((trx) => createDeadlinesForDocument(trx, inst.ctx, outsider, { ...input, source_id: 72 })), { statusCode: 404, code: 'MATTER_NOT_FOUND' }, 'a lawyer off the team cannot');
  await t.rejects(db.transaction().execute((trx) => createDeadlinesForDocument(trx, inst.ctx, actor, { ...input, source_id: 73, rule: 'nope' })), { statusCode: 400, code: 'UNKNOWN_RULE' }, 'an unknown rule');
  await t.rejects(db.transaction().execute((trx) => createDeadlinesForDocument(trx, inst.ctx, SYSTEM_ACTOR, { ...input, source_id: 74 })), { statusCode: 403, code: 'FORBIDDEN' }, 'the system actor holds no matter permission');

  // The responsible lawyer's account was disabled (inactivity): the judgment's deadline is still recorded.
  const handover = await openMatter('孙雅琴');
  const colleague = await signedIn(inst, 'lawyer');
  t.equal((await api('POST', `/api/matters/${handover.id}/team`, lawyer, { user_id: colleague.id })).statusCode < 300, true, 'a colleague joins the team');
  await db.updateTable('users').set({ disabled: true }).where('id', '=', lawyer.id).execute();
  try {
    const colleagueActor = { userId: colleague.id, username: colleague.username, role: 'lawyer', sourceIp: null };
    const kept = await db.transaction().execute((trx) => createDeadlinesForDocument(trx, inst.ctx, colleagueActor, { ...input, matter_id: handover.id, source_id: 75 }));
    t.match(kept.warnings, [/承办律师账号已停用/], 'recorded, with a warning to assign it');
    t.equal((await db.selectFrom('matter_deadlines').select('responsible_user_id').where('id', '=', kept.id).executeTakeFirstOrThrow()).responsible_user_id, colleague.id, 'given to the colleague who recorded it');
    // Out of the way of the counts the later tests check.
    await db.updateTable('matter_deadlines').set({ status: 'done', done_at: inst.clock.now() }).where('id', '=', kept.id).execute();
  } finally {
    await db.updateTable('users').set({ disabled: false }).where('id', '=', lawyer.id).execute();
  }
});

t.test('reminder settings: defaults, changed by a director, refused out of range', async (t) => {
  t.same((await api('GET', '/api/deadlines/settings', lawyer)).json(), { lead_days: [7, 3, 1], hearing_lead_days: [3, 1], notify_client: true }, 'the defaults');
  t.equal((await api('PUT', '/api/deadlines/settings', lawyer, { lead_days: [5], hearing_lead_days: [1], notify_client: true })).statusCode, 403, 'a lawyer may not change them');
  t.equal((await api('PUT', '/api/deadlines/settings', director, { lead_days: [], hearing_lead_days: [1], notify_client: true })).statusCode, 400, 'no lead time: 400');
  t.equal((await api('PUT', '/api/deadlines/settings', director, { lead_days: [200], hearing_lead_days: [1], notify_client: true })).statusCode, 400, 'too far ahead: 400');
  const put = await api('PUT', '/api/deadlines/settings', director, { lead_days: [1, 7, 3, 14], hearing_lead_days: [1, 3], notify_client: true });
  t.same(put.json(), { lead_days: [14, 7, 3, 1], hearing_lead_days: [3, 1], notify_client: true }, 'stored, longest first');
  t.equal(await auditCount('settings.deadline_reminders'), 1, 'audited');
  await api('PUT', '/api/deadlines/settings', director, { lead_days: [7, 3, 1], hearing_lead_days: [3, 1], notify_client: true });
});

// The reminders and the hearing of one matter, driven through the days by the fake clock.
const busy = await openMatter('钱文博');

t.test('hearings: the pre-hearing notice, reminders once per lead time, the summary filed and sent', async (t) => {
  const due = await api('POST', `/api/matters/${busy.id}/deadlines`, lawyer, { milestone: 'evidence', title: '提交证据原件及目录', due_date: '2026-11-30' });
  t.equal(due.statusCode, 201, 'a deadline on Monday 2026-11-30');
  const deadlineId = due.json().deadline.id as number;

  const recorded = await api('POST', `/api/matters/${busy.id}/hearings`, lawyer, { court: '北京市朝阳区人民法院', room: '第十二法庭', judge: '孙立', starts_at: '2026-12-01T09:30:00+08:00', note: '请一并携带借条原件' });
  t.equal(recorded.statusCode, 201, 'a hearing on Tuesday 2026-12-01 09:30');
  const hearing = recorded.json().hearing;
  t.ok(hearing.notice_sent_at, 'the pre-hearing notice went out at once');
  const notice = await noticesLike(`hearing.notice:${hearing.id}:`);
  t.equal(notice.length, 1, 'one notice');
  t.match(notice[0], { event: 'hearing.notice', client_id: busy.clientId, matter_id: busy.id }, 'to the client');
  t.match(notice[0]!.body, /2026-12-01 09:30/, 'with the time');
  t.match(notice[0]!.body, /北京市朝阳区人民法院 第十二法庭/, 'the place');
  t.match(notice[0]!.body, /证据的原件/, 'and the original evidence to bring (Z5.5.2b)');
  t.match(notice[0]!.body, /借条原件/, 'and the lawyer’s note');
  t.equal((await api('POST', `/api/hearings/${hearing.id}/notice`, lawyer, {})).statusCode, 409, 'sending it again: 409');
  t.equal((await api('POST', `/api/hearings/${hearing.id}/notice`, other, {})).statusCode, 404, 'another lawyer: 404');

  const reminders = job('deadlines.reminders');
  const r1 = await runJob(inst.ctx, reminders);
  t.ok(r1.ran, 'the job ran');
  const d3 = await noticesLike(`deadline.reminder:${deadlineId}:2026-11-30:3`);
  t.same(d3.map((n) => n.dedupe_key).sort(), [`deadline.reminder:${deadlineId}:2026-11-30:3:client:${busy.clientId}`, `deadline.reminder:${deadlineId}:2026-11-30:3:staff`], 'three days ahead: the lawyer and the client');
  const staff = await db.selectFrom('notification_recipients').select('user_id').where('notification_id', '=', d3.find((n) => n.dedupe_key!.endsWith('staff'))!.id).execute();
  t.same(staff.map((s) => s.user_id), [lawyer.id], 'the responsible lawyer (the whole team) is told');
  t.match(d3[0]!.title, /还有3天/, 'the days left are in the title');
  t.equal((await noticesLike(`hearing.reminder:${hearing.id}:`)).length, 0, 'the hearing is four days off: no reminder yet');

  const before = (await db.selectFrom('notifications').select('id').execute()).length;
  const r2 = await runJob(inst.ctx, reminders);
  t.same(r2.result, { deadline_reminders: 0, hearing_reminders: 0 }, 'the next run sends nothing new');
  t.equal((await db.selectFrom('notifications').select('id').execute()).length, before, 'not one notice more');

  await advance(2 * DAY); // Sunday 2026-11-29
  await runJob(inst.ctx, reminders);
  t.equal((await noticesLike(`deadline.reminder:${deadlineId}:2026-11-30:1`)).length, 2, 'one day ahead: reminded again, once each');
  const h3 = await noticesLike(`hearing.reminder:${hearing.id}:`);
  const hKey = `hearing.reminder:${hearing.id}:2026-12-01T01:30:00.000Z:3`;
  t.same(h3.map((n) => n.dedupe_key).sort(), [`${hKey}:client:${busy.clientId}`, `${hKey}:staff`], 'the hearing two days off: the three-day reminder, to team and client');
  t.match(h3[0]!.title, /2天后开庭/, 'saying when');
  const r3 = await runJob(inst.ctx, reminders);
  t.same(r3.result, { deadline_reminders: 0, hearing_reminders: 0 }, 'and only once');

  await advance(DAY); // Monday 2026-11-30
  await runJob(inst.ctx, reminders);
  t.equal((await noticesLike(`hearing.reminder:${hearing.id}:`)).length, 4, 'the day before the hearing: the one-day reminder');
  t.equal((await noticesLike(`deadline.reminder:${deadlineId}:`)).length, 4, 'the deadline due today is not reminded a third time');

  // After the hearing: the five-field summary.
  t.equal((await api('POST', `/api/hearings/${hearing.id}/summary`, lawyer, { held_at: '2026-12-01T09:30:00+08:00', record: 'x', materials_to_supply: 'x', facts_to_verify: 'x', judge_requests: 'x' })).statusCode, 400, 'a summary of a hearing still ahead: 400');
  await advance(DAY + 3 * 3_600_000); // Tuesday 2026-12-01, 12:00
  const missingField = await api('POST', `/api/hearings/${hearing.id}/summary`, lawyer, { held_at: '2026-12-01T09:30:00+08:00', record: '双方质证', materials_to_supply: '银行流水', facts_to_verify: '还款时间' });
  t.equal(missingField.statusCode, 400, 'four of the five fields: 400');
  const summary = {
    held_at: '2026-12-01T09:35:00+08:00',
    record: '原告出示借条原件及转账记录，被告对借款事实无异议，对利息计算有异议。',
    materials_to_supply: '2025年1月至6月的银行流水',
    facts_to_verify: '被告2025年3月是否曾部分还款',
    judge_requests: '十日内提交利息计算说明',
  };
  const filed = await api('POST', `/api/hearings/${hearing.id}/summary`, lawyer, summary);
  t.equal(filed.statusCode, 200, 'the summary is recorded');
  t.match(filed.json().hearing, { status: 'held', summary: { record: summary.record, materials_to_supply: summary.materials_to_supply, facts_to_verify: summary.facts_to_verify, judge_requests: summary.judge_requests } }, 'its five fields, the hearing held');
  const sent = await noticesLike(`hearing.summary:${hearing.id}:client:${busy.clientId}`);
  t.equal(sent.length, 1, 'sent to the client');
  for (const v of [summary.record, summary.materials_to_supply, summary.facts_to_verify, summary.judge_requests, '2026-12-01 09:35']) t.ok(sent[0]!.body.includes(v), `the notice carries “${v.slice(0, 12)}…”`);
  const archived = await db.selectFrom('archive_entries').selectAll().where('source', '=', 'hearing').where('source_id', '=', String(hearing.id)).execute();
  t.match(archived, [{ matter_id: busy.id, kind: 'hearing_summary', filed_by: lawyer.id }], 'filed in the matter archive (Z6.3.5)');
  t.equal((await api('POST', `/api/hearings/${hearing.id}/summary`, lawyer, summary)).statusCode, 409, 'a second summary: 409');
  const listed = await api('GET', `/api/matters/${busy.id}/hearings`, lawyer);
  t.equal(listed.json()[0].summary.judge_requests, summary.judge_requests, 'the matter’s hearings show it');
});

t.test('missed deadlines: marked by the job, told to the team, still closable', async (t) => {
  // Tuesday 2026-12-01: the evidence deadline of Monday passed open.
  const open = await db.selectFrom('matter_deadlines').select(['id', 'due_date']).where('matter_id', '=', busy.id).where('status', '=', 'open').execute();
  t.same(open.map((d) => d.due_date), ['2026-11-30'], 'one deadline is overdue');
  const r = await runJob(inst.ctx, job('deadlines.mark_missed'));
  t.ok((r.result as { missed: number }).missed >= 1, 'the job marked it');
  const row = await db.selectFrom('matter_deadlines').selectAll().where('id', '=', open[0]!.id).executeTakeFirstOrThrow();
  t.equal(row.status, 'missed', 'missed');
  t.equal((await noticesLike(`deadline.missed:${row.id}`)).length, 1, 'the team is told');
  t.same((await runJob(inst.ctx, job('deadlines.mark_missed'))).result, { missed: 0 }, 'the next run finds nothing');
  const done = await api('POST', `/api/deadlines/${row.id}/done`, lawyer, { note: '11月30日已当庭提交' });
  t.equal(done.json().status, 'done', 'a missed deadline met after all can be marked done');
});

t.test('upcoming: the caller’s matters in the next days; counts for the wall', async (t) => {
  const h = await api('POST', `/api/matters/${busy.id}/hearings`, lawyer, { court: '北京市朝阳区人民法院', starts_at: '2026-12-04T14:00:00+08:00', send_notice: false });
  t.equal(h.json().hearing.notice_sent_at, null, 'send_notice false: no notice');
  await api('POST', `/api/matters/${busy.id}/deadlines`, lawyer, { rule: 'civil_appeal_ruling', trigger_date: '2026-11-27' }); // due 2026-12-07 (Monday)
  const mine = await api('GET', '/api/deadlines/upcoming?days=7', lawyer);
  t.equal(mine.statusCode, 200, '200');
  t.match(mine.json(), { from: '2026-12-01', to: '2026-12-07' }, 'seven Beijing days from today');
  t.same(mine.json().hearings.map((x: { starts_at: string }) => x.starts_at), ['2026-12-04T06:00:00.000Z'], 'the coming hearing (the held one is not)');
  t.same(mine.json().deadlines.map((x: { due_date: string }) => x.due_date), ['2026-12-07', '2026-12-07'], 'the open deadlines due in the window');
  const theirs = await api('GET', '/api/deadlines/upcoming?days=7', other);
  t.same(theirs.json().deadlines, [], 'another lawyer sees none of them');
  t.same(theirs.json().hearings, [], 'nor the hearing');
  t.equal((await api('GET', '/api/deadlines/upcoming?days=0', lawyer)).statusCode, 400, 'days=0: 400');

  t.same(await upcomingCounts(db, clock.now()), { hearings: { today: 1, this_week: 2 }, deadlines: { due_7_days: 2, overdue: 0 } }, 'the wall counts today’s hearing (held this morning) and the coming one, and the deadlines of the next 7 days');
  t.same(await upcomingCounts(db, new Date(clock.now().getTime() + 4 * DAY)), { hearings: { today: 0, this_week: 0 }, deadlines: { due_7_days: 2, overdue: 0 } }, 'four days on the hearing has passed');
  t.same(await upcomingCounts(db, new Date(clock.now().getTime() + 7 * DAY)), { hearings: { today: 0, this_week: 0 }, deadlines: { due_7_days: 0, overdue: 2 } }, 'a week on, the open deadlines are overdue');

  // The client's portal shows its own coming milestones, without the firm's notes.
  const portal = async (clientId: number) => {
    const { token } = await createPortalSession(inst.ctx, clientId);
    return app.inject({ method: 'GET', url: '/api/portal/milestones', headers: { authorization: `Bearer ${token}` } });
  };
  const own = await portal(busy.clientId);
  t.equal(own.statusCode, 200, 'the client’s portal: 200');
  t.match(own.json(), { deadlines: [{ matter: { id: busy.id }, due_date: '2026-12-07', consequence: /逾期未上诉/ }], hearings: [{ court: '北京市朝阳区人民法院', starts_at: '2026-12-04T06:00:00.000Z' }] }, 'its deadline with the consequence, and its hearing');
  t.equal(own.json().deadlines.length, 1, 'nothing of other matters');
  const stranger = await portal(matter.clientId);
  t.notOk(stranger.json().hearings.some((x: { matter: { id: number } }) => x.matter.id === busy.id), 'another client sees none of it');
  t.notOk(stranger.json().deadlines.some((x: { title: string }) => /冻结/.test(x.title)), 'nor a deadline kept from its own client');
  t.equal((await api('GET', '/api/portal/milestones', lawyer)).statusCode, 401, 'a staff session is not a portal session');

  const cancelled = await api('POST', `/api/hearings/${h.json().hearing.id}/cancel`, lawyer, { reason: '法院通知延期' });
  t.equal(cancelled.json().status, 'cancelled', 'cancelled');
  t.equal((await noticesLike(`hearing.cancelled:${h.json().hearing.id}`)).length, 0, 'the client was never told of it, so is not told of the cancellation');
  t.same((await upcomingCounts(db, clock.now())).hearings, { today: 1, this_week: 1 }, 'a cancelled hearing is not counted');
});

t.test('fuzz: the calendar route loads a valid file or refuses it without a change', async (t) => {
  const rand = mulberry32(0x2031);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const dates = ['2031-01-01', '2031-01-04', '2031-02-01', '2031-02-08', '2031-02-09', '2031-02-10', '2031-13-01', '2031-02-29', '2030-12-31', '2031-10-01', '2031-10-07', 'x'];
  const fingerprint = async () => JSON.stringify((await api('GET', '/api/deadlines/calendars', it)).json().map((y: Record<string, unknown>) => [y.year, y.off, y.workdays, y.notice]));
  let loaded = 0;
  let refused = 0;
  for (let i = 0; i < 40; i++) {
    const off = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => [pick(dates), pick(dates)]);
    const workdays = Array.from({ length: Math.floor(rand() * 3) }, () => pick(dates));
    const body = { years: { '2031': { notice: rand() < 0.9 ? '测试2031' : '', off, workdays } } };
    const before = await fingerprint();
    const res = await api('POST', '/api/deadlines/calendars', it, body);
    if (res.statusCode === 200) loaded++;
    else if (res.statusCode === 400 && isErrorShape(res.json())) {
      refused++;
      if ((await fingerprint()) !== before) t.fail(`a refused file changed the calendar: ${JSON.stringify(body)}`);
    } else t.fail(`${JSON.stringify(body)}: ${res.statusCode} ${res.body}`);
  }
  t.ok(loaded > 0 && refused > 0, `both outcomes (${loaded} loaded, ${refused} refused)`);
});
