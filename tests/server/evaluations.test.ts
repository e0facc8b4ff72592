import t from 'tap';
import { seedEvaluationsDemo } from '../../server/src/modules/evaluations/demo.js';
import { evaluationJobs } from '../../server/src/modules/evaluations/service.js';
import { DIMENSIONS, type Dimension } from '../../server/src/modules/evaluations/tables.js';
import { createPortalSession } from '../../server/src/modules/portal/service.js';
import { mulberry32 } from '../helpers/fuzz.js';
import { createTestInstance, isErrorShape, loginToken, signedIn } from '../helpers/instance.js';

/**
 * Client evaluation (Z5.6): a client rates its own closed matters once, in the portal; the ratings
 * count for the responsible lawyer and add up per lawyer; closed matters invite their clients once.
 */
const inst = await createTestInstance(t);
const { app, ctx } = inst;
const db = ctx.db;
const DAY = 86_400_000;

const lawyerA = await signedIn(inst, 'lawyer');
const lawyerB = await signedIn(inst, 'lawyer');
const partner = await signedIn(inst, 'partner');
const intern = await signedIn(inst, 'intern');
const itAdmin = await signedIn(inst, 'it_admin');
type As = { headers: { authorization: string } };
type Scores = Record<Dimension, number>;

interface ClientParty {
  name: string;
  kind?: 'person' | 'organization';
  client_id?: number;
}
async function newMatter(as: As, title: string, clients: ClientParty[]): Promise<{ id: number; number: string; clients: number[] }> {
  const parties = clients.map((c) => ({ role: 'client', kind: c.kind ?? 'person', name: c.name, ...(c.client_id ? { client_id: c.client_id } : {}) }));
  const res = await app.inject({ method: 'POST', url: '/api/matters', headers: as.headers, payload: { title, type: 'civil', parties } });
  if (res.statusCode !== 201) throw new Error(`matter not created: ${res.body}`);
  const m = res.json() as { id: number; number: string; status: string; conflict_check: { id: number }; parties: { client_id: number }[] };
  // A client seen before is a hit of the conflict check: a reviewer clears it, as the firm would.
  if (m.status === 'pending_conflict_review') {
    const cleared = await app.inject({ method: 'POST', url: `/api/conflict-checks/${m.conflict_check.id}/decision`, headers: partner.headers, payload: { decision: 'clear', note: '同一委托人的其他案件' } });
    if (cleared.statusCode !== 200) throw new Error(`check not cleared: ${cleared.body}`);
  }
  return { id: m.id, number: m.number, clients: m.parties.map((p) => p.client_id) };
}
async function setStatus(as: As, id: number, status: 'open' | 'closed'): Promise<void> {
  const res = await app.inject({ method: 'PATCH', url: `/api/matters/${id}`, headers: as.headers, payload: { status } });
  if (res.statusCode !== 200) throw new Error(`status not changed: ${res.body}`);
}
const portal = async (clientId: number) => ({ authorization: `Bearer ${(await createPortalSession(ctx, clientId)).token}` });
const rate = (headers: Record<string, string>, matterId: number, payload: object) => app.inject({ method: 'POST', url: `/api/portal/matters/${matterId}/evaluation`, headers, payload });
const get = (as: As | { headers: Record<string, string> }, url: string) => app.inject({ url, headers: as.headers });

/** Every rating given in this file, to check the aggregates against. */
const given: { lawyer: number; scores: Scores }[] = [];
const round2 = (x: number) => Math.round(x * 100) / 100;

