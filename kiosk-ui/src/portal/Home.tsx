import { useState } from 'preact/hooks';
import { asApiError, type ApiError } from '../shared/api.js';
import { useLang, useT } from '../shared/i18n.js';
import { useLoad } from '../shared/load.js';
import { ErrorText } from '../shared/ui.js';
import { portalApi, type Confirmation, type EvaluationListItem, type Notice, type NoticePage, type Overview, type PortalMatter } from './api.js';
import { day, dayTime } from './format.js';
import { isPortalLink, navigate, onLinkClick } from './route.js';
import { confirmationStatus, matterStatus, matterType, S } from './strings.js';

/** The overview: what waits for the client, its matters, its lawyer's notices. */
export function HomePage({ overview }: { overview: Overview }) {
  const t = useT(S);
  const me = useLoad((signal) => portalApi<Overview>('GET', '/api/portal/me', undefined, signal), 'me', { refetchOnVisible: true });
  const confirmations = useLoad((signal) => portalApi<Confirmation[]>('GET', '/api/portal/confirmations', undefined, signal), 'confirmations', { refetchOnVisible: true });
  const evaluations = useLoad((signal) => portalApi<EvaluationListItem[]>('GET', '/api/portal/evaluations', undefined, signal), 'evaluations', { refetchOnVisible: true });
  const { client, matters } = me.data ?? overview;
  const rated = new Map((evaluations.data ?? []).map((e) => [e.matter.id, e.evaluated_at]));
  return (
    <div class="page home" data-testid="portal-home">
      <section class="welcome">
        <h1>{t('hello', { name: client.name })}</h1>
        <p class="muted">{t('homeLead')}</p>
      </section>
      <Todo confirmations={confirmations.data} evaluations={evaluations.data} error={confirmations.error ?? evaluations.error} />
      <section class="section" data-testid="portal-matters">
        <h2>{t('mattersTitle')}</h2>
        {matters.length === 0 && <p class="card muted">{t('noMatters')}</p>}
        <div class="grid">
          {matters.map((m) => (
            <MatterCard key={m.id} matter={m} evaluatedAt={rated.get(m.id)} />
          ))}
        </div>
      </section>
      <Notices />
      <ConfirmationHistory items={confirmations.data} />
      <section class="section">
        <div class="card teaser">
          <div>
            <h2>{t('invoiceTeaserTitle')}</h2>
            <p class="muted">{t('invoiceTeaserBody')}</p>
          </div>
          <a class="btn btn-secondary" href="/portal/invoices" data-testid="home-invoices" onClick={onLinkClick('/portal/invoices')}>
            {t('invoiceTeaserAction')}
          </a>
        </div>
      </section>
    </div>
  );
}

function Todo({ confirmations, evaluations, error }: { confirmations: Confirmation[] | null; evaluations: EvaluationListItem[] | null; error: ApiError | null }) {
  const t = useT(S);
  const { lang } = useLang();
  const pending = (confirmations ?? []).filter((c) => c.status === 'pending');
  const unrated = (evaluations ?? []).filter((e) => !e.evaluated_at);
  const loaded = confirmations !== null && evaluations !== null;
  return (
    <section class="section" data-testid="portal-todo">
      <h2>
        {t('todoTitle')}
        {loaded && pending.length + unrated.length > 0 && <span class="count">{pending.length + unrated.length}</span>}
      </h2>
      {error && !loaded && <ErrorText error={error} />}
      {loaded && pending.length + unrated.length === 0 && <p class="card muted">{t('todoNone')}</p>}
      <ul class="todo-list">
        {pending.map((c) => {
          const href = `/portal/confirm/${c.id}`;
          return (
            <li key={`c${c.id}`}>
              <a class="todo" href={href} data-testid="todo-confirmation" onClick={onLinkClick(href)}>
                <span class="todo-kind pill pill-warn">{t('todoConfirm')}</span>
                <span class="todo-title">{c.title}</span>
                <span class="todo-meta">
                  {c.kind_label} · {c.matter.number} · {dayTime(c.requested_at, lang)}
                </span>
              </a>
            </li>
          );
        })}
        {unrated.map((e) => {
          const href = `/portal/evaluate/${e.matter.id}`;
          return (
            <li key={`e${e.matter.id}`}>
              <a class="todo" href={href} data-testid="todo-evaluation" onClick={onLinkClick(href)}>
                <span class="todo-kind pill pill-accent">{t('todoEvaluate')}</span>
                <span class="todo-title">{e.matter.title}</span>
                <span class="todo-meta">
                  {e.matter.number} · {t('closedOn', { date: day(e.matter.closed_at, lang) })}
                </span>
              </a>
            </li>
          );
        })}
      </ul>
    </section>
  );
}

