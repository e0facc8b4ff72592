import { sql, type ExpressionBuilder, type Transaction } from 'kysely';
import type { Actor, ServiceContext } from '../../context.js';
import type { Db } from '../../db/index.js';
import type { Client, ClientMember, Database } from '../../db/schema.js';
import { badRequest, conflict, forbidden, notFound } from '../../errors.js';
import { appendAudit } from '../audit/service.js';
import { can } from '../auth/roles.js';
import { reindexClientParties } from '../conflicts/engine.js';
import { matterVisibleTo, seesAllMatters } from '../matters/access.js';
import { checkResidentId, checkUscc, ID_TYPES, maskAddress, maskIdNumber, maskPhone, type IdType } from './identifiers.js';

export type PartyKind = 'person' | 'organization';

/**
 * A person's identifier: a resident ID must pass GB 11643 (a wrong check digit is a typo, and a typo
 * here defeats the conflict check); other documents are kept as given.
 */
export function validatePersonId(idType: string | null | undefined, idNumber: string | null | undefined): { idType: IdType | null; idNumber: string | null } {
  const raw = idNumber?.replace(/\s+/g, '') ?? '';
  if (!raw) return { idType: null, idNumber: null };
  const type = (idType ?? 'resident_id') as IdType;
  if (!ID_TYPES.includes(type)) throw badRequest('INVALID_ID_TYPE', `Unknown ID type "${idType}". / 证件类型不正确。`);
  if (type !== 'resident_id') return { idType: type, idNumber: raw.toUpperCase() };
  const check = checkResidentId(raw);
  if (!check.valid) throw badRequest('INVALID_ID_NUMBER', `Resident ID number ${raw} is not valid: ${check.reason}`);
  return { idType: type, idNumber: check.normalized };
}

/**
 * An organisation's USCC: a malformed code is refused; a code that fails only the check digit is
 * kept with a warning (GB 32100 pilot codes are legal and fail it).
 */
export function validateUscc(uscc: string | null | undefined, warnings: string[]): { uscc: string | null; checkFailed: boolean } {
  if (!uscc?.trim()) return { uscc: null, checkFailed: false };
  const check = checkUscc(uscc);
  if (!check.wellFormed) throw badRequest('INVALID_USCC', `Unified social credit code ${uscc.trim()} is malformed: ${check.reason}`);
  if (!check.checkDigitOk) {
    warnings.push(`USCC ${check.normalized} fails the GB 32100 check digit; kept as entered, please verify it. / 统一社会信用代码 ${check.normalized} 校验位不符，已按原样保存，请核实。`);
  }
  return { uscc: check.normalized, checkFailed: !check.checkDigitOk };
}

export interface MemberInput {
  relation: 'shareholder' | 'partner';
  kind?: PartyKind;
  name: string;
  id_number?: string | null;
  uscc?: string | null;
  share_percent?: number | null;
}

export interface ClientInput {
  kind: PartyKind;
  name: string;
  id_type?: string | null;
  id_number?: string | null;
  uscc?: string | null;
  legal_representative?: string | null;
  legal_representative_id_number?: string | null;
  contact_name?: string | null;
  phone?: string | null;
  email?: string | null;
  address?: string | null;
  aliases?: string[];
  notes?: string | null;
  members?: MemberInput[];
}

interface CleanClient {
  values: Omit<Client, 'id' | 'created_by' | 'created_at' | 'updated_at'>;
  members: Omit<ClientMember, 'id' | 'client_id'>[];
  warnings: string[];
}

