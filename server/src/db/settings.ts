import type { Db } from './index.js';

/** One row of the `settings` table: a module's configuration under its key, or undefined when never set. */
export async function readSetting(db: Db, key: string): Promise<unknown> {
  return (await db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst())?.value;
}

/** Stores a module's configuration under its key, replacing what was there (call it in the change's transaction). */
export async function writeSetting(db: Db, key: string, value: unknown): Promise<void> {
  const json = JSON.stringify(value);
  await db.insertInto('settings').values({ key, value: json }).onConflict((oc) => oc.column('key').doUpdateSet({ value: json })).execute();
}
