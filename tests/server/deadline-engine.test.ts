import { readFileSync } from 'node:fs';
import t from 'tap';
import { AppError } from '../../server/src/errors.js';
import { addMonthsClamped, computeDeadline, RestDayCalendar, RULE_IDS, RULES, type DeadlineResult } from '../../server/src/modules/deadlines/engine.js';
import { parseCalendarDocument } from '../../server/src/modules/deadlines/holidays.js';
import { mulberry32 } from '../helpers/fuzz.js';

/**
 * The deadline engine and the holiday calendar loader, without a database: the shipped calendar
 * (server/data/cn-public-holidays.json, 2024–2026), periods across holidays, adjusted working days,
 * month ends and leap days, a year without a calendar, criminal custody and foreign parties; then
 * both parsers fuzzed against an independent oracle.
 */

const SHIPPED = JSON.parse(readFileSync(new URL('../../server/data/cn-public-holidays.json', import.meta.url), 'utf8')) as {
  years: Record<string, { notice: string; off: [string, string][]; workdays: string[] }>;
};
const calendar = new RestDayCalendar(parseCalendarDocument(SHIPPED));

const compute = (rule: string, trigger_date: string, extra: { foreign?: boolean; in_custody?: boolean; days?: number } = {}): DeadlineResult =>
  computeDeadline(calendar, { rule, trigger_date, ...extra });

/** The 400 code `fn` throws, or what happened instead. */
function errorCode(fn: () => unknown): string {
  try {
    fn();
    return 'no error';
  } catch (err) {
    if (!(err instanceof AppError)) return `not an AppError: ${String(err)}`;
    return err.statusCode === 400 ? err.code : `status ${err.statusCode}`;
  }
}

// ---------------------------------------------------------------------------------------------
// An oracle written from the JSON alone: rest day = inside an off range, or a weekend not listed
// as a working day. Dates compared as strings (ISO order is date order).

const day = (s: string) => Date.parse(`${s}T00:00:00Z`) / 86_400_000;
const iso = (n: number) => new Date(n * 86_400_000).toISOString().slice(0, 10);
function oracleRest(date: string, years = SHIPPED.years): boolean {
  const y = years[date.slice(0, 4)];
  const wd = new Date(`${date}T00:00:00Z`).getUTCDay();
  const weekend = wd === 0 || wd === 6;
  if (!y) return weekend;
  if (y.off.some(([a, b]) => date >= a && date <= b)) return true;
  return weekend && !y.workdays.includes(date);
}

t.test('the shipped calendar loads and holds 2024, 2025 and 2026', async (t) => {
  t.same(calendar.years, [2024, 2025, 2026], 'three years');
  t.ok(calendar.isRestDay(day('2025-10-01')), 'National Day 2025 is a rest day');
  t.notOk(calendar.isRestDay(day('2025-10-11')), 'Saturday 2025-10-11 is an adjusted working day');
  t.ok(calendar.isRestDay(day('2025-10-12')), 'Sunday 2025-10-12 is an ordinary rest day');
  t.notOk(calendar.isRestDay(day('2025-10-09')), 'Thursday 2025-10-09 is back at work');
});

