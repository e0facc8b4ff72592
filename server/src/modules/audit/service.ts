import { createHash } from 'node:crypto';
import { sql, type Transaction } from 'kysely';
import type { Db } from '../../db/index.js';
import type { AuditRow, Database } from '../../db/schema.js';
import { announce } from '../realtime/hub.js';

export interface AuditEntry {
  at: Date;
  /** username of who acted, or `anonymous` / `system` */
  actor: string;
  /** dotted verb, e.g. `auth.login`, `user.create` */
  action: string;
  object?: string | null;
  result: 'success' | 'failure' | 'denied';
  sourceIp?: string | null;
  detail?: Record<string, unknown> | null;
}

export const GENESIS_HASH = '0'.repeat(64);
/** Any fixed number: the advisory lock that serialises appends across connections and processes. */
const AUDIT_APPEND_LOCK = 0x1a_b0_0a;

/**
 * Appends one record inside the caller's transaction, so the record exists if and only if the
 * change it describes was committed. The advisory lock makes appends strictly sequential: two
 * concurrent writers can never link to the same predecessor and fork the chain.
 */
export async function appendAudit(trx: Transaction<Database>, entry: AuditEntry): Promise<void> {
  await sql`select pg_advisory_xact_lock(${AUDIT_APPEND_LOCK})`.execute(trx);
  const last = await trx.selectFrom('audit_log').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1).executeTakeFirst();
  const anchor = last ? null : await trx.selectFrom('audit_anchor').select(['seq', 'hash']).executeTakeFirst();
  const prev = last ?? anchor;
  const row = {
    seq: Number(prev?.seq ?? 0) + 1,
    at: entry.at,
    actor: entry.actor,
    action: entry.action,
    object: entry.object ?? null,
    result: entry.result,
    source_ip: entry.sourceIp ?? null,
    detail: entry.detail ?? null,
    prev_hash: prev?.hash ?? GENESIS_HASH,
  };
  await trx
    .insertInto('audit_log')
    .values({ ...row, detail: row.detail === null ? null : JSON.stringify(row.detail), hash: auditHash(row) })
    .execute();
  await announce(trx, { topic: 'audit', data: { seq: row.seq, at: row.at.toISOString(), actor: row.actor, action: row.action, object: row.object, result: row.result } });
}

/** Writes an audit record on its own, for events that change nothing else (denials, failed logins). */
export async function recordAudit(db: Db, entry: AuditEntry): Promise<void> {
  await db.transaction().execute((trx) => appendAudit(trx, entry));
}

type Hashable = Omit<AuditRow, 'hash' | 'seq'> & { seq: number | string };

/** SM3 (GB/T 32905) over a canonical encoding of every field and the predecessor's hash. */
export function auditHash(row: Hashable): string {
  const material = canonicalJson([
    row.prev_hash,
    Number(row.seq),
    new Date(row.at).toISOString(),
    row.actor,
    row.action,
    row.object,
    row.result,
    row.source_ip,
    row.detail,
  ]);
  return createHash('sm3').update(material).digest('hex');
}

/** JSON with object keys sorted: jsonb does not keep key order, the hash must not depend on it. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export type AuditVerification =
  | { ok: true; rows: number; lastSeq: number }
  | { ok: false; rows: number; badSeq: number; reason: string };

/**
 * Walks the chain in seq order. A changed row breaks its own hash, a deleted row leaves a gap in
 * seq, and a reordering breaks the prev_hash links; the first such seq is reported.
 */
export async function verifyAuditChain(db: Db, batchSize = 5000): Promise<AuditVerification> {
  const anchor = await db.selectFrom('audit_anchor').select(['seq', 'hash']).executeTakeFirst();
  let expectedSeq = Number(anchor?.seq ?? 0) + 1;
  let prevHash = anchor?.hash ?? GENESIS_HASH;
  let rows = 0;
  for (;;) {
    const batch = await db
      .selectFrom('audit_log')
      .selectAll()
      .where('seq', '>=', expectedSeq)
      .orderBy('seq')
      .limit(batchSize)
      .execute();
    for (const row of batch) {
      const seq = Number(row.seq);
      if (seq !== expectedSeq) {
        return { ok: false, rows, badSeq: expectedSeq, reason: `record ${expectedSeq} is missing` };
      }
      if (row.prev_hash !== prevHash) {
        return { ok: false, rows, badSeq: seq, reason: `record ${seq} does not link to record ${seq - 1}` };
      }
      if (auditHash(row) !== row.hash) {
        return { ok: false, rows, badSeq: seq, reason: `record ${seq} was altered` };
      }
      prevHash = row.hash;
      expectedSeq = seq + 1;
      rows++;
    }
    if (batch.length < batchSize) break;
  }
  // Rows before the anchor, or a jump past the end, mean someone removed or re-numbered history.
  const stray = await db.selectFrom('audit_log').select('seq').where('seq', '<', Number(anchor?.seq ?? 0) + 1).limit(1).executeTakeFirst();
  if (stray) return { ok: false, rows, badSeq: Number(stray.seq), reason: `record ${stray.seq} lies before the chain anchor` };
  return { ok: true, rows, lastSeq: expectedSeq - 1 };
}

/**
 * Retention purge: removes records older than `before` (never newer than the 183-day legal minimum,
 * which the table's trigger enforces too) and moves the chain anchor to the last removed record.
 */
export async function purgeAudit(db: Db, before: Date): Promise<number> {
  return db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(${AUDIT_APPEND_LOCK})`.execute(trx);
    const last = await trx
      .selectFrom('audit_log')
      .select(['seq', 'hash'])
      .where('at', '<', before)
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    if (!last) return 0;
    await sql`select set_config('lawbox.audit_purge', 'on', true)`.execute(trx);
    const result = await trx.deleteFrom('audit_log').where('seq', '<=', last.seq).executeTakeFirst();
    await trx
      .insertInto('audit_anchor')
      .values({ seq: last.seq, hash: last.hash })
      .onConflict((oc) => oc.column('id').doUpdateSet({ seq: last.seq, hash: last.hash }))
      .execute();
    return Number(result.numDeletedRows);
  });
}
