import { createContext, type ComponentChildren } from 'preact';
import { useContext, useEffect, useRef, useState } from 'preact/hooks';

export type LiveState = 'connecting' | 'open' | 'down';
type EventListener = (data: Record<string, unknown>) => void;

const PING_MS = 20_000;
/** No answer (not even a pong) for this long: the socket is dead even if the browser has not noticed. */
const SILENCE_MS = 45_000;
const BACKOFF_MIN_MS = 1_000;
const BACKOFF_MAX_MS = 30_000;

/**
 * The kiosk's WebSocket to /api/ws: subscribes to topics, pings, reconnects with backoff and tells
 * its listeners when it (re)opened so they fetch a fresh snapshot of what they missed.
 */
export class LiveConnection {
  state: LiveState = 'connecting';
  /** When the last data arrived (a snapshot or an event): shown on the stale banner. */
  lastDataAt: number | null = null;
  /** When the server was last heard from at all (any message, a snapshot). */
  lastHeardAt = 0;
  /** Since when the socket has not been open (null while open). */
  downSince: number | null = Date.now();

  private socket: WebSocket | null = null;
  private readonly topics = new Map<string, Set<EventListener>>();
  /** Topics the server has confirmed on this connection, and who waits for a topic's confirmation. */
  private readonly confirmed = new Set<string>();
  private readonly readyListeners = new Map<string, Set<() => void>>();
  private readonly openListeners = new Set<() => void>();
  private readonly changeListeners = new Set<() => void>();
  private backoff = BACKOFF_MIN_MS;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private stopped = false;

  constructor(private readonly onAuthLost: () => void) {}

  start(): void {
    this.stopped = false;
    this.connect();
    window.addEventListener('online', this.nudge);
  }

  stop(): void {
    this.stopped = true;
    window.removeEventListener('online', this.nudge);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.socket?.close(1000, 'page closed');
    this.socket = null;
  }

