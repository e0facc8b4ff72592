import { sql, type Kysely } from 'kysely';

/**
 * Documents and e-signature (T/ZSM 0038-2024 Z5.4.1, Z5.4.2): versioned templates, the PDF documents
 * generated from them for a matter, seal-use applications (用印申请), the firm's SM2 signing keys,
 * signature requests sent to clients, and the signatures with their evidence.
 *
 * What was agreed is a record: a template version, a document, a signing key and a signature with its
 * evidence are never changed or deleted, and a seal application is decided once (triggers refuse the
 * rest). A firm changes a template by adding a version; a document names the version it came from.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create table document_templates (
    id serial primary key,
    key text not null unique check (key ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
    name text not null check (length(name) between 1 and 100),
    kind text not null check (kind in ('service_contract', 'risk_notice', 'intake_record', 'custom')),
    builtin boolean not null,
    latest_version integer not null check (latest_version >= 1),
    created_by integer references users (id),
    created_at timestamptz not null,
    updated_at timestamptz not null
  )`.execute(db);

  await sql`create table document_template_versions (
    template_id integer not null references document_templates (id),
    version integer not null check (version >= 1),
    title text not null check (length(title) between 1 and 200),
    body text not null check (length(body) between 1 and 50000),
    variables text[] not null,
    note text,
    created_by integer references users (id),
    created_at timestamptz not null,
    primary key (template_id, version)
  )`.execute(db);

  await sql`create table documents (
    id serial primary key,
    matter_id integer not null references matters (id),
    client_id integer references clients (id),
    template_id integer not null,
    template_version integer not null,
    title text not null check (length(title) between 1 and 200),
    "values" jsonb not null,
    storage_name text not null unique,
    bytes integer not null check (bytes > 0),
    sha256 text not null check (sha256 ~ '^[0-9a-f]{64}$'),
    sm3 text not null check (sm3 ~ '^[0-9a-f]{64}$'),
    created_by integer not null references users (id),
    created_at timestamptz not null,
    foreign key (template_id, template_version) references document_template_versions (template_id, version)
  )`.execute(db);
  await sql`create index documents_matter on documents (matter_id, created_at)`.execute(db);

  // One key per purpose, made on first use. The private key is kept in clear here; encrypting it at
  // rest is issue 7's work (key management), which will wrap this column.
  await sql`create table signing_keys (
    id serial primary key,
    purpose text not null unique check (purpose in ('platform', 'seal:official', 'seal:contract', 'seal:letter')),
    algorithm text not null check (algorithm = 'SM2'),
    public_key text not null check (public_key ~ '^04[0-9a-f]{128}$'),
    private_key text not null check (private_key ~ '^[0-9a-f]{64}$'),
    created_at timestamptz not null
  )`.execute(db);

  await sql`create table seal_applications (
    id serial primary key,
    matter_id integer not null references matters (id),
    document_id integer references documents (id),
    title text not null check (length(title) between 1 and 200),
    seal_type text not null check (seal_type in ('official', 'contract', 'letter')),
    mode text not null check (mode in ('physical', 'electronic')),
    purpose text not null check (length(purpose) between 1 and 500),
    copies integer not null check (copies between 1 and 100),
    status text not null check (status in ('pending', 'approved', 'rejected')),
    applied_by integer not null references users (id),
    applied_at timestamptz not null,
    decided_by integer references users (id),
    decided_at timestamptz,
    decision_note text,
    check (mode = 'physical' or document_id is not null),
    check ((status = 'pending') = (decided_at is null)),
    check ((decided_by is null) = (decided_at is null))
  )`.execute(db);
  await sql`create index seal_applications_matter on seal_applications (matter_id, applied_at)`.execute(db);
  await sql`create index seal_applications_pending on seal_applications (applied_at) where status = 'pending'`.execute(db);

  await sql`create table signature_requests (
    id serial primary key,
    document_id integer not null references documents (id),
    client_id integer not null references clients (id),
    signer_name text not null check (length(signer_name) between 1 and 100),
    signer_phone text,
    signer_email text,
    token_hash text not null unique,
    expires_at timestamptz not null,
    code_required boolean not null,
    code_hash text,
    code_expires_at timestamptz,
    code_sends integer not null default 0,
    code_last_sent_at timestamptz,
    code_failures integer not null default 0,
    status text not null check (status in ('pending', 'signed', 'cancelled')),
    signed_at timestamptz,
    created_by integer not null references users (id),
    created_at timestamptz not null,
    check ((status = 'signed') = (signed_at is not null)),
    check ((code_hash is null) = (code_expires_at is null))
  )`.execute(db);
  await sql`create index signature_requests_document on signature_requests (document_id, created_at)`.execute(db);

  await sql`create table document_signatures (
    id serial primary key,
    document_id integer not null references documents (id),
    kind text not null check (kind in ('client', 'firm_seal')),
    request_id integer unique references signature_requests (id),
    seal_application_id integer unique references seal_applications (id),
    signer_name text not null,
    signed_at timestamptz not null,
    source_ip text,
    user_agent text,
    document_sha256 text not null,
    document_sm3 text not null,
    evidence jsonb not null,
    evidence_sm3 text not null,
    key_id integer not null references signing_keys (id),
    signature_der text not null,
    signature_sm3 text not null unique,
    check ((kind = 'client') = (request_id is not null)),
    check ((kind = 'firm_seal') = (seal_application_id is not null))
  )`.execute(db);
  await sql`create index document_signatures_document on document_signatures (document_id, signed_at)`.execute(db);

  await sql`create function document_record_guard() returns trigger language plpgsql as $$
    begin
      raise exception '% is a signed or issued record and is kept (% refused)', tg_table_name, tg_op using errcode = 'insufficient_privilege';
    end $$`.execute(db);
  for (const table of ['document_template_versions', 'documents', 'signing_keys', 'document_signatures']) {
    await sql`create trigger ${sql.raw(`${table}_keep`)} before update or delete on ${sql.table(table)} for each row execute function document_record_guard()`.execute(db);
  }
  for (const table of ['document_templates', 'seal_applications', 'signature_requests']) {
    await sql`create trigger ${sql.raw(`${table}_keep`)} before delete on ${sql.table(table)} for each row execute function document_record_guard()`.execute(db);
  }
  // A seal application is decided once; what was applied for never changes.
  await sql`create function seal_application_guard() returns trigger language plpgsql as $$
    begin
      if old.status <> 'pending' or new.matter_id <> old.matter_id or new.document_id is distinct from old.document_id
         or new.title <> old.title or new.seal_type <> old.seal_type or new.mode <> old.mode or new.purpose <> old.purpose
         or new.copies <> old.copies or new.applied_by <> old.applied_by or new.applied_at <> old.applied_at then
        raise exception 'a seal application is decided once and otherwise kept as applied' using errcode = 'insufficient_privilege';
      end if;
      return new;
    end $$`.execute(db);
  await sql`create trigger seal_applications_decide_once before update on seal_applications for each row execute function seal_application_guard()`.execute(db);
  // A request that was signed stays signed: its token can never be brought back to life.
  await sql`create function signature_request_guard() returns trigger language plpgsql as $$
    begin
      if old.status <> 'pending' or new.token_hash <> old.token_hash or new.document_id <> old.document_id or new.client_id <> old.client_id then
        raise exception 'a signature request that was signed or cancelled is kept as it ended' using errcode = 'insufficient_privilege';
      end if;
      return new;
    end $$`.execute(db);
  await sql`create trigger signature_requests_end_once before update on signature_requests for each row execute function signature_request_guard()`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['document_signatures', 'signature_requests', 'seal_applications', 'signing_keys', 'documents', 'document_template_versions', 'document_templates']) {
    await sql`drop table if exists ${sql.table(table)}`.execute(db);
  }
  await sql`drop function if exists signature_request_guard()`.execute(db);
  await sql`drop function if exists seal_application_guard()`.execute(db);
  await sql`drop function if exists document_record_guard()`.execute(db);
}
