/**
 * OSDP v2 (SIA OSDP, IEC 60839-11-5) packet codec for the access-control driver: pure functions, no I/O,
 * no clock. The only error anything here throws is {@link FrameError} with protocol `osdp`.
 *
 * Wire format (the optional 0xFF mark of OSDP 2.2 is not part of the packet and not covered by LEN or CRC):
 *
 *     [FF] 53 ADDR LEN_LSB LEN_MSB CTRL [SEC_BLK_LEN SEC_BLK_TYPE SEC_BLK_DATA…] CMD|REPLY DATA… [MAC×4] CRC_LSB CRC_MSB | CKSUM
 *
 * - ADDR: 0x00–0x7E, 0x7F broadcast; bit 7 set on PD replies.
 * - LEN: the whole packet, SOM through CRC/checksum (mark excluded).
 * - CTRL: bits 0–1 sequence, bit 2 CRC-16 (else 8-bit checksum), bit 3 security block present; bits 4–7 are
 *   reserved and must be 0 (rejecting them also makes resynchronisation on a noisy line more reliable).
 * - The security block's first byte is its own length, including itself and the type byte (so ≥ 2). A MAC
 *   (4 bytes, before the CRC) is present exactly when the block type is SCS_15…SCS_18; the handshake types
 *   SCS_11…SCS_14 carry none. This codec frames secure packets but neither checks MACs nor decrypts.
 * - Check: CRC-16/AUG-CCITT (poly 0x1021, init 0x1D0F, no reflection), LSB first, over SOM…byte before the CRC.
 *   Checksum mode: one byte, the 8-bit two's complement of the sum of every packet byte from SOM up to it, so
 *   that all packet bytes including the checksum sum to 0 mod 256 (as libosdp computes it). Example: POLL to
 *   address 0, sequence 1 in checksum mode is `53 00 07 00 01 60 45`.
 */
import { FrameError } from './errors.js';

// ---------------------------------------------------------------------------------------------- constants

export const OSDP_SOM = 0x53;
export const OSDP_MARK = 0xff;
export const OSDP_BROADCAST = 0x7f;

/** CP → PD command codes used by the driver. */
export const OSDP_CMD = {
  POLL: 0x60,
  ID: 0x61,
  CAP: 0x62,
  ISTAT: 0x65,
  OUT: 0x68,
  LED: 0x69,
  BUZ: 0x6a,
} as const;

/** PD → CP reply codes used by the driver. */
export const OSDP_REPLY = {
  ACK: 0x40,
  NAK: 0x41,
  PDID: 0x45,
  PDCAP: 0x46,
  ISTATR: 0x49,
  RAW: 0x50,
  KEYPAD: 0x53,
  BUSY: 0x79,
} as const;

/** NAK reason codes (first data byte of a NAK). */
export const OSDP_NAK = {
  CHECK: 0x01, // bad CRC/checksum
  LENGTH: 0x02, // command length error
  UNKNOWN_COMMAND: 0x03,
  SEQUENCE: 0x04, // unexpected sequence number
  SC_UNSUPPORTED: 0x05,
  SC_CONDITIONS: 0x06,
  BIO_TYPE: 0x07,
  BIO_FORMAT: 0x08,
  UNABLE: 0x09, // unable to process the command
} as const;

/** OUT control codes. */
export const OSDP_OUT_CONTROL = {
  NOP: 0x00,
  PERMANENT_OFF_ABORT_TIMED: 0x01,
  PERMANENT_ON_ABORT_TIMED: 0x02,
  PERMANENT_OFF_AFTER_TIMED: 0x03,
  PERMANENT_ON_AFTER_TIMED: 0x04,
  TEMPORARY_ON: 0x05, // on for the timer, then back to the permanent state
  TEMPORARY_OFF: 0x06,
} as const;

export const OSDP_LED_COLOR = {
  BLACK: 0,
  RED: 1,
  GREEN: 2,
  AMBER: 3,
  BLUE: 4,
  MAGENTA: 5,
  CYAN: 6,
  WHITE: 7,
} as const;

