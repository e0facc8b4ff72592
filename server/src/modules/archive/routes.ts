import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { AppError } from '../../errors.js';
import { Empty, Id, IdParams, Nullable, responses } from '../../schemas.js';
import { ACCEPTED_FORMATS } from './magic.js';
import { parseRange } from './range.js';
import {
  auditProcessFileDownload,
  CAMERA_KIND,
  emptyUpload,
  listMatterArchive,
  listProcessFiles,
  PROCESS_ARCHIVE_LIMITS,
  PROCESS_CATEGORY_LABELS,
  processArchiveSettings,
  processFileForDownload,
  updateProcessArchiveSettings,
  uploadProcessFile,
  type ProcessArchiveSettings,
  type ProcessUpload,
} from './service.js';
import { MEDIA_KINDS, PROCESS_CATEGORIES, type MediaKind, type ProcessCategory } from './tables.js';

const Category = Type.Union(
  PROCESS_CATEGORIES.map((c) => Type.Literal(c)),
  { description: Object.entries(PROCESS_CATEGORY_LABELS).map(([id, zh]) => `${id} ${zh}`).join('; ') },
);
const Kind = Type.Union(
  MEDIA_KINDS.map((k) => Type.Literal(k)),
  { description: Object.entries(ACCEPTED_FORMATS).map(([k, formats]) => `${k}: ${formats}`).join('; ') },
);
const Sha256 = Type.String({ pattern: '^[0-9a-fA-F]{64}$', examples: ['e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'] });
const User = Type.Object({ id: Type.Integer(), display_name: Type.String() }, { additionalProperties: false });

const ArchiveItem = Type.Object(
  {
    kind: Type.String({ description: `what the record is: notice, record, signed_document, process_file, evaluation, ${CAMERA_KIND}, …` }),
    title: Type.String(),
    source: Type.String({ description: 'the module keeping the record' }),
    source_id: Type.String(),
    category: Nullable(Category),
    sha256: Nullable(Type.String()),
    bytes: Nullable(Type.Integer()),
    filed_at: Type.String(),
    filed_by: Nullable(User),
    download: Nullable(Type.String()),
  },
  { additionalProperties: false },
);
const ProcessFile = Type.Object(
  {
    id: Type.Integer(),
    matter_id: Type.Integer(),
    category: Category,
    kind: Kind,
    content_type: Type.String({ description: 'as the file’s content showed' }),
    title: Type.String(),
    original_name: Nullable(Type.String()),
    note: Nullable(Type.String()),
    bytes: Type.Integer(),
    sha256: Type.String(),
    uploaded_by: User,
    uploaded_at: Type.String(),
    download: Type.String(),
  },
  { additionalProperties: false },
);
const Settings = Type.Object(
  { max_upload_bytes: Type.Integer({ ...PROCESS_ARCHIVE_LIMITS.max_upload_bytes, description: 'the largest process file accepted, in bytes (default 2 GiB)' }) },
  { additionalProperties: false },
);
const UploadQuery = Type.Object(
  {
    category: Category,
    kind: Kind,
    title: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'the file’s name on the uploader’s device (shown only)' })),
    note: Type.Optional(Type.String({ maxLength: 2000 })),
    sha256: Type.Optional(Type.String({ ...Sha256, description: 'the uploader’s SHA-256 of the file: a file that arrives different is refused' })),
  },
  { additionalProperties: false },
);
const FileParams = Type.Object({ id: Id(), file_id: Id() }, { additionalProperties: false });
/** A file answer: streamed bytes, not JSON. */
const FileResponse = responses({ 200: Type.String({ description: 'the file’s bytes' }), 206: Type.String({ description: 'the requested range of the file' }) });

