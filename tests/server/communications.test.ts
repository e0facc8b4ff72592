import { createHash } from 'node:crypto';
import t from 'tap';
import { createPortalSession } from '../../server/src/modules/portal/service.js';
import { mulberry32 } from '../helpers/fuzz.js';
import { createTestInstance, isErrorShape, signedIn } from '../helpers/instance.js';

/**
 * The communications register (Z5.5.1 a–f, Z5.5.2c, Z6.3.5) end to end: a received judgment starts
 * its appeal deadline and the client is told; drafts, interview records, plans and key documents are
 * confirmed by the client in the portal with the answer kept for good; delivery evidence of a
 * confirmed letter; criminal meeting logs; everything filed into the matter archive.
 */
const inst = await createTestInstance(t);
const db = inst.ctx.db;
const inject = inst.app.inject.bind(inst.app);
type Who = { headers: Record<string, string> };
const call = (method: 'GET' | 'POST', url: string, who: Who, payload?: object) => inject({ method, url, headers: who.headers, ...(payload ? { payload } : {}) });
const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

const lawyer = await signedIn(inst, 'lawyer');
const otherLawyer = await signedIn(inst, 'lawyer');
const intern = await signedIn(inst, 'intern');
const finance = await signedIn(inst, 'finance');

async function openMatter(title: string, type: string, client: object, opposing: string) {
  const res = await call('POST', '/api/matters', lawyer, { title, type, parties: [{ role: 'client', ...client }, { role: 'opposing', kind: 'organization', name: opposing }] });
  if (res.statusCode !== 201) throw new Error(`matter ${title} not opened: ${res.body}`);
  const m = res.json() as { id: number; number: string; parties: { role: string; client_id: number | null }[] };
  const clientId = m.parties.find((p) => p.role === 'client')!.client_id!;
  return { id: m.id, number: m.number, clientId, portal: { headers: { authorization: `Bearer ${(await createPortalSession(inst.ctx, clientId)).token}` } } };
}
const civil = await openMatter('北京华信科技有限公司诉上海瑞丰国际贸易有限公司买卖合同纠纷', 'civil', { kind: 'organization', name: '北京华信科技有限公司', uscc: '91350100M000100Y43' }, '上海瑞丰国际贸易有限公司');
const other = await openMatter('周海房屋买卖合同纠纷', 'civil', { kind: 'person', name: '周海' }, '北京安居房地产经纪有限公司');
const criminal = await openMatter('赵磊涉嫌合同诈骗罪辩护', 'criminal', { kind: 'person', name: '赵磊' }, '北京市海淀区人民检察院');

