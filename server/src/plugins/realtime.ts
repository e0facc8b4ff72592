import fp from 'fastify-plugin';
import websocket from '@fastify/websocket';
import type { WebSocket } from 'ws';
import { Type } from 'typebox';
import { Compile } from 'typebox/compile';
import { resolveSession } from '../modules/auth/service.js';
import { resolveKiosk } from '../modules/kiosks/service.js';
import { bearerToken, kioskToken } from './auth.js';
import { maySubscribe, REALTIME_CHANNEL, type RealtimeEvent, type Subscriber } from '../modules/realtime/hub.js';

interface Connection {
  socket: WebSocket;
  token: string;
  who: Subscriber;
  topics: Set<string>;
}

declare module 'fastify' {
  interface FastifyInstance {
    realtime: {
      /** Hears every event announced by any server process (after its commit). */
      onEvent(listener: (event: RealtimeEvent) => void): void;
      /** Sends an event to this process's sockets subscribed to `topic`; returns how many got it. */
      deliver(topic: string, data: Record<string, unknown>): number;
      /** Whether any socket of this process listens to `topic`, or with `prefix`, to any topic starting so. */
      hasSubscribers(topic: string, opts?: { prefix: boolean }): boolean;
    };
  }
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
  const subscribers = new Set<Connection>();
  const listeners: ((event: RealtimeEvent) => void)[] = [];
  /** How many sockets of this process hold each topic: asked on hot paths (every device event). */
  const topicCounts = new Map<string, number>();
  const addTopic = (c: Connection, topic: string) => {
    if (c.topics.has(topic)) return;
    c.topics.add(topic);
    topicCounts.set(topic, (topicCounts.get(topic) ?? 0) + 1);
  };
  const dropTopic = (c: Connection, topic: string) => {
    if (!c.topics.delete(topic)) return;
    const n = (topicCounts.get(topic) ?? 1) - 1;
    if (n > 0) topicCounts.set(topic, n);
    else topicCounts.delete(topic);
  };

  const deliver = (topic: string, data: Record<string, unknown>): number => {
    const message = JSON.stringify({ type: 'event', topic, data });
    let sent = 0;
    for (const s of subscribers) {
      if (!s.topics.has(topic)) continue;
      s.socket.send(message);
      sent++;
    }
    return sent;
  };
  app.decorate('realtime', {
    onEvent: (listener: (event: RealtimeEvent) => void) => void listeners.push(listener),
    deliver,
    hasSubscribers: (topic: string, opts?: { prefix: boolean }) => (opts?.prefix ? [...topicCounts.keys()].some((t) => t.startsWith(topic)) : topicCounts.has(topic)),
  });

  const unlisten = await app.database.listen(REALTIME_CHANNEL, (payload) => {
    let event: RealtimeEvent;
    try {
      event = JSON.parse(payload) as RealtimeEvent;
    } catch {
      return;
    }
    deliver(event.topic, event.data);
    for (const listener of listeners) listener(event);
  });

  /** The subscriber behind a token now, or null once the session ended or the kiosk was revoked. */
  const recheckOne = async (c: Connection): Promise<Subscriber | null> => {
    if (c.who.kiosk) {
      const kiosk = await resolveKiosk(app.services, c.token);
      return kiosk ? { user: null, kiosk } : null;
    }
    const session = await resolveSession(app.services, c.token);
    return session ? { user: session.user, kiosk: null } : null;
  };
  const recheck = setInterval(async () => {
    for (const c of subscribers) {
      const who = await recheckOne(c).catch(() => null);
      if (!who) {
        c.socket.close(4401, 'session ended');
        continue;
      }
      c.who = who;
      // A role may have changed since the subscription: drop topics the subscriber may no longer see.
      for (const topic of [...c.topics]) if (!maySubscribe(who, topic)) dropTopic(c, topic);
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
      config: { allowDuringPasswordChange: false, kioskToo: true },
      schema: { tags: ['realtime'], summary: 'WebSocket for live events (subscribe to topics)', querystring: Type.Object({}, { additionalProperties: false }) },
    },
    (socket, request) => {
      const who: Subscriber = request.kiosk ? { user: null, kiosk: request.kiosk } : { user: request.session!.user, kiosk: null };
      const token = (request.kiosk ? kioskToken(request) : bearerToken(request))!;
      const sub: Connection = { socket, token, who, topics: new Set() };
      subscribers.add(sub);
      socket.on('close', () => {
        subscribers.delete(sub);
        for (const topic of [...sub.topics]) dropTopic(sub, topic);
      });
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
          for (const t of m.topics!) dropTopic(sub, t);
          return socket.send(JSON.stringify({ type: 'unsubscribed', topics: m.topics }));
        }
        const denied = m.topics!.filter((t) => !maySubscribe(sub.who, t));
        if (denied.length > 0) {
          return socket.send(JSON.stringify({ type: 'error', code: 'FORBIDDEN', message: `Not allowed to subscribe to: ${denied.join(', ')}` }));
        }
        for (const t of m.topics!) addTopic(sub, t);
        socket.send(JSON.stringify({ type: 'subscribed', topics: [...sub.topics] }));
      });
    },
  );
});
