import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { DatabaseHandle, Db } from '../../db/index.js';
import type { JobObserver } from '../../scheduler.js';

/** The counters of a pg.Pool (PostgreSQL): connections open, idle, and queries waiting for one. */
export interface PoolCounts {
  totalCount: number;
  idleCount: number;
  waitingCount: number;
}

export interface MetricsSources {
  db: Db;
  database: DatabaseHandle['kind'];
  /** the PostgreSQL pool's counters, where the database handle gives them */
  pool: PoolCounts | null;
  mqttConnected(): boolean;
}

export interface AppMetrics {
  registry: Registry;
  /** one answered HTTP request; `route` is the route's pattern, never the requested URL */
  requestAnswered(method: string, route: string, status: number, seconds: number): void;
  jobs: JobObserver;
}

/** A route label for requests no route matched, so an unknown URL never becomes a label of its own. */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * The metrics of one app instance, in a registry of its own (several apps share a process in the
 * tests, and prom-client's global registry would mix them): HTTP traffic, jobs, the database pool, the
 * MQTT link, agents online, and Node's process metrics. Gauges are read when Prometheus scrapes.
 */
export function createMetrics(sources: MetricsSources): AppMetrics {
  const registry = new Registry();
  const registers = [registry];
  collectDefaultMetrics({ register: registry });

  const requests = new Counter({ name: 'lawbox_http_requests_total', help: 'HTTP requests answered, by method, route pattern and status class', labelNames: ['method', 'route', 'status_class'] as const, registers });
  const durations = new Histogram({ name: 'lawbox_http_request_duration_seconds', help: 'Time to answer an HTTP request, by method, route pattern and status class', labelNames: ['method', 'route', 'status_class'] as const, registers });
  const serverErrors = new Counter({ name: 'lawbox_http_server_errors_total', help: 'HTTP requests answered with a 5xx status (a failure of the server, see its log), by method and route pattern', labelNames: ['method', 'route'] as const, registers });
  const jobRuns = new Counter({ name: 'lawbox_job_runs_total', help: 'Scheduled job runs by job and outcome (ok, failed, skipped: another server process ran it)', labelNames: ['job', 'outcome'] as const, registers });
  const jobDurations = new Histogram({ name: 'lawbox_job_duration_seconds', help: 'Duration of the scheduled job runs this process made, by job and outcome', labelNames: ['job', 'outcome'] as const, buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900], registers });

  new Gauge({
    name: 'lawbox_mqtt_connected',
    help: 'Whether the server is connected to its MQTT broker (1) or not (0)',
    registers,
    collect() {
      this.set(sources.mqttConnected() ? 1 : 0);
    },
  });
  new Gauge({
    name: 'lawbox_agents_online',
    help: 'Device agents whose last word on MQTT was online',
    registers,
    async collect() {
      try {
        const row = await sources.db.selectFrom('agents').select((eb) => eb.fn.countAll<number | string>().as('online')).where('state', '=', 'online').executeTakeFirstOrThrow();
        this.set(Number(row.online));
      } catch {
        // No sample rather than a wrong one; /api/health reports the database.
        this.reset();
      }
    },
  });
  const pool = sources.pool;
  if (sources.database === 'pglite') {
    new Gauge({
      name: 'lawbox_db_pool_connections',
      help: 'Database connections: embedded PGlite is always one in-process connection',
      registers,
      collect() {
        this.set(1);
      },
    });
  } else if (pool) {
    new Gauge({
      name: 'lawbox_db_pool_connections',
      help: 'Connections the PostgreSQL pool holds open',
      registers,
      collect() {
        this.set(pool.totalCount);
      },
    });
    new Gauge({
      name: 'lawbox_db_pool_idle_connections',
      help: 'Connections of the PostgreSQL pool that are open and idle',
      registers,
      collect() {
        this.set(pool.idleCount);
      },
    });
    new Gauge({
      name: 'lawbox_db_pool_waiting_queries',
      help: 'Queries waiting for a connection of the PostgreSQL pool (all are in use)',
      registers,
      collect() {
        this.set(pool.waitingCount);
      },
    });
  }

  return {
    registry,
    requestAnswered(method, route, status, seconds) {
      const labels = { method, route, status_class: `${Math.floor(status / 100)}xx` };
      requests.inc(labels);
      durations.observe(labels, seconds);
      if (status >= 500) serverErrors.inc({ method, route });
    },
    jobs: {
      jobRan(job, outcome, seconds) {
        jobRuns.inc({ job, outcome });
        if (outcome !== 'skipped') jobDurations.observe({ job, outcome }, seconds);
      },
    },
  };
}
