// The synthetic law firm of `npm run bench:conflicts`: matters with their parties, Chinese person
// and company names as they occur in practice, valid resident ID numbers and unified social credit
// codes, companies with their legal representatives and shareholders; and the spelling variants a
// conflict check must still recognise. Deterministic: one seed gives the same firm every time.
import * as OpenCC from 'opencc-js/cn2t';
import { pinyin } from 'pinyin-pro';

// ---------------------------------------------------------------------------------------------
// Random numbers
// ---------------------------------------------------------------------------------------------

/** sfc32, seeded through splitmix32: fast, good enough, and the same sequence on every machine. */
export function rng(seed) {
  let s = seed >>> 0;
  const split = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = split();
  let b = split();
  let c = split();
  let d = split();
  const next = () => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) >>> 0;
    return t / 4294967296;
  };
  for (let i = 0; i < 12; i++) next();
  return {
    next,
    int: (n) => Math.floor(next() * n),
    range: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    chance: (p) => next() < p,
    pick: (xs) => xs[Math.floor(next() * xs.length)],
  };
}

/** A weighted table: `[[value, weight], …]` → a picker taking an rng. */
function weighted(entries) {
  const values = entries.map((e) => e[0]);
  const cum = [];
  let total = 0;
  for (const [, w] of entries) cum.push((total += w));
  return (r) => {
    const x = r.next() * total;
    let lo = 0;
    let hi = cum.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cum[mid] > x) hi = mid;
      else lo = mid + 1;
    }
    return values[lo];
  };
}

/** Earlier entries of a list more often than later ones (a Zipf-like tail, as with real names). */
const zipf = (chars, offset = 3) => weighted([...chars].map((c, i) => [c, 1 / (i + offset)]));

// ---------------------------------------------------------------------------------------------
// Person names
// ---------------------------------------------------------------------------------------------

// Share of the population in per mille, after the 2020 census surname ranking (rounded).
const SURNAMES = weighted(
  Object.entries({
    王: 71, 李: 70, 张: 67, 刘: 54, 陈: 46, 杨: 31, 黄: 22, 赵: 20, 吴: 19, 周: 19, 徐: 14, 孙: 13, 马: 12, 朱: 11,
    胡: 10, 郭: 9.7, 何: 9, 林: 8.7, 高: 8.6, 罗: 8, 郑: 7.7, 梁: 7, 谢: 6, 宋: 5, 唐: 5, 许: 5, 韩: 4.9, 冯: 4.8,
    邓: 4.7, 曹: 4.6, 彭: 4.3, 曾: 4.2, 肖: 4.1, 田: 4, 董: 3.9, 袁: 3.8, 潘: 3.7, 于: 3.6, 蒋: 3.5, 蔡: 3.4,
    余: 3.3, 杜: 3.2, 叶: 3.1, 程: 3, 苏: 2.9, 魏: 2.8, 吕: 2.7, 丁: 2.6, 任: 2.5, 沈: 2.4, 姚: 2.3, 卢: 2.2,
    姜: 2.1, 崔: 2, 钟: 2, 谭: 1.9, 陆: 1.9, 汪: 1.8, 范: 1.7, 金: 1.7, 石: 1.6, 廖: 1.6, 贾: 1.5, 夏: 1.5,
    韦: 1.5, 付: 1.4, 方: 1.4, 白: 1.3, 邹: 1.3, 孟: 1.2, 熊: 1.2, 秦: 1.2, 邱: 1.2, 江: 1.1, 尹: 1.1, 薛: 1,
    闫: 1, 段: 1, 雷: 1, 侯: 1, 龙: 1, 史: 1, 陶: 0.9, 黎: 0.9, 贺: 0.9, 顾: 0.8, 毛: 0.8, 郝: 0.8, 龚: 0.8,
    邵: 0.8, 万: 0.8, 钱: 0.7, 严: 0.7, 覃: 0.7, 武: 0.7, 戴: 0.7, 莫: 0.7, 孔: 0.7, 向: 0.7, 汤: 0.6, 常: 0.6,
    温: 0.6, 康: 0.6, 施: 0.5, 文: 0.5, 牛: 0.5, 樊: 0.5, 葛: 0.5, 邢: 0.5, 安: 0.4, 齐: 0.4, 易: 0.4, 乔: 0.4,
    伍: 0.4, 庞: 0.4, 颜: 0.4, 倪: 0.4, 庄: 0.4, 聂: 0.4, 章: 0.4, 鲁: 0.3, 岳: 0.3, 翟: 0.3, 殷: 0.3, 詹: 0.3,
    申: 0.3, 欧: 0.3, 耿: 0.3, 关: 0.3, 兰: 0.3, 焦: 0.3, 俞: 0.3, 左: 0.3, 柳: 0.3, 甘: 0.3, 祝: 0.3, 包: 0.3,
    宁: 0.2, 尚: 0.2, 符: 0.2, 舒: 0.2, 阮: 0.2, 柯: 0.2, 纪: 0.2, 梅: 0.2, 童: 0.2, 凌: 0.2, 毕: 0.2, 单: 0.2,
    解: 0.1, 区: 0.1, 乐: 0.1, 仇: 0.1, 查: 0.1, 朴: 0.1, 缪: 0.1, 盖: 0.1, 冼: 0.1, 闵: 0.1,
    // compound surnames (复姓)
    欧阳: 0.6, 司马: 0.1, 诸葛: 0.1, 上官: 0.1, 东方: 0.1, 皇甫: 0.1, 慕容: 0.05, 令狐: 0.05, 司徒: 0.1, 夏侯: 0.05,
    公孙: 0.05, 端木: 0.05, 尉迟: 0.05, 长孙: 0.03, 宇文: 0.03, 南宫: 0.03, 钟离: 0.03,
  }),
);

