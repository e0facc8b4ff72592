import t from 'tap';
import { createTestInstance, isErrorShape, signedIn } from '../helpers/instance.js';

const inst = await createTestInstance(t);
const { app } = inst;
const owner = await signedIn(inst, 'lawyer');
const teammate = await signedIn(inst, 'intern');
const outsider = await signedIn(inst, 'lawyer');
const outsiderIntern = await signedIn(inst, 'intern');
const partner = await signedIn(inst, 'partner');
const director = await signedIn(inst, 'director');
const adminStaff = await signedIn(inst, 'admin_staff');
const finance = await signedIn(inst, 'finance');
const itAdmin = await signedIn(inst, 'it_admin');
const auditor = await signedIn(inst, 'auditor');

type As = { headers: { authorization: string } };
const post = (as: As, url: string, payload: object) => app.inject({ method: 'POST', url, headers: as.headers, payload });
const get = (as: As, url: string) => app.inject({ url, headers: as.headers });

const created = await post(owner, '/api/matters', {
  title: '陈静诉李强民间借贷纠纷',
  type: 'civil',
  cause: '民间借贷纠纷',
  court: '北京市朝阳区人民法院',
  stage: '一审',
  fee_arrangement: 'fixed',
  fee_amount: '30000.00',
  team_ids: [teammate.id],
  intake: { facts: '2024年借款20万元未还', claims: '返还借款及利息', risk_notice_given: true },
  parties: [
    { role: 'client', kind: 'person', name: '陈静', id_number: '11010519491231002x', phone: '13812341999', address: '北京市朝阳区建国路88号' },
    { role: 'opposing', kind: 'person', name: '李强' },
  ],
});
const matter = created.json();

t.test('creating a matter', async (t) => {
  t.equal(created.statusCode, 201, '201');
  t.match(matter, { title: '陈静诉李强民间借贷纠纷', type: 'civil', type_label: '民事', status: 'open', fee_amount: '30000.00', responsible_lawyer_id: owner.id }, 'fields kept');
  t.type(matter.number, 'string', 'numbered');
  t.equal(matter.parties.length, 2, 'two parties');
  const client = matter.parties.find((p: { role: string }) => p.role === 'client');
  t.equal(client.id_number, '110105********002X', 'resident ID masked, lowercase x normalised');
  t.ok(client.client_id, 'the client party is linked to a client record');
  t.same(matter.team.map((m: { user_id: number }) => m.user_id).sort(), [owner.id, teammate.id].sort(), 'team = responsible lawyer + members');
  t.equal(matter.intake.risk_notice_given, true, 'intake facts kept (Z6.3.3.2)');
  const audit = await inst.ctx.db.selectFrom('audit_log').selectAll().where('action', '=', 'matter.create').where('object', '=', `matter:${matter.number}`).execute();
  t.equal(audit.length, 1, 'audited');
});

t.test('matter type may be given by its Chinese name; a bad one is refused', async (t) => {
  const zh = await post(owner, '/api/matters', { title: '刑事辩护', type: '刑事', parties: [{ role: 'client', kind: 'person', name: '周某' }] });
  t.equal(zh.statusCode, 201, 'created');
  t.equal(zh.json().type, 'criminal', '刑事 → criminal');
  t.match(zh.json().number, /刑辩字第0001号$/, 'its own sequence');
  const bad = await post(owner, '/api/matters', { title: 'x', type: '外星', parties: [{ role: 'client', kind: 'person', name: '周某' }] });
  t.equal(bad.statusCode, 400, 'unknown type → 400');
  t.equal(bad.json().error.code, 'INVALID_MATTER_TYPE', 'stable code');
});

