import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import t from 'tap';
import { SYSTEM_ACTOR } from '../../server/src/context.js';
import { createKiosk } from '../../server/src/modules/kiosks/service.js';
import { kioskPage, requireBrowser, screenshot, scriptErrors, startBrowser } from '../helpers/browser.js';
import { startBroker, until } from '../helpers/devices.js';
import { hasSocat, SAMPLE_CARD, startIdCardReader } from '../helpers/id-reader.js';
import { createTestInstance, signedIn } from '../helpers/instance.js';

/**
 * The lobby kiosk in real Chromium: an invited visitor types their code and gets the pass QR; a
 * walk-in lays their ID card on the reader (a simulated SAM reader driven by a real device agent over
 * MQTT) and gets a pass; an opposing party waits until a director admits them, and the pass appears live.
 */
if (requireBrowser(t)) {
  const { url: brokerUrl } = await startBroker(t);
  const inst = await createTestInstance(t, { env: { MQTT_URL: brokerUrl } });
  await inst.app.listen({ host: '127.0.0.1', port: 0 });
  const origin = `http://127.0.0.1:${(inst.app.server.address() as AddressInfo).port}`;
  const db = inst.ctx.db;
  const call = async (method: 'GET' | 'POST' | 'PUT', url: string, as: { headers: Record<string, string> }, payload?: object) => {
    const res = await inst.app.inject({ method, url, headers: as.headers, ...(payload ? { payload } : {}) });
    return { status: res.statusCode, body: res.json() };
  };
  const inAnHour = () => new Date(inst.clock.now().getTime() + 3_600_000).toISOString();

  const director = await signedIn(inst, 'director');
  const frontDesk = await signedIn(inst, 'admin_staff');
  const lawyer = await signedIn(inst, 'lawyer');

  // The lobby door (its pass opens it) and the ID card reader, both on the lobby's agent.
  await db.insertInto('agents').values({ id: 'lobby-agent', created_at: inst.clock.now() }).execute();
  await db.insertInto('devices').values({ id: 'idreader-lobby', updated_at: inst.clock.now() }).execute();
  const door = await call('POST', '/api/doors', frontDesk, { id: 'lobby-door', agent_id: 'lobby-agent', name: '大堂门禁', lock_device: 'relay-lobby', readers: ['reader-lobby'], fail_mode: 'fail_secure' });
  if (door.status !== 201) throw new Error(`the lobby door was not created: ${JSON.stringify(door.body)}`);
  const settings = await call('PUT', '/api/visitors/settings', director, { retention_days: 180, pass_doors: ['lobby-door'], pass_hours: 4 });
  if (settings.status !== 200) throw new Error(`the pass doors were not set: ${JSON.stringify(settings.body)}`);

  const { enrolment_code } = await createKiosk(inst.ctx, SYSTEM_ACTOR, { name: '大堂自助登记机', kind: 'lobby', id_reader_device: 'idreader-lobby' });
  const page = await kioskPage(await startBrowser(t), { width: 1280, height: 800 });

  /** What the visitor sees: the page's text, where no full name or ID number may appear. */
  const screenText = async (p: Page) => (await p.textContent('body')) ?? '';
  const home = async () => {
    await page.goto(`${origin}/kiosk/lobby`);
    await page.getByTestId('lobby-home').waitFor();
  };

  t.test('enrolled by its code, the lobby kiosk shows its home screen', async (t) => {
    await page.goto(`${origin}/kiosk/lobby?enrol=${enrolment_code}`);
    await page.getByTestId('lobby-home').waitFor();
    t.notMatch(page.url(), /enrol=/, 'the code is taken out of the address');
    t.match(await screenText(page), /大堂自助登记机/, 'the kiosk names itself');
    t.match(await screenText(page), /我有预约/, 'offers the invited check-in in Chinese');
    await screenshot(page, 'lobby-home');
    t.same(scriptErrors(page), [], 'no script errors');
  });

  t.test('a pre-registered visitor types the invitation code and gets the pass QR', async (t) => {
    const invited = await call('POST', '/api/visitors/invitations', lawyer, { visitor_name: '周晓梅', id_number: '11010519491231002x', phone: '13812345678', purpose: '合同审查面谈', expected_at: inAnHour() });
    t.equal(invited.status, 201, 'the lawyer pre-registers the visitor');
    const code: string = invited.body.invite_code;

    await home();
    await page.getByTestId('lobby-start-invite').click();
    // Typed as a visitor would, with a space and in lower case: the kiosk normalises it.
    await page.getByTestId('invite-code-input').fill(`${code.slice(0, 4).toLowerCase()} ${code.slice(4)}`);
    await page.getByTestId('invite-code-submit').click();
    await page.getByTestId('invite-visit').waitFor();
    const found = (await page.getByTestId('invite-visit').textContent()) ?? '';
    t.match(found, /周\*\*/, 'the visitor’s name, masked');
    t.match(found, /合同审查面谈/, 'and the purpose of the visit');
    await screenshot(page, 'lobby-invite-found');

    await page.getByTestId('invite-confirm').click();
    await page.getByTestId('result-checked-in').waitFor();
    const qr = page.getByTestId('pass-qr');
    await t.resolveMatch(qr.getAttribute('src'), /^data:image\/png;base64,/, 'the pass QR is drawn');
    t.ok(await qr.evaluate((img) => (img as unknown as { complete: boolean; naturalWidth: number }).complete && (img as unknown as { naturalWidth: number }).naturalWidth >= 200), 'as a real image');
    const text = await screenText(page);
    t.match(text, /签到成功/, 'the visitor is told they are checked in');
    t.match(text, /大堂门禁/, 'and which doors the pass opens');
    t.notMatch(text, /周晓梅|110105|13812345678/, 'no full name, ID number or phone on the public screen');
    await screenshot(page, 'lobby-invite-pass');

    const visit = await call('GET', `/api/visitors/visits/${invited.body.visit.id}`, lawyer);
    t.match(visit.body, { status: 'checked_in', pass: { kind: 'qr', doors: ['lobby-door'] } }, 'the server holds the visit checked in with its pass');
    t.same(scriptErrors(page), [], 'no script errors');
  });

  t.test('a walk-in lays their resident ID card on the reader and gets a pass', { skip: !hasSocat && 'socat missing' }, async (t) => {
    const sim = await startIdCardReader(t, { brokerUrl, agentId: 'lobby-agent', device: 'idreader-lobby' });
    t.ok(await until(async () => (await db.selectFrom('devices').select('availability').where('id', '=', 'idreader-lobby').executeTakeFirst())?.availability === 'online', 10_000), 'the reader comes online through its agent');

    await home();
    await page.getByTestId('lobby-start-walkin').click();
    await page.getByTestId('idcard-read').click();
    const noCard = page.locator('.error-text', { hasText: '请将身份证放在阅读器上' });
    await noCard.waitFor({ timeout: 10_000 });
    t.pass('with no card on the reader the kiosk asks for one, in Chinese');
    t.equal(await page.getByTestId('idcard-result').count(), 0, 'no card was read');
    await screenshot(page, 'lobby-walkin-no-card');

    sim.layCard(SAMPLE_CARD);
    await page.getByTestId('idcard-read').click();
    await page.getByTestId('idcard-result').waitFor({ timeout: 10_000 });
    const card = (await page.getByTestId('idcard-result').textContent()) ?? '';
    t.match(card, /王\*\*/, 'the card’s name, masked');
    t.match(card, /110105\*+2310/, 'and its number, masked');
    t.notMatch(await screenText(page), /王秀英|197803152310|中关村/, 'neither the full name, the number nor the address reach the kiosk');

    await page.getByTestId('walkin-purpose').fill('法律咨询');
    await page.getByTestId('walkin-phone').fill('13911112222');
    await page.locator(`[data-testid="host-option"][data-host-id="${lawyer.id}"]`).click();
    await t.resolveMatch(page.locator(`[data-testid="host-option"][data-host-id="${lawyer.id}"]`).getAttribute('aria-selected'), 'true', 'the host is chosen from the list');
    await screenshot(page, 'lobby-walkin-card');
    await page.getByTestId('walkin-submit').click();
    await page.getByTestId('result-checked-in').waitFor();
    await t.resolveMatch(page.getByTestId('pass-qr').getAttribute('src'), /^data:image\/png;base64,/, 'the pass QR is shown');
    t.match(await screenText(page), /王\*\*/, 'for the masked visitor');
    await screenshot(page, 'lobby-walkin-pass');

    const visits = await call('GET', '/api/visitors/on-site', frontDesk);
    t.match(
      visits.body.find((v: { source: string }) => v.source === 'walk_in'),
      { visitor_name: '王秀英', id_number_masked: '110105********2310', phone_masked: '139****2222', status: 'checked_in', host: { id: lawyer.id }, pass: { kind: 'qr' } },
      'the front desk sees the walk-in with the name and number from the card',
    );
    t.same(scriptErrors(page), [], 'no script errors');
  });

  t.test('an opposing party waits at the kiosk; when a director admits them the pass appears live', async (t) => {
    const matter = await call('POST', '/api/matters', lawyer, { title: '陈静诉李强民间借贷纠纷', type: 'civil', parties: [{ role: 'client', kind: 'person', name: '陈静' }, { role: 'opposing', kind: 'person', name: '李强' }] });
    t.equal(matter.status, 201, 'a matter with 李强 as the opposing party');
    const invited = await call('POST', '/api/visitors/invitations', lawyer, { visitor_name: '李强', purpose: '商谈和解', matter_id: matter.body.id, expected_at: inAnHour() });
    t.equal(invited.status, 201, 'the invitation is taken');
    t.equal(invited.body.visit.status, 'flagged', 'and flagged at once');

    await home();
    // A USB scanner types the QR payload and Enter on the home screen.
    await page.keyboard.type(invited.body.qr_payload);
    await page.keyboard.press('Enter');
    await page.getByTestId('invite-visit').waitFor();
    t.match((await page.getByTestId('invite-visit').textContent()) ?? '', /李\*/, 'the scanned invitation is found');
    await page.getByTestId('invite-confirm').click();
    await page.getByTestId('result-pending').waitFor();
    t.equal(await page.getByTestId('pass-qr').count(), 0, 'no pass while the visit is under review');
    const waiting = await screenText(page);
    t.match(waiting, /请稍候/, 'the visitor is asked to wait');
    t.notMatch(waiting, /对方|冲突|opposing|conflict/i, 'without being told why');
    await screenshot(page, 'lobby-pending');
    t.equal((await call('GET', `/api/visitors/visits/${invited.body.visit.id}`, director)).body.status, 'flagged', 'the visit waits for a reviewer');

    const admit = await call('POST', `/api/visitors/visits/${invited.body.visit.id}/decision`, director, { decision: 'admit', note: '对方当事人来所商谈和解，承办律师全程陪同。' });
    t.equal(admit.status, 200, 'the director admits the visitor');
    await page.getByTestId('result-checked-in').waitFor({ timeout: 10_000 });
    t.pass('the kiosk shows the pass without a touch');
    await t.resolveMatch(page.getByTestId('pass-qr').getAttribute('src'), /^data:image\/png;base64,/, 'with the pass QR');
    t.notMatch(await screenText(page), /李强/, 'the name stays masked');
    await screenshot(page, 'lobby-admitted-pass');
    t.same(scriptErrors(page), [], 'no script errors');
  });
}
