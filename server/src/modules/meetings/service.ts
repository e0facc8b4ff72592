import { createHash } from 'node:crypto';
import { sql, type Transaction } from 'kysely';
import { shanghaiDayNumber } from '../../calendar.js';
import { SYSTEM_ACTOR, type Actor, type ServiceContext } from '../../context.js';
import type { Db } from '../../db/index.js';
import type { Availability, Database } from '../../db/schema.js';
import type { Job } from '../../scheduler.js';
import { AppError, badRequest, conflict, forbidden, notFound } from '../../errors.js';
import { appendAudit, recordAudit } from '../audit/service.js';
import { can, may, requirePermission } from '../auth/roles.js';
import type { Kiosk } from '../kiosks/service.js';
import { announce } from '../realtime/hub.js';
import { inspectPdf, MAX_PDF_BYTES } from './pdf.js';
import { rememberMeeting } from './realtime.js';
import type { MeetingKind, MeetingRoomRow, MeetingSessionRow, MeetingVoteRow, ParticipantRole, VoteRule, VoteStatus } from './tables.js';

/**
 * Meetings (会议): the firm's own (partners, staff, case discussions) and the Party branch's
 * (三会一课 and 主题党日, Z6.1.2), in rooms with paperless terminals. Staff organise them; in the room,
 * each participant signs in at a terminal, which then serves that participant's seat: documents, the
 * presenter's page, private annotations and ballots. What the meeting decided is a record and stays.
 */

// ---------------------------------------------------------------------------------------------
// Kinds and record types

export const RECORD_TYPES = [
  { kind: 'firm', record_type: 'partners_meeting', label: '合伙人会议', label_en: 'Partners’ meeting', group: null },
  { kind: 'firm', record_type: 'staff_meeting', label: '全所会议', label_en: 'Staff meeting', group: null },
  { kind: 'firm', record_type: 'case_discussion', label: '案件讨论会', label_en: 'Case discussion', group: null },
  { kind: 'firm', record_type: 'other', label: '其他会议', label_en: 'Other meeting', group: null },
  { kind: 'party_branch', record_type: 'branch_general_meeting', label: '支部党员大会', label_en: 'Branch general meeting', group: '三会一课' },
  { kind: 'party_branch', record_type: 'branch_committee', label: '支委会', label_en: 'Branch committee meeting', group: '三会一课' },
  { kind: 'party_branch', record_type: 'party_group', label: '党小组会', label_en: 'Party group meeting', group: '三会一课' },
  { kind: 'party_branch', record_type: 'party_lecture', label: '党课', label_en: 'Party lecture', group: '三会一课' },
  { kind: 'party_branch', record_type: 'theme_day', label: '主题党日', label_en: 'Theme Party day', group: null },
] as const satisfies readonly { kind: MeetingKind; record_type: string; label: string; label_en: string; group: string | null }[];

const recordTypeOf = (kind: MeetingKind, recordType: string) => RECORD_TYPES.find((r) => r.kind === kind && r.record_type === recordType);

export const DEFAULT_OPTIONS = ['同意', '反对', '弃权'];
/** How long before the scheduled start the terminals take sign-ins. */
export const SIGN_IN_OPENS_MINUTES = 60;
/** A meeting lasts a working day at most. */
const MAX_MEETING_MS = 24 * 3_600_000;
/** The largest annotation a seat saves for one page (JSON). */
export const MAX_STROKES_BYTES = 64 * 1024;
const ROLE_ORDER: ParticipantRole[] = ['chair', 'secretary', 'member', 'observer'];

// ---------------------------------------------------------------------------------------------
// Views

export interface RoomView {
  id: string;
  name: string;
  floor: string | null;
  capacity: number;
  devices: string[];
  created_at: string;
  updated_at: string;
}

export interface ParticipantView {
  id: number;
  user_id: number;
  display_name: string;
  role: ParticipantRole;
  signed_in_at: string | null;
  sign_in_via: 'terminal' | 'secretary' | null;
  /** who signed a latecomer in (the secretary's user id) */
  signed_in_by: number | null;
  seated: boolean;
}

export interface DocumentView {
  id: number;
  name: string;
  pages: number;
  sha256: string;
  size: number;
  uploaded_at: string;
  withdrawn_at: string | null;
}

export interface VoteView {
  id: number;
  title: string;
  options: string[];
  anonymous: boolean;
  rule: VoteRule;
  status: VoteStatus;
  eligible: number | null;
  cast: number;
  tally: Record<string, number> | null;
  passed: boolean | null;
  created_at: string;
  opened_at: string | null;
  closed_at: string | null;
  voted_by_me: boolean;
  /** named votes, once closed: who chose what */
  ballots: { participant_id: number; choice: string }[];
}

export interface PresenterView {
  presenter_participant_id: number | null;
  document_id: number | null;
  page: number | null;
  updated_at: string | null;
}

export interface MinutesView {
  version: number;
  text: string;
  written_by: number | null;
  written_at: string;
  approved_by: number | null;
  approved_at: string | null;
}

type MeetingStatus = 'scheduled' | 'in_progress' | 'ended';

interface MeetingHeader {
  id: number;
  title: string;
  kind: MeetingKind;
  record_type: string;
  record_type_label: string;
  room_id: string;
  room_name: string;
  starts_at: string;
  ends_at: string;
  confidential: boolean;
  status: MeetingStatus;
  started_at: string | null;
  ended_at: string | null;
  created_at: string;
  my_role: ParticipantRole | null;
}

export interface MeetingSummary extends MeetingHeader {
  participants: number;
  signed_in: number;
}

export interface MeetingView extends MeetingHeader {
  agenda: { id: number; position: number; title: string }[];
  participants: ParticipantView[];
  documents: DocumentView[];
  votes: VoteView[];
  presenter: PresenterView;
  /** null before the secretary writes any, and always on terminals */
  minutes: MinutesView | null;
}

export interface SeatView {
  participant_id: number;
  user_id: number;
  display_name: string;
  role: ParticipantRole;
}

const iso = (d: Date | null) => d?.toISOString() ?? null;
const statusOf = (s: Pick<MeetingSessionRow, 'started_at' | 'ended_at'>): MeetingStatus => (s.ended_at ? 'ended' : s.started_at ? 'in_progress' : 'scheduled');
const bytesOf = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

export function presentRoom(r: MeetingRoomRow): RoomView {
  return { id: r.id, name: r.name, floor: r.floor, capacity: r.capacity, devices: r.devices, created_at: r.created_at.toISOString(), updated_at: r.updated_at.toISOString() };
}

function header(s: MeetingSessionRow, roomName: string, myRole: ParticipantRole | null): MeetingHeader {
  return {
    id: s.id,
    title: s.title,
    kind: s.kind,
    record_type: s.record_type,
    record_type_label: recordTypeOf(s.kind, s.record_type)?.label ?? s.record_type,
    room_id: s.room_id,
    room_name: roomName,
    starts_at: s.starts_at.toISOString(),
    ends_at: s.ends_at.toISOString(),
    confidential: s.confidential,
    status: statusOf(s),
    started_at: iso(s.started_at),
    ended_at: iso(s.ended_at),
    created_at: s.created_at.toISOString(),
    my_role: myRole,
  };
}

async function participantsOf(db: Db, meetingId: number): Promise<ParticipantView[]> {
  const rows = await db
    .selectFrom('meeting_participants as p')
    .innerJoin('users as u', 'u.id', 'p.user_id')
    .leftJoin('meeting_sign_ins as s', 's.participant_id', 'p.id')
    .leftJoin('meeting_seats as seat', 'seat.participant_id', 'p.id')
    .select(['p.id', 'p.user_id', 'p.role', 'u.display_name', 's.signed_in_at', 's.kiosk_id', 's.recorded_by', 'seat.kiosk_id as seat_kiosk'])
    .where('p.meeting_id', '=', meetingId)
    .execute();
  return rows
    .sort((a, b) => ROLE_ORDER.indexOf(a.role) - ROLE_ORDER.indexOf(b.role) || a.id - b.id)
    .map((r) => ({
      id: r.id,
      user_id: r.user_id,
      display_name: r.display_name,
      role: r.role,
      signed_in_at: iso(r.signed_in_at),
      sign_in_via: r.signed_in_at ? (r.recorded_by !== null ? 'secretary' : 'terminal') : null,
      signed_in_by: r.recorded_by,
      seated: r.seat_kiosk !== null,
    }));
}

