import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { chmodSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt, { type MqttClient } from 'mqtt';
import t from 'tap';
import { ensureLocalCertificates } from '../../server/src/tls.js';

/**
 * The Ansible roles, for real: syntax check, ansible-lint's production profile, and a converge of
 * site.yml into a Debian bookworm chroot (server, agent and kiosk on one host) that must come out
 * unchanged on a second run. Then the chroot is examined, and its PostgreSQL and Mosquitto are started
 * just long enough to show that the configuration does what it says.
 *
 * Slow the first time on a machine (debootstrap, every package downloaded); the rootfs, the apt
 * archives and the Node.js archive are kept in LAWBOX_CI_CACHE (default /var/cache/lawbox-ci) for the
 * next run. Needs root (chroot, mount) and ansible, ansible-lint and debootstrap (CI installs them).
 */

// Debootstrap plus two converges take minutes, not the suite's default 180 s.
t.setTimeout(15 * 60_000);

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const ANSIBLE_DIR = path.join(REPO, 'ansible');
const CACHE = process.env.LAWBOX_CI_CACHE || '/var/cache/lawbox-ci';
const SUITE = 'bookworm';
const MIRROR = 'http://deb.debian.org/debian';
/** What Ansible needs in the chroot before its first task: Python with apt's bindings, and systemd (units are enabled). */
const BASE_PACKAGES = ['python3', 'python3-apt', 'systemd', 'systemd-sysv', 'ca-certificates'];
/** A cached rootfs older than this is made again, so its packages stay near the archive's. */
const ROOTFS_MAX_AGE_MS = 14 * 86_400_000;
/** Work directories carry the test's pid, so a later run can clean up after one that was killed. */
const WORK_PREFIX = 'lawbox-ansible-';
const HOST = 'converge';

/** The environment of commands run in the chroot: none of this process's (NODE_OPTIONS would load tap there). */
const CHROOT_ENV = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' };

const onPath = (command: string) => (process.env.PATH ?? '').split(':').some((dir) => dir && existsSync(path.join(dir, command)));
const missing = (commands: string[]) => commands.filter((c) => !onPath(c));
const isRoot = process.getuid?.() === 0;

interface Run {
  code: number | null;
  output: string;
}

/**
 * Runs a command to its end, stdout and stderr together (as a terminal would show them), optionally
 * into a log file. Through `env -i`: tap adds its loaders to NODE_OPTIONS of every child it sees
 * spawned, and they must not reach the Node.js in the chroot (nor Ansible, which passes its
 * environment on to the chroot's commands).
 */
function run(command: string, args: string[], opts: { cwd?: string; env?: Record<string, string>; timeoutMs?: number; log?: string } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env = opts.env ?? (command === 'chroot' ? CHROOT_ENV : hostEnv());
    const child = spawn('env', ['-i', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), command, ...args], { cwd: opts.cwd ?? REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c) => (output += c));
    child.stderr.on('data', (c) => (output += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      if (opts.log) writeFileSync(opts.log, output);
      resolve({ code, output });
    });
  });
}

/** This process's environment without tap's NODE_OPTIONS. */
function hostEnv(): Record<string, string> {
  return Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[0] !== 'NODE_OPTIONS' && e[1] !== undefined));
}

