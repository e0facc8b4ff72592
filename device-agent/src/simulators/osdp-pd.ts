import { encodeFrame, ack, OsdpDeframer, OSDP_CMD, rawCard } from '../protocols/osdp.js';
import type { SerialLike } from '../drivers/serial/osdp-cp.js';

/**
 * A simulated OSDP reader (PD) at one address: answers POLL with ACK, or with RAW when a card was
 * presented since the last poll, echoing the command's sequence number as a PD must.
 */
export class OsdpReaderSimulator {
  private readonly deframer: OsdpDeframer;
  private readonly cards: { data: Buffer; bits: number }[] = [];
  /** when the last card left in a reply (performance.now) */
  lastCardSentAt = 0;

  constructor(
    private readonly port: SerialLike,
    private readonly address: number,
  ) {
    this.deframer = new OsdpDeframer({ address, reply: false });
    port.on('data', this.onData);
  }

  /** Presents a card: its bits as hex (26-bit Wiegand in 4 bytes by default). */
  present(cardHex: string, bits = 26): void {
    this.cards.push({ data: Buffer.from(cardHex, 'hex'), bits });
  }

  close(): void {
    this.port.off('data', this.onData);
  }

  private readonly onData = (chunk: Buffer): void => {
    for (const item of this.deframer.push(chunk)) {
      if ('error' in item || item.frame.code !== OSDP_CMD.POLL) continue;
      const card = this.cards.shift();
      const reply = card ? rawCard({ reader: 0, format: 1, bits: card.bits, data: card.data }) : ack();
      this.port.write(encodeFrame({ address: this.address, sequence: item.frame.sequence, reply: true, ...reply }), () => {});
      if (card) this.lastCardSentAt = performance.now();
    }
  };
}
