import { forbidden } from '../../errors.js';

/**
 * Roles and what each may do. System administration (it_admin), security administration
 * (security_admin) and audit (auditor) are separate powers, as GB/T 22239 level 2 requires:
 * none of the three holds another's permissions.
 */
export const ROLES = {
  intern: { zh: '实习律师', en: 'Trainee lawyer' },
  lawyer: { zh: '律师', en: 'Lawyer' },
  partner: { zh: '合伙人', en: 'Partner' },
  director: { zh: '主任', en: 'Director' },
  admin_staff: { zh: '行政人员', en: 'Administrative staff' },
  finance: { zh: '财务', en: 'Finance' },
  it_admin: { zh: '系统管理员', en: 'System administrator' },
  security_admin: { zh: '安全管理员', en: 'Security administrator' },
  auditor: { zh: '审计管理员', en: 'Auditor' },
} as const;

export type Role = keyof typeof ROLES;
export const ROLE_NAMES = Object.keys(ROLES) as Role[];

export const PERMISSIONS = {
  'users.read': '查看账号 / list accounts',
  'users.manage': '管理账号与角色 / manage accounts and roles',
  'audit.read': '查阅审计日志 / read the audit trail',
  'system.read': '查看系统状态与配置 / view system status and configuration',
  'clients.read': '查看客户 / see clients of visible matters',
  'clients.manage': '登记与修改客户 / register and edit clients',
  'matters.read': '查看本人创建或参与的案件 / see matters one created or is on the team of',
  'matters.read_all': '查看全部案件 / see every matter',
  'matters.work': '记录工作与底稿、参与协作 / add work records and working papers, collaborate',
  'matters.manage': '收案、修改案件与团队 / open matters, edit them and their teams',
  'fees.manage': '登记账单与收款 / record bills and payments',
  'conflicts.check': '利益冲突检索 / run conflict checks',
  'conflicts.review': '审查利益冲突 / decide on conflict checks',
  'personal_data.unmask': '查看完整个人信息（留痕） / see unmasked personal data (audited)',
  'practice.configure': '设置案件编号与监控阈值 / configure matter numbering and tracking thresholds',
  'devices.read': '查看设备与设备事件 / see devices, their state and events',
  'doors.open': '远程开门（留痕） / open a door remotely (audited)',
  'doors.manage': '管理门禁、门卡与授权 / manage doors, access cards and their grants',
  'visitor_passes.issue': '签发与撤销访客通行证 / issue and revoke visitor passes',
  'devices.manage': '登记设备代理、配置设备 / enrol device agents and configure devices',
  'cameras.view': '查看摄像机实时画面与录像 / watch camera live views and recordings',
  'cameras.record': '摄像机录像并归入过程档案 / record camera segments into the process archive',
  'visitors.invite': '预约来访、查看本人接待的访客 / pre-register one’s own visitors and see them',
  'visitors.manage': '前台访客管理：登记、签离、在场名单与疏散点名 / front desk: register, check out, on-site list and roll call',
  'meetings.read': '查看本人参加的会议 / see the meetings one takes part in',
  'meetings.manage': '组织会议：会议室、议程、文件、表决与纪要 / organise meetings: rooms, agenda, documents, votes and minutes',
  'stats.read': '查看律所统计 / see the firm’s statistics',
  'consultations.record': '记录与查看本人的咨询（保密） / record one’s consultations and see them (confidential)',
  'templates.manage': '管理文书模板 / manage document templates',
  'seals.approve': '审批用印申请 / approve seal-use applications',
  'invoices.manage': '处理开票申请 / handle invoice requests',
  'evaluations.read': '查看客户评价与律师评价汇总 / see client evaluations and per-lawyer aggregates',
  'notifications.configure': '配置通知渠道（邮件、短信、企业微信、钉钉） / configure notification channels',
  'calendar.manage': '导入法定节假日安排 / load the public-holiday calendar',
  'kiosk.lobby': '前台自助终端 / lobby kiosk (enrolled terminals only)',
  'kiosk.meeting': '无纸化会议终端 / paperless meeting terminal (enrolled terminals only)',
  'kiosk.wall': '统计大屏 / wall screen (enrolled terminals only)',
} as const;

