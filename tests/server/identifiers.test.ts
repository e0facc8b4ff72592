import t from 'tap';
import { mulberry32 as rng } from '../helpers/fuzz.js';
import {
  ID_TYPES,
  checkLawyerLicence,
  checkResidentId,
  checkUscc,
  maskAddress,
  maskBankCard,
  maskIdNumber,
  maskName,
  maskPhone,
  type IdType,
} from '../../server/src/modules/clients/identifiers.js';

// Check digits are computed here from the published weights, independently of the module, so that
// the tests do not just restate the implementation.
const RID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
function ridCheck(body: string): string {
  const sum = [...body].reduce((acc, c, i) => acc + Number(c) * RID_WEIGHTS[i]!, 0);
  return '10X98765432'[sum % 11]!;
}
const USCC_ALPHABET = '0123456789ABCDEFGHJKLMNPQRTUWXY';
const USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
function usccCheck(body: string): string {
  const sum = [...body].reduce((acc, c, i) => acc + USCC_ALPHABET.indexOf(c) * USCC_WEIGHTS[i]!, 0);
  return USCC_ALPHABET[(31 - (sum % 31)) % 31]!;
}

function randomResidentId(r: () => number): { id: string; birthDate: string; sex: 'male' | 'female' } {
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const region = String(int(100000, 999999));
  const year = int(1800, 2025);
  const month = int(1, 12);
  const day = int(1, new Date(Date.UTC(year, month, 0)).getUTCDate());
  const date = `${year}${String(month).padStart(2, '0')}${String(day).padStart(2, '0')}`;
  const seq = String(int(0, 999)).padStart(3, '0');
  const body = region + date + seq;
  return {
    id: body + ridCheck(body),
    birthDate: `${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6)}`,
    sex: Number(seq[2]) % 2 === 1 ? 'male' : 'female',
  };
}

function randomUscc(r: () => number): string {
  let body = '';
  for (let i = 0; i < 17; i++) body += USCC_ALPHABET[Math.floor(r() * 31)];
  return body + usccCheck(body);
}

t.test('a valid resident ID number yields its normalised form, birth date and sex', async (t) => {
  t.same(
    checkResidentId('11010519491231002X'),
    { valid: true, normalized: '11010519491231002X', birthDate: '1949-12-31', sex: 'female' },
    'the GB 11643 example is valid, born 1949-12-31, female (17th digit 2 is even)',
  );
  t.same(
    checkResidentId('440524188001010014'),
    { valid: true, normalized: '440524188001010014', birthDate: '1880-01-01', sex: 'male' },
    'an 1880 birth is accepted and the odd 17th digit means male',
  );
  const lower = checkResidentId('11010519491231002x');
  t.ok(lower.valid, 'a lowercase x check character is accepted');
  t.equal(lower.valid && lower.normalized, '11010519491231002X', 'and normalised to X');
  const padded = checkResidentId('  11010519491231002X \t');
  t.equal(padded.valid && padded.normalized, '11010519491231002X', 'surrounding whitespace is trimmed');
  t.ok(checkResidentId('110105 19491231 002X').valid, 'grouping spaces are dropped');
  t.ok(checkResidentId('１１０１０５１９４９１２３１００２Ｘ').valid, 'full-width digits typed through an input method are accepted');
});

t.test('an invalid resident ID number is rejected with a bilingual reason', async (t) => {
  const reject = (value: string, pattern: RegExp, message: string) => {
    const r = checkResidentId(value);
    t.equal(r.valid, false, `${message}: rejected`);
    if (!r.valid) {
      t.match(r.reason, pattern, `${message}: the reason says why`);
      t.match(r.reason, / \/ .*[\u4e00-\u9fff]/, `${message}: the reason is in English and Chinese`);
    }
  };
  reject('110105194912310021', /check digit/i, 'a wrong check digit');
  reject('11010519491231002', /18 characters/, 'a 17-character value');
  reject('11010519491231002X1', /18 characters/, 'a 19-character value');
  reject('', /18 characters/, 'an empty value');
  reject('11010519491231002Y', /17 digits/, 'a letter other than X in the check position');
  reject('1101051949123100AX', /17 digits/, 'a letter in the body');
  const feb30 = '11010519490230002';
  reject(feb30 + ridCheck(feb30), /birth date/, '30 February 1949 even with a correct check digit');
  const feb29 = '11010519490229002';
  reject(feb29 + ridCheck(feb29), /birth date/, '29 February of a common year');
  const leap = '11010520000229002';
  t.ok(checkResidentId(leap + ridCheck(leap)).valid, '29 February 2000 (a leap year) is a real date');
  const month13 = '11010519491331002';
  reject(month13 + ridCheck(month13), /birth date/, 'month 13');
  const early = '11010517991231002';
  reject(early + ridCheck(early), /birth date/, 'a birth year before 1800');
  const region0 = '01010519491231002';
  reject(region0 + ridCheck(region0), /region/, 'a region code starting with 0');
  const future = '11010520301231002';
  t.ok(checkResidentId(future + ridCheck(future)).valid, 'without `today` a future date is not checked');
  const r = checkResidentId(future + ridCheck(future), { today: '2026-11-28' });
  t.equal(r.valid, false, 'with `today` a birth date in the future is rejected');
  t.match(!r.valid && r.reason, /future/, 'and the reason says so');
  t.ok(checkResidentId('11010519491231002X', { today: '2026-11-28' }).valid, 'a past birth date passes the `today` check');
});

