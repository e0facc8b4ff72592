import { once } from 'node:events';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { Aedes } from 'aedes';
import { ptyPair as makePtyPair } from '../../device-agent/src/simulators/pty.js';

interface Teardown {
  teardown(fn: () => unknown): void;
}

/**
 * A real MQTT broker (aedes, no authentication) of the test's own, so a test can stop it and start it
 * again on the same port. Stopped at teardown if still running.
 */
export async function startBroker(t: Teardown | null, port = 0): Promise<{ port: number; url: string; stop: () => Promise<void> }> {
  const broker = await Aedes.createBroker();
  const server: Server = createServer(broker.handle);
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await new Promise<void>((r) => broker.close(() => r()));
    await new Promise<void>((r) => server.close(() => r()));
  };
  t?.teardown(stop);
  const actual = (server.address() as AddressInfo).port;
  return { port: actual, url: `mqtt://127.0.0.1:${actual}`, stop };
}

/** A pair of connected pseudo-terminals (socat), as `<dir>/<name>-agent` and `<dir>/<name>-device`, gone at teardown. */
export async function ptyPair(t: Teardown, dir: string, name: string): Promise<{ a: string; b: string }> {
  const pair = await makePtyPair(dir, name);
  t.teardown(() => pair.stop());
  return pair;
}

/** Polls `ok` until it holds or `ms` pass; returns its last answer. */
export async function until(ok: () => Promise<boolean> | boolean, ms = 5000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await ok()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return ok();
}