const presentDocument = (d: { id: number; name: string; pages: number; sha256: string; size: number; uploaded_at: Date; withdrawn_at: Date | null }): DocumentView => ({
  id: d.id,
  name: d.name,
  pages: d.pages,
  sha256: d.sha256,
  size: d.size,
  uploaded_at: d.uploaded_at.toISOString(),
  withdrawn_at: iso(d.withdrawn_at),
});

async function votesOf(db: Db, votes: MeetingVoteRow[], participantId: number | null): Promise<VoteView[]> {
  if (votes.length === 0) return [];
  const ids = votes.map((v) => v.id);
  const counts = await db.selectFrom('meeting_vote_voters').select(['vote_id', (eb) => eb.fn.countAll().as('n')]).where('vote_id', 'in', ids).groupBy('vote_id').execute();
  const mine = participantId === null ? [] : await db.selectFrom('meeting_vote_voters').select('vote_id').where('vote_id', 'in', ids).where('participant_id', '=', participantId).execute();
  const named = votes.filter((v) => v.status === 'closed' && !v.anonymous).map((v) => v.id);
  const ballots = named.length === 0 ? [] : await db.selectFrom('meeting_ballots').select(['vote_id', 'participant_id', 'choice']).where('vote_id', 'in', named).orderBy('participant_id').execute();
  return votes.map((v) => ({
    id: v.id,
    title: v.title,
    options: v.options,
    anonymous: v.anonymous,
    rule: v.rule,
    status: v.status,
    eligible: v.eligible,
    cast: v.cast_count ?? Number(counts.find((c) => c.vote_id === v.id)?.n ?? 0),
    // No running tally: an open vote shows only how many have voted.
    tally: v.tally,
    passed: v.passed,
    created_at: v.created_at.toISOString(),
    opened_at: iso(v.opened_at),
    closed_at: iso(v.closed_at),
    voted_by_me: mine.some((m) => m.vote_id === v.id),
    ballots: ballots.filter((b) => b.vote_id === v.id).map((b) => ({ participant_id: b.participant_id, choice: b.choice })),
  }));
}

interface Viewer {
  /** the participant the viewer is (a user taking part, or the terminal's seat) */
  participantId: number | null;
  /** terminals see no minutes */
  kiosk: boolean;
}

/**
 * A terminal nobody has signed in at shows only what finding one's name needs: whoever stands at it
 * sees no documents or votes, and no agenda of a confidential meeting.
 */
const unseatedTerminal = (viewer: Viewer) => viewer.kiosk && viewer.participantId === null;

/** A meeting in full, as its viewer may see it; also tells the realtime rules who may listen to it. */
async function presentMeeting(db: Db, s: MeetingSessionRow, viewer: Viewer): Promise<MeetingView> {
  const room = await db.selectFrom('meeting_rooms').select('name').where('id', '=', s.room_id).executeTakeFirstOrThrow();
  const agenda = await db.selectFrom('meeting_agenda_items').select(['id', 'position', 'title']).where('meeting_id', '=', s.id).orderBy('position').execute();
  const participants = await participantsOf(db, s.id);
  const documents = await db.selectFrom('meeting_documents').select(['id', 'name', 'pages', 'sha256', 'size', 'uploaded_at', 'withdrawn_at']).where('meeting_id', '=', s.id).orderBy('id').execute();
  const votes = await db.selectFrom('meeting_votes').selectAll().where('meeting_id', '=', s.id).orderBy('id').execute();
  const presenter = await db.selectFrom('meeting_presenter').selectAll().where('meeting_id', '=', s.id).executeTakeFirst();
  const minutes = viewer.kiosk ? undefined : await db.selectFrom('meeting_minutes').selectAll().where('meeting_id', '=', s.id).orderBy('version', 'desc').limit(1).executeTakeFirst();
  rememberMeeting(s.id, s.room_id, participants.map((p) => p.user_id));
  const me = participants.find((p) => p.id === viewer.participantId);
  const unseated = unseatedTerminal(viewer);
  return {
    ...header(s, room.name, me?.role ?? null),
    agenda: unseated && s.confidential ? [] : agenda,
    participants,
    documents: unseated ? [] : documents.map(presentDocument),
    votes: unseated ? [] : await votesOf(db, votes, viewer.participantId),
    presenter: {
      presenter_participant_id: presenter?.presenter_participant_id ?? participants.find((p) => p.role === 'chair')?.id ?? null,
      document_id: presenter?.document_id ?? null,
      page: presenter?.page ?? null,
      updated_at: iso(presenter?.document_id ? presenter.updated_at : null),
    },
    minutes: minutes
      ? { version: minutes.version, text: minutes.text, written_by: minutes.written_by, written_at: minutes.written_at.toISOString(), approved_by: minutes.approved_by, approved_at: iso(minutes.approved_at) }
      : null,
  };
}

// ---------------------------------------------------------------------------------------------
// Access


const meetingNotFound = (id: number) => notFound('MEETING_NOT_FOUND', `No meeting ${id}. / 会议不存在。`);

interface Participant {
  id: number;
  user_id: number;
  role: ParticipantRole;
}

interface MeetingAccess {
  session: MeetingSessionRow;
  participants: Participant[];
  /** the actor's own participation, if any */
  me: Participant | null;
  manager: boolean;
}

/**
 * A meeting as a staff member reaches it: those who take part and those who organise meetings see it,
 * for everybody else it does not exist. With `lock`, the session row is locked for the change.
 */
async function reachMeeting(db: Db | Transaction<Database>, actor: Actor, id: number, lock = false): Promise<MeetingAccess> {
  let query = db.selectFrom('meeting_sessions').selectAll().where('id', '=', id);
  if (lock) query = query.forUpdate();
  const session = await query.executeTakeFirst();
  const manager = may(actor, 'meetings.manage');
  if (!session) throw meetingNotFound(id);
  const participants = await db.selectFrom('meeting_participants').select(['id', 'user_id', 'role']).where('meeting_id', '=', id).execute();
  const me = participants.find((p) => p.user_id === actor.userId) ?? null;
  if (!me && !manager) throw meetingNotFound(id);
  return { session, participants, me, manager };
}

const ROLE_LABEL: Record<ParticipantRole, string> = { chair: 'chair / 主持人', secretary: 'secretary / 记录人', member: 'member / 参会人', observer: 'observer / 列席人' };

/**
 * The meeting's own officers decide its course. Without a secretary the chair keeps the record, so a
 * secretary's duty falls to the chair then.
 */
function requireMeetingRole(access: MeetingAccess, roles: ParticipantRole[]): Participant {
  const hasSecretary = access.participants.some((p) => p.role === 'secretary');
  const allowed = roles.includes('secretary') && !hasSecretary ? [...roles, 'chair' as const] : roles;
  if (!access.me || !allowed.includes(access.me.role)) {
    throw forbidden('MEETING_ROLE_REQUIRED', `Only the meeting's ${roles.map((r) => ROLE_LABEL[r]).join(' or ')} may do this. / 仅本次会议的${roles.map((r) => ROLE_LABEL[r].split(' / ')[1]).join('或')}可执行此操作。`);
  }
  return access.me;
}

function requireNotEnded(s: MeetingSessionRow): void {
  if (s.ended_at) throw conflict('MEETING_ENDED', `The meeting ended at ${s.ended_at.toISOString()}. / 会议已结束。`);
}

function requireInProgress(s: MeetingSessionRow): void {
  requireNotEnded(s);
  if (!s.started_at) throw conflict('MEETING_NOT_STARTED', 'The meeting has not started yet. / 会议尚未开始。');
}

const audit = (trx: Transaction<Database>, actor: Actor, at: Date, action: string, object: string, detail: Record<string, unknown> | null) =>
  appendAudit(trx, { at, actor: actor.username, action, object, result: 'success', sourceIp: actor.sourceIp, detail });

const meetingEvent = (trx: Transaction<Database>, meetingId: number, data: Record<string, unknown>) => announce(trx, { topic: `meeting:${meetingId}`, data });

// ---------------------------------------------------------------------------------------------
// Rooms

export interface RoomInput {
  name: string;
  floor?: string | null;
  capacity: number;
  devices?: string[];
}

