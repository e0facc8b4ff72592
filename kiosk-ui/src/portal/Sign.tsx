import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, asApiError, type ApiError } from '../shared/api.js';
import { LangToggle, useLang, useT } from '../shared/i18n.js';
import { useLoad } from '../shared/load.js';
import { ErrorText, Spinner } from '../shared/ui.js';
import { dayTime, grouped } from './format.js';
import { PdfPages } from './PdfPages.js';
import { SIGN } from './strings.js';

interface SigningView {
  signer_name: string;
  code_required: boolean;
  code_channels: string[];
  expires_at: string;
  consent_text: string;
  document: { title: string; matter_number: string; bytes: number; sha256: string; sm3: string; created_at: string };
  pdf_base64: string;
}
interface CodeSent {
  sent_to: string[];
  expires_at: string;
  resend_after: string;
}
interface Signed {
  signature_id: number;
  signed_at: string;
  signer_name: string;
  document_sha256: string;
  document_sm3: string;
  evidence_sm3: string;
  signature_base64: string;
}
interface Verification {
  valid: boolean;
  signer: string | null;
  signed_at: string | null;
  algorithm: string | null;
  registered: boolean;
  reasons: { code: string; message: string }[];
}

/** A signing link's token: 32 random bytes, base64url (what the server hands out). */
const TOKEN = /^[A-Za-z0-9_-]{43}$/;
const CODE = /^[0-9]{6}$/;
/** The link has ended for good (signed, withdrawn, expired, wrong): no form, only what to do. */
const ENDED = ['SIGN_LINK_INVALID', 'SIGN_LINK_USED', 'SIGN_LINK_CANCELLED', 'SIGN_LINK_EXPIRED'];