t.test('the registry holds the contract rules with citations in both languages', async (t) => {
  for (const id of [
    'civil_appeal_judgment',
    'civil_appeal_ruling',
    'admin_appeal_judgment',
    'admin_appeal_ruling',
    'criminal_appeal_judgment',
    'criminal_appeal_ruling',
    'enforcement_application',
    'civil_reply',
    'appeal_reply',
    'evidence_first_instance',
    'evidence_appeal_new',
    'evidence_simplified',
    'evidence_small_claims',
    'service_by_publication',
    'admin_enforcement_application',
  ]) {
    const rule = RULES.get(id);
    t.ok(rule, `${id} is registered`);
    if (!rule) continue;
    t.match(rule.basis.zh, /第.+条/, `${id} cites an article in Chinese`);
    t.match(rule.basis.en, /art\./, `${id} cites an article in English`);
  }
  t.same(
    Object.fromEntries(['civil_appeal_judgment', 'civil_appeal_ruling', 'admin_appeal_judgment', 'admin_appeal_ruling', 'criminal_appeal_judgment', 'criminal_appeal_ruling', 'civil_reply', 'appeal_reply', 'service_by_publication'].map((id) => [id, RULES.get(id)!.period.count])),
    { civil_appeal_judgment: 15, civil_appeal_ruling: 10, admin_appeal_judgment: 15, admin_appeal_ruling: 10, criminal_appeal_judgment: 10, criminal_appeal_ruling: 5, civil_reply: 15, appeal_reply: 15, service_by_publication: 30 },
    'the statutory day counts',
  );
  t.same(RULES.get('enforcement_application')!.period, { unit: 'year', count: 2 }, 'enforcement: two years');
  t.match(RULES.get('civil_appeal_judgment')!.basis.zh, /第一百七十一条/, 'civil appeals cite 民事诉讼法 §171');
  t.match(RULES.get('admin_appeal_judgment')!.basis.zh, /行政诉讼法》第八十五条/, 'administrative appeals cite 行政诉讼法 §85');
  t.match(RULES.get('criminal_appeal_ruling')!.basis.zh, /第二百三十条/, 'criminal appeals cite 刑事诉讼法 §230');
  t.match(RULES.get('enforcement_application')!.basis.zh, /第二百五十条/, 'enforcement cites 民事诉讼法 §250');
  t.match(RULES.get('admin_enforcement_application')!.basis.zh, /第一百五十三条/, 'administrative enforcement cites 解释 §153');
  t.match(RULES.get('service_by_publication')!.basis.zh, /第九十五条/, 'publication cites §95');
});

t.test('periods of days across the National Day holiday 2025', async (t) => {
  // Friday 2025-09-26 + 10: day 10 is 2025-10-06, inside 10-01..10-08; the next working day is Thursday 10-09.
  const ruling = compute('civil_appeal_ruling', '2025-09-26');
  t.equal(ruling.nominal_due, '2025-10-06', 'the tenth day after service is 2025-10-06');
  t.equal(ruling.due, '2025-10-09', 'it is a holiday, so the period ends on the next working day');
  t.equal(ruling.extended_from, '2025-10-06', 'the result says what it was extended from');
  t.match(ruling.basis, /第八十五条/, 'the basis cites §85');
  t.match(ruling.basis, /2025-10-09/, 'and names the extended date');
  t.same(ruling.warnings, [], 'no warning: 2025 is loaded');

  // + 15 reaches Saturday 2025-10-11, an adjusted working day after the holiday: it stays.
  const judgment = compute('civil_appeal_judgment', '2025-09-26');
  t.equal(judgment.due, '2025-10-11', 'a due date on an adjusted working Saturday stays');
  t.equal(judgment.extended_from, null, 'nothing was extended');
  t.match(judgment.basis, /调休工作日/, 'the basis says why the Saturday counts');

  const admin = compute('admin_appeal_ruling', '2025-09-26');
  t.equal(admin.due, '2025-10-09', 'administrative periods follow the same rule');
  t.match(admin.basis, /第一百零一条/, 'through 行政诉讼法 §101');
});

t.test('Spring Festival 2026 and its adjusted working Saturdays', async (t) => {
  const r = compute('civil_appeal_judgment', '2026-02-01');
  t.equal(r.nominal_due, '2026-02-16', 'day 15 is 2026-02-16');
  t.equal(r.due, '2026-02-24', 'inside 02-15..02-23, so the first working day after it');
  const sat = compute('civil_appeal_ruling', '2026-02-18');
  t.equal(sat.due, '2026-02-28', 'Saturday 2026-02-28 is an adjusted working day: the period ends on it');
  const weekend = compute('civil_appeal_judgment', '2025-03-07');
  t.equal(weekend.nominal_due, '2025-03-22', 'an ordinary Saturday');
  t.equal(weekend.due, '2025-03-24', 'moves to Monday');
});

