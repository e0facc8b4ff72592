import type { Profile } from '../../../firmware-profiles/index.js';
import type { AgentDecision, AgentLog } from '../agent.js';
import type { DeviceAssignment, Driver, DriverContext, DriverFactory } from '../drivers/driver.js';
import { DEFAULT_BACKOFF, DeviceSupervisor, type BackoffOptions } from './supervisor.js';

/** The agent's services a device runtime uses; the agent provides them over MQTT and its journal. */
export interface DeviceHost {
  log: AgentLog;
  publishAvailability(device: string, online: boolean): void;
  publishState(device: string, state: Record<string, unknown>): void;
  emit(device: string, type: string, data: Record<string, unknown>, at?: Date): void;
  credential(reader: string, credential: string, kind: 'card' | 'qr' | 'pin'): Promise<AgentDecision>;
  input(device: string, index: number, active: boolean, at: number): void;
  secret(ref: string): string | undefined;
}

interface Running {
  key: string;
  assignment: DeviceAssignment;
  supervisor: DeviceSupervisor;
  state: Record<string, unknown>;
}

/**
 * Runs the devices of the agent's configuration, one supervisor each. `apply` brings the running set
 * in line with a new configuration: a device whose assignment is unchanged keeps running untouched, a
 * changed one is restarted, a removed or disabled one is stopped and reported offline.
 */
export class DeviceRuntime {
  private readonly devices = new Map<string, Running>();
  private applying: Promise<void> = Promise.resolve();

  constructor(
    private readonly host: DeviceHost,
    private readonly profiles: Map<string, Profile>,
    private readonly drivers: Partial<Record<string, DriverFactory | null>>,
    private readonly backoff: BackoffOptions = DEFAULT_BACKOFF,
  ) {}

  /** The running driver of a device, or null while it is down or unknown. */
  driver(device: string): Driver | null {
    return this.devices.get(device)?.supervisor.current ?? null;
  }

  has(device: string): boolean {
    return this.devices.has(device);
  }

  get ids(): string[] {
    return [...this.devices.keys()];
  }

  /** Serialised: a config arriving while the previous one is being applied waits its turn. */
  apply(assignments: DeviceAssignment[]): Promise<void> {
    this.applying = this.applying.then(() => this.reconcile(assignments));
    return this.applying;
  }

  async stopAll(): Promise<void> {
    await this.apply([]);
  }

  private async reconcile(assignments: DeviceAssignment[]): Promise<void> {
    const wanted = new Map<string, DeviceAssignment>();
    for (const a of assignments) if (a.enabled !== false) wanted.set(a.device, a);
    for (const [id, running] of [...this.devices]) {
      const next = wanted.get(id);
      if (next && JSON.stringify(next) === running.key) continue;
      this.devices.delete(id);
      await running.supervisor.stop();
      if (!next) {
        this.host.publishAvailability(id, false);
        this.host.log.info({ device: id }, 'device removed from this agent');
      }
    }
    for (const [id, assignment] of wanted) {
      if (this.devices.has(id)) continue;
      const profile = this.profiles.get(assignment.profile);
      const factory = profile ? this.drivers[profile.protocol] : undefined;
      if (!profile || factory === undefined) {
        this.host.log.warn({ device: id, profile: assignment.profile }, profile ? `no driver for protocol ${profile.protocol}` : 'unknown profile: device not started');
        this.host.publishAvailability(id, false);
        continue;
      }
      // Devices that speak MQTT themselves (terminals, nameplates) need no driver: they publish their own availability.
      if (factory === null) continue;
      const running: Running = { key: JSON.stringify(assignment), assignment, state: {}, supervisor: null as unknown as DeviceSupervisor };
      running.supervisor = new DeviceSupervisor(factory, (fail) => this.context(running, profile, fail), {
        availability: (online, detail) => {
          if (this.devices.get(id) !== running) return;
          this.host.publishAvailability(id, online);
          if (online) this.host.log.info({ device: id }, 'device online');
          else this.host.log.warn({ device: id, err: detail.error, retry_in_ms: detail.retryInMs }, 'device offline; restarting after backoff');
        },
      }, this.backoff);
      this.devices.set(id, running);
      running.supervisor.start();
    }
  }

  private context(running: Running, profile: Profile, fail: (err: Error) => void): DriverContext {
    const { assignment } = running;
    const device = assignment.device;
    const log: AgentLog = {
      info: (obj, msg) => this.host.log.info({ device, ...obj }, msg),
      warn: (obj, msg) => this.host.log.warn({ device, ...obj }, msg),
    };
    return {
      assignment,
      profile,
      settings: { ...(profile.defaults ?? {}), ...(assignment.settings ?? {}) },
      log,
      setState: (state) => {
        if (this.devices.get(device) !== running) return;
        running.state = { ...running.state, ...state };
        this.host.publishState(device, running.state);
      },
      emit: (type, data, at) => this.host.emit(device, type, data, at),
      credential: (credential, kind) => this.host.credential(device, credential, kind),
      input: (index, active, at) => this.host.input(device, index, active, at),
      secret: (ref) => this.host.secret(ref),
      fail,
    };
  }
}
