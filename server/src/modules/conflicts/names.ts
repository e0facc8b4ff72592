import * as OpenCC from 'opencc-js/t2cn';
import { pinyin } from 'pinyin-pro';

// Name keys for the conflict-of-interest check. Two spellings of one party must meet on a key:
// full-width and half-width, traditional and simplified, with and without spaces or punctuation,
// with and without the organisation form ("有限公司", "Co., Ltd."), in characters and in pinyin.
// These run over every indexed name when the index is rebuilt, so everything per call is cheap:
// regular expressions and converters are built once.

// ---------------------------------------------------------------------------------------------
// Scripts
// ---------------------------------------------------------------------------------------------

const HAN = /\p{Script=Han}/u;
const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u;
const ASCII_ONLY = /^[\x00-\x7f]*$/;

/** Whether `s` holds a Chinese, Japanese or Korean character (Han ideographs, kana, hangul). */
export function hasCjk(s: string): boolean {
  return CJK.test(s);
}

// The HK preset also folds Hong Kong variant forms that plain traditional-to-simplified leaves
// alone (衞 stays 衞 with 't', becomes 卫 with 'hk'); clients from Hong Kong are common enough.
let hkToCn: ((s: string) => string) | null = null;

function toSimplified(s: string): string {
  const convert = (hkToCn ??= OpenCC.Converter({ from: 'hk', to: 'cn' }));
  // One pass is not idempotent: some characters chain (薴 → 苧 → 苎), so convert until it settles.
  let cur = s;
  for (let i = 0; i < 4; i++) {
    const next = convert(cur);
    if (next === cur) break;
    cur = next;
  }
  return cur;
}

// ---------------------------------------------------------------------------------------------
// normalizeName
// ---------------------------------------------------------------------------------------------

// Cc, Cf and Cs as well as the separators asked for: zero-width spaces, BOMs and stray surrogates
// pasted in from documents must not make two names differ.
const SEPARATORS = /[\p{P}\p{S}\p{Z}\s\p{Cc}\p{Cf}\p{Cs}]+/u;
const SEPARATORS_GLOBAL = new RegExp(SEPARATORS.source, 'gu');
const NOT_SEPARATOR = /[^\p{P}\p{S}\p{Z}\s\p{Cc}\p{Cf}\p{Cs}]/u;
const HAS_MARK = /\p{M}/u;

