import type { AddressInfo } from 'node:net';
import t from 'tap';
import { createPortalSession } from '../../server/src/modules/portal/service.js';
import { seedDemoStaffContacts, seedNotificationsDemo } from '../../server/src/modules/notifications/demo.js';
import { notify, type NotificationInput } from '../../server/src/modules/notifications/service.js';
import { createTestInstance, isErrorShape, signedIn } from '../helpers/instance.js';
import { connectWs } from '../helpers/ws.js';

/**
 * Notices in the app and in the client portal, and the two the matters module sends (Z5.4.3): the
 * matter accepted, with its fee and the lawyer's name and work phone, and the responsible lawyer
 * changed. Every notice about a matter is filed into its archive (Z6.3.5). External channels stay
 * off here (see notification-channels.test.ts).
 */
const inst = await createTestInstance(t);
await inst.app.listen({ host: '127.0.0.1', port: 0 });
const wsUrl = `ws://127.0.0.1:${(inst.app.server.address() as AddressInfo).port}/api/ws`;
const db = inst.ctx.db;

const lawyer = await signedIn(inst, 'lawyer');
const successor = await signedIn(inst, 'lawyer');
const outsider = await signedIn(inst, 'lawyer');
const director = await signedIn(inst, 'director');
const itAdmin = await signedIn(inst, 'it_admin');
type Who = { headers: Record<string, string> };
const call = (method: 'GET' | 'POST' | 'PUT' | 'PATCH', url: string, as: Who | null, payload?: object) =>
  inst.app.inject({ method, url, headers: as?.headers ?? {}, ...(payload ? { payload } : {}) });
const send = (input: NotificationInput) => db.transaction().execute((trx) => notify(trx, inst.ctx, input));
const portalAs = async (clientId: number): Promise<Who> => ({ headers: { authorization: `Bearer ${(await createPortalSession(inst.ctx, clientId)).token}` } });

async function openMatter(as: Who, body: Record<string, unknown>) {
  const res = await call('POST', '/api/matters', as, body);
  if (res.statusCode !== 201) throw new Error(`matter not created: ${res.statusCode} ${res.body}`);
  return { matter: res.json() as { id: number; number: string; status: string } };
}
const clientOf = async (matterId: number) =>
  (await db.selectFrom('parties').select('client_id').where('matter_id', '=', matterId).where('role', '=', 'client').executeTakeFirstOrThrow()).client_id!;
const noticesOf = (matterId: number, event: string) => db.selectFrom('notifications').selectAll().where('matter_id', '=', matterId).where('event', '=', event).orderBy('id').execute();

t.test('staff set their own work phone and email', async (t) => {
  t.same((await call('GET', '/api/notifications/contact', lawyer)).json(), { phone: null, email: null }, 'none at first');
  const res = await call('PUT', '/api/notifications/contact', lawyer, { phone: '010-65880102', email: 'zhang@firm.example' });
  t.equal(res.statusCode, 200, 'set');
  t.same((await call('GET', '/api/notifications/contact', lawyer)).json(), { phone: '010-65880102', email: 'zhang@firm.example' }, 'read back');
  const bad = await call('PUT', '/api/notifications/contact', lawyer, { phone: '请打前台', email: null });
  t.equal(bad.statusCode, 400, 'a phone that is not a number is refused');
  t.ok(isErrorShape(bad.json()) && bad.json().error.code === 'INVALID_PHONE', 'with its code');
  t.equal((await call('PUT', '/api/notifications/contact', lawyer, { phone: null, email: 'not-an-address' })).statusCode, 400, 'a bad email is refused');
  t.equal((await call('PUT', '/api/notifications/contact', lawyer, { phone: null, email: null, user_id: outsider.id })).statusCode, 400, 'nobody sets someone else’s');
  t.same((await call('GET', '/api/notifications/contact', lawyer)).json().phone, '010-65880102', 'refused changes changed nothing');
  t.equal((await call('PUT', '/api/notifications/contact', successor, { phone: '13800001111', email: null })).statusCode, 200, 'the successor sets theirs');
  t.equal((await call('GET', '/api/notifications/contact', null)).statusCode, 401, 'anonymous callers have none');
  const audit = await db.selectFrom('audit_log').select('detail').where('action', '=', 'user.contact').execute();
  t.equal(audit.length, 2, 'each change is audited');
  t.notMatch(JSON.stringify(audit), /65880102|13800001111/, 'without the numbers themselves');
});

let accepted: { matterId: number; number: string; clientId: number; noticeId: number };

