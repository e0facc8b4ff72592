import t from 'tap';
import { frameErrorCode, mulberry32 as rng } from '../../helpers/fuzz.js';
import { FrameError } from '../../../device-agent/src/protocols/errors.js';
import {
  MdcCmd,
  MdcDeframer,
  MdcInput,
  MdcNakError,
  decodeCommand,
  decodeReply,
  encodeCommand,
  encodeReply,
  encodeStatus,
  expectAck,
  getInputSource,
  getMute,
  getPower,
  getStatus,
  getVolume,
  inputName,
  inputSource,
  mute,
  parseInputSource,
  parseMute,
  parsePower,
  parseStatus,
  parseVolume,
  power,
  volume,
  type MdcCommand,
  type MdcDeframed,
  type MdcDirection,
  type MdcReply,
} from '../../../device-agent/src/protocols/mdc.js';

const bytes = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const hex = (b: Uint8Array): string => [...b].map((n) => n.toString(16).padStart(2, '0')).join(' ');
const concat = (parts: Uint8Array[]): Uint8Array => Uint8Array.from(Buffer.concat(parts));

/** The checksum as the protocol document defines it, independently of the module: sum after 0xAA. */
function withChecksum(s: string): Uint8Array {
  const body = bytes(s);
  const sum = body.subarray(1).reduce((acc, b) => acc + b, 0) & 0xff;
  return concat([body, Uint8Array.of(sum)]);
}

const codeOf = (fn: () => unknown) => frameErrorCode('mdc', fn);

const plain = (c: MdcCommand) => ({ cmd: c.cmd, id: c.id, data: hex(c.data) });
const plainReply = (r: MdcReply) => ({ id: r.id, ack: r.ack, rcmd: r.rcmd, data: hex(r.data) });

function frameBytes<D extends MdcDirection>(direction: D, item: { frame: D extends 'command' ? MdcCommand : MdcReply }): Uint8Array {
  return direction === 'command' ? encodeCommand(item.frame as MdcCommand) : encodeReply(item.frame as MdcReply);
}
const framesOf = <D extends MdcDirection>(items: Array<MdcDeframed<D>>) =>
  items.flatMap((item) => ('frame' in item ? [item.frame] : []));
const droppedOf = <D extends MdcDirection>(items: Array<MdcDeframed<D>>) =>
  concat(items.flatMap((item) => ('dropped' in item ? [item.dropped] : [])));
/** What the deframer emitted, turned back into bytes: frames re-encoded, dropped bytes as they were. */
const reassemble = <D extends MdcDirection>(direction: D, items: Array<MdcDeframed<D>>) =>
  concat(items.map((item) => ('frame' in item ? frameBytes(direction, item) : item.dropped)));

function deframeInChunks<D extends MdcDirection>(deframer: MdcDeframer<D>, stream: Uint8Array, cuts: number[]): Array<MdcDeframed<D>> {
  const out: Array<MdcDeframed<D>> = [];
  let at = 0;
  for (const cut of [...cuts, stream.length]) {
    out.push(...deframer.push(stream.subarray(at, cut)));
    at = cut;
  }
  out.push(...deframer.flush());
  return out;
}

t.test('the documented power-on vector encodes and decodes', async (t) => {
  t.equal(hex(power(0, true)), 'aa 11 00 01 01 13', 'power on to id 0 is AA 11 00 01 01 13');
  t.equal(hex(encodeCommand({ cmd: 0x11, id: 0, data: [1] })), 'aa 11 00 01 01 13', 'encodeCommand gives the same bytes');
  t.same(plain(decodeCommand(bytes('AA 11 00 01 01 13'))), { cmd: 0x11, id: 0, data: '01' }, 'and they decode to power, id 0, data 01');
  t.equal(hex(withChecksum('aa 11 00 01 01')), 'aa 11 00 01 01 13', 'the test checksum agrees with the documented vector');
});

