import t from 'tap';
import { REALTIME_CHANNEL, type RealtimeEvent } from '../../server/src/modules/realtime/hub.js';
import { createTestInstance, isErrorShape, signedIn } from '../helpers/instance.js';

/**
 * Collaboration (Z6.3.3.3): projects, tasks with subtasks, assignment across offices and departments,
 * comments, and who may see them.
 */
const inst = await createTestInstance(t);
const { app } = inst;

type Who = Awaited<ReturnType<typeof signedIn>>;
type Json = Record<string, any>;

async function api(who: Who | null, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object): Promise<{ status: number; body: Json }> {
  const res = await app.inject({ method, url, headers: who?.headers ?? {}, ...(payload !== undefined ? { payload } : {}) });
  return { status: res.statusCode, body: res.json() as Json };
}

// Every realtime event committed from here on, for the notice checks.
const events: RealtimeEvent[] = [];
const unlisten = await inst.database.listen(REALTIME_CHANNEL, (payload) => events.push(JSON.parse(payload) as RealtimeEvent));
t.teardown(() => unlisten());
async function eventFor(topic: string, match: (data: Json) => boolean, ms = 3000): Promise<RealtimeEvent | undefined> {
  const end = Date.now() + ms;
  for (;;) {
    const found = events.find((e) => e.topic === topic && match(e.data));
    if (found || Date.now() > end) return found;
    await new Promise((r) => setTimeout(r, 20));
  }
}

// The cast: two offices, two departments.
const secAdmin = await signedIn(inst, 'security_admin');
const alice = await signedIn(inst, 'lawyer'); // 北京 · 诉讼部, creates the project
const bob = await signedIn(inst, 'lawyer'); // 上海 · 非诉部, member
const carol = await signedIn(inst, 'intern'); // 上海 · 诉讼部, assignee only
const dave = await signedIn(inst, 'lawyer'); // on nothing
const director = await signedIn(inst, 'director');
const itAdmin = await signedIn(inst, 'it_admin');
const partner = await signedIn(inst, 'partner'); // responsible lawyer of a matter
const erin = await signedIn(inst, 'lawyer'); // on that matter's team
const gone = await signedIn(inst, 'lawyer'); // disabled below
const finance = await signedIn(inst, 'finance'); // no matters.work

const ids: Record<string, number> = {};

t.test('users carry an office and a department that an administrator sets and clears', async (t) => {
  for (const [who, office, department] of [
    [alice, '北京', '诉讼部'],
    [bob, '上海', '非诉部'],
    [carol, '上海', '诉讼部'],
    [dave, '北京', '非诉部'],
  ] as const) {
    const res = await api(secAdmin, 'PATCH', `/api/users/${who.id}`, { office: ` ${office} `, department });
    t.equal(res.status, 200, `${who.username}: the PATCH succeeds`);
    t.match(res.body, { office, department }, `${who.username}: office and department are stored, trimmed`);
  }
  const audit = await inst.ctx.db.selectFrom('audit_log').selectAll().where('action', '=', 'user.update').where('object', '=', `user:${alice.username}`).execute();
  t.same(audit.at(-1)?.detail, { office: { from: null, to: '北京' }, department: { from: null, to: '诉讼部' } }, 'the audit record shows the change');

  const listed = await api(secAdmin, 'GET', `/api/users/${bob.id}`);
  t.match(listed.body, { office: '上海', department: '非诉部' }, 'GET /api/users/:id shows them');

  const cleared = await api(secAdmin, 'PATCH', `/api/users/${dave.id}`, { office: '', department: null });
  t.equal(cleared.status, 200, 'an empty string and null are accepted');
  t.match(cleared.body, { office: null, department: null }, 'and clear both');
  await api(secAdmin, 'PATCH', `/api/users/${dave.id}`, { office: '北京', department: '非诉部' });

  const tooLong = await api(secAdmin, 'PATCH', `/api/users/${dave.id}`, { office: 'x'.repeat(101) });
  t.equal(tooLong.status, 400, 'an office over 100 characters is refused');
  t.ok(isErrorShape(tooLong.body), 'with the error shape');

  const created = await api(secAdmin, 'POST', '/api/users', { username: 'gz.lawyer', display_name: '广州律师', role: 'lawyer', password: 'Temp-Pass-123', office: '广州', department: '知产部' });
  t.equal(created.status, 201, 'an account may be created with an office and department');
  t.match(created.body, { office: '广州', department: '知产部' }, 'which it carries');
  const plain = await api(secAdmin, 'POST', '/api/users', { username: 'no.office', display_name: '无部门', role: 'lawyer', password: 'Temp-Pass-123' });
  t.match(plain.body, { office: null, department: null }, 'they are optional');

  const disabled = await api(secAdmin, 'PATCH', `/api/users/${gone.id}`, { disabled: true });
  t.equal(disabled.status, 200, 'an account is disabled for the checks below');
});

