import { randomBytes, randomInt } from 'node:crypto';
import type { Actor, ServiceContext } from '../../context.js';
import type { KioskRow } from '../../db/schema.js';
import { badRequest, conflict, notFound, unauthorized } from '../../errors.js';
import { appendAudit, recordAudit } from '../audit/service.js';
import { hashToken } from '../auth/service.js';
import { deviceProfiles } from '../devices/contract.js';
import { releaseSeatsOfKiosk } from '../meetings/service.js';
import { kioskRole, type KioskKind } from '../auth/roles.js';

/** An enrolled kiosk, as the auth plugin hands it to kiosk routes. */
export interface Kiosk {
  id: number;
  name: string;
  kind: KioskKind;
  roomId: string | null;
  idReaderDevice: string | null;
}

export interface KioskView {
  id: number;
  name: string;
  kind: KioskKind;
  room_id: string | null;
  id_reader_device: string | null;
  status: 'pending' | 'enrolled' | 'revoked';
  enrolment_expires_at: string | null;
  enrolled_at: string | null;
  last_seen_at: string | null;
  created_at: string;
}

export interface KioskInput {
  name: string;
  kind: KioskKind;
  room_id?: string | null;
  id_reader_device?: string | null;
}

/** Kiosk tokens carry a prefix so a leaked one is recognisable in logs and secret scanners. */
export const KIOSK_TOKEN_PREFIX = 'lbk_';
/** How long an enrolment code may wait to be typed in at the screen. */
export const ENROLMENT_CODE_HOURS = 24;
/** Letters and digits that cannot be mistaken for each other on a screen or over the phone. */
const CODE_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
const CODE_LENGTH = 8;

/** An 8-character code a person types or reads out (enrolment codes, visitor invitation codes): ~40 bits. */
export function newShortCode(): string {
  return Array.from({ length: CODE_LENGTH }, () => CODE_ALPHABET[randomInt(CODE_ALPHABET.length)]).join('');
}

/** An enrolment code as typed: case, spaces and dashes do not matter. */
export const normalizeEnrolmentCode = (code: string) => code.toUpperCase().replace(/[\s-]/g, '');

export function presentKiosk(row: KioskRow): KioskView {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind,
    room_id: row.room_id,
    id_reader_device: row.id_reader_device,
    status: row.revoked_at ? 'revoked' : row.token_hash ? 'enrolled' : 'pending',
    enrolment_expires_at: row.token_hash || row.revoked_at ? null : (row.enrolment_expires_at?.toISOString() ?? null),
    enrolled_at: row.enrolled_at?.toISOString() ?? null,
    last_seen_at: row.last_seen_at?.toISOString() ?? null,
    created_at: row.created_at.toISOString(),
  };
}

export const kioskActor = (kiosk: Pick<Kiosk, 'id' | 'kind'>, sourceIp: string | null): Actor => ({ userId: null, username: `kiosk:${kiosk.id}`, role: kioskRole(kiosk.kind), sourceIp });

export async function listKiosks(ctx: ServiceContext): Promise<KioskView[]> {
  return (await ctx.db.selectFrom('kiosks').selectAll().orderBy('id').execute()).map(presentKiosk);
}

async function checkInput(ctx: ServiceContext, input: KioskInput): Promise<void> {
  if (input.room_id && input.kind !== 'meeting') throw badRequest('ROOM_FOR_MEETING_KIOSKS', 'Only a meeting terminal sits in a meeting room. / 仅会议终端可关联会议室。');
  if (input.id_reader_device && input.kind !== 'lobby') throw badRequest('READER_FOR_LOBBY_KIOSKS', 'Only a lobby kiosk has an ID card reader. / 仅前台终端可关联身份证阅读器。');
  if (input.room_id && !(await ctx.db.selectFrom('meeting_rooms').select('id').where('id', '=', input.room_id).executeTakeFirst())) {
    throw badRequest('UNKNOWN_ROOM', `No meeting room "${input.room_id}". / 会议室不存在。`);
  }
  if (input.id_reader_device) {
    const device = await ctx.db.selectFrom('devices').select('profile').where('id', '=', input.id_reader_device).executeTakeFirst();
    if (!device) throw badRequest('UNKNOWN_DEVICE', `No device "${input.id_reader_device}". / 设备不存在。`);
    // A device not configured yet (known only from the broker) may be named; a configured one must be a reader.
    if (device.profile && (await deviceProfiles()).get(device.profile)?.protocol !== 'id_card_sam') throw badRequest('NOT_AN_ID_READER', `Device "${input.id_reader_device}" is not a resident ID card reader. / 该设备不是身份证阅读器。`);
  }
}

/**
 * Registers a kiosk and returns its one-time enrolment code: typed in at the screen (or opened as
 * `/kiosk/<kind>?enrol=<code>`), it becomes the kiosk's own token.
 */