t.test('a unified social credit code is checked; a wrong check digit only warns', async (t) => {
  t.same(
    checkUscc('91350100M000100Y43'),
    { wellFormed: true, checkDigitOk: true, normalized: '91350100M000100Y43', reason: null },
    'the GB 32100 example is valid',
  );
  t.same(
    checkUscc('31110000MD01234564'),
    { wellFormed: true, checkDigitOk: true, normalized: '31110000MD01234564', reason: null },
    'a law firm code (justice administration, 31…) is valid',
  );
  t.same(checkUscc(' 91350100m000100y43 ').normalized, '91350100M000100Y43', 'lower case is upper-cased and whitespace trimmed');
  t.ok(checkUscc(' 91350100m000100y43 ').checkDigitOk, 'and the normalised code passes');

  const warned = checkUscc('91350100M000100Y44');
  t.equal(warned.wellFormed, true, 'a wrong check digit is still well formed (early pilot codes are legal)');
  t.equal(warned.checkDigitOk, false, 'but the check digit is flagged');
  t.match(warned.reason, /check digit.* \/ .*校验码/, 'with a bilingual warning');

  // A body whose weighted sum is a multiple of 31 has check value 0, not the out-of-range 31.
  let zeroBody = '';
  for (const c of USCC_ALPHABET) {
    const body = `9135010${c}M000100Y4`;
    const sum = [...body].reduce((acc, ch, i) => acc + USCC_ALPHABET.indexOf(ch) * USCC_WEIGHTS[i]!, 0);
    if (sum % 31 === 0) zeroBody = body;
  }
  t.ok(zeroBody, 'a body with a weighted sum ≡ 0 (mod 31) was found');
  t.ok(checkUscc(`${zeroBody}0`).checkDigitOk, 'its check character is 0 (the final mod 31)');

  for (const bad of ['I', 'O', 'Z', 'S', 'V']) {
    const r = checkUscc(`91350100${bad}000100Y43`);
    t.equal(r.wellFormed, false, `the letter ${bad} is never used, so a code holding it is rejected`);
    t.equal(r.checkDigitOk, false, `a code with ${bad} is not reported as having a good check digit`);
    t.match(r.reason, /I, O, Z, S and V/, `the reason for ${bad} names the excluded letters`);
  }
  for (const [value, what] of [
    ['', 'an empty value'],
    ['91350100M000100Y4', '17 characters'],
    ['91350100M000100Y433', '19 characters'],
  ] as const) {
    const r = checkUscc(value);
    t.equal(r.wellFormed, false, `${what} is rejected`);
    t.match(r.reason, /18 characters/, `${what}: the reason gives the length`);
  }
  t.equal(checkUscc('91350100M000100Y-3').wellFormed, false, 'punctuation is rejected');
});

t.test('a lawyer licence number is 17 digits starting with 1', async (t) => {
  t.equal(checkLawyerLicence('11101200910123456'), true, '17 digits starting with 1');
  t.equal(checkLawyerLicence(' 11101200910123456 '), true, 'surrounding whitespace is ignored');
  t.equal(checkLawyerLicence('21101200910123456'), false, 'a first digit other than 1');
  t.equal(checkLawyerLicence('1110120091012345'), false, '16 digits');
  t.equal(checkLawyerLicence('111012009101234567'), false, '18 digits');
  t.equal(checkLawyerLicence('1110120091012345X'), false, 'a letter');
  t.equal(checkLawyerLicence(''), false, 'an empty value');
});