t.test('a project with nested subtasks, assigned across offices, notifies the assignees', async (t) => {
  const created = await api(alice, 'POST', '/api/projects', { name: '并购尽调', description: '目标公司尽职调查', member_ids: [bob.id, bob.id] });
  t.equal(created.status, 201, 'the project is created');
  ids.project = created.body.id;
  t.match(created.body, { name: '并购尽调', status: 'active', matter_id: null, created_by: alice.id }, 'with its fields');
  t.same(created.body.members.map((m: Json) => m.id).sort(), [alice.id, bob.id].sort(), 'the creator and the (deduplicated) member are members');
  t.match(created.body.members.find((m: Json) => m.id === bob.id), { office: '上海', department: '非诉部' }, 'members show office and department');

  const top = await api(alice, 'POST', `/api/projects/${ids.project}/tasks`, { title: '审阅股权结构', assignee_ids: [bob.id], due_on: '2026-12-10', priority: 'high' });
  t.equal(top.status, 201, 'a top-level task is created');
  t.match(top.body, { parent_id: null, status: 'todo', priority: 'high', due_on: '2026-12-10', comment_count: 0, project_name: '并购尽调' }, 'with its fields');
  ids.top = top.body.id;

  const sub = await api(bob, 'POST', `/api/projects/${ids.project}/tasks`, { title: '调取工商档案', parent_id: ids.top, assignee_ids: [carol.id], due_on: '2026-12-05' });
  t.equal(sub.status, 201, 'a subtask is created by a member');
  t.equal(sub.body.priority, 'normal', 'priority defaults to normal');
  ids.sub = sub.body.id;

  const leaf = await api(carol, 'POST', `/api/projects/${ids.project}/tasks`, { title: '核对股东名册', parent_id: ids.sub, assignee_ids: [alice.id] });
  t.equal(leaf.status, 201, 'a third level is allowed (and an assignee-only intern may add it)');
  ids.leaf = leaf.body.id;
  t.same(leaf.body.assignees, [{ id: alice.id, username: alice.username, display_name: '测试 lawyer', office: '北京', department: '诉讼部' }], 'assignees carry name, office and department');

  const tooDeep = await api(alice, 'POST', `/api/projects/${ids.project}/tasks`, { title: '第四层', parent_id: ids.leaf });
  t.equal(tooDeep.status, 400, 'a fourth level is refused');
  t.equal(tooDeep.body.error.code, 'TASK_TOO_DEEP', 'with TASK_TOO_DEEP');
  t.ok(isErrorShape(tooDeep.body), 'and the error shape');

  const list = await api(alice, 'GET', `/api/projects/${ids.project}/tasks`);
  t.equal(list.status, 200, 'the project’s tasks are listed');
  t.same(list.body.map((x: Json) => [x.id, x.parent_id]), [[ids.top, null], [ids.sub, ids.top], [ids.leaf, ids.sub]], 'flat, parents first, with parent_id');

  const detail = await api(alice, 'GET', `/api/projects/${ids.project}`);
  t.match(detail.body.task_counts, { todo: 3, in_progress: 0, done: 0, total: 3 }, 'the project counts its tasks by status');

  const notice = await eventFor(`user:${bob.id}`, (d) => d.type === 'task.assigned' && d.task_id === ids.top);
  t.match(notice?.data, { type: 'task.assigned', task_id: ids.top, project_id: ids.project, title: '审阅股权结构' }, 'the assignee gets a task.assigned notice');
  t.ok(await eventFor(`user:${carol.id}`, (d) => d.type === 'task.assigned' && d.task_id === ids.sub), 'so does the assignee of the subtask');
});

