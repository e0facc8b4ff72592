import type { FrameError } from './errors.js';

export interface DroppedReport {
  error: FrameError;
  dropped: Uint8Array;
}

/**
 * A run of consecutive bytes a deframer skips while resynchronising, reported once: where it began,
 * why its first byte was dropped, and the bytes themselves.
 */
export class DroppedRun {
  #start = -1;
  #error: FrameError | undefined;

  /** Marks byte `at` as dropped; the run keeps the reason of its first byte. */
  drop(at: number, error: FrameError): void {
    if (this.#start < 0) {
      this.#start = at;
      this.#error = error;
    }
  }

  /** Ends the run before `end`, adding its report to `out` when anything was dropped. */
  closeInto<T>(out: (T | DroppedReport)[], data: Uint8Array, end: number): void {
    if (this.#start < 0 || !this.#error) return;
    out.push({ error: this.#error, dropped: data.slice(this.#start, end) });
    this.#start = -1;
    this.#error = undefined;
  }
}

/** What was held back from the last push, followed by the new chunk. */
export function joinBytes(held: Uint8Array, chunk: Uint8Array): Uint8Array {
  const data = new Uint8Array(held.length + chunk.length);
  data.set(held, 0);
  data.set(chunk, held.length);
  return data;
}
