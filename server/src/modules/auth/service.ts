import { createHash, randomBytes } from 'node:crypto';
import type { ServiceContext, Actor } from '../../context.js';
import { AppError, badRequest, unauthorized } from '../../errors.js';
import { appendAudit, recordAudit } from '../audit/service.js';
import { burnVerification, hashPassword, passwordExpired, passwordProblems, verifyPassword } from './passwords.js';
import { isRole, ROLE_NAMES } from './roles.js';
import type { Transaction } from 'kysely';
import type { Database, User } from '../../db/schema.js';

export interface SessionUser {
  id: number;
  username: string;
  displayName: string;
  role: string;
  /** the user must set a new password before doing anything else */
  passwordChangeRequired: boolean;
}

export interface Session {
  tokenHash: string;
  user: SessionUser;
  expiresAt: Date;
}

export const newToken = (): string => randomBytes(32).toString('base64url');
export const hashToken = (token: string): string => createHash('sha256').update(token).digest('hex');

export function toSessionUser(ctx: ServiceContext, user: Pick<User, 'id' | 'username' | 'display_name' | 'role' | 'must_change_password' | 'password_changed_at'>): SessionUser {
  return {
    id: user.id,
    username: user.username,
    displayName: user.display_name,
    role: user.role,
    passwordChangeRequired:
      user.must_change_password || passwordExpired(ctx.config.passwordPolicy, user.password_changed_at, ctx.clock.now()),
  };
}

export interface LoginResult {
  token: string;
  session: Session;
}

/**
 * Checks a username and password. Failures count towards the lockout; a locked account is refused
 * even with the right password. Every outcome is audited.
 */
export async function login(ctx: ServiceContext, username: string, password: string, source: { ip: string | null; userAgent: string | null }): Promise<LoginResult> {
  const now = ctx.clock.now();
  const audit = (result: 'success' | 'failure' | 'denied', reason?: string) => ({
    at: now,
    actor: username,
    action: 'auth.login',
    object: `user:${username}`,
    result,
    sourceIp: source.ip,
    detail: reason ? { reason } : null,
  });
  const user = await ctx.db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();
  if (!user) {
    await burnVerification(password);
    await recordAudit(ctx.db, audit('failure', 'unknown_user'));
    throw unauthorized('INVALID_CREDENTIALS', 'Wrong username or password. / 用户名或密码错误。');
  }
  if (user.disabled) {
    await burnVerification(password);
    await recordAudit(ctx.db, audit('denied', 'disabled'));
    throw unauthorized('INVALID_CREDENTIALS', 'Wrong username or password. / 用户名或密码错误。');
  }
  if (user.locked_until && user.locked_until > now) {
    await recordAudit(ctx.db, audit('denied', 'locked'));
    throw new AppError(
      423,
      'ACCOUNT_LOCKED',
      `Account locked after repeated failed logins until ${user.locked_until.toISOString()}; ask a security administrator to unlock it. / 账号因多次登录失败已锁定。`,
    );
  }
  if (!(await verifyPassword(user.password_hash, password))) {
    await ctx.db.transaction().execute(async (trx) => {
      // Counted in SQL, so concurrent wrong guesses cannot overwrite each other's count.
      const { failed_logins: failures } = await trx
        .updateTable('users')
        .set((eb) => ({ failed_logins: eb('failed_logins', '+', 1) }))
        .where('id', '=', user.id)
        .returning('failed_logins')
        .executeTakeFirstOrThrow();
      await appendAudit(trx, audit('failure', 'wrong_password'));
      if (failures >= ctx.config.lockout.threshold) {
        const lockedUntil = new Date(now.getTime() + ctx.config.lockout.minutes * 60_000);
        await trx.updateTable('users').set({ failed_logins: 0, locked_until: lockedUntil }).where('id', '=', user.id).execute();
        await appendAudit(trx, { ...audit('success'), action: 'user.lock', actor: 'system', detail: { failures, until: lockedUntil.toISOString() } });
      }
    });
    throw unauthorized('INVALID_CREDENTIALS', 'Wrong username or password. / 用户名或密码错误。');
  }

  const token = newToken();
  const tokenHash = hashToken(token);
  const expiresAt = new Date(now.getTime() + ctx.config.session.absoluteHours * 3_600_000);
  await ctx.db.transaction().execute(async (trx) => {
    await trx
      .updateTable('users')
      .set({ failed_logins: 0, locked_until: null, last_login_at: now })
      .where('id', '=', user.id)
      .execute();
    await trx
      .insertInto('sessions')
      .values({
        token_hash: tokenHash,
        user_id: user.id,
        created_at: now,
        last_seen_at: now,
        expires_at: expiresAt,
        source_ip: source.ip,
        user_agent: source.userAgent?.slice(0, 512) ?? null,
      })
      .execute();
    await appendAudit(trx, audit('success'));
  });
  return { token, session: { tokenHash, user: toSessionUser(ctx, user), expiresAt } };
}

