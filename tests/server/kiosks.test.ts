import type { AddressInfo } from 'node:net';
import t from 'tap';
import { connectWs } from '../helpers/ws.js';
import { createTestInstance, isErrorShape, signedIn } from '../helpers/instance.js';

/**
 * Kiosks: an administrator registers a screen and gets a one-time code; the screen trades it for its
 * own token (an httpOnly cookie), which opens only what that kind of screen needs.
 */
const inst = await createTestInstance(t);
await inst.app.listen({ host: '127.0.0.1', port: 0 });
const base = `127.0.0.1:${(inst.app.server.address() as AddressInfo).port}`;
// Sessions end when the clock moves on a day: `let`, so a test that moves it can sign in again.
let admin = await signedIn(inst, 'it_admin');
let director = await signedIn(inst, 'director');

async function register(body: Record<string, unknown>) {
  const res = await inst.app.inject({ method: 'POST', url: '/api/kiosks', headers: admin.headers, payload: body });
  t.equal(res.statusCode, 201, `kiosk ${JSON.stringify(body)} registered`);
  return res.json() as { kiosk: { id: number; status: string }; enrolment_code: string };
}
const enrol = (code: string) => inst.app.inject({ method: 'POST', url: '/api/kiosk/enrol', payload: { code } });
const me = (headers: Record<string, string>) => inst.app.inject({ method: 'GET', url: '/api/kiosk/me', headers });
const auditActions = async (action: string) => (await inst.ctx.db.selectFrom('audit_log').selectAll().where('action', '=', action).orderBy('seq').execute()).map((r) => ({ actor: r.actor, result: r.result, object: r.object }));

t.test('a registered kiosk enrols with its code once; the token comes back as an httpOnly cookie', async (t) => {
  const { kiosk, enrolment_code } = await register({ name: '前台一号机', kind: 'lobby' });
  t.equal(kiosk.status, 'pending', 'a new kiosk waits for its screen');
  t.match(enrolment_code, /^[A-HJ-NP-Z2-9]{8}$/, 'the code avoids letters and digits that look alike');

  const wrong = await enrol('AAAA-AAAA');
  t.equal(wrong.statusCode, 401, 'a wrong code is refused');
  t.equal(wrong.json().error.code, 'INVALID_ENROLMENT_CODE');
  t.ok(isErrorShape(wrong.json()), 'with the error shape');

  // Typed as a person would: lower case, with a dash in the middle.
  const typed = `${enrolment_code.slice(0, 4).toLowerCase()}-${enrolment_code.slice(4)}`;
  const res = await enrol(typed);
  t.equal(res.statusCode, 200, 'the code works however it is typed');
  const body = res.json() as { token: string; kiosk: { id: number; kind: string; status: string } };
  t.match(body.token, /^lbk_[\w-]{43}$/, 'the token is recognisable as a kiosk token');
  t.match(body.kiosk, { id: kiosk.id, kind: 'lobby', status: 'enrolled' });
  const cookie = res.cookies.find((c) => c.name === 'lawbox_kiosk');
  t.ok(cookie, 'the token is set as a cookie');
  t.equal(cookie?.value, body.token);
  t.equal(cookie?.httpOnly, true, 'the page’s scripts cannot read it');
  t.equal(cookie?.sameSite, 'Strict', 'other sites cannot make the kiosk act');
  t.ok((cookie?.maxAge ?? 0) > 365 * 24 * 3600, 'it survives a restart of the kiosk browser');

  t.equal((await enrol(enrolment_code)).statusCode, 401, 'the code is spent');
  t.equal((await me({ cookie: `lawbox_kiosk=${body.token}` })).statusCode, 200, 'the cookie identifies the kiosk');
  const viaHeader = await me({ authorization: `Bearer ${body.token}` });
  t.equal(viaHeader.json().name, '前台一号机', 'so does the Bearer header');
  t.same(
    (await auditActions('kiosk.enrol')).map((a) => a.result),
    ['failure', 'success', 'failure'],
    'every enrolment attempt is audited',
  );
  const stored = await inst.ctx.db.selectFrom('kiosks').selectAll().where('id', '=', kiosk.id).executeTakeFirstOrThrow();
  t.not(stored.token_hash, body.token, 'only a hash of the token is stored');
  t.equal(stored.enrolment_code_hash, null, 'and the code is gone');
});

t.test('an expired code, a revoked kiosk and a renewed enrolment', async (t) => {
  const late = await register({ name: '大屏', kind: 'wall' });
  inst.clock.advance(25 * 3_600_000);
  t.equal((await enrol(late.enrolment_code)).statusCode, 401, 'a code older than 24 hours no longer works');
  [admin, director] = [await signedIn(inst, 'it_admin'), await signedIn(inst, 'director')];

  const renewed = await inst.app.inject({ method: 'POST', url: `/api/kiosks/${late.kiosk.id}/enrolment`, headers: admin.headers, payload: {} });
  t.equal(renewed.statusCode, 200, 'the administrator issues a new code');
  const first = (await enrol(renewed.json().enrolment_code)).json().token as string;
  t.equal((await me({ authorization: `Bearer ${first}` })).statusCode, 200, 'the new code enrols the screen');

  const again = await inst.app.inject({ method: 'POST', url: `/api/kiosks/${late.kiosk.id}/enrolment`, headers: admin.headers, payload: {} });
  t.equal((await me({ authorization: `Bearer ${first}` })).json().error.code, 'KIOSK_AUTH_REQUIRED', 'a renewed enrolment ends the old token at once');
  const second = (await enrol(again.json().enrolment_code)).json().token as string;

  const revoked = await inst.app.inject({ method: 'POST', url: `/api/kiosks/${late.kiosk.id}/revoke`, headers: admin.headers, payload: {} });
  t.equal(revoked.json().status, 'revoked');
  t.equal((await me({ authorization: `Bearer ${second}` })).statusCode, 401, 'a revoked kiosk is signed out');
  t.equal((await inst.app.inject({ method: 'POST', url: `/api/kiosks/${late.kiosk.id}/revoke`, headers: admin.headers, payload: {} })).json().error.code, 'ALREADY_REVOKED');

  const list = await inst.app.inject({ method: 'GET', url: '/api/kiosks', headers: admin.headers });
  t.match(list.json().find((k: { id: number }) => k.id === late.kiosk.id), { status: 'revoked', enrolment_expires_at: null }, 'the list shows it revoked');
  t.same(
    (await auditActions('kiosk.revoke')).map((a) => a.object),
    [`kiosk:${late.kiosk.id}`],
    'the revocation is audited',
  );
});

