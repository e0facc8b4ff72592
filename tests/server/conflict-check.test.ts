import t from 'tap';
import { createTestInstance, isErrorShape, signedIn } from '../helpers/instance.js';

const inst = await createTestInstance(t);
const { app } = inst;
const lawyer = await signedIn(inst, 'lawyer');
const other = await signedIn(inst, 'lawyer');
const partner = await signedIn(inst, 'partner');
const director = await signedIn(inst, 'director');

async function openMatter(as: { headers: { authorization: string } }, body: Record<string, unknown>) {
  const res = await app.inject({ method: 'POST', url: '/api/matters', headers: as.headers, payload: body });
  if (res.statusCode !== 201) throw new Error(`matter not created: ${res.statusCode} ${res.body}`);
  return res.json();
}

async function check(as: { headers: { authorization: string } }, parties: Record<string, unknown>[]) {
  const res = await app.inject({ method: 'POST', url: '/api/conflict-checks', headers: as.headers, payload: { parties } });
  if (res.statusCode !== 201) throw new Error(`check failed: ${res.statusCode} ${res.body}`);
  return res.json();
}

// The firm's existing book: matters opened by `lawyer`, so `other` cannot see them.
const m1 = await openMatter(lawyer, {
  title: '北京华信科技有限公司诉上海瑞丰贸易有限公司买卖合同纠纷',
  type: 'civil',
  cause: '买卖合同纠纷',
  parties: [
    { role: 'client', kind: 'organization', name: '北京华信科技有限公司', uscc: '91350100M000100Y43', legal_representative: '李建国', shareholders: [{ name: '赵丽华', id_number: '11010519491231002X' }] },
    { role: 'opposing', kind: 'organization', name: '上海瑞丰贸易有限公司' },
  ],
});
const m2 = await openMatter(lawyer, {
  title: '张伟明离婚纠纷',
  type: '民事',
  parties: [
    { role: 'client', kind: 'person', name: '王芳' },
    { role: 'opposing', kind: 'person', name: '张伟明', id_number: '440524188001010014' },
  ],
});

t.test('a matter with no prior book opens at once on an automatic, recorded check', async (t) => {
  t.match(m1, { status: 'open', conflict_check: { status: 'clear', hit_count: 0 } }, 'clear check, matter open');
  t.match(m1.number, /^\(\d{4}\)民代字第\d{4}号$/, 'number follows the default pattern');
  t.ok(m1.parties.every((p: { id_number: string | null }) => p.id_number === null || p.id_number.includes('*')), 'ID numbers are masked');
  const stored = await inst.ctx.db.selectFrom('conflict_checks').selectAll().where('id', '=', m1.conflict_check.id).executeTakeFirstOrThrow();
  t.equal(stored.matter_id, m1.id, 'the check belongs to the matter');
  t.equal(stored.purpose, 'intake', 'recorded as an intake check');
});

