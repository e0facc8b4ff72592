/**
 * The part of ASN.1 DER (X.690) the signature structures need: a writer, and a strict reader for
 * signatures presented by anyone. The reader accepts exactly one encoding of each value (definite,
 * minimal lengths; single-byte tags; no trailing bytes) and throws DerError on anything else.
 */

export class DerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DerError';
  }
}

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  IA5_STRING: 0x16,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
} as const;

// ---------------------------------------------------------------------------------------------
// Writing

function lengthBytes(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export const tlv = (tag: number, content: Buffer): Buffer => Buffer.concat([Buffer.from([tag]), lengthBytes(content.length), content]);
export const sequence = (...items: Buffer[]): Buffer => tlv(TAG.SEQUENCE, Buffer.concat(items));
export const octetString = (b: Buffer): Buffer => tlv(TAG.OCTET_STRING, b);
/** A BIT STRING of whole bytes (no unused bits). */
export const bitString = (b: Buffer): Buffer => tlv(TAG.BIT_STRING, Buffer.concat([Buffer.from([0]), b]));
export const utf8String = (s: string): Buffer => tlv(TAG.UTF8_STRING, Buffer.from(s, 'utf8'));
export function ia5String(s: string): Buffer {
  if (!/^[\x00-\x7f]*$/.test(s)) throw new DerError('IA5String takes ASCII only');
  return tlv(TAG.IA5_STRING, Buffer.from(s, 'ascii'));
}

/** A non-negative INTEGER. */
export function integer(value: bigint | number): Buffer {
  let v = BigInt(value);
  if (v < 0n) throw new DerError('only non-negative integers are written');
  const bytes: number[] = [];
  do {
    bytes.unshift(Number(v & 0xffn));
    v >>= 8n;
  } while (v > 0n);
  if (bytes[0]! & 0x80) bytes.unshift(0);
  return tlv(TAG.INTEGER, Buffer.from(bytes));
}

export function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map((a) => BigInt(a));
  if (arcs.length < 2) throw new DerError('an OID has at least two arcs');
  const out: number[] = [];
  const base128 = (n: bigint) => {
    const groups: number[] = [Number(n & 0x7fn)];
    for (let v = n >> 7n; v > 0n; v >>= 7n) groups.unshift(Number(v & 0x7fn) | 0x80);
    out.push(...groups);
  };
  base128(arcs[0]! * 40n + arcs[1]!);
  for (const arc of arcs.slice(2)) base128(arc);
  return tlv(TAG.OID, Buffer.from(out));
}

/** GeneralizedTime in UTC, whole seconds: `20261202083000Z`. */
export function generalizedTime(at: Date): Buffer {
  if (at.getUTCMilliseconds() !== 0) throw new DerError('signing times are whole seconds');
  const iso = at.toISOString();
  return tlv(TAG.GENERALIZED_TIME, Buffer.from(`${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`, 'ascii'));
}

// ---------------------------------------------------------------------------------------------
// Reading

export interface Node {
  tag: number;
  /** the whole element, header included (what a signature covers) */
  raw: Buffer;
  content: Buffer;
}

/** Reads one element at `offset`; returns it and the offset after it. */
export function readNode(buf: Buffer, offset: number): { node: Node; next: number } {
  if (offset + 2 > buf.length) throw new DerError('truncated element');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError('multi-byte tags are not used here');
  let length = buf[offset + 1]!;
  let header = 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0) throw new DerError('indefinite length is not DER');
    if (count > 4) throw new DerError('element too long');
    if (offset + 2 + count > buf.length) throw new DerError('truncated length');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + buf[offset + 2 + i]!;
    if (buf[offset + 2] === 0 || length < 0x80) throw new DerError('length not in its shortest form');
    header += count;
  }
  const end = offset + header + length;
  if (end > buf.length) throw new DerError('element runs past the end of the data');
  return { node: { tag, raw: buf.subarray(offset, end), content: buf.subarray(offset + header, end) }, next: end };
}

/** Parses exactly one element filling all of `buf`. */
export function parseDer(buf: Buffer): Node {
  const { node, next } = readNode(buf, 0);
  if (next !== buf.length) throw new DerError('trailing bytes after the structure');
  return node;
}

