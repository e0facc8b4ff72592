import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { buildApp } from './app.js';
import type { Config } from './config.js';
import { systemClock } from './clock.js';
import { migrateToLatest, openDatabase, type DatabaseHandle } from './db/index.js';
import { startMqtt, type MqttLink } from './mqtt.js';
import { brokerAccess } from './modules/agents/broker-access.js';
import { startDemoBuilding } from './modules/demo/building.js';
import { isDemoFirm, loadDemoFirm, type DemoAccount } from './modules/demo/service.js';
import { demoKioskLinks, type DemoKioskLink } from './modules/demo/kiosks.js';
import { demoClientLinks } from './modules/demo/portal.js';
import { cjkTrigramsWork } from './modules/conflicts/engine.js';
import { issueSetupToken } from './modules/users/service.js';
import { startScheduler } from './scheduler.js';
import { sealStoredKeys, unopenableKeys } from './modules/keys/service.js';
import { MasterKeyError } from './secrets.js';
import { recordServerRuntime } from './modules/compliance/service.js';
import { prepareTls, type ServerTls } from './tls.js';

export interface RunningServer {
  app: FastifyInstance;
  database: DatabaseHandle;
  mqtt: MqttLink;
  url: string;
  /** HTTPS and MQTT over TLS, when on: with auto, the local CA to install on kiosks and agents */
  tls: ServerTls | null;
  /** printed once at first start: the setup token, or the demo firm's one-time passwords */
  firstRun: { setupToken: string | null; demoAccounts: DemoAccount[] | null };
  /** the demo's kiosk screens not enrolled yet, each with a fresh one-time enrolment link */
  demoKiosks: DemoKioskLink[];
  /** the demo clients' one-time portal links and the demo's open signing link, fresh at each start */
  demoClients: DemoKioskLink[];
  stop(): Promise<void>;
}

export function createLogger(config: Config): Logger {
  return pino({ level: config.logLevel, redact: ['req.headers.authorization', 'req.headers.cookie', '*.password', '*.token'] });
}

/**
 * Opens the database (migrating it), starts or connects to the MQTT broker, then serves HTTP.
 * Whatever was started is stopped again if a later step fails, so a failed start leaves no lock behind.
 */
export async function startServer(config: Config, opts: { demo?: boolean; log?: Logger } = {}): Promise<RunningServer> {
  const log = opts.log ?? createLogger(config);
  const started = performance.now();
  const cleanups: (() => Promise<void>)[] = [];
  const unwind = async () => {
    for (const fn of cleanups.reverse()) await fn().catch((err) => log.error({ err }, 'shutdown step failed'));
  };
  try {
    // First: a certificate problem is reported before the database is opened (seconds with PGlite).
    const tls = await prepareTls(config, log);
    const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
    cleanups.push(() => database.close());
    const applied = await migrateToLatest(database.db);
    if (applied.length > 0) log.info({ migrations: applied }, 'database migrated');
    if (!(await cjkTrigramsWork(database.db))) {
      log.warn(
        'this PostgreSQL database classifies Chinese characters as non-word characters (LC_CTYPE C or SQL_ASCII): fuzzy conflict matching on Chinese names is disabled. ' +
          'Create the database with ENCODING UTF8 and LC_CTYPE C.UTF-8 (or zh_CN.UTF-8). / 数据库字符分类不支持中文，利益冲突模糊匹配不可用。',
      );
    }

    const ctx = { db: database.db, config, clock: systemClock };
    const unopenable = await unopenableKeys(database.db, config);
    if (unopenable.length) {
      throw new MasterKeyError(
        `${unopenable.join(', ')}: sealed under another master key. Give the server the master key this database was sealed with (LAWBOX_MASTER_KEY_FILE; for a restored backup, the original box's). / 签名私钥无法用当前主密钥解开，请提供原主密钥。`,
      );
    }
    const sealed = await sealStoredKeys(database.db, config, systemClock.now());
    if (sealed > 0) log.info({ sealed }, 'private keys sealed under the master key');
    else if (config.masterKeyFile === null) log.info('LAWBOX_MASTER_KEY_FILE is not set: signing keys are stored in clear / 未配置主密钥，签名私钥以明文保存');
    await recordServerRuntime(ctx);
    const demoAccounts = opts.demo ? await loadDemoFirm(ctx) : null;
    const setupToken = demoAccounts ? null : await issueSetupToken(ctx);

    const mqtt = await startMqtt(config, log, { access: (internal) => brokerAccess(ctx, internal), tls });
    cleanups.push(() => mqtt.close());

    const app = await buildApp({ config, database, mqtt, logger: log, https: tls && { cert: tls.cert, key: tls.key } });
    cleanups.push(() => app.close());
    const stopScheduler = startScheduler(ctx, log, app.metrics.jobs);
    cleanups.push(async () => stopScheduler());
    await app.listen({ host: config.httpHost, port: config.httpPort });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.httpPort;
    const host = config.httpHost === '0.0.0.0' || config.httpHost === '::' ? 'localhost' : config.httpHost;
    const url = `${tls ? 'https' : 'http'}://${host}:${port}`;
    let demoKiosks: DemoKioskLink[] = [];
    let demoClients: DemoKioskLink[] = [];
    if (opts.demo && (await isDemoFirm(ctx))) {
      // The simulated agent reaches the server under a name its certificate covers, trusting what the server's own MQTT client trusts.
      const own = tls ? { host: tls.ownName, caFile: tls.trustFile } : null;
      const building = await startDemoBuilding(ctx, mqtt, `${tls ? 'https' : 'http'}://${own?.host ?? '127.0.0.1'}:${port}`, log, own);
      if (building) cleanups.push(() => building.stop());
      demoKiosks = await demoKioskLinks(ctx, url);
      demoClients = await demoClientLinks(ctx, url);
    }
    log.info({ url, database: database.kind, mqtt: mqtt.embedded ? `embedded ${mqtt.embedded.tls ? 'mqtts' : 'mqtt'} :${mqtt.embedded.port}` : 'external', ms: Math.round(performance.now() - started) }, 'lawbox ready');
    return { app, database, mqtt, url, tls, firstRun: { setupToken, demoAccounts }, demoKiosks, demoClients, stop: unwind };
  } catch (err) {
    await unwind();
    throw err;
  }
}
