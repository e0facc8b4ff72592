import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { asApiError, type ApiError } from '../shared/api.js';
import { localMessage, useLang, useT } from '../shared/i18n.js';
import { useLoad } from '../shared/load.js';
import { ErrorText, Spinner } from '../shared/ui.js';
import { portalApi, type Overview } from './api.js';
import { day, yuan } from './format.js';
import { BackLink } from './parts.js';
import { invoiceStatus, S, type Key } from './strings.js';

interface InvoiceRequest {
  id: number;
  matter: { id: number; number: string };
  invoice_type: 'normal' | 'special';
  title_kind: 'organization' | 'person';
  title: string;
  taxpayer_id: string | null;
  amount: string;
  delivery: 'email' | 'post';
  email: string | null;
  recipient_name: string | null;
  postal_address: string | null;
  status: 'submitted' | 'processing' | 'issued' | 'rejected';
  invoice_number: string | null;
  invoice_date: string | null;
  reject_reason: string | null;
  created_at: string;
  warnings?: string[];
}

type Form = {
  matter_id: string;
  invoice_type: 'normal' | 'special';
  title_kind: 'organization' | 'person';
  title: string;
  taxpayer_id: string;
  amount: string;
  company_address: string;
  company_phone: string;
  bank_name: string;
  bank_account: string;
  delivery: 'email' | 'post';
  email: string;
  recipient_name: string;
  recipient_phone: string;
  postal_address: string;
  note: string;
};
type Field = keyof Form;
type Errors = Partial<Record<Field, Key>>;

// The same rules as the server's, checked before sending so each mistake shows at its field.
const AMOUNT = /^\d{1,12}(\.\d{1,2})?$/;
const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,190}\.[^\s@]{1,20}$/;
const PHONE = /^\+?[0-9][0-9 ()（）-]{4,24}$/;
/** GB 32100: 18 characters of digits and capitals without I, O, Z, S, V (the check digit is the server's). */
const USCC = /^[0-9A-HJ-NPQRTUWXY]{18}$/;
const BANK_ACCOUNT = /^[0-9]{6,34}$/;
const LIMITS: Partial<Record<Field, number>> = { title: 200, company_address: 300, bank_name: 200, recipient_name: 100, postal_address: 300, note: 1000, email: 200 };

function validateInvoice(f: Form): Errors {
  const e: Errors = {};
  const v = (k: Field) => f[k].trim();
  if (!v('matter_id')) e.matter_id = 'errMatter';
  if (!v('title')) e.title = 'errRequired';
  if (f.invoice_type === 'special' && f.title_kind !== 'organization') e.title_kind = 'errSpecialOrg';
  if (f.title_kind === 'organization') {
    if (!v('taxpayer_id')) e.taxpayer_id = 'errRequired';
    else if (!USCC.test(v('taxpayer_id').toUpperCase())) e.taxpayer_id = 'errUscc';
  }
  if (!v('amount')) e.amount = 'errRequired';
  else if (!AMOUNT.test(v('amount')) || !(Number(v('amount')) > 0)) e.amount = 'errAmount';
  if (f.invoice_type === 'special') {
    for (const k of ['company_address', 'company_phone', 'bank_name', 'bank_account'] as const) if (!v(k)) e[k] = 'errRequiredSpecial';
  }
  if (v('company_phone') && !PHONE.test(v('company_phone'))) e.company_phone = 'errPhone';
  if (v('bank_account') && !BANK_ACCOUNT.test(v('bank_account').replace(/[\s-]/g, ''))) e.bank_account = 'errBankAccount';
  if (f.delivery === 'email') {
    if (!v('email')) e.email = 'errRequired';
    else if (!EMAIL.test(v('email'))) e.email = 'errEmail';
  } else {
    for (const k of ['recipient_name', 'recipient_phone', 'postal_address'] as const) if (!v(k)) e[k] = 'errRequired';
    if (v('recipient_phone') && !PHONE.test(v('recipient_phone'))) e.recipient_phone = 'errPhone';
  }
  for (const [k, max] of Object.entries(LIMITS) as [Field, number][]) if (!e[k] && v(k).length > max) e[k] = 'errTooLong';
  return e;
}

