import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { Empty, Id, IdParams, Nullable, responses } from '../../schemas.js';
import { MILESTONES, presentRule, RULE_IDS, RULES, type DeadlineQuery } from './engine.js';
import { MAX_YEARS_PER_FILE } from './holidays.js';
import {
  addDeadline,
  cancelHearing,
  computeForActor,
  listCalendars,
  listMatterDeadlines,
  listMatterHearings,
  loadCalendars,
  markDeadlineDone,
  portalMilestones,
  recordHearing,
  recordHearingSummary,
  REMINDER_LIMITS,
  reminderSettings,
  sendHearingNotice,
  upcoming,
  updateReminderSettings,
  type DeadlineInput,
  type HearingInput,
  type HearingSummaryInput,
  type ReminderSettings,
} from './service.js';

/** Loose on purpose: the engine and the calendar loader say precisely what is wrong with a date. */
const DateText = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'YYYY-MM-DD (Beijing calendar day)', examples: ['2025-09-26'] });
const DateTime = Type.String({ format: 'date-time' });
const Warnings = Type.Array(Type.String(), { description: 'bilingual; e.g. a year with no loaded holiday calendar' });
const Milestone = Type.Union(MILESTONES.map((m) => Type.Literal(m)));
const RuleId = Type.String({ minLength: 1, maxLength: 60, description: `one of ${RULE_IDS.join(', ')}`, examples: ['civil_appeal_judgment'] });
const Period = Type.Object({ unit: Type.Union([Type.Literal('day'), Type.Literal('month'), Type.Literal('year')]), count: Type.Integer() }, { additionalProperties: false });
const Text = (max: number) => Type.String({ minLength: 1, maxLength: max });

const Rule = Type.Object(
  {
    id: Type.String(),
    name_zh: Type.String(),
    name_en: Type.String(),
    procedure: Type.Union([Type.Literal('civil'), Type.Literal('administrative'), Type.Literal('criminal')]),
    milestone: Milestone,
    period: Period,
    foreign_period: Nullable(Period),
    court_sets: Nullable(Type.Union([Type.Literal('min'), Type.Literal('max')], { description: 'the court sets the period; `period` is its statutory floor (min) or ceiling (max)' })),
    trigger_zh: Type.String(),
    trigger_en: Type.String(),
    basis: Type.String(),
    basis_zh: Type.String(),
    basis_en: Type.String(),
    consequence_zh: Type.String(),
    consequence_en: Type.String(),
  },
  { additionalProperties: false },
);

const Computed = Type.Object(
  {
    rule: Type.String(),
    trigger_date: Type.String(),
    period: Period,
    nominal_due: Type.String({ description: 'the last day before the rest-day extension' }),
    due: Type.String({ description: 'YYYY-MM-DD' }),
    extended_from: Nullable(Type.String({ description: 'the nominal last day when a rest day moved it' })),
    basis: Type.String(),
    basis_zh: Type.String(),
    basis_en: Type.String(),
    warnings: Warnings,
    missing_years: Type.Array(Type.Integer(), { description: 'years the computation touched without a loaded calendar' }),
  },
  { additionalProperties: false },
);

const CalendarYear = Type.Object(
  {
    notice: Type.String({ maxLength: 300 }),
    off: Type.Array(Type.Array(DateText, { minItems: 2, maxItems: 2 }), { maxItems: 60, description: 'inclusive [from, to] ranges that are not working days' }),
    workdays: Type.Array(DateText, { maxItems: 60, description: 'weekend days that are working days' }),
  },
  { additionalProperties: false },
);
const CalendarView = Type.Object(
  {
    year: Type.Integer(),
    notice: Type.String(),
    off: Type.Array(Type.Array(Type.String())),
    workdays: Type.Array(Type.String()),
    loaded_at: Type.String(),
    loaded_by: Type.String(),
  },
  { additionalProperties: false },
);

