import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import QRCode from 'qrcode';
import { api, asApiError, type ApiError } from '../shared/api.js';
import type { AppProps } from '../shared/boot.js';
import { LangToggle, useLang, useT } from '../shared/i18n.js';
import { useTopic } from '../shared/live.js';
import { Clock, dayTime, ErrorText, StaleBanner } from '../shared/ui.js';
import { PURPOSE_CHIPS, S } from './strings.js';
import './lobby.css';

interface KioskVisit {
  id: number;
  visitor_name_masked: string;
  host_name: string;
  purpose: string;
  status: string;
  expected_at: string | null;
  valid_until: string | null;
}
/** The names of the doors a pass opens. */
type Door = string;
interface CheckInResult {
  visit: KioskVisit;
  status: 'checked_in' | 'pending_review';
  pass: { qr_token: string; valid_until: string; doors: Door[] } | null;
}
interface Host {
  id: number;
  display_name: string;
  department: string | null;
}

type Screen =
  | { name: 'home' }
  | { name: 'invite'; scanned: string | null }
  | { name: 'walkin' }
  | { name: 'checkout' }
  | { name: 'pass'; visit: KioskVisit | null; pass: { qr_token: string; valid_until: string | null; doors: Door[] } }
  | { name: 'pending'; visit: KioskVisit }
  | { name: 'welcome'; visit: KioskVisit }
  | { name: 'denied' }
  | { name: 'checked-out'; visit: KioskVisit };

/** Forms and results return home after this long without a touch, taking what was typed with them. */
const IDLE_MS = 60_000;
/** Someone waiting for the front desk's decision is given longer before the screen gives up on them. */
const PENDING_IDLE_MS = 180_000;
const IDLE_WARNING_MS = 10_000;

/** An invitation code as scanned or typed: "LBV1:abcd-2345" → "ABCD2345". */
const normalizeInvite = (text: string) => text.trim().replace(/^LBV1:/i, '').toUpperCase().replace(/[\s-]/g, '');
const INVITE_CODE = /^[A-Z2-9]{8}$/;

