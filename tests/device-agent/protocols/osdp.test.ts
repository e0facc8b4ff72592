import t from 'tap';
import { mulberry32 } from '../../helpers/fuzz.js';
import { FrameError } from '../../../device-agent/src/protocols/errors.js';
import {
  OSDP_CMD,
  OSDP_ERROR_CODES,
  OSDP_LED_COLOR,
  OSDP_NAK,
  OSDP_OUT_CONTROL,
  OSDP_RAW_FORMAT,
  OSDP_REPLY,
  OsdpDeframer,
  ack,
  buzzer,
  capRequest,
  checksum8,
  crc16Aug,
  decodeFrame,
  encodeFrame,
  idRequest,
  inputStatus,
  inputStatusRequest,
  keypad,
  led,
  nak,
  output,
  parseInputStatus,
  parseKeypad,
  parseNak,
  parseOutput,
  parseRawCard,
  poll,
  rawCard,
  type DeframerItem,
  type OsdpFrameInput,
} from '../../../device-agent/src/protocols/osdp.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const POLL_VECTOR = hex('53 00 08 00 05 60 DA 99');
const ID_VECTOR = hex('ff 53 65 09 00 04 61 00 d9 7a');
const RAW_VECTOR = hex('ff 53 e5 10 00 07 50 00 01 1a 00 12 34 56 40 2a 88');

/** the FrameError code `fn` throws, or a description of what happened instead */
function codeOf(fn: () => unknown): string {
  try {
    fn();
    return 'no error';
  } catch (error) {
    return error instanceof FrameError && error.protocol === 'osdp' ? error.code : `foreign error: ${String(error)}`;
  }
}

const frames = (items: DeframerItem[]) => items.flatMap((i) => ('frame' in i ? [i.bytes.toString('hex')] : []));
const errors = (items: DeframerItem[]) => items.flatMap((i) => ('error' in i ? [i.error.code] : []));
const droppedOf = (items: DeframerItem[]) => items.reduce((n, i) => n + ('dropped' in i ? i.dropped : 0), 0);

t.test('check values', async (t) => {
  t.equal(crc16Aug(Buffer.from('123456789')), 0xe5cc, 'CRC-16/AUG-CCITT check value is 0xE5CC');
  t.equal(crc16Aug(Buffer.alloc(0)), 0x1d0f, 'the CRC of nothing is the initial value 0x1D0F');
  const bytes = hex('53 00 07 00 01 60');
  t.equal(checksum8(bytes), 0x45, 'checksum is the two’s complement of the byte sum (0x100 − 0xBB)');
  t.equal((bytes.reduce((a, b) => a + b, 0) + checksum8(bytes)) & 0xff, 0, 'bytes plus checksum sum to 0 mod 256');
  t.equal(checksum8(Buffer.alloc(3)), 0, 'the checksum of zeros is 0, not 0x100');
});

t.test('POLL to address 0, sequence 1, with CRC is the reference vector', async (t) => {
  t.same(encodeFrame({ address: 0, sequence: 1, ...poll() }), POLL_VECTOR, 'encodes to 53 00 08 00 05 60 DA 99');
  t.same(
    decodeFrame(POLL_VECTOR),
    { address: 0, reply: false, sequence: 1, useCrc: true, secure: false, mark: false, code: OSDP_CMD.POLL, data: Buffer.alloc(0) },
    'decodes to a POLL command with no data',
  );
});

