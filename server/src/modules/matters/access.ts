import type { ExpressionBuilder } from 'kysely';
import type { Actor } from '../../context.js';
import type { Db } from '../../db/index.js';
import type { Database } from '../../db/schema.js';
import { notFound } from '../../errors.js';
import { may } from '../auth/roles.js';

/**
 * Matter visibility (Z6.3.3.4): the director and the administrative roles see every matter; everyone
 * else sees the matters they created or are on the team of.
 */
export function seesAllMatters(actor: Actor): boolean {
  return may(actor, 'matters.read_all');
}

/** A where-clause over a `matters` row aliased `m`, true for the matters the actor may see. */
export function matterVisibleTo(actor: Actor) {
  return (eb: ExpressionBuilder<Database & { m: Database['matters'] }, 'm'>) => {
    if (seesAllMatters(actor)) return eb.lit(true);
    const userId = actor.userId ?? -1;
    return eb.or([
      eb('m.created_by', '=', userId),
      eb.exists(eb.selectFrom('matter_team as mt').select('mt.user_id').whereRef('mt.matter_id', '=', 'm.id').where('mt.user_id', '=', userId)),
    ]);
  };
}

/** The ids among `matterIds` the actor may see. */
export async function visibleMatterIds(db: Db, actor: Actor, matterIds: number[]): Promise<Set<number>> {
  if (matterIds.length === 0) return new Set();
  const rows = await db.selectFrom('matters as m').select('m.id').where('m.id', 'in', matterIds).where(matterVisibleTo(actor)).execute();
  return new Set(rows.map((r) => r.id));
}

/**
 * Throws the same 404 for a matter that does not exist and one the actor may not see, so ids cannot
 * be probed.
 */
export async function assertMatterVisible(db: Db, actor: Actor, matterId: number): Promise<void> {
  const seen = await visibleMatterIds(db, actor, [matterId]);
  if (!seen.has(matterId)) throw matterNotFound(matterId);
}

export const matterNotFound = (id: number) => notFound('MATTER_NOT_FOUND', `No matter with id ${id}, or you are not on its team. / 案件不存在或您无权查看。`);
