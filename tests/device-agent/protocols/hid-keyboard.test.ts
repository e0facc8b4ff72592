import t from 'tap';
import { frameErrorCode, mulberry32 as rng } from '../../helpers/fuzz.js';
import { FrameError } from '../../../device-agent/src/protocols/errors.js';
import { parseRawCard, rawCard } from '../../../device-agent/src/protocols/osdp.js';
import {
  KeyboardWedgeDecoder,
  MAX_READ_LENGTH,
  WEDGE_CARD_FORMATS,
  cardText,
  keystrokes,
  toAccessCard,
  type WedgeCardFormat,
  type WedgeDecoded,
} from '../../../device-agent/src/protocols/hid-keyboard.js';

const hex = (b: Uint8Array): string => [...b].map((n) => n.toString(16).padStart(2, '0')).join(' ');
const ascii = (b: Uint8Array): string => String.fromCharCode(...b);
/** A boot-keyboard report: modifiers, then up to six usage ids. */
const keys = (modifiers: number, ...usages: number[]) => Uint8Array.of(modifiers, 0, ...usages, ...new Array<number>(6 - usages.length).fill(0));
const UP = keys(0);

const codeOf = (fn: () => unknown) => frameErrorCode('hid-keyboard', fn);

/** Feeds reports 8 ms apart (a full-speed USB keyboard's interval), from `start`. */
function feed(decoder: KeyboardWedgeDecoder, reports: Uint8Array[], start = 0): WedgeDecoded[] {
  return reports.flatMap((r, i) => decoder.push(r, start + i * 8));
}
const summary = (items: WedgeDecoded[]) => items.map((item) => ('card' in item ? item.card : `${item.error.code}:${ascii(item.dropped)}`));

// Usage ids written out from the HID Usage Tables (keyboard page 0x07), independently of the module.
const DIGIT = (d: number) => (d === 0 ? 0x27 : 0x1d + d);
const KEYPAD = (d: number) => (d === 0 ? 0x62 : 0x58 + d);
const ENTER = 0x28;
const KEYPAD_ENTER = 0x58;
const typed = (text: string, enter = ENTER) => [...[...text].flatMap((c) => [keys(0, DIGIT(Number(c))), UP]), keys(0, enter), UP];

t.test('a reader typing digits and Enter gives one read', async (t) => {
  t.same(summary(feed(new KeyboardWedgeDecoder(), typed('1234567890'))), ['1234567890'], 'key-down, key-up per digit, then Enter');
  const withId = typed('0012345678').map((r) => Uint8Array.of(0x01, ...r));
  t.same(summary(feed(new KeyboardWedgeDecoder(), withId)), ['0012345678'], '9-byte reports with a report id read the same');
  const keypad = [...[...'4711'].flatMap((c) => [keys(0, KEYPAD(Number(c))), UP]), keys(0, KEYPAD_ENTER), UP];
  t.same(summary(feed(new KeyboardWedgeDecoder(), keypad)), ['4711'], 'keypad digits and keypad Enter');
  const decoder = new KeyboardWedgeDecoder();
  t.same(summary(feed(decoder, [...typed('12'), ...typed('34')])), ['12', '34'], 'two reads in a row are two cards');
  t.same(decoder.push(keys(0, ENTER), 1000), [], 'an Enter on its own is no card');
});

t.test('a key held down types once; it types again only after its release', async (t) => {
  const held = [keys(0, DIGIT(5)), keys(0, DIGIT(5)), keys(0, DIGIT(5)), UP, keys(0, ENTER), keys(0, ENTER), UP];
  t.same(summary(feed(new KeyboardWedgeDecoder(), held)), ['5'], 'repeated identical reports are one key, and one Enter');
  const twice = [keys(0, DIGIT(1)), UP, keys(0, DIGIT(1)), UP, keys(0, ENTER), UP];
  t.same(summary(feed(new KeyboardWedgeDecoder(), twice)), ['11'], 'with a release between, the same key counts twice');
  const rollover = [keys(0, DIGIT(1)), keys(0, DIGIT(1), DIGIT(2)), keys(0, DIGIT(2)), keys(0, DIGIT(2), DIGIT(1)), keys(0, ENTER), UP];
  t.same(summary(feed(new KeyboardWedgeDecoder(), rollover)), ['121'], 'overlapping keys (rollover) count when each goes down');
  const errorState = [keys(0, DIGIT(3)), keys(0, 1, 1, 1, 1, 1, 1), keys(0, DIGIT(3)), UP, keys(0, ENTER), UP];
  t.same(summary(feed(new KeyboardWedgeDecoder(), errorState)), ['3'], 'an ErrorRollOver report changes nothing (the 3 stays held)');
});

