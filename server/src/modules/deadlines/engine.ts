import { dateDayNumber } from '../../calendar.js';
import { badRequest } from '../../errors.js';

/**
 * The deadline engine (T/ZSM 0038-2024 Z5.5.2, Z5.5.2c): procedural time limits of PRC law, counted
 * over the public-holiday calendar. Pure: no database, no clock. The calendar it counts over is
 * built from the loaded years (see service.ts), and a day in a year that was never loaded counts as
 * a rest day only if it is a weekend, with a warning naming the year.
 *
 * Counting rules:
 * - periods of days (民事诉讼法 §85, 刑事诉讼法 §105; administrative cases through 行政诉讼法 §101):
 *   the start day is not counted, so day N is the trigger date plus N; if that day is a rest day the
 *   period ends on the next working day. Criminal periods of a person in custody are not extended.
 * - periods of months and years (民法典 §201–203): the period ends on the corresponding day of the
 *   last month, or that month's last day when it has none (2024-01-31 + 1 month → 2024-02-29), then
 *   the same rest-day extension.
 */

const DAY_MS = 86_400_000;

/** Day number (days since 1970-01-01) → `YYYY-MM-DD`. */
export const dayToDate = (day: number): string => new Date(day * DAY_MS).toISOString().slice(0, 10);
const yearOf = (day: number): number => new Date(day * DAY_MS).getUTCFullYear();
/** 0 = Sunday … 6 = Saturday. */
const weekdayOf = (day: number): number => new Date(day * DAY_MS).getUTCDay();
const isWeekend = (day: number): boolean => weekdayOf(day) === 0 || weekdayOf(day) === 6;
const WEEKDAY_ZH = ['星期日', '星期一', '星期二', '星期三', '星期四', '星期五', '星期六'];
const WEEKDAY_EN = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

// ---------------------------------------------------------------------------------------------
// The public-holiday calendar

/** One year of the State Council's holiday arrangement (国务院办公厅关于部分节假日安排的通知). */
export interface CalendarYear {
  year: number;
  notice: string;
  /** inclusive date ranges that are not working days */
  off: [string, string][];
  /** weekend days that are working days (调休上班) */
  workdays: string[];
}

/** Rest days of the loaded years; weekends only in any other year. */
export class RestDayCalendar {
  private readonly off = new Set<number>();
  private readonly workdays = new Set<number>();
  private readonly loaded = new Set<number>();

  constructor(years: readonly CalendarYear[]) {
    for (const y of years) {
      this.loaded.add(y.year);
      for (const [from, to] of y.off) {
        const a = dateDayNumber(from);
        const b = dateDayNumber(to);
        if (a === null || b === null) continue;
        for (let d = a; d <= b; d++) this.off.add(d);
      }
      for (const w of y.workdays) {
        const d = dateDayNumber(w);
        if (d !== null) this.workdays.add(d);
      }
    }
  }

  hasYear(year: number): boolean {
    return this.loaded.has(year);
  }

  get years(): number[] {
    return [...this.loaded].sort((a, b) => a - b);
  }

  isRestDay(day: number): boolean {
    return this.off.has(day) || (isWeekend(day) && !this.workdays.has(day));
  }

  /** Why a day is or is not a working day, for the basis of a result. */
  describe(day: number): { zh: string; en: string } {
    const wd = { zh: WEEKDAY_ZH[weekdayOf(day)]!, en: WEEKDAY_EN[weekdayOf(day)]! };
    if (this.off.has(day)) return { zh: `${wd.zh}，法定节假日`, en: `${wd.en}, a public holiday` };
    if (this.workdays.has(day)) return { zh: `${wd.zh}，调休工作日`, en: `${wd.en}, an adjusted working day` };
    if (isWeekend(day)) return { zh: `${wd.zh}，休息日`, en: `${wd.en}, a rest day` };
    return { zh: `${wd.zh}，工作日`, en: `${wd.en}, a working day` };
  }
}

// ---------------------------------------------------------------------------------------------
// Rules

export type Procedure = 'civil' | 'administrative' | 'criminal';
/** Z5.5.2a milestones a deadline belongs to (hearings are kept apart, in their own table). */
export const MILESTONES = ['filing', 'preservation', 'appeal', 'enforcement', 'reply', 'evidence', 'service', 'other'] as const;
export type Milestone = (typeof MILESTONES)[number];

