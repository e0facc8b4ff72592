/**
 * The meeting terminal's view of GET /api/kiosk/meeting/current (server/src/modules/meetings): the
 * server's Meeting carries more than a terminal shows; `normalizeCurrent` keeps what is shown.
 */
export interface RoomDevice {
  id: string;
  name: string;
  profile: string | null;
  availability: string;
  state: unknown;
}
export interface Seat {
  participant_id: number;
  user_id: number;
  display_name: string;
  role: string;
}
export interface Participant {
  id: number | null;
  user_id: number;
  display_name: string;
  role: string;
  signed_in: boolean;
}
export interface MeetingDocument {
  id: number;
  name: string;
  pages: number | null;
  confidential: boolean;
  withdrawn: boolean;
}
export interface Vote {
  id: number;
  title: string;
  options: string[];
  anonymous: boolean;
  status: 'draft' | 'open' | 'closed';
  tally: Record<string, number> | null;
  passed: boolean | null;
  cast: number | null;
  voted: boolean;
}
export interface PresenterState {
  document_id: number;
  page: number;
}
export interface Meeting {
  id: number;
  title: string;
  starts_at: string | null;
  ends_at: string | null;
  status: 'scheduled' | 'in_progress' | 'ended';
  confidential: boolean;
  agenda: string[];
  participants: Participant[];
  documents: MeetingDocument[];
  votes: Vote[];
  presenter: PresenterState | null;
  /** The user who turns the pages: the chair unless the chair or secretary made someone else presenter. */
  presenterUserId: number | null;
}
export interface Current {
  room: { id: string; name: string; devices: RoomDevice[] };
  meeting: Meeting | null;
  seat: Seat | null;
}

/** The server's shapes, as far as the terminal reads them. */
interface ServerParticipant {
  id: number;
  user_id: number;
  display_name: string;
  role: string;
  signed_in_at: string | null;
}
interface ServerVote {
  id: number;
  title: string;
  options: string[];
  anonymous: boolean;
  status: Vote['status'];
  cast: number;
  tally: Record<string, number> | null;
  passed: boolean | null;
  voted_by_me: boolean;
}
interface ServerMeeting {
  id: number;
  title: string;
  starts_at: string;
  ends_at: string;
  status: Meeting['status'];
  confidential: boolean;
  agenda: { title: string }[];
  participants: ServerParticipant[];
  documents: { id: number; name: string; pages: number; withdrawn_at: string | null }[];
  votes: ServerVote[];
  presenter: { presenter_participant_id: number | null; document_id: number | null; page: number | null };
}
interface ServerCurrent {
  room: { id: string; name: string; devices: { id: string; name: string | null; profile: string | null; availability: string; state: unknown }[] } | null;
  meeting: ServerMeeting | null;
  seat: Seat | null;
}

/** A closed vote's tally as sent by the server ({option: count}), or null while it is open. */
export function normalizeTally(v: unknown): Record<string, number> | null {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return null;
  return Object.fromEntries(Object.entries(v as Record<string, unknown>).filter((e): e is [string, number] => typeof e[1] === 'number'));
}

const normalizeVote = (v: ServerVote): Vote => ({
  id: v.id,
  title: v.title,
  options: v.options,
  anonymous: v.anonymous,
  status: v.status,
  tally: normalizeTally(v.tally),
  passed: v.passed,
  cast: v.cast,
  voted: v.voted_by_me,
});

function normalizeMeeting(m: ServerMeeting): Meeting {
  const participants: Participant[] = m.participants.map((p) => ({ id: p.id, user_id: p.user_id, display_name: p.display_name, role: p.role, signed_in: p.signed_in_at !== null }));
  const presenter = m.presenter;
  return {
    id: m.id,
    title: m.title,
    starts_at: m.starts_at,
    ends_at: m.ends_at,
    status: m.status,
    confidential: m.confidential,
    agenda: m.agenda.map((a) => a.title),
    participants,
    documents: m.documents.map((d) => ({ id: d.id, name: d.name, pages: d.pages, confidential: m.confidential, withdrawn: d.withdrawn_at !== null })),
    votes: m.votes.map(normalizeVote),
    presenter: presenter.document_id !== null ? { document_id: presenter.document_id, page: presenter.page ?? 1 } : null,
    presenterUserId: participants.find((p) => p.id === presenter.presenter_participant_id)?.user_id ?? null,
  };
}

export function normalizeCurrent(raw: unknown): Current {
  const c = raw as ServerCurrent;
  return {
    room: {
      id: c.room?.id ?? '',
      name: c.room?.name ?? '',
      devices: (c.room?.devices ?? []).map((d) => ({ id: d.id, name: d.name ?? d.id, profile: d.profile, availability: d.availability, state: d.state })),
    },
    meeting: c.meeting ? normalizeMeeting(c.meeting) : null,
    seat: c.seat,
  };
}
