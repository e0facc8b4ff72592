import type { AddressInfo } from 'node:net';
import t from 'tap';
import WebSocket from 'ws';
import { openDatabase } from '../../server/src/db/index.js';
import { announce } from '../../server/src/modules/realtime/hub.js';
import { createUser } from '../../server/src/modules/users/service.js';
import { connectWs, type Message, type Teardown } from '../helpers/ws.js';
import { createTestInstance, loginToken, signedIn, STRONG_PASSWORD, USING_POSTGRES } from '../helpers/instance.js';

const inst = await createTestInstance(t);
await inst.app.listen({ host: '127.0.0.1', port: 0 });
const wsUrl = `ws://127.0.0.1:${(inst.app.server.address() as AddressInfo).port}/api/ws`;

const connect = (t: Teardown, headers: Record<string, string>) => connectWs(t, wsUrl, headers);

/**
 * Attempts an upgrade that the server should refuse: reports the HTTP status it answered with instead
 * of switching protocols, and whether the server then closed the connection by itself.
 */
function refusedUpgrade(headers: Record<string, string>, path = '/api/ws'): Promise<{ status: number; closedByServer: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(wsUrl.replace('/api/ws', path), { headers });
    socket.on('unexpected-response', (req, res) => {
      res.resume();
      const timer = setTimeout(() => {
        socket.terminate();
        resolve({ status: res.statusCode ?? 0, closedByServer: false });
      }, 2000);
      req.socket?.once('close', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, closedByServer: true });
      });
    });
    socket.on('open', () => {
      socket.close();
      reject(new Error('the upgrade was accepted'));
    });
    socket.on('error', () => {});
  });
}

const failedLogin = (app: typeof inst.app, username: string) => app.inject({ method: 'POST', url: '/api/auth/login', payload: { username, password: 'Not-The-Password-1' } });
const auditOf = (username: string) => (m: Message) => m.type === 'event' && m.topic === 'audit' && m.data?.actor === username;

t.test('an upgrade without a valid session is refused with 401, and the connection is closed', async (t) => {
  const anonymous = await refusedUpgrade({});
  t.equal(anonymous.status, 401, 'no token → 401 instead of an upgrade');
  t.ok(anonymous.closedByServer, 'the server closes the refused connection (no leaked socket)');
  const forged = await refusedUpgrade({ authorization: 'Bearer forged-token' });
  t.equal(forged.status, 401, 'a forged token → 401');
  t.ok(forged.closedByServer, 'that connection is closed too');

  await createUser(inst.ctx, { userId: null, username: 'test', role: null, sourceIp: null }, { username: 'ws.newcomer', displayName: '新人', role: 'lawyer', password: STRONG_PASSWORD, mustChangePassword: true });
  const pending = await refusedUpgrade({ authorization: `Bearer ${await loginToken(inst, 'ws.newcomer')}` });
  t.equal(pending.status, 403, 'a user who must still change the password → 403');
  t.ok(pending.closedByServer, 'and the connection is closed');

  const lawyer = await signedIn(inst, 'lawyer');
  const nowhere = await refusedUpgrade(lawyer.headers, '/api/no-such-socket');
  t.equal(nowhere.status, 404, 'a signed-in upgrade to an unknown path → 404');
  t.ok(nowhere.closedByServer, 'and that connection is closed as well');
});

t.test('an auditor subscribes to "audit" and hears of someone else’s failed login', async (t) => {
  const auditor = await signedIn(inst, 'auditor');
  const ws = await connect(t, auditor.headers);
  ws.send({ type: 'subscribe', topics: ['audit'] });
  const ack = await ws.waitFor((m) => m.type === 'subscribed');
  t.same(ack.topics, ['audit'], 'the subscription is confirmed');

  const res = await failedLogin(inst.app, 'mallory.x');
  t.equal(res.statusCode, 401, 'the stranger’s login fails');
  const event = await ws.waitFor(auditOf('mallory.x'));
  t.match(event, { type: 'event', topic: 'audit', data: { action: 'auth.login', actor: 'mallory.x', result: 'failure' } }, 'the failed login arrives as an audit event');
  t.type(event.data?.seq, 'number', 'the event carries the record’s seq');
});

