import t from 'tap';
import { SYSTEM_ACTOR } from '../../server/src/context.js';
import { verifyAuditChain } from '../../server/src/modules/audit/service.js';
import { loadDemoFirm } from '../../server/src/modules/demo/service.js';
import { createKiosk, enrolKiosk } from '../../server/src/modules/kiosks/service.js';
import { DEMO_INVITE_CODE, seedDemoVisitors } from '../../server/src/modules/visitors/service.js';
import { createTestInstance } from '../helpers/instance.js';

/** The demo firm's lobby, seeded over the demo firm the way the demo loader runs it. */
const inst = await createTestInstance(t);
await loadDemoFirm(inst.ctx);
const db = inst.ctx.db;

t.test('the demo lobby: expected today, on site with a pass, left yesterday, flagged for review', async (t) => {
  await seedDemoVisitors(inst.ctx);
  const visits = await db
    .selectFrom('visitor_visits as v')
    .innerJoin('users as h', 'h.id', 'v.host_user_id')
    .select(['v.visitor_name', 'v.status', 'v.source', 'h.username', 'v.matter_id', 'v.pass_credential_id', 'v.expected_at', 'v.checked_in_at', 'v.checked_out_at'])
    .orderBy('v.id')
    .execute();
  t.same(visits.map((v) => [v.visitor_name, v.status, v.source, v.username]), [
    ['王秀英', 'invited', 'invitation', 'lawyer.chen'],
    ['李建国', 'checked_in', 'invitation', 'lawyer.zhang'],
    ['孙志刚', 'checked_out', 'walk_in', 'partner.li'],
    ['周瑞丰', 'flagged', 'invitation', 'lawyer.zhang'],
  ], 'four visits with demo hosts; the opposing company’s legal representative is flagged by the real screening');
  const now = inst.clock.now();
  t.ok(visits[0]!.matter_id && visits[1]!.matter_id, 'the clients’ visits name their matters');
  t.equal(visits[0]!.expected_at!.toISOString().slice(0, 10), new Date(now.getTime() + 8 * 3_600_000).toISOString().slice(0, 10), 'the client is expected today (Beijing time)');
  t.ok(visits[0]!.expected_at! > now, 'later today');
  t.ok(visits[2]!.checked_out_at! < now && now.getTime() - visits[2]!.checked_out_at!.getTime() < 2 * 86_400_000, 'yesterday’s visitor left yesterday');
  const pass = await db.selectFrom('access_credentials').selectAll().where('id', '=', visits[1]!.pass_credential_id!).executeTakeFirstOrThrow();
  t.match(pass, { kind: 'visitor_pass', visitor_name: '访客 李**', revoked_at: null }, 'the visitor on site holds a live pass');
  const grants = await db.selectFrom('access_grants').select('door_id').where('credential_id', '=', pass.id).execute();
  t.same(grants.map((g) => g.door_id), ['main-entrance'], 'for the main entrance');
  t.ok(pass.valid_until! > now, 'still valid');

  const { enrolment_code } = await createKiosk(inst.ctx, SYSTEM_ACTOR, { name: '前台', kind: 'lobby' });
  const headers = { authorization: `Bearer ${(await enrolKiosk(inst.ctx, enrolment_code, null)).token}` };
  const lookup = await inst.app.inject({ method: 'POST', url: '/api/kiosk/lobby/invitations/lookup', headers, payload: { code: DEMO_INVITE_CODE } });
  t.equal(lookup.statusCode, 200, 'the demo invitation code works at the kiosk');
  t.match(lookup.json(), { visitor_name_masked: '王**', host_name: '陈**', status: 'invited' }, 'masked');

  const count = async () => Number((await db.selectFrom('visitor_visits').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
  await seedDemoVisitors(inst.ctx);
  t.equal(await count(), 4, 'seeding again changes nothing');
  t.match(await verifyAuditChain(db), { ok: true }, 'the audit chain holds');
});
