import { createPublicKey, type KeyObject } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { AgentConfig } from './agent.js';

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
  { name: 'LAWBOX_AGENT_STATE_DIR', default: './agent-state', meaning: 'event journal and the last access list' },
  { name: 'LAWBOX_AGENT_TRUSTED_KEYS', default: '(required)', meaning: 'directory of <key_id>.pem public keys that may sign access lists' },
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
  if (problems.length) throw new AgentConfigError(problems);
  return { id, brokerUrl, username: env.LAWBOX_AGENT_USERNAME, password, stateDir: env.LAWBOX_AGENT_STATE_DIR ?? './agent-state', trustedKeys };
}
