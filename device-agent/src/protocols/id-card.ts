/**
 * Second-generation resident ID card readers (公安部 SAM module; serial or USB-serial, usually 115200 8N1).
 *
 * Frame, both directions:
 *
 *     AA AA AA 96 69 | LEN_HI LEN_LO | payload … | CHK
 *
 * `LEN` (big endian) counts the bytes after it, checksum included. `CHK` is the XOR of the two length
 * bytes and every byte after them up to the checksum. A command's payload is `CMD PARA [data]`; a reply's
 * payload is `SW1 SW2 SW3 [data]`, where SW1 SW2 are forwarded from the card and SW3 is the SAM's own
 * status (see {@link ID_CARD_STATUS}).
 *
 * The three commands a read needs (find, select, read), with their checksums:
 *
 *     find   20 01  LEN 00 03  CHK 00^03^20^01 = 22   →  AA AA AA 96 69 00 03 20 01 22
 *     select 20 02  LEN 00 03  CHK 00^03^20^02 = 21   →  AA AA AA 96 69 00 03 20 02 21
 *     read   30 01  LEN 00 03  CHK 00^03^30^01 = 32   →  AA AA AA 96 69 00 03 30 01 32
 *
 * A successful find answers `00 00 9F` and 4 bytes, a select `00 00 90` and 8 bytes, a read `00 00 90` and
 * text length (2 bytes BE, 256), photo length (2 bytes BE, normally 1024), the text block, the photo (WLT,
 * proprietary: kept opaque, never decoded here).
 *
 * Text block: 256 bytes of UCS-2LE padded with spaces; field widths in bytes (as widely documented by
 * reader vendors, to verify against a real reader): name 30, sex 2, ethnicity code 4, birth date 16,
 * address 70, ID number 36, issuing authority 30, valid from 16, valid to 16, then 36 reserved bytes.
 *
 * Pure functions, no I/O. The only error thrown is {@link FrameError} (protocol `id-card`); the
 * {@link IdCardDeframer} never throws. The encoders exist for the reader simulator used in tests and demos.
 */
import { FrameError } from './errors.js';

export const ID_CARD_PROTOCOL = 'id-card';
/** 3 sync bytes, then the 2-byte start-of-frame `96 69`. */
export const ID_CARD_PREAMBLE: readonly number[] = Object.freeze([0xaa, 0xaa, 0xaa, 0x96, 0x69]);
const PREAMBLE = Buffer.from(ID_CARD_PREAMBLE);
/** preamble + 2 length bytes */
export const ID_CARD_HEADER_LENGTH = 7;
/** Size of the text block of a resident ID card. */
export const ID_CARD_TEXT_LENGTH = 256;
/** Usual size of the WLT photo. */
export const ID_CARD_PHOTO_LENGTH = 1024;
/**
 * Default ceiling on the length field accepted by the deframer. The largest documented reply, read with
 * fingerprints (`30 10`), is 3 + 6 + 256 + 1024 + 1024 + 1 = 2314; a longer length is taken for noise.
 */
export const ID_CARD_MAX_LENGTH = 0x0a00;

export type IdCardErrorCode = 'BAD_HEADER' | 'BAD_LENGTH' | 'BAD_CHECKSUM' | 'TRUNCATED' | 'BAD_TEXT' | 'BAD_VALUE';

function fail(code: IdCardErrorCode, message: string): never {
  throw new FrameError(ID_CARD_PROTOCOL, code, message);
}

function hex(n: number): string {
  return n.toString(16).padStart(2, '0');
}

// ---------------------------------------------------------------------------------------------------------
// Frames

/** XOR of the length bytes and everything after them, up to (not including) the checksum. */
function checksumOf(bytes: Uint8Array, from: number, to: number): number {
  let x = 0;
  for (let i = from; i < to; i++) x ^= bytes[i]!;
  return x;
}

/** Wraps a payload (command or reply bytes, without length and checksum) in a complete frame. */
export function encodeFrame(payload: Uint8Array): Buffer {
  const len = payload.length + 1;
  if (len > 0xffff) fail('BAD_LENGTH', `payload of ${payload.length} bytes does not fit a 16-bit length`);
  const out = Buffer.alloc(ID_CARD_HEADER_LENGTH + len);
  PREAMBLE.copy(out, 0);
  out.writeUInt16BE(len, 5);
  out.set(payload, ID_CARD_HEADER_LENGTH);
  out[out.length - 1] = checksumOf(out, 5, out.length - 1);
  return out;
}

