import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { Empty, Id, IdParams, Nullable, Ok, responses } from '../../schemas.js';
import { ENTITY_ID } from '../agents/service.js';
import { MAX_PDF_BYTES } from './pdf.js';
import { startMeetingRealtime } from './realtime.js';
import {
  addDocument,
  approveMinutes,
  castBallot,
  closeVote,
  createMeeting,
  createRoom,
  createVote,
  currentForKiosk,
  DEFAULT_OPTIONS,
  documentForKiosk,
  documentForStaff,
  endMeeting,
  getMeeting,
  kioskSignIn,
  lateSignIn,
  listAnnotations,
  listMeetings,
  listRooms,
  openVote,
  RECORD_TYPES,
  releaseSeat,
  saveAnnotations,
  saveMinutes,
  setPresenter,
  startMeeting,
  turnPage,
  updateRoom,
  type DocumentFile,
  type MeetingInput,
  type RoomInput,
  type VoteInput,
} from './service.js';

const Literals = <T extends string>(values: readonly T[]) => Type.Union(values.map((v) => Type.Literal(v)));
const DateTime = Type.String({ format: 'date-time' });
const ParticipantRole = Literals(['chair', 'secretary', 'member', 'observer'] as const);
const Kind = Literals(['firm', 'party_branch'] as const);
const RULES = ['simple_majority_of_votes', 'majority_of_participants', 'two_thirds_of_participants'] as const;
const Rule = Literals(RULES);
const RoomId = Type.String({ pattern: ENTITY_ID, description: 'room id, as it appears in the realtime topic room:<id>' });

const roomFields = {
  name: Type.String({ minLength: 1, maxLength: 100 }),
  floor: Type.Optional(Nullable(Type.String({ maxLength: 50 }))),
  capacity: Type.Integer({ minimum: 1, maximum: 1000 }),
  devices: Type.Optional(Type.Array(Type.String({ pattern: ENTITY_ID }), { maxItems: 64, uniqueItems: true, description: 'device ids of the room: display, nameplates, camera, terminals' })),
};
const RoomSchema = Type.Object(
  { id: Type.String(), name: Type.String(), floor: Nullable(Type.String()), capacity: Type.Integer(), devices: Type.Array(Type.String()), created_at: Type.String(), updated_at: Type.String() },
  { additionalProperties: false },
);