t.test('masks follow GB/T 35273 and pass null through', async (t) => {
  t.equal(maskName('张伟明'), '张**', 'a name keeps its first character');
  t.equal(maskName('张三'), '张*', 'a two-character name');
  t.equal(maskName('John Smith'), 'J*** *****', 'a Latin name keeps its spaces');
  t.equal(maskName('𠀀伟'), '𠀀*', 'a character outside the BMP counts as one');
  t.equal(maskIdNumber('11010519491231002X'), '110105********002X', 'an ID number keeps the first 6 and last 4');
  t.equal(maskIdNumber('E12345678'), 'E1*****78', 'another document number keeps 2 at each end');
  t.equal(maskIdNumber('1234'), '****', 'a value of 4 or fewer is masked whole');
  t.equal(maskPhone('13812341999'), '138****1999', 'a mobile keeps the first 3 and last 4');
  t.equal(maskPhone('138 1234 1999'), '138****1999', 'a grouped mobile is recognised');
  t.equal(maskPhone('+86 138-1234-1999'), '+86 138****1999', 'a mobile with the country code');
  t.equal(maskPhone('010-65521234'), '***-****1234', 'a landline keeps only its last 4 digits and its layout');
  t.equal(maskPhone('1234'), '****', 'a value of 4 or fewer digits is masked whole');
  t.equal(maskBankCard('6222021234567890123'), '6222***********0123', 'a bank card keeps the first 4 and last 4');
  t.equal(maskBankCard('6222 0212 3456 7890'), '6222********7890', 'grouping spaces are dropped');
  t.equal(maskBankCard('12345678'), '****5678', 'a short number does not show both ends');
  t.equal(maskAddress('北京市朝阳区建国路88号'), '北京市朝阳区****', 'an address keeps its first 6 characters');
  t.equal(maskAddress('北京'), '北京****', 'a short address is kept and still marked as masked');
  t.equal(maskAddress(''), '', 'an empty address stays empty');
  for (const [name, mask] of [
    ['maskName', maskName],
    ['maskIdNumber', maskIdNumber],
    ['maskPhone', maskPhone],
    ['maskBankCard', maskBankCard],
    ['maskAddress', maskAddress],
  ] as const) {
    t.equal(mask(null), null, `${name}(null) is null`);
    t.equal(mask(undefined), null, `${name}(undefined) is null`);
  }
});

t.test('ID_TYPES lists the supported document types', async (t) => {
  const types: readonly IdType[] = ID_TYPES;
  t.same(
    types,
    ['resident_id', 'passport', 'hk_macao_permit', 'taiwan_permit', 'foreign_permanent_residence', 'other'],
    'the six document types, in order',
  );
});

