import type { MqttClient } from 'mqtt';
import type { Actor, ServiceContext } from '../../context.js';
import { badRequest, notFound } from '../../errors.js';
import { ENTITY_ID } from '../agents/service.js';
import { appendAudit } from '../audit/service.js';
import { deviceContract, deviceProfiles } from './contract.js';

const ENTITY_ID_RE = new RegExp(ENTITY_ID);


export interface DeviceAssignmentInput {
  agent_id: string | null;
  profile: string;
  name?: string | null;
  location?: string | null;
  transport: Record<string, unknown>;
  settings?: Record<string, unknown> | null;
  enabled?: boolean;
}

/** One device as the agent config lists it. */
function assignmentOf(d: { id: string; profile: string | null; name: string | null; enabled: boolean; transport: Record<string, unknown> | null; settings: Record<string, unknown> | null }) {
  return {
    device: d.id,
    profile: d.profile ?? '',
    ...(d.name ? { name: d.name } : {}),
    ...(d.enabled ? {} : { enabled: false }),
    transport: (d.transport ?? {}) as { type: string },
    ...(d.settings && Object.keys(d.settings).length ? { settings: d.settings } : {}),
  };
}

/** The schema's verdict on one assignment, in the context of a whole config. */
async function checkAssignment(deviceId: string, input: DeviceAssignmentInput): Promise<void> {
  const profile = (await deviceProfiles()).get(input.profile);
  if (!profile) throw badRequest('UNKNOWN_PROFILE', `No device profile ${input.profile}. / 没有该设备型号定义。`);
  if (!profile.transports.some((t) => t.type === input.transport.type)) {
    throw badRequest('TRANSPORT_MISMATCH', `${input.profile} connects over ${profile.transports.map((t) => t.type).join(' or ')}, not ${String(input.transport.type)}. / 连接方式与设备型号不符。`);
  }
  const candidate = { version: 1, issued_at: new Date().toISOString(), devices: [assignmentOf({ id: deviceId, profile: input.profile, name: input.name ?? null, enabled: input.enabled ?? true, transport: input.transport, settings: input.settings ?? null })] };
  const verdict = (await deviceContract()).validateMessage('agent_config', candidate);
  if (!verdict.ok) throw badRequest('INVALID_DEVICE_CONFIG', `The device configuration is not valid: ${verdict.errors.slice(0, 3).join('; ')}. / 设备配置不正确。`);
}

/**
 * Assigns and configures a device. Returns the agents whose config changed (the old and the new one),
 * whose new config the caller publishes once the transaction has committed.
 */
export async function configureDevice(ctx: ServiceContext, actor: Actor, deviceId: string, input: DeviceAssignmentInput): Promise<string[]> {
  if (!ENTITY_ID_RE.test(deviceId)) throw badRequest('INVALID_DEVICE_ID', 'A device id is 1-64 characters of a-z, 0-9, - and _. / 设备编号格式不正确。');
  await checkAssignment(deviceId, input);
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    if (input.agent_id) {
      const agent = await trx.selectFrom('agents').select('id').where('id', '=', input.agent_id).executeTakeFirst();
      if (!agent) throw notFound('AGENT_NOT_FOUND', `No agent ${input.agent_id}. / 代理不存在。`);
    }
    const before = await trx.selectFrom('devices').select('agent_id').where('id', '=', deviceId).forUpdate().executeTakeFirst();
    const values = {
      agent_id: input.agent_id,
      profile: input.profile,
      name: input.name ?? null,
      location: input.location ?? null,
      transport: JSON.stringify(input.transport),
      settings: input.settings ? JSON.stringify(input.settings) : null,
      enabled: input.enabled ?? true,
      updated_at: now,
    };
    await trx.insertInto('devices').values({ id: deviceId, ...values }).onConflict((oc) => oc.column('id').doUpdateSet(values)).execute();
    const affected = [...new Set([before?.agent_id, input.agent_id].filter((a): a is string => !!a))];
    if (affected.length) await trx.updateTable('agents').set((eb) => ({ config_version: eb('config_version', '+', 1) })).where('id', 'in', affected).execute();
    await appendAudit(trx, {
      at: now,
      actor: actor.username,
      action: 'device.configure',
      object: `device:${deviceId}`,
      result: 'success',
      sourceIp: actor.sourceIp,
      detail: { agent_id: input.agent_id, previous_agent_id: before?.agent_id ?? null, profile: input.profile, transport: input.transport.type, enabled: input.enabled ?? true },
    });
    return affected;
  });
}

/** `lawbox/agent/<agent>/config` as it stands in the database. */
export async function buildAgentConfig(ctx: ServiceContext, agentId: string) {
  const agent = await ctx.db.selectFrom('agents').select('config_version').where('id', '=', agentId).executeTakeFirst();
  const devices = await ctx.db.selectFrom('devices').select(['id', 'profile', 'name', 'enabled', 'transport', 'settings']).where('agent_id', '=', agentId).where('profile', 'is not', null).orderBy('id').execute();
  return { version: Math.max(1, agent?.config_version ?? 1), issued_at: ctx.clock.now().toISOString(), devices: devices.map(assignmentOf) };
}

/** Publishes an agent's config retained, so the agent gets it whenever it (re)connects. */
export async function publishAgentConfig(ctx: ServiceContext, client: MqttClient, agentId: string): Promise<void> {
  const config = await buildAgentConfig(ctx, agentId);
  await client.publishAsync(`lawbox/agent/${agentId}/config`, JSON.stringify(config), { qos: 1, retain: true });
}