async function roomValues(trx: Transaction<Database>, input: RoomInput) {
  const name = input.name.trim();
  if (!name) throw badRequest('INVALID_NAME', 'A room needs a name. / 请填写会议室名称。');
  const devices = input.devices ?? [];
  if (devices.length > 0) {
    const found = await trx.selectFrom('devices').select('id').where('id', 'in', devices).execute();
    const missing = devices.filter((d) => !found.some((f) => f.id === d));
    if (missing.length) throw badRequest('UNKNOWN_DEVICE', `No device ${missing.join(', ')}. / 设备不存在：${missing.join('、')}。`);
  }
  return { name, floor: input.floor?.trim() || null, capacity: input.capacity, devices };
}

export async function listRooms(ctx: ServiceContext): Promise<RoomView[]> {
  return (await ctx.db.selectFrom('meeting_rooms').selectAll().orderBy('id').execute()).map(presentRoom);
}

export async function createRoom(ctx: ServiceContext, actor: Actor, id: string, input: RoomInput): Promise<RoomView> {
  requirePermission(actor, 'meetings.manage');
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    if (await trx.selectFrom('meeting_rooms').select('id').where('id', '=', id).executeTakeFirst()) throw conflict('ROOM_EXISTS', `Room ${id} already exists. / 会议室 ${id} 已存在。`);
    const values = await roomValues(trx, input);
    const row = await trx.insertInto('meeting_rooms').values({ id, ...values, created_at: now, updated_at: now }).returningAll().executeTakeFirstOrThrow();
    await audit(trx, actor, now, 'meeting_room.create', `meeting_room:${id}`, values);
    return presentRoom(row);
  });
}

export async function updateRoom(ctx: ServiceContext, actor: Actor, id: string, input: RoomInput): Promise<RoomView> {
  requirePermission(actor, 'meetings.manage');
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    const before = await trx.selectFrom('meeting_rooms').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
    if (!before) throw notFound('ROOM_NOT_FOUND', `No meeting room ${id}. / 会议室不存在。`);
    const values = await roomValues(trx, input);
    const row = await trx.updateTable('meeting_rooms').set({ ...values, updated_at: now }).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
    await audit(trx, actor, now, 'meeting_room.update', `meeting_room:${id}`, { from: { name: before.name, floor: before.floor, capacity: before.capacity, devices: before.devices }, to: values });
    return presentRoom(row);
  });
}

// ---------------------------------------------------------------------------------------------
// Meetings

export interface MeetingInput {
  title: string;
  kind: MeetingKind;
  record_type: string;
  room_id: string;
  starts_at: string;
  ends_at: string;
  confidential: boolean;
  participants: { user_id: number; role: ParticipantRole }[];
  agenda: { title: string }[];
}

function checkMeetingInput(input: MeetingInput): { title: string; startsAt: Date; endsAt: Date; agenda: string[] } {
  const title = input.title.trim();
  if (!title) throw badRequest('INVALID_TITLE', 'A meeting needs a title. / 请填写会议名称。');
  if (!recordTypeOf(input.kind, input.record_type)) {
    const allowed = RECORD_TYPES.filter((r) => r.kind === input.kind).map((r) => r.record_type);
    throw badRequest('INVALID_RECORD_TYPE', `A ${input.kind} meeting is one of: ${allowed.join(', ')}. / 会议类型与会议类别不符。`);
  }
  const startsAt = new Date(input.starts_at);
  const endsAt = new Date(input.ends_at);
  if (Number.isNaN(startsAt.getTime()) || Number.isNaN(endsAt.getTime()) || startsAt >= endsAt || endsAt.getTime() - startsAt.getTime() > MAX_MEETING_MS) {
    throw badRequest('INVALID_TIME_RANGE', 'A meeting starts before it ends and lasts 24 hours at most. / 会议开始时间须早于结束时间，且时长不超过 24 小时。');
  }
  const ids = input.participants.map((p) => p.user_id);
  if (new Set(ids).size !== ids.length) throw badRequest('DUPLICATE_PARTICIPANT', 'Each participant is listed once. / 参会人重复。');
  const chairs = input.participants.filter((p) => p.role === 'chair').length;
  if (chairs !== 1) throw badRequest('ONE_CHAIR', 'A meeting has exactly one chair. / 会议须有且仅有一名主持人。');
  if (input.participants.filter((p) => p.role === 'secretary').length > 1) throw badRequest('ONE_SECRETARY', 'A meeting has one secretary at most. / 会议至多一名记录人。');
  const agenda = input.agenda.map((a) => a.title.trim());
  if (agenda.some((a) => !a)) throw badRequest('INVALID_AGENDA', 'Every agenda item needs a title. / 议程事项须有标题。');
  return { title, startsAt, endsAt, agenda };
}

/** Schedules a meeting in a room that is free then, with its participants and agenda. */
export async function createMeeting(ctx: ServiceContext, actor: Actor, input: MeetingInput): Promise<MeetingView> {
  requirePermission(actor, 'meetings.manage');
  const { title, startsAt, endsAt, agenda } = checkMeetingInput(input);
  const now = ctx.clock.now();
  const id = await ctx.db.transaction().execute(async (trx) => {
    // The room's row serialises bookings of the room.
    const room = await trx.selectFrom('meeting_rooms').select('id').where('id', '=', input.room_id).forUpdate().executeTakeFirst();
    if (!room) throw badRequest('UNKNOWN_ROOM', `No meeting room "${input.room_id}". / 会议室不存在。`);
    const clash = await trx
      .selectFrom('meeting_sessions')
      .select(['id', 'title', 'starts_at', 'ends_at'])
      .where('room_id', '=', input.room_id)
      .where('ended_at', 'is', null)
      .where('starts_at', '<', endsAt)
      .where('ends_at', '>', startsAt)
      .executeTakeFirst();
    if (clash) {
      throw conflict('ROOM_BOOKED', `The room is booked for "${clash.title}" (${clash.starts_at.toISOString()} – ${clash.ends_at.toISOString()}). / 该时段会议室已被预订：${clash.title}。`);
    }
    const ids = input.participants.map((p) => p.user_id);
    const users = await trx.selectFrom('users').select('id').where('id', 'in', ids).where('disabled', '=', false).execute();
    const missing = ids.filter((u) => !users.some((x) => x.id === u));
    if (missing.length) throw badRequest('UNKNOWN_USER', `No active user ${missing.join(', ')}. / 用户不存在或已停用：${missing.join('、')}。`);
    const session = await trx
      .insertInto('meeting_sessions')
      .values({ title, kind: input.kind, record_type: input.record_type, room_id: input.room_id, starts_at: startsAt, ends_at: endsAt, confidential: input.confidential, created_by: actor.userId, created_at: now })
      .returning('id')
      .executeTakeFirstOrThrow();
    if (agenda.length) await trx.insertInto('meeting_agenda_items').values(agenda.map((t, i) => ({ meeting_id: session.id, position: i + 1, title: t }))).execute();
    await trx.insertInto('meeting_participants').values(input.participants.map((p) => ({ meeting_id: session.id, user_id: p.user_id, role: p.role }))).execute();
    await trx.insertInto('meeting_presenter').values({ meeting_id: session.id, presenter_participant_id: null, document_id: null, page: null, updated_at: now }).execute();
    await audit(trx, actor, now, 'meeting.create', `meeting:${session.id}`, {
      title,
      kind: input.kind,
      record_type: input.record_type,
      room_id: input.room_id,
      starts_at: startsAt.toISOString(),
      ends_at: endsAt.toISOString(),
      confidential: input.confidential,
      participants: input.participants,
      agenda,
    });
    await meetingEvent(trx, session.id, { type: 'meeting.created' });
    return session.id;
  });
  return getMeeting(ctx, actor, id);
}

export async function getMeeting(ctx: ServiceContext, actor: Actor, id: number): Promise<MeetingView> {
  const { session, me } = await reachMeeting(ctx.db, actor, id);
  return presentMeeting(ctx.db, session, { participantId: me?.id ?? null, kiosk: false });
}