function base64Bytes(b64: string): Uint8Array<ArrayBuffer> {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Offers bytes made here as a file to save (no server round trip: the page holds them already). */
function useDownload(bytes: Uint8Array<ArrayBuffer> | null, type: string): string | null {
  const url = useMemo(() => (bytes ? URL.createObjectURL(new Blob([bytes], { type })) : null), [bytes, type]);
  useEffect(() => () => void (url && URL.revokeObjectURL(url)), [url]);
  return url;
}

/** File names keep the document's title, without characters a file system refuses. */
const fileName = (title: string, suffix: string) => `${title.replace(/[\\/:*?"<>|\s]+/g, '_').slice(0, 80)}${suffix}`;

/**
 * Online signing by one-time link (Z5.4.2): no portal session, the link's token authorises this one
 * signature. The signer reads the document, ticks the consent, types their name (and the code sent to
 * them when the firm requires one), and gets the evidence and the files to keep.
 */
export function SignPage({ token }: { token: string }) {
  const t = useT(SIGN);
  const valid = TOKEN.test(token);
  const view = useLoad((signal) => (valid ? api<SigningView>('POST', '/api/sign/view', { token }, signal) : Promise.resolve(null)), `sign:${token}`);
  const [signed, setSigned] = useState<Signed | null>(null);
  const ended = !valid || (view.error && ENDED.includes(view.error.code));
  return (
    <div class="portal sign" data-testid="sign-page">
      <header class="portal-header">
        <div class="portal-header-row">
          <span class="portal-brand">{t('brand')}</span>
          <div class="portal-header-right">
            <LangToggle />
          </div>
        </div>
      </header>
      <main class="portal-main">
        {ended ? (
          <section class="card center-card" data-testid="sign-ended">
            <div class="center-icon" aria-hidden="true">
              i
            </div>
            <h1>{view.error?.code === 'SIGN_LINK_USED' ? t('usedTitle') : t('endedTitle')}</h1>
            {view.error ? <ErrorText error={view.error} /> : <p class="muted">{t('invalidBody')}</p>}
            <p class="muted">{t('endedHelp')}</p>
          </section>
        ) : !view.data ? (
          <section class="card center-card">
            <Spinner label={t('opening')} />
            <ErrorText error={view.error} />
          </section>
        ) : signed ? (
          <SignedSummary view={view.data} signed={signed} />
        ) : (
          <SignForm token={token} view={view.data} onSigned={setSigned} />
        )}
      </main>
      <footer class="portal-footer">{t('footer')}</footer>
    </div>
  );
}

function DocumentHead({ view }: { view: SigningView }) {
  const t = useT(SIGN);
  const { lang } = useLang();
  return (
    <section class="card doc-head">
      <span class="pill pill-accent">{t('toSign')}</span>
      <h1 data-testid="sign-title">{view.document.title}</h1>
      <dl class="facts">
        <dt>{t('matterNumber')}</dt>
        <dd>{view.document.matter_number}</dd>
        <dt>{t('signer')}</dt>
        <dd data-testid="sign-signer">{view.signer_name}</dd>
        <dt>{t('validUntil')}</dt>
        <dd>{dayTime(view.expires_at, lang)}</dd>
      </dl>
    </section>
  );
}

function SignForm({ token, view, onSigned }: { token: string; view: SigningView; onSigned: (s: Signed) => void }) {
  const t = useT(SIGN);
  const pdf = useMemo(() => base64Bytes(view.pdf_base64).buffer, [view.pdf_base64]);
  const [consent, setConsent] = useState(false);
  const [name, setName] = useState('');
  const [code, setCode] = useState('');
  const [sent, setSent] = useState<CodeSent | null>(null);
  const [sending, setSending] = useState(false);
  const [codeError, setCodeError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | string | null>(null);
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!sent) return;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [sent]);
  const wait = sent ? Math.max(0, Math.ceil((Date.parse(sent.resend_after) - now) / 1000)) : 0;

  const sendCode = async () => {
    setSending(true);
    setCodeError(null);
    try {
      setSent(await api<CodeSent>('POST', '/api/sign/code', { token }));
      setNow(Date.now());
    } catch (err) {
      setCodeError(asApiError(err));
    } finally {
      setSending(false);
    }
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    if (!consent) return setError(t('needConsent'));
    if (!name.trim()) return setError(t('needName'));
    if (view.code_required && !CODE.test(code.trim())) return setError(sent ? t('needCode') : t('needCodeFirst'));
    setBusy(true);
    setError(null);
    try {
      const body = { token, consent: true, consent_text: view.consent_text, typed_name: name.trim(), ...(view.code_required ? { code: code.trim() } : {}) };
      onSigned(await api<Signed>('POST', '/api/sign/complete', body));
      window.scrollTo(0, 0);
    } catch (err) {
      setError(asApiError(err));
      setBusy(false);
    }
  };

  return (
    <div class="page">
      <DocumentHead view={view} />
      <section class="card">
        <h2>{t('readDocument')}</h2>
        <p class="muted small">{t('readHelp')}</p>
        <PdfPages bytes={pdf} />
        <Fingerprint sha256={view.document.sha256} sm3={view.document.sm3} bytes={view.document.bytes} />
      </section>
      <form class="card sign-form" data-testid="sign-form" noValidate onSubmit={submit}>
        <h2>{t('signHere')}</h2>
        <label class="consent">
          <input type="checkbox" data-testid="sign-consent" checked={consent} onChange={(e) => setConsent(e.currentTarget.checked)} />
          <span data-testid="sign-consent-text">{view.consent_text}</span>
        </label>
        <label class="field">
          <span class="field-label">
            {t('typeName')}
            <span class="req">*</span>
          </span>
          <input class="input" data-testid="sign-name" autoComplete="name" maxLength={100} value={name} placeholder={view.signer_name} onInput={(e) => setName(e.currentTarget.value)} />
          <span class="field-hint">{t('typeNameHint', { name: view.signer_name })}</span>
        </label>
        {view.code_required && (
          <div class="field" data-testid="sign-code-block">
            <span class="field-label">
              {t('code')}
              <span class="req">*</span>
            </span>
            <p class="field-hint">{sent ? t('codeSent', { to: sent.sent_to.map(channelName(t)).join(t('or')) }) : t('codeHelp', { to: view.code_channels.map(channelName(t)).join(t('or')) || t('yourContact') })}</p>
            <div class="code-row">
              <input
                class="input input-otp"
                data-testid="sign-code"
                inputMode="numeric"
                autoComplete="one-time-code"
                maxLength={6}
                placeholder="000000"
                value={code}
                onInput={(e) => setCode(e.currentTarget.value.replace(/\D/g, ''))}
              />
              <button type="button" class="btn btn-secondary" data-testid="sign-send-code" disabled={sending || wait > 0} onClick={sendCode}>
                {sending ? t('sending') : wait > 0 ? t('resendIn', { s: wait }) : sent ? t('resend') : t('sendCode')}
              </button>
            </div>
            <ErrorText error={codeError} />
          </div>
        )}
        <ErrorText error={error} />
        <button type="submit" class="btn btn-primary btn-block" data-testid="sign-submit" disabled={busy}>
          {busy ? t('signing') : t('sign')}
        </button>
        <p class="muted small">{t('signNote')}</p>
      </form>
    </div>
  );
}