t.test('the reference exchange decodes to the documented fields and re-encodes byte for byte', async (t) => {
  const id = decodeFrame(ID_VECTOR);
  t.same(
    id,
    { address: 0x65, reply: false, sequence: 0, useCrc: true, secure: false, mark: true, code: OSDP_CMD.ID, data: hex('00') },
    'ID command to 0x65, sequence 0, standard reply requested',
  );
  t.same(encodeFrame({ address: 0x65, sequence: 0, mark: true, ...idRequest() }), ID_VECTOR, 'idRequest() builds the same ID frame');
  t.same(encodeFrame(id), ID_VECTOR, 'the decoded ID re-encodes identically, mark included');

  const raw = decodeFrame(RAW_VECTOR);
  t.match(raw, { address: 0x65, reply: true, sequence: 3, useCrc: true, secure: false, mark: true, code: OSDP_REPLY.RAW }, 'RAW reply from 0x65');
  t.same(
    parseRawCard(raw.data),
    { reader: 0, format: OSDP_RAW_FORMAT.WIEGAND, bitCount: 26, data: hex('12 34 56 40') },
    'reader 0, raw Wiegand, 26 bits, data 12 34 56 40',
  );
  t.same(encodeFrame(raw), RAW_VECTOR, 'the decoded RAW reply re-encodes identically');
  t.same(
    encodeFrame({ address: 0x65, sequence: 3, reply: true, mark: true, ...rawCard({ reader: 0, format: 1, bits: 26, data: hex('12345640') }) }),
    RAW_VECTOR,
    'rawCard() builds the same RAW reply',
  );

  const bare = decodeFrame(ID_VECTOR.subarray(1));
  t.equal(bare.mark, false, 'without the mark byte the frame still decodes, reporting no mark');
  t.same(encodeFrame(bare), ID_VECTOR.subarray(1), 'and re-encodes without it');
});

t.test('checksum mode round trip', async (t) => {
  const bytes = encodeFrame({ address: 0, sequence: 1, useCrc: false, ...poll() });
  t.same(bytes, hex('53 00 07 00 01 60 45'), 'POLL in checksum mode is 7 bytes ending in the checksum 0x45');
  const input: OsdpFrameInput = { address: 0x12, sequence: 2, useCrc: false, mark: true, ...output({ outputNo: 0, controlCode: 5, timerMs: 3000 }) };
  const frame = decodeFrame(encodeFrame(input));
  t.match(frame, { address: 0x12, sequence: 2, useCrc: false, mark: true, code: OSDP_CMD.OUT }, 'fields survive');
  t.same(encodeFrame(frame), encodeFrame(input), 're-encodes identically');
});

t.test('secure-channel framing round trip (no crypto)', async (t) => {
  const withMac = encodeFrame({
    address: 1,
    sequence: 2,
    code: OSDP_CMD.POLL,
    securityBlock: { type: 0x15 },
    mac: hex('01020304'),
  });
  const frame = decodeFrame(withMac);
  t.match(frame, { secure: true, code: OSDP_CMD.POLL, securityBlock: { type: 0x15 } }, 'SCS_15 block is read');
  t.same(frame.mac, hex('01020304'), 'the 4-byte MAC before the CRC is separated from the data');
  t.same(frame.data, Buffer.alloc(0), 'POLL has no data');
  t.same(encodeFrame(frame), withMac, 're-encodes identically');

  const handshake = encodeFrame({ address: 1, sequence: 1, code: 0x76, data: hex('0011223344556677'), securityBlock: { type: 0x11, data: hex('01') } });
  const h = decodeFrame(handshake);
  t.equal(h.mac, undefined, 'SCS_11 carries no MAC');
  t.same(h.securityBlock, { type: 0x11, data: hex('01') }, 'the block data is returned');
  t.same(encodeFrame(h), handshake, 'handshake frame re-encodes identically');
});

