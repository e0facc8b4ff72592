// @peculiar/x509 reads its ASN.1 schemas through decorators: the metadata polyfill must load first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { createPrivateKey, createPublicKey, webcrypto, X509Certificate, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import path from 'node:path';
import { createSecureContext, rootCertificates } from 'node:tls';
import type { Logger } from 'pino';
import type { Config } from './config.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const DAY_MS = 86_400_000;
/** The local CA outlives any appliance; replacing it means reinstalling it on every kiosk and agent. */
const CA_DAYS = 3650;
/** Two years: under the 825 days Apple platforms accept from a private CA. */
const SERVER_DAYS = 730;
/** The server certificate is made anew at a start this close to its end. */
const RENEW_DAYS = 30;
const EC_KEY = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;

/** What the HTTPS server and the MQTT broker present, and what the server's own clients trust. */
export interface ServerTls {
  cert: Buffer;
  key: Buffer;
  /** PEM the server's own clients (its MQTT link, the demo agent) trust: the local CA, or the admin's chain */
  trustFile: string;
  trust: Buffer;
  /** a name the certificate covers, for those own clients to check: 127.0.0.1 where it can */
  ownName: string;
  /** auto mode: the CA to install on kiosks, browsers and agents, with its SHA-256 fingerprint */
  localCa: { file: string; sha256: string } | null;
}

/** A certificate or key the server cannot use; the message names the file and what to do. */
export class TlsSetupError extends Error {
  readonly code = 'TLS_SETUP';
  override name = 'TlsSetupError';
}

/** The names and addresses this box is reached by, which the auto server certificate must cover. */
export interface BoxNames {
  dns: string[];
  ips: string[];
}

const DNS_NAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** The host name, its mDNS name (<name>.local), localhost, the loopbacks and every address of every interface. */
export function boxNames(): BoxNames {
  const host = hostname().toLowerCase();
  const short = host.split('.')[0] ?? host;
  const dns = [host, `${short}.local`, 'localhost'].filter((n) => DNS_NAME.test(n));
  const addresses = Object.values(networkInterfaces())
    .flatMap((list) => list ?? [])
    .filter((a) => !a.internal)
    .map((a) => a.address);
  return { dns: [...new Set(dns)], ips: [...new Set(['127.0.0.1', '::1', ...addresses])] };
}

/**
 * The certificate and key to serve, per LAWBOX_TLS: none (off), the admin's files, or the local CA's
 * server certificate (auto), made or renewed as needed.
 */
export async function prepareTls(config: Config, log: Logger, now = new Date()): Promise<ServerTls | null> {
  if (config.tlsMode === 'off') return null;
  if (config.tlsMode === 'files') return adminCertificate(config.tlsCertPath!, config.tlsKeyPath!, log, now);
  const dir = path.join(config.dataDir, 'tls');
  const local = await ensureLocalCertificates(dir, { now, names: boxNames() });
  if (local.created) log.warn({ ca_certificate: local.caFile, sha256: local.caSha256 }, 'TLS: a local certificate authority was made; install its certificate on every kiosk, browser and device agent (LAWBOX_AGENT_CA_FILE) / 已生成本地证书颁发机构，请在各终端、浏览器和设备代理上安装其证书');
  if (local.renewed) log.info({ certificate: path.join(dir, 'server.crt'), expires: local.serverExpires, names: local.names }, 'TLS: server certificate made by the local CA');
  log.info({ ca_certificate: local.caFile, sha256: local.caSha256, server_certificate_expires: local.serverExpires }, 'TLS with the local CA');
  if (local.caExpires.getTime() - now.getTime() < 365 * DAY_MS) {
    log.warn({ ca_certificate: local.caFile, expires: local.caExpires }, `TLS: the local CA expires within a year; move ${dir} aside before then and restart to make a new one, then install the new CA certificate everywhere`);
  }
  return { cert: local.cert, key: local.key, trustFile: local.caFile, trust: local.caCert, ownName: '127.0.0.1', localCa: { file: local.caFile, sha256: local.caSha256 } };
}

/** What the server's MQTT client trusts at an external mqtts:// broker: the system's CAs and the local CA if one was made. */
export function brokerTrust(dataDir: string): string[] {
  const localCa = path.join(dataDir, 'tls', 'ca.crt');
  return existsSync(localCa) ? [...rootCertificates, readFileSync(localCa, 'utf8')] : [...rootCertificates];
}