/** Meetings overlapping [from, to): all of them for organisers, one's own for everybody else. */
export async function listMeetings(ctx: ServiceContext, actor: Actor, range: { from?: string; to?: string }): Promise<MeetingSummary[]> {
  let query = ctx.db.selectFrom('meeting_sessions as m').innerJoin('meeting_rooms as r', 'r.id', 'm.room_id').selectAll('m').select('r.name as room_name').orderBy('m.starts_at').orderBy('m.id').limit(500);
  if (!actor.role || !can(actor.role, 'meetings.manage')) {
    query = query.where('m.id', 'in', ctx.db.selectFrom('meeting_participants').select('meeting_id').where('user_id', '=', actor.userId ?? -1));
  }
  if (range.from) query = query.where('m.ends_at', '>', new Date(range.from));
  if (range.to) query = query.where('m.starts_at', '<', new Date(range.to));
  const rows = await query.execute();
  if (rows.length === 0) return [];
  const people = await ctx.db
    .selectFrom('meeting_participants as p')
    .leftJoin('meeting_sign_ins as s', 's.participant_id', 'p.id')
    .select(['p.meeting_id', 'p.user_id', 'p.role', 's.signed_in_at'])
    .where('p.meeting_id', 'in', rows.map((r) => r.id))
    .execute();
  return rows.map(({ room_name, ...m }) => {
    const mine = people.filter((p) => p.meeting_id === m.id);
    return {
      ...header(m, room_name, mine.find((p) => p.user_id === actor.userId)?.role ?? null),
      participants: mine.length,
      signed_in: mine.filter((p) => p.signed_in_at !== null).length,
    };
  });
}

export async function startMeeting(ctx: ServiceContext, actor: Actor, id: number): Promise<MeetingView> {
  const now = ctx.clock.now();
  await ctx.db.transaction().execute(async (trx) => {
    const access = await reachMeeting(trx, actor, id, true);
    if (!access.manager) requireMeetingRole(access, ['chair', 'secretary']);
    requireNotEnded(access.session);
    if (access.session.started_at) throw conflict('MEETING_STARTED', `The meeting started at ${access.session.started_at.toISOString()}. / 会议已开始。`);
    await trx.updateTable('meeting_sessions').set({ started_at: now }).where('id', '=', id).execute();
    await audit(trx, actor, now, 'meeting.start', `meeting:${id}`, null);
    await meetingEvent(trx, id, { type: 'meeting.started' });
  });
  return getMeeting(ctx, actor, id);
}

/**
 * Ends a meeting. A confidential meeting's documents are withdrawn: the terminals lose them at once,
 * and their bytes stay in the database for the record. A vote still open must be closed first.
 */
export async function endMeeting(ctx: ServiceContext, actor: Actor, id: number): Promise<MeetingView> {
  const now = ctx.clock.now();
  await ctx.db.transaction().execute(async (trx) => {
    const access = await reachMeeting(trx, actor, id, true);
    if (!access.manager) requireMeetingRole(access, ['chair', 'secretary']);
    requireInProgress(access.session);
    const open = await trx.selectFrom('meeting_votes').select(['id', 'title']).where('meeting_id', '=', id).where('status', '=', 'open').executeTakeFirst();
    if (open) throw conflict('VOTE_OPEN', `Close the vote "${open.title}" before ending the meeting. / 请先结束表决「${open.title}」。`);
    await finishMeeting(trx, actor, now, access.session, {});
  });
  return getMeeting(ctx, actor, id);
}

/**
 * The end of a meeting, however it comes: the open vote (the overdue job's case) is closed with its
 * result, the session ended, a confidential meeting's documents withdrawn, all audited by `actor`.
 * A meeting that never started is not recorded as ended (it did not take place); its confidential
 * documents are withdrawn all the same.
 */
async function finishMeeting(trx: Transaction<Database>, actor: Actor, now: Date, session: MeetingSessionRow, detail: Record<string, unknown>): Promise<void> {
  const open = await trx.selectFrom('meeting_votes').selectAll().where('meeting_id', '=', session.id).where('status', '=', 'open').forUpdate().execute();
  for (const vote of open) await recordVoteResult(trx, actor, now, vote);
  if (session.started_at) await trx.updateTable('meeting_sessions').set({ ended_at: now }).where('id', '=', session.id).execute();
  const withdrawn = session.confidential
    ? await trx.updateTable('meeting_documents').set({ withdrawn_at: now }).where('meeting_id', '=', session.id).where('withdrawn_at', 'is', null).returning('id').execute()
    : [];
  await audit(trx, actor, now, session.started_at ? 'meeting.end' : 'meeting.documents_withdraw', `meeting:${session.id}`, { ...detail, withdrawn_documents: withdrawn.map((d) => d.id) });
  for (const d of withdrawn) await meetingEvent(trx, session.id, { type: 'document.withdrawn', document_id: d.id });
  if (session.started_at) await meetingEvent(trx, session.id, { type: 'meeting.ended' });
}

/** How long after its scheduled end a meeting nobody ended is ended by the system. */
export const OVERDUE_END_MS = 3_600_000;

/**
 * Ends the meetings still running an hour after their scheduled end, and withdraws the confidential
 * documents of meetings that never started, so a forgotten "end" leaves nothing on the terminals.
 */
export async function endOverdueMeetings(ctx: ServiceContext): Promise<{ ended: number[]; withdrawn: number[] }> {
  const cutoff = new Date(ctx.clock.now().getTime() - OVERDUE_END_MS);
  const due = await ctx.db
    .selectFrom('meeting_sessions as m')
    .select('m.id')
    .where('m.ended_at', 'is', null)
    .where('m.ends_at', '<', cutoff)
    .where((eb) =>
      eb.or([
        eb('m.started_at', 'is not', null),
        eb.and([eb('m.confidential', '=', true), eb.exists(eb.selectFrom('meeting_documents as d').select('d.id').whereRef('d.meeting_id', '=', 'm.id').where('d.withdrawn_at', 'is', null))]),
      ]),
    )
    .orderBy('m.id')
    .execute();
  const result = { ended: [] as number[], withdrawn: [] as number[] };
  for (const { id } of due) {
    const now = ctx.clock.now();
    await ctx.db.transaction().execute(async (trx) => {
      const session = await trx.selectFrom('meeting_sessions').selectAll().where('id', '=', id).forUpdate().executeTakeFirstOrThrow();
      // Ended by hand meanwhile.
      if (session.ended_at) return;
      await finishMeeting(trx, SYSTEM_ACTOR, now, session, { overdue: true, scheduled_end: session.ends_at.toISOString() });
      (session.started_at ? result.ended : result.withdrawn).push(id);
    });
  }
  return result;
}

export const meetingJobs: Job[] = [{ name: 'meetings.end_overdue', schedule: '*/10 * * * *', run: (ctx) => endOverdueMeetings(ctx) }];

/** Hands the presentation to a participant (null: back to the chair). */
export async function setPresenter(ctx: ServiceContext, actor: Actor, id: number, participantId: number | null): Promise<PresenterView> {
  const now = ctx.clock.now();
  await ctx.db.transaction().execute(async (trx) => {
    const access = await reachMeeting(trx, actor, id, true);
    requireMeetingRole(access, ['chair', 'secretary']);
    requireNotEnded(access.session);
    if (participantId !== null && !access.participants.some((p) => p.id === participantId)) {
      throw badRequest('UNKNOWN_PARTICIPANT', `Participant ${participantId} does not take part in this meeting. / 该人员不是本次会议的参会人。`);
    }
    await trx.updateTable('meeting_presenter').set({ presenter_participant_id: participantId }).where('meeting_id', '=', id).execute();
    await audit(trx, actor, now, 'meeting.presenter', `meeting:${id}`, { participant_id: participantId });
    await meetingEvent(trx, id, { type: 'presenter', participant_id: participantId });
  });
  return (await getMeeting(ctx, actor, id)).presenter;
}

