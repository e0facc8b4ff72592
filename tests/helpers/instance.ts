import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { buildApp } from '../../server/src/app.js';
import { FakeClock } from '../../server/src/clock.js';
import { loadConfig, type Config } from '../../server/src/config.js';
import type { ServiceContext } from '../../server/src/context.js';
import { migrateToLatest, openDatabase, type DatabaseHandle } from '../../server/src/db/index.js';
import { startMqtt, type MqttLink } from '../../server/src/mqtt.js';
import { brokerAccess } from '../../server/src/modules/agents/broker-access.js';
import type { Role } from '../../server/src/modules/auth/roles.js';
import { createUser } from '../../server/src/modules/users/service.js';
import { pino } from 'pino';

/** Which engines this run uses: PostgreSQL/Mosquitto when DATABASE_URL/MQTT_URL are set, else the embedded ones. */
export const USING_POSTGRES = !!process.env.DATABASE_URL;

export interface TestInstance {
  app: FastifyInstance;
  config: Config;
  database: DatabaseHandle;
  mqtt: MqttLink;
  clock: FakeClock;
  ctx: ServiceContext;
  /** connection string of this file's own database (PostgreSQL runs only) */
  databaseUrl: string | null;
}

interface Teardown {
  teardown(fn: () => unknown): void;
}

/**
 * A fresh database for one test file: a new PostgreSQL database (dropped afterwards) when
 * DATABASE_URL is set, else an in-memory PGlite; migrated, with an app around it.
 */
export async function createDatabase(t: Teardown): Promise<{ database: DatabaseHandle; databaseUrl: string | null }> {
  const adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    const database = await openDatabase({ databaseUrl: null, dataDir: null });
    await migrateToLatest(database.db);
    t.teardown(() => database.close());
    return { database, databaseUrl: null };
  }
  const name = `lawbox_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  // UTF-8 with a C.UTF-8 character class whatever the cluster's default: pg_trgm needs it to see
  // Chinese characters as word characters (the server warns at start when a database lacks it).
  await admin.query(`create database ${name} template template0 encoding 'UTF8' lc_collate 'C.UTF-8' lc_ctype 'C.UTF-8'`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const database = await openDatabase({ databaseUrl: url.toString(), dataDir: null });
  await migrateToLatest(database.db);
  t.teardown(async () => {
    await database.close();
    const c = new pg.Client({ connectionString: adminUrl });
    await c.connect();
    await c.query(`drop database if exists ${name} with (force)`);
    await c.end();
  });
  return { database, databaseUrl: url.toString() };
}

export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig({
    DATABASE_URL: process.env.DATABASE_URL,
    MQTT_URL: process.env.MQTT_URL,
    LAWBOX_MQTT_HOST: '127.0.0.1',
    LAWBOX_MQTT_PORT: '0',
    LAWBOX_HTTP_HOST: '127.0.0.1',
    LAWBOX_HTTP_PORT: '0',
    LAWBOX_LOG_LEVEL: 'silent',
    LAWBOX_AUTH_RATE_LIMIT: '1000',
    ...overrides,
  });
}

export async function createTestInstance(t: Teardown, opts: { env?: Record<string, string>; database?: { database: DatabaseHandle; databaseUrl: string | null } } = {}): Promise<TestInstance> {
  const config = testConfig(opts.env);
  const { database, databaseUrl } = opts.database ?? (await createDatabase(t));
  const clock = new FakeClock();
  const mqtt = await startMqtt(config, pino({ level: 'silent' }), { access: (internal) => brokerAccess({ db: database.db, config, clock }, internal) });
  t.teardown(() => mqtt.close());
  const app = await buildApp({ config, database, mqtt, clock });
  await app.ready();
  t.teardown(() => app.close());
  return { app, config, database, mqtt, clock, databaseUrl, ctx: app.services };
}

export const STRONG_PASSWORD = 'Correct-Horse-42';

let counter = 0;
/** Creates an account that may act at once (no pending password change) and returns its name. */
export async function createTestUser(inst: TestInstance, role: Role, password = STRONG_PASSWORD): Promise<{ id: number; username: string; password: string }> {
  const username = `${role.replace('_', '-')}${++counter}`;
  const user = await createUser(inst.ctx, { userId: null, username: 'test', role: null, sourceIp: null }, { username, displayName: `测试 ${role}`, role, password, mustChangePassword: false });
  return { id: user.id, username, password };
}

export async function loginToken(inst: TestInstance, username: string, password = STRONG_PASSWORD): Promise<string> {
  const res = await inst.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username, password } });
  if (res.statusCode !== 200) throw new Error(`login of ${username} failed: ${res.statusCode} ${res.body}`);
  return res.json().token as string;
}

/** A signed-in user of the given role: its id, name and Authorization header. */
export async function signedIn(inst: TestInstance, role: Role): Promise<{ id: number; username: string; headers: { authorization: string } }> {
  const u = await createTestUser(inst, role);
  return { id: u.id, username: u.username, headers: { authorization: `Bearer ${await loginToken(inst, u.username)}` } };
}

/** True when a response body is exactly the API's error shape `{"error":{"code","message"}}`. */
export function isErrorShape(body: unknown): boolean {
  if (typeof body !== 'object' || body === null || Object.keys(body).length !== 1) return false;
  const error = (body as { error?: unknown }).error;
  if (typeof error !== 'object' || error === null) return false;
  const e = error as { code?: unknown; message?: unknown };
  return Object.keys(e).sort().join(',') === 'code,message' && typeof e.code === 'string' && typeof e.message === 'string' && e.message.length > 0;
}