export interface Period {
  unit: 'day' | 'month' | 'year';
  count: number;
}

interface Text {
  zh: string;
  en: string;
}

export interface Rule {
  id: string;
  name: Text;
  procedure: Procedure;
  milestone: Milestone;
  period: Period;
  /** which day `trigger_date` is */
  trigger: Text;
  /** the statute, cited and quoted */
  basis: Text;
  /** what happens when the deadline passes, for the client's notice (Z5.5.2c) */
  consequence: Text;
  /** the period of a party without domicile in China (民事诉讼法 §285, §286) */
  foreign?: { period: Period; basis: Text };
  /** the court sets the period in its notice: the rule's count is the statutory floor or ceiling */
  courtSets?: { bound: 'min' | 'max'; note: Text };
}

const CPL = '《中华人民共和国民事诉讼法》';
const CPL_EN = 'Civil Procedure Law';
const ALL = '《中华人民共和国行政诉讼法》';
const ALL_EN = 'Administrative Litigation Law';
const CRPL = '《中华人民共和国刑事诉讼法》';
const CRPL_EN = 'Criminal Procedure Law';
const CPL_INTERP = '《最高人民法院关于适用〈中华人民共和国民事诉讼法〉的解释》';
const CPL_INTERP_EN = 'SPC Interpretation of the Civil Procedure Law';
const COURT_NOTICE: Text = {
  zh: '举证期限以人民法院举证通知书载明的期限为准；通知书另定天数的，请按通知书填写天数。',
  en: 'The period stated in the court’s evidence notice governs; if the notice sets another number of days, enter it.',
};
const APPEAL_LAPSES: Text = {
  zh: '逾期未上诉的，一审裁判即发生法律效力，不能再上诉。',
  en: 'Without an appeal in time the first-instance decision takes effect and can no longer be appealed.',
};
const FOREIGN_APPEAL: Rule['foreign'] = {
  period: { unit: 'day', count: 30 },
  basis: {
    zh: `${CPL}第二百八十六条：在中华人民共和国领域内没有住所的当事人，不服第一审人民法院判决、裁定的，有权在判决书、裁定书送达之日起三十日内提起上诉。`,
    en: `${CPL_EN} art. 286: a party without domicile in the PRC may appeal a first-instance judgment or ruling within 30 days of its service.`,
  },
};

