import { randomInt } from 'node:crypto';
import type { ServiceContext } from '../../context.js';
import { SYSTEM_ACTOR } from '../../context.js';
import { appendAudit } from '../audit/service.js';
import { readSetting, writeSetting } from '../../db/settings.js';
import type { Role } from '../auth/roles.js';
import { countUsers, createUser } from '../users/service.js';
import { seedDemoDoors } from '../doors/service.js';
import { loadDemoBuilding } from './building.js';
import { loadDemoPractice } from './practice.js';
import { seedDemoKiosks } from './kiosks.js';
import { seedDemoVisitors } from '../visitors/service.js';
import { seedDemoMeetings } from '../meetings/demo.js';
import { seedDemoStaffContacts, seedNotificationsDemo } from '../notifications/demo.js';
import { seedDocumentsDemo } from '../documents/demo.js';
import { seedClientRecordsDemo } from '../communications/demo.js';
import { seedArchiveDemo } from '../archive/demo.js';
import { seedEvaluationsDemo } from '../evaluations/demo.js';
import { seedDeadlinesDemo } from '../deadlines/demo.js';
import { seedComplianceDemo } from '../compliance/demo.js';

/** The demo firm's name carries the 演示 mark everywhere it appears, so nobody mistakes it for a real firm. */
export const DEMO_FIRM = {
  name: '【演示】北京明衡律师事务所',
  name_en: '[DEMO] Minghang Law Firm, Beijing',
  uscc: '31110000MD01234564',
  address: '北京市朝阳区建国路 88 号 12 层',
  demo: true,
};

const DEMO_PEOPLE: { username: string; displayName: string; role: Role; office: string; department: string }[] = [
  { username: 'director', displayName: '王建国（主任）', role: 'director', office: '北京总所', department: '管委会' },
  { username: 'partner.li', displayName: '李明华', role: 'partner', office: '北京总所', department: '争议解决部' },
  { username: 'lawyer.zhang', displayName: '张伟明', role: 'lawyer', office: '北京总所', department: '争议解决部' },
  { username: 'lawyer.chen', displayName: '陈晓燕', role: 'lawyer', office: '上海分所', department: '公司商事部' },
  { username: 'intern.zhao', displayName: '赵子涵', role: 'intern', office: '北京总所', department: '争议解决部' },
  { username: 'admin.liu', displayName: '刘芳', role: 'admin_staff', office: '北京总所', department: '行政部' },
  { username: 'finance.sun', displayName: '孙丽', role: 'finance', office: '北京总所', department: '财务部' },
  { username: 'it.zhou', displayName: '周涛', role: 'it_admin', office: '北京总所', department: '信息部' },
  { username: 'security.wu', displayName: '吴静', role: 'security_admin', office: '北京总所', department: '信息部' },
  { username: 'auditor.zheng', displayName: '郑强', role: 'auditor', office: '北京总所', department: '监察部' },
];

export interface DemoAccount {
  username: string;
  displayName: string;
  role: Role;
  oneTimePassword: string;
}

/**
 * Fills an empty instance with the demo firm. Every account gets its own random one-time password,
 * returned once for printing and never stored in clear; each must be changed at first login.
 * Returns null when the instance already has accounts.
 */
export async function loadDemoFirm(ctx: ServiceContext): Promise<DemoAccount[] | null> {
  if ((await countUsers(ctx)) > 0) return null;
  const accounts: DemoAccount[] = [];
  for (const person of DEMO_PEOPLE) {
    const oneTimePassword = generatePassword();
    await createUser(ctx, SYSTEM_ACTOR, { ...person, password: oneTimePassword, mustChangePassword: true });
    accounts.push({ username: person.username, displayName: person.displayName, role: person.role, oneTimePassword });
  }
  await ctx.db.transaction().execute(async (trx) => {
    await writeSetting(trx, 'firm', DEMO_FIRM);
    await appendAudit(trx, { at: ctx.clock.now(), actor: 'system', action: 'demo.load', object: 'firm', result: 'success', detail: { accounts: accounts.length } });
  });
  // Lawyers' work phones first: the matter-accepted notices of the demo's matters name them (Z5.4.3).
  await seedDemoStaffContacts(ctx);
  await loadDemoPractice(ctx);
  await seedNotificationsDemo(ctx);
  // Before the communications register, whose received judgment adds a deadline of its own.
  await seedDeadlinesDemo(ctx);
  await seedDocumentsDemo(ctx);
  await seedClientRecordsDemo(ctx);
  await seedArchiveDemo(ctx);
  await seedEvaluationsDemo(ctx);
  await seedComplianceDemo(ctx);
  await loadDemoBuilding(ctx);
  await seedDemoDoors(ctx);
  await seedDemoVisitors(ctx);
  await seedDemoMeetings(ctx);
  await seedDemoKiosks(ctx);
  return accounts;
}

/** True for an instance loaded with the demo firm, whose simulated building `serve --demo` runs. */
export async function isDemoFirm(ctx: ServiceContext): Promise<boolean> {
  return ((await readSetting(ctx.db, 'firm')) as { demo?: boolean } | undefined)?.demo === true;
}

const GROUPS = ['ABCDEFGHJKLMNPQRSTUVWXYZ', 'abcdefghijkmnopqrstuvwxyz', '23456789'];

/** 14 characters like `Kq7X-Mp2Z-Rt9C` (~50 bits): no look-alike characters, always upper, lower, digit and symbol. */
export function generatePassword(): string {
  const chunk = () => Array.from({ length: 4 }, (_, i) => {
    const set = GROUPS[i % 3 === 0 ? 0 : i % 3 === 1 ? 1 : 2]!;
    return set[randomInt(set.length)]!;
  }).join('');
  return [chunk(), chunk(), chunk()].join('-');
}