const headerFields = {
  id: Type.Integer(),
  title: Type.String(),
  kind: Kind,
  record_type: Type.String(),
  record_type_label: Type.String(),
  room_id: Type.String(),
  room_name: Type.String(),
  starts_at: Type.String(),
  ends_at: Type.String(),
  confidential: Type.Boolean(),
  status: Literals(['scheduled', 'in_progress', 'ended'] as const),
  started_at: Nullable(Type.String()),
  ended_at: Nullable(Type.String()),
  created_at: Type.String(),
  my_role: Nullable(ParticipantRole),
};
const ParticipantSchema = Type.Object(
  {
    id: Type.Integer(),
    user_id: Type.Integer(),
    display_name: Type.String(),
    role: ParticipantRole,
    signed_in_at: Nullable(Type.String()),
    sign_in_via: Nullable(Literals(['terminal', 'secretary'] as const)),
    signed_in_by: Nullable(Type.Integer()),
    seated: Type.Boolean(),
  },
  { additionalProperties: false },
);
const DocumentSchema = Type.Object(
  { id: Type.Integer(), name: Type.String(), pages: Type.Integer(), sha256: Type.String(), size: Type.Integer(), uploaded_at: Type.String(), withdrawn_at: Nullable(Type.String()) },
  { additionalProperties: false },
);
const VoteSchema = Type.Object(
  {
    id: Type.Integer(),
    title: Type.String(),
    options: Type.Array(Type.String()),
    anonymous: Type.Boolean(),
    rule: Rule,
    status: Literals(['draft', 'open', 'closed'] as const),
    eligible: Nullable(Type.Integer({ description: 'participants entitled to vote (all but observers), fixed when the vote opens' })),
    cast: Type.Integer(),
    tally: Nullable(Type.Record(Type.String(), Type.Integer(), { description: 'ballots per option, once closed' })),
    passed: Nullable(Type.Boolean()),
    created_at: Type.String(),
    opened_at: Nullable(Type.String()),
    closed_at: Nullable(Type.String()),
    voted_by_me: Type.Boolean(),
    ballots: Type.Array(Type.Object({ participant_id: Type.Integer(), choice: Type.String() }, { additionalProperties: false }), { description: 'named votes, once closed' }),
  },
  { additionalProperties: false },
);
const PresenterSchema = Type.Object(
  { presenter_participant_id: Nullable(Type.Integer()), document_id: Nullable(Type.Integer()), page: Nullable(Type.Integer()), updated_at: Nullable(Type.String()) },
  { additionalProperties: false },
);
const MinutesSchema = Type.Object(
  { version: Type.Integer(), text: Type.String(), written_by: Nullable(Type.Integer()), written_at: Type.String(), approved_by: Nullable(Type.Integer()), approved_at: Nullable(Type.String()) },
  { additionalProperties: false },
);
const MeetingSchema = Type.Object(
  {
    ...headerFields,
    agenda: Type.Array(Type.Object({ id: Type.Integer(), position: Type.Integer(), title: Type.String() }, { additionalProperties: false })),
    participants: Type.Array(ParticipantSchema),
    documents: Type.Array(DocumentSchema),
    votes: Type.Array(VoteSchema),
    presenter: PresenterSchema,
    minutes: Nullable(MinutesSchema),
  },
  { additionalProperties: false },
);
const SummarySchema = Type.Object({ ...headerFields, participants: Type.Integer(), signed_in: Type.Integer() }, { additionalProperties: false });
const SeatSchema = Type.Object({ participant_id: Type.Integer(), user_id: Type.Integer(), display_name: Type.String(), role: ParticipantRole }, { additionalProperties: false });
const RoomDeviceSchema = Type.Object(
  { id: Type.String(), name: Nullable(Type.String()), profile: Nullable(Type.String()), availability: Type.String(), state: Nullable(Type.Record(Type.String(), Type.Unknown())) },
  { additionalProperties: false },
);

const MeetingParams = IdParams;
const DocumentParams = Type.Object({ id: Id(), doc_id: Id() }, { additionalProperties: false });
const VoteParams = Type.Object({ id: Id(), vote_id: Id() }, { additionalProperties: false });
const SignInParams = Type.Object({ id: Id(), user_id: Id() }, { additionalProperties: false });
const SeatParams = Type.Object({ id: Id(), participant_id: Id() }, { additionalProperties: false });
const RoomParams = Type.Object({ id: RoomId }, { additionalProperties: false });
const PdfResponse = responses({ 200: Type.String({ description: 'the PDF’s bytes (application/pdf)' }) });
/** base64 of the largest PDF, with room for line breaks */
const MAX_BASE64 = Math.ceil(MAX_PDF_BYTES / 3) * 4 + 1024 * 1024;

/** Documents are for viewing at the meeting: never cached, and a confidential one never offered as a download. */
function sendPdf(reply: FastifyReply, file: DocumentFile) {
  reply.header('content-type', 'application/pdf');
  reply.header('cache-control', 'no-store');
  reply.header('x-content-sha256', file.sha256);
  reply.header('content-disposition', file.confidential ? 'inline' : `inline; filename*=UTF-8''${encodeURIComponent(file.name)}`);
  return reply.send(file.content);
}

