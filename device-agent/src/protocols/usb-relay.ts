/**
 * USB-serial relay boards of the LCUS family (CH340 bridge, 9600 8N1).
 *
 * A command is 4 bytes, `A0 <channel> <state> <sum>` with `sum = (0xA0 + channel + state) & 0xFF`:
 * relay 1 on is `A0 01 01 A2`, off is `A0 01 00 A1`. Channels are numbered 1–8 (LCUS-1 … LCUS-8),
 * state is 0 (off) or 1 (on). Most boards send no reply, so the door contact (or the OSDP controller)
 * is the source of truth for the door state.
 *
 * Not handled: the `FF` status query some boards accept. Its answer differs from board to board
 * (text lines on some, raw bytes on others), so it is left to a board-specific driver.
 *
 * `decodeRelay` and `RelayDeframer` exist for the board simulator used in tests and demos.
 * The only error thrown here is {@link FrameError}; the deframer never throws.
 */
import { DroppedRun, joinBytes } from './deframe.js';
import { FrameError } from './errors.js';

export const RELAY_PROTOCOL = 'usb-relay';
export const RELAY_HEADER = 0xa0;
export const RELAY_FRAME_LENGTH = 4;
export const RELAY_MIN_CHANNEL = 1;
export const RELAY_MAX_CHANNEL = 8;

export type RelayErrorCode = 'BAD_HEADER' | 'BAD_CHANNEL' | 'BAD_STATE' | 'BAD_CHECKSUM' | 'TRUNCATED' | 'BAD_LENGTH';

export interface RelayCommand {
  /** 1–8 */
  channel: number;
  on: boolean;
}

function fail(code: RelayErrorCode, message: string): never {
  throw new FrameError(RELAY_PROTOCOL, code, message);
}

function hex(n: number): string {
  return n.toString(16).padStart(2, '0');
}

function relaySum(channel: number, state: number): number {
  return (RELAY_HEADER + channel + state) & 0xff;
}

function isChannel(channel: unknown): channel is number {
  return Number.isInteger(channel) && (channel as number) >= RELAY_MIN_CHANNEL && (channel as number) <= RELAY_MAX_CHANNEL;
}

/** The 4 bytes switching one relay. Throws FrameError BAD_CHANNEL / BAD_STATE on bad arguments. */
export function encodeRelay(command: RelayCommand): Uint8Array {
  const { channel, on } = command;
  if (!isChannel(channel)) fail('BAD_CHANNEL', `channel ${String(channel)} is not an integer in ${RELAY_MIN_CHANNEL}–${RELAY_MAX_CHANNEL}`);
  if (typeof on !== 'boolean') fail('BAD_STATE', `state ${String(on)} is not a boolean`);
  const state = on ? 1 : 0;
  return Uint8Array.of(RELAY_HEADER, channel, state, relaySum(channel, state));
}

/**
 * Reads exactly one command. Checks, in order: header (BAD_HEADER), length (TRUNCATED if short,
 * BAD_LENGTH if long), checksum (BAD_CHECKSUM), channel (BAD_CHANNEL), state (BAD_STATE).
 */
export function decodeRelay(bytes: Uint8Array): RelayCommand {
  if (bytes.length === 0) fail('TRUNCATED', 'empty frame');
  if (bytes[0] !== RELAY_HEADER) fail('BAD_HEADER', `header 0x${hex(bytes[0]!)} is not 0xa0`);
  if (bytes.length < RELAY_FRAME_LENGTH) fail('TRUNCATED', `${bytes.length} of ${RELAY_FRAME_LENGTH} bytes`);
  if (bytes.length > RELAY_FRAME_LENGTH) fail('BAD_LENGTH', `${bytes.length} bytes, a command has ${RELAY_FRAME_LENGTH}`);
  const channel = bytes[1]!;
  const state = bytes[2]!;
  const sum = bytes[3]!;
  const expected = relaySum(channel, state);
  if (sum !== expected) fail('BAD_CHECKSUM', `checksum 0x${hex(sum)}, expected 0x${hex(expected)}`);
  if (!isChannel(channel)) fail('BAD_CHANNEL', `channel ${channel} is not in ${RELAY_MIN_CHANNEL}–${RELAY_MAX_CHANNEL}`);
  if (state > 1) fail('BAD_STATE', `state 0x${hex(state)} is neither 0 nor 1`);
  return { channel, on: state === 1 };
}

/** A command, or a run of discarded bytes with the reason its first byte was discarded. */
export type RelayDeframed = { command: RelayCommand } | { error: FrameError; dropped: Uint8Array };

/**
 * Splits a byte stream into relay commands. Bytes that cannot start a valid command are dropped
 * one at a time and the search goes on at the next 0xA0, so a command hidden after garbage or after
 * a corrupted command is still found. Consecutive dropped bytes are reported as one error, emitted
 * before the next command or at the end of the `push`. Holds at most 3 bytes between pushes;
 * never throws.
 */
export class RelayDeframer {
  #buffer: Uint8Array = new Uint8Array(0);

  /** Bytes held back as the possible start of a command. */
  get buffered(): number {
    return this.#buffer.length;
  }

  push(chunk: Uint8Array): RelayDeframed[] {
    return this.#scan(chunk, false);
  }

  /** Ends the stream (port closed, idle timeout): a held-back partial command is reported TRUNCATED. */
  flush(): RelayDeframed[] {
    return this.#scan(new Uint8Array(0), true);
  }

  #scan(chunk: Uint8Array, final: boolean): RelayDeframed[] {
    const data = joinBytes(this.#buffer, chunk);
    const out: RelayDeframed[] = [];
    const dropped = new DroppedRun();
    const flushDropped = (end: number) => dropped.closeInto(out, data, end);
    let i = 0;
    while (i < data.length) {
      if (data[i] !== RELAY_HEADER) {
        const next = data.indexOf(RELAY_HEADER, i);
        const end = next < 0 ? data.length : next;
        dropped.drop(i, new FrameError(RELAY_PROTOCOL, 'BAD_HEADER', 'bytes before a 0xa0 header'));
        i = end;
        continue;
      }
      if (data.length - i < RELAY_FRAME_LENGTH) {
        if (!final) break;
        dropped.drop(i, new FrameError(RELAY_PROTOCOL, 'TRUNCATED', `stream ended ${data.length - i} bytes into a command`));
        i += 1;
        continue;
      }
      try {
        const command = decodeRelay(data.subarray(i, i + RELAY_FRAME_LENGTH));
        flushDropped(i);
        out.push({ command });
        i += RELAY_FRAME_LENGTH;
      } catch (err) {
        dropped.drop(i, err instanceof FrameError ? err : new FrameError(RELAY_PROTOCOL, 'BAD_HEADER', String(err)));
        i += 1;
      }
    }
    flushDropped(i);
    this.#buffer = data.slice(i);
    return out;
  }
}