/** RAW card data formats. */
export const OSDP_RAW_FORMAT = { UNSPECIFIED: 0, WIEGAND: 1 } as const;

/** Security block types carrying a MAC after the data (SCS_15…SCS_18). */
const SCS_MAC_FIRST = 0x15;
const SCS_MAC_LAST = 0x18;

const CTRL_SEQUENCE = 0x03;
const CTRL_CRC = 0x04;
const CTRL_SECURE = 0x08;
const CTRL_RESERVED = 0xf0;
const HEADER_LENGTH = 5; // SOM ADDR LEN_LSB LEN_MSB CTRL
const MAC_LENGTH = 4;
const MAX_PACKET_LENGTH = 0xffff;

/** Every `code` a FrameError from this module can carry. */
export const OSDP_ERROR_CODES = [
  'TRUNCATED', // fewer bytes than the header or LEN needs
  'BAD_SOM', // no 0x53 where a packet must start (also: garbage skipped by the deframer)
  'BAD_CONTROL', // reserved CTRL bits set
  'BAD_LENGTH', // LEN too small for the packet's own structure (or, in the deframer, above its limit)
  'TRAILING_BYTES', // decodeFrame was given more bytes than LEN
  'BAD_CRC',
  'BAD_CHECKSUM',
  'BAD_ADDRESS', // not the expected address/direction (decodeFrame options)
  'BAD_SECURITY_BLOCK', // security block length inconsistent with the packet
  'BAD_BIT_COUNT', // RAW card bit count does not match its data
  'BAD_FIELD', // a value out of range when building, or malformed command/reply data when parsing
] as const;
export type OsdpErrorCode = (typeof OSDP_ERROR_CODES)[number];

function fail(code: OsdpErrorCode, message: string): never {
  throw new FrameError('osdp', code, message);
}

// ----------------------------------------------------------------------------------------- check values

const CRC_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[i] = crc;
  }
  return table;
})();

/** CRC-16/AUG-CCITT (poly 0x1021, init 0x1D0F, no reflection, no final xor); check("123456789") = 0xE5CC. */
export function crc16Aug(bytes: Uint8Array): number {
  let crc = 0x1d0f;
  for (let i = 0; i < bytes.length; i++) crc = ((crc << 8) & 0xffff) ^ CRC_TABLE[((crc >> 8) ^ bytes[i]!) & 0xff]!;
  return crc;
}

/** The OSDP checksum: 8-bit two's complement of the sum of the bytes (so bytes + checksum sum to 0 mod 256). */
export function checksum8(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i++) sum += bytes[i]!;
  return -sum & 0xff;
}

// ---------------------------------------------------------------------------------------------- framing

export interface OsdpSecurityBlock {
  /** SEC_BLK_TYPE, e.g. 0x11 (SCS_11) … 0x18 (SCS_18) */
  type: number;
  /** SEC_BLK_DATA (without the length and type bytes) */
  data: Buffer;
}

/** A command or reply without its addressing: what the helpers below build and what the parsers read. */
export interface OsdpMessage {
  code: number;
  data: Buffer;
}

export interface OsdpFrameInput {
  /** PD address 0x00–0x7E, or 0x7F broadcast */
  address: number;
  /** 0–3 */
  sequence: number;
  /** a PD reply (sets bit 7 of the address byte) */
  reply?: boolean;
  /** CRC-16 (default) or the 8-bit checksum */
  useCrc?: boolean;
  code: number;
  data?: Uint8Array;
  /** precede the packet with the 0xFF mark byte */
  mark?: boolean;
  securityBlock?: { type: number; data?: Uint8Array };
  /** exactly 4 bytes, required with security block types 0x15–0x18 and refused with any other */
  mac?: Uint8Array;
}

export interface OsdpFrame {
  address: number;
  reply: boolean;
  sequence: number;
  useCrc: boolean;
  /** CTRL bit 3: a security block is present */
  secure: boolean;
  /** the packet was preceded by the 0xFF mark byte */
  mark: boolean;
  code: number;
  data: Buffer;
  securityBlock?: OsdpSecurityBlock;
  mac?: Buffer;
}

