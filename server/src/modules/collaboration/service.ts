import type { ExpressionBuilder, Transaction } from 'kysely';
import type { Actor, ServiceContext } from '../../context.js';
import type { Db } from '../../db/index.js';
import type { Database, ProjectsTable, TasksTable } from '../../db/schema.js';
import { badRequest, conflict, forbidden, notFound } from '../../errors.js';
import { parseCalendarDate } from '../../calendar.js';
import { appendAudit } from '../audit/service.js';
import { can } from '../auth/roles.js';
import { assertMatterVisible, matterVisibleTo, seesAllMatters } from '../matters/access.js';
import { announce } from '../realtime/hub.js';

/**
 * 协作 (Z6.3.3.3): projects, tasks with subtasks, assignees across offices and departments, comments.
 *
 * Who sees a project: its creator, its members, the assignees of any of its tasks, everyone who sees
 * every matter (matters.read_all) and, for a project linked to a matter, everyone who may see that
 * matter. Whoever sees a project may work on it (the routes require matters.work). A project or task
 * the actor may not see is reported exactly like one that does not exist, so ids cannot be probed.
 */

export type ProjectStatus = ProjectsTable['status'];
export type TaskStatus = TasksTable['status'];
export type TaskPriority = TasksTable['priority'];

export const PROJECT_STATUSES: readonly ProjectStatus[] = ['active', 'completed', 'archived'];
export const TASK_STATUSES: readonly TaskStatus[] = ['todo', 'in_progress', 'blocked', 'done', 'cancelled'];
export const TASK_PRIORITIES: readonly TaskPriority[] = ['low', 'normal', 'high', 'urgent'];
/** A task, its subtask and the subtask's subtask: three levels at most. */
export const MAX_TASK_DEPTH = 3;
export const COMMENT_MAX_LENGTH = 5000;
/** Statuses that still need work: a parent cannot be done while a subtask is in one of them. */
const OPEN_STATUSES: ReadonlySet<TaskStatus> = new Set(['todo', 'in_progress', 'blocked']);

type Trx = Transaction<Database>;
type ProjectRow = Awaited<ReturnType<typeof loadProjectRow>>;
type TaskRow = Awaited<ReturnType<typeof loadTaskRow>>;

export const projectNotFound = (id: number) =>
  notFound('PROJECT_NOT_FOUND', `No project with id ${id}, or you may not see it. / 项目不存在或您无权查看。`);
export const taskNotFound = (id: number) => notFound('TASK_NOT_FOUND', `No task with id ${id}, or you may not see it. / 任务不存在或您无权查看。`);

// ---------------------------------------------------------------------------------------------
// Views

export interface UserRef {
  id: number;
  username: string;
  display_name: string;
  office: string | null;
  department: string | null;
}

export interface ProjectView {
  id: number;
  name: string;
  description: string | null;
  matter_id: number | null;
  status: ProjectStatus;
  created_by: number;
  created_at: string;
  updated_at: string;
  members: UserRef[];
  task_counts: Record<TaskStatus | 'total', number>;
}

export interface TaskView {
  id: number;
  project_id: number;
  project_name: string;
  /** null for a top-level task; tasks are listed flat, a parent always before its subtasks */
  parent_id: number | null;
  title: string;
  description: string | null;
  status: TaskStatus;
  priority: TaskPriority;
  due_on: string | null;
  created_by: number;
  created_at: string;
  updated_at: string;
  completed_at: string | null;
  assignees: UserRef[];
  comment_count: number;
}

export interface CommentView {
  id: number;
  task_id: number;
  author: UserRef;
  body: string;
  created_at: string;
}

// ---------------------------------------------------------------------------------------------
// Visibility

function requireUserId(actor: Actor): number {
  if (actor.userId === null) throw forbidden('FORBIDDEN', 'Only a signed-in user may collaborate. / 仅登录用户可参与协作。');
  return actor.userId;
}

