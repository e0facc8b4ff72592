import { realpath } from 'node:fs/promises';
import path from 'node:path';
import type { Device } from 'node-hid';
import { isWedgeCardFormat, KeyboardWedgeDecoder, toAccessCard, WEDGE_CARD_FORMATS } from '../../protocols/hid-keyboard.js';
import { FrameError } from '../../protocols/errors.js';
import type { DriverContext, DriverFactory } from '../driver.js';

export interface HidOpenOptions {
  /** the config's hidraw path (`/dev/hidrawN`); omitted: the first device with these ids */
  path?: string;
  vendorId: number;
  productId: number;
  serialNumber?: string;
}

/**
 * An open HID device, the part of an EventEmitter the driver uses (node-hid's HIDAsync is an untyped
 * one): input reports as `data`, loss of the device (unplugged) as `error`.
 */
export interface HidHandle {
  on(event: 'data', listener: (report: Buffer) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  close(): Promise<void> | void;
}

/** Opens HID devices; node-hid on a real host, `SimulatedHidReader` (simulators/hid-card-reader.ts) elsewhere. */
export interface HidBinding {
  open(opts: HidOpenOptions): Promise<HidHandle>;
}

/** node-hid cannot run on this host (its native module or libusb is missing). */
export class HidUnavailableError extends Error {
  constructor(cause: Error) {
    super(`USB HID is unavailable on this host (node-hid: ${cause.message}); install libusb-1.0-0`);
    this.name = 'HidUnavailableError';
  }
}

/** A USB id from a profile: `"ffff"`, `"0xffff"` or a number. */
function usbId(value: string | number): number {
  return typeof value === 'number' ? value : parseInt(value.replace(/^0x/i, ''), 16);
}

const hex4 = (n: number) => n.toString(16).padStart(4, '0');

type NodeHid = typeof import('node-hid');
let nodeHid: Promise<NodeHid> | null = null;

/**
 * node-hid, loaded on first use so that a host without it (or without libusb) still runs every other
 * driver. On Linux it uses its libusb backend: the default hidraw backend reads alongside the kernel's
 * keyboard driver, so every card would also be typed into whatever window has focus; libusb detaches
 * that driver and claims the interface for the agent alone (hidapi attaches it again on close).
 */
function loadNodeHid(): Promise<NodeHid> {
  nodeHid ??= import('node-hid').then((hid) => {
    if (process.platform === 'linux') hid.setDriverType('libusb');
    return hid;
  });
  return nodeHid;
}

/** The HID devices with these ids the agent can open (any, without ids). Rejects with HidUnavailableError. */
export async function listHidDevices(vendorId?: number, productId?: number): Promise<Device[]> {
  try {
    const hid = await loadNodeHid();
    return vendorId === undefined || productId === undefined ? await hid.devicesAsync() : await hid.devicesAsync(vendorId, productId);
  } catch (err) {
    nodeHid = null;
    throw new HidUnavailableError(err as Error);
  }
}

/**
 * libusb names an interface the way sysfs does (`1-2.3:1.0`), while the config names the hidraw node the
 * kernel made for it: the node's sysfs device sits right under that interface.
 */
async function usbInterfaceOf(hidraw: string): Promise<string> {
  // A udev link such as /dev/lawbox/lobby-reader names the node it points at, not itself.
  const node = await realpath(hidraw).catch(() => hidraw);
  const device = await realpath(`/sys/class/hidraw/${path.basename(node)}/device`).catch(() => {
    throw new Error(`${hidraw} is not a hidraw device of this host`);
  });
  return path.basename(path.dirname(device));
}

export const nodeHidBinding: HidBinding = {
  async open({ path: hidraw, vendorId, productId, serialNumber }) {
    const found = await listHidDevices(vendorId, productId);
    const wanted = hidraw && process.platform === 'linux' ? await usbInterfaceOf(hidraw) : hidraw;
    const candidates = found.filter((d) => (!serialNumber || d.serialNumber === serialNumber) && (!wanted || d.path === wanted));
    // A reader may expose more than one interface (keys plus consumer controls): the keyboard is the one that types.
    const device = candidates.find((d) => d.usagePage === 1 && d.usage === 6) ?? candidates[0];
    if (!device?.path) throw new Error(`no such device is connected${hidraw ? ` at ${hidraw}` : ''}${serialNumber ? ` with serial number ${serialNumber}` : ''}`);
    const hid = await loadNodeHid();
    return hid.HIDAsync.open(device.path).catch((err: Error) => {
      throw new Error(`${err.message} (the agent's user needs write access to the USB device: a udev rule for ${hex4(vendorId)}:${hex4(productId)})`);
    });
  },
};

/** The reader's ids and the settings that shape its reads, checked before the device is touched. */
function readerSetup(ctx: DriverContext) {
  const transport = ctx.profile.transports.find((t) => t.type === 'hid');
  if (!transport || transport.type !== 'hid') throw new Error(`profile ${ctx.profile.id} has no hid transport`);
  const format = ctx.settings.card_format ?? 'decimal_10';
  if (!isWedgeCardFormat(format)) throw new Error(`card_format ${JSON.stringify(format)} is not one a keyboard-wedge reader types; use one of ${WEDGE_CARD_FORMATS.join(', ')}`);
  const debounceMs = Number(ctx.settings.debounce_ms ?? 1000);
  if (!(debounceMs >= 0)) throw new Error(`debounce_ms ${JSON.stringify(ctx.settings.debounce_ms)} is not a number of milliseconds`);
  const { path: hidraw, serial_number: serialNumber } = ctx.assignment.transport;
  const opts: HidOpenOptions = {
    vendorId: usbId(transport.vendor_id),
    productId: usbId(transport.product_id),
    ...(typeof hidraw === 'string' ? { path: hidraw } : {}),
    ...(typeof serialNumber === 'string' ? { serialNumber } : {}),
  };
  return { opts, format, debounceMs, name: `${hex4(opts.vendorId)}:${hex4(opts.productId)}` };
}

/**
 * A USB keyboard-wedge card reader (typically beside a door on a USB relay, or at the front desk to
 * enrol cards). Each card read is decided at once on this host; the door decision's own event names
 * the card, so `card_read` is emitted only for a reader that belongs to no door, where reading the card
 * is all there is to report.
 */
export function createHidCardReaderDriver(binding: HidBinding = nodeHidBinding): DriverFactory {
  return (ctx) => {
    let handle: HidHandle | null = null;
    /** the last card read and when: a card held to the reader is typed again and again, and opens once */
    let last = { card: '', at: -Infinity };
    return {
      async start() {
        const { opts, format, debounceMs, name } = readerSetup(ctx);
        const decoder = new KeyboardWedgeDecoder();
        const read = async (card: string, now: number) => {
          const repeated = card === last.card && now - last.at < debounceMs;
          last = { card, at: now };
          if (repeated) return;
          const decision = await ctx.credential(card, 'card');
          if (decision.reason === 'reader_not_assigned') ctx.emit('card_read', { card_number: card });
        };
        const opened = await binding.open(opts).catch((err: Error) => {
          throw new Error(`cannot open the USB HID card reader ${name}: ${err.message}`);
        });
        handle = opened;
        opened.on('data', (report) => {
          if (handle !== opened) return;
          const now = performance.now();
          for (const item of decoder.push(report, now)) {
            if ('error' in item) {
              ctx.log.warn({ err: item.error.message, code: item.error.code }, 'card read discarded');
              continue;
            }
            let card: string;
            try {
              card = toAccessCard(item.card, format);
            } catch (err) {
              if (!(err instanceof FrameError)) throw err;
              ctx.log.warn({ err: err.message, code: err.code }, `card read does not fit card_format ${format}`);
              continue;
            }
            void read(card, now).catch((err: Error) => ctx.log.warn({ err: err.message }, 'card read not handled'));
          }
        });
        opened.on('error', (err) => {
          if (handle === opened) ctx.fail(new Error(`the USB HID card reader ${name} was lost: ${err.message}`));
        });
        ctx.setState({ reader: 'ready' });
      },
      async stop() {
        const h = handle;
        handle = null;
        // A reader already unplugged may refuse to close; it is released either way.
        await Promise.resolve(h?.close()).catch(() => {});
      },
    };
  };
}

export const hidCardReaderDriver: DriverFactory = createHidCardReaderDriver();
