import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../shared/api.js';
import type { AppProps } from '../shared/boot.js';
import { LangToggle, useLang, useT } from '../shared/i18n.js';
import { reportError, useTopic } from '../shared/live.js';
import { useSnapshot } from '../shared/snapshot.js';
import { Clock, ConnectionDot, ErrorText, hhmmss, Spinner, StaleBanner } from '../shared/ui.js';
import type { EChartsType } from './charts.js';
import { S } from './strings.js';
import './wall.css';

export interface Stats {
  generated_at: string;
  matters: { new_this_month: number; open: number; closed_this_month: number; by_type: { type: string; label_zh: string; count: number }[]; new_by_month: { month: string; count: number }[] };
  hearings: { today: number | null; this_week: number | null } | null;
  deadlines: { due_7_days: number; overdue: number } | null;
  visitors: { on_site: number; today: number };
  rooms: { in_use: number; total: number; list: { id: string; name: string; in_use: boolean; meeting_title: string | null }[] };
  devices: { online: number; offline: number; total: number };
  revenue: { this_month: number | string; this_year: number | string } | null;
}

const PALETTE = ['#4b8df8', '#34c486', '#f0b43c', '#ef6a5a', '#9b7cf6', '#3cc6d8', '#e58bd0', '#8aa0c2'];
const WIDTH = 1920;
const HEIGHT = 1080;

/** The dashboard is laid out for 1920×1080 and scaled to whatever screen it is on. */
function useFitScale(): number {
  const fit = () => Math.min(window.innerWidth / WIDTH, window.innerHeight / HEIGHT);
  const [scale, setScale] = useState(fit);
  useEffect(() => {
    const onResize = () => setScale(fit());
    window.addEventListener('resize', onResize);
    return () => window.removeEventListener('resize', onResize);
  }, []);
  return scale;
}

const count = (n: number | null | undefined) => (typeof n === 'number' && Number.isFinite(n) ? n.toLocaleString('zh-CN') : '—');

export function WallApp({ kiosk }: AppProps) {
  const t = useT(S);
  const scale = useFitScale();
  const snap = useSnapshot<Stats>((signal) => api<Stats>('GET', '/api/kiosk/wall/stats', undefined, signal), 'stats');
  useTopic('stats:wall', (data) => {
    if (data.type === 'stats' && data.stats && typeof data.stats === 'object') snap.setData(() => data.stats as Stats);
  });
  const stats = snap.data;

  return (
    <div class="wall-viewport">
      <StaleBanner />
      <div class="wall" style={{ transform: `scale(${scale})`, left: `${(window.innerWidth - WIDTH * scale) / 2}px`, top: `${(window.innerHeight - HEIGHT * scale) / 2}px` }}>
        <header class="wall-header">
          <div class="wall-brand">
            <span class="wall-title">{t('title')}</span>
            <span class="wall-sub">{kiosk.name}</span>
          </div>
          <div class="wall-header-right">
            {stats && (
              <span class="wall-updated" data-testid="wall-updated-at" data-generated-at={stats.generated_at}>
                {t('updatedAt', { time: hhmmss(new Date(stats.generated_at)) })}
              </span>
            )}
            <ConnectionDot />
            <LangToggle />
            <Clock date seconds />
          </div>
        </header>
        {stats ? (
          <Dashboard stats={stats} />
        ) : (
          <div class="wall-loading">
            {snap.error && !snap.error.transient ? (
              <div class="wall-error">
                <h2>{t('loadFailed')}</h2>
                <ErrorText error={snap.error} />
              </div>
            ) : (
              <Spinner />
            )}
          </div>
        )}
      </div>
    </div>
  );
}

function Kpi({ testId, label, value, unit, sub, tone }: { testId: string; label: string; value: string; unit: string; sub?: string; tone?: 'warn' | 'ok' | 'accent' }) {
  return (
    <div class={`kpi ${tone ? `kpi-${tone}` : ''}`} data-testid={testId}>
      <span class="kpi-label">{label}</span>
      <span class="kpi-value">
        <span class="kpi-number">{value}</span>
        {unit && value !== '—' && <span class="kpi-unit">{unit}</span>}
      </span>
      {sub && <span class="kpi-sub">{sub}</span>}
    </div>
  );
}

