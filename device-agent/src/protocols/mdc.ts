/**
 * Samsung MDC (Multiple Display Control), over RS-232 or TCP port 1515.
 *
 * Command: `AA cmd id len data… chk`. Reply: `AA FF id len A|N rcmd data… chk`, where `len` counts
 * the bytes between it and the checksum (so a reply's `len` is 2 + data) and `chk` is the sum of
 * every byte after the 0xAA header, mod 256. Power-on to display 0 is `AA 11 00 01 01 13`.
 * A "get" is the command with no data (`len` 0); the ack carries the current value. A NAK's data
 * is one error-code byte.
 *
 * Covered: status 0x00 (get only), power 0x11, volume 0x12 (0–100), mute 0x13, input source 0x14.
 * Any other command can be sent with {@link encodeCommand} and its ack read with {@link decodeReply}.
 *
 * Assumptions (MDC protocol v13-era documents and public drivers; verify against a real panel):
 * - the status ack's data is 7 bytes: power, volume, mute, input, aspect, N-time-NF, F-time-NF; the
 *   last three are kept as raw bytes (aspect code, on-timer and off-timer flags);
 * - an ack to a "set" echoes the value that was set;
 * - display ids are one byte; 0xFE addresses every display ({@link MDC_BROADCAST_ID});
 * - a command byte of 0xFF would read as a reply, so commands use 0x00–0xFE.
 *
 * The only error thrown here is {@link FrameError} (a NAK is the subclass {@link MdcNakError});
 * {@link MdcDeframer} never throws.
 */
import { DroppedRun, joinBytes } from './deframe.js';
import { FrameError } from './errors.js';

export const MDC_PROTOCOL = 'mdc';
export const MDC_HEADER = 0xaa;
/** The command byte of every reply. */
export const MDC_REPLY_MARK = 0xff;
export const MDC_ACK = 0x41; // 'A'
export const MDC_NAK = 0x4e; // 'N'
export const MDC_BROADCAST_ID = 0xfe;
export const MDC_TCP_PORT = 1515;
/** The most data one frame can carry: `len` is a single byte. */
export const MDC_MAX_DATA = 0xff;

export const MdcCmd = {
  STATUS: 0x00,
  POWER: 0x11,
  VOLUME: 0x12,
  MUTE: 0x13,
  INPUT_SOURCE: 0x14,
} as const;

/** Input source codes (as listed in MDC protocol documents; a panel has a subset). */
export const MdcInput = {
  PC: 0x14,
  DVI: 0x18,
  DVI_VIDEO: 0x1f,
  MAGICINFO: 0x20,
  HDMI1: 0x21,
  HDMI1_PC: 0x22,
  HDMI2: 0x23,
  HDMI2_PC: 0x24,
  DISPLAYPORT: 0x25,
  HDMI3: 0x31,
  HDMI3_PC: 0x32,
  HDMI4: 0x33,
  HDMI4_PC: 0x34,
  MEDIA: 0x60,
} as const;
export type MdcInputName = keyof typeof MdcInput;

export const MDC_MAX_VOLUME = 100;

export type MdcErrorCode =
  | 'BAD_HEADER'
  | 'BAD_LENGTH'
  | 'BAD_CHECKSUM'
  | 'TRUNCATED'
  | 'BAD_ACK'
  | 'BAD_VALUE'
  | 'NAK'
  | 'WRONG_REPLY';

export interface MdcCommand {
  cmd: number;
  id: number;
  data: Uint8Array;
}

export interface MdcReply {
  id: number;
  /** true for 'A', false for 'N' (then `data` is the one error-code byte) */
  ack: boolean;
  rcmd: number;
  data: Uint8Array;
}

export interface MdcStatus {
  power: boolean;
  volume: number;
  mute: boolean;
  /** an {@link MdcInput} code */
  input: number;
  /** raw picture aspect code */
  aspect: number;
  /** raw on-timer status byte ("N Time NF") */
  nTimeNF: number;
  /** raw off-timer status byte ("F Time NF") */
  fTimeNF: number;
}

/** A NAK from the display: `errorCode` is the byte it sent, `rcmd` the command it refused. */
export class MdcNakError extends FrameError {
  constructor(
    readonly rcmd: number,
    readonly errorCode: number,
  ) {
    super(MDC_PROTOCOL, 'NAK', `command 0x${hex(rcmd)} refused with error 0x${hex(errorCode)}`);
  }
}

function fail(code: MdcErrorCode, message: string): never {
  throw new FrameError(MDC_PROTOCOL, code, message);
}

function hex(n: number): string {
  return n.toString(16).padStart(2, '0');
}

function isByte(n: unknown): n is number {
  return Number.isInteger(n) && (n as number) >= 0 && (n as number) <= 0xff;
}

