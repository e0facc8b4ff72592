import fp from 'fastify-plugin';
import cookie from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { addressIn } from '../config.js';
import type { Actor } from '../context.js';
import { forbidden, unauthorized } from '../errors.js';
import { recordAudit } from '../modules/audit/service.js';
import { verifyAgentSecret } from '../modules/agents/service.js';
import { KIOSK_TOKEN_PREFIX, kioskActor, resolveKiosk, type Kiosk } from '../modules/kiosks/service.js';
import { resolveSession, type Session } from '../modules/auth/service.js';
import { PORTAL_TOKEN_PREFIX, portalActor, resolvePortal, type PortalClient } from '../modules/portal/service.js';
import { can, MANAGEMENT_PERMISSIONS, type KioskKind, type Permission } from '../modules/auth/roles.js';

export const SESSION_COOKIE = 'lawbox_session';
/**
 * The enrolled kiosk's token, set at enrolment: httpOnly, so the page's scripts cannot read it back.
 * (The enrolment answer also carries it once, for kiosks that are not browsers; the kiosk apps ignore it.)
 */
export const KIOSK_COOKIE = 'lawbox_kiosk';
/** A client's portal session token, set when the client enters an access code: httpOnly as well. */
export const PORTAL_COOKIE = 'lawbox_portal';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** reachable without a session (health, login, setup, docs) */
    public?: boolean;
    /** the permission a caller's role must grant; absent = any signed-in user */
    permission?: Permission;
    /** still reachable while the user must change their password first */
    allowDuringPasswordChange?: boolean;
    /** for enrolled device agents only (HTTP Basic with the agent's MQTT credential), never for users */
    agent?: boolean;
    /** for enrolled kiosks of these kinds only (their token or cookie), never for users */
    kiosk?: readonly KioskKind[];
    /** open to enrolled kiosks of any kind as well as to signed-in users (the live-events WebSocket) */
    kioskToo?: boolean;
    /** for the firm's clients in their portal only (their portal session), never for staff or kiosks */
    portal?: boolean;
  }
  interface FastifyRequest {
    session: Session | null;
    /** the enrolled agent calling an `agent` route */
    agentId: string | null;
    /** the enrolled kiosk calling a `kiosk` or `kioskToo` route */
    kiosk: Kiosk | null;
    /** the client calling a `portal` route */
    portal: PortalClient | null;
    /** who is acting, for audit records; anonymous before login */
    actor: Actor;
  }
}

/** The session token of a request: a Bearer header, else the session cookie. */
export function bearerToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (header?.startsWith('Bearer ')) return header.slice(7).trim() || null;
  return request.cookies[SESSION_COOKIE] ?? null;
}

/** A kiosk token: a Bearer header with the kiosk prefix, else the kiosk cookie. */
export function kioskToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (header?.startsWith(`Bearer ${KIOSK_TOKEN_PREFIX}`)) return header.slice(7).trim();
  return request.cookies[KIOSK_COOKIE] ?? null;
}

/** A portal token: a Bearer header with the portal prefix, else the portal cookie. */
export function portalToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (header?.startsWith(`Bearer ${PORTAL_TOKEN_PREFIX}`)) return header.slice(7).trim();
  return request.cookies[PORTAL_COOKIE] ?? null;
}

/**
 * Resolves the session of every request and enforces each route's access rule before the body is
 * even read: anonymous → 401, wrong role → 403 (audited), pending password change → 403.
 */
