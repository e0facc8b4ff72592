import { sql, type Insertable, type Transaction } from 'kysely';
import type { Db } from '../../db/index.js';
import type { ConflictIndexTable, Database, IndexRelation, PartyRole } from '../../db/schema.js';
import { checkResidentId, checkUscc } from '../clients/identifiers.js';
import { hasCjk, normalizeName, pinyinKey, pinyinKeys, regionFreeKey, substitutionKeys } from './names.js';

/**
 * The conflict-of-interest search (Z5.3). Every name a matter involves is one row of
 * `conflict_index`; a check looks each searched name up by identifier, exact name, normalised name,
 * pinyin and trigram similarity, each through its own index.
 */

export type PartyKind = 'person' | 'organization';
export type MatchType = 'exact_id' | 'exact_name' | 'normalized' | 'fuzzy' | 'pinyin' | 'related';

export interface SearchedPerson {
  name: string;
  id_number?: string | null;
}

export interface SearchedParty {
  name: string;
  kind?: PartyKind;
  id_number?: string | null;
  uscc?: string | null;
  role?: PartyRole;
  legal_representative?: string | null;
  shareholders?: SearchedPerson[];
  /** former names and aliases (曾用名、别名): each is searched as the party itself */
  aliases?: string[];
}

export interface ConflictHit {
  /** index of the searched party in the query */
  query_index: number;
  /** the searched name that matched: the party's own, or its legal representative's or shareholder's */
  query_name: string;
  /** null when the searched party matched itself; else how the matching name relates to it */
  query_via: 'legal_representative' | 'shareholder' | null;
  matter_id: number;
  matter_number: string;
  matter_title: string;
  matter_status: string;
  responsible_lawyer: string;
  party_id: number;
  party_name: string;
  party_kind: PartyKind;
  party_role: PartyRole;
  /** the indexed name that matched, and how it relates to the hit party */
  matched_name: string;
  matched_relation: IndexRelation;
  match: MatchType;
  /** the match behind a `related` hit */
  underlying_match: Exclude<MatchType, 'related'>;
  score: number;
  /** whether the hit sits on the other side from the searched party (our client against them, or the reverse) */
  side: 'adverse' | 'same_side' | 'unknown';
}

/** Below this trigram similarity a pair of names is noise, not a lead. */
export const FUZZY_THRESHOLD = 0.45;
/** Trigrams say little about names this short (a three-character person name has four); pinyin covers those. */
const FUZZY_MIN_LENGTH = 4;
/** The most fuzzy candidates kept per searched name, best first. */
const FUZZY_LIMIT = 30;
const SCORES = { exact_id: 1, exact_name: 1, normalized: 0.95, pinyin: 0.85 } as const;
/** A hit through a legal representative or shareholder counts a little less than a direct one. */
const RELATED_FACTOR = 0.9;
const FUZZY_MAX_SCORE = 0.94;
const PRIORITY: Record<Exclude<MatchType, 'related'>, number> = { exact_id: 5, exact_name: 4, normalized: 3, pinyin: 2, fuzzy: 1 };
/**
 * Of two ways one party matched, an identical identifier wins, even through a shareholder (it
 * outweighs a similar company name); then a match on the party itself over one through a related
 * person; then the stronger kind of match, then the higher score.
 */
const rank = (related: boolean, underlying: Exclude<MatchType, 'related'>, score: number) =>
  (underlying === 'exact_id' ? 1000 : 0) + (related ? 0 : 100) + PRIORITY[underlying] * 10 + score;

/** What is searched for one name. */
export interface Term {
  queryIndex: number;
  via: ConflictHit['query_via'];
  name: string;
  norm: string;
  pinyin: string[];
  /** one-character-substitution keys (organisations), see names.substitutionKeys */
  keys: string[];
  /** the name without its place of registration (organisations), see names.regionFreeKey */
  coreKeys: string[];
  idNumber: string | null;
  uscc: string | null;
  fuzzy: boolean;
}

