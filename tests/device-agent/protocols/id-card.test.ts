import t from 'tap';
import { mulberry32 } from '../../helpers/fuzz.js';
import { FrameError } from '../../../device-agent/src/protocols/errors.js';
import {
  decodeCommand,
  decodeFrame,
  decodeReply,
  encodeCommand,
  encodeFrame,
  encodeReadData,
  encodeReply,
  encodeTextBlock,
  ETHNICITIES,
  ID_CARD_MAX_LENGTH,
  IdCardDeframer,
  idNumberChecksumValid,
  parseReadReply,
  parseTextBlock,
  type DeframerEvent,
  type IdCardTextFields,
} from '../../../device-agent/src/protocols/id-card.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const show = (b: Uint8Array) => Buffer.from(b).toString('hex').replace(/(..)(?!$)/g, '$1 ').toUpperCase();

/** Runs fn and returns the FrameError code it threw, 'none' if it returned, or 'NOT_FRAME_ERROR: …'. */
function codeOf(fn: () => unknown): string {
  try {
    fn();
    return 'none';
  } catch (err) {
    if (err instanceof FrameError && err.protocol === 'id-card') return err.code;
    return `NOT_FRAME_ERROR: ${String(err)}`;
  }
}

const DEMO: IdCardTextFields = {
  name: '张伟明',
  sex: 'female', // position 17 of 11010519491231002X is 2: even, so female
  ethnicityCode: '01',
  birthDate: '1949-12-31',
  address: '北京市朝阳区建国路88号院3号楼1201室',
  idNumber: '11010519491231002X',
  issuingAuthority: '北京市公安局朝阳分局',
  validFrom: '2009-06-01',
  validTo: 'long_term',
};
const PHOTO = Buffer.from(Array.from({ length: 1024 }, (_, i) => (i * 37 + 11) & 0xff));
const demoReadReply = () => encodeReply({ status: [0, 0, 0x90], data: encodeReadData(encodeTextBlock(DEMO), PHOTO) });

function framesOf(events: DeframerEvent[]): Buffer[] {
  return events.flatMap((e) => ('frame' in e ? [e.frame] : []));
}
function errorsOf(events: DeframerEvent[]): Array<{ code: string; dropped: number }> {
  return events.flatMap((e) => ('error' in e ? [{ code: e.error.code, dropped: e.dropped }] : []));
}

t.test('the three commands have the documented bytes', async (t) => {
  // LEN = CMD + PARA + CHK = 3; CHK = 00 ^ 03 ^ CMD ^ PARA
  t.equal(show(encodeCommand('find')), 'AA AA AA 96 69 00 03 20 01 22', 'find card: 00^03^20^01 = 22');
  t.equal(show(encodeCommand('select')), 'AA AA AA 96 69 00 03 20 02 21', 'select card: 00^03^20^02 = 21');
  t.equal(show(encodeCommand('read')), 'AA AA AA 96 69 00 03 30 01 32', 'read text+photo: 00^03^30^01 = 32');
  for (const c of ['find', 'select', 'read'] as const) {
    const d = decodeCommand(encodeCommand(c));
    t.equal(d.command, c, `the simulator reads ${c} back`);
    t.equal(d.data.length, 0, `${c} carries no data`);
  }
  const reset = decodeCommand(encodeFrame(Uint8Array.of(0x10, 0xff)));
  t.same([reset.command, reset.cmd, reset.para], [null, 0x10, 0xff], 'an unnamed command (SAM reset 10 FF) decodes with command null');
  t.equal(codeOf(() => encodeCommand('eject' as never)), 'BAD_VALUE', 'an unknown command name is refused with a FrameError');
  t.equal(codeOf(() => decodeCommand(hex('AA AA AA 96 69 00 02 20 02'))), 'BAD_LENGTH', 'a command needs CMD, PARA and the checksum');
});