// ---------------------------------------------------------------------------------------------
// Documents

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Adds a PDF to a meeting: checked to be a PDF, its pages counted, its SHA-256 kept with it. */
export async function addDocument(ctx: ServiceContext, actor: Actor, id: number, input: { name: string; content_base64: string }): Promise<DocumentView> {
  requirePermission(actor, 'meetings.manage');
  const name = input.name.trim();
  if (!name) throw badRequest('INVALID_NAME', 'A document needs a name. / 请填写文件名称。');
  const encoded = input.content_base64.replace(/\s+/g, '');
  if (encoded.length % 4 !== 0 || !BASE64.test(encoded)) throw badRequest('INVALID_BASE64', 'content_base64 is not valid base64. / 文件内容编码无效。');
  const content = Buffer.from(encoded, 'base64');
  if (content.length === 0) throw badRequest('EMPTY_DOCUMENT', 'The document is empty. / 文件为空。');
  if (content.length > MAX_PDF_BYTES) throw new AppError(413, 'DOCUMENT_TOO_LARGE', `A document is ${MAX_PDF_BYTES / 1024 / 1024} MB at most. / 文件不得超过 20 MB。`);
  const { pages } = inspectPdf(content);
  const sha256 = createHash('sha256').update(content).digest('hex');
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    const access = await reachMeeting(trx, actor, id, true);
    requireNotEnded(access.session);
    const same = await trx.selectFrom('meeting_documents').select(['id', 'name']).where('meeting_id', '=', id).where('sha256', '=', sha256).executeTakeFirst();
    if (same) throw conflict('DOCUMENT_EXISTS', `This file is already in the meeting as "${same.name}". / 该文件已上传（${same.name}）。`);
    const doc = await trx
      .insertInto('meeting_documents')
      .values({ meeting_id: id, name, content, size: content.length, pages, sha256, uploaded_by: actor.userId, uploaded_at: now })
      .returning(['id', 'name', 'pages', 'sha256', 'size', 'uploaded_at', 'withdrawn_at'])
      .executeTakeFirstOrThrow();
    await audit(trx, actor, now, 'meeting.document_add', `meeting:${id}`, { document_id: doc.id, name, size: content.length, pages, sha256 });
    await meetingEvent(trx, id, { type: 'document.added', document_id: doc.id });
    return presentDocument(doc);
  });
}

export interface DocumentFile {
  name: string;
  content: Buffer;
  sha256: string;
  confidential: boolean;
}

function withdrawnError(at: Date | null): AppError {
  return new AppError(410, 'DOCUMENT_WITHDRAWN', `This confidential document was withdrawn when the meeting ended${at ? ` (${at.toISOString()})` : ''}. / 涉密文件已于会议结束时收回。`);
}

/** Reads a document's bytes for a viewer that may; a confidential read is audited. */
async function readDocument(ctx: ServiceContext, actor: Actor, doc: { id: number; meeting_id: number; name: string; sha256: string; withdrawn_at: Date | null }, confidential: boolean): Promise<DocumentFile> {
  if (doc.withdrawn_at) throw withdrawnError(doc.withdrawn_at);
  // Read and checked in one query: the meeting may have ended since `doc` was read.
  const row = await ctx.db.selectFrom('meeting_documents').select('content').where('id', '=', doc.id).where('withdrawn_at', 'is', null).executeTakeFirst();
  if (!row) throw withdrawnError(null);
  if (confidential) {
    await recordAudit(ctx.db, { at: ctx.clock.now(), actor: actor.username, action: 'meeting.document_view', object: `meeting:${doc.meeting_id}`, result: 'success', sourceIp: actor.sourceIp, detail: { document_id: doc.id } });
  }
  return { name: doc.name, content: bytesOf(row.content), sha256: doc.sha256, confidential };
}

const documentNotFound = (id: number) => notFound('DOCUMENT_NOT_FOUND', `No document ${id} in this meeting. / 文件不存在。`);

export async function documentForStaff(ctx: ServiceContext, actor: Actor, meetingId: number, documentId: number): Promise<DocumentFile> {
  const { session } = await reachMeeting(ctx.db, actor, meetingId);
  const doc = await ctx.db.selectFrom('meeting_documents').select(['id', 'meeting_id', 'name', 'sha256', 'withdrawn_at']).where('id', '=', documentId).where('meeting_id', '=', meetingId).executeTakeFirst();
  if (!doc) throw documentNotFound(documentId);
  return readDocument(ctx, actor, doc, session.confidential);
}

// ---------------------------------------------------------------------------------------------
// Sign-in at the terminals, and the secretary's late sign-in

/** A terminal sees the meetings of its own room only. */
const inRoom = <T extends { room_id: string }>(session: T | undefined, kiosk: Kiosk): session is T => !!session && kiosk.roomId !== null && session.room_id === kiosk.roomId;

/** The session a terminal may act on: one in its own room, else none (404). */
async function roomMeeting(db: Db | Transaction<Database>, kiosk: Kiosk, id: number, lock = false): Promise<MeetingSessionRow> {
  let query = db.selectFrom('meeting_sessions').selectAll().where('id', '=', id);
  if (lock) query = query.forUpdate();
  const session = await query.executeTakeFirst();
  if (!inRoom(session, kiosk)) throw meetingNotFound(id);
  return session;
}

async function seatOf(db: Db | Transaction<Database>, meetingId: number, kioskId: number): Promise<SeatView | null> {
  const row = await db
    .selectFrom('meeting_seats as s')
    .innerJoin('meeting_participants as p', 'p.id', 's.participant_id')
    .innerJoin('users as u', 'u.id', 'p.user_id')
    .select(['p.id', 'p.user_id', 'p.role', 'u.display_name'])
    .where('s.meeting_id', '=', meetingId)
    .where('s.kiosk_id', '=', kioskId)
    .executeTakeFirst();
  return row ? { participant_id: row.id, user_id: row.user_id, display_name: row.display_name, role: row.role } : null;
}

async function requireSeat(db: Db | Transaction<Database>, meetingId: number, kiosk: Kiosk): Promise<SeatView> {
  const seat = await seatOf(db, meetingId, kiosk.id);
  if (!seat) throw forbidden('NOT_SIGNED_IN', 'Sign in at this terminal first. / 请先在本终端签到。');
  return seat;
}

const endOfShanghaiDay = (at: Date) => new Date((shanghaiDayNumber(at) + 1) * 86_400_000 - 8 * 3_600_000);

export interface RoomDevice {
  id: string;
  name: string | null;
  profile: string | null;
  availability: Availability;
  state: Record<string, unknown> | null;
}

/** What a terminal shows: its room with the room's devices, the meeting running now or next today, and its seat. */
export async function currentForKiosk(ctx: ServiceContext, kiosk: Kiosk, actor: Actor): Promise<{ room: { id: string; name: string; devices: RoomDevice[] } | null; meeting: MeetingView | null; seat: SeatView | null }> {
  requirePermission(actor, 'kiosk.meeting');
  const room = kiosk.roomId === null ? undefined : await ctx.db.selectFrom('meeting_rooms').selectAll().where('id', '=', kiosk.roomId).executeTakeFirst();
  if (!room) return { room: null, meeting: null, seat: null };
  const devices = room.devices.length ? await ctx.db.selectFrom('devices').select(['id', 'name', 'profile', 'availability', 'state']).where('id', 'in', room.devices).orderBy('id').execute() : [];
  const now = ctx.clock.now();
  const session = await ctx.db
    .selectFrom('meeting_sessions')
    .selectAll()
    .where('room_id', '=', room.id)
    .where('ended_at', 'is', null)
    .where((eb) => eb.or([eb('started_at', 'is not', null), eb.and([eb('ends_at', '>', now), eb('starts_at', '<', endOfShanghaiDay(now))])]))
    .orderBy(sql`started_at is null`)
    .orderBy('starts_at')
    .limit(1)
    .executeTakeFirst();
  const seat = session ? await seatOf(ctx.db, session.id, kiosk.id) : null;
  return {
    room: { id: room.id, name: room.name, devices },
    meeting: session ? await presentMeeting(ctx.db, session, { participantId: seat?.participant_id ?? null, kiosk: true }) : null,
    seat,
  };
}

/**
 * Signs a participant in at a terminal and binds the terminal to that participant for the meeting:
 * one terminal per participant and one participant per terminal. Signing in again at the same
 * terminal changes nothing.
 */
