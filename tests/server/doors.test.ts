import { sql } from 'kysely';
import mqtt from 'mqtt';
import t from 'tap';
import { AccessIndex, verifyAccessList, type AccessList } from '../../device-agent/src/access/decide.js';
import { validateMessage } from '../../firmware-profiles/index.js';
import { SYSTEM_ACTOR } from '../../server/src/context.js';
import { seedDemoDoors } from '../../server/src/modules/doors/service.js';
import { createUser } from '../../server/src/modules/users/service.js';
import { JOBS, runJob } from '../../server/src/scheduler.js';
import { startBroker, until } from '../helpers/devices.js';
import { createTestInstance, isErrorShape, loginToken, signedIn } from '../helpers/instance.js';

/**
 * Doors, credentials and visitor passes on the server, checked the way the agent sees them: the list
 * retained on a real broker, validated by the firmware-profiles schema, verified with the agent's own
 * code and the key the server publishes, and decided by the agent's AccessIndex.
 */
const { url } = await startBroker(t);
const inst = await createTestInstance(t, { env: { MQTT_URL: url } });
const db = inst.ctx.db;
const HOUR = 3_600_000;
// The instance's clock starts on Friday 2026-11-27 09:00 Beijing time.
const at = (hoursFromStart: number) => new Date(inst.clock.now().getTime() + hoursFromStart * HOUR);
const friday10 = new Date('2026-11-27T10:00:00+08:00');
const saturday10 = new Date('2026-11-28T10:00:00+08:00');

/** The latest list seen on `lawbox/agent/<agent>/access` by a subscriber that never reconnects. */
const seen = new Map<string, AccessList>();
const watcher = await mqtt.connectAsync(url, { protocolVersion: 4 });
t.teardown(() => watcher.endAsync(true));
watcher.on('message', (topic, payload) => seen.set(topic.split('/')[2]!, JSON.parse(payload.toString()) as AccessList));
await watcher.subscribeAsync('lawbox/agent/+/access', { qos: 1 });

/** Waits for a list newer than `version` to be published for the agent. */
/** The list the broker holds for `agent` once it is newer than `version` and the latest one signed (NOTIFY may deliver several changes at once). */
async function published(agent: string, version: number): Promise<AccessList> {
  const latest = async () => Number((await db.selectFrom('access_list_versions').select('version').where('agent_id', '=', agent).executeTakeFirst())?.version ?? 0);
  const arrived = await until(async () => {
    const got = seen.get(agent)?.version ?? 0;
    return got > version && got === (await latest());
  });
  if (!arrived) throw new Error(`no list newer than v${version} for ${agent} (last: v${seen.get(agent)?.version})`);
  return seen.get(agent)!;
}

const admin = await signedIn(inst, 'admin_staff');
const lawyer = await signedIn(inst, 'lawyer');
const it = await signedIn(inst, 'it_admin');
const call = (method: 'GET' | 'POST' | 'PUT', path: string, as: { headers: { authorization: string } }, payload?: object) =>
  inst.app.inject({ method, url: path, headers: as.headers, ...(payload ? { payload } : {}) });

const keyRes = await call('GET', '/api/doors/signing-key', it);
const key = keyRes.json() as { key_id: string; alg: string; public_pem: string };
const trusted = new Map([[key.key_id, key.public_pem]]);
const WEEKDAYS_8_20 = [{ days: [1, 2, 3, 4, 5], from: '08:00', to: '20:00' }];

t.test('the signing key is published for IT to install', async (t) => {
  t.equal(keyRes.statusCode, 200, 'an IT administrator may read the public key');
  t.match(key, { key_id: /^[A-Za-z0-9._:-]{1,64}$/, alg: 'ed25519', public_pem: /^-----BEGIN PUBLIC KEY-----/ }, 'an ed25519 public key with a file-safe id');
  t.same((await call('GET', '/api/doors/signing-key', admin)).json(), key, 'the same key on every call');
  const stored = await db.selectFrom('access_signing_keys').selectAll().execute();
  t.equal(stored.length, 1, 'one key pair was made');
});