/** A where-clause over a `projects` row aliased `p`, true for the projects the actor may see. */
function projectVisibleTo(db: Db, actor: Actor) {
  return (eb: ExpressionBuilder<Database & { p: Database['projects'] }, 'p'>) => {
    if (seesAllMatters(actor)) return eb.lit(true);
    const userId = actor.userId ?? -1;
    return eb.or([
      eb('p.created_by', '=', userId),
      eb.exists(eb.selectFrom('project_members as vm').select('vm.user_id').whereRef('vm.project_id', '=', 'p.id').where('vm.user_id', '=', userId)),
      eb.exists(
        eb
          .selectFrom('tasks as vt')
          .innerJoin('task_assignees as va', 'va.task_id', 'vt.id')
          .select('va.user_id')
          .whereRef('vt.project_id', '=', 'p.id')
          .where('va.user_id', '=', userId),
      ),
      // A project linked to a matter is open to whoever may see the matter.
      eb('p.matter_id', 'in', db.selectFrom('matters as m').select('m.id').where(matterVisibleTo(actor))),
    ]);
  };
}

/** The ids of the projects the actor may see, as a subquery. */
function visibleProjectIds(db: Db, actor: Actor) {
  return db.selectFrom('projects as p').select('p.id').where(projectVisibleTo(db, actor));
}

function loadProjectRow(db: Db, actor: Actor, id: number) {
  return db.selectFrom('projects as p').selectAll('p').where('p.id', '=', id).where(projectVisibleTo(db, actor)).executeTakeFirst();
}

async function visibleProject(db: Db, actor: Actor, id: number): Promise<NonNullable<ProjectRow>> {
  const project = await loadProjectRow(db, actor, id);
  if (!project) throw projectNotFound(id);
  return project;
}

function loadTaskRow(db: Db, actor: Actor, id: number) {
  let q = db
    .selectFrom('tasks as t')
    .innerJoin('projects as p', 'p.id', 't.project_id')
    .selectAll('t')
    .select(['p.status as project_status', 'p.name as project_name'])
    .where('t.id', '=', id);
  if (!seesAllMatters(actor)) q = q.where('t.project_id', 'in', visibleProjectIds(db, actor));
  return q.executeTakeFirst();
}

async function visibleTask(db: Db, actor: Actor, id: number): Promise<NonNullable<TaskRow>> {
  const task = await loadTaskRow(db, actor, id);
  if (!task) throw taskNotFound(id);
  return task;
}

/** An archived project is kept as it is: no new tasks, comments, edits of tasks or membership changes. */
function assertWritable(project: { id: number; status: ProjectStatus }): void {
  if (project.status === 'archived') {
    throw conflict('PROJECT_ARCHIVED', `Project ${project.id} is archived; set it active again to change it. / 项目已归档，如需修改请先恢复。`);
  }
}

// ---------------------------------------------------------------------------------------------
// Input checks

/** Members and assignees: existing, active accounts whose role may collaborate at all. */
async function assertCollaborators(trx: Trx, ids: number[], field: string): Promise<Map<number, UserRef>> {
  const found = new Map<number, UserRef>();
  if (ids.length === 0) return found;
  const rows = await trx.selectFrom('users').select(['id', 'username', 'display_name', 'office', 'department', 'disabled', 'role']).where('id', 'in', ids).execute();
  for (const id of ids) {
    const u = rows.find((r) => r.id === id);
    if (!u || u.disabled) throw badRequest('INVALID_USER', `${field}: no active user with id ${id}. / ${field}：用户 ${id} 不存在或已停用。`);
    if (!can(u.role, 'matters.work')) {
      throw badRequest('INVALID_USER', `${field}: user ${id}'s role does not take part in collaboration. / ${field}：用户 ${id} 的角色不能参与协作。`);
    }
    found.set(id, { id: u.id, username: u.username, display_name: u.display_name, office: u.office, department: u.department });
  }
  return found;
}

const unique = (ids: number[]): number[] => [...new Set(ids)];

function cleanText(value: string | null | undefined): string | null | undefined {
  if (value === undefined) return undefined;
  const v = value?.trim() ?? '';
  return v === '' ? null : v;
}

function requiredText(value: string, code: string, message: string): string {
  const v = value.trim();
  if (!v) throw badRequest(code, message);
  return v;
}

// ---------------------------------------------------------------------------------------------
// Presentation