// Given-name characters by rough frequency. Real registers draw on thousands of characters; the
// flattened tail (offset 10) keeps the commonest full names near their real share: 张伟, the most
// common name in China, is about 0.02 % of the population (2019 household-register statistics).
const MALE_GIVEN = zipf(
  '伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆帅旭宁龙林建国峰亮成东文志海晨阳博彬毅坤锋晖晓雷兵昊然轩睿泽宏振春德永庆胜祥瑞翔新家铭哲逸子天一思嘉梓宸皓航安义福荣贵生金山江清松力世学武兴元忠启伦光立信耀卫锦良栋鸣岩进洪琦政' +
    '豪诚达川勤钢彦晟楷朗骏昌盛炜煜烨琛璋翰霖沛源鹤鑫钧铭崇岳嵩柏桐森杉恒焕隆弘毓君达仁智远航锐骁靖璞晋聪泰洲沐霆霄歌',
  10,
);
const FEMALE_GIVEN = zipf(
  '芳娜敏静丽艳娟霞秀英兰玲燕萍红梅莉婷雪琳颖倩慧洁丹琴云凤珍莹璐蕾晶妍佳怡欣悦雯涵萱诗雨梦琪媛月青彤菲薇瑶露岚蓉春桂淑素惠美玉华巧爱宁馨婉瑾茜楠可心语晴' +
    '芸芝芬菊萍蓓蕊薇岚曼姗娅娇婕嫣妮姣妹娥嫦翠翎羽玥璇瑜琼琬瑶珊珏莎菁蓝黛冰清露霏霓溪澜滢潇淳沁湘涓漪然宜安静娴婧倚依',
  10,
);
// Given names that recur as a whole (秀英, 建国, 志强 …), as they do in any large register.
const COMMON_GIVEN = zipf(
  ['秀英', '桂英', '秀兰', '玉兰', '桂兰', '建华', '建国', '志强', '国强', '建军', '海燕', '晓明', '文杰', '志伟', '丽娟', '晓燕', '红梅', '春梅', '小红', '小明', '伟东', '子涵', '一诺', '欣怡', '梓轩', '浩然', '宇航', '思远', '佳琪', '雨桐'],
  6,
);