t.test('the demo firm’s doors: two doors at the front desk, cards by role, one visitor pass', async (t) => {
  const demo: Record<string, number> = {};
  for (const [username, role] of [['director', 'director'], ['admin.liu', 'admin_staff'], ['lawyer.zhang', 'lawyer']] as const) {
    demo[username] = (await createUser(inst.ctx, SYSTEM_ACTOR, { username, displayName: `演示 ${username}`, role, password: 'Demo-Password-42', mustChangePassword: true })).id;
  }
  const seeded = await seedDemoDoors(inst.ctx);
  t.ok(seeded, 'a fresh database is seeded');
  const list = await published('front-desk', 0);
  t.same(validateMessage('agent_access', list), { ok: true }, 'the list is a valid agent_access message');
  t.same(verifyAccessList(list, trusted, { now: inst.clock.now(), agent: 'front-desk' }), { ok: true }, 'signed with the published key');
  t.same(list.doors.map((d) => [d.door, d.name, d.device, d.relay_channel, d.readers, d.pulse_ms, d.fail_mode]), [
    ['archive-room', '档案室', 'relay-archive', 1, ['reader-archive'], 3000, 'fail_secure'],
    ['main-entrance', '大门', 'relay-main', 1, ['reader-main'], 3000, 'fail_secure'],
  ], 'the main entrance and the archive room, on relays');
  const index = new AccessIndex(list);
  t.equal(index.decide('12345640', 'reader-archive', friday10).granted, true, 'the director’s card opens the archive room');
  t.equal(index.decide('12345645', 'reader-archive', friday10).granted, true, 'so does the administrative staff’s');
  t.equal(index.decide('12345642', 'reader-archive', friday10).reason, 'wrong_door', 'a lawyer’s card does not');
  t.equal(index.decide('12345642', 'reader-main', friday10).granted, true, 'but opens the main entrance in working hours');
  t.equal(index.decide('12345642', 'reader-main', saturday10).reason, 'outside_window', 'and not on Saturday');
  t.equal(index.decide('12345641', 'reader-main', friday10).reason, 'unknown_credential', 'no card for demo staff who do not exist');
  t.equal(index.decide(seeded!.visitor_token, 'reader-main', at(1)).granted, true, 'the demo visitor’s QR code opens the main entrance');
  t.same(list.credentials.find((c) => c.holder === `user:${demo.director}`)?.doors, ['archive-room', 'main-entrance'], 'holders are opaque user references');
  t.equal(await seedDemoDoors(inst.ctx), null, 'seeding again changes nothing');
  t.equal((await db.selectFrom('doors').select('id').execute()).length, 2, 'still two doors');
});

let cardId = 0;
let floorVersion = 0;

