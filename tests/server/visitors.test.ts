import type { AddressInfo } from 'node:net';
import t from 'tap';
import WebSocket from 'ws';
import { AccessIndex } from '../../device-agent/src/access/decide.js';
import { SYSTEM_ACTOR } from '../../server/src/context.js';
import { storedAccessList } from '../../server/src/modules/doors/access-list.js';
import { createKiosk, enrolKiosk } from '../../server/src/modules/kiosks/service.js';
import { visitorJobs } from '../../server/src/modules/visitors/service.js';
import { startBroker, until } from '../helpers/devices.js';
import { hasSocat, SAMPLE_CARD, startIdCardReader } from '../helpers/id-reader.js';
import { createTestInstance, isErrorShape, signedIn } from '../helpers/instance.js';

/**
 * Lobby visitor management end to end: real database, real HTTP, a real MQTT broker with a device
 * agent driving a simulated ID card reader over a serial line, and live events over the WebSocket.
 */
const { url } = await startBroker(t);
const inst = await createTestInstance(t, { env: { MQTT_URL: url } });
await inst.app.listen({ host: '127.0.0.1', port: 0 });
const wsUrl = `ws://127.0.0.1:${(inst.app.server.address() as AddressInfo).port}/api/ws`;
const db = inst.ctx.db;
const HOUR = 3_600_000;
if (!hasSocat) console.log('# skipping the ID card reader test: socat is not installed (apt-get install socat); CI installs it');

type Headers = { headers: Record<string, string> };
const call = (method: 'GET' | 'POST' | 'PUT', path: string, as: Headers | null, payload?: object) =>
  inst.app.inject({ method, url: path, headers: as?.headers ?? {}, ...(payload ? { payload } : {}) });

const director = await signedIn(inst, 'director');
const frontDesk = await signedIn(inst, 'admin_staff');
const partner = await signedIn(inst, 'partner');
const lawyer = await signedIn(inst, 'lawyer');
const otherLawyer = await signedIn(inst, 'lawyer');
const intern = await signedIn(inst, 'intern');
const itAdmin = await signedIn(inst, 'it_admin');

// The lobby door on its agent, and the ID card reader the lobby kiosk uses.
await db.insertInto('agents').values({ id: 'lobby-agent', created_at: inst.clock.now() }).execute();
const door = await call('POST', '/api/doors', frontDesk, { id: 'lobby-door', agent_id: 'lobby-agent', name: '大堂门禁', lock_device: 'relay-lobby', readers: ['reader-lobby'], fail_mode: 'fail_secure' });
if (door.statusCode !== 201) throw new Error(`the lobby door was not created: ${door.body}`);
await db.insertInto('devices').values([{ id: 'idreader-1', updated_at: inst.clock.now() }, { id: 'idreader-ghost', updated_at: inst.clock.now() }]).execute();

async function kiosk(name: string, kind: 'lobby' | 'meeting', reader: string | null = null): Promise<{ id: number; headers: Record<string, string> }> {
  const { kiosk, enrolment_code } = await createKiosk(inst.ctx, SYSTEM_ACTOR, { name, kind, id_reader_device: reader });
  return { id: kiosk.id, headers: { authorization: `Bearer ${(await enrolKiosk(inst.ctx, enrolment_code, null)).token}` } };
}
const lobby = await kiosk('大堂自助登记机', 'lobby', 'idreader-1');
const bareLobby = await kiosk('侧门登记机', 'lobby');
const ghostLobby = await kiosk('二楼登记机', 'lobby', 'idreader-ghost');
const meetingKiosk = await kiosk('会议室终端', 'meeting');

type Message = { type: string; topic?: string; code?: string; data?: Record<string, unknown> };
/** A WebSocket subscribed to `topics` that keeps every event it hears. */
async function listen(t: { teardown(fn: () => unknown): void }, headers: Record<string, string>, topics: string[]) {
  const socket = new WebSocket(wsUrl, { headers });
  const received: Message[] = [];
  socket.on('message', (raw) => received.push(JSON.parse(raw.toString()) as Message));
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  t.teardown(() => socket.close());
  socket.send(JSON.stringify({ type: 'subscribe', topics }));
  await until(() => received.some((m) => m.type === 'subscribed' || m.type === 'error'));
  const ack = received.find((m) => m.type === 'subscribed' || m.type === 'error')!;
  return {
    ack,
    events: (topic: string) => received.filter((m) => m.type === 'event' && m.topic === topic).map((m) => m.data!),
  };
}