const iso = (d: Date | string): string => (d instanceof Date ? d : new Date(d)).toISOString();

async function membersOf(db: Db, projectIds: number[]): Promise<Map<number, UserRef[]>> {
  const out = new Map<number, UserRef[]>(projectIds.map((id) => [id, []]));
  if (projectIds.length === 0) return out;
  const rows = await db
    .selectFrom('project_members as pm')
    .innerJoin('users as u', 'u.id', 'pm.user_id')
    .select(['pm.project_id', 'u.id', 'u.username', 'u.display_name', 'u.office', 'u.department'])
    .where('pm.project_id', 'in', projectIds)
    .orderBy('u.display_name')
    .orderBy('u.id')
    .execute();
  for (const { project_id, ...user } of rows) out.get(project_id)?.push(user);
  return out;
}

async function taskCountsOf(db: Db, projectIds: number[]): Promise<Map<number, ProjectView['task_counts']>> {
  const empty = (): ProjectView['task_counts'] => ({ todo: 0, in_progress: 0, blocked: 0, done: 0, cancelled: 0, total: 0 });
  const out = new Map(projectIds.map((id) => [id, empty()]));
  if (projectIds.length === 0) return out;
  const rows = await db
    .selectFrom('tasks')
    .select((eb) => ['project_id', 'status', eb.fn.countAll<number>().as('n')])
    .where('project_id', 'in', projectIds)
    .groupBy(['project_id', 'status'])
    .execute();
  for (const r of rows) {
    const counts = out.get(r.project_id);
    if (!counts) continue;
    counts[r.status] = Number(r.n);
    counts.total += Number(r.n);
  }
  return out;
}

type ProjectRecord = { id: number; name: string; description: string | null; matter_id: number | null; status: ProjectStatus; created_by: number; created_at: Date; updated_at: Date };

async function presentProjects(db: Db, rows: ProjectRecord[]): Promise<ProjectView[]> {
  const ids = rows.map((r) => r.id);
  const [members, counts] = await Promise.all([membersOf(db, ids), taskCountsOf(db, ids)]);
  return rows.map((p) => ({
    id: p.id,
    name: p.name,
    description: p.description,
    matter_id: p.matter_id,
    status: p.status,
    created_by: p.created_by,
    created_at: iso(p.created_at),
    updated_at: iso(p.updated_at),
    members: members.get(p.id) ?? [],
    task_counts: counts.get(p.id)!,
  }));
}

/** One project as it stands, read with `db` (the caller has already checked that the actor sees it). */
async function presentProject(db: Db, id: number): Promise<ProjectView> {
  const row = await db.selectFrom('projects').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  return (await presentProjects(db, [row]))[0]!;
}

function taskQuery(db: Db) {
  return db.selectFrom('tasks as t').innerJoin('projects as p', 'p.id', 't.project_id').selectAll('t').select('p.name as project_name');
}
type TaskRecord = Awaited<ReturnType<ReturnType<typeof taskQuery>['execute']>>[number];

async function presentTasks(db: Db, rows: TaskRecord[]): Promise<TaskView[]> {
  const ids = rows.map((r) => r.id);
  const assignees = new Map<number, UserRef[]>(ids.map((id) => [id, []]));
  const comments = new Map<number, number>();
  if (ids.length > 0) {
    const [a, c] = await Promise.all([
      db
        .selectFrom('task_assignees as ta')
        .innerJoin('users as u', 'u.id', 'ta.user_id')
        .select(['ta.task_id', 'u.id', 'u.username', 'u.display_name', 'u.office', 'u.department'])
        .where('ta.task_id', 'in', ids)
        .orderBy('u.display_name')
        .orderBy('u.id')
        .execute(),
      db
        .selectFrom('task_comments')
        .select((eb) => ['task_id', eb.fn.countAll<number>().as('n')])
        .where('task_id', 'in', ids)
        .groupBy('task_id')
        .execute(),
    ]);
    for (const { task_id, ...user } of a) assignees.get(task_id)?.push(user);
    for (const r of c) comments.set(r.task_id, Number(r.n));
  }
  return rows.map((t) => ({
    id: t.id,
    project_id: t.project_id,
    project_name: t.project_name,
    parent_id: t.parent_id,
    title: t.title,
    description: t.description,
    status: t.status,
    priority: t.priority,
    due_on: t.due_on,
    created_by: t.created_by,
    created_at: iso(t.created_at),
    updated_at: iso(t.updated_at),
    completed_at: t.completed_at ? iso(t.completed_at) : null,
    assignees: assignees.get(t.id) ?? [],
    comment_count: comments.get(t.id) ?? 0,
  }));
}

