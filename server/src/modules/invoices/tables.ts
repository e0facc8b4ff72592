import type { ColumnType, Generated, Selectable } from 'kysely';

type Timestamp = ColumnType<Date, Date | string, Date | string>;
/** `numeric` comes back as a string from both drivers: money stays exact. */
type Numeric = ColumnType<string, string | number, string | number>;
/** `date` columns, read back as `YYYY-MM-DD` strings. */
type CalendarDate = ColumnType<string, string, string>;

export const INVOICE_STATUSES = ['submitted', 'processing', 'issued', 'rejected'] as const;
export type InvoiceStatus = (typeof INVOICE_STATUSES)[number];
/** 普票 (增值税普通发票) or 专票 (增值税专用发票) */
export type InvoiceType = 'normal' | 'special';

export interface InvoiceRequestsTable {
  id: Generated<number>;
  matter_id: number;
  client_id: number;
  invoice_type: InvoiceType;
  title_kind: 'organization' | 'person';
  /** 发票抬头 */
  title: string;
  /** 纳税人识别号: the organisation's USCC */
  taxpayer_id: string | null;
  taxpayer_id_check_failed: ColumnType<boolean, boolean | undefined, boolean>;
  amount: Numeric;
  company_address: string | null;
  company_phone: string | null;
  bank_name: string | null;
  bank_account: string | null;
  delivery: 'email' | 'post';
  email: string | null;
  recipient_name: string | null;
  recipient_phone: string | null;
  postal_address: string | null;
  note: string | null;
  status: InvoiceStatus;
  invoice_number: string | null;
  invoice_date: CalendarDate | null;
  reject_reason: string | null;
  submitted_via: 'portal' | 'staff';
  /** `client:<id>` or the staff username */
  submitted_by: string;
  created_at: Timestamp;
  updated_at: Timestamp;
  handled_by: number | null;
}
export type InvoiceRequestRow = Selectable<InvoiceRequestsTable>;

export interface InvoicesTables {
  invoice_requests: InvoiceRequestsTable;
}