t.test('identifiers are validated: bad resident ID refused, bad USCC check digit warns', async (t) => {
  const badId = await post(owner, '/api/matters', { title: 'x', type: 'civil', parties: [{ role: 'client', kind: 'person', name: '甲', id_number: '110105194912310021' }] });
  t.equal(badId.statusCode, 400, 'wrong check digit → 400');
  t.equal(badId.json().error.code, 'INVALID_ID_NUMBER', 'stable code');
  const malformed = await post(owner, '/api/matters', { title: 'x', type: 'civil', parties: [{ role: 'client', kind: 'organization', name: '乙公司', uscc: '91350100M00010OY4' }] });
  t.equal(malformed.statusCode, 400, 'malformed USCC → 400');
  const pilot = await post(owner, '/api/matters', { title: '试点代码公司顾问', type: 'legal_counsel', parties: [{ role: 'client', kind: 'organization', name: '丙试点有限公司', uscc: '91350100M000100Y44' }] });
  t.equal(pilot.statusCode, 201, 'a USCC failing only the check digit is accepted');
  t.match(pilot.json().warnings[0], /check digit/, 'with a warning');
  const none = await post(owner, '/api/matters', { title: 'x', type: 'civil', parties: [{ role: 'opposing', kind: 'person', name: '丁' }] });
  t.equal(none.statusCode, 400, 'a matter needs a client');
  t.ok(isErrorShape(none.json()), 'error shape');
});

t.test('visibility matrix (Z6.3.3.4): no access by guessing ids', async (t) => {
  const cases: [string, As, boolean][] = [
    ['owner', owner, true],
    ['team member (intern)', teammate, true],
    ['other lawyer', outsider, false],
    ['other intern', outsiderIntern, false],
    ['partner not on the team', partner, false],
    ['director', director, true],
    ['administrative staff', adminStaff, true],
    ['finance', finance, true],
  ];
  for (const [label, as, sees] of cases) {
    const one = await get(as, `/api/matters/${matter.id}`);
    t.equal(one.statusCode, sees ? 200 : 404, `${label}: GET → ${sees ? 200 : 404}`);
    const list = await get(as, '/api/matters?limit=200');
    t.equal(list.json().some((m: { id: number }) => m.id === matter.id), sees, `${label}: ${sees ? 'listed' : 'not listed'}`);
    if (!sees) {
      const missing = await get(as, '/api/matters/999999');
      t.same([one.statusCode, one.json().error.code], [missing.statusCode, missing.json().error.code], `${label}: same answer as for a missing matter`);
      t.equal((await get(as, `/api/matters/${matter.id}/records`)).statusCode, 404, `${label}: records hidden`);
      t.equal((await post(as, `/api/matters/${matter.id}/records`, { kind: 'work_log', title: 'x', content: 'y' })).statusCode, 404, `${label}: cannot write records`);
    }
  }
  for (const [label, as] of [['it_admin', itAdmin], ['auditor', auditor]] as const) {
    t.equal((await get(as, `/api/matters/${matter.id}`)).statusCode, 403, `${label}: no client data at all`);
  }
});

t.test('masking: interns see masked data and cannot unmask; a lawyer unmasks with an audited reason', async (t) => {
  const clientId = matter.parties.find((p: { role: string }) => p.role === 'client').client_id;
  const asIntern = await get(teammate, `/api/clients/${clientId}`);
  t.equal(asIntern.statusCode, 200, 'the team’s intern sees the client');
  t.match(asIntern.json(), { id_number: '110105********002X', phone: '138****1999', masked: true }, 'masked ID and phone');
  t.notMatch(asIntern.json().address, '建国路88号', 'address masked');
  t.equal((await post(teammate, `/api/clients/${clientId}/unmask`, { reason: '核对身份' })).statusCode, 403, 'an intern cannot unmask');
  const unmasked = await post(owner, `/api/clients/${clientId}/unmask`, { reason: '核对身份' });
  t.equal(unmasked.statusCode, 200, 'the lawyer may unmask');
  t.match(unmasked.json(), { id_number: '11010519491231002X', phone: '13812341999', masked: false }, 'full data');
  const partyId = matter.parties.find((p: { role: string }) => p.role === 'client').id;
  const party = await post(owner, `/api/matters/${matter.id}/parties/${partyId}/unmask`, { reason: '立案材料' });
  t.equal(party.json().id_number, '11010519491231002X', 'party unmasked');
  const audit = await inst.ctx.db.selectFrom('audit_log').selectAll().where('action', 'in', ['client.unmask', 'party.unmask']).execute();
  t.equal(audit.length, 2, 'each unmasking audited');
  t.match(audit[0]?.detail, { reason: '核对身份' }, 'with the reason');
  t.equal((await post(outsider, `/api/clients/${clientId}/unmask`, { reason: '好奇' })).statusCode, 404, 'not for a lawyer who cannot see the client');
  t.equal((await get(outsider, `/api/clients/${clientId}`)).statusCode, 404, 'client hidden from outsiders');
});

