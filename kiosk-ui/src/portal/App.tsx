import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { asApiError, type ApiError } from '../shared/api.js';
import { LangToggle, useT } from '../shared/i18n.js';
import { ErrorText, Spinner } from '../shared/ui.js';
import { isSessionLost, portalApi, setSessionLostHandler, type Overview } from './api.js';
import { ConfirmPage } from './Confirm.js';
import { EvaluatePage } from './Evaluate.js';
import { HomePage } from './Home.js';
import { InvoicesPage } from './Invoices.js';
import { navigate, onLinkClick, useRoute, type Route } from './route.js';
import { SignPage } from './Sign.js';
import { S } from './strings.js';

/** The client portal: signing by link needs no session; every other page is behind the access code. */
export function PortalApp() {
  const route = useRoute();
  if (route.name === 'sign') return <SignPage token={route.token} />;
  return <Session route={route} />;
}

type SessionState =
  | { step: 'checking'; error: ApiError | null }
  | { step: 'entry'; reason: ApiError | null; error: ApiError | null; code: string }
  | { step: 'ready'; overview: Overview };

/**
 * Takes the access code out of the address (it is spent either way) and returns it. The link carries
 * it in the fragment (`/portal/#code=…`), which the browser never sends to the server.
 */
function takeCode(): string | null {
  const params = new URLSearchParams(location.hash.replace(/^#/, ''));
  const code = params.get('code');
  if (code === null) return null;
  params.delete('code');
  const rest = params.toString();
  history.replaceState(null, '', location.pathname + location.search + (rest ? `#${rest}` : ''));
  return code;
}

function Session({ route }: { route: Exclude<Route, { name: 'sign' }> }) {
  const [state, setState] = useState<SessionState>({ step: 'checking', error: null });
  const retryTimer = useRef<ReturnType<typeof setTimeout> | null>(null);

  const check = useCallback(async (attempt = 0) => {
    if (retryTimer.current) clearTimeout(retryTimer.current);
    retryTimer.current = null;
    try {
      setState({ step: 'ready', overview: await portalApi<Overview>('GET', '/api/portal/me') });
    } catch (err) {
      const e = asApiError(err);
      if (isSessionLost(e)) return setState({ step: 'entry', reason: e, error: null, code: '' });
      setState({ step: 'checking', error: e });
      if (e.transient) retryTimer.current = setTimeout(() => void check(attempt + 1), Math.min(1000 * 2 ** attempt, 30_000));
    }
  }, []);

  const enter = useCallback(async (code: string) => {
    try {
      setState({ step: 'ready', overview: await portalApi<Overview>('POST', '/api/portal/enter', { code: code.trim() }) });
    } catch (err) {
      setState({ step: 'entry', reason: null, error: asApiError(err), code });
    }
  }, []);

  useEffect(() => {
    const code = takeCode();
    if (code !== null) void enter(code);
    else void check();
    return () => {
      if (retryTimer.current) clearTimeout(retryTimer.current);
    };
  }, []);

  // Any request of a running page may find the session gone (signed out elsewhere, revoked by the lawyer).
  const ready = state.step === 'ready';
  useEffect(() => {
    if (!ready) return;
    setSessionLostHandler((reason) => setState({ step: 'entry', reason, error: null, code: '' }));
    return () => setSessionLostHandler(null);
  }, [ready]);

  const leave = async () => {
    try {
      await portalApi('POST', '/api/portal/leave');
    } catch (err) {
      // Already signed out (the session had ended): the entry page is where the client is going anyway.
      if (!isSessionLost(asApiError(err))) throw err;
    }
    setState({ step: 'entry', reason: null, error: null, code: '' });
    navigate('/portal/', true);
  };

  switch (state.step) {
    case 'checking':
      return <Checking error={state.error} onRetry={() => void check()} />;
    case 'entry':
      return <EntryPage reason={state.reason} error={state.error} initialCode={state.code} onSubmit={enter} />;
    case 'ready':
      return (
        <Shell name={state.overview.client.name} onLeave={leave} route={route}>
          <Page route={route} overview={state.overview} />
        </Shell>
      );
  }
}

function Page({ route, overview }: { route: Exclude<Route, { name: 'sign' }>; overview: Overview }) {
  const t = useT(S);
  switch (route.name) {
    case 'home':
      return <HomePage overview={overview} />;
    case 'invoices':
      return <InvoicesPage overview={overview} />;
    case 'confirm':
      return <ConfirmPage id={route.id} />;
    case 'evaluate':
      return <EvaluatePage matterId={route.matterId} />;
    case 'unknown':
      return (
        <section class="card empty-page" data-testid="portal-unknown">
          <h1>{t('unknownTitle')}</h1>
          <p class="muted">{t('unknownBody')}</p>
          <a class="btn btn-primary" href="/portal/" onClick={onLinkClick('/portal/')}>
            {t('backHome')}
          </a>
        </section>
      );
  }
}

/** The page frame for a signed-in client: the firm's header, the client's name, sign-out, the language. */
function Shell({ name, onLeave, route, children }: { name: string; onLeave: () => Promise<void>; route: Route; children: ComponentChildren }) {
  const t = useT(S);
  const [leaving, setLeaving] = useState(false);
  const [leaveError, setLeaveError] = useState<ApiError | null>(null);
  const tab = (href: string, label: string, active: boolean, testId: string) => (
    <a class={`tab ${active ? 'tab-on' : ''}`} href={href} aria-current={active ? 'page' : undefined} data-testid={testId} onClick={onLinkClick(href)}>
      {label}
    </a>
  );
  return (
    <div class="portal">
      <header class="portal-header">
        <div class="portal-header-row">
          <a class="portal-brand" href="/portal/" onClick={onLinkClick('/portal/')}>
            {t('brand')}
          </a>
          <div class="portal-header-right">
            <span class="portal-user" data-testid="portal-client-name">
              {name}
            </span>
            <LangToggle />
            <button
              type="button"
              class="btn btn-ghost btn-sm"
              data-testid="portal-leave"
              disabled={leaving}
              onClick={async () => {
                setLeaving(true);
                setLeaveError(null);
                try {
                  await onLeave();
                } catch (err) {
                  setLeaveError(asApiError(err));
                } finally {
                  setLeaving(false);
                }
              }}
            >
              {t('leave')}
            </button>
          </div>
        </div>
        <nav class="portal-tabs" aria-label={t('brand')}>
          {tab('/portal/', t('tabHome'), route.name === 'home', 'tab-home')}
          {tab('/portal/invoices', t('tabInvoices'), route.name === 'invoices', 'tab-invoices')}
        </nav>
      </header>
      <main class="portal-main">
        {leaveError && <ErrorText error={leaveError} />}
        {children}
      </main>
      <footer class="portal-footer">{t('footer')}</footer>
    </div>
  );
}

function Checking({ error, onRetry }: { error: ApiError | null; onRetry: () => void }) {
  const t = useT(S);
  return (
    <div class="portal-center">
      <div class="card center-card">
        <Spinner label={error ? t('serverUnreachable') : t('loading')} />
        {error && (
          <>
            <ErrorText error={error} />
            <button type="button" class="btn btn-secondary" onClick={onRetry}>
              {t('retry')}
            </button>
          </>
        )}
      </div>
    </div>
  );
}

/** The access code entry: why the client is here, where the code comes from, and the field. */
function EntryPage({ reason, error, initialCode, onSubmit }: { reason: ApiError | null; error: ApiError | null; initialCode: string; onSubmit: (code: string) => Promise<void> }) {
  const t = useT(S);
  const [code, setCode] = useState(initialCode);
  const [busy, setBusy] = useState(false);
  const normalized = code.toUpperCase().replace(/[\s-]/g, '');
  const ready = normalized.length >= 4;
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!ready || busy) return;
    setBusy(true);
    await onSubmit(normalized);
    setBusy(false);
  };
  return (
    <div class="portal-entry" data-testid="portal-entry">
      <div class="entry-top">
        <span class="portal-brand">{t('brand')}</span>
        <LangToggle />
      </div>
      <form class="card entry-card" onSubmit={submit}>
        <h1>{t('entryTitle')}</h1>
        {reason?.code === 'PORTAL_SESSION_EXPIRED' ? (
          <p class="notice-box" role="status" data-testid="entry-expired">
            {t('entryExpired')}
          </p>
        ) : (
          <p class="lead">{t('entryLead')}</p>
        )}
        <label class="field">
          <span class="field-label">{t('entryCode')}</span>
          <input
            class="input input-code"
            data-testid="entry-code"
            value={code}
            maxLength={40}
            autoComplete="one-time-code"
            autoCapitalize="characters"
            spellcheck={false}
            placeholder="XXXXXXXX"
            onInput={(e) => setCode(e.currentTarget.value)}
          />
          <span class="field-hint">{t('entryCodeHint')}</span>
        </label>
        <ErrorText error={error} />
        <button type="submit" class="btn btn-primary btn-block" data-testid="entry-submit" disabled={!ready || busy}>
          {busy ? t('entering') : t('enter')}
        </button>
        <ul class="entry-notes">
          <li>{t('entryNote1')}</li>
          <li>{t('entryNote2')}</li>
        </ul>
      </form>
    </div>
  );
}