function checkByte(name: string, value: unknown, max = 0xff): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    fail('BAD_FIELD', `${name} must be an integer 0–${max}, got ${String(value)}`);
  }
  return value;
}

function hasMac(securityType: number): boolean {
  return securityType >= SCS_MAC_FIRST && securityType <= SCS_MAC_LAST;
}

/** Builds one packet (preceded by the mark byte when `mark` is set). Throws FrameError('osdp', 'BAD_FIELD') on bad input. */
export function encodeFrame(input: OsdpFrameInput): Buffer {
  const address = checkByte('address', input.address, 0x7f);
  const sequence = checkByte('sequence', input.sequence, 3);
  const code = checkByte('code', input.code);
  const data = input.data ?? new Uint8Array(0);
  const useCrc = input.useCrc ?? true;
  const block = input.securityBlock;
  const blockData = block?.data ?? new Uint8Array(0);
  if (block) {
    checkByte('securityBlock.type', block.type);
    if (blockData.length > 0xff - 2) fail('BAD_FIELD', `security block data is ${blockData.length} bytes, at most 253 fit`);
  }
  const needsMac = block !== undefined && hasMac(block.type);
  if (needsMac && input.mac?.length !== MAC_LENGTH) fail('BAD_FIELD', 'security block types 0x15–0x18 need a 4-byte MAC');
  if (!needsMac && input.mac !== undefined) fail('BAD_FIELD', 'a MAC goes only with security block types 0x15–0x18');

  const blockLength = block ? 2 + blockData.length : 0;
  const length = HEADER_LENGTH + blockLength + 1 + data.length + (needsMac ? MAC_LENGTH : 0) + (useCrc ? 2 : 1);
  if (length > MAX_PACKET_LENGTH) fail('BAD_FIELD', `packet would be ${length} bytes, LEN holds at most ${MAX_PACKET_LENGTH}`);

  const markLength = input.mark ? 1 : 0;
  const out = Buffer.alloc(markLength + length);
  if (input.mark) out[0] = OSDP_MARK;
  const packet = out.subarray(markLength);
  packet[0] = OSDP_SOM;
  packet[1] = address | (input.reply ? 0x80 : 0);
  packet.writeUInt16LE(length, 2);
  packet[4] = sequence | (useCrc ? CTRL_CRC : 0) | (block ? CTRL_SECURE : 0);
  let at = HEADER_LENGTH;
  if (block) {
    packet[at++] = blockLength;
    packet[at++] = block.type;
    packet.set(blockData, at);
    at += blockData.length;
  }
  packet[at++] = code;
  packet.set(data, at);
  at += data.length;
  if (needsMac) {
    packet.set(input.mac!, at);
    at += MAC_LENGTH;
  }
  if (useCrc) packet.writeUInt16LE(crc16Aug(packet.subarray(0, at)), at);
  else packet[at] = checksum8(packet.subarray(0, at));
  return out;
}

/**
 * Checks the 5-byte header at `packet[0]` (SOM already verified) and returns LEN. Shared by decodeFrame and the
 * deframer so a bad header is refused before waiting for the rest of the packet.
 */
function checkHeader(packet: Uint8Array): number {
  const ctrl = packet[4]!;
  if (ctrl & CTRL_RESERVED) fail('BAD_CONTROL', `reserved CTRL bits set (0x${hex(ctrl)})`);
  const length = packet[2]! | (packet[3]! << 8);
  const minimum = HEADER_LENGTH + 1 + (ctrl & CTRL_CRC ? 2 : 1) + (ctrl & CTRL_SECURE ? 2 : 0);
  if (length < minimum) fail('BAD_LENGTH', `LEN ${length} is shorter than the ${minimum} bytes this CTRL needs`);
  return length;
}

export interface DecodeOptions {
  /** accept only this PD address (or broadcast 0x7F) */
  address?: number;
  /** accept only replies (true) or only commands (false) */
  reply?: boolean;
}