export default fp(async (app) => {
  await app.register(cookie);
  app.decorateRequest('session', null);
  app.decorateRequest('actor', null as unknown as Actor);
  app.decorateRequest('agentId', null);
  app.decorateRequest('kiosk', null);
  app.decorateRequest('portal', null);

  const networks = app.services.config.managementNetworks;
  const fromManagementNetwork = (ip: string): boolean => addressIn(networks, ip);

  app.addHook('onRequest', async (request: FastifyRequest, _reply: FastifyReply) => {
    if (request.routeOptions.config.agent) return authenticateAgent(request);
    if (request.routeOptions.config.kiosk) return authenticateKiosk(request, request.routeOptions.config.kiosk);
    if (request.routeOptions.config.portal) return authenticatePortal(request);
    if (request.routeOptions.config.kioskToo && (await tryKiosk(request))) return;
    const token = bearerToken(request);
    request.session = token ? await resolveSession(app.services, token) : null;
    const user = request.session?.user;
    request.actor = { userId: user?.id ?? null, username: user?.username ?? 'anonymous', role: user?.role ?? null, sourceIp: request.ip };

    const config = request.routeOptions.config;
    if (config.public) return;
    if (!user) {
      throw unauthorized(token ? 'SESSION_EXPIRED' : 'AUTH_REQUIRED', token ? 'Your session has ended; please sign in again. / 会话已失效，请重新登录。' : 'Please sign in. / 请先登录。');
    }
    if (user.passwordChangeRequired && !config.allowDuringPasswordChange) {
      throw forbidden('PASSWORD_CHANGE_REQUIRED', 'You must change your password before continuing (POST /api/auth/password). / 请先修改密码。');
    }
    const permission = config.permission;
    if (!permission) return;
    const denial = !can(user.role, permission)
      ? forbidden('FORBIDDEN', 'Your role does not allow this. / 您的角色无权执行此操作。')
      : MANAGEMENT_PERMISSIONS.has(permission) && !fromManagementNetwork(request.ip)
        ? forbidden('MANAGEMENT_ADDRESS', 'Administration is not allowed from this address (LAWBOX_MANAGEMENT_NETWORKS). / 不允许从该地址进行管理操作。')
        : null;
    if (!denial) return;
    await recordAudit(app.services.db, {
      at: app.services.clock.now(),
      actor: user.username,
      action: 'access.denied',
      object: `${request.method} ${request.routeOptions.url}`,
      result: 'denied',
      sourceIp: request.ip,
      detail: { role: user.role, permission, reason: denial.code },
    });
    throw denial;
  });

  /** Resolves the kiosk a request comes from, if it carries a live kiosk token. */
  async function tryKiosk(request: FastifyRequest): Promise<boolean> {
    const token = kioskToken(request);
    const kiosk = token ? await resolveKiosk(app.services, token) : null;
    if (!kiosk) return false;
    request.kiosk = kiosk;
    request.actor = kioskActor(kiosk, request.ip);
    return true;
  }

  /** A kiosk route: an enrolled kiosk of the right kind, or nothing; a user's session does not count. */
  async function authenticateKiosk(request: FastifyRequest, kinds: readonly KioskKind[]): Promise<void> {
    request.actor = { userId: null, username: 'anonymous', role: null, sourceIp: request.ip };
    if (!(await tryKiosk(request))) {
      throw unauthorized('KIOSK_AUTH_REQUIRED', 'This screen is not enrolled (or was revoked); ask the system administrator for an enrolment code. / 此终端尚未登记或已停用，请联系系统管理员获取登记码。');
    }
    if (!kinds.includes(request.kiosk!.kind)) {
      await recordAudit(app.services.db, { at: app.services.clock.now(), actor: request.actor.username, action: 'access.denied', object: `${request.method} ${request.routeOptions.url}`, result: 'denied', sourceIp: request.ip, detail: { kiosk_kind: request.kiosk!.kind } });
      throw forbidden('WRONG_KIOSK_KIND', `A ${request.kiosk!.kind} kiosk cannot do this. / 该类终端无权执行此操作。`);
    }
  }

  /** A portal route: the client's live portal session, or nothing; a staff session does not count. */
  async function authenticatePortal(request: FastifyRequest): Promise<void> {
    const token = portalToken(request);
    const portal = token ? await resolvePortal(app.services, token) : null;
    request.actor = portal ? portalActor(portal.clientId, request.ip) : { userId: null, username: 'anonymous', role: null, sourceIp: request.ip };
    if (!portal) {
      throw unauthorized(token ? 'PORTAL_SESSION_EXPIRED' : 'PORTAL_AUTH_REQUIRED', 'Please open the access code your lawyer gave you. / 请使用律师提供的访问码进入客户门户。');
    }
    request.portal = portal;
  }

  /** An agent route: the agent's own credential or nothing; a user's session does not count. */
  async function authenticateAgent(request: FastifyRequest): Promise<void> {
    const header = request.headers.authorization ?? '';
    const decoded = header.startsWith('Basic ') ? Buffer.from(header.slice(6), 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    const [id, secret] = colon > 0 ? [decoded.slice(0, colon), decoded.slice(colon + 1)] : ['', ''];
    const ok = !!id && (await verifyAgentSecret(app.services, id, secret));
    request.actor = { userId: null, username: ok ? `agent:${id}` : 'anonymous', role: null, sourceIp: request.ip };
    if (ok) {
      request.agentId = id;
      return;
    }
    if (decoded) {
      await recordAudit(app.services.db, { at: app.services.clock.now(), actor: 'anonymous', action: 'agent.auth_failed', object: `${request.method} ${request.routeOptions.url}`, result: 'denied', sourceIp: request.ip, detail: { agent: id || null } });
    }
    throw unauthorized('AGENT_AUTH_REQUIRED', 'This endpoint is for enrolled device agents (HTTP Basic with the agent’s credential). / 仅限已登记的设备代理访问。');
  }
});
