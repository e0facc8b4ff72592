import { badRequest } from '../../errors.js';

/**
 * The template language: text with `{{path}}` placeholders, nothing else. There are no loops,
 * conditions, helpers or expressions, so a template can never run code; every placeholder must name
 * a variable of the catalogue below, checked when the template is saved.
 *
 * Layout is line based: `# ` starts the centred document heading, `## ` a section heading, every
 * other line is a paragraph and an empty line leaves space.
 */

/** Every variable a template may use, with what it holds. Values come from the matter and its client. */
export const TEMPLATE_VARIABLES = {
  'matter.number': '案号（收案编号） / matter number',
  'matter.title': '案件名称 / matter title',
  'matter.type': '案件类型 / matter type',
  'matter.cause': '案由 / cause of action',
  'matter.court': '受理机关 / court or agency',
  'matter.stage': '代理阶段 / stage',
  'matter.opened_on': '收案日期 / date the matter was opened',
  'client.name': '委托人名称 / client name',
  'client.kind': '委托人类型 / client kind (自然人 or 法人或其他组织)',
  'client.id_number': '委托人证件号码（脱敏） / client ID number or USCC, masked',
  'client.legal_representative': '法定代表人 / legal representative',
  'client.contact_name': '联系人 / contact person',
  'lawyer.name': '承办律师 / responsible lawyer',
  'lawyer.office': '承办律师所在办公室 / the lawyer’s office',
  'fee.amount': '律师费（小写，元） / fee amount in yuan',
  'fee.amount_upper': '律师费（大写） / fee amount in Chinese capital numerals',
  'fee.arrangement': '收费方式 / fee arrangement',
  'firm.name': '律师事务所名称 / firm name',
  'firm.address': '律师事务所地址 / firm address',
  today: '今日日期 YYYY-MM-DD（北京时间） / today’s date',
  today_cn: '今日日期（2026年1月2日） / today’s date in Chinese',
} as const;

export type TemplateVariable = keyof typeof TEMPLATE_VARIABLES;
const KNOWN = new Set<string>(Object.keys(TEMPLATE_VARIABLES));

export type Segment = { text: string } | { variable: TemplateVariable };

const PATH = /^[a-z][a-z_]*(\.[a-z][a-z_]*)*$/;
/** Longest placeholder worth reading: anything longer is a typo, reported as such. */
const MAX_TAG = 80;

function position(source: string, index: number): string {
  const before = source.slice(0, index);
  const line = before.split('\n').length;
  const column = index - before.lastIndexOf('\n');
  return `line ${line}, column ${column}`;
}

/**
 * Splits a template into text and placeholders. A `{{` that does not start a well-formed placeholder,
 * a stray `}}`, or a name outside the catalogue is a 400 naming where it is, so the author can fix it.
 */
export function parseTemplate(source: string, field = 'body'): Segment[] {
  const segments: Segment[] = [];
  let text = '';
  let i = 0;
  while (i < source.length) {
    const open = source.indexOf('{{', i);
    const close = source.indexOf('}}', i);
    if (close !== -1 && (open === -1 || close < open)) {
      throw badRequest('TEMPLATE_SYNTAX', `${field}: a "}}" without its "{{" at ${position(source, close)}. / 模板格式错误：${field} 第 ${position(source, close)} 处的 "}}" 没有对应的 "{{"。`);
    }
    if (open === -1) {
      text += source.slice(i);
      break;
    }
    text += source.slice(i, open);
    const end = source.indexOf('}}', open + 2);
    const inner = end === -1 ? null : source.slice(open + 2, end);
    if (inner === null || inner.length > MAX_TAG || inner.includes('{') || inner.includes('\n')) {
      throw badRequest('TEMPLATE_SYNTAX', `${field}: a "{{" is not closed by "}}" on the same line at ${position(source, open)}. / 模板格式错误：${field} 第 ${position(source, open)} 处的 "{{" 缺少 "}}"。`);
    }
    const name = inner.trim();
    if (!PATH.test(name)) {
      throw badRequest('TEMPLATE_SYNTAX', `${field}: "{{${inner}}}" at ${position(source, open)} is not a variable name (letters, "_" and "." only). / 模板格式错误：${field} 第 ${position(source, open)} 处的占位符不是变量名。`);
    }
    if (!KNOWN.has(name)) {
      throw badRequest(
        'TEMPLATE_UNKNOWN_VARIABLE',
        `${field}: unknown variable {{${name}}} at ${position(source, open)}; GET /api/templates/variables lists the ones available. / 未知变量 {{${name}}}（${field} 第 ${position(source, open)} 处），可用变量见变量列表。`,
      );
    }
    if (text) segments.push({ text });
    text = '';
    segments.push({ variable: name as TemplateVariable });
    i = end + 2;
  }
  if (text) segments.push({ text });
  return segments;
}