/** A person's name; `surnameLength` tells where the given name starts (for Latin spellings). */
export function personName(r) {
  const surname = SURNAMES(r);
  const male = r.chance(0.5);
  const chars = male ? MALE_GIVEN : FEMALE_GIVEN;
  let given;
  const x = r.next();
  if (x < 0.18) given = chars(r);
  else if (x < 0.21) given = COMMON_GIVEN(r);
  else {
    given = chars(r);
    let second = chars(r);
    for (let i = 0; i < 3 && second === given; i++) second = chars(r);
    given += second;
  }
  return { name: surname + given, surnameLength: surname.length, male };
}

// ---------------------------------------------------------------------------------------------
// Identifiers
// ---------------------------------------------------------------------------------------------

// Real county-level region codes (GB/T 2260), used for resident ID numbers and USCCs alike.
const REGIONS = [
  '110101', '110102', '110105', '110106', '110108', '110112', '120101', '120104', '130102', '130104', '140105',
  '150102', '210102', '210202', '220102', '230102', '310101', '310104', '310105', '310106', '310110', '310112',
  '310115', '320102', '320106', '320211', '320506', '320583', '330102', '330106', '330108', '330203', '330302',
  '340102', '340104', '350102', '350203', '350206', '360102', '370102', '370202', '370211', '410105', '420106',
  '420111', '430102', '430104', '440103', '440104', '440106', '440303', '440304', '440305', '440306', '440604',
  '441900', '442000', '440524', '450103', '460105', '500103', '500108', '510104', '510107', '510108', '520102',
  '530102', '540102', '610102', '610113', '620102', '630102', '640104', '650102',
];

const RID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const RID_CHECK = '10X98765432';
const DAY_MS = 86_400_000;
const BIRTH_FROM = Date.UTC(1950, 0, 1);
const BIRTH_DAYS = Math.round((Date.UTC(2005, 11, 31) - BIRTH_FROM) / DAY_MS) + 1;

/** An 18-digit resident ID number (GB 11643-1999) with a real region, a real date and the right check digit. */
export function residentId(r, male = r.chance(0.5)) {
  const birth = new Date(BIRTH_FROM + r.int(BIRTH_DAYS) * DAY_MS).toISOString().slice(0, 10).replaceAll('-', '');
  // The order code's last digit is odd for men, even for women.
  const order = r.int(100) * 10 + (male ? 1 + 2 * r.int(5) : 2 * r.int(5));
  const first17 = r.pick(REGIONS) + birth + String(order).padStart(3, '0');
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += (first17.charCodeAt(i) - 48) * RID_WEIGHTS[i];
  return first17 + RID_CHECK[sum % 11];
}

const USCC_ALPHABET = '0123456789ABCDEFGHJKLMNPQRTUWXY';
const USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
const ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2];
const ORG_BODY = '0123456789ABCDEFGHJKLMNPQRTUWXY';

/**
 * A unified social credit code (GB 32100-2015): registration authority and type ("91", "92" …),
 * region, a 9-character organisation code with its own GB 11714 check character, and the check
 * character over all of it.
 */
export function uscc(r) {
  const head = r.chance(0.95) ? '91' : r.pick(['92', '93', '12', '52']);
  let body = '';
  if (r.chance(0.5)) {
    for (let i = 0; i < 8; i++) body += String(r.int(10));
  } else {
    body = 'MA';
    for (let i = 0; i < 6; i++) body += ORG_BODY[r.int(ORG_BODY.length)];
  }
  let s = 0;
  for (let i = 0; i < 8; i++) {
    const c = body.charCodeAt(i);
    s += (c <= 57 ? c - 48 : c - 55) * ORG_WEIGHTS[i];
  }
  const c9 = 11 - (s % 11);
  const first17 = head + r.pick(REGIONS) + body + (c9 === 10 ? 'X' : c9 === 11 ? '0' : String(c9));
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += USCC_ALPHABET.indexOf(first17[i]) * USCC_WEIGHTS[i];
  return first17 + USCC_ALPHABET[(31 - (sum % 31)) % 31];
}

// ---------------------------------------------------------------------------------------------
// Company names: <城市><字号><行业><组织形式>
// ---------------------------------------------------------------------------------------------

