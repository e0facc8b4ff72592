import type { ColumnType, Generated, Selectable } from 'kysely';

type Timestamp = ColumnType<Date, Date | string, Date | string>;

export const CONSULTATION_CHANNELS = ['phone', 'visit', 'online_chat', 'email', 'video'] as const;
export type ConsultationChannel = (typeof CONSULTATION_CHANNELS)[number];

export interface ConsultationsTable {
  id: Generated<number>;
  channel: ConsultationChannel;
  person_name: string;
  organization: string | null;
  phone: string | null;
  email: string | null;
  topic: string;
  summary: string;
  advice: string;
  /** the lawyer who consulted and recorded it: the only one besides matters.read_all holders who sees it */
  lawyer_id: number;
  consulted_at: Timestamp;
  duration_minutes: number;
  /** the matter it was converted into */
  matter_id: number | null;
  converted_by: number | null;
  converted_at: Timestamp | null;
  /** a conversion in progress holds the consultation from this time (see convertConsultation) */
  converting_since: Timestamp | null;
  created_at: Timestamp;
}
export type ConsultationRow = Selectable<ConsultationsTable>;

export interface ConsultationsTables {
  consultations: ConsultationsTable;
}