/** Identifier values as stored in the index: upper case, no spaces; a resident ID's x as X. */
export function normalizeIdNumber(value: string | null | undefined): string | null {
  if (!value) return null;
  const v = value.replace(/\s+/g, '').toUpperCase();
  if (!v) return null;
  const rid = checkResidentId(v);
  return rid.valid ? rid.normalized : v;
}

export function normalizeUscc(value: string | null | undefined): string | null {
  if (!value) return null;
  const v = checkUscc(value).normalized;
  return v || null;
}

/** Whether a name should be compared by pinyin: a person, or an unlabelled short name. */
function personLike(name: string, kind: PartyKind | undefined): boolean {
  if (kind) return kind === 'person';
  const norm = normalizeName(name);
  return hasCjk(norm) ? norm.length <= 4 : norm.length <= 30;
}

function term(queryIndex: number, via: Term['via'], name: string, kind: PartyKind | undefined, idNumber: string | null, uscc: string | null): Term {
  const norm = normalizeName(name);
  return {
    queryIndex,
    via,
    name: name.trim(),
    norm,
    pinyin: personLike(name, kind) ? pinyinKeys(name) : [],
    // Without a kind, a name may be a company's: its typo keys cost one more index probe.
    keys: kind === 'person' ? [] : substitutionKeys(norm),
    coreKeys: kind === 'person' ? [] : [regionFreeKey(norm)].filter((k): k is string => k !== null),
    idNumber,
    uscc,
    fuzzy: [...norm].length >= FUZZY_MIN_LENGTH,
  };
}

export function searchTerms(parties: SearchedParty[]): Term[] {
  const terms: Term[] = [];
  parties.forEach((p, i) => {
    const kind = p.kind ?? (p.uscc ? 'organization' : undefined);
    terms.push(term(i, null, p.name, kind, normalizeIdNumber(p.id_number), normalizeUscc(p.uscc)));
    for (const alias of p.aliases ?? []) if (alias.trim()) terms.push(term(i, null, alias, kind, null, null));
    if (p.legal_representative?.trim()) terms.push(term(i, 'legal_representative', p.legal_representative, 'person', null, null));
    for (const s of p.shareholders ?? []) {
      if (s.name.trim()) terms.push(term(i, 'shareholder', s.name, undefined, normalizeIdNumber(s.id_number), null));
    }
  });
  return terms;
}

interface IndexMatch {
  id: number;
  matter_id: number;
  party_id: number;
  relation: IndexRelation;
  name: string;
  id_number: string | null;
  match: Exclude<MatchType, 'related'>;
  sim: number;
}

/** The query for one searched name; exported so a test keeps its SQL as a reviewed snapshot. */
export function searchTermQuery(t: Term) {
  // The equality branches share one bitmap scan; a substitution-key hit is a fuzzy match one
  // character away, scored by how much of the name agrees. The trigram branch is ranked and capped.
  const n = Array.from(t.norm).length;
  const exact = sql<IndexMatch>`
    select id, matter_id, party_id, relation, name, id_number,
      case when id_number = ${t.idNumber} or uscc = ${t.uscc} then 'exact_id'
           when name = ${t.name} then 'exact_name'
           when name_norm = ${t.norm} or name_keys && ${t.coreKeys}::text[] then 'normalized'
           when pinyin = any(${t.pinyin}::text[]) then 'pinyin'
           else 'fuzzy' end as match,
      ${(n - 1) / Math.max(n, 1)}::float8 as sim
    from conflict_index
    where id_number = ${t.idNumber} or uscc = ${t.uscc} or name = ${t.name} or name_norm = ${t.norm}
      or pinyin = any(${t.pinyin}::text[]) or name_keys && ${[...t.keys, ...t.coreKeys]}::text[]`;
  const fuzzy = sql<IndexMatch>`
    (select id, matter_id, party_id, relation, name, id_number, 'fuzzy' as match, similarity(name_norm, ${t.norm})::float8 as sim
     from conflict_index
     where name_norm % ${t.norm}
     order by sim desc
     limit ${FUZZY_LIMIT})`;
  return t.fuzzy ? sql<IndexMatch>`${exact} union all ${fuzzy}` : exact;
}