t.test('every builder produces the documented layout and round-trips', async (t) => {
  const cases: Array<[string, Uint8Array, number, number, string]> = [
    ['getStatus(0)', getStatus(0), MdcCmd.STATUS, 0, ''],
    ['getPower(1)', getPower(1), 0x11, 1, ''],
    ['power(1, false)', power(1, false), 0x11, 1, '00'],
    ['power(0xfe, true)', power(0xfe, true), 0x11, 0xfe, '01'],
    ['getVolume(2)', getVolume(2), 0x12, 2, ''],
    ['volume(2, 0)', volume(2, 0), 0x12, 2, '00'],
    ['volume(2, 50)', volume(2, 50), 0x12, 2, '32'],
    ['volume(2, 100)', volume(2, 100), 0x12, 2, '64'],
    ['getMute(3)', getMute(3), 0x13, 3, ''],
    ['mute(3, true)', mute(3, true), 0x13, 3, '01'],
    ['mute(3, false)', mute(3, false), 0x13, 3, '00'],
    ['getInputSource(4)', getInputSource(4), 0x14, 4, ''],
    ["inputSource(4, 'HDMI1')", inputSource(4, 'HDMI1'), 0x14, 4, '21'],
    ["inputSource(4, 'HDMI2')", inputSource(4, 'HDMI2'), 0x14, 4, '23'],
    ["inputSource(4, 'DISPLAYPORT')", inputSource(4, 'DISPLAYPORT'), 0x14, 4, '25'],
    ["inputSource(4, 'DVI')", inputSource(4, 'DVI'), 0x14, 4, '18'],
    ["inputSource(4, 'PC')", inputSource(4, 'PC'), 0x14, 4, '14'],
    ['inputSource(4, 0x61)', inputSource(4, 0x61), 0x14, 4, '61'],
  ];
  for (const [name, frame, cmd, id, data] of cases) {
    const expected = withChecksum(`aa ${cmd.toString(16).padStart(2, '0')} ${id.toString(16).padStart(2, '0')} ${(data.length / 2).toString(16).padStart(2, '0')} ${data}`);
    t.equal(hex(frame), hex(expected), `${name} is ${hex(expected)}`);
    t.same(plain(decodeCommand(frame)), { cmd, id, data: hex(bytes(data)) }, `${name} decodes to its command, id and data`);
  }
  t.equal(hex(volume(1, 50)), 'aa 12 01 01 32 46', 'volume 50 to id 1 is AA 12 01 01 32 46');
  t.equal(hex(getStatus(0)), 'aa 00 00 00 00', 'a status get is AA 00 00 00 00');
  t.equal(inputName(0x21), 'HDMI1', 'code 0x21 is named HDMI1');
  t.equal(inputName(0x99), undefined, 'an unlisted code has no name');
  t.equal(MdcInput.DISPLAYPORT, 0x25, 'DisplayPort is 0x25');
  const long = Array.from({ length: 255 }, (_, i) => i);
  t.same(plain(decodeCommand(encodeCommand({ cmd: 0x70, id: 9, data: long }))).data, hex(Uint8Array.from(long)), 'a command with 255 data bytes round-trips');
});