/**
 * Reads exactly one frame and returns its payload (a copy). Checks, in order: preamble (BAD_HEADER),
 * enough bytes for the length (TRUNCATED), length ≥ `minLength` (BAD_LENGTH), frame size (TRUNCATED if
 * short, BAD_LENGTH if bytes follow the checksum), checksum (BAD_CHECKSUM).
 */
export function decodeFrame(bytes: Uint8Array, minLength = 1): { payload: Buffer } {
  const head = Math.min(bytes.length, PREAMBLE.length);
  for (let i = 0; i < head; i++) {
    if (bytes[i] !== ID_CARD_PREAMBLE[i]) fail('BAD_HEADER', `byte ${i} is ${hex(bytes[i]!)}, expected ${hex(ID_CARD_PREAMBLE[i]!)} (preamble AA AA AA 96 69)`);
  }
  if (bytes.length < ID_CARD_HEADER_LENGTH) fail('TRUNCATED', `${bytes.length} bytes, a frame header is ${ID_CARD_HEADER_LENGTH}`);
  const len = (bytes[5]! << 8) | bytes[6]!;
  if (len < minLength) fail('BAD_LENGTH', `length ${len} is below the minimum of ${minLength}`);
  const total = ID_CARD_HEADER_LENGTH + len;
  if (bytes.length < total) fail('TRUNCATED', `${bytes.length} bytes, the length announces ${total}`);
  if (bytes.length > total) fail('BAD_LENGTH', `${bytes.length - total} bytes follow the checksum (length ${len})`);
  const expected = checksumOf(bytes, 5, total - 1);
  if (bytes[total - 1] !== expected) fail('BAD_CHECKSUM', `checksum ${hex(bytes[total - 1]!)}, computed ${hex(expected)}`);
  return { payload: Buffer.from(bytes.subarray(ID_CARD_HEADER_LENGTH, total - 1)) };
}

// ---------------------------------------------------------------------------------------------------------
// Commands

export type IdCardCommand = 'find' | 'select' | 'read';

/** CMD, PARA of the commands this codec names. */
export const ID_CARD_COMMANDS: Readonly<Record<IdCardCommand, readonly [number, number]>> = {
  /** 寻找居民身份证 */
  find: [0x20, 0x01],
  /** 选取居民身份证 */
  select: [0x20, 0x02],
  /** 读固定信息（文字 + 照片） */
  read: [0x30, 0x01],
};

/** The exact bytes of a command, e.g. find → `AA AA AA 96 69 00 03 20 01 22`. */
export function encodeCommand(cmd: IdCardCommand): Buffer {
  const code = Object.hasOwn(ID_CARD_COMMANDS, cmd) ? ID_CARD_COMMANDS[cmd] : undefined;
  if (!code) fail('BAD_VALUE', `unknown command ${String(cmd)}`);
  return encodeFrame(Uint8Array.from(code));
}

export interface DecodedCommand {
  /** the command's name when CMD PARA is one of {@link ID_CARD_COMMANDS}, else null (a simulator answers SW3 `21`) */
  command: IdCardCommand | null;
  cmd: number;
  para: number;
  /** bytes after PARA (none for the three named commands) */
  data: Buffer;
}

/** Reads one command frame (for the simulator). Same checks as {@link decodeFrame}; LEN must be ≥ 3. */
export function decodeCommand(bytes: Uint8Array): DecodedCommand {
  const { payload } = decodeFrame(bytes, 3);
  const cmd = payload[0]!;
  const para = payload[1]!;
  let command: IdCardCommand | null = null;
  for (const [name, [c, p]] of Object.entries(ID_CARD_COMMANDS) as Array<[IdCardCommand, readonly [number, number]]>) {
    if (c === cmd && p === para) command = name;
  }
  return { command, cmd, para, data: payload.subarray(2) };
}

// ---------------------------------------------------------------------------------------------------------
// Replies

/**
 * SW3, the SAM's own status (SW1 SW2 are forwarded from the card, `00 00` except on some card errors).
 * Table as published in the SAM module's protocol notes (公安部第一研究所 / vendor copies); `ok` marks the
 * ones {@link decodeReply} counts as success.
 */
