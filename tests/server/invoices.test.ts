import t from 'tap';
import { createPortalSession } from '../../server/src/modules/portal/service.js';
import { mulberry32 } from '../helpers/fuzz.js';
import { createTestInstance, isErrorShape, signedIn } from '../helpers/instance.js';

/**
 * Invoice requests (Z5.4.4): the client submits its invoice details and delivery address in the
 * portal (or staff enter them), finance moves the request to issued or rejected, and the client sees
 * the status in the portal and is told of each change.
 */
const inst = await createTestInstance(t);
const db = inst.ctx.db;
const inject = inst.app.inject.bind(inst.app);
type Who = { headers: Record<string, string> };
const call = (method: 'GET' | 'POST', url: string, who: Who, payload?: object) => inject({ method, url, headers: who.headers, ...(payload ? { payload } : {}) });

const lawyer = await signedIn(inst, 'lawyer');
const otherLawyer = await signedIn(inst, 'lawyer');
const finance = await signedIn(inst, 'finance');

async function openMatter(title: string, client: object) {
  const res = await call('POST', '/api/matters', lawyer, { title, type: 'civil', parties: [{ role: 'client', ...client }, { role: 'opposing', kind: 'organization', name: `${title}对方有限公司` }] });
  if (res.statusCode !== 201) throw new Error(`matter ${title} not opened: ${res.body}`);
  const m = res.json() as { id: number; number: string; parties: { role: string; client_id: number | null }[] };
  const clientId = m.parties.find((p) => p.role === 'client')!.client_id!;
  return { id: m.id, number: m.number, clientId, portal: { headers: { authorization: `Bearer ${(await createPortalSession(inst.ctx, clientId)).token}` } } };
}
const company = await openMatter('华信科技买卖合同纠纷', { kind: 'organization', name: '北京华信科技有限公司', uscc: '91350100M000100Y43' });
const person = await openMatter('周海房屋买卖合同纠纷', { kind: 'person', name: '周海' });

