import { connect, type Socket } from 'node:net';
import { CommandError } from '../../agent.js';
import type { DriverFactory } from '../driver.js';
import { openSerial, serialBaud } from '../serial/relay.js';
import { expectAck, getStatus, inputName, inputSource, MdcCmd, MdcDeframer, MdcInput, parseStatus, power, volume, type MdcInputName, type MdcReply, type MdcStatus } from '../../protocols/mdc.js';

/** What the display speaks over: a TCP socket or a serial port, both byte streams. */
type Line = Pick<Socket, 'write' | 'on'> & { destroyed?: boolean; isOpen?: boolean; destroy?(): void; close?(): void };

/**
 * A Samsung MDC display over TCP (port 1515) or RS-232 (`path`, 9600 8N1). One command in flight at a
 * time, each answered by an ACK/NAK within `replyTimeoutMs`; the line is opened on first use and again
 * after a failure.
 */
export class MdcDisplay {
  private socket: Line | null = null;
  private readonly deframer = new MdcDeframer('reply');
  private pending: { resolve: (r: MdcReply) => void; reject: (e: Error) => void; timer: NodeJS.Timeout } | null = null;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: { host?: string; port?: number; path?: string; baudRate?: number; displayId?: number; replyTimeoutMs?: number }) {}

  async setPower(on: boolean): Promise<void> {
    expectAck(await this.send(power(this.id, on)), MdcCmd.POWER);
  }

  async setVolume(level: number): Promise<void> {
    expectAck(await this.send(volume(this.id, level)), MdcCmd.VOLUME);
  }

  async setInput(source: MdcInputName): Promise<void> {
    expectAck(await this.send(inputSource(this.id, source)), MdcCmd.INPUT_SOURCE);
  }

  async status(): Promise<MdcStatus> {
    return parseStatus(expectAck(await this.send(getStatus(this.id)), MdcCmd.STATUS));
  }

  close(): void {
    const line = this.socket;
    this.socket = null;
    // A serial port must be closed to give up its lock; a socket is destroyed.
    if (line?.isOpen !== undefined) {
      if (line.isOpen) line.close?.();
    } else line?.destroy?.();
  }

  private get id(): number {
    return this.opts.displayId ?? 0;
  }

  private send(bytes: Uint8Array): Promise<MdcReply> {
    const run = this.queue.then(() => this.exchange(bytes));
    this.queue = run.catch(() => {});
    return run;
  }

  private async exchange(bytes: Uint8Array): Promise<MdcReply> {
    const socket = await this.connection();
    return new Promise<MdcReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending = null;
        reject(new CommandError('DEVICE_TIMEOUT', `no MDC reply within ${this.opts.replyTimeoutMs ?? 2000} ms`));
      }, this.opts.replyTimeoutMs ?? 2000);
      this.pending = { resolve, reject, timer };
      socket.write(bytes);
    });
  }

  private async connection(): Promise<Line> {
    if (this.socket && !this.socket.destroyed && this.socket.isOpen !== false) return this.socket;
    const socket: Line = this.opts.path ? await this.openSerialLine(this.opts.path) : await this.openTcp();
    socket.on('data', (chunk: Buffer) => {
      for (const item of this.deframer.push(chunk)) {
        if (!('frame' in item) || !this.pending) continue;
        const { resolve, timer } = this.pending;
        clearTimeout(timer);
        this.pending = null;
        resolve(item.frame);
      }
    });
    socket.on('close', () => {
      if (this.socket === socket) this.socket = null;
      if (this.pending) {
        clearTimeout(this.pending.timer);
        this.pending.reject(new CommandError('DEVICE_UNREACHABLE', 'the display closed the connection'));
        this.pending = null;
      }
    });
    socket.on('error', () => {});
    this.socket = socket;
    return socket;
  }

  private async openTcp(): Promise<Line> {
    const { host = '', port = 1515 } = this.opts;
    const socket = connect({ host, port, noDelay: true });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', (err) => reject(new CommandError('DEVICE_UNREACHABLE', `display at ${host}:${port}: ${err.message}`)));
    });
    return socket;
  }

  private async openSerialLine(path: string): Promise<Line> {
    try {
      return (await openSerial(path, this.opts.baudRate ?? 9600)) as unknown as Line;
    } catch (err) {
      throw new CommandError('DEVICE_UNREACHABLE', `display on ${path}: ${(err as Error).message}`);
    }
  }
}

/** `/set` for a display: `{power:"on"|"off"}`, `{volume:0-100}`, `{input:"hdmi1"…}`; answers with the state read back. */
export function mdcCommandHandler(display: MdcDisplay) {
  return async (body: Record<string, unknown>): Promise<Record<string, unknown>> => {
    if (body.power !== undefined) {
      if (body.power !== 'on' && body.power !== 'off') throw new CommandError('BAD_VALUE', 'power must be "on" or "off"');
      await display.setPower(body.power === 'on');
    }
    if (body.volume !== undefined) {
      if (typeof body.volume !== 'number' || !Number.isInteger(body.volume) || body.volume < 0 || body.volume > 100) throw new CommandError('BAD_VALUE', 'volume must be 0-100');
      await display.setVolume(body.volume);
    }
    if (body.input !== undefined) {
      const name = String(body.input).toUpperCase();
      if (!Object.hasOwn(MdcInput, name)) throw new CommandError('BAD_VALUE', `unknown input ${String(body.input)}`);
      await display.setInput(name as MdcInputName);
    }
    const s = await display.status();
    return { power: s.power ? 'on' : 'off', volume: s.volume, mute: s.mute, input: (inputName(s.input) ?? `0x${s.input.toString(16)}`).toLowerCase() };
  };
}

/**
 * A Samsung display as a device: its status is read every `poll_interval_ms` and published; a change
 * made with the remote control shows up as `power_changed` / `input_changed`. A panel that stops
 * answering is reported lost and reconnected after a backoff.
 */
export const mdcDisplayDriver: DriverFactory = (ctx) => {
  const transport = ctx.assignment.transport;
  const display = new MdcDisplay({
    ...(transport.type === 'serial' ? { path: String(transport.path), baudRate: serialBaud(ctx, 9600) } : { host: String(transport.host), port: Number(transport.port ?? 1515) }),
    displayId: Number(ctx.settings.mdc_display_id ?? 0),
    replyTimeoutMs: Number(ctx.settings.reply_timeout_ms ?? 1000),
  });
  const handle = mdcCommandHandler(display);
  let timer: NodeJS.Timeout | null = null;
  let last: Record<string, unknown> | null = null;
  const report = (state: Record<string, unknown>) => {
    if (last && last.power !== state.power) ctx.emit('power_changed', { power: state.power });
    if (last && last.input !== state.input) ctx.emit('input_changed', { input: state.input });
    last = state;
    ctx.setState(state);
  };
  const refresh = async () => report(await handle({}));
  return {
    async start() {
      await refresh();
      timer = setInterval(() => void refresh().catch((err: Error) => ctx.fail(err)), Number(ctx.settings.poll_interval_ms ?? 10_000));
    },
    async stop() {
      if (timer) clearInterval(timer);
      display.close();
    },
    async command(body) {
      if (body.action !== undefined && body.action !== 'refresh_status') throw new CommandError('BAD_COMMAND', `unknown action ${String(body.action)}`);
      const { transaction: _t, action: _a, ...properties } = body;
      const state = await handle(properties);
      report(state);
      return state;
    },
  };
};
