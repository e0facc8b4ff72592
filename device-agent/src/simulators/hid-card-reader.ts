import { EventEmitter } from 'node:events';
import type { HidBinding, HidHandle, HidOpenOptions } from '../drivers/hid/card-reader.js';
import { cardText, keystrokes, type WedgeCardFormat } from '../protocols/hid-keyboard.js';

export interface SimulatedHidDevice {
  vendorId: number;
  productId: number;
  serialNumber?: string;
  /** the hidraw node it answers to when the config names one */
  path?: string;
}

/**
 * A keyboard-wedge card reader in memory, standing in for node-hid: a virtual USB HID device needs the
 * uhid kernel module (/dev/uhid), which containers and CI hosts lack. It is both the binding (it opens
 * only when the ids match and the reader is plugged in, and only once: the agent holds it exclusively)
 * and the open handle, which emits real boot-keyboard reports.
 */
export class SimulatedHidReader extends EventEmitter<{ data: [Buffer]; error: [Error] }> implements HidBinding, HidHandle {
  private plugged = true;
  private opened = false;

  constructor(
    /** defaults to the generic reader's OEM ids, ffff:0035 */
    readonly device: SimulatedHidDevice = { vendorId: 0xffff, productId: 0x0035 },
    /** how it types: a report id before every report, each key-down sent `repeat` times */
    private readonly typing: { reportId?: number; repeat?: number } = {},
  ) {
    super();
  }

  async open(opts: HidOpenOptions): Promise<HidHandle> {
    const d = this.device;
    const matches = opts.vendorId === d.vendorId && opts.productId === d.productId && (!opts.serialNumber || opts.serialNumber === d.serialNumber) && (!opts.path || opts.path === d.path);
    if (!this.plugged || !matches) throw new Error('no such device is connected');
    if (this.opened) throw new Error('the device is already open');
    this.opened = true;
    return this;
  }

  /** Like node-hid's close: the handle's listeners go with it. */
  close(): void {
    this.opened = false;
    this.removeAllListeners();
  }

  /** Types a card the way a reader set to `format` does: its number, then Enter. */
  present(card: string, format: WedgeCardFormat = 'decimal_10'): Promise<void> {
    return this.type(cardText(card, format));
  }

  /**
   * Types `text` and Enter, one report per macrotask as separate USB transfers arrive. Typed while
   * nobody holds the reader, the keys are lost, as a real one's would go to the desktop instead.
   */
  async type(text: string): Promise<void> {
    for (const report of keystrokes(text, this.typing)) {
      await new Promise((r) => setImmediate(r));
      if (this.opened) this.emit('data', Buffer.from(report));
    }
  }

  /** Pulls the reader out: the open handle reports a read error, as node-hid does, and it cannot be opened again. */
  unplug(): void {
    this.plugged = false;
    if (this.opened) this.emit('error', new Error('could not read from HID device'));
  }
}
