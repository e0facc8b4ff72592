import type { MqttClient } from 'mqtt';
import type { Journal, JournalEvent } from '../journal/journal.js';

/**
 * Sends journaled events to the server and forgets them only when the server says it has stored them.
 *
 * A broker's PUBACK is not enough: a broker restart, or a server that was not subscribed at that
 * moment, loses a message the broker had acknowledged. So the server answers every stored (or already
 * stored) event on `lawbox/device/<device>/event_ack` with its `event_id`, and only that answer removes
 * the event from the journal. Until then it is sent again after `resendAfterMs` and after every
 * reconnection; the server stores by `event_id`, so a repeat is harmless. The result: each event is in
 * the database exactly once, whatever fails in between.
 */
export interface DeviceEvent extends JournalEvent {
  event_id: string;
  device: string;
  type: string;
  at: string;
  data: Record<string, unknown>;
}

export const eventTopic = (e: Pick<DeviceEvent, 'device' | 'type'>) => `lawbox/event/${e.device}/${e.type}`;
/** The message body, as firmware-profiles/schema/mqtt/event.schema.json describes it. */
export const eventPayload = (e: DeviceEvent) => JSON.stringify({ event_id: e.event_id, device: e.device, type: e.type, at: e.at, data: e.data });
export const EVENT_ACK_TOPIC = 'lawbox/device/+/event_ack';

export class EventPublisher {
  private readonly lastSent = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;
  private readonly resendAfterMs: number;

  constructor(
    private readonly journal: Journal,
    private readonly client: MqttClient,
    opts: { resendAfterMs?: number } = {},
  ) {
    this.resendAfterMs = opts.resendAfterMs ?? 5000;
    client.on('message', this.onMessage);
    client.on('connect', this.onConnect);
    if (client.connected) this.onConnect();
    this.timer = setInterval(() => this.resend(), Math.max(100, Math.floor(this.resendAfterMs / 2)));
    this.timer.unref();
  }

  /** Journals the event (durable from here on) and sends it when connected. */
  publish(event: DeviceEvent): void {
    this.journal.append(event);
    this.send(event);
  }

  get pending(): number {
    return this.journal.pendingCount;
  }

  close(): void {
    clearInterval(this.timer);
    this.client.off('message', this.onMessage);
    this.client.off('connect', this.onConnect);
  }

  private send(event: JournalEvent): void {
    if (!this.client.connected) return;
    this.lastSent.set(event.event_id, Date.now());
    const e = event as DeviceEvent;
    // Errors (a dropped connection mid-send) need no handling: the event stays pending and is resent.
    this.client.publish(eventTopic(e), eventPayload(e), { qos: 1 }, () => {});
  }

  /** Everything pending not sent within `resendAfterMs`, oldest first. */
  private resend(): void {
    if (!this.client.connected) return;
    const due = Date.now() - this.resendAfterMs;
    for (const e of this.journal.pending()) if ((this.lastSent.get(e.event_id) ?? 0) <= due) this.send(e);
  }

  private readonly onConnect = (): void => {
    this.client.subscribe(EVENT_ACK_TOPIC, { qos: 1 });
    // After a reconnection nothing in flight can be trusted: send every pending event again.
    this.lastSent.clear();
    this.resend();
  };

  private readonly onMessage = (topic: string, payload: Buffer): void => {
    if (!topic.startsWith('lawbox/device/') || !topic.endsWith('/event_ack')) return;
    let ids: unknown;
    try {
      ids = (JSON.parse(payload.toString('utf8')) as { event_ids?: unknown }).event_ids;
    } catch {
      return;
    }
    if (!Array.isArray(ids)) return;
    for (const id of ids) {
      if (typeof id !== 'string') continue;
      this.journal.ack(id);
      this.lastSent.delete(id);
    }
  };
}
