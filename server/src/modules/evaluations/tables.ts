import type { ColumnType, Generated, Selectable } from 'kysely';

type Timestamp = ColumnType<Date, Date | string, Date | string>;

/** The six dimensions of Z5.6, in the standard's order. */
export const DIMENSIONS = ['functionality', 'timeliness', 'security', 'economy', 'comfort', 'civility'] as const;
export type Dimension = (typeof DIMENSIONS)[number];

export interface EvaluationInvitationsTable {
  matter_id: number;
  client_id: number;
  /** the notice that carried the invitation (null if the notifications module made none) */
  notification_id: number | null;
  invited_at: Timestamp;
}

export interface EvaluationsTable {
  id: Generated<number>;
  matter_id: number;
  client_id: number;
  /** the matter's responsible lawyer when the rating was given: the rating stays theirs */
  lawyer_id: number;
  functionality: number;
  timeliness: number;
  security: number;
  economy: number;
  comfort: number;
  civility: number;
  comment: string | null;
  /** SHA-256 of the evaluation as filed into the matter archive */
  sha256: string;
  submitted_at: Timestamp;
  source_ip: string | null;
}
export type EvaluationRow = Selectable<EvaluationsTable>;

export interface EvaluationsTables {
  evaluation_invitations: EvaluationInvitationsTable;
  evaluations: EvaluationsTable;
}
