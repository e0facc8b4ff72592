import t from 'tap';
import { createTestInstance, isErrorShape, signedIn } from '../helpers/instance.js';

/**
 * The client portal's door: a lawyer makes a one-time access code for a client; the client's browser
 * trades it for its own session (an httpOnly cookie) that shows only that client's matters.
 */
const inst = await createTestInstance(t);
const lawyer = await signedIn(inst, 'lawyer');
const otherLawyer = await signedIn(inst, 'lawyer');
const inject = inst.app.inject.bind(inst.app);

async function openMatter(title: string, clientName: string) {
  const res = await inject({ method: 'POST', url: '/api/matters', headers: lawyer.headers, payload: { title, type: 'civil', parties: [{ role: 'client', kind: 'person', name: clientName }, { role: 'opposing', kind: 'organization', name: `${title}对方有限公司` }] } });
  // Set-up runs before any subtest: a failure throws (an assertion here could outlive tap's automatic end).
  if (res.statusCode !== 201) throw new Error(`matter ${title} not opened: ${res.body}`);
  const matter = res.json() as { id: number; number: string; parties: { role: string; client_id: number | null }[] };
  return { id: matter.id, number: matter.number, clientId: matter.parties.find((p) => p.role === 'client')!.client_id! };
}
const mine = await openMatter('房屋租赁合同纠纷', '陈静');
const theirs = await openMatter('买卖合同纠纷', '周海');

const makeCode = (clientId: number, headers = lawyer.headers) => inject({ method: 'POST', url: `/api/clients/${clientId}/portal-code`, headers, payload: {} });
const enter = (code: string) => inject({ method: 'POST', url: '/api/portal/enter', payload: { code } });
const me = (cookie: string) => inject({ method: 'GET', url: '/api/portal/me', headers: { cookie } });
const cookieOf = (res: { cookies: { name: string; value: string; httpOnly?: boolean; sameSite?: string }[] }) => res.cookies.find((c) => c.name === 'lawbox_portal');

t.test('a code is made by a lawyer who sees the client, works once, and becomes an httpOnly session', async (t) => {
  const refused = await makeCode(mine.clientId, otherLawyer.headers);
  t.equal(refused.statusCode, 404, 'a lawyer who cannot see the client gets no code for it');
  const made = await makeCode(mine.clientId);
  t.equal(made.statusCode, 201, 'the client’s lawyer gets a code');
  const { code, link } = made.json() as { code: string; link: string };
  t.match(code, /^[A-HJ-NP-Z2-9]{8}$/, 'a code without look-alike characters');
  t.equal(link, `/portal/#code=${code}`, 'and the link to open, the code in the fragment (never sent to the server, so never logged)');

  const wrong = await enter('ZZZZZZZZ');
  t.equal(wrong.statusCode, 401, 'a wrong code is refused');
  t.equal(wrong.json().error.code, 'INVALID_PORTAL_CODE');
  t.ok(isErrorShape(wrong.json()), 'with the error shape');

  const entered = await enter(code.toLowerCase());
  t.equal(entered.statusCode, 200, 'the code works however it is typed');
  const cookie = cookieOf(entered);
  t.ok(cookie?.value.startsWith('lbc_'), 'the session token comes as the portal cookie');
  t.equal(cookie?.httpOnly, true, 'httpOnly: the page’s scripts cannot read it');
  t.equal(cookie?.sameSite, 'Strict', 'SameSite=Strict');
  t.notOk((entered.json() as Record<string, unknown>).token, 'the token is not in the body');
  const overview = entered.json() as { client: { name: string }; matters: { id: number; number: string; lawyer_name: string }[] };
  t.equal(overview.client.name, '陈*', 'the client’s own name, masked as on every screen');
  t.same(overview.matters.map((m) => m.id), [mine.id], 'only the client’s own matter');

  const again = await enter(code);
  t.equal(again.statusCode, 401, 'a spent code is refused');

  const view = await me(`lawbox_portal=${cookie!.value}`);
  t.equal(view.statusCode, 200, 'the session opens the portal');
  t.notOk(JSON.stringify(view.json()).includes(theirs.number), 'nothing of another client’s matter');

  const staff = await inject({ method: 'GET', url: '/api/portal/me', headers: lawyer.headers });
  t.equal(staff.statusCode, 401, 'a staff session is no portal session');
  t.equal(staff.json().error.code, 'PORTAL_AUTH_REQUIRED');
  const asStaff = await inject({ method: 'GET', url: '/api/matters', headers: { authorization: `Bearer ${cookie!.value}` } });
  t.equal(asStaff.statusCode, 401, 'a portal token opens no staff route');

  const left = await inject({ method: 'POST', url: '/api/portal/leave', headers: { cookie: `lawbox_portal=${cookie!.value}` }, payload: {} });
  t.equal(left.statusCode, 200, 'the client signs out');
  const after = await me(`lawbox_portal=${cookie!.value}`);
  t.equal(after.statusCode, 401, 'the session is over');
  t.equal(after.json().error.code, 'PORTAL_SESSION_EXPIRED', 'and says so');

  const audit = await inst.ctx.db.selectFrom('audit_log').select(['action', 'actor', 'result']).where('action', 'like', 'portal.%').orderBy('seq').execute();
  t.match(audit, [
    { action: 'portal.code_created', actor: lawyer.username, result: 'success' },
    { action: 'portal.enter', actor: 'anonymous', result: 'failure' },
    { action: 'portal.enter', actor: `client:${mine.clientId}`, result: 'success' },
    { action: 'portal.enter', actor: 'anonymous', result: 'failure' },
    { action: 'portal.leave', actor: `client:${mine.clientId}`, result: 'success' },
  ], 'every step is in the audit trail');
});

