import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface Mail {
  from: string;
  to: string[];
  /** who logged in to send it (null when the peer takes mail without a login) */
  user: string | null;
  raw: string;
}

export interface SmtpPeer {
  port: number;
  /** every mail received, in order */
  mails: Mail[];
  /** how many connections were made */
  connections(): number;
}

/**
 * The firm's mail server, on loopback: a real SMTP server (smtp-server) that keeps every mail. With
 * `login`, AUTH is required over the plain connection and only that user and password are accepted;
 * without it, AUTH is not offered at all. Closed at teardown.
 */
export async function startSmtpPeer(t: { teardown(fn: () => unknown): void }, opts: { login?: { user: string; password: string } } = {}): Promise<SmtpPeer> {
  const mails: Mail[] = [];
  let connections = 0;
  const login = opts.login;
  const smtp = new SMTPServer({
    secure: false,
    logger: false,
    ...(login
      ? {
          disabledCommands: ['STARTTLS'],
          allowInsecureAuth: true,
          onAuth(auth, _session, cb) {
            if (auth.username === login.user && auth.password === login.password) cb(null, { user: auth.username });
            else cb(new Error('Invalid username or password'));
          },
        }
      : { authOptional: true, disabledCommands: ['STARTTLS', 'AUTH'] }),
    onConnect(_session, cb) {
      connections++;
      cb();
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        mails.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address), user: (session.user as string | undefined) ?? null, raw: Buffer.concat(chunks).toString('utf8') });
        cb();
      });
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => smtp.close(() => resolve())));
  return { port: (smtp.server.address() as AddressInfo).port, mails, connections: () => connections };
}

/** The text of a single-part mail as nodemailer writes it (base64 or quoted-printable UTF-8). */
export function mailText(raw: string): string {
  const [head = '', ...rest] = raw.split(/\r\n\r\n/);
  const body = rest.join('\r\n\r\n');
  const cte = /content-transfer-encoding:\s*([\w-]+)/i.exec(head)?.[1]?.toLowerCase();
  if (cte === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (cte === 'quoted-printable') return Buffer.from(body.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/gi, (_m, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8');
  return body;
}
