import type { Lang } from '../shared/i18n.js';

/** The firm's clock: dates and times read as the firm and the courts read them, wherever the client is. */
const ZONE = 'Asia/Shanghai';

function parts(iso: string): Record<string, string> | null {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return null;
  const out: Record<string, string> = {};
  for (const p of new Intl.DateTimeFormat('en-GB', { timeZone: ZONE, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(d)) {
    out[p.type] = p.value;
  }
  return out;
}

/** "2026年3月5日" / "5 Mar 2026" */
export function day(iso: string | null, lang: Lang): string {
  if (!iso) return '—';
  // A calendar date ('YYYY-MM-DD') is a day already, not an instant.
  const p = /^\d{4}-\d{2}-\d{2}$/.test(iso) ? { year: iso.slice(0, 4), month: iso.slice(5, 7), day: iso.slice(8, 10) } : parts(iso);
  if (!p) return '—';
  if (lang === 'zh') return `${p.year}年${Number(p.month)}月${Number(p.day)}日`;
  const month = new Date(Date.UTC(2000, Number(p.month) - 1, 1)).toLocaleString('en', { month: 'short', timeZone: 'UTC' });
  return `${Number(p.day)} ${month} ${p.year}`;
}

/** "2026年3月5日 14:30" / "5 Mar 2026 14:30" (Beijing time) */
export function dayTime(iso: string | null, lang: Lang): string {
  const p = iso ? parts(iso) : null;
  return p ? `${day(iso, lang)} ${p.hour}:${p.minute}` : '—';
}

/** "¥30,000.00" from the API's exact decimal string. */
export function yuan(amount: string): string {
  const [int, frac = ''] = amount.split('.');
  return `¥${int.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}.${frac.padEnd(2, '0').slice(0, 2)}`;
}

/** A long hash shown in groups so it can be read out and compared. */
export const grouped = (hex: string) => hex.replace(/(.{8})(?=.)/g, '$1 ');
