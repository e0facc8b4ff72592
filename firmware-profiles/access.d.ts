// Types for access.js (plain ESM, no build). Keep in step with schema/mqtt/agent-access.schema.json.

export interface TimeWindow {
  /** ISO weekdays, 1 = Monday … 7 = Sunday */
  days: number[];
  /** `HH:MM`, in the list's time zone, inclusive */
  from: string;
  /** `HH:MM`, exclusive; `24:00` for the end of the day */
  to: string;
}

export interface Credential {
  /** a card as upper-case hex, or a salted digest `sha256:<hex>` / `sm3:<hex>` (QR codes always) */
  credential: string;
  kind: 'card' | 'visitor_pass' | 'qr';
  /** an opaque reference such as `user:17`; never a name */
  holder?: string;
  doors: string[];
  /** required by the schema: access at all hours is spelled out, never implied */
  windows: TimeWindow[];
  valid_from?: string;
  valid_until?: string;
}

export interface Door {
  door: string;
  name?: string;
  /** the device that releases the lock */
  device: string;
  relay_channel?: number;
  /** devices whose card reads open this door */
  readers: string[];
  pulse_ms: number;
  /** what the lock does without power or control: fail_secure stays locked, fail_safe opens */
  fail_mode: 'fail_secure' | 'fail_safe';
}

export interface AccessList {
  version: number;
  agent: string;
  issued_at: string;
  expires_at?: string;
  /** IANA zone the windows are written in */
  timezone: string;
  /** base64; present when any credential is hashed */
  credential_salt?: string;
  doors: Door[];
  credentials: Credential[];
  signature: { alg: 'ed25519' | 'sm2'; key_id: string; value: string };
}

export type DigestAlg = 'sha256' | 'sm3';

/** Upper-case hex without separators, as the agent normalises every card read. */
export function canonicalCard(value: string): string;
/** `<alg>:` + hex(alg(salt ‖ UTF-8 value)); the salt is base64. */
export function credentialDigest(alg: DigestAlg, saltBase64: string, value: string): string;
/** JSON with object keys sorted at every depth (undefined members left out). */
export function canonicalJson(value: unknown): string;
/** The signed bytes of a list: canonical JSON of everything but its `signature`, UTF-8. */
export function signedBytes(list: object & { signature?: unknown }): Buffer;
