import { sql, type Transaction } from 'kysely';
import type { Db } from '../../db/index.js';
import type { Database } from '../../db/schema.js';
import { shanghaiYear } from '../../calendar.js';
import type { Actor, ServiceContext } from '../../context.js';
import { badRequest } from '../../errors.js';
import { appendAudit } from '../audit/service.js';
import { readSetting, writeSetting } from '../../db/settings.js';

/** Matter types (案件类型), their Chinese names and the character code that goes into the matter number. */
export const MATTER_TYPES = {
  civil: { zh: '民事', en: 'Civil', code: '民代' },
  criminal: { zh: '刑事', en: 'Criminal defence', code: '刑辩' },
  administrative: { zh: '行政', en: 'Administrative', code: '行代' },
  arbitration: { zh: '仲裁', en: 'Arbitration', code: '仲代' },
  enforcement: { zh: '执行', en: 'Enforcement', code: '执代' },
  non_litigation: { zh: '非诉', en: 'Non-litigation', code: '非诉' },
  legal_counsel: { zh: '常年法律顾问', en: 'Retained legal counsel', code: '顾问' },
  consultation: { zh: '专项咨询', en: 'Advisory', code: '咨' },
} as const;

export type MatterType = keyof typeof MATTER_TYPES;
export const MATTER_TYPE_IDS = Object.keys(MATTER_TYPES) as MatterType[];

/** Accepts the type's id (`civil`) or its Chinese name (`民事`). */
export function parseMatterType(value: string): MatterType {
  const v = value.trim();
  if (Object.hasOwn(MATTER_TYPES, v)) return v as MatterType;
  const byName = MATTER_TYPE_IDS.find((id) => MATTER_TYPES[id].zh === v);
  if (byName) return byName;
  throw badRequest('INVALID_MATTER_TYPE', `Unknown matter type "${value}"; use one of ${MATTER_TYPE_IDS.join(', ')}. / 案件类型不正确。`);
}

export interface NumberingSettings {
  /** tokens: {year} {firm} {type} {seq} or {seq:N} (zero-padded to N digits) */
  pattern: string;
  /** the firm's short name as it appears in its matter numbers, e.g. 京明衡 */
  firm_abbreviation: string;
}

export const DEFAULT_NUMBERING: NumberingSettings = { pattern: '({year}){firm}{type}字第{seq:4}号', firm_abbreviation: '' };
const TOKEN = /\{(year|firm|type|seq)(?::(\d))?\}/g;

/**
 * A pattern needs the sequence number and the year (the sequence restarts each year, so without the
 * year next January would repeat this year's numbers); anything else in braces is a typo.
 */
export function validatePattern(pattern: string): void {
  const stripped = pattern.replace(TOKEN, '');
  if (!/\{seq(?::\d)?\}/.test(pattern) || !pattern.includes('{year}')) {
    throw badRequest('INVALID_PATTERN', 'The numbering pattern needs {year} and {seq}. / 编号规则须包含 {year} 和 {seq}。');
  }
  if (/[{}]/.test(stripped)) throw badRequest('INVALID_PATTERN', 'Unknown token in the numbering pattern; use {year} {firm} {type} {seq} {seq:N}. / 编号规则含未知占位符。');
}

export async function numberingSettings(db: Db): Promise<NumberingSettings> {
  return { ...DEFAULT_NUMBERING, ...(((await readSetting(db, 'matter_numbering')) as Partial<NumberingSettings> | undefined) ?? {}) };
}

/** Sets the numbering; it applies to the next matter opened. Audited with the change. */
export async function updateNumberingSettings(ctx: ServiceContext, actor: Actor, next: NumberingSettings): Promise<NumberingSettings> {
  validatePattern(next.pattern);
  const value: NumberingSettings = { pattern: next.pattern.trim(), firm_abbreviation: next.firm_abbreviation.trim() };
  await ctx.db.transaction().execute(async (trx) => {
    const before = await numberingSettings(trx);
    await writeSetting(trx, 'matter_numbering', value);
    await appendAudit(trx, { at: ctx.clock.now(), actor: actor.username, action: 'settings.matter_numbering', object: 'settings:matter_numbering', result: 'success', sourceIp: actor.sourceIp, detail: { from: before, to: value } });
  });
  return value;
}

export function formatNumber(settings: NumberingSettings, year: number, type: MatterType, seq: number): string {
  return settings.pattern.replace(TOKEN, (_m, token: string, width?: string) => {
    switch (token) {
      case 'year':
        return String(year);
      case 'firm':
        return settings.firm_abbreviation;
      case 'type':
        return MATTER_TYPES[type].code;
      default:
        return String(seq).padStart(Number(width ?? 0), '0');
    }
  });
}

/**
 * Takes the next number inside the matter's transaction. The upsert locks the (year, type) row until
 * commit, so concurrent intakes queue on it and never share a number; a rolled-back intake gives its
 * number back. When the pattern has no {type}, all types share one sequence, else numbers would repeat.
 */
export async function allocateMatterNumber(trx: Transaction<Database>, type: MatterType, at: Date): Promise<string> {
  const settings = await numberingSettings(trx);
  const year = shanghaiYear(at);
  const sequenceKey = settings.pattern.includes('{type}') ? type : '*';
  const { rows } = await sql<{ last: number }>`
    insert into matter_sequences (year, type, last) values (${year}, ${sequenceKey}, 1)
    on conflict (year, type) do update set last = matter_sequences.last + 1
    returning last`.execute(trx);
  return formatNumber(settings, year, type, Number(rows[0]!.last));
}
