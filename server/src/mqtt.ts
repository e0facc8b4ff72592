import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer as createTlsServer, rootCertificates } from 'node:tls';
import { Aedes, type AuthenticateError } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import type { BrokerAccess, BrokerPrincipal } from './modules/agents/broker-access.js';
import { brokerTrust, ownServername, type ServerTls } from './tls.js';

export interface MqttLink {
  client: MqttClient;
  /** the in-process broker, when no MQTT_URL was configured; `tls`: it speaks MQTT over TLS only */
  embedded: { port: number; tls: boolean } | null;
  connected(): boolean;
  close(): Promise<void>;
}

export class MqttPortInUseError extends Error {
  readonly code = 'MQTT_PORT_IN_USE';
  override name = 'MqttPortInUseError';
  constructor(host: string, port: number) {
    super(
      `cannot start the embedded MQTT broker: ${host}:${port} is already in use. ` +
        'Set LAWBOX_MQTT_PORT to a free port, or set MQTT_URL to use the broker that is listening there.',
    );
  }
}

/** The server's own broker credential, made up at each start. */
export function internalCredential(): { username: string; password: string } {
  return { username: 'lawbox-server', password: randomBytes(24).toString('base64url') };
}

const principals = new WeakMap<object, BrokerPrincipal>();

/**
 * Connects to MQTT_URL, or starts the embedded aedes broker and connects to it. The embedded broker
 * refuses anonymous clients: the server's own client uses `internal`, and device agents their own
 * enrolled credential, confined to their own topics by `access` (without it, only the server gets in).
 * With `tls` the embedded broker speaks MQTT over TLS only, with the HTTPS server's certificate.
 */
