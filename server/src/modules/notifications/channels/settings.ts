import type { Db } from '../../../db/index.js';
import { readSetting } from '../../../db/settings.js';
import { badRequest } from '../../../errors.js';
import type { NotificationEvent } from '../service.js';
import { parseBodyTemplate } from './sms.js';

/**
 * The external channels as an administrator set them up. Nothing leaves the firm's network unless a
 * channel is configured and switched on: every channel is off until then. Secrets (the SMTP password,
 * the SMS gateway's key, the robots' webhook addresses, which carry their key, and DingTalk's signing
 * secret) are kept here and never shown again, only whether they are set.
 */
export const CHANNEL_SETTINGS_KEY = 'notifications.channels';

export type ExternalChannel = 'email' | 'sms' | 'wecom' | 'dingtalk';
export const EXTERNAL_CHANNELS: readonly ExternalChannel[] = ['email', 'sms', 'wecom', 'dingtalk'];

interface ChannelBase {
  enabled: boolean;
  /** the events this channel carries; null = all */
  events: NotificationEvent[] | null;
}

export interface EmailSettings extends ChannelBase {
  host: string | null;
  port: number;
  /** tls: TLS from the start (465); starttls: upgrade required (587); none: plain, for a relay on the LAN */
  security: 'tls' | 'starttls' | 'none';
  /** check the server's certificate; off only for a LAN relay with a self-signed one */
  verify_certificate: boolean;
  username: string | null;
  password: string | null;
  from_address: string | null;
  from_name: string | null;
}

export type SmsMethod = 'POST' | 'PUT' | 'GET';

export interface SmsSettings extends ChannelBase {
  /** the gateway's address; may hold {phone}, {text} and {secret} (URL-encoded when filled in) */
  url: string | null;
  method: SmsMethod;
  /** request headers; values may hold {secret}, e.g. `Authorization: Bearer {secret}` */
  headers: Record<string, string>;
  /** JSON body (POST/PUT) whose strings may hold {phone}, {text} and {secret} */
  body_template: string | null;
  /** the gateway's key, filled in where {secret} stands */
  secret: string | null;
}

export interface WecomSettings extends ChannelBase {
  /** the group robot's webhook, https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=… (the key is the secret) */
  webhook_url: string | null;
}

export interface DingtalkSettings extends ChannelBase {
  /** the robot's webhook, https://oapi.dingtalk.com/robot/send?access_token=… */
  webhook_url: string | null;
  /** the robot's signing secret (加签, SEC…), if the robot is set to require it */
  secret: string | null;
}

export interface ChannelSettings {
  /** the appliance's address as clients and staff reach it, to make links absolute in external messages */
  base_url: string | null;
  email: EmailSettings;
  sms: SmsSettings;
  wecom: WecomSettings;
  dingtalk: DingtalkSettings;
}

export const DEFAULT_CHANNEL_SETTINGS: ChannelSettings = {
  base_url: null,
  email: { enabled: false, events: null, host: null, port: 587, security: 'starttls', verify_certificate: true, username: null, password: null, from_address: null, from_name: null },
  sms: { enabled: false, events: null, url: null, method: 'POST', headers: {}, body_template: null, secret: null },
  wecom: { enabled: false, events: null, webhook_url: null },
  dingtalk: { enabled: false, events: null, webhook_url: null, secret: null },
};

/** The stored settings over the defaults (a channel never stored is off). */
export async function channelSettings(db: Db): Promise<ChannelSettings> {
  const stored = ((await readSetting(db, CHANNEL_SETTINGS_KEY)) ?? {}) as Partial<ChannelSettings>;
  const d = DEFAULT_CHANNEL_SETTINGS;
  return {
    base_url: stored.base_url ?? null,
    email: { ...d.email, ...stored.email },
    sms: { ...d.sms, ...stored.sms },
    wecom: { ...d.wecom, ...stored.wecom },
    dingtalk: { ...d.dingtalk, ...stored.dingtalk },
  };
}

/** Whether `channel` is on and carries `event`. */
export const carries = (settings: ChannelSettings, channel: ExternalChannel, event: string): boolean => {
  const c = settings[channel];
  return c.enabled && (c.events === null || (c.events as string[]).includes(event));
};

