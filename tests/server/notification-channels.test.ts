import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { renderSmsRequest } from '../../server/src/modules/notifications/channels/sms.js';
import { DEFAULT_CHANNEL_SETTINGS } from '../../server/src/modules/notifications/channels/settings.js';
import { dingtalkSign } from '../../server/src/modules/notifications/channels/dingtalk.js';
import { deliverPending, MAX_ATTEMPTS, notify, RETRY_BACKOFF_MS, type NotificationInput } from '../../server/src/modules/notifications/service.js';
import { until } from '../helpers/devices.js';
import { mulberry32 } from '../helpers/fuzz.js';
import { createTestInstance, loginToken, signedIn } from '../helpers/instance.js';
import { startSmtpPeer } from '../helpers/smtp.js';

/**
 * The external channels against real peers on loopback: an SMTP server (smtp-server), and HTTP
 * servers standing in for the SMS gateway and the WeCom and DingTalk robots. Nothing is mocked in
 * lawbox: it connects, speaks the protocol and records what happened.
 */
const inst = await createTestInstance(t);
const db = inst.ctx.db;
const admin = await signedIn(inst, 'it_admin');
const lawyer = await signedIn(inst, 'lawyer');
const partner = await signedIn(inst, 'partner');
type Who = Awaited<ReturnType<typeof signedIn>>;
/** A request as `as`; the retry tests move the clock by days, so an ended session is renewed once. */
async function call(method: 'GET' | 'POST' | 'PUT', url: string, as: Who, payload?: object) {
  const go = () => inst.app.inject({ method, url, headers: as.headers, ...(payload ? { payload } : {}) });
  const res = await go();
  if (res.statusCode !== 401) return res;
  as.headers.authorization = `Bearer ${await loginToken(inst, as.username)}`;
  return go();
}

// ---------------------------------------------------------------------------------------------
// The peers

const SMTP_USER = 'lawbox@firm.example';
const SMTP_PASSWORD = 'smtp-Pa55word-never-shown';
const smtp = await startSmtpPeer(t, { login: { user: SMTP_USER, password: SMTP_PASSWORD } });
const mails = smtp.mails;
const smtpPort = smtp.port;

interface Hit {
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: string;
}
type Answer = (hit: Hit) => { status: number; body: string; delayMs?: number };
/** An HTTP peer that records every request and answers as its `answer` says (a test may change it). */
async function httpPeer(answer: Answer) {
  const peer = { url: '', hits: [] as Hit[], connections: 0, answer };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url!, 'http://x');
      const hit = { path: url.pathname, query: url.searchParams, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      peer.hits.push(hit);
      const a = peer.answer(hit);
      setTimeout(() => res.writeHead(a.status, { 'content-type': 'application/json' }).end(a.body), a.delayMs ?? 0);
    });
  });
  server.on('connection', () => peer.connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  peer.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return peer;
}
const ok = { status: 200, body: '{"errcode":0,"errmsg":"ok"}' };
const sms = await httpPeer(() => ({ status: 200, body: '{"code":"OK"}' }));
const wecom = await httpPeer(() => ok);
const DING_SECRET = 'SECd3adb33f-ding-signing-secret';
const dingtalk = await httpPeer((hit) => {
  // DingTalk's check: the sign must be HMAC-SHA256(secret, timestamp + "\n" + secret), Base64.
  const ts = hit.query.get('timestamp');
  const expected = createHmac('sha256', DING_SECRET).update(`${ts}\n${DING_SECRET}`).digest('base64');
  return hit.query.get('sign') === expected ? ok : { status: 200, body: '{"errcode":310000,"errmsg":"sign not match"}' };
});

// ---------------------------------------------------------------------------------------------
// Helpers

