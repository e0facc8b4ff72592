import { SerialPort } from 'serialport';
import { encodeRelay } from '../../protocols/usb-relay.js';

/** What the relay driver needs of a port: writing bytes and knowing they left. */
export interface ByteSink {
  write(data: Buffer | Uint8Array, callback: (err?: Error | null) => void): boolean;
  drain(callback: (err?: Error | null) => void): void;
}

/**
 * A USB-serial relay board (LCUS family): one command per switch, no reply, so the door contact (or an
 * OSDP controller's input) is the source of truth for the door itself.
 */
export class RelayBoard {
  private readonly timers = new Map<number, NodeJS.Timeout>();

  constructor(private readonly port: ByteSink) {}

  /** Switches one channel; resolves once the bytes have left the serial port. */
  set(channel: number, on: boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      this.port.write(encodeRelay({ channel, on }), (err) => (err ? reject(err) : this.port.drain((e) => (e ? reject(e) : resolve()))));
    });
  }

  /**
   * Energises a channel for `ms` (a door strike's release), then releases it. A second pulse while the
   * first runs extends it rather than cutting it short.
   */
  async pulse(channel: number, ms: number): Promise<void> {
    clearTimeout(this.timers.get(channel));
    await this.set(channel, true);
    this.timers.set(
      channel,
      setTimeout(() => {
        this.timers.delete(channel);
        void this.set(channel, false).catch(() => {});
      }, ms),
    );
  }

  /** Stops pending releases; with `releaseAll`, switches every pulsed channel off first. */
  async close(releaseAll = true): Promise<void> {
    const channels = [...this.timers.keys()];
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    if (releaseAll) for (const c of channels) await this.set(c, false).catch(() => {});
  }
}

/** Opens a serial port the way LCUS boards expect (9600 8N1 unless the profile says otherwise). */
export async function openSerial(path: string, baudRate = 9600): Promise<SerialPort> {
  const port = new SerialPort({ path, baudRate, dataBits: 8, parity: 'none', stopBits: 1, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
  return port;
}