function adminCertificate(certPath: string, keyPath: string, log: Logger, now: Date): ServerTls {
  const cert = readFileSync(certPath);
  const key = readFileSync(keyPath);
  const leaf = parseCertificate(cert, certPath, 'Check LAWBOX_TLS_CERT: it must be the PEM certificate (chain) of this server.');
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw new TlsSetupError(`LAWBOX_TLS_KEY (${keyPath}) cannot be used with LAWBOX_TLS_CERT (${certPath}): ${(err as Error).message}. Give the private key that belongs to this certificate, in PEM.`);
  }
  const expires = new Date(leaf.validTo);
  if (expires.getTime() - now.getTime() < RENEW_DAYS * DAY_MS) log.warn({ certificate: certPath, expires }, 'TLS: the certificate in LAWBOX_TLS_CERT expires soon (or has expired): replace it and restart lawbox');
  const ownName = ownNameOf(leaf);
  if (!ownName) log.warn({ certificate: certPath }, 'TLS: the certificate names no host the server can check when it connects to its own MQTT broker');
  return { cert, key, trustFile: certPath, trust: cert, ownName: ownName ?? 'localhost', localCa: null };
}

/** The first name the certificate covers, preferring those that reach this box over the loopback. */
function ownNameOf(cert: X509Certificate): string | null {
  if (cert.checkIP('127.0.0.1')) return '127.0.0.1';
  if (cert.checkHost('localhost')) return 'localhost';
  const dns = (cert.subjectAltName ?? '')
    .split(', ')
    .filter((n) => n.startsWith('DNS:'))
    .map((n) => n.slice(4));
  const cn = /^CN=(.+)$/m.exec(cert.subject)?.[1];
  return [...dns, ...(cn ? [cn] : [])].find((n) => !n.includes('*') && cert.checkHost(n)) ?? null;
}

export interface LocalCertificates {
  cert: Buffer;
  key: Buffer;
  caFile: string;
  caCert: Buffer;
  /** colon-separated hex, as browsers and `openssl x509 -fingerprint -sha256` show it */
  caSha256: string;
  caExpires: Date;
  serverExpires: Date;
  names: string[];
  /** a new CA was made (nothing was there) */
  created: boolean;
  /** a new server certificate was made */
  renewed: boolean;
}

/**
 * The local CA and its server certificate under `dir`: made on first use, reused after. The server
 * certificate is made again when it is missing, expires within 30 days, was not issued by this CA, does
 * not match its key, or no longer covers every name in `names`. A file that cannot be read is an error.
 */
export async function ensureLocalCertificates(dir: string, opts: { now: Date; names: BoxNames }): Promise<LocalCertificates> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const files = { caCert: path.join(dir, 'ca.crt'), caKey: path.join(dir, 'ca.key'), cert: path.join(dir, 'server.crt'), key: path.join(dir, 'server.key') };
  const { now, names } = opts;

  let created = false;
  if (!existsSync(files.caCert) && !existsSync(files.caKey)) {
    const ca = await makeCa(now);
    writeAtomically(files.caKey, ca.key, 0o600);
    writeAtomically(files.caCert, ca.cert, 0o644);
    created = true;
  }
  const caHint = `Restore ${path.basename(files.caCert)} and ${path.basename(files.caKey)} from a backup, or move ${dir} aside to make a new CA (which must then be installed again on every kiosk, browser and agent).`;
  for (const file of [files.caCert, files.caKey]) {
    if (!existsSync(file)) throw new TlsSetupError(`the local CA is incomplete: ${file} is missing. ${caHint}`);
  }
  const caPem = readFileSync(files.caCert);
  const caCert = parseCertificate(caPem, files.caCert, caHint);
  const caKey = parsePrivateKey(readFileSync(files.caKey), files.caKey, caHint);
  if (!caCert.ca || !samePublicKey(caCert.publicKey, caKey)) throw new TlsSetupError(`${files.caCert} and ${files.caKey} do not form a CA (not a CA certificate, or not its key). ${caHint}`);
  const caExpires = new Date(caCert.validTo);
  if (caExpires <= now) throw new TlsSetupError(`the local CA ${files.caCert} expired on ${caExpires.toISOString()}. Move ${dir} aside and restart to make a new one, then install it on every kiosk, browser and agent.`);

  const serverHint = `Delete ${files.cert} and ${files.key}: lawbox makes them again from the local CA at the next start.`;
  let current: X509Certificate | null = null;
  if (existsSync(files.cert) && existsSync(files.key)) {
    const cert = parseCertificate(readFileSync(files.cert), files.cert, serverHint);
    const key = parsePrivateKey(readFileSync(files.key), files.key, serverHint);
    current = cert.checkPrivateKey(key) ? cert : null;
  }
  const stillGood =
    current !== null &&
    current.checkIssued(caCert) &&
    current.verify(caCert.publicKey) &&
    new Date(current.validTo).getTime() - now.getTime() > RENEW_DAYS * DAY_MS &&
    new Date(current.validFrom) <= now &&
    names.dns.every((n) => current!.checkHost(n, { subject: 'never' }) !== undefined) &&
    names.ips.every((ip) => current!.checkIP(ip) !== undefined);
  if (!stillGood) {
    const made = await makeServerCertificate(caPem, caKey, names, now);
    writeAtomically(files.key, made.key, 0o600);
    writeAtomically(files.cert, made.cert, 0o644);
  }
  const cert = readFileSync(files.cert);
  return {
    cert,
    key: readFileSync(files.key),
    caFile: files.caCert,
    caCert: caPem,
    caSha256: caCert.fingerprint256,
    caExpires,
    serverExpires: new Date(new X509Certificate(cert).validTo),
    names: [...names.dns, ...names.ips],
    created,
    renewed: !stillGood,
  };
}

