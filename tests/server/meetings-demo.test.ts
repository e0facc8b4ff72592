import t from 'tap';
import { loadDemoFirm } from '../../server/src/modules/demo/service.js';
import { seedDemoMeetings } from '../../server/src/modules/meetings/demo.js';
import { verifyAuditChain } from '../../server/src/modules/audit/service.js';
import { createTestInstance } from '../helpers/instance.js';

/** The demo's meetings on top of the demo firm: room 1 with its terminals, today's case discussion, last week's Party branch meeting. */
const inst = await createTestInstance(t);
const { ctx } = inst;
t.ok(await loadDemoFirm(ctx), 'the demo firm is loaded');

t.test('seedDemoMeetings fills room 1 and two meetings, once', async (t) => {
  await seedDemoMeetings(ctx);
  await seedDemoMeetings(ctx);
  const room = await ctx.db.selectFrom('meeting_rooms').selectAll().where('id', '=', 'room-1').executeTakeFirstOrThrow();
  t.match(room, { name: '第一会议室', devices: ['terminal-m1-01', 'terminal-m1-02', 'terminal-m1-03', 'plate-m1-01'] }, 'room 1 with the demo building’s terminals and nameplate');
  const kiosks = await ctx.db.selectFrom('kiosks').select(['kind', 'room_id']).where('kind', '=', 'meeting').execute();
  t.same(kiosks, Array.from({ length: 3 }, () => ({ kind: 'meeting', room_id: 'room-1' })), 'three terminals registered for the room, not six');
  const sessions = await ctx.db.selectFrom('meeting_sessions').selectAll().orderBy('starts_at').execute();
  t.equal(sessions.length, 2, 'two meetings, seeded once');
  const [branch, discussion] = sessions as [(typeof sessions)[0], (typeof sessions)[0]];
  t.match(branch, { kind: 'party_branch', record_type: 'branch_general_meeting' });
  t.ok(branch.ended_at && branch.ended_at < ctx.clock.now(), 'the Party branch meeting took place last week');
  const vote = await ctx.db.selectFrom('meeting_votes').selectAll().where('meeting_id', '=', branch.id).executeTakeFirstOrThrow();
  t.match(vote, { status: 'closed', anonymous: true, passed: true, cast_count: 3, eligible: 5, tally: { 同意: 3, 反对: 0, 弃权: 0 } }, 'its vote is closed and passed');
  const minutes = await ctx.db.selectFrom('meeting_minutes').selectAll().where('meeting_id', '=', branch.id).executeTakeFirstOrThrow();
  t.ok(minutes.approved_at, 'its minutes are approved');
  t.equal(Number((await ctx.db.selectFrom('meeting_sign_ins').select((eb) => eb.fn.countAll().as('n')).where('meeting_id', '=', branch.id).executeTakeFirstOrThrow()).n), 5, 'five signed in, two of them by the secretary');

  t.match(discussion, { kind: 'firm', record_type: 'case_discussion', confidential: true, started_at: null });
  t.ok(discussion.starts_at > ctx.clock.now(), 'the case discussion is still to come');
  const doc = await ctx.db.selectFrom('meeting_documents').select(['pages', 'withdrawn_at']).where('meeting_id', '=', discussion.id).executeTakeFirstOrThrow();
  t.match(doc, { pages: 4, withdrawn_at: null }, 'with its four-page case memo');
  t.match(await verifyAuditChain(ctx.db), { ok: true }, 'the audit chain holds');
});
