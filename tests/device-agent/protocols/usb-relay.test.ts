import t from 'tap';
import { frameErrorCode, mulberry32 as rng } from '../../helpers/fuzz.js';
import { FrameError } from '../../../device-agent/src/protocols/errors.js';
import {
  RelayDeframer,
  decodeRelay,
  encodeRelay,
  type RelayCommand,
  type RelayDeframed,
} from '../../../device-agent/src/protocols/usb-relay.js';

const bytes = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const hex = (b: Uint8Array): string => [...b].map((n) => n.toString(16).padStart(2, '0')).join(' ');
const concat = (parts: Uint8Array[]): Uint8Array => Uint8Array.from(Buffer.concat(parts));

const codeOf = (fn: () => unknown) => frameErrorCode('usb-relay', fn);

/** The checksum as the vendor documents it, independently of the module. */
const sum = (channel: number, state: number) => (0xa0 + channel + state) & 0xff;

const isCommand = (item: RelayDeframed): item is { command: RelayCommand } => 'command' in item;
const commandsOf = (items: RelayDeframed[]) => items.filter(isCommand).map((item) => item.command);
const droppedOf = (items: RelayDeframed[]) => concat(items.flatMap((item) => ('dropped' in item ? [item.dropped] : [])));

/** What the deframer emitted, turned back into bytes: frames re-encoded, dropped bytes as they were. */
const reassemble = (items: RelayDeframed[]) =>
  concat(items.map((item) => ('command' in item ? encodeRelay(item.command) : item.dropped)));

function deframeInChunks(stream: Uint8Array, cuts: number[]): RelayDeframed[] {
  const deframer = new RelayDeframer();
  const out: RelayDeframed[] = [];
  let at = 0;
  for (const cut of [...cuts, stream.length]) {
    out.push(...deframer.push(stream.subarray(at, cut)));
    at = cut;
  }
  out.push(...deframer.flush());
  return out;
}

t.test('the documented vectors encode and decode', async (t) => {
  t.equal(hex(encodeRelay({ channel: 1, on: true })), 'a0 01 01 a2', 'relay 1 on is A0 01 01 A2');
  t.equal(hex(encodeRelay({ channel: 1, on: false })), 'a0 01 00 a1', 'relay 1 off is A0 01 00 A1');
  t.same(decodeRelay(bytes('A0 01 01 A2')), { channel: 1, on: true }, 'A0 01 01 A2 reads as relay 1 on');
  t.same(decodeRelay(bytes('A0 01 00 A1')), { channel: 1, on: false }, 'A0 01 00 A1 reads as relay 1 off');
  t.same(decodeRelay(Buffer.from([0xa0, 0x01, 0x01, 0xa2])), { channel: 1, on: true }, 'a Buffer is read like a Uint8Array');
});

t.test('every channel and state round-trips with the documented checksum', async (t) => {
  for (let channel = 1; channel <= 8; channel++) {
    for (const on of [false, true]) {
      const frame = encodeRelay({ channel, on });
      const state = on ? 1 : 0;
      t.equal(hex(frame), hex(Uint8Array.of(0xa0, channel, state, sum(channel, state))), `channel ${channel} ${on ? 'on' : 'off'} has the documented bytes`);
      t.same(decodeRelay(frame), { channel, on }, `channel ${channel} ${on ? 'on' : 'off'} decodes to itself`);
    }
  }
});

t.test('the encoder refuses what no board understands', async (t) => {
  for (const channel of [0, 9, 255, 1.5, Number.NaN, -1]) {
    t.equal(codeOf(() => encodeRelay({ channel, on: true })), 'BAD_CHANNEL', `channel ${channel} is refused with BAD_CHANNEL`);
  }
  t.equal(codeOf(() => encodeRelay({ channel: 1, on: 1 as unknown as boolean })), 'BAD_STATE', 'a state that is not a boolean is refused with BAD_STATE');
});