function cleanClient(input: ClientInput): CleanClient {
  const warnings: string[] = [];
  const name = input.name.trim();
  if (!name) throw badRequest('INVALID_NAME', 'A client needs a name. / 请填写客户名称。');
  const person = input.kind === 'person';
  if (person && (input.uscc || input.legal_representative || input.members?.length)) {
    throw badRequest('NOT_AN_ORGANIZATION', 'A natural person has no USCC, legal representative or shareholders. / 自然人不适用统一社会信用代码、法定代表人或股东。');
  }
  if (!person && input.id_number) {
    throw badRequest('NOT_A_PERSON', 'An organisation is identified by its USCC, not a personal ID number. / 组织请填写统一社会信用代码。');
  }
  const id = person ? validatePersonId(input.id_type, input.id_number) : { idType: null, idNumber: null };
  const { uscc, checkFailed } = person ? { uscc: null, checkFailed: false } : validateUscc(input.uscc, warnings);
  const legalRepId = input.legal_representative_id_number ? validatePersonId('resident_id', input.legal_representative_id_number).idNumber : null;
  const members = (input.members ?? []).map((m) => {
    const kind = m.kind ?? (m.uscc ? 'organization' : 'person');
    const memberName = m.name.trim();
    if (!memberName) throw badRequest('INVALID_NAME', 'Every shareholder or partner needs a name. / 股东或合伙人须填写名称。');
    return {
      relation: m.relation,
      kind,
      name: memberName,
      id_number: kind === 'person' ? validatePersonId('resident_id', m.id_number).idNumber : null,
      uscc: kind === 'organization' ? validateUscc(m.uscc, warnings).uscc : null,
      share_percent: m.share_percent === null || m.share_percent === undefined ? null : String(m.share_percent),
    };
  });
  const aliases = [...new Set((input.aliases ?? []).map((a) => a.trim()).filter((a) => a && a !== name))];
  return {
    values: {
      kind: input.kind,
      name,
      id_type: id.idType,
      id_number: id.idNumber,
      uscc,
      uscc_check_failed: checkFailed,
      legal_representative: input.legal_representative?.trim() || null,
      legal_representative_id_number: legalRepId,
      contact_name: input.contact_name?.trim() || null,
      phone: input.phone?.replace(/\s+/g, '') || null,
      email: input.email?.trim() || null,
      address: input.address?.trim() || null,
      aliases,
      notes: input.notes?.trim() || null,
    },
    members,
    warnings,
  };
}

// No id in the message: the existing client may be one the user cannot see.
const duplicateClient = () => conflict('CLIENT_EXISTS', 'A client with this identifier is already registered; ask the director if you cannot see it. / 该证件号码或统一社会信用代码已登记为客户。');

async function findByIdentifier(trx: Transaction<Database>, c: CleanClient['values']): Promise<{ id: number } | undefined> {
  if (c.id_number) return trx.selectFrom('clients').select('id').where('id_type', '=', c.id_type).where('id_number', '=', c.id_number).executeTakeFirst();
  if (c.uscc) return trx.selectFrom('clients').select('id').where('uscc', '=', c.uscc).executeTakeFirst();
  return undefined;
}

export async function createClient(ctx: ServiceContext, actor: Actor, input: ClientInput): Promise<{ client: Client; members: ClientMember[]; warnings: string[] }> {
  const clean = cleanClient(input);
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    const existing = await findByIdentifier(trx, clean.values);
    if (existing) throw duplicateClient();
    const client = await insertClient(trx, actor, clean, now);
    const members = await trx.selectFrom('client_members').selectAll().where('client_id', '=', client.id).orderBy('id').execute();
    return { client, members, warnings: clean.warnings };
  });
}

async function insertClient(trx: Transaction<Database>, actor: Actor, clean: CleanClient, now: Date): Promise<Client> {
  const client = await trx
    .insertInto('clients')
    .values({ ...clean.values, aliases: clean.values.aliases, created_by: actor.userId!, created_at: now, updated_at: now })
    .returningAll()
    .executeTakeFirstOrThrow();
  if (clean.members.length) await trx.insertInto('client_members').values(clean.members.map((m) => ({ ...m, client_id: client.id }))).execute();
  await appendAudit(trx, {
    at: now,
    actor: actor.username,
    action: 'client.create',
    object: `client:${client.id}`,
    result: 'success',
    sourceIp: actor.sourceIp,
    detail: { kind: client.kind, members: clean.members.length, uscc_check_failed: client.uscc_check_failed },
  });
  return client;
}

/**
 * The client record behind a matter's client party: the one already registered under the same
 * identifier, else a new one, so the client register fills itself at intake.
 */
