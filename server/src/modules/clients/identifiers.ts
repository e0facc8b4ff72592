// Checks and display masks for the identifiers a law firm records about its clients.
// Pure functions: no clock, no I/O, so the same code serves routes, imports and tests.

export const ID_TYPES = [
  'resident_id',
  'passport',
  'hk_macao_permit',
  'taiwan_permit',
  'foreign_permanent_residence',
  'other',
] as const;
export type IdType = (typeof ID_TYPES)[number];

export type ResidentIdCheck =
  | { valid: true; normalized: string; birthDate: string; sex: 'male' | 'female' }
  | { valid: false; reason: string };

export interface UsccCheck {
  /** False means the value cannot be a USCC at all and must be rejected. */
  wellFormed: boolean;
  /** False on a well-formed code is only a warning: some early pilot codes are legal yet fail the check. */
  checkDigitOk: boolean;
  normalized: string;
  reason: string | null;
}

// Codes are often typed with a Chinese input method left in full-width mode, or pasted in groups.
const FULL_WIDTH_ALNUM = /[\uFF10-\uFF19\uFF21-\uFF3A\uFF41-\uFF5A]/g;
const ANY_SPACE = /[\s\u3000]+/g;

function compactCode(value: string): string {
  return value
    .replace(FULL_WIDTH_ALNUM, (c) => String.fromCharCode(c.charCodeAt(0) - 0xfee0))
    .replace(ANY_SPACE, '');
}

// ---------------------------------------------------------------------------------------------
// Resident identity card number, GB 11643-1999
// ---------------------------------------------------------------------------------------------

const RID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const RID_CHECK = '10X98765432';
const RID_FORMAT = /^\d{17}[\dX]$/;
// The standard took effect in 1999, but numbers were issued retroactively to people born long
// before 1900 (the standard's own example, 440524188001010014, is an 1880 birth).
const RID_MIN_YEAR = 1800;