t.test('every error code is produced by a crafted input', async (t) => {
  const crcFrame = encodeFrame({ address: 5, sequence: 1, code: OSDP_CMD.ID, data: hex('00') });
  const sumFrame = encodeFrame({ address: 5, sequence: 1, useCrc: false, code: OSDP_CMD.ID, data: hex('00') });
  const flip = (b: Buffer, at: number, mask = 0x01) => {
    const c = Buffer.from(b);
    c[at]! ^= mask;
    return c;
  };
  const withLen = (b: Buffer, len: number) => {
    const c = Buffer.from(b);
    c.writeUInt16LE(len, 2);
    return c;
  };
  // LEN says 10 (CRC, secure → min 10), the block claims 3 bytes: 5 + 3 + code + CRC = 11 > 10
  const badBlock = Buffer.from([0x53, 0x01, 10, 0, 0x0c, 3, 0x11, 0x60]);
  const badBlockFrame = Buffer.concat([badBlock, Buffer.alloc(2)]);
  badBlockFrame.writeUInt16LE(crc16Aug(badBlock), 8);

  const cases: Record<(typeof OSDP_ERROR_CODES)[number], Array<[string, () => unknown]>> = {
    TRUNCATED: [
      ['empty input', () => decodeFrame(Buffer.alloc(0))],
      ['only the mark', () => decodeFrame(hex('ff'))],
      ['half a header', () => decodeFrame(crcFrame.subarray(0, 3))],
      ['one byte short of LEN', () => decodeFrame(crcFrame.subarray(0, -1))],
      ['NAK without reason', () => parseNak(Buffer.alloc(0))],
      ['RAW shorter than its header', () => parseRawCard(hex('000100'))],
      ['KEYPAD shorter than its header', () => parseKeypad(hex('00'))],
      ['ISTATR without any input', () => parseInputStatus(Buffer.alloc(0))],
    ],
    BAD_SOM: [
      ['first byte not 0x53', () => decodeFrame(flip(crcFrame, 0, 0x80))],
      ['two mark bytes', () => decodeFrame(Buffer.concat([hex('ffff'), crcFrame]))],
    ],
    BAD_CONTROL: [['reserved CTRL bit', () => decodeFrame(flip(crcFrame, 4, 0x40))]],
    BAD_LENGTH: [
      ['LEN below the minimum for CRC', () => decodeFrame(withLen(crcFrame, 7))],
      ['LEN 0', () => decodeFrame(withLen(crcFrame, 0))],
    ],
    TRAILING_BYTES: [['a byte after the packet', () => decodeFrame(Buffer.concat([crcFrame, hex('00')]))]],
    BAD_CRC: [['a flipped data bit', () => decodeFrame(flip(crcFrame, 6))]],
    BAD_CHECKSUM: [['a flipped data bit in checksum mode', () => decodeFrame(flip(sumFrame, 6))]],
    BAD_ADDRESS: [
      ['another PD’s address', () => decodeFrame(crcFrame, { address: 6 })],
      ['a command where a reply is expected', () => decodeFrame(crcFrame, { address: 5, reply: true })],
    ],
    BAD_SECURITY_BLOCK: [['block longer than the packet allows', () => decodeFrame(badBlockFrame)]],
    BAD_BIT_COUNT: [
      ['26 bits in 3 bytes', () => parseRawCard(hex('0001 1a00 123456'))],
      ['8 bits in 2 bytes', () => parseRawCard(hex('0001 0800 1234'))],
      ['0 bits', () => parseRawCard(hex('0001 0000'))],
      ['building 26 bits from 5 bytes', () => rawCard({ reader: 0, format: 1, bits: 26, data: Buffer.alloc(5) })],
    ],
    BAD_FIELD: [
      ['address 0x80', () => encodeFrame({ address: 0x80, sequence: 0, code: 0x60 })],
      ['sequence 4', () => encodeFrame({ address: 0, sequence: 4, code: 0x60 })],
      ['code 256', () => encodeFrame({ address: 0, sequence: 0, code: 256 })],
      ['SCS_15 without MAC', () => encodeFrame({ address: 0, sequence: 0, code: 0x60, securityBlock: { type: 0x15 } })],
      ['MAC without SCS_15–18', () => encodeFrame({ address: 0, sequence: 0, code: 0x60, mac: Buffer.alloc(4) })],
      ['packet over 65535 bytes', () => encodeFrame({ address: 0, sequence: 0, code: 0x60, data: Buffer.alloc(0xffff) })],
      ['negative OUT timer', () => output({ outputNo: 0, controlCode: 5, timerMs: -1 })],
      ['OUT timer over 6553.5 s', () => output({ outputNo: 0, controlCode: 5, timerMs: 6_553_600 })],
      ['OUT data not in 4-byte records', () => parseOutput(hex('000500'))],
      ['KEYPAD count mismatch', () => parseKeypad(hex('00 03 3132'))],
      ['buzzer on time over 25.5 s', () => buzzer({ onMs: 25_600, offMs: 0, count: 1 })],
      ['NAK reason 256', () => nak(256)],
      ['ISTATR input status 0x02', () => parseInputStatus(hex('00 02'))],
      ['ISTATR input status 0xFF', () => parseInputStatus(hex('ff'))],
      ['building ISTATR for no inputs', () => inputStatus([])],
    ],
  };
  for (const code of OSDP_ERROR_CODES) {
    t.ok(cases[code].length > 0, `${code} has a crafted input`);
    for (const [what, fn] of cases[code]) t.equal(codeOf(fn), code, `${what} → ${code}`);
  }
  t.equal(codeOf(() => decodeFrame(crcFrame, { address: 5, reply: false })), 'no error', 'the right address and direction pass');
  t.equal(codeOf(() => decodeFrame(encodeFrame({ address: 0x7f, sequence: 0, ...poll() }), { address: 5 })), 'no error', 'broadcast passes any address filter');
});