async function presentTask(db: Db, id: number): Promise<TaskView> {
  const row = await taskQuery(db).where('t.id', '=', id).executeTakeFirstOrThrow();
  return (await presentTasks(db, [row]))[0]!;
}

async function notifyAssigned(trx: Trx, userIds: number[], task: { id: number; project_id: number; title: string }): Promise<void> {
  for (const userId of userIds) {
    await announce(trx, { topic: `user:${userId}`, data: { type: 'task.assigned', task_id: task.id, project_id: task.project_id, title: task.title } });
  }
}

// ---------------------------------------------------------------------------------------------
// Projects

export interface ProjectInput {
  name: string;
  description?: string | null;
  matter_id?: number | null;
  member_ids?: number[];
}

/** Creates a project; its creator is its first member. */
export async function createProject(ctx: ServiceContext, actor: Actor, input: ProjectInput): Promise<ProjectView> {
  const userId = requireUserId(actor);
  const name = requiredText(input.name, 'INVALID_NAME', 'A project needs a name. / 请填写项目名称。');
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    const matterId = input.matter_id ?? null;
    if (matterId !== null) await assertMatterVisible(trx, actor, matterId);
    const memberIds = unique([userId, ...(input.member_ids ?? [])]);
    await assertCollaborators(trx, memberIds.filter((id) => id !== userId), 'member_ids');
    const project = await trx
      .insertInto('projects')
      .values({ name, description: cleanText(input.description) ?? null, matter_id: matterId, status: 'active', created_by: userId, created_at: now, updated_at: now })
      .returning('id')
      .executeTakeFirstOrThrow();
    await trx.insertInto('project_members').values(memberIds.map((id) => ({ project_id: project.id, user_id: id }))).execute();
    await appendAudit(trx, {
      at: now,
      actor: actor.username,
      action: 'project.create',
      object: `project:${project.id}`,
      result: 'success',
      sourceIp: actor.sourceIp,
      detail: { matter_id: matterId, member_ids: memberIds },
    });
    return presentProject(trx, project.id);
  });
}

export interface ProjectFilter {
  status?: ProjectStatus;
}

export async function listProjects(ctx: ServiceContext, actor: Actor, filter: ProjectFilter = {}): Promise<ProjectView[]> {
  let q = ctx.db.selectFrom('projects as p').selectAll('p').where(projectVisibleTo(ctx.db, actor));
  if (filter.status) q = q.where('p.status', '=', filter.status);
  const rows = await q.orderBy('p.updated_at', 'desc').orderBy('p.id', 'desc').execute();
  return presentProjects(ctx.db, rows);
}

export async function getProject(ctx: ServiceContext, actor: Actor, id: number): Promise<ProjectView> {
  const project = await visibleProject(ctx.db, actor, id);
  return (await presentProjects(ctx.db, [project]))[0]!;
}

export interface ProjectChanges {
  name?: string;
  /** an empty string or null clears it */
  description?: string | null;
  status?: ProjectStatus;
}

export async function updateProject(ctx: ServiceContext, actor: Actor, id: number, changes: ProjectChanges): Promise<ProjectView> {
  requireUserId(actor);
  const name = changes.name === undefined ? undefined : requiredText(changes.name, 'INVALID_NAME', 'A project needs a name. / 请填写项目名称。');
  const description = cleanText(changes.description);
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    const before = await visibleProject(trx, actor, id);
    await trx.selectFrom('projects').select('id').where('id', '=', id).forUpdate().execute();
    await trx.updateTable('projects').set({ name, description, status: changes.status, updated_at: now }).where('id', '=', id).execute();
    // Names and descriptions may name clients: the trail records that they changed, not what they say.
    const detail: Record<string, unknown> = {};
    if (name !== undefined && name !== before.name) detail.name = { changed: true };
    if (description !== undefined && description !== before.description) detail.description = { changed: true };
    if (changes.status !== undefined && changes.status !== before.status) detail.status = { from: before.status, to: changes.status };
    await appendAudit(trx, { at: now, actor: actor.username, action: 'project.update', object: `project:${id}`, result: 'success', sourceIp: actor.sourceIp, detail });
    return presentProject(trx, id);
  });
}

