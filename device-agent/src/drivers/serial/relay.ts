import { SerialPort } from 'serialport';
import { CommandError } from '../../agent.js';
import { encodeRelay } from '../../protocols/usb-relay.js';
import type { DriverContext, DriverFactory } from '../driver.js';

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
  async pulse(channel: number, ms: number, switched?: (on: boolean) => void): Promise<void> {
    clearTimeout(this.timers.get(channel));
    await this.set(channel, true);
    switched?.(true);
    this.timers.set(
      channel,
      setTimeout(() => {
        this.timers.delete(channel);
        void this.set(channel, false).then(() => switched?.(false), () => {});
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

/** The baud rate of a serial device: the instance's override, else the profile's line settings. */
export function serialBaud(ctx: DriverContext, fallback: number): number {
  const line = ctx.profile.transports.find((t) => t.type === 'serial');
  return Number(ctx.assignment.transport.baud_rate ?? (line && 'baud_rate' in line ? line.baud_rate : fallback));
}

/**
 * Opens the instance's serial port and reports its loss: a USB adapter pulled out closes the port,
 * and the supervisor starts the driver again once it is back.
 */
export async function openDeviceSerial(ctx: DriverContext, fallbackBaud: number): Promise<SerialPort> {
  const path = String(ctx.assignment.transport.path ?? '');
  const port = await openSerial(path, serialBaud(ctx, fallbackBaud)).catch((err: Error) => {
    throw new Error(`cannot open ${path}: ${err.message}`);
  });
  port.on('close', () => ctx.fail(new Error(`${path} closed`)));
  port.on('error', (err) => ctx.fail(new Error(`${path}: ${err.message}`)));
  return port;
}

/** Closes a port opened by `openDeviceSerial` without reporting it as lost. */
export function closeDeviceSerial(port: SerialPort | null): Promise<void> {
  if (!port) return Promise.resolve();
  port.removeAllListeners('close');
  port.removeAllListeners('error');
  port.on('error', () => {});
  return new Promise((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve()));
}

/** A relay channel from a command (1 when omitted), checked against the device's channel count. */
export const channelOf = (value: unknown, channels: number): number => {
  const channel = value === undefined ? 1 : value;
  if (typeof channel !== 'number' || !Number.isInteger(channel) || channel < 1 || channel > channels) throw new CommandError('BAD_VALUE', `channel must be 1-${channels}`);
  return channel;
};

/**
 * An LCUS relay board as a device: `/set {"relay":"on"|"off"}` holds channel 1, the `pulse` action
 * (`{"action":"pulse","params":{"channel":1,"pulse_ms":3000}}`) releases a lock for a while, and the
 * access list's doors release through `release`.
 */
export const relayBoardDriver: DriverFactory = (ctx) => {
  let port: SerialPort | null = null;
  let board: RelayBoard | null = null;
  const channels = Number(ctx.settings.relay_channels ?? 1);
  const relays: Record<string, 'on' | 'off'> = {};
  const switched = (channel: number, on: boolean) => {
    relays[`relay_${channel}`] = on ? 'on' : 'off';
    ctx.setState({ ...relays });
    ctx.emit('relay_changed', { channel, state: on ? 'on' : 'off' });
  };
  const pulse = async (channel: number, ms: number) => {
    if (!board) throw new CommandError('DEVICE_UNAVAILABLE', 'the relay board is not connected');
    await board.pulse(channel, ms, (on) => switched(channel, on));
  };
  return {
    async start() {
      port = await openDeviceSerial(ctx, 9600);
      board = new RelayBoard(port);
      // A restarted agent must not leave a lock released: every channel starts off.
      for (let c = 1; c <= channels; c++) {
        await board.set(c, false);
        relays[`relay_${c}`] = 'off';
      }
      ctx.setState({ ...relays });
    },
    async stop() {
      await board?.close(true);
      board = null;
      await closeDeviceSerial(port);
      port = null;
    },
    release: (channel, ms) => pulse(channel ?? 1, ms),
    async command(body) {
      if (!board) throw new CommandError('DEVICE_UNAVAILABLE', 'the relay board is not connected');
      if (body.action === 'pulse' || body.action === 'open') {
        const params = (body.params ?? {}) as Record<string, unknown>;
        const ms = params.pulse_ms ?? params.duration_ms ?? ctx.settings.pulse_ms ?? 3000;
        if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 100 || ms > 60_000) throw new CommandError('BAD_VALUE', 'pulse_ms must be 100-60000');
        await pulse(channelOf(params.channel, channels), ms);
        return { ...relays };
      }
      if (body.relay !== undefined) {
        if (body.relay !== 'on' && body.relay !== 'off') throw new CommandError('BAD_VALUE', 'relay must be "on" or "off"');
        const channel = channelOf(body.channel, channels);
        await board.set(channel, body.relay === 'on');
        switched(channel, body.relay === 'on');
        return { ...relays };
      }
      throw new CommandError('BAD_COMMAND', 'expected {"relay":"on"|"off"} or the pulse action');
    },
  };
};