  /** Listens to a topic's events; the returned function stops listening (and unsubscribes when nobody listens). */
  listen(topic: string, listener: EventListener): () => void {
    let set = this.topics.get(topic);
    if (!set) {
      set = new Set();
      this.topics.set(topic, set);
      this.send({ type: 'subscribe', topics: [topic] });
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.topics.get(topic) === set) {
        this.topics.delete(topic);
        this.confirmed.delete(topic);
        this.send({ type: 'unsubscribe', topics: [topic] });
      }
    };
  }

  /**
   * Called each time the server confirms a subscription to `topic` (a new subscription, or again after
   * a reconnect): from then on no event of the topic is missed, so a snapshot fetched now is complete.
   */
  onReady(topic: string, listener: () => void): () => void {
    let set = this.readyListeners.get(topic);
    if (!set) this.readyListeners.set(topic, (set = new Set()));
    set.add(listener);
    if (this.confirmed.has(topic)) listener();
    return () => set.delete(listener);
  }

  /** Called each time the socket opens (also the first time): the caller re-fetches its snapshot. */
  onOpen(listener: () => void): () => void {
    this.openListeners.add(listener);
    return () => this.openListeners.delete(listener);
  }

  onChange(listener: () => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /** A snapshot arrived over HTTP: the data is current as of now. */
  markData(): void {
    this.lastDataAt = this.lastHeardAt = Date.now();
    this.changed();
  }

  private nudge = () => {
    if (this.state !== 'open' && !this.stopped) {
      if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
      this.backoff = BACKOFF_MIN_MS;
      this.connect();
    }
  };

  private changed(): void {
    for (const l of this.changeListeners) l();
  }

  private send(message: unknown): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  private connect(): void {
    this.reconnectTimer = null;
    const url = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/api/ws`;
    let socket: WebSocket;
    try {
      socket = new WebSocket(url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    this.state = 'connecting';
    this.changed();
    socket.onopen = () => {
      this.state = 'open';
      this.downSince = null;
      this.backoff = BACKOFF_MIN_MS;
      this.lastHeardAt = Date.now();
      if (this.topics.size) this.send({ type: 'subscribe', topics: [...this.topics.keys()] });
      if (this.pingTimer) clearInterval(this.pingTimer);
      this.pingTimer = setInterval(() => {
        if (Date.now() - this.lastHeardAt > SILENCE_MS) socket.close(4000, 'no answer');
        else this.send({ type: 'ping' });
      }, PING_MS);
      this.changed();
      for (const l of this.openListeners) l();
    };
    socket.onmessage = (message) => {
      this.lastHeardAt = Date.now();
      let msg: { type?: string; topic?: string; data?: Record<string, unknown> };
      try {
        msg = JSON.parse(String(message.data));
      } catch {
        return;
      }
      if (msg.type === 'subscribed' && Array.isArray((msg as { topics?: unknown }).topics)) {
        for (const topic of (msg as { topics: string[] }).topics) {
          if (this.confirmed.has(topic)) continue;
          this.confirmed.add(topic);
          for (const l of [...(this.readyListeners.get(topic) ?? [])]) l();
        }
      }
      if (msg.type === 'event' && msg.topic && msg.data) {
        this.lastDataAt = this.lastHeardAt;
        for (const l of [...(this.topics.get(msg.topic) ?? [])]) {
          try {
            l(msg.data);
          } catch (err) {
            reportError(err);
          }
        }
      }
      this.changed();
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.confirmed.clear();
      if (this.pingTimer) clearInterval(this.pingTimer);
      this.pingTimer = null;
      this.state = 'down';
      this.downSince ??= Date.now();
      this.changed();
      if (this.stopped) return;
      // 4401: the kiosk's token no longer works (revoked); the page goes back to enrolment.
      if (event.code === 4401) this.onAuthLost();
      this.scheduleReconnect();
    };
    // An error is always followed by close, which does the work.
    socket.onerror = () => {};
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer) return;
    // Jitter keeps a room full of terminals from reconnecting in lockstep after a server restart.
    const delay = this.backoff * (0.8 + Math.random() * 0.4);
    this.backoff = Math.min(this.backoff * 2, BACKOFF_MAX_MS);
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }
}

const LiveContext = createContext<LiveConnection | null>(null);

export function LiveProvider({ onAuthLost, children }: { onAuthLost: () => void; children: ComponentChildren }) {
  const [live] = useState(() => new LiveConnection(onAuthLost));
  useEffect(() => {
    live.start();
    return () => live.stop();
  }, [live]);
  return <LiveContext.Provider value={live}>{children}</LiveContext.Provider>;
}

export function useLive(): LiveConnection {
  const live = useContext(LiveContext);
  if (!live) throw new Error('useLive outside LiveProvider');
  return live;
}

/**
 * Calls `handler` for each event of `topic` (null: none); the latest handler is used, so it may close
 * over state. `onReady` runs whenever the server confirms the subscription: a snapshot reloaded then
 * cannot miss an event that happened between its fetch and the subscription.
 */
export function useTopic(topic: string | null, handler: EventListener, onReady?: () => void): void {
  const live = useLive();
  const ref = useRef(handler);
  ref.current = handler;
  const readyRef = useRef(onReady);
  readyRef.current = onReady;
  useEffect(() => {
    if (!topic) return undefined;
    const stopListening = live.listen(topic, (data) => ref.current(data));
    const stopWaiting = live.onReady(topic, () => readyRef.current?.());
    return () => {
      stopWaiting();
      stopListening();
    };
  }, [live, topic]);
}

/** Calls `handler` whenever the socket (re)opens. */
export function useOnLiveOpen(handler: () => void): void {
  const live = useLive();
  const ref = useRef(handler);
  ref.current = handler;
  useEffect(() => live.onOpen(() => ref.current()), [live]);
}

/** Re-renders on connection changes and once a second (for stale-ness and clocks). */
export function useLiveStatus(): { state: LiveState; stale: boolean; lastDataAt: number | null } {
  const live = useLive();
  const [, tick] = useState(0);
  useEffect(() => {
    const off = live.onChange(() => tick((n) => n + 1));
    const timer = setInterval(() => tick((n) => n + 1), 1000);
    return () => {
      off();
      clearInterval(timer);
    };
  }, [live]);
  const now = Date.now();
  // A moment of grace at start and during a quick reconnect, so the banner does not flicker.
  const down = live.downSince !== null && now - live.downSince > 3_000;
  const silent = live.lastDataAt !== null && now - Math.max(live.lastHeardAt, live.lastDataAt) > 60_000;
  return { state: live.state, stale: down || silent, lastDataAt: live.lastDataAt };
}

let errorReporter: ((err: unknown) => void) | null = null;
export function setErrorReporter(reporter: ((err: unknown) => void) | null): void {
  errorReporter = reporter;
}
/** An error nobody else handles: the top-level error screen shows it. */
export function reportError(err: unknown): void {
  if (errorReporter) errorReporter(err);
  else console.error(err);
}