export const ID_CARD_STATUS: Readonly<Record<number, { key: string; ok: boolean; meaning: string }>> = {
  0x90: { key: 'success', ok: true, meaning: '操作成功' },
  0x91: { key: 'no_content', ok: true, meaning: '证/卡中此项无内容' },
  0x9f: { key: 'card_found', ok: true, meaning: '寻找证/卡成功（数据为 4 字节）' },
  0x10: { key: 'checksum_error', ok: false, meaning: '接收业务终端数据的校验和错' },
  0x11: { key: 'length_error', ok: false, meaning: '接收业务终端数据的长度错' },
  0x21: { key: 'command_error', ok: false, meaning: '接收业务终端的命令错误（数值或逻辑搭配错误）' },
  0x23: { key: 'unauthorised_operation', ok: false, meaning: '越权操作' },
  0x24: { key: 'unknown_error', ok: false, meaning: '无法识别的错误' },
  0x31: { key: 'card_auth_of_sam_failed', ok: false, meaning: '证/卡认证 SAM 失败' },
  0x32: { key: 'sam_auth_of_card_failed', ok: false, meaning: 'SAM 认证证/卡失败' },
  0x33: { key: 'verification_failed', ok: false, meaning: '信息验证错误' },
  0x37: { key: 'fingerprint_verification_failed', ok: false, meaning: '指纹信息验证错误' },
  0x3f: { key: 'info_length_error', ok: false, meaning: '信息长度错误' },
  0x40: { key: 'unknown_card_type', ok: false, meaning: '无法识别的证/卡类型' },
  0x41: { key: 'read_failed', ok: false, meaning: '读证/卡操作失败' },
  0x47: { key: 'random_failed', ok: false, meaning: '取随机数失败' },
  0x60: { key: 'self_test_failed', ok: false, meaning: 'SAM 自检失败，不能接收命令' },
  0x66: { key: 'not_authorised', ok: false, meaning: 'SAM 未经授权，无法使用' },
  0x80: { key: 'find_failed', ok: false, meaning: '寻找证/卡失败（无卡）' },
  0x81: { key: 'select_failed', ok: false, meaning: '选取证/卡失败' },
};

export type IdCardStatus = [sw1: number, sw2: number, sw3: number];

export interface IdCardReply {
  status: IdCardStatus;
  /** none by default */
  data?: Uint8Array;
}

export interface DecodedReply {
  status: IdCardStatus;
  /** SW3 is 90, 91 or 9F (see {@link ID_CARD_STATUS}); SW1 SW2 are not considered */
  ok: boolean;
  /** the {@link ID_CARD_STATUS} key of SW3, or `unknown_XX` */
  statusKey: string;
  data: Buffer;
}

function isByte(n: unknown): n is number {
  return Number.isInteger(n) && (n as number) >= 0 && (n as number) <= 0xff;
}

/** A reply frame (for the simulator), e.g. no card: `{ status: [0, 0, 0x80] }` → `AA AA AA 96 69 00 04 00 00 80 84`. */
export function encodeReply(reply: IdCardReply): Buffer {
  const status = reply.status;
  if (!Array.isArray(status) || status.length !== 3 || !status.every(isByte)) fail('BAD_VALUE', 'status must be three bytes [SW1, SW2, SW3]');
  const data = reply.data ?? new Uint8Array(0);
  const payload = Buffer.alloc(3 + data.length);
  payload[0] = status[0];
  payload[1] = status[1];
  payload[2] = status[2];
  payload.set(data, 3);
  return encodeFrame(payload);
}

