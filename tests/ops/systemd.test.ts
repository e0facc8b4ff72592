import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { AGENT_VARIABLES } from '../../device-agent/src/config.js';
import { loadProfiles } from '../../firmware-profiles/index.js';
import { CONFIG_VARIABLES } from '../../server/src/config.js';
import { lawbox } from '../helpers/cli.js';

const systemdDir = fileURLToPath(new URL('../../systemd/', import.meta.url));
const examplesDir = path.join(systemdDir, 'examples');

/** The highest `systemd-analyze security` exposure each service may have (0 = locked down, 10 = none). */
const EXPOSURE_BOUNDS: Record<string, number> = {
  'lawbox.service': 2.0,
  // Needs real serial and USB devices through the dialout group, and systemd-notify as a child.
  'lawbox-agent.service': 3.5,
  'lawbox-backup.service': 2.0,
  'lawbox-retention.service': 2.0,
};

/** Where the Ansible role installs the commands the units run: stubbed in the verify root. */
const LAWBOX_COMMANDS = ['/usr/local/bin/lawbox', '/usr/local/bin/lawbox-agent'];

const analyzeMissing = spawnSync('systemd-analyze', ['--version']).error
  ? 'systemd-analyze is not installed (Debian package systemd): the units cannot be scored or verified here'
  : false;

interface Unit {
  /** key → every value, in order, across all sections (the keys used here are unique to one section) */
  settings: Map<string, string[]>;
}

function readUnit(dir: string, name: string): Unit {
  const settings = new Map<string, string[]>();
  for (const line of readFileSync(path.join(dir, name), 'utf8').split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (m) settings.set(m[1]!, [...(settings.get(m[1]!) ?? []), m[2]!]);
  }
  return { settings };
}

const unitNames = readdirSync(systemdDir).filter((f) => /\.(service|timer)$/.test(f)).sort();
const services = unitNames.filter((f) => f.endsWith('.service'));
const timers = unitNames.filter((f) => f.endsWith('.timer'));
/** Each unit with the example drop-ins that belong to it (examples/<unit>.d/*.conf). */
const dropIns = (name: string): Unit[] => {
  const dir = path.join(examplesDir, `${name}.d`);
  return existsSync(dir) ? readdirSync(dir).map((f) => readUnit(dir, f)) : [];
};

function analyze(args: string[]): { code: number | null; output: string } {
  const run = spawnSync('systemd-analyze', args, { encoding: 'utf8', env: { ...process.env, SYSTEMD_COLORS: '0', SYSTEMD_PAGER: '' } });
  if (run.error) throw run.error;
  return { code: run.status, output: `${run.stdout}${run.stderr}` };
}

function exposure(unitPath: string): number {
  const { output } = analyze(['security', '--offline=true', '--no-pager', unitPath]);
  const m = /Overall exposure level for \S+: (\d+(?:\.\d+)?)/.exec(output);
  if (!m) throw new Error(`no exposure level in the output of systemd-analyze security ${unitPath}:\n${output}`);
  return Number(m[1]);
}

t.test('every service stays within its exposure bound of systemd-analyze security', { skip: analyzeMissing }, async (t) => {
  t.same(services, Object.keys(EXPOSURE_BOUNDS).sort(), 'every service in systemd/ has a bound, and every bound a service');
  for (const name of services) {
    const score = exposure(path.join(systemdDir, name));
    t.comment(`${name}: exposure ${score}`);
    t.ok(score <= EXPOSURE_BOUNDS[name]!, `${name}: exposure ${score} ≤ ${EXPOSURE_BOUNDS[name]}`);
  }

  // The bound bites: the server without its sandbox scores far above it.
  const sandbox = /^(Protect|Private|Restrict|SystemCall|NoNewPrivileges|CapabilityBoundingSet|AmbientCapabilities|DevicePolicy|LockPersonality|RemoveIPC|UMask|ProcSubset)/;
  const weakened = readFileSync(path.join(systemdDir, 'lawbox.service'), 'utf8').split('\n').filter((l) => !sandbox.test(l)).join('\n');
  const dir = t.testdir({ 'lawbox.service': weakened });
  const weakScore = exposure(path.join(dir, 'lawbox.service'));
  t.ok(weakScore > EXPOSURE_BOUNDS['lawbox.service']!, `lawbox.service without its sandbox scores ${weakScore}, above the bound`);
});

