import { EventEmitter } from 'node:events';
import { FrameError } from '../../protocols/errors.js';
import { CommandError } from '../../agent.js';
import {
  encodeFrame,
  inputStatusRequest,
  OsdpDeframer,
  OSDP_CMD,
  OSDP_NAK,
  OSDP_OUT_CONTROL,
  OSDP_REPLY,
  output,
  parseInputStatus,
  parseRawCard,
  poll,
  type OsdpFrame,
  type OsdpMessage,
  type OutputControl,
} from '../../protocols/osdp.js';
import type { SerialPort } from 'serialport';
import type { DriverFactory } from '../driver.js';
import { channelOf, closeDeviceSerial, openDeviceSerial, type ByteSink } from './relay.js';

export interface SerialLike extends ByteSink {
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  off(event: 'data', listener: (chunk: Buffer) => void): unknown;
}

export interface CardRead {
  /** the card's bits as upper-case hex, the form the access list uses */
  card: string;
  bits: number;
  reader: number;
  /** when the reply carrying the card was decoded (performance.now) */
  at: number;
}

interface PendingOutput {
  message: OsdpMessage;
  resolve(): void;
  reject(err: Error): void;
}

/**
 * The control-panel side of OSDP v2 for one reader on an RS-485 line: one command at a time, the next
 * `pollMs` after a reply or after `replyTimeoutMs` without one (a PD must answer within 200 ms), sequence
 * numbers 1-3 in turn (0 starts a session). Usually the command is POLL; a card read arrives as the RAW
 * reply to it and is emitted as `card`, an input change as an ISTATR reply, emitted as `inputs`. After the
 * first reply one ISTAT asks for every input, so the door's state is known before it next changes. An
 * `output` call takes the place of the next POLL. Bad frames are counted and dropped; the loop never stops on them.
 */
export class OsdpReader extends EventEmitter<{ card: [CardRead]; inputs: [boolean[]]; error: [FrameError] }> {
  private readonly deframer: OsdpDeframer;
  private sequence = 0;
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  /** the command awaiting its reply (null between commands) */
  private inFlight: { code: number; out: PendingOutput | null } | null = null;
  private readonly outputs: PendingOutput[] = [];
  /** until an ISTATR arrives or the PD answers ISTAT at all; a lost reply is asked for again */
  private inputStatusWanted = true;
  readonly stats = { polls: 0, replies: 0, timeouts: 0, badFrames: 0 };

  constructor(
    private readonly port: SerialLike,
    private readonly opts: { address: number; pollMs?: number; replyTimeoutMs?: number },
  ) {
    super();
    this.deframer = new OsdpDeframer({ address: opts.address, reply: true });
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.port.on('data', this.onData);
    this.send();
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.port.off('data', this.onData);
    const stopped = new Error('the OSDP reader was stopped');
    this.inFlight?.out?.reject(stopped);
    this.inFlight = null;
    for (const out of this.outputs.splice(0)) out.reject(stopped);
  }

