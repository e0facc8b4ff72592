import t from 'tap';
import { mulberry32 as rng } from '../helpers/fuzz.js';
import { hasCjk, normalizeName, pinyinKey, pinyinKeys, regionFreeKey, substitutionKeys } from '../../server/src/modules/conflicts/names.js';

t.test('spellings of one organisation normalise to one name', async (t) => {
  const same = (a: string, b: string, message: string) =>
    t.equal(normalizeName(a), normalizeName(b), `${message}: ${JSON.stringify(a)} ~ ${JSON.stringify(b)}`);
  t.equal(normalizeName('ＡＢＣ科技有限公司'), 'abc科技', 'full width becomes half width and lower case, the form goes');
  same('ＡＢＣ科技有限公司', 'ABC科技', 'full width and half width');
  t.equal(normalizeName('華信科技有限公司'), '华信科技', 'traditional becomes simplified');
  same('華信科技有限公司', '华信科技有限公司', 'traditional and simplified');
  same('衞信科技', '卫信科技', 'a Hong Kong variant form');
  same(' 华 信　科技，有限公司。 ', '华信科技有限公司', 'spaces (ideographic too) and punctuation');
  same('华信\u200b科技', '华信科技', 'a zero-width space');
  same('A.B.C. (Beijing) Co., Ltd.', 'ABC Beijing', 'English punctuation');
});

t.test('each organisation form is stripped', async (t) => {
  const cases: [string, string][] = [
    ['华信股份有限公司', '华信'],
    ['华信有限责任公司', '华信'],
    ['华信有限公司', '华信'],
    ['华信股份公司', '华信'],
    ['华信集团有限公司', '华信'],
    ['华信（集团）有限公司', '华信'],
    ['华信(集团)股份有限公司', '华信'],
    ['华信科技（集团）有限公司', '华信科技'],
    ['华信（集团）科技有限公司', '华信科技'],
    ['华信集团', '华信'],
    ['华信公司', '华信'],
    ['华信总公司', '华信'],
    ['华信分公司', '华信'],
    ['华信科技有限公司北京分公司', '华信科技'],
    ['华信科技股份有限公司北京分公司', '华信科技'],
    ['华信集团北京分公司', '华信'],
    ['华信北京分公司', '华信北京'],
    ['华信投资有限合伙', '华信投资'],
    ['华信投资（有限合伙）', '华信投资'],
    ['华信投资合伙企业（有限合伙）', '华信投资'],
    ['华信投资普通合伙', '华信投资'],
    ['华信会计师事务所（特殊普通合伙）', '华信会计师事务所'],
    ['ABC Co., Ltd.', 'abc'],
    ['ABC Co.,Ltd', 'abc'],
    ['ABC CO LTD', 'abc'],
    ['ABC Limited', 'abc'],
    ['ABC Ltd.', 'abc'],
    ['ABC Inc.', 'abc'],
    ['ABC Corp.', 'abc'],
    ['ABC Corporation', 'abc'],
    ['ABC Company', 'abc'],
    ['ABC Company Limited', 'abc'],
    ['ABC LLC', 'abc'],
    ['ABC LLP', 'abc'],
    ['ABC Group', 'abc'],
    ['ABC Group Co., Ltd.', 'abc'],
    ['华信 Group 有限公司', '华信'],
  ];
  for (const [name, expected] of cases) t.equal(normalizeName(name), expected, `${name} → ${expected}`);
  t.equal(normalizeName('海尔集团电器有限公司'), '海尔集团电器', '集团 inside the name, without brackets, stays');
  t.equal(normalizeName('Costco'), 'costco', 'an English form is stripped only as a whole word (not "co")');
  t.equal(normalizeName('Zinc Inc.'), 'zinc', '"Zinc" keeps its "inc"');
  t.equal(normalizeName('Tesco Group'), 'tesco', 'only the form word goes');
});

