import { useState } from 'preact/hooks';
import { asApiError, type ApiError } from '../shared/api.js';
import { useLang, useT } from '../shared/i18n.js';
import { useLoad } from '../shared/load.js';
import { ErrorText, Spinner } from '../shared/ui.js';
import { portalApi, type Confirmation } from './api.js';
import { dayTime, grouped } from './format.js';
import { BackLink } from './parts.js';
import { confirmationStatus, S } from './strings.js';

const OPINION_MAX = 5000;

/**
 * A text the lawyer asks the client to confirm (a draft letter, a settlement plan, an interview record):
 * the client reads it whole, then confirms it (with an optional opinion) or sends comments instead.
 * The answer is final; the server keeps it with its time, address and the hash of the text answered.
 */
export function ConfirmPage({ id }: { id: number }) {
  const t = useT(S);
  const { lang } = useLang();
  const loaded = useLoad((signal) => portalApi<Confirmation>('GET', `/api/portal/confirmations/${id}`, undefined, signal), `confirmation:${id}`);
  const [text, setText] = useState('');
  const [step, setStep] = useState<'read' | 'confirming'>('read');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | string | null>(null);
  const c = loaded.data;

  const answer = async (decision: 'confirm' | 'comment') => {
    const opinion = text.trim();
    if (decision === 'comment' && !opinion) return setError(t('commentRequired'));
    if (opinion.length > OPINION_MAX) return setError(t('opinionTooLong', { n: OPINION_MAX }));
    setBusy(true);
    setError(null);
    try {
      const answered = await portalApi<Confirmation>('POST', `/api/portal/confirmations/${id}`, { decision, text: opinion || null });
      loaded.setData(() => answered);
      setStep('read');
    } catch (err) {
      setError(asApiError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="page" data-testid="confirm-page">
      <BackLink />
      {!c && loaded.error && <ErrorText error={loaded.error} />}
      {!c && !loaded.error && <Spinner label={t('loading')} />}
      {c && (
        <>
          <section class="card doc-head">
            <div class="matter-top">
              <span class="pill pill-accent">{c.kind_label}</span>
              <span class={`pill ${c.status === 'pending' ? 'pill-warn' : c.status === 'confirmed' ? 'pill-ok' : ''}`} data-testid="confirm-status">
                {confirmationStatus(lang, c.status)}
              </span>
            </div>
            <h1>{c.title}</h1>
            <dl class="facts">
              <dt>{t('matter')}</dt>
              <dd>
                {c.matter.title}（{c.matter.number}）
              </dd>
              <dt>{t('requestedAt')}</dt>
              <dd>{dayTime(c.requested_at, lang)}</dd>
            </dl>
          </section>
          <section class="card">
            <h2>{t('confirmText')}</h2>
            <div class="doc-text" data-testid="confirm-content">
              {c.content}
            </div>
            <p class="hash muted small">
              {t('textHash')} <code>{grouped(c.content_sha256)}</code>
            </p>
          </section>
          {c.status === 'pending' ? (
            <section class="card answer" data-testid="confirm-form">
              <h2>{t('yourAnswer')}</h2>
              <p class="muted">{t('answerHelp')}</p>
              <label class="field">
                <span class="field-label">
                  {t('opinion')} <span class="muted small">{t('opinionHint')}</span>
                </span>
                <textarea class="input textarea" data-testid="confirm-text" rows={4} maxLength={OPINION_MAX} value={text} onInput={(e) => setText(e.currentTarget.value)} />
              </label>
              <ErrorText error={error} />
              {step === 'read' ? (
                <div class="actions">
                  <button type="button" class="btn btn-secondary" data-testid="confirm-comment" disabled={busy} onClick={() => answer('comment')}>
                    {t('sendComments')}
                  </button>
                  <button
                    type="button"
                    class="btn btn-primary"
                    data-testid="confirm-start"
                    disabled={busy}
                    onClick={() => {
                      setError(null);
                      setStep('confirming');
                    }}
                  >
                    {t('confirmAction')}
                  </button>
                </div>
              ) : (
                <div class="notice-box" role="alert">
                  <p>{t('confirmFinal')}</p>
                  <div class="actions">
                    <button type="button" class="btn btn-secondary" disabled={busy} onClick={() => setStep('read')}>
                      {t('cancel')}
                    </button>
                    <button type="button" class="btn btn-primary" data-testid="confirm-submit" disabled={busy} onClick={() => answer('confirm')}>
                      {busy ? t('submitting') : t('confirmYes')}
                    </button>
                  </div>
                </div>
              )}
            </section>
          ) : (
            <section class="card answered" data-testid="confirm-answered">
              <h2>{c.status === 'superseded' ? t('supersededTitle') : t('answeredTitle')}</h2>
              {c.status === 'superseded' ? (
                <p class="muted">{t('supersededBody')}</p>
              ) : (
                <dl class="facts">
                  <dt>{t('answer')}</dt>
                  <dd>{confirmationStatus(lang, c.status)}</dd>
                  <dt>{t('answeredAt')}</dt>
                  <dd>{dayTime(c.responded_at, lang)}</dd>
                  {c.response_text && (
                    <>
                      <dt>{t('opinion')}</dt>
                      <dd class="pre">{c.response_text}</dd>
                    </>
                  )}
                </dl>
              )}
            </section>
          )}
        </>
      )}
    </div>
  );
}