t.test('GET /api/tasks lists tasks across offices and departments', async (t) => {
  const titles = async (who: Who, query: string) => {
    const res = await api(who, 'GET', `/api/tasks${query}`);
    t.equal(res.status, 200, `GET /api/tasks${query} succeeds`);
    return (res.body as Json[]).map((x) => x.id).sort((a, b) => a - b);
  };
  const sorted = (...xs: number[]) => [...xs].sort((a, b) => a - b);
  t.same(await titles(alice, '?office=上海'), sorted(ids.top!, ids.sub!), 'office=上海: the tasks of Bob and Carol');
  t.same(await titles(alice, '?department=诉讼部'), sorted(ids.sub!, ids.leaf!), 'department=诉讼部: Carol in Shanghai and Alice in Beijing');
  t.same(await titles(alice, `?office=${encodeURIComponent('上海')}&department=${encodeURIComponent('诉讼部')}`), [ids.sub], 'office and department together: the same assignee');
  t.same(await titles(alice, '?office=北京&department=非诉部'), [], 'nobody assigned in Beijing non-litigation');
  t.same(await titles(bob, '?assignee=me'), [ids.top], 'assignee=me');
  t.same(await titles(director, `?assignee=${carol.id}`), [ids.sub], 'assignee=<id>');
  t.same(await titles(alice, '?due_before=2026-12-10'), [ids.sub], 'due_before is strict and leaves undated tasks out');
  t.same(await titles(alice, '?status=done'), [], 'status filters');
  const all = await api(alice, 'GET', '/api/tasks');
  t.same(all.body.map((x: Json) => x.id), [ids.sub, ids.top, ids.leaf], 'soonest due first, undated last');
  const bad = await api(alice, 'GET', '/api/tasks?due_before=2026-02-30');
  t.equal(bad.status, 400, 'a date that does not exist is refused');
  t.ok(isErrorShape(bad.body), 'with the error shape');
});

t.test('a parent cannot be done while a subtask is open', async (t) => {
  const refused = await api(alice, 'PATCH', `/api/tasks/${ids.top}`, { status: 'done' });
  t.equal(refused.status, 409, 'done with open subtasks is refused');
  t.equal(refused.body.error.code, 'SUBTASKS_OPEN', 'with SUBTASKS_OPEN');
  t.ok(isErrorShape(refused.body), 'and the error shape');

  const middle = await api(alice, 'PATCH', `/api/tasks/${ids.sub}`, { status: 'cancelled' });
  t.equal(middle.status, 200, 'the subtask is cancelled');
  const stillOpen = await api(alice, 'PATCH', `/api/tasks/${ids.top}`, { status: 'done' });
  t.equal(stillOpen.body.error?.code, 'SUBTASKS_OPEN', 'a grandchild still open also blocks it');

  const leaf = await api(alice, 'PATCH', `/api/tasks/${ids.leaf}`, { status: 'done' });
  t.equal(leaf.status, 200, 'the grandchild is done');
  t.ok(leaf.body.completed_at, 'and has completed_at');
  const done = await api(alice, 'PATCH', `/api/tasks/${ids.top}`, { status: 'done' });
  t.equal(done.status, 200, 'now the parent may be done');
  t.equal(done.body.completed_at, inst.clock.now().toISOString(), 'completed_at is set');

  const under = await api(alice, 'POST', `/api/projects/${ids.project}/tasks`, { title: '补充', parent_id: ids.top });
  t.equal(under.status, 409, 'no new subtask under a done task');
  t.equal(under.body.error.code, 'PARENT_DONE', 'with PARENT_DONE');
  const reopenChild = await api(alice, 'PATCH', `/api/tasks/${ids.sub}`, { status: 'todo' });
  t.equal(reopenChild.body.error?.code, 'PARENT_DONE', 'nor may a subtask reopen under it');

  const reopened = await api(alice, 'PATCH', `/api/tasks/${ids.top}`, { status: 'in_progress', due_on: null, title: '审阅股权结构（二）', priority: 'urgent' });
  t.equal(reopened.status, 200, 'the parent is reopened');
  t.match(reopened.body, { status: 'in_progress', completed_at: null, due_on: null, title: '审阅股权结构（二）', priority: 'urgent' }, 'completed_at and due_on are cleared');
});