const counts = async () => ({
  visits: Number((await db.selectFrom('visitor_visits').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n),
  passes: Number((await db.selectFrom('access_credentials').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n),
  reads: Number((await db.selectFrom('visitor_id_reads').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n),
});
const inAnHour = () => new Date(inst.clock.now().getTime() + HOUR).toISOString();

t.test('visitor settings: the director chooses the pass doors; bad values change nothing', async (t) => {
  const defaults = await call('GET', '/api/visitors/settings', frontDesk);
  t.same(defaults.json(), { retention_days: 180, pass_doors: [], pass_hours: 4 }, 'the defaults');
  const cases: [string, Headers, object, number, string][] = [
    ['an unknown door', director, { retention_days: 180, pass_doors: ['nowhere'], pass_hours: 4 }, 400, 'UNKNOWN_DOOR'],
    ['retention under 30 days', director, { retention_days: 7, pass_doors: [], pass_hours: 4 }, 400, 'VALIDATION_FAILED'],
    ['a pass of 25 hours', director, { retention_days: 180, pass_doors: [], pass_hours: 25 }, 400, 'VALIDATION_FAILED'],
    ['the front desk (no practice.configure)', frontDesk, { retention_days: 180, pass_doors: ['lobby-door'], pass_hours: 4 }, 403, 'FORBIDDEN'],
  ];
  for (const [what, who, body, status, code] of cases) {
    const res = await call('PUT', '/api/visitors/settings', who, body);
    t.equal(res.statusCode, status, `${what}: ${status}`);
    t.equal(res.json().error.code, code, `${what}: ${code}`);
  }
  t.same((await call('GET', '/api/visitors/settings', frontDesk)).json(), defaults.json(), 'nothing changed');
  const put = await call('PUT', '/api/visitors/settings', director, { retention_days: 180, pass_doors: ['lobby-door'], pass_hours: 4 });
  t.equal(put.statusCode, 200, 'the director sets the pass doors');
  t.same((await call('GET', '/api/visitors/settings', frontDesk)).json().pass_doors, ['lobby-door'], 'kept');
  t.equal((await call('GET', '/api/visitors/settings', lawyer)).statusCode, 403, 'a lawyer may not read them');
});

let invitedVisitId = 0;
let invitedPassToken = '';

t.test('pre-registration → kiosk lookup → check-in issues a pass that the lobby door’s agent will honour', async (t) => {
  const host = await listen(t, lawyer.headers, [`user:${lawyer.id}`]);
  const desk = await listen(t, frontDesk.headers, ['visitors']);
  t.match(desk.ack, { type: 'subscribed' }, 'the front desk may follow the "visitors" topic');
  const created = await call('POST', '/api/visitors/invitations', lawyer, { visitor_name: '周晓梅', id_number: '11010519491231002x', phone: '13812345678', organization: '北京晓梅咨询有限公司', purpose: '合同审查面谈', expected_at: inAnHour() });
  t.equal(created.statusCode, 201, 'the invitation is created');
  const body = created.json();
  t.match(body.invite_code, /^[A-HJ-NP-Z2-9]{8}$/, 'an 8-character code without look-alike characters');
  t.equal(body.qr_payload, `LBV1:${body.invite_code}`, 'and its QR payload');
  t.match(body.visit, { visitor_name: '周晓梅', id_number_masked: '110105********002X', phone_masked: '138****5678', status: 'invited', source: 'invitation', host: { id: lawyer.id }, screening: { flagged: false, matches: [] }, pass: null }, 'staff see the name, identifiers masked');
  t.notOk(JSON.stringify(body.visit).includes('11010519491231002'), 'never the full ID number');
  invitedVisitId = body.visit.id;
  const row = await db.selectFrom('visitor_visits').selectAll().where('id', '=', invitedVisitId).executeTakeFirstOrThrow();
  t.not(row.invite_code_hash, body.invite_code, 'only a hash of the code is stored');

  const lookup = await call('POST', '/api/kiosk/lobby/invitations/lookup', lobby, { code: `lbv1:${body.invite_code.toLowerCase()}` });
  t.equal(lookup.statusCode, 200, 'the kiosk finds the invitation by its scanned QR payload, whatever the case');
  t.same(Object.keys(lookup.json()).sort(), ['expected_at', 'host_name', 'id', 'purpose', 'status', 'valid_until', 'visitor_name_masked'], 'a KioskVisit');
  t.match(lookup.json(), { visitor_name_masked: '周**', host_name: /^测[* ]+$/, status: 'invited' }, 'names masked');

  const checkIn = await call('POST', '/api/kiosk/lobby/check-in', lobby, { invite_code: body.invite_code });
  t.equal(checkIn.statusCode, 200, 'checked in');
  const result = checkIn.json();
  t.match(result, { status: 'checked_in', visit: { id: invitedVisitId, status: 'checked_in', visitor_name_masked: '周**' }, pass: { qr_token: /^[A-Z2-7]{26}$/, doors: ['大堂门禁'] }, message_zh: /签到成功/ }, 'with a QR pass for the lobby door');
  t.equal(new Date(result.pass.valid_until).getTime(), inst.clock.now().getTime() + 4 * HOUR, 'valid for pass_hours');
  invitedPassToken = result.pass.qr_token;

  const visit = await db.selectFrom('visitor_visits').selectAll().where('id', '=', invitedVisitId).executeTakeFirstOrThrow();
  const credential = await db.selectFrom('access_credentials').selectAll().where('id', '=', visit.pass_credential_id!).executeTakeFirstOrThrow();
  t.match(credential, { kind: 'visitor_pass', medium: 'qr', visitor_name: '访客 周**', revoked_at: null, card_number: null }, 'an access credential with a masked name');
  t.notOk(credential.digest?.includes(invitedPassToken), 'the token is stored only as a digest');
  const list = await storedAccessList(db, 'lobby-agent');
  t.ok(list, 'the lobby agent’s list was signed');
  t.ok(list!.list.credentials.some((c) => c.holder === `visitor_pass:${credential.id}`), 'the pass is in the lobby agent’s list');
  const index = new AccessIndex(list!.list);
  t.equal(index.decide(invitedPassToken, 'reader-lobby', new Date(inst.clock.now().getTime() + HOUR)).granted, true, 'the agent would open the lobby door for the QR code');

  t.ok(await until(() => host.events(`user:${lawyer.id}`).some((e) => e.type === 'visitor.arrived')), 'the host hears of the arrival');
  t.match(host.events(`user:${lawyer.id}`).find((e) => e.type === 'visitor.arrived'), { visit_id: invitedVisitId, visitor_name: '周晓梅' }, 'naming the visitor');
  t.ok(await until(() => desk.events('visitors').some((e) => e.type === 'visit.checked_in' && e.visit_id === invitedVisitId)), 'the front desk hears it too');

  const again = await call('POST', '/api/kiosk/lobby/check-in', lobby, { invite_code: body.invite_code });
  t.equal(again.statusCode, 409, 'an invitation checks in once');
  t.equal(again.json().error.code, 'ALREADY_CHECKED_IN', 'ALREADY_CHECKED_IN');
  const staffView = await call('GET', `/api/visitors/visits/${invitedVisitId}`, lawyer);
  t.match(staffView.json(), { status: 'checked_in', pass: { id: credential.id, kind: 'qr', doors: ['lobby-door'] } }, 'the host sees the visit checked in with its pass');
  const audit = await db.selectFrom('audit_log').select(['actor', 'action']).where('object', '=', `visit:${invitedVisitId}`).orderBy('seq').execute();
  t.same(audit.map((a) => [a.actor, a.action]), [[lawyer.username, 'visit.invite'], [`kiosk:${lobby.id}`, 'visit.check_in']], 'invitation and check-in are audited, the check-in in the kiosk’s name');
  t.ok(await db.selectFrom('audit_log').select('seq').where('action', '=', 'visitor_pass.issue').where('actor', '=', `kiosk:${lobby.id}`).executeTakeFirst(), 'the pass issue names the kiosk');
});

t.test('the ID card reader: a card on a simulated SAM reader, read through the agent, makes a walk-in', { skip: !hasSocat && 'socat missing' }, async (t) => {
  const sim = await startIdCardReader(t, { brokerUrl: url, agentId: 'lobby-agent', device: 'idreader-1' });
  t.ok(await until(async () => (await db.selectFrom('devices').select('availability').where('id', '=', 'idreader-1').executeTakeFirst())?.availability === 'online', 10_000), 'the reader comes online through its agent');

  const empty = await call('POST', '/api/kiosk/lobby/id-card/read', lobby, {});
  t.equal(empty.statusCode, 409, 'no card on the reader: 409');
  t.equal(empty.json().error.code, 'NO_CARD', 'NO_CARD');

  sim.layCard(SAMPLE_CARD);
  const read = await call('POST', '/api/kiosk/lobby/id-card/read', lobby, {});
  t.equal(read.statusCode, 200, 'the card is read');
  t.match(read.json(), { read_id: /^[A-Za-z0-9_-]{16,64}$/, name_masked: '王**', id_number_masked: '110105********2310' }, 'the kiosk sees it masked');
  t.notOk(read.body.includes('197803152310') || read.body.includes('中关村'), 'no full number, no address');
  const stored = await db.selectFrom('visitor_id_reads').selectAll().where('id', '=', read.json().read_id).executeTakeFirstOrThrow();
  t.match(stored, { kiosk_id: lobby.id, name: '王秀英', id_number: '110105197803152310' }, 'the full text waits on the server');
  t.equal(stored.expires_at.getTime() - stored.read_at.getTime(), 10 * 60_000, 'for ten minutes');

  const other = await call('POST', '/api/kiosk/lobby/check-in', bareLobby, { walk_in: { read_id: read.json().read_id, purpose: '咨询', host_user_id: otherLawyer.id } });
  t.equal(other.statusCode, 400, 'another kiosk cannot use this read');
  t.equal(other.json().error.code, 'READ_EXPIRED', 'READ_EXPIRED');

  const walkIn = await call('POST', '/api/kiosk/lobby/check-in', lobby, { walk_in: { read_id: read.json().read_id, purpose: '法律咨询', phone: '13911112222', host_user_id: otherLawyer.id } });
  t.equal(walkIn.statusCode, 200, 'the walk-in checks in with the read');
  t.match(walkIn.json(), { status: 'checked_in', visit: { visitor_name_masked: '王**', status: 'checked_in' }, pass: { qr_token: /^[A-Z2-7]{26}$/ } }, 'and gets a pass');
  const visit = await call('GET', `/api/visitors/visits/${walkIn.json().visit.id}`, frontDesk);
  t.match(visit.json(), { visitor_name: '王秀英', id_number_masked: '110105********2310', phone_masked: '139****2222', source: 'walk_in', host: { id: otherLawyer.id } }, 'the visit holds the card’s name and number (masked for staff)');
  t.equal((await db.selectFrom('visitor_id_reads').select('id').where('id', '=', read.json().read_id).executeTakeFirst()), undefined, 'the read is spent');
  const reuse = await call('POST', '/api/kiosk/lobby/check-in', lobby, { walk_in: { read_id: read.json().read_id, purpose: '法律咨询', host_user_id: otherLawyer.id } });
  t.equal(reuse.json().error?.code, 'READ_EXPIRED', 'a read checks in once');
  const check = await call('POST', `/api/visitors/visits/${walkIn.json().visit.id}/check-out`, frontDesk, {});
  t.equal(check.statusCode, 200, 'the front desk checks the visitor out');
});

t.test('a kiosk without a reader gets 503, a reader nobody answers for 504; neither keeps anything', async (t) => {
  const before = await counts();
  const none = await call('POST', '/api/kiosk/lobby/id-card/read', bareLobby, {});
  t.equal(none.statusCode, 503, 'no reader: 503');
  t.equal(none.json().error.code, 'ID_READER_UNAVAILABLE', 'ID_READER_UNAVAILABLE');
  t.ok(isErrorShape(none.json()), 'the error shape');
  const started = Date.now();
  const silent = await call('POST', '/api/kiosk/lobby/id-card/read', ghostLobby, {});
  t.equal(silent.statusCode, 504, 'a reader without an agent: 504 after the timeout');
  t.equal(silent.json().error.code, 'ID_READER_TIMEOUT', 'ID_READER_TIMEOUT');
  t.ok(Date.now() - started >= 6_000, 'the server waited for the agent');
  await db.updateTable('devices').set({ availability: 'offline' }).where('id', '=', 'idreader-ghost').execute();
  const offline = await call('POST', '/api/kiosk/lobby/id-card/read', ghostLobby, {});
  t.equal(offline.json().error?.code, 'ID_READER_UNAVAILABLE', 'a reader known to be offline: 503 at once');
  t.same(await counts(), before, 'nothing stored');
});

let matterNumber = '';
let matterId = 0;

t.test('an opposing party is flagged at invitation and at the kiosk: no pass until a reviewer admits them', async (t) => {
  const matter = await call('POST', '/api/matters', lawyer, { title: '陈静诉李强民间借贷纠纷', type: 'civil', parties: [{ role: 'client', kind: 'person', name: '陈静' }, { role: 'opposing', kind: 'person', name: '李强', id_number: '110101199003074514' }] });
  t.equal(matter.statusCode, 201, 'a matter with an opposing party');
  matterNumber = matter.json().number;
  matterId = matter.json().id;
  const host = await listen(t, lawyer.headers, [`user:${lawyer.id}`]);
  const boss = await listen(t, director.headers, [`user:${director.id}`]);
  const kioskEvents = await listen(t, lobby.headers, [`lobby:${lobby.id}`]);
  t.match(kioskEvents.ack, { type: 'subscribed' }, 'the lobby kiosk follows its own topic');
  const foreign = await listen(t, bareLobby.headers, [`lobby:${lobby.id}`]);
  t.match(foreign.ack, { type: 'error', code: 'FORBIDDEN' }, 'another kiosk may not');
  const userTry = await listen(t, frontDesk.headers, [`lobby:${lobby.id}`]);
  t.match(userTry.ack, { type: 'error', code: 'FORBIDDEN' }, 'nor may a user');

  const invited = await call('POST', '/api/visitors/invitations', lawyer, { visitor_name: '李强', purpose: '商谈和解', matter_id: matter.json().id, expected_at: inAnHour() });
  t.equal(invited.statusCode, 201, 'the invitation is accepted');
  const visit = invited.json().visit;
  t.match(visit, { status: 'flagged', screening: { flagged: true, matches: [] }, matter: { id: matter.json().id, number: matterNumber } }, 'flagged at once; the host sees the flag but not the matches');
  t.ok(await until(() => host.events(`user:${lawyer.id}`).some((e) => e.type === 'visitor.flagged' && e.visit_id === visit.id)), 'the host is alerted');
  t.ok(await until(() => boss.events(`user:${director.id}`).some((e) => e.type === 'visitor.flagged' && e.visit_id === visit.id)), 'and the director');
  const reviewerView = await call('GET', `/api/visitors/visits/${visit.id}`, partner);
  t.equal(reviewerView.statusCode, 200, 'a reviewer (not the host) sees the flagged visit');
  t.same(reviewerView.json().screening, { flagged: true, matches: [{ matter_number: matterNumber, party_role: 'opposing', match: 'exact_name' }] }, 'with the matter behind the flag');
  const flagAudit = await db.selectFrom('audit_log').select('detail').where('action', '=', 'visit.flag').where('object', '=', `visit:${visit.id}`).executeTakeFirstOrThrow();
  t.match(flagAudit.detail, { matches: [{ matter_number: matterNumber }], alerted: [lawyer.id, director.id] }, 'the audit names the matter and who was alerted');

  const passesBefore = (await counts()).passes;
  const checkIn = await call('POST', '/api/kiosk/lobby/check-in', lobby, { invite_code: invited.json().invite_code });
  t.equal(checkIn.statusCode, 200, 'the kiosk takes the check-in');
  t.match(checkIn.json(), { status: 'pending_review', pass: null, visit: { status: 'pending_review', visitor_name_masked: '李*' }, message_zh: /请稍候/ }, 'but the visitor waits, with no pass and no reason given');
  t.equal((await counts()).passes, passesBefore, 'no credential was issued');
  t.ok((await call('GET', '/api/visitors/on-site', frontDesk)).json().some((v: { id: number; status: string }) => v.id === visit.id && v.status === 'flagged'), 'the waiting visitor is on the on-site list');

  const lawyerDecides = await call('POST', `/api/visitors/visits/${visit.id}/decision`, lawyer, { decision: 'admit', note: '我自己的客人' });
  t.equal(lawyerDecides.statusCode, 403, 'the host cannot admit their own flagged visitor');
  const admit = await call('POST', `/api/visitors/visits/${visit.id}/decision`, partner, { decision: 'admit', note: '对方当事人来所商谈和解，承办律师全程陪同。' });
  t.equal(admit.statusCode, 200, 'a partner admits the visitor');
  t.match(admit.json(), { visit: { status: 'checked_in', pass: { kind: 'qr', doors: ['lobby-door'] } }, pass: { qr_token: /^[A-Z2-7]{26}$/ } }, 'the pass is issued now');
  t.ok(await until(() => kioskEvents.events(`lobby:${lobby.id}`).some((e) => e.type === 'visit.decided')), 'the kiosk hears the decision');
  t.same(kioskEvents.events(`lobby:${lobby.id}`).find((e) => e.type === 'visit.decided'), { type: 'visit.decided', visit_id: visit.id, status: 'checked_in', pass_token: admit.json().pass.qr_token, valid_until: admit.json().pass.valid_until, doors: admit.json().pass.doors }, 'with the pass to show: token, validity and door names');
  t.equal(foreign.events(`lobby:${lobby.id}`).length, 0, 'the other kiosk heard nothing');
  const list = await storedAccessList(db, 'lobby-agent');
  t.equal(new AccessIndex(list!.list).decide(admit.json().pass.qr_token, 'reader-lobby', new Date(inst.clock.now().getTime() + 60_000)).granted, true, 'the admitted visitor’s pass opens the lobby door');
  const again = await call('POST', `/api/visitors/visits/${visit.id}/decision`, partner, { decision: 'deny', note: '改变主意' });
  t.equal(again.json().error?.code, 'NOT_FLAGGED', 'a decided visit is not decided again');
  t.equal((await call('POST', `/api/visitors/visits/${visit.id}/check-out`, frontDesk, {})).statusCode, 200, 'checked out');
});

t.test('a flagged walk-in denied by the director gets no pass and the visit ends', async (t) => {
  const kioskEvents = await listen(t, lobby.headers, [`lobby:${lobby.id}`]);
  const passesBefore = (await counts()).passes;
  const walkIn = await call('POST', '/api/kiosk/lobby/check-in', lobby, { walk_in: { visitor_name: '李强', id_number: '110101199003074514', purpose: '找律师', host_user_id: lawyer.id } });
  t.equal(walkIn.statusCode, 200, 'the manual walk-in is taken');
  t.match(walkIn.json(), { status: 'pending_review', pass: null }, 'and held for review');
  const id = walkIn.json().visit.id;
  const reviewer = await call('GET', `/api/visitors/visits/${id}`, director);
  t.same(reviewer.json().screening.matches.map((m: { match: string }) => m.match), ['exact_id'], 'the ID number matched the opposing party');
  const deny = await call('POST', `/api/visitors/visits/${id}/decision`, director, { decision: 'deny', note: '对方当事人，不予接待。' });
  t.equal(deny.statusCode, 200, 'denied');
  t.match(deny.json(), { visit: { status: 'denied', pass: null }, pass: null }, 'no pass');
  t.ok(deny.json().visit.checked_out_at, 'the visit ended');
  t.ok(await until(() => kioskEvents.events(`lobby:${lobby.id}`).some((e) => e.visit_id === id)), 'the kiosk hears it');
  t.same(kioskEvents.events(`lobby:${lobby.id}`).find((e) => e.visit_id === id), { type: 'visit.decided', visit_id: id, status: 'denied' }, 'without a token');
  t.equal((await counts()).passes, passesBefore, 'no credential at all');
  t.notOk((await call('GET', '/api/visitors/on-site', frontDesk)).json().some((v: { id: number }) => v.id === id), 'no longer on site');
});

t.test('check-out at the kiosk with the pass QR code revokes the pass', async (t) => {
  const visit = await db.selectFrom('visitor_visits').select('pass_credential_id').where('id', '=', invitedVisitId).executeTakeFirstOrThrow();
  const res = await call('POST', '/api/kiosk/lobby/check-out', lobby, { qr_token: invitedPassToken.toLowerCase() });
  t.equal(res.statusCode, 200, 'checked out');
  t.match(res.json(), { visit: { id: invitedVisitId, status: 'checked_out', visitor_name_masked: '周**' } }, 'the kiosk sees the visit closed');
  const credential = await db.selectFrom('access_credentials').select('revoked_at').where('id', '=', visit.pass_credential_id!).executeTakeFirstOrThrow();
  t.ok(credential.revoked_at, 'the credential is revoked');
  const list = await storedAccessList(db, 'lobby-agent');
  t.notOk(list!.list.credentials.some((c) => c.holder === `visitor_pass:${visit.pass_credential_id}`), 'and gone from the agent’s list');
  t.equal(new AccessIndex(list!.list).decide(invitedPassToken, 'reader-lobby', new Date(inst.clock.now().getTime() + 60_000)).granted, false, 'the QR code no longer opens the door');
  const twice = await call('POST', '/api/kiosk/lobby/check-out', lobby, { qr_token: invitedPassToken });
  t.equal(twice.statusCode, 409, 'checking out twice is refused');
  t.equal(twice.json().error.code, 'NOT_ON_SITE', 'NOT_ON_SITE');
});

t.test('roll call: every visitor on site, accounted for one by one', async (t) => {
  const a = await call('POST', '/api/kiosk/lobby/check-in', lobby, { walk_in: { visitor_name: '吴建华', id_number: 'E12345678', purpose: '送达文件', host_user_id: intern.id } });
  const invite = await call('POST', '/api/visitors/invitations', frontDesk, { visitor_name: '郑雅琴', purpose: '面试', host_user_id: otherLawyer.id, expected_at: inAnHour() });
  t.equal(invite.statusCode, 201, 'the front desk may invite for another host');
  const b = await call('POST', '/api/kiosk/lobby/check-in', lobby, { invite_code: invite.json().invite_code });
  t.equal(a.statusCode, 200, 'a walk-in checked in');
  t.equal(b.statusCode, 200, 'and an invited visitor');
  const onSite = (await call('GET', '/api/visitors/on-site', frontDesk)).json() as { id: number }[];
  t.same(onSite.map((v) => v.id).sort(), [a.json().visit.id, b.json().visit.id].sort(), 'exactly they are on site');

  const started = await call('POST', '/api/visitors/roll-calls', frontDesk, {});
  t.equal(started.statusCode, 201, 'a roll call starts');
  const rc = started.json();
  t.same(rc.entries.map((e: { visitor_name: string; accounted_at: null }) => [e.visitor_name, e.accounted_at]), [['吴建华', null], ['郑雅琴', null]], 'listing both, none accounted for yet');
  const marked = await call('POST', `/api/visitors/roll-calls/${rc.id}/entries/${a.json().visit.id}/accounted`, frontDesk, {});
  t.equal(marked.statusCode, 200, 'one is found');
  t.ok(marked.json().entries.find((e: { visit_id: number }) => e.visit_id === a.json().visit.id).accounted_at, 'and marked');
  const repeat = await call('POST', `/api/visitors/roll-calls/${rc.id}/entries/${a.json().visit.id}/accounted`, frontDesk, {});
  t.same(repeat.json(), marked.json(), 'marking again changes nothing');
  const stranger = await call('POST', `/api/visitors/roll-calls/${rc.id}/entries/${invitedVisitId}/accounted`, frontDesk, {});
  t.equal(stranger.statusCode, 404, 'a visitor not on the list: 404');
  t.same((await call('GET', `/api/visitors/roll-calls/${rc.id}`, frontDesk)).json(), marked.json(), 'the roll call reads back');
  t.equal((await call('POST', '/api/visitors/roll-calls', lawyer, {})).statusCode, 403, 'a lawyer cannot start one');
});

t.test('who sees what: hosts their own visits, reviewers flagged ones, kiosks of other kinds nothing', async (t) => {
  const own = (await call('GET', '/api/visitors/visits', otherLawyer)).json() as { host: { id: number } }[];
  t.ok(own.length >= 1, 'the other lawyer sees their visits');
  t.ok(own.every((v) => v.host.id === otherLawyer.id), 'and only theirs');
  t.equal((await call('GET', `/api/visitors/visits/${invitedVisitId}`, otherLawyer)).statusCode, 404, 'another host’s visit is not found');
  const all = (await call('GET', '/api/visitors/visits', frontDesk)).json() as { host: { id: number } }[];
  t.ok(new Set(all.map((v) => v.host.id)).size >= 3, 'the front desk sees every host’s visits');
  const flagged = (await call('GET', '/api/visitors/visits?status=denied', partner)).json() as { status: string }[];
  t.ok(flagged.length === 1 && flagged[0]!.status === 'denied', 'a reviewer sees the denied visit of another host');
  t.equal((await call('GET', '/api/visitors/visits', itAdmin)).statusCode, 403, 'IT has no visitor access');
  const forOther = await call('POST', '/api/visitors/invitations', lawyer, { visitor_name: '钱多多', purpose: '拜访', host_user_id: otherLawyer.id, expected_at: inAnHour() });
  t.equal(forOther.statusCode, 403, 'a lawyer cannot invite for another host');
  t.equal(forOther.json().error.code, 'FORBIDDEN_HOST', 'FORBIDDEN_HOST');
  t.equal((await call('POST', `/api/visitors/visits/${invitedVisitId}/check-out`, lawyer, {})).statusCode, 403, 'a lawyer cannot check visitors out');

  const wrongKind = await call('GET', '/api/kiosk/lobby/hosts', meetingKiosk);
  t.equal(wrongKind.statusCode, 403, 'a meeting terminal gets 403 on lobby routes');
  t.equal(wrongKind.json().error.code, 'WRONG_KIOSK_KIND', 'WRONG_KIOSK_KIND');
  const anonymous = await call('POST', '/api/kiosk/lobby/check-in', null, { invite_code: 'ABCDEFGH' });
  t.equal(anonymous.statusCode, 401, 'an unenrolled screen gets 401');
  t.equal(anonymous.json().error.code, 'KIOSK_AUTH_REQUIRED', 'KIOSK_AUTH_REQUIRED');
  t.equal((await call('GET', '/api/kiosk/lobby/hosts', frontDesk)).statusCode, 401, 'a user session is no kiosk');

  const hosts = await call('GET', `/api/kiosk/lobby/hosts?q=${encodeURIComponent('测试 lawyer')}`, lobby);
  t.equal(hosts.statusCode, 200, 'the kiosk lists hosts');
  t.ok(hosts.json().length >= 2, 'matching the query');
  t.ok(hosts.json().every((h: { display_name: string }) => /^测[* ]+$/.test(h.display_name)), 'masked');
  t.notOk((await call('GET', '/api/kiosk/lobby/hosts?q=it_admin', lobby)).json().length, 'IT staff are no hosts');
});

t.test('bad input is refused with a clear error and changes nothing', async (t) => {
  const before = await counts();
  const future = inAnHour();
  const cases: [string, string, Headers, object, number, string][] = [
    ['a resident ID with a wrong check digit', '/api/visitors/invitations', lawyer, { visitor_name: '甲', id_number: '110105194912310021', purpose: '拜访', expected_at: future }, 400, 'INVALID_ID_NUMBER'],
    ['a blank name', '/api/visitors/invitations', lawyer, { visitor_name: '   ', purpose: '拜访', expected_at: future }, 400, 'INVALID_INPUT'],
    ['a visit already over', '/api/visitors/invitations', lawyer, { visitor_name: '乙', purpose: '拜访', expected_at: '2020-01-01T09:00:00+08:00' }, 400, 'ALREADY_EXPIRED'],
    ['a host who cannot receive visitors', '/api/visitors/invitations', frontDesk, { visitor_name: '丙', purpose: '拜访', host_user_id: itAdmin.id, expected_at: future }, 400, 'INVALID_HOST'],
    ['valid_hours over 24', '/api/visitors/invitations', lawyer, { visitor_name: '丁', purpose: '拜访', expected_at: future, valid_hours: 48 }, 400, 'VALIDATION_FAILED'],
    ['an unknown field', '/api/visitors/invitations', lawyer, { visitor_name: '戊', purpose: '拜访', expected_at: future, vip: true }, 400, 'VALIDATION_FAILED'],
    ['an invisible matter', '/api/visitors/invitations', otherLawyer, { visitor_name: '己', purpose: '拜访', expected_at: future, matter_id: matterId }, 404, 'MATTER_NOT_FOUND'],
    ['an unknown code', '/api/kiosk/lobby/invitations/lookup', lobby, { code: 'ZZZZZZZZ' }, 404, 'INVITATION_NOT_FOUND'],
    ['a walk-in without identity', '/api/kiosk/lobby/check-in', lobby, { walk_in: { visitor_name: '庚', purpose: '拜访', host_user_id: lawyer.id } }, 400, 'IDENTITY_REQUIRED'],
    ['a walk-in with an unknown read', '/api/kiosk/lobby/check-in', lobby, { walk_in: { read_id: 'AAAAAAAAAAAAAAAAAAAAAAAA', purpose: '拜访', host_user_id: lawyer.id } }, 400, 'READ_EXPIRED'],
    ['a walk-in for an unknown host', '/api/kiosk/lobby/check-in', lobby, { walk_in: { visitor_name: '辛', id_number: 'E98765432', purpose: '拜访', host_user_id: 999_999 } }, 400, 'INVALID_HOST'],
    ['both kinds of check-in at once', '/api/kiosk/lobby/check-in', lobby, { invite_code: 'ABCDEFGH', walk_in: { visitor_name: '壬', id_number: 'E98765432', purpose: '拜访', host_user_id: lawyer.id } }, 400, 'ONE_WAY_TO_CHECK_IN'],
    ['a check-out without a code', '/api/kiosk/lobby/check-out', lobby, {}, 400, 'CODE_REQUIRED'],
    ['both codes at once at check-out', '/api/kiosk/lobby/check-out', lobby, { qr_token: 'MFRGGZDFMZTWQ2LKNNWG23TP', invite_code: 'ABCDEFGH' }, 400, 'ONE_CODE_AT_A_TIME'],
  ];
  for (const [what, path, who, body, status, code] of cases) {
    const res = await call('POST', path, who, body);
    t.equal(res.statusCode, status, `${what}: ${status}`);
    t.ok(isErrorShape(res.json()), `${what}: the error shape`);
    t.equal(res.json().error.code, code, `${what}: ${code}`);
  }
  t.match((await call('POST', '/api/visitors/invitations', lawyer, { visitor_name: '甲', id_number: '110105194912310021', purpose: '拜访', expected_at: future })).json().error.message, /校验码/, 'messages are in Chinese too');
  t.same(await counts(), before, 'nothing was written');
});

t.test('cancelling, expiry and the retention purge', async (t) => {
  const early = await call('POST', '/api/visitors/invitations', lawyer, { visitor_name: '冯雪', purpose: '签约', expected_at: inAnHour() });
  const cancelled = await call('POST', `/api/visitors/visits/${early.json().visit.id}/cancel`, lawyer, {});
  t.equal(cancelled.statusCode, 200, 'the host cancels');
  t.equal(cancelled.json().status, 'cancelled', 'cancelled');
  const withdrawn = await call('POST', '/api/kiosk/lobby/invitations/lookup', lobby, { code: early.json().invite_code });
  t.equal(withdrawn.json().error?.code, 'INVITATION_WITHDRAWN', 'the kiosk is told the invitation was withdrawn');
  const lapsing = await call('POST', '/api/visitors/invitations', lawyer, { visitor_name: '蒋涛', phone: '13700001111', purpose: '签约', expected_at: inAnHour(), valid_hours: 1 });

  inst.clock.advance(3 * HOUR);
  const desk = await signedIn(inst, 'admin_staff');
  t.equal((await call('GET', `/api/visitors/visits/${lapsing.json().visit.id}`, desk)).json().status, 'expired', 'an invitation past its hours shows expired at once');
  t.ok((await call('GET', '/api/visitors/visits?status=expired', desk)).json().some((v: { id: number }) => v.id === lapsing.json().visit.id), 'and is listed as expired');
  const late = await call('POST', '/api/kiosk/lobby/invitations/lookup', lobby, { code: lapsing.json().invite_code });
  t.equal(late.statusCode, 410, 'the kiosk refuses it with 410');
  t.equal(late.json().error.code, 'INVITATION_EXPIRED', 'INVITATION_EXPIRED');

  const retention = visitorJobs.find((j) => j.name === 'visitors.retention')!;
  t.ok(retention && /^\d+ \d+ \* \* \*$/.test(retention.schedule), 'a daily retention job');
  const first = (await retention.run(inst.ctx)) as { expired: number; checked_out: number; purged: number };
  t.equal(first.expired, 1, 'the run records the expiry');
  t.equal(first.purged, 0, 'nothing is old enough to purge yet');

  inst.clock.advance(181 * 24 * HOUR);
  const second = (await retention.run(inst.ctx)) as { expired: number; checked_out: number; purged: number };
  t.equal(second.checked_out, 2, 'visitors who never checked out are closed by the system');
  const ended = await db.selectFrom('visitor_visits').select(['id', 'visitor_name', 'id_number', 'phone', 'purged_at']).where('purged_at', 'is not', null).execute();
  t.equal(second.purged, ended.length, 'every purged visit is counted');
  t.ok(ended.length >= (hasSocat ? 6 : 5), `visits ended over 180 days ago are purged (${ended.length})`);
  t.ok(ended.every((v) => v.visitor_name === '（已清除）' && v.id_number === null && v.phone === null), 'name, ID number and phone are gone');
  const fresh = await db.selectFrom('visitor_visits').select(['visitor_name']).where('purged_at', 'is', null).execute();
  t.same(fresh.map((v) => v.visitor_name).sort(), ['吴建华', '郑雅琴'].sort(), 'the visits just closed keep their data until their own time comes');
  const audit = await db.selectFrom('audit_log').select('detail').where('action', '=', 'visit.purge').execute();
  t.equal(audit.length, 1, 'the purge is audited once');
  t.equal((await retention.run(inst.ctx) as { purged: number }).purged, 0, 'running again purges nothing more');
});