/**
 * Finds the live session for a token. Idle and absolute timeouts are checked against the clock;
 * last_seen_at is written at most once a minute, so a busy session does not write on every request.
 */
export async function resolveSession(ctx: ServiceContext, token: string): Promise<Session | null> {
  const tokenHash = hashToken(token);
  const row = await ctx.db
    .selectFrom('sessions')
    .innerJoin('users', 'users.id', 'sessions.user_id')
    .select(['users.id', 'users.username', 'users.display_name', 'users.role', 'users.must_change_password', 'users.password_changed_at', 'users.disabled'])
    .select(['sessions.last_seen_at', 'sessions.expires_at', 'sessions.revoked_at'])
    .where('sessions.token_hash', '=', tokenHash)
    .executeTakeFirst();
  if (!row || row.revoked_at || row.disabled) return null;
  const now = ctx.clock.now();
  const idleMs = ctx.config.session.idleMinutes * 60_000;
  if (row.expires_at <= now || now.getTime() - row.last_seen_at.getTime() >= idleMs) return null;
  if (now.getTime() - row.last_seen_at.getTime() > Math.min(60_000, idleMs / 10)) {
    await ctx.db.updateTable('sessions').set({ last_seen_at: now }).where('token_hash', '=', tokenHash).execute();
  }
  return { tokenHash, user: toSessionUser(ctx, row), expiresAt: row.expires_at };
}

export async function logout(ctx: ServiceContext, session: Session, actor: Actor): Promise<void> {
  const now = ctx.clock.now();
  await ctx.db.transaction().execute(async (trx) => {
    await trx.updateTable('sessions').set({ revoked_at: now }).where('token_hash', '=', session.tokenHash).execute();
    await appendAudit(trx, { at: now, actor: actor.username, action: 'auth.logout', object: `user:${actor.username}`, result: 'success', sourceIp: actor.sourceIp });
  });
}

/**
 * Changes the caller's own password after checking the current one. Other sessions of the user are
 * revoked: whoever knew the old password loses access with it.
 */
export async function changeOwnPassword(ctx: ServiceContext, session: Session, actor: Actor, currentPassword: string, newPassword: string): Promise<void> {
  const now = ctx.clock.now();
  const user = await ctx.db.selectFrom('users').selectAll().where('id', '=', session.user.id).executeTakeFirstOrThrow();
  if (!(await verifyPassword(user.password_hash, currentPassword))) {
    await recordAudit(ctx.db, { at: now, actor: actor.username, action: 'auth.password_change', object: `user:${user.username}`, result: 'failure', sourceIp: actor.sourceIp, detail: { reason: 'wrong_current_password' } });
    throw badRequest('WRONG_PASSWORD', 'The current password is wrong. / 当前密码错误。');
  }
  if (currentPassword === newPassword) throw badRequest('PASSWORD_REUSED', 'The new password must differ from the current one. / 新密码不能与当前密码相同。');
  assertPasswordAcceptable(ctx, newPassword, user.username);
  const passwordHash = await hashPassword(newPassword);
  await ctx.db.transaction().execute(async (trx) => {
    await trx.updateTable('users').set({ password_hash: passwordHash, password_changed_at: now, must_change_password: false }).where('id', '=', user.id).execute();
    await revokeSessions(trx, user.id, now, session.tokenHash);
    await appendAudit(trx, { at: now, actor: actor.username, action: 'auth.password_change', object: `user:${user.username}`, result: 'success', sourceIp: actor.sourceIp });
  });
}

/** Ends every open session of a user, except (optionally) the one making the request. */
export async function revokeSessions(trx: Transaction<Database>, userId: number, now: Date, keepTokenHash?: string): Promise<void> {
  let query = trx.updateTable('sessions').set({ revoked_at: now }).where('user_id', '=', userId).where('revoked_at', 'is', null);
  if (keepTokenHash) query = query.where('token_hash', '!=', keepTokenHash);
  await query.execute();
}

export function assertPasswordAcceptable(ctx: ServiceContext, password: string, username: string): void {
  const problems = passwordProblems(ctx.config.passwordPolicy, password, username);
  if (problems.length > 0) {
    throw badRequest('WEAK_PASSWORD', `The password does not meet the policy: ${problems.join('; ')}. / 密码不符合安全策略。`);
  }
}

export function assertRole(role: string): void {
  if (!isRole(role)) throw badRequest('UNKNOWN_ROLE', `Unknown role "${role}"; one of: ${ROLE_NAMES.join(', ')}.`);
}