async function mustRun(command: string, args: string[], opts: Parameters<typeof run>[2] = {}): Promise<string> {
  const result = await run(command, args, opts);
  if (result.code !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${result.code}:\n${tail(result.output, 40)}`);
  return result.output;
}

const tail = (text: string, lines: number) => text.trimEnd().split('\n').slice(-lines).join('\n');

t.test('site.yml passes ansible-playbook --syntax-check', { skip: missing(['ansible-playbook']).length ? 'ansible-playbook is not installed (apt-get install ansible)' : false }, async (t) => {
  const result = await run('ansible-playbook', ['--syntax-check', '-i', 'inventories/example/hosts.yml', 'site.yml'], { cwd: ANSIBLE_DIR, env: ansibleEnv() });
  t.equal(result.code, 0, `syntax check exits 0:\n${tail(result.output, 20)}`);
  t.match(result.output, /playbook: site\.yml/, 'the playbook was read');
});

t.test('the roles pass ansible-lint with the production profile', { skip: missing(['ansible-lint']).length ? 'ansible-lint is not installed (apt-get install ansible-lint)' : false }, async (t) => {
  // --offline: no Galaxy on the LAN; the collections come with Debian's ansible package.
  const result = await run('ansible-lint', ['--profile', 'production', '--offline', '--nocolor'], { cwd: ANSIBLE_DIR, env: ansibleEnv(), timeoutMs: 300_000 });
  t.equal(result.code, 0, `ansible-lint exits 0:\n${tail(result.output, 40)}`);
  t.match(result.output, /Passed with production profile: 0 failure\(s\), 0 warning\(s\)/, 'no failure and no warning');
});

t.test('a missing or short secret stops a role before its first change, naming the variable', { skip: missing(['ansible-playbook']).length ? 'ansible-playbook is not installed (apt-get install ansible)' : false }, async (t) => {
  // Check mode on this machine: the roles fail at their argument check or first assertion, before any task that could change it.
  const dir = t.testdir({
    'missing.yml': JSON.stringify([{ hosts: 'localhost', connection: 'local', gather_facts: false, roles: ['postgresql'] }]),
    'short.yml': JSON.stringify([{ hosts: 'localhost', connection: 'local', gather_facts: false, vars: { postgresql_lawbox_password: 'too-short' }, roles: ['postgresql'] }]),
  });
  const env = { ...ansibleEnv(), ANSIBLE_ROLES_PATH: path.join(ANSIBLE_DIR, 'roles'), ANSIBLE_LOCALHOST_WARNING: 'false', ANSIBLE_INVENTORY_UNPARSED_WARNING: 'false' };
  const missingSecret = await run('ansible-playbook', ['--check', 'missing.yml'], { cwd: dir, env });
  t.not(missingSecret.code, 0, 'the play fails without postgresql_lawbox_password');
  t.match(missingSecret.output, /missing required arguments: postgresql_lawbox_password/, 'and says which variable is missing');
  const shortSecret = await run('ansible-playbook', ['--check', 'short.yml'], { cwd: dir, env });
  t.not(shortSecret.code, 0, 'the play fails with a 9-character database password');
  t.match(shortSecret.output, /postgresql_lawbox_password must be at least 16 characters/, 'and says what is wrong');
  t.match(shortSecret.output, /changed=0\s+unreachable=0\s+failed=1/, 'nothing changed before the check');
});

const convergeMissing = missing(['ansible-playbook', 'ansible-vault', 'debootstrap', 'chroot', 'mount']);
const convergeSkip = !isRoot
  ? 'the converge needs root (debootstrap, chroot, mount)'
  : convergeMissing.length
    ? `missing ${convergeMissing.join(', ')} (apt-get install ansible debootstrap)`
    : false;

t.test('site.yml converges a Debian bookworm chroot, idempotently', { skip: convergeSkip }, async (t) => {
  cleanUpAfterKilledRuns();
  const work = mkdtempSync(path.join('/var/tmp', `${WORK_PREFIX}${process.pid}-`));
  const chroot = new Chroot(path.join(work, 'root'));
  t.teardown(() => chroot.dispose(work));
  const secrets = {
    database: `db-${randomBytes(12).toString('hex')}`,
    serverMqtt: `mq-${randomBytes(12).toString('hex')}`,
    agentA: `agent-a-${randomBytes(12).toString('hex')}`,
    agentB: `agent-b-${randomBytes(12).toString('hex')}`,
    smb: `smb-${randomBytes(12).toString('hex')}`,
    camera: `camera-${randomBytes(12).toString('hex')}`,
  };
  const mqttPort = await freePort();
  mkdirSync(path.join(CACHE, 'logs'), { recursive: true });

  const started = Date.now();
  await chroot.create();
  // The script prints the archive's path as its last line of stdout (its progress goes to stderr).
  const packed = await mustRun(path.join(REPO, 'scripts/release.sh'), ['--skip-build', '--out', work], { timeoutMs: 300_000 });
  const release = packed.split('\n').filter((l) => l.startsWith(work) && l.endsWith('-linux-x64.tar.gz')).pop();
  if (!release) throw new Error(`scripts/release.sh named no archive:\n${packed}`);
  const inventory = await writeInventory(work, chroot.root, { secrets, mqttPort, release, nodeArchive: await nodeArchive() });
  t.comment(`chroot and artifacts ready in ${Math.round((Date.now() - started) / 1000)} s`);

  const converge = (n: number) =>
    run('ansible-playbook', ['-i', inventory.hosts, '--limit', HOST, '--vault-password-file', inventory.vaultPassword, 'site.yml'], {
      cwd: ANSIBLE_DIR,
      env: ansibleEnv(),
      timeoutMs: 600_000,
      // Kept after the work directory is gone: the last run's logs, for a failure in CI.
      log: path.join(CACHE, 'logs', `converge-${n}.log`),
    });

  const firstStarted = Date.now();
  const first = await converge(1);
  const firstRecap = recap(first.output);
  t.comment(`first converge: ${Math.round((Date.now() - firstStarted) / 1000)} s`);
  if (!t.ok(first.code === 0 && firstRecap?.failed === 0 && firstRecap.unreachable === 0, `the first run converges without a failure (log: ${CACHE}/logs/converge-1.log)`, { diagnostic: true, output: tail(first.output, 60) })) return;

  const secondStarted = Date.now();
  const second = await converge(2);
  const secondRecap = recap(second.output);
  t.comment(`second converge: ${Math.round((Date.now() - secondStarted) / 1000)} s`);
  t.equal(second.code, 0, 'the second run succeeds');
  t.same(secondRecap && { changed: secondRecap.changed, failed: secondRecap.failed }, { changed: 0, failed: 0 }, `the second run changes nothing:\n${changedTasks(second.output)}`);

  t.same(chroot.processes(), [], 'nothing the converge did is left running in the chroot');

  const root = chroot.root;
  const inRoot = (p: string) => path.join(root, p);

  t.test('PostgreSQL: SCRAM only, a UTF-8 database with the C.UTF-8 ctype, the lawbox role logs in', async (t) => {
    const hba = activeLines(readFileSync(inRoot('/etc/postgresql/15/main/pg_hba.conf'), 'utf8'));
    t.same(hba.filter((l) => /\blawbox\b/.test(l)).map((l) => l.split(/\s+/).pop()), ['scram-sha-256', 'scram-sha-256', 'scram-sha-256'], 'every lawbox line is scram-sha-256');
    t.same(hba.filter((l) => /\b(trust|md5|password|ident)\s*$/.test(l)), [], 'no trust, md5, password or ident line');
    t.match(readFileSync(inRoot('/etc/postgresql/15/main/conf.d/lawbox.conf'), 'utf8'), /^password_encryption = 'scram-sha-256'$/m, 'new passwords are stored as SCRAM');

    await chroot.startPostgres();
    const asLawbox = (password: string, sql: string) =>
      run('chroot', [root, 'env', `PGPASSWORD=${password}`, 'psql', '-h', '/var/run/postgresql', '-U', 'lawbox', '-d', 'lawbox', '-Atc', sql]);
    const database = await asLawbox(secrets.database, 'SELECT pg_encoding_to_char(encoding), datctype, datcollate FROM pg_database WHERE datname = current_database()');
    t.equal(database.output.trim(), 'UTF8|C.UTF-8|C.UTF-8', 'lawbox logs in with its password; the database is UTF-8 with the C.UTF-8 ctype');
    const wrong = await asLawbox('not-the-password', 'SELECT 1');
    t.not(wrong.code, 0, 'a wrong password is refused');
    t.match(wrong.output, /password authentication failed/, 'by password authentication');
    const stored = await run('chroot', [root, 'su', 'postgres', '-c', "psql -Atc \"SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = 'lawbox'\""]);
    t.equal(stored.output.trim(), 't', 'the role password is stored as a SCRAM verifier');
    const acl = await run('chroot', [root, 'su', 'postgres', '-c', "psql -Atc \"SELECT datacl::text FROM pg_database WHERE datname = 'lawbox'\""]);
    t.equal(acl.output.trim(), '{lawbox=CTc/lawbox}', 'only its owner may connect to the lawbox database');
    // The server's own migrations, run by the installed command on the installed Node.js: the release
    // works in the chroot, and the role may create pg_trgm in its own database.
    const migrate = await run('chroot', [root, 'env', 'DATABASE_URL=postgres://lawbox@%2Fvar%2Frun%2Fpostgresql/lawbox', 'DATABASE_PASSWORD_FILE=/etc/lawbox/credentials/database-password', 'LAWBOX_DATA_DIR=/var/lib/lawbox', 'LAWBOX_LOG_LEVEL=warn', '/usr/local/bin/lawbox', 'migrate'], { timeoutMs: 120_000 });
    t.equal(migrate.code, 0, `lawbox migrate runs in the chroot against its PostgreSQL:\n${tail(migrate.output, 20)}`);
    await chroot.stopPostgres();
  });

  t.test('Mosquitto: TLS only, nobody anonymous, each agent confined to its own topics', async (t) => {
    const conf = activeLines(readFileSync(inRoot('/etc/mosquitto/mosquitto.conf'), 'utf8'));
    t.ok(conf.includes('allow_anonymous false'), 'allow_anonymous false');
    t.same(conf.filter((l) => /^(listener|port)\b/.test(l)), [`listener ${mqttPort}`], 'one listener, on the configured port');
    t.ok(conf.includes('certfile /etc/mosquitto/certs/lawbox-broker.crt'), 'the listener uses TLS');
    const passwd = readFileSync(inRoot('/etc/mosquitto/lawbox.passwd'), 'utf8');
    t.same(passwd.trim().split('\n').map((l) => l.split(':')[0]).sort(), ['agent-a', 'agent-b', 'lawbox-server'], 'one credential per agent and one for the server');
    t.ok(passwd.split('\n').every((l) => l === '' || /^[a-z-]+:\$7\$101\$/.test(l)), 'stored as PBKDF2 hashes');

    const ca = readFileSync(inRoot('/var/lib/lawbox/tls/ca.crt'));
    const broker = await chroot.startMosquitto();
    t.teardown(() => broker.kill());
    const connect = (username?: string, password?: string) => mqttConnect(mqttPort, ca, username, password);
    t.equal(await connect(), null, 'an anonymous client is refused');
    t.equal(await connect('agent-a', secrets.agentB), null, "agent-b's password does not open agent-a");
    const agentA = await connect('agent-a', secrets.agentA);
    const server = await connect('lawbox-server', secrets.serverMqtt);
    if (!t.ok(agentA && server, 'agent-a and the server log in over TLS (the local CA, the name localhost)')) return;
    t.teardown(() => {
      agentA!.end(true);
      server!.end(true);
    });

    const toServer = collect(server!);
    await server!.subscribeAsync('lawbox/#', { qos: 1 });
    for (const topic of ['lawbox/agent/agent-a/state', 'lawbox/device/door-a', 'lawbox/event/door-a/card_read', 'lawbox/agent/agent-b/state', 'lawbox/device/door-b', 'lawbox/event/door-b/card_read', 'lawbox/agent/agent-a/config']) {
      await agentA!.publishAsync(topic, '{}', { qos: 1 });
    }
    await new Promise((r) => setTimeout(r, 500));
    const fromAgent = toServer.splice(0);
    const toAgent = collect(agentA!);
    await agentA!.subscribeAsync(['lawbox/agent/agent-a/config', 'lawbox/agent/agent-b/config', 'lawbox/agent/agent-b/access', 'lawbox/device/door-a/set', 'lawbox/device/door-b/set', 'lawbox/device/+/event_ack'], { qos: 1 });
    for (const topic of ['lawbox/agent/agent-a/config', 'lawbox/agent/agent-b/config', 'lawbox/agent/agent-b/access', 'lawbox/device/door-a/set', 'lawbox/device/door-b/set', 'lawbox/device/door-b/event_ack']) {
      await server!.publishAsync(topic, '{}', { qos: 1 });
    }
    await new Promise((r) => setTimeout(r, 500));
    t.same(fromAgent.sort(), ['lawbox/agent/agent-a/state', 'lawbox/device/door-a', 'lawbox/event/door-a/card_read'], "agent-a publishes its own state and its devices' topics, nothing of agent-b's, not its own config");
    t.same(toAgent.sort(), ['lawbox/agent/agent-a/config', 'lawbox/device/door-a/set', 'lawbox/device/door-b/event_ack'], "agent-a reads its config, its devices' commands and event acknowledgements, nothing of agent-b's");
  });

  t.test('the local CA is one for the server, the broker, the agent and the kiosk', async (t) => {
    const tlsDir = inRoot('/var/lib/lawbox/tls');
    const ca = new X509Certificate(readFileSync(path.join(tlsDir, 'ca.crt')));
    t.ok(ca.ca, 'ca.crt is a CA certificate');
    t.equal(ca.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1', 'on P-256, as the server signs with');
    t.equal(statSync(path.join(tlsDir, 'ca.key')).mode & 0o777, 0o600, 'its key is private to the server account');
    const broker = new X509Certificate(readFileSync(inRoot('/etc/mosquitto/certs/lawbox-broker.crt')));
    t.ok(broker.checkIssued(ca) && broker.verify(ca.publicKey), "the broker's certificate comes from the local CA");
    t.ok(broker.checkHost('localhost') && broker.checkIP('127.0.0.1'), 'and covers the name the server uses');
    // LAWBOX_TLS=auto (server/src/tls.ts) must take this CA rather than make its own, or kiosks and agents would trust the wrong one.
    const copy = path.join(work, 'tls-copy');
    cpSync(tlsDir, copy, { recursive: true });
    const local = await ensureLocalCertificates(copy, { now: new Date(), names: { dns: ['localhost'], ips: ['127.0.0.1'] } });
    t.equal(local.created, false, 'LAWBOX_TLS=auto reuses the CA Ansible made');
    t.ok(new X509Certificate(local.cert).checkIssued(ca), 'and issues the HTTPS certificate from it');
    t.equal(readFileSync(inRoot('/etc/lawbox/ca.crt'), 'utf8'), ca.toString(), 'the agent trusts it (LAWBOX_AGENT_CA_FILE)');
    t.ok(readFileSync(inRoot('/etc/ssl/certs/ca-certificates.crt'), 'utf8').includes(ca.toString().trim()), "the system's trust store holds it");
    const nss = await run('chroot', [root, 'certutil', '-L', '-d', 'sql:/var/lib/kiosk/.pki/nssdb', '-n', 'lawbox local CA', '-a']);
    t.equal(new X509Certificate(nss.output).fingerprint256, ca.fingerprint256, "the kiosk's Chromium trusts it");
  });

  t.test('the firewall drops what it does not allow', async (t) => {
    const nft = readFileSync(inRoot('/etc/nftables.conf'), 'utf8');
    t.match(nft, /hook input priority filter; policy drop;/, 'inbound policy drop');
    t.match(nft, /hook forward priority filter; policy drop;/, 'forwarding policy drop');
    t.match(nft, /ip saddr \{ 192\.168\.10\.0\/28 \} tcp dport \{ 22 \} accept/, 'SSH from the admin network only');
    t.match(nft, new RegExp(`ip saddr \\{ 127\\.0\\.0\\.1, 192\\.0\\.2\\.22 \\} tcp dport \\{ ${mqttPort} \\} accept`), 'MQTT from the device hosts only');
    t.match(nft, /^\s*tcp dport \{ 8443 \} accept/m, 'HTTPS from the LAN');
  });

  t.test('the services are enabled', async (t) => {
    const wants = (target: string, unit: string) => inRoot(`/etc/systemd/system/${target}.wants/${unit}`);
    const expected: [string, string][] = [
      ['multi-user.target', 'lawbox.service'],
      ['multi-user.target', 'lawbox-agent.service'],
      ['multi-user.target', 'postgresql.service'],
      ['multi-user.target', 'mosquitto.service'],
      ['multi-user.target', 'chrony.service'],
      ['multi-user.target', 'ssh.service'],
      ['sysinit.target', 'nftables.service'],
      ['timers.target', 'lawbox-backup.timer'],
      ['timers.target', 'lawbox-retention.timer'],
      ['graphical.target', 'lawbox-kiosk.service'],
      ['remote-fs.target', 'mnt-lawbox\\x2dbackup.mount'],
    ];
    for (const [target, unit] of expected) t.ok(isLink(wants(target, unit)), `${unit} is enabled (${target})`);
    t.equal(readlinkSync(wants('multi-user.target', 'lawbox.service')), '/etc/systemd/system/lawbox.service', 'lawbox.service is the installed unit');
    t.equal(readFileSync(inRoot('/etc/systemd/system/lawbox.service'), 'utf8'), readFileSync(path.join(REPO, 'systemd/lawbox.service'), 'utf8'), "the unit is the repository's");
    const kiosk = readFileSync(inRoot('/etc/systemd/system/lawbox-kiosk.service'), 'utf8');
    t.match(kiosk, /ExecStart=\/usr\/bin\/cage -- \/usr\/bin\/chromium .*--kiosk --noerrdialogs --disable-translate --no-first-run --disable-features=TranslateUI.* https:\/\/localhost:8443\/kiosk\/lobby$/m, 'the kiosk runs Chromium in kiosk mode on its page');
  });

  t.test('secrets are credentials, and nowhere else', async (t) => {
    const credentials = inRoot('/etc/lawbox/credentials');
    t.equal(statSync(credentials).mode & 0o777, 0o700, 'the credentials directory is root-only');
    for (const name of readdirSync(credentials)) {
      const s = statSync(path.join(credentials, name));
      t.ok(s.uid === 0 && (s.mode & 0o777) === 0o600, `${name} is root's, mode 0600`);
    }
    t.same(readdirSync(credentials).sort(), ['agent-password', 'backup-key', 'database-password', 'master-key', 'mqtt-password', 'smb-backup'], 'one file per secret');
    const madeOnHost = ['master-key', 'backup-key'].map((name) => readFileSync(path.join(credentials, name), 'utf8'));
    t.ok(madeOnHost.every((key) => /^[0-9a-f]{64}\n$/.test(key)), 'the master key and the backup key were made on the host: 64 hex characters');
    t.not(madeOnHost[0], madeOnHost[1], 'two different keys');
    t.equal(readFileSync(path.join(credentials, 'database-password'), 'utf8'), `${secrets.database}\n`, 'the database password comes from the vault');
    for (const env of ['lawbox.env', 'agent.env', 'backup.env']) {
      t.equal(statSync(inRoot(`/etc/lawbox/${env}`)).mode & 0o777, 0o640, `${env} is 0640`);
    }
    t.match(readFileSync(inRoot('/etc/lawbox/lawbox.env'), 'utf8'), /^LAWBOX_TLS=auto$/m, 'the server makes its certificate from the local CA');
    t.equal(readFileSync(inRoot('/etc/lawbox/agent-secrets/camera-a'), 'utf8'), secrets.camera, "the camera's password is the agent's secret file");
    const leaks = filesContaining(inRoot('/etc'), [...Object.values(secrets), ...madeOnHost.map((k) => k.trim())], [credentials, inRoot('/etc/lawbox/agent-secrets')]);
    t.same(leaks, [], 'no secret appears anywhere else under /etc');
  });

  t.test('the installed commands run on the installed Node.js', async (t) => {
    const version = await run('chroot', [root, '/usr/local/bin/lawbox', '--version']);
    t.equal(version.output.trim(), JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')).version, 'lawbox --version');
    const agent = await run('chroot', [root, '/usr/local/bin/lawbox-agent', '--help']);
    t.equal(agent.code, 0, 'lawbox-agent --help');
    t.equal(readlinkSync(inRoot('/opt/lawbox/current')), `releases/${path.basename(release).replace(/^lawbox-(.+)-linux-x64\.tar\.gz$/, '$1')}`, 'current points at the release');
  });
});