/**
 * Decodes exactly one packet, optionally preceded by the 0xFF mark. The returned buffers are copies.
 * Throws FrameError('osdp', TRUNCATED | BAD_SOM | BAD_CONTROL | BAD_LENGTH | TRAILING_BYTES | BAD_CRC |
 * BAD_CHECKSUM | BAD_ADDRESS | BAD_SECURITY_BLOCK).
 */
export function decodeFrame(bytes: Uint8Array, options: DecodeOptions = {}): OsdpFrame {
  const mark = bytes.length > 0 && bytes[0] === OSDP_MARK;
  const packet = bytes.subarray(mark ? 1 : 0);
  if (packet.length === 0) fail('TRUNCATED', 'no packet');
  if (packet[0] !== OSDP_SOM) fail('BAD_SOM', `expected SOM 0x53, got 0x${hex(packet[0]!)}`);
  if (packet.length < HEADER_LENGTH) fail('TRUNCATED', `${packet.length} bytes, the header alone is 5`);
  const length = checkHeader(packet);
  if (packet.length < length) fail('TRUNCATED', `${packet.length} bytes of a ${length}-byte packet`);
  if (packet.length > length) fail('TRAILING_BYTES', `${packet.length - length} bytes after the ${length}-byte packet`);

  const ctrl = packet[4]!;
  const useCrc = (ctrl & CTRL_CRC) !== 0;
  const end = length - (useCrc ? 2 : 1);
  if (useCrc) {
    const expected = crc16Aug(packet.subarray(0, end));
    const actual = packet[end]! | (packet[end + 1]! << 8);
    if (expected !== actual) fail('BAD_CRC', `CRC 0x${hex(actual, 4)}, computed 0x${hex(expected, 4)}`);
  } else {
    const expected = checksum8(packet.subarray(0, end));
    if (expected !== packet[end]) fail('BAD_CHECKSUM', `checksum 0x${hex(packet[end]!)}, computed 0x${hex(expected)}`);
  }

  const reply = (packet[1]! & 0x80) !== 0;
  const address = packet[1]! & 0x7f;
  if (options.reply !== undefined && options.reply !== reply) {
    fail('BAD_ADDRESS', `expected a ${options.reply ? 'reply' : 'command'}, got a ${reply ? 'reply' : 'command'}`);
  }
  if (options.address !== undefined && address !== options.address && address !== OSDP_BROADCAST) {
    fail('BAD_ADDRESS', `packet for address 0x${hex(address)}, expected 0x${hex(options.address)}`);
  }

  let at = HEADER_LENGTH;
  let dataEnd = end;
  let securityBlock: OsdpSecurityBlock | undefined;
  let mac: Buffer | undefined;
  const secure = (ctrl & CTRL_SECURE) !== 0;
  if (secure) {
    const blockLength = packet[at]!;
    const type = packet[at + 1]!;
    const macLength = hasMac(type) ? MAC_LENGTH : 0;
    // block, then at least the command/reply byte, then the MAC
    if (blockLength < 2 || at + blockLength + 1 + macLength > end) {
      fail('BAD_SECURITY_BLOCK', `security block of ${blockLength} bytes (type 0x${hex(type)}) does not fit a ${length}-byte packet`);
    }
    securityBlock = { type, data: Buffer.from(packet.subarray(at + 2, at + blockLength)) };
    at += blockLength;
    if (macLength) {
      dataEnd = end - MAC_LENGTH;
      mac = Buffer.from(packet.subarray(dataEnd, end));
    }
  }
  const frame: OsdpFrame = {
    address,
    reply,
    sequence: ctrl & CTRL_SEQUENCE,
    useCrc,
    secure,
    mark,
    code: packet[at]!,
    data: Buffer.from(packet.subarray(at + 1, dataEnd)),
  };
  if (securityBlock) frame.securityBlock = securityBlock;
  if (mac) frame.mac = mac;
  return frame;
}

function hex(value: number, digits = 2): string {
  return value.toString(16).toUpperCase().padStart(digits, '0');
}