t.test('a matter opened tells its client: number, title, fee and the lawyer’s name and work phone (Z5.4.3)', async (t) => {
  const { matter } = await openMatter(lawyer, {
    title: '北京华信科技有限公司诉上海瑞丰贸易有限公司买卖合同纠纷',
    type: 'civil',
    fee_arrangement: 'fixed',
    fee_amount: '80000.5',
    parties: [
      { role: 'client', kind: 'organization', name: '北京华信科技有限公司', legal_representative: '李建国', phone: '010-65880001' },
      { role: 'opposing', kind: 'organization', name: '上海瑞丰贸易有限公司' },
    ],
  });
  t.equal(matter.status, 'open', 'the matter opened at once (no conflict)');
  const clientId = await clientOf(matter.id);
  const [notice, ...more] = await noticesOf(matter.id, 'matter.accepted');
  t.ok(notice, 'a matter-accepted notice was made');
  t.equal(more.length, 0, 'one');
  t.equal(notice!.client_id, clientId, 'for the client party');
  t.equal(notice!.title, `案件受理通知：${matter.number}`, 'titled with the matter number');
  for (const [what, text] of [
    ['the number', `案件编号：${matter.number}`],
    ['the title', '案件名称：北京华信科技有限公司诉上海瑞丰贸易有限公司买卖合同纠纷'],
    ['the fee arrangement', '收费方式：固定收费'],
    ['the fee amount', '律师费：人民币 80,000.50 元'],
    ['the lawyer’s name', '承办律师：测试 lawyer'],
    ['the lawyer’s work phone', '联系电话：010-65880102'],
  ]) {
    t.ok(notice!.body.includes(text!), `the notice gives ${what}`);
  }
  const filed = await db.selectFrom('archive_entries').selectAll().where('source', '=', 'notification').where('source_id', '=', String(notice!.id)).executeTakeFirst();
  t.ok(filed, 'the notice is filed into the matter archive (Z6.3.5)');
  t.equal(filed?.matter_id, matter.id, 'of its matter');
  t.equal(filed?.kind, 'notice', 'as a notice');
  accepted = { matterId: matter.id, number: matter.number, clientId, noticeId: notice!.id };

  // A matter waiting for conflict review has not been accepted: its client hears nothing yet.
  const { matter: waiting } = await openMatter(lawyer, {
    title: '上海瑞丰贸易有限公司合同纠纷咨询',
    type: 'civil',
    parties: [
      { role: 'client', kind: 'person', name: '周瑞丰' },
      { role: 'opposing', kind: 'organization', name: '北京华信科技有限公司' },
    ],
  });
  t.equal(waiting.status, 'pending_conflict_review', 'the second matter waits for review');
  t.same(await noticesOf(waiting.id, 'matter.accepted'), [], 'and no acceptance was announced');

  // The reviewer clears it: now it is accepted, and its client hears so like any other.
  const check = await db.selectFrom('matters').select('conflict_check_id').where('id', '=', waiting.id).executeTakeFirstOrThrow();
  const cleared = await call('POST', `/api/conflict-checks/${check.conflict_check_id}/decision`, director, { decision: 'clear', note: '同名不同人，无冲突' });
  t.equal(cleared.statusCode, 200, 'the director clears the check');
  const [late, ...again] = await noticesOf(waiting.id, 'matter.accepted');
  t.ok(late?.body.includes(`案件编号：${waiting.number}`), 'the matter opened by the review is announced to its client');
  t.equal(again.length, 0, 'once');
});

t.test('a change of responsible lawyer tells the client promptly, with the new lawyer’s name and phone', async (t) => {
  const res = await call('PATCH', `/api/matters/${accepted.matterId}`, lawyer, { responsible_lawyer_id: successor.id });
  t.equal(res.statusCode, 200, 'reassigned');
  const [notice, ...more] = await noticesOf(accepted.matterId, 'matter.lawyer_changed');
  t.ok(notice, 'a lawyer-changed notice was made in the same change');
  t.equal(more.length, 0, 'one');
  t.equal(notice!.client_id, accepted.clientId, 'for the client');
  t.ok(notice!.body.includes('由测试 lawyer律师变更为测试 lawyer律师'), 'naming the former and the new lawyer');
  t.ok(notice!.body.includes('联系电话：13800001111'), 'with the new lawyer’s work phone');
  t.notOk(notice!.body.includes('010-65880102'), 'not the former lawyer’s');
  t.equal((await call('PATCH', `/api/matters/${accepted.matterId}`, successor, { stage: '一审' })).statusCode, 200, 'another edit');
  t.equal((await noticesOf(accepted.matterId, 'matter.lawyer_changed')).length, 1, 'an edit that keeps the lawyer tells the client nothing');
  t.equal((await noticesOf(accepted.matterId, 'matter.accepted')).length, 1, 'nor does it repeat the acceptance');
});