t.test('command builders', async (t) => {
  t.same(capRequest(), { code: 0x62, data: hex('00') }, 'CAP asks for the standard reply');
  t.same(
    output({ outputNo: 1, controlCode: OSDP_OUT_CONTROL.TEMPORARY_ON, timerMs: 5000 }),
    { code: 0x68, data: hex('01 05 32 00') },
    'OUT: output 1, temporary on, 5 s = 50 × 100 ms LSB first',
  );
  t.same(output({ outputNo: 0, controlCode: 5, timerMs: 40 }).data, hex('00 05 01 00'), 'a 40 ms pulse rounds up to 100 ms, never to 0 (= permanent)');
  t.same(
    parseOutput(output({ outputNo: 0, controlCode: 2 }, { outputNo: 3, controlCode: 5, timerMs: 70_000 }).data),
    [{ outputNo: 0, controlCode: 2, timerMs: 0 }, { outputNo: 3, controlCode: 5, timerMs: 70_000 }],
    'several OUT records round-trip, 70 s = 700 units needs the MSB',
  );
  t.same(
    led({ color: OSDP_LED_COLOR.GREEN, timerMs: 3000, ledNo: 1 }),
    { code: 0x69, data: hex('00 01  02 01 00 02 00 1e 00  00 00 00 00 00') },
    'temporary steady green for 3 s, permanent state untouched',
  );
  t.same(
    led({ color: OSDP_LED_COLOR.RED, flash: { onMs: 500, offMs: 500 } }).data,
    hex('00 00  00 00 00 00 00 00 00  01 05 05 01 00'),
    'permanent red flashing 0.5 s on / 0.5 s off, temporary state untouched',
  );
  t.same(buzzer({ onMs: 200, offMs: 100, count: 3 }), { code: 0x6a, data: hex('00 02 02 01 03') }, 'BUZ: default tone, 3 beeps');
});