t.test('each match type is found and labelled', async (t) => {
  const cases: [string, Record<string, unknown>, string, string][] = [
    ['exact_id by resident ID', { name: '某人', id_number: '440524188001010014' }, 'exact_id', '张伟明'],
    ['exact_id by USCC', { name: '某公司', uscc: '91350100M000100Y43' }, 'exact_id', '北京华信科技有限公司'],
    ['exact_name', { name: '上海瑞丰贸易有限公司' }, 'exact_name', '上海瑞丰贸易有限公司'],
    ['normalized: full width, traditional, other suffix', { name: '北京華信科技有限責任公司' }, 'normalized', '北京华信科技有限公司'],
    ['normalized: spaces and brackets', { name: '上海 瑞丰贸易（集团）有限公司' }, 'normalized', '上海瑞丰贸易有限公司'],
    ['pinyin', { name: 'Zhang Weiming', kind: 'person' }, 'pinyin', '张伟明'],
    ['pinyin, given name first', { name: 'Weiming Zhang' }, 'pinyin', '张伟明'],
    ['fuzzy', { name: '上海瑞丰国际贸易有限公司' }, 'fuzzy', '上海瑞丰贸易有限公司'],
    ['fuzzy: one character off in a short company name', { name: '北京华新科技有限公司' }, 'fuzzy', '北京华信科技有限公司'],
    ['normalized: without the place of registration', { name: '华信科技有限公司' }, 'normalized', '北京华信科技有限公司'],
    ['normalized: the place in brackets', { name: '华信科技（北京）有限公司' }, 'normalized', '北京华信科技有限公司'],
    ['related: legal representative of a party', { name: '李建国', kind: 'person' }, 'related', '北京华信科技有限公司'],
    ['related: shareholder of a party', { name: '赵丽华', kind: 'person' }, 'related', '北京华信科技有限公司'],
    ['related: searched company’s shareholder is a party elsewhere', { name: '深圳某某投资有限公司', shareholders: [{ name: '张伟明' }] }, 'related', '张伟明'],
  ];
  for (const [label, party, match, partyName] of cases) {
    const res = await check(lawyer, [party]);
    const hit = res.hits.find((h: { party_name: string }) => h.party_name === partyName);
    t.ok(hit, `${label}: ${partyName} is hit`);
    t.equal(hit?.match, match, `${label}: match type ${match}`);
    t.ok(hit?.score > 0 && hit?.score <= 1, `${label}: score in (0, 1]`);
    t.equal(res.status, 'pending_review', `${label}: a check with hits waits for a reviewer`);
  }
  const echoed = await check(lawyer, [{ name: '某人', id_number: '440524188001010014', shareholders: [{ name: '某股东', id_number: '11010519491231002X' }] }]);
  t.equal(echoed.query[0].id_number, '440524********0014', 'the searched ID number is echoed masked');
  t.equal(echoed.query[0].shareholders[0].id_number, '110105********002X', 'so is a shareholder’s');
  const evidence = await check(lawyer, [{ name: '北京华信科技发展有限公司', shareholders: [{ name: '赵某', id_number: '11010519491231002X' }] }]);
  t.match(
    evidence.hits.find((h: { party_name: string }) => h.party_name === '北京华信科技有限公司'),
    { match: 'related', underlying_match: 'exact_id' },
    'an identical shareholder ID outranks a similar company name for the same party',
  );
  const none = await check(lawyer, [{ name: '完全无关的名字有限公司' }]);
  t.equal(none.hits.length, 0, 'an unrelated name has no hit');
  t.equal(none.status, 'clear', 'and is clear at once');
  const namesake = await check(lawyer, [{ name: '张伟明', id_number: '110105197803152310' }]);
  t.notOk(namesake.hits.some((h: { party_name: string }) => h.party_name === '张伟明'), 'a namesake with another resident ID is another person');
  const noId = await check(lawyer, [{ name: '张伟明' }]);
  t.ok(noId.hits.some((h: { party_name: string }) => h.party_name === '张伟明'), 'without an ID number the name still hits');
  const near = await check(lawyer, [{ name: '张伟民', kind: 'person' }]);
  t.notOk(near.hits.some((h: { party_name: string }) => h.party_name === '张伟明'), '张伟民 is not 张伟明');
});

t.test('a registered organisation brings its recorded shareholders into the search', async (t) => {
  const reg = await app.inject({
    method: 'POST',
    url: '/api/clients',
    headers: lawyer.headers,
    payload: { kind: 'organization', name: '广州南方物流有限公司', uscc: '91440300MA5F8QRT3L', members: [{ relation: 'shareholder', name: '王芳' }] },
  });
  t.equal(reg.statusCode, 201, 'registered with a shareholder');
  const res = await check(lawyer, [{ name: '广州南方物流有限公司', uscc: '91440300MA5F8QRT3L' }]);
  const hit = res.hits.find((h: { party_name: string }) => h.party_name === '王芳');
  t.ok(hit, 'the shareholder from the register is searched too');
  t.match(hit, { match: 'related', query_via: 'shareholder', matter_id: m2.id }, 'and hits her matter as related');
});

