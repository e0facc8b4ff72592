import { dateDayNumber } from '../../calendar.js';
import { badRequest } from '../../errors.js';
import { dayToDate, type CalendarYear } from './engine.js';

/**
 * The holiday calendar file: the shape of server/data/cn-public-holidays.json, one or more years of
 * the State Council's arrangement. `{"about"?, "years": {"2027": {"notice", "off": [[from, to], …],
 * "workdays": [day, …]}}}`. Parsed here, without a database, so the migration, the API and the CLI
 * refuse the same mistakes with the same words.
 */

/** The longest public holiday is nine days; a longer range is a typing error. */
export const MAX_OFF_RANGE_DAYS = 31;
export const MAX_YEARS_PER_FILE = 20;
const MAX_ENTRIES = 60;
const MAX_PROBLEMS = 10;
export const CALENDAR_FIRST_YEAR = 1990;
export const CALENDAR_LAST_YEAR = 2100;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isWeekend = (day: number) => {
  const wd = new Date(day * 86_400_000).getUTCDay();
  return wd === 0 || wd === 6;
};
/** Shortens what a problem quotes from the file, so a hostile file cannot make a huge message. */
const quote = (v: unknown) => {
  const s = typeof v === 'string' ? v : JSON.stringify(v) ?? String(v);
  return JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s);
};

interface Problem {
  en: string;
  zh: string;
}

/** Every year of a calendar document, checked; a 400 naming each problem (up to ten) otherwise. */
export function parseCalendarDocument(doc: unknown): CalendarYear[] {
  const problems: Problem[] = [];
  const add = (en: string, zh: string) => problems.push({ en, zh });
  const years: CalendarYear[] = [];

  if (!isObject(doc)) {
    add('the file must be a JSON object {"years": {…}}', '文件须为 JSON 对象 {"years": {…}}');
  } else {
    for (const key of Object.keys(doc)) if (key !== 'about' && key !== 'years') add(`unknown field ${quote(key)}`, `未知字段 ${quote(key)}`);
    if (doc.about !== undefined && typeof doc.about !== 'string') add('about must be text', 'about 须为文本');
    const entries = isObject(doc.years) ? Object.entries(doc.years) : null;
    if (!entries) add('years must be an object keyed by year, e.g. {"2027": {…}}', 'years 须为以年份为键的对象，例如 {"2027": {…}}');
    else if (entries.length === 0) add('years lists no year', 'years 中没有任何年份');
    else if (entries.length > MAX_YEARS_PER_FILE) add(`at most ${MAX_YEARS_PER_FILE} years per file`, `每个文件最多${MAX_YEARS_PER_FILE}个年份`);
    else for (const [key, value] of entries) {
      const year = parseYear(key, value, add);
      if (year) years.push(year);
    }
  }
  if (problems.length) {
    const shown = problems.slice(0, MAX_PROBLEMS);
    const more = problems.length > MAX_PROBLEMS ? problems.length - MAX_PROBLEMS : 0;
    throw badRequest(
      'INVALID_CALENDAR',
      `The holiday calendar was not loaded, nothing changed: ${shown.map((p) => p.en).join('; ')}${more ? `; and ${more} more` : ''}. Fix the file and load it again. / ` +
        `节假日安排未载入，未作任何更改：${shown.map((p) => p.zh).join('；')}${more ? `；另有${more}处错误` : ''}。请修改文件后重新载入。`,
    );
  }
  return years.sort((a, b) => a.year - b.year);
}

