import { sql } from 'kysely';
import type { Db } from '../../db/index.js';
import type { SessionUser } from '../auth/service.js';
import { can, type Permission } from '../auth/roles.js';
import type { Kiosk } from '../kiosks/service.js';

export const REALTIME_CHANNEL = 'lawbox_realtime';

/**
 * Who may subscribe to a topic. A topic is `name` or `name:qualifier`; the rule of its name decides.
 * Modules add their own topics with `registerTopic`.
 */
export type TopicRule = (who: Subscriber, qualifier: string | null) => boolean;

/** Who holds a live connection: a signed-in user or an enrolled kiosk (exactly one of the two). */
export type Subscriber = { user: SessionUser; kiosk: null } | { user: null; kiosk: Kiosk };

/** The usual rule: signed-in users whose role grants `permission` (never a kiosk). */
export const usersWith =
  (permission: Permission): TopicRule =>
  (who) =>
    !!who.user && can(who.user.role, permission);

const rules = new Map<string, TopicRule>([
  // Each user's own notices, e.g. `user:42`.
  ['user', (who, q) => !!who.user && q === String(who.user.id)],
  ['audit', usersWith('audit.read')],
]);

export function registerTopic(name: string, rule: TopicRule): void {
  rules.set(name, rule);
}

export function maySubscribe(who: Subscriber, topic: string): boolean {
  const i = topic.indexOf(':');
  const rule = rules.get(i < 0 ? topic : topic.slice(0, i));
  return !!rule && rule(who, i < 0 ? null : topic.slice(i + 1));
}

export interface RealtimeEvent {
  topic: string;
  data: Record<string, unknown>;
}

/**
 * Announces an event to every server process. Call it inside the transaction of the change: NOTIFY
 * is delivered on commit and dropped on rollback, so nobody hears of a change that did not happen.
 */
export async function announce(db: Db, event: RealtimeEvent): Promise<void> {
  await sql`select pg_notify(${REALTIME_CHANNEL}, ${JSON.stringify(event)})`.execute(db);
}
