import { sql, type Transaction } from 'kysely';
import { SYSTEM_ACTOR, type Actor, type ServiceContext } from '../../context.js';
import type { Db } from '../../db/index.js';
import type { Database } from '../../db/schema.js';
import { readSetting, writeSetting } from '../../db/settings.js';
import { badRequest, notFound } from '../../errors.js';
import type { Job } from '../../scheduler.js';
import { fileToArchive } from '../archive/filing.js';
import { appendAudit } from '../audit/service.js';
import { may, requirePermission } from '../auth/roles.js';
import { findVisibleClient } from '../clients/service.js';
import { assertMatterVisible } from '../matters/access.js';
import { announce } from '../realtime/hub.js';
import { sendDingtalk } from './channels/dingtalk.js';
import { sendEmail } from './channels/email.js';
import { SendError } from './channels/http.js';
import {
  applyChannelChange,
  carries,
  channelSettings,
  CHANNEL_SETTINGS_KEY,
  describeChange,
  EXTERNAL_CHANNELS,
  viewChannelSettings,
  type ChannelSettings,
  type ChannelSettingsChange,
  type ChannelSettingsView,
  type ExternalChannel,
} from './channels/settings.js';
import { sendSms } from './channels/sms.js';
import { sendWecom } from './channels/wecom.js';
import type { DeliveryStatus, NotificationChannel } from './tables.js';

/**
 * Notifications (T/ZSM 0038-2024 Z5.4.3, Z5.5.1a, Z5.5.2a, Z6.3.5): an outbox. `notify` writes the
 * notice and one delivery per recipient and channel in the caller's transaction, so a change that is
 * rolled back tells nobody anything. In-app delivery happens with the commit (the staff's realtime
 * topic, the client's portal); the external channels are sent by the delivery job, kicked right
 * after the commit and retried with backoff.
 */

export type NotificationEvent =
  | 'matter.accepted'
  | 'matter.lawyer_changed'
  | 'document.received'
  | 'deadline.reminder'
  | 'hearing.notice'
  | 'hearing.summary'
  | 'signature.request'
  | 'signature.code'
  | 'confirmation.request'
  | 'evaluation.invite'
  | 'invoice.status'
  | 'portal.link'
  | 'compliance.evaluation_due';

export const NOTIFICATION_EVENTS: readonly NotificationEvent[] = [
  'matter.accepted',
  'matter.lawyer_changed',
  'document.received',
  'deadline.reminder',
  'hearing.notice',
  'hearing.summary',
  'signature.request',
  'signature.code',
  'confirmation.request',
  'evaluation.invite',
  'invoice.status',
  'portal.link',
  'compliance.evaluation_due',
];

export interface NotificationInput {
  event: NotificationEvent;
  /** the client told of it: in the portal, and by the client's email and phone where those channels are on */
  client_id?: number | null;
  /** members of staff told of it: in the app (live), by their work email and phone, and in the firm's group robots */
  user_ids?: number[];
  matter_id?: number | null;
  title: string;
  body: string;
  /** where the notice leads, e.g. `/portal/sign/…`; made absolute in external messages when the base URL is set */
  link?: string | null;
  /** a second notice with the same key is not made (e.g. `deadline.reminder:<deadline>:<lead days>`) */
  dedupe_key?: string | null;
}

/**
 * Notices whose body is a credential for one person (a signing code, a portal access code): they go
 * only by the client's own email or phone, never to the portal list, a group robot or the archive.
 */
export const SECRET_EVENTS: ReadonlySet<NotificationEvent> = new Set(['signature.code', 'portal.link']);

/** The realtime topic that kicks the delivery of a committed notice (nobody may subscribe to it). */
export const OUTBOX_TOPIC = 'notifications.outbox';

/**
 * The mainland mobile number in a phone field (`+86 138-0013-8000` → `13800138000`), or null for a
 * landline: text messages and robot mentions need a mobile. (The same pattern as the masking in
 * clients/identifiers.ts.)
 */
export function mobileNumber(phone: string | null): string | null {
  return /^(?:\+86|0086|86)?(1\d{10})$/.exec(phone?.replace(/[\s\-()（）]/g, '') ?? '')?.[1] ?? null;
}

const TITLE_MAX = 200;
const BODY_MAX = 5000;