function money(v: number | string, lang: 'zh' | 'en'): string {
  const n = Number(v);
  if (!Number.isFinite(n)) return '—';
  if (lang === 'zh' && Math.abs(n) >= 100_000) return `¥${(n / 10_000).toLocaleString('zh-CN', { maximumFractionDigits: 1 })}万`;
  return `¥${n.toLocaleString(lang === 'zh' ? 'zh-CN' : 'en', { maximumFractionDigits: 0 })}`;
}

function Dashboard({ stats }: { stats: Stats }) {
  const t = useT(S);
  const { lang } = useLang();
  const m = stats.matters;
  const hearingsWeek = stats.hearings?.this_week ?? null;
  return (
    <main class="wall-body">
      <section class="kpis">
        <Kpi testId="wall-kpi-matters-open" label={t('mattersOpen')} value={count(m.open)} unit={t('unitMatters')} tone="accent" />
        <Kpi testId="wall-kpi-matters-new" label={t('mattersNew')} value={count(m.new_this_month)} unit={t('unitMatters')} />
        <Kpi testId="wall-kpi-matters-closed" label={t('mattersClosed')} value={count(m.closed_this_month)} unit={t('unitMatters')} />
        <Kpi
          testId="wall-kpi-hearings"
          label={t('hearings')}
          value={count(stats.hearings?.today)}
          unit={t('unitTimes')}
          sub={t('hearingsWeek', { n: hearingsWeek === null ? '—' : count(hearingsWeek) })}
        />
        <Kpi
          testId="wall-kpi-deadlines"
          label={t('deadlines')}
          value={count(stats.deadlines?.due_7_days)}
          unit={t('unitItems')}
          sub={stats.deadlines?.overdue ? t('overdue', { n: count(stats.deadlines.overdue) }) : undefined}
          tone={stats.deadlines?.overdue ? 'warn' : undefined}
        />
        <Kpi testId="wall-kpi-visitors" label={t('visitors')} value={count(stats.visitors.on_site)} unit={t('unitPeople')} sub={t('visitorsToday', { n: count(stats.visitors.today) })} />
        <Kpi testId="wall-kpi-rooms" label={t('rooms')} value={count(stats.rooms.in_use)} unit={t('unitRooms')} sub={t('roomsOf', { n: count(stats.rooms.total) })} />
        <Kpi
          testId="wall-kpi-devices"
          label={t('devices')}
          value={count(stats.devices.online)}
          unit={t('unitDevices')}
          sub={`/ ${count(stats.devices.total)}${stats.devices.offline ? ` · ${t('devicesOffline', { n: count(stats.devices.offline) })}` : ''}`}
          tone={stats.devices.offline ? 'warn' : 'ok'}
        />
      </section>
      <section class="wall-grid">
        <div class="panel panel-chart">
          <h2 class="panel-title">{t('chartMatters')}</h2>
          <Chart testId="wall-chart-matters" option={mattersOption(stats, t('seriesNew'), lang)} empty={!m.new_by_month.length} />
        </div>
        <div class="panel panel-chart">
          <h2 class="panel-title">{t('chartTypes')}</h2>
          <Chart testId="wall-chart-types" option={typesOption(stats)} empty={!m.by_type.some((x) => x.count > 0)} />
        </div>
        <div class="wall-side">
          <div class="panel panel-rooms" data-testid="wall-rooms">
            <h2 class="panel-title">
              {t('roomList')}
              <span class="panel-count">
                {stats.rooms.in_use}/{stats.rooms.total}
              </span>
            </h2>
            {stats.rooms.list.length === 0 && <p class="muted">{t('noRooms')}</p>}
            <ul class="rooms">
              {stats.rooms.list.map((r) => (
                <li key={r.id} class={`room ${r.in_use ? 'busy' : ''}`}>
                  <span class="room-dot" aria-hidden="true" />
                  <span class="room-text">
                    <span class="room-name">{r.name}</span>
                    {r.in_use && r.meeting_title && <span class="room-meeting">{r.meeting_title}</span>}
                  </span>
                  <span class={`pill ${r.in_use ? 'pill-warn' : 'pill-ok'}`}>{r.in_use ? t('inUse') : t('free')}</span>
                </li>
              ))}
            </ul>
          </div>
          {stats.revenue && (
            <div class="revenue" data-testid="wall-kpi-revenue">
              <div class="rev">
                <span class="kpi-label">{t('revenueMonth')}</span>
                <span class="rev-value">{money(stats.revenue.this_month, lang)}</span>
              </div>
              <div class="rev">
                <span class="kpi-label">{t('revenueYear')}</span>
                <span class="rev-value">{money(stats.revenue.this_year, lang)}</span>
              </div>
            </div>
          )}
        </div>
      </section>
    </main>
  );
}