function checkByte(name: string, n: unknown, max = 0xff): number {
  if (!isByte(n) || n > max) fail('BAD_VALUE', `${name} ${String(n)} is not an integer in 0–${max}`);
  return n;
}

function toBytes(data: ArrayLike<number> | undefined, max: number): Uint8Array {
  if (data === undefined) return new Uint8Array(0);
  if (data.length > max) fail('BAD_LENGTH', `${data.length} data bytes, at most ${max} fit`);
  if (data instanceof Uint8Array) return data;
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = checkByte(`data[${i}]`, data[i]);
  return out;
}

/** Sum of `bytes[1 .. end)` mod 256: everything after the header up to the checksum. */
function checksum(bytes: Uint8Array, end: number): number {
  let sum = 0;
  for (let i = 1; i < end; i++) sum += bytes[i]!;
  return sum & 0xff;
}

function frame(cmd: number, id: number, body: Uint8Array, prefix?: Uint8Array): Uint8Array {
  const pre = prefix?.length ?? 0;
  const out = new Uint8Array(5 + pre + body.length);
  out[0] = MDC_HEADER;
  out[1] = cmd;
  out[2] = id;
  out[3] = pre + body.length;
  if (prefix) out.set(prefix, 4);
  out.set(body, 4 + pre);
  out[out.length - 1] = checksum(out, out.length - 1);
  return out;
}

// ---- commands ----

/** `AA cmd id len data… chk`. cmd 0x00–0xFE, id one byte, up to 255 data bytes (else FrameError BAD_VALUE / BAD_LENGTH). */
export function encodeCommand(command: { cmd: number; id: number; data?: ArrayLike<number> }): Uint8Array {
  const cmd = checkByte('command', command.cmd, 0xfe);
  const id = checkByte('id', command.id);
  return frame(cmd, id, toBytes(command.data, MDC_MAX_DATA));
}

/**
 * Checks the frame layout shared by commands and replies: header, command/reply mark (BAD_HEADER),
 * length (TRUNCATED / BAD_LENGTH), checksum (BAD_CHECKSUM). The header checks come before the length
 * check, so a prefix of a frame fails TRUNCATED only if it could still become a frame.
 */
function checkFrame(bytes: Uint8Array, reply: boolean): number {
  if (bytes.length === 0) fail('TRUNCATED', 'empty frame');
  if (bytes[0] !== MDC_HEADER) fail('BAD_HEADER', `header 0x${hex(bytes[0]!)} is not 0xaa`);
  if (bytes.length >= 2) {
    if (reply && bytes[1] !== MDC_REPLY_MARK) fail('BAD_HEADER', `0x${hex(bytes[1]!)} after the header is not the reply mark 0xff`);
    if (!reply && bytes[1] === MDC_REPLY_MARK) fail('BAD_HEADER', '0xff after the header marks a reply, not a command');
  }
  if (bytes.length < 4) fail('TRUNCATED', `${bytes.length} bytes, the header alone has 4`);
  const len = bytes[3]!;
  const total = 5 + len;
  if (bytes.length < total) fail('TRUNCATED', `${bytes.length} of ${total} bytes`);
  if (bytes.length > total) fail('BAD_LENGTH', `${bytes.length} bytes, the length byte says ${total}`);
  const expected = checksum(bytes, total - 1);
  if (bytes[total - 1] !== expected) fail('BAD_CHECKSUM', `checksum 0x${hex(bytes[total - 1]!)}, expected 0x${hex(expected)}`);
  return len;
}

/** Reads exactly one command frame (the simulator's side). */
export function decodeCommand(bytes: Uint8Array): MdcCommand {
  const len = checkFrame(bytes, false);
  return { cmd: bytes[1]!, id: bytes[2]!, data: bytes.slice(4, 4 + len) };
}

export const getStatus = (id: number): Uint8Array => encodeCommand({ cmd: MdcCmd.STATUS, id });
export const getPower = (id: number): Uint8Array => encodeCommand({ cmd: MdcCmd.POWER, id });
export const power = (id: number, on: boolean): Uint8Array => encodeCommand({ cmd: MdcCmd.POWER, id, data: [on ? 1 : 0] });
export const getVolume = (id: number): Uint8Array => encodeCommand({ cmd: MdcCmd.VOLUME, id });
export const volume = (id: number, level: number): Uint8Array =>
  encodeCommand({ cmd: MdcCmd.VOLUME, id, data: [checkByte('volume', level, MDC_MAX_VOLUME)] });