t.test('a name that is nothing but forms is kept rather than emptied', async (t) => {
  t.equal(normalizeName('有限公司'), '有限公司', '有限公司 alone');
  t.equal(normalizeName('集团有限公司'), '集团有限公司', '集团有限公司 alone');
  t.equal(normalizeName('（集团）'), '集团', 'a bracketed marker alone');
  t.equal(normalizeName('Limited'), 'limited', 'Limited alone');
  t.equal(normalizeName('Co., Ltd.'), 'coltd', 'Co., Ltd. alone');
  t.equal(normalizeName(''), '', 'the empty string stays empty');
  t.equal(normalizeName(' ，。!? '), '', 'punctuation alone has nothing to keep');
});

t.test('distinct names stay distinct', async (t) => {
  t.not(normalizeName('华信科技有限公司'), normalizeName('华信投资有限公司'), 'a different industry word');
  t.not(normalizeName('北京华信有限公司'), normalizeName('上海华信有限公司'), 'a different region');
  t.not(normalizeName('张伟明'), normalizeName('张伟民'), 'one character apart');
});

t.test('pinyin keys meet across scripts and spellings', async (t) => {
  const spellings = ['张伟明', '張偉明', 'Zhang Weiming', 'zhang wei ming', 'ZHANG Wei-Ming', 'Ｚｈａｎｇ　Ｗｅｉｍｉｎｇ'];
  for (const s of spellings) t.equal(pinyinKey(s), 'zhangweiming', `${s} keys to zhangweiming`);
  t.not(pinyinKey('张伟明'), pinyinKey('张伟民'), '张伟明 and 张伟民 differ (ming/min)');
  t.equal(pinyinKey('吕布'), 'lvbu', 'ü is written v');
  t.equal(pinyinKey('Lǚ Bù'), 'lvbu', 'a Latin ü with a tone mark is v as well');
  t.equal(pinyinKey('José García'), 'josegarcia', 'other diacritics are dropped');
  t.equal(pinyinKey('曾国藩'), 'zengguofan', 'a surname takes its surname reading (曾 zeng, not ceng)');
  t.equal(pinyinKey('单田芳'), 'shantianfang', '单 as a surname is shan');
  t.equal(pinyinKey('abc张伟明'), 'abczhangweiming', 'Latin letters in a mixed name are kept');
  t.equal(pinyinKey('!!!'), null, 'no letters, no key');
  t.equal(pinyinKey(''), null, 'the empty string has no key');
  t.equal(pinyinKey('Иван'), null, 'a script without a Latin folding has no key');
});

t.test('pinyinKeys reads the passport spelling of ü', async (t) => {
  t.ok(pinyinKeys('Lyu Fang').includes(pinyinKey('吕芳')!), 'Lyu Fang ~ 吕芳');
  t.ok(pinyinKeys('Nyu Wa').includes(pinyinKey('女娃')!), 'Nyu ~ 女');
  t.notOk(pinyinKeys('Liu Yu').includes('livu'), 'a y starting the next syllable is left alone when not after l or n');
});

t.test('pinyinKeys adds the other name order', async (t) => {
  t.same(pinyinKeys('Weiming Zhang'), ['weimingzhang', 'zhangweiming'], 'given name first also searches surname first');
  t.ok(pinyinKeys('Wei Ming Zhang').includes('zhangweiming'), 'three words: the last moved first');
  t.ok(pinyinKeys('张伟明').includes('weimingzhang'), 'Chinese characters also search given name first');
  t.equal(pinyinKeys('张伟明')[0], pinyinKey('张伟明'), 'the first key is pinyinKey');
  t.ok(pinyinKeys('欧阳娜娜').includes('nanaouyang'), 'a compound surname moves as a whole');
  t.ok(pinyinKeys('乐乐').includes('lele'), 'the ordinary reading is searched as well as the surname reading');
  t.same(pinyinKeys('Madonna'), ['madonna'], 'one word has no other order');
  t.equal(pinyinKeys('Jean Paul Sartre Smith').length, 1, 'four words are not rotated');
  t.same(pinyinKeys('Wei Wei'), ['weiwei'], 'keys are distinct');
  t.same(pinyinKeys('!!!'), [], 'no letters, no keys');
});