t.test('months and years end on the corresponding day or the month’s last day (民法典 §201–203)', async (t) => {
  t.equal(iso(addMonthsClamped(day('2024-01-31'), 1)), '2024-02-29', '2024-01-31 + 1 month → 2024-02-29 (leap year)');
  t.equal(iso(addMonthsClamped(day('2023-01-31'), 1)), '2023-02-28', '2023-01-31 + 1 month → 2023-02-28');
  t.equal(iso(addMonthsClamped(day('2024-03-31'), 1)), '2024-04-30', '2024-03-31 + 1 month → 2024-04-30');
  t.equal(iso(addMonthsClamped(day('2024-11-30'), 3)), '2025-02-28', 'across a year end');
  t.equal(iso(addMonthsClamped(day('2024-02-29'), 24)), '2026-02-28', 'leap day + 2 years');
  t.equal(iso(addMonthsClamped(day('2024-02-29'), 48)), '2028-02-29', 'leap day + 4 years is a leap day again');

  const leap = compute('enforcement_application', '2024-02-29');
  t.equal(leap.nominal_due, '2026-02-28', 'enforcement from the leap day ends on 2026-02-28');
  t.equal(leap.due, '2026-02-28', 'an adjusted working Saturday: no extension');
  t.match(leap.basis, /第二百五十条/, 'the basis cites §250');
  t.match(leap.basis, /第二百零二条|二百零一条至第二百零三条/, 'and the Civil Code on month periods');

  const holiday = compute('enforcement_application', '2023-10-01');
  t.equal(holiday.nominal_due, '2025-10-01', 'two years later is National Day');
  t.equal(holiday.due, '2025-10-09', 'extended past the holiday');
  t.same(holiday.period, { unit: 'year', count: 2 }, 'the period is reported');

  const admin = compute('admin_enforcement_application', '2024-05-01');
  t.equal(admin.nominal_due, '2026-05-01', 'administrative enforcement: two years');
  t.equal(admin.due, '2026-05-06', 'Labour Day 2026 (05-01..05-05) extends it');
});

t.test('a year without a loaded calendar still computes, with weekends only, and says so', async (t) => {
  // 2027-01-02 is a Saturday; 2027 is not loaded, so only the weekend counts.
  const r = compute('enforcement_application', '2025-01-02');
  t.equal(r.nominal_due, '2027-01-02', 'two years on');
  t.equal(r.due, '2027-01-04', 'weekend only: Monday');
  t.same(r.missing_years, [2027], 'the missing year is reported');
  t.equal(r.warnings.length, 1, 'one warning');
  t.match(r.warnings[0], /2027/, 'it names the year');
  t.match(r.warnings[0], /lawbox calendar load/, 'it names the admin command');
  t.match(r.warnings[0], /尚未载入2027年/, 'in Chinese too');

  // A walk that starts in a loaded year and crosses into an unloaded one warns as well.
  const years = { '2026': { notice: '测试', off: [['2026-12-31', '2026-12-31']] as [string, string][], workdays: [] as string[] } };
  const synthetic = new RestDayCalendar(parseCalendarDocument({ years }));
  const walked = computeDeadline(synthetic, { rule: 'civil_appeal_judgment', trigger_date: '2026-12-16' });
  t.equal(walked.nominal_due, '2026-12-31', 'the last day is a (test) holiday in 2026');
  t.equal(walked.due, '2027-01-01', 'the walk ends on Friday 2027-01-01');
  t.same(walked.missing_years, [2027], 'the year walked into is named');
  const inside = computeDeadline(synthetic, { rule: 'civil_appeal_judgment', trigger_date: '2026-12-10' });
  t.same(inside.warnings, [], 'a computation that stays inside 2026 has no warning');
});

t.test('criminal appeals: extended over holidays, but not for a person in custody (刑事诉讼法 §105)', async (t) => {
  const free = compute('criminal_appeal_judgment', '2025-09-26');
  t.equal(free.nominal_due, '2025-10-06', 'ten days from the day after receipt');
  t.equal(free.due, '2025-10-09', 'extended past National Day');
  t.match(free.basis, /第一百零五条/, 'cites §105');
  t.match(free.basis, /第二百三十条/, 'and §230');

  const held = compute('criminal_appeal_judgment', '2025-09-26', { in_custody: true });
  t.equal(held.due, '2025-10-06', 'in custody: the period ends on its last day');
  t.equal(held.extended_from, null, 'not extended');
  t.match(held.basis, /在押/, 'the basis says why');
  t.ok(held.warnings.some((w) => /2025-10-06/.test(w) && /custody/.test(w)), 'a warning says the last day is a rest day');

  const ruling = compute('criminal_appeal_ruling', '2026-09-22');
  t.equal(ruling.nominal_due, '2026-09-27', 'five days');
  t.equal(ruling.due, '2026-09-28', 'Mid-Autumn 2026 extends it');
  t.equal(compute('criminal_appeal_ruling', '2026-09-22', { in_custody: true }).due, '2026-09-27', 'not in custody');

  const civil = compute('civil_appeal_ruling', '2025-09-26', { in_custody: true });
  t.equal(civil.due, '2025-10-09', 'in_custody does not change a civil period');
  t.ok(civil.warnings.some((w) => /in_custody/.test(w)), 'and is reported as ignored');
});

