import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { Empty, Id, IdParams, Nullable, responses } from '../../schemas.js';
import {
  addComment,
  addProjectMember,
  COMMENT_MAX_LENGTH,
  createProject,
  createTask,
  getProject,
  listComments,
  listProjects,
  listProjectTasks,
  listTasks,
  PROJECT_STATUSES,
  removeProjectMember,
  TASK_PRIORITIES,
  TASK_STATUSES,
  updateProject,
  updateTask,
  type ProjectChanges,
  type ProjectFilter,
  type ProjectInput,
  type TaskChanges,
  type TaskFilter,
  type TaskInput,
} from './service.js';

/** Input that may be cleared: null first, so type coercion never turns a null into "". */
const Clearable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([Type.Null(), t]);
const Literals = (values: readonly string[]) => Type.Union(values.map((v) => Type.Literal(v)));

const ProjectStatus = Literals(PROJECT_STATUSES);
const TaskStatus = Literals(TASK_STATUSES);
const TaskPriority = Literals(TASK_PRIORITIES);
const CalendarDate = Type.String({ format: 'date', description: 'a calendar day, YYYY-MM-DD' });
const UserIds = Type.Array(Id(), { maxItems: 100 });

const UserRef = Type.Object(
  { id: Type.Integer(), username: Type.String(), display_name: Type.String(), office: Nullable(Type.String()), department: Nullable(Type.String()) },
  { additionalProperties: false },
);
const ProjectView = Type.Object(
  {
    id: Type.Integer(),
    name: Type.String(),
    description: Nullable(Type.String()),
    matter_id: Nullable(Type.Integer()),
    status: Type.String(),
    created_by: Type.Integer(),
    created_at: Type.String(),
    updated_at: Type.String(),
    members: Type.Array(UserRef),
    task_counts: Type.Object(
      { todo: Type.Integer(), in_progress: Type.Integer(), blocked: Type.Integer(), done: Type.Integer(), cancelled: Type.Integer(), total: Type.Integer() },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
const TaskView = Type.Object(
  {
    id: Type.Integer(),
    project_id: Type.Integer(),
    project_name: Type.String(),
    parent_id: Nullable(Type.Integer()),
    title: Type.String(),
    description: Nullable(Type.String()),
    status: Type.String(),
    priority: Type.String(),
    due_on: Nullable(Type.String()),
    created_by: Type.Integer(),
    created_at: Type.String(),
    updated_at: Type.String(),
    completed_at: Nullable(Type.String()),
    assignees: Type.Array(UserRef),
    comment_count: Type.Integer(),
  },
  { additionalProperties: false },
);
const CommentView = Type.Object(
  { id: Type.Integer(), task_id: Type.Integer(), author: UserRef, body: Type.String(), created_at: Type.String() },
  { additionalProperties: false },
);
const MemberParams = Type.Object({ id: Id(), userId: Id() }, { additionalProperties: false });

const tags = ['collaboration'];
const work = { permission: 'matters.work' as const };
const idOf = (request: { params: unknown }) => (request.params as { id: number }).id;

/**
 * 协作 (Z6.3.3.3). Every route needs matters.work; a project or task the caller may not see answers
 * 404 exactly like one that does not exist.
 */
export const collaborationRoutes: FastifyPluginAsync = async (app) => {
  const ctx = app.services;

  app.post(
    '/api/projects',
    {
      config: work,
      schema: {
        tags,
        summary: 'Create a project, optionally linked to a matter the caller can see; the creator becomes a member',
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 200 }),
            description: Type.Optional(Clearable(Type.String({ maxLength: 5000 }))),
            matter_id: Type.Optional(Clearable(Id())),
            member_ids: Type.Optional(UserIds),
          },
          { additionalProperties: false },
        ),
        response: responses({ 201: ProjectView }),
      },
    },
    async (request, reply) => {
      const project = await createProject(ctx, request.actor, request.body as ProjectInput);
      reply.status(201);
      return project;
    },
  );

  app.get(
    '/api/projects',
    {
      config: work,
      schema: {
        tags,
        summary: 'Projects the caller may see (creator, member, assignee, matter team, or everyone for matters.read_all)',
        querystring: Type.Object({ status: Type.Optional(ProjectStatus) }, { additionalProperties: false }),
        response: responses({ 200: Type.Array(ProjectView) }),
      },
    },
    async (request) => listProjects(ctx, request.actor, request.query as ProjectFilter),
  );

  app.get(
    '/api/projects/:id',
    { config: work, schema: { tags, summary: 'One project with its members and task counts by status', params: IdParams, querystring: Empty, response: responses({ 200: ProjectView }) } },
    async (request) => getProject(ctx, request.actor, idOf(request)),
  );

  app.patch(
    '/api/projects/:id',
    {
      config: work,
      schema: {
        tags,
        summary: 'Rename, describe, complete or archive a project (an archived project is read-only until set active)',
        params: IdParams,
        body: Type.Object(
          {
            name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
            description: Type.Optional(Clearable(Type.String({ maxLength: 5000 }))),
            status: Type.Optional(ProjectStatus),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: responses({ 200: ProjectView }),
      },
    },
    async (request) => updateProject(ctx, request.actor, idOf(request), request.body as ProjectChanges),
  );

  app.post(
    '/api/projects/:id/members',
    {
      config: work,
      schema: {
        tags,
        summary: 'Add a member (an active user whose role collaborates)',
        params: IdParams,
        body: Type.Object({ user_id: Id() }, { additionalProperties: false }),
        response: responses({ 201: ProjectView }),
      },
    },
    async (request, reply) => {
      const project = await addProjectMember(ctx, request.actor, idOf(request), (request.body as { user_id: number }).user_id);
      reply.status(201);
      return project;
    },
  );

  app.delete(
    '/api/projects/:id/members/:userId',
    { config: work, schema: { tags, summary: 'Remove a member', params: MemberParams, querystring: Empty, response: responses({ 200: ProjectView }) } },
    async (request) => {
      const { id, userId } = request.params as { id: number; userId: number };
      return removeProjectMember(ctx, request.actor, id, userId);
    },
  );

  app.post(
    '/api/projects/:id/tasks',
    {
      config: work,
      schema: {
        tags,
        summary: 'Add a task, or a subtask with parent_id (three levels at most); assignees are notified',
        params: IdParams,
        body: Type.Object(
          {
            title: Type.String({ minLength: 1, maxLength: 300 }),
            description: Type.Optional(Clearable(Type.String({ maxLength: 20000 }))),
            parent_id: Type.Optional(Clearable(Id())),
            assignee_ids: Type.Optional(UserIds),
            due_on: Type.Optional(Clearable(CalendarDate)),
            priority: Type.Optional(TaskPriority),
          },
          { additionalProperties: false },
        ),
        response: responses({ 201: TaskView }),
      },
    },
    async (request, reply) => {
      const task = await createTask(ctx, request.actor, idOf(request), request.body as TaskInput);
      reply.status(201);
      return task;
    },
  );

  app.get(
    '/api/projects/:id/tasks',
    {
      config: work,
      schema: {
        tags,
        summary: 'Every task of a project, flat in creation order (a parent before its subtasks; build the tree from parent_id)',
        params: IdParams,
        querystring: Empty,
        response: responses({ 200: Type.Array(TaskView) }),
      },
    },
    async (request) => listProjectTasks(ctx, request.actor, idOf(request)),
  );

  app.get(
    '/api/tasks',
    {
      config: work,
      schema: {
        tags,
        summary: 'Tasks across every visible project, soonest due first; assignee, office and department filter the same assignee',
        querystring: Type.Object(
          {
            assignee: Type.Optional(Type.String({ pattern: '^(me|[1-9][0-9]{0,8})$', description: '"me" or a user id' })),
            status: Type.Optional(TaskStatus),
            office: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: "an assignee's office" })),
            department: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: "an assignee's department" })),
            due_before: Type.Optional(Type.String({ format: 'date', description: 'due strictly before this day; undated tasks are left out' })),
            project_id: Type.Optional(Id()),
            limit: Type.Integer({ minimum: 1, maximum: 1000, default: 200 }),
          },
          { additionalProperties: false },
        ),
        response: responses({ 200: Type.Array(TaskView) }),
      },
    },
    async (request) => listTasks(ctx, request.actor, request.query as TaskFilter),
  );

  app.patch(
    '/api/tasks/:id',
    {
      config: work,
      schema: {
        tags,
        summary: 'Edit a task; done needs every subtask done or cancelled; assignee_ids replaces the assignees',
        params: IdParams,
        body: Type.Object(
          {
            title: Type.Optional(Type.String({ minLength: 1, maxLength: 300 })),
            description: Type.Optional(Clearable(Type.String({ maxLength: 20000 }))),
            status: Type.Optional(TaskStatus),
            priority: Type.Optional(TaskPriority),
            due_on: Type.Optional(Clearable(CalendarDate)),
            assignee_ids: Type.Optional(UserIds),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: responses({ 200: TaskView }),
      },
    },
    async (request) => updateTask(ctx, request.actor, idOf(request), request.body as TaskChanges),
  );

  app.post(
    '/api/tasks/:id/comments',
    {
      config: work,
      schema: {
        tags,
        summary: 'Comment on a task',
        params: IdParams,
        body: Type.Object({ body: Type.String({ minLength: 1, maxLength: COMMENT_MAX_LENGTH }) }, { additionalProperties: false }),
        response: responses({ 201: CommentView }),
      },
    },
    async (request, reply) => {
      const comment = await addComment(ctx, request.actor, idOf(request), (request.body as { body: string }).body);
      reply.status(201);
      return comment;
    },
  );

  app.get(
    '/api/tasks/:id/comments',
    { config: work, schema: { tags, summary: 'Comments on a task, oldest first', params: IdParams, querystring: Empty, response: responses({ 200: Type.Array(CommentView) }) } },
    async (request) => listComments(ctx, request.actor, idOf(request)),
  );
};
