import type { ServiceContext } from '../../context.js';
import { verifyAgentSecret } from './service.js';

/** Who a broker connection is: the server itself, or one enrolled agent. */
export type BrokerPrincipal = { kind: 'server' } | { kind: 'agent'; id: string };

export interface BrokerAccess {
  authenticate(username: string, password: string): Promise<BrokerPrincipal | null>;
  mayPublish(principal: BrokerPrincipal, topic: string): Promise<boolean>;
  maySubscribe(principal: BrokerPrincipal, filter: string): Promise<boolean>;
}

/** How long the device → agent map is trusted before it is read again (assignments change rarely). */
const DEVICE_CACHE_MS = 5000;
const ownerCache = new WeakMap<object, { map: Map<string, string | null>; at: number }>();

/** After an assignment changes: the agent subscribes to its new device's commands at once. */
export function forgetDeviceOwners(ctx: ServiceContext): void {
  ownerCache.delete(ctx.db);
}

/**
 * The embedded broker's topic ACL. An agent publishes its own state and the topics of its devices,
 * and never those of a device assigned to another agent; it subscribes only to its own config, access
 * list and device commands. Event acknowledgements (`lawbox/device/+/event_ack`, bare event ids) are
 * readable by every agent, so one subscription serves all its devices.
 *
 * A device assigned to no agent may be published for: a device just taken off an agent still has
 * journaled events to deliver, and aedes answers a refused publish by closing the connection, which
 * would make the agent reconnect and resend forever.
 */
export function brokerAccess(ctx: ServiceContext, server: { username: string; password: string }): BrokerAccess {
  const ownerOf = async (device: string): Promise<string | null | undefined> => {
    let owners = ownerCache.get(ctx.db);
    if (!owners || Date.now() - owners.at >= DEVICE_CACHE_MS) {
      const rows = await ctx.db.selectFrom('devices').select(['id', 'agent_id']).execute();
      owners = { map: new Map(rows.map((r) => [r.id, r.agent_id])), at: Date.now() };
      ownerCache.set(ctx.db, owners);
    }
    return owners.map.get(device);
  };
  const mine = async (agent: string, device: string) => (await ownerOf(device)) === agent;
  const notOthers = async (agent: string, device: string) => {
    const owner = await ownerOf(device);
    return !owner || owner === agent;
  };
  return {
    async authenticate(username, password) {
      if (username === server.username) return password === server.password ? { kind: 'server' } : null;
      return (await verifyAgentSecret(ctx, username, password)) ? { kind: 'agent', id: username } : null;
    },
    async mayPublish(principal, topic) {
      if (principal.kind === 'server') return true;
      const [root, kind, id, leaf, extra] = topic.split('/');
      if (root !== 'lawbox' || extra !== undefined || !id) return false;
      if (kind === 'agent') return id === principal.id && leaf === 'state';
      if (kind === 'device' && (leaf === undefined || leaf === 'availability' || leaf === 'result')) return notOthers(principal.id, id);
      if (kind === 'event' && leaf) return notOthers(principal.id, id);
      return false;
    },
    async maySubscribe(principal, filter) {
      if (principal.kind === 'server') return true;
      if (filter === 'lawbox/device/+/event_ack') return true;
      const [root, kind, id, leaf, extra] = filter.split('/');
      if (root !== 'lawbox' || extra !== undefined || !id || id.includes('+') || id.includes('#')) return false;
      if (kind === 'agent') return id === principal.id && (leaf === 'config' || leaf === 'access');
      if (kind === 'device' && leaf === 'set') return mine(principal.id, id);
      return false;
    },
  };
}