t.test('a client rates its own closed matter, once', async (t) => {
  const closed = await newMatter(lawyerA, '周晓梅劳动争议仲裁', [{ name: '周晓梅' }]);
  const clientId = closed.clients[0]!;
  const open = await newMatter(lawyerA, '周晓梅房屋租赁纠纷', [{ name: '周晓梅', client_id: clientId }]);
  const others = await newMatter(lawyerA, '吴刚合同纠纷', [{ name: '吴刚' }]);
  await setStatus(lawyerA, closed.id, 'closed');
  await setStatus(lawyerA, others.id, 'closed');
  const headers = await portal(clientId);

  const list = await get({ headers }, '/api/portal/evaluations');
  t.equal(list.statusCode, 200, 'the portal lists the ratings to give');
  t.same(list.json().map((x: { matter: { id: number } }) => x.matter.id), [closed.id], 'only the client’s own closed matters');
  t.equal(list.json()[0].evaluated_at, null, 'not rated yet');
  const page = (await get({ headers }, `/api/portal/matters/${closed.id}/evaluation`)).json();
  t.match(page, { matter: { id: closed.id, status: 'closed' }, can_evaluate: true, evaluation: null }, 'the rating page');
  t.same(page.dimensions.map((d: { label: string }) => d.label), ['功能性', '时间性', '安全性', '经济性', '舒适性', '文明性'], 'six dimensions of the standard, in its order');

  const scores: Scores = { functionality: 5, timeliness: 3, security: 4, economy: 2, comfort: 5, civility: 4 };
  const notClosed = await rate(headers, open.id, scores);
  t.equal(notClosed.statusCode, 409, 'an open matter cannot be rated yet');
  t.equal(notClosed.json().error.code, 'MATTER_NOT_CLOSED', 'MATTER_NOT_CLOSED');
  const notOwn = await rate(headers, others.id, scores);
  t.equal(notOwn.statusCode, 404, 'another client’s closed matter cannot be rated');
  t.ok(isErrorShape(notOwn.json()), 'with the error shape');
  t.equal((await get({ headers }, `/api/portal/matters/${others.id}/evaluation`)).statusCode, 404, 'nor seen');
  t.equal((await rate(headers, closed.id, { ...scores, economy: 6 })).statusCode, 400, 'a score above 5 is refused');
  t.equal((await rate(headers, closed.id, { ...scores, civility: 0 })).statusCode, 400, 'a score below 1 is refused');
  t.equal((await rate(headers, closed.id, { ...scores, comfort: 3.5 })).statusCode, 400, 'half points are refused');
  const { civility: _missing, ...five } = scores;
  t.equal((await rate(headers, closed.id, five)).statusCode, 400, 'all six dimensions are needed');
  t.equal(await db.selectFrom('evaluations').select('id').executeTakeFirst(), undefined, 'no refused rating was kept');

  const ok = await rate(headers, closed.id, { ...scores, comment: '  律师很专业，回复及时。 ' });
  t.equal(ok.statusCode, 201, `the rating is taken (${ok.body})`);
  t.match(ok.json(), { ...scores, comment: '律师很专业，回复及时。' }, 'as given, the comment trimmed');
  given.push({ lawyer: lawyerA.id, scores });
  const again = await rate(headers, closed.id, { ...scores, economy: 5 });
  t.equal(again.statusCode, 409, 'a second rating is refused');
  t.equal(again.json().error.code, 'ALREADY_EVALUATED', 'ALREADY_EVALUATED');
  const rows = await db.selectFrom('evaluations').selectAll().where('matter_id', '=', closed.id).execute();
  t.equal(rows.length, 1, 'one rating kept');
  t.match(rows[0], { client_id: clientId, lawyer_id: lawyerA.id, economy: 2 }, 'the first one, for the responsible lawyer');
  t.match((await get({ headers }, `/api/portal/matters/${closed.id}/evaluation`)).json(), { can_evaluate: false, evaluation: { economy: 2 } }, 'the page shows the rating given');

  const archive = (await get(lawyerA, `/api/matters/${closed.id}/archive?kind=evaluation`)).json();
  t.equal(archive.length, 1, 'the rating is filed into the matter archive');
  t.equal(archive[0].sha256, rows[0]!.sha256, 'with the hash kept with the rating');
  const audit = await db.selectFrom('audit_log').selectAll().where('action', '=', 'evaluation.submit').execute();
  t.match(audit, [{ actor: `client:${clientId}`, object: `matter:${closed.number}`, result: 'success' }], 'audited once, as the client');
});

