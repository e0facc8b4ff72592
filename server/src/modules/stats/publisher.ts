import type { FastifyInstance } from 'fastify';
import type { RealtimeEvent } from '../realtime/hub.js';
import { computeStats } from './service.js';

/** The topic wall screens (and users with stats.read) subscribe to. */
export const WALL_TOPIC = 'stats:wall';
/**
 * Events that change what walls show. Of the devices' events only availability counts (a device's,
 * or an agent's taking its devices with it); a card read or a state report changes no figure, and
 * they come often. Of a meeting's events, only its start and end.
 */
const SOURCES = new Set(['matters', 'visitors', 'stats']);
const MEETING_CHANGES = new Set(['meeting.created', 'meeting.started', 'meeting.ended']);
const isSource = (event: RealtimeEvent) =>
  SOURCES.has(event.topic) ||
  (event.topic === 'devices' && (event.data.type === 'device.availability' || event.data.type === 'agent.state')) ||
  (event.topic.startsWith('meeting:') && MEETING_CHANGES.has(String(event.data.type)));
/** Walls are sent at most one update per this window: a burst of changes costs one computation each window. */
export const MIN_INTERVAL_MS = 50;
/** Walls hear from the server at least this often, so a silent wall is a stale wall (the apps show it). */
export const REFRESH_MS = 30_000;

/**
 * Keeps this process's wall screens current: after a change (heard through the realtime channel,
 * so changes made by any server process count) the statistics are computed once and sent to every
 * subscribed socket. Each process computes for its own sockets only; nothing is kept in memory that
 * another process would need.
 */
export function startStatsPublisher(app: FastifyInstance): () => void {
  let timer: NodeJS.Timeout | null = null;
  let running = false;
  let again = false;
  let lastStarted = 0;

  const publish = async () => {
    timer = null;
    lastStarted = performance.now();
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      if (app.realtime.hasSubscribers(WALL_TOPIC)) app.realtime.deliver(WALL_TOPIC, { type: 'stats', stats: await computeStats(app.services) });
    } catch (err) {
      app.log.warn({ err }, 'wall statistics not published');
    } finally {
      running = false;
      if (again) {
        again = false;
        schedule();
      }
    }
  };
  // A lone change goes out at once; changes that follow within the window wait for its end, together.
  const schedule = () => {
    timer ??= setTimeout(() => void publish(), Math.max(0, lastStarted + MIN_INTERVAL_MS - performance.now()));
  };

  app.realtime.onEvent((event) => {
    if (isSource(event)) schedule();
  });
  const refresh = setInterval(schedule, REFRESH_MS);
  refresh.unref();
  return () => {
    clearInterval(refresh);
    if (timer) clearTimeout(timer);
  };
}
