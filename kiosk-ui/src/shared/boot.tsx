import { render, type ComponentType } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, asApiError, setAuthLostHandler, type ApiError } from './api.js';
import { common, LangProvider, LangToggle, useT } from './i18n.js';
import { ErrorBoundary } from './error-boundary.js';
import { LiveProvider } from './live.js';
import { ErrorText, FullScreen, Spinner } from './ui.js';
import './base.css';

export type KioskKind = 'lobby' | 'meeting' | 'wall';
export interface Kiosk {
  id: number;
  name: string;
  kind: KioskKind;
  room_id: string | null;
  id_reader_device: string | null;
  status: string;
}
export type AppProps = { kiosk: Kiosk };

/**
 * Starts a kiosk app: the top-level error screen, then enrolment (`?enrol=CODE` or typed in), the
 * check that this screen is enrolled for this app, and finally the app with its live connection.
 */
export function boot(kind: KioskKind, App: ComponentType<AppProps>): void {
  const host = document.getElementById('app');
  if (!host) return;
  render(
    <LangProvider>
      <ErrorBoundary fallback={<ErrorScreen />}>
        <Gate kind={kind} App={App} />
      </ErrorBoundary>
    </LangProvider>,
    host,
  );
}

function ErrorScreen() {
  const t = useT(common);
  return (
    <FullScreen tone="error" testId="error-screen">
      <div class="fullscreen-icon" aria-hidden="true">!</div>
      <h1>{t('errorTitle')}</h1>
      <p class="lead">{t('errorBody')}</p>
      <button type="button" class="btn btn-primary btn-lg" onClick={() => location.reload()}>
        {t('errorReload')}
      </button>
      <div class="fullscreen-foot">
        <LangToggle />
      </div>
    </FullScreen>
  );
}

type GateState =
  | { step: 'checking'; error: ApiError | null }
  | { step: 'enrol'; error: ApiError | null; code: string }
  | { step: 'wrong'; kiosk: Kiosk }
  | { step: 'ready'; kiosk: Kiosk };

const normalizeCode = (code: string) => code.toUpperCase().replace(/[\s-]/g, '');

function Gate({ kind, App }: { kind: KioskKind; App: ComponentType<AppProps> }) {
  const [state, setState] = useState<GateState>({ step: 'checking', error: null });
  const [generation, setGeneration] = useState(0);
  const retryTimer = useRef<ReturnType<typeof setTimeout> | null>(null);

  const check = useCallback(async (attempt = 0) => {
    if (retryTimer.current) clearTimeout(retryTimer.current);
    retryTimer.current = null;
    try {
      const me = await api<Kiosk>('GET', '/api/kiosk/me');
      setState(me.kind === kind ? { step: 'ready', kiosk: me } : { step: 'wrong', kiosk: me });
    } catch (err) {
      const e = asApiError(err);
      if (e.status === 401) return setState({ step: 'enrol', error: null, code: '' });
      setState({ step: 'checking', error: e });
      // The server may be restarting or the network down: keep trying, never give up on a kiosk.
      retryTimer.current = setTimeout(() => void check(attempt + 1), Math.min(1000 * 2 ** attempt, 30_000));
    }
  }, [kind]);

  const enrol = useCallback(
    async (code: string) => {
      try {
        await api('POST', '/api/kiosk/enrol', { code: normalizeCode(code) });
        await check();
      } catch (err) {
        setState({ step: 'enrol', error: asApiError(err), code });
      }
    },
    [check],
  );

  useEffect(() => {
    const params = new URLSearchParams(location.search);
    const code = params.get('enrol');
    if (code !== null) {
      // The code is spent (or wrong) either way: it must not stay in the address bar or history.
      params.delete('enrol');
      const rest = params.toString();
      history.replaceState(null, '', location.pathname + (rest ? `?${rest}` : '') + location.hash);
      void enrol(code);
    } else void check();
    return () => {
      if (retryTimer.current) clearTimeout(retryTimer.current);
    };
  }, [check, enrol]);

  // Only a running app can lose its enrolment; while checking or enrolling, a 401 is the expected answer.
  const ready = state.step === 'ready';
  const authLost = useCallback(() => {
    setAuthLostHandler(null);
    setGeneration((g) => g + 1);
    setState({ step: 'checking', error: null });
    void check();
  }, [check]);
  useEffect(() => {
    if (!ready) return;
    setAuthLostHandler(authLost);
    return () => setAuthLostHandler(null);
  }, [ready, authLost]);

  switch (state.step) {
    case 'checking':
      return <Checking error={state.error} onRetry={() => void check()} />;
    case 'enrol':
      return <EnrolScreen kind={kind} initialCode={state.code} error={state.error} onSubmit={enrol} />;
    case 'wrong':
      return <WrongKiosk kind={kind} kiosk={state.kiosk} />;
    case 'ready':
      return (
        <LiveProvider key={generation} onAuthLost={authLost}>
          <App kiosk={state.kiosk} />
        </LiveProvider>
      );
  }
}

