import { FrameError } from '../../device-agent/src/protocols/errors.js';

/**
 * mulberry32: a small, fast, seedable generator of floats in [0, 1). Fuzz tests draw from it so a
 * failing case can be replayed from its seed.
 */
export function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = Math.imul(s ^ (s >>> 15), 1 | s);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** The code of the FrameError `fn` throws for `protocol`, or a description of what happened instead. */
export function frameErrorCode(protocol: string, fn: () => unknown): string {
  try {
    fn();
    return 'no error';
  } catch (err) {
    if (!(err instanceof FrameError)) return `not a FrameError: ${String(err)}`;
    return err.protocol === protocol ? err.code : `protocol ${err.protocol}`;
  }
}
