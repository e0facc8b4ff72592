import { useEffect, useRef, useState } from 'preact/hooks';
import { asApiError, type ApiError } from '../shared/api.js';
import { useT } from '../shared/i18n.js';
import { ErrorText, Spinner } from '../shared/ui.js';
import type { PDFDocumentProxy } from '../meeting/pdf.js';
import { S } from './strings.js';

type Load = { state: 'loading' } | { state: 'ready'; doc: PDFDocumentProxy } | { state: 'failed'; error: ApiError };

/**
 * A PDF read page after page, as wide as the column (a phone or a desktop), with the meeting terminal's
 * pdf.js module (loaded on demand as its own chunk, with the appliance's CMaps for Chinese fonts).
 */
export function PdfPages({ bytes }: { bytes: ArrayBuffer }) {
  const t = useT(S);
  const [load, setLoad] = useState<Load>({ state: 'loading' });
  const [width, setWidth] = useState(0);
  const box = useRef<HTMLDivElement>(null);

  useEffect(() => {
    let doc: PDFDocumentProxy | null = null;
    let cancelled = false;
    setLoad({ state: 'loading' });
    // pdf.js takes the buffer over into its worker: it gets a copy, the caller keeps the original.
    import('../meeting/pdf.js')
      .then((pdf) => pdf.openPdf(bytes.slice(0)))
      .then((opened) => {
        doc = opened;
        if (cancelled) return void opened.destroy();
        setLoad({ state: 'ready', doc: opened });
      })
      .catch((err) => !cancelled && setLoad({ state: 'failed', error: asApiError(err) }));
    return () => {
      cancelled = true;
      void doc?.destroy();
    };
  }, [bytes]);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const observer = new ResizeObserver(() => setWidth(el.clientWidth));
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  return (
    <div class="pdf-pages" ref={box} data-testid="pdf-pages" data-pages={load.state === 'ready' ? String(load.doc.numPages) : undefined}>
      {load.state === 'loading' && <Spinner label={t('loadingDocument')} />}
      {load.state === 'failed' && (
        <div class="notice-box">
          <p>{t('documentFailed')}</p>
          <ErrorText error={load.error} />
        </div>
      )}
      {load.state === 'ready' &&
        width > 0 &&
        Array.from({ length: load.doc.numPages }, (_, i) => <PdfPage key={i + 1} doc={load.doc} page={i + 1} width={width} onError={(error) => setLoad({ state: 'failed', error })} />)}
    </div>
  );
}

function PdfPage({ doc, page, width, onError }: { doc: PDFDocumentProxy; page: number; width: number; onError: (e: ApiError) => void }) {
  const t = useT(S);
  const canvas = useRef<HTMLCanvasElement>(null);
  const [shown, setShown] = useState(false);
  useEffect(() => {
    const abort = new AbortController();
    import('../meeting/pdf.js')
      // The page fits the column's width; its height follows from its own proportions.
      .then((pdf) => pdf.renderPage(doc, page, canvas.current!, { width, height: width * 10 }, abort.signal))
      .then((rendered) => rendered && setShown(true))
      .catch((err) => !abort.signal.aborted && onError(asApiError(err)));
    return () => abort.abort();
  }, [doc, page, width]);
  return (
    <figure class="pdf-page">
      <canvas ref={canvas} class="pdf-canvas" data-testid="pdf-page" data-page={shown ? String(page) : undefined} aria-label={t('pageOf', { n: page, total: doc.numPages })} />
      <figcaption class="muted small">{t('pageOf', { n: page, total: doc.numPages })}</figcaption>
    </figure>
  );
}
