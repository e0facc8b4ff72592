import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as pdfjs from 'pdfjs-dist/legacy/build/pdf.mjs';
import { sm3 } from 'sm-crypto-v2';
import t from 'tap';
import { writeSetting } from '../../server/src/db/settings.js';
import { AppError } from '../../server/src/errors.js';
import { renderDocumentPdf } from '../../server/src/modules/documents/pdf.js';
import { documentLayout } from '../../server/src/modules/documents/service.js';
import { amountInWords, parseTemplate, TEMPLATE_VARIABLES } from '../../server/src/modules/documents/template.js';
import { mulberry32 } from '../helpers/fuzz.js';
import { createTestInstance, isErrorShape, signedIn } from '../helpers/instance.js';

/**
 * Templates, PDF documents and seal-use applications (Z5.4.1) over HTTP on a real database: built-in
 * Chinese templates, variable checks when saving and when rendering, versions that never change,
 * PDFs with the CJK font embedded whose bytes are the same for the same input, and the director's
 * decisions on seal applications with the firm's e-seal.
 */
const dataDir = await mkdtemp(path.join(tmpdir(), 'lawbox-documents-'));
t.teardown(() => rm(dataDir, { recursive: true, force: true }));
const inst = await createTestInstance(t, { env: { LAWBOX_DATA_DIR: dataDir } });
const db = inst.ctx.db;
await writeSetting(db, 'firm', { name: '测试明衡律师事务所', address: '北京市朝阳区建国路 88 号' });

type As = { headers: Record<string, string> } | null;
const call = (method: 'GET' | 'POST', url: string, as: As, payload?: object) => inst.app.inject({ method, url, headers: as?.headers ?? {}, ...(payload ? { payload } : {}) });

const lawyer = await signedIn(inst, 'lawyer');
const otherLawyer = await signedIn(inst, 'lawyer');
const intern = await signedIn(inst, 'intern');
const director = await signedIn(inst, 'director');
const adminStaff = await signedIn(inst, 'admin_staff');
const finance = await signedIn(inst, 'finance');

async function matter(body: object): Promise<{ id: number; number: string }> {
  const res = await call('POST', '/api/matters', lawyer, body);
  if (res.statusCode !== 201) throw new Error(`matter not created: ${res.body}`);
  return res.json();
}
const loan = await matter({
  title: '陈静诉李强民间借贷纠纷',
  type: 'civil',
  cause: '民间借贷纠纷',
  court: '北京市朝阳区人民法院',
  stage: '一审',
  fee_arrangement: 'fixed',
  fee_amount: '30000.00',
  team_ids: [intern.id],
  parties: [
    { role: 'client', kind: 'person', name: '陈静', id_number: '11010519491231002x', phone: '13812341999' },
    { role: 'opposing', kind: 'person', name: '李强' },
  ],
});
// No court and no fee yet: templates that need them cannot be filled in.
const sparse = await matter({ title: '周敏咨询', type: 'consultation', parties: [{ role: 'client', kind: 'person', name: '周敏' }] });

const templates = (await call('GET', '/api/templates', lawyer)).json() as { id: number; key: string; builtin: boolean; latest_version: number }[];
const builtin = (key: string) => templates.find((x) => x.key === key)!;

