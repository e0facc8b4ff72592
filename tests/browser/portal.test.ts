import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import t from 'tap';
import { writeSetting } from '../../server/src/db/settings.js';
import { kioskPage, requireBrowser, screenshot, scriptErrors, startBrowser } from '../helpers/browser.js';
import { until } from '../helpers/devices.js';
import { createTestInstance, signedIn } from '../helpers/instance.js';
import { mailText, startSmtpPeer } from '../helpers/smtp.js';

/**
 * The client portal in real Chromium, as a client uses it on a desktop and on a 375 px phone: the
 * access code (typed, and from the lawyer's link), the client's matters and notices, confirming a
 * draft letter, an invoice request with its validation, rating a closed matter, and signing a
 * document by its one-time link with the code that arrives by email, down to the files it keeps.
 */
if (requireBrowser(t)) {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'lawbox-portal-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));

  // The firm's mail server, on loopback: the signing code reaches the client by email.
  const smtp = await startSmtpPeer(t);
  const mails = smtp.mails;

  const inst = await createTestInstance(t, { env: { LAWBOX_DATA_DIR: dataDir } });
  await inst.app.listen({ host: '127.0.0.1', port: 0 });
  const origin = `http://127.0.0.1:${(inst.app.server.address() as AddressInfo).port}`;
  const db = inst.ctx.db;
  type As = { headers: Record<string, string> };
  const call = async (method: 'GET' | 'POST' | 'PATCH' | 'PUT', url: string, as: As, payload?: object) => {
    const res = await inst.app.inject({ method, url, headers: as.headers, ...(payload ? { payload } : {}) });
    return { status: res.statusCode, body: res.json() };
  };
  const must = async (what: string, p: ReturnType<typeof call>, status = 201) => {
    const res = await p;
    if (res.status !== status) throw new Error(`${what}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };

  await writeSetting(db, 'firm', { name: '测试明衡律师事务所', address: '北京市朝阳区建国路 88 号' });
  const lawyer = await signedIn(inst, 'lawyer');
  const itAdmin = await signedIn(inst, 'it_admin');
  const partner = await signedIn(inst, 'partner');
  /** Opens a matter; a conflict check with hits (the client is known already) is cleared by a partner. */
  const openMatter = async (body: object): Promise<{ id: number; number: string }> => {
    const m = await must('matter', call('POST', '/api/matters', lawyer, body));
    if (m.status === 'pending_conflict_review') await must('conflict review', call('POST', `/api/conflict-checks/${m.conflict_check.id}/decision`, partner, { decision: 'clear', note: '同一委托人的其他案件，无利益冲突。' }), 200);
    return m;
  };

  const client = await must('client', call('POST', '/api/clients', lawyer, { kind: 'person', name: '陈静', id_number: '11010519491231002x', phone: '13812341999', email: 'chenjing@client.example' }));
  const party = { role: 'client', kind: 'person', name: '陈静', client_id: client.id };
  const loan = await openMatter({
    title: '陈静诉李强民间借贷纠纷',
    type: 'civil',
    cause: '民间借贷纠纷',
    court: '北京市朝阳区人民法院',
    stage: '一审',
    fee_arrangement: 'fixed',
    fee_amount: '30000.00',
    parties: [party, { role: 'opposing', kind: 'person', name: '李强' }],
  });
  const lease = await openMatter({ title: '陈静房屋租赁合同纠纷', type: 'civil', parties: [party, { role: 'opposing', kind: 'organization', name: '北京安居房地产经纪有限公司' }] });
  await must('closing', call('PATCH', `/api/matters/${lease.id}`, lawyer, { status: 'closed', closing_summary: '调解结案' }), 200);
  // Another client's matter: nothing of it may reach this client's portal.
  await openMatter({ title: '周海房屋买卖合同纠纷', type: 'civil', parties: [{ role: 'client', kind: 'person', name: '周海' }] });

  // A court judgment received for the loan matter: the client is told in the portal.
  await must(
    'received judgment',
    call('POST', `/api/matters/${loan.id}/communications/received-documents`, lawyer, {
      authority_kind: 'court',
      authority: '北京市朝阳区人民法院',
      document_kind: '判决书',
      document_number: '(2026)京0105民初12345号',
      received_on: '2026-11-20',
      served_on: '2026-11-20',
      deadline: { rule: 'civil_appeal_judgment' },
    }),
  );
  const draftText = '致：李强先生\n\n受陈静女士委托，本所律师郑重函告：请您于收到本函之日起七日内归还借款人民币200,000元。\n\n测试明衡律师事务所';
  const draft = await must('draft', call('POST', `/api/matters/${loan.id}/communications/drafts`, lawyer, { draft_kind: 'lawyer_letter', title: '催款律师函', content: draftText, recipient: '李强' }));
  const { confirmation } = await must('confirmation request', call('POST', `/api/communications/${draft.id}/confirmation-requests`, lawyer, {}));

  const browser: Browser = await startBrowser(t);
  const desktop = await kioskPage(browser, { width: 1280, height: 860 });
  const phone = await kioskPage(browser, { width: 375, height: 740 });
  const text = async (p: Page) => (await p.textContent('body')) ?? '';
  /** Nothing is wider than the screen: the page never scrolls sideways on a phone. */
  const fitsWidth = async (p: Page) => (await p.evaluate('document.documentElement.scrollWidth <= window.innerWidth')) === true;
  const portalCode = async () => (await must('portal code', call('POST', `/api/clients/${client.id}/portal-code`, lawyer, {}))) as { code: string; link: string };

  t.test('without a session the portal explains the access code, refuses a wrong one, and lets the client in with the right one', async (t) => {
    await desktop.goto(`${origin}/portal/`);
    await desktop.getByTestId('portal-entry').waitFor();
    t.match(await text(desktop), /请输入律师提供给您的访问码/, 'the entry page says in Chinese where the code comes from');
    await screenshot(desktop, 'portal-entry');

    await desktop.getByTestId('entry-code').fill('WRONG234');
    await desktop.getByTestId('entry-submit').click();
    await desktop.locator('.error-text', { hasText: '访问码无效、已使用或已过期' }).waitFor();
    t.pass('a wrong code is refused with the server’s Chinese message');

    const { code } = await portalCode();
    await desktop.getByTestId('entry-code').fill(`${code.slice(0, 4).toLowerCase()} ${code.slice(4)}`);
    await desktop.getByTestId('entry-submit').click();
    await desktop.getByTestId('portal-home').waitFor();
    const page = await text(desktop);
    t.match(page, /您好，陈\*/, 'the client is greeted by the masked name');
    t.match(page, /陈静诉李强民间借贷纠纷/, 'its open matter is listed');
    t.match(page, new RegExp(loan.number.replace(/[()]/g, '\\$&')), 'with its number');
    t.match(await desktop.locator(`[data-testid="matter-card"][data-matter-id="${lease.id}"]`).textContent(), /已结案[\s\S]*陈静房屋租赁合同纠纷/, 'and its closed matter, closed');
    t.notMatch(page, /周海/, 'no other client’s matter');
    t.equal(await desktop.getByTestId('matter-card').count(), 2, 'two matter cards');
    const cookies = await desktop.context().cookies();
    t.match(cookies.find((c) => c.name === 'lawbox_portal'), { httpOnly: true }, 'the session is an httpOnly cookie');
    await screenshot(desktop, 'portal-home');
    t.same(scriptErrors(desktop), [], 'no script errors');
  });

  t.test('the client’s notices: listed newest first, unread counted, marked read when opened', async (t) => {
    const notices = desktop.getByTestId('notice');
    await notices.first().waitFor();
    const all = await notices.allTextContents();
    t.ok(all.some((n) => /北京市朝阳区人民法院《判决书》/.test(n)), 'the judgment notice is there');
    t.ok(all.some((n) => /催款律师函/.test(n)), 'and the request to confirm the letter');
    const unreadBefore = Number(await desktop.getByTestId('notices-unread').textContent());
    t.ok(unreadBefore >= 2, `the unread notices are counted (${unreadBefore})`);

    const judgment = desktop.getByTestId('notice').filter({ hasText: '判决书' }).first();
    const id = Number(await judgment.getAttribute('data-notice-id'));
    await judgment.locator('.notice-head').click();
    await desktop.locator(`[data-testid="notice"][data-notice-id="${id}"][data-read="true"]`).waitFor();
    t.ok(await until(async () => !!(await db.selectFrom('notifications').select('client_read_at').where('id', '=', id).executeTakeFirstOrThrow()).client_read_at, 5000), 'the server keeps when the client read it');
    t.equal(Number(await desktop.getByTestId('notices-unread').textContent()), unreadBefore - 1, 'one unread fewer');
    await screenshot(desktop, 'portal-notices');
    t.same(scriptErrors(desktop), [], 'no script errors');
  });

  t.test('the client confirms the draft letter; an empty comment is refused first', async (t) => {
    await desktop.getByTestId('todo-confirmation').filter({ hasText: '催款律师函' }).click();
    await desktop.getByTestId('confirm-page').waitFor();
    t.match(desktop.url(), new RegExp(`/portal/confirm/${confirmation.id}$`), 'the address names the confirmation');
    await desktop.getByTestId('confirm-content').waitFor();
    t.equal(await desktop.getByTestId('confirm-content').textContent(), draftText, 'the whole text, as the lawyer wrote it');

    await desktop.getByTestId('confirm-comment').click();
    await desktop.locator('.error-text', { hasText: '请填写修改意见' }).waitFor();
    t.pass('comments need a text');
    await desktop.getByTestId('confirm-text').fill('同意发出。');
    await desktop.getByTestId('confirm-start').click();
    await screenshot(desktop, 'portal-confirm');
    await desktop.getByTestId('confirm-submit').click();
    await desktop.getByTestId('confirm-answered').waitFor();
    t.match(await desktop.getByTestId('confirm-status').textContent(), /已确认/, 'shown as confirmed');
    const row = await db.selectFrom('client_confirmations').selectAll().where('id', '=', confirmation.id).executeTakeFirstOrThrow();
    t.match(row, { decision: 'confirmed', response_text: '同意发出。', responder: `client:${client.id}` }, 'the server keeps the confirmation with the remark');
    t.ok(row.responded_at, 'and its time');
    await desktop.getByTestId('back-home').click();
    await desktop.getByTestId('portal-confirmation-history').waitFor();
    t.equal(await desktop.getByTestId('todo-confirmation').count(), 0, 'nothing left to confirm');
    t.same(scriptErrors(desktop), [], 'no script errors');
  });

  t.test('an invoice request: each mistake is shown at its field, then the request is submitted and its status shown', async (t) => {
    await desktop.getByTestId('tab-invoices').click();
    await desktop.getByTestId('invoices-page').waitFor();
    await desktop.getByTestId('invoice-new').click();
    await desktop.getByTestId('invoice-invoice_type-special').check();
    t.equal(await desktop.getByTestId('invoice-title_kind-organization').isChecked(), true, 'a special VAT invoice goes to an organisation');
    await desktop.getByTestId('invoice-title').fill('');
    await desktop.getByTestId('invoice-taxpayer_id').fill('12345');
    await desktop.getByTestId('invoice-amount').fill('30000.001');
    await desktop.getByTestId('invoice-submit').click();
    await desktop.getByTestId('invoice-form-errors').waitFor();
    const errors = await desktop.getByTestId('field-error').allTextContents();
    t.ok(errors.includes('请选择案件'), 'the matter is asked for');
    t.ok(errors.includes('统一社会信用代码应为 18 位数字或大写字母'), 'the taxpayer number is checked');
    t.ok(errors.includes('请填写大于零的金额，最多两位小数'), 'the amount is checked');
    t.ok(errors.filter((e) => e === '开具专用发票须填写此项').length === 4, 'the special invoice’s address, phone, bank and account are asked for');
    t.ok(errors.includes('请填写此项'), 'the title and the email are asked for');
    await screenshot(desktop, 'portal-invoice-errors');
    t.equal(Number((await db.selectFrom('invoice_requests').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n), 0, 'nothing was sent');

    await desktop.getByTestId('invoice-matter_id').selectOption(String(loan.id));
    await desktop.getByTestId('invoice-title').fill('北京华信科技有限公司');
    await desktop.getByTestId('invoice-taxpayer_id').fill('91350100m000100y43');
    await desktop.getByTestId('invoice-amount').fill('30000');
    await desktop.getByTestId('invoice-company_address').fill('北京市海淀区中关村大街 1 号');
    await desktop.getByTestId('invoice-company_phone').fill('010-62880001');
    await desktop.getByTestId('invoice-bank_name').fill('中国工商银行北京中关村支行');
    await desktop.getByTestId('invoice-bank_account').fill('0200 0045 0900 0123 456');
    await desktop.getByTestId('invoice-delivery-post').check();
    await desktop.getByTestId('invoice-recipient_name').fill('陈静');
    await desktop.getByTestId('invoice-recipient_phone').fill('13812341999');
    await desktop.getByTestId('invoice-postal_address').fill('北京市朝阳区建国路 88 号');
    await desktop.getByTestId('invoice-submit').click();
    await desktop.getByTestId('invoice-submitted').waitFor();
    const card = desktop.getByTestId('invoice-card').first();
    t.match(await card.textContent(), /北京华信科技有限公司[\s\S]*¥30,000\.00/, 'the request is listed with its amount');
    t.equal(await card.getByTestId('invoice-status').textContent(), '已提交', 'and its status');
    const row = await db.selectFrom('invoice_requests').selectAll().executeTakeFirstOrThrow();
    t.match(row, { matter_id: loan.id, client_id: client.id, invoice_type: 'special', title_kind: 'organization', taxpayer_id: '91350100M000100Y43', bank_account: '0200004509000123456', delivery: 'post', email: null, submitted_via: 'portal', status: 'submitted' }, 'the server holds the request as given, cleaned');
    t.equal(Number(row.amount), 30000, 'for 30000 yuan');
    await screenshot(desktop, 'portal-invoice-submitted');
    t.same(scriptErrors(desktop), [], 'no script errors');
  });

  t.test('the client rates its closed matter in six dimensions, once', async (t) => {
    await desktop.getByTestId('tab-home').click();
    await desktop.getByTestId('todo-evaluation').click();
    await desktop.getByTestId('evaluation-form').waitFor();
    t.match(desktop.url(), new RegExp(`/portal/evaluate/${lease.id}$`), 'the address names the matter');
    const labels = await desktop.locator('.star-field legend .field-label').allTextContents();
    t.same(labels, ['功能性', '时间性', '安全性', '经济性', '舒适性', '文明性'], 'the six dimensions of the standard');
    await desktop.getByTestId('star-functionality-5').check();
    await desktop.getByTestId('evaluation-submit').click();
    await desktop.locator('.error-text', { hasText: '请为以下方面打分：时间性、安全性、经济性、舒适性、文明性' }).waitFor();
    t.pass('every dimension must be rated');
    const given = { functionality: 5, timeliness: 4, security: 5, economy: 3, comfort: 4, civility: 5 };
    for (const [d, n] of Object.entries(given)) await desktop.getByTestId(`star-${d}-${n}`).check();
    await desktop.getByTestId('evaluation-comment').fill('律师沟通及时，调解方案考虑周到。');
    await screenshot(desktop, 'portal-evaluate');
    await desktop.getByTestId('evaluation-submit').click();
    await desktop.getByTestId('evaluation-done').waitFor();
    t.equal(await desktop.getByTestId('evaluation-economy').locator('.stars-static').textContent(), '★★★', 'the rating is shown back');
    const row = await db.selectFrom('evaluations').selectAll().where('matter_id', '=', lease.id).executeTakeFirstOrThrow();
    t.match(row, { client_id: client.id, ...given, comment: '律师沟通及时，调解方案考虑周到。' }, 'the server keeps the six scores and the comment');
    await desktop.reload();
    await desktop.getByTestId('evaluation-done').waitFor();
    t.equal(await desktop.getByTestId('evaluation-form').count(), 0, 'a rated matter cannot be rated again');
    t.same(scriptErrors(desktop), [], 'no script errors');
  });

  t.test('on a 375 px phone, the client enters by the lawyer’s link and every page fits the screen', async (t) => {
    const { link } = await portalCode();
    await phone.goto(`${origin}${link}`);
    await phone.getByTestId('portal-home').waitFor();
    t.notMatch(phone.url(), /code=/, 'the code is taken out of the address');
    await phone.getByTestId('notice').first().waitFor();
    t.ok(await fitsWidth(phone), 'the overview fits 375 px');
    const fontSize = Number(await phone.evaluate('parseFloat(getComputedStyle(document.body).fontSize)'));
    t.ok(fontSize >= 15 && fontSize <= 18, `body text at a reading size (${fontSize}px)`);
    await screenshot(phone, 'portal-phone-home');
    for (const [url, ready, name] of [
      ['/portal/invoices', 'invoice-list', 'invoices'],
      [`/portal/confirm/${confirmation.id}`, 'confirm-answered', 'confirm'],
      [`/portal/evaluate/${lease.id}`, 'evaluation-done', 'evaluate'],
    ] as const) {
      await phone.goto(`${origin}${url}`);
      await phone.getByTestId(ready).waitFor();
      if (name === 'invoices') await phone.getByTestId('invoice-new').click();
      t.ok(await fitsWidth(phone), `${url} fits 375 px`);
      await screenshot(phone, `portal-phone-${name}`);
    }
    await phone.getByTestId('lang-toggle').click();
    await phone.goto(`${origin}/portal/`);
    await phone.getByText('My matters').waitFor();
    t.match(await text(phone), /Hello, 陈\*/, 'the English toggle switches the page');
    await phone.getByTestId('lang-toggle').click();
    await phone.getByText('我的案件').waitFor();
    t.same(scriptErrors(phone), [], 'no script errors');
  });

  t.test('signing by the one-time link on a phone: the document, the consent, the name, the emailed code, then the evidence and the files', async (t) => {
    const channels = await call('PUT', '/api/notifications/channels', itAdmin, {
      email: { enabled: true, events: ['signature.code'], host: '127.0.0.1', port: smtp.port, security: 'none', verify_certificate: true, username: null, from_address: 'notice@firm.example', from_name: '测试明衡律师事务所' },
    });
    t.equal(channels.status, 200, 'the IT administrator turns on email for signing codes');
    const templates = (await call('GET', '/api/templates', lawyer)).body as { id: number; key: string }[];
    const doc = await must('document', call('POST', `/api/matters/${loan.id}/documents`, lawyer, { template_id: templates.find((x) => x.key === 'risk-notice')!.id }));
    const { link, request } = await must('signature request', call('POST', `/api/documents/${doc.id}/signature-requests`, lawyer, {}));
    t.equal(request.code_required, true, 'the client can be reached by email, so a code is required');

    // A browser without a portal session: the link alone opens the page. Its clock agrees with the appliance's.
    const signer = await kioskPage(browser, { width: 375, height: 740 });
    await signer.clock.install({ time: inst.clock.now() });
    await signer.goto(`${origin}${link}`);
    await signer.getByTestId('sign-form').waitFor();
    t.match(await signer.getByTestId('sign-title').textContent(), doc.title, 'the document’s title');
    await signer.locator('[data-testid="pdf-page"][data-page="1"]').waitFor({ timeout: 20_000 });
    const pages = Number(await signer.getByTestId('pdf-pages').getAttribute('data-pages'));
    t.ok(pages >= 1, `the PDF is drawn by pdf.js (${pages} pages)`);
    const width = await signer.locator('[data-testid="pdf-page"][data-page="1"]').evaluate((c) => c.getBoundingClientRect().width);
    t.ok(width > 250 && width <= 375, `page 1 fills the phone’s column (${Math.round(width)} px)`);
    t.ok(await fitsWidth(signer), 'the signing page fits 375 px');
    t.equal(await signer.getByTestId('sign-consent-text').textContent(), (await must('view', call('POST', '/api/sign/view', { headers: {} }, { token: new URLSearchParams(new URL(link, origin).hash.slice(1)).get('t')! }), 200)).consent_text, 'the consent text, word for word');
    await screenshot(signer, 'portal-sign');

    await signer.getByTestId('sign-submit').click();
    await signer.locator('.error-text', { hasText: '请先阅读并勾选签署声明' }).waitFor();
    t.pass('no signing without the consent');
    await signer.getByTestId('sign-consent').check();
    await signer.getByTestId('sign-name').fill('陈 静');
    await signer.getByTestId('sign-submit').click();
    await signer.locator('.error-text', { hasText: '请先获取验证码' }).waitFor();
    t.pass('nor without the code');

    await signer.getByTestId('sign-send-code').click();
    await signer.getByText(/验证码已发送至邮箱 ch\*\*\*@client\.example/).waitFor();
    t.match(await signer.getByTestId('sign-send-code').textContent(), /秒后可重新获取/, 'a new code only after a while');
    t.ok(await until(async () => mails.some((m) => m.to.includes('chenjing@client.example')), 10_000), 'the code arrives by email at the client’s address');
    const code = mailText(mails.find((m) => m.to.includes('chenjing@client.example'))!.raw).match(/验证码为 (\d{6})/)?.[1];
    t.ok(code, 'the mail holds the 6-digit code');
    await signer.getByTestId('sign-code').fill(code === '000000' ? '111111' : '000000');
    await signer.getByTestId('sign-submit').click();
    await signer.locator('.error-text', { hasText: '验证码错误，还可尝试 4 次' }).waitFor();
    t.pass('a wrong code is refused, saying how many tries are left');
    await signer.getByTestId('sign-code').fill(code!);
    await signer.getByTestId('sign-submit').click();
    await signer.getByTestId('sign-done').waitFor();

    const sig = await db.selectFrom('document_signatures').selectAll().where('document_id', '=', doc.id).executeTakeFirstOrThrow();
    const stored = await db.selectFrom('documents').select(['sha256', 'storage_name']).where('id', '=', doc.id).executeTakeFirstOrThrow();
    const evidence = (await signer.getByTestId('sign-evidence').textContent()) ?? '';
    t.match(evidence, /陈静/, 'the evidence names the signer');
    t.ok(evidence.replace(/\s/g, '').includes(stored.sha256), 'and the signed document’s SHA-256');
    t.ok(evidence.replace(/\s/g, '').includes(sig.evidence_sm3), 'and the evidence digest the server keeps');
    t.match(evidence, /一次性签署链接及验证码/, 'and how the signer was authenticated');
    await signer.locator('[data-testid="sign-verified"][data-valid="true"]').waitFor();
    t.pass('the server verifies the signature the client keeps');
    t.match(sig.evidence, { signer: { typed_name: '陈 静' }, consent: { accepted: true } }, 'the server keeps the typed name and the consent');
    await screenshot(signer, 'portal-signed');

    const save = async (testId: string) => {
      const [download] = await Promise.all([signer.waitForEvent('download'), signer.getByTestId(testId).click()]);
      return { name: download.suggestedFilename(), bytes: await readFile((await download.path())!) };
    };
    const pdf = await save('download-document');
    t.match(pdf.name, /\.pdf$/, 'the signed document downloads as a PDF');
    t.equal(createHash('sha256').update(pdf.bytes).digest('hex'), stored.sha256, 'byte for byte the document that was signed');
    const ses = await save('download-signature');
    t.match(ses.name, /\.ses$/, 'the detached signature downloads as .ses');
    t.equal(ses.bytes.toString('base64'), sig.signature_der, 'byte for byte the signature the server holds');
    const check = await call('POST', '/api/signatures/verify', { headers: {} }, { pdf_base64: pdf.bytes.toString('base64'), signature_base64: ses.bytes.toString('base64') });
    t.equal(check.body.valid, true, 'the two files the client keeps verify');

    await signer.reload();
    await signer.getByTestId('sign-ended').waitFor();
    t.match(await text(signer), /此文书已签署/, 'the link cannot sign twice, and says so');
    t.same(scriptErrors(signer), [], 'no script errors');
    await signer.context().close();
  });

  t.test('signing out ends the session: the next visit asks for a code again', async (t) => {
    const token = (await desktop.context().cookies()).find((c) => c.name === 'lawbox_portal')!.value;
    await desktop.goto(`${origin}/portal/`);
    await desktop.getByTestId('portal-leave').click();
    await desktop.getByTestId('portal-entry').waitFor();
    const me = await call('GET', '/api/portal/me', { headers: { authorization: `Bearer ${token}` } });
    t.equal(me.status, 401, 'the server no longer takes the old session');
    await desktop.reload();
    await desktop.getByTestId('portal-entry').waitFor();
    t.pass('a reload stays on the code entry');

    // A session that ended elsewhere (the lawyer revoked it): the next request explains what happened.
    await phone.goto(`${origin}/portal/`);
    await phone.getByTestId('portal-home').waitFor();
    // Every load of the home page done first: one still in flight would meet the revoked session and
    // show the entry before the click below (a race seen on a loaded machine).
    await phone.waitForLoadState('networkidle');
    await must('revoke', call('POST', `/api/clients/${client.id}/portal-revoke`, lawyer, {}), 200);
    await phone.getByTestId('tab-invoices').click();
    await phone.getByTestId('entry-expired').waitFor();
    t.match(await phone.getByTestId('entry-expired').textContent(), /登录已过期或已在其他地方退出/, 'the client is told the session ended, in Chinese');
    await screenshot(phone, 'portal-phone-expired');
    t.same(scriptErrors(desktop), [], 'no script errors on the desktop');
    t.same(scriptErrors(phone), [], 'no script errors on the phone');
  });
}