export function LobbyApp({ kiosk }: AppProps) {
  const t = useT(S);
  // Every screen change remounts the screen (by key), so nothing typed survives a return home.
  const [screen, setScreen] = useState<Screen>({ name: 'home' });
  const [serial, setSerial] = useState(0);
  const go = (next: Screen) => {
    setSerial((n) => n + 1);
    setScreen(next);
  };
  const home = () => go({ name: 'home' });

  const onResult = (result: CheckInResult) => {
    if (result.status === 'pending_review') go({ name: 'pending', visit: result.visit });
    // No doors configured for visitor passes: the visitor is checked in and shown in by the staff.
    else if (!result.pass) go({ name: 'welcome', visit: result.visit });
    else go({ name: 'pass', visit: result.visit, pass: result.pass });
  };

  // The front desk's decision on a flagged visit arrives on this kiosk's own topic.
  const pendingVisit = screen.name === 'pending' ? screen.visit.id : null;
  useTopic(`lobby:${kiosk.id}`, (data) => {
    if (data.type !== 'visit.decided' || data.visit_id !== pendingVisit || screen.name !== 'pending') return;
    if (data.status === 'denied' || data.status === 'cancelled') go({ name: 'denied' });
    else if (typeof data.pass_token !== 'string') go({ name: 'welcome', visit: screen.visit });
    else {
      const doors = Array.isArray(data.doors) ? data.doors.filter((d): d is string => typeof d === 'string') : [];
      go({ name: 'pass', visit: screen.visit, pass: { qr_token: data.pass_token, valid_until: typeof data.valid_until === 'string' ? data.valid_until : null, doors } });
    }
  });

  let body;
  switch (screen.name) {
    case 'home':
      body = <Home onPick={go} />;
      break;
    case 'invite':
      body = <InviteScreen scanned={screen.scanned} onResult={onResult} />;
      break;
    case 'walkin':
      body = <WalkInScreen onResult={onResult} />;
      break;
    case 'checkout':
      body = <CheckoutScreen onDone={(visit) => go({ name: 'checked-out', visit })} />;
      break;
    case 'pass':
      body = <PassScreen visit={screen.visit} pass={screen.pass} onDone={home} />;
      break;
    case 'welcome':
      body = (
        <ResultCard testId="result-checked-in" tone="ok" icon="✓" title={t('checkedInTitle')} onDone={home}>
          <p class="lead">{t('welcomeBody')}</p>
        </ResultCard>
      );
      break;
    case 'pending':
      body = (
        <ResultCard testId="result-pending" tone="wait" icon="…" title={t('pendingTitle')} onDone={home}>
          <p class="lead">{t('pendingBody')}</p>
        </ResultCard>
      );
      break;
    case 'denied':
      body = (
        <ResultCard testId="result-denied" tone="info" icon="i" title={t('deniedTitle')} onDone={home}>
          <p class="lead">{t('deniedBody')}</p>
        </ResultCard>
      );
      break;
    case 'checked-out':
      body = (
        <ResultCard testId="checkout-done" tone="ok" icon="✓" title={t('checkoutDone')} onDone={home}>
          <p class="lead">{t('checkoutDoneBody')}</p>
          <p class="visitor-line">{screen.visit.visitor_name_masked}</p>
        </ResultCard>
      );
      break;
  }

  return (
    <div class="lobby">
      <StaleBanner />
      <header class="lobby-header">
        <button type="button" class="brand-button" onClick={home} aria-label={t('home')}>
          <span class="lobby-brand">{kiosk.name}</span>
        </button>
        <div class="lobby-header-right">
          <Clock date />
          <LangToggle />
        </div>
      </header>
      <main class="lobby-main" key={serial}>
        {body}
      </main>
      {screen.name !== 'home' && <IdleGuard timeoutMs={screen.name === 'pending' ? PENDING_IDLE_MS : IDLE_MS} onIdle={home} />}
      <footer class="lobby-footer">
        <LockGlyph />
        {t('privacy')}
      </footer>
    </div>
  );
}

/** Returns home after a while without a touch or key, warning for the last seconds. */
function IdleGuard({ timeoutMs, onIdle }: { timeoutMs: number; onIdle: () => void }) {
  const t = useT(S);
  const [last, setLast] = useState(Date.now());
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const touch = () => setLast(Date.now());
    const events = ['pointerdown', 'keydown', 'input', 'wheel'] as const;
    for (const e of events) window.addEventListener(e, touch, { capture: true, passive: true });
    const timer = setInterval(() => setNow(Date.now()), 500);
    return () => {
      for (const e of events) window.removeEventListener(e, touch, { capture: true });
      clearInterval(timer);
    };
  }, []);
  const left = timeoutMs - (now - last);
  useEffect(() => {
    if (left <= 0) onIdle();
  }, [left <= 0]);
  if (left > IDLE_WARNING_MS || left <= 0) return null;
  return (
    <div class="idle-warning" role="alert">
      <span>{t('idleWarning', { s: Math.ceil(left / 1000) })}</span>
      <button type="button" class="btn btn-primary" onClick={() => setLast(Date.now())}>
        {t('stay')}
      </button>
    </div>
  );
}

