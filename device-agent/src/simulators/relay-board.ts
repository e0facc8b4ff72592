import { EventEmitter } from 'node:events';
import { loadProfiles } from '../../../firmware-profiles/index.js';
import type { SerialLike } from '../drivers/serial/osdp-cp.js';
import { RELAY_MAX_CHANNEL, RELAY_MIN_CHANNEL, RelayDeframer } from '../protocols/usb-relay.js';

export interface RelayChange {
  channel: number;
  on: boolean;
  at: Date;
}

/**
 * A simulated LCUS USB relay board on the device end of a serial line: it switches its relays on the
 * 4-byte commands it reads and never answers, like most boards (the codec models no status query, so
 * an `FF` query is noise here). A relay that really changes emits `change`; commanding the state a relay
 * is already in changes nothing, as on the board.
 */
export class RelayBoardSimulator extends EventEmitter<{ change: [RelayChange] }> {
  /** Relays on the board: the option, else the LCUS profile's `relay_channels` (LCUS-1: one). */
  readonly channels: number;
  readonly #relays: boolean[];
  readonly #deframer = new RelayDeframer();
  #badFrames = 0;

  constructor(
    private readonly port: Pick<SerialLike, 'on' | 'off'>,
    opts: { channels?: number } = {},
  ) {
    super();
    const channels = opts.channels ?? loadProfiles().get('lctech/lcus-1')?.defaults?.relay_channels ?? 1;
    if (!Number.isInteger(channels) || channels < RELAY_MIN_CHANNEL || channels > RELAY_MAX_CHANNEL) {
      throw new RangeError(`a relay board has ${RELAY_MIN_CHANNEL}–${RELAY_MAX_CHANNEL} channels, not ${channels}`);
    }
    this.channels = channels;
    this.#relays = new Array<boolean>(channels).fill(false);
    port.on('data', this.onData);
  }

  isOn(channel: number): boolean {
    return this.#relays[channel - 1] ?? false;
  }

  /**
   * Byte runs the board could not act on: noise or a corrupted command (each run between two good
   * commands counts once), and well-formed commands for a channel the board does not have.
   */
  get badFrames(): number {
    return this.#badFrames;
  }

  /** Stops listening; the port stays open (its owner closes it). */
  close(): void {
    this.port.off('data', this.onData);
  }

  private readonly onData = (chunk: Buffer): void => {
    for (const item of this.#deframer.push(chunk)) {
      if ('error' in item || item.command.channel > this.channels) {
        this.#badFrames += 1;
        continue;
      }
      const { channel, on } = item.command;
      if (this.#relays[channel - 1] === on) continue;
      this.#relays[channel - 1] = on;
      this.emit('change', { channel, on, at: new Date() });
    }
  };
}