const counts = async () => ({
  records: Number((await db.selectFrom('communication_records').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n),
  deadlines: Number((await db.selectFrom('matter_deadlines').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n),
  confirmations: Number((await db.selectFrom('client_confirmations').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n),
  archive: Number((await db.selectFrom('archive_entries').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n),
});
const notices = (clientId: number, event: string) => db.selectFrom('notifications').selectAll().where('client_id', '=', clientId).where('event', '=', event).orderBy('id').execute();
const archived = (source: string, id: number) => db.selectFrom('archive_entries').selectAll().where('source', '=', source).where('source_id', '=', String(id)).executeTakeFirst();

const judgment = () => ({
  authority_kind: 'court',
  authority: '北京市朝阳区人民法院',
  document_kind: '判决书',
  document_number: '(2026)京0105民初12345号',
  received_on: '2026-11-20',
  served_on: '2026-11-20',
  summary: '判决被告支付货款1,260,000元及逾期付款损失，驳回其他诉讼请求。',
  deadline: { rule: 'civil_appeal_judgment' },
});

t.test('a received judgment starts its appeal deadline, is filed, and the client is told the deadline and the consequence', async (t) => {
  const res = await call('POST', `/api/matters/${civil.id}/communications/received-documents`, lawyer, judgment());
  t.equal(res.statusCode, 201, 'recorded');
  const r = res.json();
  // Served Friday 20 November 2026: the 15 days end on Saturday 5 December, so on Monday 7 December (民事诉讼法 §85, §171).
  const computed = await call('POST', '/api/deadlines/compute', lawyer, { rule: 'civil_appeal_judgment', trigger_date: '2026-11-20' });
  t.equal(computed.json().due, '2026-12-07', 'the engine’s answer for this case');
  t.equal(r.details.deadline.due, '2026-12-07', 'the record carries the due date: the weekend moves it to Monday');
  t.match(r.deadline, { due: '2026-12-07', status: 'open' }, 'and its deadline');
  const deadline = await db.selectFrom('matter_deadlines').selectAll().where('id', '=', r.deadline.id).executeTakeFirstOrThrow();
  t.match(deadline, { matter_id: civil.id, rule: 'civil_appeal_judgment', trigger_date: '2026-11-20', due_date: '2026-12-07', source: 'received_document', source_id: String(r.id) }, 'made by the deadline engine from this document');
  t.match(r.details, { authority_kind: 'court', document_kind: '判决书', served_on: '2026-11-20' }, 'authority, kind and service date');
  t.ok(r.details.consequence.length > 5, 'the consequence defaults to the rule’s');

  const [notice] = await notices(civil.clientId, 'document.received');
  t.ok(notice, 'the client is told');
  t.match(notice!.title, /北京市朝阳区人民法院《判决书》/, 'of the document');
  t.match(notice!.body, /届满日 2026-12-07/, 'of the deadline');
  t.ok(notice!.body.includes(`逾期后果：${r.details.consequence}`), 'and of the consequence');
  t.match(r.client_informed, { via: 'notification' }, 'the record says when and how the client was told');
  const portal = await call('GET', '/api/portal/notices', civil.portal);
  t.ok(portal.json().items.some((n: { title: string }) => n.title === notice!.title), 'the notice is in the client’s portal');
  t.equal((await notices(other.clientId, 'document.received')).length, 0, 'no other client hears of it');

  const entry = await archived('communication_records', r.id);
  t.match(entry, { matter_id: civil.id, kind: 'received_document' }, 'filed into the matter archive');
  t.match(entry?.sha256, /^[0-9a-f]{64}$/, 'with its hash');

  const ruling = await call('POST', `/api/matters/${civil.id}/communications/received-documents`, lawyer, {
    authority_kind: 'court',
    authority: '北京市朝阳区人民法院',
    document_kind: '缴费通知',
    received_on: '2026-11-25',
    stated_deadline_on: '2026-12-02',
    inform_client: false,
  });
  t.equal(ruling.statusCode, 400, 'a deadline the document names needs its consequence');
  t.equal(ruling.json().error.code, 'CONSEQUENCE_REQUIRED', 'CONSEQUENCE_REQUIRED');

  // A court-set period: the simplified procedure's evidence notice gave 10 days (the statute allows up to 15).
  const evidenceNotice = await call('POST', `/api/matters/${civil.id}/communications/received-documents`, lawyer, {
    authority_kind: 'court',
    authority: '北京市朝阳区人民法院',
    document_kind: '举证通知书',
    received_on: '2026-11-20',
    served_on: '2026-11-20',
    deadline: { rule: 'evidence_simplified', days: 10 },
    inform_client: false,
  });
  t.equal(evidenceNotice.statusCode, 201, 'recorded with the days the notice set');
  const evidence = await db.selectFrom('matter_deadlines').select(['due_date', 'days']).where('source', '=', 'received_document').where('source_id', '=', String(evidenceNotice.json().id)).executeTakeFirstOrThrow();
  t.same(evidence, { due_date: '2026-11-30', days: 10 }, 'due on the tenth day (Monday 30 November), not on the statute’s fifteenth');
});

t.test('bad received documents: 400 and nothing stored — no record, no deadline, no notice', async (t) => {
  const before = await counts();
  const noticesBefore = (await notices(civil.clientId, 'document.received')).length;
  const cases: [string, object, string][] = [
    ['an unknown rule', { ...judgment(), deadline: { rule: 'civil_appeal_forever' } }, 'UNKNOWN_RULE'],
    ['a deadline with no day to count from', { ...judgment(), served_on: null, deadline: { rule: 'civil_appeal_judgment' } }, 'TRIGGER_DATE_REQUIRED'],
    ['a date that does not exist', { ...judgment(), received_on: '2026-02-30' }, 'VALIDATION_FAILED'],
    ['a document received tomorrow', { ...judgment(), received_on: '2026-11-28' }, 'FUTURE_DATE'],
    ['a blank authority', { ...judgment(), authority: '  ' }, 'INVALID_INPUT'],
  ];
  for (const [what, body, code] of cases) {
    const res = await call('POST', `/api/matters/${civil.id}/communications/received-documents`, lawyer, body);
    t.equal(res.statusCode, 400, `${what}: 400`);
    t.equal(res.json().error.code, code, `${what}: ${code}`);
  }
  const rnd = mulberry32(0xc0ffee);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const breakers: ((b: Record<string, unknown>) => void)[] = [
    (b) => delete b[pick(['authority_kind', 'authority', 'document_kind', 'received_on'])],
    // Scalars of the wrong type are coerced (the app's ajv setting): only what cannot become a string is wrong here.
    (b) => (b[pick(['authority_kind', 'authority', 'document_kind', 'received_on', 'served_on'])] = pick([[], {}, '', ['判决书']])),
    (b) => (b.authority_kind = pick(['lawyer', 'COURT', 'notary'])),
    (b) => (b[pick(['extra', 'deadline_id', 'matter_id'])] = 'x'),
    (b) => (b.deadline = pick([{}, { rule: '' }, { rule: 'civil_appeal_judgment', trigger_date: '20261120' }, { rule: 'civil_appeal_judgment', days: 15 }, 'civil_appeal_judgment'])),
    (b) => (b.served_on = pick(['2026-11-31', 'yesterday', '1899-12-31'])),
    (b) => (b.document_kind = 'x'.repeat(51)),
    (b) => (b.inform_client = pick(['yes', 2, [], {}])),
  ];
  for (let i = 0; i < 40; i++) {
    const body: Record<string, unknown> = judgment();
    for (let k = 0, n = 1 + Math.floor(rnd() * 2); k < n; k++) pick(breakers)(body);
    const res = await call('POST', `/api/matters/${civil.id}/communications/received-documents`, lawyer, body);
    t.equal(res.statusCode, 400, `fuzz ${i}: 400 for ${JSON.stringify(body).slice(0, 140)}`);
    t.ok(isErrorShape(res.json()), `fuzz ${i}: the error shape`);
  }
  t.same(await counts(), before, 'nothing stored');
  t.equal((await notices(civil.clientId, 'document.received')).length, noticesBefore, 'nobody told');
});

t.test('only the matter’s team works on its register', async (t) => {
  const [record] = (await call('GET', `/api/matters/${civil.id}/communications`, lawyer)).json();
  for (const [who, label] of [[otherLawyer, 'a lawyer of another team'], [intern, 'an intern not on the team']] as const) {
    t.equal((await call('GET', `/api/matters/${civil.id}/communications`, who)).statusCode, 404, `${label}: the register is a 404`);
    t.equal((await call('GET', `/api/communications/${record.id}`, who)).statusCode, 404, `${label}: a record is a 404`);
    t.equal((await call('POST', `/api/matters/${civil.id}/communications/drafts`, who, { draft_kind: 'lawyer_letter', title: '律师函', content: '内容' })).statusCode, 404, `${label}: cannot add`);
    t.equal((await call('POST', `/api/communications/${record.id}/client-informed`, who, { method: 'phone' })).statusCode, 404, `${label}: cannot mark`);
  }
  t.equal((await call('GET', `/api/matters/${civil.id}/communications`, finance)).statusCode, 403, 'finance does not work on matters');
});

let draftId = 0;
let firstRequest = 0;

t.test('a lawyer’s letter: the client comments, the lawyer revises, the client confirms; the answer is kept for good', async (t) => {
  const text = '致上海瑞丰国际贸易有限公司：\n受北京华信科技有限公司委托，现就贵司拖欠货款事宜函告如下：请于收函之日起七日内支付货款人民币1,260,000元。';
  const created = await call('POST', `/api/matters/${civil.id}/communications/drafts`, lawyer, { draft_kind: 'lawyer_letter', title: '关于催告支付货款的律师函', content: text, recipient: '上海瑞丰国际贸易有限公司' });
  t.equal(created.statusCode, 201, 'the draft is recorded');
  draftId = created.json().id;
  t.equal(created.json().confirmation_status, 'not_sent', 'not yet sent to the client');
  t.equal(created.json().content_sha256, sha256(text), 'with the hash of its text');

  const early = await call('POST', `/api/communications/${draftId}/deliveries`, lawyer, { method: 'ems', tracking_number: 'EM123456789CN', sent_on: '2026-11-26', result: 'delivered', result_on: '2026-11-27' });
  t.equal(early.statusCode, 409, 'nothing is issued before the client confirms');
  t.equal(early.json().error.code, 'NOT_CONFIRMED', 'NOT_CONFIRMED');

  const asked = await call('POST', `/api/communications/${draftId}/confirmation-requests`, lawyer, {});
  t.equal(asked.statusCode, 201, 'sent for confirmation');
  firstRequest = asked.json().confirmation.id;
  t.equal(asked.json().record.confirmation_status, 'awaiting_client', 'awaiting the client');
  const [notice] = await notices(civil.clientId, 'confirmation.request');
  t.equal(notice?.link, `/portal/confirm/${firstRequest}`, 'the client gets a notice with the link to the request');

  const list = await call('GET', '/api/portal/confirmations', civil.portal);
  t.equal(list.statusCode, 200, 'the client lists its requests');
  t.match(list.json()[0], { id: firstRequest, status: 'pending', content: text, kind: 'draft', matter: { id: civil.id } }, 'the pending one first, with the text');

  t.equal((await call('GET', `/api/portal/confirmations/${firstRequest}`, other.portal)).statusCode, 404, 'another client cannot see it');
  t.equal((await call('POST', `/api/portal/confirmations/${firstRequest}`, other.portal, { decision: 'confirm' })).statusCode, 404, 'nor answer it');
  t.same((await call('GET', '/api/portal/confirmations', other.portal)).json(), [], 'nor find it in its list');
  t.equal((await call('GET', `/api/portal/confirmations/${firstRequest}`, lawyer)).statusCode, 401, 'a staff session is not a portal session');

  const noText = await call('POST', `/api/portal/confirmations/${firstRequest}`, civil.portal, { decision: 'comment' });
  t.equal(noText.statusCode, 400, 'a comment needs its text');
  t.equal(noText.json().error.code, 'COMMENT_REQUIRED', 'COMMENT_REQUIRED');
  const commented = await call('POST', `/api/portal/confirmations/${firstRequest}`, civil.portal, { decision: 'comment', text: '付款期限请改为十日。' });
  t.equal(commented.statusCode, 200, 'the client comments');
  t.equal(commented.json().status, 'commented', 'kept as a comment');
  t.equal((await call('GET', `/api/communications/${draftId}`, lawyer)).json().confirmation_status, 'commented', 'the lawyer sees the comment');

  const revised = text.replace('七日内', '十日内');
  const again = await call('POST', `/api/communications/${draftId}/confirmation-requests`, lawyer, { content: revised });
  t.equal(again.statusCode, 201, 'the revised text goes out');
  const secondRequest = again.json().confirmation.id;
  const third = await call('POST', `/api/communications/${draftId}/confirmation-requests`, lawyer, {});
  t.equal(third.statusCode, 201, 'and once more (a reminder)');
  const stale = await call('POST', `/api/portal/confirmations/${secondRequest}`, civil.portal, { decision: 'confirm' });
  t.equal(stale.statusCode, 409, 'a request replaced by a newer one cannot be answered');
  t.equal(stale.json().error.code, 'SUPERSEDED', 'SUPERSEDED');

  const thirdId = third.json().confirmation.id;
  const confirmed = await inject({ method: 'POST', url: `/api/portal/confirmations/${thirdId}`, headers: civil.portal.headers, remoteAddress: '203.0.113.7', payload: { decision: 'confirm', text: '同意发出。' } });
  t.equal(confirmed.statusCode, 200, 'the client confirms');
  t.match(confirmed.json(), { status: 'confirmed', response_text: '同意发出。', content: revised, content_sha256: sha256(revised) }, 'the confirmation of exactly that text');
  const row = await db.selectFrom('client_confirmations').selectAll().where('id', '=', thirdId).executeTakeFirstOrThrow();
  t.match(row, { decision: 'confirmed', responder: `client:${civil.clientId}`, responder_ip: '203.0.113.7', content_sha256: sha256(revised) }, 'who, from where, and the hash of the draft');
  t.equal(row.responded_at?.toISOString(), inst.clock.now().toISOString(), 'and when');
  t.match(row.evidence_sha256, /^[0-9a-f]{64}$/, 'with the hash of the evidence');
  const entry = await archived('client_confirmations', thirdId);
  t.match(entry, { matter_id: civil.id, kind: 'client_confirmation', sha256: row.evidence_sha256 }, 'filed into the matter archive');

  const twice = await call('POST', `/api/portal/confirmations/${thirdId}`, civil.portal, { decision: 'comment', text: '改主意了' });
  t.equal(twice.statusCode, 409, 'an answer cannot be changed');
  t.equal(twice.json().error.code, 'ALREADY_ANSWERED', 'ALREADY_ANSWERED');
  await t.rejects(db.updateTable('client_confirmations').set({ response_text: '篡改' }).where('id', '=', thirdId).execute(), /final/, 'the database refuses to change an answer');
  await t.rejects(db.updateTable('client_confirmations').set({ content: '篡改' }).where('id', '=', firstRequest).execute(), /final/, 'or the text of an answered request');
  await t.rejects(db.deleteFrom('client_confirmations').where('id', '=', thirdId).execute(), /kept for good/, 'or to delete it');
  const pending = await db.selectFrom('client_confirmations').select('id').where('record_id', '=', draftId).where('decision', 'is', null).where('superseded_at', 'is', null).execute();
  t.same(pending, [], 'nothing of the letter is left pending')
  t.equal((await db.selectFrom('client_confirmations').select('response_text').where('id', '=', thirdId).executeTakeFirstOrThrow()).response_text, '同意发出。', 'the answer is as given');
  t.equal((await call('GET', `/api/communications/${draftId}`, lawyer)).json().confirmation_status, 'confirmed', 'the draft is confirmed');
});

t.test('a pending request keeps its snapshot: the database refuses to change the text shown to the client', async (t) => {
  const created = await call('POST', `/api/matters/${civil.id}/communications/key-documents`, lawyer, { title: '和解协议关键条款', document_title: '和解协议（第二稿）', content: '一、被告分三期支付；二、原告放弃违约金。' });
  t.equal(created.statusCode, 201, 'a key document');
  const asked = await call('POST', `/api/communications/${created.json().id}/confirmation-requests`, lawyer, {});
  const id = asked.json().confirmation.id;
  await t.rejects(db.updateTable('client_confirmations').set({ content: '一、被告一次付清。' }).where('id', '=', id).execute(), /snapshot/, 'the text of a pending request cannot change');
  await t.rejects(db.updateTable('client_confirmations').set({ client_id: other.clientId }).where('id', '=', id).execute(), /snapshot/, 'nor whom it asks');
});

t.test('delivery, refusal or return evidence of the confirmed letter is kept and the client told', async (t) => {
  const before = (await notices(civil.clientId, 'document.received')).length;
  const res = await call('POST', `/api/communications/${draftId}/deliveries`, lawyer, {
    method: 'ems',
    tracking_number: 'EM123456789CN',
    sent_on: '2026-11-23',
    result: 'returned',
    result_on: '2026-11-26',
    file_sha256: 'A'.repeat(64),
    note: '对方地址查无此单位，邮件退回。',
  });
  t.equal(res.statusCode, 201, 'the return is recorded');
  const [d] = res.json().deliveries;
  t.match(d, { method: 'ems', tracking_number: 'EM123456789CN', recipient: '上海瑞丰国际贸易有限公司', result: 'returned', file_sha256: 'a'.repeat(64) }, 'with method, number, recipient, result and the file hash');
  t.ok(d.client_informed_at, 'the client was told');
  const told = await notices(civil.clientId, 'document.received');
  t.equal(told.length, before + 1, 'by a notice');
  t.match(told.at(-1)!.body, /EM123456789CN[\s\S]*退回/, 'naming the number and the result');
  t.match(await archived('communication_deliveries', d.id), { kind: 'delivery_evidence', sha256: 'a'.repeat(64) }, 'filed as delivery evidence');
  await t.rejects(db.updateTable('communication_deliveries').set({ result: 'delivered' }).where('id', '=', d.id).execute(), /kept as recorded/, 'evidence cannot be changed');
  const noNumber = await call('POST', `/api/communications/${draftId}/deliveries`, lawyer, { method: 'courier', sent_on: '2026-11-26', result: 'delivered', result_on: '2026-11-27' });
  t.equal(noNumber.json().error.code, 'TRACKING_REQUIRED', 'a postal delivery needs its tracking number');
  const backwards = await call('POST', `/api/communications/${draftId}/deliveries`, lawyer, { method: 'in_person', sent_on: '2026-11-26', result: 'refused', result_on: '2026-11-25' });
  t.equal(backwards.json().error.code, 'INVALID_DATE', 'a result before the sending is refused');
  const received = (await call('GET', `/api/matters/${civil.id}/communications?kind=received_document`, lawyer)).json()[0];
  t.equal((await call('POST', `/api/communications/${received.id}/deliveries`, lawyer, { method: 'in_person', sent_on: '2026-11-26', result: 'delivered', result_on: '2026-11-26' })).json().error.code, 'NOT_A_DRAFT', 'only drafts have delivery evidence');
});

t.test('interview records, settlement plans, service plans and progress go through the same confirmation', async (t) => {
  const interview = await call('POST', `/api/matters/${civil.id}/communications/interview-records`, lawyer, {
    interviewed_at: '2026-11-24T10:00:00+08:00',
    subject: '证人王强（原告仓库管理员）',
    place: '本所第一会议室',
    content: '问：服务器何时交付？答：2025年6月3日送到被告仓库，被告仓管签收。',
  });
  t.equal(interview.statusCode, 201, 'an interview record');
  t.match(interview.json(), { kind: 'interview_record', occurred_on: '2026-11-24', details: { subject: '证人王强（原告仓库管理员）', place: '本所第一会议室' } }, 'time, person and place');
  t.equal((await archived('communication_records', interview.json().id))?.kind, 'interview_record', 'filed at once');
  const filedHash = (await archived('communication_records', interview.json().id))?.sha256;
  const corrected = await call('POST', `/api/communications/${interview.json().id}/confirmation-requests`, lawyer, { content: '问：服务器何时交付？答：2025年6月3日送到被告仓库，被告仓管李某签收。' });
  t.equal(corrected.statusCode, 201, 'a corrected text goes to the client');
  const refiled = (await archived('communication_records', interview.json().id))?.sha256;
  t.ok(refiled && refiled !== filedHash, 'and the archive holds the hash of the record as corrected');
  const q = await call('POST', `/api/communications/${interview.json().id}/confirmation-requests`, lawyer, {});
  const opinion = await call('POST', `/api/portal/confirmations/${q.json().confirmation.id}`, civil.portal, { decision: 'confirm', text: '内容属实，补充：签收单原件在我司财务处。' });
  t.match(opinion.json(), { status: 'confirmed', response_text: '内容属实，补充：签收单原件在我司财务处。' }, 'the client confirms with its opinion');

  const plan = await call('POST', `/api/matters/${civil.id}/communications/settlement-plans`, lawyer, { plan_kind: 'mediation', title: '诉前调解方案', content: '被告分三期支付货款126万元，原告放弃逾期付款损失。', counterparty: '上海瑞丰国际贸易有限公司' });
  t.equal(plan.statusCode, 201, 'a mediation plan');
  const consent = await call('POST', `/api/communications/${plan.json().id}/confirmation-requests`, lawyer, {});
  const cid = consent.json().confirmation.id;
  t.equal((await call('POST', `/api/portal/confirmations/${cid}`, civil.portal, { decision: 'confirm', text: '同意按此方案调解。' })).statusCode, 200, 'the client consents');
  t.equal((await archived('client_confirmations', cid))?.kind, 'settlement_consent', 'filed as informed consent');

  for (const [path, kind] of [['service-plans', 'service_plan'], ['service-progress', 'service_progress']] as const) {
    const made = await call('POST', `/api/matters/${civil.id}/communications/${path}`, lawyer, { title: `${kind} 标题`, content: '尽职调查分三阶段：资料收集、访谈、出具报告。' });
    t.equal(made.statusCode, 201, `${kind} recorded`);
    t.equal((await archived('communication_records', made.json().id))?.kind, 'service_plan', `${kind} filed`);
    t.equal((await call('POST', `/api/communications/${made.json().id}/confirmation-requests`, lawyer, {})).statusCode, 201, `${kind} sent for confirmation`);
  }
  const received = (await call('GET', `/api/matters/${civil.id}/communications?kind=received_document`, lawyer)).json()[0];
  const notConfirmable = await call('POST', `/api/communications/${received.id}/confirmation-requests`, lawyer, {});
  t.equal(notConfirmable.json().error.code, 'NOT_CONFIRMABLE', 'a received document is not for confirmation');
});

t.test('a criminal meeting log: time, length, place, non-case needs and when they were passed on', async (t) => {
  const body = { met_at: '2026-11-25T14:00:00+08:00', duration_minutes: 90, place: '北京市海淀区看守所', detainee: '赵磊', summary: '核实案件事实，告知诉讼权利。', non_case_needs: '需要冬衣两套；请家属存入生活费500元。' };
  const wrong = await call('POST', `/api/matters/${civil.id}/communications/detention-meetings`, lawyer, body);
  t.equal(wrong.statusCode, 400, 'only for criminal matters');
  t.equal(wrong.json().error.code, 'NOT_A_CRIMINAL_MATTER', 'NOT_A_CRIMINAL_MATTER');
  const before = await call('POST', `/api/matters/${criminal.id}/communications/detention-meetings`, lawyer, { ...body, told: { at: '2026-11-25T13:00:00+08:00', method: 'phone', to: '妻子李梅' } });
  t.equal(before.json().error.code, 'INVALID_TIME', 'needs cannot be passed on before the meeting');
  const res = await call('POST', `/api/matters/${criminal.id}/communications/detention-meetings`, lawyer, body);
  t.equal(res.statusCode, 201, 'recorded');
  t.match(res.json(), { title: '会见赵磊（北京市海淀区看守所）', occurred_on: '2026-11-25', details: { duration_minutes: 90, non_case_needs: '需要冬衣两套；请家属存入生活费500元。' }, client_informed: null }, 'the needs are not yet passed on');
  const told = await call('POST', `/api/communications/${res.json().id}/client-informed`, lawyer, { method: 'phone', informed_at: '2026-11-25T17:30:00+08:00', note: '已电话告知妻子李梅' });
  t.match(told.json().client_informed, { via: 'phone', at: new Date('2026-11-25T17:30:00+08:00').toISOString(), note: '已电话告知妻子李梅' }, 'when and how they were passed on');
  const twice = await call('POST', `/api/communications/${res.json().id}/client-informed`, lawyer, { method: 'visit' });
  t.equal(twice.statusCode, 409, 'recorded once');
  t.equal((await archived('communication_records', res.json().id))?.kind, 'detention_meeting', 'filed into the archive');
});
