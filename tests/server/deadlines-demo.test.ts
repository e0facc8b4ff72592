import t from 'tap';
import { loadDemoFirm } from '../../server/src/modules/demo/service.js';
import { seedDeadlinesDemo } from '../../server/src/modules/deadlines/demo.js';
import { upcomingCounts } from '../../server/src/modules/deadlines/service.js';
import { verifyAuditChain } from '../../server/src/modules/audit/service.js';
import { createTestInstance } from '../helpers/instance.js';

/** The demo's deadlines and hearings on top of the demo firm's matters, dated from today. */
const inst = await createTestInstance(t);
const { ctx } = inst;
t.ok(await loadDemoFirm(ctx), 'the demo firm is loaded');

t.test('the demo firm holds deadlines and hearings on its matters; seeding again adds nothing', async (t) => {
  t.same(await seedDeadlinesDemo(ctx), { deadlines: 0, hearings: 0 }, 'a second call adds nothing');
  // The demo's own deadlines, and the one its communications register made from a received judgment.
  const deadlines = await ctx.db.selectFrom('matter_deadlines').selectAll().execute();
  t.ok(deadlines.filter((d) => d.source === 'manual').length >= 5, `the demo's deadlines are stored (${deadlines.length})`);
  t.ok(deadlines.some((d) => d.source === 'received_document'), 'and the appeal deadline of the received judgment');
  t.ok(deadlines.every((d) => d.status === 'open' && d.due_date >= ctx.clock.now().toISOString().slice(0, 10)), 'all open and still ahead');
  t.same([...new Set(deadlines.map((d) => d.milestone))].sort(), ['appeal', 'enforcement', 'evidence', 'other', 'preservation'], 'across the milestones of Z5.5.2a');
  const hearings = await ctx.db.selectFrom('hearings as h').leftJoin('hearing_summaries as s', 's.hearing_id', 'h.id').select(['h.status', 'h.starts_at', 'h.notice_sent_at', 's.record']).orderBy('h.starts_at').execute();
  t.match(hearings[0], { status: 'held', notice_sent_at: null, record: /证据交换/ }, 'last month’s evidence exchange, with its summary');
  t.ok(hearings.slice(1).every((h) => h.status === 'scheduled' && h.notice_sent_at && h.starts_at > ctx.clock.now()), 'the coming hearings, their clients notified');
  const summary = await ctx.db.selectFrom('archive_entries').select('kind').where('source', '=', 'hearing').execute();
  t.same(summary, [{ kind: 'hearing_summary' }], 'the summary is in the matter archive');
  const counts = await upcomingCounts(ctx.db, ctx.clock.now());
  t.equal(counts.hearings.this_week, 1, 'one hearing in the next week for the wall');
  t.match(await verifyAuditChain(ctx.db), { ok: true }, 'the audit chain holds');
});