function Home({ onPick }: { onPick: (s: Screen) => void }) {
  const t = useT(S);
  // A USB scanner types "LBV1:CODE⏎" wherever the focus is: on the home screen it starts the invited check-in.
  useEffect(() => {
    let buffer = '';
    let lastKey = 0;
    const onKey = (e: KeyboardEvent) => {
      const now = Date.now();
      if (now - lastKey > 300) buffer = '';
      lastKey = now;
      if (e.key === 'Enter') {
        if (/^LBV1:/i.test(buffer)) onPick({ name: 'invite', scanned: buffer });
        buffer = '';
      } else if (e.key.length === 1) buffer += e.key;
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);
  return (
    <section class="home" data-testid="lobby-home">
      <div class="home-hero">
        <h1>{t('welcome')}</h1>
        <p class="lead">{t('welcomeSub')}</p>
      </div>
      <div class="home-choices">
        <button type="button" class="choice choice-invite" data-testid="lobby-start-invite" onClick={() => onPick({ name: 'invite', scanned: null })}>
          <span class="choice-icon" aria-hidden="true">
            <QrGlyph />
          </span>
          <span class="choice-title">{t('invite')}</span>
          <span class="choice-sub">{t('inviteSub')}</span>
        </button>
        <button type="button" class="choice choice-walkin" data-testid="lobby-start-walkin" onClick={() => onPick({ name: 'walkin' })}>
          <span class="choice-icon" aria-hidden="true">
            <CardGlyph />
          </span>
          <span class="choice-title">{t('walkin')}</span>
          <span class="choice-sub">{t('walkinSub')}</span>
        </button>
        <button type="button" class="choice choice-checkout" data-testid="lobby-start-checkout" onClick={() => onPick({ name: 'checkout' })}>
          <span class="choice-icon" aria-hidden="true">
            <ExitGlyph />
          </span>
          <span class="choice-title">{t('checkout')}</span>
          <span class="choice-sub">{t('checkoutSub')}</span>
        </button>
      </div>
    </section>
  );
}

function ScreenTitle({ title, help }: { title: string; help?: string }) {
  return (
    <div class="screen-title">
      <h1>{title}</h1>
      {help && <p class="lead">{help}</p>}
    </div>
  );
}

/** Keeps a scanner's keystrokes landing in `input` even after a tap elsewhere moved the focus. */
function useScannerFocus(input: { current: HTMLInputElement | null }) {
  useEffect(() => {
    input.current?.focus();
    const onKey = (e: KeyboardEvent) => {
      const active = document.activeElement;
      if (active instanceof HTMLInputElement || active instanceof HTMLTextAreaElement) return;
      if (e.key.length === 1 || e.key === 'Enter') input.current?.focus();
    };
    window.addEventListener('keydown', onKey, { capture: true });
    return () => window.removeEventListener('keydown', onKey, { capture: true });
  }, []);
}

function InviteScreen({ scanned, onResult }: { scanned: string | null; onResult: (r: CheckInResult) => void }) {
  const t = useT(S);
  const { lang } = useLang();
  const [code, setCode] = useState(scanned ?? '');
  const [visit, setVisit] = useState<KioskVisit | null>(null);
  const [busy, setBusy] = useState<'lookup' | 'checkin' | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const input = useRef<HTMLInputElement>(null);
  useScannerFocus(input);

  const lookup = async (text: string) => {
    const normalized = normalizeInvite(text);
    if (!normalized || busy) return;
    setBusy('lookup');
    setError(null);
    setVisit(null);
    try {
      setVisit(await api<KioskVisit>('POST', '/api/kiosk/lobby/invitations/lookup', { code: normalized }));
      setCode(normalized);
    } catch (err) {
      setError(asApiError(err));
      setCode('');
      input.current?.focus();
    } finally {
      setBusy(null);
    }
  };
  useEffect(() => {
    if (scanned) void lookup(scanned);
  }, []);

  const confirm = async () => {
    setBusy('checkin');
    setError(null);
    try {
      onResult(await api<CheckInResult>('POST', '/api/kiosk/lobby/check-in', { invite_code: normalizeInvite(code) }));
    } catch (err) {
      setError(asApiError(err));
      setBusy(null);
    }
  };

  return (
    <section class="panel-screen">
      <ScreenTitle title={t('inviteTitle')} help={visit ? undefined : t('inviteHelp')} />
      {!visit && (
        <form
          class="code-form card"
          onSubmit={(e) => {
            e.preventDefault();
            void lookup(code);
          }}
        >
          <div class="scan-window" aria-hidden="true">
            <QrGlyph />
          </div>
          <label class="field">
            <span class="field-label">{t('inviteCode')}</span>
            <input
              ref={input}
              class="input input-code"
              data-testid="invite-code-input"
              value={code}
              autoComplete="off"
              autoCapitalize="characters"
              spellcheck={false}
              maxLength={64}
              placeholder="XXXXXXXX"
              onInput={(e) => setCode(e.currentTarget.value)}
            />
          </label>
          <ErrorText error={error} />
          <button type="submit" class="btn btn-primary btn-lg btn-block" data-testid="invite-code-submit" disabled={!normalizeInvite(code) || busy !== null}>
            {busy === 'lookup' ? t('lookingUp') : t('lookup')}
          </button>
        </form>
      )}
      {visit && (
        <div class="card visit-card" data-testid="invite-visit">
          <p class="visit-found">{t('visitFound')}</p>
          <p class="visit-name">{visit.visitor_name_masked}</p>
          <dl class="facts">
            <dt>{t('host')}</dt>
            <dd>{visit.host_name}</dd>
            <dt>{t('purpose')}</dt>
            <dd>{visit.purpose}</dd>
            {visit.expected_at && (
              <>
                <dt>{t('expected')}</dt>
                <dd>{dayTime(visit.expected_at, lang)}</dd>
              </>
            )}
          </dl>
          <ErrorText error={error} />
          <div class="actions">
            <button
              type="button"
              class="btn btn-secondary btn-lg"
              disabled={busy !== null}
              onClick={() => {
                setVisit(null);
                setCode('');
                setError(null);
              }}
            >
              {t('notMe')}
            </button>
            <button type="button" class="btn btn-primary btn-lg grow" data-testid="invite-confirm" disabled={busy !== null} onClick={confirm}>
              {busy === 'checkin' ? t('checkingIn') : t('confirm')}
            </button>
          </div>
        </div>
      )}
    </section>
  );
}

interface CardRead {
  read_id: string;
  name_masked: string;
  id_number_masked: string;
}

function WalkInScreen({ onResult }: { onResult: (r: CheckInResult) => void }) {
  const t = useT(S);
  const [mode, setMode] = useState<'reader' | 'manual'>('reader');
  const [card, setCard] = useState<CardRead | null>(null);
  const [reading, setReading] = useState(false);
  const [readError, setReadError] = useState<ApiError | null>(null);
  const [name, setName] = useState('');
  const [idNumber, setIdNumber] = useState('');
  const [phone, setPhone] = useState('');
  const [organization, setOrganization] = useState('');
  const [purpose, setPurpose] = useState('');
  const [host, setHost] = useState<Host | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | string | null>(null);

  const readCard = async () => {
    setReading(true);
    setReadError(null);
    setCard(null);
    try {
      setCard(await api<CardRead>('POST', '/api/kiosk/lobby/id-card/read'));
    } catch (err) {
      setReadError(asApiError(err));
    } finally {
      setReading(false);
    }
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    const identity = mode === 'reader' ? (card ? { read_id: card.read_id } : null) : name.trim() && idNumber.trim() ? { visitor_name: name.trim(), id_number: idNumber.trim().toUpperCase() } : null;
    if (!identity) return setError(t('missingIdentity'));
    if (!purpose.trim()) return setError(t('missingPurpose'));
    if (!host) return setError(t('missingHost'));
    setBusy(true);
    setError(null);
    try {
      const walkIn = {
        ...identity,
        ...(phone.trim() ? { phone: phone.trim() } : {}),
        ...(organization.trim() ? { organization: organization.trim() } : {}),
        purpose: purpose.trim(),
        host_user_id: host.id,
      };
      onResult(await api<CheckInResult>('POST', '/api/kiosk/lobby/check-in', { walk_in: walkIn }));
    } catch (err) {
      setError(asApiError(err));
      setBusy(false);
    }
  };

  return (
    <form class="walkin" onSubmit={submit}>
      <ScreenTitle title={t('walkinTitle')} />
      <div class="walkin-grid">
        <div class="card walkin-col">
          <h2 class="card-title">
            <span class="step">1</span>
            {t('identity')}
          </h2>
          {mode === 'reader' ? (
            <>
              {card ? (
                <div class="idcard" data-testid="idcard-result">
                  <span class="pill pill-ok">✓ {t('cardRead')}</span>
                  <p class="idcard-name">{card.name_masked}</p>
                  <p class="idcard-number">{card.id_number_masked}</p>
                </div>
              ) : (
                <p class="muted">{reading ? t('readingCard') : t('readCardHelp')}</p>
              )}
              <ErrorText error={readError} />
              <button type="button" class={`btn btn-lg btn-block ${card ? 'btn-secondary' : 'btn-primary'}`} data-testid="idcard-read" disabled={reading} onClick={readCard}>
                {reading ? <span class="btn-spinner" aria-hidden="true" /> : <CardGlyph />}
                {card ? t('readAgain') : t('readCard')}
              </button>
              <button
                type="button"
                class="btn btn-ghost btn-block"
                data-testid="idcard-manual"
                onClick={() => {
                  setMode('manual');
                  setCard(null);
                }}
              >
                {t('manual')}
              </button>
            </>
          ) : (
            <>
              <p class="muted">{t('manualHelp')}</p>
              <label class="field">
                <span class="field-label">
                  {t('name')}
                  <span class="req">*</span>
                </span>
                <input class="input" data-testid="walkin-name" value={name} maxLength={50} autoComplete="off" onInput={(e) => setName(e.currentTarget.value)} />
              </label>
              <label class="field">
                <span class="field-label">
                  {t('idNumber')}
                  <span class="req">*</span>
                </span>
                <input class="input" data-testid="walkin-id-number" value={idNumber} maxLength={30} autoComplete="off" spellcheck={false} onInput={(e) => setIdNumber(e.currentTarget.value)} />
              </label>
              <button
                type="button"
                class="btn btn-ghost btn-block"
                onClick={() => {
                  setMode('reader');
                  setName('');
                  setIdNumber('');
                }}
              >
                {t('useReader')}
              </button>
            </>
          )}
          <label class="field">
            <span class="field-label">
              {t('phone')} <span class="muted small">（{t('optional')}）</span>
            </span>
            <input class="input" data-testid="walkin-phone" type="tel" inputMode="tel" value={phone} maxLength={30} autoComplete="off" onInput={(e) => setPhone(e.currentTarget.value)} />
          </label>
          <label class="field">
            <span class="field-label">
              {t('organization')} <span class="muted small">（{t('optional')}）</span>
            </span>
            <input class="input" data-testid="walkin-organization" value={organization} maxLength={100} autoComplete="off" onInput={(e) => setOrganization(e.currentTarget.value)} />
          </label>
        </div>
        <div class="card walkin-col">
          <h2 class="card-title">
            <span class="step">2</span>
            {t('visitDetails')}
          </h2>
          <label class="field">
            <span class="field-label">
              {t('purpose')}
              <span class="req">*</span>
            </span>
            <input class="input" data-testid="walkin-purpose" value={purpose} maxLength={200} placeholder={t('purposePlaceholder')} autoComplete="off" onInput={(e) => setPurpose(e.currentTarget.value)} />
          </label>
          <div class="chips" role="group" aria-label={t('purpose')}>
            {PURPOSE_CHIPS.map((chip) => (
              <button type="button" key={chip} class={`chip ${purpose === t(chip) ? 'chip-on' : ''}`} aria-pressed={purpose === t(chip)} onClick={() => setPurpose(t(chip))}>
                {t(chip)}
              </button>
            ))}
          </div>
          <HostPicker selected={host} onSelect={setHost} />
        </div>
      </div>
      <div class="walkin-submit">
        <ErrorText error={error} />
        <button type="submit" class="btn btn-primary btn-lg btn-block" data-testid="walkin-submit" disabled={busy}>
          {busy ? t('submitting') : t('submit')}
        </button>
      </div>
    </form>
  );
}

function HostPicker({ selected, onSelect }: { selected: Host | null; onSelect: (h: Host) => void }) {
  const t = useT(S);
  const [q, setQ] = useState('');
  const [hosts, setHosts] = useState<Host[] | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    const abort = new AbortController();
    const timer = setTimeout(async () => {
      try {
        const list = await api<Host[]>('GET', `/api/kiosk/lobby/hosts?q=${encodeURIComponent(q.trim())}`, undefined, abort.signal);
        setHosts(list);
        setError(null);
      } catch (err) {
        if (abort.signal.aborted) return;
        const e = asApiError(err);
        setError(e);
        // Offline: try again shortly instead of leaving the visitor without a list.
        if (e.transient) setTimeout(() => !abort.signal.aborted && setAttempt((n) => n + 1), 3000);
      }
    }, 250);
    return () => {
      clearTimeout(timer);
      abort.abort();
    };
  }, [q, attempt]);
  return (
    <div class="field host-picker">
      <span class="field-label">
        {t('hostTitle')}
        <span class="req">*</span>
      </span>
      <input class="input" data-testid="host-search" type="search" value={q} placeholder={t('hostSearch')} autoComplete="off" onInput={(e) => setQ(e.currentTarget.value)} />
      {error && !hosts && <ErrorText error={error} />}
      <div class="host-list" role="listbox" aria-label={t('hostTitle')}>
        {hosts?.map((h) => (
          <button
            type="button"
            key={h.id}
            role="option"
            aria-selected={selected?.id === h.id}
            class={`host-option ${selected?.id === h.id ? 'host-on' : ''}`}
            data-testid="host-option"
            data-host-id={h.id}
            onClick={() => onSelect(h)}
          >
            <span class="host-avatar" aria-hidden="true">
              {h.display_name.slice(0, 1)}
            </span>
            <span class="host-name">{h.display_name}</span>
            {h.department && <span class="host-dept">{h.department}</span>}
            {selected?.id === h.id && <span class="host-check">✓</span>}
          </button>
        ))}
        {hosts && hosts.length === 0 && <p class="muted host-empty">{t('noHosts')}</p>}
        {!hosts && !error && <p class="muted host-empty">…</p>}
      </div>
    </div>
  );
}