export const getMute = (id: number): Uint8Array => encodeCommand({ cmd: MdcCmd.MUTE, id });
export const mute = (id: number, on: boolean): Uint8Array => encodeCommand({ cmd: MdcCmd.MUTE, id, data: [on ? 1 : 0] });
export const getInputSource = (id: number): Uint8Array => encodeCommand({ cmd: MdcCmd.INPUT_SOURCE, id });
/** `source` is a name from {@link MdcInput} or a raw code byte (panels have codes not listed here). */
export const inputSource = (id: number, source: MdcInputName | number): Uint8Array =>
  encodeCommand({ cmd: MdcCmd.INPUT_SOURCE, id, data: [typeof source === 'number' ? checkByte('input source', source) : inputCode(source)] });

function inputCode(name: string): number {
  if (!Object.hasOwn(MdcInput, name)) fail('BAD_VALUE', `unknown input source ${JSON.stringify(name)}`);
  return MdcInput[name as MdcInputName];
}

/** The name of an input code, if it is one listed in {@link MdcInput}. */
export function inputName(code: number): MdcInputName | undefined {
  return (Object.keys(MdcInput) as MdcInputName[]).find((name) => MdcInput[name] === code);
}

// ---- replies ----

/** `AA FF id len A|N rcmd data… chk`; up to 253 data bytes. A NAK carries exactly one error-code byte. */
export function encodeReply(reply: { id: number; ack: boolean; rcmd: number; data?: ArrayLike<number> }): Uint8Array {
  const id = checkByte('id', reply.id);
  const rcmd = checkByte('rcmd', reply.rcmd);
  const data = toBytes(reply.data, MDC_MAX_DATA - 2);
  if (typeof reply.ack !== 'boolean') fail('BAD_VALUE', `ack ${String(reply.ack)} is not a boolean`);
  if (!reply.ack && data.length !== 1) fail('BAD_LENGTH', `a NAK carries 1 error-code byte, not ${data.length}`);
  return frame(MDC_REPLY_MARK, id, data, Uint8Array.of(reply.ack ? MDC_ACK : MDC_NAK, rcmd));
}

/**
 * Reads exactly one reply frame. A NAK is returned (ack false, data = [error code]), not thrown:
 * {@link expectAck} turns it into an {@link MdcNakError}. After the frame checks: BAD_LENGTH if `len`
 * is below 2 or a NAK does not carry exactly one byte, BAD_ACK if the ack byte is neither 'A' nor 'N'.
 */
export function decodeReply(bytes: Uint8Array): MdcReply {
  const len = checkFrame(bytes, true);
  if (len < 2) fail('BAD_LENGTH', `length ${len} leaves no room for the ack and command bytes`);
  const ackByte = bytes[4]!;
  if (ackByte !== MDC_ACK && ackByte !== MDC_NAK) fail('BAD_ACK', `ack byte 0x${hex(ackByte)} is neither 'A' nor 'N'`);
  const ack = ackByte === MDC_ACK;
  if (!ack && len !== 3) fail('BAD_LENGTH', `a NAK carries 1 error-code byte, not ${len - 2}`);
  return { id: bytes[2]!, ack, rcmd: bytes[5]!, data: bytes.slice(6, 4 + len) };
}

/**
 * The data of an ack to `rcmd` (when given). Throws {@link MdcNakError} (code NAK) for a NAK, and
 * FrameError WRONG_REPLY for an answer to another command.
 */
export function expectAck(reply: MdcReply, rcmd?: number): Uint8Array {
  if (rcmd !== undefined && reply.rcmd !== rcmd) fail('WRONG_REPLY', `reply to command 0x${hex(reply.rcmd)}, expected 0x${hex(rcmd)}`);
  if (!reply.ack) throw new MdcNakError(reply.rcmd, reply.data[0] ?? 0);
  return reply.data;
}

function exactly(data: Uint8Array, n: number, what: string): void {
  if (data.length !== n) fail('BAD_LENGTH', `${what} has ${n} data bytes, not ${data.length}`);
}

function flag(byte: number, what: string): boolean {
  if (byte > 1) fail('BAD_VALUE', `${what} 0x${hex(byte)} is neither 0 nor 1`);
  return byte === 1;
}

function level(byte: number): number {
  if (byte > MDC_MAX_VOLUME) fail('BAD_VALUE', `volume ${byte} is above ${MDC_MAX_VOLUME}`);
  return byte;
}

/** Ack data of status 0x00: 7 bytes (see {@link MdcStatus}). */
export function parseStatus(data: Uint8Array): MdcStatus {
  exactly(data, 7, 'a status');
  return {
    power: flag(data[0]!, 'power'),
    volume: level(data[1]!),
    mute: flag(data[2]!, 'mute'),
    input: data[3]!,
    aspect: data[4]!,
    nTimeNF: data[5]!,
    fTimeNF: data[6]!,
  };
}

/** The 7 data bytes of a status ack (the simulator's side of {@link parseStatus}). */
export function encodeStatus(status: MdcStatus): Uint8Array {
  return Uint8Array.of(
    status.power ? 1 : 0,
    checkByte('volume', status.volume, MDC_MAX_VOLUME),
    status.mute ? 1 : 0,
    checkByte('input', status.input),
    checkByte('aspect', status.aspect),
    checkByte('nTimeNF', status.nTimeNF),
    checkByte('fTimeNF', status.fTimeNF),
  );
}