t.test('the encoders refuse what cannot be sent', async (t) => {
  t.equal(codeOf(() => volume(0, 101)), 'BAD_VALUE', 'volume 101 is refused');
  t.equal(codeOf(() => volume(0, -1)), 'BAD_VALUE', 'volume -1 is refused');
  t.equal(codeOf(() => volume(0, 12.5)), 'BAD_VALUE', 'a fractional volume is refused');
  t.equal(codeOf(() => power(256, true)), 'BAD_VALUE', 'id 256 is refused');
  t.equal(codeOf(() => encodeCommand({ cmd: 0xff, id: 0 })), 'BAD_VALUE', 'command 0xFF (the reply mark) is refused');
  t.equal(codeOf(() => encodeCommand({ cmd: 0x11, id: 0, data: [300] })), 'BAD_VALUE', 'a data value above 255 is refused');
  t.equal(codeOf(() => encodeCommand({ cmd: 0x11, id: 0, data: new Uint8Array(256) })), 'BAD_LENGTH', '256 data bytes are refused');
  t.equal(codeOf(() => inputSource(0, 'VGA' as 'PC')), 'BAD_VALUE', 'an unknown input name is refused');
  t.equal(codeOf(() => inputSource(0, 0x100)), 'BAD_VALUE', 'an input code above 255 is refused');
  t.equal(codeOf(() => encodeReply({ id: 0, ack: false, rcmd: 0x11, data: [] })), 'BAD_LENGTH', 'a NAK without an error code is refused');
  t.equal(codeOf(() => encodeReply({ id: 0, ack: true, rcmd: 0x11, data: new Uint8Array(254) })), 'BAD_LENGTH', 'an ack with 254 data bytes does not fit');
  t.equal(codeOf(() => encodeStatus({ power: true, volume: 101, mute: false, input: 0x21, aspect: 0, nTimeNF: 0, fTimeNF: 0 })), 'BAD_VALUE', 'a status with volume 101 is refused');
});

t.test('replies encode, decode and are interpreted', async (t) => {
  const ackPower = encodeReply({ id: 0, ack: true, rcmd: 0x11, data: [1] });
  t.equal(hex(ackPower), 'aa ff 00 03 41 11 01 55', "the ack to power on is AA FF 00 03 'A' 11 01 55");
  t.equal(hex(ackPower), hex(withChecksum('aa ff 00 03 41 11 01')), 'its checksum is the sum after AA');
  const reply = decodeReply(ackPower);
  t.same(plainReply(reply), { id: 0, ack: true, rcmd: 0x11, data: '01' }, 'it decodes to an ack for power with data 01');
  t.equal(parsePower(expectAck(reply, MdcCmd.POWER)), true, 'and reads as power on');

  t.equal(parseVolume(expectAck(decodeReply(encodeReply({ id: 5, ack: true, rcmd: 0x12, data: [42] })), 0x12)), 42, 'a volume ack reads as its level');
  t.equal(parseMute(expectAck(decodeReply(encodeReply({ id: 5, ack: true, rcmd: 0x13, data: [0] })), 0x13)), false, 'a mute ack reads as a flag');
  t.equal(parseInputSource(expectAck(decodeReply(encodeReply({ id: 5, ack: true, rcmd: 0x14, data: [0x25] })), 0x14)), MdcInput.DISPLAYPORT, 'an input ack reads as its code');

  const status = { power: true, volume: 30, mute: false, input: MdcInput.HDMI1, aspect: 0x10, nTimeNF: 0, fTimeNF: 1 };
  const statusAck = encodeReply({ id: 7, ack: true, rcmd: MdcCmd.STATUS, data: encodeStatus(status) });
  t.equal(hex(statusAck), hex(withChecksum('aa ff 07 09 41 00 01 1e 00 21 10 00 01')), 'a status ack carries power, volume, mute, input, aspect and both timer bytes');
  t.same(parseStatus(expectAck(decodeReply(statusAck), MdcCmd.STATUS)), status, 'and parses back to the same status');

  const nak = bytes('aa ff 00 03 4e 11 01 62');
  t.equal(hex(encodeReply({ id: 0, ack: false, rcmd: 0x11, data: [1] })), hex(nak), "a NAK is AA FF id 03 'N' rcmd error chk");
  const nakReply = decodeReply(nak);
  t.same(plainReply(nakReply), { id: 0, ack: false, rcmd: 0x11, data: '01' }, 'decodeReply returns a NAK as ack false with the error byte');
  try {
    expectAck(nakReply, 0x11);
    t.fail('expectAck throws on a NAK');
  } catch (err) {
    t.ok(err instanceof MdcNakError, 'expectAck throws an MdcNakError');
    t.ok(err instanceof FrameError, 'which is a FrameError');
    t.equal((err as MdcNakError).code, 'NAK', 'with code NAK');
    t.equal((err as MdcNakError).errorCode, 1, 'carrying the error code byte');
    t.equal((err as MdcNakError).rcmd, 0x11, 'and the refused command');
  }
  t.equal(codeOf(() => expectAck(reply, MdcCmd.VOLUME)), 'WRONG_REPLY', 'an ack to power is not taken for a volume answer');
});

