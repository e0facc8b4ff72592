import WebSocket from 'ws';

export interface Teardown {
  teardown(fn: () => unknown): void;
}

/** A live-events WebSocket client for tests (`/api/ws`). */
export type Message = { type: string; topic?: string; code?: string; topics?: string[]; data?: Record<string, unknown> };

/** A WebSocket that keeps every message it receives, so a test can wait for the one it expects. */
export interface Client {
  socket: WebSocket;
  /** resolves with the first message (already received or still to come) that matches; rejects after `ms` */
  waitFor(match: (m: Message) => boolean, ms?: number): Promise<Message>;
  /** resolves true if no matching message arrives within `ms` */
  noneWithin(match: (m: Message) => boolean, ms: number): Promise<boolean>;
  send(value: unknown): void;
}

export async function connectWs(t: Teardown, url: string, headers: Record<string, string>): Promise<Client> {
  const socket = new WebSocket(url, { headers });
  const received: Message[] = [];
  const waiters = new Set<() => void>();
  socket.on('message', (raw) => {
    received.push(JSON.parse(raw.toString()) as Message);
    for (const w of waiters) w();
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  t.teardown(() => socket.close());
  let consumed = 0;
  const waitFor = (match: (m: Message) => boolean, ms = 3000) =>
    new Promise<Message>((resolve, reject) => {
      const check = () => {
        for (let i = consumed; i < received.length; i++) {
          if (match(received[i]!)) {
            consumed = i + 1;
            cleanup();
            resolve(received[i]!);
            return;
          }
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`no matching message within ${ms} ms; received: ${JSON.stringify(received.slice(consumed))}`));
      }, ms);
      const cleanup = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });
  return {
    socket,
    waitFor,
    noneWithin: (match, ms) => waitFor(match, ms).then(() => false, () => true),
    send: (value) => socket.send(typeof value === 'string' ? value : JSON.stringify(value)),
  };
}

