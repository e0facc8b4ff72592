import { request, robotAnswer, SendError } from './http.js';
import type { WecomSettings } from './settings.js';

/** WeCom (企业微信) caps a group robot's text message at 2048 bytes of UTF-8. */
const WECOM_TEXT_MAX_BYTES = 2048;

/** Cuts `text` to at most `max` bytes of UTF-8 without splitting a character. */
export function cutUtf8(text: string, max: number): string {
  if (Buffer.byteLength(text) <= max) return text;
  let out = '';
  let bytes = 0;
  for (const ch of text) {
    const n = Buffer.byteLength(ch);
    if (bytes + n > max - 3) break;
    out += ch;
    bytes += n;
  }
  return `${out}…`;
}

/**
 * Posts to a WeCom group robot (群机器人): `{"msgtype":"text","text":{"content","mentioned_mobile_list"}}`,
 * answered by `{"errcode":0,"errmsg":"ok"}`. The members of staff the notice is for are @-mentioned
 * by their work phone.
 */
export async function sendWecom(settings: WecomSettings, content: string, mentionPhones: string[]): Promise<void> {
  if (!settings.webhook_url) throw new SendError('wecom: no webhook URL is configured');
  const body = { msgtype: 'text', text: { content: cutUtf8(content, WECOM_TEXT_MAX_BYTES), ...(mentionPhones.length ? { mentioned_mobile_list: mentionPhones } : {}) } };
  robotAnswer('wecom', await request(settings.webhook_url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }));
}
