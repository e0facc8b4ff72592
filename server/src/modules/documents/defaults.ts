import type { SealType, TemplateKind } from './tables.js';

/** The firm's seals a lawyer may apply to use (用印申请). */
export const SEAL_TYPES: Record<SealType, string> = { official: '公章', contract: '合同专用章', letter: '律师事务所函件章' };

/**
 * The templates lawbox ships (Z5.4.1): the legal service contract (委托代理合同), the risk notice
 * (风险告知书) and the intake record (收案审批表). They are version 1 of built-in templates; a firm
 * adapts one by saving a new version, which never changes documents made from an older one.
 */
export const BUILTIN_TEMPLATES: { key: string; name: string; kind: TemplateKind; title: string; body: string }[] = [
  {
    key: 'service-contract',
    name: '委托代理合同（法律服务合同）',
    kind: 'service_contract',
    title: '委托代理合同 {{matter.number}}',
    body: `# 委托代理合同
合同编号：{{matter.number}}

委托人（甲方）：{{client.name}}
证件号码：{{client.id_number}}
受托人（乙方）：{{firm.name}}
地址：{{firm.address}}

甲方因{{matter.title}}一事，委托乙方提供法律服务。双方根据《中华人民共和国民法典》《中华人民共和国律师法》及有关规定，经协商一致，订立本合同。

## 第一条 委托事项
乙方接受甲方委托，指派{{lawyer.name}}律师担任甲方的代理人，就{{matter.title}}（案由：{{matter.cause}}）在{{matter.stage}}阶段提供法律服务。

## 第二条 乙方的义务
1. 乙方律师应当勤勉尽责，依法维护甲方的合法权益，并及时告知甲方案件进展。
2. 乙方对在执业中知悉的甲方商业秘密和个人隐私负有保密义务。
3. 乙方律师不得违反规定向甲方收取费用，不得利用提供法律服务的便利牟取当事人争议的权益。

## 第三条 甲方的义务
1. 甲方应当如实陈述案件事实，及时提供与委托事项有关的证据和材料。
2. 甲方不得要求乙方律师从事违反法律或者律师执业规范的行为。
3. 甲方应当按照本合同约定支付律师费。

## 第四条 律师费
收费方式：{{fee.arrangement}}。
律师费金额：人民币{{fee.amount}}元（{{fee.amount_upper}}）。
律师费不包括诉讼费、鉴定费、公告费、差旅费等应由甲方另行承担的费用。

## 第五条 合同的解除
甲方可以随时解除委托；乙方有正当理由的，可以依法解除委托。合同解除后，双方按照已完成的工作量结算费用。

## 第六条 争议解决
因本合同发生争议的，双方应协商解决；协商不成的，任何一方均可向乙方所在地人民法院提起诉讼。

## 第七条 其他
本合同自双方签署之日起生效。以电子签名方式签署的，与手写签名或者盖章具有同等法律效力（《中华人民共和国电子签名法》第十四条）。

甲方（签字或盖章）：{{client.name}}
乙方（盖章）：{{firm.name}}
承办律师：{{lawyer.name}}
签订日期：{{today_cn}}
`,
  },
  {
    key: 'risk-notice',
    name: '风险告知书',
    kind: 'risk_notice',
    title: '风险告知书 {{matter.number}}',
    body: `# 风险告知书
致：{{client.name}}

您委托{{firm.name}}办理{{matter.title}}（{{matter.type}}，案号 {{matter.number}}）。根据律师执业规范，本所在接受委托前向您告知以下风险，请仔细阅读。

## 一、诉讼与仲裁风险
1. 案件结果取决于事实、证据和法律适用，律师不对裁判结果作出任何承诺或保证。
2. 当事人对自己的主张负有举证责任；不能提供证据或者证据不足的，可能承担不利后果。
3. 超过诉讼时效、上诉期限、申请执行期限等法定期间的，可能丧失相应权利。

## 二、费用风险
1. 诉讼费、保全费、鉴定费等费用由法院或有关机构依法收取，败诉方可能承担全部或部分费用。
2. 胜诉后对方无财产可供执行的，可能无法实现债权。

## 三、其他风险
1. 您应当如实陈述事实；因陈述不实或隐瞒事实造成的不利后果，由您自行承担。
2. 诉讼过程中法律、司法解释发生变化的，可能影响案件结果。

承办律师：{{lawyer.name}}

本人已阅读并理解上述风险告知内容。
委托人（签字或盖章）：{{client.name}}
日期：{{today_cn}}
`,
  },
  {
    key: 'intake-record',
    name: '收案审批表',
    kind: 'intake_record',
    title: '收案审批表 {{matter.number}}',
    body: `# 收案审批表
收案编号：{{matter.number}}
收案日期：{{matter.opened_on}}

## 案件信息
案件名称：{{matter.title}}
案件类型：{{matter.type}}
案由：{{matter.cause}}
受理机关：{{matter.court}}
代理阶段：{{matter.stage}}

## 委托人信息
委托人：{{client.name}}（{{client.kind}}）
证件号码：{{client.id_number}}

## 收费
收费方式：{{fee.arrangement}}
律师费：人民币{{fee.amount}}元（{{fee.amount_upper}}）

## 审批
承办律师：{{lawyer.name}}（{{lawyer.office}}）
利益冲突检索：已完成，结果见冲突检索报告。
风险告知：已向委托人送达《风险告知书》。

承办律师签字：{{lawyer.name}}
审批人签字：
日期：{{today_cn}}
`,
  },
];