t.test('codes expire; revoking signs the client out everywhere and voids unused codes', async (t) => {
  const stale = (await makeCode(mine.clientId)).json().code as string;
  inst.clock.advance(8 * 86_400_000);
  t.equal((await enter(stale)).statusCode, 401, 'a code older than seven days is refused');
  // Staff sessions ended with the week that passed; a director may make codes for every client.
  const relog = await signedIn(inst, 'director');
  const codes = await Promise.all([makeCode(mine.clientId, relog.headers), makeCode(mine.clientId, relog.headers)]);
  const [a, b] = codes.map((r) => r.json().code as string);
  const session = cookieOf(await enter(a))!.value;
  t.equal((await me(`lawbox_portal=${session}`)).statusCode, 200, 'a live session');
  const revoked = await inject({ method: 'POST', url: `/api/clients/${mine.clientId}/portal-revoke`, headers: relog.headers, payload: {} });
  t.same(revoked.json(), { revoked: 1 }, 'one session ended');
  t.equal((await me(`lawbox_portal=${session}`)).statusCode, 401, 'the session no longer opens the portal');
  t.equal((await enter(b)).statusCode, 401, 'the unused code is void too');
});

t.test('a session lapses after 30 days without use', async (t) => {
  const director = await signedIn(inst, 'director');
  const session = cookieOf(await enter((await makeCode(theirs.clientId, director.headers)).json().code))!.value;
  inst.clock.advance(29 * 86_400_000);
  t.equal((await me(`lawbox_portal=${session}`)).statusCode, 200, 'used within 30 days: still open, and extended');
  inst.clock.advance(29 * 86_400_000);
  t.equal((await me(`lawbox_portal=${session}`)).statusCode, 200, 'the use extended it');
  inst.clock.advance(31 * 86_400_000);
  t.equal((await me(`lawbox_portal=${session}`)).statusCode, 401, 'unused for 31 days: closed');
});

t.test('a code comes only from someone who sees every matter of the client: the portal shows them all', async (t) => {
  // Earlier tests moved the clock past every session: sign in afresh.
  const director = await signedIn(inst, 'director');
  const owner = await signedIn(inst, 'lawyer');
  const mineAgain = await inject({ method: 'POST', url: '/api/matters', headers: owner.headers, payload: { title: '借款合同纠纷', type: 'civil', parties: [{ role: 'client', kind: 'person', name: '林清', id_number: '11010519491231002X' }, { role: 'opposing', kind: 'person', name: '郝某' }] } });
  const clientId = (mineAgain.json() as { parties: { role: string; client_id: number }[] }).parties.find((p) => p.role === 'client')!.client_id;
  t.equal((await makeCode(clientId, owner.headers)).statusCode, 201, 'the lawyer on the client’s only matter may hand out the code');
  // The director opens a second matter for the same client; the first lawyer is not on its team.
  const second = await inject({ method: 'POST', url: '/api/matters', headers: director.headers, payload: { title: '房屋买卖合同纠纷', type: 'civil', parties: [{ role: 'client', kind: 'person', name: '林清', id_number: '11010519491231002X' }, { role: 'opposing', kind: 'organization', name: '某房地产开发有限公司' }] } });
  t.equal((second.json() as { parties: { role: string; client_id: number }[] }).parties.find((p) => p.role === 'client')!.client_id, clientId, 'the same client record');
  const refused = await makeCode(clientId, owner.headers);
  t.equal(refused.statusCode, 403, 'now the first lawyer may not: the portal would show the other team’s matter');
  t.equal(refused.json().error.code, 'NOT_ON_EVERY_MATTER');
  t.equal((await makeCode(clientId, director.headers)).statusCode, 201, 'the director, who sees both, may');
});
