import { randomBytes } from 'node:crypto';
import type { Actor, ServiceContext } from '../../context.js';
import { badRequest, conflict, notFound } from '../../errors.js';
import { appendAudit } from '../audit/service.js';
import { hashPassword, verifyPassword } from '../auth/passwords.js';

/** Ids appear in MQTT topics: one level, no wildcards or separators. */
export const ENTITY_ID = '^[a-z0-9][a-z0-9_-]{0,63}$';
const ENTITY_ID_RE = new RegExp(ENTITY_ID);

export interface AgentSummary {
  id: string;
  name: string | null;
  state: string;
  last_seen_at: string | null;
  enrolled: boolean;
  config_version: number;
  devices: number;
}

export async function listAgents(ctx: ServiceContext): Promise<AgentSummary[]> {
  const rows = await ctx.db
    .selectFrom('agents')
    .leftJoin('devices', 'devices.agent_id', 'agents.id')
    .select((eb) => ['agents.id', 'agents.name', 'agents.state', 'agents.last_seen_at', 'agents.secret_hash', 'agents.config_version', eb.fn.count<number | string>('devices.id').as('devices')])
    .groupBy('agents.id')
    .orderBy('agents.id')
    .execute();
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    state: r.state,
    last_seen_at: r.last_seen_at?.toISOString() ?? null,
    enrolled: r.secret_hash !== null,
    config_version: r.config_version,
    devices: Number(r.devices),
  }));
}

/** A fresh MQTT secret: shown once, stored only as its argon2id hash. */
function newSecret(): string {
  return randomBytes(24).toString('base64url');
}

/**
 * Enrols an agent (or re-enrols one that appeared on the broker before): it gets its own MQTT
 * credential, username = agent id. An agent that already has a secret is refused; rotate it instead.
 */
export async function enrollAgent(ctx: ServiceContext, actor: Actor, input: { id: string; name?: string | null }): Promise<{ id: string; username: string; password: string }> {
  if (!ENTITY_ID_RE.test(input.id)) throw badRequest('INVALID_AGENT_ID', 'An agent id is 1-64 characters of a-z, 0-9, - and _. / 代理编号格式不正确。');
  const password = newSecret();
  const secretHash = await hashPassword(password);
  const now = ctx.clock.now();
  await ctx.db.transaction().execute(async (trx) => {
    const existing = await trx.selectFrom('agents').select(['secret_hash']).where('id', '=', input.id).forUpdate().executeTakeFirst();
    if (existing?.secret_hash) throw conflict('AGENT_ENROLLED', `Agent ${input.id} is already enrolled; rotate its secret instead. / 该代理已登记，如需更换口令请使用轮换。`);
    await trx
      .insertInto('agents')
      .values({ id: input.id, name: input.name ?? null, secret_hash: secretHash, enrolled_at: now, created_at: now })
      .onConflict((oc) => oc.column('id').doUpdateSet({ secret_hash: secretHash, enrolled_at: now, ...(input.name ? { name: input.name } : {}) }))
      .execute();
    await appendAudit(trx, { at: now, actor: actor.username, action: 'agent.enroll', object: `agent:${input.id}`, result: 'success', sourceIp: actor.sourceIp, detail: { name: input.name ?? null } });
  });
  return { id: input.id, username: input.id, password };
}

/** A new secret for an enrolled agent; the old one stops working at the agent's next connection. */
export async function rotateAgentSecret(ctx: ServiceContext, actor: Actor, id: string): Promise<{ id: string; username: string; password: string }> {
  const password = newSecret();
  const secretHash = await hashPassword(password);
  const now = ctx.clock.now();
  await ctx.db.transaction().execute(async (trx) => {
    const updated = await trx.updateTable('agents').set({ secret_hash: secretHash, enrolled_at: now }).where('id', '=', id).where('secret_hash', 'is not', null).executeTakeFirst();
    if (Number(updated.numUpdatedRows) === 0) throw notFound('AGENT_NOT_FOUND', `No enrolled agent ${id}. / 代理不存在或尚未登记。`);
    await appendAudit(trx, { at: now, actor: actor.username, action: 'agent.rotate_secret', object: `agent:${id}`, result: 'success', sourceIp: actor.sourceIp });
  });
  return { id, username: id, password };
}

/** The broker's question: is this the agent's current secret? */
export async function verifyAgentSecret(ctx: ServiceContext, id: string, password: string): Promise<boolean> {
  if (!ENTITY_ID_RE.test(id)) return false;
  const row = await ctx.db.selectFrom('agents').select('secret_hash').where('id', '=', id).executeTakeFirst();
  return !!row?.secret_hash && (await verifyPassword(row.secret_hash, password));
}
