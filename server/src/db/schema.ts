import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

/** Table types of the migrated schema; keep in step with migrations/. */
export interface Database {
  users: UsersTable;
  sessions: SessionsTable;
  audit_log: AuditLogTable;
  setup_tokens: SetupTokensTable;
  settings: SettingsTable;
  audit_anchor: AuditAnchorTable;
}

type Timestamp = ColumnType<Date, Date | string, Date | string>;

export interface UsersTable {
  id: Generated<number>;
  username: string;
  display_name: string;
  role: string;
  password_hash: string;
  password_changed_at: Timestamp;
  must_change_password: boolean;
  failed_logins: Generated<number>;
  locked_until: Timestamp | null;
  disabled: Generated<boolean>;
  last_login_at: Timestamp | null;
  created_at: Timestamp;
}
export type User = Selectable<UsersTable>;
export type NewUser = Insertable<UsersTable>;

export interface SessionsTable {
  token_hash: string;
  user_id: number;
  created_at: Timestamp;
  last_seen_at: Timestamp;
  expires_at: Timestamp;
  revoked_at: Timestamp | null;
  source_ip: string | null;
  user_agent: string | null;
}

export interface AuditLogTable {
  seq: ColumnType<number, number, never>;
  at: Timestamp;
  actor: string;
  action: string;
  object: string | null;
  result: string;
  source_ip: string | null;
  detail: ColumnType<Record<string, unknown> | null, string | null, never>;
  prev_hash: string;
  hash: string;
}
export type AuditRow = Selectable<AuditLogTable>;

export interface SetupTokensTable {
  token_hash: string;
  created_at: Timestamp;
  expires_at: Timestamp;
  used_at: Timestamp | null;
}

export interface SettingsTable {
  key: string;
  value: ColumnType<unknown, string, string>;
}

export interface AuditAnchorTable {
  id: Generated<boolean>;
  seq: ColumnType<number, number, number>;
  hash: string;
}