/**
 * Only what Ansible needs: the chroot connection hands the controller's environment to every command
 * in the chroot, and this process's NODE_OPTIONS (tap's loaders) would break the Node.js there.
 * ANSI-free output; the collections come from Debian's ansible package, nothing from Galaxy.
 */
function ansibleEnv(): Record<string, string> {
  return { PATH: process.env.PATH || CHROOT_ENV.PATH, HOME: process.env.HOME ?? '/root', LANG: 'C.UTF-8', PYTHONDONTWRITEBYTECODE: '1', ANSIBLE_CONFIG: path.join(ANSIBLE_DIR, 'ansible.cfg'), ANSIBLE_NOCOLOR: '1', ANSIBLE_FORCE_COLOR: '0', NO_COLOR: '1', PY_COLORS: '0' };
}

/** The PLAY RECAP line of the converged host. */
function recap(output: string): { ok: number; changed: number; unreachable: number; failed: number } | null {
  const m = new RegExp(`^${HOST}\\s+: ok=(\\d+)\\s+changed=(\\d+)\\s+unreachable=(\\d+)\\s+failed=(\\d+)`, 'm').exec(output);
  return m ? { ok: Number(m[1]), changed: Number(m[2]), unreachable: Number(m[3]), failed: Number(m[4]) } : null;
}

