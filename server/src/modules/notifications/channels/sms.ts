import { badRequest } from '../../../errors.js';
import { excerpt, request, SendError } from './http.js';
import type { SmsSettings } from './settings.js';

/**
 * An SMS gateway over HTTP, whichever the firm uses: the administrator gives its address, method,
 * headers and a JSON body template with {phone}, {text} and {secret} placeholders. A 2xx answer is
 * success.
 */

const PLACEHOLDER = /\{(phone|text|secret)\}/g;

/** The body template as JSON; refused when it is not valid JSON (an object or array). */
export function parseBodyTemplate(template: string): unknown {
  let parsed: unknown;
  try {
    parsed = JSON.parse(template);
  } catch (err) {
    throw badRequest('INVALID_CHANNEL_SETTINGS', `sms: the body template is not valid JSON (${(err as Error).message}). / sms：请求体模板不是有效的 JSON。`);
  }
  if (typeof parsed !== 'object' || parsed === null) {
    throw badRequest('INVALID_CHANNEL_SETTINGS', 'sms: the body template must be a JSON object or array. / sms：请求体模板须为 JSON 对象或数组。');
  }
  return parsed;
}

type Values = { phone: string; text: string; secret: string };

const fill = (s: string, values: Values, encode: (v: string) => string) => s.replace(PLACEHOLDER, (_, name: keyof Values) => encode(values[name]));

/**
 * Fills the placeholders in every string of the template, keys included. The template is filled as
 * parsed JSON, never as text, so a quote or a backslash in a message cannot break the body or add
 * fields to it.
 */
function fillJson(node: unknown, values: Values): unknown {
  if (typeof node === 'string') return fill(node, values, (v) => v);
  if (Array.isArray(node)) return node.map((n) => fillJson(n, values));
  if (node && typeof node === 'object') return Object.fromEntries(Object.entries(node).map(([k, v]) => [fill(k, values, (x) => x), fillJson(v, values)]));
  return node;
}

export interface SmsRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: string;
}

/** The request that sends `text` to `phone`. */
export function renderSmsRequest(settings: SmsSettings, phone: string, text: string): SmsRequest {
  if (!settings.url) throw new SendError('sms: no gateway URL is configured');
  const values: Values = { phone, text, secret: settings.secret ?? '' };
  const url = fill(settings.url, values, encodeURIComponent);
  // A header cannot hold a line break: a message text never goes into one, only the key.
  const headers = Object.fromEntries(Object.entries(settings.headers).map(([k, v]) => [k, fill(v, { ...values, text: '', phone: '' }, (x) => x.replace(/[\r\n]/g, ''))]));
  if (settings.method === 'GET' || settings.body_template === null) return { url, method: settings.method, headers };
  const body = JSON.stringify(fillJson(parseBodyTemplate(settings.body_template), values));
  const contentType = Object.keys(headers).some((k) => k.toLowerCase() === 'content-type');
  return { url, method: settings.method, headers: contentType ? headers : { ...headers, 'content-type': 'application/json; charset=utf-8' }, body };
}

export async function sendSms(settings: SmsSettings, phone: string, text: string): Promise<void> {
  const req = renderSmsRequest(settings, phone, text);
  const answer = await request(req.url, req);
  if (answer.status < 200 || answer.status > 299) throw new SendError(`sms gateway: HTTP ${answer.status} ${excerpt(answer.text)}`);
}
