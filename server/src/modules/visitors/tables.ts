import type { ColumnType, Generated, Selectable } from 'kysely';

type Timestamp = ColumnType<Date, Date | string, Date | string>;
type Json<T> = ColumnType<T, string, string>;

export type VisitStatus = 'invited' | 'flagged' | 'checked_in' | 'checked_out' | 'denied' | 'cancelled' | 'expired';
export type VisitSource = 'invitation' | 'walk_in';

/** One opposing-party hit of the conflict engine, as kept with the visit. */
export interface ScreeningMatch {
  matter_number: string;
  party_role: string;
  match: string;
}

export interface Screening {
  flagged: boolean;
  matches: ScreeningMatch[];
}

export interface VisitorVisitsTable {
  id: Generated<number>;
  visitor_name: string;
  id_number: string | null;
  phone: string | null;
  organization: string | null;
  purpose: string;
  host_user_id: number;
  matter_id: number | null;
  status: VisitStatus;
  source: VisitSource;
  /** SHA-256 of the invitation code; the code itself is shown once, to the host */
  invite_code_hash: string | null;
  expected_at: Timestamp | null;
  /** the invitation cannot be used from this time on */
  expires_at: Timestamp | null;
  screening: Json<Screening> | null;
  review_decision: 'admit' | 'deny' | null;
  reviewed_by: number | null;
  reviewed_at: Timestamp | null;
  review_note: string | null;
  /** arrival at the lobby (a flagged visitor waiting for review has arrived too) */
  checked_in_at: Timestamp | null;
  checked_out_at: Timestamp | null;
  /** when the visit stopped being current (left, denied, cancelled, expired): retention counts from here */
  ended_at: Timestamp | null;
  /** the lobby kiosk the visitor checked in at, which hears the review's outcome */
  kiosk_id: number | null;
  pass_credential_id: number | null;
  purged_at: Timestamp | null;
  created_by: number | null;
  created_at: Timestamp;
}
export type VisitRow = Selectable<VisitorVisitsTable>;

export interface VisitorIdReadsTable {
  id: string;
  kiosk_id: number;
  name: string;
  id_number: string;
  read_at: Timestamp;
  expires_at: Timestamp;
}

export interface VisitorRollCallsTable {
  id: Generated<number>;
  started_at: Timestamp;
  started_by: number | null;
}

export interface VisitorRollCallEntriesTable {
  roll_call_id: number;
  visit_id: number;
  accounted_at: Timestamp | null;
  accounted_by: number | null;
}

/** The visitors module's tables (joined into the Database type in db/schema.ts). */
export interface VisitorsTables {
  visitor_visits: VisitorVisitsTable;
  visitor_id_reads: VisitorIdReadsTable;
  visitor_roll_calls: VisitorRollCallsTable;
  visitor_roll_call_entries: VisitorRollCallEntriesTable;
}