t.test('status replies encode as the SAM sends them', async (t) => {
  t.equal(show(encodeReply({ status: [0, 0, 0x9f], data: Buffer.alloc(4) })), 'AA AA AA 96 69 00 08 00 00 9F 00 00 00 00 97', 'find success: 00 00 9F + 4 bytes');
  t.equal(show(encodeReply({ status: [0, 0, 0x80] })), 'AA AA AA 96 69 00 04 00 00 80 84', 'no card: 00 00 80');
  t.equal(show(encodeReply({ status: [0, 0, 0x41] })), 'AA AA AA 96 69 00 04 00 00 41 45', 'read failed: 00 00 41 (the bytes seen from real readers)');
  const found = decodeReply(hex('AA AA AA 96 69 00 08 00 00 9F 00 00 00 00 97'));
  t.same([found.status, found.ok, found.statusKey, found.data.length], [[0, 0, 0x9f], true, 'card_found', 4], 'find success decodes as ok');
  const noCard = decodeReply(hex('AA AA AA 96 69 00 04 00 00 80 84'));
  t.same([noCard.ok, noCard.statusKey], [false, 'find_failed'], 'no card is not ok');
  const selectFailed = decodeReply(encodeReply({ status: [0, 0, 0x81] }));
  t.same([selectFailed.ok, selectFailed.statusKey], [false, 'select_failed'], 'select failure is not ok');
  const odd = decodeReply(encodeReply({ status: [0x6a, 0x82, 0x55] }));
  t.same([odd.ok, odd.statusKey, odd.status], [false, 'unknown_55', [0x6a, 0x82, 0x55]], 'an unlisted SW3 is not ok and keeps SW1 SW2');
  t.equal(codeOf(() => encodeReply({ status: [0, 0, 256] })), 'BAD_VALUE', 'a status byte above FF is refused');
});

t.test('a full read of the demo card goes through encode → deframer → parse', async (t) => {
  const frame = demoReadReply();
  t.equal(frame.length, 7 + 0x508, 'the frame is 1295 bytes');
  t.equal(show(frame.subarray(0, 14)), 'AA AA AA 96 69 05 08 00 00 90 01 00 04 00', 'LEN 05 08 = 3 + 4 + 256 + 1024 + 1, then 00 00 90, text 256, photo 1024');

  const deframer = new IdCardDeframer();
  const events: DeframerEvent[] = [];
  for (let i = 0; i < frame.length; i += 61) events.push(...deframer.push(frame.subarray(i, i + 61)));
  t.equal(errorsOf(events).length, 0, 'no errors on a clean stream');
  const frames = framesOf(events);
  t.equal(frames.length, 1, 'one frame out of 22 chunks');
  t.ok(frames[0]!.equals(frame), 'the frame is byte-identical');
  t.equal(deframer.buffered, 0, 'nothing left in the buffer');

  const reply = decodeReply(frames[0]!);
  t.ok(reply.ok, 'the read succeeded');
  const { text, photo } = parseReadReply(reply.data);
  t.same(
    text,
    {
      ...DEMO,
      ethnicity: '汉族',
      idNumberValid: true,
      idNumberConsistent: true,
      cardType: 'resident',
    },
    'every field comes back, padding trimmed, 长期 as long_term',
  );
  t.ok(photo.equals(PHOTO), 'the photo comes back opaque and unchanged');
  t.ok(encodeReply({ status: reply.status, data: reply.data }).equals(frame), 'the decoded reply re-encodes identically');
});

t.test('the text block layout matches the vendor offsets', async (t) => {
  const block = encodeTextBlock(DEMO);
  t.equal(block.length, 256, '256 bytes');
  const at = (o: number, w: number) => block.toString('utf16le', o, o + w);
  t.equal(at(0, 30), '张伟明' + ' '.repeat(12), 'name: bytes 0–29, space-padded');
  t.equal(at(30, 2), '2', 'sex: bytes 30–31');
  t.equal(at(32, 4), '01', 'ethnicity: bytes 32–35');
  t.equal(at(36, 16), '19491231', 'birth date: bytes 36–51');
  t.equal(at(122, 36), '11010519491231002X', 'ID number: bytes 122–157');
  t.equal(at(188, 16), '20090601', 'valid from: bytes 188–203');
  t.equal(at(204, 16), '长期' + ' '.repeat(6), 'valid to: bytes 204–219, the literal 长期');
  t.equal(at(220, 36), ' '.repeat(18), 'reserved bytes 220–255 are spaces');
  t.equal(Object.keys(ETHNICITIES).filter((k) => Number(k) <= 56).length, 56, 'the GB 3304 table has the 56 codes');
  t.equal(ETHNICITIES['05'], '维吾尔族', 'code 05 is 维吾尔族');
});