t.test('hits show matter number, role, lawyer and status, and tell which side they are on', async (t) => {
  const res = await check(lawyer, [{ name: '上海瑞丰贸易有限公司', role: 'client' }]);
  const hit = res.hits[0];
  t.match(hit, { matter_id: m1.id, matter_number: m1.number, party_role: 'opposing', matter_status: 'open', match: 'exact_name', score: 1, redacted: false }, 'full detail for a visible matter');
  t.type(hit.responsible_lawyer, 'string', 'responsible lawyer named');
  t.equal(hit.side, 'adverse', 'we would act for the side we are against elsewhere');
  const person = (await check(lawyer, [{ name: '张伟明', role: 'opposing' }])).hits[0];
  t.match(person, { matter_id: m2.id, matter_number: m2.number, party_role: 'opposing', side: 'same_side' }, 'the same side in both matters');
});

t.test('hits on matters the user cannot see are shown redacted, never hidden', async (t) => {
  const res = await check(other, [{ name: 'Zhang Weiming' }, { name: '北京华信科技有限公司' }]);
  t.equal(res.hits.length, 2, 'both conflicts are reported');
  for (const hit of res.hits) {
    t.equal(hit.redacted, true, 'redacted');
    t.equal(hit.matter_id, null, 'no matter id');
    t.equal(hit.matter_number, null, 'no matter number');
    t.equal(hit.responsible_lawyer, null, 'no lawyer');
    t.match(hit.party_name, /^.\*+/, 'party name masked');
    t.ok(hit.match && hit.party_role, 'match type and role still shown');
  }
  t.equal(res.redacted_count, 2, 'redacted count');
  t.equal(res.status, 'pending_review', 'the check goes to a reviewer');
  const forReviewer = await app.inject({ url: `/api/conflict-checks/${res.id}`, headers: partner.headers });
  t.equal(forReviewer.json().hits.filter((h: { redacted: boolean }) => !h.redacted).length, 2, 'a reviewer sees every detail');
  const pending = await app.inject({ url: '/api/conflict-checks?status=pending_review', headers: partner.headers });
  t.ok(pending.json().some((c: { id: number }) => c.id === res.id), 'it is in the reviewers’ queue');
  const stranger = await app.inject({ url: `/api/conflict-checks/${res.id}`, headers: lawyer.headers });
  t.equal(stranger.statusCode, 404, 'another lawyer cannot read someone else’s check');
});

