import t from 'tap';
import { ConfigError, loadConfig, MIN_AUDIT_RETENTION_DAYS } from '../../server/src/config.js';

t.test('defaults give a working embedded instance', async (t) => {
  const c = loadConfig({});
  t.equal(c.databaseUrl, null, 'no DATABASE_URL means embedded PGlite');
  t.equal(c.mqttUrl, null, 'no MQTT_URL means the embedded broker');
  t.equal(c.httpPort, 8080, 'HTTP port defaults to 8080');
  t.equal(c.mqttPort, 1884, 'embedded broker defaults to 1884, clear of a system Mosquitto on 1883');
  t.same(c.passwordPolicy, { enabled: true, minLength: 8, minClasses: 3, maxAgeDays: 90 }, 'password policy on by default');
  t.same(c.lockout, { threshold: 5, minutes: 15 }, 'lockout 5 failures → 15 minutes');
  t.same(c.session, { idleMinutes: 30, absoluteHours: 12 }, 'session timeouts 30 min idle, 12 h absolute');
});

t.test('every problem is reported together', async (t) => {
  const err = t.throws(() =>
    loadConfig({
      DATABASE_URL: 'mysql://x',
      MQTT_URL: 'not a url',
      LAWBOX_HTTP_PORT: '99999',
      LAWBOX_MQTT_PORT: 'abc',
      LAWBOX_TLS_CERT: '/nonexistent/cert.pem',
      LAWBOX_PASSWORD_POLICY: 'maybe',
      LAWBOX_AUDIT_RETENTION_DAYS: '30',
      LAWBOX_LOG_LEVEL: 'loud',
    }),
  ) as ConfigError;
  t.type(err, ConfigError, 'a ConfigError');
  const text = err.problems.join('\n');
  for (const name of ['DATABASE_URL', 'MQTT_URL', 'LAWBOX_HTTP_PORT', 'LAWBOX_MQTT_PORT', 'LAWBOX_TLS_CERT', 'LAWBOX_PASSWORD_POLICY', 'LAWBOX_AUDIT_RETENTION_DAYS', 'LAWBOX_LOG_LEVEL']) {
    t.match(text, name, `${name} is named`);
  }
  t.match(text, 'LAWBOX_TLS_CERT and LAWBOX_TLS_KEY must be set together', 'cert without key is reported');
  t.equal(err.problems.length, 9, 'nine problems, none swallowed');
});

t.test('audit retention can never go below six months', async (t) => {
  t.throws(() => loadConfig({ LAWBOX_AUDIT_RETENTION_DAYS: String(MIN_AUDIT_RETENTION_DAYS - 1) }), ConfigError, 'below the minimum is refused');
  t.equal(loadConfig({ LAWBOX_AUDIT_RETENTION_DAYS: String(MIN_AUDIT_RETENTION_DAYS) }).auditRetentionDays, MIN_AUDIT_RETENTION_DAYS, 'the minimum itself is accepted');
});

t.test('management networks default to loopback and private ranges and reject nonsense', async (t) => {
  const nets = loadConfig({}).managementNetworks;
  t.ok(nets.check('127.0.0.1', 'ipv4'), 'loopback may administer');
  t.ok(nets.check('192.168.1.20', 'ipv4'), 'the office LAN may administer');
  t.notOk(nets.check('203.0.113.9', 'ipv4'), 'a public address may not');
  const narrowed = loadConfig({ LAWBOX_MANAGEMENT_NETWORKS: '10.1.2.0/24' }).managementNetworks;
  t.ok(narrowed.check('10.1.2.7', 'ipv4'), 'inside the configured range');
  t.notOk(narrowed.check('127.0.0.1', 'ipv4'), 'loopback is excluded when not listed');
  const err = t.throws(() => loadConfig({ LAWBOX_MANAGEMENT_NETWORKS: '10.0.0.0/33,banana' })) as ConfigError;
  t.equal(err.problems.length, 2, 'both bad entries are reported');
});

t.test('secrets in files are put into the URLs; an empty file is no secret', async (t) => {
  const dir = t.testdir({ 'db-password': 'p@ss w/ord\n', empty: '', 'mqtt-password': 'agent-secret' });
  const c = loadConfig({ DATABASE_URL: 'postgres://lawbox@127.0.0.1/lawbox', DATABASE_PASSWORD_FILE: `${dir}/db-password`, MQTT_URL: 'mqtts://server:old@broker:8883', MQTT_PASSWORD_FILE: `${dir}/mqtt-password` });
  t.equal(decodeURIComponent(new URL(c.databaseUrl!).password), 'p@ss w/ord', 'the password, with its special characters, reaches the connection string');
  t.equal(new URL(c.mqttUrl!).password, 'agent-secret', 'the file wins over a password written in the URL');
  t.equal(loadConfig({ DATABASE_URL: 'postgres://lawbox:inurl@h/db', DATABASE_PASSWORD_FILE: `${dir}/empty` }).databaseUrl, 'postgres://lawbox:inurl@h/db', 'an empty credential leaves the URL as it is');
  const err = t.throws(() => loadConfig({ DATABASE_URL: 'postgres://h/db', DATABASE_PASSWORD_FILE: `${dir}/missing` })) as ConfigError;
  t.match(err.problems, [/DATABASE_PASSWORD_FILE=.*missing: file not found/]);
});

t.test('TLS is off, auto or your own certificate, never two at once', async (t) => {
  const dir = t.testdir({ 'cert.pem': 'x', 'key.pem': 'y' });
  t.equal(loadConfig({}).tlsMode, 'off');
  t.equal(loadConfig({ LAWBOX_TLS: 'AUTO' }).tlsMode, 'auto');
  t.equal(loadConfig({ LAWBOX_TLS_CERT: `${dir}/cert.pem`, LAWBOX_TLS_KEY: `${dir}/key.pem` }).tlsMode, 'files');
  t.throws(() => loadConfig({ LAWBOX_TLS: 'yes' }), /LAWBOX_TLS=yes: expected off or auto/);
  t.throws(() => loadConfig({ LAWBOX_TLS: 'auto', LAWBOX_TLS_CERT: `${dir}/cert.pem`, LAWBOX_TLS_KEY: `${dir}/key.pem` }), /exclusive/);
});

t.test('backup settings default next to the data and refuse nonsense', async (t) => {
  const c = loadConfig({ LAWBOX_DATA_DIR: '/srv/lawbox' });
  t.same(c.backup, { keyFile: null, dir: '/srv/lawbox/backups', copyTo: null, keepDays: 30, maxAgeHours: 26 });
  t.notOk(c.metricsNetworks.check('192.168.1.20', 'ipv4'), 'metrics are for the box itself unless widened');
  t.ok(c.metricsNetworks.check('127.0.0.1', 'ipv4'));
  const err = t.throws(() => loadConfig({ LAWBOX_BACKUP_KEEP_DAYS: '0', LAWBOX_BACKUP_MAX_AGE_HOURS: 'x' })) as ConfigError;
  t.equal(err.problems.length, 2, 'both are reported');
});