export async function createKiosk(ctx: ServiceContext, actor: Actor, input: KioskInput): Promise<{ kiosk: KioskView; enrolment_code: string }> {
  await checkInput(ctx, input);
  const code = newShortCode();
  const now = ctx.clock.now();
  const row = await ctx.db.transaction().execute(async (trx) => {
    const row = await trx
      .insertInto('kiosks')
      .values({
        name: input.name,
        kind: input.kind,
        room_id: input.room_id ?? null,
        id_reader_device: input.id_reader_device ?? null,
        enrolment_code_hash: hashToken(code),
        enrolment_expires_at: new Date(now.getTime() + ENROLMENT_CODE_HOURS * 3_600_000),
        created_by: actor.userId,
        created_at: now,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    await appendAudit(trx, { at: now, actor: actor.username, action: 'kiosk.create', object: `kiosk:${row.id}`, result: 'success', sourceIp: actor.sourceIp, detail: { name: row.name, kind: row.kind, room_id: row.room_id } });
    return row;
  });
  return { kiosk: presentKiosk(row), enrolment_code: code };
}

/** A new enrolment code for a kiosk (a replaced screen, a lost code): the old token stops working at once. */
export async function renewEnrolment(ctx: ServiceContext, actor: Actor, id: number): Promise<{ kiosk: KioskView; enrolment_code: string }> {
  const code = newShortCode();
  const now = ctx.clock.now();
  const row = await ctx.db.transaction().execute(async (trx) => {
    const row = await trx
      .updateTable('kiosks')
      .set({ enrolment_code_hash: hashToken(code), enrolment_expires_at: new Date(now.getTime() + ENROLMENT_CODE_HOURS * 3_600_000), token_hash: null, enrolled_at: null, revoked_at: null })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
    if (!row) throw notFound('KIOSK_NOT_FOUND', `No kiosk ${id}. / 终端不存在。`);
    await appendAudit(trx, { at: now, actor: actor.username, action: 'kiosk.renew_enrolment', object: `kiosk:${id}`, result: 'success', sourceIp: actor.sourceIp, detail: null });
    return row;
  });
  return { kiosk: presentKiosk(row), enrolment_code: code };
}

export async function revokeKiosk(ctx: ServiceContext, actor: Actor, id: number): Promise<KioskView> {
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    const current = await trx.selectFrom('kiosks').select('revoked_at').where('id', '=', id).forUpdate().executeTakeFirst();
    if (!current) throw notFound('KIOSK_NOT_FOUND', `No kiosk ${id}. / 终端不存在。`);
    if (current.revoked_at) throw conflict('ALREADY_REVOKED', `Kiosk ${id} was revoked at ${current.revoked_at.toISOString()}. / 该终端已停用。`);
    const row = await trx.updateTable('kiosks').set({ revoked_at: now, token_hash: null, enrolment_code_hash: null }).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
    // A revoked terminal no longer holds a participant's seat: the participant can sign in elsewhere.
    const releasedSeats = await releaseSeatsOfKiosk(trx, id);
    await appendAudit(trx, { at: now, actor: actor.username, action: 'kiosk.revoke', object: `kiosk:${id}`, result: 'success', sourceIp: actor.sourceIp, detail: { released_seats: releasedSeats } });
    return presentKiosk(row);
  });
}

/** The screen's side of enrolment: a valid code becomes the kiosk's token (returned once) and is spent. */
export async function enrolKiosk(ctx: ServiceContext, code: string, sourceIp: string | null): Promise<{ token: string; kiosk: KioskView }> {
  const now = ctx.clock.now();
  const codeHash = hashToken(normalizeEnrolmentCode(code));
  const token = KIOSK_TOKEN_PREFIX + randomBytes(32).toString('base64url');
  const row = await ctx.db.transaction().execute(async (trx) => {
    const row = await trx
      .updateTable('kiosks')
      .set({ token_hash: hashToken(token), enrolled_at: now, last_seen_at: now, enrolment_code_hash: null, enrolment_expires_at: null })
      .where('enrolment_code_hash', '=', codeHash)
      .where('enrolment_expires_at', '>', now)
      .where('revoked_at', 'is', null)
      .returningAll()
      .executeTakeFirst();
    if (row) await appendAudit(trx, { at: now, actor: `kiosk:${row.id}`, action: 'kiosk.enrol', object: `kiosk:${row.id}`, result: 'success', sourceIp, detail: { kind: row.kind } });
    return row;
  });
  if (!row) {
    await recordAudit(ctx.db, { at: now, actor: 'anonymous', action: 'kiosk.enrol', object: null, result: 'failure', sourceIp, detail: null });
    throw unauthorized('INVALID_ENROLMENT_CODE', 'This enrolment code is wrong, used or expired; ask the system administrator for a new one. / 登记码无效、已使用或已过期，请联系系统管理员重新生成。');
  }
  return { token, kiosk: presentKiosk(row) };
}

/** How stale `last_seen_at` may get before a request refreshes it (one write a minute per kiosk at most). */
const SEEN_RESOLUTION_MS = 60_000;

/** The kiosk a token belongs to, if it is enrolled and not revoked. */
export async function resolveKiosk(ctx: ServiceContext, token: string): Promise<Kiosk | null> {
  if (!token.startsWith(KIOSK_TOKEN_PREFIX)) return null;
  const row = await ctx.db.selectFrom('kiosks').selectAll().where('token_hash', '=', hashToken(token)).where('revoked_at', 'is', null).executeTakeFirst();
  if (!row) return null;
  const now = ctx.clock.now();
  if (!row.last_seen_at || now.getTime() - row.last_seen_at.getTime() > SEEN_RESOLUTION_MS) {
    await ctx.db.updateTable('kiosks').set({ last_seen_at: now }).where('id', '=', row.id).execute();
  }
  return { id: row.id, name: row.name, kind: row.kind, roomId: row.room_id, idReaderDevice: row.id_reader_device };
}
