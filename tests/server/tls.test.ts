import { execFileSync } from 'node:child_process';
import { request } from 'node:https';
import path from 'node:path';
import t from 'tap';
import { loadConfig } from '../../server/src/config.js';
import { startServer } from '../../server/src/server.js';
import { pino } from 'pino';

// A self-signed certificate made for this run, as an admin would provide one.
const dir = t.testdir({});
const cert = path.join(dir, 'cert.pem');
const key = path.join(dir, 'key.pem');
execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', key, '-out', cert], { stdio: 'ignore' });

const config = loadConfig({
  LAWBOX_DATA_DIR: path.join(dir, 'data'),
  DATABASE_URL: process.env.DATABASE_URL,
  MQTT_URL: process.env.MQTT_URL,
  LAWBOX_HTTP_HOST: '127.0.0.1',
  LAWBOX_HTTP_PORT: '0',
  LAWBOX_MQTT_HOST: '127.0.0.1',
  LAWBOX_MQTT_PORT: '0',
  LAWBOX_TLS_CERT: cert,
  LAWBOX_TLS_KEY: key,
});
// The transport is under test, not the database: embedded PGlite in a test directory in both modes.
const server = await startServer({ ...config, databaseUrl: null }, { log: pino({ level: 'silent' }) });
t.teardown(() => server.stop());

function get(url: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, { rejectUnauthorized: false }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    })
      .on('error', reject)
      .end();
  });
}

t.test('with a certificate configured the server speaks HTTPS only', async (t) => {
  t.match(server.url, /^https:\/\//, 'the printed URL is https');
  const res = await get(`${server.url}/api/health`);
  t.equal(res.status, 200, 'health answers over TLS');
  t.equal(JSON.parse(res.body).status, 'ok', 'and reports ok');
  t.match(String(res.headers['strict-transport-security']), /max-age=\d+/, 'HSTS is sent');
  const plain = await fetch(server.url.replace('https:', 'http:') + '/api/health').then((r) => r.status, () => 'refused');
  t.not(plain, 200, 'plain HTTP on the same port does not serve the API');
});

t.test('the first start without accounts prints a one-time setup token', async (t) => {
  t.type(server.firstRun.setupToken, 'string', 'a setup token was issued');
  t.equal(server.firstRun.demoAccounts, null, 'no demo accounts without --demo');
});
