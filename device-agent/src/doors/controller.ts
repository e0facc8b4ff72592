import { randomUUID } from 'node:crypto';
import { canonicalCard } from '../access/decide.js';
import type { AgentDecision } from '../agent.js';
import type { DeviceEvent } from '../bus/events.js';

/**
 * Turns a card read into a door decision, a relay pulse and an event, all on the device host. The
 * decision and the pulse happen before anything touches the network; the event goes to the journal
 * and reaches the server whenever it can.
 */
export interface DoorControllerDeps {
  decide(credential: string, reader: string, at: Date): AgentDecision;
  /** releases a door's lock: `device` and `channel` from the signed list */
  release(device: string, channel: number | undefined, ms: number): Promise<void>;
  publish(event: DeviceEvent): void;
  listVersion(): number | null;
}

export class DoorController {
  constructor(private readonly deps: DoorControllerDeps) {}

  async cardRead(credential: string, reader: string, at = new Date()): Promise<AgentDecision> {
    const decision = this.deps.decide(credential, reader, at);
    let releaseError: string | null = null;
    if (decision.granted && decision.door) {
      // A granted card whose lock could not be driven is still recorded, with why the door stayed shut.
      await this.deps.release(decision.door.device, decision.door.relay_channel, decision.door.pulse_ms).catch((err: Error) => (releaseError = err.message));
    }
    const listVersion = this.deps.listVersion() ?? 0;
    // Only a card number is worth naming; a QR token is a secret and never leaves the host.
    const card = /^[0-9A-Fa-f:\s-]+$/.test(credential) ? canonicalCard(credential) : '';
    const door = decision.door ? { door: decision.door.door } : {};
    this.deps.publish({
      event_id: randomUUID(),
      device: reader,
      type: decision.granted ? 'door_granted' : 'door_denied',
      at: at.toISOString(),
      // A refused card is named, so an unknown card can be traced; a granted one is the list's own.
      data: decision.granted
        ? { ...door, reader, kind: 'card', list_version: listVersion, ...(releaseError ? { release_error: releaseError } : {}) }
        : { ...door, reader, ...(card ? { card_number: card } : {}), reason: decision.reason, list_version: listVersion },
    });
    return decision;
  }
}