t.test('hex letters with or without Shift; lock keys and modifiers type nothing', async (t) => {
  const lower = [keys(0, 0x04), UP, keys(0, 0x09), UP, keys(0, DIGIT(0)), UP, keys(0, ENTER), UP];
  const upper = [keys(0x02, 0x04), UP, keys(0x20, 0x09), UP, keys(0, DIGIT(0)), UP, keys(0, ENTER), UP];
  t.same(summary(feed(new KeyboardWedgeDecoder(), lower)), ['af0'], 'a–f unshifted');
  t.same(summary(feed(new KeyboardWedgeDecoder(), upper)), ['af0'], 'A–F with left or right Shift read the same');
  const numLock = [keys(0, 0x53), UP, keys(0, KEYPAD(7)), UP, keys(0, 0x53), UP, keys(0, 0xe1, DIGIT(8)), UP, keys(0, KEYPAD_ENTER), UP];
  t.same(summary(feed(new KeyboardWedgeDecoder(), numLock)), ['78'], 'Num Lock toggles and a modifier in the key array are ignored');
  t.same(toAccessCard('af0e', 'raw_hex'), 'AF0E', 'raw hex becomes upper case');
  const comma = [keys(0, DIGIT(1)), UP, keys(0, 0x36), UP, keys(0, DIGIT(2)), UP, keys(0, ENTER), UP];
  t.same(summary(feed(new KeyboardWedgeDecoder(), comma)), ['1,2'], 'a comma (Wiegand facility,card)');
});

t.test('runaway, interrupted and garbled reads are given up with a FrameError', async (t) => {
  const decoder = new KeyboardWedgeDecoder();
  const long = feed(decoder, typed('1'.repeat(MAX_READ_LENGTH + 5)));
  t.same(summary(long), [`TOO_LONG:${'1'.repeat(MAX_READ_LENGTH)}`], `past ${MAX_READ_LENGTH} characters: one error, the rest up to Enter skipped`);
  t.ok(long.every((item) => 'error' in item && item.error instanceof FrameError), 'the error is a FrameError');
  t.same(summary(feed(decoder, typed('42'), 10_000)), ['42'], 'the next read is whole again');

  const gap = new KeyboardWedgeDecoder({ keyGapMs: 500 });
  const items = [...feed(gap, typed('12').slice(0, 4), 0), ...feed(gap, typed('34'), 600)];
  t.same(summary(items), ['TIMEOUT:12', '34'], 'a pause over the key gap drops the partial read; the keys after it are a read of their own');
  t.match((items[0] as { error: FrameError }).error.message, /^hid-keyboard: 584 ms without a key inside a read \(limit 500 ms\)$/, 'the message says how long the pause was');
  const slowOk = new KeyboardWedgeDecoder({ keyGapMs: 500 });
  t.same(summary([keys(0, DIGIT(1)), UP, keys(0, DIGIT(2)), UP, keys(0, ENTER), UP].flatMap((r, i) => slowOk.push(r, i * 250))), ['12'], 'keys 500 ms apart (250 ms per report) are within the gap');

  const bad = new KeyboardWedgeDecoder();
  const garbled = [keys(0, DIGIT(9)), UP, keys(0, 0x1b), UP, keys(0, DIGIT(8)), UP, keys(0, ENTER), UP];
  const out = feed(bad, garbled);
  t.same(summary(out), ['BAD_KEY:9'], 'a key no card contains ("x") gives up the read; the digits after it are not a card');
  t.match((out[0] as { error: FrameError }).error.message, /key 0x1b cannot be part of a card number/, 'the message names the key');
  t.same(summary(feed(bad, typed('77'), 1000)), ['77'], 'and the next read is fine');

  const lengths = new KeyboardWedgeDecoder();
  for (const report of [new Uint8Array(0), new Uint8Array(7), new Uint8Array(10), new Uint8Array(64)]) {
    const [item, ...rest] = lengths.push(report, 0);
    t.ok(item && 'error' in item && item.error.code === 'BAD_LENGTH' && rest.length === 0, `a ${report.length}-byte report: BAD_LENGTH`);
    t.equal(item && 'dropped' in item ? item.dropped.length : -1, report.length, 'and the dropped bytes are that report');
  }
  t.same(summary(feed(lengths, [keys(0, DIGIT(6)), Uint8Array.of(1, 2, 3), UP, keys(0, ENTER), UP])), ['BAD_LENGTH:\x01\x02\x03', '6'], 'a malformed report in the middle leaves the read alone');
});

