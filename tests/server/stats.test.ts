import type { AddressInfo } from 'node:net';
import t from 'tap';
import { SYSTEM_ACTOR } from '../../server/src/context.js';
import { createKiosk, enrolKiosk } from '../../server/src/modules/kiosks/service.js';
import { createMeeting, createRoom, endMeeting, startMeeting } from '../../server/src/modules/meetings/service.js';
import { computeStats } from '../../server/src/modules/stats/service.js';
import { createInvitation, lookupInvitation } from '../../server/src/modules/visitors/service.js';
import { startBroker } from '../helpers/devices.js';
import { connectWs } from '../helpers/ws.js';
import { createTestInstance, signedIn } from '../helpers/instance.js';

/**
 * The firm's statistics as walls show them: counts from the real tables, revenue only when the
 * director allows it, no identity of anyone, and every wall updated when something changes.
 */
// A broker of its own: on a shared Mosquitto, other test files' retained devices would be counted too.
const { url: brokerUrl } = await startBroker(t);
const inst = await createTestInstance(t, { env: { MQTT_URL: brokerUrl } });
await inst.app.listen({ host: '127.0.0.1', port: 0 });
const wsUrl = `ws://127.0.0.1:${(inst.app.server.address() as AddressInfo).port}/api/ws`;
const { app, ctx } = inst;
const lawyer = await signedIn(inst, 'lawyer');
const director = await signedIn(inst, 'director');
const finance = await signedIn(inst, 'finance');
const frontDesk = await signedIn(inst, 'admin_staff');
const { enrolment_code } = await createKiosk(ctx, SYSTEM_ACTOR, { name: '大堂大屏', kind: 'wall' });
const wall = { authorization: `Bearer ${(await enrolKiosk(ctx, enrolment_code, null)).token}` };
const directorActor = { userId: director.id, username: director.username, role: 'director', sourceIp: null };

async function openMatter(title: string, type: string, client: string, opposing: string): Promise<number> {
  const res = await app.inject({ method: 'POST', url: '/api/matters', headers: lawyer.headers, payload: { title, type, parties: [{ role: 'client', kind: 'person', name: client }, { role: 'opposing', kind: 'person', name: opposing }] } });
  t.equal(res.statusCode, 201, `matter ${title} opened`);
  return res.json().id as number;
}
const wallStats = async () => (await app.inject({ method: 'GET', url: '/api/kiosk/wall/stats', headers: wall })).json();

t.test('matters: open, new this month, closed this month, by type and by month', async (t) => {
  const empty = await wallStats();
  t.match(empty.matters, { open: 0, new_this_month: 0, closed_this_month: 0, by_type: [] }, 'an empty firm counts nothing');
  t.equal(empty.matters.new_by_month.length, 12, 'twelve months');
  t.same(empty.matters.new_by_month.map((m: { month: string }) => m.month).slice(-2), ['2026-10', '2026-11'], 'ending with this month (Beijing time)');

  await openMatter('刘洋诉黄河买卖合同纠纷', 'civil', '刘洋', '黄河');
  await openMatter('周杰劳动争议', 'civil', '周杰', '某科技公司');
  const third = await openMatter('吴磊涉嫌诈骗案', 'criminal', '吴磊', '某银行');
  const closed = await app.inject({ method: 'PATCH', url: `/api/matters/${third}`, headers: lawyer.headers, payload: { status: 'closed', closing_summary: '已结案' } });
  t.equal(closed.statusCode, 200, 'one matter is closed');

  const s = await wallStats();
  t.match(s.matters, { open: 2, new_this_month: 3, closed_this_month: 1 }, 'open, new and closed counted');
  t.same(s.matters.by_type, [{ type: 'civil', label_zh: '民事', label_en: 'Civil', count: 2 }], 'open matters by type, with Chinese labels');
  t.equal(s.matters.new_by_month.at(-1).count, 3, 'this month’s bar');
  t.notMatch(JSON.stringify(s), /刘洋|黄河|周杰|吴磊|诈骗/, 'no client, party or matter title reaches a wall');
});