const now = () => inst.clock.now();
let clientSeq = 0;
async function client(contact: { email?: string | null; phone?: string | null }) {
  const name = `测试客户${++clientSeq}号有限公司`;
  return db
    .insertInto('clients')
    .values({ kind: 'organization', name, email: contact.email ?? null, phone: contact.phone ?? null, created_by: lawyer.id, created_at: now(), updated_at: now() })
    .returning(['id', 'name'])
    .executeTakeFirstOrThrow();
}
const send = (input: NotificationInput) => db.transaction().execute((trx) => notify(trx, inst.ctx, input));
const deliveries = (notificationId: number) => db.selectFrom('notification_deliveries').selectAll().where('notification_id', '=', notificationId).orderBy('id').execute();
const settled = (notificationId: number) => until(async () => (await deliveries(notificationId)).every((d) => d.status !== 'pending'), 10_000);

/** RFC 2047 encoded words (B and Q) of an unfolded header, decoded. */
function decodeWords(value: string): string {
  return value
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (_, _charset: string, enc: string, text: string) =>
      enc.toUpperCase() === 'B'
        ? Buffer.from(text, 'base64').toString('utf8')
        : Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-F]{2})/gi, (_m, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8'),
    );
}
function parseMail(raw: string): { headers: Map<string, string>; body: string } {
  const [head = '', ...rest] = raw.split(/\r\n\r\n/);
  const headers = new Map<string, string>();
  for (const line of head.replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
    const i = line.indexOf(':');
    headers.set(line.slice(0, i).toLowerCase(), line.slice(i + 1).trim());
  }
  const encoded = rest.join('\r\n\r\n');
  const cte = headers.get('content-transfer-encoding')?.toLowerCase();
  const body =
    cte === 'base64'
      ? Buffer.from(encoded.replace(/\s+/g, ''), 'base64').toString('utf8')
      : cte === 'quoted-printable'
        ? Buffer.from(encoded.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/gi, (_m, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8')
        : encoded;
  return { headers, body };
}

const FULL = {
  email: { enabled: true, events: null, host: '127.0.0.1', port: smtpPort, security: 'none', verify_certificate: true, username: SMTP_USER, password: SMTP_PASSWORD, from_address: 'notice@firm.example', from_name: '明衡律师事务所' },
  sms: {
    enabled: true,
    events: null,
    url: `${sms.url}/sms/send`,
    method: 'POST',
    headers: { Authorization: 'Bearer {secret}' },
    body_template: '{"mobile":"{phone}","content":"{text}","sign":"明衡律所"}',
    secret: 'sms-api-key-never-shown',
  },
  wecom: { enabled: true, events: null, webhook_url: `${wecom.url}/cgi-bin/webhook/send?key=wecom-key-never-shown` },
  dingtalk: { enabled: true, events: null, webhook_url: `${dingtalk.url}/robot/send?access_token=ding-token-never-shown`, secret: DING_SECRET },
};
const configure = async (body: object) => {
  const res = await call('PUT', '/api/notifications/channels', admin, body);
  if (res.statusCode !== 200) throw new Error(`channels not configured: ${res.statusCode} ${res.body}`);
  return res;
};

// ---------------------------------------------------------------------------------------------

t.test('every channel is off by default: a notice for staff and a client with addresses connects to nobody', async (t) => {
  await db.updateTable('users').set({ phone: '13800000001', email: 'lawyer@firm.example' }).where('id', '=', lawyer.id).execute();
  const c = await client({ email: 'client@example.com', phone: '13900000001' });
  const id = await send({ event: 'document.received', client_id: c.id, user_ids: [lawyer.id], title: '收到法院传票', body: '请查收。' });
  t.ok(id, 'the notice was made');
  const ds = await deliveries(id!);
  t.same(ds.map((d) => d.channel).sort(), ['in_app', 'in_app'], 'only the in-app deliveries exist (staff and portal)');
  t.same(await deliverPending(inst.ctx), { sent: 0, failed: 0, gave_up: 0 }, 'the job has nothing to send');
  await new Promise((r) => setTimeout(r, 300));
  t.equal(smtp.connections(), 0, 'no SMTP connection was made');
  t.equal(sms.connections + wecom.connections + dingtalk.connections, 0, 'no HTTP connection was made');
  const view = (await call('GET', '/api/notifications/channels', admin)).json();
  t.same([view.email.enabled, view.sms.enabled, view.wecom.enabled, view.dingtalk.enabled], [false, false, false, false], 'the settings say every channel is off');
});

t.test('configuring: admins only, half-filled channels cannot be switched on, secrets are never returned', async (t) => {
  t.equal((await call('PUT', '/api/notifications/channels', lawyer, { base_url: 'https://lawbox.firm.example' })).statusCode, 403, 'a lawyer may not configure channels');
  const half = await call('PUT', '/api/notifications/channels', admin, { wecom: { enabled: true, events: null } });
  t.equal(half.statusCode, 400, 'WeCom cannot be switched on without its webhook');
  t.equal(half.json().error.code, 'INVALID_CHANNEL_SETTINGS', 'with a stable code');
  const badTemplate = await call('PUT', '/api/notifications/channels', admin, { sms: { ...FULL.sms, body_template: '{"mobile":"{phone}",' } });
  t.equal(badTemplate.statusCode, 400, 'an SMS body template that is not JSON is refused');
  const noPlaceholder = await call('PUT', '/api/notifications/channels', admin, { sms: { ...FULL.sms, body_template: '{"mobile":"13800000000"}' } });
  t.equal(noPlaceholder.statusCode, 400, 'an SMS set-up that cannot carry the phone and text is refused');
  t.equal((await call('PUT', '/api/notifications/channels', admin, { email: { ...FULL.email, smuggled: true } })).statusCode, 400, 'unknown fields are refused');

  const res = await configure({ base_url: 'https://lawbox.firm.example/', ...FULL });
  const text = res.body + (await call('GET', '/api/notifications/channels', admin)).body;
  for (const secret of [SMTP_PASSWORD, FULL.sms.secret, 'wecom-key-never-shown', 'ding-token-never-shown', DING_SECRET]) t.notOk(text.includes(secret), `the secret ${secret.slice(0, 8)}… is not in the answer`);
  const view = res.json();
  t.same([view.email.password_set, view.sms.secret_set, view.wecom.webhook_url_set, view.dingtalk.webhook_url_set, view.dingtalk.secret_set], [true, true, true, true, true], 'each secret shows as set');
  t.equal(view.base_url, 'https://lawbox.firm.example', 'the base URL is kept without its trailing slash');

  // Leaving a secret out keeps it; the audit trail says what changed, never the secret.
  const { password: _p, ...emailWithoutPassword } = FULL.email;
  const again = await configure({ email: { ...emailWithoutPassword, from_name: '明衡律所通知' } });
  t.equal(again.json().email.password_set, true, 'a password left out is kept');
  const audit = await db.selectFrom('audit_log').select('detail').where('action', '=', 'settings.notification_channels').execute();
  t.equal(audit.length, 2, 'each change is audited');
  const auditText = JSON.stringify(audit);
  for (const secret of [SMTP_PASSWORD, FULL.sms.secret, 'wecom-key-never-shown', DING_SECRET]) t.notOk(auditText.includes(secret), 'no secret is in the audit trail');
  t.match(auditText, /from_name/, 'the audit names the changed field');
});

t.test('a notice goes out by every channel within seconds of its commit, without waiting for the job', async (t) => {
  await db.updateTable('users').set({ phone: '+86 138-0000-0002', email: 'partner@firm.example' }).where('id', '=', partner.id).execute();
  await db.insertInto('settings').values({ key: 'firm', value: JSON.stringify({ name: '北京明衡律师事务所' }) }).execute();
  // A landline gets no text message and no mention: only a mobile can.
  await db.updateTable('users').set({ phone: '010-65880102', email: null }).where('id', '=', lawyer.id).execute();
  const c = await client({ email: 'boss@huaxin.example', phone: '13900000002' });
  const before = { mails: mails.length, sms: sms.hits.length, wecom: wecom.hits.length, ding: dingtalk.hits.length };
  const body = '北京市海淀区人民法院送达开庭传票，定于12月9日上午9:00开庭。\n请携带"证据原件"与身份证 \\ 准时到庭。';
  const id = await send({ event: 'hearing.notice', client_id: c.id, user_ids: [partner.id, lawyer.id], title: '开庭通知：华信诉瑞丰买卖合同纠纷', body, link: '/portal/notices' });
  t.ok(await settled(id!), 'every delivery settled without the job being run');
  const ds = await deliveries(id!);
  t.same(
    ds.map((d) => `${d.channel}:${d.user_id ? 'staff' : d.client_id ? 'client' : 'group'}:${d.status}`).sort(),
    ['dingtalk:group:sent', 'email:client:sent', 'email:staff:sent', 'in_app:client:sent', 'in_app:staff:sent', 'in_app:staff:sent', 'sms:client:sent', 'sms:staff:sent', 'wecom:group:sent'],
    'one delivery per recipient and channel with an address, all sent',
  );

  // Email: authenticated, to the right people, the Chinese subject and sender name encoded per RFC 2047.
  const newMails = mails.slice(before.mails);
  t.same(newMails.flatMap((m) => m.to).sort(), ['boss@huaxin.example', 'partner@firm.example'], 'one message to the client and one to the partner');
  const mail = parseMail(newMails.find((m) => m.to.includes('boss@huaxin.example'))!.raw);
  t.equal(newMails[0]!.user, SMTP_USER, 'lawbox authenticated with the configured account');
  const rawSubject = mail.headers.get('subject')!;
  t.match(rawSubject, /^=\?UTF-8\?[BQ]\?/i, 'the subject is an encoded word, not raw UTF-8');
  t.notOk(/[^\x00-\x7f]/.test(rawSubject), 'the subject header is pure ASCII on the wire');
  t.equal(decodeWords(rawSubject), '【北京明衡律师事务所】开庭通知：华信诉瑞丰买卖合同纠纷', 'the subject decodes to the firm’s signature and the notice title');
  t.equal(decodeWords(mail.headers.get('from')!), '明衡律所通知 <notice@firm.example>', 'the sender name decodes too');
  t.equal(mail.body.replace(/\r\n/g, '\n').trim(), `${body}\nhttps://lawbox.firm.example/portal/notices`, 'the body is the notice with its link made absolute');

  // SMS: the template filled as JSON, so quotes, backslashes and line breaks cannot break it.
  const smsHits = sms.hits.slice(before.sms);
  t.equal(smsHits.length, 2, 'two text messages');
  for (const hit of smsHits) {
    t.equal(hit.path, '/sms/send', 'to the gateway path');
    t.equal(hit.headers.authorization, `Bearer ${FULL.sms.secret}`, 'with the key in its header');
    const parsed = JSON.parse(hit.body) as { mobile: string; content: string; sign: string };
    t.equal(parsed.sign, '明衡律所', 'the template’s fixed fields stay');
    t.ok(parsed.content.startsWith(`【北京明衡律师事务所】开庭通知：华信诉瑞丰买卖合同纠纷：${body}`), 'the text is the firm’s signature, the title and the body verbatim');
  }
  t.same(smsHits.map((h) => (JSON.parse(h.body) as { mobile: string }).mobile).sort(), ['13800000002', '13900000002'], 'to the client and to the partner');

  // WeCom: a text message in the firm's group, the partner @-mentioned by phone.
  const w = JSON.parse(wecom.hits.at(-1)!.body) as { msgtype: string; text: { content: string; mentioned_mobile_list: string[] } };
  t.equal(wecom.hits.length - before.wecom, 1, 'one WeCom message for the notice');
  t.equal(wecom.hits.at(-1)!.query.get('key'), 'wecom-key-never-shown', 'posted to the configured robot');
  t.equal(w.msgtype, 'text', 'a text message');
  t.ok(w.text.content.startsWith('开庭通知：华信诉瑞丰买卖合同纠纷\n'), 'starting with the title');
  t.same(w.text.mentioned_mobile_list, ['13800000002'], 'mentioning the staff recipient');

  // DingTalk: signed; the peer checked the signature, or it would have answered errcode 310000.
  const d = dingtalk.hits.at(-1)!;
  t.equal(dingtalk.hits.length - before.ding, 1, 'one DingTalk message');
  t.equal(d.query.get('access_token'), 'ding-token-never-shown', 'to the configured robot');
  t.equal(d.query.get('sign'), dingtalkSign(DING_SECRET, Number(d.query.get('timestamp'))), 'signed with the robot’s secret over its timestamp');
  t.equal(Number(d.query.get('timestamp')), now().getTime(), 'the timestamp is the appliance’s time in milliseconds');
  const dj = JSON.parse(d.body) as { msgtype: string; text: { content: string }; at: { atMobiles: string[]; isAtAll: boolean } };
  t.same(dj.at, { atMobiles: ['13800000002'], isAtAll: false }, 'the partner is @-mentioned');
  t.match(dj.text.content, /@13800000002$/, 'and named in the text, as DingTalk needs to show the mention');

  // The status is visible to whoever may see the notice; the webhook keys are not in it.
  const view = await call('GET', `/api/notifications/${id}/deliveries`, partner);
  t.equal(view.statusCode, 200, 'the recipient sees the delivery status');
  t.notOk(view.body.includes('never-shown'), 'the status names no secret');
});

t.test('a wrong DingTalk secret fails with DingTalk’s answer, and is retried', async (t) => {
  await configure({ email: { ...FULL.email, enabled: false }, sms: { ...FULL.sms, enabled: false }, wecom: { ...FULL.wecom, enabled: false }, dingtalk: { ...FULL.dingtalk, secret: 'SECwrong' } });
  const id = await send({ event: 'deadline.reminder', user_ids: [partner.id], title: '上诉期限提醒', body: '上诉期限将于3日后届满。' });
  t.ok(await settled(id!), 'the delivery was tried');
  const d = (await deliveries(id!)).find((x) => x.channel === 'dingtalk')!;
  t.equal(d.status, 'failed', 'it failed');
  t.match(d.last_error, /errcode 310000 sign not match/, 'with DingTalk’s error code and message');
  t.equal(d.next_attempt_at!.getTime(), now().getTime() + RETRY_BACKOFF_MS[0], 'due again after the first backoff step');
  await configure({ dingtalk: { ...FULL.dingtalk, enabled: false } });
  inst.clock.advance(RETRY_BACKOFF_MS[0]);
  await deliverPending(inst.ctx);
  const after = (await deliveries(id!)).find((x) => x.channel === 'dingtalk')!;
  t.equal(after.status, 'gave_up', 'a channel switched off meanwhile is given up at once, not retried for hours');
  t.match(after.last_error, /switched off/, 'saying why');
});

t.test('a failing gateway is retried with growing backoff, then given up', async (t) => {
  await configure({ sms: FULL.sms });
  sms.answer = () => ({ status: 503, body: '{"error":"gateway busy"}' });
  t.teardown(() => {
    sms.answer = () => ({ status: 200, body: '{"code":"OK"}' });
  });
  const c = await client({ phone: '13900000003' });
  const hitsBefore = sms.hits.length;
  const id = await send({ event: 'invoice.status', client_id: c.id, title: '发票已开具', body: '您申请的增值税普通发票已开具。' });
  t.ok(await settled(id!), 'the first attempt was made right after the commit');
  const smsDelivery = async () => (await deliveries(id!)).find((d) => d.channel === 'sms')!;
  for (let attempt = 1; attempt < MAX_ATTEMPTS; attempt++) {
    const d = await smsDelivery();
    t.equal(d.status, 'failed', `attempt ${attempt} failed`);
    t.equal(d.attempts, attempt, `${attempt} attempts counted`);
    t.match(d.last_error, /HTTP 503 .*gateway busy/, 'the gateway’s answer is kept');
    const wait = RETRY_BACKOFF_MS[attempt - 1]!;
    t.equal(d.next_attempt_at!.getTime() - now().getTime(), wait, `the next attempt waits ${wait / 60_000} minutes`);
    inst.clock.advance(wait - 1000);
    await deliverPending(inst.ctx);
    t.equal((await smsDelivery()).attempts, attempt, 'nothing is tried before it is due');
    inst.clock.advance(1000);
    await deliverPending(inst.ctx);
  }
  const last = await smsDelivery();
  t.equal(last.status, 'gave_up', `given up after ${MAX_ATTEMPTS} attempts`);
  t.equal(last.attempts, MAX_ATTEMPTS, 'every attempt counted');
  t.equal(last.next_attempt_at, null, 'nothing more is due');
  t.equal(sms.hits.length - hitsBefore, MAX_ATTEMPTS, 'the gateway saw exactly that many requests');
  inst.clock.advance(86_400_000);
  await deliverPending(inst.ctx);
  t.equal(sms.hits.length - hitsBefore, MAX_ATTEMPTS, 'a day later nothing more was sent');
  const audit = await db.selectFrom('audit_log').select('detail').where('action', '=', 'notification.gave_up').where('object', '=', `notification:${id}`).execute();
  t.equal(audit.length, 1, 'giving up is audited');
});

t.test('two delivery runs at once send each message once', async (t) => {
  await configure({ sms: FULL.sms });
  sms.answer = () => ({ status: 200, body: '{"code":"OK"}', delayMs: 30 });
  t.teardown(() => {
    sms.answer = () => ({ status: 200, body: '{"code":"OK"}' });
  });
  const clients = await Promise.all(Array.from({ length: 12 }, (_, i) => client({ phone: `1390001${String(i).padStart(4, '0')}` })));
  const before = sms.hits.length;
  // All in one transaction, so the commit's kick and the two runs below race for the same rows.
  const ids = await db.transaction().execute(async (trx) => {
    const out: number[] = [];
    for (const c of clients) out.push((await notify(trx, inst.ctx, { event: 'evaluation.invite', client_id: c.id, title: '服务评价邀请', body: `请对本所的服务进行评价（${c.name}）。` }))!);
    return out;
  });
  await Promise.all([deliverPending(inst.ctx), deliverPending(inst.ctx), deliverPending(inst.ctx)]);
  t.ok(await until(async () => (await Promise.all(ids.map(deliveries))).flat().every((d) => d.status === 'sent'), 10_000), 'every delivery was sent');
  await new Promise((r) => setTimeout(r, 200));
  const phones = sms.hits.slice(before).map((h) => (JSON.parse(h.body) as { mobile: string }).mobile);
  t.equal(phones.length, clients.length, 'the gateway got one request per client');
  t.equal(new Set(phones).size, clients.length, 'no client got a message twice');
  const attempts = (await Promise.all(ids.map(deliveries))).flat().filter((d) => d.channel === 'sms').map((d) => d.attempts);
  t.same([...new Set(attempts)], [1], 'each took one attempt');
});

t.test('a rolled-back change sends nothing', async (t) => {
  await configure({ sms: FULL.sms, email: FULL.email });
  const c = await client({ phone: '13900000004', email: 'rollback@example.com' });
  const before = { sms: sms.hits.length, mails: mails.length, notifications: (await db.selectFrom('notifications').select('id').execute()).length };
  await t.rejects(
    db.transaction().execute(async (trx) => {
      await notify(trx, inst.ctx, { event: 'document.received', client_id: c.id, title: '收到仲裁通知书', body: '请查收。' });
      throw new Error('the change failed after notifying');
    }),
    /the change failed/,
    'the transaction fails',
  );
  await deliverPending(inst.ctx);
  await new Promise((r) => setTimeout(r, 300));
  t.equal((await db.selectFrom('notifications').select('id').execute()).length, before.notifications, 'no notice is left');
  t.equal(sms.hits.length, before.sms, 'no text message went out');
  t.equal(mails.length, before.mails, 'no email went out');
});

t.test('a sent code is not kept, not listed in the portal and not posted to the group', async (t) => {
  await configure({ sms: FULL.sms, wecom: FULL.wecom });
  const c = await client({ phone: '13900000005' });
  const wecomBefore = wecom.hits.length;
  const code = { event: 'signature.code', client_id: c.id, title: '签署验证码', body: '您的签署验证码为 482913，10分钟内有效。' } as const;
  await t.rejects(send({ ...code, user_ids: [partner.id] }), { code: 'INVALID_NOTIFICATION' }, 'a code goes to its client alone, never to staff');
  const id = await send(code);
  t.ok(await settled(id!), 'sent');
  t.match(sms.hits.at(-1)!.body, /482913/, 'the client got the code by SMS');
  t.equal(wecom.hits.length, wecomBefore, 'the code was not posted in the firm’s group');
  const row = await db.selectFrom('notifications').select('body').where('id', '=', id!).executeTakeFirstOrThrow();
  t.notMatch(row.body, /482913/, 'the stored notice no longer holds the code');
  t.same((await deliveries(id!)).map((d) => d.channel), ['sms'], 'the client gets it by SMS only, not in the portal list');
});

t.test('the test-send route reaches the peer and reports failures', async (t) => {
  await configure({ email: { ...FULL.email, enabled: false } });
  const before = mails.length;
  const res = await call('POST', '/api/notifications/channels/email/test', admin, { to: 'it@firm.example' });
  t.same(res.json(), { sent: true, error: null }, 'a switched-off channel can be tried before it is switched on');
  t.equal(mails.length, before + 1, 'the test message arrived');
  t.match(decodeWords(parseMail(mails.at(-1)!.raw).headers.get('subject')!), /通知渠道测试/, 'as a test message');
  t.equal((await call('POST', '/api/notifications/channels/sms/test', admin, {})).statusCode, 400, 'an SMS test needs a phone number');
  sms.answer = () => ({ status: 401, body: '{"error":"bad key"}' });
  const failed = await call('POST', '/api/notifications/channels/sms/test', admin, { to: '13800000009' });
  sms.answer = () => ({ status: 200, body: '{"code":"OK"}' });
  t.equal(failed.json().sent, false, 'a refused test says so');
  t.match(failed.json().error, /HTTP 401/, 'with the gateway’s answer');
  t.equal((await call('POST', '/api/notifications/channels/wecom/test', lawyer, {})).statusCode, 403, 'only an administrator may test');
});

t.test('fuzz: the SMS request is valid JSON carrying exactly the phone and text, whatever the text holds', async (t) => {
  const rnd = mulberry32(0x5a5a);
  const alphabet = ['"', '\\', '{', '}', '{phone}', '{text}', '{secret}', '\n', '\r', '\u0000', '\u2028', '中', '文', '😀', 'a', ' ', ',', ':', '[', ']', '$&', "'"];
  const settings = { ...DEFAULT_CHANNEL_SETTINGS.sms, url: 'http://gw.local/send?to={phone}', method: 'POST' as const, headers: { 'X-Key': '{secret}' }, body_template: '{"to":"{phone}","msg":"【所】{text}","n":[1,"{text}"],"{phone}":true}', secret: 'k"ey' };
  for (let i = 0; i < 500; i++) {
    const text = Array.from({ length: Math.floor(rnd() * 40) }, () => alphabet[Math.floor(rnd() * alphabet.length)]).join('');
    const phone = Array.from({ length: 11 }, () => Math.floor(rnd() * 10)).join('');
    const req = renderSmsRequest(settings, phone, text);
    const body = JSON.parse(req.body!) as Record<string, unknown>;
    if (body.to !== phone || body.msg !== `【所】${text}` || (body.n as unknown[])[1] !== text || body[phone] !== true || Object.keys(body).length !== 4) {
      t.fail(`seed case ${i}: ${JSON.stringify(text)} gave ${req.body}`);
      return;
    }
    if (new URL(req.url).searchParams.get('to') !== phone || req.headers['X-Key'] !== 'k"ey') {
      t.fail(`seed case ${i}: URL or header wrong: ${req.url}`);
      return;
    }
  }
  t.pass('500 random texts rendered exactly');
});