/** The request as the server takes it: only what this kind of invoice and delivery uses, blanks as null. */
function body(f: Form) {
  const opt = (s: string) => s.trim() || null;
  const special = f.invoice_type === 'special';
  const post = f.delivery === 'post';
  return {
    matter_id: Number(f.matter_id),
    invoice_type: f.invoice_type,
    title_kind: f.title_kind,
    title: f.title.trim(),
    taxpayer_id: f.title_kind === 'organization' ? opt(f.taxpayer_id.toUpperCase()) : null,
    amount: f.amount.trim(),
    company_address: special ? opt(f.company_address) : null,
    company_phone: special ? opt(f.company_phone) : null,
    bank_name: special ? opt(f.bank_name) : null,
    bank_account: special ? opt(f.bank_account) : null,
    delivery: f.delivery,
    email: post ? null : opt(f.email),
    recipient_name: post ? opt(f.recipient_name) : null,
    recipient_phone: post ? opt(f.recipient_phone) : null,
    postal_address: post ? opt(f.postal_address) : null,
    note: opt(f.note),
  };
}

/** Invoice requests (Z5.4.4): the client gives the invoice details and where to send it, and sees the status. */
export function InvoicesPage({ overview }: { overview: Overview }) {
  const t = useT(S);
  const list = useLoad((signal) => portalApi<InvoiceRequest[]>('GET', '/api/portal/invoice-requests', undefined, signal), 'invoices', { refetchOnVisible: true });
  const [formOpen, setFormOpen] = useState(false);
  const [submitted, setSubmitted] = useState<InvoiceRequest | null>(null);
  return (
    <div class="page" data-testid="invoices-page">
      <BackLink />
      <section class="section">
        <div class="section-head">
          <h1>{t('invoicesTitle')}</h1>
          {!formOpen && (
            <button
              type="button"
              class="btn btn-primary"
              data-testid="invoice-new"
              onClick={() => {
                setSubmitted(null);
                setFormOpen(true);
              }}
            >
              {t('invoiceNew')}
            </button>
          )}
        </div>
        <p class="muted">{t('invoicesLead')}</p>
      </section>
      {submitted && <Submitted request={submitted} />}
      {formOpen && (
        <InvoiceForm
          overview={overview}
          onCancel={() => setFormOpen(false)}
          onDone={(r) => {
            setSubmitted(r);
            setFormOpen(false);
            list.setData((rows) => [r, ...(rows ?? []).filter((x) => x.id !== r.id)]);
            window.scrollTo(0, 0);
          }}
        />
      )}
      <section class="section" data-testid="invoice-list">
        <h2>{t('invoiceHistory')}</h2>
        {!list.data && list.error && <ErrorText error={list.error} />}
        {!list.data && !list.error && <Spinner label={t('loading')} />}
        {list.data?.length === 0 && <p class="card muted">{t('noInvoices')}</p>}
        {list.data?.map((r) => <InvoiceCard key={r.id} request={r} />)}
      </section>
    </div>
  );
}

function Submitted({ request }: { request: InvoiceRequest }) {
  const t = useT(S);
  const { lang } = useLang();
  return (
    <section class="card success-box" role="status" data-testid="invoice-submitted">
      <h2>✓ {t('invoiceSubmitted')}</h2>
      <p>{t('invoiceSubmittedBody')}</p>
      {request.warnings?.map((w) => (
        <p key={w} class="notice-box">
          {localMessage(w, lang)}
        </p>
      ))}
    </section>
  );
}