/**
 * A root for `systemd-analyze verify --root=`: the host's own units (targets, modprobe@) and ours in
 * /etc/systemd/system, and every command the units run. verify insists that each executable exists;
 * the lawbox commands are stubs at their install paths, any other must exist on this host too.
 */
function verifyRoot(dir: string, withDropIns: boolean): void {
  const hostUnits = ['/usr/lib/systemd/system', '/lib/systemd/system'].find((d) => existsSync(d));
  if (!hostUnits) throw new Error('no systemd unit directory on this host');
  cpSync(hostUnits, path.join(dir, 'usr/lib/systemd/system'), { recursive: true, verbatimSymlinks: true });
  const etc = path.join(dir, 'etc/systemd/system');
  mkdirSync(etc, { recursive: true });
  for (const name of unitNames) cpSync(path.join(systemdDir, name), path.join(etc, name));
  if (withDropIns) cpSync(examplesDir, etc, { recursive: true });
  for (const command of new Set(unitNames.flatMap((n) => executables(readUnit(systemdDir, n))))) {
    if (!LAWBOX_COMMANDS.includes(command) && !existsSync(command)) throw new Error(`${command}, run by a unit, does not exist on this host`);
    const stub = path.join(dir, command);
    mkdirSync(path.dirname(stub), { recursive: true });
    writeFileSync(stub, '#!/bin/sh\n');
    chmodSync(stub, 0o755);
  }
}

/** The executables of a unit's Exec*= lines, without systemd's prefixes (-, +, @, !, :). */
const executables = (unit: Unit): string[] =>
  [...unit.settings].filter(([key]) => key.startsWith('Exec')).flatMap(([, values]) => values.map((v) => v.replace(/^[-+@!:]+/, '').split(/\s+/)[0]!));

t.test('systemd-analyze verify finds nothing to say about any unit, with or without the example drop-ins', { skip: analyzeMissing }, async (t) => {
  const roots = t.testdir({ plain: {}, 'with-drop-ins': {} });
  for (const withDropIns of [false, true]) {
    const root = path.join(roots, withDropIns ? 'with-drop-ins' : 'plain');
    verifyRoot(root, withDropIns);
    for (const name of unitNames) {
      const { output } = analyze(['verify', `--root=${root}`, name]);
      t.equal(output, '', `${name}${withDropIns ? ' with the example drop-ins' : ''}: verify prints nothing`);
    }
    if (!withDropIns) {
      // The root is a real check: without the command installed, verify objects.
      rmSync(path.join(root, 'usr/local/bin/lawbox'));
      t.match(analyze(['verify', `--root=${root}`, 'lawbox.service']).output, /lawbox is not executable/, 'verify notices a missing command');
    }
  }
});

t.test('secrets reach the processes only as credential files', async (t) => {
  const secretName = /(PASSWORD|TOKEN|_KEY)(_FILE)?$/;
  for (const name of services) {
    const units = [readUnit(systemdDir, name), ...dropIns(name)];
    const all = (key: string) => units.flatMap((u) => u.settings.get(key) ?? []);
    const environment = all('Environment')
      .flatMap((line) => line.split(/\s+/))
      .map((pair): [string, string] => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]);
    const loaded = all('LoadCredential').map((spec) => spec.split(':') as [string, string]);
    for (const [id, source] of loaded) {
      t.equal(source, `/etc/lawbox/credentials/${id}`, `${name}: credential ${id} comes from /etc/lawbox/credentials/${id}`);
      t.ok(environment.some(([, value]) => value === `%d/${id}`), `${name}: credential ${id} is passed as %d/${id}`);
    }
    for (const [variable, value] of environment) {
      if (secretName.test(variable)) t.match(value, /^(%d\/[a-z-]+)?$/, `${name}: ${variable} names a credential file, not a secret`);
      t.notMatch(value, /:\/\/[^/@\s]*:[^/@\s]*@/, `${name}: ${variable} holds no URL with a password`);
    }
    for (const spec of all('SetCredential')) {
      const [id, ...rest] = spec.split(':');
      // SetCredential= values are readable over D-Bus: only the empty default of an optional credential.
      t.equal(rest.join(':'), '\\n', `${name}: SetCredential=${id} is only the empty default`);
      t.ok(loaded.some(([l]) => l === id), `${name}: the default ${id} stands in for a LoadCredential=`);
    }
    const known = new Set<string>((name === 'lawbox-agent.service' ? AGENT_VARIABLES : CONFIG_VARIABLES).map((v) => v.name));
    for (const [variable] of environment) t.ok(known.has(variable), `${name}: ${variable} is a variable the program reads`);
  }
});

