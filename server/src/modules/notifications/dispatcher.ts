import type { FastifyInstance } from 'fastify';
import { deliverPending, OUTBOX_TOPIC } from './service.js';

/**
 * Sends a notice within seconds of its commit instead of at the next minute's job: `notify` announces
 * on OUTBOX_TOPIC in the caller's transaction, which every process hears after the commit (PostgreSQL
 * NOTIFY). Every process that hears it tries; FOR UPDATE SKIP LOCKED gives each delivery to one.
 * One run at a time per process; a kick during a run asks for one more run after it.
 */
export function startDispatcher(app: FastifyInstance): () => Promise<void> {
  let running: Promise<void> | null = null;
  let again = false;
  let stopped = false;
  const run = (): void => {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = (async () => {
      try {
        const result = await deliverPending(app.services);
        if (result.sent || result.failed || result.gave_up) app.log.info({ ...result }, 'notifications delivered');
      } catch (err) {
        app.log.warn({ err }, 'notification delivery failed; the job retries');
      } finally {
        running = null;
        if (again) {
          again = false;
          run();
        }
      }
    })();
  };
  app.realtime.onEvent((event) => {
    if (event.topic === OUTBOX_TOPIC) run();
  });
  return async () => {
    stopped = true;
    // Closing waits for sends under way, so the database is not closed under them.
    while (running) await running;
  };
}
