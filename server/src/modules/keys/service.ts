import type { Config } from '../../config.js';
import type { Db } from '../../db/index.js';
import { MasterKeyError, openSecret, SEALED_PREFIX, sealSecret } from '../../secrets.js';
import { appendAudit } from '../audit/service.js';
import { signingKeyContext } from '../documents/signature.js';
import { accessKeyContext } from '../doors/access-list.js';

/**
 * Seals every private key still stored in clear, at start once a master key is configured (a box
 * installed before it had one, or the demo moved into production). Returns how many were sealed.
 */
export async function sealStoredKeys(db: Db, config: Config, at: Date): Promise<number> {
  if (config.masterKeyFile === null) return 0;
  return db.transaction().execute(async (trx) => {
    let sealed = 0;
    for (const k of await trx.selectFrom('signing_keys').select(['id', 'purpose', 'private_key']).where('private_key', 'not like', `${SEALED_PREFIX}%`).execute()) {
      await trx.updateTable('signing_keys').set({ private_key: sealSecret(config, k.private_key, signingKeyContext(k.purpose)) }).where('id', '=', k.id).execute();
      sealed++;
    }
    for (const k of await trx.selectFrom('access_signing_keys').select(['key_id', 'private_pem']).where('private_pem', 'not like', `${SEALED_PREFIX}%`).execute()) {
      await trx.updateTable('access_signing_keys').set({ private_pem: sealSecret(config, k.private_pem, accessKeyContext(k.key_id)) }).where('key_id', '=', k.key_id).execute();
      sealed++;
    }
    if (sealed) await appendAudit(trx, { at, actor: 'system', action: 'keys.seal', object: 'signing_keys', result: 'success', detail: { sealed } });
    return sealed;
  });
}

/** How many private keys are still stored in clear (the compliance self-check). */
export async function keysInClear(db: Db): Promise<number> {
  const a = await db.selectFrom('signing_keys').select((eb) => eb.fn.countAll<number>().as('n')).where('private_key', 'not like', `${SEALED_PREFIX}%`).executeTakeFirstOrThrow();
  const b = await db.selectFrom('access_signing_keys').select((eb) => eb.fn.countAll<number>().as('n')).where('private_pem', 'not like', `${SEALED_PREFIX}%`).executeTakeFirstOrThrow();
  return Number(a.n) + Number(b.n);
}

/**
 * Opens every sealed key once: a box restored with another master key, or given a wrong key file,
 * is told at start instead of at the first signature or door list. Returns what cannot be opened.
 */
export async function unopenableKeys(db: Db, config: Config): Promise<string[]> {
  const failed: string[] = [];
  const attempt = (stored: string, context: string) => {
    try {
      openSecret(config, stored, context);
    } catch (err) {
      if (!(err instanceof MasterKeyError)) throw err;
      failed.push(context);
    }
  };
  for (const k of await db.selectFrom('signing_keys').select(['purpose', 'private_key']).where('private_key', 'like', `${SEALED_PREFIX}%`).execute()) attempt(k.private_key, signingKeyContext(k.purpose));
  for (const k of await db.selectFrom('access_signing_keys').select(['key_id', 'private_pem']).where('private_pem', 'like', `${SEALED_PREFIX}%`).execute()) attempt(k.private_pem, accessKeyContext(k.key_id));
  return failed;
}