const special = () => ({
  matter_id: company.id,
  invoice_type: 'special',
  title_kind: 'organization',
  title: '北京华信科技有限公司',
  taxpayer_id: '91350100M000100Y43',
  amount: '40000.00',
  company_address: '北京市朝阳区酒仙桥路10号',
  company_phone: '010-65880001',
  bank_name: '中国工商银行北京酒仙桥支行',
  bank_account: '0200 0010 0920 0012 345',
  delivery: 'post',
  recipient_name: '李会计',
  recipient_phone: '13800138000',
  postal_address: '北京市朝阳区酒仙桥路10号财务部',
});
const count = async () => Number((await db.selectFrom('invoice_requests').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
const statusNotices = (clientId: number) => db.selectFrom('notifications').select(['title', 'body']).where('client_id', '=', clientId).where('event', '=', 'invoice.status').orderBy('id').execute();

let requestId = 0;

t.test('the client submits a 专票 request in the portal; it is filed and listed for the client', async (t) => {
  const res = await call('POST', '/api/portal/invoice-requests', company.portal, special());
  t.equal(res.statusCode, 201, 'submitted');
  const r = res.json();
  requestId = r.id;
  t.match(r, { status: 'submitted', invoice_type: 'special', taxpayer_id: '91350100M000100Y43', amount: '40000.00', bank_account: '0200001009200012345', submitted_via: 'portal', client_id: company.clientId, matter: { id: company.id } }, 'as given (the account without spaces)');
  t.same(r.warnings, [], 'a taxpayer number that passes GB 32100 draws no warning');
  const entry = await db.selectFrom('archive_entries').selectAll().where('source', '=', 'invoice_requests').where('source_id', '=', String(r.id)).executeTakeFirstOrThrow();
  t.match(entry, { matter_id: company.id, kind: 'invoice_request', title: '开票申请：北京华信科技有限公司 ¥40000.00（专票，已提交）' }, 'filed into the matter archive');
  const mine = await call('GET', '/api/portal/invoice-requests', company.portal);
  t.same(mine.json().map((x: { id: number }) => x.id), [r.id], 'the client sees its request');
  t.same((await call('GET', '/api/portal/invoice-requests', person.portal)).json(), [], 'another client sees none of it');
  const audit = await db.selectFrom('audit_log').select('actor').where('action', '=', 'invoice_request.submit').where('object', '=', `invoice_request:${r.id}`).executeTakeFirstOrThrow();
  t.equal(audit.actor, `client:${company.clientId}`, 'the audit names the client');
});

t.test('a client cannot ask for an invoice on another client’s matter; staff sessions are not portal sessions', async (t) => {
  const before = await count();
  const res = await call('POST', '/api/portal/invoice-requests', person.portal, special());
  t.equal(res.statusCode, 404, 'another client’s matter is a 404');
  t.equal(res.json().error.code, 'MATTER_NOT_FOUND', 'as a missing matter');
  t.equal((await call('POST', '/api/portal/invoice-requests', lawyer, special())).statusCode, 401, 'a lawyer’s session does not open the portal');
  t.equal(await count(), before, 'nothing stored');
});

t.test('invoice details are checked: taxpayer number, what a 专票 needs, where to send it — and nothing half-stored', async (t) => {
  const before = await count();
  const cases: [string, object, string][] = [
    ['a malformed taxpayer number', { taxpayer_id: '9135010OM000100Y43' }, 'INVALID_USCC'],
    ['an organisation without its taxpayer number', { taxpayer_id: null }, 'TAXPAYER_ID_REQUIRED'],
    ['a 专票 to a person', { title_kind: 'person', taxpayer_id: null }, 'SPECIAL_NEEDS_ORGANIZATION'],
    ['a 专票 without the bank', { bank_name: null }, 'INVALID_INPUT'],
    ['a 专票 without the account', { bank_account: null }, 'INVALID_INPUT'],
    ['delivery by email without an address', { delivery: 'email', email: null }, 'INVALID_INPUT'],
    ['delivery by post without a recipient', { recipient_name: '   ' }, 'INVALID_INPUT'],
    ['a zero amount', { amount: '0.00' }, 'INVALID_AMOUNT'],
    ['a person with a taxpayer number', { invoice_type: 'normal', title_kind: 'person', title: '周海' }, 'NOT_AN_ORGANIZATION'],
  ];
  for (const [what, change, code] of cases) {
    const res = await call('POST', '/api/portal/invoice-requests', company.portal, { ...special(), ...change });
    t.equal(res.statusCode, 400, `${what}: 400`);
    t.equal(res.json().error.code, code, `${what}: ${code}`);
  }
  const rnd = mulberry32(0x1a_4b_0e);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const breakers: ((b: Record<string, unknown>) => void)[] = [
    (b) => delete b[pick(['matter_id', 'invoice_type', 'title_kind', 'title', 'amount', 'delivery'])],
    (b) => (b.amount = pick(['-1', '1.234', 'abc', '1e5', '', '10000000000000', [], {}])),
    (b) => (b.invoice_type = pick(['普票', 'vat', [], ''])),
    (b) => (b.delivery = pick(['fax', [], ''])),
    (b) => (b[pick(['status', 'invoice_number', 'client_id', 'handled_by'])] = 'x'),
    (b) => (b.matter_id = pick([0, -1, 'abc', 2_147_483_648, []])),
    (b) => (b.email = pick(['not-an-email', '@x.cn', []])),
    (b) => (b.bank_account = pick(['abc', '12', 'x'.repeat(50)])),
    (b) => (b.title = pick(['', ' \u3000 ', 'x'.repeat(201), {}])),
    (b) => (b.taxpayer_id = pick(['123', '91350100M000100Y4!', '91350100M000100Y4399'])),
  ];
  for (let i = 0; i < 50; i++) {
    const body: Record<string, unknown> = special();
    for (let k = 0, n = 1 + Math.floor(rnd() * 2); k < n; k++) pick(breakers)(body);
    const res = await call('POST', '/api/portal/invoice-requests', company.portal, body);
    t.equal(res.statusCode, 400, `fuzz ${i}: 400 for ${JSON.stringify(body).slice(0, 140)}`);
    t.ok(isErrorShape(res.json()), `fuzz ${i}: the error shape`);
  }
  t.equal(await count(), before, 'nothing stored');

  const pilot = await call('POST', '/api/portal/invoice-requests', company.portal, { ...special(), invoice_type: 'normal', taxpayer_id: '91350100M000100Y44', delivery: 'email', email: 'finance@huaxin.example.cn' });
  t.equal(pilot.statusCode, 201, 'a code failing only its check digit is kept (early pilot codes are legal)');
  t.equal(pilot.json().warnings.length, 1, 'with a warning to verify it');
  t.equal((await db.selectFrom('invoice_requests').select('taxpayer_id_check_failed').where('id', '=', pilot.json().id).executeTakeFirstOrThrow()).taxpayer_id_check_failed, true, 'and the doubt recorded');
});

t.test('staff enter a request for the client of their own matter', async (t) => {
  const body = { invoice_type: 'normal', title_kind: 'person', title: '周海', amount: '30000', delivery: 'email', email: 'zhouhai@example.cn' };
  t.equal((await call('POST', `/api/matters/${person.id}/invoice-requests`, otherLawyer, body)).statusCode, 404, 'not on another team’s matter');
  const res = await call('POST', `/api/matters/${person.id}/invoice-requests`, lawyer, body);
  t.equal(res.statusCode, 201, 'entered');
  t.match(res.json(), { submitted_via: 'staff', client_id: person.clientId, title_kind: 'person', taxpayer_id: null, amount: '30000.00' }, 'for the matter’s client');
  const portal = await call('GET', '/api/portal/invoice-requests', person.portal);
  t.same(portal.json().map((x: { id: number }) => x.id), [res.json().id], 'the client sees it in the portal');
  const team = await call('GET', `/api/matters/${company.id}/invoice-requests`, lawyer);
  t.equal(team.json()[0].bank_account, '0200***********2345', 'the team’s list masks the bank account');
  t.equal(team.json()[0].recipient_phone, '138****8000', 'and the phone');
});

t.test('finance moves a request submitted → processing → issued; the client sees it and is told at each step', async (t) => {
  const status = (payload: object, who: Who = finance) => call('POST', `/api/invoice-requests/${requestId}/status`, who, payload);
  t.equal((await status({ status: 'processing' }, lawyer)).statusCode, 403, 'a lawyer may not handle invoices');
  t.equal((await call('GET', '/api/invoice-requests', lawyer)).statusCode, 403, 'nor see the queue');
  const queue = await call('GET', '/api/invoice-requests?status=submitted', finance);
  t.ok(queue.json().some((x: { id: number }) => x.id === requestId), 'the request is in finance’s queue');
  const full = await call('GET', `/api/invoice-requests/${requestId}`, finance);
  t.match(full.json(), { bank_account: '0200001009200012345', recipient_phone: '13800138000', postal_address: '北京市朝阳区酒仙桥路10号财务部', masked: false }, 'finance opens it in full to issue it');
  t.ok(await db.selectFrom('audit_log').select('seq').where('action', '=', 'invoice_request.read').where('object', '=', `invoice_request:${requestId}`).executeTakeFirst(), 'and that read is audited');

  const skip = await status({ status: 'issued', invoice_number: '24112000000012345678', invoice_date: '2026-11-27' });
  t.equal(skip.statusCode, 409, 'a request is taken up before it is issued');
  t.equal(skip.json().error.code, 'INVALID_STATUS_CHANGE', 'INVALID_STATUS_CHANGE');
  t.equal((await status({ status: 'issued' })).statusCode, 400, 'issuing needs the number and date');
  t.equal((await status({ status: 'submitted' })).statusCode, 400, 'there is no way back to submitted');
  const stray = await status({ status: 'processing', reason: '无' });
  t.equal(stray.json().error.code, 'INVALID_INPUT', 'a reason goes with a rejection only');

  t.equal((await status({ status: 'processing' })).statusCode, 200, 'taken up');
  t.equal((await status({ status: 'issued', invoice_number: '24112000000012345678', invoice_date: '2026-11-28' })).json().error.code, 'FUTURE_DATE', 'an invoice is not dated tomorrow');
  const issued = await status({ status: 'issued', invoice_number: '24112000000012345678', invoice_date: '2026-11-27' });
  t.equal(issued.statusCode, 200, 'issued');
  t.match(issued.json(), { status: 'issued', status_label: '已开具', invoice_number: '24112000000012345678', invoice_date: '2026-11-27' }, 'with its number and date');

  const portal = (await call('GET', '/api/portal/invoice-requests', company.portal)).json().find((x: { id: number }) => x.id === requestId);
  t.match(portal, { status: 'issued', invoice_number: '24112000000012345678', invoice_date: '2026-11-27' }, 'the client sees the invoice number in the portal');
  const told = await statusNotices(company.clientId);
  t.same(told.map((n) => n.title), ['开票申请开票中：北京华信科技有限公司', '开票申请已开具：北京华信科技有限公司'], 'the client was told of each change');
  t.match(told[1]!.body, /发票号码：24112000000012345678/, 'with the invoice number');
  const entry = await db.selectFrom('archive_entries').select('title').where('source', '=', 'invoice_requests').where('source_id', '=', String(requestId)).executeTakeFirstOrThrow();
  t.match(entry.title, /已开具/, 'the archive entry shows the final state');
  t.equal((await status({ status: 'rejected', reason: '重复申请' })).statusCode, 409, 'an issued invoice is final');
});

t.test('finance turns a request down with a reason; the client sees why', async (t) => {
  const pending = (await call('GET', '/api/invoice-requests?status=submitted', finance)).json().find((x: { matter: { id: number } }) => x.matter.id === company.id);
  t.equal((await call('POST', `/api/invoice-requests/${pending.id}/status`, finance, { status: 'rejected', reason: '  ' })).statusCode, 400, 'a reason is needed');
  const res = await call('POST', `/api/invoice-requests/${pending.id}/status`, finance, { status: 'rejected', reason: '开票金额超过已付律师费，请核对后重新提交。' });
  t.equal(res.statusCode, 200, 'rejected');
  const seen = (await call('GET', '/api/portal/invoice-requests', company.portal)).json().find((x: { id: number }) => x.id === pending.id);
  t.match(seen, { status: 'rejected', reject_reason: '开票金额超过已付律师费，请核对后重新提交。' }, 'the client sees the reason');
  t.match((await statusNotices(company.clientId)).at(-1)!.body, /原因：开票金额超过已付律师费/, 'and is told');
});
