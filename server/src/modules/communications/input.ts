import { createHash } from 'node:crypto';
import { parseCalendarDate, shanghaiDate } from '../../calendar.js';
import type { Db } from '../../db/index.js';
import { badRequest } from '../../errors.js';
import { canonicalJson } from '../audit/service.js';

/**
 * Input checks shared by the client-record modules (consultations, communications, invoices): what
 * the route schemas cannot say — blank text, times in the future, dates that are not days — and the
 * client a record of a matter is for.
 */

export const optionalText = (value: string | null | undefined): string | null => value?.trim() || null;

export function requiredText(value: string | null | undefined, field: string, zh: string): string {
  const v = optionalText(value);
  if (!v) throw badRequest('INVALID_INPUT', `${field} must not be blank. / 请填写${zh}。`);
  return v;
}

/** A date-time that has happened (a consultation, an interview, a meeting): not in the future, not before 1900. */
export function pastInstant(value: string, field: string, zh: string, now: Date): Date {
  const at = new Date(value);
  if (Number.isNaN(at.getTime()) || at.getUTCFullYear() < 1900) throw badRequest('INVALID_TIME', `${field} is not a valid date-time. / ${zh}格式不正确。`);
  if (at > now) throw badRequest('FUTURE_TIME', `${field} cannot be in the future. / ${zh}不能晚于现在。`);
  return at;
}

/** A calendar day (Beijing time) that has come: today or earlier. */
export function pastDay(value: string, field: string, zh: string, now: Date): string {
  const day = parseCalendarDate(value, field);
  if (day > shanghaiDate(now)) throw badRequest('FUTURE_DATE', `${field} cannot be after today. / ${zh}不能晚于今天。`);
  return day;
}

export const sha256Hex = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/** SHA-256 over a canonical JSON encoding (sorted keys): the fingerprint of a record as filed. */
export const recordHash = (value: unknown): string => sha256Hex(canonicalJson(value));

/** The registered clients of a matter: its client parties linked to a client record. */
export async function matterClientIds(db: Db, matterId: number): Promise<number[]> {
  const rows = await db.selectFrom('parties').select('client_id').distinct().where('matter_id', '=', matterId).where('role', '=', 'client').where('client_id', 'is not', null).orderBy('client_id').execute();
  return rows.map((r) => r.client_id!);
}

/**
 * The client a record is for: the one named, which must be a client of the matter, or the matter's
 * only client.
 */
export async function clientOfMatter(db: Db, matterId: number, clientId: number | undefined | null): Promise<number> {
  const clients = await matterClientIds(db, matterId);
  if (clientId != null) {
    if (!clients.includes(clientId)) throw badRequest('NOT_A_CLIENT_OF_MATTER', `Client ${clientId} is not a client of this matter. / 该客户不是本案委托人。`);
    return clientId;
  }
  if (clients.length === 1) return clients[0]!;
  if (clients.length === 0) {
    throw badRequest('NO_REGISTERED_CLIENT', 'This matter has no registered client to ask; link the client party to a client record first. / 本案委托人尚未关联客户档案，无法发送。');
  }
  throw badRequest('CLIENT_REQUIRED', 'This matter has several clients: name one (client_id). / 本案有多名委托人，请指定客户（client_id）。');
}