/** The variables a parsed template uses, in order of first use. */
export function variablesOf(...parsed: Segment[][]): TemplateVariable[] {
  const out: TemplateVariable[] = [];
  for (const segments of parsed) for (const s of segments) if ('variable' in s && !out.includes(s.variable)) out.push(s.variable);
  return out;
}

export type TemplateValues = Partial<Record<TemplateVariable, string | null>>;

/**
 * Fills a template in. Every variable it uses must have a value: a missing one is a 400 that names
 * each, since a contract with a blank where the court or the fee should be must not be issued.
 */
export function fillTemplate(parsed: { title: Segment[]; body: Segment[] }, values: TemplateValues): { title: string; body: string } {
  const missing = variablesOf(parsed.title, parsed.body).filter((v) => !values[v]?.trim());
  if (missing.length) {
    throw badRequest(
      'TEMPLATE_VALUE_MISSING',
      `No value for ${missing.map((v) => `{{${v}}}`).join(', ')} in this matter; fill it in on the matter or client first. / 以下变量在本案中没有取值：${missing
        .map((v) => `{{${v}}}（${TEMPLATE_VARIABLES[v].split(' / ')[0]}）`)
        .join('、')}，请先在案件或委托人信息中补充。`,
    );
  }
  const fill = (segments: Segment[]) => segments.map((s) => ('text' in s ? s.text : values[s.variable]!.trim())).join('');
  return { title: fill(parsed.title).trim(), body: fill(parsed.body) };
}

export type Block = { kind: 'heading' | 'section' | 'paragraph'; text: string } | { kind: 'space' };

/** The layout of a filled-in body: headings, paragraphs and spaces. */
export function layoutBlocks(body: string): Block[] {
  return body
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .map((line): Block => {
      if (line.startsWith('## ')) return { kind: 'section', text: line.slice(3).trim() };
      if (line.startsWith('# ')) return { kind: 'heading', text: line.slice(2).trim() };
      return line.trim() ? { kind: 'paragraph', text: line.trimEnd() } : { kind: 'space' };
    });
}

const DIGITS = '零壹贰叁肆伍陆柒捌玖';
const SMALL_UNITS = ['', '拾', '佰', '仟'];
const BIG_UNITS = ['', '万', '亿', '万亿'];

/**
 * An amount in yuan as written on contracts and receipts (人民币大写), e.g. `80000.00` →
 * `人民币捌万元整`, `1260000.50` → `人民币壹佰贰拾陆万元伍角`.
 */
export function amountInWords(amount: string): string {
  const match = /^(\d{1,16})(?:\.(\d{1,2}))?$/.exec(amount.trim());
  if (!match) throw badRequest('INVALID_AMOUNT', `${amount} is not an amount in yuan. / 金额格式无效。`);
  const integer = match[1]!.replace(/^0+(?=\d)/, '');
  const cents = (match[2] ?? '').padEnd(2, '0');
  let words = '';
  if (integer !== '0') {
    const groups: string[] = [];
    for (let end = integer.length; end > 0; end -= 4) groups.unshift(integer.slice(Math.max(0, end - 4), end));
    let pendingZero = false;
    groups.forEach((group, gi) => {
      const unit = BIG_UNITS[groups.length - 1 - gi]!;
      const digits = group.padStart(4, '0');
      let part = '';
      for (let d = 0; d < 4; d++) {
        const n = Number(digits[d]);
        if (n === 0) {
          if (part || words) pendingZero = true;
          continue;
        }
        if (pendingZero) part += '零';
        pendingZero = false;
        part += DIGITS[n]! + SMALL_UNITS[3 - d]!;
      }
      if (part) words += part + unit;
    });
    words += '元';
  }
  const jiao = Number(cents[0]);
  const fen = Number(cents[1]);
  if (jiao === 0 && fen === 0) return `人民币${words || '零元'}整`;
  let tail = '';
  if (jiao) tail += `${DIGITS[jiao]}角`;
  else if (words) tail += '零';
  if (fen) tail += `${DIGITS[fen]}分`;
  return `人民币${words}${tail}`;
}