const AXIS = { axisLine: { lineStyle: { color: '#2b3f61' } }, axisLabel: { color: '#94a3bd', fontSize: 18 }, splitLine: { lineStyle: { color: '#1e2f4c' } } };
const FONT = '"Noto Sans CJK SC", "WenQuanYi Micro Hei", "PingFang SC", "Microsoft YaHei", sans-serif';

function mattersOption(stats: Stats, seriesName: string, lang: 'zh' | 'en') {
  const months = stats.matters.new_by_month;
  const labels = months.map((x) => {
    const [y, mo] = x.month.split('-');
    return lang === 'zh' ? `${Number(mo)}月` : `${mo}/${y.slice(2)}`;
  });
  const values = months.map((x) => x.count);
  return {
    textStyle: { fontFamily: FONT },
    color: PALETTE,
    grid: { left: 56, right: 24, top: 36, bottom: 40 },
    tooltip: { trigger: 'axis', textStyle: { fontSize: 18 } },
    xAxis: { type: 'category', data: labels, ...AXIS, axisTick: { show: false } },
    yAxis: { type: 'value', minInterval: 1, ...AXIS },
    series: [
      {
        name: seriesName,
        type: 'bar',
        data: values,
        barWidth: '52%',
        itemStyle: { borderRadius: [6, 6, 0, 0], color: '#3c7ff0' },
        label: { show: true, position: 'top', color: '#e8eef8', fontSize: 18 },
      },
      { name: seriesName, type: 'line', data: values, smooth: true, symbol: 'circle', symbolSize: 8, lineStyle: { width: 3, color: '#f0b43c' }, itemStyle: { color: '#f0b43c' }, tooltip: { show: false } },
    ],
    animationDuration: 600,
  };
}

function typesOption(stats: Stats) {
  const data = stats.matters.by_type.filter((x) => x.count > 0).map((x) => ({ name: x.label_zh || x.type, value: x.count }));
  return {
    textStyle: { fontFamily: FONT },
    color: PALETTE,
    tooltip: { trigger: 'item', textStyle: { fontSize: 18 }, formatter: '{b}: {c} ({d}%)' },
    // Counts sit in the legend, so slice labels cannot collide with it on a crowded pie.
    legend: {
      orient: 'horizontal',
      left: 'center',
      bottom: 4,
      textStyle: { color: '#c9d4e6', fontSize: 20 },
      itemWidth: 16,
      itemHeight: 16,
      itemGap: 18,
      formatter: (name: string) => `${name}  ${data.find((d) => d.name === name)?.value ?? ''}`,
    },
    series: [
      {
        type: 'pie',
        radius: ['40%', '68%'],
        center: ['50%', '42%'],
        data,
        showEmptyCircle: false,
        itemStyle: { borderColor: '#14223a', borderWidth: 3 },
        label: { show: false },
      },
    ],
    animationDuration: 600,
  };
}

/** An ECharts chart; ECharts itself is fetched on first use (its own chunk). */
function Chart({ option, testId, empty }: { option: Record<string, unknown>; testId: string; empty: boolean }) {
  const t = useT(S);
  const el = useRef<HTMLDivElement>(null);
  const chart = useRef<EChartsType | null>(null);
  const latest = useRef(option);
  latest.current = option;
  useEffect(() => {
    let disposed = false;
    import('./charts.js').then(
      ({ createChart }) => {
        if (disposed || !el.current) return;
        chart.current = createChart(el.current);
        chart.current.setOption(latest.current);
      },
      (err) => reportError(err),
    );
    return () => {
      disposed = true;
      chart.current?.dispose();
      chart.current = null;
    };
  }, []);
  useEffect(() => {
    chart.current?.setOption(option, { notMerge: true });
  }, [JSON.stringify(option)]);
  return (
    <div class="chart-wrap">
      <div class="chart" ref={el} data-testid={testId} />
      {empty && <div class="chart-empty">{t('noData')}</div>}
    </div>
  );
}