/** Reads one reply frame. FrameError BAD_HEADER, BAD_LENGTH (LEN < 4 or trailing bytes), BAD_CHECKSUM, TRUNCATED. */
export function decodeReply(bytes: Uint8Array): DecodedReply {
  const { payload } = decodeFrame(bytes, 4);
  const sw3 = payload[2]!;
  const known = ID_CARD_STATUS[sw3];
  return {
    status: [payload[0]!, payload[1]!, sw3],
    ok: known?.ok ?? false,
    statusKey: known?.key ?? `unknown_${hex(sw3)}`,
    data: payload.subarray(3),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Text block

/** GB 3304-91 民族代码 (names in full; the card face prints them without the final 族). */
export const ETHNICITIES: Readonly<Record<string, string>> = {
  '01': '汉族', '02': '蒙古族', '03': '回族', '04': '藏族', '05': '维吾尔族', '06': '苗族', '07': '彝族', '08': '壮族',
  '09': '布依族', '10': '朝鲜族', '11': '满族', '12': '侗族', '13': '瑶族', '14': '白族', '15': '土家族', '16': '哈尼族',
  '17': '哈萨克族', '18': '傣族', '19': '黎族', '20': '傈僳族', '21': '佤族', '22': '畲族', '23': '高山族', '24': '拉祜族',
  '25': '水族', '26': '东乡族', '27': '纳西族', '28': '景颇族', '29': '柯尔克孜族', '30': '土族', '31': '达斡尔族', '32': '仫佬族',
  '33': '羌族', '34': '布朗族', '35': '撒拉族', '36': '毛南族', '37': '仡佬族', '38': '锡伯族', '39': '阿昌族', '40': '普米族',
  '41': '塔吉克族', '42': '怒族', '43': '乌孜别克族', '44': '俄罗斯族', '45': '鄂温克族', '46': '德昂族', '47': '保安族', '48': '裕固族',
  '49': '京族', '50': '塔塔尔族', '51': '独龙族', '52': '鄂伦春族', '53': '赫哲族', '54': '门巴族', '55': '珞巴族', '56': '基诺族',
  '97': '其他', '98': '外国血统中国籍人士',
};

/** [field, offset, width in bytes] */
const TEXT_FIELDS = [
  ['name', 0, 30],
  ['sex', 30, 2],
  ['ethnicityCode', 32, 4],
  ['birthDate', 36, 16],
  ['address', 52, 70],
  ['idNumber', 122, 36],
  ['issuingAuthority', 158, 30],
  ['validFrom', 188, 16],
  ['validTo', 204, 16],
] as const;
type TextField = (typeof TEXT_FIELDS)[number][0];
/** Byte offset of the card-type mark in the reserved area: `J` on a Hong Kong/Macao/Taiwan residence permit, `I` (or `Y`) on a foreign permanent resident card. */
const CARD_TYPE_OFFSET = 248;
const LONG_TERM = '长期';

export type CardType = 'resident' | 'hmt_residence_permit';

/** What {@link encodeTextBlock} writes. Dates are `YYYY-MM-DD`. */
export interface IdCardTextFields {
  name: string;
  sex: 'male' | 'female';
  /** two digits, GB 3304 */
  ethnicityCode: string;
  birthDate: string;
  address: string;
  idNumber: string;
  issuingAuthority: string;
  validFrom: string;
  validTo: string | 'long_term';
}

export interface ParsedText extends IdCardTextFields {
  /** GB 3304 name of `ethnicityCode`, null for a code outside the table */
  ethnicity: string | null;
  /** GB 11643 check character; false signals a bad read (the card stays the authority, nothing is rejected) */
  idNumberValid: boolean;
  /** the ID number's birth date (positions 7–14) and sex (position 17 odd = male) agree with the fields */
  idNumberConsistent: boolean;
  /** from the mark at byte 248 of the reserved area */
  cardType: CardType;
}

const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK = '10X98765432';

/** GB 11643-1999 check of an 18-character resident ID number (local copy: the agent does not import the server). */
export function idNumberChecksumValid(id: string): boolean {
  if (!/^\d{17}[\dX]$/.test(id)) return false;
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += (id.charCodeAt(i) - 48) * ID_WEIGHTS[i]!;
  return ID_CHECK[sum % 11] === id[17];
}

function validYmd(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1) return false;
  const days = [31, (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]!;
  return d <= days;
}

/** `YYYYMMDD` → `YYYY-MM-DD`, or null if not a calendar date */
function cardDate(s: string): string | null {
  if (!/^\d{8}$/.test(s)) return null;
  const y = Number(s.slice(0, 4));
  const m = Number(s.slice(4, 6));
  const d = Number(s.slice(6, 8));
  return y >= 1 && validYmd(y, m, d) ? `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}` : null;
}

/** `YYYY-MM-DD` → `YYYYMMDD`, or null */
function isoToCard(s: unknown): string | null {
  if (typeof s !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(s)) return null;
  const c = s.replaceAll('-', '');
  return cardDate(c) === null ? null : c;
}

const BAD_CHARS = /[\u0000-\u001f\u007f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const PADDING = /^[ \u0000]+|[ \u0000]+$/g;

/**
 * Decodes the 256-byte text block. Padding (spaces, and NULs some readers use) is trimmed. FrameError
 * BAD_TEXT on: wrong size; control characters or broken surrogates; empty name; sex other than 1/2;
 * ethnicity code not two digits; a birth or validity date that is not a calendar date `YYYYMMDD`
 * (valid-to may be `长期`) or valid-to before valid-from; an ID number that is not 17 digits + digit/X;
 * a foreign permanent resident card (other layout, not supported).
 */
export function parseTextBlock(buf: Uint8Array): ParsedText {
  if (buf.length !== ID_CARD_TEXT_LENGTH) fail('BAD_TEXT', `text block is ${buf.length} bytes, expected ${ID_CARD_TEXT_LENGTH}`);
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const mark = b.toString('utf16le', CARD_TYPE_OFFSET, CARD_TYPE_OFFSET + 2);
  if (mark === 'I' || mark === 'Y') fail('BAD_TEXT', `card-type mark ${mark}: a foreign permanent resident card, whose layout is not supported`);
  const cardType: CardType = mark === 'J' ? 'hmt_residence_permit' : 'resident';

  const raw = {} as Record<TextField, string>;
  for (const [field, offset, width] of TEXT_FIELDS) {
    const s = b.toString('utf16le', offset, offset + width).replace(PADDING, '');
    if (BAD_CHARS.test(s)) fail('BAD_TEXT', `${field} holds control characters or broken UTF-16`);
    raw[field] = s;
  }
  if (raw.name === '') fail('BAD_TEXT', 'name is empty');
  const sex = raw.sex === '1' ? 'male' : raw.sex === '2' ? 'female' : fail('BAD_TEXT', `sex code ${JSON.stringify(raw.sex)} is neither 1 nor 2`);
  if (!/^\d{2}$/.test(raw.ethnicityCode)) fail('BAD_TEXT', `ethnicity code ${JSON.stringify(raw.ethnicityCode)} is not two digits`);
  const birthDate = cardDate(raw.birthDate) ?? fail('BAD_TEXT', `birth date ${JSON.stringify(raw.birthDate)} is not a date YYYYMMDD`);
  const idNumber = raw.idNumber.replace(/x$/, 'X');
  if (!/^\d{17}[\dX]$/.test(idNumber)) fail('BAD_TEXT', `ID number ${JSON.stringify(raw.idNumber)} is not 17 digits and a check digit or X`);
  const validFrom = cardDate(raw.validFrom) ?? fail('BAD_TEXT', `valid-from ${JSON.stringify(raw.validFrom)} is not a date YYYYMMDD`);
  const validTo =
    raw.validTo === LONG_TERM ? 'long_term' : (cardDate(raw.validTo) ?? fail('BAD_TEXT', `valid-to ${JSON.stringify(raw.validTo)} is neither a date YYYYMMDD nor 长期`));
  if (validTo !== 'long_term' && validTo < validFrom) fail('BAD_TEXT', `valid-to ${validTo} is before valid-from ${validFrom}`);

  const sexDigit = idNumber.charCodeAt(16) - 48;
  return {
    name: raw.name,
    sex,
    ethnicityCode: raw.ethnicityCode,
    ethnicity: Object.hasOwn(ETHNICITIES, raw.ethnicityCode) ? ETHNICITIES[raw.ethnicityCode]! : null,
    birthDate,
    address: raw.address,
    idNumber,
    idNumberValid: idNumberChecksumValid(idNumber),
    idNumberConsistent: idNumber.slice(6, 14) === raw.birthDate && (sexDigit % 2 === 1) === (sex === 'male'),
    issuingAuthority: raw.issuingAuthority,
    validFrom,
    validTo,
    cardType,
  };
}

/**
 * The 256-byte text block of a resident ID card (for the simulator). FrameError BAD_TEXT when a field
 * does not fit its width or is not in the form {@link parseTextBlock} accepts. The reserved 36 bytes are spaces.
 */
export function encodeTextBlock(fields: IdCardTextFields): Buffer {
  const f = fields as unknown as Record<string, unknown>;
  const str = (k: string): string => (typeof f[k] === 'string' ? (f[k] as string) : fail('BAD_TEXT', `${k} must be a string`));
  const values: Record<TextField, string> = {
    name: str('name'),
    sex: f.sex === 'male' ? '1' : f.sex === 'female' ? '2' : fail('BAD_TEXT', `sex must be male or female`),
    ethnicityCode: /^\d{2}$/.test(str('ethnicityCode')) ? str('ethnicityCode') : fail('BAD_TEXT', 'ethnicity code must be two digits'),
    birthDate: isoToCard(f.birthDate) ?? fail('BAD_TEXT', 'birth date must be YYYY-MM-DD'),
    address: str('address'),
    idNumber: /^\d{17}[\dX]$/.test(str('idNumber')) ? str('idNumber') : fail('BAD_TEXT', 'ID number must be 17 digits and a digit or X'),
    issuingAuthority: str('issuingAuthority'),
    validFrom: isoToCard(f.validFrom) ?? fail('BAD_TEXT', 'valid-from must be YYYY-MM-DD'),
    validTo: f.validTo === 'long_term' ? LONG_TERM : (isoToCard(f.validTo) ?? fail('BAD_TEXT', "valid-to must be YYYY-MM-DD or 'long_term'")),
  };
  const out = Buffer.from(' '.repeat(ID_CARD_TEXT_LENGTH / 2), 'utf16le');
  for (const [field, offset, width] of TEXT_FIELDS) {
    const v = values[field];
    if (v.length * 2 > width) fail('BAD_TEXT', `${field} is ${v.length} characters, its field holds ${width / 2}`);
    if (BAD_CHARS.test(v)) fail('BAD_TEXT', `${field} holds control characters or broken UTF-16`);
    out.write(v, offset, 'utf16le');
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Read reply (`30 01`)

/** Data of a successful read reply (after SW1 SW2 SW3), for the simulator. */
export function encodeReadData(text: Uint8Array, photo: Uint8Array): Buffer {
  if (text.length > 0xffff || photo.length > 0xffff) fail('BAD_LENGTH', 'text and photo must each be under 64 KiB');
  const out = Buffer.alloc(4 + text.length + photo.length);
  out.writeUInt16BE(text.length, 0);
  out.writeUInt16BE(photo.length, 2);
  out.set(text, 4);
  out.set(photo, 4 + text.length);
  return out;
}

/**
 * Splits the data of a successful read reply into the parsed text and the opaque photo (a copy).
 * FrameError TRUNCATED (fewer bytes than the two lengths announce), BAD_LENGTH (more), BAD_TEXT (see
 * {@link parseTextBlock}; a text length other than 256 lands there). Any photo length is accepted.
 */
export function parseReadReply(data: Uint8Array): { text: ParsedText; photo: Buffer } {
  if (data.length < 4) fail('TRUNCATED', `${data.length} bytes, the read data starts with two 2-byte lengths`);
  const textLength = (data[0]! << 8) | data[1]!;
  const photoLength = (data[2]! << 8) | data[3]!;
  const total = 4 + textLength + photoLength;
  if (data.length < total) fail('TRUNCATED', `${data.length} bytes, text ${textLength} + photo ${photoLength} need ${total}`);
  if (data.length > total) fail('BAD_LENGTH', `${data.length - total} bytes follow text ${textLength} + photo ${photoLength}`);
  const text = parseTextBlock(data.subarray(4, 4 + textLength));
  return { text, photo: Buffer.from(data.subarray(4 + textLength, total)) };
}

// ---------------------------------------------------------------------------------------------------------
// Stream

export type DeframerEvent = { frame: Buffer } | { error: FrameError; dropped: number };

export interface IdCardDeframerOptions {
  /** smallest length field taken for a frame (3: CMD PARA CHK; a reply-only stream may use 4) */
  minLength?: number;
  /** largest length field taken for a frame, default {@link ID_CARD_MAX_LENGTH}; bounds the buffer */
  maxLength?: number;
}

/**
 * Cuts a byte stream (either direction) into checksum-verified frames. `push` returns, in stream order,
 * `{ frame }` (the complete frame bytes, a copy, for {@link decodeReply} / {@link decodeCommand}) and
 * `{ error, dropped }` for bytes thrown away: BAD_HEADER for bytes before a preamble, BAD_LENGTH for a
 * length outside min…max, BAD_CHECKSUM for a frame failing its checksum. On BAD_LENGTH and BAD_CHECKSUM
 * only the 5 preamble bytes are dropped and the search resumes right after them, so a real frame hiding
 * behind a false preamble is still found. Every pushed byte ends up in exactly one frame, one `dropped`
 * count, or {@link buffered}, which never exceeds 7 + maxLength − 1 after a push. Never throws.
 */
export class IdCardDeframer {
  readonly minLength: number;
  readonly maxLength: number;
  #buf: Buffer = Buffer.alloc(0);

  constructor(options: IdCardDeframerOptions = {}) {
    const min = options.minLength ?? 3;
    const max = options.maxLength ?? ID_CARD_MAX_LENGTH;
    this.minLength = Number.isInteger(min) && min >= 1 ? Math.min(min, 0xffff) : 3;
    this.maxLength = Number.isInteger(max) && max >= this.minLength ? Math.min(max, 0xffff) : Math.max(this.minLength, ID_CARD_MAX_LENGTH);
  }

  /** bytes held while waiting for the rest of a frame (or a partial preamble) */
  get buffered(): number {
    return this.#buf.length;
  }

  push(chunk: Uint8Array): DeframerEvent[] {
    const out: DeframerEvent[] = [];
    try {
      const buf = this.#buf.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.#buf, chunk]);
      let pos = 0;
      for (;;) {
        const idx = buf.indexOf(PREAMBLE, pos);
        if (idx < 0) {
          const keep = partialPreambleSuffix(buf, pos);
          const garbage = buf.length - pos - keep;
          if (garbage > 0) out.push(dropped('BAD_HEADER', garbage, `${garbage} bytes without a preamble`));
          pos = buf.length - keep;
          break;
        }
        if (idx > pos) {
          out.push(dropped('BAD_HEADER', idx - pos, `${idx - pos} bytes before a preamble`));
          pos = idx;
        }
        if (buf.length - pos < ID_CARD_HEADER_LENGTH) break;
        const len = buf.readUInt16BE(pos + 5);
        if (len < this.minLength || len > this.maxLength) {
          out.push(dropped('BAD_LENGTH', PREAMBLE.length, `length ${len} outside ${this.minLength}–${this.maxLength}`));
          pos += PREAMBLE.length;
          continue;
        }
        const total = ID_CARD_HEADER_LENGTH + len;
        if (buf.length - pos < total) break;
        const sum = checksumOf(buf, pos + 5, pos + total - 1);
        if (buf[pos + total - 1] !== sum) {
          out.push(dropped('BAD_CHECKSUM', PREAMBLE.length, `checksum ${hex(buf[pos + total - 1]!)}, computed ${hex(sum)}`));
          pos += PREAMBLE.length;
          continue;
        }
        out.push({ frame: Buffer.from(buf.subarray(pos, pos + total)) });
        pos += total;
      }
      this.#buf = Buffer.from(buf.subarray(pos));
    } catch (err) {
      // Not expected (only out-of-memory could land here): start over rather than throw into a driver.
      const lost = this.#buf.length + chunk.length;
      this.#buf = Buffer.alloc(0);
      out.push(dropped('BAD_LENGTH', lost, `deframer reset: ${err instanceof Error ? err.message : String(err)}`));
    }
    return out;
  }

  /** Drops whatever is buffered (e.g. on a read timeout or port close), reported as TRUNCATED. */
  flush(): DeframerEvent[] {
    const n = this.#buf.length;
    this.#buf = Buffer.alloc(0);
    return n > 0 ? [dropped('TRUNCATED', n, `${n} bytes of an unfinished frame`)] : [];
  }
}

function dropped(code: IdCardErrorCode, n: number, message: string): DeframerEvent {
  return { error: new FrameError(ID_CARD_PROTOCOL, code, message), dropped: n };
}

/** Length of the longest suffix of buf[from…] that is a proper prefix of the preamble. */
function partialPreambleSuffix(buf: Buffer, from: number): number {
  for (let k = Math.min(PREAMBLE.length - 1, buf.length - from); k > 0; k--) {
    if (buf.subarray(buf.length - k).equals(PREAMBLE.subarray(0, k))) return k;
  }
  return 0;
}
