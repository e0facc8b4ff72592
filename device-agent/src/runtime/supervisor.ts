import type { Driver, DriverContext, DriverFactory } from '../drivers/driver.js';

export interface BackoffOptions {
  /** first delay after a failure */
  minMs: number;
  /** the delay doubles up to this */
  maxMs: number;
  /** a driver that ran this long before failing starts again at `minMs` */
  stableMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { minMs: 1000, maxMs: 60_000, stableMs: 60_000 };

/** What a supervisor reports upwards: the runtime turns these into retained MQTT messages and log lines. */
export interface SupervisorHost {
  availability(online: boolean, detail: { error?: string; retryInMs?: number }): void;
}

/**
 * Keeps one device's driver running: starts it, and when it fails (start throws, or the driver calls
 * `ctx.fail`) stops it, reports the device offline and starts a fresh driver after a delay that doubles
 * with each failure in a row. A failure in one device never reaches another: each has its own
 * supervisor, and every driver call is wrapped.
 */
export class DeviceSupervisor {
  private driver: Driver | null = null;
  private running = false;
  private generation = 0;
  private failures = 0;
  private startedAt = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private settled: Promise<void> = Promise.resolve();
  readonly stats = { starts: 0, failures: 0 };

  constructor(
    private readonly factory: DriverFactory,
    private readonly makeContext: (fail: (err: Error) => void) => DriverContext,
    private readonly host: SupervisorHost,
    private readonly backoff: BackoffOptions = DEFAULT_BACKOFF,
  ) {}

  /** The driver while it runs, for door releases and commands; null while it is down. */
  get current(): Driver | null {
    return this.running ? this.driver : null;
  }

  start(): void {
    if (this.retryTimer || this.driver) return;
    void this.launch();
  }

  /** Stops the driver for good (config change or shutdown); no restart follows. */
  async stop(): Promise<void> {
    this.generation++;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    await this.settled;
    await this.halt();
  }

  private async launch(): Promise<void> {
    this.retryTimer = null;
    const generation = ++this.generation;
    const fail = (err: Error) => {
      // A late failure from a driver already replaced or stopped changes nothing.
      if (generation === this.generation) void this.failed(err);
    };
    let done!: () => void;
    this.settled = new Promise((r) => (done = r));
    try {
      this.stats.starts++;
      this.driver = this.factory(this.makeContext(fail));
      await this.driver.start();
      if (generation !== this.generation) return;
      this.running = true;
      this.startedAt = Date.now();
      this.host.availability(true, {});
    } catch (err) {
      if (generation === this.generation) queueMicrotask(() => fail(err instanceof Error ? err : new Error(String(err))));
    } finally {
      done();
    }
  }

  private async failed(err: Error): Promise<void> {
    this.generation++;
    this.stats.failures++;
    const ranMs = this.running ? Date.now() - this.startedAt : 0;
    this.failures = ranMs >= this.backoff.stableMs ? 1 : this.failures + 1;
    await this.halt();
    const delay = Math.min(this.backoff.maxMs, this.backoff.minMs * 2 ** (this.failures - 1));
    this.host.availability(false, { error: err.message, retryInMs: delay });
    const generation = this.generation;
    this.retryTimer = setTimeout(() => {
      if (generation === this.generation) void this.launch();
    }, delay);
    this.retryTimer.unref?.();
  }

  private async halt(): Promise<void> {
    const driver = this.driver;
    this.driver = null;
    this.running = false;
    // A driver's stop must not throw; one that does is still considered stopped.
    if (driver) await driver.stop().catch(() => {});
  }
}