/**
 * Makes a notice in the caller's transaction: the notice, its staff recipients, and a delivery per
 * recipient × channel that is on and carries the event. Returns its id, or null when `dedupe_key`
 * was used before (nothing is made then).
 */
export async function notify(trx: Transaction<Database>, ctx: ServiceContext, input: NotificationInput): Promise<number | null> {
  const title = input.title.trim();
  const body = input.body.trim();
  if (!title || title.length > TITLE_MAX || body.length > BODY_MAX) {
    throw badRequest('INVALID_NOTIFICATION', `A notice needs a title of 1–${TITLE_MAX} characters and a body of at most ${BODY_MAX}. / 通知标题须为1–${TITLE_MAX}字，正文不超过${BODY_MAX}字。`);
  }
  const now = ctx.clock.now();
  const clientId = input.client_id ?? null;
  const matterId = input.matter_id ?? null;
  const secret = SECRET_EVENTS.has(input.event);
  if (secret && (clientId === null || input.user_ids?.length)) throw badRequest('INVALID_NOTIFICATION', `A ${input.event} notice goes to its client only. / 此类通知只发给客户本人。`);

  const inserted = await trx
    .insertInto('notifications')
    .values({ event: input.event, client_id: clientId, matter_id: matterId, title, body, link: input.link?.trim() || null, dedupe_key: input.dedupe_key ?? null, created_at: now })
    .onConflict((oc) => oc.column('dedupe_key').doNothing())
    .returning('id')
    .executeTakeFirst();
  if (!inserted) return null;
  const id = inserted.id;

  // Disabled accounts are not told anything: they cannot read it, and their addresses may be stale.
  const wanted = [...new Set(input.user_ids ?? [])];
  const staff = wanted.length
    ? await trx.selectFrom('users').select(['id', 'phone', 'email']).where('id', 'in', wanted).where('disabled', '=', false).orderBy('id').execute()
    : [];
  const client = clientId === null ? null : await trx.selectFrom('clients').select(['id', 'phone', 'email']).where('id', '=', clientId).executeTakeFirst();
  if (clientId !== null && !client) throw badRequest('UNKNOWN_CLIENT', `No client ${clientId}. / 客户不存在。`);
  const settings = await channelSettings(trx);
  const on = (channel: ExternalChannel) => carries(settings, channel, input.event);

  type Delivery = { channel: NotificationChannel; user_id: number | null; client_id: number | null };
  const deliveries: Delivery[] = [];
  for (const u of staff) {
    deliveries.push({ channel: 'in_app', user_id: u.id, client_id: null });
    if (u.email && on('email')) deliveries.push({ channel: 'email', user_id: u.id, client_id: null });
    if (mobileNumber(u.phone) && on('sms')) deliveries.push({ channel: 'sms', user_id: u.id, client_id: null });
  }
  if (client) {
    if (!secret) deliveries.push({ channel: 'in_app', user_id: null, client_id: client.id });
    if (client.email && on('email')) deliveries.push({ channel: 'email', user_id: null, client_id: client.id });
    if (mobileNumber(client.phone) && on('sms')) deliveries.push({ channel: 'sms', user_id: null, client_id: client.id });
  }
  // The group robots post in the firm's own groups: for notices to staff only.
  if (staff.length && !secret) {
    for (const channel of ['wecom', 'dingtalk'] as const) if (on(channel)) deliveries.push({ channel, user_id: null, client_id: null });
  }

  if (staff.length) await trx.insertInto('notification_recipients').values(staff.map((u) => ({ notification_id: id, user_id: u.id, read_at: null }))).execute();
  if (deliveries.length) {
    await trx
      .insertInto('notification_deliveries')
      .values(
        deliveries.map((d) =>
          // In-app is delivered by the commit itself: the notice is in the list and on the topic then.
          d.channel === 'in_app'
            ? { ...d, notification_id: id, status: 'sent' as const, attempts: 1, next_attempt_at: null, sent_at: now, created_at: now }
            : { ...d, notification_id: id, status: 'pending' as const, next_attempt_at: now, created_at: now },
        ),
      )
      .execute();
  }
  for (const u of staff) await announce(trx, { topic: `user:${u.id}`, data: { type: 'notification', id, event: input.event, title, matter_id: matterId } });
  const external = deliveries.filter((d) => d.channel !== 'in_app');
  if (external.length) await announce(trx, { topic: OUTBOX_TOPIC, data: { id } });

  // Z6.3.5: what the system told the client or the team about a matter is part of its file.
  if (matterId !== null && !secret) {
    await fileToArchive(trx, ctx, { matter_id: matterId, kind: 'notice', title, source: 'notification', source_id: id, sha256: null, filed_by: null });
  }
  await appendAudit(trx, {
    at: now,
    actor: SYSTEM_ACTOR.username,
    action: 'notification.create',
    object: `notification:${id}`,
    result: 'success',
    detail: { event: input.event, matter_id: matterId, client_id: clientId, users: staff.map((u) => u.id), channels: [...new Set(external.map((d) => d.channel))] },
  });
  return id;
}