t.test('a client’s edits reach the conflict index at once', async (t) => {
  const c = await post(owner, '/api/matters', { title: '更名测试', type: 'civil', parties: [{ role: 'client', kind: 'organization', name: '杭州旧名实业有限公司' }] });
  const clientId = c.json().parties[0].client_id;
  const patched = await app.inject({
    method: 'PATCH',
    url: `/api/clients/${clientId}`,
    headers: owner.headers,
    payload: { name: '杭州新名控股有限公司', legal_representative: '周法人', members: [{ relation: 'shareholder', name: '吴股东' }] },
  });
  t.equal(patched.statusCode, 200, 'edited');
  const found = async (name: string) =>
    (await post(outsider, '/api/conflict-checks', { parties: [{ name }] })).json().hits.filter((h: { party_role: string; redacted: boolean }) => h.redacted && h.party_role === 'client').length;
  t.ok((await found('杭州新名控股有限公司')) >= 1, 'the new name is searched');
  t.ok((await found('杭州旧名实业有限公司')) >= 1, 'the old name still is');
  t.ok((await found('周法人')) >= 1, 'the new legal representative is searched');
  t.ok((await found('吴股东')) >= 1, 'the new shareholder is searched');
});

t.test('out-of-range ids and dates are refused with 400, not a database error', async (t) => {
  t.equal((await get(owner, '/api/matters/9999999999')).statusCode, 400, 'an id beyond integer range');
  t.equal((await post(owner, '/api/matters', { title: 'x', type: 'civil', parties: [{ role: 'client', kind: 'person', name: '甲', client_id: 3000000000 }] })).statusCode, 400, 'a body id beyond integer range');
  t.equal((await post(owner, `/api/matters/${matter.id}/records`, { kind: 'work_log', title: 'x', content: 'y', occurred_on: '0000-01-01' })).statusCode, 400, 'year 0');
  t.equal((await post(owner, `/api/matters/${matter.id}/client-informed`, { method: 'phone', informed_at: '0000-01-01T00:00:00Z' })).statusCode, 400, 'a time in year 0');
});

t.test('work records, working papers and the client-informed check (Z6.3.3.2)', async (t) => {
  const r = await post(teammate, `/api/matters/${matter.id}/records`, { kind: 'working_paper', title: '证据目录', content: '借条、转账记录', hours: '1.5', occurred_on: '2026-11-20' });
  t.equal(r.statusCode, 201, 'the team’s intern adds a working paper');
  const fix = await post(owner, `/api/matters/${matter.id}/records`, { kind: 'work_log', title: '更正', content: '金额应为20万元', corrects_id: r.json().id });
  t.equal(fix.statusCode, 201, 'a correction is a new record');
  const future = await post(owner, `/api/matters/${matter.id}/records`, { kind: 'work_log', title: 'x', content: 'y', occurred_on: '2999-01-01' });
  t.equal(future.statusCode, 400, 'no future work');
  const list = await get(teammate, `/api/matters/${matter.id}/records`);
  t.equal(list.json().length, 2, 'both listed');
  t.equal(list.json()[0].corrects_id, r.json().id, 'the correction names the original');
  t.equal((await get(owner, `/api/matters/${matter.id}`)).json().client_informed, null, 'not yet informed');
  const informed = await post(owner, `/api/matters/${matter.id}/client-informed`, { method: 'phone', note: '已告知承办律师及收费' });
  t.equal(informed.statusCode, 200, 'recorded');
  t.match((await get(owner, `/api/matters/${matter.id}`)).json().client_informed, { method: 'phone', by: owner.id }, 'shown on the matter');
});