export async function addProjectMember(ctx: ServiceContext, actor: Actor, id: number, userId: number): Promise<ProjectView> {
  requireUserId(actor);
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    const project = await visibleProject(trx, actor, id);
    assertWritable(project);
    const user = (await assertCollaborators(trx, [userId], 'user_id')).get(userId)!;
    const added = await trx
      .insertInto('project_members')
      .values({ project_id: id, user_id: userId })
      .onConflict((oc) => oc.columns(['project_id', 'user_id']).doNothing())
      .returning('user_id')
      .executeTakeFirst();
    if (!added) throw conflict('ALREADY_MEMBER', `User ${userId} is already a member of project ${id}. / 该用户已是项目成员。`);
    await trx.updateTable('projects').set({ updated_at: now }).where('id', '=', id).execute();
    await appendAudit(trx, {
      at: now,
      actor: actor.username,
      action: 'project.member_add',
      object: `project:${id}`,
      result: 'success',
      sourceIp: actor.sourceIp,
      detail: { user_id: userId, username: user.username },
    });
    await announce(trx, { topic: `user:${userId}`, data: { type: 'project.member_added', project_id: id, name: project.name } });
    return presentProject(trx, id);
  });
}

/** Removes a member. The answer shows the project as it now is, even if the actor removed themselves. */
export async function removeProjectMember(ctx: ServiceContext, actor: Actor, id: number, userId: number): Promise<ProjectView> {
  requireUserId(actor);
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    const project = await visibleProject(trx, actor, id);
    assertWritable(project);
    const removed = await trx.deleteFrom('project_members').where('project_id', '=', id).where('user_id', '=', userId).returning('user_id').executeTakeFirst();
    if (!removed) throw notFound('MEMBER_NOT_FOUND', `User ${userId} is not a member of project ${id}. / 该用户不是项目成员。`);
    await trx.updateTable('projects').set({ updated_at: now }).where('id', '=', id).execute();
    await appendAudit(trx, {
      at: now,
      actor: actor.username,
      action: 'project.member_remove',
      object: `project:${id}`,
      result: 'success',
      sourceIp: actor.sourceIp,
      detail: { user_id: userId },
    });
    return presentProject(trx, id);
  });
}

// ---------------------------------------------------------------------------------------------
// Tasks

/**
 * The ancestors of a task, nearest first, share-locked: a parent being marked done at the same moment
 * (which holds its row for update) is waited for, so neither side misses the other's change.
 */
async function ancestorsOf(trx: Trx, task: { id: number; parent_id: number | null }): Promise<{ id: number; parent_id: number | null; status: TaskStatus }[]> {
  const out: { id: number; parent_id: number | null; status: TaskStatus }[] = [];
  let parentId = task.parent_id;
  // The depth limit keeps this short; the bound guards against a cycle written behind the API's back.
  while (parentId !== null && out.length <= MAX_TASK_DEPTH) {
    const parent = await trx.selectFrom('tasks').select(['id', 'parent_id', 'status']).where('id', '=', parentId).forShare().executeTakeFirstOrThrow();
    out.push(parent);
    parentId = parent.parent_id;
  }
  return out;
}

const parentDone = (id: number) =>
  conflict('PARENT_DONE', `Task ${id} above this one is done; reopen it first. / 上级任务已完成，请先重新打开上级任务。`);

export interface TaskInput {
  title: string;
  description?: string | null;
  parent_id?: number | null;
  assignee_ids?: number[];
  due_on?: string | null;
  priority?: TaskPriority;
}

