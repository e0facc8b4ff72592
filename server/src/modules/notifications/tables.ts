import type { ColumnType, Generated, Selectable } from 'kysely';

type Timestamp = ColumnType<Date, Date | string, Date | string>;

/** Channels a notice travels by: in-app (staff realtime and list, the client's portal) and the external ones. */
export type NotificationChannel = 'in_app' | 'email' | 'sms' | 'wecom' | 'dingtalk';
export type DeliveryStatus = 'pending' | 'sent' | 'failed' | 'gave_up';

export interface NotificationsTable {
  id: Generated<number>;
  event: string;
  /** the client told of it (in the portal, by the client's email or phone), if any */
  client_id: number | null;
  matter_id: number | null;
  title: string;
  body: string;
  link: string | null;
  /** a caller's idempotency key: a second notice with the same key is not made */
  dedupe_key: string | null;
  /** when the client read it in the portal */
  client_read_at: Timestamp | null;
  created_at: Timestamp;
}
export type NotificationRow = Selectable<NotificationsTable>;

/** A member of staff told of a notice, with when they read it in the app. */
export interface NotificationRecipientsTable {
  notification_id: number;
  user_id: number;
  read_at: Timestamp | null;
}

/** One send of a notice by one channel to one recipient (a group robot is one recipient: the group). */
export interface NotificationDeliveriesTable {
  id: Generated<number>;
  notification_id: number;
  channel: NotificationChannel;
  /** the staff recipient; null for the client or a group robot */
  user_id: number | null;
  /** the client recipient */
  client_id: number | null;
  status: DeliveryStatus;
  attempts: Generated<number>;
  last_error: string | null;
  /** due for its next attempt from this time (also the claim's lease while a process sends it) */
  next_attempt_at: Timestamp | null;
  sent_at: Timestamp | null;
  created_at: Timestamp;
}
export type DeliveryRow = Selectable<NotificationDeliveriesTable>;

/** The notifications module's tables (joined into the Database type in db/schema.ts). */
export interface NotificationsTables {
  notifications: NotificationsTable;
  notification_recipients: NotificationRecipientsTable;
  notification_deliveries: NotificationDeliveriesTable;
}

// This module's migration gives every account a work phone and email, for the matter-accepted notice
// (Z5.4.3) and the staff's own external channels.
declare module '../../db/schema.js' {
  interface UsersTable {
    /** work phone, given to clients as the lawyer's number */
    phone: string | null;
    /** work email */
    email: string | null;
  }
}