t.test('fuzz: no input throws, results keep their shape, and a single substitution is always caught', async (t) => {
  const r = rng(20261128);
  const int = (n: number) => Math.floor(r() * n);
  const ALPHABETS = [
    '0123456789',
    '0123456789Xx',
    USCC_ALPHABET,
    'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789',
    ' \t\n-_.,/+()（）　',
    '０１２３４５６７８９ＸＡＢＣ',
  ];
  const randomString = (): string => {
    const len = int(r() < 0.5 ? 24 : 64);
    const mode = int(ALPHABETS.length + 1);
    let s = '';
    for (let i = 0; i < len; i++) {
      if (mode === ALPHABETS.length) {
        // Any code point, lone surrogates included.
        s += String.fromCodePoint(int(0x110000));
      } else {
        const a = ALPHABETS[mode]!;
        s += a[int(a.length)];
      }
    }
    return s;
  };
  const mutate = (s: string): string => {
    const at = int(s.length);
    switch (int(5)) {
      case 0:
        return s.slice(0, at) + String.fromCharCode(32 + int(95)) + s.slice(at + 1);
      case 1:
        return s.slice(0, at) + s.slice(at + 1);
      case 2:
        return s.slice(0, at) + String.fromCharCode(48 + int(43)) + s.slice(at);
      case 3:
        return at > 0 ? s.slice(0, at - 1) + s[at] + s[at - 1] + s.slice(at + 1) : s;
      default:
        return s.toLowerCase();
    }
  };

  const problems: string[] = [];
  const problem = (input: string, what: string) => {
    if (problems.length < 10) problems.push(`${JSON.stringify(input)}: ${what}`);
  };
  const RID_SHAPE = /^[1-9]\d{16}[\dX]$/;
  const DATE_SHAPE = /^\d{4}-\d{2}-\d{2}$/;
  const REASON_SHAPE = /^[^/]+\. \/ .+。$/;

  let inputs = 0;
  const exercise = (input: string) => {
    inputs++;
    try {
      const rid = checkResidentId(input);
      if (rid.valid) {
        if (!RID_SHAPE.test(rid.normalized) || !DATE_SHAPE.test(rid.birthDate) || (rid.sex !== 'male' && rid.sex !== 'female')) {
          problem(input, `malformed resident ID result ${JSON.stringify(rid)}`);
        }
      } else if (typeof rid.reason !== 'string' || !REASON_SHAPE.test(rid.reason)) {
        problem(input, `resident ID reason ${JSON.stringify(rid)}`);
      }
      const uscc = checkUscc(input);
      const ok = uscc.wellFormed && uscc.checkDigitOk;
      if (
        typeof uscc.normalized !== 'string' ||
        (!uscc.wellFormed && uscc.checkDigitOk) ||
        (ok ? uscc.reason !== null : typeof uscc.reason !== 'string' || !REASON_SHAPE.test(uscc.reason)) ||
        (uscc.wellFormed && !/^[0-9A-HJ-NPQRTUWXY]{18}$/.test(uscc.normalized))
      ) {
        problem(input, `malformed USCC result ${JSON.stringify(uscc)}`);
      }
      if (typeof checkLawyerLicence(input) !== 'boolean') problem(input, 'licence check is not a boolean');
      const trimmed = [...input.trim()];
      const name = maskName(input);
      if ([...name].length !== trimmed.length || (trimmed.length > 0 && [...name][0] !== trimmed[0])) {
        problem(input, `maskName gave ${JSON.stringify(name)}`);
      }
      const id = maskIdNumber(input);
      if ([...id].length !== trimmed.length) problem(input, `maskIdNumber gave ${JSON.stringify(id)}`);
      if (trimmed.length === 18 && !id.includes('********')) problem(input, `maskIdNumber hid too little: ${id}`);
      if (typeof maskPhone(input) !== 'string') problem(input, 'maskPhone did not return a string');
      const card = maskBankCard(input);
      const cardChars = [...card];
      if (cardChars.length > 8 && cardChars.slice(4, -4).some((c) => c !== '*')) {
        problem(input, `maskBankCard gave ${JSON.stringify(card)}`);
      }
      const address = maskAddress(input);
      if ([...address].length > 10 || (trimmed.length > 0 && !address.endsWith('****'))) {
        problem(input, `maskAddress gave ${JSON.stringify(address)}`);
      }
    } catch (err) {
      problem(input, `threw ${String(err)}`);
    }
  };

  // Valid codes must pass with the right details, and every single substitution must fail: both
  // check digits are weighted sums modulo a prime, with no weight ≡ 0.
  let substitutions = 0;
  let substitutionsCaught = 0;
  for (let n = 0; n < 300; n++) {
    const { id, birthDate, sex } = randomResidentId(r);
    const res = checkResidentId(id);
    if (!res.valid || res.birthDate !== birthDate || res.sex !== sex) problem(id, `valid ID judged ${JSON.stringify(res)}`);
    for (let i = 0; i < 18; i++) {
      for (const c of i === 17 ? '0123456789Xx' : '0123456789') {
        if (c.toUpperCase() === id[i]) continue;
        const changed = id.slice(0, i) + c + id.slice(i + 1);
        substitutions++;
        if (!checkResidentId(changed).valid) substitutionsCaught++;
        else problem(changed, `substitution at ${i} of ${id} passed`);
      }
    }
    exercise(id);
    exercise(id.toLowerCase());
    for (let m = 0; m < 20; m++) exercise(mutate(id));
  }
  for (let n = 0; n < 300; n++) {
    const code = randomUscc(r);
    if (!checkUscc(code).checkDigitOk) problem(code, 'valid USCC judged bad');
    for (let i = 0; i < 18; i++) {
      for (const c of '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ') {
        if (c === code[i]) continue;
        const changed = code.slice(0, i) + c + code.slice(i + 1);
        const res = checkUscc(changed);
        substitutions++;
        const expectWellFormed = USCC_ALPHABET.includes(c);
        if (res.wellFormed === expectWellFormed && !res.checkDigitOk) substitutionsCaught++;
        else problem(changed, `substitution at ${i} of ${code} judged ${JSON.stringify(res)}`);
      }
    }
    exercise(code);
    for (let m = 0; m < 20; m++) exercise(mutate(code));
  }
  while (inputs < 100_000) exercise(randomString());

  t.ok(inputs >= 100_000, `at least 100,000 inputs were tried (${inputs})`);
  t.ok(substitutions > 100_000, `more than 100,000 single substitutions were tried (${substitutions})`);
  t.equal(substitutionsCaught, substitutions, 'every single substitution of a valid code was caught');
  t.same(problems, [], 'no input threw or produced a result of the wrong shape');
});