const CITIES = zipf(
  ['北京', '上海', '深圳', '广州', '杭州', '成都', '南京', '苏州', '武汉', '天津', '重庆', '西安', '长沙', '郑州', '青岛', '宁波', '厦门', '合肥', '济南', '福州', '东莞', '佛山', '无锡', '昆明', '沈阳', '大连', '哈尔滨', '长春', '石家庄', '太原', '南昌', '南宁', '贵阳', '兰州', '海口', '温州', '珠海', '中山', '常州', '烟台'],
  6,
);
const PROVINCES = zipf(['浙江', '广东', '江苏', '山东', '四川', '湖北', '河南', '福建', '湖南', '安徽', '河北', '云南']);
const MUNICIPALITIES = new Set(['北京', '上海', '天津', '重庆']);
const TRADE_CHARS =
  '华信达鑫盛泰恒宏瑞丰源昌隆兴德安康永嘉通宇博中新金天海阳光明辉凯捷远航腾跃聚汇诚创智众联科星云合和润祥福佳益元利顺美正君同方睿晟鼎峰泽浩森林晶景锦鸿庆平英立东南万百千亿龙凤麟骏翔雅致';
const TRADE = [...TRADE_CHARS];
const INDUSTRIES = zipf([
  '科技', '贸易', '实业', '电子', '网络科技', '信息技术', '国际贸易', '建筑工程', '投资', '房地产开发', '物流', '医药', '商贸',
  '文化传媒', '机械设备', '生物科技', '建设工程', '装饰工程', '供应链管理', '食品', '餐饮管理', '环保科技', '新能源', '汽车销售',
  '教育科技', '化工', '纺织', '服装', '家具', '电器', '通信技术', '软件', '数据科技', '企业管理咨询', '人力资源', '物业管理',
  '酒店管理', '旅游', '农业发展', '矿业', '钢铁', '印刷', '包装', '光电', '半导体', '精密机械', '模具', '塑胶制品', '五金', '广告',
], 5);
const HOLDING_INDUSTRIES = zipf(['投资', '控股', '投资管理', '资产管理', '股权投资', '创业投资', '实业投资']);
const SUFFIXES = weighted([
  ['有限公司', 58],
  ['有限责任公司', 16],
  ['股份有限公司', 10],
  ['集团有限公司', 5],
  ['branch', 4],
  ['partnership', 3],
  ['集团', 1],
  ['总公司', 1],
]);
const LATIN = 'ABCDEFGHJKLMNPRSTWXYZ';

function tradeName(r) {
  const x = r.next();
  if (x < 0.04) {
    // Latin acronyms and digits occur in registered trade names (深圳市ABC电子, 北京58同城).
    let s = '';
    for (let i = r.range(2, 4); i > 0; i--) s += LATIN[r.int(LATIN.length)];
    return s;
  }
  if (x < 0.06) return String(r.range(1, 99)) + r.pick(TRADE) + r.pick(TRADE);
  const n = x < 0.86 ? 2 : x < 0.96 ? 3 : 4;
  let s = '';
  while (s.length < n) {
    const c = r.pick(TRADE);
    if (!s.endsWith(c)) s += c;
  }
  return s;
}

function cityPrefix(r) {
  const city = CITIES(r);
  return MUNICIPALITIES.has(city) ? (r.chance(0.3) ? `${city}市` : city) : r.chance(0.45) ? `${city}市` : city;
}

/**
 * A company name and how it was put together (`meta`), so variants can change one part of it.
 * `holding` gives the names of investment vehicles, the usual corporate shareholders.
 */
export function companyName(r, { holding = false } = {}) {
  const trade = tradeName(r);
  const industry = holding ? HOLDING_INDUSTRIES(r) : INDUSTRIES(r);
  let suffix = SUFFIXES(r);
  if (holding && suffix === 'branch') suffix = '有限公司';
  const x = r.next();
  // 城市 in front (most), in brackets after the trade name (华信（北京）科技), a province, or none.
  const place = x < 0.55 ? cityPrefix(r) : x < 0.63 ? PROVINCES(r) : '';
  const bracket = x >= 0.63 && x < 0.71 ? CITIES(r) : null;
  const stem = bracket ? `${trade}（${bracket}）${industry}` : `${place}${trade}${industry}`;
  let name;
  if (suffix === 'branch') {
    const parentSuffix = r.chance(0.8) ? '有限公司' : '股份有限公司';
    name = `${stem}${parentSuffix}${CITIES(r)}分公司`;
  } else if (suffix === 'partnership') {
    name = `${place}${trade}${holding ? '' : '投资'}${industry === '投资' ? '' : industry}合伙企业（有限合伙）`;
  } else {
    name = stem + suffix;
  }
  return { name, meta: { trade, industry, suffix, place, bracket } };
}

