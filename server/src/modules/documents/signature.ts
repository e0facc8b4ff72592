import { createHash } from 'node:crypto';
import type { Transaction } from 'kysely';
import { sm2 } from 'sm-crypto-v2';
import type { Database } from '../../db/schema.js';
import type { Config } from '../../config.js';
import { openSecret, sealSecret } from '../../secrets.js';
import {
  bitString,
  DerError,
  generalizedTime,
  ia5String,
  integer,
  octetString,
  oid,
  parseDer,
  readBits,
  readIa5,
  readInteger,
  readOctets,
  readOid,
  readSequence,
  readSequenceOf,
  readSmallInteger,
  readTime,
  readUtf8,
  sequence,
  utf8String,
} from './der.js';
import type { SigningKeyPurpose } from './tables.js';

/**
 * Detached SM2 signatures with the semantics of GB/T 38540-2020 (安全电子签章密码技术规范): an
 * SES_Signature (version 4) binds a seal (SESeal), the signing time, the SM3 hash of the document's
 * bytes and a property string, and is signed with SM2-with-SM3 (GB/T 32918, OID 1.2.156.10197.1.501)
 * over its DER-encoded TBS_Sign, with the default signer ID 1234567812345678 (GB/T 35276).
 *
 *   SES_Signature ::= SEQUENCE {
 *     toSign          TBS_Sign,
 *     cert            OCTET STRING,      -- the signing key: DER SubjectPublicKeyInfo (see below)
 *     signatureAlgID  OBJECT IDENTIFIER, -- 1.2.156.10197.1.501
 *     signature       BIT STRING }       -- SM2Signature ::= SEQUENCE { r INTEGER, s INTEGER }
 *   TBS_Sign ::= SEQUENCE {
 *     version      INTEGER (4),
 *     eseal        SESeal,
 *     timeInfo     GeneralizedTime,      -- signing time, UTC, whole seconds
 *     dataHash     BIT STRING,           -- SM3 over the original PDF's bytes
 *     propertyInfo IA5String }           -- "lawbox;document=<id>;kind=<client|firm_seal>;evidence-sm3=<hex>"
 *   SESeal ::= SEQUENCE {
 *     esealInfo   SES_SealInfo,
 *     cert        OCTET STRING,          -- the seal maker's key (the firm's platform key), SPKI
 *     signAlgID   OBJECT IDENTIFIER,     -- 1.2.156.10197.1.501
 *     signedValue BIT STRING }           -- the maker's SM2 signature over DER(esealInfo)
 *   SES_SealInfo ::= SEQUENCE {
 *     header   SEQUENCE { ID IA5String "ES", version INTEGER 4, Vid IA5String "lawbox" },
 *     esID     IA5String,                -- lawbox-seal-<type>-<key id> | lawbox-signer-<request id>
 *     property SEQUENCE {
 *       type INTEGER (1 单位印章 | 2 个人印章), name UTF8String, certListType INTEGER (1),
 *       certList SEQUENCE OF OCTET STRING, -- the keys that may sign with this seal, SPKI
 *       createDate GeneralizedTime, validStart GeneralizedTime, validEnd GeneralizedTime },
 *     picture  SEQUENCE { type IA5String "SVG", data OCTET STRING, width INTEGER, height INTEGER } } -- mm
 *
 * Where the standard has X.509 certificates the appliance has no CA: `cert` and `certList` carry the
 * bare SubjectPublicKeyInfo (id-ecPublicKey with the SM2 curve 1.2.156.10197.1.301), and trust comes
 * from the key being one of the firm's own signing keys. The evidence of a client's signature (identity,
 * time, address, device, consent) is bound in by its SM3 hash in propertyInfo; the optional timeStamp
 * and extDatas are left out.
 */