t.test('a door and a staff card: the retained list arrives, verifies and decides like the agent would', async (t) => {
  await db.insertInto('agents').values([{ id: 'floor-2', created_at: inst.clock.now() }, { id: 'floor-3', created_at: inst.clock.now() }]).execute();
  const door = await call('POST', '/api/doors', admin, { id: 'lobby-2', agent_id: 'floor-2', name: '二层前厅', lock_device: 'relay-2', relay_channel: 2, readers: ['reader-2a', 'reader-2b'], fail_mode: 'fail_secure' });
  t.equal(door.statusCode, 201, 'the door is created');
  t.match(door.json(), { id: 'lobby-2', pulse_ms: 3000, readers: ['reader-2a', 'reader-2b'] }, 'with the default pulse');
  t.equal((await call('POST', '/api/doors', admin, { id: 'meeting-2', agent_id: 'floor-2', name: '二层会议室', lock_device: 'osdp-2', readers: ['osdp-2'], pulse_ms: 5000, fail_mode: 'fail_safe' })).statusCode, 201, 'a second door on the same agent');
  const card = await call('POST', '/api/access-credentials', admin, { kind: 'card', card_number: '0a:1b:2c:3d', holder_user_id: admin.id, doors: ['lobby-2'], windows: WEEKDAYS_8_20 });
  t.equal(card.statusCode, 201, 'the card is registered');
  t.match(card.json(), { kind: 'card', card_number: '0A1B2C3D', doors: ['lobby-2'], status: 'active', token: null }, 'stored as canonical hex');
  cardId = card.json().id;

  const list = await published('floor-2', 0);
  floorVersion = list.version;
  t.same(validateMessage('agent_access', list), { ok: true }, 'schema-valid');
  t.same(verifyAccessList(list, trusted, { now: inst.clock.now(), agent: 'floor-2' }), { ok: true }, 'verified by the agent’s own check with the published key');
  t.equal(list.timezone, 'Asia/Shanghai', 'windows in Beijing time');
  t.equal(new Date(list.expires_at!).getTime() - new Date(list.issued_at).getTime(), 7 * 24 * HOUR, 'the agent may decide offline for 7 days');
  t.same(list.credentials.map((c) => [c.credential, c.kind, c.holder, c.doors]), [['0A1B2C3D', 'card', `user:${admin.id}`, ['lobby-2']]], 'the card, its holder as a reference, its door');
  t.notOk(JSON.stringify(list).includes(admin.username), 'no holder name in the list');
  t.notOk(list.credentials.some((c) => c.credential.startsWith('123456')), 'the front desk’s cards are not in this agent’s list');

  const index = new AccessIndex(list);
  t.match(index.decide('0A1B2C3D', 'reader-2b', friday10), { granted: true, door: { door: 'lobby-2', device: 'relay-2', relay_channel: 2 } }, 'the card opens its door at either reader');
  t.equal(index.decide('0a1b2c3d', 'reader-2a', new Date('2026-11-27T19:59:00+08:00')).granted, true, 'until the window closes');
  t.equal(index.decide('0A1B2C3D', 'reader-2a', new Date('2026-11-27T20:00:00+08:00')).reason, 'outside_window', 'refused at 20:00');
  t.equal(index.decide('0A1B2C3D', 'reader-2a', saturday10).reason, 'outside_window', 'refused on Saturday');
  t.equal(index.decide('0A1B2C3D', 'osdp-2', friday10).reason, 'wrong_door', 'refused at a door it was not granted');

  // Retained: an agent that connects later still gets it.
  const late = await mqtt.connectAsync(url, { protocolVersion: 4 });
  t.teardown(() => late.endAsync(true));
  const retained = new Promise<AccessList>((resolve) => late.on('message', (_topic, payload) => resolve(JSON.parse(payload.toString()) as AccessList)));
  await late.subscribeAsync('lawbox/agent/floor-2/access', { qos: 1 });
  t.equal((await retained).version, list.version, 'a late subscriber receives the retained list');

  const diagnosis = await call('GET', '/api/agents/floor-2/access-list', it);
  t.equal(diagnosis.statusCode, 200, 'IT may read the list as published');
  t.same(diagnosis.json().list, list, 'it is exactly the published list');
  t.same(verifyAccessList(diagnosis.json().list as AccessList, trusted, { now: inst.clock.now(), agent: 'floor-2' }), { ok: true }, 'and still verifies after the HTTP round trip');
  t.equal((await call('GET', '/api/agents/nobody/access-list', it)).statusCode, 404, 'an agent without doors has no list');

  const tampered: AccessList = { ...list, credentials: [...list.credentials, { credential: '66666666', kind: 'card', doors: ['lobby-2'], windows: WEEKDAYS_8_20 }] };
  t.same(verifyAccessList(tampered, trusted, { now: inst.clock.now(), agent: 'floor-2' }), { ok: false, reason: 'bad_signature' }, 'a card slipped into the list breaks the signature');
  const widened: AccessList = { ...list, credentials: list.credentials.map((c) => ({ ...c, windows: [{ days: [1, 2, 3, 4, 5, 6, 7], from: '00:00', to: '24:00' }] })) };
  t.same(verifyAccessList(widened, trusted, { now: inst.clock.now(), agent: 'floor-2' }), { ok: false, reason: 'bad_signature' }, 'so does widening a window');
});

