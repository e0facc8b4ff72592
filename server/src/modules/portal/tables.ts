import type { ColumnType, Generated } from 'kysely';

type Timestamp = ColumnType<Date, Date | string, Date | string>;

export interface ClientPortalCodesTable {
  id: Generated<number>;
  client_id: number;
  code_hash: string;
  expires_at: Timestamp;
  used_at: Timestamp | null;
  created_by: number;
  created_at: Timestamp;
}

export interface ClientPortalSessionsTable {
  id: Generated<number>;
  client_id: number;
  token_hash: string;
  created_at: Timestamp;
  expires_at: Timestamp;
  last_seen_at: Timestamp;
  source_ip: string | null;
  revoked_at: Timestamp | null;
}

export interface PortalTables {
  client_portal_codes: ClientPortalCodesTable;
  client_portal_sessions: ClientPortalSessionsTable;
}
