/**
 * USB keyboard-wedge card readers: the reader types the card number as keystrokes, then Enter, in
 * USB HID boot-keyboard input reports.
 *
 * A report is 8 bytes `[modifiers, reserved, key1 … key6]` of the keys held down at that moment; 9 bytes
 * when the device numbers its reports (a report id first). A key-up is a report without that key, usually
 * all zeros. Usage ids: 0x1E–0x27 = '1'…'9','0', 0x59–0x62 = keypad '1'…'9','0', 0x04–0x09 = 'a'–'f'
 * (hex readers), 0x36 = ',' (Wiegand readers typing "facility,card"), 0x28 = Enter, 0x58 = keypad Enter.
 *
 * What a read means depends on how the reader is set (`card_format`); {@link toAccessCard} turns the
 * typed text into the access list's canonical credential (upper-case hex, see `canonicalCard`).
 *
 * Pure functions, no I/O, no clock: the caller passes the time of each report. The only error thrown is
 * {@link FrameError} (protocol `hid-keyboard`); the decoder never throws.
 */
import { canonicalCard } from '../../../firmware-profiles/access.js';
import type { DroppedReport } from './deframe.js';
import { FrameError } from './errors.js';

export const HID_KEYBOARD_PROTOCOL = 'hid-keyboard';
/** A boot-keyboard input report; one byte more when the device prefixes a report id. */
export const BOOT_REPORT_LENGTH = 8;
/** No card number in use is longer; anything longer is a runaway (a stuck key, a wrong device). */
export const MAX_READ_LENGTH = 32;
/**
 * Readers type a whole card in well under this; a longer silence inside a read means the rest was lost,
 * and the next keys belong to another card.
 */
export const DEFAULT_KEY_GAP_MS = 500;

export type HidKeyboardErrorCode = 'BAD_LENGTH' | 'BAD_KEY' | 'TOO_LONG' | 'TIMEOUT' | 'BAD_CARD' | 'BAD_FORMAT';

function fail(code: HidKeyboardErrorCode, message: string): never {
  throw new FrameError(HID_KEYBOARD_PROTOCOL, code, message);
}

const hex2 = (n: number) => `0x${n.toString(16).padStart(2, '0')}`;

const ENTER = 0x28;
const KEYPAD_ENTER = 0x58;
/** Usage id → the character it types. Shift is not consulted (see `keyDowns`). */
const CHARACTERS = new Map<number, string>([
  ...[...'1234567890'].map((c, i) => [0x1e + i, c] as const),
  ...[...'1234567890'].map((c, i) => [0x59 + i, c] as const),
  ...[...'abcdef'].map((c, i) => [0x04 + i, c] as const),
  [0x36, ','],
]);
/** The character → the usage id a reader sends for it (main block, not the keypad). */
const USAGES = new Map<string, number>([...CHARACTERS].filter(([usage]) => usage < 0x59).map(([usage, c]) => [c, usage]));
/**
 * Keys that change no text: lock keys (some readers toggle Num Lock before keypad digits) and the
 * modifiers, which some devices also list in the key array.
 */
const IGNORED = new Set([0x39, 0x47, 0x53, 0xe0, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7]);
/** ErrorRollOver, POSTFail, ErrorUndefined: the report says nothing about which keys are down. */
const isErrorState = (usage: number) => usage >= 0x01 && usage <= 0x03;

/** A completed read: the text the reader typed before Enter (not yet converted, see {@link toAccessCard}). */
export interface WedgeRead {
  card: string;
}

/**
 * A completed read, or input given up with why: for a malformed report `dropped` is that report; for a
 * discarded read it is the characters typed so far, as ASCII.
 */
export type WedgeDecoded = WedgeRead | DroppedReport;

const ascii = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));

/**
 * Turns a reader's input reports into reads. A key counts when it goes down: a report repeated while
 * the key is held (keyboards resend reports) types nothing more, and only a report without the key
 * (key-up) lets the same key type again. A read ends with Enter; one that grows past
 * {@link MAX_READ_LENGTH} characters, holds a key no card number contains, or pauses longer than
 * `keyGapMs` between keys is given up with a FrameError, and keys up to its Enter are skipped.
 */
export class KeyboardWedgeDecoder {
  private held = new Set<number>();
  private text = '';
  /** the current read was given up (and reported): skip to its Enter */
  private skipping = false;
  private lastKeyAt = 0;
  private readonly keyGapMs: number;

  constructor(opts: { keyGapMs?: number } = {}) {
    this.keyGapMs = opts.keyGapMs ?? DEFAULT_KEY_GAP_MS;
  }