// ---------------------------------------------------------------------------------------------
// What an administrator sees: everything but the secrets, which show only as set or not.

export type ChannelSettingsView = {
  base_url: string | null;
  email: Omit<EmailSettings, 'password'> & { password_set: boolean };
  sms: Omit<SmsSettings, 'secret'> & { secret_set: boolean };
  wecom: Omit<WecomSettings, 'webhook_url'> & { webhook_url_set: boolean };
  dingtalk: Omit<DingtalkSettings, 'webhook_url' | 'secret'> & { webhook_url_set: boolean; secret_set: boolean };
};

export function viewChannelSettings(s: ChannelSettings): ChannelSettingsView {
  const { password, ...email } = s.email;
  const { secret: smsSecret, ...sms } = s.sms;
  const { webhook_url: wecomUrl, ...wecom } = s.wecom;
  const { webhook_url: dingUrl, secret: dingSecret, ...dingtalk } = s.dingtalk;
  return {
    base_url: s.base_url,
    email: { ...email, password_set: password !== null },
    sms: { ...sms, secret_set: smsSecret !== null },
    wecom: { ...wecom, webhook_url_set: wecomUrl !== null },
    dingtalk: { ...dingtalk, webhook_url_set: dingUrl !== null, secret_set: dingSecret !== null },
  };
}

// ---------------------------------------------------------------------------------------------
// A change: each channel given replaces the stored one, except secrets left out, which are kept
// (null clears one).

type WithSecrets<T, K extends keyof T> = Omit<T, K> & { [P in K]?: T[P] };
export interface ChannelSettingsChange {
  base_url?: string | null;
  email?: WithSecrets<EmailSettings, 'password'>;
  sms?: WithSecrets<SmsSettings, 'secret'>;
  wecom?: WithSecrets<WecomSettings, 'webhook_url'>;
  dingtalk?: WithSecrets<DingtalkSettings, 'webhook_url' | 'secret'>;
}

const invalid = (channel: string, en: string, zh: string) => badRequest('INVALID_CHANNEL_SETTINGS', `${channel}: ${en} / ${channel}：${zh}`);