t.test('each decode and parse error has its code', async (t) => {
  const commands: Array<[Uint8Array, string, string]> = [
    [bytes(''), 'TRUNCATED', 'no bytes'],
    [bytes('ab 11 00 01 01 13'), 'BAD_HEADER', 'a header other than AA'],
    [withChecksum('aa ff 00 03 41 11 01'), 'BAD_HEADER', 'a reply given as a command'],
    [bytes('aa 11 00'), 'TRUNCATED', 'a header cut short'],
    [bytes('aa 11 00 01 01'), 'TRUNCATED', 'a command without its checksum'],
    [bytes('aa 11 00 01 01 13 00'), 'BAD_LENGTH', 'a byte more than the length says'],
    [bytes('aa 11 00 01 01 14'), 'BAD_CHECKSUM', 'a checksum off by one'],
  ];
  for (const [input, code, what] of commands) {
    t.equal(codeOf(() => decodeCommand(input)), code, `decodeCommand: ${what} (${hex(input) || 'empty'}) fails ${code}`);
  }
  const replies: Array<[Uint8Array, string, string]> = [
    [bytes(''), 'TRUNCATED', 'no bytes'],
    [bytes('aa 11 00 01 01 13'), 'BAD_HEADER', 'a command given as a reply'],
    [bytes('aa ff 00 03 41'), 'TRUNCATED', 'a reply cut short'],
    [bytes('aa ff 00 03 41 11 01 56'), 'BAD_CHECKSUM', 'a bad checksum'],
    [withChecksum('aa ff 00 01 41'), 'BAD_LENGTH', 'a length too short for ack and command bytes'],
    [withChecksum('aa ff 00 03 42 11 01'), 'BAD_ACK', "an ack byte neither 'A' nor 'N'"],
    [withChecksum('aa ff 00 02 4e 11'), 'BAD_LENGTH', 'a NAK without an error code'],
    [withChecksum('aa ff 00 04 4e 11 01 02'), 'BAD_LENGTH', 'a NAK with two error bytes'],
  ];
  for (const [input, code, what] of replies) {
    t.equal(codeOf(() => decodeReply(input)), code, `decodeReply: ${what} (${hex(input) || 'empty'}) fails ${code}`);
  }
  t.equal(codeOf(() => parseStatus(bytes('01 1e 00 21 10 00'))), 'BAD_LENGTH', 'a status of 6 bytes fails BAD_LENGTH');
  t.equal(codeOf(() => parseStatus(bytes('02 1e 00 21 10 00 00'))), 'BAD_VALUE', 'a status with power 2 fails BAD_VALUE');
  t.equal(codeOf(() => parseStatus(bytes('01 65 00 21 10 00 00'))), 'BAD_VALUE', 'a status with volume 101 fails BAD_VALUE');
  t.equal(codeOf(() => parsePower(bytes(''))), 'BAD_LENGTH', 'an empty power ack fails BAD_LENGTH');
  t.equal(codeOf(() => parseVolume(bytes('c8'))), 'BAD_VALUE', 'volume 200 fails BAD_VALUE');
  t.equal(codeOf(() => parseMute(bytes('00 00'))), 'BAD_LENGTH', 'a two-byte mute ack fails BAD_LENGTH');
  t.equal(codeOf(() => parseInputSource(bytes(''))), 'BAD_LENGTH', 'an empty input ack fails BAD_LENGTH');
});