function MatterCard({ matter: m, evaluatedAt }: { matter: PortalMatter; evaluatedAt: string | null | undefined }) {
  const t = useT(S);
  const { lang } = useLang();
  const href = `/portal/evaluate/${m.id}`;
  return (
    <article class="card matter" data-testid="matter-card" data-matter-id={m.id}>
      <div class="matter-top">
        <span class={`pill ${m.status === 'closed' ? '' : m.status === 'open' ? 'pill-ok' : 'pill-warn'}`}>{matterStatus(lang, m.status)}</span>
        <span class="matter-type">{matterType(lang, m.type)}</span>
      </div>
      <h3 class="matter-title">{m.title}</h3>
      <p class="matter-number">{m.number}</p>
      <dl class="facts">
        <dt>{t('lawyer')}</dt>
        <dd>{m.lawyer_name}</dd>
        <dt>{t('openedOn')}</dt>
        <dd>{day(m.opened_at, lang)}</dd>
        {m.closed_at && (
          <>
            <dt>{t('closedOnLabel')}</dt>
            <dd>{day(m.closed_at, lang)}</dd>
          </>
        )}
      </dl>
      {m.status === 'closed' && (
        <a class={`btn ${evaluatedAt ? 'btn-secondary' : 'btn-primary'} btn-sm`} href={href} data-testid="matter-evaluate" onClick={onLinkClick(href)}>
          {evaluatedAt ? t('viewEvaluation') : t('evaluate')}
        </a>
      )}
    </article>
  );
}

const PAGE = 20;

