import type { Actor, ServiceContext } from '../../context.js';
import { badRequest, conflict, notFound } from '../../errors.js';
import type { User } from '../../db/schema.js';
import { appendAudit } from '../audit/service.js';
import { assertPasswordAcceptable, assertRole, hashToken, newToken, revokeSessions } from '../auth/service.js';
import { hashPassword } from '../auth/passwords.js';

export interface PublicUser {
  id: number;
  username: string;
  display_name: string;
  role: string;
  disabled: boolean;
  locked: boolean;
  must_change_password: boolean;
  last_login_at: string | null;
  created_at: string;
  /** 所属办公室 / 部门: collaboration assigns and filters tasks across them (Z6.3.3.3) */
  office: string | null;
  department: string | null;
}

export function toPublicUser(ctx: ServiceContext, u: User): PublicUser {
  return {
    id: u.id,
    username: u.username,
    display_name: u.display_name,
    role: u.role,
    disabled: u.disabled,
    locked: !!u.locked_until && u.locked_until > ctx.clock.now(),
    must_change_password: u.must_change_password,
    last_login_at: u.last_login_at?.toISOString() ?? null,
    created_at: u.created_at.toISOString(),
    office: u.office,
    department: u.department,
  };
}

/** Office and department names: trimmed; an empty string or null means none. */
export const ORG_UNIT_MAX_LENGTH = 100;

function orgUnit(value: string | null | undefined, what: string): string | null | undefined {
  if (value === undefined) return undefined;
  const v = value?.trim() ?? '';
  if (v.length > ORG_UNIT_MAX_LENGTH) {
    throw badRequest('INVALID_ORG_UNIT', `The ${what} name is at most ${ORG_UNIT_MAX_LENGTH} characters. / 办公室或部门名称过长。`);
  }
  return v === '' ? null : v;
}

export const USERNAME_PATTERN = '^[a-z0-9][a-z0-9._-]{1,63}$';

export interface NewUserInput {
  username: string;
  displayName: string;
  role: string;
  password: string;
  /** true when someone other than the user chose the password: it must be changed at first login */
  mustChangePassword: boolean;
  office?: string | null;
  department?: string | null;
}

export async function createUser(ctx: ServiceContext, actor: Actor, input: NewUserInput): Promise<User> {
  const username = input.username.trim().toLowerCase();
  if (!new RegExp(USERNAME_PATTERN).test(username)) {
    throw badRequest('INVALID_USERNAME', 'Usernames are 2-64 characters: lowercase letters, digits, dot, dash, underscore. / 用户名格式不正确。');
  }
  if (!input.displayName.trim()) throw badRequest('INVALID_DISPLAY_NAME', 'A display name is required. / 请填写姓名。');
  assertRole(input.role);
  const office = orgUnit(input.office, 'office') ?? null;
  const department = orgUnit(input.department, 'department') ?? null;
  assertPasswordAcceptable(ctx, input.password, username);
  const passwordHash = await hashPassword(input.password);
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    const existing = await trx.selectFrom('users').select('id').where('username', '=', username).executeTakeFirst();
    if (existing) throw conflict('USERNAME_TAKEN', `The username "${username}" is already taken. / 用户名已存在。`);
    const user = await trx
      .insertInto('users')
      .values({
        username,
        display_name: input.displayName.trim(),
        role: input.role,
        password_hash: passwordHash,
        password_changed_at: now,
        must_change_password: input.mustChangePassword,
        created_at: now,
        office,
        department,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    await appendAudit(trx, { at: now, actor: actor.username, action: 'user.create', object: `user:${username}`, result: 'success', sourceIp: actor.sourceIp, detail: { role: input.role, ...(office !== null ? { office } : {}), ...(department !== null ? { department } : {}) } });
    return user;
  });
}

export async function findUser(ctx: ServiceContext, id: number): Promise<User> {
  const user = await ctx.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
  if (!user) throw notFound('USER_NOT_FOUND', `No user with id ${id}. / 用户不存在。`);
  return user;
}

export async function findUserByName(ctx: ServiceContext, username: string): Promise<User> {
  const user = await ctx.db.selectFrom('users').selectAll().where('username', '=', username.trim().toLowerCase()).executeTakeFirst();
  if (!user) throw notFound('USER_NOT_FOUND', `No user named "${username}". / 用户不存在。`);
  return user;
}

export function listUsers(ctx: ServiceContext): Promise<User[]> {
  return ctx.db.selectFrom('users').selectAll().orderBy('username').execute();
}

export interface UserChanges {
  display_name?: string;
  role?: string;
  disabled?: boolean;
  /** an empty string or null clears it */
  office?: string | null;
  /** an empty string or null clears it */
  department?: string | null;
}

export async function updateUser(ctx: ServiceContext, actor: Actor, id: number, input: UserChanges): Promise<User> {
  const changes: UserChanges = {
    ...input,
    display_name: input.display_name?.trim(),
    office: orgUnit(input.office, 'office'),
    department: orgUnit(input.department, 'department'),
  };
  if (changes.role !== undefined) assertRole(changes.role);
  if (id === actor.userId && (changes.role !== undefined || changes.disabled !== undefined)) {
    // Keeps a security administrator from locking everyone out by demoting or disabling themselves.
    throw badRequest('SELF_CHANGE_REFUSED', 'You cannot change your own role or disable your own account. / 不能修改自己的角色或停用自己的账号。');
  }
  if (changes.display_name !== undefined && !changes.display_name) {
    throw badRequest('INVALID_DISPLAY_NAME', 'A display name is required. / 请填写姓名。');
  }
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    const before = await trx.selectFrom('users').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
    if (!before) throw notFound('USER_NOT_FOUND', `No user with id ${id}. / 用户不存在。`);
    const after = await trx
      .updateTable('users')
      .set(changes)
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
    if (changes.disabled) {
      await revokeSessions(trx, id, now);
    }
    const diff = Object.fromEntries(
      Object.entries(changes).filter(([k, v]) => v !== undefined && (before as unknown as Record<string, unknown>)[k] !== v).map(([k, v]) => [k, { from: (before as unknown as Record<string, unknown>)[k], to: v }]),
    );
    const action = changes.role !== undefined && changes.role !== before.role ? 'user.role_change' : 'user.update';
    await appendAudit(trx, { at: now, actor: actor.username, action, object: `user:${before.username}`, result: 'success', sourceIp: actor.sourceIp, detail: diff });
    return after;
  });
}