function parseYear(key: string, value: unknown, add: (en: string, zh: string) => void): CalendarYear | null {
  let failures = 0;
  const fail = (en: string, zh: string) => {
    failures++;
    add(`years.${key.slice(0, 10)}: ${en}`, `${key.slice(0, 10)}年：${zh}`);
  };
  if (!/^\d{4}$/.test(key) || Number(key) < CALENDAR_FIRST_YEAR || Number(key) > CALENDAR_LAST_YEAR) {
    fail(`the key must be a year from ${CALENDAR_FIRST_YEAR} to ${CALENDAR_LAST_YEAR}`, `年份须为${CALENDAR_FIRST_YEAR}–${CALENDAR_LAST_YEAR}之间的四位数字`);
    return null;
  }
  const year = Number(key);
  if (!isObject(value)) {
    fail('must be an object {"notice", "off", "workdays"}', '须为对象 {"notice", "off", "workdays"}');
    return null;
  }
  for (const k of Object.keys(value)) if (!['notice', 'off', 'workdays'].includes(k)) fail(`unknown field ${quote(k)}`, `未知字段 ${quote(k)}`);
  const notice = typeof value.notice === 'string' ? value.notice.trim() : '';
  if (!notice || notice.length > 300) fail('notice must name the State Council notice (1–300 characters)', 'notice 须填写国务院办公厅通知名称（1–300字）');

  /** A date of this year as a day number, or null after reporting why not. */
  const dayOf = (v: unknown, where: string, whereZh: string): number | null => {
    const day = typeof v === 'string' ? dateDayNumber(v) : null;
    if (day === null) {
      fail(`${where}: ${quote(v)} is not a date (YYYY-MM-DD)`, `${whereZh}：${quote(v)} 不是有效日期（YYYY-MM-DD）`);
      return null;
    }
    if (new Date(day * 86_400_000).getUTCFullYear() !== year) {
      fail(`${where}: ${v as string} is not in ${year}`, `${whereZh}：${v as string} 不在${year}年内`);
      return null;
    }
    return day;
  };

  const ranges: [number, number][] = [];
  if (!Array.isArray(value.off) || value.off.length === 0 || value.off.length > MAX_ENTRIES) {
    fail(`off must list 1–${MAX_ENTRIES} holiday ranges [from, to]`, `off 须列出1–${MAX_ENTRIES}个放假区间 [起, 止]`);
  } else {
    value.off.forEach((r: unknown, i) => {
      if (!Array.isArray(r) || r.length !== 2) {
        fail(`off[${i}] must be a pair [from, to]`, `off[${i}] 须为 [起, 止]`);
        return;
      }
      const from = dayOf(r[0], `off[${i}][0]`, `off[${i}][0]`);
      const to = dayOf(r[1], `off[${i}][1]`, `off[${i}][1]`);
      if (from === null || to === null) return;
      if (to < from) return fail(`off[${i}] ends (${r[1]}) before it starts (${r[0]})`, `off[${i}] 结束日（${r[1]}）早于开始日（${r[0]}）`);
      if (to - from + 1 > MAX_OFF_RANGE_DAYS) return fail(`off[${i}] is longer than ${MAX_OFF_RANGE_DAYS} days`, `off[${i}] 超过${MAX_OFF_RANGE_DAYS}天`);
      const prev = ranges[ranges.length - 1];
      if (prev && from <= prev[1]) {
        return fail(`off[${i}] (${r[0]}) must start after the previous range ends: list ranges in date order without overlap`, `off[${i}]（${r[0]}）须在上一区间结束后开始：区间应按日期顺序排列且不得重叠`);
      }
      ranges.push([from, to]);
    });
  }

  const workdays = new Set<number>();
  if (!Array.isArray(value.workdays) || value.workdays.length > MAX_ENTRIES) {
    fail(`workdays must be a list of at most ${MAX_ENTRIES} dates`, `workdays 须为不超过${MAX_ENTRIES}个日期的列表`);
  } else {
    value.workdays.forEach((w: unknown, i) => {
      const day = dayOf(w, `workdays[${i}]`, `workdays[${i}]`);
      if (day === null) return;
      if (!isWeekend(day)) return fail(`workdays[${i}] ${w as string} is not a Saturday or Sunday: only weekend days can be adjusted working days`, `workdays[${i}] ${w as string} 不是周六或周日：调休工作日只能是周末`);
      if (workdays.has(day)) return fail(`workdays[${i}] ${w as string} is listed twice`, `workdays[${i}] ${w as string} 重复`);
      if (ranges.some(([a, b]) => day >= a && day <= b)) return fail(`workdays[${i}] ${w as string} lies inside a holiday range`, `workdays[${i}] ${w as string} 与放假区间重叠`);
      workdays.add(day);
    });
  }
  if (failures) return null;
  return { year, notice, off: ranges.map(([a, b]) => [dayToDate(a), dayToDate(b)]), workdays: [...workdays].sort((a, b) => a - b).map(dayToDate) };
}