t.test('a party without domicile in China: 30 days for civil appeals and replies (§285, §286)', async (t) => {
  const r = compute('civil_appeal_judgment', '2025-09-26', { foreign: true });
  t.same(r.period, { unit: 'day', count: 30 }, 'thirty days');
  t.equal(r.nominal_due, '2025-10-26', 'day 30 is Sunday 2025-10-26');
  t.equal(r.due, '2025-10-27', 'so Monday');
  t.match(r.basis, /第二百八十六条/, 'cites §286');
  t.equal(compute('civil_appeal_ruling', '2025-09-26', { foreign: true }).period.count, 30, 'rulings too');
  const reply = compute('civil_reply', '2025-09-26', { foreign: true });
  t.equal(reply.period.count, 30, 'the reply to a complaint');
  t.match(reply.basis, /第二百八十五条/, 'cites §285');
  t.equal(compute('appeal_reply', '2025-09-26', { foreign: true }).period.count, 30, 'the reply to an appeal');

  const criminal = compute('criminal_appeal_judgment', '2025-09-26', { foreign: true });
  t.equal(criminal.period.count, 10, 'foreign does not apply to a criminal appeal');
  t.ok(criminal.warnings.some((w) => /foreign/.test(w)), 'a warning, not an error');
  t.equal(compute('admin_appeal_judgment', '2025-09-26', { foreign: true }).period.count, 15, 'nor to an administrative appeal');
});

t.test('evidence periods the court sets: the statutory bound by default, the notice’s days when given', async (t) => {
  const r = compute('evidence_first_instance', '2025-06-03');
  t.equal(r.period.count, 15, 'first instance: at least 15 days');
  t.match(r.basis, /通知书/, 'the basis says the court’s notice governs');
  t.equal(compute('evidence_small_claims', '2025-06-03').period.count, 7, 'small claims: up to 7 days');
  t.equal(compute('evidence_appeal_new', '2025-06-03').period.count, 10, 'new evidence on appeal: at least 10 days');
  t.equal(compute('evidence_simplified', '2025-06-03').period.count, 15, 'simplified: up to 15 days');
  const set = compute('evidence_first_instance', '2025-06-03', { days: 30 });
  t.equal(set.nominal_due, '2025-07-03', 'the notice’s 30 days');
  t.same(set.warnings, [], 'within the bound');
  t.ok(compute('evidence_first_instance', '2025-06-03', { days: 10 }).warnings.some((w) => /minimum/.test(w)), 'below the minimum: warned');
  t.ok(compute('evidence_small_claims', '2025-06-03', { days: 20 }).warnings.some((w) => /maximum/.test(w)), 'above the maximum: warned');
  t.equal(errorCode(() => compute('civil_appeal_judgment', '2025-06-03', { days: 20 })), 'DAYS_NOT_ALLOWED', 'a statutory period takes no days');
});

t.test('service by publication is deemed made 30 days after publication', async (t) => {
  const r = compute('service_by_publication', '2025-04-01');
  t.equal(r.nominal_due, '2025-05-01', 'thirty days');
  t.equal(r.due, '2025-05-06', 'Labour Day 2025 (05-01..05-05)');
});

t.test('bad input is a 400 that names the problem', async (t) => {
  t.equal(errorCode(() => compute('no_such_rule', '2025-01-01')), 'UNKNOWN_RULE', 'an unknown rule');
  for (const bad of ['2025-02-30', '2025-02-29', '2025-13-01', '2025-2-3', '20250203', 'tomorrow', '', '2025-02-03T00:00:00Z', '1800-01-01', '9999-12-31']) {
    t.equal(errorCode(() => compute('civil_appeal_judgment', bad)), 'INVALID_DATE', `"${bad}" is refused`);
  }
  t.equal(errorCode(() => compute('civil_appeal_judgment', '2024-02-29')), 'no error', 'a real leap day is accepted');
});