function InvoiceCard({ request: r }: { request: InvoiceRequest }) {
  const t = useT(S);
  const { lang } = useLang();
  const tone = r.status === 'issued' ? 'pill-ok' : r.status === 'rejected' ? 'pill-danger' : 'pill-warn';
  return (
    <article class="card invoice" data-testid="invoice-card" data-status={r.status}>
      <div class="matter-top">
        <span class={`pill ${tone}`} data-testid="invoice-status">
          {invoiceStatus(lang, r.status)}
        </span>
        <span class="muted small">{day(r.created_at, lang)}</span>
      </div>
      <h3>
        {r.title} <span class="amount">{yuan(r.amount)}</span>
      </h3>
      <dl class="facts">
        <dt>{t('invoiceType')}</dt>
        <dd>{r.invoice_type === 'special' ? t('typeSpecial') : t('typeNormal')}</dd>
        <dt>{t('matter')}</dt>
        <dd>{r.matter.number}</dd>
        {r.taxpayer_id && (
          <>
            <dt>{t('taxpayerId')}</dt>
            <dd>{r.taxpayer_id}</dd>
          </>
        )}
        <dt>{t('delivery')}</dt>
        <dd>{r.delivery === 'email' ? `${t('deliveryEmail')} ${r.email ?? ''}` : `${t('deliveryPost')} ${r.recipient_name ?? ''}`}</dd>
        {r.invoice_number && (
          <>
            <dt>{t('invoiceNumber')}</dt>
            <dd>
              {r.invoice_number}（{day(r.invoice_date, lang)}）
            </dd>
          </>
        )}
        {r.reject_reason && (
          <>
            <dt>{t('rejectReason')}</dt>
            <dd>{r.reject_reason}</dd>
          </>
        )}
      </dl>
    </article>
  );
}