export async function kioskSignIn(ctx: ServiceContext, kiosk: Kiosk, actor: Actor, meetingId: number, userId: number): Promise<SeatView> {
  requirePermission(actor, 'kiosk.meeting');
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    const session = await roomMeeting(trx, kiosk, meetingId, true);
    requireNotEnded(session);
    if (!session.started_at && now.getTime() < session.starts_at.getTime() - SIGN_IN_OPENS_MINUTES * 60_000) {
      throw conflict('SIGN_IN_NOT_OPEN', `Sign-in opens ${SIGN_IN_OPENS_MINUTES} minutes before the meeting starts. / 签到于会议开始前 ${SIGN_IN_OPENS_MINUTES} 分钟开放。`);
    }
    const participant = await trx.selectFrom('meeting_participants').select('id').where('meeting_id', '=', meetingId).where('user_id', '=', userId).executeTakeFirst();
    if (!participant) throw notFound('PARTICIPANT_NOT_FOUND', 'This person does not take part in the meeting. / 该人员不是本次会议的参会人。');
    const seats = await trx.selectFrom('meeting_seats').selectAll().where('meeting_id', '=', meetingId).where((eb) => eb.or([eb('participant_id', '=', participant.id), eb('kiosk_id', '=', kiosk.id)])).execute();
    const own = seats.find((s) => s.participant_id === participant.id);
    if (own && own.kiosk_id === kiosk.id) return (await seatOf(trx, meetingId, kiosk.id))!;
    if (own) throw conflict('PARTICIPANT_SEATED', 'This participant is signed in at another terminal; ask the secretary for help. / 该参会人已在其他终端签到，请联系会议记录人。');
    if (seats.length) throw conflict('TERMINAL_TAKEN', 'Another participant is signed in at this terminal. / 本终端已有其他参会人签到。');
    await trx.insertInto('meeting_seats').values({ participant_id: participant.id, meeting_id: meetingId, kiosk_id: kiosk.id, bound_at: now }).execute();
    const signedIn = await trx
      .insertInto('meeting_sign_ins')
      .values({ participant_id: participant.id, meeting_id: meetingId, signed_in_at: now, kiosk_id: kiosk.id, recorded_by: null, note: null })
      .onConflict((oc) => oc.column('participant_id').doNothing())
      .returning('participant_id')
      .executeTakeFirst();
    await audit(trx, actor, now, 'meeting.sign_in', `meeting:${meetingId}`, { user_id: userId, participant_id: participant.id, kiosk_id: kiosk.id, already_signed_in: !signedIn });
    await meetingEvent(trx, meetingId, { type: 'sign_in', user_id: userId });
    return (await seatOf(trx, meetingId, kiosk.id))!;
  });
}

/** The secretary signs in a participant who came late or has no terminal, and is recorded as doing so. */
export async function lateSignIn(ctx: ServiceContext, actor: Actor, meetingId: number, userId: number, note: string | null): Promise<ParticipantView> {
  const now = ctx.clock.now();
  await ctx.db.transaction().execute(async (trx) => {
    const access = await reachMeeting(trx, actor, meetingId, true);
    requireMeetingRole(access, ['secretary']);
    requireNotEnded(access.session);
    const participant = access.participants.find((p) => p.user_id === userId);
    if (!participant) throw notFound('PARTICIPANT_NOT_FOUND', 'This person does not take part in the meeting. / 该人员不是本次会议的参会人。');
    const signedIn = await trx
      .insertInto('meeting_sign_ins')
      .values({ participant_id: participant.id, meeting_id: meetingId, signed_in_at: now, kiosk_id: null, recorded_by: actor.userId, note: note?.trim() || null })
      .onConflict((oc) => oc.column('participant_id').doNothing())
      .returning('participant_id')
      .executeTakeFirst();
    if (!signedIn) throw conflict('ALREADY_SIGNED_IN', 'This participant is already signed in. / 该参会人已签到。');
    await audit(trx, actor, now, 'meeting.late_sign_in', `meeting:${meetingId}`, { user_id: userId, participant_id: participant.id, note: note?.trim() || null });
    await meetingEvent(trx, meetingId, { type: 'sign_in', user_id: userId });
  });
  return (await participantsOf(ctx.db, meetingId)).find((p) => p.user_id === userId)!;
}

/**
 * The chair or secretary (or an organiser) frees a participant's terminal, taken by mistake or by
 * somebody else: the sign-in stays, and the participant signs in again at a terminal. Not while a
 * vote is open, so no seat changes hands in the middle of one.
 */
export async function releaseSeat(ctx: ServiceContext, actor: Actor, meetingId: number, participantId: number): Promise<ParticipantView> {
  const now = ctx.clock.now();
  await ctx.db.transaction().execute(async (trx) => {
    const access = await reachMeeting(trx, actor, meetingId, true);
    if (!access.manager) requireMeetingRole(access, ['chair', 'secretary']);
    requireNotEnded(access.session);
    if (!access.participants.some((p) => p.id === participantId)) throw notFound('PARTICIPANT_NOT_FOUND', `Participant ${participantId} does not take part in this meeting. / 该人员不是本次会议的参会人。`);
    const open = await trx.selectFrom('meeting_votes').select('title').where('meeting_id', '=', meetingId).where('status', '=', 'open').executeTakeFirst();
    if (open) throw conflict('VOTE_OPEN', `Close the vote "${open.title}" before releasing a seat. / 请先结束表决「${open.title}」再解除座席。`);
    const seat = await trx.deleteFrom('meeting_seats').where('meeting_id', '=', meetingId).where('participant_id', '=', participantId).returning(['kiosk_id']).executeTakeFirst();
    if (!seat) throw notFound('SEAT_NOT_FOUND', 'This participant is not seated at a terminal. / 该参会人未在任何终端就座。');
    await audit(trx, actor, now, 'meeting.seat_release', `meeting:${meetingId}`, { participant_id: participantId, kiosk_id: seat.kiosk_id });
    await meetingEvent(trx, meetingId, { type: 'seat.released', participant_id: participantId, kiosk_id: seat.kiosk_id });
  });
  return (await participantsOf(ctx.db, meetingId)).find((p) => p.id === participantId)!;
}

/**
 * Frees the seats a terminal holds in meetings not yet ended, for the kiosks module when a terminal is
 * revoked; the caller audits the revocation and may record the seats returned with it.
 */
export async function releaseSeatsOfKiosk(trx: Transaction<Database>, kioskId: number): Promise<{ meeting_id: number; participant_id: number }[]> {
  const released = await trx
    .deleteFrom('meeting_seats')
    .where('kiosk_id', '=', kioskId)
    .where('meeting_id', 'in', trx.selectFrom('meeting_sessions').select('id').where('ended_at', 'is', null))
    .returning(['meeting_id', 'participant_id'])
    .execute();
  for (const s of released) await meetingEvent(trx, s.meeting_id, { type: 'seat.released', participant_id: s.participant_id, kiosk_id: kioskId });
  return released;
}

// ---------------------------------------------------------------------------------------------
// At the seat: documents, the presenter's page, annotations

async function seatDocument(db: Db | Transaction<Database>, kiosk: Kiosk, documentId: number) {
  const doc = await db.selectFrom('meeting_documents').select(['id', 'meeting_id', 'name', 'pages', 'sha256', 'withdrawn_at']).where('id', '=', documentId).executeTakeFirst();
  const session = doc && (await db.selectFrom('meeting_sessions').selectAll().where('id', '=', doc.meeting_id).executeTakeFirst());
  if (!doc || !inRoom(session, kiosk)) throw documentNotFound(documentId);
  const seat = await requireSeat(db, session.id, kiosk);
  return { doc, session, seat };
}

/** A document for the terminal's seat; a confidential meeting's documents are gone once it ended (410). */
export async function documentForKiosk(ctx: ServiceContext, kiosk: Kiosk, actor: Actor, documentId: number): Promise<DocumentFile> {
  requirePermission(actor, 'kiosk.meeting');
  const { doc, session } = await seatDocument(ctx.db, kiosk, documentId);
  return readDocument(ctx, actor, doc, session.confidential);
}

