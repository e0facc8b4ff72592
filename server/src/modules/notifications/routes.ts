import type { FastifyPluginAsync } from 'fastify';
import { Type, type TSchema } from 'typebox';
import { Empty, Id, IdParams, Nullable, responses } from '../../schemas.js';
import { EXTERNAL_CHANNELS, type ChannelSettingsChange, type ExternalChannel } from './channels/settings.js';
import { startDispatcher } from './dispatcher.js';
import {
  getChannelSettings,
  listMyNotifications,
  listPortalNotices,
  markMyNotificationsRead,
  markPortalNoticeRead,
  myContact,
  NOTIFICATION_EVENTS,
  notificationDeliveries,
  testChannel,
  updateChannelSettings,
  updateMyContact,
  type ContactView,
  type NoticeFilter,
} from './service.js';

const Obj = <T extends Record<string, TSchema>>(props: T, description?: string) => Type.Object(props, { additionalProperties: false, ...(description ? { description } : {}) });
const Literals = <T extends readonly string[]>(values: T) => Type.Union(values.map((v) => Type.Literal(v)));

const Event = Literals(NOTIFICATION_EVENTS);
const Channel = Literals(['in_app', ...EXTERNAL_CHANNELS] as const);
const Time = Type.String({ format: 'date-time' });
const Events = Nullable(Type.Array(Event, { maxItems: NOTIFICATION_EVENTS.length, uniqueItems: true, description: 'the events this channel carries; null = all' }));
const Url = Type.String({ minLength: 8, maxLength: 2000, pattern: '^https?://', examples: ['https://lawbox.firm.example'] });
const Secret = (description: string) => Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 2000, description: `${description}; leave out to keep, null to clear` })));

const Notice = Obj({
  id: Type.Integer(),
  event: Type.String(),
  title: Type.String(),
  body: Type.String(),
  link: Nullable(Type.String()),
  matter: Nullable(Obj({ id: Type.Integer(), number: Type.String() })),
  created_at: Type.String(),
  read_at: Nullable(Type.String()),
});
const PortalNotice = Obj({
  id: Type.Integer(),
  event: Type.String(),
  title: Type.String(),
  body: Type.String(),
  link: Nullable(Type.String()),
  matter_number: Nullable(Type.String()),
  created_at: Type.String(),
  read_at: Nullable(Type.String()),
});
const ListQuery = Obj({
  unread: Type.Optional(Type.Boolean({ description: 'only unread notices' })),
  before_id: Type.Optional(Id({ description: 'notices older than this one: the last id of the previous page' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })),
});
const Contact = Obj({
  phone: Nullable(Type.String({ maxLength: 25, description: 'work phone, given to clients with a matter-accepted notice', examples: ['13812345678', '010-65001234'] })),
  email: Nullable(Type.String({ maxLength: 254, description: 'work email' })),
});

const EmailFields = {
  enabled: Type.Boolean(),
  events: Events,
  host: Nullable(Type.String({ minLength: 1, maxLength: 253, description: 'SMTP server' })),
  port: Type.Integer({ minimum: 1, maximum: 65535 }),
  security: Literals(['tls', 'starttls', 'none'] as const),
  verify_certificate: Type.Boolean({ description: 'off only for a LAN relay with a self-signed certificate' }),
  username: Nullable(Type.String({ minLength: 1, maxLength: 254 })),
  from_address: Nullable(Type.String({ minLength: 3, maxLength: 254 })),
  from_name: Nullable(Type.String({ minLength: 1, maxLength: 100 })),
};
const SmsFields = {
  enabled: Type.Boolean(),
  events: Events,
  url: Nullable(Type.String({ minLength: 8, maxLength: 2000, description: 'gateway address; may hold {phone}, {text}, {secret}' })),
  method: Literals(['POST', 'PUT', 'GET'] as const),
  headers: Type.Record(Type.String({ minLength: 1, maxLength: 100 }), Type.String({ maxLength: 1000 }), { maxProperties: 20, description: 'values may hold {secret}' }),
  body_template: Nullable(Type.String({ minLength: 2, maxLength: 4000, description: 'JSON; its strings may hold {phone}, {text}, {secret}', examples: ['{"mobile":"{phone}","content":"{text}","apikey":"{secret}"}'] })),
};
const RobotFields = { enabled: Type.Boolean(), events: Events };

const ChannelsView = Obj({
  base_url: Nullable(Type.String()),
  email: Obj({ ...EmailFields, password_set: Type.Boolean() }),
  sms: Obj({ ...SmsFields, secret_set: Type.Boolean() }),
  wecom: Obj({ ...RobotFields, webhook_url_set: Type.Boolean() }),
  dingtalk: Obj({ ...RobotFields, webhook_url_set: Type.Boolean(), secret_set: Type.Boolean() }),
});
const ChannelsChange = Obj({
  base_url: Type.Optional(Nullable(Url)),
  email: Type.Optional(Obj({ ...EmailFields, password: Secret('SMTP password') })),
  sms: Type.Optional(Obj({ ...SmsFields, secret: Secret('the gateway key, filled in where {secret} stands') })),
  wecom: Type.Optional(Obj({ ...RobotFields, webhook_url: Type.Optional(Nullable(Url)) }, 'group robot; webhook https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=… (kept secret)')),
  dingtalk: Type.Optional(
    Obj({ ...RobotFields, webhook_url: Type.Optional(Nullable(Url)), secret: Secret('signing secret (加签)') }, 'robot; webhook https://oapi.dingtalk.com/robot/send?access_token=… (kept secret)'),
  ),
});

