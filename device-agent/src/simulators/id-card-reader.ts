import type { SerialLike } from '../drivers/serial/osdp-cp.js';
import { decodeCommand, encodeReadData, encodeReply, encodeTextBlock, IdCardDeframer, type IdCardTextFields } from '../protocols/id-card.js';

/** SW3 codes the simulator answers with (see ID_CARD_STATUS). */
const OK = [0x00, 0x00, 0x90] as const;
const FOUND = [0x00, 0x00, 0x9f] as const;
const NO_CARD = [0x00, 0x00, 0x80] as const;
const UNKNOWN_COMMAND = [0x00, 0x00, 0x21] as const;

/** A simulated SAM ID card reader: a card can be laid on it and taken away. */
export class IdCardReaderSimulator {
  private readonly deframer = new IdCardDeframer();
  private card: IdCardTextFields | null = null;

  constructor(private readonly port: SerialLike) {
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
      this.port.write(reply, () => {});
    }
  };
}
