import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Config } from './config.js';

/**
 * Private keys at rest (the door-list signing key, the platform and seal SM2 keys): sealed with
 * AES-256-GCM under the master key from LAWBOX_MASTER_KEY_FILE (a systemd credential), so a copy of the
 * database or of a backup alone signs nothing. The row's identity is the associated data, so a sealed
 * key cannot be moved to another row. Without a master key values stay in clear (the demo), and the
 * compliance self-check says so.
 */
export const SEALED_PREFIX = 'lbx1:';

export class MasterKeyError extends Error {
  readonly code = 'MASTER_KEY';
  override name = 'MasterKeyError';
}

const keys = new Map<string, Buffer>();

function masterKey(config: Config): Buffer | null {
  const file = config.masterKeyFile;
  if (file === null) return null;
  let key = keys.get(file);
  if (!key) {
    // config.ts checked the file's form at start; a file changed since then is read as it is now.
    const hex = readFileSync(file, 'utf8').trim();
    if (!/^[0-9a-f]{64}$/i.test(hex)) throw new MasterKeyError(`${file} is not 64 hexadecimal characters`);
    key = Buffer.from(hex, 'hex');
    keys.set(file, key);
  }
  return key;
}

export const isSealed = (stored: string) => stored.startsWith(SEALED_PREFIX);

/** Seals a secret for storage under `context` (e.g. `signing_keys:platform`); in clear when no master key is set. */
export function sealSecret(config: Config, plaintext: string, context: string): string {
  const key = masterKey(config);
  if (!key) return plaintext;
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(Buffer.from(context));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return SEALED_PREFIX + Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('base64');
}

/** The secret as stored, opened; a value in clear is returned as it is. */
export function openSecret(config: Config, stored: string, context: string): string {
  if (!isSealed(stored)) return stored;
  const key = masterKey(config);
  if (!key) throw new MasterKeyError(`${context} is encrypted at rest, but LAWBOX_MASTER_KEY_FILE is not set: give the server the master key it was sealed with`);
  const raw = Buffer.from(stored.slice(SEALED_PREFIX.length), 'base64');
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(context));
    decipher.setAuthTag(raw.subarray(raw.length - 16));
    return Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]).toString('utf8');
  } catch {
    throw new MasterKeyError(`${context} cannot be opened with the master key in ${config.masterKeyFile}: it was sealed with another key, or changed`);
  }
}