function CheckoutScreen({ onDone }: { onDone: (v: KioskVisit) => void }) {
  const t = useT(S);
  const [code, setCode] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const input = useRef<HTMLInputElement>(null);
  useScannerFocus(input);
  const submit = async (e: Event) => {
    e.preventDefault();
    const text = code.trim();
    if (!text || busy) return;
    const invite = normalizeInvite(text);
    // What the visitor holds is either the pass QR (a long token) or the invitation (LBV1:CODE or the code).
    const body = /^LBV1:/i.test(text) || INVITE_CODE.test(invite) ? { invite_code: invite } : { qr_token: text };
    setBusy(true);
    setError(null);
    try {
      const { visit } = await api<{ visit: KioskVisit }>('POST', '/api/kiosk/lobby/check-out', body);
      onDone(visit);
    } catch (err) {
      setError(asApiError(err));
      setCode('');
      setBusy(false);
      input.current?.focus();
    }
  };
  return (
    <section class="panel-screen">
      <ScreenTitle title={t('checkoutTitle')} help={t('checkoutHelp')} />
      <form class="code-form card" onSubmit={submit}>
        <div class="scan-window" aria-hidden="true">
          <QrGlyph />
        </div>
        <label class="field">
          <span class="field-label">{t('checkoutCode')}</span>
          <input
            ref={input}
            class="input input-code"
            data-testid="checkout-input"
            value={code}
            autoComplete="off"
            spellcheck={false}
            maxLength={512}
            onInput={(e) => setCode(e.currentTarget.value)}
          />
        </label>
        <ErrorText error={error} />
        <button type="submit" class="btn btn-primary btn-lg btn-block" data-testid="checkout-submit" disabled={!code.trim() || busy}>
          {busy ? t('checkingOut') : t('checkoutSubmit')}
        </button>
      </form>
    </section>
  );
}

