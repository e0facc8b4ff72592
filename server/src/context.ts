import type { Config } from './config.js';
import type { Clock } from './clock.js';
import type { Db } from './db/index.js';

/** What every service needs: the database, the configuration and the clock. */
export interface ServiceContext {
  db: Db;
  config: Config;
  clock: Clock;
}

/** Who is acting and from where; every audited change names it. */
export interface Actor {
  userId: number | null;
  username: string;
  role: string | null;
  sourceIp: string | null;
}

export const SYSTEM_ACTOR: Actor = { userId: null, username: 'system', role: null, sourceIp: null };