t.test('visitors on site, rooms in use (a confidential meeting shows no title) and devices', async (t) => {
  const visit = await createInvitation(ctx, { userId: lawyer.id, username: lawyer.username, role: 'lawyer', sourceIp: null }, { visitor_name: '钱多多', purpose: '签约', expected_at: inst.clock.now().toISOString() });
  t.ok(await lookupInvitation(ctx, { userId: null, username: 'kiosk', role: 'kiosk_lobby', sourceIp: null }, visit.invite_code), 'an invitation exists');
  await ctx.db.updateTable('visitor_visits').set({ status: 'checked_in', checked_in_at: inst.clock.now() }).where('id', '=', visit.visit.id).execute();

  await createRoom(ctx, directorActor, 'room-a', { name: '第一会议室', capacity: 10 });
  await createRoom(ctx, directorActor, 'room-b', { name: '第二会议室', capacity: 6 });
  const starts = new Date(inst.clock.now().getTime() + 5 * 60_000);
  const meeting = await createMeeting(ctx, directorActor, {
    title: '某并购项目保密讨论',
    kind: 'firm',
    record_type: 'case_discussion',
    room_id: 'room-a',
    starts_at: starts.toISOString(),
    ends_at: new Date(starts.getTime() + 3_600_000).toISOString(),
    confidential: true,
    participants: [{ user_id: director.id, role: 'chair' }],
    agenda: [{ title: '交易结构' }],
  });
  await startMeeting(ctx, directorActor, meeting.id);

  await inst.mqtt.client.publishAsync('lawbox/device/stats-plate/availability', JSON.stringify({ state: 'online' }), { qos: 1 });
  await inst.mqtt.client.publishAsync('lawbox/device/stats-camera/availability', JSON.stringify({ state: 'offline' }), { qos: 1 });
  for (let i = 0; i < 50 && (await computeStats(ctx)).devices.total < 2; i++) await new Promise((r) => setTimeout(r, 50));

  const s = await wallStats();
  t.match(s.visitors, { on_site: 1, today: 1 }, 'the visitor on site is counted');
  t.match(s.rooms, { in_use: 1, total: 2 }, 'one of two rooms in use');
  t.same(
    s.rooms.list.map((r: { id: string; in_use: boolean; meeting_title: string | null }) => [r.id, r.in_use, r.meeting_title]),
    [
      ['room-a', true, '案件讨论会'],
      ['room-b', false, null],
    ],
    'a running meeting shows as its kind: its title (which names parties) stays off the wall',
  );
  t.match(s.devices, { online: 1, offline: 1, total: 2 }, 'devices online and offline');
  t.notMatch(JSON.stringify(s), /钱多多|并购/, 'no visitor name or confidential title');
  await endMeeting(ctx, directorActor, meeting.id);
  t.equal((await wallStats()).rooms.in_use, 0, 'an ended meeting frees its room');
});

t.test('revenue reaches walls only when the director enables it', async (t) => {
  const matter = await openMatter('孙强合同审查', 'non_litigation', '孙强', '某供应商');
  const paid = await app.inject({ method: 'POST', url: `/api/matters/${matter}/fees`, headers: finance.headers, payload: { kind: 'payment', amount: '12000.50', occurred_on: '2026-11-20' } });
  t.equal(paid.statusCode, 201, 'a payment is recorded');
  t.equal((await wallStats()).revenue, null, 'off by default');

  const denied = await app.inject({ method: 'PUT', url: '/api/stats/settings', headers: frontDesk.headers, payload: { show_revenue: true } });
  t.equal(denied.statusCode, 403, 'the front desk may not turn it on');
  const on = await app.inject({ method: 'PUT', url: '/api/stats/settings', headers: director.headers, payload: { show_revenue: true } });
  t.same(on.json(), { show_revenue: true }, 'the director turns it on');
  t.same((await wallStats()).revenue, { this_month: '12000.50', this_year: '12000.50' }, 'exact amounts in yuan');
  const audit = await ctx.db.selectFrom('audit_log').selectAll().where('action', '=', 'settings.stats').execute();
  t.match(audit, [{ actor: director.username, detail: { show_revenue: { from: false, to: true } } }], 'the change is audited');
  t.equal((await app.inject({ method: 'PUT', url: '/api/stats/settings', headers: director.headers, payload: { show_revenue: 'yes' } })).statusCode, 400, 'a bad value is refused');
  await app.inject({ method: 'PUT', url: '/api/stats/settings', headers: director.headers, payload: { show_revenue: false } });
});

t.test('walls hear every change at once, staff with stats.read too; others are refused', async (t) => {
  const screen = await connectWs(t, wsUrl, wall);
  screen.send({ type: 'subscribe', topics: ['stats:wall'] });
  await screen.waitFor((m) => m.type === 'subscribed');
  const staff = await connectWs(t, wsUrl, director.headers);
  staff.send({ type: 'subscribe', topics: ['stats:wall'] });
  await staff.waitFor((m) => m.type === 'subscribed');
  const other = await connectWs(t, wsUrl, lawyer.headers);
  other.send({ type: 'subscribe', topics: ['stats:wall'] });
  t.match(await other.waitFor((m) => m.type === 'error' || m.type === 'subscribed'), { type: 'error', code: 'FORBIDDEN' }, 'a lawyer (no stats.read) is refused');

  const before = (await wallStats()).matters.open;
  await openMatter('郑重借款纠纷', 'civil', '郑重', '冯某');
  const isUpdate = (m: { type: string; topic?: string; data?: Record<string, unknown> }) => m.type === 'event' && m.topic === 'stats:wall' && (m.data?.stats as { matters: { open: number } } | undefined)?.matters.open === before + 1;
  t.ok(await screen.waitFor(isUpdate, 3000), 'the wall gets the new count without asking');
  t.ok(await staff.waitFor(isUpdate, 3000), 'so does the director’s dashboard');

  await app.inject({ method: 'PUT', url: '/api/stats/settings', headers: director.headers, payload: { show_revenue: true } });
  const withRevenue = await screen.waitFor((m) => m.type === 'event' && (m.data?.stats as { revenue: unknown } | undefined)?.revenue !== null, 3000);
  t.ok(withRevenue, 'turning revenue on reaches the walls at once');
});
