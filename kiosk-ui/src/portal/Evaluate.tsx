import { Fragment } from 'preact';
import { useState } from 'preact/hooks';
import { asApiError, type ApiError } from '../shared/api.js';
import { useLang, useT } from '../shared/i18n.js';
import { useLoad } from '../shared/load.js';
import { ErrorText, Spinner } from '../shared/ui.js';
import { portalApi, type Dimension, type EvaluationView, type Scores } from './api.js';
import { day, dayTime } from './format.js';
import { BackLink } from './parts.js';
import { dimensionHelp, dimensionLabel, S } from './strings.js';

const COMMENT_MAX = 2000;
const STARS = [1, 2, 3, 4, 5] as const;

/** The client rates the service of a closed matter (Z5.6): six dimensions from 1 to 5 and a comment, once. */
export function EvaluatePage({ matterId }: { matterId: number }) {
  const t = useT(S);
  const { lang } = useLang();
  const loaded = useLoad((signal) => portalApi<EvaluationView>('GET', `/api/portal/matters/${matterId}/evaluation`, undefined, signal), `evaluation:${matterId}`);
  const [scores, setScores] = useState<Partial<Scores>>({});
  const [comment, setComment] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | string | null>(null);
  const view = loaded.data;

  const submit = async (e: Event) => {
    e.preventDefault();
    if (!view || busy) return;
    const missing = view.dimensions.filter((d) => !scores[d.id]);
    if (missing.length) return setError(t('scoresMissing', { names: missing.map((d) => dimensionLabel(lang, d.id, d.label)).join(lang === 'zh' ? '、' : ', ') }));
    if (comment.trim().length > COMMENT_MAX) return setError(t('opinionTooLong', { n: COMMENT_MAX }));
    setBusy(true);
    setError(null);
    try {
      const evaluation = await portalApi<EvaluationView['evaluation']>('POST', `/api/portal/matters/${matterId}/evaluation`, { ...scores, comment: comment.trim() || null });
      loaded.setData((v) => v && { ...v, can_evaluate: false, evaluation });
    } catch (err) {
      setError(asApiError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="page" data-testid="evaluate-page">
      <BackLink />
      {!view && loaded.error && <ErrorText error={loaded.error} />}
      {!view && !loaded.error && <Spinner label={t('loading')} />}
      {view && (
        <>
          <section class="card doc-head">
            <h1>{t('evaluateTitle')}</h1>
            <dl class="facts">
              <dt>{t('matter')}</dt>
              <dd>
                {view.matter.title}（{view.matter.number}）
              </dd>
              <dt>{t('lawyer')}</dt>
              <dd>{view.matter.lawyer_name}</dd>
              {view.matter.closed_at && (
                <>
                  <dt>{t('closedOnLabel')}</dt>
                  <dd>{day(view.matter.closed_at, lang)}</dd>
                </>
              )}
            </dl>
          </section>
          {view.evaluation ? (
            <section class="card" data-testid="evaluation-done">
              <h2>{t('evaluationThanks')}</h2>
              <p class="muted">{t('evaluatedAt', { time: dayTime(view.evaluation.submitted_at, lang) })}</p>
              <dl class="facts scores">
                {view.dimensions.map((d) => (
                  <Fragment key={d.id}>
                    <dt>{dimensionLabel(lang, d.id, d.label)}</dt>
                    <dd data-testid={`evaluation-${d.id}`} aria-label={t('starsOf', { n: view.evaluation![d.id] })}>
                      <span class="stars-static">{'★'.repeat(view.evaluation![d.id])}</span>
                      <span class="stars-off">{'★'.repeat(5 - view.evaluation![d.id])}</span>
                    </dd>
                  </Fragment>
                ))}
                {view.evaluation.comment && (
                  <>
                    <dt>{t('comment')}</dt>
                    <dd class="pre">{view.evaluation.comment}</dd>
                  </>
                )}
              </dl>
            </section>
          ) : !view.can_evaluate ? (
            <section class="card" data-testid="evaluation-not-yet">
              <h2>{t('notClosedTitle')}</h2>
              <p class="muted">{t('notClosedBody')}</p>
            </section>
          ) : (
            <form class="card" data-testid="evaluation-form" onSubmit={submit}>
              <p class="muted">{t('evaluateLead')}</p>
              <div class="dimensions">
                {view.dimensions.map((d) => (
                  <StarField
                    key={d.id}
                    id={d.id}
                    label={dimensionLabel(lang, d.id, d.label)}
                    help={dimensionHelp(lang, d.id)}
                    value={scores[d.id] ?? 0}
                    onChange={(v) => {
                      setScores((s) => ({ ...s, [d.id]: v }));
                      setError(null);
                    }}
                  />
                ))}
              </div>
              <label class="field">
                <span class="field-label">
                  {t('comment')} <span class="muted small">{t('optional')}</span>
                </span>
                <textarea class="input textarea" data-testid="evaluation-comment" rows={4} maxLength={COMMENT_MAX} value={comment} onInput={(e) => setComment(e.currentTarget.value)} />
              </label>
              <ErrorText error={error} />
              <button type="submit" class="btn btn-primary btn-block" data-testid="evaluation-submit" disabled={busy}>
                {busy ? t('submitting') : t('evaluationSubmit')}
              </button>
            </form>
          )}
        </>
      )}
    </div>
  );
}

/** Five stars as a radio group: keyboard arrows move, each star says its score. */
function StarField({ id, label, help, value, onChange }: { id: Dimension; label: string; help: string; value: number; onChange: (v: number) => void }) {
  const t = useT(S);
  return (
    <fieldset class="star-field" data-testid={`dimension-${id}`}>
      <legend>
        <span class="field-label">{label}</span>
        <span class="muted small">{help}</span>
      </legend>
      <div class="stars" role="radiogroup" aria-label={label}>
        {STARS.map((n) => (
          <label key={n} class={`star ${n <= value ? 'star-on' : ''}`} title={t(`score${n}`)}>
            <input type="radio" name={`score-${id}`} value={n} checked={value === n} data-testid={`star-${id}-${n}`} onChange={() => onChange(n)} />
            <span aria-hidden="true">★</span>
            <span class="sr-only">{t('starsOf', { n })}</span>
          </label>
        ))}
        <span class="star-word">{value ? t(`score${value as 1 | 2 | 3 | 4 | 5}`) : ''}</span>
      </div>
    </fieldset>
  );
}