const RULE_LIST: Rule[] = [
  {
    id: 'civil_appeal_judgment',
    name: { zh: '民事上诉期限（判决）', en: 'Civil appeal against a judgment' },
    procedure: 'civil',
    milestone: 'appeal',
    period: { unit: 'day', count: 15 },
    trigger: { zh: '判决书送达之日', en: 'the day the judgment was served' },
    basis: {
      zh: `${CPL}第一百七十一条第一款：当事人不服地方人民法院第一审判决的，有权在判决书送达之日起十五日内向上一级人民法院提起上诉。`,
      en: `${CPL_EN} art. 171(1): a party may appeal a first-instance judgment to the next higher court within 15 days of its service.`,
    },
    consequence: APPEAL_LAPSES,
    foreign: FOREIGN_APPEAL,
  },
  {
    id: 'civil_appeal_ruling',
    name: { zh: '民事上诉期限（裁定）', en: 'Civil appeal against a ruling' },
    procedure: 'civil',
    milestone: 'appeal',
    period: { unit: 'day', count: 10 },
    trigger: { zh: '裁定书送达之日', en: 'the day the ruling was served' },
    basis: {
      zh: `${CPL}第一百七十一条第二款：当事人不服地方人民法院第一审裁定的，有权在裁定书送达之日起十日内向上一级人民法院提起上诉。`,
      en: `${CPL_EN} art. 171(2): a party may appeal a first-instance ruling to the next higher court within 10 days of its service.`,
    },
    consequence: APPEAL_LAPSES,
    foreign: FOREIGN_APPEAL,
  },
  {
    id: 'admin_appeal_judgment',
    name: { zh: '行政上诉期限（判决）', en: 'Administrative appeal against a judgment' },
    procedure: 'administrative',
    milestone: 'appeal',
    period: { unit: 'day', count: 15 },
    trigger: { zh: '判决书送达之日', en: 'the day the judgment was served' },
    basis: {
      zh: `${ALL}第八十五条：当事人不服人民法院第一审判决的，有权在判决书送达之日起十五日内向上一级人民法院提起上诉。`,
      en: `${ALL_EN} art. 85: a party may appeal a first-instance judgment to the next higher court within 15 days of its service.`,
    },
    consequence: APPEAL_LAPSES,
  },
  {
    id: 'admin_appeal_ruling',
    name: { zh: '行政上诉期限（裁定）', en: 'Administrative appeal against a ruling' },
    procedure: 'administrative',
    milestone: 'appeal',
    period: { unit: 'day', count: 10 },
    trigger: { zh: '裁定书送达之日', en: 'the day the ruling was served' },
    basis: {
      zh: `${ALL}第八十五条：当事人不服人民法院第一审裁定的，有权在裁定书送达之日起十日内向上一级人民法院提起上诉。`,
      en: `${ALL_EN} art. 85: a party may appeal a first-instance ruling to the next higher court within 10 days of its service.`,
    },
    consequence: APPEAL_LAPSES,
  },
  {
    id: 'criminal_appeal_judgment',
    name: { zh: '刑事上诉期限（判决）', en: 'Criminal appeal against a judgment' },
    procedure: 'criminal',
    milestone: 'appeal',
    period: { unit: 'day', count: 10 },
    trigger: { zh: '接到判决书之日', en: 'the day the judgment was received' },
    basis: {
      zh: `${CRPL}第二百三十条：不服判决的上诉和抗诉的期限为十日，不服裁定的上诉和抗诉的期限为五日，从接到判决书、裁定书的第二日起算。`,
      en: `${CRPL_EN} art. 230: an appeal against a judgment lies within 10 days, against a ruling within 5 days, counted from the day after the judgment or ruling was received.`,
    },
    consequence: APPEAL_LAPSES,
  },
  {
    id: 'criminal_appeal_ruling',
    name: { zh: '刑事上诉期限（裁定）', en: 'Criminal appeal against a ruling' },
    procedure: 'criminal',
    milestone: 'appeal',
    period: { unit: 'day', count: 5 },
    trigger: { zh: '接到裁定书之日', en: 'the day the ruling was received' },
    basis: {
      zh: `${CRPL}第二百三十条：不服判决的上诉和抗诉的期限为十日，不服裁定的上诉和抗诉的期限为五日，从接到判决书、裁定书的第二日起算。`,
      en: `${CRPL_EN} art. 230: an appeal against a judgment lies within 10 days, against a ruling within 5 days, counted from the day after the judgment or ruling was received.`,
    },
    consequence: APPEAL_LAPSES,
  },
  {
    id: 'enforcement_application',
    name: { zh: '申请执行期间', en: 'Application for enforcement' },
    procedure: 'civil',
    milestone: 'enforcement',
    period: { unit: 'year', count: 2 },
    trigger: {
      zh: '法律文书规定履行期间的最后一日（分期履行的为最后一期履行期限届满之日；未规定履行期间的为法律文书生效之日）',
      en: 'the last day of the performance period set by the judgment (instalments: the last instalment’s due date; none set: the day it took effect)',
    },
    basis: {
      zh: `${CPL}第二百五十条：申请执行的期间为二年。申请执行时效的中止、中断，适用法律有关诉讼时效中止、中断的规定。前款规定的期间，从法律文书规定履行期间的最后一日起计算；法律文书规定分期履行的，从最后一期履行期限届满之日起计算；法律文书未规定履行期间的，从法律文书生效之日起计算。`,
      en: `${CPL_EN} art. 250: enforcement must be applied for within 2 years, counted from the last day of the performance period the judgment sets (instalments: the last instalment; none set: the day it took effect); suspension and interruption follow the rules on limitation.`,
    },
    consequence: {
      zh: '逾期申请执行的，对方可提出时效抗辩，人民法院可能不予执行。',
      en: 'After the period the other side may raise the time bar and the court may refuse enforcement.',
    },
  },
  {
    id: 'admin_enforcement_application',
    name: { zh: '行政案件申请执行期限', en: 'Application for enforcement (administrative)' },
    procedure: 'administrative',
    milestone: 'enforcement',
    period: { unit: 'year', count: 2 },
    trigger: {
      zh: '法律文书规定的履行期间最后一日（分期履行的为最后一期履行期限届满之日；未规定履行期限的为法律文书送达当事人之日）',
      en: 'the last day of the performance period (instalments: the last instalment’s due date; none set: the day the document was served)',
    },
    basis: {
      zh: '《最高人民法院关于适用〈中华人民共和国行政诉讼法〉的解释》第一百五十三条：申请执行的期限为二年。申请执行时效的中止、中断，适用法律有关规定。申请执行的期限从法律文书规定的履行期间最后一日起计算；法律文书规定分期履行的，从最后一期履行期限届满之日起计算；法律文书中没有规定履行期限的，从该法律文书送达当事人之日起计算。',
      en: 'SPC Interpretation of the Administrative Litigation Law art. 153: enforcement must be applied for within 2 years from the last day of the performance period (instalments: the last instalment; none set: the day the document was served).',
    },
    consequence: {
      zh: '逾期申请的，人民法院可能不予受理执行申请。',
      en: 'After the period the court may refuse the application.',
    },
  },
  {
    id: 'civil_reply',
    name: { zh: '一审答辩期', en: 'Reply to a complaint' },
    procedure: 'civil',
    milestone: 'reply',
    period: { unit: 'day', count: 15 },
    trigger: { zh: '收到起诉状副本之日', en: 'the day the copy of the complaint was received' },
    basis: {
      zh: `${CPL}第一百二十八条：人民法院应当在立案之日起五日内将起诉状副本发送被告，被告应当在收到之日起十五日内提出答辩状。`,
      en: `${CPL_EN} art. 128: the defendant files a reply within 15 days of receiving the copy of the complaint.`,
    },
    consequence: {
      zh: '逾期未答辩不影响人民法院审理，但会失去书面答辩的机会；管辖权异议也须在答辩期内提出。',
      en: 'The court proceeds without a reply; an objection to jurisdiction must also be raised within this period.',
    },
    foreign: {
      period: { unit: 'day', count: 30 },
      basis: {
        zh: `${CPL}第二百八十五条：被告在中华人民共和国领域内没有住所的，人民法院应当将起诉状副本送达被告，并通知被告在收到起诉状副本后三十日内提出答辩状。`,
        en: `${CPL_EN} art. 285: a defendant without domicile in the PRC replies within 30 days of receiving the complaint.`,
      },
    },
  },
  {
    id: 'appeal_reply',
    name: { zh: '二审答辩期', en: 'Reply to an appeal' },
    procedure: 'civil',
    milestone: 'reply',
    period: { unit: 'day', count: 15 },
    trigger: { zh: '收到上诉状副本之日', en: 'the day the copy of the appeal was received' },
    basis: {
      zh: `${CPL}第一百七十四条：原审人民法院收到上诉状，应当在五日内将上诉状副本送达对方当事人，对方当事人在收到之日起十五日内提出答辩状。`,
      en: `${CPL_EN} art. 174: the other party replies within 15 days of receiving the copy of the appeal.`,
    },
    consequence: {
      zh: '逾期未答辩不影响人民法院审理，但会失去书面答辩的机会。',
      en: 'The court proceeds without a reply.',
    },
    foreign: {
      period: { unit: 'day', count: 30 },
      basis: {
        zh: `${CPL}第二百八十六条：被上诉人在收到上诉状副本后，应当在三十日内提出答辩状。`,
        en: `${CPL_EN} art. 286: a respondent without domicile in the PRC replies within 30 days of receiving the appeal.`,
      },
    },
  },
  {
    id: 'evidence_first_instance',
    name: { zh: '举证期限（一审普通程序）', en: 'Evidence period (first instance, ordinary procedure)' },
    procedure: 'civil',
    milestone: 'evidence',
    period: { unit: 'day', count: 15 },
    trigger: { zh: '收到举证通知书之日', en: 'the day the evidence notice was received' },
    basis: {
      zh: `${CPL_INTERP}第九十九条：举证期限由人民法院确定的，适用第一审普通程序审理的案件不得少于十五日。`,
      en: `${CPL_INTERP_EN} art. 99: in first-instance ordinary procedure the evidence period set by the court is at least 15 days.`,
    },
    consequence: {
      zh: '逾期提供证据的，人民法院可能不予采纳，或予以训诫、罚款。',
      en: 'Evidence offered late may be refused, or the party admonished or fined.',
    },
    courtSets: { bound: 'min', note: COURT_NOTICE },
  },
  {
    id: 'evidence_appeal_new',
    name: { zh: '举证期限（二审新证据）', en: 'Evidence period (new evidence on appeal)' },
    procedure: 'civil',
    milestone: 'evidence',
    period: { unit: 'day', count: 10 },
    trigger: { zh: '收到举证通知书之日', en: 'the day the evidence notice was received' },
    basis: {
      zh: `${CPL_INTERP}第九十九条：当事人提供新的证据的第二审案件不得少于十日。`,
      en: `${CPL_INTERP_EN} art. 99: on appeal with new evidence the period is at least 10 days.`,
    },
    consequence: {
      zh: '逾期提供证据的，人民法院可能不予采纳。',
      en: 'Evidence offered late may be refused.',
    },
    courtSets: { bound: 'min', note: COURT_NOTICE },
  },
  {
    id: 'evidence_simplified',
    name: { zh: '举证期限（简易程序）', en: 'Evidence period (simplified procedure)' },
    procedure: 'civil',
    milestone: 'evidence',
    period: { unit: 'day', count: 15 },
    trigger: { zh: '收到举证通知书之日', en: 'the day the evidence notice was received' },
    basis: {
      zh: `${CPL_INTERP}第二百六十六条：适用简易程序案件的举证期限由人民法院确定，也可以由当事人协商一致并经人民法院准许，但不得超过十五日。`,
      en: `${CPL_INTERP_EN} art. 266: in simplified procedure the evidence period is set by the court and is at most 15 days.`,
    },
    consequence: {
      zh: '逾期提供证据的，人民法院可能不予采纳。',
      en: 'Evidence offered late may be refused.',
    },
    courtSets: { bound: 'max', note: COURT_NOTICE },
  },
  {
    id: 'evidence_small_claims',
    name: { zh: '举证期限（小额诉讼）', en: 'Evidence period (small claims)' },
    procedure: 'civil',
    milestone: 'evidence',
    period: { unit: 'day', count: 7 },
    trigger: { zh: '收到举证通知书之日', en: 'the day the evidence notice was received' },
    basis: {
      zh: `${CPL_INTERP}第二百七十五条：小额诉讼案件的举证期限由人民法院确定，也可以由当事人协商一致并经人民法院准许，但一般不超过七日。`,
      en: `${CPL_INTERP_EN} art. 275: in small-claims procedure the evidence period is set by the court and is generally at most 7 days.`,
    },
    consequence: {
      zh: '逾期提供证据的，人民法院可能不予采纳。',
      en: 'Evidence offered late may be refused.',
    },
    courtSets: { bound: 'max', note: COURT_NOTICE },
  },
  {
    id: 'service_by_publication',
    name: { zh: '公告送达视为送达之日', en: 'Service by publication takes effect' },
    procedure: 'civil',
    milestone: 'service',
    period: { unit: 'day', count: 30 },
    trigger: { zh: '发出公告之日', en: 'the day the notice was published' },
    basis: {
      zh: `${CPL}第九十五条：受送达人下落不明，或者用本节规定的其他方式无法送达的，公告送达。自发出公告之日起，经过三十日，即视为送达。（所得日期为视为送达之日，答辩、上诉等期间自此起算。）`,
      en: `${CPL_EN} art. 95: service by publication is deemed made 30 days after publication. (The date is the day of deemed service; reply and appeal periods run from it.)`,
    },
    consequence: {
      zh: '期满即视为送达，随后的答辩、上诉等期间开始计算。',
      en: 'Service is then deemed made and the following periods start to run.',
    },
  },
  {
    id: 'preservation_filing',
    name: { zh: '诉前保全后起诉期限', en: 'Filing suit after pre-action preservation' },
    procedure: 'civil',
    milestone: 'preservation',
    period: { unit: 'day', count: 30 },
    trigger: { zh: '人民法院采取保全措施之日', en: 'the day the court took the preservation measure' },
    basis: {
      zh: `${CPL}第一百零四条第三款：申请人在人民法院采取保全措施后三十日内不依法提起诉讼或者申请仲裁的，人民法院应当解除保全。`,
      en: `${CPL_EN} art. 104(3): if the applicant does not sue or apply for arbitration within 30 days after the court took the preservation measure, the court lifts it.`,
    },
    consequence: {
      zh: '逾期未起诉或申请仲裁的，人民法院应当解除保全。',
      en: 'Without a suit or arbitration in time the court lifts the preservation.',
    },
  },
  {
    id: 'limitation_general',
    name: { zh: '普通诉讼时效', en: 'General limitation period' },
    procedure: 'civil',
    milestone: 'filing',
    period: { unit: 'year', count: 3 },
    trigger: { zh: '权利人知道或者应当知道权利受到损害以及义务人之日', en: 'the day the right holder knew or should have known of the harm and the obligor' },
    basis: {
      zh: '《中华人民共和国民法典》第一百八十八条第一款：向人民法院请求保护民事权利的诉讼时效期间为三年。法律另有规定的，依照其规定。（时效中止、中断未计入，请结合案情核实。）',
      en: 'Civil Code art. 188(1): the limitation period for claims before the courts is 3 years unless the law provides otherwise. (Suspension and interruption are not taken into account.)',
    },
    consequence: {
      zh: '时效届满后起诉的，对方可提出时效抗辩，请求可能不获支持。',
      en: 'After the period the other side may plead limitation and the claim may fail.',
    },
  },
];