function InvoiceForm({ overview, onCancel, onDone }: { overview: Overview; onCancel: () => void; onDone: (r: InvoiceRequest) => void }) {
  const t = useT(S);
  const { client, matters } = overview;
  const [f, setF] = useState<Form>({
    matter_id: matters.length === 1 ? String(matters[0].id) : '',
    invoice_type: 'normal',
    title_kind: 'person',
    title: client.name.includes('*') ? '' : client.name,
    taxpayer_id: '',
    amount: '',
    company_address: '',
    company_phone: '',
    bank_name: '',
    bank_account: '',
    delivery: 'email',
    email: '',
    recipient_name: '',
    recipient_phone: '',
    postal_address: '',
    note: '',
  });
  const [errors, setErrors] = useState<Errors>({});
  const [tried, setTried] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const set = <K extends Field>(k: K, value: Form[K]) => {
    const next = { ...f, [k]: value };
    // A special VAT invoice goes to an organisation only: choosing it chooses that too.
    if (k === 'invoice_type' && value === 'special') next.title_kind = 'organization';
    setF(next);
    if (tried) setErrors(validateInvoice(next));
  };
  const submit = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    setTried(true);
    const found = validateInvoice(f);
    setErrors(found);
    if (Object.keys(found).length) {
      setError(null);
      // The first field to correct comes into view.
      requestAnimationFrame(() => document.querySelector<HTMLElement>('.field-invalid input, .field-invalid select, .field-invalid textarea')?.focus());
      return;
    }
    setBusy(true);
    setError(null);
    try {
      onDone(await portalApi<InvoiceRequest>('POST', '/api/portal/invoice-requests', body(f)));
    } catch (err) {
      setError(asApiError(err));
    } finally {
      setBusy(false);
    }
  };

  const text = (k: Field, label: string, opts: { required?: boolean; type?: string; inputMode?: string; placeholder?: string; hint?: string; multiline?: boolean } = {}) => (
    <FieldBox label={label} required={opts.required} error={errors[k]} hint={opts.hint}>
      {opts.multiline ? (
        <textarea class="input textarea" rows={3} name={k} data-testid={`invoice-${k}`} value={f[k]} aria-invalid={!!errors[k]} onInput={(e) => set(k, e.currentTarget.value)} />
      ) : (
        <input
          class="input"
          name={k}
          type={opts.type ?? 'text'}
          inputMode={opts.inputMode as 'text'}
          placeholder={opts.placeholder}
          data-testid={`invoice-${k}`}
          value={f[k]}
          aria-invalid={!!errors[k]}
          onInput={(e) => set(k, e.currentTarget.value)}
        />
      )}
    </FieldBox>
  );
  const choice = <K extends 'invoice_type' | 'title_kind' | 'delivery'>(k: K, options: [Form[K], string][], label: string) => (
    <FieldBox label={label} required error={errors[k]} group>
      <div class="segmented" role="radiogroup" aria-label={label}>
        {options.map(([value, text]) => (
          <label key={value} class={f[k] === value ? 'seg-on' : ''}>
            <input type="radio" name={k} value={value} checked={f[k] === value} data-testid={`invoice-${k}-${value}`} onChange={() => set(k, value)} />
            {text}
          </label>
        ))}
      </div>
    </FieldBox>
  );

  const special = f.invoice_type === 'special';
  const organization = f.title_kind === 'organization';
  return (
    <form class="card invoice-form" data-testid="invoice-form" noValidate onSubmit={submit}>
      <h2>{t('invoiceNew')}</h2>
      <FieldBox label={t('matter')} required error={errors.matter_id}>
        <select class="input" name="matter_id" data-testid="invoice-matter_id" value={f.matter_id} aria-invalid={!!errors.matter_id} onChange={(e) => set('matter_id', e.currentTarget.value)}>
          <option value="">{t('chooseMatter')}</option>
          {matters.map((m) => (
            <option key={m.id} value={String(m.id)}>
              {m.number} {m.title}
            </option>
          ))}
        </select>
      </FieldBox>
      {choice('invoice_type', [['normal', t('typeNormal')], ['special', t('typeSpecial')]], t('invoiceType'))}
      {choice('title_kind', [['person', t('titlePerson')], ['organization', t('titleOrganization')]], t('titleKind'))}
      {text('title', t('invoiceTitle'), { required: true, hint: organization ? t('invoiceTitleOrgHint') : undefined })}
      {organization && text('taxpayer_id', t('taxpayerId'), { required: true, placeholder: '91110105MA01XXXXXX', hint: t('taxpayerIdHint') })}
      {text('amount', t('amount'), { required: true, inputMode: 'decimal', placeholder: '30000.00', hint: t('amountHint') })}
      {special && (
        <fieldset class="subfields">
          <legend>{t('specialFields')}</legend>
          {text('company_address', t('companyAddress'), { required: true })}
          {text('company_phone', t('companyPhone'), { required: true, type: 'tel', inputMode: 'tel' })}
          {text('bank_name', t('bankName'), { required: true })}
          {text('bank_account', t('bankAccount'), { required: true, inputMode: 'numeric' })}
        </fieldset>
      )}
      {choice('delivery', [['email', t('deliveryEmail')], ['post', t('deliveryPost')]], t('delivery'))}
      {f.delivery === 'email' ? (
        text('email', t('email'), { required: true, type: 'email', inputMode: 'email', placeholder: 'name@example.com' })
      ) : (
        <fieldset class="subfields">
          <legend>{t('postFields')}</legend>
          {text('recipient_name', t('recipientName'), { required: true })}
          {text('recipient_phone', t('recipientPhone'), { required: true, type: 'tel', inputMode: 'tel' })}
          {text('postal_address', t('postalAddress'), { required: true, multiline: true })}
        </fieldset>
      )}
      {text('note', t('note'), { multiline: true, hint: t('optional') })}
      {tried && Object.keys(errors).length > 0 && (
        <p class="error-text" role="alert" data-testid="invoice-form-errors">
          {t('formHasErrors', { n: Object.keys(errors).length })}
        </p>
      )}
      <ErrorText error={error} />
      <div class="actions">
        <button type="button" class="btn btn-secondary" disabled={busy} onClick={onCancel}>
          {t('cancel')}
        </button>
        <button type="submit" class="btn btn-primary" data-testid="invoice-submit" disabled={busy}>
          {busy ? t('submitting') : t('invoiceSubmit')}
        </button>
      </div>
    </form>
  );
}

/** A labelled field with its hint, or its mistake once the form was tried; a group of choices is not a label. */
function FieldBox({ label, required, error, hint, group, children }: { label: string; required?: boolean; error?: Key; hint?: string; group?: boolean; children: ComponentChildren }) {
  const t = useT(S);
  const Tag = group ? 'div' : 'label';
  return (
    <Tag class={`field ${error ? 'field-invalid' : ''}`}>
      <span class="field-label">
        {label}
        {required && <span class="req">*</span>}
      </span>
      {children}
      {error ? (
        <span class="field-error" role="alert" data-testid="field-error">
          {t(error)}
        </span>
      ) : (
        hint && <span class="field-hint">{hint}</span>
      )}
    </Tag>
  );
}