// ---------------------------------------------------------------------------------------------
// The firm
// ---------------------------------------------------------------------------------------------

const CAUSES = {
  civil: ['买卖合同纠纷', '民间借贷纠纷', '金融借款合同纠纷', '建设工程施工合同纠纷', '房屋租赁合同纠纷', '股权转让纠纷', '劳动争议', '机动车交通事故责任纠纷', '离婚纠纷', '服务合同纠纷', '承揽合同纠纷', '侵害商标权纠纷', '侵害外观设计专利权纠纷', '公司解散纠纷', '股东知情权纠纷', '追索劳动报酬纠纷', '物业服务合同纠纷', '商品房预售合同纠纷'],
  arbitration: ['国际货物买卖合同争议', '股权投资协议争议', '建设工程合同争议', '技术许可合同争议'],
  administrative: ['行政处罚', '政府信息公开', '行政许可', '工伤认定'],
  enforcement: ['申请执行', '执行异议'],
  criminal: ['合同诈骗罪', '非法吸收公众存款罪', '职务侵占罪', '虚开增值税专用发票罪'],
  non_litigation: ['股权收购尽职调查', '债券发行', '企业合规审查', '并购重组'],
  legal_counsel: ['常年法律顾问'],
};
const MATTER_TYPE = weighted([['civil', 60], ['arbitration', 8], ['administrative', 5], ['enforcement', 8], ['criminal', 5], ['non_litigation', 7], ['legal_counsel', 7]]);
const TYPE_CODE = { civil: '民代', arbitration: '仲代', administrative: '行代', enforcement: '执代', criminal: '刑辩', non_litigation: '非诉', legal_counsel: '顾问' };
// Mean 3.33 parties per matter: 1,000,000 parties across 300,000 matters.
const MATTER_SIZE = weighted([[2, 32], [3, 30], [4, 18], [5, 11], [6, 9]]);
const YEAR_FROM = 2012;
const YEAR_TO = 2026;

/**
 * Generates the firm matter by matter: `parties` parties across round(parties × 0.3) matters,
 * 2–6 parties each, about 45 % of them companies; ids are assigned here (1, 2, …) so the loader
 * needs no round trips. Some clients and adversaries come back in later matters, and some people
 * stand behind several companies, as in a real register.
 */