export const RULES: ReadonlyMap<string, Rule> = new Map(RULE_LIST.map((r) => [r.id, r]));
export const RULE_IDS: readonly string[] = RULE_LIST.map((r) => r.id);

export function getRule(id: string): Rule {
  const rule = RULES.get(id);
  if (!rule) {
    throw badRequest('UNKNOWN_RULE', `No deadline rule "${String(id).slice(0, 60)}"; GET /api/deadlines/rules lists them. / 不存在该期限规则，可用规则见 GET /api/deadlines/rules。`);
  }
  return rule;
}

// ---------------------------------------------------------------------------------------------
// Counting

/** The counting rule a procedure's periods follow. */
function countingBasis(rule: Rule, period: Period, inCustody: boolean): Text {
  if (period.unit !== 'day') {
    return {
      zh: '《中华人民共和国民法典》第二百零一条至第二百零三条：开始的当日不计入，自下一日开始计算；到期月的对应日为期间的最后一日，没有对应日的，月末日为期间的最后一日；期间的最后一日是法定休假日的，以法定休假日结束的次日为期间的最后一日。',
      en: 'Civil Code arts. 201–203: the start day is not counted; the period ends on the corresponding day of the last month, or that month’s last day when it has none; if the last day is a public rest day, the period ends on the day after the rest days.',
    };
  }
  if (rule.procedure === 'criminal') {
    return inCustody
      ? {
          zh: `${CRPL}第一百零五条：期间开始的时和日不算在期间以内；期间的最后一日为节假日的，以节假日后的第一日为期满日期，但犯罪嫌疑人、被告人或者罪犯在押期间，应当至期满之日为止，不得因节假日而延长。本期间按在押计算，不顺延。`,
          en: `${CRPL_EN} art. 105: the start day is not counted; a period ending on a holiday ends on the first day after it, but for a suspect, defendant or offender in custody it ends on its last day and is not extended for holidays. Counted as in custody: no extension.`,
        }
      : {
          zh: `${CRPL}第一百零五条：期间开始的时和日不算在期间以内；法定期间不包括路途上的时间；期间的最后一日为节假日的，以节假日后的第一日为期满日期。`,
          en: `${CRPL_EN} art. 105: the start day is not counted; travel time is excluded; a period whose last day is a holiday ends on the first day after it.`,
        };
  }
  const via = rule.procedure === 'administrative' ? { zh: `${ALL}第一百零一条适用`, en: `applied through ${ALL_EN} art. 101: ` } : { zh: '', en: '' };
  return {
    zh: `${via.zh}${CPL}第八十五条：期间开始的日不计算在期间内；期间届满的最后一日是法定休假日的，以法定休假日后的第一日为期间届满的日期；期间不包括在途时间，诉讼文书在期满前交邮的，不算过期。`,
    en: `${via.en}${CPL_EN} art. 85: the start day is not counted; if the last day is a public rest day the period ends on the first working day after it; travel time is excluded and documents posted before the end are in time.`,
  };
}

