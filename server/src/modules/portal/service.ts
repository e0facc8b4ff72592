import { randomBytes } from 'node:crypto';
import type { Actor, ServiceContext } from '../../context.js';
import { forbidden, unauthorized } from '../../errors.js';
import { appendAudit, recordAudit } from '../audit/service.js';
import { hashToken } from '../auth/service.js';
import { requirePermission } from '../auth/roles.js';
import { findVisibleClient } from '../clients/service.js';
import { maskName } from '../clients/identifiers.js';
import { visibleMatterIds } from '../matters/access.js';
import { newShortCode, normalizeEnrolmentCode } from '../kiosks/service.js';

/** A client's portal session, as the auth plugin hands it to `portal` routes. */
export interface PortalClient {
  clientId: number;
  sessionId: number;
}

/** Portal tokens carry a prefix so a leaked one is recognisable in logs and secret scanners. */
export const PORTAL_TOKEN_PREFIX = 'lbc_';
/** An access code is read out or sent to the client; a week is time enough to open it. */
export const PORTAL_CODE_DAYS = 7;
/** A client's browser stays signed in for 30 days of no use at most, then asks for a new code. */
export const PORTAL_SESSION_DAYS = 30;
const DAY_MS = 86_400_000;
/** How stale `last_seen_at` may get before a request refreshes it (one write a minute per session at most). */
const SEEN_RESOLUTION_MS = 60_000;

/** The actor of a client's own request: named by client id, holding no staff role. */
export const portalActor = (clientId: number, sourceIp: string | null): Actor => ({ userId: null, username: `client:${clientId}`, role: null, sourceIp });

/**
 * A one-time access code for a client's portal, made by a lawyer who may see the client. The code is
 * returned once (the lawyer gives it to the client, or it goes out on a configured channel).
 */
export async function createPortalCode(ctx: ServiceContext, actor: Actor, clientId: number): Promise<{ code: string; link: string; expires_at: string; client_name: string }> {
  requirePermission(actor, 'clients.manage');
  const client = await findVisibleClient(ctx.db, actor, clientId);
  // The portal shows all of the client's matters: whoever hands out its key must see all of them too,
  // or a lawyer on one matter could read (and answer for the client in) another team's matter.
  const own = await ctx.db.selectFrom('parties').select('matter_id').where('client_id', '=', clientId).where('role', '=', 'client').execute();
  const ids = [...new Set(own.map((p) => p.matter_id))];
  if ((await visibleMatterIds(ctx.db, actor, ids)).size < ids.length) {
    throw forbidden('NOT_ON_EVERY_MATTER', 'This client has matters you are not on; its portal access code must come from a lawyer who sees them all, or from the director. / 该客户另有您未参与的案件，请由可查看其全部案件的律师或主任生成门户访问码。');
  }
  const code = newShortCode();
  const now = ctx.clock.now();
  const expiresAt = new Date(now.getTime() + PORTAL_CODE_DAYS * DAY_MS);
  await ctx.db.transaction().execute(async (trx) => {
    await trx.insertInto('client_portal_codes').values({ client_id: clientId, code_hash: hashToken(code), expires_at: expiresAt, created_by: actor.userId!, created_at: now }).execute();
    await appendAudit(trx, { at: now, actor: actor.username, action: 'portal.code_created', object: `client:${clientId}`, result: 'success', sourceIp: actor.sourceIp, detail: { expires_at: expiresAt.toISOString() } });
  });
  // In the fragment, which browsers never send: the code stays out of request logs.
  return { code, link: `/portal/#code=${code}`, expires_at: expiresAt.toISOString(), client_name: client.name };
}

/** The client's side: a valid code is spent and becomes a session token (returned once, set as a cookie). */
export async function enterPortal(ctx: ServiceContext, code: string, sourceIp: string | null): Promise<{ token: string; client_id: number }> {
  const now = ctx.clock.now();
  const row = await ctx.db.transaction().execute(async (trx) => {
    const row = await trx
      .updateTable('client_portal_codes')
      .set({ used_at: now })
      .where('code_hash', '=', hashToken(normalizeEnrolmentCode(code)))
      .where('used_at', 'is', null)
      .where('expires_at', '>', now)
      .returning(['id', 'client_id'])
      .executeTakeFirst();
    if (!row) return null;
    const session = await issueSession(trx, ctx, row.client_id, sourceIp);
    await appendAudit(trx, { at: now, actor: `client:${row.client_id}`, action: 'portal.enter', object: `client:${row.client_id}`, result: 'success', sourceIp, detail: { code_id: row.id, session_id: session.id } });
    return { token: session.token, client_id: row.client_id };
  });
  if (!row) {
    await recordAudit(ctx.db, { at: now, actor: 'anonymous', action: 'portal.enter', object: null, result: 'failure', sourceIp, detail: null });
    throw unauthorized('INVALID_PORTAL_CODE', 'This access code is wrong, used or expired; ask your lawyer for a new one. / 访问码无效、已使用或已过期，请联系您的律师重新获取。');
  }
  return row;
}