t.test('a matter with hits waits for review; the decision opens, declines or waives it', async (t) => {
  const body = (name: string) => ({ title: `${name}合同纠纷`, type: 'civil', parties: [{ role: 'client', kind: 'organization', name }, { role: 'opposing', kind: 'person', name: '钱多多' }] });
  const pending = await openMatter(other, body('上海瑞丰贸易有限公司'));
  t.equal(pending.status, 'pending_conflict_review', 'matter waits');
  t.equal(pending.conflict_check.status, 'pending_review', 'its check waits');
  const decide = (as: { headers: { authorization: string } }, id: number, payload: Record<string, unknown>) =>
    app.inject({ method: 'POST', url: `/api/conflict-checks/${id}/decision`, headers: as.headers, payload });

  const self = await signedIn(inst, 'partner');
  const own = await check(self, [{ name: '上海瑞丰贸易有限公司' }]);
  t.equal((await decide(self, own.id, { decision: 'clear', note: '自审' })).statusCode, 403, 'nobody reviews their own check');
  t.equal((await decide(lawyer, pending.conflict_check.id, { decision: 'clear', note: 'x' })).statusCode, 403, 'a lawyer is no reviewer');
  const noConsent = await decide(partner, pending.conflict_check.id, { decision: 'waived', note: '同意' });
  t.equal(noConsent.statusCode, 400, 'waiving needs consent');
  t.equal(noConsent.json().error.code, 'CONSENT_REQUIRED', 'stable code');
  const waived = await decide(partner, pending.conflict_check.id, {
    decision: 'waived',
    note: '双方书面同意',
    consent: { given_by: '上海瑞丰贸易有限公司', given_on: '2026-11-20', method: 'written', reference: '同意书 2026-017' },
  });
  t.equal(waived.statusCode, 200, 'waived with consent');
  t.match(waived.json(), { status: 'waived', consent: { method: 'written' } }, 'consent recorded');
  const opened = await app.inject({ url: `/api/matters/${pending.id}`, headers: other.headers });
  t.equal(opened.json().status, 'open', 'the matter opens');
  t.equal((await decide(director, pending.conflict_check.id, { decision: 'conflict', note: '改判' })).statusCode, 409, 'a decision is final');
  await t.rejects(
    inst.ctx.db.updateTable('conflict_checks').set({ hits: '[]' }).where('id', '=', pending.conflict_check.id).execute(),
    'the stored report cannot be altered, even in SQL',
  );

  const lawyersCheck = await check(lawyer, [{ name: '上海瑞丰贸易有限公司' }, { name: '钱多多' }]);
  const ownMatter = await openMatter(partner, { ...body('上海瑞丰贸易有限公司'), conflict_check_id: lawyersCheck.id });
  t.equal(ownMatter.status, 'pending_conflict_review', 'a partner opens a matter on a lawyer’s pending check');
  const selfDecide = await decide(partner, lawyersCheck.id, { decision: 'clear', note: '自己的案子' });
  t.equal(selfDecide.statusCode, 403, 'but cannot clear the check of a matter he works on');
  t.equal(selfDecide.json().error.code, 'SELF_REVIEW', 'four eyes');

  const declined = await openMatter(other, body('北京华信科技有限公司'));
  await decide(director, declined.conflict_check.id, { decision: 'conflict', note: '与在办案件直接冲突' });
  t.equal((await app.inject({ url: `/api/matters/${declined.id}`, headers: other.headers })).json().status, 'declined', 'a conflict declines the matter');
  const reuse = await app.inject({ method: 'POST', url: '/api/matters', headers: other.headers, payload: { ...body('北京华信科技有限公司'), conflict_check_id: declined.conflict_check.id } });
  t.equal(reuse.statusCode, 409, 'a used check cannot be referenced again');
});

t.test('a matter may reference an earlier check, which must cover all its parties', async (t) => {
  const c = await check(lawyer, [{ name: '杭州云栖文化传媒有限公司' }, { name: '孙悟净' }]);
  t.equal(c.status, 'clear', 'clear');
  const incomplete = await app.inject({
    method: 'POST',
    url: '/api/matters',
    headers: lawyer.headers,
    payload: { title: '文化传媒合同', type: 'non_litigation', conflict_check_id: c.id, parties: [{ role: 'client', kind: 'organization', name: '杭州云栖文化传媒有限公司' }, { role: 'opposing', kind: 'person', name: '猪八戒' }] },
  });
  t.equal(incomplete.statusCode, 400, 'a party the check did not cover is refused');
  t.equal(incomplete.json().error.code, 'CONFLICT_CHECK_INCOMPLETE', 'stable code');
  const ok = await openMatter(lawyer, { title: '文化传媒合同', type: 'non_litigation', conflict_check_id: c.id, parties: [{ role: 'client', kind: 'organization', name: '杭州云栖文化传媒股份有限公司' }, { role: 'opposing', kind: 'person', name: '孙悟净' }] });
  t.equal(ok.conflict_check.id, c.id, 'the referenced check is used');
  t.match(ok.number, /非诉字第0001号$/, 'sequence per type');
  const checks = await inst.ctx.db.selectFrom('conflict_checks').select('id').where('matter_id', '=', ok.id).execute();
  t.equal(checks.length, 1, 'no second check was run');
});

