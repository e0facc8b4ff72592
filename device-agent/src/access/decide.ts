import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { canonicalCard, credentialDigest, signedBytes, type AccessList, type Credential, type Door, type TimeWindow } from '../../../firmware-profiles/access.js';

// The list format and its signed bytes are shared with the server that signs it (firmware-profiles/access.js);
// re-exported so the agent's modules and tests keep one import for everything about access lists.
export { canonicalCard, credentialDigest, signedBytes } from '../../../firmware-profiles/access.js';
export type { AccessList, Credential, Door, TimeWindow } from '../../../firmware-profiles/access.js';

/**
 * Door decisions made on the device host, from the access list the server last published (retained on
 * `lawbox/agent/<agent>/access`, schema `firmware-profiles/schema/mqtt/agent-access.schema.json`).
 * Nothing here waits on the network: a card read is decided from memory, so doors keep working while
 * the server or the broker is away, until the list itself expires.
 */

export type Reason = 'granted' | 'unknown_credential' | 'wrong_door' | 'outside_window' | 'not_yet_valid' | 'expired' | 'list_expired' | 'reader_not_assigned';

export interface Decision {
  granted: boolean;
  reason: Reason;
  door: Door | null;
}

const WEEKDAYS: Record<string, number> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };

/** Minutes since midnight and ISO weekday in the list's time zone (Asia/Shanghai for a firm in China). */
function zonedClock(format: Intl.DateTimeFormat, at: Date): { minute: number; weekday: number } {
  let hour = 0;
  let minute = 0;
  let weekday = 0;
  for (const part of format.formatToParts(at)) {
    if (part.type === 'hour') hour = Number(part.value) % 24;
    else if (part.type === 'minute') minute = Number(part.value);
    else if (part.type === 'weekday') weekday = WEEKDAYS[part.value] ?? 0;
  }
  return { minute: hour * 60 + minute, weekday };
}

const toMinute = (hhmm: string): number => {
  const [h, m] = hhmm.split(':').map(Number);
  return h! * 60 + m!;
};

function inWindow(windows: TimeWindow[], clock: { minute: number; weekday: number }): boolean {
  return windows.some((w) => w.days.includes(clock.weekday) && clock.minute >= toMinute(w.from) && clock.minute < toMinute(w.to));
}

/**
 * An index over one access list: a card read costs two map lookups and a scan of that credential's
 * windows, whatever the size of the list.
 */
export class AccessIndex {
  private readonly byReader: Map<string, Door>;
  private readonly credentials: Map<string, Credential>;
  private readonly clock: Intl.DateTimeFormat;
  private readonly expiresAt: number;
  private readonly hashAlgs: ('sha256' | 'sm3')[];

  constructor(readonly list: AccessList) {
    this.byReader = new Map(list.doors.flatMap((d) => d.readers.map((r) => [r, d] as const)));
    this.credentials = new Map(list.credentials.map((c) => [c.credential, c]));
    this.clock = new Intl.DateTimeFormat('en-US', { timeZone: list.timezone, hourCycle: 'h23', hour: '2-digit', minute: '2-digit', weekday: 'short' });
    this.expiresAt = list.expires_at ? new Date(list.expires_at).getTime() : Infinity;
    this.hashAlgs = (['sha256', 'sm3'] as const).filter((alg) => list.credentials.some((c) => c.credential.startsWith(`${alg}:`)));
  }

  private lookup(value: string): Credential | undefined {
    const card = canonicalCard(value);
    const plain = card ? this.credentials.get(card) : undefined;
    if (plain) return plain;
    if (!this.list.credential_salt) return undefined;
    for (const alg of this.hashAlgs) {
      // Hashed entries are looked up by the digest of the value as read (a QR token) or as a card.
      for (const v of new Set([value, card])) {
        const found = v ? this.credentials.get(credentialDigest(alg, this.list.credential_salt, v)) : undefined;
        if (found) return found;
      }
    }
    return undefined;
  }

  /** A credential presented at a reader: which door it is, and whether it opens. */
  decide(credential: string, reader: string, at: Date): Decision {
    const d = this.byReader.get(reader) ?? null;
    if (!d) return { granted: false, reason: 'reader_not_assigned', door: null };
    // Past its expiry the list no longer speaks for the firm: a revoked card must not open forever.
    if (at.getTime() >= this.expiresAt) return { granted: false, reason: 'list_expired', door: d };
    const c = this.lookup(credential);
    if (!c) return { granted: false, reason: 'unknown_credential', door: d };
    if (!c.doors.includes(d.door)) return { granted: false, reason: 'wrong_door', door: d };
    if (c.valid_from && at < new Date(c.valid_from)) return { granted: false, reason: 'not_yet_valid', door: d };
    if (c.valid_until && at >= new Date(c.valid_until)) return { granted: false, reason: 'expired', door: d };
    if (!inWindow(c.windows, zonedClock(this.clock, at))) return { granted: false, reason: 'outside_window', door: d };
    return { granted: true, reason: 'granted', door: d };
  }
}

export type VerifyResult = { ok: true } | { ok: false; reason: 'unknown_key' | 'bad_signature' | 'unsupported_alg' | 'expired' | 'not_newer' | 'other_agent' };

/**
 * Checks a list before the agent trusts it: signed (ed25519) by a key from the agent's own
 * configuration, addressed to this agent, not expired, and newer than the list it runs (a replayed
 * old list could restore revoked cards). SM2 signatures are not verified yet: such a list is refused.
 */
export function verifyAccessList(list: AccessList, keys: Map<string, KeyObject | string>, opts: { now: Date; agent: string; currentVersion?: number }): VerifyResult {
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
  if (list.agent !== opts.agent) return { ok: false, reason: 'other_agent' };
  if (opts.currentVersion !== undefined && list.version <= opts.currentVersion) return { ok: false, reason: 'not_newer' };
  return { ok: true };
}