t.test('bad door and card input is refused with a clear error and changes nothing', async (t) => {
  const before = await db.selectFrom('access_list_versions').select(['agent_id', 'version']).orderBy('agent_id').execute();
  const cases: [string, 'POST' | 'PUT', string, object, number, string][] = [
    ['a malformed card number', 'POST', '/api/access-credentials', { kind: 'card', card_number: 'GHIJKL', doors: ['lobby-2'], windows: WEEKDAYS_8_20 }, 400, 'INVALID_CARD_NUMBER'],
    ['a card without a number', 'POST', '/api/access-credentials', { kind: 'card', doors: ['lobby-2'], windows: WEEKDAYS_8_20 }, 400, 'INVALID_CARD_NUMBER'],
    ['a card already in use, however written', 'POST', '/api/access-credentials', { kind: 'card', card_number: '12 34 56 40', doors: ['lobby-2'], windows: WEEKDAYS_8_20 }, 409, 'CARD_IN_USE'],
    ['an unknown door', 'POST', '/api/access-credentials', { kind: 'card', card_number: '77777777', doors: ['nowhere'], windows: WEEKDAYS_8_20 }, 400, 'UNKNOWN_DOOR'],
    ['a window across midnight', 'POST', '/api/access-credentials', { kind: 'card', card_number: '77777777', doors: ['lobby-2'], windows: [{ days: [1], from: '22:00', to: '06:00' }] }, 400, 'INVALID_WINDOW'],
    ['a QR code that never expires', 'POST', '/api/access-credentials', { kind: 'qr', doors: ['lobby-2'], windows: WEEKDAYS_8_20 }, 400, 'VALID_UNTIL_REQUIRED'],
    ['a reader already serving a door', 'POST', '/api/doors', { id: 'side-2', agent_id: 'floor-2', name: '侧门', lock_device: 'relay-2', readers: ['reader-2b'], fail_mode: 'fail_secure' }, 409, 'READER_IN_USE'],
    ['an existing door id', 'POST', '/api/doors', { id: 'lobby-2', agent_id: 'floor-2', name: '前厅', lock_device: 'relay-2', readers: ['reader-x'], fail_mode: 'fail_secure' }, 409, 'DOOR_EXISTS'],
    ['an agent that is not enrolled', 'POST', '/api/doors', { id: 'roof', agent_id: 'ghost', name: '天台', lock_device: 'relay-9', readers: ['reader-9'], fail_mode: 'fail_secure' }, 400, 'UNKNOWN_AGENT'],
    ['an unknown door to update', 'PUT', '/api/doors/roof', { agent_id: 'floor-2', name: '天台', lock_device: 'relay-9', readers: ['reader-9'], fail_mode: 'fail_secure' }, 404, 'DOOR_NOT_FOUND'],
    ['a door without a fail mode', 'POST', '/api/doors', { id: 'roof', agent_id: 'floor-2', name: '天台', lock_device: 'relay-9', readers: ['reader-9'] }, 400, 'VALIDATION_FAILED'],
  ];
  for (const [what, method, path, body, status, code] of cases) {
    const res = await call(method, path, admin, body);
    t.equal(res.statusCode, status, `${what}: ${status}`);
    t.ok(isErrorShape(res.json()), `${what}: the error shape`);
    t.equal(res.json().error.code, code, `${what}: ${code}`);
  }
  t.match((await call('POST', '/api/access-credentials', admin, { kind: 'card', card_number: 'GHIJKL', doors: ['lobby-2'], windows: WEEKDAYS_8_20 })).json().error.message, /卡号/, 'messages are in Chinese too');
  t.same(await db.selectFrom('access_list_versions').select(['agent_id', 'version']).orderBy('agent_id').execute(), before, 'no list was signed anew');
});

let passId = 0;
let passToken = '';