t.test('keystrokes types text as a reader does; the decoder reads it back', async (t) => {
  t.equal(keystrokes('1A').map(hex).join(' | '), ['00 00 1e 00 00 00 00 00', '00 00 00 00 00 00 00 00', '02 00 04 00 00 00 00 00', '00 00 00 00 00 00 00 00', '00 00 28 00 00 00 00 00', '00 00 00 00 00 00 00 00'].join(' | '), "'1', Shift+'a', Enter, each followed by a key-up");
  t.equal(keystrokes('0', { reportId: 2, repeat: 2 }).map(hex).join(' | '), ['02 00 00 27 00 00 00 00 00', '02 00 00 27 00 00 00 00 00', '02 00 00 00 00 00 00 00 00', '02 00 00 28 00 00 00 00 00', '02 00 00 28 00 00 00 00 00', '02 00 00 00 00 00 00 00 00'].join(' | '), 'report id first, key-down repeated');
  t.equal(codeOf(() => keystrokes('12G')), 'BAD_KEY', 'a character no reader types is refused');
  t.equal(codeOf(() => keystrokes('1\n2')), 'BAD_KEY', 'so is a line break inside the text');
  t.equal(codeOf(() => keystrokes('1', { repeat: 0 })), 'BAD_FORMAT', 'repeat must be at least 1');
  t.equal(codeOf(() => keystrokes('1', { reportId: 0 })), 'BAD_FORMAT', 'report id 0 means no report id');
});

t.test('card formats: decimal (10-digit, 8H10D)', async (t) => {
  for (const format of ['decimal_10', 'decimal_8h10d'] as const) {
    t.equal(toAccessCard('1234567890', format), '499602D2', `${format}: 1234567890 is 0x499602D2`);
    t.equal(toAccessCard('0000000000', format), '00000000', `${format}: zero keeps 8 digits`);
    t.equal(codeOf(() => toAccessCard('0004660', format)), 'BAD_CARD', `${format}: fewer than 10 digits is refused`);
    t.equal(toAccessCard('4294967295', format), 'FFFFFFFF', `${format}: the largest 32-bit number`);
    t.equal(codeOf(() => toAccessCard('4294967296', format)), 'BAD_CARD', `${format}: one more does not fit 32 bits`);
    t.equal(codeOf(() => toAccessCard('12345678901', format)), 'BAD_CARD', `${format}: 11 digits`);
    t.equal(codeOf(() => toAccessCard('12345abcde', format)), 'BAD_CARD', `${format}: letters`);
  }
  t.equal(cardText('499602D2', 'decimal_10'), '1234567890', 'the simulator types the card back as 10 digits');
  t.equal(cardText('0012D687', 'decimal_8h10d'), '0001234567', 'with leading zeros');
  t.equal(codeOf(() => cardText('0100000000', 'decimal_10')), 'BAD_CARD', 'a card wider than 32 bits has no decimal_10 form');
});

/** A 26-bit Wiegand frame built bit by bit from its definition, packed as OSDP RAW carries it (MSB first, padded). */
function wiegandBits(fc: number, cn: number): Uint8Array {
  const data = fc.toString(2).padStart(8, '0') + cn.toString(2).padStart(16, '0');
  const ones = (s: string) => [...s].filter((b) => b === '1').length;
  const even = ones(data.slice(0, 12)) % 2 === 0 ? '0' : '1';
  const odd = ones(data.slice(12)) % 2 === 1 ? '0' : '1';
  const bits = (even + data + odd).padEnd(32, '0');
  return Uint8Array.from({ length: 4 }, (_, i) => parseInt(bits.slice(i * 8, i * 8 + 8), 2));
}