export function* generateFirm({ parties: total, seed = 20261128 }) {
  const r = rng(seed);
  const matterCount = Math.max(1, Math.round(total * 0.3));
  const seq = new Map();
  const recentParties = []; // ring buffers for parties and people that come back
  const recentPeople = [];
  const RING = 20_000;
  const remember = (ring, x) => {
    if (ring.length < RING) ring.push(x);
    else ring[r.int(RING)] = x;
  };
  const newPerson = () => {
    const p = personName(r);
    const person = { ...p, kind: 'person', idNumber: r.chance(0.6) ? residentId(r, p.male) : null };
    remember(recentPeople, person);
    return person;
  };
  // A legal representative or shareholder: often someone already on file.
  const someone = () => (recentPeople.length > 100 && r.chance(0.2) ? r.pick(recentPeople) : newPerson());
  const newCompany = () => {
    const { name, meta } = companyName(r);
    const shareholders = [];
    const n = r.range(1, 3);
    for (let i = 0; i < n; i++) {
      if (r.chance(0.15)) {
        const h = companyName(r, { holding: true });
        shareholders.push({ name: h.name, kind: 'organization', idNumber: null, uscc: r.chance(0.8) ? uscc(r) : null });
      } else {
        const p = someone();
        shareholders.push({ name: p.name, kind: 'person', idNumber: p.idNumber, uscc: null, surnameLength: p.surnameLength });
      }
    }
    // The legal representative is often the controlling shareholder.
    const firstPerson = shareholders.find((s) => s.kind === 'person');
    const rep = firstPerson && r.chance(0.5) ? firstPerson : someone();
    return { kind: 'organization', name, meta, idNumber: null, uscc: r.chance(0.8) ? uscc(r) : null, legalRepresentative: rep.name, shareholders };
  };

  let partyId = 0;
  let remaining = total;
  for (let m = 1; m <= matterCount; m++) {
    const left = matterCount - m; // matters after this one
    const size = Math.min(6, remaining - 2 * left, Math.max(2, remaining - 6 * left, MATTER_SIZE(r)));
    remaining -= size;
    const year = r.range(YEAR_FROM, YEAR_TO);
    const type = MATTER_TYPE(r);
    const key = `${year}${type}`;
    const n = (seq.get(key) ?? 0) + 1;
    seq.set(key, n);
    const createdAt = new Date(Date.UTC(year, r.int(12), r.range(1, 28), r.range(1, 10))).toISOString();
    const list = [];
    for (let i = 0; i < size; i++) {
      const role = i === 0 ? 'client' : i === 1 ? 'opposing' : r.pick(['client', 'opposing', 'opposing', 'third_party', 'third_party']);
      let base;
      if (recentParties.length > 100 && r.chance(0.08)) base = r.pick(recentParties);
      else {
        base = r.chance(0.45) ? newCompany() : newPerson();
        remember(recentParties, base);
      }
      list.push({ ...base, id: ++partyId, role });
    }
    const [a, b] = list;
    const cause = r.pick(CAUSES[type]);
    const title = type === 'legal_counsel' || type === 'non_litigation' ? `${a.name}${cause}` : `${a.name}与${b.name}${cause}`;
    yield { id: m, number: `(${year})京衡信${TYPE_CODE[type]}字第${String(n).padStart(4, '0')}号`, title, type, cause, createdAt, parties: list };
  }
}

// ---------------------------------------------------------------------------------------------
// Variants: the same party written another way
// ---------------------------------------------------------------------------------------------

export const VARIANT_KINDS = ['exact', 'id_only', 'full_width', 'traditional', 'spacing_punct', 'suffix', 'pinyin', 'typo', 'shareholder'];

let toTraditional = null;
const toFullWidth = (s) => s.replace(/[!-~]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0)).replace(/ /g, '\u3000');
const hasAscii = /[A-Za-z0-9]/;
const cap = (s) => (s ? s[0].toUpperCase() + s.slice(1) : s);

/** A person's name in Latin script, as on a passport, a contract in English or a business card. */
function latinName(name, surnameLength, r) {
  const style = r.next();
  // ü as typed (Lü), as on a keyboard (Lv), or as on a passport since 2012 (LYU).
  const u = style < 0.5 ? 'ü' : style < 0.7 ? 'v' : 'yu';
  const syll = pinyin(name, { toneType: 'none', type: 'array', mode: 'surname' }).map((s) => s.replace(/ü/g, u));
  const surname = cap(syll.slice(0, surnameLength).join(''));
  const givenParts = syll.slice(surnameLength);
  const given = r.chance(0.1) ? givenParts.map(cap).join('-') : cap(givenParts.join(''));
  const x = r.next();
  if (x < 0.6) return `${surname} ${given}`;
  if (x < 0.85) return `${given} ${surname}`;
  return `${surname.toUpperCase()} ${given}`;
}

/** Inserts spaces, middle dots or brackets the way names get typed and pasted. */
function spaced(p, r) {
  const name = p.name;
  if (p.kind === 'person') {
    const at = p.surnameLength ?? 1;
    const sep = r.pick([' ', '·', '\u3000', ' · ', '•']);
    return r.chance(0.2) ? ` ${name.slice(0, at)}${sep}${name.slice(at)} ` : `${name.slice(0, at)}${sep}${name.slice(at)}`;
  }
  const { trade, place } = p.meta;
  const x = r.next();
  if (place && x < 0.35) return `${r.pick(['（', '(', '【'])}${place}${r.pick(['）', ')', '】'])}${name.slice(place.length)}`;
  if (x < 0.6) return name.replace(trade, `“${trade}”`);
  if (x < 0.85) {
    const at = 1 + r.int(name.length - 1);
    return `${name.slice(0, at)}${r.pick([' ', '·', ' ', '\u3000'])}${name.slice(at)}`;
  }
  return `${name.replace(trade, `${trade} `)}。`;
}

