import type { ColumnType, Generated, Selectable } from 'kysely';

type Timestamp = ColumnType<Date, Date | string, Date | string>;

export interface ComplianceEvaluationsTable {
  id: Generated<number>;
  evaluated_at: Timestamp;
  evaluator: string;
  kind: 'self' | 'third_party';
  /** counts by status and the status of each requirement at the time */
  summary: ColumnType<EvaluationSummary, string, string>;
  /** SHA-256 of the HTML report given to the evaluators */
  report_sha256: string;
  recorded_by: string;
}

export interface EvaluationSummary {
  counts: Record<string, number>;
  statuses: Record<string, string>;
  checks_failed: string[];
}

export interface ComplianceActionsTable {
  id: Generated<number>;
  requirement_id: string;
  evaluation_id: number | null;
  title: string;
  owner: string;
  /** calendar day, YYYY-MM-DD */
  due_on: string;
  status: ColumnType<'open' | 'done', 'open' | 'done' | undefined, 'open' | 'done'>;
  created_at: Timestamp;
  created_by: string;
  closed_at: Timestamp | null;
  closed_by: string | null;
  resolution: string | null;
}

export type ComplianceEvaluationRow = Selectable<ComplianceEvaluationsTable>;
export type ComplianceActionRow = Selectable<ComplianceActionsTable>;

export interface ComplianceTables {
  compliance_evaluations: ComplianceEvaluationsTable;
  compliance_actions: ComplianceActionsTable;
}