t.test('each decode error has its code', async (t) => {
  const cases: Array<[string, string, string]> = [
    ['', 'TRUNCATED', 'no bytes at all'],
    ['a0 01 01', 'TRUNCATED', 'three bytes of a command'],
    ['a1 01 01 a3', 'BAD_HEADER', 'a header other than A0'],
    ['01 01 a2', 'BAD_HEADER', 'a command missing its header byte'],
    ['a0 01 01 a2 00', 'BAD_LENGTH', 'a fifth byte'],
    ['a0 01 01 a3', 'BAD_CHECKSUM', 'a checksum off by one'],
    ['a0 01 01 00', 'BAD_CHECKSUM', 'a zero checksum'],
    [`a0 00 01 ${sum(0, 1).toString(16)}`, 'BAD_CHANNEL', 'channel 0 with a correct checksum'],
    [`a0 09 00 ${sum(9, 0).toString(16)}`, 'BAD_CHANNEL', 'channel 9 with a correct checksum'],
    [`a0 01 02 ${sum(1, 2).toString(16)}`, 'BAD_STATE', 'state 2 with a correct checksum'],
    [`a0 01 ff ${sum(1, 0xff).toString(16)}`, 'BAD_STATE', 'state FF with a correct checksum'],
  ];
  for (const [input, code, what] of cases) {
    t.equal(codeOf(() => decodeRelay(bytes(input))), code, `${what} (${input || 'empty'}) fails ${code}`);
  }
  try {
    decodeRelay(bytes('a0 01 01 a3'));
  } catch (err) {
    t.ok(err instanceof FrameError, 'the error is a FrameError');
    t.match((err as FrameError).message, /^usb-relay: checksum 0xa3, expected 0xa2$/, 'the message names the protocol and both checksums');
  }
});

t.test('the deframer splits a stream at any chunk boundary', async (t) => {
  const frames = [
    encodeRelay({ channel: 1, on: true }),
    encodeRelay({ channel: 8, on: false }),
    encodeRelay({ channel: 3, on: true }),
  ];
  const stream = concat(frames);
  const expected = [
    { channel: 1, on: true },
    { channel: 8, on: false },
    { channel: 3, on: true },
  ];
  t.same(commandsOf(new RelayDeframer().push(stream)), expected, 'one chunk gives the three commands');
  const byByte = new RelayDeframer();
  const items = [...stream].flatMap((b) => byByte.push(Uint8Array.of(b)));
  t.same(items, expected.map((command) => ({ command })), 'byte by byte gives the same commands and nothing else');
  for (let a = 0; a <= stream.length; a++) {
    for (let b = a; b <= stream.length; b++) {
      const out = deframeInChunks(stream, [a, b]);
      if (out.length !== 3 || commandsOf(out).length !== 3) {
        t.fail(`cut at ${a} and ${b}: ${JSON.stringify(out)}`);
      }
    }
  }
  t.pass('every way of cutting the stream in three gives the three commands');
  const partial = new RelayDeframer();
  t.same(partial.push(bytes('a0 02')), [], 'half a command emits nothing');
  t.equal(partial.buffered, 2, 'and is held back');
  t.same(partial.push(bytes(`01 ${sum(2, 1).toString(16)}`)), [{ command: { channel: 2, on: true } }], 'the rest completes it');
  t.equal(partial.buffered, 0, 'and nothing is held back afterwards');
  t.same(partial.push(new Uint8Array(0)), [], 'an empty chunk emits nothing');
});

