import { sql } from 'kysely';
import type { Db } from '../../db/index.js';
import type { SessionUser } from '../auth/service.js';
import { can } from '../auth/roles.js';

export const REALTIME_CHANNEL = 'lawbox_realtime';

/**
 * Who may subscribe to a topic. A topic is `name` or `name:qualifier`; the rule of its name decides.
 * Modules add their own topics with `registerTopic`.
 */
export type TopicRule = (user: SessionUser, qualifier: string | null) => boolean;

const rules = new Map<string, TopicRule>([
  // Each user's own notices, e.g. `user:42`.
  ['user', (user, q) => q === String(user.id)],
  ['audit', (user) => can(user.role, 'audit.read')],
]);

export function registerTopic(name: string, rule: TopicRule): void {
  rules.set(name, rule);
}

export function maySubscribe(user: SessionUser, topic: string): boolean {
  const i = topic.indexOf(':');
  const rule = rules.get(i < 0 ? topic : topic.slice(0, i));
  return !!rule && rule(user, i < 0 ? null : topic.slice(i + 1));
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