t.test('the deframer splits a stream at any chunk boundary, in both directions', async (t) => {
  const commands = [power(0, true), getStatus(1), volume(2, 77), inputSource(3, 'HDMI2')];
  const stream = concat(commands);
  const expected = commands.map((c) => plain(decodeCommand(c)));
  t.same(framesOf(new MdcDeframer('command').push(stream)).map(plain), expected, 'one chunk gives the four commands');
  const byByte = new MdcDeframer('command');
  const items = [...stream].flatMap((b) => byByte.push(Uint8Array.of(b)));
  t.equal(items.length, 4, 'byte by byte gives four items');
  t.same(framesOf(items).map(plain), expected, 'the same four commands');
  let bad = 0;
  for (let a = 0; a <= stream.length; a++) {
    for (let b = a; b <= stream.length; b++) {
      const out = deframeInChunks(new MdcDeframer('command'), stream, [a, b]);
      if (JSON.stringify(out.map((item) => ('frame' in item ? plain(item.frame) : 'error'))) !== JSON.stringify(expected)) bad++;
    }
  }
  t.equal(bad, 0, 'every way of cutting the stream in three gives exactly the four commands');

  const replies = [
    encodeReply({ id: 0, ack: true, rcmd: 0x11, data: [1] }),
    encodeReply({ id: 1, ack: false, rcmd: 0x12, data: [3] }),
    encodeReply({ id: 1, ack: true, rcmd: 0x00, data: encodeStatus({ power: false, volume: 0, mute: true, input: 0x14, aspect: 1, nTimeNF: 0, fTimeNF: 0 }) }),
  ];
  const replyDeframer = new MdcDeframer('reply');
  const got = [...concat(replies)].flatMap((b) => replyDeframer.push(Uint8Array.of(b)));
  t.same(
    framesOf(got).map(plainReply),
    replies.map((r) => plainReply(decodeReply(r))),
    'a reply deframer fed byte by byte gives the ack, the NAK and the status',
  );
  const held = new MdcDeframer('reply');
  t.same(held.push(replies[0]!.subarray(0, 5)), [], 'part of a reply emits nothing');
  t.equal(held.buffered, 5, 'and is held back');
  t.same(framesOf(held.push(replies[0]!.subarray(5))).map(plainReply), [plainReply(decodeReply(replies[0]!))], 'the rest completes it');
  t.equal(held.buffered, 0, 'and nothing is held back afterwards');
});