t.test('card formats: Wiegand 26 gives the credential an OSDP reader reports for the same card', async (t) => {
  t.equal(toAccessCard('036,26796', 'wiegand_26'), '12345600', 'facility 36, card 26796');
  t.equal(toAccessCard('03626796', 'wiegand_26'), '12345600', 'the 8-digit form (3 + 5) is the same card');
  t.equal(toAccessCard('0,0', 'wiegand_26'), '00000040', 'facility 0, card 0: only the odd parity bit is set');
  t.equal(toAccessCard('255,65535', 'wiegand_26'), '7FFFFFC0', 'all data bits set: twelve ones in each half, so even parity 0 and odd parity 1');
  for (const [text, what] of [['256,1', 'a facility over 255'], ['1,65536', 'a card over 65535'], ['1234567', '7 digits'], ['1,2,3', 'two commas'], [',5', 'no facility'], ['1234,5', 'a 4-digit facility'], ['12,', 'no card']]) {
    t.equal(codeOf(() => toAccessCard(text, 'wiegand_26')), 'BAD_CARD', `${what} (${text}) is refused`);
  }
  // The OSDP control panel turns RAW card bits into the credential as upper-case hex of the data bytes.
  const viaOsdp = (fc: number, cn: number) => parseRawCard(rawCard({ reader: 0, format: 1, bits: 26, data: wiegandBits(fc, cn) }).data).data.toString('hex').toUpperCase();
  const r = rng(0x5eed_0026);
  let mismatch: string | undefined;
  for (let n = 0; n < 2000 && !mismatch; n++) {
    const fc = Math.floor(r() * 256);
    const cn = Math.floor(r() * 65536);
    const wedge = toAccessCard(`${fc},${cn}`, 'wiegand_26');
    if (wedge !== viaOsdp(fc, cn)) mismatch = `${fc},${cn}: wedge ${wedge}, OSDP ${viaOsdp(fc, cn)}`;
    else if (cardText(wedge, 'wiegand_26') !== `${String(fc).padStart(3, '0')}${String(cn).padStart(5, '0')}`) mismatch = `${fc},${cn}: typed back as ${cardText(wedge, 'wiegand_26')}`;
  }
  t.equal(mismatch, undefined, '2000 random cards: same credential as the OSDP RAW bits, and typed back as 8 digits');
  // The RAW example in the reference facts has odd parity 1 where the data needs 0: no Wiegand reader sends it.
  t.equal(codeOf(() => cardText('12345640', 'wiegand_26')), 'BAD_CARD', 'a frame with a wrong parity bit has no wiegand_26 text');
});

t.test('card formats: raw hex and unknown formats', async (t) => {
  t.equal(toAccessCard('04A1B2C3D4E5F6', 'raw_hex'), '04A1B2C3D4E5F6', 'a 7-byte UID');
  t.equal(toAccessCard('deadbeef', 'raw_hex'), 'DEADBEEF', 'lower case');
  t.equal(codeOf(() => toAccessCard('A', 'raw_hex')), 'BAD_CARD', 'one digit is too short for a card number');
  t.equal(codeOf(() => toAccessCard('A'.repeat(33), 'raw_hex')), 'BAD_CARD', '33 digits are too long');
  t.equal(codeOf(() => toAccessCard('12,34', 'raw_hex')), 'BAD_CARD', 'a comma is not hex');
  t.equal(codeOf(() => toAccessCard('', 'raw_hex')), 'BAD_CARD', 'empty');
  t.equal(cardText('04A1B2C3D4E5F6', 'raw_hex'), '04A1B2C3D4E5F6', 'typed back as is');
  t.equal(codeOf(() => cardText('deadbeef', 'raw_hex')), 'BAD_CARD', 'the simulator takes canonical (upper-case) cards only');
  t.equal(codeOf(() => toAccessCard('1234567890', 'wiegand_34' as WedgeCardFormat)), 'BAD_FORMAT', 'wiegand_34 is not a keyboard-wedge format');
  t.equal(codeOf(() => cardText('499602D2', 'nonsense' as WedgeCardFormat)), 'BAD_FORMAT', 'nor is anything else');
});

// ---- fuzz ----

const FUZZ_SEED = 0x5eed_0035;
/** Usage ids worth hitting: digits, keypad, hex letters, Enter, comma, lock keys, modifiers, error states, anything. */
const INTERESTING = [0, 0, 0, 0x01, 0x04, 0x09, 0x0a, 0x1e, 0x27, 0x28, 0x36, 0x53, 0x58, 0x59, 0x62, 0x63, 0xe1, 0xff];

function randomReport(r: () => number): Uint8Array {
  const p = r();
  if (p < 0.1) return Uint8Array.from({ length: Math.floor(r() * 12) }, () => Math.floor(r() * 256));
  const usage = () => (r() < 0.6 ? INTERESTING[Math.floor(r() * INTERESTING.length)]! : Math.floor(r() * 256));
  const report = keys(r() < 0.8 ? 0 : Math.floor(r() * 256), ...Array.from({ length: Math.floor(r() * 3) }, usage));
  if (r() < 0.05) report[1] = Math.floor(r() * 256);
  return r() < 0.3 ? Uint8Array.of(Math.floor(r() * 256), ...report) : report;
}

/** What a reader types (0–40 characters, so some run past the limit), with reports lost or garbled on the way. */
function readerBurst(r: () => number): Uint8Array[] {
  const text = Array.from({ length: Math.floor(r() * 41) }, () => '0123456789abcdefABCDEF,'[Math.floor(r() * 23)]).join('');
  const style = { repeat: 1 + Math.floor(r() * 3), ...(r() < 0.3 ? { reportId: 1 + Math.floor(r() * 255) } : {}) };
  return keystrokes(text, style).flatMap((report) => (r() < 0.03 ? [] : r() < 0.03 ? [randomReport(r)] : [report]));
}

