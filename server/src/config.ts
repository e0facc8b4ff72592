import { existsSync, readFileSync } from 'node:fs';
import { BlockList, isIP } from 'node:net';
import path from 'node:path';

/**
 * The whole runtime configuration, read from the environment once at start.
 * Every problem is collected and reported together, so an admin fixes them in one pass.
 */
export interface Config {
  dataDir: string;
  databaseUrl: string | null;
  mqttUrl: string | null;
  mqttPort: number;
  mqttHost: string;
  httpHost: string;
  httpPort: number;
  /**
   * off: plain HTTP and MQTT; files: the admin's certificate (LAWBOX_TLS_CERT/KEY);
   * auto: a local CA and server certificate made on first run under <dataDir>/tls.
   */
  tlsMode: 'off' | 'auto' | 'files';
  tlsCertPath: string | null;
  tlsKeyPath: string | null;
  /** 64-hex-character key that seals private keys at rest (src/secrets.ts); null = kept in clear */
  masterKeyFile: string | null;
  /** addresses allowed to read /metrics */
  metricsNetworks: BlockList;
  backup: {
    /** file holding the backup encryption key (64 hex characters); null = backups cannot be made */
    keyFile: string | null;
    /** where scheduled backups are written */
    dir: string;
    /** second location scheduled backups are copied to: a local path (e.g. a mounted SMB share) or an rsync target host:/path */
    copyTo: string | null;
    /** backups older than this many days are pruned (the newest is always kept) */
    keepDays: number;
    /** the compliance self-check fails when the newest backup is older than this */
    maxAgeHours: number;
  };
  logLevel: string;
  passwordPolicy: PasswordPolicy;
  lockout: { threshold: number; minutes: number };
  session: { idleMinutes: number; absoluteHours: number };
  authRateLimitPerMinute: number;
  auditRetentionDays: number;
  accountInactiveDays: number;
  /** addresses from which administration (accounts, audit, system) is allowed */
  managementNetworks: BlockList;
}