  /**
   * Sends OUT (e.g. a timed lock release) in place of the next POLL; resolves when the PD ACKs it and
   * rejects when it refuses it or does not answer in time.
   */
  output(...controls: OutputControl[]): Promise<void> {
    if (!this.running) return Promise.reject(new Error('the OSDP reader is not running'));
    let message: OsdpMessage;
    try {
      message = output(...controls);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return new Promise((resolve, reject) => {
      this.outputs.push({ message, resolve, reject });
      // Between commands it goes at once rather than after the poll period: a door waits on it.
      if (!this.inFlight) this.send();
    });
  }

  private send(): void {
    if (!this.running) return;
    if (this.timer) clearTimeout(this.timer);
    const out = this.outputs.shift() ?? null;
    const message = out?.message ?? (this.inputStatusWanted && this.stats.replies > 0 ? inputStatusRequest() : poll());
    if (message.code === OSDP_CMD.POLL) this.stats.polls++;
    this.inFlight = { code: message.code, out };
    this.port.write(encodeFrame({ address: this.opts.address, sequence: this.sequence, ...message }), () => {});
    const timeoutMs = this.opts.replyTimeoutMs ?? 200;
    this.timer = setTimeout(() => {
      this.stats.timeouts++;
      this.finish(new Error(`the OSDP reader did not answer command 0x${message.code.toString(16)} within ${timeoutMs} ms`));
    }, timeoutMs);
  }

  /** The command in flight is over: settle an OUT, then the next sequence number and command after the poll period. */
  private finish(failure: Error | null): void {
    if (this.timer) clearTimeout(this.timer);
    const out = this.inFlight?.out;
    this.inFlight = null;
    if (failure) out?.reject(failure);
    else out?.resolve();
    this.sequence = this.sequence >= 3 ? 1 : this.sequence + 1;
    this.timer = setTimeout(() => this.send(), this.opts.pollMs ?? 50);
  }

  private readonly onData = (chunk: Buffer): void => {
    for (const item of this.deframer.push(chunk)) {
      if ('error' in item) {
        this.stats.badFrames++;
        this.emit('error', item.error);
        continue;
      }
      this.stats.replies++;
      const { frame } = item;
      try {
        if (frame.code === OSDP_REPLY.RAW) {
          const raw = parseRawCard(frame.data);
          this.emit('card', { card: raw.data.toString('hex').toUpperCase(), bits: raw.bitCount, reader: raw.reader, at: performance.now() });
        } else if (frame.code === OSDP_REPLY.ISTATR) {
          const states = parseInputStatus(frame.data);
          this.inputStatusWanted = false;
          this.emit('inputs', states);
        }
      } catch (err) {
        if (!(err instanceof FrameError)) throw err;
        this.stats.badFrames++;
        this.emit('error', err);
      }
      // A late reply to a command already given up on still carries its card or inputs, but answers nothing.
      const command = this.inFlight;
      if (!command || frame.sequence !== this.sequence) continue;
      // Whatever the answer, ISTAT is not asked again: a PD without inputs NAKs it, and asking on would starve POLL.
      if (command.code === OSDP_CMD.ISTAT) this.inputStatusWanted = false;
      this.finish(command.out && frame.code !== OSDP_REPLY.ACK ? new Error(`the OSDP reader refused the output command: ${describeReply(frame)}`) : null);
    }
  };
}

function describeReply(frame: OsdpFrame): string {
  if (frame.code !== OSDP_REPLY.NAK) return `reply 0x${frame.code.toString(16)} instead of ACK`;
  const reason = frame.data[0];
  const name = Object.entries(OSDP_NAK).find(([, code]) => code === reason)?.[0];
  return reason === undefined ? 'NAK without a reason' : `NAK ${name ?? 'reason'} (0x${reason.toString(16).padStart(2, '0')})`;
}

/** How long an OSDP reader may stay silent before it counts as lost (it must answer every POLL in 200 ms). */
const SILENT_LIMIT_MS = 3000;

/**
 * An OSDP reader as a device: each card read is decided at once on this host, a door lock wired to the
 * reader's own relay is released with a timed OUT (the `open` action and the access list's doors), and its
 * inputs are reported as state `inputs` and, one change at a time, to `ctx.input` (the door monitor). A reader
 * that stops answering is reported lost, and the supervisor reopens the line after a backoff.
 */
export const osdpReaderDriver: DriverFactory = (ctx) => {
  let port: SerialPort | null = null;
  let reader: OsdpReader | null = null;
  let watch: NodeJS.Timeout | null = null;
  const channels = Number(ctx.settings.relay_channels ?? 1);
  /** the input states last reported, so only changes are passed on */
  let known: boolean[] = [];
  /** OSDP numbers outputs from 0; commands and the access list count relay channels from 1. */
  const outputOf = (value: unknown): number => channelOf(value, channels) - 1;
  const pulse = async (channel: unknown, ms: number): Promise<void> => {
    const outputNo = outputOf(channel);
    if (!reader) throw new CommandError('DEVICE_UNAVAILABLE', 'the OSDP reader is not connected');
    // The PD times the pulse itself, so the lock closes again even if the line or this agent fails meanwhile.
    await reader.output({ outputNo, controlCode: OSDP_OUT_CONTROL.TEMPORARY_ON, timerMs: ms });
  };
  return {
    async start() {
      port = await openDeviceSerial(ctx, 9600);
      known = [];
      reader = new OsdpReader(port, { address: Number(ctx.settings.osdp_address ?? 0), pollMs: Number(ctx.settings.poll_interval_ms ?? 50), replyTimeoutMs: Number(ctx.settings.reply_timeout_ms ?? 200) });
      reader.on('card', (read) => void ctx.credential(read.card, 'card').catch((err: Error) => ctx.log.warn({ err: err.message }, 'card read not handled')));
      reader.on('inputs', (states) => {
        const at = Date.now();
        const changed = states.flatMap((active, index) => (known[index] === active ? [] : [index]));
        known = states;
        if (changed.length === 0) return;
        ctx.setState({ inputs: states });
        for (const index of changed) ctx.input(index, states[index]!, at);
      });
      reader.on('error', (err) => ctx.log.warn({ err: err.message }, 'bad OSDP frame dropped'));
      reader.start();
      const started = Date.now();
      while (reader.stats.replies === 0) {
        if (Date.now() - started > SILENT_LIMIT_MS) throw new Error(`no OSDP reader answers at address ${ctx.settings.osdp_address ?? 0}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      let replies = reader.stats.replies;
      watch = setInterval(() => {
        if (reader && reader.stats.replies === replies) ctx.fail(new Error(`the OSDP reader stopped answering for ${SILENT_LIMIT_MS} ms`));
        replies = reader?.stats.replies ?? 0;
      }, SILENT_LIMIT_MS);
      ctx.setState({ reader: 'ready' });
    },
    async stop() {
      if (watch) clearInterval(watch);
      reader?.stop();
      reader = null;
      await closeDeviceSerial(port);
      port = null;
    },
    release: (channel, ms) => pulse(channel, ms),
    async command(body) {
      if (body.action !== 'open') throw new CommandError('BAD_COMMAND', 'the OSDP reader takes the open action ({"action":"open","params":{"pulse_ms":3000}})');
      const params = (body.params ?? {}) as Record<string, unknown>;
      // pulse_ms as the profile names it; duration_ms as the server's remote open sends it.
      const ms = params.pulse_ms ?? params.duration_ms ?? ctx.settings.pulse_ms ?? 3000;
      if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 100 || ms > 60_000) throw new CommandError('BAD_VALUE', 'pulse_ms must be 100-60000');
      await pulse(params.channel, ms);
    },
  };
};