t.test('reassignment replaces the assignees and notifies only the new ones', async (t) => {
  const before = events.length;
  const res = await api(alice, 'PATCH', `/api/tasks/${ids.top}`, { assignee_ids: [bob.id, carol.id] });
  t.equal(res.status, 200, 'the assignees are changed');
  t.same(res.body.assignees.map((a: Json) => a.id).sort(), [bob.id, carol.id].sort(), 'to the new set');
  t.ok(await eventFor(`user:${carol.id}`, (d) => d.type === 'task.assigned' && d.task_id === ids.top), 'the new assignee is notified');
  await new Promise((r) => setTimeout(r, 100));
  t.notOk(events.slice(before).some((e) => e.topic === `user:${bob.id}` && e.data.type === 'task.assigned'), 'the one already assigned is not notified again');
  const back = await api(alice, 'PATCH', `/api/tasks/${ids.top}`, { assignee_ids: [bob.id] });
  t.same(back.body.assignees.map((a: Json) => a.id), [bob.id], 'an assignee is removed');
});

t.test('comments on a task', async (t) => {
  const posted = await api(carol, 'POST', `/api/tasks/${ids.sub}/comments`, { body: '工商档案已调取，见附件。' });
  t.equal(posted.status, 201, 'a comment is added');
  t.match(posted.body, { task_id: ids.sub, body: '工商档案已调取，见附件。', author: { id: carol.id, office: '上海', department: '诉讼部' } }, 'with its author');
  await api(bob, 'POST', `/api/tasks/${ids.sub}/comments`, { body: '收到' });
  const list = await api(alice, 'GET', `/api/tasks/${ids.sub}/comments`);
  t.equal(list.status, 200, 'comments are listed');
  t.same(list.body.map((c: Json) => c.body), ['工商档案已调取，见附件。', '收到'], 'oldest first');
  const tasks = await api(alice, 'GET', `/api/projects/${ids.project}/tasks`);
  t.equal(tasks.body.find((x: Json) => x.id === ids.sub).comment_count, 2, 'the task list counts them');
  const long = await api(alice, 'POST', `/api/tasks/${ids.sub}/comments`, { body: 'x'.repeat(5001) });
  t.equal(long.status, 400, 'a comment over 5000 characters is refused');
  t.ok(isErrorShape(long.body), 'with the error shape');
  const blank = await api(alice, 'POST', `/api/tasks/${ids.sub}/comments`, { body: '   ' });
  t.equal(blank.body.error?.code, 'INVALID_COMMENT', 'a blank comment is refused');
});