t.test('staff hear of their notices live and list and read them', async (t) => {
  const ws = await connectWs(t, wsUrl, lawyer.headers);
  ws.send({ type: 'subscribe', topics: [`user:${lawyer.id}`] });
  await ws.waitFor((m) => m.type === 'subscribed');
  const id = await send({ event: 'deadline.reminder', user_ids: [lawyer.id, successor.id], matter_id: accepted.matterId, title: '上诉期限提醒', body: '一审判决上诉期限将于3日后届满。' });
  const live = await ws.waitFor((m) => m.type === 'event' && m.data?.type === 'notification');
  t.same(live.data, { type: 'notification', id: id!, event: 'deadline.reminder', title: '上诉期限提醒', matter_id: accepted.matterId }, 'the notice arrived on the user topic after the commit');
  const rolledBack = db.transaction().execute(async (trx) => {
    await notify(trx, inst.ctx, { event: 'deadline.reminder', user_ids: [lawyer.id], title: '不应出现的提醒', body: '回滚' });
    throw new Error('rolled back');
  });
  await t.rejects(rolledBack, /rolled back/, 'a change that fails after notifying');
  t.ok(await ws.noneWithin((m) => m.type === 'event' && m.data?.title === '不应出现的提醒', 500), 'is never heard of');

  const list = (await call('GET', '/api/notifications', lawyer)).json();
  t.equal(list.items[0].id, id, 'the newest notice comes first');
  t.same(list.items[0].matter, { id: accepted.matterId, number: accepted.number }, 'with its matter');
  t.equal(list.items[0].read_at, null, 'unread');
  t.equal(list.unread, 1, 'one unread');
  t.notOk(list.items.some((n: { title: string }) => n.title === '不应出现的提醒'), 'the rolled-back notice is not listed');
  t.equal((await call('GET', '/api/notifications', outsider)).json().items.length, 0, 'someone else sees none of it');
  t.equal((await call('POST', `/api/notifications/${id}/read`, outsider)).statusCode, 404, 'nor can mark it read');
  t.same((await call('POST', `/api/notifications/${id}/read`, lawyer)).json(), { marked: 1 }, 'the recipient marks it read');
  t.same((await call('POST', `/api/notifications/${id}/read`, lawyer)).json(), { marked: 0 }, 'twice changes nothing');
  t.equal((await call('GET', '/api/notifications?unread=true', lawyer)).json().items.length, 0, 'no unread notices left');
  t.equal((await call('GET', '/api/notifications', successor)).json().unread, 1, 'the other recipient still has it unread');
  t.same((await call('POST', '/api/notifications/read-all', successor)).json(), { marked: 1 }, 'read all');
  t.equal((await call('GET', `/api/notifications?before_id=${id}`, lawyer)).json().items.every((n: { id: number }) => n.id < id!), true, 'paging goes to older notices');
  t.equal((await call('GET', '/api/notifications?limit=0', lawyer)).statusCode, 400, 'a bad page size is refused');
});

t.test('the portal lists only that client’s notices, newest first, and records reading them', async (t) => {
  const other = await db.insertInto('clients').values({ kind: 'person', name: '王秀英', created_by: lawyer.id, created_at: inst.clock.now(), updated_at: inst.clock.now() }).returning('id').executeTakeFirstOrThrow();
  inst.clock.advanceMinutes(5);
  const later = await send({ event: 'document.received', client_id: accepted.clientId, matter_id: accepted.matterId, title: '收到法院传票', body: '开庭传票已送达本所。' });
  await send({ event: 'hearing.notice', client_id: other.id, title: '开庭通知', body: '另一客户的通知。' });
  await send({ event: 'portal.link', client_id: accepted.clientId, title: '客户门户访问码', body: '您的访问码为 ABCD2345。' });
  const huaxin = await portalAs(accepted.clientId);
  const res = await call('GET', '/api/portal/notices', huaxin);
  t.equal(res.statusCode, 200, 'the client lists its notices');
  const items = res.json().items as { id: number; event: string; title: string; matter_number: string | null; read_at: string | null }[];
  t.same(
    items.map((n) => n.event),
    ['document.received', 'matter.lawyer_changed', 'matter.accepted'],
    'its own notices, newest first; the other client’s and the access code are not there',
  );
  t.equal(items[0]!.matter_number, accepted.number, 'with the matter number');
  t.equal(res.json().unread, 3, 'all unread');
  t.equal((await call('POST', `/api/portal/notices/${later}/read`, huaxin)).statusCode, 200, 'the client reads one');
  t.equal((await call('GET', '/api/portal/notices?unread=true', huaxin)).json().items.length, 2, 'two left unread');
  const otherNotice = (await call('GET', '/api/portal/notices', await portalAs(other.id))).json().items;
  t.equal(otherNotice.length, 1, 'the other client sees only its own');
  t.equal((await call('POST', `/api/portal/notices/${otherNotice[0].id}/read`, huaxin)).statusCode, 404, 'and one client cannot touch another’s');
  const read = await db.selectFrom('audit_log').select(['actor', 'object']).where('action', '=', 'notification.client_read').execute();
  t.same(read, [{ actor: `client:${accepted.clientId}`, object: `notification:${later}` }], 'reading is recorded as the client being informed');
  t.equal((await call('GET', '/api/portal/notices', lawyer)).statusCode, 401, 'a staff session is not a portal session');
  t.equal((await call('GET', '/api/portal/notices', null)).statusCode, 401, 'nor is none');
});

