// Loaded on demand (a separate chunk): pdf.js is large and only the meeting terminal needs it.
import { getDocument, GlobalWorkerOptions, type PDFDocumentProxy, type RenderTask } from 'pdfjs-dist';

GlobalWorkerOptions.workerSrc = '/kiosk/assets/pdf.worker.min.mjs';

export type { PDFDocumentProxy };

export function openPdf(bytes: ArrayBuffer): Promise<PDFDocumentProxy> {
  return getDocument({
    data: new Uint8Array(bytes),
    cMapUrl: '/kiosk/assets/pdfjs/cmaps/',
    cMapPacked: true,
    standardFontDataUrl: '/kiosk/assets/pdfjs/standard_fonts/',
    // The page's Content-Security-Policy forbids eval; pdf.js would otherwise try it for fonts.
    isEvalSupported: false,
    enableXfa: false,
  }).promise;
}

export interface Rendered {
  /** CSS pixels of the page as drawn. */
  width: number;
  height: number;
}

/**
 * Draws one page into `canvas`, as large as fits in `box` (CSS pixels), sharp on high-density screens.
 * Returns null when `signal` cancelled the render (a newer page was asked for).
 */
export async function renderPage(doc: PDFDocumentProxy, pageNumber: number, canvas: HTMLCanvasElement, box: { width: number; height: number }, signal: AbortSignal): Promise<Rendered | null> {
  const page = await doc.getPage(pageNumber);
  const base = page.getViewport({ scale: 1 });
  const scale = Math.max(0.1, Math.min(box.width / base.width, box.height / base.height));
  const viewport = page.getViewport({ scale });
  const ratio = Math.min(window.devicePixelRatio || 1, 2);
  // Draw off-screen first so the old page stays up until the new one is complete.
  const scratch = document.createElement('canvas');
  scratch.width = Math.floor(viewport.width * ratio);
  scratch.height = Math.floor(viewport.height * ratio);
  const ctx = scratch.getContext('2d');
  if (!ctx) throw new Error('canvas 2d unavailable');
  let task: RenderTask | null = null;
  const cancel = () => task?.cancel();
  signal.addEventListener('abort', cancel);
  try {
    task = page.render({ canvasContext: ctx, viewport, transform: ratio === 1 ? undefined : [ratio, 0, 0, ratio, 0, 0] });
    await task.promise;
  } catch (err) {
    if (signal.aborted || (err as { name?: string })?.name === 'RenderingCancelledException') return null;
    throw err;
  } finally {
    signal.removeEventListener('abort', cancel);
  }
  if (signal.aborted) return null;
  canvas.width = scratch.width;
  canvas.height = scratch.height;
  canvas.style.width = `${Math.floor(viewport.width)}px`;
  canvas.style.height = `${Math.floor(viewport.height)}px`;
  canvas.getContext('2d')?.drawImage(scratch, 0, 0);
  scratch.width = scratch.height = 0;
  return { width: Math.floor(viewport.width), height: Math.floor(viewport.height) };
}