t.test('the deframer drops garbage and resynchronises at the next AA', async (t) => {
  const out = new MdcDeframer('reply').push(concat([bytes('00 13 37'), encodeReply({ id: 0, ack: true, rcmd: 0x11, data: [0] }), bytes('55')]));
  t.equal(out.length, 3, 'garbage, reply, garbage');
  t.equal(out[0] && 'error' in out[0] ? out[0].error.code : '', 'BAD_HEADER', 'leading garbage is BAD_HEADER');
  t.equal(out[0] && 'dropped' in out[0] ? hex(out[0].dropped) : '', '00 13 37', 'reported in one piece');
  t.same(out[1] && 'frame' in out[1] ? plainReply(out[1].frame) : undefined, { id: 0, ack: true, rcmd: 0x11, data: '00' }, 'then the reply');
  t.equal(out[2] && 'dropped' in out[2] ? hex(out[2].dropped) : '', '55', 'then the trailing byte, at the end of the push');

  // A stray AA whose length byte swallows the real reply: its checksum fails and the reply inside is found.
  const real = encodeReply({ id: 3, ack: true, rcmd: 0x12, data: [9] });
  const hidden = new MdcDeframer('reply').push(concat([bytes('aa ff 03 06'), real]));
  t.equal(hidden.length, 2, 'a corrupted frame, then the frame hidden in it');
  t.equal(hidden[0] && 'error' in hidden[0] ? hidden[0].error.code : '', 'BAD_CHECKSUM', 'the stray frame fails BAD_CHECKSUM');
  t.equal(hidden[0] && 'dropped' in hidden[0] ? hex(hidden[0].dropped) : '', 'aa ff 03 06', 'only the bytes before the real frame are dropped');
  t.same(hidden[1] && 'frame' in hidden[1] ? plainReply(hidden[1].frame) : undefined, plainReply(decodeReply(real)), 'the real reply is found');

  const crossed = new MdcDeframer('command').push(concat([encodeReply({ id: 0, ack: true, rcmd: 0x11, data: [1] }), power(0, false)]));
  t.equal(crossed[0] && 'error' in crossed[0] ? crossed[0].error.code : '', 'BAD_HEADER', 'a command deframer drops a reply as BAD_HEADER');
  t.same(framesOf(crossed).map(plain), [plain(decodeCommand(power(0, false)))], 'and still finds the command after it');
  const crossedBack = new MdcDeframer('reply').push(power(0, true));
  t.equal(framesOf(crossedBack).length, 0, 'a reply deframer emits no frame for a command');

  const capped = new MdcDeframer('reply', { maxDataLength: 8 });
  const capOut = capped.push(concat([bytes('aa ff 00 40'), encodeReply({ id: 0, ack: true, rcmd: 0x11, data: [1] })]));
  t.equal(capOut[0] && 'error' in capOut[0] ? capOut[0].error.code : '', 'BAD_LENGTH', 'a frame declaring more than the cap is dropped as BAD_LENGTH at once');
  t.equal(framesOf(capOut).length, 1, 'and the reply after it is found without waiting for 64 bytes');
  t.equal(framesOf(new MdcDeframer('reply', { maxDataLength: 8 }).push(encodeReply({ id: 0, ack: true, rcmd: 0, data: new Uint8Array(7) }))).length, 0, 'the cap counts the ack and command bytes, as the length byte does');

  const ended = new MdcDeframer('reply');
  t.same(ended.push(bytes('aa ff 00 03 41')), [], 'a partial reply is held');
  const flushed = ended.flush();
  t.equal(flushed.length, 1, 'flushing reports it');
  t.equal(flushed[0] && 'error' in flushed[0] ? flushed[0].error.code : '', 'TRUNCATED', 'as TRUNCATED');
  t.equal(flushed[0] && 'dropped' in flushed[0] ? hex(flushed[0].dropped) : '', 'aa ff 00 03 41', 'with all its bytes');
  t.equal(ended.buffered, 0, 'and the deframer is empty after a flush');
  t.same(new MdcDeframer('reply').push(new Uint8Array(0)), [], 'an empty chunk emits nothing');
});

// ---- fuzz ----

const FUZZ_SEED = 0x5eed_00dc;

function randomData(r: () => number, max: number): number[] {
  const n = r() < 0.02 ? Math.floor(r() * (max + 1)) : Math.floor(r() * Math.min(max, 8) + (r() < 0.5 ? 0 : 1));
  return Array.from({ length: Math.min(n, max) }, () => Math.floor(r() * 256));
}

function randomCommand(r: () => number): Uint8Array {
  const p = r();
  const id = r() < 0.5 ? Math.floor(r() * 4) : Math.floor(r() * 256);
  if (p < 0.5) {
    const builders = [
      () => getStatus(id),
      () => getPower(id),
      () => power(id, r() < 0.5),
      () => getVolume(id),
      () => volume(id, Math.floor(r() * 101)),
      () => getMute(id),
      () => mute(id, r() < 0.5),
      () => getInputSource(id),
      () => inputSource(id, Math.floor(r() * 256)),
    ];
    return builders[Math.floor(r() * builders.length)]!();
  }
  return encodeCommand({ cmd: Math.floor(r() * 255), id, data: randomData(r, 255) });
}

function randomReply(r: () => number): Uint8Array {
  const id = Math.floor(r() * 256);
  const rcmd = r() < 0.5 ? [0x00, 0x11, 0x12, 0x13, 0x14][Math.floor(r() * 5)]! : Math.floor(r() * 256);
  if (r() < 0.2) return encodeReply({ id, ack: false, rcmd, data: [Math.floor(r() * 256)] });
  return encodeReply({ id, ack: true, rcmd, data: randomData(r, 253) });
}

