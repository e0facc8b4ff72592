import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

/** Table types of the migrated schema; keep in step with migrations/. */
import type { VisitorsTables } from '../modules/visitors/tables.js';
import type { MeetingsTables } from '../modules/meetings/tables.js';
import type { PortalTables } from '../modules/portal/tables.js';
import type { NotificationsTables } from '../modules/notifications/tables.js';
import type { ArchiveTables } from '../modules/archive/tables.js';
import type { DeadlinesTables } from '../modules/deadlines/tables.js';
import type { DocumentsTables } from '../modules/documents/tables.js';
import type { ConsultationsTables } from '../modules/consultations/tables.js';
import type { CommunicationsTables } from '../modules/communications/tables.js';
import type { InvoicesTables } from '../modules/invoices/tables.js';
import type { EvaluationsTables } from '../modules/evaluations/tables.js';
import type { ComplianceTables } from '../modules/compliance/tables.js';

/** Tables of the newer modules are declared in each module's `tables.ts` and joined here. */
export interface Database
  extends VisitorsTables,
    MeetingsTables,
    PortalTables,
    NotificationsTables,
    ArchiveTables,
    DeadlinesTables,
    DocumentsTables,
    ConsultationsTables,
    CommunicationsTables,
    InvoicesTables,
    EvaluationsTables,
    ComplianceTables {
  users: UsersTable;
  sessions: SessionsTable;
  audit_log: AuditLogTable;
  setup_tokens: SetupTokensTable;
  settings: SettingsTable;
  audit_anchor: AuditAnchorTable;
  clients: ClientsTable;
  client_members: ClientMembersTable;
  conflict_checks: ConflictChecksTable;
  matter_sequences: MatterSequencesTable;
  matters: MattersTable;
  matter_team: MatterTeamTable;
  parties: PartiesTable;
  conflict_index: ConflictIndexTable;
  work_records: WorkRecordsTable;
  matter_fees: MatterFeesTable;
  matter_alerts: MatterAlertsTable;
  matter_alert_recipients: MatterAlertRecipientsTable;
  projects: ProjectsTable;
  project_members: ProjectMembersTable;
  tasks: TasksTable;
  task_assignees: TaskAssigneesTable;
  task_comments: TaskCommentsTable;
  agents: AgentsTable;
  devices: DevicesTable;
  device_events: DeviceEventsTable;
  camera_recordings: CameraRecordingsTable;
  doors: DoorsTable;
  access_credentials: AccessCredentialsTable;
  access_grants: AccessGrantsTable;
  access_signing_keys: AccessSigningKeysTable;
  access_list_versions: AccessListVersionsTable;
  kiosks: KiosksTable;
}

type Timestamp = ColumnType<Date, Date | string, Date | string>;
/** `numeric` comes back as a string from both drivers: money stays exact. */
type Numeric = ColumnType<string, string | number, string | number>;
/** `date` columns: calendar dates, read back as `YYYY-MM-DD` strings (see db/index.ts type parsers). */
type CalendarDate = ColumnType<string, string, string>;
type Json<T> = ColumnType<T, string, string>;

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
  office: string | null;
  department: string | null;
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

export interface ClientsTable {
  id: Generated<number>;
  kind: 'person' | 'organization';
  name: string;
  id_type: string | null;
  id_number: string | null;
  uscc: string | null;
  uscc_check_failed: Generated<boolean>;
  legal_representative: string | null;
  legal_representative_id_number: string | null;
  contact_name: string | null;
  phone: string | null;
  email: string | null;
  address: string | null;
  aliases: ColumnType<string[], string[] | undefined, string[]>;
  notes: string | null;
  created_by: number;
  created_at: Timestamp;
  updated_at: Timestamp;
}
export type Client = Selectable<ClientsTable>;

export interface ClientMembersTable {
  id: Generated<number>;
  client_id: number;
  relation: 'shareholder' | 'partner';
  kind: 'person' | 'organization';
  name: string;
  id_number: string | null;
  uscc: string | null;
  share_percent: Numeric | null;
}
export type ClientMember = Selectable<ClientMembersTable>;