export const SM2_WITH_SM3 = '1.2.156.10197.1.501';
const EC_PUBLIC_KEY = '1.2.840.10045.2.1';
const SM2_CURVE = '1.2.156.10197.1.301';
/** GB/T 35276 default signer identity for the Z value. */
export const SM2_USER_ID = '1234567812345678';
const SES_VERSION = 4;
/** Order of the SM2 curve's base point: r and s must lie in [1, n-1]. */
const SM2_N = 0xfffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123n;

export const sm3Hex = (data: Buffer | string): string => createHash('sm3').update(data).digest('hex');
export const sha256Hex = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

export interface SigningKey {
  id: number;
  purpose: SigningKeyPurpose;
  publicKey: string;
  privateKey: string;
  createdAt: Date;
}

/** What a sealed private key is bound to: its row, so it cannot be swapped for another purpose's. */
export const signingKeyContext = (purpose: string) => `signing_keys:${purpose}`;

/**
 * The firm's key for `purpose`, made on first use. Two first uses at once both try to insert; the
 * unique purpose keeps one and both read it back.
 */
export async function signingKey(trx: Transaction<Database>, config: Config, purpose: SigningKeyPurpose, now: Date): Promise<SigningKey> {
  const read = () => trx.selectFrom('signing_keys').selectAll().where('purpose', '=', purpose).executeTakeFirst();
  let row = await read();
  if (!row) {
    const pair = sm2.generateKeyPairHex();
    await trx
      .insertInto('signing_keys')
      .values({ purpose, algorithm: 'SM2', public_key: pair.publicKey, private_key: sealSecret(config, pair.privateKey, signingKeyContext(purpose)), created_at: wholeSeconds(now) })
      .onConflict((oc) => oc.column('purpose').doNothing())
      .execute();
    row = await read();
  }
  if (!row) throw new Error(`signing key ${purpose} could not be made`);
  return { id: row.id, purpose: row.purpose, publicKey: row.public_key, privateKey: openSecret(config, row.private_key, signingKeyContext(purpose)), createdAt: row.created_at };
}

/** The firm's public keys by hex, with their purpose: whom a presented signature may come from. */
export async function knownKeys(db: Pick<Transaction<Database>, 'selectFrom'>): Promise<Map<string, { id: number; purpose: SigningKeyPurpose }>> {
  const rows = await db.selectFrom('signing_keys').select(['id', 'purpose', 'public_key']).execute();
  return new Map(rows.map((r) => [r.public_key, { id: r.id, purpose: r.purpose }]));
}

/** Signing times are whole seconds, as GeneralizedTime carries them. */
export const wholeSeconds = (at: Date): Date => new Date(Math.floor(at.getTime() / 1000) * 1000);

/** DER SubjectPublicKeyInfo of an SM2 public key (uncompressed point). */
export function spki(publicKeyHex: string): Buffer {
  return sequence(sequence(oid(EC_PUBLIC_KEY), oid(SM2_CURVE)), bitString(Buffer.from(publicKeyHex, 'hex')));
}

function publicKeyOf(spkiDer: Buffer, what: string): string {
  const [algorithm, key] = readSequence(parseDer(spkiDer), 2, what);
  const [kind, curve] = readSequence(algorithm, 2, `${what} algorithm`);
  if (readOid(kind, `${what} algorithm`) !== EC_PUBLIC_KEY || readOid(curve, `${what} curve`) !== SM2_CURVE) throw new DerError(`${what}: not an SM2 public key`);
  const point = readBits(key, `${what} key`);
  if (point.length !== 65 || point[0] !== 0x04) throw new DerError(`${what}: not an uncompressed SM2 point`);
  return point.toString('hex');
}

function sm2Sign(message: Buffer, key: SigningKey): Buffer {
  return Buffer.from(sm2.doSignature(new Uint8Array(message), key.privateKey, { der: true, hash: true, publicKey: key.publicKey, userId: SM2_USER_ID }), 'hex');
}

/**
 * SM2 verification of a DER SM2Signature. The DER is read strictly here (one encoding per value, r and
 * s within the curve order), so a signature cannot be re-encoded into a second form that still passes.
 * Meant for the firm's own keys (whose precomputed points are cached).
 */
