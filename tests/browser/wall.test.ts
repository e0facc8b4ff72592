import type { AddressInfo } from 'node:net';
import t from 'tap';
import { SYSTEM_ACTOR } from '../../server/src/context.js';
import { createKiosk } from '../../server/src/modules/kiosks/service.js';
import { flakyNetwork, kioskPage, requireBrowser, screenshot, scriptErrors, startBrowser } from '../helpers/browser.js';
import { until } from '../helpers/devices.js';
import { createTestInstance, signedIn } from '../helpers/instance.js';

/**
 * The wall screen in real Chromium: an unenrolled screen explains itself in Chinese, an enrolled one
 * shows the firm's figures, updates live when a matter is opened, and says so when its data goes stale.
 */
if (requireBrowser(t)) {
  const inst = await createTestInstance(t);
  await inst.app.listen({ host: '127.0.0.1', port: 0 });
  const network = await flakyNetwork(t, (inst.app.server.address() as AddressInfo).port);
  const origin = `http://127.0.0.1:${network.port}`;
  const lawyer = await signedIn(inst, 'lawyer');
  const { enrolment_code } = await createKiosk(inst.ctx, SYSTEM_ACTOR, { name: '大堂大屏', kind: 'wall' });
  const page = await kioskPage(await startBrowser(t), { width: 1920, height: 1080 });
  const openMatters = async () => Number(/\d+/.exec((await page.getByTestId('wall-kpi-matters-open').textContent()) ?? '')?.[0]);

  t.test('an unenrolled wall shows the enrolment screen in Chinese', async (t) => {
    await page.goto(`${origin}/kiosk/wall`);
    await page.getByTestId('enrol-screen').waitFor();
    t.match(await page.getByTestId('enrol-screen').textContent(), /登记/, 'it says the screen needs enrolment');
    await screenshot(page, 'wall-enrol');
    t.same(scriptErrors(page), [], 'no script errors');
  });

  t.test('enrolled by its code, the wall shows the figures and follows a new matter live', async (t) => {
    await page.goto(`${origin}/kiosk/wall?enrol=${enrolment_code}`);
    await page.getByTestId('wall-kpi-matters-open').waitFor();
    t.notMatch(page.url(), /enrol=/, 'the code is taken out of the address');
    const before = await openMatters();
    t.equal(before, 0, 'no open matters yet');
    t.equal(await page.getByTestId('wall-kpi-revenue').count(), 0, 'no revenue unless the director enables it');

    const created = await inst.app.inject({
      method: 'POST',
      url: '/api/matters',
      headers: lawyer.headers,
      payload: { title: '王芳诉赵磊买卖合同纠纷', type: 'civil', parties: [{ role: 'client', kind: 'person', name: '王芳' }, { role: 'opposing', kind: 'person', name: '赵磊' }] },
    });
    t.equal(created.statusCode, 201, 'a lawyer opens a matter');
    t.ok(await until(async () => (await openMatters()) === 1, 5000), 'the wall shows it without a reload');
    const text = (await page.textContent('body')) ?? '';
    t.notMatch(text, /王芳|赵磊/, 'no client or party name reaches the wall');
    await screenshot(page, 'wall-live');
    t.same(scriptErrors(page), [], 'no script errors');
  });

  t.test('the wall says when its data is stale, and recovers when the network is back', async (t) => {
    network.cut();
    await page.getByTestId('stale-banner').waitFor({ timeout: 15_000 });
    t.ok(await page.getByTestId('wall-kpi-matters-open').isVisible(), 'the last figures stay on screen');
    await screenshot(page, 'wall-stale');
    network.restore();
    await page.getByTestId('stale-banner').waitFor({ state: 'hidden', timeout: 40_000 });
    t.pass('the banner goes once the screen is live again');
    t.same(scriptErrors(page), [], 'no script errors');
  });
}