/** The elements of a constructed value, in order. */
export function children(node: Node): Node[] {
  if (!(node.tag & 0x20)) throw new DerError(`tag 0x${node.tag.toString(16)} is not constructed`);
  const out: Node[] = [];
  for (let offset = 0; offset < node.content.length; ) {
    const { node: child, next } = readNode(node.content, offset);
    out.push(child);
    offset = next;
  }
  return out;
}

function expect(node: Node | undefined, tag: number, what: string): Node {
  if (!node) throw new DerError(`${what} is missing`);
  if (node.tag !== tag) throw new DerError(`${what}: expected tag 0x${tag.toString(16)}, found 0x${node.tag.toString(16)}`);
  return node;
}

/** The elements of a SEQUENCE with exactly `count` members. */
export function readSequence(node: Node | undefined, count: number, what: string): Node[] {
  const items = children(expect(node, TAG.SEQUENCE, what));
  if (items.length !== count) throw new DerError(`${what}: expected ${count} elements, found ${items.length}`);
  return items;
}

/** The elements of a SEQUENCE OF, any number. */
export const readSequenceOf = (node: Node | undefined, what: string): Node[] => children(expect(node, TAG.SEQUENCE, what));

export function readInteger(node: Node | undefined, what: string): bigint {
  const c = expect(node, TAG.INTEGER, what).content;
  if (c.length === 0) throw new DerError(`${what}: empty INTEGER`);
  if (c[0]! & 0x80) throw new DerError(`${what}: negative INTEGER`);
  if (c.length > 1 && c[0] === 0 && !(c[1]! & 0x80)) throw new DerError(`${what}: INTEGER not in its shortest form`);
  return BigInt(`0x${c.toString('hex')}`);
}

export function readSmallInteger(node: Node | undefined, what: string, max: number): number {
  const v = readInteger(node, what);
  if (v > BigInt(max)) throw new DerError(`${what}: ${v} is out of range`);
  return Number(v);
}

export const readOctets = (node: Node | undefined, what: string): Buffer => expect(node, TAG.OCTET_STRING, what).content;

export function readBits(node: Node | undefined, what: string): Buffer {
  const c = expect(node, TAG.BIT_STRING, what).content;
  if (c.length === 0 || c[0] !== 0) throw new DerError(`${what}: a BIT STRING of whole bytes is expected`);
  return c.subarray(1);
}

export function readOid(node: Node | undefined, what: string): string {
  const c = expect(node, TAG.OID, what).content;
  if (c.length === 0 || c[c.length - 1]! & 0x80) throw new DerError(`${what}: malformed OBJECT IDENTIFIER`);
  const values: bigint[] = [];
  let v = 0n;
  let fresh = true;
  for (const byte of c) {
    if (fresh && byte === 0x80) throw new DerError(`${what}: OBJECT IDENTIFIER arc not in its shortest form`);
    v = (v << 7n) | BigInt(byte & 0x7f);
    fresh = !(byte & 0x80);
    if (fresh) {
      values.push(v);
      v = 0n;
    }
  }
  const first = values[0]!;
  const head = first < 80n ? [first / 40n, first % 40n] : [2n, first - 80n];
  return [...head, ...values.slice(1)].join('.');
}

export function readUtf8(node: Node | undefined, what: string): string {
  const c = expect(node, TAG.UTF8_STRING, what).content;
  const s = c.toString('utf8');
  if (!Buffer.from(s, 'utf8').equals(c)) throw new DerError(`${what}: invalid UTF-8`);
  return s;
}

export function readIa5(node: Node | undefined, what: string): string {
  const c = expect(node, TAG.IA5_STRING, what).content;
  if (c.some((b) => b > 0x7f)) throw new DerError(`${what}: IA5String holds ASCII only`);
  return c.toString('ascii');
}

export function readTime(node: Node | undefined, what: string): Date {
  const s = expect(node, TAG.GENERALIZED_TIME, what).content.toString('latin1');
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) throw new DerError(`${what}: GeneralizedTime must read YYYYMMDDHHMMSSZ`);
  const at = new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`);
  if (Number.isNaN(at.getTime()) || !generalizedTime(at).subarray(2).equals(Buffer.from(s, 'latin1'))) throw new DerError(`${what}: not a real time`);
  return at;
}
