import type { FrameError } from './errors.js';

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

  /** Ends the run before `end`: the report to emit, or null when nothing was dropped. */
  close(data: Uint8Array, end: number): { error: FrameError; dropped: Uint8Array } | null {
    if (this.#start < 0 || !this.#error) return null;
    const report = { error: this.#error, dropped: data.slice(this.#start, end) };
    this.#start = -1;
    this.#error = undefined;
    return report;
  }
}