async function makeCa(now: Date): Promise<{ cert: string; key: string }> {
  const keys = (await webcrypto.subtle.generateKey(EC_KEY, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: [{ CN: [`lawbox local CA ${hostname()}`] }, { O: ['lawbox'] }],
    keys,
    notBefore: backdated(now),
    notAfter: new Date(now.getTime() + CA_DAYS * DAY_MS),
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert: cert.toString('pem'), key: await privateKeyPem(keys.privateKey) };
}

async function makeServerCertificate(caPem: Buffer, caKey: KeyObject, names: BoxNames, now: Date): Promise<{ cert: string; key: string }> {
  const ca = new x509.X509Certificate(caPem);
  const signingKey = await webcrypto.subtle.importKey('pkcs8', caKey.export({ format: 'der', type: 'pkcs8' }), EC_KEY, false, ['sign']);
  const keys = (await webcrypto.subtle.generateKey(EC_KEY, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  // Never beyond the CA: a chain with an expired issuer is refused whatever the leaf says.
  const notAfter = new Date(Math.min(now.getTime() + SERVER_DAYS * DAY_MS, ca.notAfter.getTime()));
  const cert = await x509.X509CertificateGenerator.create({
    subject: [{ CN: [names.dns[0] ?? 'lawbox'] }, { O: ['lawbox'] }],
    issuer: ca.subject,
    publicKey: keys.publicKey,
    signingKey,
    notBefore: backdated(now),
    notAfter,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([...names.dns.map((value) => ({ type: 'dns' as const, value })), ...names.ips.map((value) => ({ type: 'ip' as const, value }))]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(ca),
    ],
  });
  return { cert: cert.toString('pem'), key: await privateKeyPem(keys.privateKey) };
}

/** An hour early, so a kiosk whose clock runs a little behind still accepts a certificate made just now. */
function backdated(now: Date): Date {
  return new Date(now.getTime() - 3_600_000);
}

async function privateKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

function parseCertificate(pem: Buffer, file: string, hint: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (err) {
    throw new TlsSetupError(`${file} is not a PEM certificate (${(err as Error).message}). ${hint}`);
  }
}

function parsePrivateKey(pem: Buffer, file: string, hint: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (err) {
    throw new TlsSetupError(`${file} is not a PEM private key (${(err as Error).message}). ${hint}`);
  }
}

function samePublicKey(publicKey: KeyObject, privateKey: KeyObject): boolean {
  const der = (k: KeyObject) => k.export({ format: 'der', type: 'spki' });
  return der(publicKey).equals(der(createPublicKey(privateKey)));
}

/** Written whole or not at all: a crash mid-write leaves the previous file. */
function writeAtomically(file: string, content: string, mode: number): void {
  const tmp = `${file}.tmp`;
  // A leftover temporary file (or a link planted in its place) is removed, and the new one is created
  // exclusively with its mode from the start: a private key is never readable, not even for a moment.
  rmSync(tmp, { force: true });
  writeFileSync(tmp, content, { mode, flag: 'wx' });
  renameSync(tmp, file);
}

/** For the server's own clients: a DNS name is sent as SNI and checked; an address is checked as the connected host. */
export function ownServername(tls: ServerTls): string | undefined {
  return isIP(tls.ownName) ? undefined : tls.ownName;
}