t.test('members are added and removed', async (t) => {
  const added = await api(alice, 'POST', `/api/projects/${ids.project}/members`, { user_id: carol.id });
  t.equal(added.status, 201, 'a member is added');
  t.ok(added.body.members.some((m: Json) => m.id === carol.id), 'and listed');
  t.ok(await eventFor(`user:${carol.id}`, (d) => d.type === 'project.member_added' && d.project_id === ids.project), 'and notified');
  const again = await api(alice, 'POST', `/api/projects/${ids.project}/members`, { user_id: carol.id });
  t.equal(again.status, 409, 'adding twice is refused');
  t.equal(again.body.error.code, 'ALREADY_MEMBER', 'with ALREADY_MEMBER');
  const removed = await api(alice, 'DELETE', `/api/projects/${ids.project}/members/${carol.id}`);
  t.equal(removed.status, 200, 'the member is removed');
  t.notOk(removed.body.members.some((m: Json) => m.id === carol.id), 'and no longer listed');
  const missing = await api(alice, 'DELETE', `/api/projects/${ids.project}/members/${dave.id}`);
  t.equal(missing.status, 404, 'removing a non-member is a 404');
  t.equal(missing.body.error.code, 'MEMBER_NOT_FOUND', 'with MEMBER_NOT_FOUND');
  const viaTask = await api(carol, 'GET', `/api/projects/${ids.project}`);
  t.equal(viaTask.status, 200, 'a former member still assigned to a task still sees the project');
});

t.test('who sees a project: creator, members, assignees, director — nobody else', async (t) => {
  const p = ids.project!;
  const probes: [string, 'GET' | 'POST' | 'PATCH' | 'DELETE', (id: number) => string, object | undefined, 'project' | 'task'][] = [
    ['GET project', 'GET', (id) => `/api/projects/${id}`, undefined, 'project'],
    ['GET project tasks', 'GET', (id) => `/api/projects/${id}/tasks`, undefined, 'project'],
    ['PATCH project', 'PATCH', (id) => `/api/projects/${id}`, { name: '偷看' }, 'project'],
    ['POST task', 'POST', (id) => `/api/projects/${id}/tasks`, { title: '偷看' }, 'project'],
    ['POST member', 'POST', (id) => `/api/projects/${id}/members`, { user_id: dave.id }, 'project'],
    ['DELETE member', 'DELETE', (id) => `/api/projects/${id}/members/${bob.id}`, undefined, 'project'],
    ['GET comments', 'GET', (id) => `/api/tasks/${id}/comments`, undefined, 'task'],
    ['POST comment', 'POST', (id) => `/api/tasks/${id}/comments`, { body: '偷看' }, 'task'],
    ['PATCH task', 'PATCH', (id) => `/api/tasks/${id}`, { status: 'done' }, 'task'],
  ];
  const seq = await inst.ctx.db.selectFrom('audit_log').select((eb) => eb.fn.max('seq').as('seq')).executeTakeFirstOrThrow();
  for (const [label, method, url, payload, kind] of probes) {
    const existing = kind === 'project' ? p : ids.sub!;
    const hidden = await api(dave, method, url(existing), payload);
    const absent = await api(dave, method, url(999_999), payload);
    t.equal(hidden.status, 404, `${label}: an outsider gets 404`);
    t.equal(hidden.body.error?.code, kind === 'project' ? 'PROJECT_NOT_FOUND' : 'TASK_NOT_FOUND', `${label}: with the not-found code`);
    t.ok(isErrorShape(hidden.body), `${label}: and the error shape`);
    t.same([absent.status, absent.body.error?.code], [hidden.status, hidden.body.error?.code], `${label}: exactly as for an id that does not exist`);
  }
  const written = await inst.ctx.db.selectFrom('audit_log').select('action').where('seq', '>', Number(seq.seq)).execute();
  t.same(written, [], 'the refused attempts changed nothing');

  const listed = await api(dave, 'GET', '/api/projects');
  t.notOk(listed.body.some((x: Json) => x.id === p), 'the outsider’s project list leaves it out');
  const tasks = await api(dave, 'GET', '/api/tasks');
  t.same(tasks.body, [], 'so does the outsider’s task list');

  t.equal((await api(director, 'GET', `/api/projects/${p}`)).status, 200, 'the director (matters.read_all) sees it');
  t.ok((await api(director, 'GET', '/api/projects')).body.some((x: Json) => x.id === p), 'and lists it');
  t.equal((await api(director, 'GET', `/api/tasks/${ids.sub}/comments`)).status, 200, 'and its comments');
  t.equal((await api(bob, 'GET', `/api/projects/${p}`)).status, 200, 'a member sees it');
  t.equal((await api(carol, 'GET', `/api/projects/${p}/tasks`)).status, 200, 'an assignee who is not a member sees it');
});

