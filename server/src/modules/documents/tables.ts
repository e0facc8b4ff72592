import type { ColumnType, Generated, Selectable } from 'kysely';

type Timestamp = ColumnType<Date, Date | string, Date | string>;
type Json<T> = ColumnType<T, string, string>;

export type TemplateKind = 'service_contract' | 'risk_notice' | 'intake_record' | 'custom';
export type SealType = 'official' | 'contract' | 'letter';
export type SealMode = 'physical' | 'electronic';
export type SigningKeyPurpose = 'platform' | `seal:${SealType}`;

export interface DocumentTemplatesTable {
  id: Generated<number>;
  /** stable identifier, e.g. `service-contract` */
  key: string;
  name: string;
  kind: TemplateKind;
  /** shipped with lawbox; the firm may add versions of it like any other */
  builtin: boolean;
  latest_version: number;
  created_by: number | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** One saved version of a template: never changed (a trigger refuses it). */
export interface DocumentTemplateVersionsTable {
  template_id: number;
  version: number;
  title: string;
  body: string;
  /** the variables the title and body use, in order of first use */
  variables: string[];
  note: string | null;
  created_by: number | null;
  created_at: Timestamp;
}

/** A generated PDF, stored under `<dataDir>/documents/<storage_name>`: never changed. */
export interface DocumentsTable {
  id: Generated<number>;
  matter_id: number;
  client_id: number | null;
  template_id: number;
  template_version: number;
  title: string;
  /** the variable values the PDF was rendered with, so it can be rendered again to the same bytes */
  values: Json<Record<string, string>>;
  storage_name: string;
  bytes: number;
  sha256: string;
  sm3: string;
  created_by: number;
  created_at: Timestamp;
}

export interface SigningKeysTable {
  id: Generated<number>;
  purpose: SigningKeyPurpose;
  algorithm: 'SM2';
  /** uncompressed point, hex `04‖x‖y` */
  public_key: string;
  /** hex; kept in clear until issue 7 encrypts keys at rest */
  private_key: string;
  created_at: Timestamp;
}

export interface SealApplicationsTable {
  id: Generated<number>;
  matter_id: number;
  document_id: number | null;
  title: string;
  seal_type: SealType;
  mode: SealMode;
  purpose: string;
  copies: number;
  status: 'pending' | 'approved' | 'rejected';
  applied_by: number;
  applied_at: Timestamp;
  decided_by: number | null;
  decided_at: Timestamp | null;
  decision_note: string | null;
}

export interface SignatureRequestsTable {
  id: Generated<number>;
  document_id: number;
  client_id: number;
  signer_name: string;
  signer_phone: string | null;
  signer_email: string | null;
  /** SHA-256 of the link's token; the token itself is shown once, to the sender */
  token_hash: string;
  expires_at: Timestamp;
  code_required: boolean;
  code_hash: string | null;
  code_expires_at: Timestamp | null;
  code_sends: Generated<number>;
  code_last_sent_at: Timestamp | null;
  code_failures: Generated<number>;
  status: 'pending' | 'signed' | 'cancelled';
  signed_at: Timestamp | null;
  created_by: number;
  created_at: Timestamp;
}

/** A signature and its evidence: never changed or deleted (a trigger refuses it). */
export interface DocumentSignaturesTable {
  id: Generated<number>;
  document_id: number;
  kind: 'client' | 'firm_seal';
  request_id: number | null;
  seal_application_id: number | null;
  signer_name: string;
  signed_at: Timestamp;
  source_ip: string | null;
  user_agent: string | null;
  document_sha256: string;
  document_sm3: string;
  evidence: Json<Record<string, unknown>>;
  evidence_sm3: string;
  key_id: number;
  /** base64 of the DER SES_Signature (GB/T 38540) */
  signature_der: string;
  /** SM3 of the DER bytes: how a presented signature is found again */
  signature_sm3: string;
}

export type TemplateRow = Selectable<DocumentTemplatesTable>;
export type TemplateVersionRow = Selectable<DocumentTemplateVersionsTable>;
export type DocumentRow = Selectable<DocumentsTable>;
export type SealApplicationRow = Selectable<SealApplicationsTable>;
export type SignatureRequestRow = Selectable<SignatureRequestsTable>;
export type SignatureRow = Selectable<DocumentSignaturesTable>;

/** The documents module's tables (joined into the Database type in db/schema.ts). */
export interface DocumentsTables {
  document_templates: DocumentTemplatesTable;
  document_template_versions: DocumentTemplateVersionsTable;
  documents: DocumentsTable;
  signing_keys: SigningKeysTable;
  seal_applications: SealApplicationsTable;
  signature_requests: SignatureRequestsTable;
  document_signatures: DocumentSignaturesTable;
}