const MatterRef = Type.Object({ id: Type.Integer(), number: Type.String(), title: Type.String() }, { additionalProperties: false });
const Deadline = Type.Object(
  {
    id: Type.Integer(),
    matter: MatterRef,
    milestone: Milestone,
    rule: Nullable(Type.String()),
    title: Type.String(),
    trigger_date: Nullable(Type.String()),
    days: Nullable(Type.Integer()),
    foreign: Type.Boolean(),
    in_custody: Type.Boolean(),
    due_date: Type.String(),
    basis: Type.String(),
    warnings: Warnings,
    source: Type.String({ description: '`manual`, or the module that made it (e.g. a received document)' }),
    source_id: Nullable(Type.String()),
    status: Type.Union([Type.Literal('open'), Type.Literal('done'), Type.Literal('missed')]),
    responsible: Type.Object({ id: Type.Integer(), display_name: Type.String() }, { additionalProperties: false }),
    notify_client: Type.Boolean(),
    note: Nullable(Type.String()),
    created_at: Type.String(),
    done_at: Nullable(Type.String()),
    done_note: Nullable(Type.String()),
  },
  { additionalProperties: false },
);
const Hearing = Type.Object(
  {
    id: Type.Integer(),
    matter: MatterRef,
    court: Type.String(),
    room: Nullable(Type.String()),
    address: Nullable(Type.String()),
    judge: Nullable(Type.String()),
    starts_at: Type.String(),
    note: Nullable(Type.String()),
    status: Type.Union([Type.Literal('scheduled'), Type.Literal('held'), Type.Literal('cancelled')]),
    notice_sent_at: Nullable(Type.String()),
    cancelled_at: Nullable(Type.String()),
    cancel_reason: Nullable(Type.String()),
    summary: Nullable(
      Type.Object(
        { held_at: Type.String(), record: Type.String(), materials_to_supply: Type.String(), facts_to_verify: Type.String(), judge_requests: Type.String(), created_at: Type.String() },
        { additionalProperties: false },
      ),
    ),
    created_at: Type.String(),
  },
  { additionalProperties: false },
);
const Settings = Type.Object(
  {
    lead_days: Type.Array(Type.Integer(REMINDER_LIMITS.lead_days), { minItems: 1, maxItems: REMINDER_LIMITS.maxItems, uniqueItems: true, description: 'days before a due date; default [7, 3, 1]' }),
    hearing_lead_days: Type.Array(Type.Integer(REMINDER_LIMITS.hearing_lead_days), { minItems: 1, maxItems: REMINDER_LIMITS.maxItems, uniqueItems: true, description: 'days before a hearing; default [3, 1]' }),
    notify_client: Type.Boolean({ description: 'clients are reminded too (each deadline may also opt out)' }),
  },
  { additionalProperties: false },
);
const MatterParams = IdParams;

