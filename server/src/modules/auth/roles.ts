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
} as const;

export type Permission = keyof typeof PERMISSIONS;

/** Administration powers: usable only from LAWBOX_MANAGEMENT_NETWORKS (GB/T 22239: 管理终端地址限制). */
export const MANAGEMENT_PERMISSIONS: ReadonlySet<Permission> = new Set(['users.manage', 'audit.read', 'system.read']);

const GRANTS: Record<Role, Permission[]> = {
  intern: [],
  lawyer: [],
  partner: [],
  director: ['users.read'],
  admin_staff: ['users.read'],
  finance: [],
  it_admin: ['system.read', 'users.read'],
  security_admin: ['users.read', 'users.manage'],
  auditor: ['audit.read', 'users.read'],
};

export function isRole(value: string): value is Role {
  return Object.hasOwn(ROLES, value);
}

export function can(role: string, permission: Permission): boolean {
  return isRole(role) && GRANTS[role].includes(permission);
}
