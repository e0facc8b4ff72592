import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import PDFDocument from 'pdfkit';
import { shanghaiDateTime } from '../../calendar.js';
import { layoutBlocks } from './template.js';

/**
 * PDF rendering with pdfkit and an embedded CJK font (Noto Sans SC, or the TrueType font named by
 * LAWBOX_PDF_FONT). The same input gives the same bytes: the creation date is the document's own and
 * pdfkit derives the file ID and the font subset's tag from the content, so a document's hash can be
 * checked by rendering it again.
 */

const require = createRequire(import.meta.url);
const DEFAULT_FONT = '@expo-google-fonts/noto-sans-sc/400Regular/NotoSansSC_400Regular.ttf';
const FONT = 'cjk';

let fontCache: { path: string; data: Promise<Buffer> } | null = null;

/** The font file's bytes, read once per path (the Noto file is 10 MB; pdfkit embeds only the glyphs used). */
export function pdfFont(): Promise<Buffer> {
  const path = process.env.LAWBOX_PDF_FONT || require.resolve(DEFAULT_FONT);
  if (fontCache?.path !== path) {
    const data = readFile(path).catch((err: Error) => {
      fontCache = null;
      throw new Error(`the PDF font ${path} cannot be read (LAWBOX_PDF_FONT): ${err.message}`);
    });
    fontCache = { path, data };
  }
  return fontCache.data;
}

export interface DocumentLayout {
  title: string;
  /** the filled-in template body (see template.ts for its line-based layout) */
  body: string;
  /** the PDF's creation date: the document's, so rendering again gives the same bytes */
  createdAt: Date;
  /** printed at the foot of every page, e.g. the document and matter numbers */
  footer: string;
}

const MARGIN = 64;

function newDocument(font: Buffer, title: string, createdAt: Date) {
  const doc = new PDFDocument({
    size: 'A4',
    margins: { top: MARGIN, bottom: MARGIN + 16, left: MARGIN, right: MARGIN },
    bufferPages: true,
    info: { Title: title, Creator: 'lawbox', Producer: 'lawbox (PDFKit)', CreationDate: createdAt, ModDate: createdAt },
    lang: 'zh-CN',
    displayTitle: true,
  });
  doc.registerFont(FONT, font);
  doc.font(FONT);
  return doc;
}

function drawBody(doc: PDFKit.PDFDocument, body: string): void {
  const width = doc.page.width - MARGIN * 2;
  for (const block of layoutBlocks(body)) {
    switch (block.kind) {
      case 'heading':
        doc.fontSize(20).text(block.text, { width, align: 'center' }).moveDown(0.8);
        break;
      case 'section':
        doc.moveDown(0.4).fontSize(13).text(block.text, { width }).moveDown(0.2);
        break;
      case 'paragraph':
        doc.fontSize(11).text(block.text, { width, lineGap: 4, align: 'justify' });
        break;
      case 'space':
        doc.moveDown(0.6);
        break;
    }
  }
}

/** Page numbers and the footer line on every page, written after the content so the total is known. */
function drawFooters(doc: PDFKit.PDFDocument, footer: string): void {
  const range = doc.bufferedPageRange();
  for (let i = range.start; i < range.start + range.count; i++) {
    doc.switchToPage(i);
    // Writing below the bottom margin would make pdfkit start a new page: lift the margin meanwhile.
    const bottom = doc.page.margins.bottom;
    doc.page.margins.bottom = 0;
    doc
      .fontSize(8)
      .fillColor('#666666')
      .text(`${footer}    第 ${i + 1} 页 / 共 ${range.count} 页`, MARGIN, doc.page.height - MARGIN, { width: doc.page.width - MARGIN * 2, align: 'center', lineBreak: false });
    doc.page.margins.bottom = bottom;
    doc.fillColor('#000000');
  }
}

function finish(doc: PDFKit.PDFDocument): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    doc.on('data', (c: Buffer) => chunks.push(c));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
    doc.end();
  });
}

/** The document's PDF. */
export async function renderDocumentPdf(layout: DocumentLayout): Promise<Buffer> {
  const doc = newDocument(await pdfFont(), layout.title, layout.createdAt);
  drawBody(doc, layout.body);
  drawFooters(doc, layout.footer);
  return finish(doc);
}

export interface CertificateEntry {
  /** e.g. 委托人电子签名, 律所电子印章（合同专用章） */
  kind: string;
  signer: string;
  signedAt: Date;
  /** label → value lines: identity, address, device, consent, code, key … */
  facts: [string, string][];
  /** SM2 signature value, hex */
  signatureHex: string;
  /** attachment name of the detached signature */
  fileName: string;
  der: Buffer;
}

export interface CertificateInput {
  document: DocumentLayout;
  original: Buffer;
  facts: [string, string][];
  entries: CertificateEntry[];
}

/** A long hex string in groups of eight, so it wraps and reads. */
const grouped = (hex: string) => hex.match(/.{1,8}/g)?.join(' ') ?? '';

/**
 * The human-readable signed copy: the document's pages as issued, then a 电子签署证书 page listing the
 * evidence, the hashes and each signature value. The original PDF and each detached signature ride
 * along as attachments; verification is over those original bytes and the detached signature, not
 * over this copy.
 */
export async function renderSignedCopy(input: CertificateInput): Promise<Buffer> {
  // The copy is as new as its latest signature, and as deterministic.
  const createdAt = new Date(Math.max(input.document.createdAt.getTime(), ...input.entries.map((e) => e.signedAt.getTime())));
  const doc = newDocument(await pdfFont(), `${input.document.title}（已签署）`, createdAt);
  drawBody(doc, input.document.body);
  doc.addPage();
  const width = doc.page.width - MARGIN * 2;
  doc.fontSize(20).text('电子签署证书', { width, align: 'center' }).moveDown(0.2);
  doc.fontSize(10).fillColor('#444444').text('Electronic Signature Certificate', { width, align: 'center' }).fillColor('#000000').moveDown(0.8);
  const line = (label: string, value: string) => doc.fontSize(9.5).text(`${label}：${value}`, { width, lineGap: 2 });
  for (const [label, value] of input.facts) line(label, value);
  for (const [i, e] of input.entries.entries()) {
    doc.moveDown(0.6).fontSize(12).text(`${i + 1}. ${e.kind}：${e.signer}`, { width }).moveDown(0.2);
    line('签署时间', shanghaiDateTime(e.signedAt));
    for (const [label, value] of e.facts) line(label, value);
    line('签名值（SM2）', grouped(e.signatureHex));
    line('独立签名文件', `附件 ${e.fileName}（GB/T 38540 SES_Signature，DER）`);
    doc.file(e.der, { name: e.fileName, type: 'application/octet-stream', description: `${e.kind} ${e.signer}`, creationDate: e.signedAt, modifiedDate: e.signedAt });
  }
  doc
    .moveDown(0.8)
    .fontSize(9)
    .fillColor('#444444')
    .text(
      '说明：本证书页为便于阅读的副本。验证以原文 PDF（附件 original.pdf）的字节与独立签名文件为准：任一字节被改动，验证即失败。验证接口：POST /api/signatures/verify。',
      { width, lineGap: 2 },
    )
    .fillColor('#000000');
  doc.file(input.original, { name: 'original.pdf', type: 'application/pdf', description: input.document.title, creationDate: input.document.createdAt, modifiedDate: input.document.createdAt });
  drawFooters(doc, input.document.footer);
  return finish(doc);
}
