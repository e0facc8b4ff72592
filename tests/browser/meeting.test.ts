import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import t from 'tap';
import { SYSTEM_ACTOR } from '../../server/src/context.js';
import { createKiosk } from '../../server/src/modules/kiosks/service.js';
import { samplePdf } from '../../server/src/modules/meetings/demo.js';
import { kioskPage, requireBrowser, screenshot, scriptErrors, startBrowser } from '../helpers/browser.js';
import { until } from '../helpers/devices.js';
import { createTestInstance, signedIn } from '../helpers/instance.js';

/**
 * The paperless meeting room in real Chromium: three terminals of the room, each its own browser
 * context, sign their participants in; the chair opens the PDF and turns the pages and the other two
 * follow; a vote is opened, each terminal casts its ballot, and every terminal shows the result.
 */
if (requireBrowser(t)) {
  const inst = await createTestInstance(t);
  await inst.app.listen({ host: '127.0.0.1', port: 0 });
  const origin = `http://127.0.0.1:${(inst.app.server.address() as AddressInfo).port}`;
  const call = async (method: 'GET' | 'POST' | 'PUT', url: string, as: { headers: Record<string, string> }, payload?: object) => {
    const res = await inst.app.inject({ method, url, headers: as.headers, ...(payload ? { payload } : {}) });
    return { status: res.statusCode, body: res.json() };
  };
  const inMinutes = (m: number) => new Date(inst.clock.now().getTime() + m * 60_000).toISOString();

  const organiser = await signedIn(inst, 'admin_staff');
  const chair = await signedIn(inst, 'partner');
  const memberA = await signedIn(inst, 'lawyer');
  const memberB = await signedIn(inst, 'lawyer');

  const room = await call('POST', '/api/meetings/rooms', organiser, { id: 'room-1', name: '第一会议室', floor: '12 层', capacity: 12 });
  if (room.status !== 201) throw new Error(`the room was not created: ${JSON.stringify(room.body)}`);
  const created = await call('POST', '/api/meetings', organiser, {
    title: '华信诉瑞丰案讨论会',
    kind: 'firm',
    record_type: 'case_discussion',
    room_id: 'room-1',
    starts_at: inMinutes(10),
    ends_at: inMinutes(100),
    confidential: true,
    participants: [
      { user_id: chair.id, role: 'chair' },
      { user_id: memberA.id, role: 'member' },
      { user_id: memberB.id, role: 'member' },
    ],
    agenda: [{ title: '案情介绍' }, { title: '诉讼策略' }],
  });
  if (created.status !== 201) throw new Error(`the meeting was not created: ${JSON.stringify(created.body)}`);
  const meetingId: number = created.body.id;

  const browser = await startBrowser(t);
  // Terminal 1 is the chair's, 2 and 3 the members'.
  const seats = [
    { user: chair, name: '1 号终端', shot: 'chair' },
    { user: memberA, name: '2 号终端', shot: 'member-a' },
    { user: memberB, name: '3 号终端', shot: 'member-b' },
  ];
  const terminals: { page: Page; user: typeof chair; shot: string; topics: Set<string> }[] = [];
  for (const seat of seats) {
    const { enrolment_code } = await createKiosk(inst.ctx, SYSTEM_ACTOR, { name: seat.name, kind: 'meeting', room_id: 'room-1' });
    const page = await kioskPage(browser, { width: 1280, height: 800 });
    // The topics the server confirmed to this terminal's live socket.
    const topics = new Set<string>();
    page.on('websocket', (ws) =>
      ws.on('framereceived', ({ payload }) => {
        const message = JSON.parse(String(payload)) as { type?: string; topics?: string[] };
        if (message.type === 'subscribed') for (const topic of message.topics ?? []) topics.add(topic);
      }),
    );
    await page.goto(`${origin}/kiosk/meeting?enrol=${enrolment_code}`);
    terminals.push({ page, user: seat.user, shot: seat.shot, topics });
  }
  const [chairTerminal] = terminals as [(typeof terminals)[number], ...typeof terminals];
  const noScriptErrors = (t: { same(a: unknown, b: unknown, msg: string): void }) => {
    for (const { page, shot } of terminals) t.same(scriptErrors(page), [], `no script errors on the ${shot} terminal`);
  };

  t.test('each terminal of the room shows the meeting and signs its participant in', async (t) => {
    // A terminal that has only just started may miss what happens before its subscription is
    // confirmed (see the report): the sign-ins begin once every terminal follows the meeting.
    t.ok(await until(() => terminals.every((x) => x.topics.has(`meeting:${meetingId}`)), 10_000), 'every terminal follows the meeting live');
    for (const { page, user } of terminals) {
      await page.getByTestId('meeting-title').waitFor();
      t.equal(await page.getByTestId('meeting-title').textContent(), '华信诉瑞丰案讨论会', 'the room’s meeting is shown');
      t.equal(await page.getByTestId('meeting-room-name').textContent(), '第一会议室', 'in its room');
      await page.locator(`[data-testid="participant-option"][data-user-id="${user.id}"]`).click();
      await page.getByTestId('seat-name').waitFor();
      t.match(await page.getByTestId('seat-name').textContent(), /测试/, 'the terminal now serves its participant');
    }
    await screenshot(chairTerminal.page, 'meeting-signed-in');
    // Everybody's sign-in reaches every terminal live: all three ticks on each.
    for (const { page, shot } of terminals) {
      await page.locator('[data-testid="participant-option"] .p-tick.on').nth(2).waitFor({ timeout: 5000 });
      t.equal(await page.locator('[data-testid="participant-option"] .p-tick.on').count(), 3, `the ${shot} terminal shows all three signed in`);
    }
    const meeting = await call('GET', `/api/meetings/${meetingId}`, organiser);
    t.ok(
      meeting.body.participants.every((p: { signed_in_at?: string | null }) => !!p.signed_in_at),
      'the server recorded the three sign-ins',
    );
    noScriptErrors(t);
  });

  t.test('the chair opens the PDF and turns the pages; the other terminals follow', async (t) => {
    const pdf = samplePdf(['Case memo', 'Facts', 'Strategy']);
    const doc = await call('POST', `/api/meetings/${meetingId}/documents`, organiser, { name: '案情摘要.pdf', content_base64: pdf.toString('base64') });
    t.equal(doc.status, 201, 'the organiser adds the case memo');
    const started = await call('POST', `/api/meetings/${meetingId}/start`, chair, {});
    t.equal(started.status, 200, 'the chair starts the meeting');
    const docId: number = doc.body.id;
    for (const { page } of terminals) await page.locator(`[data-testid="doc-open"][data-document-id="${docId}"]`).waitFor();
    t.pass('the document appears on every seat without a reload');
    const statusPill = chairTerminal.page.locator('.meeting-card .tags .pill').first();
    t.ok(await until(async () => (await statusPill.textContent()) === '进行中', 5000), `the terminals show the meeting in progress (shown: ${await statusPill.textContent()})`);

    const canvasPage = (page: Page) => page.getByTestId('pdf-page').getAttribute('data-page');
    const allOn = async (n: number) => {
      for (const { page, shot } of terminals) {
        await page.locator(`[data-testid="pdf-page"][data-page="${n}"]`).waitFor({ timeout: 10_000 });
        t.equal(await canvasPage(page), String(n), `the ${shot} terminal shows page ${n}`);
      }
    };

    await chairTerminal.page.locator(`[data-testid="doc-open"][data-document-id="${docId}"]`).click();
    await allOn(1);
    t.match(await chairTerminal.page.textContent('.pager-page'), /第 1 \/ 3 页/, 'the chair sees page 1 of 3');
    await screenshot(chairTerminal.page, 'meeting-chair-page1');

    await chairTerminal.page.getByTestId('page-next').click();
    await allOn(2);
    await chairTerminal.page.getByTestId('page-next').click();
    await allOn(3);
    await t.resolveMatch(chairTerminal.page.getByTestId('page-next').isDisabled(), true, 'no page after the last');
    await chairTerminal.page.getByTestId('page-prev').click();
    await allOn(2);
    for (const { page, shot } of terminals.slice(1)) {
      await t.resolveMatch(page.getByTestId('follow-toggle').getAttribute('aria-pressed'), 'true', `the ${shot} terminal is following`);
      t.ok(
        await page.getByTestId('pdf-page').evaluate((c) => (c as unknown as { width: number }).width > 100),
        `the ${shot} terminal drew the page`,
      );
      await screenshot(page, `meeting-${shot}-following`);
    }
    t.match((await call('GET', `/api/meetings/${meetingId}`, organiser)).body.presenter, { document_id: docId, page: 2 }, 'the server holds the presenter at page 2');
    noScriptErrors(t);
  });

  t.test('the chair hands the presentation to a member, whose page turns the others follow', async (t) => {
    const meeting = await call('GET', `/api/meetings/${meetingId}`, chair);
    const participantA: number = meeting.body.participants.find((p: { user_id: number }) => p.user_id === memberA.id).id;
    const handOver = await call('PUT', `/api/meetings/${meetingId}/presenter`, chair, { participant_id: participantA });
    t.equal(handOver.status, 200, 'the chair makes member A the presenter');
    const [, presenterTerminal, otherMember] = terminals as [(typeof terminals)[number], (typeof terminals)[number], (typeof terminals)[number]];
    // The handover reaches every terminal: meeting.presenter.presenter_participant_id, and the 'presenter' event.
    t.ok(await until(() => presenterTerminal.page.locator('.presenting').isVisible(), 5000), 'member A’s terminal says it is presenting');
    await presenterTerminal.page.getByTestId('page-next').click();
    const followed = await until(async () => (await chairTerminal.page.getByTestId('pdf-page').getAttribute('data-page')) === '3' && (await otherMember.page.getByTestId('pdf-page').getAttribute('data-page')) === '3', 5000);
    t.ok(followed, 'the chair’s and member B’s terminals follow member A to page 3');
    t.equal((await call('GET', `/api/meetings/${meetingId}`, chair)).body.presenter.page, 3, 'the server holds the page member A turned to');
    await screenshot(presenterTerminal.page, 'meeting-member-a-presenting');
    noScriptErrors(t);
  });

  t.test('strokes drawn just before the document closes are saved, not dropped', async (t) => {
    const member = terminals[2]!;
    const meeting = await call('GET', `/api/meetings/${meetingId}`, organiser);
    const participant: number = meeting.body.participants.find((p: { user_id: number }) => p.user_id === member.user.id).id;
    const saved = () => inst.ctx.db.selectFrom('meeting_annotations').select(['page', 'strokes']).where('participant_id', '=', participant).execute();
    t.same(await saved(), [], 'member B has no annotations yet');
    await member.page.getByTestId('pen-toggle').click();
    const box = (await member.page.locator('.pen-layer').boundingBox())!;
    await member.page.mouse.move(box.x + 50, box.y + 50);
    await member.page.mouse.down();
    await member.page.mouse.move(box.x + 120, box.y + 90, { steps: 5 });
    await member.page.mouse.up();
    // Closed at once, well within the 1.5 s the terminal waits before saving.
    await member.page.getByTestId('doc-close').click();
    t.ok(await until(async () => (await saved()).length === 1, 5000), 'the stroke reached the server');
    t.match(await saved(), [{ page: 3, strokes: [{ points: [] }] }], 'on the page it was drawn on');
    noScriptErrors(t);
  });

  t.test('a vote: each terminal casts a ballot, and every terminal shows the result with the tally', async (t) => {
    const vote = await call('POST', `/api/meetings/${meetingId}/votes`, chair, { title: '同意按方案一起诉', anonymous: false, rule: 'simple_majority_of_votes' });
    t.equal(vote.status, 201, 'the chair creates a vote');
    const voteId: number = vote.body.id;
    t.equal((await call('POST', `/api/meetings/${meetingId}/votes/${voteId}/open`, chair, {})).status, 200, 'and opens it');

    const choices = ['同意', '同意', '反对'];
    for (const { page, shot } of terminals) {
      await page.locator(`[data-testid="vote-dialog"][data-vote-id="${voteId}"] [data-testid="vote-choice"]`).first().waitFor();
      t.match(await page.getByTestId('vote-dialog').textContent(), /同意按方案一起诉/, `the vote dialog opens on the ${shot} terminal`);
    }
    await screenshot(chairTerminal.page, 'meeting-vote-open');
    for (const [i, { page, shot }] of terminals.entries()) {
      await page.locator(`[data-testid="vote-choice"][data-choice="${choices[i]}"]`).click();
      await page.getByTestId('vote-cast-done').waitFor();
      t.pass(`the ${shot} terminal voted ${choices[i]}`);
    }
    await screenshot(chairTerminal.page, 'meeting-vote-cast');
    t.match((await call('GET', `/api/meetings/${meetingId}`, chair)).body.votes[0], { cast: 3, tally: null }, 'three ballots, no running tally');

    const closed = await call('POST', `/api/meetings/${meetingId}/votes/${voteId}/close`, chair, {});
    t.equal(closed.status, 200, 'the chair closes the vote');
    t.match(closed.body, { tally: { 同意: 2, 反对: 1, 弃权: 0 }, passed: true }, 'two for, one against: passed');

    for (const { page, shot } of terminals) {
      const result = page.getByTestId('vote-result');
      await result.waitFor();
      t.equal(await result.getAttribute('data-passed'), 'true', `the ${shot} terminal shows it passed`);
      const counts = await result.locator('.tally-count').allTextContents();
      const rows = (await result.locator('.tally-label').allTextContents()).map((label, i) => [label, counts[i]]);
      t.same(rows, [['同意', '2'], ['反对', '1'], ['弃权', '0']], `the ${shot} terminal shows the tally`);
      await screenshot(page, `meeting-vote-result-${shot}`);
    }
    noScriptErrors(t);
  });
}