/** The tasks a run reports as changed, for the message of a failed idempotence check. */
function changedTasks(output: string): string {
  const lines: string[] = [];
  let task = '';
  for (const line of output.split('\n')) {
    if (/^(TASK|RUNNING HANDLER) \[/.test(line)) task = line.replace(/\s*\*+$/, '');
    else if (/^changed: /.test(line)) lines.push(`${task}: ${line}`);
  }
  return lines.join('\n');
}

/** A symbolic link, not followed: in the chroot an absolute target names the chroot's file, not the host's. */
function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

const activeLines = (text: string) =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));

/** Files under `dir` (not under `except`) that contain any of `needles`. */
function filesContaining(dir: string, needles: string[], except: string[]): string[] {
  const found: string[] = [];
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, entry.name);
      if (except.includes(p)) continue;
      if (entry.isDirectory()) walk(p);
      else if (entry.isFile()) {
        const text = readFileSync(p, 'latin1');
        if (needles.some((n) => text.includes(n))) found.push(p.slice(dir.length));
      }
    }
  };
  walk(dir);
  return found;
}

function collect(client: MqttClient): string[] {
  const topics: string[] = [];
  client.on('message', (topic) => topics.push(topic));
  return topics;
}

/** A logged-in client, or null when the broker refuses the login. */
function mqttConnect(port: number, ca: Buffer, username?: string, password?: string): Promise<MqttClient | null> {
  return new Promise((resolve) => {
    const client = mqtt.connect(`mqtts://localhost:${port}`, { ca, username, password, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000 });
    client.once('connect', () => resolve(client));
    client.once('error', () => {
      client.end(true);
      resolve(null);
    });
    client.once('close', () => resolve(null));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * Node.js in the layout of the official linux-x64 archive (node-v<version>-linux-x64/bin/node), made
 * from the Node.js running this test: the machine cannot reach nodejs.org. Kept in the cache.
 */
async function nodeArchive(): Promise<string> {
  const name = `node-${process.version}-linux-x64`;
  const archive = path.join(CACHE, 'node', `${name}.tar.xz`);
  if (existsSync(archive)) return archive;
  mkdirSync(path.dirname(archive), { recursive: true });
  const staging = mkdtempSync(path.join(path.dirname(archive), 'staging-'));
  try {
    mkdirSync(path.join(staging, name, 'bin'), { recursive: true });
    cpSync(process.execPath, path.join(staging, name, 'bin/node'));
    chmodSync(path.join(staging, name, 'bin/node'), 0o755);
    await mustRun('tar', ['--create', '--use-compress-program=xz -T0 -1', '--owner=0', '--group=0', '--file', `${archive}.partial`, '-C', staging, name]);
    renameSync(`${archive}.partial`, archive);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return archive;
}

/**
 * The test's inventory: the example inventory's group_vars (so their wiring is what converges) with
 * one chroot host in every group, a second device host (agent-b) that is never converged but gets a
 * broker account and firewall rule, and the secrets in Ansible Vault files.
 */
async function writeInventory(
  work: string,
  root: string,
  opts: { secrets: Record<'database' | 'serverMqtt' | 'agentA' | 'agentB' | 'smb' | 'camera', string>; mqttPort: number; release: string; nodeArchive: string },
): Promise<{ hosts: string; vaultPassword: string }> {
  const dir = path.join(work, 'inventory');
  cpSync(path.join(ANSIBLE_DIR, 'inventories/example/group_vars'), path.join(dir, 'group_vars'), { recursive: true });
  // JSON is YAML: no quoting to get wrong.
  const yaml = (file: string, data: unknown) => {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(data, null, 2));
  };
  yaml(path.join(dir, 'hosts.yml'), {
    lawbox_server: { hosts: { [HOST]: null } },
    lawbox_agents: { hosts: { [HOST]: null, 'agent-b': null } },
    lawbox_kiosks: { hosts: { [HOST]: null } },
  });
  const signingKey = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
  yaml(path.join(dir, 'host_vars', HOST, 'main.yml'), {
    ansible_connection: 'community.general.chroot',
    ansible_host: root,
    // The chroot has no sudo; root becomes postgres with su.
    ansible_become_method: 'su',
    ansible_python_interpreter: '/usr/bin/python3',
    lan_address: '127.0.0.1',
    lawbox_server_name: 'localhost',
    lawbox_mqtt_port: opts.mqttPort,
    lawbox_release_archive: opts.release,
    lawbox_nodejs_archive: opts.nodeArchive,
    lawbox_agent_id: 'agent-a',
    lawbox_agent_devices: ['door-a', 'relay-a'],
    lawbox_agent_ffmpeg: false,
    lawbox_agent_trusted_keys: { 'test-key': signingKey },
    lawbox_agent_secrets: { 'camera-a': opts.secrets.camera },
    kiosk_url: 'https://localhost:8443/kiosk/lobby',
  });
  yaml(path.join(dir, 'host_vars', 'agent-b', 'main.yml'), { lan_address: '192.0.2.22', lawbox_agent_id: 'agent-b', lawbox_agent_devices: ['door-b'] });

  const vaults = [
    [path.join(dir, 'group_vars', 'lawbox_server', 'vault.yml'), { vault_lawbox_database_password: opts.secrets.database, vault_lawbox_mqtt_password: opts.secrets.serverMqtt, vault_backup_smb_password: opts.secrets.smb }],
    [path.join(dir, 'host_vars', HOST, 'vault.yml'), { vault_lawbox_agent_mqtt_password: opts.secrets.agentA }],
    [path.join(dir, 'host_vars', 'agent-b', 'vault.yml'), { vault_lawbox_agent_mqtt_password: opts.secrets.agentB }],
  ] as const;
  for (const [file, data] of vaults) yaml(file, data);
  const vaultPassword = path.join(work, 'vault-password');
  writeFileSync(vaultPassword, randomBytes(16).toString('hex'), { mode: 0o600 });
  await mustRun('ansible-vault', ['encrypt', '--vault-password-file', vaultPassword, ...vaults.map(([file]) => file)], { env: ansibleEnv() });
  return { hosts: path.join(dir, 'hosts.yml'), vaultPassword };
}

/** Mount points under `dir`, deepest first. */
function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1]?.replace(/\\040/g, ' ').replace(/\\134/g, '\\'))
    .filter((m): m is string => !!m && (m === dir || m.startsWith(`${dir}/`)))
    .sort((a, b) => b.length - a.length);
}