/** The corresponding day `months` later, or that month's last day when it has none (民法典 §202). */
export function addMonthsClamped(day: number, months: number): number {
  const d = new Date(day * DAY_MS);
  const target = d.getUTCMonth() + months;
  const year = d.getUTCFullYear() + Math.floor(target / 12);
  const month = ((target % 12) + 12) % 12;
  const last = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  return Date.UTC(year, month, Math.min(d.getUTCDate(), last)) / DAY_MS;
}

export interface DeadlineQuery {
  rule: string;
  trigger_date: string;
  /** a party without domicile in China (民事诉讼法 §285, §286) */
  foreign?: boolean;
  /** criminal rules: the person is in custody, so the period is not extended (刑事诉讼法 §105) */
  in_custody?: boolean;
  /** rules whose period the court sets: the days its notice gives */
  days?: number | null;
}

export interface DeadlineResult {
  rule: string;
  trigger_date: string;
  period: Period;
  /** the last day before any rest-day extension */
  nominal_due: string;
  due: string;
  /** the nominal last day when the extension moved it, else null */
  extended_from: string | null;
  basis: string;
  basis_zh: string;
  basis_en: string;
  warnings: string[];
  /** years the computation touched that have no loaded calendar */
  missing_years: number[];
}

/** Triggers outside this span are typing errors, and keep the arithmetic inside four-digit years. */
const FIRST_YEAR = 1990;
const LAST_YEAR = 2100;