t.test('the units run lawbox commands that exist', async (t) => {
  const commands = services.flatMap((n) => [...readUnit(systemdDir, n).settings].filter(([key]) => key.startsWith('Exec')).flatMap(([, v]) => v));
  const lawboxArgs = commands.map((c) => c.split(/\s+/)).filter(([exe]) => exe === '/usr/local/bin/lawbox').map(([, ...args]) => args.filter((a) => !a.startsWith('-')));
  t.ok(lawboxArgs.length >= 4, 'serve, migrate, backup create and backup prune are all run');
  // One --help per parent command (each start loads the whole CLI): its Commands: list names the child.
  const parents = [...new Set(lawboxArgs.map((args) => args.slice(0, -1).join(' ')))];
  const helps = new Map(await Promise.all(parents.map(async (parent) => [parent, await lawbox([...parent.split(' ').filter(Boolean), '--help'], {})] as const)));
  for (const args of lawboxArgs) {
    const help = helps.get(args.slice(0, -1).join(' '))!;
    const listed = help.stdout.split('Commands:')[1] ?? '';
    t.match(listed, new RegExp(`^  ${args.at(-1)}\\b`, 'm'), `lawbox ${args.join(' ')} is a command${help.code === 0 ? '' : ` (lawbox ${args.slice(0, -1).join(' ')} --help failed: ${help.stderr.trim().split('\n').find((l) => /error/i.test(l)) ?? help.stderr.trim().split('\n')[0]})`}`);
  }
});

t.test('with the embedded database, backup and retention pause the server, and only a server they stopped is started again', async (t) => {
  /** The root-run ExecStartPre=+ and ExecStopPost=+ scripts, as sh receives them ($$ is systemd's $). */
  const pause = (name: string) => {
    const unit = readUnit(systemdDir, name);
    const script = (key: string) => {
      const line = (unit.settings.get(key) ?? []).find((l) => l.startsWith('+/bin/sh -c '));
      if (!line) throw new Error(`${name} has no ${key}=+/bin/sh -c '…'`);
      return line.slice(line.indexOf("'") + 1, line.lastIndexOf("'")).replaceAll('$$', '$');
    };
    return { before: script('ExecStartPre'), after: script('ExecStopPost') };
  };
  const backup = pause('lawbox-backup.service');
  t.same(pause('lawbox-retention.service'), backup, 'the retention unit pauses exactly as the backup unit does');

  // systemctl cannot run without systemd as PID 1: a stand-in records what the scripts ask of it.
  const dir = t.testdir({ bin: {}, run: {} });
  const log = path.join(dir, 'systemctl.log');
  writeFileSync(path.join(dir, 'bin', 'systemctl'), `#!/bin/sh\necho "$*" >> "${log}"\n[ "$1" != --quiet ] || exit "$SERVER_INACTIVE"\n`);
  chmodSync(path.join(dir, 'bin', 'systemctl'), 0o755);
  const night = (env: Record<string, string>) => {
    rmSync(log, { force: true });
    for (const script of [backup.before, backup.after]) {
      const run = spawnSync('/bin/sh', ['-c', script], { encoding: 'utf8', env: { PATH: `${path.join(dir, 'bin')}:/usr/bin:/bin`, RUNTIME_DIRECTORY: path.join(dir, 'run'), SERVER_INACTIVE: '0', ...env } });
      if (run.status !== 0) throw new Error(`the pause script failed: ${run.stderr}`);
    }
    rmSync(path.join(dir, 'run', 'server-stopped'), { force: true });
    return existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : [];
  };
  t.same(night({}), ['--quiet is-active lawbox.service', 'stop lawbox.service', 'start --no-block lawbox.service'], 'embedded: the running server is stopped, then started again');
  t.same(night({ SERVER_INACTIVE: '3' }), ['--quiet is-active lawbox.service'], 'embedded: a server an admin had stopped stays stopped');
  t.same(night({ DATABASE_URL: 'postgres:///lawbox' }), [], 'PostgreSQL: the server is not touched');
});