t.test('hasCjk tells Chinese, Japanese and Korean from other scripts', async (t) => {
  t.equal(hasCjk('张'), true, 'a Han character');
  t.equal(hasCjk('abc 張'), true, 'a traditional character among Latin ones');
  t.equal(hasCjk('さくら'), true, 'kana');
  t.equal(hasCjk('김'), true, 'hangul');
  t.equal(hasCjk('Zhang Weiming'), false, 'Latin only');
  t.equal(hasCjk('，。'), false, 'CJK punctuation is not a CJK character');
});

t.test('fuzz: random strings never throw; normalisation is idempotent', async (t) => {
  const r = rng(20261128);
  const int = (n: number) => Math.floor(r() * n);
  const pick = <T>(a: readonly T[]): T => a[int(a.length)]!;
  const RANGES: [number, number][] = [
    [0x20, 0x7e],
    [0xa0, 0x24f],
    [0x300, 0x36f],
    [0x370, 0x3ff],
    [0x3000, 0x30ff],
    [0x4e00, 0x9fff],
    [0xac00, 0xd7a3],
    [0xf900, 0xfaff],
    [0xff00, 0xffef],
    [0xd800, 0xdfff],
    [0x20000, 0x2a6df],
    [0x1f300, 0x1faff],
    [0, 0x10ffff],
  ];
  // Pieces that exercise the special cases: forms, brackets, characters that convert in chains.
  const PIECES = ['有限公司', '集团', '分公司', '（集团）', '(集團)', 'co', 'Ltd.', ' Group', ' ', ',', '乾', '薴', '麽', 'İ', '\u0301', 'ﾞ', '\u200b'];
  const randomUnicode = (): string => {
    let s = '';
    for (let n = int(16); n > 0; n--) {
      if (r() < 0.25) s += pick(PIECES);
      else {
        const [lo, hi] = pick(RANGES);
        s += String.fromCodePoint(lo + int(hi - lo + 1));
      }
    }
    return s;
  };
  const problems: string[] = [];
  const problem = (input: string, what: string) => {
    if (problems.length < 10) problems.push(`${JSON.stringify(input)}: ${what}`);
  };
  const LETTER = /[\p{L}\p{N}]/u;
  const KEY = /^[a-z]+$/;
  for (let i = 0; i < 100_000; i++) {
    const s = randomUnicode();
    try {
      const norm = normalizeName(s);
      if (typeof norm !== 'string') problem(s, 'normalizeName did not return a string');
      else {
        if (norm === '' && LETTER.test(s.normalize('NFKC'))) problem(s, 'normalised to the empty string');
        if (normalizeName(norm) !== norm) problem(s, `not idempotent: ${JSON.stringify(norm)} → ${JSON.stringify(normalizeName(norm))}`);
      }
      const key = pinyinKey(s);
      if (key !== null && !KEY.test(key)) problem(s, `pinyinKey gave ${JSON.stringify(key)}`);
      const keys = pinyinKeys(s);
      if (keys.some((k) => !KEY.test(k)) || new Set(keys).size !== keys.length || (keys[0] ?? null) !== key) {
        problem(s, `pinyinKeys gave ${JSON.stringify(keys)} for key ${JSON.stringify(key)}`);
      }
      if (typeof hasCjk(s) !== 'boolean') problem(s, 'hasCjk did not return a boolean');
    } catch (err) {
      problem(s, `threw ${String(err)}`);
    }
  }
  t.same(problems, [], '100,000 random Unicode strings: no throw, no empty result, idempotent, keys of a-z only');
});