function randomBytes(r: () => number, n: number, avoidHeader = false): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    // Skew towards the interesting bytes: header, reply mark, ack/NAK, small lengths.
    const p = r();
    let b = p < 0.1 ? 0xaa : p < 0.15 ? 0xff : p < 0.2 ? (r() < 0.5 ? 0x41 : 0x4e) : p < 0.4 ? Math.floor(r() * 8) : Math.floor(r() * 256);
    if (avoidHeader && b === 0xaa) b = 0xab;
    out[i] = b;
  }
  return out;
}

function mutate(r: () => number, frame: Uint8Array): Uint8Array {
  const f = Uint8Array.from(frame);
  switch (Math.floor(r() * 6)) {
    case 0:
      f[Math.floor(r() * f.length)]! ^= 1 << Math.floor(r() * 8);
      return f;
    case 1:
      f[Math.floor(r() * f.length)] = Math.floor(r() * 256);
      return f;
    case 2:
      return f.slice(0, Math.floor(r() * f.length));
    case 3:
      return concat([f, randomBytes(r, 1 + Math.floor(r() * 3))]);
    case 4: {
      // change a byte after the header and fix the checksum, so the checks after it are reached
      const at = 1 + Math.floor(r() * (f.length - 2));
      if (at !== 3) f[at] = Math.floor(r() * 256);
      f[f.length - 1] = f.subarray(1, f.length - 1).reduce((a, b) => a + b, 0) & 0xff;
      return f;
    }
    default: {
      // change the length byte and fix the checksum
      f[3] = Math.floor(r() * 8);
      f[f.length - 1] = f.subarray(1, f.length - 1).reduce((a, b) => a + b, 0) & 0xff;
      return f;
    }
  }
}

const PARSERS: Array<(data: Uint8Array) => unknown> = [parseStatus, parsePower, parseVolume, parseMute, parseInputSource];

t.test('fuzz: decoders and parsers throw only FrameError, and what they accept re-encodes to the same bytes', async (t) => {
  const r = rng(FUZZ_SEED);
  const N = 100_000;
  const codes = new Map<string, number>();
  let accepted = 0;
  let firstProblem: string | undefined;
  const note = (err: unknown, what: string) => {
    if (!(err instanceof FrameError)) firstProblem ??= `${what} threw ${String(err)}`;
    else codes.set(err.code, (codes.get(err.code) ?? 0) + 1);
  };
  for (let n = 0; n < N && !firstProblem; n++) {
    const kind = n % 4;
    const input =
      kind === 0 ? randomBytes(r, Math.floor(r() * 12))
      : kind === 1 ? mutate(r, randomCommand(r))
      : kind === 2 ? mutate(r, randomReply(r))
      : r() < 0.5 ? randomCommand(r) : randomReply(r);
    try {
      const command = decodeCommand(input);
      accepted++;
      const again = hex(encodeCommand(command));
      if (again !== hex(input)) firstProblem = `command #${n} ${hex(input)} re-encoded to ${again}`;
    } catch (err) {
      note(err, `decodeCommand #${n} ${hex(input)}`);
    }
    try {
      const reply = decodeReply(input);
      accepted++;
      const again = hex(encodeReply(reply));
      if (again !== hex(input)) firstProblem = `reply #${n} ${hex(input)} re-encoded to ${again}`;
      try {
        PARSERS[n % PARSERS.length]!(expectAck(reply));
      } catch (err) {
        note(err, `parsing reply #${n} ${hex(input)}`);
      }
    } catch (err) {
      note(err, `decodeReply #${n} ${hex(input)}`);
    }
    try {
      PARSERS[n % PARSERS.length]!(input.subarray(0, n % 9));
    } catch (err) {
      note(err, `parser on #${n} ${hex(input)}`);
    }
  }
  t.equal(firstProblem, undefined, `${N} random, mutated and valid inputs: only FrameError, and accepted frames round-trip`);
  t.ok(accepted > N / 4, `many inputs are valid frames (${accepted})`);
  for (const code of ['BAD_HEADER', 'BAD_LENGTH', 'BAD_CHECKSUM', 'TRUNCATED', 'BAD_ACK', 'BAD_VALUE', 'NAK']) {
    t.ok((codes.get(code) ?? 0) > 0, `the fuzz reaches ${code} (${codes.get(code) ?? 0} times)`);
  }
});