t.test('the timers run their service daily, and catch up after downtime', { skip: analyzeMissing }, async (t) => {
  t.same(timers, ['lawbox-backup.timer', 'lawbox-retention.timer'], 'a backup and a retention timer');
  for (const name of timers) {
    const timer = readUnit(systemdDir, name);
    const [calendar] = timer.settings.get('OnCalendar') ?? [];
    const { code, output } = analyze(['calendar', calendar ?? '']);
    t.equal(code, 0, `${name}: OnCalendar=${calendar} parses`);
    t.match(output, /Normalized form: \*-\*-\* \d\d:\d\d:\d\d\n/, `${name}: once a day at a fixed time`);
    t.same(timer.settings.get('Persistent'), ['true'], `${name}: a run missed while the box was off happens at boot`);
    const [service] = timer.settings.get('Unit') ?? [];
    t.ok(service && services.includes(service), `${name}: starts ${service}, a unit in systemd/`);
  }
});

// ---- udev rules: systemd 252's udevadm has no `verify`, so each rule is checked the way udev parses it.

const MATCH_ONLY = new Set(['ACTION', 'DEVPATH', 'KERNEL', 'KERNELS', 'SUBSYSTEM', 'SUBSYSTEMS', 'DRIVER', 'DRIVERS', 'ATTRS', 'TAGS', 'CONST', 'TEST', 'PROGRAM', 'RESULT']);
const ASSIGN_ONLY = new Set(['OWNER', 'GROUP', 'MODE', 'SECLABEL', 'RUN', 'LABEL', 'GOTO', 'IMPORT', 'OPTIONS']);
const EITHER = new Set(['NAME', 'SYMLINK', 'ENV', 'TAG', 'ATTR', 'SYSCTL']);
const NEEDS_ATTRIBUTE = new Set(['ATTR', 'ATTRS', 'ENV', 'SYSCTL', 'CONST', 'SECLABEL', 'IMPORT']);
const OPTIONAL_ATTRIBUTE = new Set(['TEST', 'RUN']);

interface UdevToken {
  key: string;
  attr: string | undefined;
  op: string;
  value: string;
}

/** One rule line → its tokens, or the reason udev would reject it. */
function parseUdevRule(line: string): UdevToken[] | string {
  const token = /\s*([A-Z_]+)(?:\{([^}]+)\})?\s*(==|!=|\+=|-=|:=|=)\s*"([^"]*)"\s*(?:,|$)/y;
  const tokens: UdevToken[] = [];
  while (token.lastIndex < line.length) {
    const at = token.lastIndex;
    const m = token.exec(line);
    if (!m) return `cannot parse at column ${at + 1}`;
    const [, key, attr, op, value] = m as unknown as [string, string, string | undefined, string, string];
    const matching = op === '==' || op === '!=';
    if (!MATCH_ONLY.has(key) && !ASSIGN_ONLY.has(key) && !EITHER.has(key)) return `unknown key ${key}`;
    if ((MATCH_ONLY.has(key) && !matching) || (ASSIGN_ONLY.has(key) && matching)) return `${key} cannot be used with ${op}`;
    if (NEEDS_ATTRIBUTE.has(key) !== (attr !== undefined) && !OPTIONAL_ATTRIBUTE.has(key)) return `${key} ${attr ? 'takes no' : 'needs an'} {attribute}`;
    tokens.push({ key, attr, op, value });
  }
  return tokens;
}