t.test('ratings add up per lawyer: count, mean per dimension, overall', async (t) => {
  const rnd = mulberry32(0xe7a1_0a7e);
  let n = 0;
  for (const [lawyer, count] of [[lawyerA, 4], [lawyerB, 3]] as const) {
    for (let i = 0; i < count; i++) {
      const m = await newMatter(lawyer, `评价汇总测试案件${++n}`, [{ name: `汇总测试委托人${n}有限公司`, kind: 'organization' }]);
      await setStatus(lawyer, m.id, 'closed');
      const scores = Object.fromEntries(DIMENSIONS.map((d) => [d, 1 + Math.floor(rnd() * 5)])) as Scores;
      const res = await rate(await portal(m.clients[0]!), m.id, scores);
      if (res.statusCode !== 201) throw new Error(res.body);
      given.push({ lawyer: lawyer.id, scores });
    }
  }
  // A matter handed to another lawyer after the rating: the rating stays with whoever earned it.
  const last = await db.selectFrom('evaluations').select('matter_id').orderBy('id', 'desc').executeTakeFirstOrThrow();
  await app.inject({ method: 'PATCH', url: `/api/matters/${last.matter_id}`, headers: lawyerB.headers, payload: { status: 'open' } });
  const handover = await app.inject({ method: 'PATCH', url: `/api/matters/${last.matter_id}`, headers: lawyerB.headers, payload: { responsible_lawyer_id: lawyerA.id } });
  t.equal(handover.statusCode, 200, 'a rated matter is handed over to another lawyer');

  const expected = (lawyer?: number) => {
    const mine = given.filter((g) => lawyer === undefined || g.lawyer === lawyer);
    const means = Object.fromEntries(DIMENSIONS.map((d) => [d, round2(mine.reduce((s, g) => s + g.scores[d], 0) / mine.length)]));
    const overall = round2(mine.reduce((s, g) => s + DIMENSIONS.reduce((x, d) => x + g.scores[d], 0), 0) / (mine.length * 6));
    return { count: mine.length, means, overall };
  };
  const overview = await get(partner, '/api/evaluations');
  t.equal(overview.statusCode, 200, 'a partner sees the firm’s ratings');
  t.match(overview.json().firm, expected(), 'the firm’s figures are the means of every rating');
  const lawyers = overview.json().lawyers as { lawyer: { id: number }; count: number; overall: number }[];
  t.match(lawyers.find((l) => l.lawyer.id === lawyerA.id), expected(lawyerA.id), 'lawyer A’s figures, the handed-over rating still included');
  t.match(lawyers.find((l) => l.lawyer.id === lawyerB.id), expected(lawyerB.id), 'lawyer B’s figures');
  t.same(lawyers.map((l) => l.overall), lawyers.map((l) => l.overall).sort((a, b) => b - a), 'best first');

  const own = await get(lawyerA, `/api/evaluations/lawyers/${lawyerA.id}`);
  t.equal(own.statusCode, 200, 'a lawyer sees their own ratings');
  t.match(own.json(), { lawyer: { id: lawyerA.id }, ...expected(lawyerA.id) }, 'with the same aggregate');
  t.equal(own.json().evaluations.length, expected(lawyerA.id).count, 'and each rating');
  t.ok(own.json().evaluations.some((e: { client_name: string }) => e.client_name === '周**'), 'a natural person’s name masked');
  t.equal((await get(lawyerA, `/api/evaluations/lawyers/${lawyerB.id}`)).statusCode, 403, 'but not another lawyer’s');
  t.equal((await get(intern, `/api/evaluations/lawyers/${lawyerA.id}`)).statusCode, 403, 'nor does an intern');
  t.equal((await get(lawyerA, '/api/evaluations')).statusCode, 403, 'the firm overview needs evaluations.read');
  t.equal((await get(itAdmin, `/api/evaluations/lawyers/${lawyerA.id}`)).statusCode, 403, 'the IT administrator sees no ratings');
  const ofB = (await get(partner, `/api/evaluations/lawyers/${lawyerB.id}`)).json();
  t.equal(ofB.count, expected(lawyerB.id).count, 'a partner sees any lawyer’s aggregate');
  t.same(ofB.evaluations, [], 'but not the ratings of matters the partner is not on (they name the client and its comment)');
  const director = await signedIn(inst, 'director');
  t.equal((await get(director, `/api/evaluations/lawyers/${lawyerB.id}`)).json().evaluations.length, expected(lawyerB.id).count, 'the director, who sees every matter, sees each rating');
  t.equal((await get(partner, '/api/evaluations/lawyers/999999')).statusCode, 404, 'an unknown account is a 404');
  const fresh = (await get(intern, `/api/evaluations/lawyers/${intern.id}`)).json();
  t.match(fresh, { count: 0, overall: null, last_at: null, evaluations: [] }, 'no ratings yet: a count of 0 and no means');
  t.ok(DIMENSIONS.every((d) => fresh.means[d] === null), 'every mean null');
});