t.test('bad registrations are refused with a clear error and nothing is stored', async (t) => {
  await inst.ctx.db.insertInto('devices').values({ id: 'wall-display', profile: 'samsung/qm55r', updated_at: inst.clock.now() }).execute();
  const before = await inst.ctx.db.selectFrom('kiosks').select('id').execute();
  const cases: [Record<string, unknown>, string][] = [
    [{ name: '大屏', kind: 'wall', room_id: 'room-1' }, 'ROOM_FOR_MEETING_KIOSKS'],
    [{ name: '会议终端', kind: 'meeting', room_id: 'no-such-room' }, 'UNKNOWN_ROOM'],
    [{ name: '前台', kind: 'lobby', id_reader_device: 'no-such-reader' }, 'UNKNOWN_DEVICE'],
    [{ name: '前台', kind: 'lobby', id_reader_device: 'wall-display' }, 'NOT_AN_ID_READER'],
    [{ name: '会议终端', kind: 'meeting', id_reader_device: 'reader-1' }, 'READER_FOR_LOBBY_KIOSKS'],
    [{ name: '终端', kind: 'printer' }, 'VALIDATION_FAILED'],
    [{ name: '', kind: 'wall' }, 'VALIDATION_FAILED'],
    [{ name: '大屏', kind: 'wall', token: 'x' }, 'VALIDATION_FAILED'],
  ];
  for (const [payload, code] of cases) {
    const res = await inst.app.inject({ method: 'POST', url: '/api/kiosks', headers: admin.headers, payload });
    t.equal(res.statusCode, 400, `${JSON.stringify(payload)} → 400`);
    t.equal(res.json().error.code, code, `${JSON.stringify(payload)} → ${code}`);
  }
  t.equal((await inst.app.inject({ method: 'POST', url: '/api/kiosks', headers: director.headers, payload: { name: '大屏', kind: 'wall' } })).statusCode, 403, 'only a system administrator registers kiosks');
  t.same(await inst.ctx.db.selectFrom('kiosks').select('id').execute(), before, 'nothing was stored');
  t.equal((await enrol('x'.repeat(41))).statusCode, 400, 'an overlong code is a validation error');
});

t.test('a kiosk’s live connection carries only the topics its kind may see', async (t) => {
  const wall = await register({ name: '大堂大屏', kind: 'wall' });
  const wallToken = (await enrol(wall.enrolment_code)).json().token as string;
  const lobby = await register({ name: '前台二号机', kind: 'lobby' });
  const lobbyToken = (await enrol(lobby.enrolment_code)).json().token as string;

  const ws = await connectWs(t, `ws://${base}/api/ws`, { cookie: `lawbox_kiosk=${wallToken}` });
  ws.send({ type: 'subscribe', topics: ['stats:wall'] });
  t.match(await ws.waitFor((m) => m.type === 'subscribed'), { topics: ['stats:wall'] }, 'a wall subscribes to the wall statistics');
  for (const topic of ['audit', 'matters', 'devices', 'user:1', 'stats:other']) {
    ws.send({ type: 'subscribe', topics: [topic] });
    t.match(await ws.waitFor((m) => m.type === 'error' || m.type === 'subscribed'), { type: 'error', code: 'FORBIDDEN' }, `but not to ${topic}`);
  }

  const lobbyWs = await connectWs(t, `ws://${base}/api/ws`, { authorization: `Bearer ${lobbyToken}` });
  lobbyWs.send({ type: 'subscribe', topics: ['stats:wall'] });
  t.match(await lobbyWs.waitFor((m) => m.type === 'error' || m.type === 'subscribed'), { type: 'error', code: 'FORBIDDEN' }, 'a lobby kiosk may not follow the wall statistics');

  const staff = await connectWs(t, `ws://${base}/api/ws`, director.headers);
  staff.send({ type: 'subscribe', topics: ['stats:wall'] });
  t.match(await staff.waitFor((m) => m.type === 'error' || m.type === 'subscribed'), { type: 'subscribed' }, 'a director (stats.read) may');
});

t.test('the kiosk pages always render something a person can act on', async (t) => {
  for (const kind of ['lobby', 'meeting', 'wall']) {
    const res = await inst.app.inject({ method: 'GET', url: `/kiosk/${kind}?enrol=ABCD2345` });
    t.ok([200, 503].includes(res.statusCode), `/kiosk/${kind} answers (${res.statusCode})`);
    t.match(res.headers['content-type'], /^text\/html/, `/kiosk/${kind} is a page`);
    t.match(res.body, /<html[^>]*lang="zh-CN"/, `/kiosk/${kind} is a Chinese page`);
    t.match(res.headers['content-security-policy'], /script-src 'self'/, `/kiosk/${kind} runs only the appliance’s own scripts`);
  }
});
