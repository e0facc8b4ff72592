import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request, type RequestOptions } from 'node:https';
import path from 'node:path';
import mqtt from 'mqtt';
import { pino } from 'pino';
import t from 'tap';
import { loadConfig } from '../../server/src/config.js';
import { startMqtt } from '../../server/src/mqtt.js';
import { startServer } from '../../server/src/server.js';
import { boxNames, ensureLocalCertificates, prepareTls, TlsSetupError } from '../../server/src/tls.js';
import { createDatabase } from '../helpers/instance.js';
import { serveDemo } from '../helpers/cli.js';

const silent = pino({ level: 'silent' });
const DAY_MS = 86_400_000;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTPS GET; rejects when the TLS handshake or the certificate check fails. */
function get(url: string, options: RequestOptions): Promise<Answer> {
  return new Promise((resolve, reject) => {
    request(url, options, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    })
      .on('error', reject)
      .end();
  });
}

/** Whether an MQTT client gets a CONNACK with these options: 'connected', or why not. */
function mqttAttempt(url: string, options: mqtt.IClientOptions): Promise<string> {
  return new Promise((resolve) => {
    const client = mqtt.connect(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 3000, ...options });
    const done = (outcome: string) => {
      client.end(true);
      resolve(outcome);
    };
    client.once('connect', () => done('connected'));
    client.once('error', (err) => done(`error: ${err.message}`));
    client.once('close', () => done('closed'));
  });
}

