import { createHash, createPrivateKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { sql, type Transaction } from 'kysely';
import type { MqttClient } from 'mqtt';
import { canonicalJson, signedBytes, type AccessList, type Credential } from '../../../../firmware-profiles/access.js';
import { SYSTEM_ACTOR, type Actor, type ServiceContext } from '../../context.js';
import type { DatabaseHandle, Db } from '../../db/index.js';
import type { Database } from '../../db/schema.js';
import type { Config } from '../../config.js';
import { openSecret, sealSecret } from '../../secrets.js';
import { appendAudit } from '../audit/service.js';
import { deviceContract } from '../devices/contract.js';

/**
 * The signed access list of each agent (`lawbox/agent/<agent>/access`, schema
 * firmware-profiles/schema/mqtt/agent-access.schema.json). The database is the source: a change to a
 * door or a credential signs the affected agents' lists in its own transaction, stores them, and
 * NOTIFYs; every server process's publisher hears the commit and publishes the stored list, retained.
 * So a rolled-back change never reaches a door, the daily re-signing job (which has no MQTT link) is
 * published like any other change, and a broker that lost its retained messages is refilled on reconnect.
 */

/** The zone the weekly windows are written in: the firm's, Beijing time. */
const ACCESS_TIMEZONE = 'Asia/Shanghai';
const DAY_MS = 86_400_000;
/** How long an agent keeps deciding from a list without hearing from the server. */
const LIST_LIFETIME_MS = 7 * DAY_MS;
/** An unchanged list is signed anew once it is this old, so its expiry keeps moving ahead. */
const RESIGN_AFTER_MS = DAY_MS;
const ACCESS_LISTS_CHANNEL = 'lawbox_access_lists';
const SALT_SETTING = 'access_credential_salt';
/** Serialises door and credential writes with list signing: versions never fork, card numbers stay unique. */
const ACCESS_LOCK = 0x1a_b0_d0;

const accessTopic = (agent: string): string => `lawbox/agent/${agent}/access`;

/** A service context whose db is an open transaction. */
export type TxContext = ServiceContext & { db: Transaction<Database> };

const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/** Takes the access lock for the rest of the caller's transaction. */
export async function lockAccess(trx: Transaction<Database>): Promise<void> {
  await sql`select pg_advisory_xact_lock(${ACCESS_LOCK})`.execute(trx);
}

/**
 * The firm-wide salt of hashed credentials (16 random bytes, base64), made on first use. One salt for
 * every agent: a visitor pass that opens doors of two agents has one digest.
 */
export async function credentialSalt(db: Db): Promise<string> {
  const read = async () => (await db.selectFrom('settings').select('value').where('key', '=', SALT_SETTING).executeTakeFirst())?.value as string | undefined;
  const existing = await read();
  if (existing) return existing;
  await db
    .insertInto('settings')
    .values({ key: SALT_SETTING, value: JSON.stringify(randomBytes(16).toString('base64')) })
    .onConflict((oc) => oc.column('key').doNothing())
    .execute();
  return (await read())!;
}

interface SigningKey {
  key_id: string;
  public_pem: string;
  private_pem: string;
}

/** The key lists are signed with; the first one is made when first needed (caller holds the access lock). */
/** What a sealed private key is bound to: its row. */
export const accessKeyContext = (keyId: string) => `access_signing_keys:${keyId}`;

async function signingKey(db: Db, config: Config, now: Date): Promise<SigningKey> {
  const current = await db.selectFrom('access_signing_keys').select(['key_id', 'public_pem', 'private_pem']).where('retired_at', 'is', null).orderBy('created_at', 'desc').limit(1).executeTakeFirst();
  if (current) return { ...current, private_pem: openSecret(config, current.private_pem, accessKeyContext(current.key_id)) };
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const key = {
    // The agent finds a key by file name (<key_id>.pem), so the id says what it is and when it was made.
    key_id: `lawbox-${now.toISOString().slice(0, 10)}-${randomBytes(4).toString('hex')}`,
    public_pem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    private_pem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
  await db.insertInto('access_signing_keys').values({ ...key, private_pem: sealSecret(config, key.private_pem, accessKeyContext(key.key_id)), alg: 'ed25519', created_at: now }).execute();
  return key;
}

/** The public half of the signing key, to install as `<key_id>.pem` in an agent's LAWBOX_AGENT_TRUSTED_KEYS. */
export async function currentPublicKey(ctx: ServiceContext): Promise<{ key_id: string; alg: 'ed25519'; public_pem: string }> {
  return ctx.db.transaction().execute(async (trx) => {
    await lockAccess(trx);
    const key = await signingKey(trx, ctx.config, ctx.clock.now());
    return { key_id: key.key_id, alg: 'ed25519' as const, public_pem: key.public_pem };
  });
}

/** What a list says, apart from when and in which version it was signed: what decides whether to sign anew. */
function contentHash(list: AccessList): string {
  const { version: _v, issued_at: _i, expires_at: _e, signature: _s, ...content } = list;
  return sha256(canonicalJson(content));
}

/**
 * The list for one agent, signed, numbered one past the last one stored: its doors, and every credential
 * that is neither revoked nor expired and is granted at least one of them (restricted to those doors).
 * Holders are opaque references (`user:<id>`, `visitor_pass:<id>`); no name leaves the server.
 */
export async function buildAccessList(ctx: ServiceContext, agentId: string): Promise<AccessList> {
  const now = ctx.clock.now();
  const db = ctx.db;
  const previous = await db.selectFrom('access_list_versions').select('version').where('agent_id', '=', agentId).executeTakeFirst();
  const doors = await db.selectFrom('doors').selectAll().where('agent_id', '=', agentId).orderBy('id').execute();
  const grants = await db
    .selectFrom('access_grants as g')
    .innerJoin('access_credentials as c', 'c.id', 'g.credential_id')
    .innerJoin('doors as d', 'd.id', 'g.door_id')
    .select(['c.id', 'c.kind', 'c.card_number', 'c.digest', 'c.holder_user_id', 'c.windows', 'c.valid_from', 'c.valid_until', 'g.door_id'])
    .where('d.agent_id', '=', agentId)
    .where('c.revoked_at', 'is', null)
    .where((eb) => eb.or([eb('c.valid_until', 'is', null), eb('c.valid_until', '>', now)]))
    .orderBy('c.id')
    .orderBy('g.door_id')
    .execute();
  const credentials = new Map<number, Credential>();
  for (const g of grants) {
    const entry = credentials.get(g.id);
    if (entry) {
      entry.doors.push(g.door_id);
      continue;
    }
    credentials.set(g.id, {
      credential: (g.card_number ?? g.digest)!,
      kind: g.kind,
      holder: g.kind === 'visitor_pass' ? `visitor_pass:${g.id}` : g.holder_user_id !== null ? `user:${g.holder_user_id}` : `credential:${g.id}`,
      doors: [g.door_id],
      windows: g.windows,
      ...(g.valid_from ? { valid_from: g.valid_from.toISOString() } : {}),
      ...(g.valid_until ? { valid_until: g.valid_until.toISOString() } : {}),
    });
  }
  const entries = [...credentials.values()];
  const hashed = entries.some((c) => c.credential.startsWith('sha256:'));
  const unsigned: Omit<AccessList, 'signature'> = {
    version: (previous?.version ?? 0) + 1,
    agent: agentId,
    issued_at: now.toISOString(),
    expires_at: new Date(now.getTime() + LIST_LIFETIME_MS).toISOString(),
    timezone: ACCESS_TIMEZONE,
    ...(hashed ? { credential_salt: await credentialSalt(db) } : {}),
    doors: doors.map((d) => ({
      door: d.id,
      name: d.name,
      device: d.lock_device,
      ...(d.relay_channel !== null ? { relay_channel: d.relay_channel } : {}),
      readers: d.readers,
      pulse_ms: d.pulse_ms,
      fail_mode: d.fail_mode,
    })),
    credentials: entries,
  };
  const key = await signingKey(db, ctx.config, now);
  return { ...unsigned, signature: { alg: 'ed25519', key_id: key.key_id, value: sign(null, signedBytes(unsigned), createPrivateKey(key.private_pem)).toString('base64') } };
}

/**
 * Signs and stores a new list for the agent when its content changed, when the stored one is older
 * than RESIGN_AFTER_MS, or when forced; announces it for publication on commit. Runs inside the
 * caller's transaction, which holds the access lock, so the list commits with the change it reflects.
 */
export async function refreshAccessList(tx: TxContext, actor: Actor, agentId: string, opts: { force?: boolean } = {}): Promise<{ version: number; signed: boolean }> {
  const now = tx.clock.now();
  const previous = await tx.db.selectFrom('access_list_versions').select(['version', 'published_at', 'content_sha256']).where('agent_id', '=', agentId).executeTakeFirst();
  const list = await buildAccessList(tx, agentId);
  const content = contentHash(list);
  const fresh = previous && now.getTime() - previous.published_at.getTime() < RESIGN_AFTER_MS;
  if (previous && fresh && !opts.force && previous.content_sha256 === content) return { version: previous.version, signed: false };
  // The agent refuses a list that breaks its contract; better to fail the change here, loudly.
  const valid = (await deviceContract()).validateMessage('agent_access', list);
  if (!valid.ok) throw new Error(`the access list for agent ${agentId} breaks the agent_access contract: ${valid.errors.join('; ')}`);
  const payload = canonicalJson(list);
  const row = { version: list.version, published_at: now, sha256: sha256(payload), content_sha256: content, list: payload };
  await tx.db.insertInto('access_list_versions').values({ agent_id: agentId, ...row }).onConflict((oc) => oc.column('agent_id').doUpdateSet(row)).execute();
  await appendAudit(tx.db, {
    at: now,
    actor: actor.username,
    action: 'access_list.sign',
    object: `agent:${agentId}`,
    result: 'success',
    sourceIp: actor.sourceIp,
    detail: { version: list.version, key_id: list.signature.key_id, doors: list.doors.length, credentials: list.credentials.length, sha256: row.sha256 },
  });
  await sql`select pg_notify(${ACCESS_LISTS_CHANNEL}, ${agentId})`.execute(tx.db);
  return { version: list.version, signed: true };
}

/** Every agent that has a list or should have one: those with doors, and those that had doors. */
async function listedAgents(db: Db): Promise<string[]> {
  const rows = await db.selectFrom('doors').select('agent_id').union(db.selectFrom('access_list_versions').select('agent_id')).execute();
  return rows.map((r) => r.agent_id).sort();
}

/** Checks every agent's list (signing the changed and the stale ones, or all when forced); returns what it signed. */
export async function refreshAllAccessLists(ctx: ServiceContext, opts: { force?: boolean } = {}): Promise<{ signed: string[]; unchanged: string[] }> {
  const agents = await listedAgents(ctx.db);
  const outcome = { signed: [] as string[], unchanged: [] as string[] };
  if (agents.length === 0) return outcome;
  await ctx.db.transaction().execute(async (trx) => {
    await lockAccess(trx);
    for (const agent of agents) {
      const { signed } = await refreshAccessList({ ...ctx, db: trx }, SYSTEM_ACTOR, agent, opts);
      outcome[signed ? 'signed' : 'unchanged'].push(agent);
    }
  });
  return outcome;
}

/** The list last signed for an agent, as published; undefined when none was. */
export async function storedAccessList(db: Db, agentId: string): Promise<{ version: number; published_at: Date; sha256: string; list: AccessList } | undefined> {
  const row = await db.selectFrom('access_list_versions').select(['version', 'published_at', 'sha256', 'list']).where('agent_id', '=', agentId).executeTakeFirst();
  return row && { ...row, list: row.list as unknown as AccessList };
}

interface PublisherLog {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/**
 * Publishes the agent's stored list, retained, QoS 1, as the canonical JSON whose sha256 was stored.
 * Not awaited to the broker's acknowledgement: while the link is down mqtt.js keeps the message and
 * the reconnect republishes every list anyway.
 */
export async function publishAccessList(ctx: ServiceContext, client: MqttClient, agentId: string, log: PublisherLog): Promise<boolean> {
  const stored = await storedAccessList(ctx.db, agentId);
  if (!stored) return false;
  client.publish(accessTopic(agentId), canonicalJson(stored.list), { qos: 1, retain: true }, (err) => err && log.warn({ err: err.message, agent: agentId }, 'access list: publish failed'));
  return true;
}

/**
 * Follows committed list changes (NOTIFY) and publishes them. On every (re)connection to the broker it
 * signs what went stale while the server was away and publishes every list, so a restarted broker
 * without persistence is refilled. Work is done one step at a time, in order.
 */
export async function startAccessListPublisher(ctx: ServiceContext, database: Pick<DatabaseHandle, 'listen'>, client: MqttClient, log: PublisherLog): Promise<{ stop(): Promise<void> }> {
  let queue: Promise<unknown> = Promise.resolve();
  const enqueue = (what: string, step: () => Promise<unknown>) => {
    queue = queue.then(step).catch((err: unknown) => log.error({ err }, `access lists: ${what} failed`));
  };
  const unlisten = await database.listen(ACCESS_LISTS_CHANNEL, (agent) => enqueue('publish', () => publishAccessList(ctx, client, agent, log)));
  const onConnect = () =>
    enqueue('sync', async () => {
      // The ones signed now arrive through NOTIFY; the rest are published as they are.
      const { unchanged } = await refreshAllAccessLists(ctx);
      for (const agent of unchanged) await publishAccessList(ctx, client, agent, log);
    });
  client.on('connect', onConnect);
  if (client.connected) onConnect();
  return {
    stop: async () => {
      client.off('connect', onConnect);
      await unlisten();
      await queue;
    },
  };
}