// ------------------------------------------------------------------------------------------- deframer

export type DeframerItem =
  /** a valid packet; `bytes` is exactly what arrived (mark included), and encodeFrame(frame) reproduces it */
  | { frame: OsdpFrame; bytes: Buffer }
  /** `dropped` bytes were discarded: garbage before a SOM (code BAD_SOM) or the start of a bad packet */
  | { error: FrameError; dropped: number };

export interface DeframerOptions extends DecodeOptions {
  /** most bytes held at once, default 64 KiB */
  maxBuffer?: number;
  /**
   * largest LEN accepted, default 1024 (readers send far less): a corrupted LEN is refused at once instead of
   * stalling the line while waiting for that many bytes. Capped at maxBuffer − 1 (room for the mark).
   */
  maxFrameLength?: number;
}

/**
 * Cuts a serial byte stream into OSDP packets. Skips garbage and mark bytes before a SOM, waits for LEN bytes,
 * verifies the CRC/checksum, and after a bad packet drops its SOM (and mark) and searches for the next one.
 * Every byte pushed ends up in exactly one place: an emitted frame, an error's `dropped` count, or `buffered`.
 * Never holds more than `maxBuffer` bytes.
 */
export class OsdpDeframer {
  private readonly buffer: Buffer;
  /** pending bytes are buffer[head, tail); dropping moves head, so skipping garbage costs no copying */
  private head = 0;
  private tail = 0;
  private readonly maxFrameLength: number;
  private readonly decodeOptions: DecodeOptions;

  constructor(options: DeframerOptions = {}) {
    const maxBuffer = Math.max(16, Math.floor(options.maxBuffer ?? 64 * 1024));
    this.buffer = Buffer.alloc(maxBuffer);
    this.maxFrameLength = Math.min(Math.floor(options.maxFrameLength ?? 1024), maxBuffer - 1, MAX_PACKET_LENGTH);
    this.decodeOptions = {};
    if (options.address !== undefined) this.decodeOptions.address = options.address;
    if (options.reply !== undefined) this.decodeOptions.reply = options.reply;
  }

  /** bytes held, waiting for the rest of a packet */
  get buffered(): number {
    return this.tail - this.head;
  }

  /** drops whatever is buffered (e.g. after a line turnaround timeout) and returns how many bytes that was */
  reset(): number {
    const dropped = this.buffered;
    this.head = this.tail = 0;
    return dropped;
  }

  push(chunk: Uint8Array): DeframerItem[] {
    const out: DeframerItem[] = [];
    let offset = 0;
    // feed in slices so the buffer never exceeds its cap, whatever the chunk size; draining always leaves
    // room (a pending packet is at most maxFrameLength + 1 < maxBuffer bytes), so this terminates
    do {
      if (this.tail === this.buffer.length && this.head > 0) {
        this.buffer.copyWithin(0, this.head, this.tail);
        this.tail -= this.head;
        this.head = 0;
      }
      const take = Math.min(chunk.length - offset, this.buffer.length - this.tail);
      this.buffer.set(chunk.subarray(offset, offset + take), this.tail);
      this.tail += take;
      offset += take;
      this.drain(out);
    } while (offset < chunk.length);
    return out;
  }