// Bracketed form markers sit anywhere in a registered name ("华信（集团）科技有限公司"), and once
// the brackets are gone they are indistinguishable from the trade name, so they go first.
// NFKC has already turned （） into (); 【】 and 〔〕 have no compatibility form.
const BRACKETED_MARKER = /[(\[【〔]\s*(?:集团|集團|特殊普通合伙|特殊普通合夥|有限合伙|有限合夥|普通合伙|普通合夥)\s*[)\]】〕]/gu;
const BRACKET_OPEN = /[(\[【〔]/;

/**
 * Organisation forms stripped from the end, longest first so that "股份有限公司" is not cut to
 * "股份". "集团" is stripped only at the end: in the middle ("海尔集团电器") it cannot be told
 * apart from the rest of the name without the brackets.
 */
const CJK_FORMS = [
  '特殊普通合伙',
  '股份有限公司',
  '有限责任公司',
  '集团有限公司',
  '有限公司',
  '股份公司',
  '合伙企业',
  '有限合伙',
  '普通合伙',
  '总公司',
  '公司',
  '集团',
];
const BRANCH = '分公司';
/** Where a parent's name ends inside a branch name: "华信科技有限公司|北京分公司". */
const PARENT_ENDS = ['公司', '集团'];

/**
 * English forms, matched as whole words only: as bare suffixes "co" and "inc" would eat the end
 * of "Costco" and "Zinc".
 */
const LATIN_FORMS = new Set([
  'co',
  'coltd',
  'ltd',
  'limited',
  'inc',
  'incorporated',
  'corp',
  'corporation',
  'company',
  'llc',
  'llp',
  'group',
  'plc',
]);
const LATIN_FORM_MAX = 12;

function isAsciiLower(code: number): boolean {
  return code >= 97 && code <= 122;
}

function isCjkUnified(code: number): boolean {
  return code >= 0x4e00 && code <= 0x9fff;
}

/**
 * Lower case, simplified, NFKC, without separators; `breaks` holds the offsets where a separator
 * was removed, the only places besides script changes where an English word can start.
 */
function clean(name: string): { s: string; breaks: number[] } {
  let s = name.normalize('NFKC').toLowerCase();
  // Lower-casing can leave combining marks out of canonical order (İ becomes i + U+0307).
  if (HAS_MARK.test(s)) s = s.normalize('NFKC');
  if (HAN.test(s)) s = toSimplified(s);
  if (BRACKET_OPEN.test(s)) {
    const unmarked = s.replace(BRACKETED_MARKER, ' ');
    // "（集团）" on its own is all there is to compare.
    if (NOT_SEPARATOR.test(unmarked)) s = unmarked;
  }
  const pieces = s.split(SEPARATORS);
  if (pieces.length === 1) return { s, breaks: [] };
  const breaks: number[] = [];
  let joined = '';
  for (const piece of pieces) {
    if (piece === '') continue;
    if (joined !== '') breaks.push(joined.length);
    joined += piece;
  }
  // Removing a separator can put a combining mark or a conjoining jamo next to what it now
  // composes with, or two Han characters next to each other that convert as a phrase. The result
  // must already be what a second normalisation makes of it, so settle those (rare) cases here.
  if (ASCII_ONLY.test(joined)) return { s: joined, breaks };
  const settled = settle(joined);
  return settled === joined ? { s: joined, breaks } : { s: settled, breaks: [] };
}

function settle(s: string): string {
  let cur = s;
  for (let i = 0; i < 4; i++) {
    let next = cur.normalize('NFKC').toLowerCase();
    if (HAS_MARK.test(next)) next = next.normalize('NFKC');
    if (HAN.test(next)) next = toSimplified(next);
    if (next === cur) break;
    cur = next;
  }
  return cur;
}

/** The end offset of `s` once organisation forms are stripped; 0 when nothing else is left. */
function formsEnd(s: string, breaks: number[]): number {
  let end = s.length;
  strip: while (end > 0) {
    const last = s.charCodeAt(end - 1);
    if (isCjkUnified(last)) {
      if (s.endsWith(BRANCH, end)) {
        // A branch is not a legal person (民法典 §74): it answers with its parent's assets, so a
        // conflict with "华信科技有限公司北京分公司" is a conflict with 华信科技. Cut to the parent
        // when the name spells it out; otherwise only the locality is left in ("华信北京").
        end -= BRANCH.length;
        let parentEnd = -1;
        for (const p of PARENT_ENDS) {
          const at = end >= p.length ? s.lastIndexOf(p, end - p.length) : -1;
          if (at >= 0) parentEnd = Math.max(parentEnd, at + p.length);
        }
        if (parentEnd > 0) end = parentEnd;
        continue;
      }
      for (const form of CJK_FORMS) {
        if (s.endsWith(form, end)) {
          end -= form.length;
          continue strip;
        }
      }
      break;
    }
    if (!isAsciiLower(last)) break;
    for (let b = end - 1; b >= 0 && end - b <= LATIN_FORM_MAX && isAsciiLower(s.charCodeAt(b)); b--) {
      // A word starts after a removed separator, at the start, or after a non-letter ("华信group").
      const starts = b === 0 || !isAsciiLower(s.charCodeAt(b - 1)) || breaks.includes(b);
      if (starts && LATIN_FORMS.has(s.slice(b, end))) {
        end = b;
        continue strip;
      }
    }
    break;
  }
  return end;
}

/**
 * The name as compared for conflicts: NFKC (full width to half width), simplified Chinese, lower
 * case, without whitespace, punctuation or symbols, and without its organisation form
 * ("股份有限公司", "（集团）", "Co., Ltd.", a branch's "北京分公司" suffix). A name that is nothing
 * but forms ("有限公司") is kept whole rather than reduced to the empty string.
 */
export function normalizeName(name: string): string {
  const { s, breaks } = clean(name);
  const end = formsEnd(s, breaks);
  if (end > 0) return s.slice(0, end);
  // Keeping `s` whole must also be what normalising `s` again yields; without the separators some
  // English words no longer stand alone ("co ltd 公司" is "coltd公司", which strips to "coltd").
  if (breaks.length === 0) return s;
  const again = formsEnd(s, []);
  return again > 0 ? s.slice(0, again) : s;
}

/** Organisation names this long get substitution keys; longer ones share enough trigrams already. */
export const SUBSTITUTION_MIN = 4;
export const SUBSTITUTION_MAX = 8;

/**
 * One key per character position with that character blanked: `华信科技` → `?信科技`, `华?科技`, …
 * Two names that differ in one character share a key. A one-character slip in a short Chinese company
 * name (华信科技 / 华新科技) leaves too few shared trigrams for pg_trgm to see, so this catches it instead.
 * Takes a normalised name; returns no keys outside the length range.
 */
export function substitutionKeys(norm: string): string[] {
  const chars = Array.from(norm);
  if (chars.length < SUBSTITUTION_MIN || chars.length > SUBSTITUTION_MAX) return [];
  return chars.map((_, i) => [...chars.slice(0, i), '?', ...chars.slice(i + 1)].join(''));
}

// Administrative divisions that open (or, in brackets, close) a company name: 企业名称 = 行政区划 + 字号
// + 行业 + 组织形式. Provinces, autonomous regions, municipalities and the larger prefecture-level cities.
const REGIONS = (
  '北京 天津 上海 重庆 河北 山西 辽宁 吉林 黑龙江 江苏 浙江 安徽 福建 江西 山东 河南 湖北 湖南 广东 海南 四川 贵州 云南 ' +
  '陕西 甘肃 青海 台湾 内蒙古 广西 西藏 宁夏 新疆 香港 澳门 广西壮族 宁夏回族 新疆维吾尔 中国 ' +
  '石家庄 唐山 保定 太原 大同 沈阳 大连 鞍山 长春 吉林 哈尔滨 大庆 南京 苏州 无锡 常州 南通 徐州 扬州 镇江 盐城 ' +
  '杭州 宁波 温州 嘉兴 湖州 绍兴 金华 台州 合肥 芜湖 福州 厦门 泉州 漳州 南昌 赣州 济南 青岛 烟台 潍坊 临沂 淄博 威海 ' +
  '郑州 洛阳 武汉 宜昌 襄阳 长沙 株洲 湘潭 岳阳 广州 深圳 珠海 佛山 东莞 中山 惠州 江门 汕头 湛江 海口 三亚 成都 绵阳 ' +
  '贵阳 遵义 昆明 西安 兰州 西宁 银川 乌鲁木齐 呼和浩特 包头 南宁 柳州 桂林 拉萨 浦东 滨海 雄安'
).split(' ');
const REGION_SUFFIXES = ['特别行政区', '自治区', '省', '市', '新区', '区', '县'];
const REGION_PREFIX = new RegExp(`^(?:(?:${REGIONS.join('|')})(?:${REGION_SUFFIXES.join('|')})?)+`, 'u');
const REGION_SUFFIX = new RegExp(`(?:${REGIONS.join('|')})(?:${REGION_SUFFIXES.join('|')})?$`, 'u');
/** A core shorter than this (a bare trade name such as 华信) says too little on its own. */
const CORE_MIN = 3;

/**
 * The name without the place it is registered in, as a key: `深圳市秘密科技有限公司`,
 * `秘密科技（深圳）有限公司` and `秘密科技有限公司` all give `=秘密科技`. The same firm registers under
 * its city's name and without it; the key lets one find the other. Takes a normalised name; null when
 * too little is left to mean anything.
 */
export function regionFreeKey(norm: string): string | null {
  const core = norm.replace(REGION_PREFIX, '').replace(REGION_SUFFIX, '');
  return Array.from(core).length < CORE_MIN ? null : `=${core}`;
}

// ---------------------------------------------------------------------------------------------
// Pinyin keys
// ---------------------------------------------------------------------------------------------

// Surname readings for the first character (曾 zeng, 单 shan, 解 xie): keys are for people, and
// Latin-script documents spell a surname the way its bearer says it.
const PINYIN_SURNAME = {
  toneType: 'none',
  type: 'array',
  v: true,
  nonZh: 'consecutive',
  mode: 'surname',
  surname: 'head',
} as const;
const PINYIN_PLAIN = { toneType: 'none', type: 'array', v: true, nonZh: 'consecutive' } as const;

const NON_AZ = /[^a-z]+/g;
const PASSPORT_YU = /([ln])yu/g;
const U_DIAERESIS = /u\u0308/g;
const MARKS = /\p{M}+/gu;
const UNDECOMPOSABLE = /[ßæœøđłıþð]/g;
const UNDECOMPOSABLE_MAP: Record<string, string> = {
  ß: 'ss',
  æ: 'ae',
  œ: 'oe',
  ø: 'o',
  đ: 'd',
  ł: 'l',
  ı: 'i',
  þ: 'th',
  ð: 'd',
};

/** Lower-case ASCII letters only; ü is v as in pinyin input ("Lü" = "lv"), other accents drop. */
function foldLatin(s: string): string {
  const lower = s.toLowerCase();
  if (ASCII_ONLY.test(lower)) return lower.replace(NON_AZ, '');
  return lower
    .normalize('NFKD')
    .replace(U_DIAERESIS, 'v')
    .replace(MARKS, '')
    .replace(UNDECOMPOSABLE, (c) => UNDECOMPOSABLE_MAP[c] ?? '')
    .replace(NON_AZ, '');
}

function simplifiedForPinyin(name: string): string {
  return toSimplified(name.normalize('NFKC'));
}

/**
 * A spelling-independent key for a person's name: toneless pinyin for Chinese characters, ASCII
 * letters for Latin script, so 张伟明, 張偉明, "Zhang Weiming" and "ZHANG Wei-Ming" all give
 * "zhangweiming". Null when the name has no letters to key on.
 */
export function pinyinKey(name: string): string | null {
  const key = foldLatin(HAN.test(name) ? pinyin(simplifiedForPinyin(name), PINYIN_SURNAME).join('') : name);
  return key === '' ? null : key;
}

/** Common two-character surnames, so that given-name-first order moves both characters. */
const COMPOUND_SURNAMES = new Set([
  '欧阳', '司马', '诸葛', '上官', '东方', '皇甫', '尉迟', '公孙', '慕容', '长孙',
  '令狐', '夏侯', '司徒', '轩辕', '端木', '宇文', '独孤', '南宫', '西门', '申屠',
  '闻人', '澹台', '呼延', '万俟', '钟离', '赫连', '濮阳', '太史', '淳于', '单于',
]);
const HAN_PERSON = /^\p{Script=Han}{2,4}$/u;
const LATIN_WORD_SEPARATORS = /[^\p{L}\p{M}\p{N}'’\-‐]+/u;

/**
 * Every key under which a person may have been indexed: `pinyinKey` first, then the same name in
 * the other order (Latin-script documents often put the given name first: "Weiming Zhang"), and
 * for Chinese characters also the ordinary reading when the surname reading differs (乐 yue/le).
 */
export function pinyinKeys(name: string): string[] {
  const keys = new Set<string>();
  const add = (k: string) => {
    if (k !== '') keys.add(k);
  };
  if (HAN.test(name)) {
    const simplified = simplifiedForPinyin(name);
    add(foldLatin(pinyin(simplified, PINYIN_SURNAME).join('')));
    if (keys.size === 0) return [];
    const bare = simplified.replace(SEPARATORS_GLOBAL, '');
    if (HAN_PERSON.test(bare)) {
      const given = pinyin(bare, PINYIN_SURNAME).map(foldLatin);
      const surname = bare.length > 2 && COMPOUND_SURNAMES.has(bare.slice(0, 2)) ? 2 : 1;
      add(given.slice(surname).join('') + given.slice(0, surname).join(''));
    }
    add(foldLatin(pinyin(simplified, PINYIN_PLAIN).join('')));
  } else {
    add(foldLatin(name));
    if (keys.size === 0) return [];
    const words = name.normalize('NFKC').split(LATIN_WORD_SEPARATORS).map(foldLatin).filter((w) => w !== '');
    if (words.length >= 2 && words.length <= 3) {
      add(words[words.length - 1] + words.slice(0, -1).join(''));
      add(words.slice(1).join('') + words[0]);
    }
    // Passports since 2012 spell ü as "yu" after l and n (吕 Lyu, 女 Nyu); the index spells it v.
    for (const k of [...keys]) add(k.replace(PASSPORT_YU, '$1v'));
  }
  return [...keys];
}