t.test('the deframer drops garbage and resynchronises at the next A0', async (t) => {
  const out = new RelayDeframer().push(bytes('00 ff 13 a0 01 01 a2 55 a0 01 00 a1'));
  t.equal(out.length, 4, 'garbage, command, garbage, command');
  const [g1, c1, g2, c2] = out;
  t.ok(g1 && 'error' in g1 && g1.error.code === 'BAD_HEADER', 'leading garbage is BAD_HEADER');
  t.equal(g1 && 'dropped' in g1 ? hex(g1.dropped) : '', '00 ff 13', 'and all three garbage bytes are reported at once');
  t.same(c1, { command: { channel: 1, on: true } }, 'then relay 1 on');
  t.equal(g2 && 'dropped' in g2 ? hex(g2.dropped) : '', '55', 'then the stray byte');
  t.same(c2, { command: { channel: 1, on: false } }, 'then relay 1 off');

  // `a0 01 a0 02` fails its checksum; the A0 inside it starts a real command.
  const hidden = new RelayDeframer().push(bytes(`a0 01 a0 02 01 ${sum(2, 1).toString(16)}`));
  t.equal(hidden.length, 2, 'a corrupted command, then the command hidden in it');
  const [bad, good] = hidden;
  t.ok(bad && 'error' in bad && bad.error.code === 'BAD_CHECKSUM', 'the corrupted command is reported BAD_CHECKSUM');
  t.equal(bad && 'dropped' in bad ? hex(bad.dropped) : '', 'a0 01', 'only the bytes before the next A0 are dropped');
  t.same(good, { command: { channel: 2, on: true } }, 'the hidden command is found');

  const valid = new RelayDeframer().push(bytes(`a0 09 00 ${sum(9, 0).toString(16)} a0 02 00 a2`));
  t.equal(valid[0] && 'error' in valid[0] ? valid[0].error.code : '', 'BAD_CHANNEL', 'a well-formed command for channel 9 is dropped as BAD_CHANNEL');
  t.same(valid[1], { command: { channel: 2, on: false } }, 'and the next command is found');

  const ended = new RelayDeframer();
  t.same(ended.push(bytes('a0 01')), [], 'a partial command is held');
  const flushed = ended.flush();
  t.equal(flushed.length, 1, 'flushing reports it');
  t.equal(flushed[0] && 'error' in flushed[0] ? flushed[0].error.code : '', 'TRUNCATED', 'as TRUNCATED');
  t.equal(flushed[0] && 'dropped' in flushed[0] ? hex(flushed[0].dropped) : '', 'a0 01', 'with its bytes');
  t.equal(ended.buffered, 0, 'and the deframer is empty after a flush');
  const rescued = new RelayDeframer();
  rescued.push(bytes('a0 a0 01 01'));
  t.same(commandsOf(rescued.push(bytes('a2'))), [{ channel: 1, on: true }], 'a command right after a stray A0 is found once its last byte arrives');
});

// ---- fuzz ----

const FUZZ_SEED = 0x5eed_0001;

function randomFrame(r: () => number): Uint8Array {
  return encodeRelay({ channel: 1 + Math.floor(r() * 8), on: r() < 0.5 });
}

function randomBytes(r: () => number, n: number, avoidHeader = false): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    // Skew towards the interesting bytes: the header, small channels and states.
    const p = r();
    let b = p < 0.15 ? 0xa0 : p < 0.4 ? Math.floor(r() * 10) : Math.floor(r() * 256);
    if (avoidHeader && b === 0xa0) b = 0xa1;
    out[i] = b;
  }
  return out;
}

function mutate(r: () => number, frame: Uint8Array): Uint8Array {
  const f = Uint8Array.from(frame);
  switch (Math.floor(r() * 5)) {
    case 0: // flip one bit
      f[Math.floor(r() * f.length)]! ^= 1 << Math.floor(r() * 8);
      return f;
    case 1: // replace a byte
      f[Math.floor(r() * f.length)] = Math.floor(r() * 256);
      return f;
    case 2: // truncate
      return f.slice(0, Math.floor(r() * f.length));
    case 3: // extend
      return concat([f, randomBytes(r, 1 + Math.floor(r() * 3))]);
    default: // change channel or state and fix the checksum, so the later checks are reached
      f[1 + Math.floor(r() * 2)] = Math.floor(r() * 16);
      f[3] = sum(f[1]!, f[2]!);
      return f;
  }
}

