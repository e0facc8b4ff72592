import type { SerialLike } from '../drivers/serial/osdp-cp.js';
import { decodeCommand, encodeReadData, encodeReply, encodeTextBlock, IdCardDeframer, type IdCardCommand, type IdCardTextFields } from '../protocols/id-card.js';

/** SW3 codes the simulator answers with (see ID_CARD_STATUS). */
const OK = [0x00, 0x00, 0x90] as const;
const FOUND = [0x00, 0x00, 0x9f] as const;
const NO_CARD = [0x00, 0x00, 0x80] as const;
const UNKNOWN_COMMAND = [0x00, 0x00, 0x21] as const;

/**
 * A simulated SAM ID card reader: a card can be laid on it and taken away. It answers each command
 * `replyDelayMs` after it came (a real SAM takes tens of ms to find a card and hundreds to read it), and
 * counts what it was sent out of turn, so a test can see a host that does not wait for the last answer.
 */
export class IdCardReaderSimulator {
  private readonly deframer = new IdCardDeframer();
  private card: IdCardTextFields | null = null;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** how long each reply takes; may be changed between commands */
  replyDelayMs: number;
  /**
   * Commands received; those that came while an earlier one was still unanswered (seen only with a reply
   * delay); and a select not right after a find or a read not right after a select (two cycles cut into each other).
   */
  readonly stats = { commands: 0, overlapping: 0, outOfCycle: 0 };
  private previous: IdCardCommand | null = null;

  constructor(
    private readonly port: SerialLike,
    opts: { replyDelayMs?: number } = {},
  ) {
    this.replyDelayMs = opts.replyDelayMs ?? 0;
    port.on('data', this.onData);
  }

  layCard(fields: IdCardTextFields): void {
    this.card = fields;
  }

  takeCard(): void {
    this.card = null;
  }

  close(): void {
    this.port.off('data', this.onData);
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private readonly onData = (chunk: Buffer): void => {
    for (const item of this.deframer.push(chunk)) {
      if (!('frame' in item)) continue;
      let command;
      try {
        command = decodeCommand(item.frame).command;
      } catch {
        continue; // a frame too short to be a command: a real SAM ignores it too
      }
      this.stats.commands++;
      if (this.timers.size > 0) this.stats.overlapping++;
      if ((command === 'select' && this.previous !== 'find') || (command === 'read' && this.previous !== 'select')) this.stats.outOfCycle++;
      this.previous = command;
      const reply =
        command === null
          ? encodeReply({ status: [...UNKNOWN_COMMAND] })
          : !this.card
            ? encodeReply({ status: [...NO_CARD] })
            : command === 'find'
              ? encodeReply({ status: [...FOUND], data: Buffer.alloc(4) })
              : command === 'select'
                ? encodeReply({ status: [...OK], data: Buffer.alloc(8) })
                : encodeReply({ status: [...OK], data: encodeReadData(encodeTextBlock(this.card), Buffer.alloc(1024)) });
      if (this.replyDelayMs <= 0) {
        this.port.write(reply, () => {});
        continue;
      }
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.port.write(reply, () => {});
      }, this.replyDelayMs);
      this.timers.add(timer);
    }
  };
}
