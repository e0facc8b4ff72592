import { sql, type Kysely } from 'kysely';

/**
 * Client records (T/ZSM 0038-2024 Z5.2.1, Z5.4.4, Z5.5.1 a–f, Z5.5.2c, Z6.3.5):
 *
 * - `consultations`: online and offline consultations, confidential to the lawyer who recorded them
 *   (and those who see every matter); a consultation converted into a matter names it.
 * - `communication_records`: the per-matter register of communications with the client and the
 *   authorities — documents received, drafts for confirmation, interview records, settlement plans,
 *   criminal-case meetings, non-litigation service plans, progress and key documents. What differs per
 *   kind is kept in `details`; the text a client confirms is `content`.
 * - `client_confirmations`: one mechanism for every "client confirms" of Z5.5.1 b/c/d/f. A request
 *   snapshots the content and its SHA-256; the client's answer (who, when, IP, text) and the hash of
 *   that evidence can never change once given, nor can any request be deleted.
 * - `communication_deliveries`: delivery, refusal or return evidence of an issued draft; kept for good.
 * - `invoice_requests`: a client's invoice details and delivery address, and finance's handling.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table consultations (
      id serial primary key,
      channel text not null check (channel in ('phone', 'visit', 'online_chat', 'email', 'video')),
      person_name text not null check (length(person_name) between 1 and 100),
      organization text check (length(organization) between 1 and 200),
      phone text check (length(phone) between 5 and 30),
      email text check (length(email) between 3 and 200),
      topic text not null check (length(topic) between 1 and 200),
      summary text not null check (length(summary) between 1 and 20000),
      advice text not null check (length(advice) between 1 and 20000),
      lawyer_id integer not null references users (id),
      consulted_at timestamptz not null,
      duration_minutes integer not null check (duration_minutes between 1 and 1440),
      matter_id integer references matters (id),
      converted_by integer references users (id),
      converted_at timestamptz,
      converting_since timestamptz,
      created_at timestamptz not null,
      check ((matter_id is null) = (converted_at is null) and (converted_at is null) = (converted_by is null))
    )`.execute(db);
  await sql`create index consultations_lawyer on consultations (lawyer_id, consulted_at)`.execute(db);
  await sql`create index consultations_matter on consultations (matter_id) where matter_id is not null`.execute(db);

  await sql`
    create table communication_records (
      id serial primary key,
      matter_id integer not null references matters (id),
      kind text not null check (kind in ('received_document', 'draft', 'interview_record', 'settlement_plan',
        'detention_meeting', 'service_plan', 'service_progress', 'key_document')),
      title text not null check (length(title) between 1 and 300),
      occurred_on date not null,
      content text check (length(content) between 1 and 100000),
      content_sha256 text check (content_sha256 ~ '^[0-9a-f]{64}$'),
      details jsonb not null,
      deadline_id integer references matter_deadlines (id),
      client_informed_at timestamptz,
      client_informed_via text check (length(client_informed_via) between 1 and 40),
      client_informed_note text check (length(client_informed_note) <= 1000),
      created_by integer not null references users (id),
      created_at timestamptz not null,
      updated_at timestamptz not null,
      check ((content is null) = (content_sha256 is null)),
      check ((client_informed_at is null) = (client_informed_via is null))
    )`.execute(db);
  await sql`create index communication_records_matter on communication_records (matter_id, occurred_on, id)`.execute(db);

  await sql`
    create table client_confirmations (
      id serial primary key,
      record_id integer not null references communication_records (id),
      matter_id integer not null references matters (id),
      client_id integer not null references clients (id),
      title text not null check (length(title) between 1 and 300),
      content text not null check (length(content) between 1 and 100000),
      content_sha256 text not null check (content_sha256 ~ '^[0-9a-f]{64}$'),
      requested_by integer not null references users (id),
      requested_at timestamptz not null,
      superseded_at timestamptz,
      decision text check (decision in ('confirmed', 'commented')),
      response_text text check (length(response_text) between 1 and 5000),
      responded_at timestamptz,
      responder text,
      responder_ip text,
      evidence_sha256 text check (evidence_sha256 ~ '^[0-9a-f]{64}$'),
      check ((decision is null) = (responded_at is null)),
      check ((decision is null) = (responder is null)),
      check ((decision is null) = (evidence_sha256 is null)),
      check (decision is distinct from 'commented' or response_text is not null),
      check (superseded_at is null or decision is null)
    )`.execute(db);
  await sql`create index client_confirmations_record on client_confirmations (record_id, id)`.execute(db);
  await sql`create index client_confirmations_client on client_confirmations (client_id, id)`.execute(db);
  // A request is a snapshot: only its answer (once) or its retirement by a newer request (while
  // unanswered) may be written later; an answered request is final; nothing is ever deleted.
  await sql`create function client_confirmation_guard() returns trigger language plpgsql as $$
    begin
      if tg_op = 'DELETE' then
        raise exception 'client confirmations are kept for good (DELETE refused)' using errcode = 'insufficient_privilege';
      end if;
      if old.decision is not null or old.superseded_at is not null then
        raise exception 'client confirmation % is final', old.id using errcode = 'insufficient_privilege';
      end if;
      if new.record_id is distinct from old.record_id or new.matter_id is distinct from old.matter_id
         or new.client_id is distinct from old.client_id or new.title is distinct from old.title
         or new.content is distinct from old.content or new.content_sha256 is distinct from old.content_sha256
         or new.requested_by is distinct from old.requested_by or new.requested_at is distinct from old.requested_at then
        raise exception 'a confirmation request is a snapshot and cannot change' using errcode = 'insufficient_privilege';
      end if;
      return new;
    end $$`.execute(db);
  await sql`create trigger client_confirmations_final before update or delete on client_confirmations
    for each row execute function client_confirmation_guard()`.execute(db);

  await sql`
    create table communication_deliveries (
      id serial primary key,
      record_id integer not null references communication_records (id),
      matter_id integer not null references matters (id),
      method text not null check (method in ('ems', 'courier', 'registered_mail', 'email', 'in_person', 'fax', 'other')),
      tracking_number text check (length(tracking_number) between 1 and 60),
      recipient text not null check (length(recipient) between 1 and 200),
      sent_on date not null,
      result text not null check (result in ('delivered', 'refused', 'returned')),
      result_on date not null,
      process_file_id integer references process_files (id),
      file_sha256 text check (file_sha256 ~ '^[0-9a-f]{64}$'),
      note text check (length(note) <= 2000),
      client_informed_at timestamptz,
      recorded_by integer not null references users (id),
      recorded_at timestamptz not null,
      check (result_on >= sent_on)
    )`.execute(db);
  await sql`create index communication_deliveries_record on communication_deliveries (record_id, id)`.execute(db);
  await sql`create function communication_delivery_guard() returns trigger language plpgsql as $$
    begin
      raise exception 'delivery evidence is kept as recorded (% refused)', tg_op using errcode = 'insufficient_privilege';
    end $$`.execute(db);
  await sql`create trigger communication_deliveries_keep before update or delete on communication_deliveries
    for each row execute function communication_delivery_guard()`.execute(db);

  await sql`
    create table invoice_requests (
      id serial primary key,
      matter_id integer not null references matters (id),
      client_id integer not null references clients (id),
      invoice_type text not null check (invoice_type in ('normal', 'special')),
      title_kind text not null check (title_kind in ('organization', 'person')),
      title text not null check (length(title) between 1 and 200),
      taxpayer_id text check (taxpayer_id ~ '^[0-9A-Z]{18}$'),
      taxpayer_id_check_failed boolean not null default false,
      amount numeric(14, 2) not null check (amount > 0),
      company_address text check (length(company_address) between 1 and 300),
      company_phone text check (length(company_phone) between 5 and 30),
      bank_name text check (length(bank_name) between 1 and 200),
      bank_account text check (bank_account ~ '^[0-9]{6,34}$'),
      delivery text not null check (delivery in ('email', 'post')),
      email text check (length(email) between 3 and 200),
      recipient_name text check (length(recipient_name) between 1 and 100),
      recipient_phone text check (length(recipient_phone) between 5 and 30),
      postal_address text check (length(postal_address) between 1 and 300),
      note text check (length(note) <= 1000),
      status text not null check (status in ('submitted', 'processing', 'issued', 'rejected')),
      invoice_number text check (length(invoice_number) between 1 and 40),
      invoice_date date,
      reject_reason text check (length(reject_reason) between 1 and 1000),
      submitted_via text not null check (submitted_via in ('portal', 'staff')),
      submitted_by text not null,
      created_at timestamptz not null,
      updated_at timestamptz not null,
      handled_by integer references users (id),
      check (title_kind = 'person' or taxpayer_id is not null),
      check (invoice_type = 'normal' or (title_kind = 'organization' and company_address is not null and company_phone is not null
        and bank_name is not null and bank_account is not null)),
      check (delivery <> 'email' or email is not null),
      check (delivery <> 'post' or (recipient_name is not null and recipient_phone is not null and postal_address is not null)),
      check ((status = 'issued') = (invoice_number is not null and invoice_date is not null)),
      check ((status = 'rejected') = (reject_reason is not null))
    )`.execute(db);
  await sql`create index invoice_requests_status on invoice_requests (status, created_at)`.execute(db);
  await sql`create index invoice_requests_client on invoice_requests (client_id, created_at)`.execute(db);
  await sql`create index invoice_requests_matter on invoice_requests (matter_id)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table if exists invoice_requests`.execute(db);
  await sql`drop table if exists communication_deliveries`.execute(db);
  await sql`drop function if exists communication_delivery_guard()`.execute(db);
  await sql`drop table if exists client_confirmations`.execute(db);
  await sql`drop function if exists client_confirmation_guard()`.execute(db);
  await sql`drop table if exists communication_records`.execute(db);
  await sql`drop table if exists consultations`.execute(db);
}