export function parsePower(data: Uint8Array): boolean {
  exactly(data, 1, 'a power ack');
  return flag(data[0]!, 'power');
}

export function parseVolume(data: Uint8Array): number {
  exactly(data, 1, 'a volume ack');
  return level(data[0]!);
}

export function parseMute(data: Uint8Array): boolean {
  exactly(data, 1, 'a mute ack');
  return flag(data[0]!, 'mute');
}

/** The input code; {@link inputName} names it. */
export function parseInputSource(data: Uint8Array): number {
  exactly(data, 1, 'an input source ack');
  return data[0]!;
}

// ---- streaming ----

export type MdcDirection = 'command' | 'reply';
export type MdcFrameOf<D extends MdcDirection> = D extends 'command' ? MdcCommand : MdcReply;
/** A frame, or a run of discarded bytes with the reason its first byte was discarded. */
export type MdcDeframed<D extends MdcDirection> = { frame: MdcFrameOf<D> } | { error: FrameError; dropped: Uint8Array };

export interface MdcDeframerOptions {
  /**
   * Frames declaring more data bytes than this are discarded as BAD_LENGTH without waiting for
   * them. Default 255 (no limit); a lower cap shortens the stall a stray 0xAA causes. At most
   * 5 + this many bytes are held between pushes.
   */
  maxDataLength?: number;
}

/**
 * Splits a byte stream into MDC frames: `new MdcDeframer('reply')` on the driver's side,
 * `new MdcDeframer('command')` on a simulator's. A candidate that turns out invalid loses only its
 * 0xAA, and the search goes on at the next 0xAA, so a frame hidden after garbage or inside a
 * corrupted frame is still found. Consecutive dropped bytes are reported as one error, emitted
 * before the next frame or at the end of the `push`. Never throws.
 */
export class MdcDeframer<D extends MdcDirection> {
  readonly #decode: (bytes: Uint8Array) => MdcFrameOf<D>;
  readonly #maxData: number;
  #buffer: Uint8Array = new Uint8Array(0);

  constructor(
    readonly direction: D,
    options: MdcDeframerOptions = {},
  ) {
    this.#decode = (direction === 'command' ? decodeCommand : decodeReply) as (bytes: Uint8Array) => MdcFrameOf<D>;
    const max = options.maxDataLength ?? MDC_MAX_DATA;
    this.#maxData = Number.isInteger(max) ? Math.min(Math.max(max, 0), MDC_MAX_DATA) : MDC_MAX_DATA;
  }

  /** Bytes held back as the possible start of a frame. */
  get buffered(): number {
    return this.#buffer.length;
  }

  push(chunk: Uint8Array): Array<MdcDeframed<D>> {
    return this.#scan(chunk, false);
  }

  /** Ends the stream (connection closed, reply timeout): a held-back partial frame is reported TRUNCATED. */
  flush(): Array<MdcDeframed<D>> {
    return this.#scan(new Uint8Array(0), true);
  }

  #scan(chunk: Uint8Array, final: boolean): Array<MdcDeframed<D>> {
    const data = joinBytes(this.#buffer, chunk);
    const out: Array<MdcDeframed<D>> = [];
    const dropped = new DroppedRun();
    const flushDropped = (end: number) => dropped.closeInto(out, data, end);
    let i = 0;
    while (i < data.length) {
      if (data[i] !== MDC_HEADER) {
        const next = data.indexOf(MDC_HEADER, i);
        dropped.drop(i, new FrameError(MDC_PROTOCOL, 'BAD_HEADER', 'bytes before a 0xaa header'));
        i = next < 0 ? data.length : next;
        continue;
      }
      const available = data.length - i;
      if (available >= 4 && data[i + 3]! > this.#maxData) {
        dropped.drop(i, new FrameError(MDC_PROTOCOL, 'BAD_LENGTH', `declared ${data[i + 3]} data bytes, above the cap of ${this.#maxData}`));
        i += 1;
        continue;
      }
      const end = available >= 4 ? Math.min(data.length, i + 5 + data[i + 3]!) : data.length;
      try {
        const decoded = this.#decode(data.subarray(i, end));
        flushDropped(i);
        out.push({ frame: decoded });
        i = end;
      } catch (err) {
        const error = err instanceof FrameError ? err : new FrameError(MDC_PROTOCOL, 'BAD_HEADER', String(err));
        if (error.code === 'TRUNCATED' && !final) break;
        dropped.drop(i, error);
        i += 1;
      }
    }
    flushDropped(i);
    this.#buffer = data.slice(i);
    return out;
  }
}