t.test('reply builders and parsers', async (t) => {
  t.same(ack(), { code: 0x40, data: Buffer.alloc(0) }, 'ACK has no data');
  t.same(nak(OSDP_NAK.SEQUENCE), { code: 0x41, data: hex('04') }, 'sequence NAK is 41 04');
  t.equal(parseNak(hex('04 ff')), OSDP_NAK.SEQUENCE, 'parseNak reads the reason and ignores detail bytes');
  const k = keypad({ reader: 0, keys: '12*#' });
  t.same(k, { code: OSDP_REPLY.KEYPAD, data: hex('00 04 31 32 7f 0d') }, 'KEYPAD maps * to 0x7F and # to 0x0D');
  t.same(parseKeypad(k.data), { reader: 0, keys: hex('31327f0d'), text: '12*#' }, 'and parses back');
  t.same(parseRawCard(rawCard({ reader: 1, format: 0, bits: 8, data: hex('aa') }).data), { reader: 1, format: 0, bitCount: 8, data: hex('aa') }, '8-bit card in 1 byte');
  const istatr = inputStatus([true, false, false, true]);
  t.same(istatr, { code: 0x49, data: hex('01 00 00 01') }, 'ISTATR is one byte per input, 0x01 active');
  t.same(parseInputStatus(istatr.data), [true, false, false, true], 'and parses back in input order');
  t.same(parseInputStatus(hex('00')), [false], 'a single inactive input');
});

t.test('input status exchange', async (t) => {
  const request = encodeFrame({ address: 0x65, sequence: 2, ...inputStatusRequest() });
  t.same(request.subarray(0, -2), hex('53 65 08 00 06 65'), 'ISTAT is command 0x65 with no data: 8 bytes with the CRC');
  t.same(decodeFrame(request), { address: 0x65, reply: false, sequence: 2, useCrc: true, secure: false, mark: false, code: OSDP_CMD.ISTAT, data: Buffer.alloc(0) }, 'and decodes as such');
  const reply = decodeFrame(encodeFrame({ address: 0x65, sequence: 2, reply: true, ...inputStatus([false, true]) }), { address: 0x65, reply: true });
  t.equal(reply.code, OSDP_REPLY.ISTATR, 'the reply is ISTATR');
  t.same(parseInputStatus(reply.data), [false, true], 'carrying both inputs');
});

