import type { ColumnType, Generated, Selectable } from 'kysely';

type Timestamp = ColumnType<Date, Date | string, Date | string>;
type Json<T> = ColumnType<T, string, string>;
/** bytea: a Buffer from pg, a Uint8Array from PGlite; written once, never updated. */
type Bytes = ColumnType<Uint8Array, Uint8Array, never>;

export type MeetingKind = 'firm' | 'party_branch';
export type ParticipantRole = 'chair' | 'secretary' | 'member' | 'observer';
export type VoteRule = 'simple_majority_of_votes' | 'majority_of_participants' | 'two_thirds_of_participants';
export type VoteStatus = 'draft' | 'open' | 'closed';

export interface MeetingRoomsTable {
  id: string;
  name: string;
  floor: string | null;
  capacity: number;
  devices: string[];
  created_at: Timestamp;
  updated_at: Timestamp;
}
export type MeetingRoomRow = Selectable<MeetingRoomsTable>;

export interface MeetingSessionsTable {
  id: Generated<number>;
  title: string;
  kind: MeetingKind;
  record_type: string;
  room_id: string;
  starts_at: Timestamp;
  ends_at: Timestamp;
  confidential: boolean;
  started_at: Timestamp | null;
  ended_at: Timestamp | null;
  created_by: number | null;
  created_at: Timestamp;
}
export type MeetingSessionRow = Selectable<MeetingSessionsTable>;

export interface MeetingAgendaItemsTable {
  id: Generated<number>;
  meeting_id: number;
  position: number;
  title: string;
}

export interface MeetingParticipantsTable {
  id: Generated<number>;
  meeting_id: number;
  user_id: number;
  role: ParticipantRole;
}

export interface MeetingSignInsTable {
  participant_id: number;
  meeting_id: number;
  signed_in_at: Timestamp;
  kiosk_id: number | null;
  recorded_by: number | null;
  note: string | null;
}

export interface MeetingSeatsTable {
  participant_id: number;
  meeting_id: number;
  kiosk_id: number;
  bound_at: Timestamp;
}

export interface MeetingDocumentsTable {
  id: Generated<number>;
  meeting_id: number;
  name: string;
  content: Bytes;
  size: number;
  pages: number;
  sha256: string;
  uploaded_by: number | null;
  uploaded_at: Timestamp;
  withdrawn_at: Timestamp | null;
}

export interface MeetingPresenterTable {
  meeting_id: number;
  presenter_participant_id: number | null;
  document_id: number | null;
  page: number | null;
  updated_at: Timestamp;
}

export interface MeetingAnnotationsTable {
  participant_id: number;
  document_id: number;
  page: number;
  strokes: Json<unknown[]>;
  updated_at: Timestamp;
}

export interface MeetingVotesTable {
  id: Generated<number>;
  meeting_id: number;
  title: string;
  options: string[];
  anonymous: boolean;
  rule: VoteRule;
  status: VoteStatus;
  eligible: number | null;
  cast_count: number | null;
  tally: Json<Record<string, number>> | null;
  passed: boolean | null;
  created_by: number | null;
  created_at: Timestamp;
  opened_at: Timestamp | null;
  closed_at: Timestamp | null;
}
export type MeetingVoteRow = Selectable<MeetingVotesTable>;

export interface MeetingVoteVotersTable {
  vote_id: number;
  participant_id: number;
  voted_at: Timestamp;
  kiosk_id: number;
}

/** A named vote's ballot. */
export interface MeetingBallotsTable {
  vote_id: number;
  participant_id: number;
  choice: string;
}

/** An anonymous vote's count for one choice. */
export interface MeetingVoteCountsTable {
  vote_id: number;
  choice: string;
  n: number;
}

export interface MeetingMinutesTable {
  id: Generated<number>;
  meeting_id: number;
  version: number;
  text: string;
  written_by: number | null;
  written_at: Timestamp;
  approved_by: number | null;
  approved_at: Timestamp | null;
}

/** The meetings module's tables (joined into the Database type in db/schema.ts). */
export interface MeetingsTables {
  meeting_rooms: MeetingRoomsTable;
  meeting_sessions: MeetingSessionsTable;
  meeting_agenda_items: MeetingAgendaItemsTable;
  meeting_participants: MeetingParticipantsTable;
  meeting_sign_ins: MeetingSignInsTable;
  meeting_seats: MeetingSeatsTable;
  meeting_documents: MeetingDocumentsTable;
  meeting_presenter: MeetingPresenterTable;
  meeting_annotations: MeetingAnnotationsTable;
  meeting_votes: MeetingVotesTable;
  meeting_vote_voters: MeetingVoteVotersTable;
  meeting_ballots: MeetingBallotsTable;
  meeting_vote_counts: MeetingVoteCountsTable;
  meeting_minutes: MeetingMinutesTable;
}