/** Meetings: rooms, sessions, documents, votes and minutes for staff; the paperless terminals’ side under /api/kiosk/meeting. */
export const meetingsRoutes: FastifyPluginAsync = async (app) => {
  const ctx = app.services;
  startMeetingRealtime(app);

  app.get(
    '/api/meetings/record-types',
    {
      config: { permission: 'meetings.read' },
      schema: {
        tags: ['meetings'],
        summary: 'Meeting kinds and record types with their labels (三会一课 and 主题党日 for the Party branch)',
        querystring: Empty,
        response: responses({
          200: Type.Array(Type.Object({ kind: Kind, record_type: Type.String(), label: Type.String(), label_en: Type.String(), group: Nullable(Type.String()) }, { additionalProperties: false })),
        }),
      },
    },
    async () => RECORD_TYPES,
  );

  app.get(
    '/api/meetings/rooms',
    { config: { permission: 'meetings.read' }, schema: { tags: ['meetings'], summary: 'Meeting rooms and their devices', querystring: Empty, response: responses({ 200: Type.Array(RoomSchema) }) } },
    async () => listRooms(ctx),
  );

  app.post(
    '/api/meetings/rooms',
    {
      config: { permission: 'meetings.manage' },
      schema: { tags: ['meetings'], summary: 'Add a meeting room', body: Type.Object({ id: RoomId, ...roomFields }, { additionalProperties: false }), response: responses({ 201: RoomSchema }) },
    },
    async (request, reply) => {
      const { id, ...input } = request.body as RoomInput & { id: string };
      reply.code(201);
      return createRoom(ctx, request.actor, id, input);
    },
  );

  app.put(
    '/api/meetings/rooms/:id',
    {
      config: { permission: 'meetings.manage' },
      schema: { tags: ['meetings'], summary: 'Replace a room’s name, floor, capacity and devices', params: RoomParams, body: Type.Object(roomFields, { additionalProperties: false }), response: responses({ 200: RoomSchema }) },
    },
    async (request) => updateRoom(ctx, request.actor, (request.params as { id: string }).id, request.body as RoomInput),
  );

  app.get(
    '/api/meetings',
    {
      config: { permission: 'meetings.read' },
      schema: {
        tags: ['meetings'],
        summary: 'Meetings overlapping [from, to): every meeting for organisers (meetings.manage), one’s own for others',
        querystring: Type.Object({ from: Type.Optional(DateTime), to: Type.Optional(DateTime) }, { additionalProperties: false }),
        response: responses({ 200: Type.Array(SummarySchema) }),
      },
    },
    async (request) => listMeetings(ctx, request.actor, request.query as { from?: string; to?: string }),
  );

  app.post(
    '/api/meetings',
    {
      config: { permission: 'meetings.manage' },
      schema: {
        tags: ['meetings'],
        summary: 'Schedule a meeting in a free room, with its participants (one chair) and agenda',
        body: Type.Object(
          {
            title: Type.String({ minLength: 1, maxLength: 200 }),
            kind: Kind,
            record_type: Type.String({ minLength: 1, maxLength: 40, examples: ['case_discussion'], description: 'see GET /api/meetings/record-types' }),
            room_id: RoomId,
            starts_at: DateTime,
            ends_at: DateTime,
            confidential: Type.Optional(Type.Boolean({ default: false, description: 'documents are view-only and withdrawn when the meeting ends' })),
            participants: Type.Array(Type.Object({ user_id: Id(), role: ParticipantRole }, { additionalProperties: false }), { minItems: 1, maxItems: 200 }),
            agenda: Type.Optional(Type.Array(Type.Object({ title: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false }), { maxItems: 50, default: [] })),
          },
          { additionalProperties: false },
        ),
        response: responses({ 201: MeetingSchema }),
      },
    },
    async (request, reply) => {
      reply.code(201);
      return createMeeting(ctx, request.actor, request.body as MeetingInput);
    },
  );

  app.get(
    '/api/meetings/:id',
    {
      config: { permission: 'meetings.read' },
      schema: { tags: ['meetings'], summary: 'A meeting with agenda, participants and sign-ins, documents, votes, presenter and minutes', params: MeetingParams, querystring: Empty, response: responses({ 200: MeetingSchema }) },
    },
    async (request) => getMeeting(ctx, request.actor, (request.params as { id: number }).id),
  );

  app.post(
    '/api/meetings/:id/start',
    { config: { permission: 'meetings.read' }, schema: { tags: ['meetings'], summary: 'Start the meeting (its chair or secretary, or an organiser)', params: MeetingParams, body: Empty, response: responses({ 200: MeetingSchema }) } },
    async (request) => startMeeting(ctx, request.actor, (request.params as { id: number }).id),
  );

  app.post(
    '/api/meetings/:id/end',
    {
      config: { permission: 'meetings.read' },
      schema: { tags: ['meetings'], summary: 'End the meeting; a confidential meeting’s documents are withdrawn from the terminals (kept for the record)', params: MeetingParams, body: Empty, response: responses({ 200: MeetingSchema }) },
    },
    async (request) => endMeeting(ctx, request.actor, (request.params as { id: number }).id),
  );

  app.put(
    '/api/meetings/:id/presenter',
    {
      config: { permission: 'meetings.read' },
      schema: {
        tags: ['meetings'],
        summary: 'Hand the presentation to a participant, or back to the chair with null (chair or secretary)',
        params: MeetingParams,
        body: Type.Object({ participant_id: Nullable(Id()) }, { additionalProperties: false }),
        response: responses({ 200: PresenterSchema }),
      },
    },
    async (request) => setPresenter(ctx, request.actor, (request.params as { id: number }).id, (request.body as { participant_id: number | null }).participant_id),
  );

  app.post(
    '/api/meetings/:id/documents',
    {
      config: { permission: 'meetings.manage' },
      bodyLimit: MAX_BASE64 + 64 * 1024,
      schema: {
        tags: ['meetings'],
        summary: 'Add a PDF document (20 MB at most); its pages are counted and its SHA-256 kept',
        params: MeetingParams,
        body: Type.Object(
          { name: Type.String({ minLength: 1, maxLength: 200 }), content_base64: Type.String({ minLength: 1, maxLength: MAX_BASE64, description: 'the PDF, base64' }) },
          { additionalProperties: false },
        ),
        response: responses({ 201: DocumentSchema }),
      },
    },
    async (request, reply) => {
      reply.code(201);
      return addDocument(ctx, request.actor, (request.params as { id: number }).id, request.body as { name: string; content_base64: string });
    },
  );

  app.get(
    '/api/meetings/:id/documents/:doc_id',
    {
      config: { permission: 'meetings.read' },
      schema: { tags: ['meetings'], summary: 'A document’s PDF (participants and organisers; 410 once a confidential meeting ended)', params: DocumentParams, querystring: Empty, response: PdfResponse },
    },
    async (request, reply) => {
      const { id, doc_id } = request.params as { id: number; doc_id: number };
      return sendPdf(reply, await documentForStaff(ctx, request.actor, id, doc_id));
    },
  );

  app.post(
    '/api/meetings/:id/sign-ins/:user_id/late',
    {
      config: { permission: 'meetings.read' },
      schema: {
        tags: ['meetings'],
        summary: 'The secretary signs in a latecomer (recorded as signed in by the secretary)',
        params: SignInParams,
        body: Type.Object({ note: Type.Optional(Nullable(Type.String({ maxLength: 200 }))) }, { additionalProperties: false }),
        response: responses({ 200: ParticipantSchema }),
      },
    },
    async (request) => {
      const { id, user_id } = request.params as { id: number; user_id: number };
      return lateSignIn(ctx, request.actor, id, user_id, (request.body as { note?: string | null }).note ?? null);
    },
  );

  app.post(
    '/api/meetings/:id/seats/:participant_id/release',
    {
      config: { permission: 'meetings.read' },
      schema: {
        tags: ['meetings'],
        summary: 'Free the terminal a participant is seated at (chair or secretary, or an organiser; 409 VOTE_OPEN while a vote is open); the sign-in stays',
        params: SeatParams,
        body: Empty,
        response: responses({ 200: ParticipantSchema }),
      },
    },
    async (request) => {
      const { id, participant_id } = request.params as { id: number; participant_id: number };
      return releaseSeat(ctx, request.actor, id, participant_id);
    },
  );

  app.post(
    '/api/meetings/:id/votes',
    {
      config: { permission: 'meetings.read' },
      schema: {
        tags: ['meetings'],
        summary: 'Prepare a vote (chair or secretary); the first option is the motion’s “for”',
        params: MeetingParams,
        body: Type.Object(
          {
            title: Type.String({ minLength: 1, maxLength: 200 }),
            options: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 20 }), { minItems: 2, maxItems: 10, default: DEFAULT_OPTIONS })),
            anonymous: Type.Optional(Type.Boolean({ default: false })),
            rule: Type.Optional(
              Type.Union(
                RULES.map((r) => Type.Literal(r)),
                { default: 'simple_majority_of_votes', description: 'more than half of the ballots cast; more than half of those entitled to vote (all but observers); two thirds of them' },
              ),
            ),
          },
          { additionalProperties: false },
        ),
        response: responses({ 201: VoteSchema }),
      },
    },
    async (request, reply) => {
      reply.code(201);
      return createVote(ctx, request.actor, (request.params as { id: number }).id, request.body as VoteInput);
    },
  );

  app.post(
    '/api/meetings/:id/votes/:vote_id/open',
    { config: { permission: 'meetings.read' }, schema: { tags: ['meetings'], summary: 'Open a vote to the terminals (chair or secretary, while the meeting runs)', params: VoteParams, body: Empty, response: responses({ 200: VoteSchema }) } },
    async (request) => {
      const { id, vote_id } = request.params as { id: number; vote_id: number };
      return openVote(ctx, request.actor, id, vote_id);
    },
  );

  app.post(
    '/api/meetings/:id/votes/:vote_id/close',
    { config: { permission: 'meetings.read' }, schema: { tags: ['meetings'], summary: 'Close a vote: the tally and result are recorded (chair or secretary)', params: VoteParams, body: Empty, response: responses({ 200: VoteSchema }) } },
    async (request) => {
      const { id, vote_id } = request.params as { id: number; vote_id: number };
      return closeVote(ctx, request.actor, id, vote_id);
    },
  );

  app.put(
    '/api/meetings/:id/minutes',
    {
      config: { permission: 'meetings.read' },
      schema: {
        tags: ['meetings'],
        summary: 'Save the minutes as a new version (the secretary; the chair when there is none)',
        params: MeetingParams,
        body: Type.Object({ text: Type.String({ minLength: 1, maxLength: 200_000 }) }, { additionalProperties: false }),
        response: responses({ 200: MinutesSchema }),
      },
    },
    async (request) => saveMinutes(ctx, request.actor, (request.params as { id: number }).id, (request.body as { text: string }).text),
  );

  app.post(
    '/api/meetings/:id/minutes/approve',
    { config: { permission: 'meetings.read' }, schema: { tags: ['meetings'], summary: 'The chair approves the latest minutes after the meeting', params: MeetingParams, body: Empty, response: responses({ 200: MinutesSchema }) } },
    async (request) => approveMinutes(ctx, request.actor, (request.params as { id: number }).id),
  );

  // -------------------------------------------------------------------------------------------
  // The paperless terminals (enrolled meeting kiosks); each sees the meetings of its own room.

  const kiosk = { kiosk: ['meeting'] as const };

  app.get(
    '/api/kiosk/meeting/current',
    {
      config: kiosk,
      schema: {
        tags: ['meetings'],
        summary: 'The terminal’s room with its devices, the meeting running now or next today, and the terminal’s seat',
        querystring: Empty,
        response: responses({
          200: Type.Object(
            {
              room: Nullable(Type.Object({ id: Type.String(), name: Type.String(), devices: Type.Array(RoomDeviceSchema) }, { additionalProperties: false })),
              meeting: Nullable(MeetingSchema),
              seat: Nullable(SeatSchema),
            },
            { additionalProperties: false },
          ),
        }),
      },
    },
    async (request) => currentForKiosk(ctx, request.kiosk!, request.actor),
  );

  app.post(
    '/api/kiosk/meeting/sign-in',
    {
      config: kiosk,
      schema: {
        tags: ['meetings'],
        summary: 'Sign a participant in at this terminal; the terminal serves that participant for the meeting',
        body: Type.Object({ meeting_id: Id(), user_id: Id() }, { additionalProperties: false }),
        response: responses({ 200: Type.Object({ seat: SeatSchema }, { additionalProperties: false }) }),
      },
    },
    async (request) => {
      const { meeting_id, user_id } = request.body as { meeting_id: number; user_id: number };
      return { seat: await kioskSignIn(ctx, request.kiosk!, request.actor, meeting_id, user_id) };
    },
  );

  app.get(
    '/api/kiosk/meeting/documents/:doc_id',
    {
      config: kiosk,
      schema: {
        tags: ['meetings'],
        summary: 'A document’s PDF for the signed-in seat (410 DOCUMENT_WITHDRAWN once a confidential meeting ended)',
        params: Type.Object({ doc_id: Id() }, { additionalProperties: false }),
        querystring: Empty,
        response: PdfResponse,
      },
    },
    async (request, reply) => sendPdf(reply, await documentForKiosk(ctx, request.kiosk!, request.actor, (request.params as { doc_id: number }).doc_id)),
  );

  app.post(
    '/api/kiosk/meeting/page',
    {
      config: kiosk,
      schema: {
        tags: ['meetings'],
        summary: 'The presenter’s seat turns the page for every terminal',
        body: Type.Object({ meeting_id: Id(), document_id: Id(), page: Type.Integer({ minimum: 1, maximum: 100_000 }) }, { additionalProperties: false }),
        response: responses({ 200: PresenterSchema }),
      },
    },
    async (request) => turnPage(ctx, request.kiosk!, request.actor, request.body as { meeting_id: number; document_id: number; page: number }),
  );

  app.get(
    '/api/kiosk/meeting/annotations',
    {
      config: kiosk,
      schema: {
        tags: ['meetings'],
        summary: 'The seat’s own annotations on a document',
        querystring: Type.Object({ document_id: Id() }, { additionalProperties: false }),
        response: responses({ 200: Type.Array(Type.Object({ page: Type.Integer(), strokes: Type.Array(Type.Unknown()), updated_at: Type.String() }, { additionalProperties: false })) }),
      },
    },
    async (request) => listAnnotations(ctx, request.kiosk!, request.actor, (request.query as { document_id: number }).document_id),
  );

  app.put(
    '/api/kiosk/meeting/annotations',
    {
      config: kiosk,
      schema: {
        tags: ['meetings'],
        summary: 'Save the seat’s annotations on one page (private to the seat; 64 KB of JSON at most)',
        body: Type.Object(
          { document_id: Id(), page: Type.Integer({ minimum: 1, maximum: 100_000 }), strokes: Type.Array(Type.Unknown(), { maxItems: 5000, description: 'the terminal’s own stroke format' }) },
          { additionalProperties: false },
        ),
        response: responses({ 200: Ok }),
      },
    },
    async (request) => {
      await saveAnnotations(ctx, request.kiosk!, request.actor, request.body as { document_id: number; page: number; strokes: unknown[] });
      return { ok: true as const };
    },
  );

  app.post(
    '/api/kiosk/meeting/ballots',
    {
      config: kiosk,
      schema: {
        tags: ['meetings'],
        summary: 'Cast the seat’s ballot in an open vote (once; an anonymous ballot is not linked to the voter)',
        body: Type.Object({ vote_id: Id(), choice: Type.String({ minLength: 1, maxLength: 20 }) }, { additionalProperties: false }),
        response: responses({ 200: Ok }),
      },
    },
    async (request) => {
      await castBallot(ctx, request.kiosk!, request.actor, request.body as { vote_id: number; choice: string });
      return { ok: true as const };
    },
  );
};