export function sm2Verify(message: Buffer, signatureDer: Buffer, publicKeyHex: string): boolean {
  let r: bigint;
  let s: bigint;
  try {
    const [rn, sn] = readSequence(parseDer(signatureDer), 2, 'SM2 signature');
    r = readInteger(rn, 'r');
    s = readInteger(sn, 's');
  } catch {
    return false;
  }
  if (r < 1n || r >= SM2_N || s < 1n || s >= SM2_N) return false;
  const rs = r.toString(16).padStart(64, '0') + s.toString(16).padStart(64, '0');
  try {
    return sm2.doVerifySignature(new Uint8Array(message), rs, precomputed(publicKeyHex), { hash: true, userId: SM2_USER_ID });
  } catch {
    return false;
  }
}

/** Precomputed points of the firm's few keys: verification is four times faster with them. */
const points = new Map<string, ReturnType<typeof sm2.precomputePublicKey>>();
function precomputed(publicKeyHex: string) {
  let point = points.get(publicKeyHex);
  if (!point) {
    if (points.size >= 16) points.clear();
    point = sm2.precomputePublicKey(publicKeyHex);
    points.set(publicKeyHex, point);
  }
  return point;
}

export interface SealInfo {
  esId: string;
  /** 1 单位印章 (the firm's seal), 2 个人印章 (a signer's personal signature) */
  type: 1 | 2;
  name: string;
  createDate: Date;
  validStart: Date;
  validEnd: Date;
}

const xml = (s: string) => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The seal's picture: a round red seal for the firm, a framed name for a person (SVG, sizes in mm). */
function sealPicture(info: SealInfo): { svg: string; width: number; height: number } {
  if (info.type === 1) {
    return {
      width: 40,
      height: 40,
      svg: `<svg xmlns="http://www.w3.org/2000/svg" width="40mm" height="40mm" viewBox="0 0 200 200"><circle cx="100" cy="100" r="92" fill="none" stroke="#d40000" stroke-width="8"/><text x="100" y="112" font-size="60" text-anchor="middle" fill="#d40000">★</text><text x="100" y="160" font-size="16" text-anchor="middle" fill="#d40000">${xml(info.name)}</text></svg>`,
    };
  }
  return {
    width: 30,
    height: 12,
    svg: `<svg xmlns="http://www.w3.org/2000/svg" width="30mm" height="12mm" viewBox="0 0 300 120"><rect x="4" y="4" width="292" height="112" fill="none" stroke="#d40000" stroke-width="6"/><text x="150" y="76" font-size="40" text-anchor="middle" fill="#d40000">${xml(info.name)}</text></svg>`,
  };
}

/** An SESeal made (signed) by `maker`, usable by the `holder` key. */
export function makeSeal(info: SealInfo, maker: SigningKey, holder: SigningKey): Buffer {
  const picture = sealPicture(info);
  const sealInfo = sequence(
    sequence(ia5String('ES'), integer(SES_VERSION), ia5String('lawbox')),
    ia5String(info.esId),
    sequence(
      integer(info.type),
      utf8String(info.name),
      integer(1),
      sequence(octetString(spki(holder.publicKey))),
      generalizedTime(wholeSeconds(info.createDate)),
      generalizedTime(wholeSeconds(info.validStart)),
      generalizedTime(wholeSeconds(info.validEnd)),
    ),
    sequence(ia5String('SVG'), octetString(Buffer.from(picture.svg, 'utf8')), integer(picture.width), integer(picture.height)),
  );
  return sequence(sealInfo, octetString(spki(maker.publicKey)), oid(SM2_WITH_SM3), bitString(sm2Sign(sealInfo, maker)));
}

export interface SignInput {
  seal: Buffer;
  signedAt: Date;
  /** the original document's bytes */
  document: Buffer;
  propertyInfo: string;
  key: SigningKey;
}