/** The presenter turns a page (or opens another document); everybody's terminal follows. */
export async function turnPage(ctx: ServiceContext, kiosk: Kiosk, actor: Actor, input: { meeting_id: number; document_id: number; page: number }): Promise<PresenterView> {
  requirePermission(actor, 'kiosk.meeting');
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    const session = await roomMeeting(trx, kiosk, input.meeting_id);
    requireInProgress(session);
    const seat = await requireSeat(trx, session.id, kiosk);
    const state = await trx.selectFrom('meeting_presenter').selectAll().where('meeting_id', '=', session.id).forUpdate().executeTakeFirstOrThrow();
    const chair = await trx.selectFrom('meeting_participants').select('id').where('meeting_id', '=', session.id).where('role', '=', 'chair').executeTakeFirstOrThrow();
    const presenter = state.presenter_participant_id ?? chair.id;
    if (seat.participant_id !== presenter) throw forbidden('NOT_PRESENTER', 'Only the presenter turns the pages for everybody. / 仅主讲人可翻页。');
    const doc = await trx.selectFrom('meeting_documents').select(['pages', 'withdrawn_at']).where('id', '=', input.document_id).where('meeting_id', '=', session.id).executeTakeFirst();
    if (!doc) throw documentNotFound(input.document_id);
    if (doc.withdrawn_at) throw withdrawnError(doc.withdrawn_at);
    if (input.page > doc.pages) throw badRequest('INVALID_PAGE', `The document has ${doc.pages} pages. / 该文件共 ${doc.pages} 页。`);
    await trx.updateTable('meeting_presenter').set({ document_id: input.document_id, page: input.page, updated_at: now }).where('meeting_id', '=', session.id).execute();
    await audit(trx, actor, now, 'meeting.page', `meeting:${session.id}`, { document_id: input.document_id, page: input.page, participant_id: seat.participant_id });
    await meetingEvent(trx, session.id, { type: 'page', document_id: input.document_id, page: input.page });
    return { presenter_participant_id: presenter, document_id: input.document_id, page: input.page, updated_at: now.toISOString() };
  });
}

/** Saves the seat's own strokes on one page of a document; nobody else sees them. */
export async function saveAnnotations(ctx: ServiceContext, kiosk: Kiosk, actor: Actor, input: { document_id: number; page: number; strokes: unknown[] }): Promise<void> {
  requirePermission(actor, 'kiosk.meeting');
  const strokes = JSON.stringify(input.strokes);
  const bytes = Buffer.byteLength(strokes);
  if (bytes > MAX_STROKES_BYTES) throw badRequest('ANNOTATIONS_TOO_LARGE', `Annotations are ${MAX_STROKES_BYTES / 1024} KB per page at most. / 每页批注不得超过 64 KB。`);
  const now = ctx.clock.now();
  await ctx.db.transaction().execute(async (trx) => {
    const { doc, session, seat } = await seatDocument(trx, kiosk, input.document_id);
    requireNotEnded(session);
    if (doc.withdrawn_at) throw withdrawnError(doc.withdrawn_at);
    if (input.page > doc.pages) throw badRequest('INVALID_PAGE', `The document has ${doc.pages} pages. / 该文件共 ${doc.pages} 页。`);
    await trx
      .insertInto('meeting_annotations')
      .values({ participant_id: seat.participant_id, document_id: doc.id, page: input.page, strokes, updated_at: now })
      .onConflict((oc) => oc.columns(['participant_id', 'document_id', 'page']).doUpdateSet({ strokes, updated_at: now }))
      .execute();
    await audit(trx, actor, now, 'meeting.annotate', `meeting:${session.id}`, { document_id: doc.id, page: input.page, participant_id: seat.participant_id, bytes });
  });
}

export async function listAnnotations(ctx: ServiceContext, kiosk: Kiosk, actor: Actor, documentId: number): Promise<{ page: number; strokes: unknown[]; updated_at: string }[]> {
  requirePermission(actor, 'kiosk.meeting');
  const { seat } = await seatDocument(ctx.db, kiosk, documentId);
  const rows = await ctx.db.selectFrom('meeting_annotations').select(['page', 'strokes', 'updated_at']).where('participant_id', '=', seat.participant_id).where('document_id', '=', documentId).orderBy('page').execute();
  return rows.map((r) => ({ page: r.page, strokes: r.strokes, updated_at: r.updated_at.toISOString() }));
}

// ---------------------------------------------------------------------------------------------
// Votes

export interface VoteInput {
  title: string;
  options?: string[];
  anonymous: boolean;
  rule: VoteRule;
}

/**
 * Whether a motion passed: its first option (同意) must have more than half of the ballots cast
 * (abstentions count as cast), more than half of those entitled to vote (every participant but the
 * observers), or two thirds of them.
 */
export function votePassed(rule: VoteRule, inFavour: number, cast: number, eligible: number): boolean {
  switch (rule) {
    case 'simple_majority_of_votes':
      return inFavour * 2 > cast;
    case 'majority_of_participants':
      return inFavour * 2 > eligible;
    case 'two_thirds_of_participants':
      return inFavour * 3 >= eligible * 2;
  }
}

async function voteView(db: Db, vote: MeetingVoteRow, participantId: number | null): Promise<VoteView> {
  return (await votesOf(db, [vote], participantId))[0]!;
}

export async function createVote(ctx: ServiceContext, actor: Actor, meetingId: number, input: VoteInput): Promise<VoteView> {
  const title = input.title.trim();
  if (!title) throw badRequest('INVALID_TITLE', 'A vote needs a title. / 请填写表决事项。');
  const options = (input.options ?? DEFAULT_OPTIONS).map((o) => o.trim());
  if (options.some((o) => !o) || new Set(options).size !== options.length) throw badRequest('INVALID_OPTIONS', 'Options are distinct and not empty. / 表决选项不得为空或重复。');
  const now = ctx.clock.now();
  const { vote, me } = await ctx.db.transaction().execute(async (trx) => {
    const access = await reachMeeting(trx, actor, meetingId, true);
    const me = requireMeetingRole(access, ['chair', 'secretary']);
    requireNotEnded(access.session);
    const vote = await trx
      .insertInto('meeting_votes')
      .values({ meeting_id: meetingId, title, options, anonymous: input.anonymous, rule: input.rule, status: 'draft', created_by: actor.userId, created_at: now })
      .returningAll()
      .executeTakeFirstOrThrow();
    await audit(trx, actor, now, 'meeting.vote_create', `meeting:${meetingId}`, { vote_id: vote.id, title, options, anonymous: input.anonymous, rule: input.rule });
    return { vote, me };
  });
  return voteView(ctx.db, vote, me.id);
}

async function lockVote(trx: Transaction<Database>, meetingId: number, voteId: number): Promise<MeetingVoteRow> {
  const vote = await trx.selectFrom('meeting_votes').selectAll().where('id', '=', voteId).where('meeting_id', '=', meetingId).forUpdate().executeTakeFirst();
  if (!vote) throw notFound('VOTE_NOT_FOUND', `No vote ${voteId} in this meeting. / 表决事项不存在。`);
  return vote;
}

/** Opens a vote to the terminals; one vote at a time, while the meeting runs. */
export async function openVote(ctx: ServiceContext, actor: Actor, meetingId: number, voteId: number): Promise<VoteView> {
  const now = ctx.clock.now();
  const { vote, me } = await ctx.db.transaction().execute(async (trx) => {
    const access = await reachMeeting(trx, actor, meetingId, true);
    const me = requireMeetingRole(access, ['chair', 'secretary']);
    requireInProgress(access.session);
    const before = await lockVote(trx, meetingId, voteId);
    if (before.status !== 'draft') throw conflict('VOTE_NOT_DRAFT', `The vote is ${before.status}; a vote is opened once. / 该表决已${before.status === 'open' ? '开始' : '结束'}。`);
    const other = await trx.selectFrom('meeting_votes').select('title').where('meeting_id', '=', meetingId).where('status', '=', 'open').executeTakeFirst();
    if (other) throw conflict('ANOTHER_VOTE_OPEN', `Close the vote "${other.title}" first. / 请先结束表决「${other.title}」。`);
    const eligible = access.participants.filter((p) => p.role !== 'observer').length;
    const vote = await trx.updateTable('meeting_votes').set({ status: 'open', opened_at: now, eligible }).where('id', '=', voteId).returningAll().executeTakeFirstOrThrow();
    if (vote.anonymous) await trx.insertInto('meeting_vote_counts').values(vote.options.map((choice) => ({ vote_id: voteId, choice, n: 0 }))).execute();
    await audit(trx, actor, now, 'meeting.vote_open', `meeting:${meetingId}`, { vote_id: voteId, eligible });
    await meetingEvent(trx, meetingId, { type: 'vote.opened', vote_id: voteId });
    return { vote, me };
  });
  return voteView(ctx.db, vote, me.id);
}