t.test('the ID number check is reported, not enforced', async (t) => {
  t.ok(idNumberChecksumValid('11010519491231002X'), '11010519491231002X passes GB 11643');
  t.ok(idNumberChecksumValid('440524188001010014'), '440524188001010014 passes GB 11643');
  t.notOk(idNumberChecksumValid('110105194912310021'), 'a wrong check digit fails');
  const text = parseTextBlock(encodeTextBlock({ ...DEMO, idNumber: '110105194912310021' }));
  t.equal(text.idNumberValid, false, 'a failed check is flagged');
  t.equal(text.idNumber, '110105194912310021', 'but the number is returned as read');
  const male = parseTextBlock(encodeTextBlock({ ...DEMO, sex: 'male' }));
  t.same([male.idNumberValid, male.idNumberConsistent], [true, false], 'a sex disagreeing with position 17 is flagged as inconsistent');
  const dated = parseTextBlock(encodeTextBlock({ ...DEMO, validTo: '2029-06-01' }));
  t.equal(dated.validTo, '2029-06-01', 'a dated validity comes back as YYYY-MM-DD');
  const lower = encodeTextBlock(DEMO);
  lower.write('x', 122 + 34, 'utf16le');
  t.equal(parseTextBlock(lower).idNumber, '11010519491231002X', 'a lower-case x check character is normalised');
  const hmt = encodeTextBlock({ ...DEMO, idNumber: '810000199901010012' });
  hmt.write('J', 248, 'utf16le');
  t.equal(parseTextBlock(hmt).cardType, 'hmt_residence_permit', 'the J mark names a Hong Kong/Macao/Taiwan residence permit');
});