t.test('the calendar loader refuses each kind of mistake, naming it', async (t) => {
  const year = (patch: Record<string, unknown>) => ({ years: { '2027': { notice: '国务院办公厅关于2027年部分节假日安排的通知', off: [['2027-01-01', '2027-01-03']], workdays: ['2027-01-09'], ...patch } } });
  const refused = (doc: unknown, pattern: RegExp, what: string) => {
    try {
      parseCalendarDocument(doc);
      t.fail(`${what}: accepted`);
    } catch (err) {
      t.ok(err instanceof AppError && err.statusCode === 400 && err.code === 'INVALID_CALENDAR', `${what}: INVALID_CALENDAR`);
      t.match((err as Error).message, pattern, `${what}: the message names it`);
      t.match((err as Error).message, /nothing changed/, `${what}: and says nothing changed`);
    }
  };
  t.same(parseCalendarDocument(year({})), [{ year: 2027, notice: '国务院办公厅关于2027年部分节假日安排的通知', off: [['2027-01-01', '2027-01-03']], workdays: ['2027-01-09'] }], 'a good year parses');
  refused(year({ off: [['2026-12-31', '2027-01-02']] }), /2026-12-31 is not in 2027/, 'a date outside the year');
  refused(year({ off: [['2027-02-10', '2027-02-05']] }), /ends .* before it starts/, 'a range ending before it starts');
  refused(year({ off: [['2027-05-01', '2027-05-05'], ['2027-02-06', '2027-02-12']] }), /date order/, 'ranges out of order');
  refused(year({ off: [['2027-05-01', '2027-05-05'], ['2027-05-05', '2027-05-07']] }), /overlap/, 'overlapping ranges');
  refused(year({ workdays: ['2027-01-11'] }), /not a Saturday or Sunday/, 'a weekday listed as an adjusted working day');
  refused(year({ workdays: ['2027-01-02'] }), /inside a holiday range/, 'a working day inside a holiday');
  refused(year({ workdays: ['2027-01-09', '2027-01-09'] }), /listed twice/, 'a duplicate working day');
  refused(year({ off: [['2027-02-30', '2027-03-01']] }), /not a date/, 'an impossible date');
  refused(year({ off: [['2027-01-01', '2027-03-01']] }), /longer than 31 days/, 'a range of two months');
  refused(year({ notice: '' }), /notice/, 'a missing notice');
  refused(year({ holidays: [] }), /unknown field/, 'an unknown field');
  refused({ years: { '27': year({}).years['2027'] } }, /year from/, 'a key that is not a year');
  refused({ years: {} }, /no year/, 'no year at all');
  refused([], /JSON object/, 'an array');
  refused({ years: { '2027': year({}).years['2027'], '2028': { notice: 'x', off: [['2027-01-01', '2027-01-01']], workdays: [] } } }, /2028/, 'one bad year among good ones refuses the whole file');
});

t.test('fuzz: the engine agrees with an independent oracle and never fails on odd input', async (t) => {
  const rand = mulberry32(0x5eed_2026);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const dayRules = RULE_IDS.filter((id) => RULES.get(id)!.period.unit === 'day');
  let checked = 0;
  for (let i = 0; i < 3000; i++) {
    const trigger = iso(day('2023-06-01') + Math.floor(rand() * 1300));
    const rule = pick(RULE_IDS);
    const inCustody = rand() < 0.2;
    const foreign = rand() < 0.2;
    const r = computeDeadline(calendar, { rule, trigger_date: trigger, in_custody: inCustody, foreign });
    const spec = RULES.get(rule)!;
    if (r.due < r.nominal_due) t.fail(`${rule} ${trigger}: due before the nominal day`);
    const custody = inCustody && spec.procedure === 'criminal';
    if (custody) {
      if (r.due !== r.nominal_due) t.fail(`${rule} ${trigger}: custody periods are not extended`);
    } else {
      // The oracle: the first day from the nominal one that is not a rest day.
      let expect = r.nominal_due;
      while (oracleRest(expect)) expect = iso(day(expect) + 1);
      if (r.due !== expect) t.fail(`${rule} ${trigger}: due ${r.due}, oracle ${expect}`);
    }
    if (dayRules.includes(rule)) {
      const count = foreign && spec.foreign ? spec.foreign.period.count : spec.period.count;
      if (r.nominal_due !== iso(day(trigger) + count)) t.fail(`${rule} ${trigger}: day ${count} should be trigger + ${count}`);
    }
    // Missing years: those of every day looked at (nominal..due) without a calendar; in custody only
    // a rest day is looked at (to warn that it is not extended).
    const looked = custody ? (oracleRest(r.nominal_due) ? [r.nominal_due] : []) : Array.from({ length: day(r.due) - day(r.nominal_due) + 1 }, (_, k) => iso(day(r.nominal_due) + k));
    const expectMissing = [...new Set(looked.map((d) => Number(d.slice(0, 4))))].filter((y) => !SHIPPED.years[String(y)]).sort();
    if (JSON.stringify(expectMissing) !== JSON.stringify(r.missing_years)) t.fail(`${rule} ${trigger}: missing ${r.missing_years}, expected ${expectMissing}`);
    if (r.warnings.filter((w) => /No public-holiday calendar/.test(w)).length !== expectMissing.length) t.fail(`${rule} ${trigger}: one warning per missing year`);
    checked++;
  }
  t.equal(checked, 3000, 'every random case computed');

  const noise = ['', ' ', '2025-02-29', '2025-00-10', '0000-01-01', '2025-1-1', '２０２５-01-01', '2025-01-01 ', '\u0000', '{}', '2025-01-32', '2100-12-31', '1989-12-31'];
  for (let i = 0; i < 2000; i++) {
    const trigger =
      rand() < 0.5
        ? pick(noise)
        : Array.from({ length: Math.floor(rand() * 12) }, () => String.fromCharCode(32 + Math.floor(rand() * 95))).join('');
    const rule = rand() < 0.9 ? pick(RULE_IDS) : pick(['', 'CIVIL_APPEAL_JUDGMENT', '__proto__', 'constructor', 'x'.repeat(200)]);
    const code = errorCode(() => computeDeadline(calendar, { rule, trigger_date: trigger, days: rand() < 0.1 ? Math.floor(rand() * 500) - 50 : undefined }));
    if (!['no error', 'INVALID_DATE', 'UNKNOWN_RULE', 'DAYS_NOT_ALLOWED', 'INVALID_DAYS'].includes(code)) t.fail(`${JSON.stringify(rule)} ${JSON.stringify(trigger)}: ${code}`);
  }
  t.pass('odd input gives a 400 or a result, nothing else');
});