async function searchTerm(db: Db, t: Term): Promise<IndexMatch[]> {
  const { rows } = await searchTermQuery(t).execute(db);
  return rows.map((r) => ({ ...r, sim: Number(r.sim) }));
}

/**
 * Two people with the same name and different resident ID numbers are two people: a namesake is no
 * conflict, and at a large firm the common names (王芳, 张伟) would otherwise bury the real hits.
 * Both numbers passed the GB 11643 check at entry, so a difference is not a typo.
 */
function differentPerson(t: Term, m: IndexMatch): boolean {
  return m.match !== 'exact_id' && t.idNumber !== null && m.id_number !== null && t.idNumber !== m.id_number && !!checkResidentId(t.idNumber).valid && !!checkResidentId(m.id_number).valid;
}

/**
 * Finds every indexed name that matches a searched party, its legal representative or its
 * shareholders. Returns one hit per (searched party, matter, party), the strongest match kept.
 */
export async function findConflicts(db: Db, parties: SearchedParty[], opts: { excludeMatterId?: number } = {}): Promise<ConflictHit[]> {
  const terms = searchTerms(await withRegisteredRelations(db, parties));
  const best = new Map<string, { t: Term; m: IndexMatch; match: MatchType; underlying: Exclude<MatchType, 'related'>; score: number }>();
  const inTransaction = (fn: (trx: Db) => Promise<void>) => (db.isTransaction ? fn(db) : db.transaction().execute(fn));
  await inTransaction(async (trx) => {
    // `%` uses this threshold, so the trigram index only returns candidates worth ranking.
    await sql`select set_config('pg_trgm.similarity_threshold', ${String(FUZZY_THRESHOLD)}, true)`.execute(trx);
    for (const t of terms) {
      for (const m of await searchTerm(trx, t)) {
        if (m.matter_id === opts.excludeMatterId) continue;
        if (differentPerson(t, m)) continue;
        const underlying = m.match;
        const related = t.via !== null || m.relation === 'legal_representative' || m.relation === 'shareholder';
        // A similar name never outranks an equal one: fuzzy scores stay below `normalized`.
        const base = underlying === 'fuzzy' ? Math.min(m.sim, FUZZY_MAX_SCORE) : SCORES[underlying];
        const score = Math.round((related ? base * RELATED_FACTOR : base) * 1000) / 1000;
        const key = `${t.queryIndex}:${m.matter_id}:${m.party_id}`;
        const prev = best.get(key);
        if (!prev || rank(related, underlying, score) > rank(prev.match === 'related', prev.underlying, prev.score)) {
          best.set(key, { t, m, match: related ? 'related' : underlying, underlying, score });
        }
      }
    }
  });
  if (best.size === 0) return [];
  const partyIds = [...new Set([...best.values()].map((b) => b.m.party_id))];
  const details = await db
    .selectFrom('parties as p')
    .innerJoin('matters as m', 'm.id', 'p.matter_id')
    .innerJoin('users as u', 'u.id', 'm.responsible_lawyer_id')
    .select(['p.id', 'p.name', 'p.kind', 'p.role', 'm.number', 'm.title', 'm.status', 'u.display_name'])
    .where('p.id', 'in', partyIds)
    .execute();
  const byParty = new Map(details.map((d) => [d.id, d]));
  const hits: ConflictHit[] = [];
  for (const { t, m, match, underlying, score } of best.values()) {
    const d = byParty.get(m.party_id);
    if (!d) continue;
    hits.push({
      query_index: t.queryIndex,
      query_name: t.name,
      query_via: t.via,
      matter_id: m.matter_id,
      matter_number: d.number,
      matter_title: d.title,
      matter_status: d.status,
      responsible_lawyer: d.display_name,
      party_id: m.party_id,
      party_name: d.name,
      party_kind: d.kind,
      party_role: d.role,
      matched_name: m.name,
      matched_relation: m.relation,
      match,
      underlying_match: underlying,
      score,
      side: sideOf(parties[t.queryIndex]?.role, d.role),
    });
  }
  return hits.sort((a, b) => b.score - a.score || a.query_index - b.query_index || a.matter_number.localeCompare(b.matter_number));
}