export interface ConflictChecksTable {
  id: Generated<number>;
  purpose: 'intake' | 'ad_hoc' | 'new_party';
  query: Json<unknown>;
  hits: Json<unknown>;
  hit_count: number;
  report_hash: string;
  created_by: number;
  created_at: Timestamp;
  matter_id: number | null;
  status: 'pending_review' | 'clear' | 'conflict' | 'waived';
  decided_by: number | null;
  decided_at: Timestamp | null;
  decision_note: string | null;
  consent: Json<unknown> | null;
}
export type ConflictCheckRow = Selectable<ConflictChecksTable>;

export interface MatterSequencesTable {
  year: number;
  type: string;
  last: number;
}

export type MatterStatus = 'pending_conflict_review' | 'open' | 'suspended' | 'closed' | 'declined';

export interface MattersTable {
  id: Generated<number>;
  number: string;
  title: string;
  type: string;
  cause: string | null;
  court: string | null;
  stage: string | null;
  status: MatterStatus;
  fee_arrangement: string | null;
  fee_amount: Numeric | null;
  responsible_lawyer_id: number;
  conflict_check_id: number;
  intake: Json<Record<string, unknown>>;
  client_informed_at: Timestamp | null;
  client_informed_by: number | null;
  client_informed_method: string | null;
  client_informed_note: string | null;
  closing_summary: string | null;
  created_by: number;
  created_at: Timestamp;
  updated_at: Timestamp;
  opened_at: Timestamp | null;
  closed_at: Timestamp | null;
}
export type Matter = Selectable<MattersTable>;

export interface MatterTeamTable {
  matter_id: number;
  user_id: number;
  role: 'responsible' | 'member';
  added_at: Timestamp;
}

export type PartyRole = 'client' | 'opposing' | 'third_party' | 'related';

export interface PartiesTable {
  id: Generated<number>;
  matter_id: number;
  role: PartyRole;
  kind: 'person' | 'organization';
  name: string;
  id_type: string | null;
  id_number: string | null;
  uscc: string | null;
  legal_representative: string | null;
  aliases: ColumnType<string[], string[] | undefined, string[]>;
  shareholders: ColumnType<{ name: string; id_number?: string | null }[], string | undefined, string>;
  client_id: number | null;
  created_at: Timestamp;
}
export type Party = Selectable<PartiesTable>;

export type IndexRelation = 'party' | 'alias' | 'legal_representative' | 'shareholder';

export interface ConflictIndexTable {
  id: Generated<number>;
  matter_id: number;
  party_id: number;
  relation: IndexRelation;
  name: string;
  name_norm: string;
  pinyin: string | null;
  name_keys: string[];
  id_number: string | null;
  uscc: string | null;
}

export interface WorkRecordsTable {
  id: Generated<number>;
  matter_id: number;
  kind: 'work_log' | 'working_paper' | 'intake_note';
  title: string;
  content: string;
  hours: Numeric | null;
  occurred_on: CalendarDate;
  corrects_id: number | null;
  author_id: number;
  created_at: Timestamp;
}

export interface MatterFeesTable {
  id: Generated<number>;
  matter_id: number;
  kind: 'bill' | 'payment';
  amount: Numeric;
  occurred_on: CalendarDate;
  note: string | null;
  recorded_by: number;
  created_at: Timestamp;
}

export interface MatterAlertsTable {
  id: Generated<number>;
  matter_id: number;
  kind: string;
  detail: Json<Record<string, unknown>>;
  raised_at: Timestamp;
  resolved_at: Timestamp | null;
}

export interface MatterAlertRecipientsTable {
  alert_id: number;
  user_id: number;
  acknowledged_at: Timestamp | null;
}

