import type { MediaKind } from './tables.js';

/**
 * What a file is, judged by its first bytes (its "magic"), never by its name or the type the uploader
 * declared: a process-archive file must be what its category says, and a renamed executable must not
 * pass as a photo. No signature library is installed, so this is a small table of the formats a law
 * firm records with: phone photos, voice recorders, phone and camera video, office documents.
 */
export interface Sniffed {
  /** MIME type served back on download */
  content_type: string;
  /** extension of the stored file */
  extension: string;
}

/** How many leading bytes `sniff` looks at; fewer only when the file is shorter. */
export const SNIFF_BYTES = 4096;

const ascii = (buf: Buffer, at: number, length: number) => buf.toString('latin1', at, at + length);
const startsWith = (buf: Buffer, bytes: number[], at = 0) => buf.length >= at + bytes.length && bytes.every((b, i) => buf[at + i] === b);

/** ISO base media (MP4, MOV, M4A, HEIC): a `ftyp` box first, naming the major brand and compatible ones. */
function isoBrands(buf: Buffer): string[] | null {
  if (buf.length < 12 || ascii(buf, 4, 4) !== 'ftyp') return null;
  const size = buf.readUInt32BE(0);
  if (size < 12 || size > 4096) return null;
  const end = Math.min(size, buf.length);
  const brands = [ascii(buf, 8, 4)];
  for (let at = 16; at + 4 <= end; at += 4) brands.push(ascii(buf, at, 4));
  return brands;
}

const HEIF_BRANDS = new Set(['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'mif1', 'msf1']);
const AUDIO_BRANDS = new Set(['M4A ', 'M4B ', 'M4P ']);
/** Brands of plain MP4/3GP files: phones record both voice memos and video in them. */
const MP4_BRANDS = new Set(['isom', 'iso2', 'iso4', 'iso5', 'iso6', 'mp41', 'mp42', 'avc1', 'M4V ', 'MSNV', 'dash', '3gp4', '3gp5', '3gp6', '3g2a', 'mmp4', 'f4v ']);

/** A ZIP container: OOXML documents, OFD (the national e-document format) or a plain archive. */
function zipKind(buf: Buffer): Sniffed {
  // Office writers put `[Content_Types].xml` and their part folders first; OFD starts with OFD.xml.
  const head = buf.toString('latin1');
  if (head.includes('word/')) return { content_type: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', extension: 'docx' };
  if (head.includes('xl/')) return { content_type: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', extension: 'xlsx' };
  if (head.includes('ppt/')) return { content_type: 'application/vnd.openxmlformats-officedocument.presentationml.presentation', extension: 'pptx' };
  if (head.includes('OFD.xml')) return { content_type: 'application/ofd', extension: 'ofd' };
  return { content_type: 'application/zip', extension: 'zip' };
}

/** MPEG audio frame header (MP3 without an ID3 tag): 11 sync bits, a valid version and layer, a bitrate. */
function isMpegAudioFrame(buf: Buffer): boolean {
  if (buf.length < 4 || buf[0] !== 0xff || (buf[1]! & 0xe0) !== 0xe0) return false;
  const version = (buf[1]! >> 3) & 3;
  const layer = (buf[1]! >> 1) & 3;
  const bitrate = buf[2]! >> 4;
  const sampleRate = (buf[2]! >> 2) & 3;
  // Layer bits 00 are reserved (and mark AAC ADTS), version 01 is reserved; bitrate 1111 and rate 11 are invalid.
  return version !== 1 && layer !== 0 && bitrate !== 15 && sampleRate !== 3;
}

/** EBML (Matroska/WebM): the DocType element names which. */
function ebmlDocType(buf: Buffer): string | null {
  if (!startsWith(buf, [0x1a, 0x45, 0xdf, 0xa3])) return null;
  const at = buf.indexOf(Buffer.from([0x42, 0x82]), 4);
  if (at < 0 || at + 3 > buf.length) return null;
  const size = buf[at + 2]! & 0x7f;
  return ascii(buf, at + 3, Math.min(size, 16));
}

const CFB_TYPES: Record<string, Sniffed> = {
  doc: { content_type: 'application/msword', extension: 'doc' },
  xls: { content_type: 'application/vnd.ms-excel', extension: 'xls' },
  ppt: { content_type: 'application/vnd.ms-powerpoint', extension: 'ppt' },
};

/**
 * The type of a file that may be filed as `kind`, from its first bytes (pass at least `SNIFF_BYTES`
 * of them, or the whole file if shorter); null when the bytes are not one of that kind's formats.
 * `nameExtension` (lower case, from the uploader's file name) only picks among formats the bytes
 * cannot tell apart.
 */
export function sniff(kind: MediaKind, head: Buffer, nameExtension?: string): Sniffed | null {
  const brands = isoBrands(head);
  switch (kind) {
    case 'photo':
      if (startsWith(head, [0xff, 0xd8, 0xff])) return { content_type: 'image/jpeg', extension: 'jpg' };
      if (startsWith(head, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return { content_type: 'image/png', extension: 'png' };
      if (brands && brands.some((b) => HEIF_BRANDS.has(b))) return { content_type: 'image/heic', extension: 'heic' };
      return null;
    case 'audio':
      if (ascii(head, 0, 4) === 'RIFF' && ascii(head, 8, 4) === 'WAVE') return { content_type: 'audio/wav', extension: 'wav' };
      if (ascii(head, 0, 6) === '#!AMR\n' || ascii(head, 0, 9) === '#!AMR-WB\n') return { content_type: 'audio/amr', extension: 'amr' };
      if (ascii(head, 0, 3) === 'ID3' || isMpegAudioFrame(head)) return { content_type: 'audio/mpeg', extension: 'mp3' };
      if (brands && (AUDIO_BRANDS.has(brands[0]!) || MP4_BRANDS.has(brands[0]!))) return { content_type: 'audio/mp4', extension: 'm4a' };
      return null;
    case 'video':
      if (brands && brands[0] === 'qt  ') return { content_type: 'video/quicktime', extension: 'mov' };
      if (brands && MP4_BRANDS.has(brands[0]!)) return { content_type: 'video/mp4', extension: 'mp4' };
      if (ebmlDocType(head) === 'webm') return { content_type: 'video/webm', extension: 'webm' };
      return null;
    case 'file':
      if (ascii(head, 0, 5) === '%PDF-') return { content_type: 'application/pdf', extension: 'pdf' };
      if (startsWith(head, [0x50, 0x4b, 0x03, 0x04])) return zipKind(head);
      // Compound File Binary (Office 97–2003): which program wrote it lies deep in its directory, so the
      // name's extension chooses among the three; the bytes have already shown it is one of them.
      if (startsWith(head, [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1])) return CFB_TYPES[nameExtension ?? ''] ?? CFB_TYPES.doc!;
      if (ascii(head, 0, 5) === '{\\rtf') return { content_type: 'application/rtf', extension: 'rtf' };
      // Scans and screenshots filed as documents.
      return sniff('photo', head);
  }
}

/** The formats each kind accepts, for error messages and the API documentation. */
export const ACCEPTED_FORMATS: Record<MediaKind, string> = {
  photo: 'JPEG, PNG, HEIC',
  audio: 'MP3, M4A, WAV, AMR',
  video: 'MP4, MOV, WebM',
  file: 'PDF, DOCX, XLSX, PPTX, OFD, ZIP, DOC/XLS (97–2003), RTF, JPEG, PNG, HEIC',
};