export type Permission = keyof typeof PERMISSIONS;

/** Administration powers: usable only from LAWBOX_MANAGEMENT_NETWORKS (GB/T 22239: 管理终端地址限制). */
export const MANAGEMENT_PERMISSIONS: ReadonlySet<Permission> = new Set(['users.manage', 'audit.read', 'system.read']);

const PRACTICE: Permission[] = ['clients.read', 'matters.read', 'matters.work', 'conflicts.check', 'visitors.invite', 'meetings.read'];
const LAWYER: Permission[] = [...PRACTICE, 'clients.manage', 'matters.manage', 'personal_data.unmask', 'consultations.record'];

// Interns see personal data masked and cannot unmask it (Z6.3.3.4). Finance sees every matter to
// reconcile fees, masked. The three administrators see no client data at all.
const GRANTS: Record<Role, Permission[]> = {
  intern: PRACTICE,
  lawyer: LAWYER,
  partner: [...LAWYER, 'conflicts.review', 'meetings.manage', 'stats.read', 'evaluations.read'],
  director: [...LAWYER, 'users.read', 'matters.read_all', 'conflicts.review', 'fees.manage', 'practice.configure', 'devices.read', 'doors.open', 'doors.manage', 'visitor_passes.issue', 'cameras.view', 'cameras.record', 'visitors.manage', 'meetings.manage', 'stats.read', 'templates.manage', 'seals.approve', 'evaluations.read'],
  // The front desk (前台) is staffed by administrative staff: they issue visitor passes.
  admin_staff: [...LAWYER, 'users.read', 'matters.read_all', 'fees.manage', 'devices.read', 'doors.open', 'doors.manage', 'visitor_passes.issue', 'cameras.view', 'cameras.record', 'visitors.manage', 'meetings.manage', 'stats.read', 'templates.manage', 'invoices.manage'],
  finance: ['clients.read', 'matters.read', 'matters.read_all', 'fees.manage', 'visitors.invite', 'meetings.read', 'stats.read', 'invoices.manage'],
  it_admin: ['system.read', 'users.read', 'devices.read', 'devices.manage', 'notifications.configure', 'calendar.manage'],
  security_admin: ['users.read', 'users.manage'],
  auditor: ['audit.read', 'users.read'],
};

export function isRole(value: string): value is Role {
  return Object.hasOwn(ROLES, value);
}

/**
 * Enrolled kiosks act under roles of their own, which no user account can hold: each may do the one
 * thing its screen is for and nothing else (least privilege per terminal).
 */
export const KIOSK_KINDS = ['lobby', 'meeting', 'wall'] as const;
export type KioskKind = (typeof KIOSK_KINDS)[number];
export const kioskRole = (kind: KioskKind) => `kiosk_${kind}` as const;
const KIOSK_GRANTS: Record<`kiosk_${KioskKind}`, Permission[]> = {
  kiosk_lobby: ['kiosk.lobby'],
  kiosk_meeting: ['kiosk.meeting'],
  kiosk_wall: ['kiosk.wall'],
};

export function can(role: string, permission: Permission): boolean {
  if (isRole(role)) return GRANTS[role].includes(permission);
  return Object.hasOwn(KIOSK_GRANTS, role) && KIOSK_GRANTS[role as keyof typeof KIOSK_GRANTS].includes(permission);
}

/** Whether an actor (a user, a kiosk, or the system without a role) holds `permission`. */
export const may = (actor: { role: string | null }, permission: Permission): boolean => !!actor.role && can(actor.role, permission);

/**
 * Refuses an actor whose role lacks `permission`. Services check again what their route checked:
 * they are also called by jobs, the CLI, the demo and other modules.
 */
export function requirePermission(actor: { role: string | null }, permission: Permission): void {
  if (!may(actor, permission)) throw forbidden('FORBIDDEN', 'Your role may not do this. / 您的角色无权执行此操作。');
}