async function issueSession(db: ServiceContext['db'], ctx: ServiceContext, clientId: number, sourceIp: string | null): Promise<{ id: number; token: string }> {
  const token = PORTAL_TOKEN_PREFIX + randomBytes(32).toString('base64url');
  const now = ctx.clock.now();
  const { id } = await db
    .insertInto('client_portal_sessions')
    .values({ client_id: clientId, token_hash: hashToken(token), created_at: now, last_seen_at: now, expires_at: new Date(now.getTime() + PORTAL_SESSION_DAYS * DAY_MS), source_ip: sourceIp })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { id, token };
}

/** A portal session for a client without the code exchange: for tests and the demo, never for a route. */
export async function createPortalSession(ctx: ServiceContext, clientId: number): Promise<{ token: string; id: number }> {
  return issueSession(ctx.db, ctx, clientId, null);
}

/** The client a token belongs to, if its session is live; each use extends it (sliding expiry). */
export async function resolvePortal(ctx: ServiceContext, token: string): Promise<PortalClient | null> {
  if (!token.startsWith(PORTAL_TOKEN_PREFIX)) return null;
  const now = ctx.clock.now();
  const row = await ctx.db
    .selectFrom('client_portal_sessions')
    .select(['id', 'client_id', 'last_seen_at'])
    .where('token_hash', '=', hashToken(token))
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  if (!row) return null;
  if (now.getTime() - row.last_seen_at.getTime() > SEEN_RESOLUTION_MS) {
    await ctx.db.updateTable('client_portal_sessions').set({ last_seen_at: now, expires_at: new Date(now.getTime() + PORTAL_SESSION_DAYS * DAY_MS) }).where('id', '=', row.id).execute();
  }
  return { clientId: row.client_id, sessionId: row.id };
}

export async function leavePortal(ctx: ServiceContext, portal: PortalClient, actor: Actor): Promise<void> {
  const now = ctx.clock.now();
  await ctx.db.transaction().execute(async (trx) => {
    await trx.updateTable('client_portal_sessions').set({ revoked_at: now }).where('id', '=', portal.sessionId).execute();
    await appendAudit(trx, { at: now, actor: actor.username, action: 'portal.leave', object: `client:${portal.clientId}`, result: 'success', sourceIp: actor.sourceIp, detail: { session_id: portal.sessionId } });
  });
}

/** Ends every portal session of a client at once (a lost phone, a changed contact person). */
export async function revokePortalSessions(ctx: ServiceContext, actor: Actor, clientId: number): Promise<number> {
  requirePermission(actor, 'clients.manage');
  await findVisibleClient(ctx.db, actor, clientId);
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    const r = await trx.updateTable('client_portal_sessions').set({ revoked_at: now }).where('client_id', '=', clientId).where('revoked_at', 'is', null).executeTakeFirst();
    await trx.updateTable('client_portal_codes').set({ used_at: now }).where('client_id', '=', clientId).where('used_at', 'is', null).execute();
    const revoked = Number(r.numUpdatedRows);
    await appendAudit(trx, { at: now, actor: actor.username, action: 'portal.revoke', object: `client:${clientId}`, result: 'success', sourceIp: actor.sourceIp, detail: { sessions: revoked } });
    return revoked;
  });
}

/** What the portal's first screen shows: who the client is and its matters (no other party's data). */
export async function portalOverview(ctx: ServiceContext, clientId: number) {
  const client = await ctx.db.selectFrom('clients').select(['id', 'name', 'kind']).where('id', '=', clientId).executeTakeFirstOrThrow();
  const matters = await ctx.db
    .selectFrom('matters as m')
    .innerJoin('users as u', 'u.id', 'm.responsible_lawyer_id')
    .select(['m.id', 'm.number', 'm.title', 'm.type', 'm.status', 'm.opened_at', 'm.closed_at', 'u.display_name as lawyer_name'])
    .where((eb) => eb.exists(eb.selectFrom('parties as p').select('p.id').whereRef('p.matter_id', '=', 'm.id').where('p.role', '=', 'client').where('p.client_id', '=', clientId)))
    .where('m.status', 'in', ['open', 'suspended', 'closed'])
    .orderBy('m.id', 'desc')
    .execute();
  return {
    client: { id: client.id, name: client.kind === 'person' ? maskName(client.name) : client.name },
    matters: matters.map((m) => ({ ...m, opened_at: m.opened_at?.toISOString() ?? null, closed_at: m.closed_at?.toISOString() ?? null })),
  };
}

/** Whether a matter is the client's own (a party in the client role): every portal service asks this. */
export async function portalOwnsMatter(ctx: ServiceContext, portal: PortalClient, matterId: number): Promise<boolean> {
  const row = await ctx.db.selectFrom('parties').select('id').where('matter_id', '=', matterId).where('role', '=', 'client').where('client_id', '=', portal.clientId).executeTakeFirst();
  return !!row;
}