t.test('fuzz: the deframers never throw, lose no byte and find every frame whatever the chunking', async (t) => {
  const r = rng(FUZZ_SEED + 1);
  const STREAMS = 12_000;
  let chunksPushed = 0;
  let firstProblem: string | undefined;
  for (let n = 0; n < STREAMS && !firstProblem; n++) {
    const direction: MdcDirection = n % 2 === 0 ? 'command' : 'reply';
    const make = direction === 'command' ? randomCommand : randomReply;
    const decode = direction === 'command' ? (b: Uint8Array) => plain(decodeCommand(b)) : (b: Uint8Array) => plainReply(decodeReply(b));
    const show = (items: Array<MdcDeframed<MdcDirection>>) =>
      JSON.stringify(framesOf(items).map((f) => ('cmd' in f ? plain(f) : plainReply(f))));
    // Clean garbage (no AA) lets every planted frame be found; dirty garbage and mutated frames may
    // hide or fake frames, so then only conservation and chunking independence are checked.
    const clean = n % 4 < 2;
    const parts: Uint8Array[] = [];
    const planted: unknown[] = [];
    const count = Math.floor(r() * 16);
    for (let i = 0; i < count; i++) {
      const p = r();
      if (p < 0.5) {
        const frame = make(r);
        parts.push(frame);
        planted.push(decode(frame));
      } else if (p < 0.8 || clean) {
        parts.push(randomBytes(r, 1 + Math.floor(r() * 6), clean));
      } else {
        parts.push(mutate(r, r() < 0.5 ? randomCommand(r) : randomReply(r)));
      }
    }
    const stream = concat(parts);
    const cuts: number[] = [];
    for (let at = 0; at < stream.length; at += 1 + Math.floor(r() * 12)) cuts.push(at);
    chunksPushed += cuts.length + 1;
    const options = r() < 0.25 ? { maxDataLength: Math.floor(r() * 40) } : {};
    let chunked: Array<MdcDeframed<MdcDirection>>;
    let whole: Array<MdcDeframed<MdcDirection>>;
    try {
      chunked = deframeInChunks(new MdcDeframer(direction, options), stream, cuts);
      whole = deframeInChunks(new MdcDeframer(direction, options), stream, []);
    } catch (err) {
      firstProblem = `stream #${n} (${direction}) ${hex(stream)} threw ${String(err)}`;
      break;
    }
    if (hex(reassemble(direction, chunked)) !== hex(stream)) {
      firstProblem = `stream #${n} (${direction}) ${hex(stream)}: frames and dropped bytes reassemble to ${hex(reassemble(direction, chunked))}`;
    } else if (show(chunked) !== show(whole)) {
      firstProblem = `stream #${n} (${direction}) ${hex(stream)}: chunking at ${cuts.join(',')} changed the frames found`;
    } else if (hex(droppedOf(chunked)) !== hex(droppedOf(whole))) {
      firstProblem = `stream #${n} (${direction}) ${hex(stream)}: chunking at ${cuts.join(',')} changed the bytes dropped`;
    } else if (clean && !('maxDataLength' in options) && show(chunked) !== JSON.stringify(planted)) {
      firstProblem = `stream #${n} (${direction}) ${hex(stream)}: found ${show(chunked)}, planted ${JSON.stringify(planted)}`;
    } else if (chunked.some((item) => 'error' in item && !(item.error instanceof FrameError))) {
      firstProblem = `stream #${n} (${direction}): an error item is not a FrameError`;
    }
  }
  t.equal(firstProblem, undefined, `${STREAMS} streams in ${chunksPushed} random chunks: no throw, no byte lost, frames independent of chunking`);
  t.ok(chunksPushed >= 100_000, `at least 100,000 chunks went through the deframers (${chunksPushed})`);
});