function residentIdCheckChar(first17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += (first17.charCodeAt(i) - 48) * RID_WEIGHTS[i]!;
  return RID_CHECK[sum % 11]!;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/**
 * `today` (YYYY-MM-DD), when given, also rejects birth dates in the future; it is a parameter
 * because these functions do not read the clock.
 */
export function checkResidentId(value: string, options: { today?: string } = {}): ResidentIdCheck {
  const v = compactCode(String(value)).toUpperCase();
  if (v.length !== 18) return { valid: false, reason: 'A resident ID number has 18 characters. / 居民身份证号码应为18位。' };
  if (!RID_FORMAT.test(v)) {
    return { valid: false, reason: 'Expected 17 digits followed by a digit or X. / 应为17位数字加1位数字或X。' };
  }
  if (v[0] === '0') return { valid: false, reason: 'The region code cannot start with 0. / 地址码首位不能为0。' };
  const year = Number(v.slice(6, 10));
  const month = Number(v.slice(10, 12));
  const day = Number(v.slice(12, 14));
  if (year < RID_MIN_YEAR || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) {
    return { valid: false, reason: 'The birth date is not a real calendar date. / 出生日期不是有效日期。' };
  }
  const birthDate = `${v.slice(6, 10)}-${v.slice(10, 12)}-${v.slice(12, 14)}`;
  if (options.today !== undefined && birthDate > options.today) {
    return { valid: false, reason: 'The birth date is in the future. / 出生日期晚于当前日期。' };
  }
  if (residentIdCheckChar(v) !== v[17]) {
    return { valid: false, reason: 'The check digit does not match. / 校验码不正确。' };
  }
  return { valid: true, normalized: v, birthDate, sex: (v.charCodeAt(16) - 48) % 2 === 1 ? 'male' : 'female' };
}

// ---------------------------------------------------------------------------------------------
// Unified social credit code, GB 32100-2015
// ---------------------------------------------------------------------------------------------

const USCC_ALPHABET = '0123456789ABCDEFGHJKLMNPQRTUWXY';
const USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
const USCC_FORMAT = /^[0-9A-HJ-NPQRTUWXY]{18}$/;

function usccCheckChar(first17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += USCC_ALPHABET.indexOf(first17[i]!) * USCC_WEIGHTS[i]!;
  // The outer mod maps a remainder of 0 to check value 0 rather than to the out-of-range 31.
  return USCC_ALPHABET[(31 - (sum % 31)) % 31]!;
}

export function checkUscc(value: string): UsccCheck {
  const v = compactCode(String(value)).toUpperCase();
  if (v.length !== 18) {
    return {
      wellFormed: false,
      checkDigitOk: false,
      normalized: v,
      reason: 'A unified social credit code has 18 characters. / 统一社会信用代码应为18位。',
    };
  }
  if (!USCC_FORMAT.test(v)) {
    return {
      wellFormed: false,
      checkDigitOk: false,
      normalized: v,
      reason:
        'Only digits and capital letters except I, O, Z, S and V may appear. / 只能由数字和除I、O、Z、S、V以外的大写字母组成。',
    };
  }
  if (usccCheckChar(v) !== v[17]) {
    return {
      wellFormed: true,
      checkDigitOk: false,
      normalized: v,
      reason:
        'The check digit does not match; some early pilot codes are legal yet fail it, so compare with the business licence. / 校验码不符；部分早期试点代码合法但不符合校验规则，请与营业执照核对。',
    };
  }
  return { wellFormed: true, checkDigitOk: true, normalized: v, reason: null };
}

// ---------------------------------------------------------------------------------------------
// Lawyer licence number (执业证号)
// ---------------------------------------------------------------------------------------------

// No check digit is published, so the shape is all that can be verified.
const LICENCE_FORMAT = /^1\d{16}$/;

export function checkLawyerLicence(value: string): boolean {
  return LICENCE_FORMAT.test(compactCode(String(value)));
}

// ---------------------------------------------------------------------------------------------
// Display masks, GB/T 35273 §7.2 (de-identify before display)
// ---------------------------------------------------------------------------------------------

// Code points, not UTF-16 units, so a rare character outside the BMP is masked as one character.
function chars(value: string): string[] {
  return Array.from(value.trim());
}

const SPACE = /\s/;

function stars(n: number): string {
  return n > 0 ? '*'.repeat(n) : '';
}

export function maskName(value: string): string;
export function maskName(value: null | undefined): null;
export function maskName(value: string | null | undefined): string | null;
export function maskName(value: string | null | undefined): string | null {
  if (value == null) return null;
  const cs = chars(value);
  // Spaces stay so that a Latin name keeps its shape ("J*** *****"); a space reveals nothing.
  return cs.map((c, i) => (i === 0 || SPACE.test(c) ? c : '*')).join('');
}

export function maskIdNumber(value: string): string;
export function maskIdNumber(value: null | undefined): null;
export function maskIdNumber(value: string | null | undefined): string | null;
export function maskIdNumber(value: string | null | undefined): string | null {
  if (value == null) return null;
  const cs = chars(value);
  const n = cs.length;
  if (n === 18) return cs.slice(0, 6).join('') + stars(8) + cs.slice(14).join('');
  if (n > 4) return cs.slice(0, 2).join('') + stars(n - 4) + cs.slice(n - 2).join('');
  return stars(n);
}

const MOBILE = /^(\+86|0086|86)?(1\d{10})$/;
const PHONE_SEPARATORS = /[\s\-()（）]/g;

export function maskPhone(value: string): string;
export function maskPhone(value: null | undefined): null;
export function maskPhone(value: string | null | undefined): string | null;
export function maskPhone(value: string | null | undefined): string | null {
  if (value == null) return null;
  const trimmed = value.trim();
  const mobile = MOBILE.exec(trimmed.replace(PHONE_SEPARATORS, ''));
  if (mobile) {
    const m = mobile[2]!;
    const masked = `${m.slice(0, 3)}****${m.slice(7)}`;
    return mobile[1] ? `${mobile[1]} ${masked}` : masked;
  }
  let digits = 0;
  for (const c of trimmed) if (c >= '0' && c <= '9') digits++;
  const keep = digits > 4 ? 4 : 0;
  let seen = 0;
  let out = '';
  // Separators and the country prefix's "+" stay so the number keeps its familiar layout.
  for (const c of trimmed) {
    if (c >= '0' && c <= '9') {
      seen++;
      out += seen > digits - keep ? c : '*';
    } else out += c;
  }
  return out;
}

export function maskBankCard(value: string): string;
export function maskBankCard(value: null | undefined): null;
export function maskBankCard(value: string | null | undefined): string | null;
export function maskBankCard(value: string | null | undefined): string | null {
  if (value == null) return null;
  const cs = Array.from(value.replace(/[\s\-]/g, ''));
  const n = cs.length;
  if (n > 8) return cs.slice(0, 4).join('') + stars(n - 8) + cs.slice(n - 4).join('');
  // Keeping four at each end of a short value would show all of it.
  if (n > 4) return stars(n - 4) + cs.slice(n - 4).join('');
  return stars(n);
}

export function maskAddress(value: string): string;
export function maskAddress(value: null | undefined): null;
export function maskAddress(value: string | null | undefined): string | null;
export function maskAddress(value: string | null | undefined): string | null {
  if (value == null) return null;
  const cs = chars(value);
  if (cs.length === 0) return '';
  // A fixed-length mask hides how long the rest of the address is.
  return `${cs.slice(0, 6).join('')}****`;
}