export interface PasswordPolicy {
  enabled: boolean;
  minLength: number;
  /** how many of the four classes (lower, upper, digit, symbol) a password must use */
  minClasses: number;
  /** days before a password must be changed; 0 = never */
  maxAgeDays: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Cybersecurity Law art. 21: network logs are kept for at least six months. */
export const MIN_AUDIT_RETENTION_DAYS = 183;

/**
 * Whether a connecting address lies in one of the configured ranges. An IPv4 client of a dual-stack
 * socket shows as ::ffff:a.b.c.d, while the ranges are written in IPv4.
 */
export function addressIn(networks: BlockList, address: string): boolean {
  const ip = address.startsWith('::ffff:') ? address.slice(7) : address;
  return networks.check(ip, ip.includes(':') ? 'ipv6' : 'ipv4');
}

/** Only the box itself reads metrics unless an admin names the Prometheus host. */
const DEFAULT_METRICS_NETWORKS = '127.0.0.0/8,::1/128';

/** Loopback and the private ranges: administration stays on the firm's LAN unless an admin widens it. */
const DEFAULT_MANAGEMENT_NETWORKS = '127.0.0.0/8,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,::1/128,fc00::/7';

export const CONFIG_VARIABLES: { name: string; default: string; meaning: string }[] = [
  { name: 'LAWBOX_DATA_DIR', default: './data', meaning: 'embedded database and file store directory' },
  { name: 'DATABASE_URL', default: '(unset: embedded PGlite)', meaning: 'PostgreSQL connection string' },
  { name: 'MQTT_URL', default: '(unset: embedded broker)', meaning: 'external MQTT broker, e.g. mqtt://user:pass@host:1883' },
  { name: 'LAWBOX_MQTT_HOST', default: '0.0.0.0', meaning: 'address the embedded broker listens on' },
  { name: 'LAWBOX_MQTT_PORT', default: '1884', meaning: 'port of the embedded broker' },
  { name: 'LAWBOX_HTTP_HOST', default: '0.0.0.0', meaning: 'address the HTTP(S) server listens on' },
  { name: 'LAWBOX_HTTP_PORT', default: '8080', meaning: 'port of the HTTP(S) server' },
  { name: 'LAWBOX_TLS', default: 'off', meaning: 'off, or auto: make a local CA and server certificate on first run (HTTPS, MQTT over TLS, HSTS); set automatically to files when LAWBOX_TLS_CERT is given' },
  { name: 'LAWBOX_TLS_CERT', default: '(unset: plain HTTP)', meaning: 'PEM certificate chain; HTTPS when set with the key' },
  { name: 'LAWBOX_TLS_KEY', default: '(unset)', meaning: 'PEM private key of that certificate' },
  { name: 'LAWBOX_LOG_LEVEL', default: 'info', meaning: 'pino level: fatal error warn info debug trace silent' },
  { name: 'LAWBOX_PASSWORD_POLICY', default: 'on', meaning: 'on/off: enforce length, character classes and expiry' },
  { name: 'LAWBOX_PASSWORD_MIN_LENGTH', default: '8', meaning: 'minimum password length' },
  { name: 'LAWBOX_PASSWORD_MIN_CLASSES', default: '3', meaning: 'of lower, upper, digit, symbol (1-4)' },
  { name: 'LAWBOX_PASSWORD_MAX_AGE_DAYS', default: '90', meaning: 'days until a password must be changed; 0 = never' },
  { name: 'LAWBOX_LOCKOUT_THRESHOLD', default: '5', meaning: 'failed logins in a row that lock an account' },
  { name: 'LAWBOX_LOCKOUT_MINUTES', default: '15', meaning: 'how long a locked account stays locked' },
  { name: 'LAWBOX_SESSION_IDLE_MINUTES', default: '30', meaning: 'session ends after this long without a request' },
  { name: 'LAWBOX_SESSION_ABSOLUTE_HOURS', default: '12', meaning: 'session ends this long after login, whatever happens' },
  { name: 'LAWBOX_AUTH_RATE_LIMIT', default: '20', meaning: 'login/setup requests per minute per client address' },
  { name: 'LAWBOX_AUDIT_RETENTION_DAYS', default: '365', meaning: `audit records older than this are purged (≥ ${MIN_AUDIT_RETENTION_DAYS})` },
  { name: 'LAWBOX_MANAGEMENT_NETWORKS', default: DEFAULT_MANAGEMENT_NETWORKS, meaning: 'comma-separated CIDRs allowed to use administration routes' },
  { name: 'LAWBOX_ACCOUNT_INACTIVE_DAYS', default: '90', meaning: 'accounts unused this long are disabled; 0 = never' },
  { name: 'LAWBOX_METRICS_NETWORKS', default: DEFAULT_METRICS_NETWORKS, meaning: 'comma-separated CIDRs allowed to read /metrics (Prometheus)' },
  { name: 'DATABASE_PASSWORD_FILE', default: '(unset)', meaning: 'file holding the PostgreSQL password, put into DATABASE_URL (systemd LoadCredential)' },
  { name: 'MQTT_PASSWORD_FILE', default: '(unset)', meaning: 'file holding the MQTT password, put into MQTT_URL (systemd LoadCredential)' },
  { name: 'LAWBOX_MASTER_KEY_FILE', default: '(unset: keys in clear)', meaning: 'file with the 64-hex-character master key that encrypts signing keys at rest; keep a copy with the backup key' },
  { name: 'LAWBOX_BACKUP_KEY_FILE', default: '(unset: no backups)', meaning: 'file with the 64-hex-character backup encryption key (keep a copy off the box)' },
  { name: 'LAWBOX_BACKUP_DIR', default: '<LAWBOX_DATA_DIR>/backups', meaning: 'where scheduled backups are written' },
  { name: 'LAWBOX_BACKUP_COPY_TO', default: '(unset)', meaning: 'second location for each scheduled backup: a local path (mounted SMB share) or rsync host:/path' },
  { name: 'LAWBOX_BACKUP_KEEP_DAYS', default: '30', meaning: 'backups older than this are pruned; the newest is always kept' },
  { name: 'LAWBOX_BACKUP_MAX_AGE_HOURS', default: '26', meaning: 'the compliance self-check fails when the newest backup is older' },
  { name: 'LAWBOX_PDF_FONT', default: '(unset: bundled Noto Sans SC)', meaning: 'TrueType font with CJK glyphs for generated PDFs (contracts, notices)' },
];

type Env = Record<string, string | undefined>;

export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const text = (name: string): string | null => {
    const v = env[name]?.trim();
    return v ? v : null;
  };
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = text(name);
    if (raw === null) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${name}=${raw}: expected a whole number from ${min} to ${max}`);
      return fallback;
    }
    return n;
  };
  const flag = (name: string, fallback: boolean): boolean => {
    const raw = text(name)?.toLowerCase();
    if (raw === undefined || raw === null) return fallback;
    if (['on', 'true', '1', 'yes'].includes(raw)) return true;
    if (['off', 'false', '0', 'no'].includes(raw)) return false;
    problems.push(`${name}=${raw}: expected on or off`);
    return fallback;
  };
  const url = (name: string, protocols: string[]): string | null => {
    const raw = text(name);
    if (raw === null) return null;
    try {
      const u = new URL(raw);
      if (!protocols.includes(u.protocol)) {
        problems.push(`${name}: protocol ${u.protocol} not supported (use ${protocols.join(' or ')})`);
      }
    } catch {
      problems.push(`${name}: not a valid URL`);
    }
    return raw;
  };
  const file = (name: string): string | null => {
    const raw = text(name);
    if (raw !== null && !existsSync(raw)) problems.push(`${name}=${raw}: file not found`);
    return raw;
  };

  /** A 256-bit key in a file, checked now so a wrong file stops the start rather than the first signature. */
  const hexKeyFile = (name: string): string | null => {
    const keyFile = file(name);
    if (keyFile === null || !existsSync(keyFile)) return keyFile;
    if (!/^[0-9a-f]{64}$/i.test(readFileSync(keyFile, 'utf8').trim())) problems.push(`${name}=${keyFile}: expected 64 hexadecimal characters (make one with: openssl rand -hex 32)`);
    return keyFile;
  };

  /** A secret kept in a file (systemd LoadCredential) is put into the URL, so it never sits in the environment. */
  const withPassword = (urlValue: string | null, name: string, fileVar: string): string | null => {
    const passwordFile = file(fileVar);
    if (urlValue === null || passwordFile === null || !existsSync(passwordFile)) return urlValue;
    try {
      const password = readFileSync(passwordFile, 'utf8').trim();
      // An empty file is "no credential" (the unit's empty SetCredential default), not an empty password.
      if (!password) return urlValue;
      const u = new URL(urlValue);
      u.password = encodeURIComponent(password);
      return u.toString();
    } catch {
      problems.push(`${fileVar}: cannot put its password into ${name}`);
      return urlValue;
    }
  };

  const networks = (name: string, fallback: string): BlockList => {
    const list = new BlockList();
    for (const cidr of (text(name) ?? fallback).split(',').map((c) => c.trim()).filter(Boolean)) {
      const [address, bits] = cidr.split('/');
      const family = isIP(address ?? '');
      const prefix = Number(bits ?? (family === 6 ? 128 : 32));
      if (!family || !Number.isInteger(prefix) || prefix < 0 || prefix > (family === 6 ? 128 : 32)) {
        problems.push(`${name}: "${cidr}" is not an address or CIDR range`);
        continue;
      }
      list.addSubnet(address!, prefix, family === 6 ? 'ipv6' : 'ipv4');
    }
    return list;
  };

  const logLevel = text('LAWBOX_LOG_LEVEL') ?? 'info';
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    problems.push(`LAWBOX_LOG_LEVEL=${logLevel}: expected fatal, error, warn, info, debug, trace or silent`);
  }

  const config: Config = {
    dataDir: path.resolve(text('LAWBOX_DATA_DIR') ?? 'data'),
    databaseUrl: withPassword(url('DATABASE_URL', ['postgres:', 'postgresql:']), 'DATABASE_URL', 'DATABASE_PASSWORD_FILE'),
    mqttUrl: withPassword(url('MQTT_URL', ['mqtt:', 'mqtts:', 'ws:', 'wss:']), 'MQTT_URL', 'MQTT_PASSWORD_FILE'),
    mqttHost: text('LAWBOX_MQTT_HOST') ?? '0.0.0.0',
    mqttPort: int('LAWBOX_MQTT_PORT', 1884, 0, 65535),
    httpHost: text('LAWBOX_HTTP_HOST') ?? '0.0.0.0',
    httpPort: int('LAWBOX_HTTP_PORT', 8080, 0, 65535),
    tlsMode: 'off',
    tlsCertPath: file('LAWBOX_TLS_CERT'),
    tlsKeyPath: file('LAWBOX_TLS_KEY'),
    masterKeyFile: hexKeyFile('LAWBOX_MASTER_KEY_FILE'),
    metricsNetworks: networks('LAWBOX_METRICS_NETWORKS', DEFAULT_METRICS_NETWORKS),
    backup: {
      keyFile: file('LAWBOX_BACKUP_KEY_FILE'),
      dir: path.resolve(text('LAWBOX_BACKUP_DIR') ?? path.join(text('LAWBOX_DATA_DIR') ?? 'data', 'backups')),
      copyTo: text('LAWBOX_BACKUP_COPY_TO'),
      keepDays: int('LAWBOX_BACKUP_KEEP_DAYS', 30, 1, 3650),
      maxAgeHours: int('LAWBOX_BACKUP_MAX_AGE_HOURS', 26, 1, 24 * 365),
    },
    logLevel,
    passwordPolicy: {
      enabled: flag('LAWBOX_PASSWORD_POLICY', true),
      minLength: int('LAWBOX_PASSWORD_MIN_LENGTH', 8, 1, 128),
      minClasses: int('LAWBOX_PASSWORD_MIN_CLASSES', 3, 1, 4),
      maxAgeDays: int('LAWBOX_PASSWORD_MAX_AGE_DAYS', 90, 0, 3650),
    },
    lockout: {
      threshold: int('LAWBOX_LOCKOUT_THRESHOLD', 5, 1, 100),
      minutes: int('LAWBOX_LOCKOUT_MINUTES', 15, 1, 24 * 60),
    },
    session: {
      idleMinutes: int('LAWBOX_SESSION_IDLE_MINUTES', 30, 1, 24 * 60),
      absoluteHours: int('LAWBOX_SESSION_ABSOLUTE_HOURS', 12, 1, 24 * 7),
    },
    authRateLimitPerMinute: int('LAWBOX_AUTH_RATE_LIMIT', 20, 1, 10_000),
    auditRetentionDays: int('LAWBOX_AUDIT_RETENTION_DAYS', 365, MIN_AUDIT_RETENTION_DAYS, 365 * 100),
    accountInactiveDays: int('LAWBOX_ACCOUNT_INACTIVE_DAYS', 90, 0, 3650),
    managementNetworks: networks('LAWBOX_MANAGEMENT_NETWORKS', DEFAULT_MANAGEMENT_NETWORKS),
  };

  if ((config.tlsCertPath === null) !== (config.tlsKeyPath === null)) {
    problems.push('LAWBOX_TLS_CERT and LAWBOX_TLS_KEY must be set together');
  }
  const tls = text('LAWBOX_TLS')?.toLowerCase() ?? null;
  if (tls !== null && !['off', 'auto'].includes(tls)) problems.push(`LAWBOX_TLS=${tls}: expected off or auto (or set LAWBOX_TLS_CERT and LAWBOX_TLS_KEY)`);
  else if (config.tlsCertPath !== null && tls === 'auto') problems.push('LAWBOX_TLS=auto and LAWBOX_TLS_CERT are exclusive: choose a generated or your own certificate');
  config.tlsMode = config.tlsCertPath !== null ? 'files' : tls === 'auto' ? 'auto' : 'off';
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
