import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { encodeReply, encodeStatus, MdcCmd, MdcDeframer, MdcInput, type MdcStatus } from '../protocols/mdc.js';

/**
 * A simulated Samsung MDC display on TCP: keeps power, volume, mute and input, ACKs what it
 * understands (echoing the value set), NAKs the rest, and answers status with its state.
 */
export class MdcDisplaySimulator {
  readonly state: MdcStatus = { power: false, volume: 20, mute: false, input: MdcInput.HDMI1, aspect: 0, nTimeNF: 0, fTimeNF: 0 };
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly displayId = 0) {}

  async listen(port = 0, host = '127.0.0.1'): Promise<number> {
    this.server = createServer((socket) => {
      socket.setNoDelay(true);
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => {});
      this.attach(socket);
    });
    await new Promise<void>((resolve) => this.server!.listen(port, host, resolve));
    return (this.server.address() as AddressInfo).port;
  }

  /** Answers on any byte stream: a TCP connection, or the device end of an RS-232 line (a pty pair). */
  attach(line: { on(event: 'data', listener: (chunk: Buffer) => void): unknown; write(data: Uint8Array): unknown }): void {
    const deframer = new MdcDeframer('command');
    line.on('data', (chunk: Buffer) => {
      for (const item of deframer.push(chunk)) if ('frame' in item) line.write(this.answer(item.frame.cmd, item.frame.id, item.frame.data));
    });
  }

  /** Switches the panel off the network: open connections drop, as when its cable is pulled. */
  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server?.listening ? this.server.close(() => resolve()) : resolve()));
  }

  private answer(cmd: number, id: number, data: Uint8Array): Uint8Array {
    const ack = (payload: number[] | Uint8Array) => encodeReply({ id, ack: true, rcmd: cmd, data: payload });
    if (id !== this.displayId && id !== 0xfe) return encodeReply({ id, ack: false, rcmd: cmd, data: [0x01] });
    switch (cmd) {
      case MdcCmd.STATUS:
        return ack(encodeStatus(this.state));
      case MdcCmd.POWER:
        if (data.length) this.state.power = data[0] === 1;
        return ack([this.state.power ? 1 : 0]);
      case MdcCmd.VOLUME:
        if (data.length) this.state.volume = data[0]!;
        return ack([this.state.volume]);
      case MdcCmd.INPUT_SOURCE:
        if (data.length) this.state.input = data[0]!;
        return ack([this.state.input]);
      default:
        return encodeReply({ id, ack: false, rcmd: cmd, data: [0x02] });
    }
  }
}