t.test('each error code comes from a crafted input', async (t) => {
  const good = encodeReply({ status: [0, 0, 0x90] });
  t.equal(codeOf(() => decodeReply(hex('AA AA AB 96 69 00 04 00 00 90 94'))), 'BAD_HEADER', 'BAD_HEADER: third sync byte wrong');
  t.equal(codeOf(() => decodeReply(hex('00'))), 'BAD_HEADER', 'BAD_HEADER: a single wrong byte');
  t.equal(codeOf(() => decodeReply(hex('AA AA AA 96 69 00 03 00 00 03'))), 'BAD_LENGTH', 'BAD_LENGTH: a reply shorter than SW1 SW2 SW3 CHK');
  t.equal(codeOf(() => decodeReply(Buffer.concat([good, hex('00')]))), 'BAD_LENGTH', 'BAD_LENGTH: a byte after the checksum');
  const badSum = Buffer.from(good);
  badSum[badSum.length - 1]! ^= 0x01;
  t.equal(codeOf(() => decodeReply(badSum)), 'BAD_CHECKSUM', 'BAD_CHECKSUM: last bit of the checksum flipped');
  const badBody = Buffer.from(good);
  badBody[9]! ^= 0x10;
  t.equal(codeOf(() => decodeReply(badBody)), 'BAD_CHECKSUM', 'BAD_CHECKSUM: status byte changed');
  t.equal(codeOf(() => decodeReply(hex(''))), 'TRUNCATED', 'TRUNCATED: nothing');
  t.equal(codeOf(() => decodeReply(hex('AA AA AA 96 69 00'))), 'TRUNCATED', 'TRUNCATED: half a length');
  t.equal(codeOf(() => decodeReply(good.subarray(0, good.length - 1))), 'TRUNCATED', 'TRUNCATED: checksum missing');

  const data = encodeReadData(encodeTextBlock(DEMO), PHOTO);
  t.equal(codeOf(() => parseReadReply(data.subarray(0, 3))), 'TRUNCATED', 'read data: TRUNCATED without both lengths');
  t.equal(codeOf(() => parseReadReply(data.subarray(0, data.length - 1))), 'TRUNCATED', 'read data: TRUNCATED one photo byte short');
  t.equal(codeOf(() => parseReadReply(Buffer.concat([data, hex('00')]))), 'BAD_LENGTH', 'read data: BAD_LENGTH with a stray byte');
  t.equal(codeOf(() => parseReadReply(encodeReadData(Buffer.alloc(200, 0x20), PHOTO))), 'BAD_TEXT', 'read data: BAD_TEXT for a 200-byte text block');

  const text = (patch: (b: Buffer) => void) => {
    const b = encodeTextBlock(DEMO);
    patch(b);
    return codeOf(() => parseTextBlock(b));
  };
  t.equal(codeOf(() => parseTextBlock(Buffer.alloc(255))), 'BAD_TEXT', 'BAD_TEXT: 255 bytes');
  t.equal(text((b) => b.write('19490230', 36, 'utf16le')), 'BAD_TEXT', 'BAD_TEXT: 30 February');
  t.equal(text((b) => b.write('1949123 ', 36, 'utf16le')), 'BAD_TEXT', 'BAD_TEXT: a 7-digit birth date');
  t.equal(text((b) => b.write('20091301', 188, 'utf16le')), 'BAD_TEXT', 'BAD_TEXT: month 13 in valid-from');
  t.equal(text((b) => b.write('长久    ', 204, 'utf16le')), 'BAD_TEXT', 'BAD_TEXT: valid-to neither a date nor 长期');
  t.equal(text((b) => b.write('20090531', 204, 'utf16le')), 'BAD_TEXT', 'BAD_TEXT: valid-to before valid-from');
  t.equal(text((b) => b.write('A', 122, 'utf16le')), 'BAD_TEXT', 'BAD_TEXT: a letter in the ID number');
  t.equal(text((b) => b.write('  ', 154, 'utf16le')), 'BAD_TEXT', 'BAD_TEXT: a 16-character ID number');
  t.equal(text((b) => b.write('3', 30, 'utf16le')), 'BAD_TEXT', 'BAD_TEXT: sex code 3');
  t.equal(text((b) => b.write('0A', 32, 'utf16le')), 'BAD_TEXT', 'BAD_TEXT: a letter in the ethnicity code');
  t.equal(text((b) => b.write(' '.repeat(15), 0, 'utf16le')), 'BAD_TEXT', 'BAD_TEXT: empty name');
  t.equal(text((b) => b.writeUInt16LE(0x0007, 2)), 'BAD_TEXT', 'BAD_TEXT: a control character in the name');
  t.equal(text((b) => b.writeUInt16LE(0xd800, 2)), 'BAD_TEXT', 'BAD_TEXT: a lone surrogate in the name');
  t.equal(text((b) => b.write('I', 248, 'utf16le')), 'BAD_TEXT', 'BAD_TEXT: a foreign permanent resident card (other layout)');
  t.equal(codeOf(() => encodeTextBlock({ ...DEMO, name: '张'.repeat(16) })), 'BAD_TEXT', 'encoding: a 16-character name does not fit');
  t.equal(codeOf(() => encodeTextBlock({ ...DEMO, birthDate: '1949-02-29' })), 'BAD_TEXT', 'encoding: 29 February 1949 is refused');
  const ethnicityUnknown = parseTextBlock(encodeTextBlock({ ...DEMO, ethnicityCode: '77' }));
  t.equal(ethnicityUnknown.ethnicity, null, 'an ethnicity code outside GB 3304 parses with ethnicity null');
});