/** The DER SES_Signature over a document. */
export function signDocument(input: SignInput): Buffer {
  const tbs = sequence(integer(SES_VERSION), input.seal, generalizedTime(input.signedAt), bitString(Buffer.from(sm3Hex(input.document), 'hex')), ia5String(input.propertyInfo));
  return sequence(tbs, octetString(spki(input.key.publicKey)), oid(SM2_WITH_SM3), bitString(sm2Sign(tbs, input.key)));
}

export interface ParsedSignature {
  tbs: Buffer;
  signerKey: string;
  algorithm: string;
  signature: Buffer;
  version: number;
  signedAt: Date;
  dataHash: string;
  propertyInfo: string;
  seal: SealInfo & { info: Buffer; makerKey: string; algorithm: string; signedValue: Buffer; holderKeys: string[] };
}

/** Reads an SES_Signature; throws DerError on anything that is not one. */
export function parseSignature(der: Buffer): ParsedSignature {
  const [toSign, cert, alg, value] = readSequence(parseDer(der), 4, 'SES_Signature');
  const [version, eseal, timeInfo, dataHash, property] = readSequence(toSign, 5, 'TBS_Sign');
  const [sealInfoNode, makerCert, sealAlg, sealValue] = readSequence(eseal, 4, 'SESeal');
  const [header, esId, sealProperty, picture] = readSequence(sealInfoNode, 4, 'SES_SealInfo');
  const [id, headerVersion, vid] = readSequence(header, 3, 'SES_Header');
  if (readIa5(id, 'SES_Header.ID') !== 'ES') throw new DerError('SES_Header.ID must be "ES"');
  readSmallInteger(headerVersion, 'SES_Header.version', 1000);
  readIa5(vid, 'SES_Header.Vid');
  const [type, name, certListType, certList, createDate, validStart, validEnd] = readSequence(sealProperty, 7, 'SES_ESPropertyInfo');
  const sealType = readSmallInteger(type, 'seal type', 1000);
  if (sealType !== 1 && sealType !== 2) throw new DerError(`seal type ${sealType} is neither 1 (unit) nor 2 (personal)`);
  if (readSmallInteger(certListType, 'certListType', 1000) !== 1) throw new DerError('certListType must be 1 (a list of keys)');
  const holders = readSequenceOf(certList, 'certList').map((n, i) => publicKeyOf(readOctets(n, `certList[${i}]`), `certList[${i}]`));
  const [pictureType, pictureData, width, height] = readSequence(picture, 4, 'SES_ESPictrueInfo');
  readIa5(pictureType, 'picture type');
  readOctets(pictureData, 'picture data');
  readSmallInteger(width, 'picture width', 10_000);
  readSmallInteger(height, 'picture height', 10_000);
  return {
    tbs: toSign!.raw,
    signerKey: publicKeyOf(readOctets(cert, 'cert'), 'cert'),
    algorithm: readOid(alg, 'signatureAlgID'),
    signature: readBits(value, 'signature'),
    version: readSmallInteger(version, 'version', 1000),
    signedAt: readTime(timeInfo, 'timeInfo'),
    dataHash: readBits(dataHash, 'dataHash').toString('hex'),
    propertyInfo: readIa5(property, 'propertyInfo'),
    seal: {
      info: sealInfoNode!.raw,
      esId: readIa5(esId, 'esID'),
      type: sealType,
      name: readUtf8(name, 'seal name'),
      createDate: readTime(createDate, 'createDate'),
      validStart: readTime(validStart, 'validStart'),
      validEnd: readTime(validEnd, 'validEnd'),
      holderKeys: holders,
      makerKey: publicKeyOf(readOctets(makerCert, 'seal cert'), 'seal cert'),
      algorithm: readOid(sealAlg, 'seal signAlgID'),
      signedValue: readBits(sealValue, 'seal signedValue'),
    },
  };
}

export interface Reason {
  code: string;
  message: string;
}

