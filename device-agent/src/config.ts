import { createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { rootCertificates } from 'node:tls';
import { loadProfiles, type Profile } from '../../firmware-profiles/index.js';
import type { AgentConfig } from './agent.js';
import { withMedia } from './drivers/media/camera-media.js';
import { onvifCameraDriver } from './drivers/onvif/camera.js';
import { DRIVERS } from './drivers/registry.js';

export class AgentConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`lawbox-agent configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'AgentConfigError';
  }
}

/** Every variable the agent reads, with its default; `lawbox-agent --help` prints this table. */
export const AGENT_VARIABLES = [
  { name: 'LAWBOX_AGENT_ID', default: '(required)', meaning: 'this agent’s id, as enrolled on the server (a-z, 0-9, - and _)' },
  { name: 'LAWBOX_AGENT_BROKER_URL', default: '(required)', meaning: 'MQTT broker, e.g. mqtts://lawbox.lan:8883' },
  { name: 'LAWBOX_AGENT_USERNAME', default: '(unset)', meaning: 'MQTT username' },
  { name: 'LAWBOX_AGENT_PASSWORD', default: '(unset)', meaning: 'MQTT password (prefer LAWBOX_AGENT_PASSWORD_FILE)' },
  { name: 'LAWBOX_AGENT_PASSWORD_FILE', default: '(unset)', meaning: 'file holding the MQTT password (systemd LoadCredential)' },
  { name: 'LAWBOX_AGENT_CA_FILE', default: '(unset)', meaning: 'PEM CA certificate trusted for mqtts:// besides the system’s, e.g. the server’s local CA (<data>/tls/ca.crt)' },
  { name: 'LAWBOX_AGENT_STATE_DIR', default: './agent-state', meaning: 'event journal and the last access list' },
  { name: 'LAWBOX_AGENT_TRUSTED_KEYS', default: '(required)', meaning: 'directory of <key_id>.pem public keys that may sign access lists' },
  { name: 'LAWBOX_AGENT_SECRETS_DIR', default: '(unset)', meaning: 'directory of files named by a device’s secret_ref (camera passwords)' },
  { name: 'LAWBOX_AGENT_SERVER_URL', default: '(unset)', meaning: 'the lawbox server, e.g. https://lawbox.lan: camera live views and recordings are uploaded there' },
  { name: 'FFMPEG_PATH', default: '(search)', meaning: 'ffmpeg for cameras; else the ffmpeg-static package if installed, else ffmpeg on PATH' },
  { name: 'LAWBOX_AGENT_PROFILES_DIR', default: '(built in)', meaning: 'firmware-profiles directory with extra or newer device profiles' },
  { name: 'LAWBOX_AGENT_WATCHDOG', default: '(systemd)', meaning: 'set by systemd: NOTIFY_SOCKET and WATCHDOG_USEC enable sd_notify READY and pings' },
] as const;

const ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** Reads the environment once; every problem is reported together. */
export function loadAgentConfig(env: NodeJS.ProcessEnv): AgentConfig {
  const problems: string[] = [];
  const id = env.LAWBOX_AGENT_ID ?? '';
  if (!ID.test(id)) problems.push('LAWBOX_AGENT_ID must be 1-64 characters of a-z, 0-9, - and _, starting with a letter or digit');
  const brokerUrl = env.LAWBOX_AGENT_BROKER_URL ?? '';
  try {
    if (!['mqtt:', 'mqtts:', 'ws:', 'wss:'].includes(new URL(brokerUrl).protocol)) problems.push('LAWBOX_AGENT_BROKER_URL must be an mqtt://, mqtts://, ws:// or wss:// URL');
  } catch {
    problems.push('LAWBOX_AGENT_BROKER_URL must be an mqtt://, mqtts://, ws:// or wss:// URL');
  }
  let password = env.LAWBOX_AGENT_PASSWORD;
  if (env.LAWBOX_AGENT_PASSWORD_FILE) {
    try {
      password = readFileSync(env.LAWBOX_AGENT_PASSWORD_FILE, 'utf8').trim();
    } catch (err) {
      problems.push(`LAWBOX_AGENT_PASSWORD_FILE cannot be read: ${(err as Error).message}`);
    }
  }
  let ca: string[] | undefined;
  if (env.LAWBOX_AGENT_CA_FILE) {
    try {
      const pem = readFileSync(env.LAWBOX_AGENT_CA_FILE, 'utf8');
      new X509Certificate(pem);
      // Given to TLS, a CA list replaces the system's; the broker may also hold a public certificate.
      ca = [...rootCertificates, pem];
    } catch (err) {
      problems.push(`LAWBOX_AGENT_CA_FILE (${env.LAWBOX_AGENT_CA_FILE}) is not a readable PEM certificate: ${(err as Error).message}; copy the server's ca.crt there`);
    }
  }
  const trustedKeys = new Map<string, KeyObject>();
  const keyDir = env.LAWBOX_AGENT_TRUSTED_KEYS;
  if (!keyDir) problems.push('LAWBOX_AGENT_TRUSTED_KEYS must name a directory of <key_id>.pem public keys');
  else {
    try {
      for (const file of readdirSync(keyDir).filter((f) => f.endsWith('.pem'))) {
        try {
          trustedKeys.set(path.basename(file, '.pem'), createPublicKey(readFileSync(path.join(keyDir, file))));
        } catch (err) {
          problems.push(`${path.join(keyDir, file)} is not a public key: ${(err as Error).message}`);
        }
      }
      if (trustedKeys.size === 0) problems.push(`LAWBOX_AGENT_TRUSTED_KEYS (${keyDir}) holds no .pem public key: no access list could ever be trusted`);
    } catch (err) {
      problems.push(`LAWBOX_AGENT_TRUSTED_KEYS cannot be read: ${(err as Error).message}`);
    }
  }
  let profiles: Map<string, Profile> | undefined;
  try {
    profiles = loadProfiles(env.LAWBOX_AGENT_PROFILES_DIR || undefined);
  } catch (err) {
    problems.push(`device profiles${env.LAWBOX_AGENT_PROFILES_DIR ? ` in LAWBOX_AGENT_PROFILES_DIR (${env.LAWBOX_AGENT_PROFILES_DIR})` : ''} cannot be loaded: ${(err as Error).message}`);
  }
  const secretsDir = env.LAWBOX_AGENT_SECRETS_DIR;
  const serverUrl = env.LAWBOX_AGENT_SERVER_URL?.replace(/\/+$/, '') || null;
  if (serverUrl) {
    try {
      if (!['http:', 'https:'].includes(new URL(serverUrl).protocol)) problems.push('LAWBOX_AGENT_SERVER_URL must be an http:// or https:// URL');
    } catch {
      problems.push('LAWBOX_AGENT_SERVER_URL must be an http:// or https:// URL');
    }
  }
  if (problems.length) throw new AgentConfigError(problems);
  const stateDir = env.LAWBOX_AGENT_STATE_DIR ?? './agent-state';
  // Media goes to the server with the agent's own credential; without a server URL cameras only do PTZ.
  const media = serverUrl ? { serverUrl, username: env.LAWBOX_AGENT_USERNAME ?? id, password: password ?? '', workDir: path.join(stateDir, 'recordings') } : null;
  return {
    id,
    brokerUrl,
    username: env.LAWBOX_AGENT_USERNAME,
    password,
    ...(ca ? { ca } : {}),
    stateDir,
    trustedKeys,
    profiles,
    drivers: { ...DRIVERS, onvif: withMedia(onvifCameraDriver, media) },
    // Read when a device starts, so a rotated password needs no agent restart, only a device restart.
    secrets: (ref) => {
      if (!secretsDir || !/^[A-Za-z0-9._-]{1,64}$/.test(ref) || ref.startsWith('.')) return undefined;
      try {
        return readFileSync(path.join(secretsDir, ref), 'utf8').trim();
      } catch {
        return undefined;
      }
    },
  };
}