/** The client's notices, newest first, a page at a time; opening one marks it read. */
function Notices() {
  const t = useT(S);
  const { lang } = useLang();
  const [unreadOnly, setUnreadOnly] = useState(false);
  const [more, setMore] = useState<{ items: Notice[]; done: boolean; busy: boolean; error: ApiError | null }>({ items: [], done: false, busy: false, error: null });
  const first = useLoad(
    async (signal) => {
      const page = await portalApi<NoticePage>('GET', `/api/portal/notices?limit=${PAGE}${unreadOnly ? '&unread=true' : ''}`, undefined, signal);
      setMore({ items: [], done: page.items.length < PAGE, busy: false, error: null });
      return page;
    },
    `notices:${unreadOnly}`,
    { refetchOnVisible: true },
  );
  const [readNow, setReadNow] = useState<Map<number, string>>(new Map());
  const [open, setOpen] = useState<number | null>(null);
  const [markError, setMarkError] = useState<ApiError | null>(null);
  const items = [...(first.data?.items ?? []), ...more.items];
  const readAt = (n: Notice) => n.read_at ?? readNow.get(n.id) ?? null;
  const unread = Math.max(0, (first.data?.unread ?? 0) - items.filter((n) => !n.read_at && readNow.has(n.id)).length);

  const loadMore = async () => {
    const last = items[items.length - 1];
    if (!last || more.busy) return;
    setMore((m) => ({ ...m, busy: true, error: null }));
    try {
      const page = await portalApi<NoticePage>('GET', `/api/portal/notices?limit=${PAGE}&before_id=${last.id}${unreadOnly ? '&unread=true' : ''}`);
      setMore((m) => ({ items: [...m.items, ...page.items], done: page.items.length < PAGE, busy: false, error: null }));
    } catch (err) {
      setMore((m) => ({ ...m, busy: false, error: asApiError(err) }));
    }
  };

  const markRead = async (n: Notice) => {
    if (readAt(n)) return;
    try {
      const { read_at } = await portalApi<{ read_at: string }>('POST', `/api/portal/notices/${n.id}/read`);
      setReadNow((m) => new Map(m).set(n.id, read_at));
      setMarkError(null);
    } catch (err) {
      setMarkError(asApiError(err));
    }
  };

  const follow = (n: Notice) => {
    void markRead(n);
    if (!n.link) return;
    if (isPortalLink(n.link)) navigate(n.link);
    else location.assign(n.link);
  };

  return (
    <section class="section" data-testid="portal-notices">
      <div class="section-head">
        <h2>
          {t('noticesTitle')}
          {unread > 0 && (
            <span class="count" data-testid="notices-unread">
              {unread}
            </span>
          )}
        </h2>
        <div class="segmented" role="group" aria-label={t('noticesTitle')}>
          <button type="button" class={!unreadOnly ? 'seg-on' : ''} aria-pressed={!unreadOnly} onClick={() => setUnreadOnly(false)}>
            {t('noticesAll')}
          </button>
          <button type="button" class={unreadOnly ? 'seg-on' : ''} aria-pressed={unreadOnly} data-testid="notices-unread-only" onClick={() => setUnreadOnly(true)}>
            {t('noticesUnread')}
          </button>
        </div>
      </div>
      {first.error && !first.data && <ErrorText error={first.error} />}
      <ErrorText error={markError} />
      {first.data && items.length === 0 && <p class="card muted">{unreadOnly ? t('noUnread') : t('noNotices')}</p>}
      <ul class="notice-list">
        {items.map((n) => {
          const isRead = !!readAt(n);
          const expanded = open === n.id;
          return (
            <li key={n.id} class={`card notice ${isRead ? 'notice-read' : 'notice-unread'}`} data-testid="notice" data-notice-id={n.id} data-read={isRead ? 'true' : 'false'}>
              <button
                type="button"
                class="notice-head"
                aria-expanded={expanded}
                onClick={() => {
                  setOpen(expanded ? null : n.id);
                  void markRead(n);
                }}
              >
                {!isRead && <span class="unread-dot" aria-label={t('unread')} />}
                <span class="notice-title">{n.title}</span>
                <span class="notice-time">{dayTime(n.created_at, lang)}</span>
              </button>
              <p class={`notice-body ${expanded ? '' : 'clamped'}`}>{n.body}</p>
              <div class="notice-foot">
                {n.matter_number && <span class="muted small">{n.matter_number}</span>}
                {n.link && (
                  <a
                    class="btn btn-secondary btn-sm"
                    href={n.link}
                    data-testid="notice-open"
                    onClick={(e) => {
                      e.preventDefault();
                      follow(n);
                    }}
                  >
                    {t('noticeOpen')}
                  </a>
                )}
              </div>
            </li>
          );
        })}
      </ul>
      <ErrorText error={more.error} />
      {first.data && !more.done && items.length > 0 && (
        <button type="button" class="btn btn-secondary btn-block" disabled={more.busy} onClick={loadMore}>
          {more.busy ? t('loading') : t('loadMore')}
        </button>
      )}
    </section>
  );
}

/** Answered confirmations stay visible, with what the client answered and when. */
function ConfirmationHistory({ items }: { items: Confirmation[] | null }) {
  const t = useT(S);
  const { lang } = useLang();
  const answered = (items ?? []).filter((c) => c.status !== 'pending');
  if (!answered.length) return null;
  return (
    <section class="section" data-testid="portal-confirmation-history">
      <h2>{t('confirmHistory')}</h2>
      <ul class="plain-list card">
        {answered.map((c) => {
          const href = `/portal/confirm/${c.id}`;
          return (
            <li key={c.id}>
              <a href={href} onClick={onLinkClick(href)} class="history-row">
                <span class="history-title">{c.title}</span>
                <span class="muted small">
                  {c.matter.number} · {dayTime(c.responded_at ?? c.requested_at, lang)}
                </span>
                <span class={`pill ${c.status === 'confirmed' ? 'pill-ok' : c.status === 'commented' ? 'pill-warn' : ''}`}>{confirmationStatus(lang, c.status)}</span>
              </a>
            </li>
          );
        })}
      </ul>
    </section>
  );
}
