/**
 * The meeting terminal's view of GET /api/kiosk/meeting/current. The server's Meeting carries more
 * than a terminal needs; `normalizeMeeting` keeps what is shown, in one shape, whatever optional
 * parts the server leaves out.
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
  status: string;
  confidential: boolean;
  agenda: string[];
  participants: Participant[];
  documents: MeetingDocument[];
  votes: Vote[];
  presenter: PresenterState | null;
  /** The participant who turns the pages: the chair unless someone else was made presenter. */
  presenterUserId: number | null;
}
export interface Current {
  room: { id: string; name: string; devices: RoomDevice[] };
  meeting: Meeting | null;
  seat: Seat | null;
}

type Raw = Record<string, unknown>;
const obj = (v: unknown): Raw => (v && typeof v === 'object' ? (v as Raw) : {});
const list = (v: unknown): Raw[] => (Array.isArray(v) ? v.map(obj) : []);
const num = (v: unknown): number | null => (typeof v === 'number' ? v : typeof v === 'string' && v !== '' && !Number.isNaN(Number(v)) ? Number(v) : null);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** A tally as an object {option: count} or a list [{option|choice, count}]. */
export function normalizeTally(v: unknown): Record<string, number> | null {
  if (Array.isArray(v)) {
    const out: Record<string, number> = {};
    for (const row of v.map(obj)) {
      const key = str(row.option) ?? str(row.choice) ?? str(row.label);
      if (key !== null) out[key] = num(row.count) ?? num(row.votes) ?? 0;
    }
    return out;
  }
  if (v && typeof v === 'object') {
    const out: Record<string, number> = {};
    for (const [k, n] of Object.entries(v as Raw)) if (num(n) !== null) out[k] = num(n)!;
    return out;
  }
  return null;
}

export function normalizeVote(raw: Raw): Vote {
  const status = str(raw.status);
  return {
    id: num(raw.id) ?? 0,
    title: str(raw.title) ?? '',
    options: Array.isArray(raw.options) && raw.options.length ? raw.options.map(String) : ['同意', '反对', '弃权'],
    anonymous: raw.anonymous === true,
    status: status === 'open' || status === 'closed' ? status : raw.closed_at ? 'closed' : raw.opened_at ? 'open' : 'draft',
    tally: normalizeTally(raw.tally ?? raw.result),
    passed: typeof raw.passed === 'boolean' ? raw.passed : null,
    cast: num(raw.cast) ?? num(raw.ballots_cast) ?? num(raw.ballot_count),
    voted: raw.voted === true || raw.has_voted === true || raw.my_ballot != null,
  };
}

export function normalizeMeeting(raw: Raw): Meeting {
  const confidential = raw.confidential === true;
  const participants: Participant[] = list(raw.participants).map((p) => {
    const user = obj(p.user);
    const signIn = p.signed_in_at ?? p.sign_in ?? p.signed_in;
    return {
      id: num(p.id) ?? num(p.participant_id),
      user_id: num(p.user_id) ?? num(user.id) ?? 0,
      display_name: str(p.display_name) ?? str(p.name) ?? str(user.display_name) ?? '',
      role: str(p.role) ?? 'member',
      signed_in: !!signIn,
    };
  });
  const presenterRaw = obj(raw.presenter ?? raw.presenter_state ?? raw.presentation);
  const presenterDoc = num(presenterRaw.document_id);
  const presenterParticipant = num(raw.presenter_participant_id) ?? num(presenterRaw.participant_id);
  const chair = participants.find((p) => p.role === 'chair');
  return {
    id: num(raw.id) ?? 0,
    title: str(raw.title) ?? '',
    starts_at: str(raw.starts_at),
    ends_at: str(raw.ends_at),
    status: str(raw.status) ?? 'scheduled',
    confidential,
    agenda: list(raw.agenda).map((a) => str(a.title) ?? ''),
    participants,
    documents: list(raw.documents).map((d) => ({
      id: num(d.id) ?? 0,
      name: str(d.name) ?? '',
      pages: num(d.pages),
      confidential: typeof d.confidential === 'boolean' ? d.confidential : confidential,
      withdrawn: !!(d.withdrawn_at ?? d.withdrawn),
    })),
    votes: list(raw.votes).map(normalizeVote),
    presenter: presenterDoc !== null ? { document_id: presenterDoc, page: num(presenterRaw.page) ?? 1 } : null,
    presenterUserId:
      num(raw.presenter_user_id) ??
      num(presenterRaw.user_id) ??
      (presenterParticipant !== null ? (participants.find((p) => p.id === presenterParticipant)?.user_id ?? null) : null) ??
      chair?.user_id ??
      null,
  };
}

export function normalizeCurrent(raw: Raw): Current {
  const room = obj(raw.room);
  const seat = raw.seat ? (obj(raw.seat) as unknown as Seat) : null;
  return {
    room: {
      id: str(room.id) ?? '',
      name: str(room.name) ?? '',
      devices: list(room.devices).map((d) => ({ id: str(d.id) ?? '', name: str(d.name) ?? str(d.id) ?? '', profile: str(d.profile), availability: str(d.availability) ?? 'unknown', state: d.state })),
    },
    meeting: raw.meeting ? normalizeMeeting(obj(raw.meeting)) : null,
    seat,
  };
}
