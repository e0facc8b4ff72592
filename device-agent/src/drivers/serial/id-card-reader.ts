import { EventEmitter } from 'node:events';
import { CommandError } from '../../agent.js';
import { decodeReply, encodeCommand, IdCardDeframer, parseReadReply, type IdCardCommand, type ParsedText } from '../../protocols/id-card.js';
import type { SerialLike } from './osdp-cp.js';

/**
 * A second-generation resident ID card reader (SAM module) on a serial line. `start` polls: find a
 * card, select it, read its text; a card is reported once when it arrives and again only after it
 * was taken away. The photo is read with the text but not kept (a proprietary WLT blob).
 */
export class IdCardReader extends EventEmitter<{ card: [ParsedText]; removed: []; error: [Error] }> {
  private readonly deframer = new IdCardDeframer();
  private waiting: { resolve: (frame: Buffer) => void; timer: NodeJS.Timeout } | null = null;
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

  /** One find → select → read cycle: the card's text, or null when no card lies on the reader. */
  async readOnce(): Promise<ParsedText | null> {
    const find = decodeReply(await this.exchange('find'));
    if (!find.ok) return null;
    const select = decodeReply(await this.exchange('select'));
    if (!select.ok) return null;
    const read = decodeReply(await this.exchange('read'));
    if (!read.ok) throw new CommandError('READ_FAILED', `the reader could not read the card (${read.statusKey})`);
    return parseReadReply(read.data).text;
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
        this.emit('error', err as Error);
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

  private exchange(command: IdCardCommand): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = null;
        reject(new CommandError('DEVICE_TIMEOUT', `no answer from the ID card reader to ${command}`));
      }, this.opts.replyTimeoutMs ?? 1000);
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