t.test('fuzz: realistic organisation and person names normalise idempotently', async (t) => {
  const r = rng(7);
  const int = (n: number) => Math.floor(r() * n);
  const pick = <T>(a: readonly T[]): T => a[int(a.length)]!;
  const REGION = ['', '', '北京', '上海市', '深圳', '廣州', '香港'];
  const TRADE = ['华信', '天元', '金杜', '中伦', '環球', '國浩', '锦天城', '乾坤', '鼎盛', '恒泰', 'ABC', 'Ｘ＆Ｙ', '三一'];
  const INDUSTRY = ['', '科技', '投资', '贸易', '實業', '咨询', '電子', '能源', '建設', '医药'];
  const FORM = ['有限公司', '股份有限公司', '有限责任公司', '（集团）有限公司', '(集團)股份有限公司', '集团', '公司', '總公司', '合伙企业（有限合伙）', '（普通合夥）', '有限公司北京分公司', '股份有限公司上海分公司', '', ' Co., Ltd.', ' Limited'];
  const SUR = [...'王李张刘陈杨黄赵吴周徐孙许陳張黃劉楊趙吳'];
  const GIVEN = [...'伟芳娜敏静丽强磊军洋勇艳杰华偉國東麗強軍傑'];
  const LATIN = ['Wei', 'Ming', 'John', 'Mary', 'Jean-Pierre', 'José', 'Zoë', 'Zhang', 'Smith', 'Müller', 'García'];
  const EN = ['Acme', 'Globex', 'Initech', 'Costco', 'Tesco', 'Stark'];
  const EN_FORM = ['Co., Ltd.', 'Inc.', 'Corporation', 'LLC', 'Limited', 'Group', 'Company Limited', 'Holdings', ''];
  const spaced = (s: string) => (r() < 0.2 ? [...s].join(pick([' ', '　', '·', ''])) : s);
  const name = (): string => {
    switch (int(4)) {
      case 0:
        return spaced(pick(REGION) + pick(TRADE) + pick(INDUSTRY)) + pick(FORM);
      case 1:
        return spaced(pick(SUR) + pick(GIVEN) + (r() < 0.6 ? pick(GIVEN) : ''));
      case 2:
        return `${pick(LATIN)} ${pick(LATIN)}`;
      default:
        return `${pick(EN)} ${pick(EN_FORM)}`.trim();
    }
  };
  const problems: string[] = [];
  const started = performance.now();
  for (let i = 0; i < 100_000; i++) {
    const s = name();
    const norm = normalizeName(s);
    if (normalizeName(norm) !== norm && problems.length < 10) problems.push(`${s} → ${norm} → ${normalizeName(norm)}`);
    if (norm === '' && problems.length < 10) problems.push(`${s} → empty`);
  }
  t.same(problems, [], '100,000 generated names: normalizeName(normalizeName(x)) === normalizeName(x)');
  t.ok(performance.now() - started < 10_000, 'and they take well under ten seconds');
});

t.test('regionFreeKey drops the place of registration; substitutionKeys blank one character each', async (t) => {
  const key = (name: string) => regionFreeKey(normalizeName(name));
  t.equal(key('深圳市秘密科技有限公司'), '=秘密科技', 'city prefix');
  t.equal(key('广东省深圳市秘密科技有限公司'), '=秘密科技', 'province and city');
  t.equal(key('秘密科技（深圳）有限公司'), '=秘密科技', 'place in brackets');
  t.equal(key('秘密科技有限公司'), '=秘密科技', 'no place: the same key');
  t.equal(key('北京银行'), null, 'too little left');
  t.same(substitutionKeys('华信科技'), ['?信科技', '华?科技', '华信?技', '华信科?'], 'one key per position');
  t.same(substitutionKeys('华信'), [], 'too short');
  t.same(substitutionKeys('一二三四五六七八九'), [], 'long enough for trigrams');
});