function PassScreen({
  visit,
  pass,
  onDone,
}: {
  visit: KioskVisit | null;
  pass: { qr_token: string; valid_until: string | null; doors: Door[] };
  onDone: () => void;
}) {
  const t = useT(S);
  const { lang } = useLang();
  const [qr, setQr] = useState<string | null>(null);
  useEffect(() => {
    QRCode.toDataURL(pass.qr_token, { width: 480, margin: 2, errorCorrectionLevel: 'M', color: { dark: '#0f1b2d', light: '#ffffff' } }).then(setQr, () => setQr(null));
  }, [pass.qr_token]);
  const validUntil = pass.valid_until ?? visit?.valid_until ?? null;
  const doors = pass.doors;
  return (
    <section class="result result-ok" data-testid="result-checked-in">
      <div class="pass">
        <div class="pass-qr-frame">{qr ? <img class="pass-qr" data-testid="pass-qr" src={qr} alt={t('passHint')} /> : <div class="pass-qr pass-qr-placeholder" data-testid="pass-qr" />}</div>
        <div class="pass-info">
          <span class="pill pill-ok">✓ {t('checkedInTitle')}</span>
          <h1 class="pass-hint">{t('passHint')}</h1>
          {visit && <p class="visitor-line">{visit.visitor_name_masked}</p>}
          <dl class="facts">
            {visit && (
              <>
                <dt>{t('host')}</dt>
                <dd>{visit.host_name}</dd>
              </>
            )}
            {validUntil && (
              <>
                <dt>{t('validUntil')}</dt>
                <dd>{dayTime(validUntil, lang)}</dd>
              </>
            )}
            <dt>{t('doors')}</dt>
            <dd>{doors.length ? doors.join('、') : t('allDoors')}</dd>
          </dl>
          <p class="muted small">{t('passSaveHint')}</p>
          <button type="button" class="btn btn-primary btn-lg" onClick={onDone}>
            {t('done')}
          </button>
        </div>
      </div>
    </section>
  );
}