t.test('fuzz: 150,000 random reports give only reads and FrameErrors, and every read converts or fails with FrameError', async (t) => {
  const r = rng(FUZZ_SEED);
  const N = 150_000;
  const decoder = new KeyboardWedgeDecoder();
  const codes = new Map<string, number>();
  let reads = 0;
  let converted = 0;
  let now = 0;
  let pushed = 0;
  let firstProblem: string | undefined;
  const queue: Uint8Array[] = [];
  for (let n = 0; pushed < N && !firstProblem; n++) {
    if (queue.length === 0) queue.push(...(r() < 0.5 ? readerBurst(r) : [r() < 0.3 ? UP : randomReport(r)]));
    const report = queue.shift()!;
    pushed++;
    // Mostly reader-like spacing, sometimes a pause past the key gap, now and then a clock going nowhere.
    now += r() < 0.01 ? 600 + r() * 2000 : r() < 0.01 ? 0 : r() * 20;
    let items: WedgeDecoded[];
    try {
      items = decoder.push(report, now);
    } catch (err) {
      firstProblem = `report #${n} ${hex(report)} threw ${String(err)}`;
      break;
    }
    for (const item of items) {
      if ('error' in item) {
        if (!(item.error instanceof FrameError)) firstProblem = `report #${n}: an error that is not a FrameError: ${String(item.error)}`;
        codes.set(item.error.code, (codes.get(item.error.code) ?? 0) + 1);
        continue;
      }
      reads++;
      if (!/^[0-9a-f,]{1,32}$/.test(item.card)) firstProblem = `report #${n}: read ${JSON.stringify(item.card)} holds what no key types`;
      for (const format of WEDGE_CARD_FORMATS) {
        try {
          const card = toAccessCard(item.card, format);
          converted++;
          // The event schema's card_number.
          if (!/^[0-9A-F]{2,32}$/.test(card)) firstProblem = `${format} made ${JSON.stringify(card)} of ${item.card}`;
        } catch (err) {
          if (!(err instanceof FrameError)) firstProblem = `toAccessCard(${JSON.stringify(item.card)}, ${format}) threw ${String(err)}`;
        }
      }
    }
  }
  t.equal(firstProblem, undefined, `${pushed} reports: the decoder never throws, errors are FrameErrors, reads are card text`);
  t.ok(reads > 100, `the fuzz completes reads (${reads}), ${converted} of them convert in some format`);
  for (const code of ['BAD_LENGTH', 'BAD_KEY', 'TOO_LONG', 'TIMEOUT']) t.ok((codes.get(code) ?? 0) > 0, `the fuzz reaches ${code} (${codes.get(code) ?? 0} times)`);
});

t.test('fuzz: any card typed by a reader in any style reads back as the same credential', async (t) => {
  const r = rng(FUZZ_SEED + 1);
  const N = 5000;
  let firstProblem: string | undefined;
  const decoder = new KeyboardWedgeDecoder();
  let now = 0;
  for (let n = 0; n < N && !firstProblem; n++) {
    const format = WEDGE_CARD_FORMATS[Math.floor(r() * WEDGE_CARD_FORMATS.length)]!;
    const card =
      format === 'raw_hex'
        ? Array.from({ length: 2 + Math.floor(r() * 31) }, () => '0123456789ABCDEF'[Math.floor(r() * 16)]).join('')
        : format === 'wiegand_26'
          ? toAccessCard(`${Math.floor(r() * 256)},${Math.floor(r() * 65536)}`, format)
          : Math.floor(r() * 2 ** 32).toString(16).padStart(8, '0').toUpperCase();
    const style = { repeat: 1 + Math.floor(r() * 3), ...(r() < 0.5 ? { reportId: 1 + Math.floor(r() * 255) } : {}) };
    const reads = keystrokes(cardText(card, format), style).flatMap((report) => decoder.push(report, (now += 1 + r() * 15)));
    const got = reads.map((item) => ('card' in item ? toAccessCard(item.card, format) : `error ${item.error.code}`));
    if (got.length !== 1 || got[0] !== card) firstProblem = `${card} as ${format} ${JSON.stringify(style)} read back as ${JSON.stringify(got)}`;
  }
  t.equal(firstProblem, undefined, `${N} cards round-trip through cardText → keystrokes → decoder → toAccessCard`);
});