const rulesText = readFileSync(path.join(systemdDir, '70-lawbox-devices.rules'), 'utf8');
/** Active rules, and the commented example rules (`#KEY…`), both with their line numbers. */
const rules = rulesText.split('\n').flatMap((line, i) => {
  const example = /^#([A-Z]+[{=!+:-].*)$/.exec(line);
  if (example) return [{ line: i + 1, text: example[1]!, example: true }];
  return line.trim() === '' || line.startsWith('#') ? [] : [{ line: i + 1, text: line, example: false }];
});

t.test('the udev rules parse, and give the agent every reader and adapter the profiles name', async (t) => {
  t.type(parseUdevRule('KERNEL="ttyUSB*", GROUP="dialout"'), 'string', 'the checker rejects a match key used as an assignment');
  t.type(parseUdevRule('SUBSYSTEM=="tty" GROUP="dialout"'), 'string', 'the checker rejects a missing comma');

  const parsed: { tokens: UdevToken[]; example: boolean }[] = [];
  for (const rule of rules) {
    const tokens = parseUdevRule(rule.text);
    if (typeof tokens === 'string') {
      t.fail(`line ${rule.line}: ${tokens}`);
      continue;
    }
    parsed.push({ tokens, example: rule.example });
    for (const { key, attr, value } of tokens) {
      if (key === 'MODE') t.equal(value, '0660', `line ${rule.line}: devices are 0660, owner and group only`);
      if (key === 'GROUP') t.equal(value, 'dialout', `line ${rule.line}: the group is dialout, the agent's supplementary group`);
      if (key === 'SYMLINK') t.match(value, /^lawbox\/[a-z0-9-]+$/, `line ${rule.line}: names live under /dev/lawbox/`);
      if (attr === 'idVendor' || attr === 'idProduct') t.match(value, /^[0-9a-f]{4}$/, `line ${rule.line}: ${attr} is 4 lower-case hex digits, as sysfs writes it`);
    }
  }
  t.ok(parsed.some((r) => r.example), 'the commented examples are checked too');
  const labels = new Set(parsed.flatMap((r) => r.tokens.filter((k) => k.key === 'LABEL').map((k) => k.value)));
  for (const r of parsed) for (const k of r.tokens.filter((k) => k.key === 'GOTO')) t.ok(labels.has(k.value), `GOTO ${k.value} has its LABEL`);

  /** The active rule granting the group access to this vendor:product in a subsystem. */
  const grants = (subsystem: string, vendor: string, product: string) =>
    parsed.some(
      (r) =>
        !r.example &&
        r.tokens.some((k) => k.key === 'SUBSYSTEM' && k.value === subsystem) &&
        r.tokens.some((k) => k.attr === 'idVendor' && k.value === vendor) &&
        r.tokens.some((k) => k.attr === 'idProduct' && k.value === product) &&
        r.tokens.some((k) => k.key === 'GROUP'),
    );
  const hex = (id: string | number) => (typeof id === 'number' ? id.toString(16) : id.replace(/^0x/i, '')).toLowerCase().padStart(4, '0');
  for (const profile of loadProfiles().values()) {
    for (const transport of profile.transports) {
      // HID readers are opened through libusb: the USB device node needs the group.
      if (transport.type === 'hid') t.ok(grants('usb', hex(transport.vendor_id), hex(transport.product_id)), `${profile.id}: a rule opens ${hex(transport.vendor_id)}:${hex(transport.product_id)} to the agent`);
    }
    const usb = (profile.fingerprint?.usb ?? []) as { vendor_id: string | number; product_id: string | number }[];
    if (profile.transports.some((tr) => tr.type === 'serial')) {
      for (const id of usb) t.ok(grants('tty', hex(id.vendor_id), hex(id.product_id)), `${profile.id}: a rule covers its serial adapter ${hex(id.vendor_id)}:${hex(id.product_id)}`);
    }
  }
  for (const [chip, vendor, product] of [['CH340', '1a86', '7523'], ['FTDI', '0403', '6001'], ['CP210x', '10c4', 'ea60']] as const) {
    t.ok(grants('tty', vendor, product), `the ${chip} adapter (${vendor}:${product}) has a rule`);
  }
});
