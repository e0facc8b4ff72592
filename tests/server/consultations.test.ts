import t from 'tap';
import { seedClientRecordsDemo } from '../../server/src/modules/communications/demo.js';
import { loadDemoPractice } from '../../server/src/modules/demo/practice.js';
import { createUser } from '../../server/src/modules/users/service.js';
import type { Role } from '../../server/src/modules/auth/roles.js';
import { mulberry32 } from '../helpers/fuzz.js';
import { createTestInstance, isErrorShape, signedIn } from '../helpers/instance.js';

/**
 * Consultations (Z5.2.1): confidential to the lawyer who recorded them (and those who see every
 * matter), each full read audited, the phone masked; conversion into a matter through the matters
 * service with its conflict check, the consultation then filed in that matter's archive.
 */
const inst = await createTestInstance(t);
const db = inst.ctx.db;
const inject = inst.app.inject.bind(inst.app);
type Who = { id: number; headers: Record<string, string> };
const call = (method: 'GET' | 'POST', url: string, who: Who, payload?: object) => inject({ method, url, headers: who.headers, ...(payload ? { payload } : {}) });

const lawyer = await signedIn(inst, 'lawyer');
const otherLawyer = await signedIn(inst, 'lawyer');
const director = await signedIn(inst, 'director');
const frontDesk = await signedIn(inst, 'admin_staff');
const intern = await signedIn(inst, 'intern');
const finance = await signedIn(inst, 'finance');