/** The external channels that would carry `event` now (e.g. whether a signing code can reach the client at all). */
export async function channelsFor(db: Db, event: NotificationEvent): Promise<ExternalChannel[]> {
  const settings = await channelSettings(db);
  return EXTERNAL_CHANNELS.filter((c) => carries(settings, c, event));
}

// ---------------------------------------------------------------------------------------------
// In the app: a member of staff's own notices

export interface NoticeView {
  id: number;
  event: string;
  title: string;
  body: string;
  link: string | null;
  matter: { id: number; number: string } | null;
  created_at: string;
  read_at: string | null;
}

const MAX_LISTED = 100;

export interface NoticeFilter {
  unread?: boolean;
  /** notices older than this one (the last id of the previous page) */
  before_id?: number;
  limit?: number;
}

export async function listMyNotifications(ctx: ServiceContext, actor: Actor, filter: NoticeFilter): Promise<{ items: NoticeView[]; unread: number }> {
  const userId = signedInUser(actor);
  let q = ctx.db
    .selectFrom('notification_recipients as r')
    .innerJoin('notifications as n', 'n.id', 'r.notification_id')
    .leftJoin('matters as m', 'm.id', 'n.matter_id')
    .select(['n.id', 'n.event', 'n.title', 'n.body', 'n.link', 'n.matter_id', 'm.number as matter_number', 'n.created_at', 'r.read_at'])
    .where('r.user_id', '=', userId);
  if (filter.unread) q = q.where('r.read_at', 'is', null);
  if (filter.before_id !== undefined) q = q.where('n.id', '<', filter.before_id);
  const rows = await q.orderBy('n.id', 'desc').limit(Math.min(filter.limit ?? 50, MAX_LISTED)).execute();
  const { unread } = await ctx.db
    .selectFrom('notification_recipients')
    .select((eb) => eb.fn.countAll<number>().as('unread'))
    .where('user_id', '=', userId)
    .where('read_at', 'is', null)
    .executeTakeFirstOrThrow();
  return {
    items: rows.map((r) => ({
      id: r.id,
      event: r.event,
      title: r.title,
      body: r.body,
      link: r.link,
      matter: r.matter_id !== null && r.matter_number !== null ? { id: r.matter_id, number: r.matter_number } : null,
      created_at: r.created_at.toISOString(),
      read_at: r.read_at?.toISOString() ?? null,
    })),
    unread: Number(unread),
  };
}

function signedInUser(actor: Actor): number {
  if (actor.userId === null) throw badRequest('NOT_A_USER', 'Only a signed-in member of staff has notices here. / 仅登录的工作人员可查看通知。');
  return actor.userId;
}

const notificationNotFound = (id: number) => notFound('NOTIFICATION_NOT_FOUND', `No notice ${id}, or it is not for you. / 通知不存在或不是发给您的。`);