t.test('the deframer copes with chunk boundaries, garbage and false preambles', async (t) => {
  const a = encodeCommand('find');
  const b = encodeReply({ status: [0, 0, 0x9f], data: Buffer.alloc(4) });
  const c = demoReadReply();
  const stream = Buffer.concat([a, b, c]);

  let allSplitsOk = true;
  for (let i = 0; i <= stream.length; i++) {
    for (const j of [i, i + 1, i + 7, i + 300]) {
      if (j > stream.length) continue;
      const d = new IdCardDeframer();
      const ev = [...d.push(stream.subarray(0, i)), ...d.push(stream.subarray(i, j)), ...d.push(stream.subarray(j))];
      const fr = framesOf(ev);
      if (errorsOf(ev).length || fr.length !== 3 || !fr[0]!.equals(a) || !fr[1]!.equals(b) || !fr[2]!.equals(c) || d.buffered !== 0) allSplitsOk = false;
    }
  }
  t.ok(allSplitsOk, 'three frames come out whole and in order at every split into three chunks');

  const oneByOne = new IdCardDeframer();
  const bytewise = [...stream].flatMap((x) => oneByOne.push(Uint8Array.of(x)));
  t.equal(framesOf(bytewise).length, 3, 'byte-at-a-time delivery yields the three frames');

  const g = new IdCardDeframer();
  const ev = g.push(Buffer.concat([hex('01 02 AA AA'), a, hex('FF AA AA AA 96'), b]));
  t.same(framesOf(ev).map(show), [show(a), show(b)], 'garbage before and between frames is skipped');
  t.same(errorsOf(ev), [{ code: 'BAD_HEADER', dropped: 4 }, { code: 'BAD_HEADER', dropped: 5 }], 'the skipped bytes are reported with their counts');

  // A false preamble whose length swallows the real frame: its checksum fails and the real frame is found inside.
  const f = new IdCardDeframer();
  const fev = f.push(Buffer.concat([hex('AA AA AA 96 69 00 0A 00'), a]));
  t.same(framesOf(fev).map(show), [show(a)], 'the frame hidden behind a false preamble is recovered');
  t.same(errorsOf(fev), [{ code: 'BAD_CHECKSUM', dropped: 5 }, { code: 'BAD_HEADER', dropped: 3 }], 'the false preamble is dropped as BAD_CHECKSUM, its tail as BAD_HEADER');

  const l = new IdCardDeframer();
  const lev = l.push(Buffer.concat([hex('AA AA AA 96 69 FF FF'), b]));
  t.same(errorsOf(lev)[0], { code: 'BAD_LENGTH', dropped: 5 }, 'a length above the ceiling is BAD_LENGTH at once, without waiting for 64 KiB');
  t.same(framesOf(lev).map(show), [show(b)], 'and the next frame still comes out');
  const z = new IdCardDeframer();
  t.same(errorsOf(z.push(hex('AA AA AA 96 69 00 02 00 00'))), [{ code: 'BAD_LENGTH', dropped: 5 }, { code: 'BAD_HEADER', dropped: 4 }], 'a length below 3 is BAD_LENGTH');

  const p = new IdCardDeframer();
  t.same(errorsOf(p.push(hex('00 AA AA AA 96'))), [{ code: 'BAD_HEADER', dropped: 1 }], 'the byte before a partial preamble is dropped');
  t.equal(p.buffered, 4, 'the four preamble bytes wait for the fifth');
  t.same(framesOf(p.push(a.subarray(4))).map(show), [show(a)], 'and complete the frame');

  const cap = new IdCardDeframer();
  const noise = Buffer.alloc(1 << 20, 0x55);
  cap.push(noise);
  t.ok(cap.buffered <= 4, `1 MiB of noise leaves at most 4 bytes buffered (${cap.buffered})`);
  const stall = new IdCardDeframer();
  const header = Buffer.from([0xaa, 0xaa, 0xaa, 0x96, 0x69, ID_CARD_MAX_LENGTH >> 8, ID_CARD_MAX_LENGTH & 0xff]);
  stall.push(Buffer.concat([header, Buffer.alloc(ID_CARD_MAX_LENGTH - 1)]));
  t.equal(stall.buffered, 7 + ID_CARD_MAX_LENGTH - 1, 'a frame of the largest length waits one byte short of complete');
  const ev2 = stall.push(Buffer.alloc(1));
  t.equal(errorsOf(ev2)[0]?.code, 'BAD_CHECKSUM', 'then fails its checksum');
  t.ok(stall.buffered < 7 + ID_CARD_MAX_LENGTH, `and the buffer stays below a frame (${stall.buffered})`);
  const fl = new IdCardDeframer();
  fl.push(c.subarray(0, 100));
  t.same(errorsOf(fl.flush()), [{ code: 'TRUNCATED', dropped: 100 }], 'flush reports the unfinished frame as TRUNCATED');
  t.equal(fl.buffered, 0, 'and empties the buffer');
});