const HOUR = 3_600_000;
const hoursAgo = (n: number) => new Date(inst.clock.now().getTime() - n * HOUR).toISOString();
const valid = () => ({
  channel: 'visit',
  person_name: '刘晓东',
  organization: '北京晓东餐饮管理有限公司',
  phone: '13912345678',
  email: 'liuxd@example.cn',
  topic: '门店租赁合同提前解除',
  summary: '出租方以装修违约为由要求提前解除租赁合同并没收保证金20万元，咨询人认为装修已经出租方书面同意。',
  advice: '保留出租方同意装修的书面文件；先发函说明，协商不成可提起诉讼主张返还保证金。',
  consulted_at: hoursAgo(2),
  duration_minutes: 45,
});
const count = async (table: 'consultations' | 'matters') => Number((await db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
const audits = async (action: string, object: string) =>
  db.selectFrom('audit_log').select(['actor', 'detail']).where('action', '=', action).where('object', '=', object).orderBy('seq').execute();

let consultationId = 0;

t.test('a lawyer records a consultation; the phone is masked and the audit names no person', async (t) => {
  const res = await call('POST', '/api/consultations', lawyer, valid());
  t.equal(res.statusCode, 201, 'recorded');
  const c = res.json();
  consultationId = c.id;
  t.match(c, { channel: 'visit', online: false, channel_label: '来所面谈', person_name: '刘晓东', phone: '139****5678', masked: true, lawyer: { id: lawyer.id }, duration_minutes: 45, matter: null }, 'an offline consultation by this lawyer, phone masked');
  t.notOk(res.body.includes('13912345678'), 'the full phone is in no response');
  const online = await call('POST', '/api/consultations', lawyer, { ...valid(), channel: 'video', person_name: '王芳' });
  t.equal(online.json().online, true, 'a video consultation is online');
  const [entry] = await audits('consultation.record', `consultation:${c.id}`);
  t.ok(entry, 'the recording is audited');
  t.notOk(JSON.stringify(entry).includes('刘晓东') || JSON.stringify(entry).includes('保证金'), 'without the person’s name or what was said');
});

t.test('confidential: another lawyer sees nothing of it; those who see every matter do, and every full read is audited', async (t) => {
  const url = `/api/consultations/${consultationId}`;
  for (const [who, label] of [[otherLawyer, 'another lawyer']] as const) {
    const res = await call('GET', url, who);
    t.equal(res.statusCode, 404, `${label}: 404, as for a missing one`);
    t.equal(res.json().error.code, 'CONSULTATION_NOT_FOUND', `${label}: CONSULTATION_NOT_FOUND`);
    t.notOk((await call('GET', '/api/consultations', who)).json().some((c: { id: number }) => c.id === consultationId), `${label}: not in the list`);
    t.equal((await call('POST', `${url}/unmask`, who, { reason: '核对联系方式' })).statusCode, 404, `${label}: cannot unmask it`);
  }
  t.equal((await call('GET', url, intern)).statusCode, 403, 'an intern may not see consultations at all');
  t.equal((await call('GET', url, finance)).statusCode, 403, 'nor finance');

  const before = (await audits('consultation.read', `consultation:${consultationId}`)).length;
  for (const who of [lawyer, director, frontDesk]) {
    const res = await call('GET', url, who);
    t.equal(res.statusCode, 200, 'the lawyer, the director and the administration see it');
    t.equal(res.json().summary, valid().summary, 'in full');
    t.equal(res.json().phone, '139****5678', 'phone masked');
  }
  const reads = await audits('consultation.read', `consultation:${consultationId}`);
  t.equal(reads.length - before, 3, 'each of the three reads is audited');
  t.same(reads.slice(-3).map((r) => (r.detail as { own: boolean }).own), [true, false, false], 'marking whose it is');

  const list = await call('GET', '/api/consultations?mine=true', director);
  t.notOk(list.json().some((c: { id: number }) => c.id === consultationId), 'the director’s own list holds only the director’s');
  const summary = (await call('GET', '/api/consultations', lawyer)).json().find((c: { id: number }) => c.id === consultationId);
  t.notOk('summary' in summary || 'advice' in summary || 'phone' in summary, 'a list shows no content and no contact');

  const unmasked = await call('POST', `${url}/unmask`, lawyer, { reason: '回电告知诉讼方案' });
  t.equal(unmasked.statusCode, 200, 'the lawyer unmasks the phone for a reason');
  t.match(unmasked.json(), { phone: '13912345678', masked: false }, 'the full phone');
  const [why] = await audits('consultation.unmask', `consultation:${consultationId}`);
  t.same(why?.detail, { reason: '回电告知诉讼方案' }, 'the reason is in the audit trail');
  t.equal((await call('POST', `${url}/unmask`, intern, { reason: '核对' })).statusCode, 403, 'an intern may not unmask');
});

t.test('fuzzed bodies: every broken one is a 400 and nothing is stored', async (t) => {
  const rnd = mulberry32(0x5eed_0521);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const required = ['channel', 'person_name', 'topic', 'summary', 'advice', 'consulted_at', 'duration_minutes'] as const;
  const breakers: ((b: Record<string, unknown>) => void)[] = [
    (b) => delete b[pick(required)],
    // Scalars of another type are coerced (the app's ajv setting, for querystrings): only what cannot be coerced is wrong here.
    (b) => (b[pick(required)] = pick([null, [], {}, '', ['x']])),
    (b) => (b[pick(['person_name', 'topic', 'summary', 'advice'])] = pick(['   ', '\t\n', '\u3000'.repeat(3)])),
    (b) => (b[pick(['unknown', 'lawyer_id', 'matter_id', 'created_at'])] = 1),
    (b) => (b.consulted_at = pick(['2026-13-01T00:00:00Z', 'yesterday', '', new Date(inst.clock.now().getTime() + 3 * HOUR).toISOString(), '1800-01-01T00:00:00Z'])),
    (b) => (b.duration_minutes = pick([0, -5, 1441, 1.5, 'thirty', 1e12])),
    (b) => (b.channel = pick(['fax', 'PHONE', '', 'wechat'])),
    (b) => (b.phone = pick(['abc', '1', '13912345678'.repeat(4)])),
    (b) => (b.email = pick(['no-at-sign', 'a@b', '@example.cn'])),
    (b) => (b.topic = 'x'.repeat(201)),
  ];
  const stored = await count('consultations');
  for (let i = 0; i < 60; i++) {
    const body: Record<string, unknown> = valid();
    const n = 1 + Math.floor(rnd() * 3);
    for (let k = 0; k < n; k++) pick(breakers)(body);
    const res = await call('POST', '/api/consultations', lawyer, body);
    t.equal(res.statusCode, 400, `case ${i}: 400 for ${JSON.stringify(body).slice(0, 160)}`);
    t.ok(isErrorShape(res.json()), `case ${i}: the error shape`);
  }
  t.equal(await count('consultations'), stored, 'nothing was stored');
});

t.test('conversion opens a matter through the matters service and files the consultation in its archive', async (t) => {
  const url = `/api/consultations/${consultationId}/convert`;
  const body = {
    title: '刘晓东诉北京鑫源物业管理有限公司房屋租赁合同纠纷',
    type: 'civil',
    cause: '房屋租赁合同纠纷',
    client: { kind: 'person' },
    other_parties: [{ role: 'opposing', kind: 'organization', name: '北京鑫源物业管理有限公司' }],
    claims: '返还租赁保证金20万元',
  };
  const matters = await count('matters');
  t.equal((await call('POST', url, otherLawyer, body)).statusCode, 404, 'another lawyer cannot convert what they cannot see');
  const broken = await call('POST', url, lawyer, { ...body, client: { kind: 'person', id_number: '110105194912310021' } });
  t.equal(broken.statusCode, 400, 'an invalid resident ID is refused by the matters service');
  t.equal(broken.json().error.code, 'INVALID_ID_NUMBER', 'INVALID_ID_NUMBER');
  t.equal(await count('matters'), matters, 'no matter was opened');
  t.equal((await db.selectFrom('consultations').select('converting_since').where('id', '=', consultationId).executeTakeFirstOrThrow()).converting_since, null, 'and the consultation is not held');

  const res = await call('POST', url, lawyer, body);
  t.equal(res.statusCode, 201, 'converted');
  const { matter, consultation } = res.json();
  t.equal(matter.status, 'open', 'no conflict: the matter is open');
  t.same(consultation.matter, { id: matter.id, number: matter.number }, 'the consultation names its matter');
  const opened = (await call('GET', `/api/matters/${matter.id}`, lawyer)).json();
  t.equal(opened.responsible_lawyer_id, lawyer.id, 'the consultation’s lawyer is responsible');
  t.match(opened.parties, [{ role: 'client', kind: 'person', name: '刘晓东' }, { role: 'opposing', name: '北京鑫源物业管理有限公司' }], 'the person consulting is the client');
  t.equal(opened.intake.facts, valid().summary, 'the intake facts are what the consultation learned');
  t.match(opened.intake.source, /来所面谈转化/, 'and its source says where it came from');
  const check = await db.selectFrom('conflict_checks').select(['purpose', 'matter_id']).where('id', '=', opened.conflict_check.id).executeTakeFirstOrThrow();
  t.same(check, { purpose: 'intake', matter_id: matter.id }, 'with its own intake conflict check');
  const client = await db.selectFrom('clients').select('phone').where('id', '=', opened.parties[0].client_id).executeTakeFirstOrThrow();
  t.equal(client.phone, '13912345678', 'the client record takes the phone from the consultation');

  const archive = await call('GET', `/api/matters/${matter.id}/archive?kind=consultation`, lawyer);
  t.equal(archive.statusCode, 200, 'the matter’s archive');
  const entry = await db.selectFrom('archive_entries').selectAll().where('source', '=', 'consultations').where('source_id', '=', String(consultationId)).executeTakeFirstOrThrow();
  t.match(entry, { matter_id: matter.id, kind: 'consultation', title: `咨询记录：${valid().topic}` }, 'holds the consultation');
  t.match(entry.sha256, /^[0-9a-f]{64}$/, 'with the hash of the record');
  t.ok(JSON.stringify(archive.json()).includes(`咨询记录：${valid().topic}`), 'listed in the archive');

  const again = await call('POST', url, lawyer, body);
  t.equal(again.statusCode, 409, 'a second conversion is refused');
  t.equal(again.json().error.code, 'CONSULTATION_CONVERTED', 'CONSULTATION_CONVERTED');
  t.equal(await count('matters'), matters + 1, 'exactly one matter was opened');

  t.equal((await call('GET', `/api/consultations/${consultationId}`, otherLawyer)).statusCode, 404, 'another lawyer still sees nothing');
  t.equal((await call('POST', `/api/matters/${matter.id}/team`, lawyer, { user_id: otherLawyer.id })).statusCode, 200, 'until put on the matter’s team');
  t.equal((await call('GET', `/api/consultations/${consultationId}`, otherLawyer)).statusCode, 200, 'the team sees the consultation filed in its matter');
  t.ok((await audits('consultation.convert', `consultation:${consultationId}`)).length === 1, 'the conversion is audited');
});

t.test('a conversion whose parties hit an existing matter waits for the conflict reviewer', async (t) => {
  const created = await call('POST', '/api/consultations', lawyer, { ...valid(), person_name: '赵海', organization: null, topic: '物业服务合同', channel: 'phone' });
  const res = await call('POST', `/api/consultations/${created.json().id}/convert`, lawyer, {
    title: '赵海与刘晓东物业纠纷',
    type: '民事',
    client: { kind: 'person' },
    other_parties: [{ role: 'opposing', kind: 'person', name: '刘晓东' }],
  });
  t.equal(res.statusCode, 201, 'converted');
  t.equal(res.json().matter.status, 'pending_conflict_review', 'the opposing party is the client of another matter: it waits for review');
});

t.test('the demo: client records on the demo practice’s matters, made through the services', async (t) => {
  const staff: [string, Role][] = [['director', 'director'], ['partner.li', 'partner'], ['lawyer.zhang', 'lawyer'], ['lawyer.chen', 'lawyer'], ['intern.zhao', 'intern'], ['admin.liu', 'admin_staff'], ['finance.sun', 'finance']];
  for (const [username, role] of staff) await createUser(inst.ctx, { userId: null, username: 'test', role: null, sourceIp: null }, { username, displayName: `演示 ${username}`, role, password: 'Correct-Horse-42', mustChangePassword: false });
  await loadDemoPractice(inst.ctx);
  const before = await count('consultations');
  await seedClientRecordsDemo(inst.ctx);
  const demo = await db.selectFrom('consultations').selectAll().where('id', '>', 0).orderBy('id', 'desc').limit(2).execute();
  t.equal((await count('consultations')) - before, 2, 'two consultations');
  const converted = demo.find((c) => c.matter_id !== null);
  t.equal(converted?.person_name, '吴晓丽', 'the visit became a matter');
  const labour = await db.selectFrom('matters').select(['title', 'status']).where('id', '=', converted!.matter_id!).executeTakeFirstOrThrow();
  t.same(labour, { title: '吴晓丽与北京远航物流有限公司劳动争议仲裁', status: 'open' }, 'an open labour arbitration');
  const records = await db.selectFrom('communication_records as r').innerJoin('matters as m', 'm.id', 'r.matter_id').select(['r.id', 'r.kind', 'r.details', 'r.client_informed_via', 'm.title', 'm.status']).orderBy('r.id').execute();
  const judgment = records.find((r) => r.kind === 'received_document');
  t.match(judgment, { title: '北京华信科技有限公司诉上海瑞丰国际贸易有限公司买卖合同纠纷', status: 'open', client_informed_via: 'notification' }, 'the judgment on the open 华信 matter, the client told');
  const served = (judgment!.details as { served_on: string }).served_on;
  const computed = await call('POST', '/api/deadlines/compute', director, { rule: 'civil_appeal_judgment', trigger_date: served });
  t.equal((judgment!.details as { deadline: { due: string } }).deadline.due, computed.json().due, 'with its appeal deadline');
  const letter = records.find((r) => r.kind === 'draft');
  const pending = await db.selectFrom('client_confirmations').select(['decision', 'superseded_at']).where('record_id', '=', letter!.id).execute();
  t.same(pending, [{ decision: null, superseded_at: null }], 'a lawyer’s letter waiting for the client');
  t.match(records.find((r) => r.kind === 'detention_meeting'), { title: '赵磊涉嫌合同诈骗罪辩护', client_informed_via: 'phone' }, 'a meeting log with the needs passed on');
  const invoice = await db.selectFrom('invoice_requests').select(['status', 'invoice_type']).orderBy('id', 'desc').executeTakeFirstOrThrow();
  t.same(invoice, { status: 'processing', invoice_type: 'special' }, 'an invoice request in processing');
  await seedClientRecordsDemo(inst.ctx);
  t.equal((await count('consultations')) - before, 2, 'seeding again adds nothing');
});