t.test('status changes follow the allowed transitions and are audited', async (t) => {
  const patch = (payload: object) => app.inject({ method: 'PATCH', url: `/api/matters/${matter.id}`, headers: owner.headers, payload });
  t.equal((await patch({ status: 'suspended' })).json().status, 'suspended', 'open → suspended');
  const closed = await patch({ status: 'closed', closing_summary: '调解结案' });
  t.equal(closed.json().status, 'closed', 'suspended → closed');
  t.type(closed.json().closed_at, 'string', 'closed_at set');
  t.equal((await patch({ status: 'suspended' })).statusCode, 409, 'closed → suspended refused');
  t.equal((await patch({ status: 'open' })).json().closed_at, null, 'reopened');
  t.equal((await patch({ responsible_lawyer_id: teammate.id })).statusCode, 400, 'an intern cannot be the responsible lawyer');
  const moved = await patch({ responsible_lawyer_id: partner.id });
  t.equal(moved.json().responsible_lawyer_id, partner.id, 'reassigned');
  t.ok(moved.json().team.some((m: { user_id: number; role: string }) => m.user_id === owner.id && m.role === 'member'), 'the former lawyer stays on the team');
  t.equal((await get(partner, `/api/matters/${matter.id}`)).statusCode, 200, 'the new lawyer sees it');
  const actions = (await inst.ctx.db.selectFrom('audit_log').select('action').where('object', '=', `matter:${matter.number}`).execute()).map((a) => a.action);
  t.ok(actions.filter((a) => a === 'matter.status_change').length >= 3 && actions.includes('matter.reassign'), 'status changes and reassignment audited');
});

t.test('team membership grants and removes visibility', async (t) => {
  t.equal((await post(owner, `/api/matters/${matter.id}/team`, { user_id: outsider.id })).statusCode, 200, 'added');
  t.equal((await get(outsider, `/api/matters/${matter.id}`)).statusCode, 200, 'now visible');
  t.equal((await app.inject({ method: 'DELETE', url: `/api/matters/${matter.id}/team/${outsider.id}`, headers: owner.headers })).statusCode, 200, 'removed');
  t.equal((await get(outsider, `/api/matters/${matter.id}`)).statusCode, 404, 'hidden again');
  t.equal((await app.inject({ method: 'DELETE', url: `/api/matters/${matter.id}/team/${partner.id}`, headers: owner.headers })).statusCode, 409, 'the responsible lawyer cannot be removed');
});

t.test('a party added later gets its own recorded check', async (t) => {
  const res = await post(owner, `/api/matters/${matter.id}/parties`, { role: 'third_party', kind: 'person', name: '周某' });
  t.equal(res.statusCode, 201, 'added');
  t.equal(res.json().conflict_check.hit_count, 1, 'hit on the criminal matter of 周某');
  t.equal(res.json().conflict_check.status, 'pending_review', 'sent to review');
  const decided = await post(director, `/api/conflict-checks/${res.json().conflict_check.id}/decision`, { decision: 'conflict', note: '新增第三人与在办刑事案件冲突' });
  t.equal(decided.statusCode, 200, 'the director finds a conflict');
  t.equal((await get(owner, `/api/matters/${matter.id}`)).json().status, 'suspended', 'the running matter is suspended');
  t.equal((await app.inject({ method: 'PATCH', url: `/api/matters/${matter.id}`, headers: owner.headers, payload: { status: 'open' } })).json().status, 'open', 'and reopened once the firm has dealt with it');
  const own = await post(owner, `/api/matters/${matter.id}/parties`, { role: 'related', kind: 'person', name: '陈静' });
  t.equal(own.json().conflict_check.hit_count, 0, 'the matter’s own parties are not hits on itself');
});

