import { SYSTEM_ACTOR, type Actor, type ServiceContext } from '../../context.js';
import { createKiosk, kioskActor, type Kiosk } from '../kiosks/service.js';
import {
  addDocument,
  approveMinutes,
  castBallot,
  closeVote,
  createMeeting,
  createRoom,
  createVote,
  endMeeting,
  kioskSignIn,
  lateSignIn,
  openVote,
  saveMinutes,
  startMeeting,
} from './service.js';

/**
 * A small valid PDF, one line of text per page (Latin-1 only: it uses the standard Helvetica font,
 * which needs no embedding). For the demo's documents and for tests.
 */
export function samplePdf(pages: string[]): Buffer {
  const objects: string[] = [];
  const pageIds = pages.map((_, i) => 4 + i * 2);
  objects[1] = '<< /Type /Catalog /Pages 2 0 R >>';
  objects[2] = `<< /Type /Pages /Kids [${pageIds.map((id) => `${id} 0 R`).join(' ')}] /Count ${pages.length} >>`;
  objects[3] = '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>';
  pages.forEach((text, i) => {
    const content = `BT /F1 24 Tf 72 720 Td (${text.replace(/[\\()]/g, (c) => `\\${c}`)}) Tj ET`;
    objects[4 + i * 2] = `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> /Contents ${5 + i * 2} 0 R >>`;
    objects[5 + i * 2] = `<< /Length ${Buffer.byteLength(content, 'latin1')} >>\nstream\n${content}\nendstream`;
  });
  let out = '%PDF-1.4\n%\xe2\xe3\xcf\xd3\n';
  const offsets: number[] = [];
  for (let n = 1; n < objects.length; n++) {
    offsets.push(Buffer.byteLength(out, 'latin1'));
    out += `${n} 0 obj\n${objects[n]}\nendobj\n`;
  }
  const xref = Buffer.byteLength(out, 'latin1');
  out += `xref\n0 ${objects.length}\n0000000000 65535 f \n${offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('')}`;
  out += `trailer\n<< /Size ${objects.length} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}

/** The demo building's first meeting room and the devices in it (building.ts). */
const DEMO_ROOM = { id: 'room-1', name: '第一会议室', floor: '12 层', capacity: 12, devices: ['terminal-m1-01', 'terminal-m1-02', 'terminal-m1-03', 'plate-m1-01'] };
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/**
 * The demo's meetings: room 1 with its terminals, a confidential case discussion later today with its
 * agenda and a case memo, and last week's Party branch general meeting (支部党员大会), signed in at the
 * terminals, with its vote closed and its minutes approved. The past meeting is played through the
 * services at the times it took place, so its records read as they would have been written.
 * Runs once: an instance that already has meetings is left alone.
 */
export async function seedDemoMeetings(ctx: ServiceContext): Promise<void> {
  if (await ctx.db.selectFrom('meeting_sessions').select('id').limit(1).executeTakeFirst()) return;
  const users = await ctx.db.selectFrom('users').select(['id', 'username', 'role']).execute();
  const person = (username: string): Actor => {
    const u = users.find((x) => x.username === username);
    if (!u) throw new Error(`demo user ${username} missing`);
    return { userId: u.id, username: u.username, role: u.role, sourceIp: null };
  };
  const [director, partner, zhang, chen, zhao, liu] = ['director', 'partner.li', 'lawyer.zhang', 'lawyer.chen', 'intern.zhao', 'admin.liu'].map(person) as [Actor, Actor, Actor, Actor, Actor, Actor];

  if (!(await ctx.db.selectFrom('meeting_rooms').select('id').where('id', '=', DEMO_ROOM.id).executeTakeFirst())) {
    const present = await ctx.db.selectFrom('devices').select('id').where('id', 'in', DEMO_ROOM.devices).execute();
    await createRoom(ctx, director, DEMO_ROOM.id, { ...DEMO_ROOM, devices: DEMO_ROOM.devices.filter((d) => present.some((p) => p.id === d)) });
  }
  // The room's terminals, waiting for their enrolment codes (an administrator renews them at the screens).
  const kiosks: Kiosk[] = (await ctx.db.selectFrom('kiosks').selectAll().where('kind', '=', 'meeting').where('room_id', '=', DEMO_ROOM.id).orderBy('id').execute()).map((k) => ({
    id: k.id,
    name: k.name,
    kind: k.kind,
    roomId: k.room_id,
    idReaderDevice: k.id_reader_device,
  }));
  for (let n = kiosks.length + 1; n <= 3; n++) {
    const { kiosk } = await createKiosk(ctx, SYSTEM_ACTOR, { name: `第一会议室 ${n} 号终端`, kind: 'meeting', room_id: DEMO_ROOM.id });
    kiosks.push({ id: kiosk.id, name: kiosk.name, kind: kiosk.kind, roomId: kiosk.room_id, idReaderDevice: kiosk.id_reader_device });
  }

  // Last week: the Party branch general meeting, start to approved minutes.
  const now = ctx.clock.now().getTime();
  const start = Math.floor((now - 7 * DAY_MS) / HOUR_MS) * HOUR_MS;
  const at = (minutes: number): ServiceContext => ({ ...ctx, clock: { now: () => new Date(start + minutes * 60_000) } });
  const branch = await createMeeting(at(-3 * 24 * 60), director, {
    title: '支部党员大会：审议《2026年度支部工作计划》',
    kind: 'party_branch',
    record_type: 'branch_general_meeting',
    room_id: DEMO_ROOM.id,
    starts_at: new Date(start).toISOString(),
    ends_at: new Date(start + 90 * 60_000).toISOString(),
    confidential: false,
    participants: [
      { user_id: director.userId!, role: 'chair' },
      { user_id: liu.userId!, role: 'secretary' },
      { user_id: partner.userId!, role: 'member' },
      { user_id: zhang.userId!, role: 'member' },
      { user_id: chen.userId!, role: 'member' },
      { user_id: zhao.userId!, role: 'observer' },
    ],
    agenda: [{ title: '传达学习上级党组织文件精神' }, { title: '支部书记作2026年度支部工作计划说明' }, { title: '党员讨论' }, { title: '表决《2026年度支部工作计划》' }],
  });
  const seated = [director, partner, zhang];
  for (const [i, member] of seated.entries()) await kioskSignIn(at(-10 + i), kiosks[i]!, kioskActor(kiosks[i]!, null), branch.id, member.userId!);
  await lateSignIn(at(-5), liu, branch.id, liu.userId!, null);
  await startMeeting(at(0), director, branch.id);
  await lateSignIn(at(12), liu, branch.id, chen.userId!, '因出庭迟到');
  const vote = await createVote(at(60), director, branch.id, { title: '审议通过《2026年度支部工作计划》', anonymous: true, rule: 'majority_of_participants' });
  await openVote(at(62), director, branch.id, vote.id);
  for (const [i] of seated.entries()) await castBallot(at(63), kiosks[i]!, kioskActor(kiosks[i]!, null), { vote_id: vote.id, choice: '同意' });
  await closeVote(at(66), director, branch.id, vote.id);
  await endMeeting(at(85), director, branch.id);
  await saveMinutes(
    at(120),
    liu,
    branch.id,
    [
      '会议时间：' + new Date(start + 8 * HOUR_MS).toISOString().slice(0, 16).replace('T', ' ') + '（北京时间）',
      '会议地点：第一会议室',
      '主持人：王建国　记录人：刘芳',
      '应到党员5名，实到5名（陈晓燕同志因出庭迟到，由记录人补签到）；列席1名。',
      '一、传达学习上级党组织文件精神。',
      '二、支部书记说明《2026年度支部工作计划》，与会党员进行了讨论。',
      '三、以无记名方式表决《2026年度支部工作计划》，同意3票，表决通过（超过应到党员半数）。',
    ].join('\n'),
  );
  await approveMinutes(at(24 * 60), director, branch.id);

  // Later today: a confidential case discussion, with the case memo on the terminals.
  const next = Math.ceil((now + HOUR_MS) / HOUR_MS) * HOUR_MS;
  const discussion = await createMeeting(ctx, director, {
    title: '华信诉瑞丰买卖合同纠纷案讨论会',
    kind: 'firm',
    record_type: 'case_discussion',
    room_id: DEMO_ROOM.id,
    starts_at: new Date(next).toISOString(),
    ends_at: new Date(next + 90 * 60_000).toISOString(),
    confidential: true,
    participants: [
      { user_id: partner.userId!, role: 'chair' },
      { user_id: zhao.userId!, role: 'secretary' },
      { user_id: zhang.userId!, role: 'member' },
      { user_id: chen.userId!, role: 'member' },
      { user_id: director.userId!, role: 'observer' },
    ],
    agenda: [{ title: '承办律师介绍案情' }, { title: '争议焦点与证据分析' }, { title: '诉讼策略讨论' }, { title: '形成处理意见' }],
  });
  const memo = samplePdf(['Huaxin v. Ruifeng - case memo', '1. Facts and evidence', '2. Issues in dispute', '3. Litigation strategy']);
  await addDocument(ctx, director, discussion.id, { name: '案情摘要（华信诉瑞丰）.pdf', content_base64: memo.toString('base64') });
}