/** A file name for Content-Disposition (RFC 6266/8187): UTF-8, percent-encoded, nothing a header could misread. */
function attachment(name: string): string {
  const encoded = encodeURIComponent(name).replace(/['()*!]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename*=UTF-8''${encoded}`;
}

/** The matter archive (Z6.3.5) and its process files (Z5.5.3): listing, streaming upload, ranged download. */
export const archiveRoutes: FastifyPluginAsync = async (app) => {
  const ctx = app.services;

  app.get(
    '/api/matters/:id/archive',
    {
      config: { permission: 'matters.read' },
      schema: {
        tags: ['archive'],
        summary: 'The matter archive: every notice, record, signed document, process file, evaluation and camera recording filed for the matter, oldest first',
        params: IdParams,
        querystring: Type.Object({ kind: Type.Optional(Type.String({ pattern: '^[a-z][a-z0-9_.]{0,39}$' })) }, { additionalProperties: false }),
        response: responses({ 200: Type.Array(ArchiveItem) }),
      },
    },
    async (request) => listMatterArchive(ctx, request.actor, (request.params as { id: number }).id, request.query as { kind?: string }),
  );

  app.get(
    '/api/matters/:id/process-files',
    {
      config: { permission: 'matters.read' },
      schema: {
        tags: ['archive'],
        summary: 'The matter’s process archive (photos, audio, video and files of the work), oldest first',
        params: IdParams,
        querystring: Type.Object({ category: Type.Optional(Category), kind: Type.Optional(Kind) }, { additionalProperties: false }),
        response: responses({ 200: Type.Array(ProcessFile) }),
      },
    },
    async (request) => listProcessFiles(ctx, request.actor, (request.params as { id: number }).id, request.query as { category?: ProcessCategory; kind?: MediaKind }),
  );

  // The upload takes the file itself as the body, streamed to disk and never buffered; any content type
  // is accepted because the bytes' own signature decides what the file is. The parser is confined to
  // this one route by its own plugin scope.
  await app.register(async (upload) => {
    upload.removeAllContentTypeParsers();
    upload.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
    upload.post(
      '/api/matters/:id/process-files',
      {
        config: { permission: 'matters.work' },
        schema: {
          tags: ['archive'],
          summary: 'Upload a process file: the raw bytes as the body (e.g. application/octet-stream), its category and kind in the query',
          description: 'Stored only if complete and of the declared kind by its content; the answer carries its SHA-256. Limit: GET /api/settings/process-archive.',
          params: IdParams,
          querystring: UploadQuery,
          consumes: ['application/octet-stream'],
          response: responses({ 201: ProcessFile }),
        },
      },
      async (request, reply) => {
        const body = request.body as Readable | object;
        if (!(body && typeof (body as Readable).pipe === 'function')) {
          throw emptyUpload();
        }
        const length = request.headers['content-length'];
        const meta: ProcessUpload = { ...(request.query as Omit<ProcessUpload, 'declared_length'>), declared_length: length === undefined ? null : Number(length) };
        try {
          const file = await uploadProcessFile(ctx, request.actor, (request.params as { id: number }).id, body as Readable, meta);
          return reply.code(201).send(file);
        } catch (err) {
          // The rest of a refused body is not read: the connection closes after the answer.
          reply.header('connection', 'close');
          throw err;
        }
      },
    );
  });

  app.get(
    '/api/matters/:id/process-files/:file_id/file',
    {
      config: { permission: 'matters.read' },
      schema: {
        tags: ['archive'],
        summary: 'Download a process file (audited); honours a single Range for seeking in audio and video; x-content-sha256 carries its hash',
        params: FileParams,
        querystring: Empty,
        response: FileResponse,
      },
    },
    async (request, reply: FastifyReply) => {
      const { id, file_id } = request.params as { id: number; file_id: number };
      const { file, path, size } = await processFileForDownload(ctx, request.actor, id, file_id);
      const range = parseRange(request.headers.range, size);
      reply.header('accept-ranges', 'bytes');
      if (range === 'unsatisfiable') {
        reply.header('content-range', `bytes */${size}`);
        throw new AppError(416, 'RANGE_NOT_SATISFIABLE', `The file has ${size} bytes; ask for a range within them. / 请求的范围超出文件大小。`);
      }
      reply.header('x-content-sha256', file.sha256);
      reply.header('etag', `"${file.sha256}"`);
      reply.header('content-type', file.content_type);
      reply.header('content-disposition', attachment(file.original_name ?? `${file.title}.${file.extension}`));
      if (!range || range.start === 0) await auditProcessFileDownload(ctx, request.actor, file);
      if (!range) {
        reply.header('content-length', size);
        return reply.send(createReadStream(path));
      }
      reply.code(206);
      reply.header('content-range', `bytes ${range.start}-${range.end}/${size}`);
      reply.header('content-length', range.end - range.start + 1);
      return reply.send(createReadStream(path, { start: range.start, end: range.end }));
    },
  );

  app.get(
    '/api/settings/process-archive',
    {
      config: { permission: 'matters.read' },
      schema: { tags: ['archive'], summary: 'The process archive’s upload limit', querystring: Empty, response: responses({ 200: Settings }) },
    },
    async () => processArchiveSettings(ctx.db),
  );

  app.put(
    '/api/settings/process-archive',
    {
      config: { permission: 'practice.configure' },
      schema: { tags: ['archive'], summary: 'Set the process archive’s upload limit (1 MiB – 64 GiB)', body: Settings, response: responses({ 200: Settings }) },
    },
    async (request) => updateProcessArchiveSettings(ctx, request.actor, request.body as ProcessArchiveSettings),
  );
};
