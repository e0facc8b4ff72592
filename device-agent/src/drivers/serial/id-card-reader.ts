import { EventEmitter } from 'node:events';
import { CommandError } from '../../agent.js';
import { decodeReply, encodeCommand, IdCardDeframer, parseReadReply, type IdCardCommand, type ParsedText } from '../../protocols/id-card.js';
import type { SerialPort } from 'serialport';
import type { DriverFactory } from '../driver.js';
import type { SerialLike } from './osdp-cp.js';
import { closeDeviceSerial, openDeviceSerial } from './relay.js';

/**
 * A second-generation resident ID card reader (SAM module) on a serial line. `start` polls: find a
 * card, select it, read its text; a card is reported once when it arrives and again only after it
 * was taken away. The photo is read with the text but not kept (a proprietary WLT blob).
 *
 * The SAM answers without naming the command it answers, so only one frame may be on the line at a time,
 * and a find → select → read cycle must not be cut into by another: the poll and `read_card` take whole
 * cycles in turn (see `inTurn`), each frame with a timeout of its own.
 */
export class IdCardReader extends EventEmitter<{ card: [ParsedText]; removed: []; error: [Error] }> {
  private readonly deframer = new IdCardDeframer();
  private waiting: { resolve: (frame: Buffer) => void; timer: NodeJS.Timeout } | null = null;
  /** the last cycle queued; the next one starts when it has ended, however it ended */
  private turns: Promise<unknown> = Promise.resolve();
  /** resolves once a reply given up on has come late or been waited for long enough: it must not answer the next frame */
  private settled: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private present: string | null = null;
  private running = false;

  constructor(
    private readonly port: SerialLike,
    private readonly opts: { pollMs?: number; replyTimeoutMs?: number } = {},
  ) {
    super();
    port.on('data', this.onData);
  }

  /** One find → select → read cycle, after those queued before it: the card's text, or null when no card lies on the reader. */
  readOnce(): Promise<ParsedText | null> {
    return this.inTurn(async () => {
      const find = decodeReply(await this.exchange('find'));
      if (!find.ok) return null;
      const select = decodeReply(await this.exchange('select'));
      if (!select.ok) return null;
      const read = decodeReply(await this.exchange('read'));
      if (!read.ok) throw new CommandError('READ_FAILED', `the reader could not read the card (${read.statusKey})`);
      return parseReadReply(read.data).text;
    });
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    const tick = async () => {
      try {
        const card = await this.readOnce();
        if (card && card.idNumber !== this.present) {
          this.present = card.idNumber;
          this.emit('card', card);
        } else if (!card && this.present) {
          this.present = null;
          this.emit('removed');
        }
      } catch (err) {
        // A card lifted between select and read fails the read; the poll goes on either way. With no
        // 'error' listener an emitted error would throw out of the poll loop, so it is only reported to listeners.
        if (this.listenerCount('error') > 0) this.emit('error', err as Error);
      }
      if (this.running) this.timer = setTimeout(tick, this.opts.pollMs ?? 300);
    };
    void tick();
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.port.off('data', this.onData);
  }

  /** Runs `cycle` once every cycle queued before it has ended; a failed cycle fails only its own caller. */
  private inTurn<T>(cycle: () => Promise<T>): Promise<T> {
    const turn = this.turns.then(cycle);
    this.turns = turn.catch(() => {});
    return turn;
  }

  private async exchange(command: IdCardCommand): Promise<Buffer> {
    await this.settled;
    const timeoutMs = this.opts.replyTimeoutMs ?? 1000;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        // A slow SAM may still answer: that reply is awaited a while longer and dropped, not taken for the next frame's.
        this.settled = new Promise((free) => {
          const drop = setTimeout(() => {
            this.waiting = null;
            free();
          }, timeoutMs);
          this.waiting = { resolve: () => free(), timer: drop };
        });
        reject(new CommandError('DEVICE_TIMEOUT', `no answer from the ID card reader to ${command}`));
      }, timeoutMs);
      this.waiting = { resolve, timer };
      this.port.write(encodeCommand(command), () => {});
    });
  }

  private readonly onData = (chunk: Buffer): void => {
    for (const item of this.deframer.push(chunk)) {
      if (!('frame' in item) || !this.waiting) continue;
      const { resolve, timer } = this.waiting;
      clearTimeout(timer);
      this.waiting = null;
      resolve(item.frame);
    }
  };
}

/** `110105********002X`: the masking GB/T 35273 practice and the server use for ID numbers. */
export function maskIdNumber(id: string): string {
  return id.length > 10 ? `${id.slice(0, 6)}${'*'.repeat(id.length - 10)}${id.slice(-4)}` : '*'.repeat(id.length);
}

/** 张* / 欧阳** : the family name stays, the rest is starred. */
export function maskName(name: string): string {
  const chars = [...name];
  return chars.length <= 1 ? '*' : chars[0] + '*'.repeat(chars.length - 1);
}

/**
 * The lobby's ID card reader as a device. A card laid on it is announced as `id_card_read` with masked
 * fields only (events are stored); the full text reaches the kiosk only as the answer to `read_card`,
 * which the server asks for during a check-in and does not keep beyond what the visitor record needs.
 */
export const idCardReaderDriver: DriverFactory = (ctx) => {
  let port: SerialPort | null = null;
  let reader: IdCardReader | null = null;
  let last: ParsedText | null = null;
  let errorsInRow = 0;
  return {
    async start() {
      port = await openDeviceSerial(ctx, 115200);
      reader = new IdCardReader(port, { pollMs: Number(ctx.settings.poll_interval_ms ?? 500), replyTimeoutMs: Number(ctx.settings.reply_timeout_ms ?? 2000) });
      // The first exchange proves a SAM answers; a silent port is a failed start, retried with backoff.
      await reader.readOnce();
      reader.on('card', (card) => {
        errorsInRow = 0;
        last = card;
        ctx.setState({ card_present: true });
        ctx.emit('id_card_read', { name: maskName(card.name), id_number: maskIdNumber(card.idNumber), id_number_valid: card.idNumberValid });
      });
      reader.on('removed', () => {
        last = null;
        ctx.setState({ card_present: false });
        ctx.emit('id_card_removed', {});
      });
      reader.on('error', (err) => {
        if (++errorsInRow >= 5) ctx.fail(new Error(`the ID card reader stopped answering: ${err.message}`));
      });
      reader.start();
      ctx.setState({ card_present: false });
    },
    async stop() {
      reader?.stop();
      reader = null;
      await closeDeviceSerial(port);
      port = null;
    },
    async command(body) {
      if (body.action !== 'read_card') throw new CommandError('BAD_COMMAND', 'the ID card reader takes only the read_card action');
      if (!reader) throw new CommandError('DEVICE_UNAVAILABLE', 'the ID card reader is not connected');
      const card = (await reader.readOnce()) ?? last;
      if (!card) throw new CommandError('NO_CARD', 'no ID card lies on the reader / 读卡器上没有身份证');
      return {
        card_present: true,
        card: {
          name: card.name,
          sex: card.sex,
          ethnicity: card.ethnicity,
          birth_date: card.birthDate,
          address: card.address,
          id_number: card.idNumber,
          id_number_valid: card.idNumberValid,
          issuing_authority: card.issuingAuthority,
          valid_from: card.validFrom,
          valid_to: card.validTo,
        },
      };
    },
  };
};