  private drain(out: DeframerItem[]): void {
    let garbage = 0;
    const flushGarbage = () => {
      if (garbage > 0) {
        out.push({ error: new FrameError('osdp', 'BAD_SOM', `${garbage} bytes before a SOM skipped`), dropped: garbage });
        garbage = 0;
      }
    };
    const bad = (error: FrameError, dropped: number) => {
      flushGarbage();
      out.push({ error, dropped });
      this.consume(dropped);
    };

    while (this.tail > this.head) {
      const pending = this.buffer.subarray(this.head, this.tail);
      const som = pending.indexOf(OSDP_SOM);
      if (som < 0) {
        // keep a trailing 0xFF: it may be the mark of a packet whose SOM has not arrived yet
        const skip = pending[pending.length - 1] === OSDP_MARK ? pending.length - 1 : pending.length;
        garbage += skip;
        this.consume(skip);
        break;
      }
      const start = som > 0 && pending[som - 1] === OSDP_MARK ? som - 1 : som;
      garbage += start;
      this.consume(start);

      const packet = pending.subarray(start);
      const markLength = som - start;
      if (packet.length < markLength + HEADER_LENGTH) break;
      let packetLength: number;
      try {
        packetLength = checkHeader(packet.subarray(markLength, markLength + HEADER_LENGTH));
        if (packetLength > this.maxFrameLength) {
          fail('BAD_LENGTH', `LEN ${packetLength} exceeds the ${this.maxFrameLength}-byte limit`);
        }
      } catch (error) {
        bad(asFrameError(error), markLength + 1);
        continue;
      }
      const total = markLength + packetLength;
      if (packet.length < total) break;
      const bytes = Buffer.from(packet.subarray(0, total));
      try {
        const frame = decodeFrame(bytes, this.decodeOptions);
        flushGarbage();
        out.push({ frame, bytes });
        this.consume(total);
      } catch (error) {
        const frameError = asFrameError(error);
        // a packet for someone else is intact: skip all of it; anything else may hide a packet, so resync
        bad(frameError, frameError.code === 'BAD_ADDRESS' ? total : markLength + 1);
      }
    }
    flushGarbage();
  }

  private consume(count: number): void {
    this.head += count;
    if (this.head === this.tail) this.head = this.tail = 0;
  }
}

function asFrameError(error: unknown): FrameError {
  if (error instanceof FrameError) return error;
  throw error; // a bug, not a bad frame: let the fuzz tests see it
}

// --------------------------------------------------------------------------------- command builders

/** ms → 100 ms units, rounding up so a short non-zero time never becomes 0 (which means "permanent"/"forever"). */
function units100ms(name: string, ms: number, max: number): number {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) fail('BAD_FIELD', `${name} must be a non-negative number of ms`);
  const units = Math.ceil(ms / 100);
  if (units > max) fail('BAD_FIELD', `${name} ${ms} ms exceeds ${max * 100} ms`);
  return units;
}

const message = (code: number, data: number[] | Uint8Array = []): OsdpMessage => ({ code, data: Buffer.from(data) });

export function poll(): OsdpMessage {
  return message(OSDP_CMD.POLL);
}

/** ID request (reply PDID); the data byte 0 asks for the standard reply. */
export function idRequest(): OsdpMessage {
  return message(OSDP_CMD.ID, [0]);
}

/** CAP request (reply PDCAP); the data byte 0 asks for the standard reply. */
export function capRequest(): OsdpMessage {
  return message(OSDP_CMD.CAP, [0]);
}

/** ISTAT request (reply ISTATR with the state of every input); it carries no data. */
export function inputStatusRequest(): OsdpMessage {
  return message(OSDP_CMD.ISTAT);
}

export interface OutputControl {
  /** output number, 0 = first */
  outputNo: number;
  /** one of OSDP_OUT_CONTROL */
  controlCode: number;
  /** for the timed codes; sent in 100 ms units, rounded up (0 = no timer) */
  timerMs?: number;
}

/** OUT: one 4-byte record (output number, control code, timer LSB, MSB) per output. */
export function output(...controls: OutputControl[]): OsdpMessage {
  if (controls.length === 0) fail('BAD_FIELD', 'OUT needs at least one output');
  const data = Buffer.alloc(controls.length * 4);
  controls.forEach((c, i) => {
    data[i * 4] = checkByte('outputNo', c.outputNo);
    data[i * 4 + 1] = checkByte('controlCode', c.controlCode);
    data.writeUInt16LE(units100ms('timerMs', c.timerMs ?? 0, 0xffff), i * 4 + 2);
  });
  return { code: OSDP_CMD.OUT, data };
}