t.test('fuzz: decodeRelay throws only FrameError and what it accepts re-encodes to the same bytes', async (t) => {
  const r = rng(FUZZ_SEED);
  const N = 100_000;
  const codes = new Map<string, number>();
  let accepted = 0;
  let firstProblem: string | undefined;
  for (let n = 0; n < N && !firstProblem; n++) {
    const input = n % 2 === 0 ? randomBytes(r, Math.floor(r() * 7)) : mutate(r, randomFrame(r));
    try {
      const command = decodeRelay(input);
      accepted++;
      const again = hex(encodeRelay(command));
      if (again !== hex(input)) firstProblem = `input #${n} ${hex(input)} decoded and re-encoded to ${again}`;
    } catch (err) {
      if (!(err instanceof FrameError)) firstProblem = `input #${n} ${hex(input)} threw ${String(err)}`;
      else codes.set(err.code, (codes.get(err.code) ?? 0) + 1);
    }
  }
  t.equal(firstProblem, undefined, `${N} random and mutated inputs: only FrameError, and accepted frames round-trip`);
  t.ok(accepted > 0, `some inputs are valid commands (${accepted})`);
  for (const code of ['BAD_HEADER', 'BAD_CHANNEL', 'BAD_STATE', 'BAD_CHECKSUM', 'TRUNCATED', 'BAD_LENGTH']) {
    t.ok((codes.get(code) ?? 0) > 0, `the fuzz reaches ${code} (${codes.get(code) ?? 0} times)`);
  }
});

t.test('fuzz: the deframer never throws, loses no byte and finds every command whatever the chunking', async (t) => {
  const r = rng(FUZZ_SEED + 1);
  const STREAMS = 8_000;
  let chunksPushed = 0;
  let firstProblem: string | undefined;
  for (let n = 0; n < STREAMS && !firstProblem; n++) {
    // Clean garbage (no A0) lets every planted command be found; dirty garbage and mutated frames
    // may hide or fake commands, so then only conservation and chunking independence are checked.
    const clean = n % 2 === 0;
    const parts: Uint8Array[] = [];
    const planted: RelayCommand[] = [];
    const count = Math.floor(r() * 30);
    for (let i = 0; i < count; i++) {
      const p = r();
      if (p < 0.5) {
        const frame = randomFrame(r);
        parts.push(frame);
        planted.push(decodeRelay(frame));
      } else if (p < 0.8 || clean) {
        parts.push(randomBytes(r, 1 + Math.floor(r() * 6), clean));
      } else {
        parts.push(mutate(r, randomFrame(r)));
      }
    }
    const stream = concat(parts);
    const cuts: number[] = [];
    for (let at = 0; at < stream.length; at += 1 + Math.floor(r() * 6)) cuts.push(at);
    chunksPushed += cuts.length + 1;
    let chunked: RelayDeframed[];
    let whole: RelayDeframed[];
    try {
      chunked = deframeInChunks(stream, cuts);
      whole = deframeInChunks(stream, []);
    } catch (err) {
      firstProblem = `stream #${n} ${hex(stream)} threw ${String(err)}`;
      break;
    }
    if (hex(reassemble(chunked)) !== hex(stream)) {
      firstProblem = `stream #${n} ${hex(stream)}: commands and dropped bytes reassemble to ${hex(reassemble(chunked))}`;
    } else if (JSON.stringify(commandsOf(chunked)) !== JSON.stringify(commandsOf(whole))) {
      firstProblem = `stream #${n} ${hex(stream)}: chunking at ${cuts.join(',')} changed the commands found`;
    } else if (hex(droppedOf(chunked)) !== hex(droppedOf(whole))) {
      firstProblem = `stream #${n} ${hex(stream)}: chunking at ${cuts.join(',')} changed the bytes dropped`;
    } else if (clean && JSON.stringify(commandsOf(chunked)) !== JSON.stringify(planted)) {
      firstProblem = `stream #${n} ${hex(stream)}: found ${JSON.stringify(commandsOf(chunked))}, planted ${JSON.stringify(planted)}`;
    } else if (chunked.some((item) => 'error' in item && !(item.error instanceof FrameError))) {
      firstProblem = `stream #${n} ${hex(stream)}: an error item is not a FrameError`;
    }
  }
  t.equal(firstProblem, undefined, `${STREAMS} streams in ${chunksPushed} random chunks: no throw, no byte lost, commands independent of chunking`);
  t.ok(chunksPushed >= 100_000, `at least 100,000 chunks went through the deframer (${chunksPushed})`);
});