const Delivery = Obj({
  id: Type.Integer(),
  channel: Channel,
  recipient: Obj({ kind: Literals(['user', 'client', 'group'] as const), id: Nullable(Type.Integer()), name: Nullable(Type.String()) }),
  status: Literals(['pending', 'sent', 'failed', 'gave_up'] as const),
  attempts: Type.Integer(),
  last_error: Nullable(Type.String()),
  next_attempt_at: Nullable(Type.String()),
  sent_at: Nullable(Type.String()),
});
const Deliveries = Obj({
  notification: Obj({ id: Type.Integer(), event: Type.String(), title: Type.String(), matter_id: Nullable(Type.Integer()), client_id: Nullable(Type.Integer()), created_at: Type.String(), client_read_at: Nullable(Type.String()) }),
  deliveries: Type.Array(Delivery),
});
const Marked = Obj({ marked: Type.Integer() });

/** Notices: staff read theirs in the app, clients in the portal; administrators set up the external channels. */
export const notificationsRoutes: FastifyPluginAsync = async (app) => {
  const ctx = app.services;
  const stopDispatcher = startDispatcher(app);
  app.addHook('onClose', stopDispatcher);

  app.get(
    '/api/notifications',
    {
      schema: {
        tags: ['notifications'],
        summary: 'My notices, newest first (live on the user:<my id> topic as `notification` events)',
        querystring: ListQuery,
        response: responses({ 200: Obj({ items: Type.Array(Notice), unread: Type.Integer() }) }),
      },
    },
    async (request) => listMyNotifications(ctx, request.actor, request.query as NoticeFilter),
  );

  app.post(
    '/api/notifications/:id/read',
    { schema: { tags: ['notifications'], summary: 'Mark one of my notices read', params: IdParams, body: Empty, response: responses({ 200: Marked }) } },
    async (request) => markMyNotificationsRead(ctx, request.actor, [(request.params as { id: number }).id]),
  );

  app.post(
    '/api/notifications/read-all',
    { schema: { tags: ['notifications'], summary: 'Mark all my notices read', body: Empty, response: responses({ 200: Marked }) } },
    async (request) => markMyNotificationsRead(ctx, request.actor, null),
  );

  app.get(
    '/api/notifications/:id/deliveries',
    {
      schema: {
        tags: ['notifications'],
        summary: 'How a notice went out, per recipient and channel (for whoever may see its matter)',
        params: IdParams,
        querystring: Empty,
        response: responses({ 200: Deliveries }),
      },
    },
    async (request) => notificationDeliveries(ctx, request.actor, (request.params as { id: number }).id),
  );

  app.get(
    '/api/notifications/contact',
    { schema: { tags: ['notifications'], summary: 'My work phone and email', querystring: Empty, response: responses({ 200: Contact }) } },
    async (request) => myContact(ctx, request.actor),
  );

  app.put(
    '/api/notifications/contact',
    { schema: { tags: ['notifications'], summary: 'Set my work phone and email (the phone is given to clients of my matters)', body: Contact, response: responses({ 200: Contact }) } },
    async (request) => updateMyContact(ctx, request.actor, request.body as ContactView),
  );

  app.get(
    '/api/notifications/channels',
    {
      config: { permission: 'notifications.configure' },
      schema: { tags: ['notifications'], summary: 'The external channels (secrets show only as set or not)', querystring: Empty, response: responses({ 200: ChannelsView }) },
    },
    async (request) => getChannelSettings(ctx, request.actor),
  );

  app.put(
    '/api/notifications/channels',
    {
      config: { permission: 'notifications.configure' },
      schema: {
        tags: ['notifications'],
        summary: 'Configure channels: each one given replaces its settings; a secret left out is kept',
        body: ChannelsChange,
        response: responses({ 200: ChannelsView }),
      },
    },
    async (request) => updateChannelSettings(ctx, request.actor, request.body as ChannelSettingsChange),
  );

  app.post(
    '/api/notifications/channels/:channel/test',
    {
      config: { permission: 'notifications.configure' },
      schema: {
        tags: ['notifications'],
        summary: 'Send a test message by a channel, on or off (email and SMS to the address given)',
        params: Obj({ channel: Literals(EXTERNAL_CHANNELS) }),
        body: Obj({ to: Type.Optional(Type.String({ minLength: 3, maxLength: 254, description: 'email address or phone number' })) }),
        response: responses({ 200: Obj({ sent: Type.Boolean(), error: Nullable(Type.String()) }) }),
      },
    },
    async (request) => testChannel(ctx, request.actor, (request.params as { channel: ExternalChannel }).channel, (request.body as { to?: string }).to ?? null),
  );

  app.get(
    '/api/portal/notices',
    {
      config: { portal: true },
      schema: {
        tags: ['portal'],
        summary: 'The client’s notices, newest first',
        querystring: ListQuery,
        response: responses({ 200: Obj({ items: Type.Array(PortalNotice), unread: Type.Integer() }) }),
      },
    },
    async (request) => listPortalNotices(ctx, request.portal!.clientId, request.query as NoticeFilter),
  );

  app.post(
    '/api/portal/notices/:id/read',
    { config: { portal: true }, schema: { tags: ['portal'], summary: 'The client has read a notice', params: IdParams, body: Empty, response: responses({ 200: Obj({ read_at: Time }) }) } },
    async (request) => markPortalNoticeRead(ctx, request.actor, request.portal!.clientId, (request.params as { id: number }).id),
  );
};