t.test('with the admin’s certificate (LAWBOX_TLS_CERT) the server speaks HTTPS and MQTT over TLS', async (t) => {
  // A self-signed certificate made for this run, as an admin would provide one.
  const dir = t.testdir({});
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  const config = loadConfig({
    LAWBOX_DATA_DIR: path.join(dir, 'data'),
    LAWBOX_HTTP_HOST: '127.0.0.1',
    LAWBOX_HTTP_PORT: '0',
    LAWBOX_MQTT_HOST: '127.0.0.1',
    LAWBOX_MQTT_PORT: '0',
    LAWBOX_TLS_CERT: cert,
    LAWBOX_TLS_KEY: key,
  });
  // The transport is under test, not the database: embedded PGlite in a test directory in both modes,
  // and the embedded broker, which is the one TLS applies to.
  const server = await startServer({ ...config, databaseUrl: null, mqttUrl: null }, { log: silent });
  t.teardown(() => server.stop());
  const trustingTheCertificate = { ca: readFileSync(cert), servername: 'localhost' };

  t.test('HTTPS only, verified against the certificate, with HSTS', async (t) => {
    t.match(server.url, /^https:\/\//, 'the printed URL is https');
    const res = await get(`${server.url}/api/health`, trustingTheCertificate);
    t.equal(res.status, 200, 'health answers over TLS, the certificate verified');
    t.match(JSON.parse(res.body), { status: 'ok', mqtt: 'ok' }, 'and reports ok, the MQTT link included');
    t.equal(res.headers['strict-transport-security'], 'max-age=31536000', 'HSTS for one year, without includeSubDomains (the box does not own its parent domain)');
    await t.rejects(get(`${server.url}/api/health`, {}), 'a client that does not trust the certificate is refused');
    const plain = await fetch(server.url.replace('https:', 'http:') + '/api/health').then((r) => r.status, () => 'refused');
    t.not(plain, 200, 'plain HTTP on the same port does not serve the API');
  });

  t.test('the embedded broker speaks TLS with the same certificate, and the server’s own link uses it', async (t) => {
    t.same(server.mqtt.embedded, { port: server.mqtt.embedded!.port, tls: true }, 'the embedded broker is on TLS');
    t.ok(server.mqtt.connected(), 'the server’s own MQTT client is connected to it');
    const outcome = await mqttAttempt(`mqtt://127.0.0.1:${server.mqtt.embedded!.port}`, {});
    t.not(outcome, 'connected', `plain MQTT to the TLS port gets nowhere (${outcome})`);
  });

  t.test('the first start without accounts prints a one-time setup token', async (t) => {
    t.type(server.firstRun.setupToken, 'string', 'a setup token was issued');
    t.equal(server.firstRun.demoAccounts, null, 'no demo accounts without --demo');
  });

  t.test('a key that does not belong to the certificate is a clear error', async (t) => {
    const otherKey = path.join(dir, 'other-key.pem');
    execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', otherKey], { stdio: 'ignore' });
    await t.rejects(prepareTls(loadConfig({ LAWBOX_DATA_DIR: path.join(dir, 'data'), LAWBOX_TLS_CERT: cert, LAWBOX_TLS_KEY: otherKey }), silent), { name: 'TlsSetupError', message: /LAWBOX_TLS_KEY .* cannot be used with LAWBOX_TLS_CERT/ }, 'the mismatch is named, with the variables to fix');
  });
});

t.test('the local CA (LAWBOX_TLS=auto) is made once and reused', async (t) => {
  const dir = path.join(t.testdir({}), 'tls');
  const now = new Date();
  const names = boxNames();
  const first = await ensureLocalCertificates(dir, { now, names });
  t.ok(first.created && first.renewed, 'the first use makes the CA and the server certificate');
  for (const file of ['ca.key', 'server.key']) t.equal(statSync(path.join(dir, file)).mode & 0o777, 0o600, `${file} is readable by its owner only (0600)`);
  t.equal(statSync(dir).mode & 0o777, 0o700, 'the tls directory is private (0700)');

  const ca = new X509Certificate(readFileSync(path.join(dir, 'ca.crt')));
  const server = new X509Certificate(first.cert);
  t.ok(ca.ca, 'ca.crt is a CA certificate');
  t.match(ca.subject, /CN=lawbox local CA /, 'named "lawbox local CA <hostname>"');
  t.equal(ca.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1', 'an ECDSA P-256 key');
  const years = (new Date(ca.validTo).getTime() - now.getTime()) / (365 * DAY_MS);
  t.ok(years > 9.9 && years < 10.1, `the CA is valid for ten years (${years.toFixed(2)})`);
  const days = (new Date(server.validTo).getTime() - now.getTime()) / DAY_MS;
  t.ok(days > 729 && days < 731, `the server certificate for two years (${days.toFixed(1)} days)`);
  t.ok(server.checkIssued(ca) && server.verify(ca.publicKey), 'the server certificate is issued by the CA');
  for (const name of names.dns) t.equal(server.checkHost(name, { subject: 'never' }), name, `it covers ${name}`);
  for (const ip of names.ips) t.ok(server.checkIP(ip), `it covers ${ip}`);
  t.equal(first.caSha256, ca.fingerprint256, 'the reported fingerprint is the CA certificate’s SHA-256');

  const again = await ensureLocalCertificates(dir, { now, names });
  t.notOk(again.created || again.renewed, 'the next start makes nothing');
  t.ok(again.cert.equals(first.cert) && again.key.equals(first.key), 'and serves the same certificate and key');
});

t.test('the server certificate is renewed near its end or when the box’s addresses change; the CA stays', async (t) => {
  const dir = path.join(t.testdir({}), 'tls');
  const names = { dns: ['lawbox-test', 'lawbox-test.local', 'localhost'], ips: ['127.0.0.1', '::1'] };
  const madeAt = new Date(Date.now() - 710 * DAY_MS);
  const old = await ensureLocalCertificates(dir, { now: madeAt, names });
  const caBefore = readFileSync(path.join(dir, 'ca.crt'));

  const stillFine = await ensureLocalCertificates(dir, { now: new Date(madeAt.getTime() + 690 * DAY_MS), names });
  t.notOk(stillFine.renewed, '40 days before its end the certificate is kept');
  const now = new Date();
  const renewed = await ensureLocalCertificates(dir, { now, names });
  t.ok(renewed.renewed, '20 days before its end it is made again');
  t.notOk(renewed.cert.equals(old.cert), 'a new certificate');
  t.ok(renewed.serverExpires.getTime() - now.getTime() > 700 * DAY_MS, 'valid for two years from now');
  t.notOk(renewed.created, 'by the same CA');
  t.ok(readFileSync(path.join(dir, 'ca.crt')).equals(caBefore), 'ca.crt is untouched, so kiosks and agents keep trusting it');

  const moved = await ensureLocalCertificates(dir, { now, names: { ...names, ips: [...names.ips, '192.0.2.77'] } });
  t.ok(moved.renewed, 'a new address of the box makes a new certificate');
  t.ok(new X509Certificate(moved.cert).checkIP('192.0.2.77'), 'which covers it');
  t.notOk((await ensureLocalCertificates(dir, { now, names: { ...names, ips: [...names.ips, '192.0.2.77'] } })).renewed, 'and is kept while the addresses stay');
});

t.test('a damaged certificate or key is a clear error that says what to do', async (t) => {
  const names = { dns: ['localhost'], ips: ['127.0.0.1'] };
  const now = new Date();
  const fresh = async () => {
    const dir = path.join(t.testdir({}), 'tls');
    await ensureLocalCertificates(dir, { now, names });
    return dir;
  };
  let dir = await fresh();
  writeFileSync(path.join(dir, 'server.crt'), 'not a certificate');
  await t.rejects(ensureLocalCertificates(dir, { now, names }), { name: 'TlsSetupError', message: /server\.crt is not a PEM certificate.*Delete .*server\.crt and .*server\.key/ }, 'a corrupt server.crt is named, with the way out');
  dir = await fresh();
  writeFileSync(path.join(dir, 'ca.key'), '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n');
  await t.rejects(ensureLocalCertificates(dir, { now, names }), { message: /ca\.key is not a PEM private key.*Restore ca\.crt and ca\.key from a backup/ }, 'a corrupt CA key likewise');
  dir = await fresh();
  rmSync(path.join(dir, 'ca.key'));
  await t.rejects(ensureLocalCertificates(dir, { now, names }), { message: /the local CA is incomplete: .*ca\.key is missing/ }, 'a CA without its key is not replaced behind the admin’s back');
  dir = await fresh();
  await t.rejects(ensureLocalCertificates(dir, { now: new Date(now.getTime() + 3651 * DAY_MS), names }), { message: /expired on .*Move .* aside/ }, 'an expired CA is reported, not silently replaced');

  // Through the server: it stops before opening the database, and leaves no lock behind.
  const dataDir = t.testdir({});
  await ensureLocalCertificates(path.join(dataDir, 'tls'), { now, names });
  writeFileSync(path.join(dataDir, 'tls', 'ca.crt'), 'garbage');
  const config = loadConfig({ LAWBOX_DATA_DIR: dataDir, LAWBOX_TLS: 'auto', LAWBOX_HTTP_PORT: '0', LAWBOX_MQTT_PORT: '0' });
  await t.rejects(startServer({ ...config, databaseUrl: null, mqttUrl: null }, { log: silent }), TlsSetupError, 'the server does not start on a corrupt CA');
  t.notOk(existsSync(path.join(dataDir, 'lawbox.lock')), 'and leaves no lock behind');
});

t.test('MQTT over TLS: a client trusting the local CA gets in; without it, or in plain MQTT, it does not', async (t) => {
  const dataDir = t.testdir({});
  const config = loadConfig({ LAWBOX_DATA_DIR: dataDir, LAWBOX_TLS: 'auto', LAWBOX_MQTT_HOST: '127.0.0.1', LAWBOX_MQTT_PORT: '0' });
  const tls = (await prepareTls(config, silent))!;
  const credential = { username: 'tls-probe', password: 'probe-secret-1' };
  const broker = await startMqtt({ ...config, mqttUrl: null }, silent, { tls, internal: credential });
  t.teardown(() => broker.close());
  t.ok(broker.connected(), 'the server’s own client connected over TLS, checking the certificate');
  const port = broker.embedded!.port;
  const ca = readFileSync(path.join(dataDir, 'tls', 'ca.crt'));
  t.equal(await mqttAttempt(`mqtts://127.0.0.1:${port}`, { ...credential, ca }), 'connected', 'mqtts:// with the CA as the only trust connects');
  t.equal(await mqttAttempt(`mqtts://localhost:${port}`, { ...credential, ca }), 'connected', 'by the name localhost as well');
  t.match(await mqttAttempt(`mqtts://127.0.0.1:${port}`, credential), /error: .*(self.signed|unable to verify|certificate)/i, 'without the CA the certificate is refused');
  t.not(await mqttAttempt(`mqtt://127.0.0.1:${port}`, credential), 'connected', 'plain MQTT to the TLS port gets nowhere');

  // The same broker as an external one (MQTT_URL=mqtts://…): the system's CAs plus the local CA if there is one.
  const external = (dir: string) => loadConfig({ LAWBOX_DATA_DIR: dir, MQTT_URL: `mqtts://${credential.username}:${credential.password}@127.0.0.1:${port}` });
  const withLocalCa = await startMqtt(external(dataDir), silent);
  t.teardown(() => withLocalCa.close());
  t.ok(withLocalCa.connected(), 'an external mqtts:// broker with the local CA’s certificate is trusted');
  const withoutLocalCa = await startMqtt(external(t.testdir({})), silent);
  t.teardown(() => withoutLocalCa.close());
  t.notOk(withoutLocalCa.connected(), 'without a local CA only the system’s CAs count, and they do not know this one');
});

t.test('LAWBOX_TLS=auto lawbox serve --demo: HTTPS with the local CA, MQTT over TLS, the simulated building online', async (t) => {
  t.setTimeout(150_000);
  const dataDir = t.testdir({});
  const env: Record<string, string> = { LAWBOX_DATA_DIR: dataDir, LAWBOX_TLS: 'auto' };
  if (process.env.DATABASE_URL) env.DATABASE_URL = (await createDatabase(t)).databaseUrl!;

  /** Runs `lawbox serve --demo` until it prints its URL; stopped at the end of the test. */
  const serve = async () => {
    const running = await serveDemo(env);
    t.teardown(running.stop);
    return running;
  };

  const first = await serve();
  t.match(first.url, /^https:\/\/127\.0\.0\.1:\d+$/, 'the server prints an https URL');
  const caFile = path.join(dataDir, 'tls', 'ca.crt');
  const ca = readFileSync(caFile);
  const fingerprint = new X509Certificate(ca).fingerprint256;
  t.ok(first.output().includes(caFile) && first.output().includes(fingerprint), 'the output names the CA certificate to install and its SHA-256 fingerprint');

  const health = await get(`${first.url}/api/health`, { ca });
  t.equal(health.status, 200, 'HTTPS verified with the local CA as the only trust');
  t.match(JSON.parse(health.body), { status: 'ok', db: 'ok', mqtt: 'ok' }, 'healthy: the server’s own MQTT link is up over TLS');
  t.equal(health.headers['strict-transport-security'], 'max-age=31536000', 'with HSTS');
  t.equal((await get(`${first.url.replace('127.0.0.1', 'localhost')}/api/health`, { ca })).status, 200, 'the name localhost verifies as well');
  await t.rejects(get(`${first.url}/api/health`, {}), /certificate|self.signed/i, 'without the CA the certificate is refused');

  // The simulated building: its agent and its MQTT-native devices connect over TLS, trusting the CA.
  const director = /director\s+director\s+(\S+)/.exec(first.output())?.[1];
  const post = async (url: string, body: object, token?: string) =>
    JSON.parse((await postJson(url, body, { ca }, token)).body) as { token: string };
  const signedIn = await post(`${first.url}/api/auth/login`, { username: 'director', password: director });
  await post(`${first.url}/api/auth/password`, { current_password: director, new_password: 'Minghang-Front-77!' }, signedIn.token);
  const session = await post(`${first.url}/api/auth/login`, { username: 'director', password: 'Minghang-Front-77!' });
  let online: string[] = [];
  for (let i = 0; i < 120 && online.length < 11; i++) {
    const devices = JSON.parse((await get(`${first.url}/api/devices`, { ca, headers: { authorization: `Bearer ${session.token}` } })).body) as { id: string; availability: string }[];
    online = devices.filter((d) => d.availability === 'online').map((d) => d.id);
    if (online.length < 11) await new Promise((r) => setTimeout(r, 250));
  }
  t.ok(online.length >= 6, `the simulated devices come online over MQTT with TLS (${online.length}: ${online.join(', ')})`);
  t.ok(online.some((id) => id.startsWith('terminal-')), 'including the meeting terminals, which connect to the broker themselves');
  const metrics = await get(`${first.url}/metrics`, { ca });
  t.match(metrics.body, /^lawbox_agents_online 1$/m, 'the demo agent is online (GET /metrics from the loopback)');

  t.equal(await first.stop(), 0, 'SIGTERM stops it cleanly');
  const second = await serve();
  t.ok(readFileSync(caFile).equals(ca), 'a second start keeps the CA');
  t.notMatch(second.output(), /local certificate authority was made/, 'and does not announce a new one');
  t.equal((await get(`${second.url}/api/health`, { ca })).status, 200, 'the same CA still verifies the server');
  t.equal(await second.stop(), 0, 'and it stops cleanly');
});

/** POSTs JSON over HTTPS. */
function postJson(url: string, body: object, options: RequestOptions, token?: string): Promise<Answer> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(url, { ...options, method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) } }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}