/** "sms 138****1999" → "短信 138****1999" */
const channelName = (t: (k: 'sms' | 'email') => string) => (to: string) => to.replace(/^(sms|email) /, (_, c: 'sms' | 'email') => `${t(c)} `);

function Fingerprint({ sha256, sm3, bytes }: { sha256: string; sm3: string; bytes: number }) {
  const t = useT(SIGN);
  return (
    <details class="fingerprint">
      <summary>{t('fingerprint')}</summary>
      <dl class="facts mono">
        <dt>{t('size')}</dt>
        <dd>{t('bytes', { n: bytes.toLocaleString('en') })}</dd>
        <dt>SHA-256</dt>
        <dd>
          <code>{grouped(sha256)}</code>
        </dd>
        <dt>SM3</dt>
        <dd>
          <code>{grouped(sm3)}</code>
        </dd>
      </dl>
    </details>
  );
}

/** After signing: the evidence, the check of the signature by the server, and the files to keep. */
function SignedSummary({ view, signed }: { view: SigningView; signed: Signed }) {
  const t = useT(SIGN);
  const { lang } = useLang();
  const pdf = useMemo(() => base64Bytes(view.pdf_base64), [view.pdf_base64]);
  const signature = useMemo(() => base64Bytes(signed.signature_base64), [signed.signature_base64]);
  const pdfUrl = useDownload(pdf, 'application/pdf');
  const signatureUrl = useDownload(signature, 'application/octet-stream');
  // The server checks the pair the signer keeps, as anyone holding them could later.
  const check = useLoad((signal) => api<Verification>('POST', '/api/signatures/verify', { pdf_base64: view.pdf_base64, signature_base64: signed.signature_base64 }, signal), `verify:${signed.signature_id}`);
  return (
    <div class="page" data-testid="sign-done">
      <section class="card success-box">
        <h1>✓ {t('doneTitle')}</h1>
        <p>{t('doneBody', { title: view.document.title })}</p>
      </section>
      <section class="card" data-testid="sign-evidence">
        <h2>{t('evidence')}</h2>
        <dl class="facts">
          <dt>{t('documentTitle')}</dt>
          <dd>{view.document.title}</dd>
          <dt>{t('matterNumber')}</dt>
          <dd>{view.document.matter_number}</dd>
          <dt>{t('signer')}</dt>
          <dd>{signed.signer_name}</dd>
          <dt>{t('signedAt')}</dt>
          <dd data-testid="sign-signed-at">{dayTime(signed.signed_at, lang)}</dd>
          <dt>{t('method')}</dt>
          <dd>{view.code_required ? t('methodCode') : t('methodLink')}</dd>
          <dt>{t('algorithm')}</dt>
          <dd>{check.data?.algorithm ?? 'SM2-with-SM3'}</dd>
        </dl>
        <dl class="facts mono">
          <dt>{t('docSha256')}</dt>
          <dd>
            <code data-testid="sign-sha256">{grouped(signed.document_sha256)}</code>
          </dd>
          <dt>{t('docSm3')}</dt>
          <dd>
            <code>{grouped(signed.document_sm3)}</code>
          </dd>
          <dt>{t('evidenceSm3')}</dt>
          <dd>
            <code>{grouped(signed.evidence_sm3)}</code>
          </dd>
        </dl>
        <p class="verify-line" data-testid="sign-verified" data-valid={check.data ? String(check.data.valid) : undefined}>
          {!check.data ? (check.error ? <ErrorText error={check.error} /> : t('verifying')) : check.data.valid ? <span class="pill pill-ok">✓ {t('verified')}</span> : <span class="pill pill-danger">{t('notVerified')}</span>}
        </p>
      </section>
      <section class="card">
        <h2>{t('keepFiles')}</h2>
        <p class="muted">{t('keepFilesHelp')}</p>
        <div class="actions actions-stack">
          {pdfUrl && (
            <a class="btn btn-primary" href={pdfUrl} download={fileName(view.document.title, '.pdf')} data-testid="download-document">
              {t('downloadDocument')}
            </a>
          )}
          {signatureUrl && (
            <a class="btn btn-secondary" href={signatureUrl} download={fileName(view.document.title, `-signature-${signed.signature_id}.ses`)} data-testid="download-signature">
              {t('downloadSignature')}
            </a>
          )}
        </div>
      </section>
    </div>
  );
}
