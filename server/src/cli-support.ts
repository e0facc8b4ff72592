import type { Config } from './config.js';
import { systemClock } from './clock.js';
import { migrateToLatest, openDatabase } from './db/index.js';
import type { Actor, ServiceContext } from './context.js';

/** A command that failed for a reason the operator can act on: printed as `lawbox: <message>`, exit 1. */
export class CliFailure extends Error {}

export const cliActor = (): Actor => ({ userId: null, username: `cli:${process.env.SUDO_USER ?? process.env.USER ?? 'root'}`, role: null, sourceIp: null });

/** Opens the configured instance, migrated, for one command, and closes it afterwards. */
export async function withInstance<T>(config: Config, fn: (ctx: ServiceContext, applied: string[]) => Promise<T>): Promise<T> {
  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  try {
    const applied = await migrateToLatest(database.db);
    return await fn({ db: database.db, config, clock: systemClock }, applied);
  } finally {
    await database.close();
  }
}