t.test('concurrent intakes never share a matter number', async (t) => {
  const n = 12;
  const results = await Promise.all(
    Array.from({ length: n }, (_, i) => post(owner, '/api/matters', { title: `并发收案${i}`, type: 'arbitration', parties: [{ role: 'client', kind: 'person', name: `并发委托人${i}` }] })),
  );
  t.ok(results.every((r) => r.statusCode === 201), 'all created');
  const numbers = results.map((r) => r.json().number as string);
  t.equal(new Set(numbers).size, n, 'all numbers distinct');
  const seqs = numbers.map((x) => Number(/第(\d+)号/.exec(x)![1])).sort((a, b) => a - b);
  t.same(seqs, Array.from({ length: n }, (_, i) => i + 1), 'consecutive from 1, no gaps');
});

t.test('two intakes for the two sides of one dispute, at the same moment, cannot both come out clear', async (t) => {
  for (let round = 0; round < 3; round++) {
    const [a, b] = [`甲方${round}号`, `乙方${round}号`];
    const [x, y] = await Promise.all([
      post(owner, '/api/matters', { title: `${a}诉${b}`, type: 'civil', parties: [{ role: 'client', kind: 'person', name: a }, { role: 'opposing', kind: 'person', name: b }] }),
      post(outsider, '/api/matters', { title: `${b}诉${a}`, type: 'civil', parties: [{ role: 'client', kind: 'person', name: b }, { role: 'opposing', kind: 'person', name: a }] }),
    ]);
    t.ok(x.statusCode === 201 && y.statusCode === 201, `round ${round}: both recorded`);
    t.ok(x.json().conflict_check.hit_count + y.json().conflict_check.hit_count > 0, `round ${round}: the later one sees the earlier`);
  }
});

t.test('the numbering pattern is a setting; without {type} all types share one sequence', async (t) => {
  const put = (as: As, payload: object) => app.inject({ method: 'PUT', url: '/api/settings/matter-numbering', headers: as.headers, payload });
  t.equal((await put(owner, { pattern: '{year}第{seq}号', firm_abbreviation: '' })).statusCode, 403, 'a lawyer may not change it');
  const noYear = await put(director, { pattern: '{firm}第{seq:5}号', firm_abbreviation: '京明衡' });
  t.equal(noYear.statusCode, 400, 'a pattern without {year} would repeat numbers next year');
  t.equal((await put(director, { pattern: '{year}第{sequence}号', firm_abbreviation: '' })).statusCode, 400, 'an unknown token is refused');
  const set = await put(director, { pattern: '{firm}{year}第{seq:5}号', firm_abbreviation: '京明衡' });
  t.equal(set.statusCode, 200, 'the director sets it');
  t.same((await get(owner, '/api/settings/matter-numbering')).json(), { pattern: '{firm}{year}第{seq:5}号', firm_abbreviation: '京明衡' }, 'and anyone practising reads it');
  const a = await post(owner, '/api/matters', { title: 'a', type: 'civil', parties: [{ role: 'client', kind: 'person', name: '甲一' }] });
  const b = await post(owner, '/api/matters', { title: 'b', type: 'criminal', parties: [{ role: 'client', kind: 'person', name: '乙二' }] });
  t.match(a.json().number, /^京明衡\d{4}第00001号$/, 'pattern applied');
  t.match(b.json().number, /^京明衡\d{4}第00002号$/, 'shared sequence');
  await inst.ctx.db.deleteFrom('settings').where('key', '=', 'matter_numbering').execute();
});

