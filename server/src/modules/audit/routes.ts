import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { Empty, responses } from '../../schemas.js';
import { recordAudit, verifyAuditChain } from './service.js';

const AuditRecord = Type.Object(
  {
    seq: Type.Integer(),
    at: Type.String(),
    actor: Type.String(),
    action: Type.String(),
    object: Type.Union([Type.String(), Type.Null()]),
    result: Type.String(),
    source_ip: Type.Union([Type.String(), Type.Null()]),
    detail: Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()]),
    hash: Type.String(),
  },
  { additionalProperties: false },
);

export const auditRoutes: FastifyPluginAsync = async (app) => {
  const ctx = app.services;

  app.get(
    '/api/audit',
    {
      config: { permission: 'audit.read' },
      schema: {
        tags: ['audit'],
        summary: 'Audit records, newest first',
        querystring: Type.Object(
          {
            limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
            before_seq: Type.Optional(Type.Integer({ minimum: 1 })),
            actor: Type.Optional(Type.String({ maxLength: 64 })),
            action: Type.Optional(Type.String({ maxLength: 64 })),
          },
          { additionalProperties: false },
        ),
        response: responses({ 200: Type.Array(AuditRecord) }),
      },
    },
    async (request) => {
      const q = request.query as { limit: number; before_seq?: number; actor?: string; action?: string };
      let query = ctx.db.selectFrom('audit_log').select(['seq', 'at', 'actor', 'action', 'object', 'result', 'source_ip', 'detail', 'hash']).orderBy('seq', 'desc').limit(q.limit);
      if (q.before_seq) query = query.where('seq', '<', q.before_seq);
      if (q.actor) query = query.where('actor', '=', q.actor);
      if (q.action) query = query.where('action', '=', q.action);
      const rows = await query.execute();
      return rows.map((r) => ({ ...r, seq: Number(r.seq), at: r.at.toISOString() }));
    },
  );

  app.post(
    '/api/audit/verify',
    {
      config: { permission: 'audit.read' },
      schema: {
        tags: ['audit'],
        summary: 'Check the hash chain of the whole audit trail',
        body: Empty,
        response: responses({
          200: Type.Object(
            { ok: Type.Boolean(), rows: Type.Integer(), last_seq: Type.Optional(Type.Integer()), bad_seq: Type.Optional(Type.Integer()), reason: Type.Optional(Type.String()) },
            { additionalProperties: false },
          ),
        }),
      },
    },
    async (request) => {
      const result = await verifyAuditChain(ctx.db);
      await recordAudit(ctx.db, { at: ctx.clock.now(), actor: request.actor.username, action: 'audit.verify', object: null, result: result.ok ? 'success' : 'failure', sourceIp: request.ip, detail: result.ok ? null : { bad_seq: result.badSeq } });
      return result.ok ? { ok: true, rows: result.rows, last_seq: result.lastSeq } : { ok: false, rows: result.rows, bad_seq: result.badSeq, reason: result.reason };
    },
  );
};
