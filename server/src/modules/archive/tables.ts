import type { ColumnType, Generated, Selectable } from 'kysely';

type Timestamp = ColumnType<Date, Date | string, Date | string>;
/** `bigint` comes back as a string from pg and a number from PGlite. */
type Int8 = ColumnType<string | number, number, number>;

export const PROCESS_CATEGORIES = [
  'client_communication',
  'opposing_party',
  'authorities',
  'third_party',
  'visit',
  'material_preparation',
  'drafting',
  'research',
] as const;
export type ProcessCategory = (typeof PROCESS_CATEGORIES)[number];

export const MEDIA_KINDS = ['photo', 'audio', 'video', 'file'] as const;
export type MediaKind = (typeof MEDIA_KINDS)[number];

export interface ArchiveEntriesTable {
  id: Generated<number>;
  matter_id: number;
  /** what the record is, e.g. notice, record, signed_document, process_file, evaluation */
  kind: string;
  title: string;
  /** the module (and table) that keeps the record */
  source: string;
  source_id: string;
  sha256: string | null;
  filed_by: number | null;
  filed_at: Timestamp;
}

export interface ProcessFilesTable {
  id: Generated<number>;
  matter_id: number;
  category: ProcessCategory;
  media_kind: MediaKind;
  /** the type the magic bytes showed, not what the client declared */
  content_type: string;
  extension: string;
  title: string;
  /** the uploader's file name, kept for display only; never part of a path */
  original_name: string | null;
  note: string | null;
  bytes: Int8;
  sha256: string;
  /** `<uuid>.<ext>` under `<dataDir>/process-files/` */
  storage_name: string;
  uploaded_by: number;
  uploaded_at: Timestamp;
}

export type ArchiveEntryRow = Selectable<ArchiveEntriesTable>;
export type ProcessFileRow = Selectable<ProcessFilesTable>;

export interface ArchiveTables {
  archive_entries: ArchiveEntriesTable;
  process_files: ProcessFilesTable;
}