  /** One input report as read from the device; `now` is when it arrived, in milliseconds (monotonic). */
  push(report: Uint8Array, now: number): WedgeDecoded[] {
    const out: WedgeDecoded[] = [];
    if (report.length !== BOOT_REPORT_LENGTH && report.length !== BOOT_REPORT_LENGTH + 1) {
      out.push({
        error: new FrameError(HID_KEYBOARD_PROTOCOL, 'BAD_LENGTH', `a ${report.length}-byte report is not a boot-keyboard report (8 bytes, or 9 with a report id)`),
        dropped: Uint8Array.from(report),
      });
      return out;
    }
    const keys = report.subarray(report.length - 6);
    if (keys.some(isErrorState)) return out;
    for (const usage of keys) if (usage !== 0 && !this.held.has(usage)) this.keyDown(usage, now, out);
    this.held = new Set(keys);
    return out;
  }

  /**
   * Modifiers are not consulted: a card's text is digits, hex letters and a comma whatever Shift says
   * (readers set for a French layout press Shift for digits; hex readers send letters either way).
   */
  private keyDown(usage: number, now: number, out: WedgeDecoded[]): void {
    if ((this.text !== '' || this.skipping) && now - this.lastKeyAt > this.keyGapMs) {
      // A read already given up was reported then; only a live one is reported now.
      if (!this.skipping) this.giveUp(out, 'TIMEOUT', `${Math.round(now - this.lastKeyAt)} ms without a key inside a read (limit ${this.keyGapMs} ms)`);
      this.reset();
    }
    this.lastKeyAt = now;
    if (usage === ENTER || usage === KEYPAD_ENTER) {
      // An Enter on its own (or ending a read already given up) is no card.
      if (!this.skipping && this.text !== '') out.push({ card: this.text });
      this.reset();
      return;
    }
    if (IGNORED.has(usage) || this.skipping) return;
    const char = CHARACTERS.get(usage);
    if (char === undefined) {
      this.giveUp(out, 'BAD_KEY', `key ${hex2(usage)} cannot be part of a card number`);
    } else if (this.text.length >= MAX_READ_LENGTH) {
      this.giveUp(out, 'TOO_LONG', `the read runs past ${MAX_READ_LENGTH} characters without Enter`);
    } else {
      this.text += char;
    }
  }

  private giveUp(out: WedgeDecoded[], code: HidKeyboardErrorCode, message: string): void {
    out.push({ error: new FrameError(HID_KEYBOARD_PROTOCOL, code, message), dropped: ascii(this.text) });
    this.text = '';
    this.skipping = true;
  }

  private reset(): void {
    this.text = '';
    this.skipping = false;
  }
}

/**
 * The reports a reader sends to type `text` and Enter: per character a key-down (sent `repeat` times,
 * as a keyboard resends a held key) and a key-up. Upper-case hex letters carry Left Shift. Used by the
 * simulated reader and the tests.
 */
export function keystrokes(text: string, opts: { reportId?: number; repeat?: number } = {}): Uint8Array[] {
  const { reportId, repeat = 1 } = opts;
  if (!Number.isInteger(repeat) || repeat < 1) fail('BAD_FORMAT', `repeat ${repeat} is not a positive integer`);
  // Report id 0 is reserved by HID for "no report id".
  if (reportId !== undefined && !(Number.isInteger(reportId) && reportId >= 1 && reportId <= 0xff)) fail('BAD_FORMAT', `report id ${reportId} is not 1–255`);
  const report = (modifiers: number, usage: number) => {
    const keys = Uint8Array.of(modifiers, 0, usage, 0, 0, 0, 0, 0);
    return reportId === undefined ? keys : Uint8Array.of(reportId, ...keys);
  };
  const presses = [...text].map((char) => {
    const usage = USAGES.get(char.toLowerCase());
    if (usage === undefined) fail('BAD_KEY', `${JSON.stringify(char)} is not a character a card reader types`);
    return { usage, shift: char >= 'A' && char <= 'F' ? 0x02 : 0 };
  });
  const out: Uint8Array[] = [];
  for (const { usage, shift } of [...presses, { usage: ENTER, shift: 0 }]) {
    for (let i = 0; i < repeat; i++) out.push(report(shift, usage));
    out.push(report(0, 0));
  }
  return out;
}

// ------------------------------------------------------------------------------ card formats

/**
 * The reader settings a keyboard-wedge reader can be set to (profile `card_format`). `wiegand_34` is not
 * among them: readers type a 34-bit card either as "facility,card" or as ten decimal digits, and ten
 * digits would then be ambiguous with the 5+5 form; it stays refused until a real reader settles it.
 */
export const WEDGE_CARD_FORMATS = ['decimal_10', 'decimal_8h10d', 'wiegand_26', 'raw_hex'] as const;
export type WedgeCardFormat = (typeof WEDGE_CARD_FORMATS)[number];

export function isWedgeCardFormat(value: unknown): value is WedgeCardFormat {
  return (WEDGE_CARD_FORMATS as readonly unknown[]).includes(value);
}

const parity = (n: number) => {
  let ones = 0;
  for (let v = n; v; v >>>= 1) ones += v & 1;
  return ones & 1;
};