t.test('deframer', async (t) => {
  const a = encodeFrame({ address: 0x65, sequence: 1, ...poll() });
  const b = RAW_VECTOR;
  const c = encodeFrame({ address: 3, sequence: 2, useCrc: false, ...output({ outputNo: 0, controlCode: 5, timerMs: 3000 }) });
  const stream = Buffer.concat([a, b, c]);

  t.test('frames split across every chunk boundary', async (t) => {
    let failures = 0;
    for (let cut1 = 0; cut1 <= stream.length; cut1++) {
      for (let cut2 = cut1; cut2 <= stream.length; cut2++) {
        const d = new OsdpDeframer();
        const items = [stream.subarray(0, cut1), stream.subarray(cut1, cut2), stream.subarray(cut2)].flatMap((p) => d.push(p));
        if (frames(items).join() !== [a, b, c].map((f) => f.toString('hex')).join() || errors(items).length || d.buffered) failures++;
      }
    }
    t.equal(failures, 0, 'every two-cut split yields the three frames, no errors, nothing left over');
    const d = new OsdpDeframer();
    const items = [...stream].flatMap((byte) => d.push(Buffer.from([byte])));
    t.same(frames(items), [a, b, c].map((f) => f.toString('hex')), 'one byte at a time yields the three frames');
  });

  t.test('garbage between frames is skipped and counted', async (t) => {
    const d = new OsdpDeframer();
    const items = d.push(Buffer.concat([hex('00 01 02'), a, hex('ff ff 99'), b, hex('ff 00'), c, hex('ff')]));
    t.same(frames(items), [a, b, c].map((f) => f.toString('hex')), 'all three frames come out, b with its mark');
    t.same(errors(items), ['BAD_SOM', 'BAD_SOM', 'BAD_SOM'], 'three runs of garbage are reported');
    t.equal(droppedOf(items), 3 + 3 + 2, 'garbage bytes dropped: 00 01 02, ff ff 99 (b’s own mark is kept), ff 00');
    t.equal(d.buffered, 1, 'a trailing ff is kept as a possible mark');
    t.same(frames(d.push(a)), [`ff${a.toString('hex')}`], 'and becomes the mark of the next frame');
  });

  t.test('a bad-CRC frame followed by a good one', async (t) => {
    const broken = Buffer.from(b);
    broken[8]! ^= 0x10;
    const d = new OsdpDeframer();
    const items = d.push(Buffer.concat([broken, a]));
    t.same(errors(items).slice(0, 1), ['BAD_CRC'], 'the bad frame is reported as BAD_CRC');
    t.same(frames(items), [a.toString('hex')], 'the good frame still comes out');
    t.equal(droppedOf(items), broken.length, 'every byte of the bad frame is accounted as dropped');
    t.equal(d.buffered, 0, 'nothing left over');
  });

  t.test('a corrupted LEN does not swallow the next frame', async (t) => {
    const long = Buffer.from(c);
    long.writeUInt16LE(0x4000, 2);
    const d = new OsdpDeframer();
    const items = d.push(Buffer.concat([long, a]));
    t.equal(errors(items)[0], 'BAD_LENGTH', 'LEN above maxFrameLength is refused from the header alone');
    t.same(frames(items), [a.toString('hex')], 'the next frame comes out at once');
  });

  t.test('packets for another address are skipped whole', async (t) => {
    const d = new OsdpDeframer({ address: 0x65, reply: true });
    const other = encodeFrame({ address: 0x66, sequence: 3, reply: true, ...ack() });
    const items = d.push(Buffer.concat([other, b]));
    t.same(errors(items), ['BAD_ADDRESS'], 'reported once');
    t.same(items[0] && 'dropped' in items[0] ? items[0].dropped : -1, other.length, 'the whole packet is dropped');
    t.same(frames(items), [b.toString('hex')], 'our reply comes out');
  });

  t.test('the buffer is capped', async (t) => {
    const d = new OsdpDeframer({ maxBuffer: 64 });
    const header = hex('53 01 00 01 04'); // claims LEN 256
    t.same(errors(d.push(header)), ['BAD_LENGTH', 'BAD_SOM'], 'a LEN that cannot fit the buffer is refused at once, the rest is garbage');
    let maxBuffered = 0;
    let accounted = header.length;
    const noise = Buffer.alloc(1 << 16);
    for (let i = 0; i < noise.length; i++) noise[i] = i % 3 === 0 ? 0x53 : 0x01; // SOMs with bad headers
    for (let i = 0; i < noise.length; i += 4096) {
      const items = d.push(noise.subarray(i, i + 4096));
      accounted += droppedOf(items);
      maxBuffered = Math.max(maxBuffered, d.buffered);
    }
    t.ok(maxBuffered <= 64, `64 KiB of noise never makes it hold more than the 64-byte cap (max ${maxBuffered})`);
    t.equal(accounted + d.buffered, header.length + noise.length, 'every byte pushed is dropped or still buffered');
    const big = new OsdpDeframer({ maxBuffer: 4096, maxFrameLength: 100_000 });
    const items = big.push(Buffer.concat([Buffer.alloc(50_000, 0x00), a]));
    t.same(frames(items), [a.toString('hex')], 'a chunk far larger than the cap is fed through in slices');
    t.equal(droppedOf(items), 50_000, 'and its garbage counted');
  });
});

// ------------------------------------------------------------------------------------------------- fuzz

/** Random draws for the fuzz test, from a seeded generator. */
function prng(seed: number) {
  const next = mulberry32(seed);
  const int = (n: number) => Math.floor(next() * n);
  const bytes = (n: number) => {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = int(256);
    return b;
  };
  return { next, int, bytes };
}

const FUZZ_SEED = Number(process.env.OSDP_FUZZ_SEED ?? 0x05d9);
const FUZZ_INPUTS = 100_000;