t.test('fuzz: the calendar loader returns a valid calendar or a 400, for any mutation of a good file', async (t) => {
  const rand = mulberry32(0xca1e_2027);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const junk = (): unknown => pick([null, 0, -1, 1.5, '', 'x', '2025-02-30', '2025-10-01', [], {}, ['2025-10-01'], ['2025-10-01', '2025-10-02', '2025-10-03'], true, '2024-12-31', '2025-10-04']);
  let accepted = 0;
  for (let i = 0; i < 1500; i++) {
    const doc = structuredClone(SHIPPED) as unknown as { years: Record<string, Record<string, unknown>> };
    for (let m = 0; m < 1 + Math.floor(rand() * 3); m++) {
      const key = pick(Object.keys(doc.years));
      const y = doc.years[key]!;
      const field = pick(['off', 'workdays', 'notice', 'extra', 'key']);
      if (field === 'key') {
        doc.years[pick(['2027', '27', 'abcd', '1900', '2024'])] = y;
      } else if (field === 'extra') {
        y[pick(['extra', 'about'])] = junk();
      } else if (field === 'notice') {
        y.notice = junk();
      } else {
        const list = Array.isArray(y[field]) ? (y[field] as unknown[]) : [];
        const at = Math.floor(rand() * (list.length + 1));
        if (rand() < 0.5) list.splice(at, 1);
        else list.splice(at, 0, field === 'off' ? [junk(), junk()] : junk());
        y[field] = rand() < 0.05 ? junk() : list;
      }
    }
    try {
      const years = parseCalendarDocument(doc);
      accepted++;
      for (const y of years) {
        for (const [from, to] of y.off) if (!(from <= to && from.startsWith(String(y.year)) && to.startsWith(String(y.year)))) t.fail(`accepted a bad range ${from}..${to} in ${y.year}`);
        for (let k = 1; k < y.off.length; k++) if (y.off[k]![0] <= y.off[k - 1]![1]) t.fail(`accepted overlapping ranges in ${y.year}`);
        for (const w of y.workdays) {
          const wd = new Date(`${w}T00:00:00Z`).getUTCDay();
          if (!(wd === 0 || wd === 6) || y.off.some(([a, b]) => w >= a && w <= b)) t.fail(`accepted a bad working day ${w}`);
        }
      }
    } catch (err) {
      if (!(err instanceof AppError && err.code === 'INVALID_CALENDAR' && err.message.length < 4000)) t.fail(`not a clean refusal: ${String(err)}`);
    }
  }
  t.ok(accepted > 0, `some mutations are still valid files (${accepted})`);
});