async function pdfText(pdf: Buffer): Promise<string> {
  const doc = await pdfjs.getDocument({ data: new Uint8Array(pdf), disableFontFace: true, useSystemFonts: false, verbosity: 0 }).promise;
  let text = '';
  for (let n = 1; n <= doc.numPages; n++) text += (await (await doc.getPage(n)).getTextContent()).items.map((i) => ('str' in i ? i.str : '')).join('');
  await doc.destroy();
  return text;
}
const documentsOnDisk = async () => (await readdir(path.join(dataDir, 'documents')).catch(() => [] as string[])).sort();
const documentCount = async () => Number((await db.selectFrom('documents').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);

t.test('the built-in templates are there, in Chinese, for whoever drafts documents', async (t) => {
  t.same(templates.filter((x) => x.builtin).map((x) => x.key).sort(), ['intake-record', 'risk-notice', 'service-contract'], 'contract, risk notice and intake record');
  const contract = (await call('GET', `/api/templates/${builtin('service-contract').id}`, lawyer)).json();
  t.equal(contract.kind, 'service_contract', 'the contract is a service contract');
  t.equal(contract.versions.length, 1, 'version 1');
  t.match(contract.versions[0].body, /委托代理合同[\s\S]*律师费/, 'the contract text is Chinese and covers the fee');
  t.ok(contract.versions[0].variables.includes('client.name') && contract.versions[0].variables.includes('fee.amount_upper'), 'its variables are listed');
  const variables = (await call('GET', '/api/templates/variables', intern)).json() as { name: string }[];
  t.same(variables.map((v) => v.name).sort(), Object.keys(TEMPLATE_VARIABLES).sort(), 'the variable catalogue is served');
  t.equal((await call('GET', '/api/templates', finance)).statusCode, 403, 'finance does not draft documents');
  t.equal((await call('GET', '/api/templates', null)).statusCode, 401, 'anonymous callers are asked to sign in');
});

t.test('a template with an unknown variable or a malformed placeholder is refused when saved, naming where', async (t) => {
  const base = { key: 'engagement-letter', name: '聘请律师函', kind: 'custom', title: '聘请律师函 {{matter.number}}' };
  const unknown = await call('POST', '/api/templates', adminStaff, { ...base, body: '致：{{client.name}}\n委托事项：{{client.nmae}}' });
  t.equal(unknown.statusCode, 400, 'unknown variable → 400');
  t.equal(unknown.json().error.code, 'TEMPLATE_UNKNOWN_VARIABLE', 'stable code');
  t.match(unknown.json().error.message, /client\.nmae[\s\S]*line 2, column 6/, 'the message names the variable and where it is');
  const cases: [string, string][] = [
    ['{{client.name', 'an unclosed placeholder'],
    ['甲方 }} 乙方', 'a stray closing brace'],
    ['{{client name}}', 'a name with a space'],
    ['{{ {{client.name}} }}', 'nested braces'],
    ['{{}}', 'an empty placeholder'],
  ];
  for (const [body, what] of cases) {
    const res = await call('POST', '/api/templates', adminStaff, { ...base, body });
    t.equal(res.statusCode, 400, `${what} → 400`);
    t.equal(res.json().error.code, 'TEMPLATE_SYNTAX', `${what}: TEMPLATE_SYNTAX`);
  }
  const badTitle = await call('POST', '/api/templates', adminStaff, { ...base, title: '{{matter.no}}', body: '正文' });
  t.match(badTitle.json().error.message, /title: unknown variable \{\{matter\.no\}\}/, 'the title is checked too');
  t.equal(await db.selectFrom('document_templates').select('id').where('key', '=', base.key).executeTakeFirst(), undefined, 'nothing was saved');
  t.equal((await call('POST', '/api/templates', lawyer, { ...base, body: '正文' })).statusCode, 403, 'a lawyer may not manage templates');
});

t.test('versions: a new version never changes an old one, and each document names its version', async (t) => {
  const made = await call('POST', '/api/templates', adminStaff, { key: 'engagement-letter', name: '聘请律师函', kind: 'custom', title: '聘请律师函 {{matter.number}}', body: '# 聘请律师函\n致：{{client.name}}\n第一版正文。' });
  t.equal(made.statusCode, 201, 'created');
  const id = made.json().id as number;
  t.same(made.json().versions.map((v: { version: number }) => v.version), [1], 'at version 1');
  t.equal((await call('POST', '/api/templates', adminStaff, { key: 'engagement-letter', name: 'x', kind: 'custom', title: 'x', body: 'x' })).json().error.code, 'TEMPLATE_KEY_TAKEN', 'a key is used once');

  const v2 = await call('POST', `/api/templates/${id}/versions`, adminStaff, { title: '聘请律师函 {{matter.number}}', body: '# 聘请律师函\n致：{{client.name}}\n第二版正文，承办律师 {{lawyer.name}}。', note: '增加承办律师' });
  t.equal(v2.statusCode, 201, 'version 2 saved');
  t.equal(v2.json().version, 2, 'numbered 2');
  t.same(v2.json().variables, ['matter.number', 'client.name', 'lawyer.name'], 'its variables in order of use');
  const v1 = (await call('GET', `/api/templates/${id}/versions/1`, lawyer)).json();
  t.match(v1.body, /第一版正文/, 'version 1 reads as it did');
  t.notMatch(v1.body, /第二版/, 'untouched by version 2');

  const fromLatest = await call('POST', `/api/matters/${loan.id}/documents`, lawyer, { template_id: id });
  const fromV1 = await call('POST', `/api/matters/${loan.id}/documents`, lawyer, { template_id: id, version: 1 });
  t.equal(fromLatest.statusCode, 201, 'generated from the latest');
  t.equal(fromLatest.json().template.version, 2, 'the document names version 2');
  t.equal(fromV1.json().template.version, 1, 'an older version on request, named as such');
  const latestText = await pdfText((await call('GET', `/api/documents/${fromLatest.json().id}/pdf`, lawyer)).rawPayload);
  const v1Text = await pdfText((await call('GET', `/api/documents/${fromV1.json().id}/pdf`, lawyer)).rawPayload);
  t.match(latestText, /第二版正文/, 'the latest document has the new text');
  t.match(v1Text, /第一版正文/, 'the version-1 document has the old text');
  t.equal((await call('POST', `/api/matters/${loan.id}/documents`, lawyer, { template_id: id, version: 9 })).statusCode, 404, 'a version that does not exist → 404');

  await t.rejects(db.updateTable('document_template_versions').set({ body: '改写' }).where('template_id', '=', id).where('version', '=', 1).execute(), 'the database refuses to change a saved version');
  await t.rejects(db.deleteFrom('document_template_versions').where('template_id', '=', id).execute(), 'or to delete one');
});

let contractId = 0;
t.test('a contract is rendered with the CJK font embedded; its Chinese text reads back', async (t) => {
  const res = await call('POST', `/api/matters/${loan.id}/documents`, lawyer, { template_id: builtin('service-contract').id });
  t.equal(res.statusCode, 201, 'generated');
  const doc = res.json();
  contractId = doc.id;
  t.match(doc, { matter: { id: loan.id, number: loan.number }, client: { name: '陈静' }, template: { key: 'service-contract', version: 1 }, signatures: { client: 0, firm_seal: 0 } }, 'the document names its matter, client and template version');
  t.equal(doc.title, `委托代理合同 ${loan.number}`, 'its title is the template’s, filled in');

  const pdf = await call('GET', `/api/documents/${doc.id}/pdf`, intern);
  t.equal(pdf.statusCode, 200, 'a team member downloads it');
  t.equal(pdf.headers['content-type'], 'application/pdf', 'as a PDF');
  const bytes = pdf.rawPayload;
  t.equal(createHash('sha256').update(bytes).digest('hex'), doc.sha256, 'its SHA-256 is the recorded one');
  t.equal(pdf.headers['x-content-sha256'], doc.sha256, 'and is sent with it');
  t.equal(sm3(new Uint8Array(bytes)), doc.sm3, 'its SM3 is the recorded one (checked with sm-crypto-v2)');
  t.equal(bytes.subarray(0, 5).toString('latin1'), '%PDF-', 'a PDF file');

  const raw = bytes.toString('latin1');
  t.ok(raw.includes('/FontFile2'), 'a TrueType font program is embedded');
  t.match(raw, /\/BaseFont \/[A-Z]{6}\+NotoSansSC/, 'the subset of Noto Sans SC');
  const text = await pdfText(bytes);
  t.match(text, /委托代理合同/, 'the heading reads back');
  t.match(text, /委托人（甲方）：陈静/, 'the client’s name is in it');
  t.ok(text.includes(loan.number), 'so is the matter number');
  t.match(text, /人民币30,000\.00元（人民币叁万元整）/, 'the fee in figures and in capitals');
  t.match(text, /110105\*{8}002X/, 'the ID number is masked');
  t.notMatch(text, /19491231/, 'the birth date in the ID number is not printed');
  t.match(text, /测试明衡律师事务所/, 'the firm’s name comes from the settings');
});

t.test('the same input gives the same bytes, so a stored document can be checked by rendering it again', async (t) => {
  const layout = { title: '合同', body: '# 委托代理合同\n甲方：陈静\n\n## 第一条\n正文。', createdAt: new Date('2026-03-01T02:00:00Z'), footer: '文书编号 D1' };
  const a = await renderDocumentPdf(layout);
  const b = await renderDocumentPdf(layout);
  t.ok(a.equals(b), 'two renderings are byte for byte the same');
  const later = await renderDocumentPdf({ ...layout, createdAt: new Date('2026-03-01T02:00:01Z') });
  t.notOk(a.equals(later), 'a different creation time gives different bytes (the check can fail)');
  const changed = await renderDocumentPdf({ ...layout, body: layout.body.replace('陈静', '陈晶') });
  t.notOk(a.equals(changed), 'so does one changed character');

  const stored = await db.selectFrom('documents as d').innerJoin('matters as m', 'm.id', 'd.matter_id').selectAll('d').select('m.number as matter_number').where('d.id', '=', contractId).executeTakeFirstOrThrow();
  const again = await renderDocumentPdf(await documentLayout(db, stored));
  t.equal(createHash('sha256').update(again).digest('hex'), stored.sha256, 'rendering the stored document again gives its recorded hash');
});

t.test('LAWBOX_PDF_FONT names another TrueType font; one that cannot be read is a clear error', async (t) => {
  const layout = { title: '合同', body: '甲方：陈静', createdAt: new Date('2026-03-01T02:00:00Z'), footer: 'D1' };
  const fallback = await renderDocumentPdf(layout);
  process.env.LAWBOX_PDF_FONT = path.join(dataDir, 'missing-font.ttf');
  t.teardown(() => {
    delete process.env.LAWBOX_PDF_FONT;
  });
  await t.rejects(renderDocumentPdf(layout), /missing-font\.ttf cannot be read \(LAWBOX_PDF_FONT\)/, 'a missing font is named');
  const noto = path.join(dataDir, 'copy-of-noto.ttf');
  await writeFile(noto, await readFile(createRequire(import.meta.url).resolve('@expo-google-fonts/noto-sans-sc/400Regular/NotoSansSC_400Regular.ttf')));
  process.env.LAWBOX_PDF_FONT = noto;
  t.ok((await renderDocumentPdf(layout)).equals(fallback), 'a font file named by the variable is used (the same font gives the same bytes)');
  delete process.env.LAWBOX_PDF_FONT;
  t.ok((await renderDocumentPdf(layout)).equals(fallback), 'unset, the bundled Noto Sans SC is used again');
});

t.test('a variable without a value in the matter is a 400 naming it, and nothing is stored', async (t) => {
  const before = { rows: await documentCount(), files: await documentsOnDisk() };
  const res = await call('POST', `/api/matters/${sparse.id}/documents`, lawyer, { template_id: builtin('intake-record').id });
  t.equal(res.statusCode, 400, '400');
  t.ok(isErrorShape(res.json()), 'the API’s error shape');
  t.equal(res.json().error.code, 'TEMPLATE_VALUE_MISSING', 'stable code');
  t.match(res.json().error.message, /\{\{matter\.court\}\}/, 'names the court');
  t.match(res.json().error.message, /\{\{fee\.amount\}\}/, 'and the fee');
  t.match(res.json().error.message, /受理机关/, 'in Chinese too');
  t.same({ rows: await documentCount(), files: await documentsOnDisk() }, before, 'no row and no file were left');
  t.equal((await call('POST', `/api/matters/${sparse.id}/documents`, lawyer, { template_id: builtin('intake-record').id, client_id: 999_999 })).json().error.code, 'NOT_A_CLIENT_OF_MATTER', 'a client of another matter is refused');
});

t.test('documents follow their matter’s visibility; they are records the database keeps', async (t) => {
  t.equal((await call('GET', `/api/documents/${contractId}`, otherLawyer)).statusCode, 404, 'a lawyer not on the matter gets 404');
  t.equal((await call('GET', `/api/documents/${contractId}/pdf`, otherLawyer)).statusCode, 404, 'and no PDF');
  t.equal((await call('POST', `/api/matters/${loan.id}/documents`, otherLawyer, { template_id: builtin('risk-notice').id })).statusCode, 404, 'nor may generate one');
  t.equal((await call('GET', `/api/documents/${contractId}`, director)).statusCode, 200, 'the director sees every matter’s documents');
  const list = (await call('GET', `/api/matters/${loan.id}/documents`, intern)).json() as { id: number }[];
  t.ok(list.some((d) => d.id === contractId), 'listed for the team');
  t.equal((await call('POST', `/api/matters/${loan.id}/documents`, intern, { template_id: builtin('risk-notice').id, smuggled: 1 })).statusCode, 400, 'unknown fields are refused');

  await t.rejects(db.updateTable('documents').set({ title: '改' }).where('id', '=', contractId).execute(), 'a document row cannot be changed');
  await t.rejects(db.deleteFrom('documents').where('id', '=', contractId).execute(), 'or deleted');
  const files = await documentsOnDisk();
  t.ok(files.length > 0 && files.every((f) => /^d\d+-[0-9a-f]{16}\.pdf$/.test(f)), 'only whole PDFs in the store: no temporary files are left');
});

t.test('a stored PDF changed on disk is refused, not handed out', async (t) => {
  const row = await db.selectFrom('documents').select('storage_name').where('id', '=', contractId).executeTakeFirstOrThrow();
  const file = path.join(dataDir, 'documents', row.storage_name);
  const good = await readFile(file);
  const bad = Buffer.from(good);
  bad[bad.length >> 1] ^= 0x01;
  await writeFile(file, bad);
  const res = await call('GET', `/api/documents/${contractId}/pdf`, lawyer);
  t.equal(res.statusCode, 500, '500');
  t.equal(res.json().error.code, 'DOCUMENT_FILE_DAMAGED', 'says the file is damaged');
  await writeFile(file, good);
  t.equal((await call('GET', `/api/documents/${contractId}/pdf`, lawyer)).statusCode, 200, 'restored, it is served again');
});

t.test('seal applications: applied for by the lawyer, decided by the director, kept and filed', async (t) => {
  const apply = (as: As, body: object) => call('POST', `/api/matters/${loan.id}/seal-applications`, as, body);
  const paper = await apply(lawyer, { document_id: contractId, seal_type: 'official', mode: 'physical', purpose: '委托代理合同盖章，交委托人一份', copies: 2 });
  t.equal(paper.statusCode, 201, 'applied');
  t.match(paper.json(), { status: 'pending', seal_label: '公章', copies: 2, title: `委托代理合同 ${loan.number}`, applied_by: { id: lawyer.id } }, 'pending, titled after the document');
  const id = paper.json().id as number;

  t.equal((await apply(lawyer, { seal_type: 'letter', mode: 'electronic', purpose: '律师函', copies: 1 })).json().error.code, 'DOCUMENT_REQUIRED', 'an electronic seal needs a document');
  t.equal((await apply(otherLawyer, { document_id: contractId, seal_type: 'official', mode: 'physical', purpose: 'x', copies: 1 })).statusCode, 404, 'not on the matter: 404');
  t.equal((await call('POST', `/api/seal-applications/${id}/decision`, lawyer, { decision: 'approve' })).statusCode, 403, 'a lawyer cannot approve');

  const queue = (await call('GET', '/api/seal-applications?status=pending', director)).json() as { id: number }[];
  t.ok(queue.some((s) => s.id === id), 'in the director’s queue');
  t.equal((await call('POST', `/api/seal-applications/${id}/decision`, director, { decision: 'reject' })).json().error.code, 'NOTE_REQUIRED', 'a rejection says why');

  const approved = await call('POST', `/api/seal-applications/${id}/decision`, director, { decision: 'approve', note: '同意' });
  t.equal(approved.statusCode, 200, 'approved');
  t.match(approved.json(), { status: 'approved', decided_by: { id: director.id }, decision_note: '同意', signature_id: null }, 'recorded with who decided; paper seals make no signature');
  t.equal((await call('POST', `/api/seal-applications/${id}/decision`, director, { decision: 'reject', note: '改主意' })).json().error.code, 'ALREADY_DECIDED', 'decided once');
  const filed = await db.selectFrom('archive_entries').selectAll().where('source', '=', 'seal_application').where('source_id', '=', String(id)).executeTakeFirst();
  t.match(filed, { matter_id: loan.id, kind: 'seal_application' }, 'filed into the matter’s archive');
  t.match(filed?.title, /公章/, 'titled with the seal');
  const listed = (await call('GET', `/api/matters/${loan.id}/seal-applications`, intern)).json() as { id: number; status: string }[];
  t.ok(listed.some((s) => s.id === id && s.status === 'approved'), 'listed on the matter for the team');
  const audit = await db.selectFrom('audit_log').select(['action', 'actor']).where('object', '=', `seal_application:${id}`).orderBy('seq').execute();
  t.same(audit.map((a) => a.action), ['seal.apply', 'seal.approve'], 'both steps audited');

  await t.rejects(db.updateTable('seal_applications').set({ copies: 5 }).where('id', '=', id).execute(), 'a decided application cannot be changed');
  await t.rejects(db.deleteFrom('seal_applications').where('id', '=', id).execute(), 'or deleted');

  const own = await apply(director, { document_id: contractId, seal_type: 'contract', mode: 'physical', purpose: '主任自用', copies: 1 });
  t.equal((await call('POST', `/api/seal-applications/${own.json().id}/decision`, director, { decision: 'approve' })).json().error.code, 'OWN_APPLICATION', 'nobody approves their own application');
});

t.test('an approved electronic seal application signs the document with the firm’s seal key', async (t) => {
  const app = await call('POST', `/api/matters/${loan.id}/seal-applications`, lawyer, { document_id: contractId, seal_type: 'contract', mode: 'electronic', purpose: '合同专用章（电子）', copies: 1 });
  const decided = await call('POST', `/api/seal-applications/${app.json().id}/decision`, director, { decision: 'approve' });
  t.equal(decided.statusCode, 200, 'approved');
  const signatureId = decided.json().signature_id as number;
  t.ok(signatureId > 0, 'the e-seal signature is recorded with the application');
  const sigs = (await call('GET', `/api/documents/${contractId}/signatures`, lawyer)).json() as { id: number; kind: string; key: string; signer_name: string; signature_base64: string; verification: { valid: boolean } }[];
  const seal = sigs.find((s) => s.id === signatureId)!;
  t.match(seal, { kind: 'firm_seal', key: 'seal:contract', signer_name: '测试明衡律师事务所合同专用章', verification: { valid: true } }, 'signed by the contract seal’s key, and it verifies');
  const pdf = (await call('GET', `/api/documents/${contractId}/pdf`, lawyer)).rawPayload;
  const check = await call('POST', '/api/signatures/verify', null, { pdf_base64: pdf.toString('base64'), signature_base64: seal.signature_base64 });
  t.match(check.json(), { valid: true, kind: 'firm_seal', registered: true, reasons: [] }, 'anyone can verify it');
  const filed = await db.selectFrom('archive_entries').selectAll().where('source', '=', 'document').where('source_id', '=', String(contractId)).executeTakeFirstOrThrow();
  t.match(filed, { kind: 'signed_document', sha256: (await db.selectFrom('documents').select('sha256').where('id', '=', contractId).executeTakeFirstOrThrow()).sha256 }, 'the sealed document is filed with its hash');
  t.match(filed.title, /律所盖章/, 'its title says the firm sealed it');
});

t.test('amounts in Chinese capitals', async (t) => {
  const cases: [string, string][] = [
    ['80000.00', '人民币捌万元整'],
    ['30000', '人民币叁万元整'],
    ['1260000.50', '人民币壹佰贰拾陆万元伍角'],
    ['10001', '人民币壹万零壹元整'],
    ['1010.05', '人民币壹仟零壹拾元零伍分'],
    ['100000000', '人民币壹亿元整'],
    ['0.3', '人民币叁角'],
    ['0', '人民币零元整'],
    ['200000', '人民币贰拾万元整'],
  ];
  for (const [amount, words] of cases) t.equal(amountInWords(amount), words, `${amount} → ${words}`);
  t.throws(() => amountInWords('1,000'), 'a formatted amount is refused');
});

t.test('fuzz: the template parser either reads a template back exactly or refuses it with a 400', async (t) => {
  const random = mulberry32(0x7e3a1);
  const alphabet = ['{', '{', '}', '}', 'a', 'z', '_', '.', '\n', '甲', '：', '{{client.name}}', '{{matter.number}}', '{{x.y}}', 'matter', 'client', 'name', '{{'];
  const codes = new Set<string>();
  let parsed = 0;
  for (let i = 0; i < 3000; i++) {
    const length = Math.floor(random() * 20);
    const source = Array.from({ length }, () => alphabet[Math.floor(random() * alphabet.length)]!).join('');
    try {
      const segments = parseTemplate(source);
      parsed++;
      const back = segments.map((s) => ('text' in s ? s.text : `{{${s.variable}}}`)).join('');
      if (back !== source) t.fail(`round trip of ${JSON.stringify(source)} gave ${JSON.stringify(back)}`);
    } catch (err) {
      if (!(err instanceof AppError) || err.statusCode !== 400) t.fail(`${JSON.stringify(source)}: ${String(err)}`);
      else codes.add(err.code);
    }
  }
  t.ok(parsed > 100, `many inputs parse (${parsed})`);
  t.same([...codes].sort(), ['TEMPLATE_SYNTAX', 'TEMPLATE_UNKNOWN_VARIABLE'], 'and the others are refused with one of the two codes');
});