/**
 * A searched party the client register knows (by USCC or ID number) brings its recorded names, legal
 * representative and shareholders into the search, even when the person checking did not type them.
 */
export async function withRegisteredRelations(db: Db, parties: SearchedParty[]): Promise<SearchedParty[]> {
  const usccs = [...new Set(parties.map((p) => normalizeUscc(p.uscc)).filter((u): u is string => !!u))];
  const idNumbers = [...new Set(parties.map((p) => normalizeIdNumber(p.id_number)).filter((u): u is string => !!u))];
  if (usccs.length === 0 && idNumbers.length === 0) return parties;
  const clients = await db
    .selectFrom('clients')
    .select(['id', 'name', 'uscc', 'id_number', 'aliases', 'legal_representative'])
    .where((eb) => eb.or([...(usccs.length ? [eb('uscc', 'in', usccs)] : []), ...(idNumbers.length ? [eb('id_number', 'in', idNumbers)] : [])]))
    .execute();
  if (clients.length === 0) return parties;
  const members = await db.selectFrom('client_members').select(['client_id', 'name', 'id_number']).where('client_id', 'in', clients.map((c) => c.id)).execute();
  return parties.map((p) => {
    const uscc = normalizeUscc(p.uscc);
    const idNumber = normalizeIdNumber(p.id_number);
    const client = clients.find((c) => (uscc !== null && c.uscc === uscc) || (idNumber !== null && c.id_number === idNumber));
    if (!client) return p;
    const known = new Set((p.shareholders ?? []).map((s) => normalizeName(s.name)));
    const extra = members.filter((m) => m.client_id === client.id && !known.has(normalizeName(m.name))).map((m) => ({ name: m.name, id_number: m.id_number }));
    const aliases = [...new Set([...(p.aliases ?? []), client.name, ...client.aliases])].filter((a) => a !== p.name);
    return { ...p, aliases, legal_representative: p.legal_representative || client.legal_representative, shareholders: [...(p.shareholders ?? []), ...extra] };
  });
}

function sideOf(searched: PartyRole | undefined, found: PartyRole): ConflictHit['side'] {
  const camp = (r: PartyRole | undefined) => (r === 'client' ? 'ours' : r === 'opposing' ? 'theirs' : null);
  const a = camp(searched);
  const b = camp(found);
  if (!a || !b) return 'unknown';
  return a === b ? 'same_side' : 'adverse';
}

/**
 * pg_trgm splits words by the database's LC_CTYPE: under `C` or SQL_ASCII a Chinese character is no
 * word character and a Chinese name yields no trigram at all, which silently disables fuzzy matching.
 */
export async function cjkTrigramsWork(db: Db): Promise<boolean> {
  const { rows } = await sql<{ n: number | null }>`select array_length(show_trgm('张伟明'), 1) as n`.execute(db);
  return Number(rows[0]?.n ?? 0) > 0;
}

/**
 * Serialises intakes for the rest of the caller's transaction. Two intakes for the two sides of one
 * dispute, checked at the same moment, would each search before the other's parties exist and both
 * come out clear; holding this lock from the search until the parties are indexed and committed
 * makes the second search see the first.
 */