/** Reads OUT data back into records (timerMs in whole 100 ms units); for the PD simulator. */
export function parseOutput(data: Uint8Array): Required<OutputControl>[] {
  if (data.length === 0 || data.length % 4 !== 0) fail('BAD_FIELD', `OUT data is ${data.length} bytes, not a multiple of 4`);
  const records: Required<OutputControl>[] = [];
  for (let i = 0; i < data.length; i += 4) {
    records.push({ outputNo: data[i]!, controlCode: data[i + 1]!, timerMs: (data[i + 2]! | (data[i + 3]! << 8)) * 100 });
  }
  return records;
}

export interface LedControl {
  reader?: number;
  ledNo?: number;
  /** one of OSDP_LED_COLOR */
  color: number;
  /** flash: `color` for onMs, `offColor` for offMs (100 ms units, rounded up); steady when absent */
  flash?: { onMs: number; offMs: number; offColor?: number };
  /** temporary state for this long, then back to the permanent state; without it the state is permanent */
  timerMs?: number;
}

/**
 * LED (14 bytes: reader, LED, temporary control/on/off/on colour/off colour/timer LSB/MSB, permanent
 * control/on/off/on colour/off colour). Sets either the temporary state (control 2, permanent untouched) or
 * the permanent one (control 1, temporary untouched). Steady is on-time 1, off-time 0.
 */
export function led(c: LedControl): OsdpMessage {
  const color = checkByte('color', c.color);
  const onTime = c.flash ? units100ms('flash.onMs', c.flash.onMs, 0xff) : 1;
  const offTime = c.flash ? units100ms('flash.offMs', c.flash.offMs, 0xff) : 0;
  const offColor = checkByte('flash.offColor', c.flash?.offColor ?? OSDP_LED_COLOR.BLACK);
  const state = [onTime, offTime, color, offColor];
  const data = Buffer.alloc(14);
  data[0] = checkByte('reader', c.reader ?? 0);
  data[1] = checkByte('ledNo', c.ledNo ?? 0);
  if (c.timerMs !== undefined) {
    data[2] = 0x02;
    data.set(state, 3);
    data.writeUInt16LE(units100ms('timerMs', c.timerMs, 0xffff), 7);
  } else {
    data[9] = 0x01;
    data.set(state, 10);
  }
  return { code: OSDP_CMD.LED, data };
}

export interface BuzzerControl {
  reader?: number;
  /** 0x00 no tone, 0x01 off, 0x02 default tone (the default) */
  tone?: number;
  onMs: number;
  offMs: number;
  /** number of cycles, 0 = until told otherwise */
  count: number;
}

/** BUZ (5 bytes: reader, tone, on time, off time in 100 ms units rounded up, count). */
export function buzzer(c: BuzzerControl): OsdpMessage {
  return message(OSDP_CMD.BUZ, [
    checkByte('reader', c.reader ?? 0),
    checkByte('tone', c.tone ?? 0x02),
    units100ms('onMs', c.onMs, 0xff),
    units100ms('offMs', c.offMs, 0xff),
    checkByte('count', c.count),
  ]);
}

// ------------------------------------------------------------------------------ replies (PD simulator)

export function ack(): OsdpMessage {
  return message(OSDP_REPLY.ACK);
}

export function busy(): OsdpMessage {
  return message(OSDP_REPLY.BUSY);
}

/** NAK with a reason from OSDP_NAK, e.g. nak(OSDP_NAK.SEQUENCE) → `41 04`. */
export function nak(reason: number): OsdpMessage {
  return message(OSDP_REPLY.NAK, [checkByte('reason', reason)]);
}

/** The NAK reason code (any further detail bytes are ignored). */
export function parseNak(data: Uint8Array): number {
  if (data.length < 1) fail('TRUNCATED', 'NAK without a reason code');
  return data[0]!;
}

/**
 * ISTATR reply: one byte per input, 0x00 inactive, 0x01 active. A PD sends it to ISTAT and, unasked, as the
 * reply to the POLL after an input changed.
 */
export function inputStatus(states: readonly boolean[]): OsdpMessage {
  if (states.length === 0) fail('BAD_FIELD', 'ISTATR needs at least one input');
  return message(OSDP_REPLY.ISTATR, states.map((active) => (active ? 1 : 0)));
}

