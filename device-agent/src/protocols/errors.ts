/**
 * The one error a protocol codec may throw: bytes that are not a valid frame. Drivers log it, answer
 * or drop the frame and go on; anything else escaping a codec is a bug (the fuzz tests check this).
 */
export class FrameError extends Error {
  constructor(
    /** which codec refused the bytes, e.g. `osdp` */
    readonly protocol: string,
    /** a stable machine code, e.g. `BAD_CRC`, `TRUNCATED` */
    readonly code: string,
    message: string,
  ) {
    super(`${protocol}: ${message}`);
    this.name = 'FrameError';
  }
}
