/**
 * A `Range: bytes=…` request header (RFC 9110 §14.1.2) against a file of `size` bytes: the one range
 * to send, 'unsatisfiable' (answer 416), or null to send the whole file. A video player seeking asks for
 * one range at a time; a header this parser does not understand, or several ranges at once, get the
 * whole file, which the RFC allows a server to answer instead.
 */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | null {
  if (header === undefined) return null;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m) return null;
  const [, first, last] = m as unknown as [string, string, string];
  if (first === '' && last === '') return null;
  // Positions beyond 2^53 cannot be exact numbers; no stored file is near that size.
  if (first.length > 15 || last.length > 15) return 'unsatisfiable';
  if (first === '') {
    // A suffix: the last N bytes.
    const n = Number(last);
    if (n === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (last !== '' && Number(last) < start) return null;
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}