export async function lockIntake(trx: Transaction<Database>): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtext('lawbox.conflict_intake'))`.execute(trx);
}

/**
 * Rebuilds a party's rows of `conflict_index` from the party as entered at intake and, for a client,
 * what the register knows now: its current and former names (a renamed company is still the same
 * adversary), its legal representative and its shareholders or partners. Runs in the caller's
 * transaction, so the index never disagrees with the data it was built from.
 */
export async function indexParty(trx: Transaction<Database>, partyId: number): Promise<void> {
  const p = await trx.selectFrom('parties').selectAll().where('id', '=', partyId).executeTakeFirstOrThrow();
  const aliases = [...p.aliases];
  let legalRepresentative = p.legal_representative;
  let legalRepresentativeIdNumber: string | null = null;
  const shareholders: NonNullable<IndexedParty['shareholders']> = [...p.shareholders];
  if (p.client_id !== null) {
    const client = await trx.selectFrom('clients').select(['name', 'aliases', 'legal_representative', 'legal_representative_id_number']).where('id', '=', p.client_id).executeTakeFirstOrThrow();
    aliases.push(client.name, ...client.aliases);
    legalRepresentative ||= client.legal_representative;
    legalRepresentativeIdNumber = client.legal_representative_id_number;
    const given = new Set(shareholders.map((s) => normalizeName(s.name)));
    const members = await trx.selectFrom('client_members').select(['name', 'kind', 'id_number', 'uscc']).where('client_id', '=', p.client_id).execute();
    shareholders.push(...members.filter((m) => !given.has(normalizeName(m.name))));
  }
  await trx.deleteFrom('conflict_index').where('party_id', '=', partyId).execute();
  await trx
    .insertInto('conflict_index')
    .values(
      indexEntries({
        matterId: p.matter_id,
        partyId,
        kind: p.kind,
        name: p.name,
        idNumber: p.id_number,
        uscc: p.uscc,
        aliases: [...new Set(aliases.filter((a) => a !== p.name))],
        legalRepresentative,
        legalRepresentativeIdNumber,
        shareholders,
      }),
    )
    .execute();
}

/** After a client's record changes, every party that is that client is indexed anew. */
export async function reindexClientParties(trx: Transaction<Database>, clientId: number): Promise<number> {
  const parties = await trx.selectFrom('parties').select('id').where('client_id', '=', clientId).execute();
  for (const { id } of parties) await indexParty(trx, id);
  return parties.length;
}

/** One row of `conflict_index` to insert. */
export type IndexEntry = Insertable<ConflictIndexTable>;

export interface IndexedParty {
  matterId: number;
  partyId: number;
  kind: PartyKind;
  name: string;
  idNumber: string | null;
  uscc: string | null;
  aliases?: string[];
  legalRepresentative?: string | null;
  legalRepresentativeIdNumber?: string | null;
  shareholders?: { name: string; kind?: PartyKind; id_number?: string | null; uscc?: string | null }[];
}

/** The index rows for one party: itself, its aliases, its legal representative and shareholders. */
export function indexEntries(p: IndexedParty): IndexEntry[] {
  const entry = (relation: IndexRelation, name: string, kind: PartyKind, idNumber: string | null, uscc: string | null): IndexEntry => {
    const norm = normalizeName(name);
    return {
      matter_id: p.matterId,
      party_id: p.partyId,
      relation,
      name: name.trim(),
      name_norm: norm,
      pinyin: kind === 'person' ? pinyinKey(name) : null,
      name_keys: kind === 'organization' ? [...substitutionKeys(norm), ...[regionFreeKey(norm)].filter((k): k is string => k !== null)] : [],
      id_number: idNumber,
      uscc,
    };
  };
  const rows = [entry('party', p.name, p.kind, p.idNumber, p.uscc)];
  for (const alias of p.aliases ?? []) if (alias.trim()) rows.push(entry('alias', alias, p.kind, null, null));
  if (p.legalRepresentative?.trim()) rows.push(entry('legal_representative', p.legalRepresentative, 'person', normalizeIdNumber(p.legalRepresentativeIdNumber), null));
  for (const s of p.shareholders ?? []) {
    if (!s.name.trim()) continue;
    const kind = s.kind ?? (s.uscc ? 'organization' : 'person');
    rows.push(entry('shareholder', s.name, kind, normalizeIdNumber(s.id_number), normalizeUscc(s.uscc)));
  }
  return rows;
}