t.test('a dedupe key makes a notice once', async (t) => {
  const input: NotificationInput = { event: 'deadline.reminder', client_id: accepted.clientId, matter_id: accepted.matterId, title: '举证期限提醒', body: '举证期限将于7日后届满。', dedupe_key: 'deadline:42:7' };
  const first = await send(input);
  t.ok(first, 'the first makes the notice');
  t.equal(await send(input), null, 'the second returns null');
  t.equal((await db.selectFrom('notifications').select('id').where('dedupe_key', '=', 'deadline:42:7').execute()).length, 1, 'one notice');
  t.equal((await db.selectFrom('archive_entries').select('id').where('source', '=', 'notification').where('source_id', '=', String(first)).execute()).length, 1, 'filed once');
  await t.rejects(send({ ...input, dedupe_key: null, title: '   ' }), { code: 'INVALID_NOTIFICATION' }, 'a blank title is refused');
});

t.test('delivery status is for those who may see the matter', async (t) => {
  const id = accepted.noticeId;
  const mine = await call('GET', `/api/notifications/${id}/deliveries`, successor);
  t.equal(mine.statusCode, 200, 'the team sees it');
  t.same(
    mine.json().deliveries.map((d: { channel: string; recipient: { kind: string }; status: string }) => [d.channel, d.recipient.kind, d.status]),
    [['in_app', 'client', 'sent']],
    'in the portal, and nowhere else while the external channels are off',
  );
  t.equal((await call('GET', `/api/notifications/${id}/deliveries`, director)).statusCode, 200, 'the director sees every matter');
  t.equal((await call('GET', `/api/notifications/${id}/deliveries`, outsider)).statusCode, 404, 'a lawyer off the matter does not');
  t.equal((await call('GET', `/api/notifications/${id}/deliveries`, itAdmin)).statusCode, 404, 'nor does the system administrator');
  t.equal((await call('GET', '/api/notifications/999999/deliveries', director)).statusCode, 404, 'an unknown notice is 404');
});

t.test('the demo: lawyers get work numbers, and 王秀英’s portal holds realistic notices', async (t) => {
  const chen = await db.insertInto('users').values({ username: 'lawyer.chen', display_name: '陈晓燕', role: 'lawyer', password_hash: 'x', password_changed_at: inst.clock.now(), must_change_password: false, created_at: inst.clock.now() }).returning('id').executeTakeFirstOrThrow();
  await seedDemoStaffContacts(inst.ctx);
  t.equal((await db.selectFrom('users').select('phone').where('id', '=', chen.id).executeTakeFirstOrThrow()).phone, '010-65880103', 'the demo lawyer has a work phone');
  const chenActor = { userId: chen.id, username: 'lawyer.chen', role: 'lawyer', sourceIp: null };
  const { createMatter } = await import('../../server/src/modules/matters/service.js');
  const { matter } = await createMatter(inst.ctx, chenActor, {
    title: '王秀英与刘建军离婚纠纷',
    type: 'civil',
    court: '北京市海淀区人民法院',
    fee_arrangement: 'fixed',
    fee_amount: '30000.00',
    parties: [
      { role: 'client', kind: 'person', name: '王秀英', id_number: '110105197803152310', phone: '13911112222' },
      { role: 'opposing', kind: 'person', name: '刘建军' },
    ],
  });
  await seedNotificationsDemo(inst.ctx);
  await seedNotificationsDemo(inst.ctx);
  const clientId = await clientOf(matter.id);
  const items = (await call('GET', '/api/portal/notices', await portalAs(clientId))).json().items as { event: string; body: string; read_at: string | null }[];
  t.same(items.map((n) => n.event), ['document.received', 'matter.accepted'], 'two notices, newest first, seeded once');
  t.ok(items.find((n) => n.event === 'matter.accepted')!.body.includes('联系电话：010-65880103'), 'the acceptance names the lawyer’s demo number');
  t.ok(items.find((n) => n.event === 'document.received')!.body.includes('传票'), 'the court’s summons was received and the client told');
  t.equal(items.filter((n) => n.read_at).length, 1, 'the oldest seeded notice is read');
  const external = await db.selectFrom('notification_deliveries').select('id').where('channel', '<>', 'in_app').execute();
  t.same(external, [], 'nothing is queued for outside the appliance');
});
