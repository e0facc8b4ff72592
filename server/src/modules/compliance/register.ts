/**
 * What meets each requirement of server/data/requirements.md, and the test files that demonstrate it.
 * The compliance report joins this with the latest test run; a test in the register that fails turns
 * its requirement red. A clause the product does not meet yet says so (`gap`), so the two-yearly
 * evaluation starts from the truth and its corrective actions (Z7.4) have something to track.
 */
export type Coverage = 'met' | 'partial' | 'gap' | 'not_applicable';

export interface RegisterEntry {
  coverage: Coverage;
  /** the feature that meets it (or, for a gap, what is missing) */
  feature: string;
  /** test files, relative to the repository root */
  tests: string[];
}

const OPS = ['tests/ops/systemd.test.ts', 'tests/ops/ansible.test.ts'];

export const REGISTER: Record<string, RegisterEntry> = {
  'Z4.1': { coverage: 'met', feature: 'One appliance: server, device agent, kiosk UI and operations tooling; framework diagram in the README', tests: ['tests/server/readme.test.ts'] },
  'Z4.2': {
    coverage: 'met',
    feature: 'Hardware layer driven by the device agent (doors, wall display, paperless meeting terminals, cameras); the server is the system software; kiosk UI, client portal and API are the access layer',
    tests: ['tests/device-agent/door-e2e.test.ts', 'tests/device-agent/mdc-display.test.ts', 'tests/device-agent/camera-e2e.test.ts', 'tests/browser/meeting.test.ts', 'tests/browser/wall.test.ts'],
  },
  'Z4.3.1': { coverage: 'not_applicable', feature: 'On-premise appliance, no cloud deployment; the same controls apply to any hosted copy', tests: [] },
  'Z4.3.2': { coverage: 'met', feature: 'Local deployment to GB/T 22239 level 2: see the G rows; hardened systemd units and Ansible roles', tests: [...OPS, 'tests/server/tls.test.ts'] },
  'Z4.3.3': { coverage: 'gap', feature: 'No export to the national lawyer management system (SF/T 0022) yet', tests: [] },
  'Z4.3.4': { coverage: 'gap', feature: 'No scoped API keys or read-only reporting API for judicial administration yet', tests: [] },
  'Z5.1.1': { coverage: 'gap', feature: 'No public firm web pages yet', tests: [] },
  'Z5.1.2': { coverage: 'gap', feature: 'No lawyer promotion publishing workflow yet', tests: [] },
  'Z5.1.3': { coverage: 'gap', feature: 'No firm promotion pages yet (the USCC check character is already validated for clients)', tests: ['tests/server/identifiers.test.ts'] },
  'Z5.2.1': { coverage: 'met', feature: 'Consultations by phone, visit, online, email or video, confidential, converted into matters', tests: ['tests/server/consultations.test.ts'] },
  'Z5.2.2': { coverage: 'gap', feature: 'No public lawyer directory yet', tests: [] },
  'Z5.2.3': { coverage: 'gap', feature: 'No AI assistant (optional clause)', tests: [] },
  'Z5.3': { coverage: 'met', feature: 'Conflict check over clients, parties and opposing parties (exact, pinyin, traditional/simplified, fuzzy), with review and decision', tests: ['tests/server/conflict-check.test.ts', 'tests/server/names.test.ts'] },
  'Z5.4.1': { coverage: 'met', feature: 'Versioned templates (委托代理合同, 风险告知书, 收案审批表) rendered to PDF; seal-use applications approved by the director', tests: ['tests/server/documents.test.ts'] },
  'Z5.4.2': { coverage: 'met', feature: 'Online signing by one-time link with SM2 signatures (GB/T 38540), evidence kept, public verification', tests: ['tests/server/esign.test.ts', 'tests/browser/portal.test.ts'] },
  'Z5.4.3': { coverage: 'met', feature: 'Matter-accepted and lawyer-changed notices to the client by portal, email, SMS and robots', tests: ['tests/server/notifications.test.ts', 'tests/server/notification-channels.test.ts'] },
  'Z5.4.4': { coverage: 'met', feature: 'Invoice requests from the client portal, processed by finance', tests: ['tests/server/invoices.test.ts'] },
  'Z5.5.1a': { coverage: 'met', feature: 'Register of documents received from authorities; client told and the telling recorded', tests: ['tests/server/communications.test.ts'] },
  'Z5.5.1b': { coverage: 'met', feature: "Lawyer's letters and opinions confirmed by the client before issue; delivery, refusal and return evidence", tests: ['tests/server/communications.test.ts'] },
  'Z5.5.1c': { coverage: 'met', feature: 'Interview records with client confirmation and opinion', tests: ['tests/server/communications.test.ts'] },
  'Z5.5.1d': { coverage: 'met', feature: 'Settlement plans with informed consent', tests: ['tests/server/communications.test.ts'] },
  'Z5.5.1e': { coverage: 'met', feature: 'Criminal meeting logs told to the client', tests: ['tests/server/communications.test.ts'] },
  'Z5.5.1f': { coverage: 'met', feature: 'Non-litigation plans, progress and key documents confirmed with the client', tests: ['tests/server/communications.test.ts'] },
  'Z5.5.2a': { coverage: 'met', feature: 'Deadline engine over the State Council calendar; reminders to lawyer and client', tests: ['tests/server/deadline-engine.test.ts', 'tests/server/deadlines.test.ts', 'tests/server/deadlines-demo.test.ts'] },
  'Z5.5.2b': { coverage: 'met', feature: 'Pre-hearing notice and five-field post-hearing summary', tests: ['tests/server/deadlines.test.ts'] },
  'Z5.5.2c': { coverage: 'met', feature: 'Received documents with deadlines: consequence told, reminder before expiry', tests: ['tests/server/communications.test.ts', 'tests/server/deadlines.test.ts'] },
  'Z5.5.3': { coverage: 'met', feature: 'Process archive of photos, audio and video in eight categories; camera recordings', tests: ['tests/server/archive.test.ts', 'tests/server/media.test.ts'] },
  'Z5.6': { coverage: 'met', feature: 'Client evaluation in six dimensions after a matter closes', tests: ['tests/server/evaluations.test.ts'] },
  'Z6.1.1': { coverage: 'met', feature: 'Accounts with roles, offices and departments; every route declares its permission', tests: ['tests/server/route-matrix.test.ts', 'tests/server/auth-login.test.ts'] },
  'Z6.1.2': { coverage: 'partial', feature: 'Party branch meetings (三会一课, 主题党日) with minutes and votes on paperless terminals; no honours or chronicle pages yet', tests: ['tests/server/meetings.test.ts', 'tests/server/meetings-demo.test.ts'] },
  'Z6.2.1.1': { coverage: 'met', feature: 'Intern, lawyer, partner and director see different matters and fields', tests: ['tests/server/route-matrix.test.ts', 'tests/server/matters.test.ts'] },
  'Z6.2.1.2': { coverage: 'gap', feature: 'No lawyer file (ID number, political status, licence, education, work history) yet', tests: [] },
  'Z6.2.1.3': { coverage: 'gap', feature: 'No onboarding and offboarding workflows yet (accounts are created and disabled by administrators)', tests: [] },
  'Z6.2.1.4': { coverage: 'gap', feature: 'No publishing of rules and resolutions to lawyers yet', tests: [] },
  'Z6.2.1.5': { coverage: 'partial', feature: 'Firm statistics on the wall and /api/stats; no per-lawyer charts yet', tests: ['tests/server/stats.test.ts'] },
  'Z6.2.1.6': { coverage: 'partial', feature: 'Lawyer record carries matters and client ratings; no offices, titles, honours or publications yet', tests: ['tests/server/evaluations.test.ts'] },
  'Z6.2.2': { coverage: 'gap', feature: 'No administrative staff files yet', tests: [] },
  'Z6.2.3': { coverage: 'met', feature: 'System administrator role separate from security administrator and auditor', tests: ['tests/server/route-matrix.test.ts'] },
  'Z6.3.1.1': { coverage: 'partial', feature: 'Approvals for intake (conflict review), seal use and invoices with queryable history; archiving and general requests not yet', tests: ['tests/server/conflict-check.test.ts', 'tests/server/documents.test.ts', 'tests/server/invoices.test.ts'] },
  'Z6.3.1.2': { coverage: 'met', feature: 'E-seal use approved by the director, stamped as an SM2 signature, single use, archived', tests: ['tests/server/esign.test.ts'] },
  'Z6.3.2.1': { coverage: 'partial', feature: 'Fees per matter, visible to partners and finance; no firm finance module yet', tests: ['tests/server/matters.test.ts', 'tests/server/stats.test.ts'] },
  'Z6.3.2.2': { coverage: 'gap', feature: 'No firm finance reports (assets, revenue, cost, profit) yet', tests: [] },
  'Z6.3.2.3': { coverage: 'partial', feature: 'Revenue by matter type in statistics; no per-lawyer period comparison yet', tests: ['tests/server/stats.test.ts'] },
  'Z6.3.2.4': { coverage: 'gap', feature: 'No cost analysis yet', tests: [] },
  'Z6.3.2.5': { coverage: 'partial', feature: 'Open and closed matter counts and fee shares in statistics', tests: ['tests/server/stats.test.ts'] },
  'Z6.3.2.6': { coverage: 'gap', feature: 'No partner equity accounts yet', tests: [] },
  'Z6.3.3.1': { coverage: 'met', feature: 'Matters with unique numbers; person and organisation clients with checked ID numbers and USCC', tests: ['tests/server/matters.test.ts', 'tests/server/identifiers.test.ts'] },
  'Z6.3.3.2': { coverage: 'met', feature: 'Intake data, work records and working papers; whether the client was informed', tests: ['tests/server/matters.test.ts'] },
  'Z6.3.3.3': { coverage: 'met', feature: 'Projects and subtasks across offices and departments', tests: ['tests/server/collaboration.test.ts'] },
  'Z6.3.3.4': { coverage: 'met', feature: 'Administrators see all matters; others only their own and their team’s', tests: ['tests/server/matters.test.ts', 'tests/server/route-matrix.test.ts'] },
  'Z6.3.3.5': { coverage: 'met', feature: 'Daily alerts for long-open, stale and abnormal-fee matters', tests: ['tests/server/tracking.test.ts'] },
  'Z6.3.4.1': { coverage: 'gap', feature: 'No archive of firm licences and honours yet (matter archives exist)', tests: [] },
  'Z6.3.4.2': { coverage: 'gap', feature: 'No archive borrowing and copying register yet', tests: [] },
  'Z6.3.4.3': { coverage: 'gap', feature: 'No archive statistics yet', tests: [] },
  'Z6.3.4.4': { coverage: 'partial', feature: 'Online matter archive with instant retrieval; the 16 document types are not all classified yet', tests: ['tests/server/archive.test.ts'] },
  'Z6.3.5': { coverage: 'met', feature: 'Notices, confirmations, records and signatures filed into the matter archive', tests: ['tests/server/archive.test.ts', 'tests/server/communications.test.ts', 'tests/server/notifications.test.ts'] },
  'Z6.3.6': { coverage: 'gap', feature: 'Uploads are classified by the uploader, not automatically', tests: [] },
  'Z6.4.1': { coverage: 'partial', feature: 'Retention jobs (audit, sessions, signing links), ownership by matter team, audit of every read of confidential records; no data inventory yet', tests: ['tests/server/scheduler.test.ts', 'tests/server/audit-chain.test.ts'] },
  'Z6.4.2': { coverage: 'met', feature: 'TLS in transit, encrypted backups with verification, restore and a second copy', tests: ['tests/server/backup.test.ts', 'tests/server/tls.test.ts'] },
  'Z6.4.3': { coverage: 'met', feature: 'ID numbers and phones masked by role in lists, kiosks and the portal', tests: ['tests/server/identifiers.test.ts', 'tests/server/visitors.test.ts', 'tests/server/portal.test.ts'] },
  'Z7.1': { coverage: 'met', feature: '`lawbox compliance`: self-assessment against chapters 4–6 with a live self-check', tests: ['tests/server/compliance.test.ts'] },
  'Z7.2': { coverage: 'met', feature: 'Evaluations recorded with their report; reminder when two years have passed', tests: ['tests/server/compliance.test.ts'] },
  'Z7.3': { coverage: 'met', feature: 'The report covers every clause of chapters 4, 5 and 6', tests: ['tests/server/compliance.test.ts'] },
  'Z7.4': { coverage: 'met', feature: 'Corrective actions per requirement, with owner, due date and closing note', tests: ['tests/server/compliance.test.ts'] },
  'G-auth': {
    coverage: 'met',
    feature: 'Unique accounts; password policy and expiry; lockout; idle and absolute session timeouts; TLS',
    tests: ['tests/server/auth-login.test.ts', 'tests/server/lockout-timeouts.test.ts', 'tests/server/tls.test.ts'],
  },
  'G-access': { coverage: 'met', feature: 'No default accounts (one-time setup token); inactive accounts disabled; least privilege; separated admin roles', tests: ['tests/server/route-matrix.test.ts', 'tests/server/cli.test.ts', 'tests/server/scheduler.test.ts'] },
  'G-audit': { coverage: 'met', feature: 'Hash-chained audit trail of every change and denial, protected by triggers, retained at least 183 days', tests: ['tests/server/audit-chain.test.ts'] },
  'G-intrusion': {
    coverage: 'met',
    feature: 'Minimal ports (nftables allow-list), administration restricted by address, every input validated and fuzzed, hardened units',
    tests: ['tests/server/management-address.test.ts', 'tests/server/http-conventions.test.ts', 'tests/device-agent/protocols/osdp.test.ts', ...OPS],
  },
  'G-integrity': { coverage: 'met', feature: 'HTTPS with HSTS and MQTT over TLS; local CA on first run', tests: ['tests/server/tls.test.ts'] },
  'G-backup': { coverage: 'met', feature: 'Encrypted local backup, verify, restore; scheduled copy to a second location', tests: ['tests/server/backup.test.ts', 'tests/ops/systemd.test.ts'] },
  'G-residual': { coverage: 'partial', feature: 'Sessions, setup tokens and signing links are deleted or wiped when they end; no explicit memory wiping', tests: ['tests/server/lockout-timeouts.test.ts', 'tests/server/esign.test.ts'] },
  'G-pi': { coverage: 'met', feature: 'Only needed fields collected; masked by role; every read of personal records audited', tests: ['tests/server/identifiers.test.ts', 'tests/server/consultations.test.ts', 'tests/server/visitors.test.ts'] },
};