const SWAPS = ['有限公司', '有限责任公司', '股份有限公司'];

function suffixVariant(p, r) {
  const { suffix } = p.meta;
  if (!SWAPS.includes(suffix) && suffix !== '集团有限公司') return null;
  const stem = p.name.slice(0, p.name.length - suffix.length);
  const x = r.next();
  if (x < 0.45) return stem + r.pick(SWAPS.filter((s) => s !== suffix));
  if (x < 0.75) return stem;
  if (suffix === '集团有限公司') return `${stem}（集团）有限公司`;
  return `${stem}（集团）${suffix}`;
}

function typoVariant(p, r) {
  const { trade } = p.meta;
  const at = r.int(trade.length);
  const old = trade[at];
  let c = old;
  const pool = /[A-Z]/.test(old) ? [...LATIN] : /\d/.test(old) ? [...'0123456789'] : TRADE;
  while (c === old) c = r.pick(pool);
  return p.name.replace(trade, trade.slice(0, at) + c + trade.slice(at + 1));
}

/**
 * Which sampled parties a kind of variant can be made of. `p` is a sampled party:
 * `{ partyId, matterId, kind, name, idNumber, uscc, meta, surnameLength, shareholders }`.
 */
export function variantApplies(kind, p) {
  switch (kind) {
    case 'exact':
    case 'spacing_punct':
      return true;
    case 'traditional':
      // Only names whose traditional form differs: 王芳 is written the same in both.
      toTraditional ??= OpenCC.Converter({ from: 'cn', to: 'tw' });
      return toTraditional(p.name) !== p.name;
    case 'id_only':
      return Boolean(p.idNumber || p.uscc);
    case 'full_width':
      return hasAscii.test(p.name) || p.name.includes('（');
    case 'suffix':
      return p.kind === 'organization' && (SWAPS.includes(p.meta.suffix) || p.meta.suffix === '集团有限公司');
    case 'pinyin':
      return p.kind === 'person' && p.surnameLength !== undefined;
    case 'typo':
      return p.kind === 'organization' && p.meta.suffix !== 'partnership';
    case 'shareholder':
      return p.kind === 'organization' && p.shareholders.length > 0;
    default:
      throw new Error(`unknown variant kind ${kind}`);
  }
}

/**
 * The searched party (findConflicts input) for one variant of `p`, and the party a check must
 * find: `p` itself, or for `shareholder` the company `p` whose shareholder is searched.
 */
export function makeVariant(kind, p, r, newName) {
  const base = { kind: p.kind };
  switch (kind) {
    case 'exact':
      return { ...base, name: p.name };
    case 'id_only': {
      // The right identifier under another name: a new name, a typo, or a former name.
      const name = p.kind === 'person' ? newName('person') : newName('organization');
      return p.idNumber ? { ...base, name, id_number: p.idNumber } : { ...base, name, uscc: p.uscc };
    }
    case 'full_width':
      // ASCII to full width (ＡＢＣ, ３), and the name's full-width brackets to ASCII ones.
      return { ...base, name: toFullWidth(p.name).replace(/（/g, '(').replace(/）/g, ')') };
    case 'traditional':
      toTraditional ??= OpenCC.Converter({ from: 'cn', to: 'tw' });
      return { ...base, name: toTraditional(p.name) };
    case 'spacing_punct':
      return { ...base, name: spaced(p, r) };
    case 'suffix':
      return { ...base, name: suffixVariant(p, r) };
    case 'pinyin':
      return { ...base, name: latinName(p.name, p.surnameLength, r) };
    case 'typo':
      return { ...base, name: typoVariant(p, r) };
    case 'shareholder': {
      const s = r.pick(p.shareholders);
      return { kind: s.kind, name: s.name };
    }
    default:
      throw new Error(`unknown variant kind ${kind}`);
  }
}