function httpUrl(channel: string, value: string | null, field: string): string | null {
  const v = value?.trim() || null;
  if (v === null) return null;
  let url: URL;
  try {
    // The SMS gateway's address may hold placeholders; they are filled in before sending.
    url = new URL(v.replace(/\{(phone|text|secret)\}/g, 'x'));
  } catch {
    throw invalid(channel, `${field} is not a valid URL; give a full http(s) address.`, `${field} 不是有效的网址，请填写完整的 http(s) 地址。`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw invalid(channel, `${field} must be an http or https address.`, `${field} 须为 http 或 https 地址。`);
  }
  return v;
}

const trimmed = (value: string | null | undefined): string | null => value?.trim() || null;
const keep = <T>(next: T | undefined, before: T): T => (next === undefined ? before : next);
const events = (list: NotificationEvent[] | null): NotificationEvent[] | null => (list === null ? null : [...new Set(list)].sort());

/**
 * The settings after `change`, checked: a channel may be stored half-filled while off, but switching
 * it on needs what it sends with.
 */
export function applyChannelChange(before: ChannelSettings, change: ChannelSettingsChange): ChannelSettings {
  const next: ChannelSettings = structuredClone(before);
  if (change.base_url !== undefined) next.base_url = httpUrl('base_url', change.base_url, 'base_url')?.replace(/\/+$/, '') ?? null;

  if (change.email) {
    const e = change.email;
    next.email = {
      enabled: e.enabled,
      events: events(e.events),
      host: trimmed(e.host),
      port: e.port,
      security: e.security,
      verify_certificate: e.verify_certificate,
      username: trimmed(e.username),
      password: keep(e.password, before.email.password),
      from_address: trimmed(e.from_address),
      from_name: trimmed(e.from_name),
    };
    if (next.email.from_address && !/^[^\s@<>]+@[^\s@<>]+$/.test(next.email.from_address)) {
      throw invalid('email', 'the sender address is not an email address.', '发件人地址不是有效的电子邮箱。');
    }
    if (next.email.enabled && (!next.email.host || !next.email.from_address)) {
      throw invalid('email', 'switching email on needs the SMTP host and the sender address.', '开启邮件通知须填写 SMTP 服务器和发件人地址。');
    }
    if (next.email.username && next.email.password === null && next.email.enabled) {
      throw invalid('email', 'a user name is set but no password.', '已填写用户名但未设置密码。');
    }
  }

  if (change.sms) {
    const s = change.sms;
    next.sms = {
      enabled: s.enabled,
      events: events(s.events),
      url: httpUrl('sms', s.url, 'url'),
      method: s.method,
      headers: Object.fromEntries(Object.entries(s.headers).map(([k, v]) => [k.trim(), v])),
      body_template: trimmed(s.body_template),
      secret: keep(s.secret, before.sms.secret),
    };
    for (const name of Object.keys(next.sms.headers)) {
      if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw invalid('sms', `"${name}" is not a valid header name.`, `"${name}" 不是有效的请求头名称。`);
    }
    if (next.sms.body_template !== null) {
      if (next.sms.method === 'GET') throw invalid('sms', 'a GET request has no body; put {phone} and {text} in the URL.', 'GET 请求没有请求体，请将 {phone} 和 {text} 写在网址中。');
      // A template that is not JSON would fail at every send: refuse it now.
      parseBodyTemplate(next.sms.body_template);
    }
    if (next.sms.enabled) {
      if (!next.sms.url) throw invalid('sms', 'switching SMS on needs the gateway URL.', '开启短信通知须填写短信网关地址。');
      const where = `${next.sms.url} ${next.sms.body_template ?? ''}`;
      if (!where.includes('{phone}') || !where.includes('{text}')) {
        throw invalid('sms', 'the URL or body template must hold {phone} and {text}.', '网址或请求体模板中须包含 {phone} 和 {text} 占位符。');
      }
    }
  }

  if (change.wecom) {
    const w = change.wecom;
    next.wecom = { enabled: w.enabled, events: events(w.events), webhook_url: w.webhook_url === undefined ? before.wecom.webhook_url : httpUrl('wecom', w.webhook_url, 'webhook_url') };
    if (next.wecom.enabled && !next.wecom.webhook_url) throw invalid('wecom', 'switching WeCom on needs the group robot’s webhook address.', '开启企业微信通知须填写群机器人 Webhook 地址。');
  }

  if (change.dingtalk) {
    const d = change.dingtalk;
    next.dingtalk = {
      enabled: d.enabled,
      events: events(d.events),
      webhook_url: d.webhook_url === undefined ? before.dingtalk.webhook_url : httpUrl('dingtalk', d.webhook_url, 'webhook_url'),
      secret: keep(d.secret === undefined ? undefined : trimmed(d.secret), before.dingtalk.secret),
    };
    if (next.dingtalk.enabled && !next.dingtalk.webhook_url) throw invalid('dingtalk', 'switching DingTalk on needs the robot’s webhook address.', '开启钉钉通知须填写机器人 Webhook 地址。');
  }
  return next;
}

/** What changed, for the audit record: field names only where a secret is concerned. */
export function describeChange(before: ChannelSettings, after: ChannelSettings): Record<string, unknown> {
  const a = viewChannelSettings(before);
  const b = viewChannelSettings(after);
  const out: Record<string, unknown> = {};
  if (a.base_url !== b.base_url) out.base_url = { from: a.base_url, to: b.base_url };
  for (const channel of EXTERNAL_CHANNELS) {
    const x = a[channel] as unknown as Record<string, unknown>;
    const y = b[channel] as unknown as Record<string, unknown>;
    const changed: Record<string, unknown> = {};
    for (const key of Object.keys(y)) {
      if (JSON.stringify(x[key]) !== JSON.stringify(y[key])) changed[key] = { from: x[key], to: y[key] };
    }
    // A secret replaced by another stays "set": say that it changed, not what it is.
    const secrets: Record<ExternalChannel, string[]> = { email: ['password'], sms: ['secret'], wecom: ['webhook_url'], dingtalk: ['webhook_url', 'secret'] };
    for (const s of secrets[channel]) {
      const p = (before[channel] as unknown as Record<string, unknown>)[s];
      const q = (after[channel] as unknown as Record<string, unknown>)[s];
      if (p !== null && q !== null && p !== q) changed[`${s}_set`] = 'replaced';
    }
    if (Object.keys(changed).length) out[channel] = changed;
  }
  return out;
}