export async function startMqtt(
  config: Config,
  log: Logger,
  opts: { internal?: { username: string; password: string }; access?: (internal: { username: string; password: string }) => BrokerAccess; tls?: ServerTls | null } = {},
): Promise<MqttLink> {
  let broker: Aedes | null = null;
  let server: Server | null = null;
  let url = config.mqttUrl;
  const tls = opts.tls ?? null;
  const internal = opts.internal ?? internalCredential();
  const access = opts.access?.(internal);

  if (!url) {
    const refuse = (done: (err: AuthenticateError, ok: boolean) => void) => {
      const err = new Error('bad username or password') as AuthenticateError;
      err.returnCode = 4;
      done(err, false);
    };
    broker = await Aedes.createBroker({
      authenticate: (client, username, password, done) => {
        if (username === internal.username && !!password && safeEqual(password, Buffer.from(internal.password))) {
          principals.set(client, { kind: 'server' });
          return done(null, true);
        }
        if (!access || !username || !password) return refuse(done);
        access.authenticate(username, password.toString('utf8')).then(
          (principal) => {
            if (!principal) return refuse(done);
            principals.set(client, principal);
            done(null, true);
          },
          (err) => {
            log.error({ err }, 'MQTT authentication failed');
            refuse(done);
          },
        );
      },
      authorizePublish: (client, packet, done) => {
        const principal = client ? principals.get(client) : { kind: 'server' as const };
        if (!principal) return done(new Error('not authenticated'));
        if (principal.kind === 'server' || !access) return done(null);
        access.mayPublish(principal, packet.topic).then(
          (ok) => {
            if (!ok) log.warn({ agent: principal.id, topic: packet.topic }, 'MQTT publish outside the agent’s topics refused');
            done(ok ? null : new Error('topic not allowed'));
          },
          (err) => done(err as Error),
        );
      },
      authorizeSubscribe: (client, sub, done) => {
        const principal = client ? principals.get(client) : undefined;
        if (!principal) return done(new Error('not authenticated'), null);
        if (principal.kind === 'server' || !access) return done(null, sub);
        access.maySubscribe(principal, sub.topic).then(
          (ok) => {
            if (!ok) log.warn({ agent: principal.id, topic: sub.topic }, 'MQTT subscription outside the agent’s topics refused');
            // null: the SUBACK says failure (0x80) for this filter; the connection stays up.
            done(null, ok ? sub : null);
          },
          (err) => done(err as Error, null),
        );
      },
    });
    // Small MQTT packets go out at once: with Nagle's algorithm and delayed ACKs each hop can wait ~40 ms.
    const handle = broker.handle;
    const accept = (socket: Socket) => {
      socket.setNoDelay(true);
      handle(socket);
    };
    server = tls ? createTlsServer({ cert: tls.cert, key: tls.key }, accept) : createServer(accept);
    server.on('error', (err) => log.error({ err }, 'embedded MQTT broker error'));
    // A plain MQTT client or a client that does not trust the certificate: its problem, not the broker's.
    server.on('tlsClientError', (err: Error, socket: Socket) => log.debug({ err: err.message, from: socket.remoteAddress }, 'MQTT TLS handshake refused'));
    try {
      server.listen(config.mqttPort, config.mqttHost);
      await Promise.race([once(server, 'listening'), once(server, 'error').then(([err]) => Promise.reject(err))]);
    } catch (err) {
      await new Promise<void>((resolve) => broker!.close(() => resolve()));
      if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new MqttPortInUseError(config.mqttHost, config.mqttPort);
      throw err;
    }
    const { port } = server.address() as AddressInfo;
    const host = config.mqttHost === '0.0.0.0' || config.mqttHost === '::' ? '127.0.0.1' : config.mqttHost;
    url = `${tls ? 'mqtts' : 'mqtt'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
    log.info({ port, tls: !!tls }, 'embedded MQTT broker listening');
  }

  // The embedded broker is checked against our own certificate; an external one against the system's
  // CAs and the local CA (a Mosquitto given the appliance's certificate, or one with its own).
  // The system's roots stay in the list: an admin's CA-issued chain (leaf and intermediate, no root)
  // only verifies up to a root Node already knows, and `ca` replaces that store rather than adding to it.
  const trust = broker && tls ? { ca: [...rootCertificates, tls.trust.toString()], servername: ownServername(tls) } : !broker && /^(mqtts|wss):/.test(url) ? { ca: brokerTrust(config.dataDir) } : {};
  // aedes speaks MQTT 3.1.1 only; we use 3.1.1 everywhere so both brokers behave the same.
  const client = mqtt.connect(url, {
    protocolVersion: 4,
    clientId: `lawbox-server-${randomBytes(4).toString('hex')}`,
    reconnectPeriod: 2000,
    connectTimeout: 5000,
    ...(broker ? internal : {}),
    ...trust,
  });
  client.on('connect', () => noDelay(client));
  client.on('error', (err) => log.warn({ err: err.message }, 'MQTT link error'));
  client.on('offline', () => log.warn('MQTT link offline; retrying'));
  // Wait briefly for the first connection; an unreachable broker is reported by /api/health, not fatal.
  await Promise.race([new Promise((r) => client.once('connect', r)), new Promise((r) => setTimeout(r, 3000).unref())]);
  if (!client.connected) log.warn({ url: redact(url) }, 'MQTT broker not reachable yet; will keep retrying');

  return {
    client,
    embedded: server ? { port: (server.address() as AddressInfo).port, tls: !!tls } : null,
    connected: () => client.connected,
    close: async () => {
      await client.endAsync(true).catch(() => {});
      // The broker first: it drops its clients, which lets the listening socket close.
      if (broker) await new Promise<void>((resolve) => broker!.close(() => resolve()));
      if (server) await new Promise<void>((resolve) => server!.close(() => resolve()));
    },
  };
}

/** mqtt.js opens plain TCP sockets with Nagle's algorithm on; a door event should not wait for it. */
export function noDelay(client: MqttClient): void {
  (client.stream as { setNoDelay?: (on: boolean) => void } | undefined)?.setNoDelay?.(true);
}

function safeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}