// ---------------------------------------------------------------------------------------------------------
// Fuzz

/** Random draws for the fuzz test, from a seeded generator. */
function prng(seed: number) {
  const next = mulberry32(seed);
  const int = (n: number) => Math.floor(next() * n);
  const bytes = (n: number) => {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = int(256);
    return b;
  };
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  return { next, int, bytes, pick };
}

const SEED = 0x1dca4d;
const HAN = '张王李赵刘陈杨黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐伟明华芳娜敏静丽强磊军洋勇艳杰娟涛超秀英省市区县路街号楼室村镇乡公安局分派出所北京上海广州深圳朝阳海淀浦东天河福田·';
const pad2 = (n: number) => String(n).padStart(2, '0');

function randomDate(r: ReturnType<typeof prng>, from: number, to: number): string {
  const y = from + r.int(to - from + 1);
  const m = 1 + r.int(12);
  const days = [31, (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]!;
  return `${y}-${pad2(m)}-${pad2(1 + r.int(days))}`;
}

function randomFields(r: ReturnType<typeof prng>): IdCardTextFields {
  const text = (min: number, max: number) => Array.from({ length: min + r.int(max - min + 1) }, () => r.pick([...HAN, ...'0123456789'])).join('');
  const birthDate = randomDate(r, 1900, 2024);
  const sex = r.next() < 0.5 ? 'male' : 'female';
  const body = `${String(110000 + r.int(550000))}${birthDate.replaceAll('-', '')}${pad2(r.int(100))}${(r.int(5) * 2 + (sex === 'male' ? 1 : 0)) % 10}`;
  const weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const sum = [...body].reduce((acc, ch, i) => acc + Number(ch) * weights[i]!, 0);
  const validFrom = randomDate(r, 2004, 2030);
  const codes = Object.keys(ETHNICITIES);
  return {
    name: text(1, 15),
    sex,
    ethnicityCode: r.next() < 0.9 ? r.pick(codes) : pad2(r.int(100)),
    birthDate,
    address: text(0, 35),
    idNumber: body + '10X98765432'[sum % 11],
    issuingAuthority: text(0, 15),
    validFrom,
    validTo: r.next() < 0.3 ? 'long_term' : `${Number(validFrom.slice(0, 4)) + r.pick([5, 10, 20])}${validFrom.slice(4)}`.replace(/-02-29$/, '-02-28'),
  };
}

t.test('fuzz: ≥ 100,000 generated inputs, only FrameError escapes, frames re-encode identically', async (t) => {
  const r = prng(SEED);
  const started = Date.now();
  let inputs = 0;
  const strays: string[] = [];
  const stray = (what: string, detail: string) => {
    if (strays.length < 5) strays.push(`${what}: ${detail}`);
  };
  const onlyFrameErrors = (what: string, input: Uint8Array, fn: () => unknown): boolean => {
    const code = codeOf(fn);
    if (code.startsWith('NOT_FRAME_ERROR')) stray(what, `${code} on ${show(input.subarray(0, 40))}`);
    return code === 'none';
  };

  const corpus: Buffer[] = [
    encodeCommand('find'),
    encodeCommand('select'),
    encodeCommand('read'),
    encodeReply({ status: [0, 0, 0x9f], data: Buffer.alloc(4) }),
    encodeReply({ status: [0, 0, 0x90], data: Buffer.alloc(8) }),
    encodeReply({ status: [0, 0, 0x80] }),
    encodeReply({ status: [0, 0, 0x41] }),
    demoReadReply(),
  ];
  const withChecksumFixed = (b: Buffer) => {
    if (b.length >= 8 && b.subarray(0, 5).equals(corpus[0]!.subarray(0, 5))) {
      let x = 0;
      for (let i = 5; i < b.length - 1; i++) x ^= b[i]!;
      b[b.length - 1] = x;
    }
    return b;
  };
  const decodeAll = (what: string, b: Buffer) => {
    onlyFrameErrors(`${what} decodeFrame`, b, () => decodeFrame(b));
    onlyFrameErrors(`${what} decodeCommand`, b, () => decodeCommand(b));
    let reply: ReturnType<typeof decodeReply> | undefined;
    if (onlyFrameErrors(`${what} decodeReply`, b, () => (reply = decodeReply(b))) && reply) {
      const data = reply.data;
      onlyFrameErrors(`${what} parseReadReply`, data, () => parseReadReply(data));
    }
  };

  // 1. random bytes, half of them behind a preamble with a plausible length and a correct checksum
  for (let i = 0; i < 40_000; i++, inputs++) {
    let b = r.bytes(r.int(48));
    if (r.next() < 0.5) {
      const body = r.bytes(r.int(40));
      b = Buffer.concat([hex('AA AA AA 96 69'), Buffer.from([0, body.length + 1]), body, Buffer.alloc(1)]);
      if (r.next() < 0.8) withChecksumFixed(b);
    }
    decodeAll('random', b);
  }

  // 2. mutated valid frames: bit flips, byte changes, cuts, insertions, splices; checksum often repaired
  for (let i = 0; i < 30_000; i++, inputs++) {
    let b = Buffer.from(r.pick(corpus));
    const n = 1 + r.int(4);
    for (let k = 0; k < n; k++) {
      const at = r.int(b.length + 1);
      switch (r.int(6)) {
        case 0:
          if (b.length) b[at % b.length]! ^= 1 << r.int(8);
          break;
        case 1:
          if (b.length) b[at % b.length] = r.int(256);
          break;
        case 2:
          b = b.subarray(0, at);
          break;
        case 3:
          b = Buffer.concat([b.subarray(0, at), r.bytes(1 + r.int(8)), b.subarray(at)]);
          break;
        case 4:
          b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + r.int(16)))]);
          break;
        default:
          // aim at the text block of the read reply (offset 14 … 269)
          if (b.length > 270) b[14 + r.int(256)] = r.int(256);
      }
    }
    if (r.next() < 0.6) withChecksumFixed(b);
    decodeAll('mutated', b);
  }

  // 3. text blocks: random valid fields round-trip; random and mutated blocks only throw FrameError
  let roundTripFailures = 0;
  for (let i = 0; i < 20_000; i++, inputs++) {
    if (i % 2 === 0) {
      const fields = randomFields(r);
      let parsed: ReturnType<typeof parseTextBlock> | undefined;
      const code = codeOf(() => (parsed = parseTextBlock(encodeTextBlock(fields))));
      const expected = JSON.stringify({ ...fields, idNumberValid: true, idNumberConsistent: true });
      const p = parsed;
      const got = p
        ? JSON.stringify({
            ...Object.fromEntries(Object.keys(fields).map((k) => [k, p[k as keyof IdCardTextFields]])),
            idNumberValid: p.idNumberValid,
            idNumberConsistent: p.idNumberConsistent,
          })
        : code;
      if (got !== expected) {
        roundTripFailures++;
        stray('text round trip', `${expected} → ${got}`);
      }
    } else {
      const kind = r.int(3);
      let b: Buffer;
      if (kind === 0) b = r.bytes(256);
      else if (kind === 1) b = r.bytes(r.int(300));
      else {
        b = encodeTextBlock(randomFields(r));
        for (let k = 1 + r.int(3); k > 0; k--) b[r.int(256)] = r.pick([0x20, 0x00, 0x30 + r.int(10), r.int(256)]);
      }
      onlyFrameErrors('parseTextBlock', b, () => parseTextBlock(b));
    }
  }

  // 4. streams: frames (valid or junk) and garbage, cut at random points
  let reencodeFailures = 0;
  let lostFrames = 0;
  let accountingFailures = 0;
  let deframerThrows = 0;
  for (let i = 0; i < 12_000; i++, inputs++) {
    const clean = r.next() < 0.5; // clean garbage holds no 96 byte, so no false preamble can appear
    const parts: Buffer[] = [];
    const sent: Buffer[] = [];
    for (let k = 1 + r.int(5); k > 0; k--) {
      const roll = r.next();
      if (roll < 0.45) {
        const f = r.next() < 0.1 ? corpus[7]! : corpus[r.int(7)]!;
        parts.push(f);
        sent.push(f);
      } else if (roll < 0.6) {
        const f = encodeFrame(r.bytes(2 + r.int(30)));
        parts.push(f);
        sent.push(f);
      } else {
        const g = r.bytes(r.int(24));
        if (clean) for (let j = 0; j < g.length; j++) if (g[j] === 0x96) g[j] = 0x97;
        parts.push(g);
      }
    }
    const stream = Buffer.concat(parts);
    const d = new IdCardDeframer();
    const events: DeframerEvent[] = [];
    try {
      for (let at = 0; at < stream.length; ) {
        const size = r.next() < 0.3 ? 1 + r.int(4) : 1 + r.int(400);
        events.push(...d.push(stream.subarray(at, at + size)));
        at += size;
      }
    } catch (err) {
      deframerThrows++;
      stray('deframer', String(err));
      continue;
    }
    let accounted = d.buffered;
    const frames: Buffer[] = [];
    for (const e of events) {
      if ('frame' in e) {
        frames.push(e.frame);
        accounted += e.frame.length;
        const same = encodeFrame(decodeFrame(e.frame).payload).equals(e.frame);
        let reply: ReturnType<typeof decodeReply> | undefined;
        codeOf(() => (reply = decodeReply(e.frame)));
        const sameReply = !reply || encodeReply({ status: reply.status, data: reply.data }).equals(e.frame);
        let cmd: ReturnType<typeof decodeCommand> | undefined;
        codeOf(() => (cmd = decodeCommand(e.frame)));
        const sameCmd = !cmd || !cmd.command || cmd.data.length > 0 || encodeCommand(cmd.command).equals(e.frame);
        if (!same || !sameReply || !sameCmd) {
          reencodeFailures++;
          stray('re-encode', show(e.frame.subarray(0, 40)));
        }
      } else {
        accounted += e.dropped;
        if (!(e.error instanceof FrameError)) stray('deframer event', 'error is not a FrameError');
      }
    }
    if (accounted !== stream.length) {
      accountingFailures++;
      stray('accounting', `${accounted} of ${stream.length} bytes`);
    }
    if (clean && (frames.length !== sent.length || frames.some((f, j) => !f.equals(sent[j]!)))) {
      lostFrames++;
      stray('clean stream', `${frames.length} of ${sent.length} frames`);
    }
  }

  const ms = Date.now() - started;
  t.ok(inputs >= 100_000, `${inputs} inputs generated (seed ${SEED})`);
  t.same(strays, [], 'nothing but FrameError escaped a decoder or parser, and no invariant broke');
  t.equal(roundTripFailures, 0, 'every random valid text block round-trips');
  t.equal(deframerThrows, 0, 'the deframer never threw');
  t.equal(reencodeFailures, 0, 'every emitted frame re-encodes identically');
  t.equal(accountingFailures, 0, 'every pushed byte is in a frame, a dropped count or the buffer');
  t.equal(lostFrames, 0, 'with garbage that cannot fake a preamble, every frame comes out, in order');
  t.ok(ms < 10_000, `the fuzz ran in ${ms} ms`);
});