/** Deadlines (Z5.5.2, Z5.5.2c), hearings (Z5.5.2a/b) and the holiday calendar they count over. */
export const deadlinesRoutes: FastifyPluginAsync = async (app) => {
  const ctx = app.services;

  app.get(
    '/api/deadlines/rules',
    { config: { permission: 'matters.read' }, schema: { tags: ['deadlines'], summary: 'The deadline rules with their periods and statutory basis', querystring: Empty, response: responses({ 200: Type.Array(Rule) }) } },
    async () => [...RULES.values()].map(presentRule),
  );

  app.post(
    '/api/deadlines/compute',
    {
      config: { permission: 'matters.read' },
      schema: {
        tags: ['deadlines'],
        summary: 'Compute a due date: start day not counted, rest days from the loaded holiday calendar',
        body: Type.Object(
          {
            rule: RuleId,
            trigger_date: Type.String({ maxLength: 40, description: 'YYYY-MM-DD: the day of service (appeals), the last day of the performance period (enforcement)…', examples: ['2025-09-26'] }),
            foreign: Type.Optional(Type.Boolean({ description: 'a party without domicile in China (civil appeals and replies: 30 days)' })),
            in_custody: Type.Optional(Type.Boolean({ description: 'criminal rules: the person is in custody, so the period is not extended over rest days' })),
            days: Type.Optional(Nullable(Type.Integer({ minimum: 1, maximum: 365, description: 'periods the court sets (evidence): the days its notice gives' }))),
          },
          { additionalProperties: false },
        ),
        response: responses({ 200: Computed }),
      },
    },
    async (request) => computeForActor(ctx, request.actor, request.body as DeadlineQuery),
  );

  app.get(
    '/api/deadlines/calendars',
    { config: { permission: 'calendar.manage' }, schema: { tags: ['deadlines'], summary: 'The loaded years of the public-holiday calendar', querystring: Empty, response: responses({ 200: Type.Array(CalendarView) }) } },
    async (request) => listCalendars(ctx, request.actor),
  );

  app.post(
    '/api/deadlines/calendars',
    {
      config: { permission: 'calendar.manage' },
      schema: {
        tags: ['deadlines'],
        summary: 'Load one or more years of the State Council holiday arrangement (the shape of cn-public-holidays.json); each replaces its year (audited); open deadlines are counted again',
        body: Type.Object(
          { about: Type.Optional(Type.String({ maxLength: 2000 })), years: Type.Record(Type.String({ pattern: '^\\d{4}$' }), CalendarYear, { minProperties: 1, maxProperties: MAX_YEARS_PER_FILE }) },
          {
            additionalProperties: false,
            examples: [{ years: { '2027': { notice: '（示例）国务院办公厅关于2027年部分节假日安排的通知', off: [['2027-01-01', '2027-01-03']], workdays: ['2027-01-09'] } } }],
          },
        ),
        response: responses({
          200: Type.Object(
            {
              loaded: Type.Array(Type.Object({ year: Type.Integer(), replaced: Type.Boolean() }, { additionalProperties: false })),
              recomputed: Type.Integer({ description: 'open deadlines whose due date moved' }),
              calendars: Type.Array(CalendarView),
            },
            { additionalProperties: false },
          ),
        }),
      },
    },
    async (request) => loadCalendars(ctx, request.actor, request.body),
  );

  app.get(
    '/api/deadlines/settings',
    { config: { permission: 'matters.read' }, schema: { tags: ['deadlines'], summary: 'Reminder lead times', querystring: Empty, response: responses({ 200: Settings }) } },
    async () => reminderSettings(ctx.db),
  );

  app.put(
    '/api/deadlines/settings',
    { config: { permission: 'practice.configure' }, schema: { tags: ['deadlines'], summary: 'Change the reminder lead times (audited)', body: Settings, response: responses({ 200: Settings }) } },
    async (request) => updateReminderSettings(ctx, request.actor, request.body as ReminderSettings),
  );

  app.get(
    '/api/deadlines/upcoming',
    {
      config: { permission: 'matters.read' },
      schema: {
        tags: ['deadlines'],
        summary: 'Open deadlines and scheduled hearings of the caller’s matters in the next days (Beijing calendar, today included)',
        querystring: Type.Object({ days: Type.Optional(Type.Integer({ minimum: 1, maximum: 366, default: 14 })) }, { additionalProperties: false }),
        response: responses({
          200: Type.Object({ from: Type.String(), to: Type.String(), deadlines: Type.Array(Deadline), hearings: Type.Array(Hearing) }, { additionalProperties: false }),
        }),
      },
    },
    async (request) => upcoming(ctx, request.actor, (request.query as { days?: number }).days ?? 14),
  );

  app.get(
    '/api/portal/milestones',
    {
      config: { portal: true },
      schema: {
        tags: ['deadlines', 'portal'],
        summary: 'The client’s coming deadlines (with what happens if missed) and hearings, in the client portal',
        querystring: Empty,
        response: responses({
          200: Type.Object(
            {
              deadlines: Type.Array(Type.Object({ matter: MatterRef, title: Type.String(), due_date: Type.String(), consequence: Nullable(Type.String()) }, { additionalProperties: false })),
              hearings: Type.Array(
                Type.Object({ matter: MatterRef, starts_at: Type.String(), court: Type.String(), room: Nullable(Type.String()), address: Nullable(Type.String()) }, { additionalProperties: false }),
              ),
            },
            { additionalProperties: false },
          ),
        }),
      },
    },
    async (request) => portalMilestones(ctx, request.portal!.clientId),
  );

  app.get(
    '/api/matters/:id/deadlines',
    { config: { permission: 'matters.read' }, schema: { tags: ['deadlines'], summary: 'A matter’s deadlines by due date', params: MatterParams, querystring: Empty, response: responses({ 200: Type.Array(Deadline) }) } },
    async (request) => listMatterDeadlines(ctx, request.actor, (request.params as { id: number }).id),
  );

  app.post(
    '/api/matters/:id/deadlines',
    {
      config: { permission: 'matters.work' },
      schema: {
        tags: ['deadlines'],
        summary: 'Add a deadline: rule and trigger_date (computed), or milestone, due_date and title (entered by date); the client is told its date and consequence',
        params: MatterParams,
        body: Type.Object(
          {
            rule: Type.Optional(RuleId),
            trigger_date: Type.Optional(Type.String({ maxLength: 40 })),
            foreign: Type.Optional(Type.Boolean()),
            in_custody: Type.Optional(Type.Boolean()),
            days: Type.Optional(Nullable(Type.Integer({ minimum: 1, maximum: 365 }))),
            milestone: Type.Optional(Milestone),
            due_date: Type.Optional(Type.String({ maxLength: 40 })),
            title: Type.Optional(Nullable(Text(200))),
            responsible_user_id: Type.Optional(Id({ description: 'a member of the matter’s team; default: the responsible lawyer' })),
            notify_client: Type.Optional(Type.Boolean({ default: true })),
            note: Type.Optional(Nullable(Type.String({ maxLength: 2000 }))),
          },
          { additionalProperties: false },
        ),
        response: responses({ 201: Type.Object({ deadline: Deadline, warnings: Warnings }, { additionalProperties: false }) }),
      },
    },
    async (request, reply) => {
      reply.code(201);
      return addDeadline(ctx, request.actor, (request.params as { id: number }).id, request.body as DeadlineInput);
    },
  );

  app.post(
    '/api/deadlines/:id/done',
    {
      config: { permission: 'matters.work' },
      schema: {
        tags: ['deadlines'],
        summary: 'Mark a deadline met (also one marked missed)',
        params: IdParams,
        body: Type.Object({ note: Type.Optional(Nullable(Type.String({ maxLength: 2000 }))) }, { additionalProperties: false }),
        response: responses({ 200: Deadline }),
      },
    },
    async (request) => markDeadlineDone(ctx, request.actor, (request.params as { id: number }).id, request.body as { note?: string | null }),
  );

  app.get(
    '/api/matters/:id/hearings',
    { config: { permission: 'matters.read' }, schema: { tags: ['deadlines'], summary: 'A matter’s hearings with their summaries', params: MatterParams, querystring: Empty, response: responses({ 200: Type.Array(Hearing) }) } },
    async (request) => listMatterHearings(ctx, request.actor, (request.params as { id: number }).id),
  );

  app.post(
    '/api/matters/:id/hearings',
    {
      config: { permission: 'matters.work' },
      schema: {
        tags: ['deadlines'],
        summary: 'Record a hearing; the client gets the pre-hearing notice (time, place, bring the original evidence) unless send_notice is false',
        params: MatterParams,
        body: Type.Object(
          {
            court: Text(200),
            room: Type.Optional(Nullable(Text(100))),
            address: Type.Optional(Nullable(Text(300))),
            judge: Type.Optional(Nullable(Text(100))),
            starts_at: DateTime,
            note: Type.Optional(Nullable(Type.String({ maxLength: 2000, description: 'added to the notice, e.g. further documents to bring' }))),
            send_notice: Type.Optional(Type.Boolean({ default: true })),
          },
          { additionalProperties: false },
        ),
        response: responses({ 201: Type.Object({ hearing: Hearing, warnings: Warnings }, { additionalProperties: false }) }),
      },
    },
    async (request, reply) => {
      reply.code(201);
      return recordHearing(ctx, request.actor, (request.params as { id: number }).id, request.body as HearingInput);
    },
  );

  app.post(
    '/api/hearings/:id/notice',
    { config: { permission: 'matters.work' }, schema: { tags: ['deadlines'], summary: 'Send the pre-hearing notice to the client (once)', params: IdParams, body: Empty, response: responses({ 200: Hearing }) } },
    async (request) => sendHearingNotice(ctx, request.actor, (request.params as { id: number }).id),
  );

  app.post(
    '/api/hearings/:id/cancel',
    {
      config: { permission: 'matters.work' },
      schema: {
        tags: ['deadlines'],
        summary: 'Cancel a scheduled hearing (a client already told hears of it); record the new date as a new hearing',
        params: IdParams,
        body: Type.Object({ reason: Text(1000) }, { additionalProperties: false }),
        response: responses({ 200: Hearing }),
      },
    },
    async (request) => cancelHearing(ctx, request.actor, (request.params as { id: number }).id, request.body as { reason: string }),
  );

  app.post(
    '/api/hearings/:id/summary',
    {
      config: { permission: 'matters.work' },
      schema: {
        tags: ['deadlines'],
        summary: 'Record the post-hearing summary (time, main record, materials to supply, facts to verify, judge’s requests): sent to the client and filed in the matter archive',
        params: IdParams,
        body: Type.Object(
          {
            held_at: DateTime,
            record: Text(2000),
            materials_to_supply: Text(800),
            facts_to_verify: Text(800),
            judge_requests: Text(800),
          },
          { additionalProperties: false },
        ),
        response: responses({ 200: Type.Object({ hearing: Hearing, warnings: Warnings }, { additionalProperties: false }) }),
      },
    },
    async (request) => recordHearingSummary(ctx, request.actor, (request.params as { id: number }).id, request.body as HearingSummaryInput),
  );
};
