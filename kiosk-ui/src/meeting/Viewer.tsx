import { useEffect, useRef, useState } from 'preact/hooks';
import { apiBytes, asApiError, type ApiError } from '../shared/api.js';
import { useT } from '../shared/i18n.js';
import { ErrorText, hhmm, Spinner, useNow } from '../shared/ui.js';
import type { PDFDocumentProxy } from './pdf.js';
import { S } from './strings.js';

/** A pen stroke in page coordinates (0..1 of the page's width and height), so it fits any screen size. */
export interface Stroke {
  color: string;
  width: number;
  points: [number, number][];
}

interface ViewerProps {
  documentId: number;
  page: number;
  /** Turns pages by swiping (when the pen is off). */
  onSwipe: (direction: 1 | -1) => void;
  onPageCount: (n: number) => void;
  onWithdrawn: () => void;
  /** Confidential documents carry the seat's name and the time across the page. */
  watermark: string | null;
  pen: boolean;
  strokes: Stroke[];
  onStrokes: (strokes: Stroke[]) => void;
}

type Load = { state: 'loading' } | { state: 'ready'; doc: PDFDocumentProxy } | { state: 'failed'; error: ApiError };

/** Renders the document's page with pdf.js, fitted to the screen, under the private pen layer. */
export function Viewer({ documentId, page, onSwipe, onPageCount, onWithdrawn, watermark, pen, strokes, onStrokes }: ViewerProps) {
  const t = useT(S);
  const [load, setLoad] = useState<Load>({ state: 'loading' });
  const [attempt, setAttempt] = useState(0);
  const [box, setBox] = useState<{ width: number; height: number } | null>(null);
  const [shown, setShown] = useState<{ page: number; width: number; height: number } | null>(null);
  const stage = useRef<HTMLDivElement>(null);
  const canvas = useRef<HTMLCanvasElement>(null);

  useEffect(() => {
    const abort = new AbortController();
    let doc: PDFDocumentProxy | null = null;
    setLoad({ state: 'loading' });
    setShown(null);
    (async () => {
      try {
        const [bytes, pdf] = await Promise.all([apiBytes(`/api/kiosk/meeting/documents/${documentId}`, abort.signal), import('./pdf.js')]);
        if (abort.signal.aborted) return;
        doc = await pdf.openPdf(bytes);
        if (abort.signal.aborted) return void doc.destroy();
        onPageCount(doc.numPages);
        setLoad({ state: 'ready', doc });
      } catch (err) {
        if (abort.signal.aborted) return;
        const e = asApiError(err);
        if (e.status === 410 || e.code === 'DOCUMENT_WITHDRAWN') return onWithdrawn();
        setLoad({ state: 'failed', error: e });
        if (e.transient) setTimeout(() => !abort.signal.aborted && setAttempt((n) => n + 1), 3000);
      }
    })();
    return () => {
      abort.abort();
      void doc?.destroy();
    };
  }, [documentId, attempt]);

  useEffect(() => {
    const el = stage.current;
    if (!el) return;
    const observer = new ResizeObserver(() => setBox({ width: el.clientWidth - 32, height: el.clientHeight - 32 }));
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  useEffect(() => {
    if (load.state !== 'ready' || !box || !canvas.current || box.width <= 0 || box.height <= 0) return;
    const abort = new AbortController();
    const target = Math.min(Math.max(1, page), load.doc.numPages);
    import('./pdf.js')
      .then((pdf) => pdf.renderPage(load.doc, target, canvas.current!, box, abort.signal))
      .then((rendered) => rendered && setShown({ page: target, ...rendered }))
      .catch((err) => {
        // A page pdf.js cannot draw (a damaged file) is this document's problem, not the terminal's.
        if (!abort.signal.aborted) setLoad({ state: 'failed', error: asApiError(err) });
      });
    return () => abort.abort();
  }, [load, page, box?.width, box?.height]);

  // Swipes turn pages; a pen stroke is not a swipe.
  const swipe = useRef<{ x: number; y: number } | null>(null);
  const onPointerDown = (e: PointerEvent) => {
    if (!pen) swipe.current = { x: e.clientX, y: e.clientY };
  };
  const onPointerUp = (e: PointerEvent) => {
    const start = swipe.current;
    swipe.current = null;
    if (!start) return;
    const dx = e.clientX - start.x;
    if (Math.abs(dx) > 120 && Math.abs(dx) > 2 * Math.abs(e.clientY - start.y)) onSwipe(dx < 0 ? 1 : -1);
  };

  return (
    <div class="viewer-stage" ref={stage} onPointerDown={onPointerDown} onPointerUp={onPointerUp} onContextMenu={(e) => e.preventDefault()}>
      <div class="page-frame" style={shown ? { width: `${shown.width}px`, height: `${shown.height}px` } : { visibility: 'hidden' }}>
        <canvas ref={canvas} class="pdf-canvas" data-testid="pdf-page" data-page={shown ? String(shown.page) : undefined} />
        {shown && <PenLayer width={shown.width} height={shown.height} pen={pen} strokes={strokes} onStrokes={onStrokes} />}
        {shown && watermark && <Watermark text={watermark} />}
      </div>
      {load.state === 'loading' && (
        <div class="viewer-overlay">
          <Spinner label={t('loadingDoc')} />
        </div>
      )}
      {load.state === 'failed' && (
        <div class="viewer-overlay">
          <div class="viewer-message">
            <h2>{t('docFailed')}</h2>
            <ErrorText error={load.error} />
          </div>
        </div>
      )}
    </div>
  );
}

const PEN_COLOR = '#e0322b';
const PEN_WIDTH = 0.004;

function PenLayer({ width, height, pen, strokes, onStrokes }: { width: number; height: number; pen: boolean; strokes: Stroke[]; onStrokes: (s: Stroke[]) => void }) {
  const ref = useRef<HTMLCanvasElement>(null);
  const drawing = useRef<Stroke | null>(null);
  const ratio = Math.min(window.devicePixelRatio || 1, 2);

  const draw = (list: Stroke[]) => {
    const c = ref.current;
    const ctx = c?.getContext('2d');
    if (!c || !ctx) return;
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    for (const s of list) {
      if (!s.points.length) continue;
      ctx.strokeStyle = s.color;
      ctx.lineWidth = Math.max(1.5, s.width * width);
      ctx.beginPath();
      ctx.moveTo(s.points[0][0] * width, s.points[0][1] * height);
      for (const [x, y] of s.points.slice(1)) ctx.lineTo(x * width, y * height);
      if (s.points.length === 1) ctx.lineTo(s.points[0][0] * width + 0.1, s.points[0][1] * height);
      ctx.stroke();
    }
  };
  useEffect(() => draw(strokes), [strokes, width, height]);

  const point = (e: PointerEvent): [number, number] => {
    const r = ref.current!.getBoundingClientRect();
    const round = (v: number) => Math.round(Math.min(1, Math.max(0, v)) * 10_000) / 10_000;
    return [round((e.clientX - r.left) / r.width), round((e.clientY - r.top) / r.height)];
  };
  const down = (e: PointerEvent) => {
    if (!pen) return;
    e.stopPropagation();
    ref.current?.setPointerCapture(e.pointerId);
    drawing.current = { color: PEN_COLOR, width: PEN_WIDTH, points: [point(e)] };
  };
  const move = (e: PointerEvent) => {
    const s = drawing.current;
    if (!s) return;
    const p = point(e);
    const last = s.points[s.points.length - 1];
    // Skips points closer than ~1.5 px: keeps the stored JSON small without visible loss.
    if (Math.abs(p[0] - last[0]) * width + Math.abs(p[1] - last[1]) * height < 1.5) return;
    s.points.push(p);
    draw([...strokes, s]);
  };
  const up = () => {
    const s = drawing.current;
    drawing.current = null;
    if (s) onStrokes([...strokes, s]);
  };
  return (
    <canvas
      ref={ref}
      class={`pen-layer ${pen ? 'pen-on' : ''}`}
      width={Math.floor(width * ratio)}
      height={Math.floor(height * ratio)}
      style={{ width: `${width}px`, height: `${height}px` }}
      onPointerDown={down}
      onPointerMove={move}
      onPointerUp={up}
      onPointerCancel={up}
    />
  );
}

function Watermark({ text }: { text: string }) {
  const now = useNow(30_000);
  const line = `${text} · ${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, '0')}-${String(now.getDate()).padStart(2, '0')} ${hhmm(now)}`;
  return (
    <div class="watermark" aria-hidden="true">
      <div class="watermark-grid">
        {Array.from({ length: 48 }, (_, i) => (
          <span key={i}>{line}</span>
        ))}
      </div>
    </div>
  );
}
