import { createPublicKey, verify, type KeyObject } from 'node:crypto';

/**
 * Door decisions made on the device host, from the access list the server last published (retained on
 * `lawbox/agent/<agent>/access`). Nothing here waits on the network: a card read is decided from memory,
 * so doors keep working while the server or the broker is away.
 */

export interface TimeWindow {
  /** ISO weekdays, 1 = Monday … 7 = Sunday */
  days: number[];
  /** `HH:MM`, Beijing time, inclusive */
  from: string;
  /** `HH:MM`, Beijing time, exclusive; `24:00` for the end of the day */
  to: string;
}

export interface Credential {
  /** the card number as the reader reports it, or a visitor pass code */
  credential: string;
  kind: 'card' | 'visitor_pass' | 'qr';
  doors: string[];
  /** absent or empty: any time */
  windows?: TimeWindow[];
  valid_from?: string;
  valid_until?: string;
}

export interface Door {
  door: string;
  device: string;
  relay_channel?: number;
  pulse_ms: number;
  /** what the lock does without power or control: fail_secure stays locked, fail_safe opens */
  fail_mode: 'fail_secure' | 'fail_safe';
}

export interface AccessList {
  version: number;
  issued_at: string;
  expires_at?: string;
  doors: Door[];
  credentials: Credential[];
  signature: { alg: 'ed25519'; key_id: string; value: string };
}

export type Reason = 'granted' | 'unknown_credential' | 'door_not_allowed' | 'outside_window' | 'not_yet_valid' | 'expired' | 'no_access_list' | 'unknown_door';

export interface Decision {
  granted: boolean;
  reason: Reason;
  door: Door | null;
}

const SHANGHAI_OFFSET_MS = 8 * 3_600_000;

/** Minutes since midnight and ISO weekday, both in Beijing time. */
function beijingClock(at: Date): { minute: number; weekday: number } {
  const local = new Date(at.getTime() + SHANGHAI_OFFSET_MS);
  const day = local.getUTCDay();
  return { minute: local.getUTCHours() * 60 + local.getUTCMinutes(), weekday: day === 0 ? 7 : day };
}

const toMinute = (hhmm: string): number => {
  const [h, m] = hhmm.split(':').map(Number);
  return h! * 60 + m!;
};

function inWindow(windows: TimeWindow[] | undefined, at: Date): boolean {
  if (!windows || windows.length === 0) return true;
  const { minute, weekday } = beijingClock(at);
  return windows.some((w) => w.days.includes(weekday) && minute >= toMinute(w.from) && minute < toMinute(w.to));
}

/**
 * An index over one access list: a card read costs two map lookups and a scan of that credential's
 * windows, whatever the size of the list.
 */
export class AccessIndex {
  private readonly doors: Map<string, Door>;
  private readonly credentials: Map<string, Credential>;

  constructor(readonly list: AccessList) {
    this.doors = new Map(list.doors.map((d) => [d.door, d]));
    this.credentials = new Map(list.credentials.map((c) => [c.credential, c]));
  }

  decide(credential: string, door: string, at: Date): Decision {
    const d = this.doors.get(door) ?? null;
    if (!d) return { granted: false, reason: 'unknown_door', door: null };
    const c = this.credentials.get(credential);
    if (!c) return { granted: false, reason: 'unknown_credential', door: d };
    if (!c.doors.includes(door)) return { granted: false, reason: 'door_not_allowed', door: d };
    if (c.valid_from && at < new Date(c.valid_from)) return { granted: false, reason: 'not_yet_valid', door: d };
    if (c.valid_until && at >= new Date(c.valid_until)) return { granted: false, reason: 'expired', door: d };
    if (!inWindow(c.windows, at)) return { granted: false, reason: 'outside_window', door: d };
    return { granted: true, reason: 'granted', door: d };
  }
}

/** JSON with object keys sorted at every depth: the bytes that are signed must not depend on key order. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** The bytes the server signs: the list without its signature, canonical JSON, UTF-8. */
export function signedBytes(list: Omit<AccessList, 'signature'> & { signature?: unknown }): Buffer {
  const { signature: _signature, ...rest } = list;
  return Buffer.from(canonicalJson(rest), 'utf8');
}

export type VerifyResult = { ok: true } | { ok: false; reason: 'unknown_key' | 'bad_signature' | 'unsupported_alg' | 'expired' | 'older_version' };

/**
 * Checks a list before the agent trusts it: signed (ed25519) by a key the agent was given, not
 * expired, and not older than the list it already holds (a replayed old list could restore revoked cards).
 */
export function verifyAccessList(list: AccessList, keys: Map<string, KeyObject | string>, opts: { now: Date; currentVersion?: number }): VerifyResult {
  if (list.signature?.alg !== 'ed25519') return { ok: false, reason: 'unsupported_alg' };
  const key = keys.get(list.signature.key_id);
  if (!key) return { ok: false, reason: 'unknown_key' };
  const publicKey = typeof key === 'string' ? createPublicKey(key) : key;
  let valid = false;
  try {
    valid = verify(null, signedBytes(list), publicKey, Buffer.from(list.signature.value, 'base64'));
  } catch {
    valid = false;
  }
  if (!valid) return { ok: false, reason: 'bad_signature' };
  if (list.expires_at && opts.now >= new Date(list.expires_at)) return { ok: false, reason: 'expired' };
  if (opts.currentVersion !== undefined && list.version < opts.currentVersion) return { ok: false, reason: 'older_version' };
  return { ok: true };
}