export interface Verification {
  valid: boolean;
  reasons: Reason[];
  parsed: ParsedSignature | null;
  /** SM3 and SHA-256 of the presented document */
  documentSm3: string;
  documentSha256: string;
  /** the firm's key that made the signature, if it is one */
  key: { id: number; purpose: SigningKeyPurpose } | null;
}

/**
 * Checks a detached signature against a document: the structure, the algorithm, that the key is one
 * of the firm's and may use the seal, the seal maker's signature, the signature over TBS_Sign, the
 * signing time within the seal's validity, and the document's SM3 against dataHash. Every failed
 * check is reported, not only the first.
 */
export function verifyDetached(document: Buffer, der: Buffer, keys: Map<string, { id: number; purpose: SigningKeyPurpose }>): Verification {
  const documentSm3 = sm3Hex(document);
  const documentSha256 = sha256Hex(document);
  const reasons: Reason[] = [];
  let parsed: ParsedSignature;
  try {
    parsed = parseSignature(der);
  } catch (err) {
    const detail = err instanceof DerError ? err.message : 'unreadable';
    return {
      valid: false,
      reasons: [{ code: 'MALFORMED_SIGNATURE', message: `The signature file is not an SES_Signature (${detail}). / 签名文件格式无效（${detail}）。` }],
      parsed: null,
      documentSm3,
      documentSha256,
      key: null,
    };
  }
  const add = (code: string, message: string) => reasons.push({ code, message });
  if (parsed.version !== SES_VERSION) add('UNSUPPORTED_VERSION', `Signature version ${parsed.version}; version 4 is expected. / 签名版本不受支持。`);
  if (parsed.algorithm !== SM2_WITH_SM3 || parsed.seal.algorithm !== SM2_WITH_SM3) add('UNSUPPORTED_ALGORITHM', `The algorithm is not SM2-with-SM3 (${SM2_WITH_SM3}). / 签名算法不是 SM2/SM3。`);
  const key = keys.get(parsed.signerKey) ?? null;
  if (!key) add('UNKNOWN_SIGNER_KEY', 'The signature was not made with one of this firm’s keys. / 签名密钥不属于本所。');
  const maker = keys.get(parsed.seal.makerKey);
  if (maker?.purpose !== 'platform') add('UNKNOWN_SEAL_MAKER', 'The seal was not made by this firm’s platform key. / 印章不是由本所平台密钥制作的。');
  else if (!sm2Verify(parsed.seal.info, parsed.seal.signedValue, parsed.seal.makerKey)) add('SEAL_SIGNATURE_INVALID', 'The seal’s own signature does not verify: the seal was altered. / 印章数据被改动，印章签名验证失败。');
  if (!parsed.seal.holderKeys.includes(parsed.signerKey)) add('KEY_NOT_ON_SEAL', 'The signing key is not one the seal lists. / 签名密钥不在印章的授权列表中。');
  // Only a key of the firm's is worth the SM2 check: anything else is refused above already.
  if (key && !sm2Verify(parsed.tbs, parsed.signature, parsed.signerKey)) add('SIGNATURE_INVALID', 'The SM2 signature does not verify: the signed data (time, hash, seal or properties) or the signature value was changed. / SM2 签名验证失败：签名内容或签名值被改动。');
  if (parsed.signedAt < parsed.seal.validStart || parsed.signedAt > parsed.seal.validEnd) add('OUTSIDE_SEAL_VALIDITY', 'The signing time lies outside the seal’s validity. / 签署时间不在印章有效期内。');
  if (parsed.dataHash !== documentSm3) add('DOCUMENT_CHANGED', 'The document’s SM3 hash differs from the signed one: the document was changed. / 文书的 SM3 杂凑值与签名时不符，文书已被改动。');
  return { valid: reasons.length === 0, reasons, parsed, documentSm3, documentSha256, key };
}

/** Reads `lawbox;document=…;kind=…;evidence-sm3=…` back into its fields. */
export function readProperty(propertyInfo: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of propertyInfo.split(';').slice(1)) {
    const eq = part.indexOf('=');
    if (eq > 0) out[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return out;
}