t.test(`fuzz: ${FUZZ_INPUTS} generated inputs, seed ${FUZZ_SEED} (set OSDP_FUZZ_SEED to replay another)`, async (t) => {
  const r = prng(FUZZ_SEED);
  const codes = [...Object.values(OSDP_CMD), ...Object.values(OSDP_REPLY), r.int(256)];

  const validFrame = (): Buffer => {
    const reply = r.int(2) === 1;
    const input: OsdpFrameInput = {
      address: r.int(128),
      sequence: r.int(4),
      reply,
      useCrc: r.int(4) !== 0,
      mark: r.int(2) === 1,
      code: codes[r.int(codes.length)]!,
      data: r.bytes(r.int(4) === 0 ? r.int(64) : r.int(10)),
    };
    if (r.int(8) === 0) {
      const type = 0x11 + r.int(8);
      input.securityBlock = { type, data: r.bytes(r.int(3)) };
      if (type >= 0x15) input.mac = r.bytes(4);
    }
    return encodeFrame(input);
  };

  const mutate = (frame: Buffer): Buffer => {
    let b = Buffer.from(frame);
    for (let n = 1 + r.int(3); n > 0; n--) {
      switch (r.int(6)) {
        case 0: // bit flip
          if (b.length) b[r.int(b.length)]! ^= 1 << r.int(8);
          break;
        case 1: // truncation
          b = b.subarray(0, r.int(b.length + 1));
          break;
        case 2: {
          // insertion
          const at = r.int(b.length + 1);
          b = Buffer.concat([b.subarray(0, at), r.bytes(1 + r.int(3)), b.subarray(at)]);
          break;
        }
        case 3: {
          // deletion
          const at = r.int(b.length + 1);
          b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + r.int(2))]);
          break;
        }
        case 4: {
          // length field corruption (LEN sits after SOM and ADDR, after the mark if any)
          const at = (b[0] === 0xff ? 1 : 0) + 2 + r.int(2);
          if (at < b.length) b[at] = r.int(4) === 0 ? r.int(256) : (b[at]! + r.int(5) - 2) & 0xff;
          break;
        }
        default: // CTRL corruption
          {
            const at = (b[0] === 0xff ? 1 : 0) + 4;
            if (at < b.length) b[at]! ^= 1 << r.int(8);
          }
          break;
      }
    }
    return b;
  };

  /** an input, and whether it must decode */
  /** arbitrary header fields and body under a correct LEN and CRC/checksum: reaches the checks after integrity */
  const sealed = (): Buffer => {
    const b = r.bytes(6 + r.int(24));
    b[0] = 0x53;
    b[4]! &= 0x0f;
    if (r.int(2)) b[5] = r.int(4); // tiny security block lengths
    const crc = (b[4]! & 0x04) !== 0;
    const packet = Buffer.concat([b, Buffer.alloc(crc ? 2 : 1)]);
    packet.writeUInt16LE(packet.length, 2);
    if (crc) packet.writeUInt16LE(crc16Aug(b.subarray(0, b.length)), b.length);
    else packet[b.length] = checksum8(packet.subarray(0, b.length));
    return r.int(2) ? Buffer.concat([Buffer.from([0xff]), packet]) : packet;
  };

  const generate = (): [Buffer, boolean] => {
    switch (r.int(6)) {
      case 5:
        return [sealed(), false];
      case 0:
        return [validFrame(), true];
      case 1:
        return [r.bytes(r.int(48)), false]; // random bytes
      case 2: {
        const b = r.bytes(5 + r.int(40)); // random bytes with a plausible header
        b[0] = 0x53;
        b.writeUInt16LE(r.int(4) === 0 ? b.length : r.int(64), 2);
        b[4] &= 0x0f;
        return [r.int(2) ? Buffer.concat([Buffer.from([0xff]), b]) : b, false];
      }
      default:
        return [mutate(validFrame()), false];
    }
  };

  const problems: string[] = [];
  const problem = (i: number, what: string, input: Buffer) => {
    if (problems.length < 5) problems.push(`input #${i} (seed ${FUZZ_SEED}): ${what}: ${input.toString('hex')}`);
  };
  let decoded = 0;
  let deframed = 0;
  const started = performance.now();

  for (let i = 0; i < FUZZ_INPUTS; i++) {
    const [input, mustDecode] = generate();

    // decodeFrame: a FrameError or a frame that re-encodes to exactly the input
    try {
      const frame = decodeFrame(input);
      decoded++;
      if (!encodeFrame(frame).equals(input)) problem(i, 'decoded frame re-encodes differently', input);
    } catch (error) {
      if (!(error instanceof FrameError)) problem(i, `decodeFrame threw ${String(error)}`, input);
      else if (mustDecode) problem(i, `a valid frame was refused (${error.code})`, input);
    }

    // parsers on arbitrary data: a FrameError or a result
    for (const parse of [parseRawCard, parseKeypad, parseNak, parseOutput, parseInputStatus]) {
      try {
        parse(input.subarray(r.int(3)));
      } catch (error) {
        if (!(error instanceof FrameError)) problem(i, `${parse.name} threw ${String(error)}`, input);
      }
    }

    // ISTATR data: bytes 0/1 round-trip through the builder; one other byte makes a FrameError
    const status = Buffer.from(Array.from({ length: r.int(17) }, () => r.int(2)));
    const validStatus = status.length > 0 && r.int(4) !== 0;
    if (!validStatus && status.length) status[r.int(status.length)] = 2 + r.int(254);
    try {
      const states = parseInputStatus(status);
      if (!validStatus) problem(i, 'an invalid ISTATR was accepted', status);
      else if (!inputStatus(states).data.equals(status)) problem(i, 'ISTATR does not round-trip', status);
    } catch (error) {
      if (!(error instanceof FrameError)) problem(i, `parseInputStatus threw ${String(error)}`, status);
      else if (validStatus) problem(i, `a valid ISTATR was refused (${error.code})`, status);
    }

    // deframer: a stream of this input among valid frames, in random chunks, compared with one whole push
    if (i % 4 === 0) {
      const stream = Buffer.concat([validFrame(), input, r.int(2) ? validFrame() : r.bytes(r.int(8)), input, validFrame()]);
      try {
        const whole = new OsdpDeframer({ maxFrameLength: 256 });
        const all = whole.push(stream);
        const chunked = new OsdpDeframer({ maxFrameLength: 256, maxBuffer: r.int(2) ? 1024 : 300 });
        const pieces: DeframerItem[] = [];
        for (let at = 0; at < stream.length; ) {
          const size = 1 + r.int(r.int(2) ? 4 : 40);
          pieces.push(...chunked.push(stream.subarray(at, at + size)));
          at += size;
        }
        for (const item of [...all, ...pieces]) {
          if ('frame' in item) {
            deframed++;
            if (!encodeFrame(item.frame).equals(item.bytes)) problem(i, 'deframed frame re-encodes differently', item.bytes);
          } else if (!(item.error instanceof FrameError) || item.dropped <= 0) {
            problem(i, 'deframer error item without a FrameError or a dropped count', stream);
          }
        }
        const emitted = (items: DeframerItem[]) => items.reduce((n, it) => n + ('frame' in it ? it.bytes.length : it.dropped), 0);
        if (emitted(all) + whole.buffered !== stream.length) problem(i, 'deframer lost or invented bytes', stream);
        if (frames(all).join() !== frames(pieces).join()) problem(i, 'chunking changed the frames', stream);
        if (emitted(pieces) + chunked.buffered !== stream.length) problem(i, 'chunked deframer lost or invented bytes', stream);
      } catch (error) {
        problem(i, `deframer threw ${String(error)}`, stream);
      }
    }
  }

  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  t.same(problems, [], `no property broke over ${FUZZ_INPUTS} inputs in ${seconds} s`);
  t.ok(decoded > FUZZ_INPUTS / 6, `a fair share of inputs decoded, so re-encoding was exercised (${decoded})`);
  t.ok(deframed > 25_000, `the deframer emitted plenty of frames (${deframed})`);
});
