import type { ColumnType, Generated, Selectable } from 'kysely';
import type { Milestone } from './engine.js';

type Timestamp = ColumnType<Date, Date | string, Date | string>;
/** `date` columns: calendar dates, read back as `YYYY-MM-DD` strings (see db/index.ts type parsers). */
type CalendarDate = ColumnType<string, string, string>;
type Json<T> = ColumnType<T, string, string>;

/** One year of the State Council's holiday arrangement, as loaded. */
export interface HolidayCalendarsTable {
  year: number;
  notice: string;
  /** inclusive `[from, to]` date ranges that are not working days */
  off: Json<[string, string][]>;
  /** weekend days that are working days */
  workdays: Json<string[]>;
  loaded_at: Timestamp;
  /** who loaded it: a username, `cli:<user>`, or `migration` for the years shipped with lawbox */
  loaded_by: string;
}

export type DeadlineStatus = 'open' | 'done' | 'missed';

export interface MatterDeadlinesTable {
  id: Generated<number>;
  matter_id: number;
  milestone: Milestone;
  /** the engine's rule; null for a deadline entered by its date */
  rule: string | null;
  title: string;
  trigger_date: CalendarDate | null;
  /** the days the court's notice set, for rules whose period the court sets */
  days: number | null;
  foreign_party: boolean;
  in_custody: boolean;
  due_date: CalendarDate;
  basis: string;
  warnings: Json<string[]>;
  /** what produced it: `manual`, or the module of the record (e.g. a received document) */
  source: string;
  source_id: string | null;
  status: DeadlineStatus;
  responsible_user_id: number;
  notify_client: boolean;
  note: string | null;
  created_by: number | null;
  created_at: Timestamp;
  done_at: Timestamp | null;
  done_by: number | null;
  done_note: string | null;
  missed_at: Timestamp | null;
}
export type DeadlineRow = Selectable<MatterDeadlinesTable>;

export type HearingStatus = 'scheduled' | 'held' | 'cancelled';

export interface HearingsTable {
  id: Generated<number>;
  matter_id: number;
  court: string;
  room: string | null;
  address: string | null;
  judge: string | null;
  starts_at: Timestamp;
  /** what else the client should bring or know, added to the pre-hearing notice */
  note: string | null;
  status: HearingStatus;
  notice_sent_at: Timestamp | null;
  notice_sent_by: number | null;
  cancelled_at: Timestamp | null;
  cancelled_by: number | null;
  cancel_reason: string | null;
  created_by: number;
  created_at: Timestamp;
}
export type HearingRow = Selectable<HearingsTable>;

/** The post-hearing summary (Z5.5.2b), its five fields; sent to the client and filed in the archive. */
export interface HearingSummariesTable {
  hearing_id: number;
  /** when the hearing took place */
  held_at: Timestamp;
  /** the main record of the hearing */
  record: string;
  materials_to_supply: string;
  facts_to_verify: string;
  judge_requests: string;
  created_by: number;
  created_at: Timestamp;
}
export type HearingSummaryRow = Selectable<HearingSummariesTable>;

/** The deadlines module's tables (joined into the Database type in db/schema.ts). */
export interface DeadlinesTables {
  holiday_calendars: HolidayCalendarsTable;
  matter_deadlines: MatterDeadlinesTable;
  hearings: HearingsTable;
  hearing_summaries: HearingSummariesTable;
}
