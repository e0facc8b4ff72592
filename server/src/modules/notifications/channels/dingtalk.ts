import { createHmac } from 'node:crypto';
import { request, robotAnswer, SendError } from './http.js';
import type { DingtalkSettings } from './settings.js';

/**
 * DingTalk's robot signature (加签): HMAC-SHA256 keyed with the secret over `timestamp + "\n" + secret`,
 * Base64; sent URL-encoded as `&timestamp=<ms>&sign=<sign>`. DingTalk refuses a timestamp more than an
 * hour from its own clock.
 */
export function dingtalkSign(secret: string, timestampMs: number): string {
  return createHmac('sha256', secret).update(`${timestampMs}\n${secret}`, 'utf8').digest('base64');
}

/** The webhook address to post to, signed when the robot has a secret. */
export function dingtalkUrl(settings: DingtalkSettings, timestampMs: number): string {
  if (!settings.webhook_url) throw new SendError('dingtalk: no webhook URL is configured');
  if (!settings.secret) return settings.webhook_url;
  const url = new URL(settings.webhook_url);
  url.searchParams.set('timestamp', String(timestampMs));
  url.searchParams.set('sign', dingtalkSign(settings.secret, timestampMs));
  return url.toString();
}

/**
 * Posts to a DingTalk group robot (自定义机器人): `{"msgtype":"text","text":{"content"},"at":{"atMobiles"}}`,
 * answered by `{"errcode":0,"errmsg":"ok"}`. A mention shows only when the content names the phone
 * (`@138…`), so the mentioned phones are appended to it.
 */
export async function sendDingtalk(settings: DingtalkSettings, content: string, mentionPhones: string[], timestampMs: number): Promise<void> {
  const text = mentionPhones.length ? `${content}\n${mentionPhones.map((p) => `@${p}`).join(' ')}` : content;
  const body = { msgtype: 'text', text: { content: text }, at: { atMobiles: mentionPhones, isAtAll: false } };
  robotAnswer('dingtalk', await request(dingtalkUrl(settings, timestampMs), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }));
}
