import { EventEmitter } from 'node:events';
import { FrameError } from '../../protocols/errors.js';
import { encodeFrame, OsdpDeframer, OSDP_REPLY, parseRawCard, poll } from '../../protocols/osdp.js';
import type { SerialPort } from 'serialport';
import type { DriverFactory } from '../driver.js';
import { closeDeviceSerial, openDeviceSerial, type ByteSink } from './relay.js';

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

/**
 * The control-panel side of OSDP v2 for one reader on an RS-485 line: POLL every `pollMs`, answer
 * with the next POLL when a reply arrives or `replyTimeoutMs` passes (a PD must answer within 200 ms),
 * sequence numbers 1-3 in turn (0 starts a session). A card read arrives as the RAW reply to a POLL and
 * is emitted as `card`. Bad frames are counted and dropped; the loop never stops on them.
 */
export class OsdpReader extends EventEmitter<{ card: [CardRead]; error: [FrameError] }> {
  private readonly deframer: OsdpDeframer;
  private sequence = 0;
  private timer: NodeJS.Timeout | null = null;
  private running = false;
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
    this.sendPoll();
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.port.off('data', this.onData);
  }

  private sendPoll(): void {
    if (!this.running) return;
    this.stats.polls++;
    this.port.write(encodeFrame({ address: this.opts.address, sequence: this.sequence, ...poll() }), () => {});
    this.timer = setTimeout(() => {
      this.stats.timeouts++;
      this.next();
    }, this.opts.replyTimeoutMs ?? 200);
  }

  /** After a reply or a timeout: the next sequence number, then the next POLL after the poll period. */
  private next(): void {
    if (this.timer) clearTimeout(this.timer);
    this.sequence = this.sequence >= 3 ? 1 : this.sequence + 1;
    this.timer = setTimeout(() => this.sendPoll(), this.opts.pollMs ?? 50);
  }

  private readonly onData = (chunk: Buffer): void => {
    for (const item of this.deframer.push(chunk)) {
      if ('error' in item) {
        this.stats.badFrames++;
        this.emit('error', item.error);
        continue;
      }
      this.stats.replies++;
      if (item.frame.code === OSDP_REPLY.RAW) {
        try {
          const raw = parseRawCard(item.frame.data);
          this.emit('card', { card: raw.data.toString('hex').toUpperCase(), bits: raw.bitCount, reader: raw.reader, at: performance.now() });
        } catch (err) {
          if (!(err instanceof FrameError)) throw err;
          this.stats.badFrames++;
          this.emit('error', err);
        }
      }
      this.next();
    }
  };
}

/** How long an OSDP reader may stay silent before it counts as lost (it must answer every POLL in 200 ms). */
const SILENT_LIMIT_MS = 3000;

/**
 * An OSDP reader as a device: each card read is decided at once on this host. A reader that stops
 * answering is reported lost, and the supervisor reopens the line after a backoff.
 */
export const osdpReaderDriver: DriverFactory = (ctx) => {
  let port: SerialPort | null = null;
  let reader: OsdpReader | null = null;
  let watch: NodeJS.Timeout | null = null;
  return {
    async start() {
      port = await openDeviceSerial(ctx, 9600);
      reader = new OsdpReader(port, { address: Number(ctx.settings.osdp_address ?? 0), pollMs: Number(ctx.settings.poll_interval_ms ?? 50), replyTimeoutMs: Number(ctx.settings.reply_timeout_ms ?? 200) });
      reader.on('card', (read) => void ctx.credential(read.card, 'card').catch((err: Error) => ctx.log.warn({ err: err.message }, 'card read not handled')));
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
  };
};