export async function createTask(ctx: ServiceContext, actor: Actor, projectId: number, input: TaskInput): Promise<TaskView> {
  const userId = requireUserId(actor);
  const title = requiredText(input.title, 'INVALID_TITLE', 'A task needs a title. / 请填写任务名称。');
  const dueOn = input.due_on == null ? null : parseCalendarDate(input.due_on, 'due_on');
  const assigneeIds = unique(input.assignee_ids ?? []);
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    const project = await visibleProject(trx, actor, projectId);
    assertWritable(project);
    const parentId = input.parent_id ?? null;
    if (parentId !== null) {
      // Locked, so a parent being marked done at the same moment cannot miss this new subtask.
      const parent = await trx.selectFrom('tasks').select(['id', 'parent_id', 'status']).where('id', '=', parentId).where('project_id', '=', projectId).forUpdate().executeTakeFirst();
      if (!parent) throw badRequest('INVALID_PARENT', `parent_id: project ${projectId} has no task ${parentId}. / 上级任务不属于该项目。`);
      const ancestors = await ancestorsOf(trx, parent);
      if (ancestors.length + 2 > MAX_TASK_DEPTH) {
        throw badRequest('TASK_TOO_DEEP', `Subtasks nest at most ${MAX_TASK_DEPTH} levels deep. / 子任务最多 ${MAX_TASK_DEPTH} 层。`);
      }
      const done = [parent, ...ancestors].find((a) => a.status === 'done');
      if (done) throw parentDone(done.id);
    }
    await assertCollaborators(trx, assigneeIds, 'assignee_ids');
    const task = await trx
      .insertInto('tasks')
      .values({
        project_id: projectId,
        parent_id: parentId,
        title,
        description: cleanText(input.description) ?? null,
        status: 'todo',
        priority: input.priority ?? 'normal',
        due_on: dueOn,
        created_by: userId,
        created_at: now,
        updated_at: now,
      })
      .returning(['id', 'project_id', 'title'])
      .executeTakeFirstOrThrow();
    if (assigneeIds.length > 0) await trx.insertInto('task_assignees').values(assigneeIds.map((id) => ({ task_id: task.id, user_id: id }))).execute();
    await trx.updateTable('projects').set({ updated_at: now }).where('id', '=', projectId).execute();
    await appendAudit(trx, {
      at: now,
      actor: actor.username,
      action: 'task.create',
      object: `task:${task.id}`,
      result: 'success',
      sourceIp: actor.sourceIp,
      detail: { project_id: projectId, parent_id: parentId, assignee_ids: assigneeIds, priority: input.priority ?? 'normal', due_on: dueOn },
    });
    await notifyAssigned(trx, assigneeIds, task);
    return presentTask(trx, task.id);
  });
}

/** Every task of a project, flat and in creation order: a parent always comes before its subtasks. */
export async function listProjectTasks(ctx: ServiceContext, actor: Actor, projectId: number): Promise<TaskView[]> {
  await visibleProject(ctx.db, actor, projectId);
  const rows = await taskQuery(ctx.db).where('t.project_id', '=', projectId).orderBy('t.id').execute();
  return presentTasks(ctx.db, rows);
}

export interface TaskChanges {
  title?: string;
  /** an empty string or null clears it */
  description?: string | null;
  status?: TaskStatus;
  priority?: TaskPriority;
  /** null clears it */
  due_on?: string | null;
  /** the complete new set of assignees */
  assignee_ids?: number[];
}

