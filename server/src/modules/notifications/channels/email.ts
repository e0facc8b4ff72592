import { createTransport } from 'nodemailer';
import { SendError } from './http.js';
import type { EmailSettings } from './settings.js';

/** Seconds an SMTP server may take to answer before the send counts as failed (and is retried). */
const SMTP_TIMEOUT_MS = 15_000;

export interface EmailMessage {
  to: string;
  subject: string;
  text: string;
}

/**
 * Sends one plain-text message by the firm's SMTP server. A Chinese subject and sender name are
 * encoded by nodemailer as RFC 2047 encoded words; the body goes out as UTF-8.
 */
export async function sendEmail(settings: EmailSettings, message: EmailMessage): Promise<void> {
  if (!settings.host || !settings.from_address) throw new SendError('email: no SMTP host or sender address is configured');
  const transport = createTransport({
    host: settings.host,
    port: settings.port,
    secure: settings.security === 'tls',
    requireTLS: settings.security === 'starttls',
    ignoreTLS: settings.security === 'none',
    tls: { rejectUnauthorized: settings.verify_certificate },
    auth: settings.username ? { user: settings.username, pass: settings.password ?? '' } : undefined,
    connectionTimeout: SMTP_TIMEOUT_MS,
    greetingTimeout: SMTP_TIMEOUT_MS,
    socketTimeout: SMTP_TIMEOUT_MS,
  });
  try {
    await transport.sendMail({
      from: settings.from_name ? { name: settings.from_name, address: settings.from_address } : settings.from_address,
      to: message.to,
      subject: message.subject,
      text: message.text,
    });
  } catch (err) {
    throw new SendError(`email: ${(err as Error).message}`);
  } finally {
    transport.close();
  }
}