export function missingCalendarWarning(year: number): string {
  return (
    `No public-holiday calendar is loaded for ${year}: only weekends were counted as rest days there, so the due date may move once the State Council's ${year} holiday notice is loaded ` +
    `(an administrator runs \`lawbox calendar load <file>\` or POST /api/deadlines/calendars). / ` +
    `尚未载入${year}年法定节假日安排：该年仅按周末认定休息日，载入国务院办公厅${year}年节假日安排通知后届满日可能变化（管理员可运行 \`lawbox calendar load <文件>\` 或调用 POST /api/deadlines/calendars 载入）。`
  );
}

/** Computes the last day of a period. Throws a 400 for an unknown rule or a date that does not exist. */
export function computeDeadline(calendar: RestDayCalendar, query: DeadlineQuery): DeadlineResult {
  const rule = getRule(query.rule);
  const trigger = dateDayNumber(String(query.trigger_date));
  if (trigger === null) {
    throw badRequest('INVALID_DATE', `trigger_date: "${String(query.trigger_date).slice(0, 40)}" is not a calendar date (YYYY-MM-DD). / 起算日期无效，请按 YYYY-MM-DD 填写真实存在的日期。`);
  }
  if (yearOf(trigger) < FIRST_YEAR || yearOf(trigger) > LAST_YEAR) {
    throw badRequest('INVALID_DATE', `trigger_date must lie between ${FIRST_YEAR} and ${LAST_YEAR}. / 起算日期须在${FIRST_YEAR}年至${LAST_YEAR}年之间。`);
  }
  const warnings: string[] = [];
  const foreign = query.foreign === true;
  if (foreign && !rule.foreign) {
    warnings.push(`The foreign-party period (Civil Procedure Law arts. 285–286) does not apply to ${rule.id}; the ordinary period was used. / 涉外当事人期间（民事诉讼法第二百八十五条、第二百八十六条）不适用于“${rule.name.zh}”，已按一般期间计算。`);
  }
  const inCustody = query.in_custody === true && rule.procedure === 'criminal';
  if (query.in_custody === true && rule.procedure !== 'criminal') {
    warnings.push(`in_custody applies to criminal periods only and was ignored for ${rule.id}. / “在押”仅适用于刑事期间，“${rule.name.zh}”已忽略该项。`);
  }
  let period: Period = foreign && rule.foreign ? rule.foreign.period : rule.period;
  const parts: Text[] = [rule.basis];
  if (foreign && rule.foreign) parts.push(rule.foreign.basis);

  if (query.days !== undefined && query.days !== null) {
    if (!rule.courtSets) {
      throw badRequest('DAYS_NOT_ALLOWED', `${rule.id} is a statutory period; days may be given only for periods the court sets. / “${rule.name.zh}”为法定期间，不能另填天数。`);
    }
    if (!Number.isInteger(query.days) || query.days < 1 || query.days > 365) {
      throw badRequest('INVALID_DAYS', 'days must be a whole number from 1 to 365. / 天数须为1–365的整数。');
    }
    const { bound } = rule.courtSets;
    if ((bound === 'min' && query.days < rule.period.count) || (bound === 'max' && query.days > rule.period.count)) {
      warnings.push(
        `The notice's ${query.days} days are ${bound === 'min' ? 'below the statutory minimum' : 'above the usual maximum'} of ${rule.period.count}; check the notice. / 通知书所定${query.days}日${bound === 'min' ? '少于法定最短' : '超过规定最长'}${rule.period.count}日，请核对通知书。`,
      );
    }
    period = { unit: 'day', count: query.days };
  }
  if (rule.courtSets) parts.push(rule.courtSets.note);

  const nominal = period.unit === 'day' ? trigger + period.count : addMonthsClamped(trigger, period.unit === 'month' ? period.count : period.count * 12);
  const consulted = new Set<number>();
  let due = nominal;
  if (!inCustody) {
    // Bounded: an off range of a loaded year is at most a month long (validated on load).
    for (let i = 0; i < 60; i++) {
      consulted.add(yearOf(due));
      if (!calendar.isRestDay(due)) break;
      due++;
    }
  } else if (inCustody && calendar.isRestDay(nominal)) {
    consulted.add(yearOf(nominal));
    warnings.push(
      `The last day ${dayToDate(nominal)} is a rest day; for a person in custody the period is not extended (Criminal Procedure Law art. 105). / 最后一日${dayToDate(nominal)}为休息日；在押人员的期间不因节假日顺延（刑事诉讼法第一百零五条）。`,
    );
  }
  parts.push(countingBasis(rule, period, inCustody));

  const unitZh = { day: '日', month: '个月', year: '年' }[period.unit];
  const unitEn = { day: 'day', month: 'month', year: 'year' }[period.unit];
  const nominalDesc = calendar.describe(nominal);
  const outcome: Text =
    due === nominal
      ? {
          zh: `自${dayToDate(trigger)}的次日起算${period.count}${unitZh}，最后一日为${dayToDate(nominal)}（${nominalDesc.zh}），即届满日。`,
          en: `${period.count} ${unitEn}${period.count === 1 ? '' : 's'} counted from the day after ${dayToDate(trigger)} end on ${dayToDate(nominal)} (${nominalDesc.en}).`,
        }
      : {
          zh: `自${dayToDate(trigger)}的次日起算${period.count}${unitZh}，最后一日${dayToDate(nominal)}为${nominalDesc.zh}，顺延至其后第一个工作日${dayToDate(due)}。`,
          en: `${period.count} ${unitEn}${period.count === 1 ? '' : 's'} counted from the day after ${dayToDate(trigger)} end on ${dayToDate(nominal)} (${nominalDesc.en}), extended to the next working day, ${dayToDate(due)}.`,
        };
  parts.push(outcome);

  const missing = [...consulted].filter((y) => !calendar.hasYear(y)).sort((a, b) => a - b);
  for (const y of missing) warnings.push(missingCalendarWarning(y));

  const basisZh = parts.map((p) => p.zh).join('');
  const basisEn = parts.map((p) => p.en).join(' ');
  return {
    rule: rule.id,
    trigger_date: dayToDate(trigger),
    period,
    nominal_due: dayToDate(nominal),
    due: dayToDate(due),
    extended_from: due === nominal ? null : dayToDate(nominal),
    basis: `${basisZh} / ${basisEn}`,
    basis_zh: basisZh,
    basis_en: basisEn,
    warnings,
    missing_years: missing,
  };
}

/** A rule as the API lists it. */
export function presentRule(rule: Rule) {
  return {
    id: rule.id,
    name_zh: rule.name.zh,
    name_en: rule.name.en,
    procedure: rule.procedure,
    milestone: rule.milestone,
    period: rule.period,
    foreign_period: rule.foreign?.period ?? null,
    court_sets: rule.courtSets?.bound ?? null,
    trigger_zh: rule.trigger.zh,
    trigger_en: rule.trigger.en,
    basis: `${rule.basis.zh} / ${rule.basis.en}`,
    basis_zh: rule.basis.zh,
    basis_en: rule.basis.en,
    consequence_zh: rule.consequence.zh,
    consequence_en: rule.consequence.en,
  };
}