t.test('clients: register persons and organisations with shareholders; duplicates refused; renames kept', async (t) => {
  const org = await post(owner, '/api/clients', {
    kind: 'organization',
    name: '深圳市腾跃电子股份有限公司',
    uscc: '91350100M000100Y43',
    legal_representative: '马腾跃',
    aliases: ['腾跃电子'],
    members: [{ relation: 'shareholder', name: '马腾跃', id_number: '440524188001010014', share_percent: 60 }, { relation: 'shareholder', kind: 'organization', name: '深圳创投有限公司', share_percent: 40 }],
  });
  t.equal(org.statusCode, 201, 'organisation registered');
  t.equal(org.json().members.length, 2, 'shareholders kept');
  t.equal(org.json().members[0].id_number, '440524********0014', 'shareholder ID masked');
  const dup = await post(owner, '/api/clients', { kind: 'organization', name: '别名', uscc: '91350100M000100Y43' });
  t.equal(dup.statusCode, 409, 'same USCC refused');
  const renamed = await app.inject({ method: 'PATCH', url: `/api/clients/${org.json().id}`, headers: owner.headers, payload: { name: '深圳市腾跃科技股份有限公司' } });
  t.ok(renamed.json().aliases.includes('深圳市腾跃电子股份有限公司'), 'the former name becomes an alias');
  const person = await post(owner, '/api/clients', { kind: 'person', name: 'John Smith', id_type: 'passport', id_number: 'E12345678' });
  t.equal(person.statusCode, 201, 'a passport holder');
  const wrong = await post(owner, '/api/clients', { kind: 'person', name: '某', uscc: '91350100M000100Y43' });
  t.equal(wrong.statusCode, 400, 'a person has no USCC');
  t.equal((await post(teammate, '/api/clients', { kind: 'person', name: '某' })).statusCode, 403, 'interns do not register clients');
  const search = await get(owner, `/api/clients?q=${encodeURIComponent('腾跃')}`);
  t.equal(search.json().length, 1, 'found by name');
  const m = await post(owner, '/api/matters', { title: '腾跃常年顾问', type: 'legal_counsel', parties: [{ role: 'client', kind: 'organization', name: '深圳市腾跃科技股份有限公司', client_id: org.json().id }] });
  t.equal(m.statusCode, 201, 'a matter for the registered client');
  const guessed = await post(outsider, '/api/matters', { title: '冒用客户', type: 'civil', parties: [{ role: 'client', kind: 'organization', name: '某公司', client_id: org.json().id }] });
  t.equal(guessed.statusCode, 404, 'a client id the user cannot see cannot be attached to a new matter');
  t.equal(guessed.json().error.code, 'CLIENT_NOT_FOUND', 'answered as if it did not exist');
  const sameUscc = await post(outsider, '/api/matters', { title: '同一信用代码', type: 'civil', parties: [{ role: 'client', kind: 'organization', name: '腾跃', uscc: '91350100M000100Y43' }] });
  t.equal(sameUscc.statusCode, 201, 'another lawyer may take on a client with a known USCC');
  t.equal(sameUscc.json().parties[0].client_id, null, 'but the matter is not linked to a client record that lawyer cannot see');
  t.match(sameUscc.json().warnings.join(' '), /another team/, 'and is told why');
  t.equal((await get(outsider, `/api/clients/${org.json().id}`)).statusCode, 404, 'the record stays hidden from that lawyer');
  t.equal(sameUscc.json().conflict_check.hit_count > 0, true, 'the conflict check shows the tie instead');
  const dupe = await post(outsider, '/api/clients', { kind: 'organization', name: 'x', uscc: '91350100M000100Y43' });
  t.notMatch(dupe.json().error.message, String(org.json().id), 'a duplicate does not reveal the hidden record’s id');
  const c = await post(owner, '/api/conflict-checks', { parties: [{ name: '深圳创投有限公司' }, { name: '深圳市腾跃电子股份有限公司' }] });
  const hits = c.json().hits.filter((h: { matter_id: number }) => h.matter_id === m.json().id);
  t.ok(hits.some((h: { match: string; query_name: string }) => h.match === 'related' && h.query_name === '深圳创投有限公司'), 'a registered shareholder is indexed with the matter');
  t.ok(hits.some((h: { match: string; query_name: string }) => h.match === 'exact_name' && h.query_name === '深圳市腾跃电子股份有限公司'), 'so is the former name');
});