/** The input states of an ISTATR, first input first; any byte but 0x00 or 0x01 makes the reply invalid. */
export function parseInputStatus(data: Uint8Array): boolean[] {
  if (data.length === 0) fail('TRUNCATED', 'ISTATR without any input status');
  const states: boolean[] = [];
  for (let i = 0; i < data.length; i++) {
    const state = data[i]!;
    if (state > 1) fail('BAD_FIELD', `input ${i} status is 0x${hex(state)}, only 0x00 (inactive) and 0x01 (active) exist`);
    states.push(state === 1);
  }
  return states;
}

export interface RawCard {
  reader: number;
  /** OSDP_RAW_FORMAT, 1 = raw Wiegand */
  format: number;
  bitCount: number;
  /** the bits, MSB first, padded to whole bytes */
  data: Buffer;
}

/** RAW card reply: reader, format, bit count LSB/MSB, then exactly ceil(bits / 8) data bytes. */
export function rawCard(c: { reader: number; format: number; bits: number; data: Uint8Array }): OsdpMessage {
  const bits = checkByte('bits', c.bits, 0xffff);
  if (bits === 0 || c.data.length !== Math.ceil(bits / 8)) {
    fail('BAD_BIT_COUNT', `${bits} bits need ${Math.ceil(bits / 8)} data bytes, got ${c.data.length}`);
  }
  const data = Buffer.alloc(4 + c.data.length);
  data[0] = checkByte('reader', c.reader);
  data[1] = checkByte('format', c.format);
  data.writeUInt16LE(bits, 2);
  data.set(c.data, 4);
  return { code: OSDP_REPLY.RAW, data };
}

/** Parses RAW card data; the bit count must be non-zero and match the data length exactly (ceil(bits / 8)). */
export function parseRawCard(data: Uint8Array): RawCard {
  if (data.length < 4) fail('TRUNCATED', `RAW card data is ${data.length} bytes, the header alone is 4`);
  const bitCount = data[2]! | (data[3]! << 8);
  const bytes = data.length - 4;
  if (bitCount === 0 || Math.ceil(bitCount / 8) !== bytes) {
    fail('BAD_BIT_COUNT', `${bitCount} bits do not fit ${bytes} data bytes`);
  }
  return { reader: data[0]!, format: data[1]!, bitCount, data: Buffer.from(data.subarray(4)) };
}

export interface Keypad {
  reader: number;
  /** key codes as sent: '0'–'9' in ASCII, 0x7F for *, 0x0D for # */
  keys: Buffer;
  /** the keys as text, with * and # */
  text: string;
}

const keyText = (key: number) => (key === 0x7f ? '*' : key === 0x0d ? '#' : String.fromCharCode(key));
const keyCode = (char: string) => (char === '*' ? 0x7f : char === '#' ? 0x0d : char.charCodeAt(0));

/** KEYPAD reply: reader, key count, keys. `keys` as a string maps * → 0x7F and # → 0x0D. */
export function keypad(c: { reader: number; keys: string | Uint8Array }): OsdpMessage {
  const codes = typeof c.keys === 'string' ? [...c.keys].map(keyCode) : [...c.keys];
  if (codes.length > 0xff || codes.some((k) => k > 0xff)) fail('BAD_FIELD', 'at most 255 single-byte keys');
  const keys = Buffer.from(codes);
  return { code: OSDP_REPLY.KEYPAD, data: Buffer.concat([Buffer.from([checkByte('reader', c.reader), keys.length]), keys]) };
}

export function parseKeypad(data: Uint8Array): Keypad {
  if (data.length < 2) fail('TRUNCATED', `KEYPAD data is ${data.length} bytes, the header alone is 2`);
  const count = data[1]!;
  if (data.length - 2 !== count) fail('BAD_FIELD', `KEYPAD announces ${count} keys, carries ${data.length - 2}`);
  const keys = Buffer.from(data.subarray(2));
  return { reader: data[0]!, keys, text: [...keys].map(keyText).join('') };
}
