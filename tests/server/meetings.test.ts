import { createHash, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { deflateSync } from 'node:zlib';
import { sql, type KyselyPlugin } from 'kysely';
import t from 'tap';
import { SYSTEM_ACTOR } from '../../server/src/context.js';
import { createKiosk, enrolKiosk } from '../../server/src/modules/kiosks/service.js';
import { samplePdf } from '../../server/src/modules/meetings/demo.js';
import { inspectPdf } from '../../server/src/modules/meetings/pdf.js';
import { castBallot, currentForKiosk, documentForKiosk, kioskSignIn, listAnnotations, meetingJobs, releaseSeatsOfKiosk, saveAnnotations, turnPage, votePassed } from '../../server/src/modules/meetings/service.js';
import { until } from '../helpers/devices.js';
import { createTestInstance, isErrorShape, signedIn } from '../helpers/instance.js';
import { connectWs, type Message } from '../helpers/ws.js';

/**
 * Paperless meetings: rooms, meetings with per-meeting roles, terminals that sign participants in and
 * follow the presenter, votes with named and anonymous ballots, confidential documents withdrawn at
 * the end, minutes, and the Party branch's record types.
 */
const inst = await createTestInstance(t);
const { app, ctx } = inst;
await app.listen({ host: '127.0.0.1', port: 0 });
const wsUrl = `ws://127.0.0.1:${(app.server.address() as AddressInfo).port}/api/ws`;
// Unique per run: the PostgreSQL run shares one Mosquitto with other test files.
const run = randomBytes(3).toString('hex');
const ROOM = `room-${run}`;
const OTHER_ROOM = `annex-${run}`;
const PLATE = `plate-${run}`;

const organiser = await signedIn(inst, 'admin_staff');
const chair = await signedIn(inst, 'lawyer');
const secretary = await signedIn(inst, 'intern');
const memberC = await signedIn(inst, 'lawyer');
const memberD = await signedIn(inst, 'partner');
const observer = await signedIn(inst, 'finance');
const outsider = await signedIn(inst, 'lawyer');
const itAdmin = await signedIn(inst, 'it_admin');

type Headers = { authorization: string };
const req = (method: 'GET' | 'POST' | 'PUT', url: string, headers: Headers, payload?: object) => app.inject({ method, url, headers, ...(payload ? { payload } : {}) });
const count = async (table: 'meeting_sessions' | 'meeting_documents' | 'meeting_rooms' | 'meeting_votes' | 'meeting_sign_ins' | 'meeting_minutes') =>
  Number((await ctx.db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
const inMinutes = (m: number) => new Date(inst.clock.now().getTime() + m * 60_000).toISOString();
const base64 = (b: Buffer) => b.toString('base64');

async function terminal(name: string, room: string) {
  const { kiosk, enrolment_code } = await createKiosk(ctx, SYSTEM_ACTOR, { name, kind: 'meeting', room_id: room });
  const { token } = await enrolKiosk(ctx, enrolment_code, null);
  return { id: kiosk.id, headers: { authorization: `Bearer ${token}` } };
}

const isEvent = (type: string, extra: (d: Record<string, unknown>) => boolean = () => true) => (m: Message) => m.type === 'event' && m.data?.type === type && extra(m.data);

// Shared across the subtests, which run in order.
let meetingId = 0;
let docId = 0;
let ids: Record<'chair' | 'secretary' | 'memberC' | 'memberD' | 'observer', number> = { chair: 0, secretary: 0, memberC: 0, memberD: 0, observer: 0 };

t.test('PDF inspection: magic, page tree, compressed object streams', async (t) => {
  t.equal(inspectPdf(samplePdf(['a', 'b', 'c'])).pages, 3, 'a plain three-page PDF has 3 pages');
  // The page tree inside a FlateDecode object stream, as PDF 1.5 writers produce it.
  const packed = ['<< /Type /Catalog /Pages 2 0 R >>', '<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >>', '<< /Type /Page /Parent 2 0 R >>', '<< /Type /Page /Parent 2 0 R >>'];
  let offset = 0;
  const header = packed.map((o, i) => {
    const entry = `${i + 1} ${offset}`;
    offset += o.length + 1;
    return entry;
  });
  const headerText = header.join(' ') + '\n';
  const raw = deflateSync(Buffer.from(headerText + packed.join('\n') + '\n', 'latin1'));
  const pdf = Buffer.concat([Buffer.from(`%PDF-1.5\n5 0 obj\n<< /Type /ObjStm /N 4 /First ${headerText.length} /Filter /FlateDecode /Length ${raw.length} >>\nstream\n`, 'latin1'), raw, Buffer.from('\nendstream\nendobj\n%%EOF\n', 'latin1')]);
  t.equal(inspectPdf(pdf).pages, 2, 'pages counted from the compressed page tree');
  t.throws(() => inspectPdf(Buffer.from('PK\u0003\u0004 a zip file')), { code: 'NOT_A_PDF' }, 'another format is refused by its magic');
  t.throws(() => inspectPdf(Buffer.from('%PDF-1.4\n%%EOF\n')), { code: 'INVALID_PDF' }, 'a PDF without pages is refused');
});

t.test('pass rules', async (t) => {
  t.equal(votePassed('simple_majority_of_votes', 2, 3, 10), true, '2 of 3 ballots cast');
  t.equal(votePassed('simple_majority_of_votes', 2, 4, 4), false, 'half of the ballots is not a majority');
  t.equal(votePassed('majority_of_participants', 3, 3, 6), false, '3 of 6 entitled is not a majority');
  t.equal(votePassed('majority_of_participants', 3, 3, 5), true, '3 of 5 entitled');
  t.equal(votePassed('two_thirds_of_participants', 4, 4, 6), true, '4 of 6 is two thirds');
  t.equal(votePassed('two_thirds_of_participants', 3, 4, 5), false, '3 of 5 is less than two thirds');
});

t.test('rooms: organisers add and edit them, with the room’s devices; bad input changes nothing', async (t) => {
  // The nameplate announces itself over MQTT, as an agent would.
  await inst.mqtt.client.publishAsync(`lawbox/device/${PLATE}`, JSON.stringify({ power: 'on', text: '第一会议室' }), { qos: 1, retain: true });
  t.ok(await until(async () => !!(await ctx.db.selectFrom('devices').select('id').where('id', '=', PLATE).executeTakeFirst())), 'the nameplate is known to the server');

  const before = await count('meeting_rooms');
  const bad = [
    [{ id: 'Room 1!', name: 'x', capacity: 10 }, 'VALIDATION_FAILED'],
    [{ id: ROOM, name: 'x', capacity: 0 }, 'VALIDATION_FAILED'],
    [{ id: ROOM, name: 'x', capacity: 10, devices: ['no-such-device'] }, 'UNKNOWN_DEVICE'],
    [{ id: ROOM, name: '   ', capacity: 10 }, 'INVALID_NAME'],
  ] as const;
  for (const [payload, code] of bad) {
    const res = await req('POST', '/api/meetings/rooms', organiser.headers, payload);
    t.equal(res.statusCode, 400, `${JSON.stringify(payload)} → 400`);
    t.equal(res.json().error.code, code, `code ${code}`);
    t.ok(isErrorShape(res.json()), 'the error shape');
  }
  t.equal(await count('meeting_rooms'), before, 'no room was added by bad input');
  t.equal((await req('POST', '/api/meetings/rooms', chair.headers, { id: ROOM, name: '第一会议室', capacity: 12 })).statusCode, 403, 'a lawyer may not add rooms');

  const created = await req('POST', '/api/meetings/rooms', organiser.headers, { id: ROOM, name: '第一会议室', floor: '12 层', capacity: 12 });
  t.equal(created.statusCode, 201, 'the room is added');
  t.match(created.json(), { id: ROOM, name: '第一会议室', floor: '12 层', capacity: 12, devices: [] });
  t.equal((await req('POST', '/api/meetings/rooms', organiser.headers, { id: ROOM, name: 'again', capacity: 2 })).statusCode, 409, 'the same id twice → 409');
  const updated = await req('PUT', `/api/meetings/rooms/${ROOM}`, organiser.headers, { name: '第一会议室', floor: '12 层', capacity: 12, devices: [PLATE] });
  t.equal(updated.statusCode, 200, 'the room gets its nameplate');
  t.same(updated.json().devices, [PLATE]);
  t.equal((await req('POST', '/api/meetings/rooms', organiser.headers, { id: OTHER_ROOM, name: '小会议室', capacity: 4 })).statusCode, 201, 'a second room');
  const listed = await req('GET', '/api/meetings/rooms', chair.headers);
  t.equal(listed.statusCode, 200, 'any practice role sees the rooms');
  t.ok(listed.json().some((r: { id: string }) => r.id === ROOM));
  t.equal((await req('GET', '/api/meetings/rooms', itAdmin.headers)).statusCode, 403, 'the system administrator does not');
  const audit = await ctx.db.selectFrom('audit_log').select('action').where('object', '=', `meeting_room:${ROOM}`).orderBy('seq').execute();
  t.same(audit.map((a) => a.action), ['meeting_room.create', 'meeting_room.update'], 'both changes are audited');
});

t.test('record types: the firm’s and the Party branch’s (三会一课, 主题党日)', async (t) => {
  const res = await req('GET', '/api/meetings/record-types', observer.headers);
  t.equal(res.statusCode, 200);
  const types = res.json() as { kind: string; record_type: string; label: string; group: string | null }[];
  t.same(
    types.filter((r) => r.kind === 'party_branch').map((r) => r.label),
    ['支部党员大会', '支委会', '党小组会', '党课', '主题党日'],
    'the Party branch’s record types with their Chinese labels',
  );
  t.equal(types.filter((r) => r.group === '三会一课').length, 4, '三会一课 are four');
  t.same(types.filter((r) => r.kind === 'firm').map((r) => r.record_type), ['partners_meeting', 'staff_meeting', 'case_discussion', 'other']);
});

const meetingBody = () => ({
  title: '华信诉瑞丰案讨论会',
  kind: 'firm',
  record_type: 'case_discussion',
  room_id: ROOM,
  starts_at: inMinutes(30),
  ends_at: inMinutes(120),
  confidential: true,
  participants: [
    { user_id: chair.id, role: 'chair' },
    { user_id: secretary.id, role: 'secretary' },
    { user_id: memberC.id, role: 'member' },
    { user_id: memberD.id, role: 'member' },
    { user_id: observer.id, role: 'observer' },
  ],
  agenda: [{ title: '案情介绍' }, { title: '诉讼策略' }],
});

t.test('creating a meeting: validation, room bookings, who sees it', async (t) => {
  const before = await count('meeting_sessions');
  const base = meetingBody();
  const bad: [string, object, number, string][] = [
    ['two chairs', { ...base, participants: [...base.participants, { user_id: outsider.id, role: 'chair' }] }, 400, 'ONE_CHAIR'],
    ['no chair', { ...base, participants: base.participants.filter((p) => p.role !== 'chair') }, 400, 'ONE_CHAIR'],
    ['a firm record type for the Party branch', { ...base, kind: 'party_branch' }, 400, 'INVALID_RECORD_TYPE'],
    ['an unknown room', { ...base, room_id: 'nowhere' }, 400, 'UNKNOWN_ROOM'],
    ['ends before it starts', { ...base, starts_at: inMinutes(60), ends_at: inMinutes(30) }, 400, 'INVALID_TIME_RANGE'],
    ['an unknown user', { ...base, participants: [...base.participants, { user_id: 999_999, role: 'member' }] }, 400, 'UNKNOWN_USER'],
    ['a participant twice', { ...base, participants: [...base.participants, { user_id: chair.id, role: 'member' }] }, 400, 'DUPLICATE_PARTICIPANT'],
    ['an unknown role', { ...base, participants: [{ user_id: chair.id, role: 'king' }] }, 400, 'VALIDATION_FAILED'],
    ['an unknown field', { ...base, colour: 'red' }, 400, 'VALIDATION_FAILED'],
  ];
  for (const [label, payload, status, code] of bad) {
    const res = await req('POST', '/api/meetings', organiser.headers, payload);
    t.equal(res.statusCode, status, `${label} → ${status}`);
    t.equal(res.json().error?.code, code, `${label}: ${code}`);
  }
  t.equal((await req('POST', '/api/meetings', chair.headers, base)).statusCode, 403, 'a lawyer (no meetings.manage) may not schedule meetings');
  t.equal(await count('meeting_sessions'), before, 'nothing was scheduled');

  const res = await req('POST', '/api/meetings', organiser.headers, base);
  t.equal(res.statusCode, 201, 'the meeting is scheduled');
  const m = res.json();
  meetingId = m.id;
  t.match(m, { title: '华信诉瑞丰案讨论会', kind: 'firm', record_type: 'case_discussion', record_type_label: '案件讨论会', room_id: ROOM, room_name: '第一会议室', status: 'scheduled', confidential: true, my_role: null, minutes: null });
  t.same(m.agenda.map((a: { title: string }) => a.title), ['案情介绍', '诉讼策略'], 'the agenda in order');
  t.same(m.participants.map((p: { role: string }) => p.role), ['chair', 'secretary', 'member', 'member', 'observer'], 'participants, chair first');
  for (const p of m.participants as { id: number; user_id: number }[]) {
    const key = (Object.keys(ids) as (keyof typeof ids)[]).find((k) => ({ chair, secretary, memberC, memberD, observer })[k].id === p.user_id)!;
    ids = { ...ids, [key]: p.id };
  }
  t.equal(m.presenter.presenter_participant_id, ids.chair, 'the chair presents unless someone else is set');

  const clash = await req('POST', '/api/meetings', organiser.headers, { ...base, starts_at: inMinutes(90), ends_at: inMinutes(150) });
  t.equal(clash.statusCode, 409, 'an overlapping booking of the room → 409');
  t.equal(clash.json().error.code, 'ROOM_BOOKED');

  const mine = await req('GET', `/api/meetings/${meetingId}`, memberC.headers);
  t.equal(mine.statusCode, 200, 'a participant sees the meeting');
  t.equal(mine.json().my_role, 'member', 'with the participant’s own role');
  const hidden = await req('GET', `/api/meetings/${meetingId}`, outsider.headers);
  t.equal(hidden.statusCode, 404, 'someone not taking part does not see it');
  t.equal(hidden.json().error.code, 'MEETING_NOT_FOUND');
  t.equal((await req('POST', `/api/meetings/${meetingId}/start`, outsider.headers, {})).statusCode, 404, 'nor can start it');
  const listOutsider = await req('GET', '/api/meetings', outsider.headers);
  t.same(listOutsider.json(), [], 'the outsider’s list is empty');
  const listOrganiser = await req('GET', `/api/meetings?from=${encodeURIComponent(inMinutes(-60))}&to=${encodeURIComponent(inMinutes(24 * 60))}`, organiser.headers);
  t.match(listOrganiser.json(), [{ id: meetingId, participants: 5, signed_in: 0, my_role: null }], 'the organiser lists every meeting of the day');
  t.equal((await req('GET', '/api/meetings', itAdmin.headers)).statusCode, 403, 'the system administrator has no meetings.read');

  const party = await req('POST', '/api/meetings', organiser.headers, {
    ...base,
    title: '支部党员大会',
    kind: 'party_branch',
    record_type: 'branch_general_meeting',
    room_id: OTHER_ROOM,
    confidential: false,
  });
  t.equal(party.statusCode, 201, 'a Party branch meeting uses the same tables');
  t.match(party.json(), { kind: 'party_branch', record_type_label: '支部党员大会' });
});

// The terminals of the room, and one in another room.
let k1: Awaited<ReturnType<typeof terminal>>;
let k2: typeof k1;
let k3: typeof k1;
let k4: typeof k1;
let elsewhere: typeof k1;

t.test('terminals sign participants in: one terminal per participant, one participant per terminal', async (t) => {
  [k1, k2, k3, k4] = [await terminal('1 号终端', ROOM), await terminal('2 号终端', ROOM), await terminal('3 号终端', ROOM), await terminal('4 号终端', ROOM)];
  elsewhere = await terminal('小会议室终端', OTHER_ROOM);

  const ws = await connectWs(t, wsUrl, k4.headers);
  ws.send({ type: 'subscribe', topics: [`meeting:${meetingId}`] });
  t.match(await ws.waitFor((m) => m.type === 'subscribed' || m.type === 'error'), { type: 'subscribed' }, 'a terminal of the room may follow the meeting');
  const foreign = await connectWs(t, wsUrl, elsewhere.headers);
  foreign.send({ type: 'subscribe', topics: [`meeting:${meetingId}`] });
  t.match(await foreign.waitFor((m) => m.type === 'subscribed' || m.type === 'error'), { type: 'error', code: 'FORBIDDEN' }, 'a terminal of another room may not');

  const current = await req('GET', '/api/kiosk/meeting/current', k1.headers);
  t.equal(current.statusCode, 200);
  t.match(current.json(), { room: { id: ROOM, name: '第一会议室' }, meeting: { id: meetingId, minutes: null }, seat: null }, 'the terminal shows the meeting next in its room, no seat yet');
  t.match((await req('GET', '/api/kiosk/meeting/current', elsewhere.headers)).json(), { room: { id: OTHER_ROOM } }, 'the other room’s terminal sees its own room');
  const strayAttempt = await req('POST', '/api/kiosk/meeting/sign-in', elsewhere.headers, { meeting_id: meetingId, user_id: chair.id });
  t.equal(strayAttempt.statusCode, 404, 'a terminal cannot sign in to another room’s meeting');

  const signIn = (k: typeof k1, userId: number) => req('POST', '/api/kiosk/meeting/sign-in', k.headers, { meeting_id: meetingId, user_id: userId });
  const first = await signIn(k1, chair.id);
  t.equal(first.statusCode, 200, 'the chair signs in at terminal 1');
  t.match(first.json(), { seat: { participant_id: ids.chair, user_id: chair.id, role: 'chair' } });
  t.match(await ws.waitFor(isEvent('sign_in')), { topic: `meeting:${meetingId}`, data: { type: 'sign_in', user_id: chair.id } }, 'the sign-in is announced');
  t.equal((await signIn(k1, chair.id)).statusCode, 200, 'signing in again at the same terminal is harmless');
  const taken = await signIn(k1, memberC.id);
  t.equal(taken.json().error?.code, 'TERMINAL_TAKEN', 'terminal 1 serves the chair only');
  const seated = await signIn(k3, chair.id);
  t.equal(seated.json().error?.code, 'PARTICIPANT_SEATED', 'the chair cannot take a second terminal');
  t.equal((await signIn(k2, outsider.id)).statusCode, 404, 'someone not taking part cannot sign in');
  t.equal((await signIn(k2, memberC.id)).statusCode, 200, 'member C at terminal 2');
  t.equal((await signIn(k3, memberD.id)).statusCode, 200, 'member D at terminal 3');

  const rows = await ctx.db.selectFrom('meeting_sign_ins').selectAll().where('meeting_id', '=', meetingId).orderBy('participant_id').execute();
  t.same(
    rows.map((r) => [r.participant_id, r.kiosk_id, r.recorded_by]),
    [
      [ids.chair, k1.id, null],
      [ids.memberC, k2.id, null],
      [ids.memberD, k3.id, null],
    ],
    'each sign-in records its terminal',
  );
  t.match((await req('GET', '/api/kiosk/meeting/current', k2.headers)).json(), { seat: { user_id: memberC.id, role: 'member' }, meeting: { my_role: 'member' } }, 'terminal 2 now serves member C');
});

t.test('a seat taken at the wrong terminal is released by the chair, secretary or an organiser, audited', async (t) => {
  const url = (participantId: number) => `/api/meetings/${meetingId}/seats/${participantId}/release`;
  // Somebody at terminal 4 taps the secretary's name.
  t.equal((await req('POST', '/api/kiosk/meeting/sign-in', k4.headers, { meeting_id: meetingId, user_id: secretary.id })).statusCode, 200, 'terminal 4 takes the secretary’s seat');
  const seats = () => ctx.db.selectFrom('meeting_seats').select(['participant_id', 'kiosk_id']).where('meeting_id', '=', meetingId).orderBy('participant_id').execute();
  const before = await seats();
  const refused: [string, Headers, number | string, number, string][] = [
    ['a member', memberC.headers, ids.secretary, 403, 'MEETING_ROLE_REQUIRED'],
    ['an outsider', outsider.headers, ids.secretary, 404, 'MEETING_NOT_FOUND'],
    ['a participant of no meeting', chair.headers, 999_999, 404, 'PARTICIPANT_NOT_FOUND'],
    ['a participant not seated', chair.headers, ids.observer, 404, 'SEAT_NOT_FOUND'],
    ['a bad id', chair.headers, 'x', 400, 'VALIDATION_FAILED'],
  ];
  for (const [label, headers, participant, status, code] of refused) {
    const res = await req('POST', url(participant as number), headers, {});
    t.equal(res.statusCode, status, `${label} → ${status}`);
    t.equal(res.json().error?.code, code, `${label}: ${code}`);
  }
  t.same(await seats(), before, 'no seat was released');

  const released = await req('POST', url(ids.secretary), chair.headers, {});
  t.equal(released.statusCode, 200, 'the chair releases it');
  t.match(released.json(), { id: ids.secretary, seated: false, sign_in_via: 'terminal' }, 'the sign-in stays, the seat is gone');
  t.match((await req('GET', '/api/kiosk/meeting/current', k4.headers)).json(), { seat: null }, 'terminal 4 serves nobody');
  const audited = await ctx.db.selectFrom('audit_log').select(['actor', 'detail']).where('action', '=', 'meeting.seat_release').execute();
  t.match(audited, [{ actor: chair.username, detail: { participant_id: ids.secretary, kiosk_id: k4.id } }], 'audited');
  t.equal((await req('POST', url(ids.secretary), chair.headers, {})).json().error?.code, 'SEAT_NOT_FOUND', 'twice → 404');

  // A terminal revoked by the kiosks module gives its seats back.
  t.equal((await req('POST', '/api/kiosk/meeting/sign-in', k4.headers, { meeting_id: meetingId, user_id: secretary.id })).statusCode, 200, 'terminal 4 takes the seat again');
  const freed = await ctx.db.transaction().execute((trx) => releaseSeatsOfKiosk(trx, k4.id));
  t.same(freed, [{ meeting_id: meetingId, participant_id: ids.secretary }], 'the revoked terminal’s seat is released');
  t.same(await seats(), before.filter((s) => s.kiosk_id !== k4.id), 'and only that one');
  t.equal((await req('POST', url(ids.memberD), organiser.headers, {})).statusCode, 200, 'an organiser may release a seat too');
  t.equal((await req('POST', '/api/kiosk/meeting/sign-in', k3.headers, { meeting_id: meetingId, user_id: memberD.id })).statusCode, 200, 'member D signs in again');
});

t.test('the terminal services check the meeting terminal’s permission', async (t) => {
  const kiosk = { id: k1.id, name: '1 号终端', kind: 'meeting' as const, roomId: ROOM, idReaderDevice: null };
  const calls: [string, (actor: typeof SYSTEM_ACTOR) => Promise<unknown>][] = [
    ['currentForKiosk', (a) => currentForKiosk(ctx, kiosk, a)],
    ['kioskSignIn', (a) => kioskSignIn(ctx, kiosk, a, meetingId, chair.id)],
    ['documentForKiosk', (a) => documentForKiosk(ctx, kiosk, a, 1)],
    ['turnPage', (a) => turnPage(ctx, kiosk, a, { meeting_id: meetingId, document_id: 1, page: 1 })],
    ['saveAnnotations', (a) => saveAnnotations(ctx, kiosk, a, { document_id: 1, page: 1, strokes: [] })],
    ['listAnnotations', (a) => listAnnotations(ctx, kiosk, a, 1)],
    ['castBallot', (a) => castBallot(ctx, kiosk, a, { vote_id: 1, choice: '同意' })],
  ];
  const lobby = { userId: null, username: `kiosk:${k1.id}`, role: 'kiosk_lobby', sourceIp: null };
  const lawyer = { userId: chair.id, username: chair.username, role: 'lawyer', sourceIp: null };
  for (const [name, call] of calls) {
    for (const actor of [lobby, lawyer, SYSTEM_ACTOR]) await t.rejects(call(actor), { code: 'FORBIDDEN' }, `${name} refuses ${actor.role ?? 'no role'}`);
  }
});

t.test('the secretary signs latecomers in, recorded as such; nobody else may', async (t) => {
  const url = (userId: number) => `/api/meetings/${meetingId}/sign-ins/${userId}/late`;
  const before = await count('meeting_sign_ins');
  const byMember = await req('POST', url(observer.id), memberC.headers, { note: 'x' });
  t.equal(byMember.statusCode, 403, 'a member may not');
  t.equal(byMember.json().error.code, 'MEETING_ROLE_REQUIRED');
  t.equal((await req('POST', url(observer.id), organiser.headers, {})).statusCode, 403, 'nor an organiser who does not take part');
  t.equal((await req('POST', url(outsider.id), secretary.headers, {})).statusCode, 404, 'an outsider cannot be signed in');
  t.equal((await req('POST', url(observer.id), secretary.headers, { note: 'x'.repeat(201) })).statusCode, 400, 'an overlong note is refused');
  t.equal(await count('meeting_sign_ins'), before, 'nothing was recorded');

  const res = await req('POST', url(observer.id), secretary.headers, { note: '会议开始后到场' });
  t.equal(res.statusCode, 200, 'the secretary signs the observer in');
  t.match(res.json(), { user_id: observer.id, sign_in_via: 'secretary', signed_in_by: secretary.id, seated: false });
  const row = await ctx.db.selectFrom('meeting_sign_ins').selectAll().where('participant_id', '=', ids.observer).executeTakeFirstOrThrow();
  t.match(row, { recorded_by: secretary.id, kiosk_id: null, note: '会议开始后到场' }, 'who signed whom in is recorded');
  t.equal((await req('POST', url(observer.id), secretary.headers, {})).json().error?.code, 'ALREADY_SIGNED_IN', 'a second sign-in → 409');
  t.equal((await req('POST', url(chair.id), secretary.headers, {})).statusCode, 409, 'as for someone signed in at a terminal');
});

t.test('documents: PDFs only, pages counted, served to the seats', async (t) => {
  const pdf = samplePdf(['Case memo', 'Facts', 'Strategy']);
  const url = `/api/meetings/${meetingId}/documents`;
  const before = await count('meeting_documents');
  const notPdf = await req('POST', url, organiser.headers, { name: 'memo.docx', content_base64: base64(Buffer.from('PK\u0003\u0004 this is a zip')) });
  t.equal(notPdf.statusCode, 400, 'a non-PDF is refused');
  t.equal(notPdf.json().error.code, 'NOT_A_PDF');
  t.equal((await req('POST', url, organiser.headers, { name: 'memo.pdf', content_base64: '%%%not base64%%%' })).json().error?.code, 'INVALID_BASE64', 'bad base64 is refused');
  t.equal((await req('POST', url, chair.headers, { name: 'memo.pdf', content_base64: base64(pdf) })).statusCode, 403, 'the chair (no meetings.manage) may not upload');
  t.equal(await count('meeting_documents'), before, 'nothing was stored');

  const ws = await connectWs(t, wsUrl, memberC.headers);
  ws.send({ type: 'subscribe', topics: [`meeting:${meetingId}`] });
  t.match(await ws.waitFor((m) => m.type === 'subscribed' || m.type === 'error'), { type: 'subscribed' }, 'a participant may follow the meeting');
  const res = await req('POST', url, organiser.headers, { name: '案情摘要.pdf', content_base64: base64(pdf) });
  t.equal(res.statusCode, 201, 'the PDF is added');
  const doc = res.json();
  docId = doc.id;
  t.match(doc, { name: '案情摘要.pdf', pages: 3, size: pdf.length, sha256: createHash('sha256').update(pdf).digest('hex'), withdrawn_at: null });
  t.match(await ws.waitFor(isEvent('document.added')), { data: { document_id: docId } }, 'the terminals hear of it');
  t.equal((await req('POST', url, organiser.headers, { name: 'copy.pdf', content_base64: base64(pdf) })).json().error?.code, 'DOCUMENT_EXISTS', 'the same file twice → 409');

  const file = await req('GET', `/api/kiosk/meeting/documents/${docId}`, k2.headers);
  t.equal(file.statusCode, 200, 'a seated terminal gets the PDF');
  t.equal(file.headers['content-type'], 'application/pdf');
  t.equal(file.headers['cache-control'], 'no-store', 'never cached');
  t.equal(file.headers['content-disposition'], 'inline', 'a confidential document is shown, not offered for download');
  t.ok(file.rawPayload.equals(pdf), 'the bytes are the uploaded ones');
  const seatedView = (await req('GET', '/api/kiosk/meeting/current', k2.headers)).json().meeting;
  t.same(seatedView.documents.map((d: { id: number }) => d.id), [docId], 'a seated terminal lists the documents');
  t.equal(seatedView.agenda.length, 2, 'and the agenda');
  const bystander = (await req('GET', '/api/kiosk/meeting/current', k4.headers)).json();
  t.match(bystander, { seat: null, meeting: { id: meetingId, documents: [], votes: [], agenda: [] } }, 'a terminal without a seat shows no documents, votes or confidential agenda');
  t.equal(bystander.meeting.participants.length, 5, 'but the participants, to find one’s name');
  const party = (await req('GET', '/api/kiosk/meeting/current', elsewhere.headers)).json().meeting;
  t.equal(party.agenda.length, 2, 'a meeting not confidential shows its agenda before sign-in');
  const unseated = await req('GET', `/api/kiosk/meeting/documents/${docId}`, k4.headers);
  t.equal(unseated.statusCode, 403, 'a terminal nobody signed in at gets nothing');
  t.equal(unseated.json().error.code, 'NOT_SIGNED_IN');
  t.equal((await req('GET', `/api/kiosk/meeting/documents/${docId}`, elsewhere.headers)).statusCode, 404, 'another room’s terminal does not see it');
  t.equal((await req('GET', `/api/meetings/${meetingId}/documents/${docId}`, memberD.headers)).statusCode, 200, 'a participant may read it on the staff side');
  t.equal((await req('GET', `/api/meetings/${meetingId}/documents/${docId}`, outsider.headers)).statusCode, 404, 'an outsider may not');
  const views = await ctx.db.selectFrom('audit_log').select('actor').where('action', '=', 'meeting.document_view').execute();
  t.same(views.map((v) => v.actor).sort(), [`kiosk:${k2.id}`, memberD.username].sort(), 'each read of a confidential document is audited');
});

t.test('the presenter turns the pages for every terminal; nobody else can', async (t) => {
  const page = (k: typeof k1, n: number) => req('POST', '/api/kiosk/meeting/page', k.headers, { meeting_id: meetingId, document_id: docId, page: n });
  t.equal((await page(k1, 2)).json().error?.code, 'MEETING_NOT_STARTED', 'no page turns before the start');
  t.equal((await req('POST', `/api/meetings/${meetingId}/start`, memberC.headers, {})).statusCode, 403, 'a member cannot start the meeting');
  const started = await req('POST', `/api/meetings/${meetingId}/start`, secretary.headers, {});
  t.equal(started.statusCode, 200, 'the secretary starts it');
  t.equal(started.json().status, 'in_progress');
  t.equal((await req('POST', `/api/meetings/${meetingId}/start`, chair.headers, {})).statusCode, 409, 'a second start → 409');

  const follower2 = await connectWs(t, wsUrl, k2.headers);
  const follower3 = await connectWs(t, wsUrl, k3.headers);
  for (const f of [follower2, follower3]) {
    f.send({ type: 'subscribe', topics: [`meeting:${meetingId}`] });
    t.match(await f.waitFor((m) => m.type === 'subscribed' || m.type === 'error'), { type: 'subscribed' });
  }
  const refused = await page(k2, 2);
  t.equal(refused.statusCode, 403, 'member C is not the presenter');
  t.equal(refused.json().error.code, 'NOT_PRESENTER');
  t.equal((await page(k1, 4)).json().error?.code, 'INVALID_PAGE', 'there is no page 4');
  const turned = await page(k1, 2);
  t.equal(turned.statusCode, 200, 'the chair turns to page 2');
  t.match(turned.json(), { presenter_participant_id: ids.chair, document_id: docId, page: 2 });
  for (const f of [follower2, follower3]) t.match(await f.waitFor(isEvent('page')), { topic: `meeting:${meetingId}`, data: { type: 'page', document_id: docId, page: 2 } }, 'each terminal follows');
  t.ok(await follower2.noneWithin(isEvent('page', (d) => d.page !== 2), 300), 'the refused turns were not announced');

  const handOver = await req('PUT', `/api/meetings/${meetingId}/presenter`, chair.headers, { participant_id: ids.memberC });
  t.equal(handOver.statusCode, 200, 'the chair hands the presentation to member C');
  t.equal((await page(k2, 3)).statusCode, 200, 'who now turns the pages');
  t.equal((await page(k1, 1)).statusCode, 403, 'and the chair no longer does');
  t.equal((await req('PUT', `/api/meetings/${meetingId}/presenter`, memberD.headers, { participant_id: ids.memberD })).statusCode, 403, 'a member cannot take the presentation');
  t.equal((await req('PUT', `/api/meetings/${meetingId}/presenter`, chair.headers, { participant_id: null })).statusCode, 200, 'back to the chair');
  t.match((await req('GET', `/api/meetings/${meetingId}`, chair.headers)).json().presenter, { presenter_participant_id: ids.chair, document_id: docId, page: 3 });
});

t.test('annotations are private to the seat', async (t) => {
  const strokes = [{ tool: 'pen', points: [[10, 10], [20, 25]] }];
  const save = (k: typeof k1, body: object) => req('PUT', '/api/kiosk/meeting/annotations', k.headers, body);
  t.equal((await save(k2, { document_id: docId, page: 1, strokes })).statusCode, 200, 'member C annotates page 1');
  t.equal((await save(k2, { document_id: docId, page: 9, strokes })).statusCode, 400, 'not a page of the document');
  t.equal((await save(k2, { document_id: docId, page: 1, strokes: ['x'.repeat(70_000)] })).json().error?.code, 'ANNOTATIONS_TOO_LARGE', 'more than 64 KB → 400');
  t.equal((await save(k4, { document_id: docId, page: 1, strokes })).statusCode, 403, 'an unseated terminal cannot annotate');
  const own = await req('GET', `/api/kiosk/meeting/annotations?document_id=${docId}`, k2.headers);
  t.match(own.json(), [{ page: 1, strokes }], 'the seat reads its own strokes back');
  t.same((await req('GET', `/api/kiosk/meeting/annotations?document_id=${docId}`, k3.headers)).json(), [], 'another seat sees none of them');
});

t.test('a named vote: ballots from the terminals, counted and passed by the rule', async (t) => {
  const votes = `/api/meetings/${meetingId}/votes`;
  const before = await count('meeting_votes');
  t.equal((await req('POST', votes, memberC.headers, { title: '诉讼方案' })).statusCode, 403, 'a member cannot call a vote');
  t.equal((await req('POST', votes, chair.headers, { title: '诉讼方案', options: ['同意', '同意'] })).json().error?.code, 'INVALID_OPTIONS', 'options are distinct');
  t.equal((await req('POST', votes, chair.headers, { title: '诉讼方案', rule: 'unanimity' })).statusCode, 400, 'an unknown rule');
  t.equal(await count('meeting_votes'), before, 'no vote was created');

  const created = await req('POST', votes, chair.headers, { title: '同意按方案一起诉' });
  t.equal(created.statusCode, 201);
  const vote = created.json();
  t.match(vote, { status: 'draft', options: ['同意', '反对', '弃权'], anonymous: false, rule: 'simple_majority_of_votes', cast: 0, tally: null });
  const ballot = (k: typeof k1, choice: string, voteId = vote.id) => req('POST', '/api/kiosk/meeting/ballots', k.headers, { vote_id: voteId, choice });
  t.equal((await ballot(k1, '同意')).json().error?.code, 'VOTE_NOT_OPEN', 'no ballots before the vote opens');

  const ws = await connectWs(t, wsUrl, k4.headers);
  ws.send({ type: 'subscribe', topics: [`meeting:${meetingId}`] });
  await ws.waitFor((m) => m.type === 'subscribed');
  const opened = await req('POST', `${votes}/${vote.id}/open`, secretary.headers, {});
  t.equal(opened.statusCode, 200, 'the secretary opens it');
  t.match(opened.json(), { status: 'open', eligible: 4 }, 'four may vote: everyone but the observer');
  t.match(await ws.waitFor(isEvent('vote.opened')), { data: { vote_id: vote.id } });
  t.equal((await req('POST', `${votes}/${vote.id}/open`, chair.headers, {})).statusCode, 409, 'a vote is opened once');

  const release = await req('POST', `/api/meetings/${meetingId}/seats/${ids.memberC}/release`, chair.headers, {});
  t.equal(release.statusCode, 409, 'no seat is released while a vote is open');
  t.equal(release.json().error.code, 'VOTE_OPEN');
  t.same((await req('GET', '/api/kiosk/meeting/current', k4.headers)).json().meeting.votes, [], 'a terminal without a seat does not see the vote');
  t.equal((await req('GET', '/api/kiosk/meeting/current', k1.headers)).json().meeting.votes.length, 1, 'a seated one does');
  t.equal((await ballot(k1, '也许')).json().error?.code, 'INVALID_CHOICE', 'a choice not offered → 400');
  t.equal((await ballot(k4, '同意')).json().error?.code, 'NOT_SIGNED_IN', 'a terminal without a seat cannot vote');
  t.equal((await ballot(elsewhere, '同意')).statusCode, 404, 'another room’s terminal does not see the vote');
  t.equal((await ballot(k1, '同意')).statusCode, 200, 'the chair votes for');
  t.match(await ws.waitFor(isEvent('ballot')), { data: { type: 'ballot', vote_id: vote.id, cast: 1 } }, 'the count is announced, not the choice');
  t.equal((await ballot(k1, '反对')).json().error?.code, 'ALREADY_VOTED', 'once per participant');
  t.equal((await ballot(k2, '反对')).statusCode, 200, 'member C votes against');
  t.equal((await ballot(k3, '同意')).statusCode, 200, 'member D votes for');
  t.match(await ws.waitFor(isEvent('ballot', (d) => d.cast === 3)), { data: { cast: 3 } });
  const during = (await req('GET', `/api/meetings/${meetingId}`, chair.headers)).json().votes[0];
  t.match(during, { cast: 3, tally: null, voted_by_me: true }, 'no running tally while the vote is open');
  t.equal((await req('POST', `/api/meetings/${meetingId}/end`, chair.headers, {})).json().error?.code, 'VOTE_OPEN', 'the meeting cannot end with a vote open');

  const closed = await req('POST', `${votes}/${vote.id}/close`, chair.headers, {});
  t.equal(closed.statusCode, 200, 'the chair closes it');
  t.match(closed.json(), { status: 'closed', cast: 3, tally: { 同意: 2, 反对: 1, 弃权: 0 }, passed: true }, '2 of 3 ballots: passed');
  t.same(
    closed.json().ballots.map((b: { participant_id: number; choice: string }) => [b.participant_id, b.choice]).sort(),
    [
      [ids.chair, '同意'],
      [ids.memberC, '反对'],
      [ids.memberD, '同意'],
    ].sort(),
    'a named vote shows who chose what',
  );
  t.match(await ws.waitFor(isEvent('vote.closed')), { data: { vote_id: vote.id, tally: { 同意: 2, 反对: 1, 弃权: 0 }, passed: true } });
  t.equal((await ballot(k2, '同意')).json().error?.code, 'VOTE_NOT_OPEN', 'no ballots after the close');
  const deleted = await ctx.db.deleteFrom('meeting_ballots').where('vote_id', '=', vote.id).execute().then(() => 'deleted', (err: Error) => err.message);
  t.match(deleted, /meeting record/, 'the database refuses to delete ballots');
});

t.test('an anonymous vote keeps no link from ballot to voter, and fails its two-thirds rule', async (t) => {
  const votes = `/api/meetings/${meetingId}/votes`;
  const vote = (await req('POST', votes, secretary.headers, { title: '是否接受调解', anonymous: true, rule: 'two_thirds_of_participants' })).json();
  t.equal((await req('POST', `${votes}/${vote.id}/open`, chair.headers, {})).statusCode, 200);
  const ballot = (k: typeof k1, choice: string) => req('POST', '/api/kiosk/meeting/ballots', k.headers, { vote_id: vote.id, choice });
  t.equal((await ballot(k1, '同意')).statusCode, 200);
  t.equal((await ballot(k2, '同意')).statusCode, 200);
  t.equal((await ballot(k3, '弃权')).statusCode, 200);
  t.equal((await ballot(k3, '同意')).statusCode, 409, 'no second ballot, anonymous or not');

  t.same(await ctx.db.selectFrom('meeting_ballots').selectAll().where('vote_id', '=', vote.id).execute(), [], 'no ballot row is kept');
  const counters = await ctx.db.selectFrom('meeting_vote_counts').selectAll().where('vote_id', '=', vote.id).orderBy('choice').execute();
  t.same(Object.fromEntries(counters.map((c) => [c.choice, c.n])), { 同意: 2, 反对: 0, 弃权: 1 }, 'only a counter per choice');
  t.same(Object.keys(counters[0]!).sort(), ['choice', 'n', 'vote_id'], 'with no voter, id or time');
  // Every ballot rewrote every counter of the vote: their row versions are one, whatever was chosen.
  const versions = await sql<{ xmin: string }>`select xmin::text as xmin from meeting_vote_counts where vote_id = ${vote.id}`.execute(ctx.db);
  t.equal(new Set(versions.rows.map((r) => r.xmin)).size, 1, 'the counters’ row versions do not tell the last choice');
  const lowered = await sql`update meeting_vote_counts set n = 0 where vote_id = ${vote.id}`.execute(ctx.db).then(() => 'lowered', (err: Error) => err.message);
  t.match(lowered, /only counts up/, 'a counter cannot be lowered');
  const voters = await ctx.db.selectFrom('meeting_vote_voters').select('participant_id').where('vote_id', '=', vote.id).orderBy('participant_id').execute();
  t.same(voters.map((v) => v.participant_id), [ids.chair, ids.memberC, ids.memberD].sort((a, b) => a - b), 'who has voted is kept apart');
  const audited = await ctx.db.selectFrom('audit_log').select('detail').where('action', '=', 'meeting.ballot').execute();
  t.ok(audited.every((a) => !JSON.stringify(a.detail).includes('同意') && !JSON.stringify(a.detail).includes('弃权')), 'the audit trail never records a choice');

  const closed = (await req('POST', `${votes}/${vote.id}/close`, secretary.headers, {})).json();
  t.match(closed, { tally: { 同意: 2, 反对: 0, 弃权: 1 }, passed: false, eligible: 4 }, '2 of 4 entitled is short of two thirds: failed');
  t.same(closed.ballots, [], 'an anonymous vote lists no ballots');
});

t.test('minutes: written by the secretary, approved by the chair after the end', async (t) => {
  const url = `/api/meetings/${meetingId}/minutes`;
  t.equal((await req('PUT', url, memberC.headers, { text: '纪要' })).statusCode, 403, 'a member cannot write the minutes');
  t.equal((await req('PUT', url, secretary.headers, { text: '' })).statusCode, 400, 'empty minutes are refused');
  t.equal(await count('meeting_minutes'), 0, 'nothing was saved');
  t.match((await req('PUT', url, secretary.headers, { text: '一、案情介绍。' })).json(), { version: 1, written_by: secretary.id, approved_at: null });
  t.match((await req('PUT', url, secretary.headers, { text: '一、案情介绍。\n二、决定按方案一起诉。' })).json(), { version: 2 }, 'each save is a new version');
  t.equal((await req('POST', `${url}/approve`, chair.headers, {})).json().error?.code, 'MEETING_NOT_ENDED', 'not approved while the meeting runs');
  t.equal((await req('GET', '/api/kiosk/meeting/current', k1.headers)).json().meeting.minutes, null, 'terminals do not show the minutes');
});

t.test('the end withdraws the confidential documents from the terminals; the bytes stay', async (t) => {
  const ws = await connectWs(t, wsUrl, k1.headers);
  ws.send({ type: 'subscribe', topics: [`meeting:${meetingId}`] });
  await ws.waitFor((m) => m.type === 'subscribed');
  t.equal((await req('POST', `/api/meetings/${meetingId}/end`, memberC.headers, {})).statusCode, 403, 'a member without meetings.manage cannot end the meeting');
  const ended = await req('POST', `/api/meetings/${meetingId}/end`, chair.headers, {});
  t.equal(ended.statusCode, 200, 'the chair ends it');
  t.match(ended.json(), { status: 'ended', documents: [{ id: docId }] });
  t.ok(ended.json().documents[0].withdrawn_at, 'the document is marked withdrawn');
  t.match(await ws.waitFor(isEvent('document.withdrawn')), { data: { document_id: docId } }, 'the terminals are told');
  t.match(await ws.waitFor(isEvent('meeting.ended')), { topic: `meeting:${meetingId}` });

  const gone = await req('GET', `/api/kiosk/meeting/documents/${docId}`, k1.headers);
  t.equal(gone.statusCode, 410, 'the terminal gets 410');
  t.equal(gone.json().error.code, 'DOCUMENT_WITHDRAWN');
  t.equal((await req('GET', `/api/meetings/${meetingId}/documents/${docId}`, chair.headers)).statusCode, 410, 'so does the staff side');
  // A read that looked the document up just before the end committed: it must not get the bytes.
  const live = ctx.db;
  const stale: KyselyPlugin = {
    transformQuery: (args) => args.node,
    transformResult: async ({ result }) => ({ ...result, rows: result.rows.map((r) => (r.id === docId && 'withdrawn_at' in r ? { ...r, withdrawn_at: null } : r)) }),
  };
  ctx.db = live.withPlugin(stale);
  try {
    const raced = await req('GET', `/api/kiosk/meeting/documents/${docId}`, k1.headers);
    t.equal(raced.statusCode, 410, 'a terminal racing the end gets 410');
    t.equal(raced.json().error?.code, 'DOCUMENT_WITHDRAWN');
    t.equal((await req('GET', `/api/meetings/${meetingId}/documents/${docId}`, chair.headers)).statusCode, 410, 'so does a participant racing it');
  } finally {
    ctx.db = live;
  }
  const page = await req('POST', '/api/kiosk/meeting/page', k1.headers, { meeting_id: meetingId, document_id: docId, page: 1 });
  t.equal(page.statusCode, 409, 'no page turns after the end');
  const kept = await ctx.db.selectFrom('meeting_documents').select(['content', 'sha256']).where('id', '=', docId).executeTakeFirstOrThrow();
  t.equal(createHash('sha256').update(kept.content).digest('hex'), kept.sha256, 'the bytes are kept for the record');
  t.equal((await req('POST', `/api/meetings/${meetingId}/end`, chair.headers, {})).statusCode, 409, 'a second end → 409');
  t.equal((await req('POST', '/api/kiosk/meeting/sign-in', k4.headers, { meeting_id: meetingId, user_id: secretary.id })).json().error?.code, 'MEETING_ENDED', 'no sign-ins after the end');
  t.equal((await req('GET', '/api/kiosk/meeting/current', k1.headers)).json().meeting, null, 'the terminal has no current meeting any more');

  const url = `/api/meetings/${meetingId}/minutes`;
  t.equal((await req('POST', `${url}/approve`, secretary.headers, {})).statusCode, 403, 'the secretary does not approve');
  const approved = await req('POST', `${url}/approve`, chair.headers, {});
  t.equal(approved.statusCode, 200, 'the chair approves');
  t.match(approved.json(), { version: 2, approved_by: chair.id });
  t.equal((await req('PUT', url, secretary.headers, { text: '改' })).json().error?.code, 'MINUTES_APPROVED', 'approved minutes are final');
  t.equal(await count('meeting_minutes'), 2, 'both versions are kept');
});

t.test('room topic: a terminal follows the devices of its own room', async (t) => {
  const ws = await connectWs(t, wsUrl, k1.headers);
  ws.send({ type: 'subscribe', topics: [`room:${OTHER_ROOM}`] });
  t.match(await ws.waitFor((m) => m.type === 'subscribed' || m.type === 'error'), { type: 'error', code: 'FORBIDDEN' }, 'not another room’s');
  ws.send({ type: 'subscribe', topics: [`room:${ROOM}`] });
  t.match(await ws.waitFor((m) => m.type === 'subscribed' || m.type === 'error'), { type: 'subscribed' });
  const user = await connectWs(t, wsUrl, memberC.headers);
  user.send({ type: 'subscribe', topics: [`room:${ROOM}`] });
  t.match(await user.waitFor((m) => m.type === 'subscribed' || m.type === 'error'), { type: 'error', code: 'FORBIDDEN' }, 'a lawyer does not follow room devices');

  // The current state comes with GET /api/kiosk/meeting/current; the topic carries the changes.
  await inst.mqtt.client.publishAsync(`lawbox/device/${PLATE}`, JSON.stringify({ power: 'off' }), { qos: 1, retain: true });
  const change = await ws.waitFor(isEvent('device', (d) => d.device_id === PLATE), 6000);
  t.match(change, { topic: `room:${ROOM}`, data: { type: 'device', device_id: PLATE, state: { power: 'off' } } }, 'a change of the nameplate’s state reaches the room’s terminal');
  const current = (await req('GET', '/api/kiosk/meeting/current', k1.headers)).json();
  t.match(current.room.devices, [{ id: PLATE, state: { power: 'off' } }], 'and the current view lists the room’s devices with their state');
  await inst.mqtt.client.publishAsync(`lawbox/device/${PLATE}`, '', { qos: 1, retain: true });
});

t.test('a user subscribes to a meeting only when taking part or organising', async (t) => {
  for (const [who, expected] of [
    [memberD, 'subscribed'],
    [organiser, 'subscribed'],
    [outsider, 'error'],
  ] as const) {
    const ws = await connectWs(t, wsUrl, who.headers);
    ws.send({ type: 'subscribe', topics: [`meeting:${meetingId}`] });
    t.equal((await ws.waitFor((m) => m.type === 'subscribed' || m.type === 'error')).type, expected, `${who.username}: ${expected}`);
  }
});

t.test('a meeting nobody ends is ended by the system an hour after its scheduled end', async (t) => {
  const room = `late-${run}`;
  t.equal((await req('POST', '/api/meetings/rooms', organiser.headers, { id: room, name: '第三会议室', capacity: 6 })).statusCode, 201);
  const late = await terminal('第三会议室终端', room);
  const created = await req('POST', '/api/meetings', organiser.headers, {
    ...meetingBody(),
    room_id: room,
    starts_at: inMinutes(-30),
    ends_at: inMinutes(30),
    participants: [
      { user_id: chair.id, role: 'chair' },
      { user_id: memberC.id, role: 'member' },
    ],
  });
  t.equal(created.statusCode, 201, 'a confidential meeting');
  const id: number = created.json().id;
  const doc = (await req('POST', `/api/meetings/${id}/documents`, organiser.headers, { name: 'memo.pdf', content_base64: base64(samplePdf(['late'])) })).json();
  t.equal((await req('POST', '/api/kiosk/meeting/sign-in', late.headers, { meeting_id: id, user_id: chair.id })).statusCode, 200);
  t.equal((await req('POST', `/api/meetings/${id}/start`, chair.headers, {})).statusCode, 200);
  const vote = (await req('POST', `/api/meetings/${id}/votes`, chair.headers, { title: '是否上诉', anonymous: true })).json();
  t.equal((await req('POST', `/api/meetings/${id}/votes/${vote.id}/open`, chair.headers, {})).statusCode, 200);
  t.equal((await req('POST', '/api/kiosk/meeting/ballots', late.headers, { vote_id: vote.id, choice: '同意' })).statusCode, 200);

  const job = meetingJobs.find((j) => j.name === 'meetings.end_overdue')!;
  t.equal(job.schedule, '*/10 * * * *', 'every ten minutes');
  const at = (minutes: number) => ({ ...ctx, clock: { now: () => new Date(inst.clock.now().getTime() + minutes * 60_000) } });
  await job.run(at(30 + 59));
  t.equal((await req('GET', `/api/meetings/${id}`, chair.headers)).json().status, 'in_progress', 'within the hour after its end, it runs on');
  const result = (await job.run(at(30 + 61))) as { ended: number[] };
  t.ok(result.ended.includes(id), 'past the hour, the job ends it');
  const ended = (await req('GET', `/api/meetings/${id}`, chair.headers)).json();
  t.equal(ended.status, 'ended', 'ended');
  t.match(ended.votes, [{ id: vote.id, status: 'closed', cast: 1, tally: { 同意: 1, 反对: 0, 弃权: 0 }, passed: true }], 'the open vote is closed with its result');
  t.ok(ended.documents.every((d: { withdrawn_at: string | null }) => d.withdrawn_at), 'the confidential documents are withdrawn');
  t.equal((await req('GET', `/api/kiosk/meeting/documents/${doc.id}`, late.headers)).statusCode, 410, 'the terminal has lost them');
  const audited = await ctx.db.selectFrom('audit_log').select(['actor', 'action', 'detail']).where('object', '=', `meeting:${id}`).where('action', 'in', ['meeting.end', 'meeting.vote_close']).orderBy('seq').execute();
  t.match(
    audited,
    [
      { actor: 'system', action: 'meeting.vote_close' },
      { actor: 'system', action: 'meeting.end', detail: { overdue: true, withdrawn_documents: [doc.id] } },
    ],
    'audited as the system',
  );
  const again = (await job.run(at(30 + 71))) as { ended: number[] };
  t.notOk(again.ended.includes(id), 'a meeting is ended once');
});