t.test('a project linked to a matter is visible to the matter’s team', async (t) => {
  let matterId: number | undefined;
  if (app.routeCatalog.some((r) => r.url === '/api/matters' && r.method === 'POST')) {
    const res = await api(partner, 'POST', '/api/matters', { title: '某公司股权纠纷', type: 'civil', team_ids: [erin.id], parties: [{ role: 'client', kind: 'organization', name: '协作测试有限公司' }] });
    if (res.status === 201) matterId = res.body.id ?? res.body.matter?.id;
    else t.comment(`POST /api/matters answered ${res.status} (${JSON.stringify(res.body)}); inserting the matter directly`);
  }
  if (matterId === undefined) {
    const db = inst.ctx.db;
    const now = inst.clock.now();
    const check = await db
      .insertInto('conflict_checks')
      .values({ purpose: 'intake', query: '[]', hits: '[]', hit_count: 0, report_hash: '0'.repeat(64), created_by: partner.id, created_at: now, status: 'clear' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const matter = await db
      .insertInto('matters')
      .values({ number: '(2026)协作测字第0001号', title: '某公司股权纠纷', type: 'civil', status: 'open', responsible_lawyer_id: partner.id, conflict_check_id: check.id, intake: '{}', created_by: partner.id, created_at: now, updated_at: now, opened_at: now })
      .returning('id')
      .executeTakeFirstOrThrow();
    await db.insertInto('matter_team').values([{ matter_id: matter.id, user_id: partner.id, role: 'responsible', added_at: now }, { matter_id: matter.id, user_id: erin.id, role: 'member', added_at: now }]).execute();
    matterId = matter.id;
  }

  const outsider = await api(dave, 'POST', '/api/projects', { name: '借案件之名', matter_id: matterId });
  t.equal(outsider.status, 404, 'someone who cannot see the matter cannot link a project to it');
  t.equal(outsider.body.error?.code, 'MATTER_NOT_FOUND', 'with MATTER_NOT_FOUND');

  const created = await api(partner, 'POST', '/api/projects', { name: '诉讼准备', matter_id: matterId });
  t.equal(created.status, 201, 'the responsible lawyer links a project to the matter');
  t.equal(created.body.matter_id, matterId, 'the project names its matter');
  const id = created.body.id as number;
  const task = await api(partner, 'POST', `/api/projects/${id}/tasks`, { title: '起草起诉状' });

  t.equal((await api(erin, 'GET', `/api/projects/${id}`)).status, 200, 'the matter’s team member (not a project member) sees the project');
  t.equal((await api(erin, 'GET', `/api/projects/${id}/tasks`)).status, 200, 'and its tasks');
  t.equal((await api(erin, 'POST', `/api/tasks/${task.body.id}/comments`, { body: '我来起草' })).status, 201, 'and may comment');
  t.ok((await api(erin, 'GET', '/api/tasks')).body.some((x: Json) => x.id === task.body.id), 'its tasks show in the team member’s task list');
  t.equal((await api(dave, 'GET', `/api/projects/${id}`)).status, 404, 'someone off the matter does not see it');
});

t.test('an archived project is read-only until it is set active again', async (t) => {
  const archived = await api(alice, 'PATCH', `/api/projects/${ids.project}`, { status: 'archived' });
  t.equal(archived.status, 200, 'the project is archived');
  t.equal(archived.body.status, 'archived', 'its status says so');
  for (const [label, res] of [
    ['new task', await api(alice, 'POST', `/api/projects/${ids.project}/tasks`, { title: '归档后' })],
    ['task edit', await api(alice, 'PATCH', `/api/tasks/${ids.sub}`, { priority: 'low' })],
    ['comment', await api(alice, 'POST', `/api/tasks/${ids.sub}/comments`, { body: '归档后' })],
  ] as const) {
    t.equal(res.status, 409, `${label} is refused`);
    t.equal(res.body.error?.code, 'PROJECT_ARCHIVED', `${label}: with PROJECT_ARCHIVED`);
  }
  const active = await api(alice, 'PATCH', `/api/projects/${ids.project}`, { status: 'active', description: '' });
  t.match(active.body, { status: 'active', description: null }, 'set active again, and an empty description clears it');
});

t.test('every change is in the audit trail, without the words of titles and comments', async (t) => {
  const rows = await inst.ctx.db.selectFrom('audit_log').selectAll().where('action', 'like', 'project.%').orderBy('seq').execute();
  const taskRows = await inst.ctx.db.selectFrom('audit_log').selectAll().where('action', 'like', 'task.%').orderBy('seq').execute();
  const actions = new Set([...rows, ...taskRows].map((r) => r.action));
  for (const action of ['project.create', 'project.update', 'project.member_add', 'project.member_remove', 'task.create', 'task.update', 'task.comment']) {
    t.ok(actions.has(action), `${action} is recorded`);
  }
  t.match(rows.find((r) => r.action === 'project.create' && r.object === `project:${ids.project}`), { actor: alice.username, result: 'success', detail: { member_ids: [alice.id, bob.id] } }, 'project.create names the actor and the members');
  t.match(taskRows.find((r) => r.action === 'task.update' && r.object === `task:${ids.top}` && (r.detail as Json)?.status?.to === 'done'), { actor: alice.username, detail: { status: { from: 'todo', to: 'done' } } }, 'task.update records the status change');
  t.match(rows.find((r) => r.action === 'project.member_remove'), { detail: { user_id: carol.id } }, 'member_remove names the user');
  const text = JSON.stringify([...rows, ...taskRows].map((r) => r.detail));
  t.notOk(text.includes('工商档案'), 'no comment text is copied into the trail');
  t.notOk(text.includes('审阅股权结构'), 'nor task titles');
});

t.test('roles without matters.work get 403', async (t) => {
  for (const who of [itAdmin, finance]) {
    for (const [method, url, payload] of [
      ['POST', '/api/projects', { name: 'x' }],
      ['GET', '/api/projects', undefined],
      ['GET', '/api/tasks', undefined],
      ['GET', `/api/projects/${ids.project}`, undefined],
      ['PATCH', `/api/tasks/${ids.top}`, { status: 'done' }],
    ] as const) {
      const res = await api(who, method, url, payload);
      t.equal(res.status, 403, `${who.username} → ${method} ${url} is refused`);
      t.equal(res.body.error?.code, 'FORBIDDEN', 'with FORBIDDEN');
      t.ok(isErrorShape(res.body), 'and the error shape');
    }
  }
  t.equal((await api(null, 'GET', '/api/tasks')).status, 401, 'anonymous callers get 401');
});

t.test('bad input gets 400 with the error shape and changes nothing', async (t) => {
  const other = await api(bob, 'POST', '/api/projects', { name: '另一个项目' });
  const otherTask = await api(bob, 'POST', `/api/projects/${other.body.id}/tasks`, { title: '别处的任务' });
  const seq = await inst.ctx.db.selectFrom('audit_log').select((eb) => eb.fn.max('seq').as('seq')).executeTakeFirstOrThrow();
  const cases: [string, 'POST' | 'PATCH', string, object, string | null][] = [
    ['unknown project field', 'POST', '/api/projects', { name: 'x', owner: 1 }, 'VALIDATION_FAILED'],
    ['empty project name', 'POST', '/api/projects', { name: '' }, 'VALIDATION_FAILED'],
    ['blank project name', 'POST', '/api/projects', { name: '   ' }, 'INVALID_NAME'],
    ['unknown member', 'POST', '/api/projects', { name: 'x', member_ids: [999_999] }, 'INVALID_USER'],
    ['disabled member', 'POST', '/api/projects', { name: 'x', member_ids: [gone.id] }, 'INVALID_USER'],
    ['member whose role does not collaborate', 'POST', '/api/projects', { name: 'x', member_ids: [itAdmin.id] }, 'INVALID_USER'],
    ['bad project status', 'PATCH', `/api/projects/${ids.project}`, { status: 'deleted' }, 'VALIDATION_FAILED'],
    ['empty project PATCH', 'PATCH', `/api/projects/${ids.project}`, {}, 'VALIDATION_FAILED'],
    ['unknown task field', 'POST', `/api/projects/${ids.project}/tasks`, { title: 'x', estimate: 3 }, 'VALIDATION_FAILED'],
    ['due_on 2026-02-30', 'POST', `/api/projects/${ids.project}/tasks`, { title: 'x', due_on: '2026-02-30' }, 'VALIDATION_FAILED'],
    ['due_on not a date', 'POST', `/api/projects/${ids.project}/tasks`, { title: 'x', due_on: 'tomorrow' }, 'VALIDATION_FAILED'],
    ['bad priority', 'POST', `/api/projects/${ids.project}/tasks`, { title: 'x', priority: 'asap' }, 'VALIDATION_FAILED'],
    ['parent in another project', 'POST', `/api/projects/${ids.project}/tasks`, { title: 'x', parent_id: otherTask.body.id }, 'INVALID_PARENT'],
    ['parent that does not exist', 'POST', `/api/projects/${ids.project}/tasks`, { title: 'x', parent_id: 999_999 }, 'INVALID_PARENT'],
    ['disabled assignee', 'POST', `/api/projects/${ids.project}/tasks`, { title: 'x', assignee_ids: [gone.id] }, 'INVALID_USER'],
    ['unknown task PATCH field', 'PATCH', `/api/tasks/${ids.top}`, { parent_id: null }, 'VALIDATION_FAILED'],
    ['bad task status', 'PATCH', `/api/tasks/${ids.top}`, { status: 'finished' }, 'VALIDATION_FAILED'],
    ['PATCH due_on 2026-02-30', 'PATCH', `/api/tasks/${ids.top}`, { due_on: '2026-02-30' }, 'VALIDATION_FAILED'],
    ['unknown assignee on PATCH', 'PATCH', `/api/tasks/${ids.top}`, { assignee_ids: [999_999] }, 'INVALID_USER'],
    ['unknown comment field', 'POST', `/api/tasks/${ids.top}/comments`, { body: 'x', private: true }, 'VALIDATION_FAILED'],
    ['missing comment body', 'POST', `/api/tasks/${ids.top}/comments`, {}, 'VALIDATION_FAILED'],
  ];
  for (const [label, method, url, payload, code] of cases) {
    const res = await api(alice, method, url, payload);
    t.equal(res.status, 400, `${label}: 400`);
    t.ok(isErrorShape(res.body), `${label}: the error shape (${JSON.stringify(res.body)})`);
    if (code) t.equal(res.body.error?.code, code, `${label}: ${code}`);
  }
  const unknownQuery = await api(alice, 'GET', '/api/tasks?owner=me');
  t.equal(unknownQuery.status, 400, 'an unknown query parameter is refused');
  t.equal((await api(alice, 'GET', '/api/tasks?assignee=someone')).status, 400, 'assignee is "me" or an id');
  const written = await inst.ctx.db.selectFrom('audit_log').select('action').where('seq', '>', Number(seq.seq)).execute();
  t.same(written, [], 'no refused request wrote anything');
});