export async function unlockUser(ctx: ServiceContext, actor: Actor, username: string): Promise<User> {
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    const user = await trx
      .updateTable('users')
      .set({ locked_until: null, failed_logins: 0 })
      .where('username', '=', username.trim().toLowerCase())
      .returningAll()
      .executeTakeFirst();
    if (!user) throw notFound('USER_NOT_FOUND', `No user named "${username}". / 用户不存在。`);
    await appendAudit(trx, { at: now, actor: actor.username, action: 'user.unlock', object: `user:${user.username}`, result: 'success', sourceIp: actor.sourceIp });
    return user;
  });
}

/** Sets a temporary password chosen by an administrator; the user must replace it at next login. */
export async function resetPassword(ctx: ServiceContext, actor: Actor, id: number, temporaryPassword: string): Promise<User> {
  const target = await findUser(ctx, id);
  assertPasswordAcceptable(ctx, temporaryPassword, target.username);
  const passwordHash = await hashPassword(temporaryPassword);
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    const user = await trx
      .updateTable('users')
      .set({ password_hash: passwordHash, password_changed_at: now, must_change_password: true, locked_until: null, failed_logins: 0 })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await revokeSessions(trx, id, now);
    await appendAudit(trx, { at: now, actor: actor.username, action: 'user.password_reset', object: `user:${user.username}`, result: 'success', sourceIp: actor.sourceIp });
    return user;
  });
}

/** Disables accounts nobody has used for the configured number of days (G-access: unused accounts). */
export async function disableInactiveUsers(ctx: ServiceContext, actor: Actor): Promise<string[]> {
  const days = ctx.config.accountInactiveDays;
  if (days === 0) return [];
  const now = ctx.clock.now();
  const cutoff = new Date(now.getTime() - days * 86_400_000);
  return ctx.db.transaction().execute(async (trx) => {
    const stale = await trx
      .updateTable('users')
      .set({ disabled: true })
      .where('disabled', '=', false)
      .where((eb) => eb.or([eb('last_login_at', '<', cutoff), eb.and([eb('last_login_at', 'is', null), eb('created_at', '<', cutoff)])]))
      .returning('username')
      .execute();
    for (const { username } of stale) {
      await appendAudit(trx, { at: now, actor: actor.username, action: 'user.disable_inactive', object: `user:${username}`, result: 'success', sourceIp: actor.sourceIp, detail: { inactive_days: days } });
    }
    return stale.map((u) => u.username);
  });
}

export async function countUsers(ctx: ServiceContext): Promise<number> {
  const row = await ctx.db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

const SETUP_TOKEN_HOURS = 24;

/**
 * With no account at all, the first start issues a one-time setup token (printed to the console
 * only). Whoever holds it may create the first security administrator, once.
 */
export async function issueSetupToken(ctx: ServiceContext): Promise<string | null> {
  if ((await countUsers(ctx)) > 0) return null;
  const token = newToken();
  const now = ctx.clock.now();
  await ctx.db.transaction().execute(async (trx) => {
    await trx.deleteFrom('setup_tokens').execute();
    await trx.insertInto('setup_tokens').values({ token_hash: hashToken(token), created_at: now, expires_at: new Date(now.getTime() + SETUP_TOKEN_HOURS * 3_600_000) }).execute();
    await appendAudit(trx, { at: now, actor: 'system', action: 'setup.token_issue', object: null, result: 'success', detail: { valid_hours: SETUP_TOKEN_HOURS } });
  });
  return token;
}

export async function completeSetup(ctx: ServiceContext, sourceIp: string | null, token: string, input: { username: string; displayName: string; password: string }): Promise<User> {
  const now = ctx.clock.now();
  // Check the password first, so a weak one does not burn the token.
  assertPasswordAcceptable(ctx, input.password, input.username);
  // Claimed atomically: of two concurrent requests with the same token, only one gets a row back.
  const claimed = (await countUsers(ctx)) === 0
    ? await ctx.db
        .updateTable('setup_tokens')
        .set({ used_at: now })
        .where('token_hash', '=', hashToken(token))
        .where('used_at', 'is', null)
        .where('expires_at', '>', now)
        .returning('token_hash')
        .executeTakeFirst()
    : undefined;
  if (!claimed) {
    await ctx.db.transaction().execute((trx) => appendAudit(trx, { at: now, actor: 'anonymous', action: 'setup.complete', object: null, result: 'denied', sourceIp }));
    throw badRequest('INVALID_SETUP_TOKEN', 'The setup token is wrong, used or expired; restart the server to print a new one. / 初始化令牌无效或已过期。');
  }
  const actor: Actor = { userId: null, username: 'setup', role: null, sourceIp };
  // The chosen password replaces the one-time token, so this is the forced first change.
  return createUser(ctx, actor, { ...input, role: 'security_admin', mustChangePassword: false });
}