function Checking({ error, onRetry }: { error: ApiError | null; onRetry: () => void }) {
  const t = useT(common);
  return (
    <FullScreen tone={error ? 'warn' : 'plain'}>
      <Spinner label={error ? t('serverUnreachable') : t('connecting')} />
      {error && (
        <>
          <ErrorText error={error} />
          <button type="button" class="btn btn-secondary btn-lg" onClick={onRetry}>
            {t('retryNow')}
          </button>
        </>
      )}
    </FullScreen>
  );
}

function EnrolScreen({ kind, initialCode, error, onSubmit }: { kind: KioskKind; initialCode: string; error: ApiError | null; onSubmit: (code: string) => Promise<void> }) {
  const t = useT(common);
  const [code, setCode] = useState(initialCode);
  const [busy, setBusy] = useState(false);
  const ready = normalizeCode(code).length === 8;
  const submit = async (event: Event) => {
    event.preventDefault();
    if (!ready || busy) return;
    setBusy(true);
    await onSubmit(code);
    setBusy(false);
  };
  return (
    <div class="enrol" data-testid="enrol-screen">
      <div class="enrol-top">
        <span class="brand">lawbox</span>
        <LangToggle />
      </div>
      <form class="enrol-card" onSubmit={submit}>
        <div class="enrol-badge" aria-hidden="true">
          <svg viewBox="0 0 24 24" width="44" height="44" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round">
            <rect x="3" y="4" width="18" height="12" rx="2" />
            <path d="M8 20h8M12 16v4M10 10l2 2 4-4" />
          </svg>
        </div>
        <h1>{t('enrolTitle')}</h1>
        <p class="lead">{t('enrolLead', { kind: t(`kind_${kind}`) })}</p>
        <ol class="enrol-steps">
          <li>{t('enrolStep1')}</li>
          <li>{t('enrolStep2')}</li>
          <li>{t('enrolStep3')}</li>
        </ol>
        <label class="field">
          <span class="field-label">{t('enrolCode')}</span>
          <input
            class="input input-code"
            data-testid="enrol-code"
            value={code}
            maxLength={12}
            autoFocus
            autoComplete="off"
            autoCapitalize="characters"
            spellcheck={false}
            placeholder="XXXXXXXX"
            onInput={(e) => setCode((e.currentTarget as HTMLInputElement).value.toUpperCase())}
          />
          <span class="field-hint">{t('enrolCodeHint')}</span>
        </label>
        <ErrorText error={error} />
        <button type="submit" class="btn btn-primary btn-lg btn-block" data-testid="enrol-submit" disabled={!ready || busy}>
          {busy ? t('enrolBusy') : t('enrolSubmit')}
        </button>
      </form>
    </div>
  );
}

function WrongKiosk({ kind, kiosk }: { kind: KioskKind; kiosk: Kiosk }) {
  const t = useT(common);
  const vars = { name: kiosk.name, actual: t(`kind_${kiosk.kind}`), expected: t(`kind_${kind}`) };
  return (
    <FullScreen tone="warn" testId="wrong-kiosk">
      <div class="fullscreen-icon" aria-hidden="true">⇄</div>
      <h1>{t('wrongTitle')}</h1>
      <p class="lead">{t('wrongBody', vars)}</p>
      <a class="btn btn-primary btn-lg" href={`/kiosk/${kiosk.kind}`}>
        {t('wrongAction', vars)}
      </a>
      <p class="muted">{t('wrongHelp')}</p>
      <div class="fullscreen-foot">
        <LangToggle />
      </div>
    </FullScreen>
  );
}
