import t from 'tap';
import { loadDemoFirm } from '../../server/src/modules/demo/service.js';
import { verifyAuditChain } from '../../server/src/modules/audit/service.js';
import { createTestInstance } from '../helpers/instance.js';

const inst = await createTestInstance(t);
const accounts = await loadDemoFirm(inst.ctx);

t.test('the demo firm has a book of matters numbered with its own pattern', async (t) => {
  t.ok(accounts, 'demo loaded');
  const matters = await inst.ctx.db.selectFrom('matters').selectAll().orderBy('id').execute();
  t.equal(matters.length, 9, 'eight matters of the book, and one opened from a consultation');
  t.ok(matters.every((m) => /^\(\d{4}\)京明衡.+字第\d{4}号$/.test(m.number)), 'numbers like (2026)京明衡民代字第0001号');
  t.ok(new Set(matters.map((m) => m.type)).size >= 7, 'most matter types are represented');
  const clients = await inst.ctx.db.selectFrom('clients').select('kind').execute();
  t.ok(clients.some((c) => c.kind === 'person') && clients.some((c) => c.kind === 'organization'), 'clients of both kinds');
  t.ok((await inst.ctx.db.selectFrom('work_records').select('id').execute()).length >= 3, 'work records and working papers');
});

t.test('one intake waits in the reviewers’ queue because it hits another matter', async (t) => {
  const pending = await inst.ctx.db.selectFrom('matters').selectAll().where('status', '=', 'pending_conflict_review').execute();
  t.equal(pending.length, 1, 'one matter waits');
  const check = await inst.ctx.db.selectFrom('conflict_checks').selectAll().where('id', '=', pending[0]!.conflict_check_id).executeTakeFirstOrThrow();
  const hits = check.hits as { match: string; party_name: string }[];
  t.ok(hits.some((h) => h.party_name === '上海瑞丰国际贸易有限公司' && h.match === 'normalized'), 'the traditional-script, other-suffix name is found normalised');
  t.ok(hits.some((h) => h.match === 'related' && h.party_name === '深圳市腾跃电子股份有限公司'), 'and a shareholder of the target leads to a related-party hit');
});

t.test('fees, projects and a tracking alert are there to see', async (t) => {
  const alerts = await inst.ctx.db.selectFrom('matter_alerts').select('kind').execute();
  t.ok(alerts.some((a) => a.kind === 'unpaid'), 'the half-paid old bill raised an unpaid alert');
  const projects = await inst.ctx.db.selectFrom('projects').select('id').execute();
  t.equal(projects.length, 2, 'two projects');
  const subtasks = await inst.ctx.db.selectFrom('tasks').select('id').where('parent_id', 'is not', null).execute();
  t.ok(subtasks.length >= 1, 'with a subtask');
  const offices = await inst.ctx.db.selectFrom('users').select('office').distinct().execute();
  t.ok(offices.length >= 2, 'people in more than one office');
});

t.test('the demo leaves an intact audit chain', async (t) => {
  const result = await verifyAuditChain(inst.ctx.db);
  t.equal(result.ok, true, 'chain verifies');
});
