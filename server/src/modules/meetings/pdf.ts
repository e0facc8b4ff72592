import { inflateSync } from 'node:zlib';
import { badRequest } from '../../errors.js';

/** The largest document a meeting takes: terminals load it whole. */
export const MAX_PDF_BYTES = 20 * 1024 * 1024;

const OBJECT = /(\d+)\s+\d+\s+obj\b([\s\S]*?)\bendobj\b/g;
const STREAM = /^([\s\S]*?)\bstream\r?\n([\s\S]*)\bendstream\s*$/;

/** The dictionary part of an object (what precedes its stream, if any). */
const dictionaryOf = (body: string) => STREAM.exec(body)?.[1] ?? body;

/**
 * The objects packed into an object stream (PDF 1.5+, `/Type /ObjStm`), where writers that compress
 * put the page tree: the header lists `number offset` pairs, offsets counting from `/First`.
 */
function packedObjects(body: string): [number, string][] {
  const stream = STREAM.exec(body);
  if (!stream) return [];
  const dict = stream[1]!;
  const first = /\/First\s+(\d+)/.exec(dict);
  if (!/\/Type\s*\/ObjStm\b/.test(dict) || !first) return [];
  let raw = Buffer.from(stream[2]!.replace(/\r?\n$/, ''), 'latin1');
  if (/\/Filter\s*(\[\s*)?\/FlateDecode\b/.test(dict)) {
    try {
      raw = inflateSync(raw, { finishFlush: 2 /* Z_SYNC_FLUSH: tolerate a missing end marker */ });
    } catch {
      return [];
    }
  } else if (/\/Filter\b/.test(dict)) {
    return [];
  }
  const text = raw.toString('latin1');
  const start = Number(first[1]);
  const header = text.slice(0, start).trim().split(/\s+/).map(Number);
  const out: [number, string][] = [];
  for (let i = 0; i + 1 < header.length; i += 2) {
    const from = start + header[i + 1]!;
    const to = i + 3 < header.length ? start + header[i + 3]! : text.length;
    out.push([header[i]!, text.slice(from, to)]);
  }
  return out;
}

/**
 * The page count of a PDF, from its page tree: the root `/Pages` node counts every page, so it is the
 * largest `/Count` of any `/Pages` node (the latest revision of each object wins, as a reader sees it).
 * Objects in compressed object streams are read too. Without a page tree, the `/Type /Page` leaves
 * are counted. Anything that is not a PDF with at least one page is refused.
 */
export function inspectPdf(bytes: Uint8Array): { pages: number } {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buffer.subarray(0, 5).toString('latin1') !== '%PDF-') {
    throw badRequest('NOT_A_PDF', 'Only PDF documents can be shared at a meeting (the file does not start with %PDF-). / 会议文件仅支持 PDF 格式。');
  }
  const text = buffer.toString('latin1');
  const objects = new Map<number, string>();
  for (const m of text.matchAll(OBJECT)) {
    const body = m[2]!;
    objects.set(Number(m[1]), dictionaryOf(body));
    for (const [n, packed] of packedObjects(body)) objects.set(n, packed);
  }
  let pages = 0;
  let leaves = 0;
  for (const dict of objects.values()) {
    if (/\/Type\s*\/Pages\b/.test(dict)) {
      const count = /\/Count\s+(\d+)/.exec(dict);
      if (count) pages = Math.max(pages, Number(count[1]));
    } else if (/\/Type\s*\/Page\b/.test(dict)) {
      leaves++;
    }
  }
  const count = pages || leaves;
  if (count < 1) throw badRequest('INVALID_PDF', 'This PDF has no readable pages; save it again as PDF and upload it once more. / 无法识别该 PDF 的页面，请重新导出后上传。');
  return { pages: count };
}