export async function clientForParty(trx: Transaction<Database>, actor: Actor, input: ClientInput, now: Date, warnings: string[]): Promise<number | null> {
  const clean = cleanClient(input);
  const existing = await findByIdentifier(trx, clean.values);
  if (!existing) return (await insertClient(trx, actor, clean, now)).id;
  if (await mayViewClient(trx, actor, existing)) return existing.id;
  // Linking would open another team's client record to this user; the conflict check shows the tie.
  warnings.push(`${clean.values.name}: a client with this identifier is registered by another team; this matter is not linked to that record. / ${clean.values.name}：该证件号码已由其他团队登记为客户，本案未关联该客户档案。`);
  return null;
}

const clientNotFound = (id: number) => notFound('CLIENT_NOT_FOUND', `No client with id ${id}, or not one of your matters' clients. / 客户不存在或您无权查看。`);

/**
 * The client, if the actor may see it: every client for those who see every matter, else the clients
 * they registered and those of matters they can see. Hidden and missing answer alike (404).
 */
export async function findVisibleClient(db: Db, actor: Actor, id: number): Promise<Client> {
  const client = await db.selectFrom('clients').selectAll().where('id', '=', id).executeTakeFirst();
  if (!client || !(await mayViewClient(db, actor, client))) throw clientNotFound(id);
  return client;
}

async function mayViewClient(db: Db, actor: Actor, client: { id: number }): Promise<boolean> {
  return !!(await db.selectFrom('clients as c').select('c.id').where('c.id', '=', client.id).where(clientVisibleTo(actor)).executeTakeFirst());
}

/** A where-clause over `clients as c`: those the actor may see. */
function clientVisibleTo(actor: Actor) {
  return (eb: ExpressionBuilder<Database & { c: Database['clients'] }, 'c'>) =>
    seesAllMatters(actor)
      ? eb.lit(true)
      : eb.or([
          eb('c.created_by', '=', actor.userId ?? -1),
          eb.exists(eb.selectFrom('parties as p').innerJoin('matters as m', 'm.id', 'p.matter_id').select('p.id').whereRef('p.client_id', '=', 'c.id').where(matterVisibleTo(actor))),
        ]);
}