t.test('former names are searched, and an earlier check must have searched what the matter records', async (t) => {
  const alias = await check(lawyer, [{ name: '上海新名实业有限公司', aliases: ['上海瑞丰贸易有限公司'] }]);
  t.ok(alias.hits.some((h: { party_name: string; match: string }) => h.party_name === '上海瑞丰贸易有限公司' && h.match === 'exact_name'), 'a former name hits');
  const nameOnly = await check(lawyer, [{ name: '王二' }]);
  const withId = await app.inject({
    method: 'POST',
    url: '/api/matters',
    headers: lawyer.headers,
    payload: { title: '王二案', type: 'civil', conflict_check_id: nameOnly.id, parties: [{ role: 'client', kind: 'person', name: '王二', id_number: '440524188001010014' }] },
  });
  t.equal(withId.statusCode, 400, 'a check run on the name alone does not cover a party with an ID number');
  t.equal(withId.json().error.code, 'CONFLICT_CHECK_INCOMPLETE', 'stable code');
});

t.test('the printable report is HTML with the hits and the report hash', async (t) => {
  const c = await check(lawyer, [{ name: '上海瑞丰贸易有限公司' }]);
  const res = await app.inject({ url: `/api/conflict-checks/${c.id}/report`, headers: lawyer.headers });
  t.equal(res.statusCode, 200, 'report served');
  t.match(res.headers['content-type'], /text\/html/, 'as HTML');
  t.match(res.body, '利益冲突检索报告', 'titled in Chinese');
  t.match(res.body, m1.number, 'names the matter number');
  t.match(res.body, c.report_hash, 'carries the report hash');
  t.notMatch(res.body, /<script/i, 'no script');
});

t.test('bad input gets a clear error', async (t) => {
  const cases: [string, unknown][] = [
    ['no parties', { parties: [] }],
    ['unknown field', { parties: [{ name: '甲', nickname: 'x' }] }],
    ['bad role', { parties: [{ name: '甲', role: 'judge' }] }],
    ['empty name', { parties: [{ name: '' }] }],
  ];
  for (const [label, payload] of cases) {
    const res = await app.inject({ method: 'POST', url: '/api/conflict-checks', headers: lawyer.headers, payload: payload as object });
    t.equal(res.statusCode, 400, `${label} → 400`);
    t.ok(isErrorShape(res.json()), `${label}: error shape`);
  }
  const finance = await signedIn(inst, 'finance');
  t.equal((await app.inject({ method: 'POST', url: '/api/conflict-checks', headers: finance.headers, payload: { parties: [{ name: '甲' }] } })).statusCode, 403, 'finance does not run checks');
  const audit = await inst.ctx.db.selectFrom('audit_log').select('action').where('action', '=', 'conflict_check.run').execute();
  t.ok(audit.length >= 10, 'every check is audited');
});

t.test('the database classifies Chinese characters as word characters, so trigrams work', async (t) => {
  const { cjkTrigramsWork } = await import('../../server/src/modules/conflicts/engine.js');
  t.equal(await cjkTrigramsWork(inst.ctx.db), true, 'show_trgm yields trigrams for a Chinese name');
});

t.test('the search query is kept as a reviewed SQL snapshot', async (t) => {
  const { searchTerms, searchTermQuery } = await import('../../server/src/modules/conflicts/engine.js');
  const [term] = searchTerms([{ name: '北京华信科技有限公司', uscc: '91350100M000100Y43' }]);
  const compiled = searchTermQuery(term!).compile(inst.ctx.db);
  t.matchSnapshot(compiled.sql.replace(/\s+/g, ' ').trim(), 'search SQL');
  t.matchSnapshot(compiled.parameters, 'its parameters: normalised name, pinyin keys, identifiers');
});

// Last: it moves the clock a month on, which ends every earlier session.
t.test('an earlier check older than 30 days cannot stand for an intake', async (t) => {
  const c = await check(lawyer, [{ name: '旧检索委托人' }]);
  inst.clock.advance(31 * 86_400_000);
  const reviewer = await signedIn(inst, 'partner');
  const res = await app.inject({ method: 'POST', url: '/api/matters', headers: reviewer.headers, payload: { title: '旧检索', type: 'civil', conflict_check_id: c.id, parties: [{ role: 'client', kind: 'person', name: '旧检索委托人' }] } });
  t.equal(res.statusCode, 409, 'refused');
  t.equal(res.json().error.code, 'CONFLICT_CHECK_STALE', 'as stale');
});
