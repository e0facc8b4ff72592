import { EventEmitter } from 'node:events';
import { FrameError } from '../protocols/errors.js';
import { encodeFrame, ack, inputStatus, nak, OsdpDeframer, OSDP_CMD, OSDP_NAK, OSDP_OUT_CONTROL, OSDP_REPLY, parseOutput, rawCard, type OsdpMessage } from '../protocols/osdp.js';
import type { SerialLike } from '../drivers/serial/osdp-cp.js';

export interface OutputChange {
  /** output number, 0 = first */
  output: number;
  on: boolean;
}

interface OutputState {
  /** the state the output rests in */
  permanent: boolean;
  /** a timed state over the permanent one, back to `permanent` when its timer ends */
  temporary: { on: boolean; timer: NodeJS.Timeout } | null;
}

/**
 * A simulated OSDP reader (PD) at one address: answers POLL with ACK, or with RAW when a card was
 * presented since the last poll, or with ISTATR when an input changed (the card first if both are
 * pending), echoing the command's sequence number as a PD must. ISTAT is answered with ISTATR; OUT is
 * carried out on the simulated outputs (the lock relay) and ACKed, or NAKed whole when a record names an
 * output or control code the PD does not have. Other commands are NAKed as unknown.
 */
export class OsdpReaderSimulator extends EventEmitter<{ output: [OutputChange] }> {
  private readonly deframer: OsdpDeframer;
  private readonly cards: { data: Buffer; bits: number }[] = [];
  private readonly inputStates: boolean[];
  private inputsChanged = false;
  private readonly outputStates: OutputState[];
  /** when the last card left in a reply (performance.now) */
  lastCardSentAt = 0;

  constructor(
    private readonly port: SerialLike,
    private readonly address: number,
    /** `inputs`: the initial state of each input (one inactive input by default); `outputs`: how many (1) */
    opts: { inputs?: boolean[]; outputs?: number } = {},
  ) {
    super();
    this.inputStates = [...(opts.inputs ?? [false])];
    this.outputStates = Array.from({ length: opts.outputs ?? 1 }, () => ({ permanent: false, temporary: null }));
    this.deframer = new OsdpDeframer({ address, reply: false });
    port.on('data', this.onData);
  }

  /** Presents a card: its bits as hex (26-bit Wiegand in 4 bytes by default). */
  present(cardHex: string, bits = 26): void {
    this.cards.push({ data: Buffer.from(cardHex, 'hex'), bits });
  }

  /** Sets an input (a door contact, an exit button); a change is reported in the reply to the next POLL. */
  setInput(index: number, active: boolean): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.inputStates.length) throw new RangeError(`the simulated PD has inputs 0-${this.inputStates.length - 1}, not ${index}`);
    if (this.inputStates[index] === active) return;
    this.inputStates[index] = active;
    this.inputsChanged = true;
  }

  get inputs(): boolean[] {
    return [...this.inputStates];
  }

  /** the current state of each output, timed states included */
  get outputs(): boolean[] {
    return this.outputStates.map(current);
  }

  close(): void {
    this.port.off('data', this.onData);
    for (const o of this.outputStates) if (o.temporary) clearTimeout(o.temporary.timer);
  }

  private readonly onData = (chunk: Buffer): void => {
    for (const item of this.deframer.push(chunk)) {
      if ('error' in item) continue;
      const reply = this.answer(item.frame.code, item.frame.data);
      this.port.write(encodeFrame({ address: this.address, sequence: item.frame.sequence, reply: true, ...reply }), () => {});
      if (reply.code === OSDP_REPLY.RAW) this.lastCardSentAt = performance.now();
    }
  };

  private answer(code: number, data: Buffer): OsdpMessage {
    switch (code) {
      case OSDP_CMD.POLL: {
        const card = this.cards.shift();
        if (card) return rawCard({ reader: 0, format: 1, bits: card.bits, data: card.data });
        return this.inputsChanged ? this.inputReport() : ack();
      }
      case OSDP_CMD.ISTAT:
        return this.inputReport();
      case OSDP_CMD.OUT:
        return this.out(data);
      default:
        return nak(OSDP_NAK.UNKNOWN_COMMAND);
    }
  }

  private inputReport(): OsdpMessage {
    this.inputsChanged = false;
    return inputStatus(this.inputStates);
  }

  private out(data: Buffer): OsdpMessage {
    let records: ReturnType<typeof parseOutput>;
    try {
      records = parseOutput(data);
    } catch (err) {
      if (err instanceof FrameError) return nak(OSDP_NAK.LENGTH);
      throw err;
    }
    // All or nothing: a PD that cannot carry out one record carries out none.
    if (records.some((r) => r.outputNo >= this.outputStates.length || r.controlCode > OSDP_OUT_CONTROL.TEMPORARY_OFF)) return nak(OSDP_NAK.UNABLE);
    for (const r of records) this.control(r.outputNo, r.controlCode, r.timerMs);
    return ack();
  }

  /** One OUT record, as OSDP defines the control codes. */
  private control(outputNo: number, code: number, timerMs: number): void {
    const o = this.outputStates[outputNo]!;
    const before = current(o);
    const endTemporary = () => {
      if (o.temporary) clearTimeout(o.temporary.timer);
      o.temporary = null;
    };
    switch (code) {
      case OSDP_OUT_CONTROL.PERMANENT_OFF_ABORT_TIMED:
      case OSDP_OUT_CONTROL.PERMANENT_ON_ABORT_TIMED:
        endTemporary();
        o.permanent = code === OSDP_OUT_CONTROL.PERMANENT_ON_ABORT_TIMED;
        break;
      case OSDP_OUT_CONTROL.PERMANENT_OFF_AFTER_TIMED:
      case OSDP_OUT_CONTROL.PERMANENT_ON_AFTER_TIMED:
        o.permanent = code === OSDP_OUT_CONTROL.PERMANENT_ON_AFTER_TIMED;
        break;
      case OSDP_OUT_CONTROL.TEMPORARY_ON:
      case OSDP_OUT_CONTROL.TEMPORARY_OFF: {
        endTemporary();
        // A zero timer is a temporary state that is over at once.
        if (timerMs === 0) break;
        const timer = setTimeout(() => {
          const was = current(o);
          o.temporary = null;
          this.changed(outputNo, was, current(o));
        }, timerMs);
        o.temporary = { on: code === OSDP_OUT_CONTROL.TEMPORARY_ON, timer };
        break;
      }
      // NOP: nothing to do
    }
    this.changed(outputNo, before, current(o));
  }

  private changed(output: number, before: boolean, after: boolean): void {
    if (before !== after) this.emit('output', { output, on: after });
  }
}

const current = (o: OutputState): boolean => o.temporary?.on ?? o.permanent;