export async function listClients(ctx: ServiceContext, actor: Actor, filter: { q?: string; limit: number; offset: number }): Promise<Client[]> {
  let q = ctx.db.selectFrom('clients as c').selectAll('c').orderBy('c.id', 'desc').limit(filter.limit).offset(filter.offset);
  if (filter.q?.trim()) {
    const like = `%${filter.q.trim().replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
    q = q.where((eb) => eb.or([eb('c.name', 'like', like), eb(sql`array_to_string(c.aliases, ' ')`, 'like', like)]));
  }
  q = q.where(clientVisibleTo(actor));
  return q.execute();
}

export async function getClient(ctx: ServiceContext, actor: Actor, id: number): Promise<{ client: Client; members: ClientMember[] }> {
  const client = await findVisibleClient(ctx.db, actor, id);
  const members = await ctx.db.selectFrom('client_members').selectAll().where('client_id', '=', id).orderBy('id').execute();
  return { client, members };
}

export async function updateClient(ctx: ServiceContext, actor: Actor, id: number, changes: Partial<ClientInput>): Promise<{ client: Client; members: ClientMember[]; warnings: string[] }> {
  const before = await findVisibleClient(ctx.db, actor, id);
  const beforeMembers = await ctx.db.selectFrom('client_members').selectAll().where('client_id', '=', id).execute();
  if (changes.kind !== undefined && changes.kind !== before.kind) throw badRequest('KIND_FIXED', 'A client’s kind cannot change; register a new client. / 客户类型不可更改。');
  const merged: ClientInput = {
    kind: before.kind,
    name: changes.name ?? before.name,
    id_type: changes.id_type !== undefined ? changes.id_type : before.id_type,
    id_number: changes.id_number !== undefined ? changes.id_number : before.id_number,
    uscc: changes.uscc !== undefined ? changes.uscc : before.uscc,
    legal_representative: changes.legal_representative !== undefined ? changes.legal_representative : before.legal_representative,
    legal_representative_id_number: changes.legal_representative_id_number !== undefined ? changes.legal_representative_id_number : before.legal_representative_id_number,
    contact_name: changes.contact_name !== undefined ? changes.contact_name : before.contact_name,
    phone: changes.phone !== undefined ? changes.phone : before.phone,
    email: changes.email !== undefined ? changes.email : before.email,
    address: changes.address !== undefined ? changes.address : before.address,
    // A former name stays searchable: renaming keeps the old name as an alias.
    aliases: [...(changes.aliases ?? before.aliases), ...(changes.name && changes.name.trim() !== before.name ? [before.name] : [])],
    notes: changes.notes !== undefined ? changes.notes : before.notes,
    members: changes.members ?? beforeMembers.map((m) => ({ ...m, share_percent: m.share_percent === null ? null : Number(m.share_percent) })),
  };
  const clean = cleanClient(merged);
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    const other = await findByIdentifier(trx, clean.values);
    if (other && other.id !== id) throw duplicateClient();
    const client = await trx.updateTable('clients').set({ ...clean.values, updated_at: now }).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
    if (changes.members) {
      await trx.deleteFrom('client_members').where('client_id', '=', id).execute();
      if (clean.members.length) await trx.insertInto('client_members').values(clean.members.map((m) => ({ ...m, client_id: id }))).execute();
    }
    // Names, identifiers, representative and members feed the conflict check: its index follows at once.
    const reindexed = await reindexClientParties(trx, id);
    const changed = Object.keys(changes).filter((k) => k !== 'kind');
    await appendAudit(trx, { at: now, actor: actor.username, action: 'client.update', object: `client:${id}`, result: 'success', sourceIp: actor.sourceIp, detail: { fields: changed, parties_reindexed: reindexed } });
    const members = await trx.selectFrom('client_members').selectAll().where('client_id', '=', id).orderBy('id').execute();
    return { client, members, warnings: clean.warnings };
  });
}

/** Reveals a client's full identifiers and contact data to a role that may see them; audited each time. */
export async function unmaskClient(ctx: ServiceContext, actor: Actor, id: number, reason: string): Promise<{ client: Client; members: ClientMember[] }> {
  if (!actor.role || !can(actor.role, 'personal_data.unmask')) {
    throw forbidden('FORBIDDEN', 'Your role may not see unmasked personal data. / 您的角色无权查看完整个人信息。');
  }
  const found = await getClient(ctx, actor, id);
  await ctx.db.transaction().execute((trx) =>
    appendAudit(trx, { at: ctx.clock.now(), actor: actor.username, action: 'client.unmask', object: `client:${id}`, result: 'success', sourceIp: actor.sourceIp, detail: { reason } }),
  );
  return found;
}

export interface PresentedClient {
  id: number;
  kind: PartyKind;
  name: string;
  id_type: string | null;
  id_number: string | null;
  uscc: string | null;
  uscc_check_failed: boolean;
  legal_representative: string | null;
  legal_representative_id_number: string | null;
  contact_name: string | null;
  phone: string | null;
  email: string | null;
  address: string | null;
  aliases: string[];
  notes: string | null;
  members: { id: number; relation: string; kind: string; name: string; id_number: string | null; uscc: string | null; share_percent: string | null }[];
  masked: boolean;
  created_at: string;
  updated_at: string;
}

/**
 * Personal data is masked (GB/T 35273 §7.2) unless `unmasked` is set, which only the audited unmask
 * path does. A USCC identifies an organisation, not a person, and is shown as is.
 */
export function presentClient(client: Client, members: ClientMember[], unmasked = false): PresentedClient {
  const id = (v: string | null) => (unmasked ? v : maskIdNumber(v));
  return {
    id: client.id,
    kind: client.kind,
    name: client.name,
    id_type: client.id_type,
    id_number: id(client.id_number),
    uscc: client.uscc,
    uscc_check_failed: client.uscc_check_failed,
    legal_representative: client.legal_representative,
    legal_representative_id_number: id(client.legal_representative_id_number),
    contact_name: client.contact_name,
    phone: unmasked ? client.phone : maskPhone(client.phone),
    email: client.email,
    address: unmasked ? client.address : maskAddress(client.address),
    aliases: client.aliases,
    notes: client.notes,
    members: members.map((m) => ({ id: m.id, relation: m.relation, kind: m.kind, name: m.name, id_number: id(m.id_number), uscc: m.uscc, share_percent: m.share_percent })),
    masked: !unmasked,
    created_at: client.created_at.toISOString(),
    updated_at: client.updated_at.toISOString(),
  };
}