export async function updateTask(ctx: ServiceContext, actor: Actor, id: number, changes: TaskChanges): Promise<TaskView> {
  requireUserId(actor);
  const title = changes.title === undefined ? undefined : requiredText(changes.title, 'INVALID_TITLE', 'A task needs a title. / 请填写任务名称。');
  const description = cleanText(changes.description);
  const dueOn = changes.due_on === undefined ? undefined : changes.due_on === null ? null : parseCalendarDate(changes.due_on, 'due_on');
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    const found = await visibleTask(trx, actor, id);
    assertWritable({ id: found.project_id, status: found.project_status });
    // Locked, so a subtask cannot be added or reopened under it while this decides about "done".
    const before = await trx.selectFrom('tasks').selectAll().where('id', '=', id).forUpdate().executeTakeFirstOrThrow();
    const status = changes.status;
    let completedAt: Date | null | undefined;
    if (status !== undefined && status !== before.status) {
      if (status === 'done') {
        const all = await trx.selectFrom('tasks').select(['id', 'parent_id', 'status']).where('project_id', '=', before.project_id).execute();
        const open: number[] = [];
        const queue = [id];
        while (queue.length > 0) {
          const current = queue.shift()!;
          for (const child of all.filter((t) => t.parent_id === current)) {
            if (OPEN_STATUSES.has(child.status)) open.push(child.id);
            queue.push(child.id);
          }
        }
        if (open.length > 0) {
          throw conflict('SUBTASKS_OPEN', `Subtasks ${open.join(', ')} are still open; finish or cancel them first. / 仍有未完成的子任务，请先完成或取消。`);
        }
        completedAt = now;
      } else {
        if (before.status === 'done') completedAt = null;
        if (OPEN_STATUSES.has(status)) {
          const done = (await ancestorsOf(trx, before)).find((a) => a.status === 'done');
          if (done) throw parentDone(done.id);
        }
      }
    }

    let added: number[] = [];
    let removed: number[] = [];
    if (changes.assignee_ids !== undefined) {
      const wanted = unique(changes.assignee_ids);
      const current = (await trx.selectFrom('task_assignees').select('user_id').where('task_id', '=', id).execute()).map((r) => r.user_id);
      added = wanted.filter((u) => !current.includes(u));
      removed = current.filter((u) => !wanted.includes(u));
      await assertCollaborators(trx, added, 'assignee_ids');
      if (removed.length > 0) await trx.deleteFrom('task_assignees').where('task_id', '=', id).where('user_id', 'in', removed).execute();
      if (added.length > 0) await trx.insertInto('task_assignees').values(added.map((u) => ({ task_id: id, user_id: u }))).execute();
    }

    const after = await trx
      .updateTable('tasks')
      .set({ title, description, status, priority: changes.priority, due_on: dueOn, completed_at: completedAt, updated_at: now })
      .where('id', '=', id)
      .returning(['id', 'project_id', 'title'])
      .executeTakeFirstOrThrow();
    await trx.updateTable('projects').set({ updated_at: now }).where('id', '=', before.project_id).execute();

    // Titles and descriptions may name clients: the trail records that they changed, not what they say.
    const detail: Record<string, unknown> = { project_id: before.project_id };
    if (title !== undefined && title !== before.title) detail.title = { changed: true };
    if (description !== undefined && description !== before.description) detail.description = { changed: true };
    if (status !== undefined && status !== before.status) detail.status = { from: before.status, to: status };
    if (changes.priority !== undefined && changes.priority !== before.priority) detail.priority = { from: before.priority, to: changes.priority };
    if (dueOn !== undefined && dueOn !== before.due_on) detail.due_on = { from: before.due_on, to: dueOn };
    if (added.length > 0 || removed.length > 0) detail.assignees = { added, removed };
    await appendAudit(trx, { at: now, actor: actor.username, action: 'task.update', object: `task:${id}`, result: 'success', sourceIp: actor.sourceIp, detail });
    await notifyAssigned(trx, added, after);
    return presentTask(trx, id);
  });
}

export interface TaskFilter {
  /** `me` or a user id */
  assignee?: string;
  status?: TaskStatus;
  /** the office of an assignee (exact name) */
  office?: string;
  /** the department of an assignee (exact name) */
  department?: string;
  /** due strictly before this day; tasks without a due date are left out */
  due_before?: string;
  project_id?: number;
  limit?: number;
}

/**
 * Tasks across every project the actor may see, soonest due first (undated last). The assignee,
 * office and department filters apply to one and the same assignee: `office=上海&department=诉讼部`
 * finds tasks with an assignee in the Shanghai office's litigation department.
 */