t.test('a QR visitor pass opens its doors until it expires; its token is never stored', async (t) => {
  const res = await call('POST', '/api/visitor-passes', admin, { visitor_name: '访客 周女士', doors: ['lobby-2'], kind: 'qr' });
  t.equal(res.statusCode, 201, 'issued');
  const pass = res.json();
  passId = pass.id;
  passToken = pass.token;
  t.match(pass, { kind: 'visitor_pass', medium: 'qr', visitor_name: '访客 周女士', doors: ['lobby-2'], card_number: null, status: 'active', token: /^[A-Z2-7]{26}$/ }, 'a 128-bit base32 token, shown once');
  t.equal(new Date(pass.valid_until).getTime(), at(24).getTime(), 'valid for 24 hours by default');

  const list = await published('floor-2', floorVersion);
  floorVersion = list.version;
  t.same(validateMessage('agent_access', list), { ok: true }, 'the list with a hashed pass is schema-valid');
  t.same(verifyAccessList(list, trusted, { now: inst.clock.now(), agent: 'floor-2', currentVersion: 1 }), { ok: true }, 'verifies, and is newer');
  const entry = list.credentials.find((c) => c.holder === `visitor_pass:${passId}`);
  t.match(entry, { kind: 'visitor_pass', credential: /^sha256:[0-9a-f]{64}$/, doors: ['lobby-2'] }, 'the list carries the salted digest');
  t.notOk(JSON.stringify(list).includes(passToken), 'not the token');
  t.notOk(JSON.stringify(list).includes('周女士'), 'nor the visitor’s name');

  const index = new AccessIndex(list);
  t.equal(index.decide(passToken, 'reader-2a', at(1)).granted, true, 'the QR code opens the lobby');
  t.equal(index.decide(passToken, 'reader-2a', at(14)).granted, true, 'at any hour of its validity (23:00)');
  t.equal(index.decide(passToken, 'osdp-2', at(1)).reason, 'wrong_door', 'not the meeting room');
  t.equal(index.decide(passToken, 'reader-2a', at(24)).reason, 'expired', 'not at its expiry');
  t.equal(index.decide('ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'reader-2a', at(1)).reason, 'unknown_credential', 'another code is unknown');

  const tables = await sql<{ table_name: string }>`select table_name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE'`.execute(db);
  t.ok(tables.rows.length > 20, `every table is searched (${tables.rows.length})`);
  for (const { table_name } of tables.rows) {
    const hits = await sql<{ n: number }>`select count(*)::int as n from ${sql.table(table_name)} as row where row::text like ${`%${passToken}%`}`.execute(db);
    t.equal(Number(hits.rows[0]!.n), 0, `${table_name} does not hold the token`);
  }
});

t.test('visitor passes: limits, visitor cards, revocation', async (t) => {
  t.equal((await call('POST', '/api/visitor-passes', admin, { visitor_name: '访客', doors: ['lobby-2'], kind: 'qr', valid_until: at(24 * 7 + 1).toISOString() })).json().error?.code, 'PASS_TOO_LONG', 'at most 7 days');
  t.equal((await call('POST', '/api/visitor-passes', admin, { visitor_name: '访客', doors: ['lobby-2'], kind: 'qr', valid_until: at(-1).toISOString() })).json().error?.code, 'ALREADY_EXPIRED', 'not in the past');
  t.equal((await call('POST', '/api/visitor-passes', admin, { visitor_name: '访客', doors: ['lobby-2'], kind: 'card', card_number: '0A1B2C3D' })).json().error?.code, 'CARD_IN_USE', 'not a staff member’s card');
  const week = await call('POST', '/api/visitor-passes', admin, { visitor_name: '驻场 审计', doors: ['lobby-2', 'meeting-2'], kind: 'card', card_number: 'AA BB CC DD', valid_until: at(24 * 7).toISOString() });
  t.equal(week.statusCode, 201, 'a visitor card for a week');
  t.match(week.json(), { medium: 'card', card_number: null, token: null, doors: ['lobby-2', 'meeting-2'] }, 'its number is kept only as a digest');
  t.equal((await call('POST', '/api/visitor-passes', admin, { visitor_name: '访客', doors: ['lobby-2'], kind: 'card', card_number: 'aabbccdd' })).json().error?.code, 'CARD_IN_USE', 'a visitor card is out only once at a time');
  let list = await published('floor-2', floorVersion);
  floorVersion = list.version;
  t.equal(new AccessIndex(list).decide('aa:bb:cc:dd', 'osdp-2', at(100)).granted, true, 'the visitor card opens the meeting room on day 5');

  const revoked = await call('POST', `/api/visitor-passes/${passId}/revoke`, admin);
  t.equal(revoked.statusCode, 200, 'the QR pass is revoked');
  t.match(revoked.json(), { status: 'revoked', revoked_at: inst.clock.now().toISOString() }, 'marked revoked');
  list = await published('floor-2', floorVersion);
  floorVersion = list.version;
  t.notOk(list.credentials.some((c) => c.holder === `visitor_pass:${passId}`), 'the new list leaves it out');
  t.equal(new AccessIndex(list).decide(passToken, 'reader-2a', at(1)).reason, 'unknown_credential', 'the QR code no longer opens anything');
  t.equal((await call('POST', `/api/visitor-passes/${passId}/revoke`, admin)).json().error?.code, 'ALREADY_REVOKED', 'revoking twice is a conflict');
  t.equal((await call('POST', `/api/visitor-passes/${cardId}/revoke`, admin)).statusCode, 404, 'a staff card is not a visitor pass');
  const active = (await call('GET', '/api/access-credentials?kind=visitor_pass', admin)).json() as { id: number }[];
  t.notOk(active.some((c) => c.id === passId), 'the revoked pass is not listed as active');
  const all = (await call('GET', '/api/access-credentials?kind=visitor_pass&status=all', admin)).json() as { id: number; status: string }[];
  t.equal(all.find((c) => c.id === passId)?.status, 'revoked', 'but is with status=all');
});

t.test('revoking a staff card takes it out of the next list', async (t) => {
  const res = await call('POST', `/api/access-credentials/${cardId}/revoke`, admin);
  t.equal(res.statusCode, 200, 'revoked');
  const list = await published('floor-2', floorVersion);
  floorVersion = list.version;
  t.notOk(list.credentials.some((c) => c.credential === '0A1B2C3D'), 'the card is gone from the list');
  t.equal(new AccessIndex(list).decide('0A1B2C3D', 'reader-2a', friday10).reason, 'unknown_credential', 'and opens nothing');
  const again = await call('POST', '/api/access-credentials', admin, { kind: 'card', card_number: '0A1B2C3D', holder_user_id: lawyer.id, doors: ['lobby-2'], windows: WEEKDAYS_8_20 });
  t.equal(again.statusCode, 201, 'a revoked card number may be handed to someone else');
  floorVersion = (await published('floor-2', floorVersion)).version;
});

t.test('permissions: only door managers change doors, only the front desk issues passes; every change is audited', async (t) => {
  const refused: [string, 'POST' | 'PUT', string, object][] = [
    ['a lawyer adds a door', 'POST', '/api/doors', { id: 'x-door', agent_id: 'floor-2', name: 'x', lock_device: 'relay-x', readers: ['reader-x'], fail_mode: 'fail_secure' }],
    ['a lawyer registers a card', 'POST', '/api/access-credentials', { kind: 'card', card_number: '55555555', doors: ['lobby-2'], windows: WEEKDAYS_8_20 }],
    ['a lawyer issues a visitor pass', 'POST', '/api/visitor-passes', { visitor_name: '朋友', doors: ['lobby-2'], kind: 'qr' }],
  ];
  for (const [what, method, path, body] of refused) {
    const res = await call(method, path, lawyer, body);
    t.equal(res.statusCode, 403, `${what}: 403`);
    t.equal(res.json().error.code, 'FORBIDDEN', `${what}: FORBIDDEN`);
  }
  t.equal((await call('POST', '/api/access-credentials', it, { kind: 'card', card_number: '55555555', doors: ['lobby-2'], windows: WEEKDAYS_8_20 })).statusCode, 403, 'IT may not hand out cards');
  t.equal((await call('GET', '/api/doors', it)).statusCode, 200, 'but may see the doors');
  t.equal((await call('GET', '/api/doors', lawyer)).statusCode, 403, 'a lawyer may not');
  t.equal((await db.selectFrom('doors').select('id').where('id', '=', 'x-door').executeTakeFirst()), undefined, 'the refused door does not exist');

  const audit = await db.selectFrom('audit_log').select(['action', 'actor', 'object', 'detail']).where('action', 'in', ['door.create', 'access_credential.create', 'visitor_pass.issue', 'visitor_pass.revoke', 'access_credential.revoke', 'access_list.sign', 'doors.demo_seed']).orderBy('seq').execute();
  const by = (action: string) => audit.filter((a) => a.action === action);
  t.same(by('door.create').filter((a) => a.actor === admin.username).map((a) => a.object), ['door:lobby-2', 'door:meeting-2'], 'door creations by the administrator');
  t.match(by('access_credential.create')[0], { actor: admin.username, object: `access_credential:${cardId}`, detail: { kind: 'card', card_number: '0A1B2C3D', doors: ['lobby-2'] } }, 'the card registration');
  t.match(by('visitor_pass.issue').find((a) => a.object === `access_credential:${passId}`), { actor: admin.username, detail: { visitor_name: '访客 周女士', medium: 'qr' } }, 'the pass issue');
  t.equal(by('visitor_pass.revoke').length, 1, 'the pass revocation');
  t.equal(by('access_credential.revoke').length, 1, 'the card revocation');
  t.equal(by('doors.demo_seed').length, 1, 'the demo seeding');
  t.ok(by('access_list.sign').some((a) => a.object === 'agent:floor-2' && (a.detail as { version: number }).version === floorVersion), 'every signed list version');
  const all = await db.selectFrom('audit_log').select('detail').execute();
  t.notOk(JSON.stringify(all).includes(passToken), 'the audit trail does not hold the QR token');
});

t.test('an unchanged list is not signed again; a day-old one is, and the daily job signs every list', async (t) => {
  const door = { agent_id: 'floor-2', name: '二层前厅', lock_device: 'relay-2', relay_channel: 2, readers: ['reader-2a', 'reader-2b'], pulse_ms: 3000, fail_mode: 'fail_secure' };
  t.equal((await call('PUT', '/api/doors/lobby-2', admin, door)).statusCode, 200, 'a save without changes');
  await new Promise((r) => setTimeout(r, 300));
  t.equal(seen.get('floor-2')?.version, floorVersion, 'publishes no new version');
  t.equal((await db.selectFrom('access_list_versions').select('version').where('agent_id', '=', 'floor-2').executeTakeFirstOrThrow()).version, floorVersion, 'and stores none');

  inst.clock.advance(25 * HOUR);
  // A day later the administrator's session has timed out.
  admin.headers.authorization = `Bearer ${await loginToken(inst, admin.username)}`;
  t.equal((await call('PUT', '/api/doors/lobby-2', admin, door)).statusCode, 200, 'the same save a day later');
  const resigned = await published('floor-2', floorVersion);
  floorVersion = resigned.version;
  t.equal(resigned.issued_at, inst.clock.now().toISOString(), 'is signed anew: its expiry moves ahead');
  t.same(verifyAccessList(resigned, trusted, { now: inst.clock.now(), agent: 'floor-2', currentVersion: floorVersion - 1 }), { ok: true }, 'and the agent takes it');

  const job = JOBS.find((j) => j.name === 'doors.resign_access_lists')!;
  t.ok(job, 'the daily job is scheduled');
  const before = seen.get('front-desk')!.version;
  const run = await runJob(inst.ctx, job);
  t.same(run, { ran: true, result: { signed: ['floor-2', 'front-desk'] } }, 'the job signs every agent with doors');
  t.equal((await published('front-desk', before)).version, before + 1, 'the front desk gets a new version');
  t.equal((await published('floor-2', floorVersion)).version, floorVersion + 1, 'and so does floor 2');
  floorVersion += 1;
});

t.test('moving a door to another agent re-signs both lists', async (t) => {
  const moved = await call('PUT', '/api/doors/meeting-2', admin, { agent_id: 'floor-3', name: '三层会议室', lock_device: 'osdp-2', readers: ['osdp-2'], pulse_ms: 5000, fail_mode: 'fail_safe' });
  t.equal(moved.statusCode, 200, 'moved');
  const floor2 = await published('floor-2', floorVersion);
  const floor3 = await published('floor-3', 0);
  t.same(floor2.doors.map((d) => d.door), ['lobby-2'], 'floor 2 keeps only its lobby');
  t.same(floor3.doors.map((d) => [d.door, d.name, d.fail_mode]), [['meeting-2', '三层会议室', 'fail_safe']], 'floor 3 gets the meeting room');
  t.same(floor3.credentials.map((c) => c.doors), [['meeting-2']], 'with the visitor card granted there, restricted to its doors');
  t.equal(new AccessIndex(floor3).decide('AABBCCDD', 'osdp-2', at(1)).granted, true, 'which still opens it');
  for (const list of [floor2, floor3]) t.same(validateMessage('agent_access', list), { ok: true }, `${list.agent}: schema-valid`);
});
