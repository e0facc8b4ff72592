import type { ColumnType, Generated, Selectable } from 'kysely';

type Timestamp = ColumnType<Date, Date | string, Date | string>;
type CalendarDate = ColumnType<string, string, string>;
type Json<T> = ColumnType<T, string, string>;

export const RECORD_KINDS = ['received_document', 'draft', 'interview_record', 'settlement_plan', 'detention_meeting', 'service_plan', 'service_progress', 'key_document'] as const;
export type RecordKind = (typeof RECORD_KINDS)[number];
/** The kinds a client confirms (Z5.5.1 b, c, d, f). */
export const CONFIRMABLE_KINDS = ['draft', 'interview_record', 'settlement_plan', 'service_plan', 'service_progress', 'key_document'] as const satisfies readonly RecordKind[];
export type ConfirmableKind = (typeof CONFIRMABLE_KINDS)[number];

export const AUTHORITY_KINDS = ['police', 'procuratorate', 'court', 'arbitration', 'government'] as const;
export type AuthorityKind = (typeof AUTHORITY_KINDS)[number];

/** A deadline the engine computed for a received document. */
export interface DocumentDeadline {
  rule: string;
  trigger_date: string;
  due: string;
  warnings: string[];
}

/** What each kind keeps besides title, date and content. */
export interface RecordDetails {
  received_document: {
    authority_kind: AuthorityKind;
    authority: string;
    document_kind: string;
    document_number: string | null;
    received_on: string;
    served_on: string | null;
    /** the day the document itself names (e.g. a fee notice's payment date), when it names one */
    stated_deadline_on: string | null;
    deadline: DocumentDeadline | null;
    consequence: string | null;
  };
  draft: { draft_kind: 'lawyer_letter' | 'legal_opinion' | 'other'; recipient: string | null };
  interview_record: { interviewed_at: string; subject: string; place: string };
  settlement_plan: { plan_kind: 'settlement' | 'mediation'; counterparty: string | null };
  detention_meeting: { met_at: string; duration_minutes: number; place: string; detainee: string; non_case_needs: string | null };
  service_plan: Record<string, never>;
  service_progress: Record<string, never>;
  key_document: { document_title: string };
}

export interface CommunicationRecordsTable {
  id: Generated<number>;
  matter_id: number;
  kind: RecordKind;
  title: string;
  /** the day it happened: received, drafted, interviewed, met, planned */
  occurred_on: CalendarDate;
  /** the text a client confirms, or the record's own text */
  content: string | null;
  content_sha256: string | null;
  details: Json<RecordDetails[RecordKind]>;
  /** the deadline the engine created for a received document */
  deadline_id: number | null;
  client_informed_at: Timestamp | null;
  /** `notification` when the system told the client, else how a person did (phone, visit …) */
  client_informed_via: string | null;
  client_informed_note: string | null;
  created_by: number;
  created_at: Timestamp;
  updated_at: Timestamp;
}
export type CommunicationRecordRow = Selectable<CommunicationRecordsTable>;

export interface ClientConfirmationsTable {
  id: Generated<number>;
  record_id: number;
  matter_id: number;
  client_id: number;
  title: string;
  /** the text shown to the client, as it was when asked */
  content: string;
  content_sha256: string;
  requested_by: number;
  requested_at: Timestamp;
  /** a newer request (a revised text) replaced this one before it was answered */
  superseded_at: Timestamp | null;
  decision: 'confirmed' | 'commented' | null;
  response_text: string | null;
  responded_at: Timestamp | null;
  /** `client:<id>` */
  responder: string | null;
  responder_ip: string | null;
  /** SHA-256 of the answer with what it answered (see confirmationEvidence) */
  evidence_sha256: string | null;
}
export type ClientConfirmationRow = Selectable<ClientConfirmationsTable>;

export const DELIVERY_METHODS = ['ems', 'courier', 'registered_mail', 'email', 'in_person', 'fax', 'other'] as const;
export type DeliveryMethod = (typeof DELIVERY_METHODS)[number];
export const DELIVERY_RESULTS = ['delivered', 'refused', 'returned'] as const;
export type DeliveryResult = (typeof DELIVERY_RESULTS)[number];

export interface CommunicationDeliveriesTable {
  id: Generated<number>;
  record_id: number;
  matter_id: number;
  method: DeliveryMethod;
  tracking_number: string | null;
  recipient: string;
  sent_on: CalendarDate;
  result: DeliveryResult;
  result_on: CalendarDate;
  /** the uploaded proof (receipt, returned envelope, screenshot) in the process archive */
  process_file_id: number | null;
  file_sha256: string | null;
  note: string | null;
  client_informed_at: Timestamp | null;
  recorded_by: number;
  recorded_at: Timestamp;
}
export type CommunicationDeliveryRow = Selectable<CommunicationDeliveriesTable>;

export interface CommunicationsTables {
  communication_records: CommunicationRecordsTable;
  client_confirmations: ClientConfirmationsTable;
  communication_deliveries: CommunicationDeliveriesTable;
}
