import fp from 'fastify-plugin';
import websocket from '@fastify/websocket';
import type { WebSocket } from 'ws';
import { Type } from 'typebox';
import { Compile } from 'typebox/compile';
import { resolveSession, type Session } from '../modules/auth/service.js';
import { bearerToken } from './auth.js';
import { maySubscribe, REALTIME_CHANNEL, type RealtimeEvent } from '../modules/realtime/hub.js';

interface Subscriber {
  socket: WebSocket;
  token: string;
  session: Session;
  topics: Set<string>;
}

const ClientMessage = Type.Union([
  Type.Object({ type: Type.Literal('subscribe'), topics: Type.Array(Type.String({ maxLength: 200 }), { maxItems: 50 }) }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('unsubscribe'), topics: Type.Array(Type.String({ maxLength: 200 }), { maxItems: 50 }) }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('ping') }, { additionalProperties: false }),
]);

const clientMessage = Compile(ClientMessage);

/** How often an open socket re-checks its session, so logout and timeouts also end live connections. */
const SESSION_RECHECK_MS = 30_000;

/**
 * `/api/ws`: an authenticated WebSocket. The client sends `{"type":"subscribe","topics":[…]}` and
 * receives `{"type":"event","topic","data"}`. Events arrive through PostgreSQL NOTIFY, so an event
 * committed by any server process reaches the sockets of every process.
 */
export default fp(async (app) => {
  await app.register(websocket, { options: { maxPayload: 16 * 1024 } });

  // @fastify/websocket routes an upgrade request through the normal hooks on a response it attaches
  // to the raw socket itself, outside the HTTP server's connection bookkeeping. When the upgrade is
  // answered with plain HTTP instead (401 without a session, 403, 404…), nothing would close that
  // socket afterwards: every refused attempt would leak a descriptor, and app.close() (SIGTERM)
  // would wait for it forever. Such an answer therefore ends the connection. (Node's parser marks
  // requests that arrived through the 'upgrade' event with `upgrade`; @types/node does not declare it.)
  const isUpgrade = (raw: object) => (raw as { upgrade?: boolean }).upgrade === true;
  app.addHook('onSend', async (request, reply, payload) => {
    if (isUpgrade(request.raw)) reply.header('connection', 'close');
    return payload;
  });
  app.addHook('onResponse', async (request) => {
    if (isUpgrade(request.raw) && !request.raw.socket.destroyed) request.raw.socket.destroySoon();
  });
  const subscribers = new Set<Subscriber>();

  const unlisten = await app.database.listen(REALTIME_CHANNEL, (payload) => {
    let event: RealtimeEvent;
    try {
      event = JSON.parse(payload) as RealtimeEvent;
    } catch {
      return;
    }
    const message = JSON.stringify({ type: 'event', topic: event.topic, data: event.data });
    for (const s of subscribers) if (s.topics.has(event.topic)) s.socket.send(message);
  });

  const recheck = setInterval(async () => {
    for (const s of subscribers) {
      const session = await resolveSession(app.services, s.token).catch(() => null);
      if (!session) {
        s.socket.close(4401, 'session ended');
        continue;
      }
      s.session = session;
      // A role may have changed since the subscription: drop topics the user may no longer see.
      for (const topic of s.topics) if (!maySubscribe(session.user, topic)) s.topics.delete(topic);
    }
  }, SESSION_RECHECK_MS);
  recheck.unref();

  app.addHook('onClose', async () => {
    clearInterval(recheck);
    for (const s of subscribers) s.socket.close(1001, 'server shutting down');
    await unlisten();
  });

  app.get(
    '/api/ws',
    {
      websocket: true,
      config: { allowDuringPasswordChange: false },
      schema: { tags: ['realtime'], summary: 'WebSocket for live events (subscribe to topics)', querystring: Type.Object({}, { additionalProperties: false }) },
    },
    (socket, request) => {
      const session = request.session!;
      const token = bearerToken(request)!;
      const sub: Subscriber = { socket, token, session, topics: new Set() };
      subscribers.add(sub);
      socket.on('close', () => subscribers.delete(sub));
      socket.on('message', (raw) => {
        let msg: unknown;
        try {
          msg = JSON.parse(raw.toString());
        } catch {
          return socket.send(JSON.stringify({ type: 'error', code: 'INVALID_JSON', message: 'Messages must be JSON.' }));
        }
        if (!clientMessage.Check(msg)) {
          return socket.send(JSON.stringify({ type: 'error', code: 'INVALID_MESSAGE', message: 'Expected {"type":"subscribe"|"unsubscribe","topics":[…]} or {"type":"ping"}.' }));
        }
        const m = msg as { type: 'subscribe' | 'unsubscribe' | 'ping'; topics?: string[] };
        if (m.type === 'ping') return socket.send(JSON.stringify({ type: 'pong' }));
        if (m.type === 'unsubscribe') {
          for (const t of m.topics!) sub.topics.delete(t);
          return socket.send(JSON.stringify({ type: 'unsubscribed', topics: m.topics }));
        }
        const denied = m.topics!.filter((t) => !maySubscribe(sub.session.user, t));
        if (denied.length > 0) {
          return socket.send(JSON.stringify({ type: 'error', code: 'FORBIDDEN', message: `Not allowed to subscribe to: ${denied.join(', ')}` }));
        }
        for (const t of m.topics!) sub.topics.add(t);
        socket.send(JSON.stringify({ type: 'subscribed', topics: [...sub.topics] }));
      });
    },
  );
});