/** A run killed by its timeout cannot unmount: its successor does, then removes its work directory. */
function cleanUpAfterKilledRuns(): void {
  for (const name of readdirSync('/var/tmp')) {
    const pid = Number(new RegExp(`^${WORK_PREFIX}(\\d+)-`).exec(name)?.[1]);
    if (!pid || pid === process.pid || alive(pid)) continue;
    const dir = path.join('/var/tmp', name);
    new Chroot(path.join(dir, 'root')).dispose(dir);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A bookworm chroot with /proc, a private /dev/shm (PostgreSQL's shared memory) and the cached apt
 * archives mounted; /dev comes from debootstrap's device nodes, so nothing of the host's /dev is shared.
 */
class Chroot {
  private readonly exitHook = () => this.unmountAll();
  private postgres = false;

  constructor(readonly root: string) {}

  async create(): Promise<void> {
    process.once('exit', this.exitHook);
    await this.unpackRootfs();
    const archives = path.join(CACHE, 'apt-archives');
    mkdirSync(path.join(archives, 'partial'), { recursive: true });
    execFileSync('mount', ['-t', 'proc', 'proc', path.join(this.root, 'proc')]);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'mode=1777,size=256m', 'tmpfs', path.join(this.root, 'dev/shm')]);
    execFileSync('mount', ['--bind', archives, path.join(this.root, 'var/cache/apt/archives')]);
    // Package scripts must not start services: invoke-rc.d asks this and gets "forbidden".
    writeFileSync(path.join(this.root, 'usr/sbin/policy-rc.d'), '#!/bin/sh\nexit 101\n', { mode: 0o755 });
    cpSync('/etc/resolv.conf', path.join(this.root, 'etc/resolv.conf'));
  }

  /** From the cached rootfs when it is fresh; otherwise debootstrap (its .debs cached too), then cache the result. */
  private async unpackRootfs(): Promise<void> {
    const key = createHash('sha256').update([SUITE, MIRROR, ...BASE_PACKAGES].join('\n')).digest('hex').slice(0, 12);
    const rootfs = path.join(CACHE, 'rootfs', `${SUITE}-minbase-${key}.tar`);
    mkdirSync(this.root, { recursive: true });
    if (existsSync(rootfs) && Date.now() - statSync(rootfs).mtimeMs < ROOTFS_MAX_AGE_MS) {
      await mustRun('tar', ['--extract', '--numeric-owner', '--preserve-permissions', '--file', rootfs, '-C', this.root], { timeoutMs: 300_000 });
      return;
    }
    const debs = path.join(CACHE, 'debootstrap');
    mkdirSync(debs, { recursive: true });
    await mustRun('debootstrap', ['--variant=minbase', `--include=${BASE_PACKAGES.join(',')}`, `--cache-dir=${debs}`, SUITE, this.root, MIRROR], { timeoutMs: 600_000 });
    mkdirSync(path.dirname(rootfs), { recursive: true });
    await mustRun('tar', ['--create', '--numeric-owner', '--file', `${rootfs}.partial`, '-C', this.root, '.'], { timeoutMs: 300_000 });
    renameSync(`${rootfs}.partial`, rootfs);
  }

  /** The cluster, without TCP (the machine may run its own PostgreSQL on 5432): its socket is the chroot's. */
  async startPostgres(): Promise<void> {
    await mustRun('chroot', [this.root, 'pg_ctlcluster', '--skip-systemctl-redirect', '15', 'main', 'start', '--', '-o', "-c listen_addresses=''"]);
    this.postgres = true;
  }

  async stopPostgres(): Promise<void> {
    if (!this.postgres) return;
    await mustRun('chroot', [this.root, 'pg_ctlcluster', '--skip-systemctl-redirect', '15', 'main', 'stop', '-m', 'fast']);
    this.postgres = false;
  }

  /** The converged broker with its own configuration; resolves once it listens. */
  async startMosquitto(): Promise<ChildProcess> {
    mkdirSync(path.join(this.root, 'run/mosquitto'), { recursive: true });
    execFileSync('chroot', [this.root, 'chown', 'mosquitto:mosquitto', '/run/mosquitto'], { env: CHROOT_ENV });
    const broker = spawn('chroot', [this.root, '/usr/sbin/mosquitto', '-c', '/etc/mosquitto/mosquitto.conf'], { env: { ...CHROOT_ENV }, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`mosquitto did not start:\n${log}`)), 10_000);
      const watch = (chunk: Buffer) => {
        log += chunk;
        if (/mosquitto version [\d.]+ running/.test(log)) {
          clearTimeout(timer);
          resolve();
        }
      };
      broker.stdout.on('data', watch);
      broker.stderr.on('data', watch);
      broker.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`mosquitto exited with ${code}:\n${log}`));
      });
    });
    return broker;
  }

  /** Processes whose root is this chroot. */
  processes(): number[] {
    const pids: number[] = [];
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        if (readlinkSync(`/proc/${entry}/root`) === this.root) pids.push(Number(entry));
      } catch {
        // gone, or not ours to look at
      }
    }
    return pids;
  }

  private unmountAll(): void {
    for (const mount of mountsUnder(this.root)) {
      try {
        execFileSync('umount', [mount]);
      } catch {
        execFileSync('umount', ['--lazy', mount]);
      }
    }
  }

  /** Stops what runs in the chroot, unmounts, and removes the work directory unless a mount is left. */
  dispose(work: string): void {
    process.removeListener('exit', this.exitHook);
    if (this.postgres) {
      try {
        execFileSync('chroot', [this.root, 'pg_ctlcluster', '--skip-systemctl-redirect', '15', 'main', 'stop', '-m', 'immediate'], { env: CHROOT_ENV });
      } catch {
        // killed below with the rest
      }
    }
    for (const pid of this.processes()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    this.unmountAll();
    const left = mountsUnder(this.root);
    if (left.length > 0) throw new Error(`still mounted, ${work} kept: ${left.join(', ')}`);
    // --one-file-system: should a mount have slipped through, its contents are not deleted.
    execFileSync('rm', ['-rf', '--one-file-system', work]);
  }
}