/** Marks one of the actor's notices read (`ids`), or all of them (no ids); returns how many changed. */
export async function markMyNotificationsRead(ctx: ServiceContext, actor: Actor, ids: number[] | null): Promise<{ marked: number }> {
  const userId = signedInUser(actor);
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    if (ids) {
      const mine = await trx.selectFrom('notification_recipients').select('notification_id').where('user_id', '=', userId).where('notification_id', 'in', ids).execute();
      const missing = ids.find((id) => !mine.some((m) => m.notification_id === id));
      if (missing !== undefined) throw notificationNotFound(missing);
    }
    let q = trx.updateTable('notification_recipients').set({ read_at: now }).where('user_id', '=', userId).where('read_at', 'is', null);
    if (ids) q = q.where('notification_id', 'in', ids);
    const marked = await q.returning('notification_id').execute();
    if (marked.length) {
      await appendAudit(trx, { at: now, actor: actor.username, action: 'notification.read', object: ids?.length === 1 ? `notification:${ids[0]}` : null, result: 'success', sourceIp: actor.sourceIp, detail: { notifications: marked.map((m) => m.notification_id) } });
      await announce(trx, { topic: `user:${userId}`, data: { type: 'notification.read', ids: marked.map((m) => m.notification_id) } });
    }
    return { marked: marked.length };
  });
}

// ---------------------------------------------------------------------------------------------
// The client's portal

export interface PortalNoticeView {
  id: number;
  event: string;
  title: string;
  body: string;
  link: string | null;
  matter_number: string | null;
  created_at: string;
  read_at: string | null;
}

/** The client's notices, newest first (codes sent to the client are not listed: they went by email or SMS only). */
export async function listPortalNotices(ctx: ServiceContext, clientId: number, filter: Omit<NoticeFilter, 'unread'> & { unread?: boolean }): Promise<{ items: PortalNoticeView[]; unread: number }> {
  const base = ctx.db.selectFrom('notifications as n').where('n.client_id', '=', clientId).where('n.event', 'not in', [...SECRET_EVENTS]);
  let q = base.leftJoin('matters as m', 'm.id', 'n.matter_id').select(['n.id', 'n.event', 'n.title', 'n.body', 'n.link', 'm.number as matter_number', 'n.created_at', 'n.client_read_at']);
  if (filter.unread) q = q.where('n.client_read_at', 'is', null);
  if (filter.before_id !== undefined) q = q.where('n.id', '<', filter.before_id);
  const rows = await q.orderBy('n.id', 'desc').limit(Math.min(filter.limit ?? 50, MAX_LISTED)).execute();
  const { unread } = await base.select((eb) => eb.fn.countAll<number>().as('unread')).where('n.client_read_at', 'is', null).executeTakeFirstOrThrow();
  return {
    items: rows.map((r) => ({ id: r.id, event: r.event, title: r.title, body: r.body, link: r.link, matter_number: r.matter_number, created_at: r.created_at.toISOString(), read_at: r.client_read_at?.toISOString() ?? null })),
    unread: Number(unread),
  };
}

/** The client has read a notice: kept as the record that the client was informed (Z5.5.1a). */
export async function markPortalNoticeRead(ctx: ServiceContext, actor: Actor, clientId: number, id: number): Promise<{ read_at: string }> {
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    const row = await trx
      .selectFrom('notifications')
      .select(['id', 'client_read_at', 'matter_id'])
      .where('id', '=', id)
      .where('client_id', '=', clientId)
      .where('event', 'not in', [...SECRET_EVENTS])
      .forUpdate()
      .executeTakeFirst();
    if (!row) throw notFound('NOTICE_NOT_FOUND', `No notice ${id} for you. / 没有这条通知。`);
    if (row.client_read_at) return { read_at: row.client_read_at.toISOString() };
    await trx.updateTable('notifications').set({ client_read_at: now }).where('id', '=', id).execute();
    await appendAudit(trx, { at: now, actor: actor.username, action: 'notification.client_read', object: `notification:${id}`, result: 'success', sourceIp: actor.sourceIp, detail: { client_id: clientId, matter_id: row.matter_id } });
    return { read_at: now.toISOString() };
  });
}

// ---------------------------------------------------------------------------------------------
// A member of staff's own work phone and email

export interface ContactView {
  phone: string | null;
  email: string | null;
}