/**
 * The 26-bit Wiegand frame of facility `fc` (8 bits) and card `cn` (16 bits), as the OSDP reader reports
 * it: even parity over the first 12 data bits, the 24 data bits, odd parity over the last 12, MSB first,
 * left-aligned in 4 bytes. So a card typed by a wedge reader and read by an OSDP reader at another door
 * is the same credential.
 */
function wiegand26(fc: number, cn: number): string {
  const data = fc * 0x10000 + cn;
  const even = parity(data >>> 12);
  const odd = 1 - parity(data & 0xfff);
  const frame = even * 2 ** 25 + data * 2 + odd;
  return (frame * 2 ** 6).toString(16).padStart(8, '0').toUpperCase();
}

function decimalUid(text: string, format: WedgeCardFormat): string {
  if (!/^[0-9]{10}$/.test(text)) fail('BAD_CARD', `${format} expects 10 decimal digits, got ${JSON.stringify(text)}`);
  const uid = Number(text);
  if (uid > 0xffffffff) fail('BAD_CARD', `${text} does not fit 32 bits (at most 4294967295)`);
  return uid.toString(16).padStart(8, '0').toUpperCase();
}

/**
 * The access list's credential for a read typed by a reader set to `format`:
 * - `decimal_10`, `decimal_8h10d`: ten decimal digits, the card's 32-bit number (vendors call the same
 *   output "10-digit decimal" or "8H10D": 8 hex digits shown as 10 decimal ones) → 8 hex digits;
 * - `wiegand_26`: facility and card as "123,45678" (1–3 and 1–5 digits) or as 8 digits (3 + 5) → the
 *   26-bit Wiegand frame with its parity bits, as an OSDP reader reports the same card (8 hex digits);
 * - `raw_hex`: 2–32 hex digits, either case → upper case.
 * FrameError BAD_CARD when the text does not fit the format, BAD_FORMAT for an unknown format.
 */
export function toAccessCard(text: string, format: WedgeCardFormat): string {
  switch (format) {
    case 'decimal_10':
    case 'decimal_8h10d':
      return decimalUid(text, format);
    case 'wiegand_26': {
      const m = /^([0-9]{1,3}),([0-9]{1,5})$/.exec(text) ?? /^([0-9]{3})([0-9]{5})$/.exec(text);
      if (!m) fail('BAD_CARD', `wiegand_26 expects "facility,card" or 8 digits (3 + 5), got ${JSON.stringify(text)}`);
      const fc = Number(m[1]);
      const cn = Number(m[2]);
      if (fc > 0xff) fail('BAD_CARD', `facility ${fc} does not fit 8 bits (at most 255)`);
      if (cn > 0xffff) fail('BAD_CARD', `card ${cn} does not fit 16 bits (at most 65535)`);
      return wiegand26(fc, cn);
    }
    case 'raw_hex':
      if (!/^[0-9a-fA-F]{2,32}$/.test(text)) fail('BAD_CARD', `raw_hex expects 2–32 hex digits, got ${JSON.stringify(text)}`);
      return canonicalCard(text);
    default:
      return fail('BAD_FORMAT', `card format ${JSON.stringify(format)} is not one of ${WEDGE_CARD_FORMATS.join(', ')}`);
  }
}

/**
 * What a reader set to `format` types for the card whose credential is `card` (upper-case hex): the
 * inverse of {@link toAccessCard}, for the simulated reader. Wiegand cards are typed in the 8-digit form.
 * FrameError BAD_CARD when no read in that format yields `card` (too wide, or Wiegand parity that does
 * not match its data).
 */
export function cardText(card: string, format: WedgeCardFormat): string {
  if (!/^[0-9A-F]{2,32}$/.test(card)) fail('BAD_CARD', `${JSON.stringify(card)} is not a canonical card (2–32 upper-case hex digits)`);
  let text: string;
  switch (format) {
    case 'decimal_10':
    case 'decimal_8h10d':
      text = parseInt(card, 16).toString().padStart(10, '0');
      break;
    case 'wiegand_26': {
      const frame = parseInt(card, 16) / 2 ** 6;
      const data = Math.floor(frame / 2) % 2 ** 24;
      text = `${String(data >>> 16).padStart(3, '0')}${String(data & 0xffff).padStart(5, '0')}`;
      break;
    }
    case 'raw_hex':
      text = card;
      break;
    default:
      return fail('BAD_FORMAT', `card format ${JSON.stringify(format)} is not one of ${WEDGE_CARD_FORMATS.join(', ')}`);
  }
  // Whatever the arithmetic above lost (a number too wide, a wrong parity bit) shows up here.
  let back: string | undefined;
  try {
    back = toAccessCard(text, format);
  } catch (err) {
    if (!(err instanceof FrameError)) throw err;
  }
  if (back !== card) fail('BAD_CARD', `no ${format} read yields card ${card}`);
  return text;
}
