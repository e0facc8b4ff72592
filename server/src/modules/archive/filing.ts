import type { Transaction } from 'kysely';
import type { ServiceContext } from '../../context.js';
import type { Database } from '../../db/schema.js';

/**
 * Files a record into its matter's archive (T/ZSM 0038-2024 Z6.3.5). Called by the module that made
 * the record, inside the transaction that made it, so the archive never names a record that was
 * rolled back; that module's own audit record covers the filing. Filing the same (source, source_id)
 * again keeps one row and takes the newer title, kind and hash (a record filed when drafted and again
 * when confirmed shows its final state).
 */
export async function fileToArchive(
  trx: Transaction<Database>,
  ctx: ServiceContext,
  entry: { matter_id: number; kind: string; title: string; source: string; source_id: string | number; sha256?: string | null; filed_by: number | null },
): Promise<void> {
  const title = entry.title.trim().slice(0, 300) || entry.kind;
  await trx
    .insertInto('archive_entries')
    .values({
      matter_id: entry.matter_id,
      kind: entry.kind,
      title,
      source: entry.source,
      source_id: String(entry.source_id),
      sha256: entry.sha256 ?? null,
      filed_by: entry.filed_by,
      filed_at: ctx.clock.now(),
    })
    .onConflict((oc) =>
      oc.columns(['source', 'source_id']).doUpdateSet((eb) => ({
        kind: eb.ref('excluded.kind'),
        title: eb.ref('excluded.title'),
        sha256: eb.fn.coalesce(eb.ref('excluded.sha256'), eb.ref('archive_entries.sha256')),
      })),
    )
    .execute();
}