const PHONE = /^\+?[0-9][0-9 ()-]{4,24}$/;
const EMAIL = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+\.[^\s@<>()[\]\\,;:"]+$/;

export function cleanPhone(value: string | null): string | null {
  const v = value?.trim() || null;
  if (v !== null && !PHONE.test(v)) throw badRequest('INVALID_PHONE', 'A phone number has digits, spaces, brackets and dashes, 5–25 of them. / 电话号码格式不正确。');
  return v;
}

export function cleanEmail(value: string | null): string | null {
  const v = value?.trim() || null;
  if (v !== null && (v.length > 254 || !EMAIL.test(v))) throw badRequest('INVALID_EMAIL', 'That is not an email address. / 电子邮箱格式不正确。');
  return v;
}

export async function myContact(ctx: ServiceContext, actor: Actor): Promise<ContactView> {
  const userId = signedInUser(actor);
  return ctx.db.selectFrom('users').select(['phone', 'email']).where('id', '=', userId).executeTakeFirstOrThrow();
}

/** Sets one's own work phone and email: the phone is what clients are given with a matter-accepted notice. */
export async function updateMyContact(ctx: ServiceContext, actor: Actor, input: ContactView): Promise<ContactView> {
  const userId = signedInUser(actor);
  const next = { phone: cleanPhone(input.phone), email: cleanEmail(input.email) };
  const now = ctx.clock.now();
  await ctx.db.transaction().execute(async (trx) => {
    const before = await trx.selectFrom('users').select(['phone', 'email']).where('id', '=', userId).forUpdate().executeTakeFirstOrThrow();
    if (before.phone === next.phone && before.email === next.email) return;
    await trx.updateTable('users').set(next).where('id', '=', userId).execute();
    await appendAudit(trx, {
      at: now,
      actor: actor.username,
      action: 'user.contact',
      object: `user:${userId}`,
      result: 'success',
      sourceIp: actor.sourceIp,
      detail: { phone_changed: before.phone !== next.phone, email_changed: before.email !== next.email },
    });
  });
  return next;
}

// ---------------------------------------------------------------------------------------------
// Channels, as the administrator configures them

export async function getChannelSettings(ctx: ServiceContext, actor: Actor): Promise<ChannelSettingsView> {
  requirePermission(actor, 'notifications.configure');
  return viewChannelSettings(await channelSettings(ctx.db));
}

export async function updateChannelSettings(ctx: ServiceContext, actor: Actor, change: ChannelSettingsChange): Promise<ChannelSettingsView> {
  requirePermission(actor, 'notifications.configure');
  const now = ctx.clock.now();
  const after = await ctx.db.transaction().execute(async (trx) => {
    // The row lock keeps two administrators' changes from undoing each other's secrets.
    await trx.selectFrom('settings').select('key').where('key', '=', CHANNEL_SETTINGS_KEY).forUpdate().executeTakeFirst();
    const before = await channelSettings(trx);
    const after = applyChannelChange(before, change);
    await writeSetting(trx, CHANNEL_SETTINGS_KEY, after);
    await appendAudit(trx, { at: now, actor: actor.username, action: 'settings.notification_channels', object: `settings:${CHANNEL_SETTINGS_KEY}`, result: 'success', sourceIp: actor.sourceIp, detail: describeChange(before, after) });
    return after;
  });
  return viewChannelSettings(after);
}

/**
 * Sends a test message by one channel with the stored settings, on or off (so a channel can be tried
 * before it is switched on). Email and SMS go to the address given, the robots to their group.
 */
export async function testChannel(ctx: ServiceContext, actor: Actor, channel: ExternalChannel, to: string | null): Promise<{ sent: boolean; error: string | null }> {
  requirePermission(actor, 'notifications.configure');
  const address = channel === 'email' ? cleanEmail(to) : channel === 'sms' ? mobileNumber(cleanPhone(to)) : null;
  if ((channel === 'email' || channel === 'sms') && !address) throw badRequest('ADDRESS_REQUIRED', 'Give the email address or mobile number to send the test to. / 请填写测试消息的收件邮箱或手机号码。');
  const settings = await channelSettings(ctx.db);
  const firm = await firmName(ctx.db);
  const title = 'lawbox 通知渠道测试 / notification channel test';
  const body = `这是一条测试消息，收到即表示${CHANNEL_NAMES[channel]}配置正确。 / This is a test message: the channel works.`;
  let error: string | null = null;
  try {
    await sendBy(ctx, settings, channel, { title, body, link: null }, { address, mentions: [] }, firm);
  } catch (err) {
    error = errorText(err);
  }
  const now = ctx.clock.now();
  await ctx.db.transaction().execute((trx) =>
    appendAudit(trx, { at: now, actor: actor.username, action: 'notification.channel_test', object: `channel:${channel}`, result: error ? 'failure' : 'success', sourceIp: actor.sourceIp, detail: { error } }),
  );
  return { sent: error === null, error };
}

const CHANNEL_NAMES: Record<NotificationChannel, string> = { in_app: '站内通知', email: '电子邮件', sms: '短信', wecom: '企业微信', dingtalk: '钉钉' };

// ---------------------------------------------------------------------------------------------
// Delivery status of one notice

export interface DeliveryView {
  id: number;
  channel: NotificationChannel;
  recipient: { kind: 'user' | 'client' | 'group'; id: number | null; name: string | null };
  status: DeliveryStatus;
  attempts: number;
  last_error: string | null;
  next_attempt_at: string | null;
  sent_at: string | null;
}

export interface NotificationDeliveries {
  notification: { id: number; event: string; title: string; matter_id: number | null; client_id: number | null; created_at: string; client_read_at: string | null };
  deliveries: DeliveryView[];
}

/**
 * How a notice went out, channel by channel: for whoever may see its matter; a notice without one,
 * for its staff recipients and whoever may see its client.
 */
export async function notificationDeliveries(ctx: ServiceContext, actor: Actor, id: number): Promise<NotificationDeliveries> {
  const n = await ctx.db.selectFrom('notifications').selectAll().where('id', '=', id).executeTakeFirst();
  if (!n) throw notificationNotFound(id);
  if (n.matter_id !== null) {
    await assertMatterVisible(ctx.db, actor, n.matter_id).catch(() => {
      throw notificationNotFound(id);
    });
  } else {
    const recipient = await ctx.db.selectFrom('notification_recipients').select('user_id').where('notification_id', '=', id).where('user_id', '=', actor.userId ?? -1).executeTakeFirst();
    const client = !recipient && n.client_id !== null && may(actor, 'clients.read') ? await findVisibleClient(ctx.db, actor, n.client_id).catch(() => null) : null;
    if (!recipient && !client) throw notificationNotFound(id);
  }
  const rows = await ctx.db
    .selectFrom('notification_deliveries as d')
    .leftJoin('users as u', 'u.id', 'd.user_id')
    .leftJoin('clients as c', 'c.id', 'd.client_id')
    .selectAll('d')
    .select(['u.display_name as user_name', 'c.name as client_name'])
    .where('d.notification_id', '=', id)
    .orderBy('d.id')
    .execute();
  return {
    notification: {
      id: n.id,
      event: n.event,
      title: n.title,
      matter_id: n.matter_id,
      client_id: n.client_id,
      created_at: n.created_at.toISOString(),
      client_read_at: n.client_read_at?.toISOString() ?? null,
    },
    deliveries: rows.map((d) => ({
      id: d.id,
      channel: d.channel,
      recipient:
        d.user_id !== null
          ? { kind: 'user', id: d.user_id, name: d.user_name }
          : d.client_id !== null
            ? { kind: 'client', id: d.client_id, name: d.client_name }
            : { kind: 'group', id: null, name: CHANNEL_NAMES[d.channel] },
      status: d.status,
      attempts: d.attempts,
      last_error: d.last_error,
      next_attempt_at: d.next_attempt_at?.toISOString() ?? null,
      sent_at: d.sent_at?.toISOString() ?? null,
    })),
  };
}

// ---------------------------------------------------------------------------------------------
// Sending

/** Waits between attempts: a gateway that is down for a while is tried again later and later, then given up. */
export const RETRY_BACKOFF_MS = [60_000, 5 * 60_000, 30 * 60_000, 2 * 3_600_000, 12 * 3_600_000] as const;
/** The first try and one per backoff step. */
export const MAX_ATTEMPTS = RETRY_BACKOFF_MS.length + 1;
/**
 * A claimed delivery is due again after this long: a process that died while sending leaves it to
 * be sent by another (at least once rather than never). Far longer than one send can take (SMTP's
 * timeouts add up to under a minute).
 */
const CLAIM_LEASE_MS = 10 * 60_000;
/**
 * Deliveries are claimed one at a time: a claimed batch sent one after another could outlast the
 * lease behind a slow mail server, and another process would send its tail again. A firm's volume
 * makes the extra claim per message cost nothing.
 */
const BATCH = 1;
/** One run sends at most this many, so a long backlog does not hold one run for ever. */
const MAX_PER_RUN = 500;
const SMS_TEXT_MAX = 300;
const ERROR_MAX = 500;

/** A failure that another attempt cannot mend (no address, channel switched off). */
class Undeliverable extends Error {}

const errorText = (err: unknown): string => {
  const text = err instanceof SendError || err instanceof Undeliverable ? err.message : `${(err as Error)?.name ?? 'Error'}: ${(err as Error)?.message ?? String(err)}`;
  return text.length > ERROR_MAX ? `${text.slice(0, ERROR_MAX)}…` : text;
};

async function firmName(db: Db): Promise<string> {
  const name = ((await readSetting(db, 'firm')) as { name?: string } | undefined)?.name?.trim();
  // The sender's signature as Chinese messages carry it; a name with its own brackets (the demo's 【演示】) stands as it is.
  return !name ? '' : name.includes('】') ? name : `【${name}】`;
}

interface Message {
  title: string;
  body: string;
  link: string | null;
}

/** A link made absolute for a message read outside the appliance; dropped when no base URL is known. */
function absoluteLink(settings: ChannelSettings, link: string | null): string | null {
  if (!link) return null;
  if (/^https?:\/\//i.test(link)) return link;
  return settings.base_url ? `${settings.base_url}${link.startsWith('/') ? '' : '/'}${link}` : null;
}

async function sendBy(ctx: ServiceContext, settings: ChannelSettings, channel: ExternalChannel, message: Message, to: { address: string | null; mentions: string[] }, firm: string): Promise<void> {
  const link = absoluteLink(settings, message.link);
  const withLink = (text: string) => (link ? `${text}\n${link}` : text);
  switch (channel) {
    case 'email':
      if (!to.address) throw new Undeliverable('no email address');
      return sendEmail(settings.email, { to: to.address, subject: `${firm}${message.title}`, text: withLink(message.body) });
    case 'sms': {
      if (!to.address) throw new Undeliverable('no mobile number');
      const text = `${firm}${message.title}：${message.body}`;
      return sendSms(settings.sms, to.address, withLink(text.length > SMS_TEXT_MAX ? `${text.slice(0, SMS_TEXT_MAX - 1)}…` : text));
    }
    // The robots post in the firm's own groups: no signature needed there.
    case 'wecom':
      return sendWecom(settings.wecom, withLink(`${message.title}\n${message.body}`), to.mentions);
    case 'dingtalk':
      return sendDingtalk(settings.dingtalk, withLink(`${message.title}\n${message.body}`), to.mentions, ctx.clock.now().getTime());
  }
}

type Claimed = { id: number; notification_id: number; channel: NotificationChannel; user_id: number | null; client_id: number | null; attempts: number };

/**
 * Claims due deliveries: FOR UPDATE SKIP LOCKED, so processes running at once take different ones,
 * and each claimed one is pushed a lease ahead, so nobody takes it again while it is being sent. The
 * sending itself happens outside any transaction (it may wait on the network).
 */
async function claim(ctx: ServiceContext, now: Date): Promise<Claimed[]> {
  return ctx.db.transaction().execute(async (trx) => {
    const due = await trx
      .selectFrom('notification_deliveries')
      .select('id')
      .where('status', 'in', ['pending', 'failed'])
      .where('next_attempt_at', '<=', now)
      .orderBy('next_attempt_at')
      .orderBy('id')
      .limit(BATCH)
      .forUpdate()
      .skipLocked()
      .execute();
    if (!due.length) return [];
    return trx
      .updateTable('notification_deliveries')
      .set({ attempts: sql`attempts + 1`, next_attempt_at: new Date(now.getTime() + CLAIM_LEASE_MS) })
      .where('id', 'in', due.map((d) => d.id))
      .returning(['id', 'notification_id', 'channel', 'user_id', 'client_id', 'attempts'])
      .execute();
  });
}

/** Sends what is due and records each outcome; returns how many went out, failed (to be retried) and were given up. */
export async function deliverPending(ctx: ServiceContext): Promise<{ sent: number; failed: number; gave_up: number }> {
  const counts = { sent: 0, failed: 0, gave_up: 0 };
  let handled = 0;
  const settings = await channelSettings(ctx.db);
  const firm = await firmName(ctx.db);
  while (handled < MAX_PER_RUN) {
    const batch = await claim(ctx, ctx.clock.now());
    if (!batch.length) break;
    handled += batch.length;
    for (const d of batch) counts[await deliverOne(ctx, settings, firm, d)]++;
  }
  return counts;
}

async function deliverOne(ctx: ServiceContext, settings: ChannelSettings, firm: string, d: Claimed): Promise<'sent' | 'failed' | 'gave_up'> {
  const n = await ctx.db.selectFrom('notifications').select(['id', 'event', 'title', 'body', 'link']).where('id', '=', d.notification_id).executeTakeFirstOrThrow();
  let error: string | null = null;
  let final = false;
  try {
    const channel = d.channel as ExternalChannel;
    if (!carries(settings, channel, n.event)) throw new Undeliverable(`channel ${channel} was switched off or no longer carries ${n.event}`);
    // Addresses are read now, not when the notice was made: a corrected number is used at the retry.
    const contact =
      d.user_id !== null
        ? await ctx.db.selectFrom('users').select(['phone', 'email']).where('id', '=', d.user_id).executeTakeFirst()
        : d.client_id !== null
          ? await ctx.db.selectFrom('clients').select(['phone', 'email']).where('id', '=', d.client_id).executeTakeFirst()
          : undefined;
    const address = channel === 'email' ? (contact?.email ?? null) : channel === 'sms' ? mobileNumber(contact?.phone ?? null) : null;
    const mentions =
      channel === 'wecom' || channel === 'dingtalk'
        ? (
            await ctx.db
              .selectFrom('notification_recipients as r')
              .innerJoin('users as u', 'u.id', 'r.user_id')
              .select('u.phone')
              .where('r.notification_id', '=', n.id)
              .where('u.phone', 'is not', null)
              .orderBy('u.id')
              .execute()
          )
            .map((r) => mobileNumber(r.phone))
            .filter((m): m is string => m !== null)
        : [];
    await sendBy(ctx, settings, channel, n, { address, mentions }, firm);
  } catch (err) {
    error = errorText(err);
    final = err instanceof Undeliverable || d.attempts >= MAX_ATTEMPTS;
  }
  const now = ctx.clock.now();
  const outcome: 'sent' | 'failed' | 'gave_up' = error === null ? 'sent' : final ? 'gave_up' : 'failed';
  await ctx.db.transaction().execute(async (trx) => {
    await trx
      .updateTable('notification_deliveries')
      .set(
        outcome === 'sent'
          ? { status: 'sent', sent_at: now, last_error: null, next_attempt_at: null }
          : outcome === 'gave_up'
            ? { status: 'gave_up', last_error: error, next_attempt_at: null }
            : { status: 'failed', last_error: error, next_attempt_at: new Date(now.getTime() + RETRY_BACKOFF_MS[d.attempts - 1]!) },
      )
      .where('id', '=', d.id)
      // Only the claim that is still current records: a lease that ran out belongs to the next claimer.
      .where('attempts', '=', d.attempts)
      .execute();
    if (SECRET_EVENTS.has(n.event as NotificationEvent)) {
      // A code is kept no longer than it takes to send it.
      await trx
        .updateTable('notifications')
        .set({ body: SCRUBBED })
        .where('id', '=', n.id)
        .where((eb) => eb.not(eb.exists(eb.selectFrom('notification_deliveries').select('id').where('notification_id', '=', n.id).where('status', 'in', ['pending', 'failed']))))
        .execute();
    }
    if (outcome === 'gave_up') {
      await appendAudit(trx, { at: now, actor: SYSTEM_ACTOR.username, action: 'notification.gave_up', object: `notification:${n.id}`, result: 'failure', detail: { delivery: d.id, channel: d.channel, attempts: d.attempts, error } });
    }
  });
  return outcome;
}

/** What a sent code's notice says once the code is gone. */
const SCRUBBED = '（已发送，内容已清除） / (sent; content removed)';

export const notificationJobs: Job[] = [
  // Retries and anything a process did not send right after its commit (it stopped, or the kick was lost).
  { name: 'notifications.deliver', schedule: '* * * * *', run: deliverPending },
];