function ResultCard({ testId, tone, icon, title, onDone, children }: { testId: string; tone: 'ok' | 'wait' | 'info'; icon: string; title: string; onDone: () => void; children: ComponentChildren }) {
  const t = useT(S);
  return (
    <section class={`result result-${tone}`} data-testid={testId}>
      <div class="card result-card">
        <div class={`result-icon ${tone === 'wait' ? 'result-icon-wait' : ''}`} aria-hidden="true">
          {icon}
        </div>
        <h1>{title}</h1>
        {children}
        <button type="button" class="btn btn-secondary btn-lg" onClick={onDone}>
          {t('home')}
        </button>
      </div>
    </section>
  );
}

function LockGlyph() {
  return (
    <svg class="privacy-icon" viewBox="0 0 24 24" width="20" height="20" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" aria-hidden="true">
      <rect x="5" y="11" width="14" height="10" rx="2" />
      <path d="M8 11V8a4 4 0 0 1 8 0v3" />
    </svg>
  );
}
function QrGlyph() {
  return (
    <svg viewBox="0 0 48 48" width="48" height="48" fill="none" stroke="currentColor" stroke-width="3.2" stroke-linecap="round">
      <rect x="6" y="6" width="14" height="14" rx="2" />
      <rect x="28" y="6" width="14" height="14" rx="2" />
      <rect x="6" y="28" width="14" height="14" rx="2" />
      <path d="M28 28h6v6M42 28v0M28 42h0M36 40h6v2M34 34h8" />
    </svg>
  );
}
function CardGlyph() {
  return (
    <svg viewBox="0 0 48 48" width="48" height="48" fill="none" stroke="currentColor" stroke-width="3.2" stroke-linecap="round">
      <rect x="4" y="10" width="40" height="28" rx="4" />
      <circle cx="16" cy="22" r="5" />
      <path d="M9 33c1.5-4 12.5-4 14 0M28 19h10M28 26h10M28 32h6" />
    </svg>
  );
}
function ExitGlyph() {
  return (
    <svg viewBox="0 0 48 48" width="48" height="48" fill="none" stroke="currentColor" stroke-width="3.2" stroke-linecap="round" stroke-linejoin="round">
      <path d="M20 8H10a3 3 0 0 0-3 3v26a3 3 0 0 0 3 3h10M30 15l9 9-9 9M39 24H18" />
    </svg>
  );
}