export async function listTasks(ctx: ServiceContext, actor: Actor, filter: TaskFilter = {}): Promise<TaskView[]> {
  const userId = requireUserId(actor);
  const assigneeId = filter.assignee === undefined ? undefined : filter.assignee === 'me' ? userId : Number(filter.assignee);
  if (assigneeId !== undefined && !Number.isSafeInteger(assigneeId)) throw badRequest('INVALID_ASSIGNEE', 'assignee is "me" or a user id. / assignee 须为 me 或用户编号。');
  const dueBefore = filter.due_before === undefined ? undefined : parseCalendarDate(filter.due_before, 'due_before');
  const office = filter.office?.trim() || undefined;
  const department = filter.department?.trim() || undefined;

  let q = taskQuery(ctx.db);
  if (!seesAllMatters(actor)) q = q.where('t.project_id', 'in', visibleProjectIds(ctx.db, actor));
  if (filter.project_id !== undefined) q = q.where('t.project_id', '=', filter.project_id);
  if (filter.status !== undefined) q = q.where('t.status', '=', filter.status);
  if (dueBefore !== undefined) q = q.where('t.due_on', '<', dueBefore);
  if (assigneeId !== undefined || office !== undefined || department !== undefined) {
    q = q.where((eb) => {
      let sub = eb.selectFrom('task_assignees as fa').innerJoin('users as fu', 'fu.id', 'fa.user_id').select('fa.user_id').whereRef('fa.task_id', '=', 't.id');
      if (assigneeId !== undefined) sub = sub.where('fa.user_id', '=', assigneeId);
      if (office !== undefined) sub = sub.where('fu.office', '=', office);
      if (department !== undefined) sub = sub.where('fu.department', '=', department);
      return eb.exists(sub);
    });
  }
  const rows = await q
    .orderBy('t.due_on', (ob) => ob.asc().nullsLast())
    .orderBy('t.id')
    .limit(filter.limit ?? 200)
    .execute();
  return presentTasks(ctx.db, rows);
}

// ---------------------------------------------------------------------------------------------
// Comments

async function presentComments(db: Db, taskId: number, commentId?: number): Promise<CommentView[]> {
  let q = db
    .selectFrom('task_comments as c')
    .innerJoin('users as u', 'u.id', 'c.author_id')
    .select(['c.id', 'c.task_id', 'c.body', 'c.created_at', 'u.id as author_id', 'u.username', 'u.display_name', 'u.office', 'u.department'])
    .where('c.task_id', '=', taskId);
  if (commentId !== undefined) q = q.where('c.id', '=', commentId);
  const rows = await q.orderBy('c.created_at').orderBy('c.id').execute();
  return rows.map((r) => ({
    id: r.id,
    task_id: r.task_id,
    author: { id: r.author_id, username: r.username, display_name: r.display_name, office: r.office, department: r.department },
    body: r.body,
    created_at: iso(r.created_at),
  }));
}

export async function addComment(ctx: ServiceContext, actor: Actor, taskId: number, body: string): Promise<CommentView> {
  const userId = requireUserId(actor);
  const text = requiredText(body, 'INVALID_COMMENT', 'A comment cannot be empty. / 评论内容不能为空。');
  if (text.length > COMMENT_MAX_LENGTH) throw badRequest('INVALID_COMMENT', `A comment is at most ${COMMENT_MAX_LENGTH} characters. / 评论最多 ${COMMENT_MAX_LENGTH} 字。`);
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    const task = await visibleTask(trx, actor, taskId);
    assertWritable({ id: task.project_id, status: task.project_status });
    const comment = await trx.insertInto('task_comments').values({ task_id: taskId, author_id: userId, body: text, created_at: now }).returning('id').executeTakeFirstOrThrow();
    await trx.updateTable('tasks').set({ updated_at: now }).where('id', '=', taskId).execute();
    // The trail records who commented where; the words stay in the task.
    await appendAudit(trx, {
      at: now,
      actor: actor.username,
      action: 'task.comment',
      object: `task:${taskId}`,
      result: 'success',
      sourceIp: actor.sourceIp,
      detail: { project_id: task.project_id, comment_id: comment.id, length: text.length },
    });
    return (await presentComments(trx, taskId, comment.id))[0]!;
  });
}

export async function listComments(ctx: ServiceContext, actor: Actor, taskId: number): Promise<CommentView[]> {
  await visibleTask(ctx.db, actor, taskId);
  return presentComments(ctx.db, taskId);
}
