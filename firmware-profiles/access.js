// The access-list contract as code, shared by the server that signs lists and the agent that checks
// them: the bytes that are signed and the forms a credential takes in a list. Plain ESM without a
// build step, like index.js, so both import the same file by path and cannot drift apart.
import { createHash } from 'node:crypto';

/** A card number as every read is normalised before lookup: upper-case hex, no separators. */
export function canonicalCard(value) {
  return value.replace(/[^0-9a-fA-F]/g, '').toUpperCase();
}

/** The salted digest of a credential as the list stores hashed ones: `<alg>:` + hex(alg(salt ‖ value)). */
export function credentialDigest(alg, saltBase64, value) {
  return `${alg}:${createHash(alg).update(Buffer.from(saltBase64, 'base64')).update(value, 'utf8').digest('hex')}`;
}

/** JSON with object keys sorted at every depth: the bytes that are signed must not depend on key order. */
export function canonicalJson(value) {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** The bytes the server signs: the list without its signature, canonical JSON, UTF-8. */
export function signedBytes(list) {
  const { signature: _signature, ...rest } = list;
  return Buffer.from(canonicalJson(rest), 'utf8');
}
