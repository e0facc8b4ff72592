import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { common, localMessage, useLang, useT } from './i18n.js';
import { useLiveStatus } from './live.js';
import type { ApiError } from './api.js';

const pad = (n: number) => String(n).padStart(2, '0');
export const hhmmss = (d: Date) => `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
export const hhmm = (d: Date) => `${pad(d.getHours())}:${pad(d.getMinutes())}`;
export const ymd = (d: Date) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
/** "3月5日 14:30" / "Mar 5 14:30" */
export function dayTime(iso: string, lang: 'zh' | 'en'): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '—';
  return lang === 'zh' ? `${d.getMonth() + 1}月${d.getDate()}日 ${hhmm(d)}` : `${d.toLocaleString('en', { month: 'short' })} ${d.getDate()} ${hhmm(d)}`;
}

/** The time now, re-rendered every second. */
export function useNow(intervalMs = 1000): Date {
  const [now, setNow] = useState(() => new Date());
  useEffect(() => {
    const timer = setInterval(() => setNow(new Date()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}

export function Clock({ seconds = false, date = false }: { seconds?: boolean; date?: boolean }) {
  const now = useNow();
  const { lang } = useLang();
  const weekday = now.toLocaleDateString(lang === 'zh' ? 'zh-CN' : 'en', { weekday: 'short' });
  return (
    <span class="clock">
      {date && <span class="clock-date">{lang === 'zh' ? `${now.getMonth() + 1}月${now.getDate()}日 ${weekday}` : `${weekday} ${now.toLocaleDateString('en', { month: 'short', day: 'numeric' })}`}</span>}
      <span class="clock-time">{seconds ? hhmmss(now) : hhmm(now)}</span>
    </span>
  );
}

/** Shown while the live connection is down or the data has not been refreshed for a minute. */
export function StaleBanner() {
  const t = useT(common);
  const { state, stale, lastDataAt } = useLiveStatus();
  if (!stale) return null;
  return (
    <div class="stale-banner" role="status" data-testid="stale-banner">
      <span class="stale-dot" aria-hidden="true" />
      <span>{state === 'open' ? t('staleOld') : t('staleOffline')}</span>
      <span class="stale-sep">·</span>
      <span>{t('lastUpdated', { time: lastDataAt ? hhmmss(new Date(lastDataAt)) : '—' })}</span>
    </div>
  );
}

export function ConnectionDot() {
  const t = useT(common);
  const { state, stale } = useLiveStatus();
  const ok = state === 'open' && !stale;
  return (
    <span class={`conn ${ok ? 'conn-ok' : 'conn-down'}`} role="status">
      <span class="conn-dot" aria-hidden="true" />
      {ok ? t('online') : t('offline')}
    </span>
  );
}

export function Spinner({ label }: { label?: string }) {
  return (
    <div class="spinner-wrap" role="status">
      <div class="spinner" aria-hidden="true" />
      {label && <p>{label}</p>}
    </div>
  );
}

/** An API error in the screen's language. */
export function ErrorText({ error }: { error: ApiError | string | null }) {
  const { lang } = useLang();
  if (!error) return null;
  return (
    <p class="error-text" role="alert">
      {localMessage(typeof error === 'string' ? error : error.message, lang)}
    </p>
  );
}

export function useErrorText(): (error: ApiError | null) => string {
  const { lang } = useLang();
  return (error) => (error ? localMessage(error.message, lang) : '');
}

export function FullScreen({ tone = 'plain', testId, children }: { tone?: 'plain' | 'warn' | 'error'; testId?: string; children: ComponentChildren }) {
  return (
    <div class={`fullscreen fullscreen-${tone}`} data-testid={testId}>
      <div class="fullscreen-card">{children}</div>
    </div>
  );
}
