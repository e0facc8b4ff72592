import { badRequest } from './errors.js';

/**
 * Calendar days in Beijing time. A date in law or in the firm's books (a deadline, the day a fee was
 * paid, "today") is a day in Asia/Shanghai, which is UTC+8 all year (no daylight saving), so plain
 * arithmetic on the offset is exact.
 */
const DAY_MS = 86_400_000;
const SHANGHAI_OFFSET_MS = 8 * 3_600_000;

/** The calendar day in Beijing time of an instant, as a day number (days since 1970-01-01). */
export function shanghaiDayNumber(at: Date): number {
  return Math.floor((at.getTime() + SHANGHAI_OFFSET_MS) / DAY_MS);
}

/** The instant the Beijing-time calendar day of `at` begins (00:00 UTC+8). */
export function shanghaiDayStart(at: Date): Date {
  return new Date(shanghaiDayNumber(at) * DAY_MS - SHANGHAI_OFFSET_MS);
}

/** The instant a Beijing-time calendar month begins; `monthsBack` 0 is the month of `at`. */
export function shanghaiMonthStart(at: Date, monthsBack = 0): Date {
  const d = new Date(at.getTime() + SHANGHAI_OFFSET_MS);
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - monthsBack, 1) - SHANGHAI_OFFSET_MS);
}

/** The calendar day in Beijing time of an instant, `YYYY-MM-DD`. */
export function shanghaiDate(at: Date): string {
  return new Date(shanghaiDayNumber(at) * DAY_MS).toISOString().slice(0, 10);
}

/** The year in Beijing time: a matter opened at 00:30 on 1 January belongs to the new year. */
export function shanghaiYear(at: Date): number {
  return new Date(at.getTime() + SHANGHAI_OFFSET_MS).getUTCFullYear();
}

/** `2026-11-27 09:00:00 (UTC+8)`, for printed records. */
export function shanghaiDateTime(at: Date): string {
  return `${new Date(at.getTime() + SHANGHAI_OFFSET_MS).toISOString().replace('T', ' ').slice(0, 19)} (UTC+8)`;
}

/** `YYYY-MM-DD` → day number, or null when it is not a real calendar day (2026-02-30). */
export function dateDayNumber(date: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!m) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  // There is no year 0, and nothing a law firm records happened before 1900.
  if (y < 1900) return null;
  const ms = Date.UTC(y, mo - 1, d);
  const back = new Date(ms);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) return null;
  return ms / DAY_MS;
}

/** `YYYY-MM-DD` naming a real calendar day, else a 400 naming the field. */
export function parseCalendarDate(value: string, field: string): string {
  if (dateDayNumber(value) === null) {
    throw badRequest('INVALID_DATE', `${field}: "${value}" is not a calendar date (YYYY-MM-DD). / ${field}：日期无效。`);
  }
  return value;
}