/** Closes a vote: counts the ballots, applies the rule and records the result. */
export async function closeVote(ctx: ServiceContext, actor: Actor, meetingId: number, voteId: number): Promise<VoteView> {
  const now = ctx.clock.now();
  const { vote, me } = await ctx.db.transaction().execute(async (trx) => {
    const access = await reachMeeting(trx, actor, meetingId, true);
    const me = requireMeetingRole(access, ['chair', 'secretary']);
    const before = await lockVote(trx, meetingId, voteId);
    if (before.status !== 'open') throw conflict('VOTE_NOT_OPEN', `The vote is ${before.status}, not open. / 该表决未在进行中。`);
    return { vote: await recordVoteResult(trx, actor, now, before), me };
  });
  return voteView(ctx.db, vote, me.id);
}

/** Counts a locked open vote (its counters if anonymous, its ballots if named), applies its rule and closes it. */
async function recordVoteResult(trx: Transaction<Database>, actor: Actor, now: Date, before: MeetingVoteRow): Promise<MeetingVoteRow> {
  const counted = before.anonymous
    ? await trx.selectFrom('meeting_vote_counts').select(['choice', 'n']).where('vote_id', '=', before.id).execute()
    : await trx.selectFrom('meeting_ballots').select(['choice', (eb) => eb.fn.countAll().as('n')]).where('vote_id', '=', before.id).groupBy('choice').execute();
  const tally = Object.fromEntries(before.options.map((o) => [o, Number(counted.find((c) => c.choice === o)?.n ?? 0)]));
  const cast = Object.values(tally).reduce((a, b) => a + b, 0);
  const passed = votePassed(before.rule, tally[before.options[0]!]!, cast, before.eligible!);
  const vote = await trx
    .updateTable('meeting_votes')
    .set({ status: 'closed', closed_at: now, tally: JSON.stringify(tally), cast_count: cast, passed })
    .where('id', '=', before.id)
    .returningAll()
    .executeTakeFirstOrThrow();
  await audit(trx, actor, now, 'meeting.vote_close', `meeting:${before.meeting_id}`, { vote_id: before.id, rule: before.rule, eligible: before.eligible, cast, tally, passed });
  await meetingEvent(trx, before.meeting_id, { type: 'vote.closed', vote_id: before.id, tally, passed });
  return vote;
}

/**
 * A ballot from a terminal's seat, once per participant. "Has voted" is its own row. A named vote keeps
 * the ballot; an anonymous one only adds to its counters, and rewrites all of them, so no row, order or
 * row version in the database links a choice to its voter. Observers do not vote.
 */
export async function castBallot(ctx: ServiceContext, kiosk: Kiosk, actor: Actor, input: { vote_id: number; choice: string }): Promise<void> {
  requirePermission(actor, 'kiosk.meeting');
  const now = ctx.clock.now();
  await ctx.db.transaction().execute(async (trx) => {
    const vote = await trx.selectFrom('meeting_votes').selectAll().where('id', '=', input.vote_id).forShare().executeTakeFirst();
    const session = vote && (await trx.selectFrom('meeting_sessions').select('room_id').where('id', '=', vote.meeting_id).executeTakeFirst());
    if (!vote || !inRoom(session, kiosk)) throw notFound('VOTE_NOT_FOUND', `No vote ${input.vote_id}. / 表决事项不存在。`);
    if (vote.status !== 'open') throw conflict('VOTE_NOT_OPEN', 'This vote is not open. / 该表决未在进行中。');
    const seat = await requireSeat(trx, vote.meeting_id, kiosk);
    if (seat.role === 'observer') throw forbidden('NOT_A_VOTER', 'Observers do not vote. / 列席人员不参加表决。');
    if (!vote.options.includes(input.choice)) throw badRequest('INVALID_CHOICE', `Choose one of: ${vote.options.join(', ')}. / 请从以下选项中选择：${vote.options.join('、')}。`);
    const first = await trx
      .insertInto('meeting_vote_voters')
      .values({ vote_id: vote.id, participant_id: seat.participant_id, voted_at: now, kiosk_id: kiosk.id })
      .onConflict((oc) => oc.columns(['vote_id', 'participant_id']).doNothing())
      .returning('vote_id')
      .executeTakeFirst();
    if (!first) throw conflict('ALREADY_VOTED', 'You have already voted. / 您已投票。');
    if (vote.anonymous) {
      await trx
        .updateTable('meeting_vote_counts')
        .set((eb) => ({ n: eb('n', '+', eb.case().when('choice', '=', input.choice).then(1).else(0).end()) }))
        .where('vote_id', '=', vote.id)
        .execute();
    } else {
      await trx.insertInto('meeting_ballots').values({ vote_id: vote.id, participant_id: seat.participant_id, choice: input.choice }).execute();
    }
    const cast = await trx.selectFrom('meeting_vote_voters').select((eb) => eb.fn.countAll().as('n')).where('vote_id', '=', vote.id).executeTakeFirstOrThrow();
    await audit(trx, actor, now, 'meeting.ballot', `meeting:${vote.meeting_id}`, { vote_id: vote.id, participant_id: seat.participant_id });
    await meetingEvent(trx, vote.meeting_id, { type: 'ballot', vote_id: vote.id, cast: Number(cast.n) });
  });
}

// ---------------------------------------------------------------------------------------------
// Minutes

const presentMinutes = (m: { version: number; text: string; written_by: number | null; written_at: Date; approved_by: number | null; approved_at: Date | null }): MinutesView => ({
  version: m.version,
  text: m.text,
  written_by: m.written_by,
  written_at: m.written_at.toISOString(),
  approved_by: m.approved_by,
  approved_at: iso(m.approved_at),
});

/** The secretary saves the minutes; each save is a new version, and approved minutes are final. */
export async function saveMinutes(ctx: ServiceContext, actor: Actor, meetingId: number, text: string): Promise<MinutesView> {
  if (!text.trim()) throw badRequest('EMPTY_MINUTES', 'The minutes are empty. / 会议纪要不能为空。');
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    const access = await reachMeeting(trx, actor, meetingId, true);
    requireMeetingRole(access, ['secretary']);
    const latest = await trx.selectFrom('meeting_minutes').select(['version', 'approved_at']).where('meeting_id', '=', meetingId).orderBy('version', 'desc').limit(1).executeTakeFirst();
    if (latest?.approved_at) throw conflict('MINUTES_APPROVED', 'The minutes were approved and are final. / 会议纪要已审定，不能再修改。');
    const row = await trx
      .insertInto('meeting_minutes')
      .values({ meeting_id: meetingId, version: (latest?.version ?? 0) + 1, text, written_by: actor.userId, written_at: now })
      .returningAll()
      .executeTakeFirstOrThrow();
    await audit(trx, actor, now, 'meeting.minutes_save', `meeting:${meetingId}`, { version: row.version, chars: text.length, sha256: createHash('sha256').update(text).digest('hex') });
    return presentMinutes(row);
  });
}

/** The chair approves the latest minutes once the meeting has ended. */
export async function approveMinutes(ctx: ServiceContext, actor: Actor, meetingId: number): Promise<MinutesView> {
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    const access = await reachMeeting(trx, actor, meetingId, true);
    requireMeetingRole(access, ['chair']);
    if (!access.session.ended_at) throw conflict('MEETING_NOT_ENDED', 'Minutes are approved after the meeting ends. / 会议结束后方可审定纪要。');
    const latest = await trx.selectFrom('meeting_minutes').selectAll().where('meeting_id', '=', meetingId).orderBy('version', 'desc').limit(1).executeTakeFirst();
    if (!latest) throw conflict('NO_MINUTES', 'The secretary has not written the minutes yet. / 记录人尚未提交会议纪要。');
    if (latest.approved_at) throw conflict('MINUTES_APPROVED', 'The minutes were approved already. / 会议纪要已审定。');
    const row = await trx.updateTable('meeting_minutes').set({ approved_by: actor.userId, approved_at: now }).where('id', '=', latest.id).returningAll().executeTakeFirstOrThrow();
    await audit(trx, actor, now, 'meeting.minutes_approve', `meeting:${meetingId}`, { version: row.version, sha256: createHash('sha256').update(row.text).digest('hex') });
    return presentMinutes(row);
  });
}