t.test('the invitation job invites each client of a newly closed matter once', async (t) => {
  const job = evaluationJobs.find((j) => j.name === 'evaluations.invite')!;
  t.ok(job, 'the job is exported');
  // Above, only 吴刚's closed matter went unrated (the handed-over one was reopened).
  t.same(await job.run(ctx), { invited: 1 }, 'a first run invites the client of the one closed, unrated matter above');
  // Everything closed so far is now long past the invitation window.
  inst.clock.advance(31 * DAY);
  for (const user of [lawyerA, lawyerB]) user.headers.authorization = `Bearer ${await loginToken(inst, user.username)}`;
  const twoClients = await newMatter(lawyerA, '孙悦、钱坤共有物分割纠纷', [{ name: '孙悦' }, { name: '钱坤' }]);
  const reopened = await newMatter(lawyerB, '冯涛买卖合同纠纷', [{ name: '冯涛' }]);
  const rated = await newMatter(lawyerB, '陈红借款纠纷', [{ name: '陈红' }]);
  await setStatus(lawyerA, twoClients.id, 'closed');
  await setStatus(lawyerB, reopened.id, 'closed');
  await setStatus(lawyerB, reopened.id, 'open');
  await setStatus(lawyerB, rated.id, 'closed');
  const scores = Object.fromEntries(DIMENSIONS.map((d) => [d, 4])) as Scores;
  t.equal((await rate(await portal(rated.clients[0]!), rated.id, scores)).statusCode, 201, 'a client rates before being invited');
  const notices = () => db.selectFrom('notifications').selectAll().where('event', '=', 'evaluation.invite').orderBy('id').execute();
  const before = (await notices()).length;

  t.same(await job.run(ctx), { invited: 2 }, 'both clients of the closed matter are invited; the reopened and the rated matter are not, nor old closures');
  const sent = (await notices()).slice(before);
  t.same(sent.map((n) => n.client_id).sort(), [...twoClients.clients].sort(), 'one notice per client');
  t.ok(sent.every((n) => n.matter_id === twoClients.id && n.link === `/portal/evaluate/${twoClients.id}`), 'leading to the rating page of the matter');
  t.ok(sent.every((n) => n.body.includes(twoClients.number)), 'naming the matter');
  t.same(await job.run(ctx), { invited: 0 }, 'a second run invites nobody');
  await setStatus(lawyerA, twoClients.id, 'open');
  await setStatus(lawyerA, twoClients.id, 'closed');
  t.same(await job.run(ctx), { invited: 0 }, 'nor does closing the matter again');
  t.equal((await notices()).length, before + 2, 'two notices in all');
  t.equal((await db.selectFrom('evaluation_invitations').selectAll().where('matter_id', '=', twoClients.id).execute()).filter((i) => i.notification_id !== null).length, 2, 'each invitation remembers its notice');
});

t.test('the demo plays a closed enforcement matter, its invitation and the client’s rating', async (t) => {
  const demo = await newMatter(lawyerA, '陈立新申请执行民间借贷纠纷判决', [{ name: '陈立新' }]);
  const now = inst.clock.now().getTime();
  t.same(await seedEvaluationsDemo(ctx), { evaluations: 0 }, 'an instance that has ratings is left alone');
  await db.deleteFrom('evaluations').execute();
  t.same(await seedEvaluationsDemo(ctx), { evaluations: 1 }, 'one rating seeded');
  const matter = await db.selectFrom('matters').selectAll().where('id', '=', demo.id).executeTakeFirstOrThrow();
  t.equal(matter.status, 'closed', 'the matter is closed');
  t.equal(matter.closed_at!.getTime(), now - 12 * DAY, 'twelve days ago');
  const rating = await db.selectFrom('evaluations').selectAll().where('matter_id', '=', demo.id).executeTakeFirstOrThrow();
  t.equal(rating.submitted_at.getTime(), now - 10 * DAY, 'rated two days later');
  t.equal(rating.lawyer_id, lawyerA.id, 'for the lawyer who ran it');
  t.ok(await db.selectFrom('evaluation_invitations').select('matter_id').where('matter_id', '=', demo.id).executeTakeFirst(), 'the client was invited first');
  t.same(await seedEvaluationsDemo(ctx), { evaluations: 0 }, 'a second run does nothing');
});