t.test('a lawyer may subscribe to its own user topic but not to "audit" or another user’s', async (t) => {
  const lawyer = await signedIn(inst, 'lawyer');
  const other = await signedIn(inst, 'lawyer');
  const ws = await connect(t, lawyer.headers);

  ws.send({ type: 'subscribe', topics: ['audit'] });
  const auditDenied = await ws.waitFor((m) => m.type === 'error' || m.type === 'subscribed');
  t.match(auditDenied, { type: 'error', code: 'FORBIDDEN' }, '"audit" is refused with FORBIDDEN');

  ws.send({ type: 'subscribe', topics: [`user:${lawyer.id}`] });
  const own = await ws.waitFor((m) => m.type === 'error' || m.type === 'subscribed');
  t.match(own, { type: 'subscribed', topics: [`user:${lawyer.id}`] }, 'its own user topic is allowed');

  ws.send({ type: 'subscribe', topics: [`user:${other.id}`] });
  const foreign = await ws.waitFor((m) => m.type === 'error' || m.type === 'subscribed');
  t.match(foreign, { type: 'error', code: 'FORBIDDEN' }, 'another user’s topic is refused');

  await failedLogin(inst.app, 'eve.y');
  t.ok(await ws.noneWithin(auditOf('eve.y'), 500), 'the refused "audit" subscription delivers no audit events');
  await inst.ctx.db.transaction().execute((trx) => announce(trx, { topic: `user:${other.id}`, data: { note: 'for the other lawyer' } }));
  t.ok(await ws.noneWithin((m) => m.topic === `user:${other.id}`, 500), 'nor the other user’s notices');
});

t.test('malformed JSON gets INVALID_JSON and the socket stays open', async (t) => {
  const lawyer = await signedIn(inst, 'lawyer');
  const ws = await connect(t, lawyer.headers);
  ws.send('{"type": "subscribe", ');
  t.match(await ws.waitFor((m) => m.type === 'error'), { type: 'error', code: 'INVALID_JSON' }, 'the error says the message was not JSON');
  ws.send({ type: 'subscribe', topics: 'audit' });
  t.match(await ws.waitFor((m) => m.type === 'error'), { type: 'error', code: 'INVALID_MESSAGE' }, 'JSON of the wrong shape gets INVALID_MESSAGE');
  t.equal(ws.socket.readyState, WebSocket.OPEN, 'the socket is still open');
  ws.send({ type: 'ping' });
  t.match(await ws.waitFor((m) => m.type === 'pong'), { type: 'pong' }, 'a ping afterwards gets a pong');
});

t.test('a rolled-back transaction announces nothing; a committed one does', async (t) => {
  const lawyer = await signedIn(inst, 'lawyer');
  const ws = await connect(t, lawyer.headers);
  const topic = `user:${lawyer.id}`;
  ws.send({ type: 'subscribe', topics: [topic] });
  await ws.waitFor((m) => m.type === 'subscribed');

  const rolledBack = await inst.ctx.db
    .transaction()
    .execute(async (trx) => {
      await announce(trx, { topic, data: { note: 'rolled back' } });
      throw new Error('change abandoned');
    })
    .catch((err: Error) => err.message);
  t.equal(rolledBack, 'change abandoned', 'the transaction was rolled back');
  t.ok(await ws.noneWithin((m) => m.topic === topic, 500), 'no event arrives within 500 ms');

  await inst.ctx.db.transaction().execute((trx) => announce(trx, { topic, data: { note: 'committed' } }));
  const event = await ws.waitFor((m) => m.topic === topic);
  t.same(event, { type: 'event', topic, data: { note: 'committed' } }, 'the committed announcement arrives, and it is the first on the topic');
});

// PostgreSQL runs only: embedded PGlite is single-process, so there is no second process to fan out to.
if (USING_POSTGRES) t.test(
  'an event committed through a second server process reaches sockets of the first',
  async (t) => {
    const second = await openDatabase({ databaseUrl: inst.databaseUrl, dataDir: null });
    t.teardown(() => second.close());
    const appB = (await createTestInstance(t, { database: { database: second, databaseUrl: inst.databaseUrl } })).app;

    const auditor = await signedIn(inst, 'auditor');
    const ws = await connect(t, auditor.headers);
    ws.send({ type: 'subscribe', topics: ['audit'] });
    await ws.waitFor((m) => m.type === 'subscribed');

    const res = await failedLogin(appB, 'via.app.b');
    t.equal(res.statusCode, 401, 'the failed login is handled by app B');
    const event = await ws.waitFor(auditOf('via.app.b'));
    t.match(event, { type: 'event', topic: 'audit', data: { action: 'auth.login', actor: 'via.app.b', result: 'failure' } }, 'the socket on app A receives the event committed through app B');
  },
);