export interface ProjectsTable {
  id: Generated<number>;
  name: string;
  description: string | null;
  matter_id: number | null;
  status: 'active' | 'completed' | 'archived';
  created_by: number;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface ProjectMembersTable {
  project_id: number;
  user_id: number;
}

export interface TasksTable {
  id: Generated<number>;
  project_id: number;
  parent_id: number | null;
  title: string;
  description: string | null;
  status: 'todo' | 'in_progress' | 'blocked' | 'done' | 'cancelled';
  priority: 'low' | 'normal' | 'high' | 'urgent';
  due_on: CalendarDate | null;
  created_by: number;
  created_at: Timestamp;
  updated_at: Timestamp;
  completed_at: Timestamp | null;
}

export interface TaskAssigneesTable {
  task_id: number;
  user_id: number;
}

export interface TaskCommentsTable {
  id: Generated<number>;
  task_id: number;
  author_id: number;
  body: string;
  created_at: Timestamp;
}

export type Availability = 'online' | 'offline' | 'unknown';

export interface AgentsTable {
  id: string;
  name: string | null;
  state: Generated<Availability>;
  last_seen_at: Timestamp | null;
  created_at: Timestamp;
  /** argon2id hash of the agent's MQTT secret; null until enrolled */
  secret_hash: string | null;
  enrolled_at: Timestamp | null;
  config_version: Generated<number>;
}

export interface DevicesTable {
  id: string;
  agent_id: string | null;
  profile: string | null;
  name: string | null;
  location: string | null;
  state: Json<Record<string, unknown>> | null;
  availability: Generated<Availability>;
  updated_at: Timestamp;
  /** the instance address, as agent-config.schema.json's transport */
  transport: Json<Record<string, unknown>> | null;
  settings: Json<Record<string, unknown>> | null;
  enabled: Generated<boolean>;
}

export interface DeviceEventsTable {
  event_id: string;
  device_id: string;
  type: string;
  at: Timestamp;
  data: Json<Record<string, unknown>>;
  received_at: Timestamp;
}

export type FailMode = 'fail_secure' | 'fail_safe';

export interface DoorsTable {
  id: string;
  agent_id: string;
  name: string;
  lock_device: string;
  relay_channel: number | null;
  readers: string[];
  pulse_ms: number;
  fail_mode: FailMode;
  created_at: Timestamp;
  updated_at: Timestamp;
}
export type DoorRow = Selectable<DoorsTable>;

/** An access-list weekly window: ISO weekdays, `HH:MM` from (inclusive) and to (exclusive), Beijing time. */
export interface AccessWindow {
  days: number[];
  from: string;
  to: string;
}

export interface AccessCredentialsTable {
  id: Generated<number>;
  kind: 'card' | 'qr' | 'visitor_pass';
  medium: 'card' | 'qr';
  /** canonical upper-case hex; staff cards only */
  card_number: string | null;
  /** `sha256:<hex>` salted digest; QR codes and visitor passes only (the token itself is never stored) */
  digest: string | null;
  holder_user_id: number | null;
  visitor_name: string | null;
  windows: Json<AccessWindow[]>;
  valid_from: Timestamp | null;
  valid_until: Timestamp | null;
  revoked_at: Timestamp | null;
  created_by: number | null;
  created_at: Timestamp;
}
export type AccessCredentialRow = Selectable<AccessCredentialsTable>;

export interface AccessGrantsTable {
  credential_id: number;
  door_id: string;
}

export interface AccessSigningKeysTable {
  key_id: string;
  alg: 'ed25519';
  public_pem: string;
  private_pem: string;
  created_at: Timestamp;
  retired_at: Timestamp | null;
}

export interface AccessListVersionsTable {
  agent_id: string;
  version: number;
  published_at: Timestamp;
  /** of the published payload (canonical JSON of the signed list) */
  sha256: string;
  /** of the list without version, issued_at, expires_at and signature: what decides whether to sign anew */
  content_sha256: string;
  list: Json<Record<string, unknown>>;
}

export interface CameraRecordingsTable {
  id: string;
  device_id: string;
  matter_id: number | null;
  reason: string;
  requested_by: number;
  seconds: number;
  status: Generated<'recording' | 'stored' | 'failed'>;
  error: string | null;
  bytes: string | number | null;
  sha256: string | null;
  /** numeric: a string in pg */
  duration_s: string | number | null;
  requested_at: Timestamp;
  stored_at: Timestamp | null;
}

export interface KiosksTable {
  id: Generated<number>;
  name: string;
  kind: 'lobby' | 'meeting' | 'wall';
  room_id: string | null;
  id_reader_device: string | null;
  enrolment_code_hash: string | null;
  enrolment_expires_at: Timestamp | null;
  token_hash: string | null;
  enrolled_at: Timestamp | null;
  revoked_at: Timestamp | null;
  last_seen_at: Timestamp | null;
  created_by: number | null;
  created_at: Timestamp;
}
export type KioskRow = Selectable<KiosksTable>;
