import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as pdfjs from 'pdfjs-dist/legacy/build/pdf.mjs';
import { sm2 } from 'sm-crypto-v2';
import t from 'tap';
import { writeSetting } from '../../server/src/db/settings.js';
import { verifyAuditChain } from '../../server/src/modules/audit/service.js';
import { createUser } from '../../server/src/modules/users/service.js';
import { DerError } from '../../server/src/modules/documents/der.js';
import { seedDocumentsDemo } from '../../server/src/modules/documents/demo.js';
import { CONSENT_TEXT } from '../../server/src/modules/documents/esign.js';
import { knownKeys, makeSeal, parseSignature, signDocument, verifyDetached, type SigningKey } from '../../server/src/modules/documents/signature.js';
import { deliverPending } from '../../server/src/modules/notifications/service.js';
import { until } from '../helpers/devices.js';
import { mulberry32 } from '../helpers/fuzz.js';
import { createTestInstance, isErrorShape, loginToken, signedIn, STRONG_PASSWORD } from '../helpers/instance.js';
import { mailText, startSmtpPeer } from '../helpers/smtp.js';

/**
 * Online signing end to end over HTTP (Z5.4.2): the one-time link, the optional code by email (a real
 * SMTP server on loopback), the evidence, the detached SM2 signature (GB/T 38540 structure) and its
 * public verification, with tamper checks on every byte and a fuzzed verification endpoint.
 */
const dataDir = await mkdtemp(path.join(tmpdir(), 'lawbox-esign-'));
t.teardown(() => rm(dataDir, { recursive: true, force: true }));
const inst = await createTestInstance(t, { env: { LAWBOX_DATA_DIR: dataDir } });
const { ctx } = inst;
const db = ctx.db;


type As = { headers: Record<string, string> } | null;
const call = (method: 'GET' | 'POST' | 'PUT', url: string, as: As, payload?: object, headers: Record<string, string> = {}) =>
  inst.app.inject({ method, url, headers: { ...(as?.headers ?? {}), ...headers }, ...(payload ? { payload } : {}) });

const smtp = await startSmtpPeer(t);
const mails = smtp.mails;

const tokenOf = (link: string) => new URLSearchParams(new URL(link, 'http://x.invalid').hash.slice(1)).get('t')!;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

// Our own people and matters from here on.
await writeSetting(db, 'firm', { name: '测试明衡律师事务所', address: '北京市朝阳区建国路 88 号' });
const lawyer = await signedIn(inst, 'lawyer');
const otherLawyer = await signedIn(inst, 'lawyer');
const itAdmin = await signedIn(inst, 'it_admin');
const contractTemplate = ((await call('GET', '/api/templates', lawyer)).json() as { id: number; key: string }[]).find((x) => x.key === 'service-contract')!.id;

// The demo's documents need what the demo firm has: lawyer.zhang and his matter for 北京华信科技有限公司.
await createUser(ctx, { userId: null, username: 'test', role: null, sourceIp: null }, { username: 'lawyer.zhang', displayName: '张伟明', role: 'lawyer', password: STRONG_PASSWORD, mustChangePassword: false });
const zhang = { headers: { authorization: `Bearer ${await loginToken(inst, 'lawyer.zhang')}` } };
const demoMatter = await call('POST', '/api/matters', zhang, {
  title: '北京华信科技有限公司诉上海瑞丰国际贸易有限公司买卖合同纠纷',
  type: 'civil',
  cause: '买卖合同纠纷',
  court: '北京市朝阳区人民法院',
  stage: '一审',
  fee_arrangement: 'fixed',
  fee_amount: '80000.00',
  parties: [
    { role: 'client', kind: 'organization', name: '北京华信科技有限公司', uscc: '91110105MA01ABCD13', legal_representative: '李建国' },
    { role: 'opposing', kind: 'organization', name: '上海瑞丰国际贸易有限公司', uscc: '91310115MA1K4XYR2X' },
  ],
});
if (demoMatter.statusCode !== 201) throw new Error(demoMatter.body);
// Seeded before anything else is made (subtests run after all this setup).
const seeded = await seedDocumentsDemo(ctx);
const demoDocs = await db.selectFrom('documents').select(['id', 'title']).orderBy('id').execute();
const demoSignatures = await db.selectFrom('document_signatures').select(['document_id', 'kind']).execute();

let matterSeq = 0;
/** A matter for a client, and its contract generated. */
async function contractFor(client: { name: string; id_number?: string; phone?: string }): Promise<{ matterId: number; docId: number; sha256: string }> {
  const m = await call('POST', '/api/matters', lawyer, {
    title: `${client.name}合同纠纷 ${++matterSeq}`,
    type: 'civil',
    cause: '合同纠纷',
    court: '北京市海淀区人民法院',
    stage: '一审',
    fee_arrangement: 'fixed',
    fee_amount: '50000.00',
    parties: [{ role: 'client', kind: 'person', ...client }],
  });
  if (m.statusCode !== 201) throw new Error(m.body);
  const d = await call('POST', `/api/matters/${m.json().id}/documents`, lawyer, { template_id: contractTemplate });
  if (d.statusCode !== 201) throw new Error(d.body);
  return { matterId: m.json().id, docId: d.json().id, sha256: d.json().sha256 };
}
async function sendForSignature(docId: number): Promise<{ token: string; requestId: number; body: Record<string, any> }> {
  const res = await call('POST', `/api/documents/${docId}/signature-requests`, lawyer, {});
  if (res.statusCode !== 201) throw new Error(res.body);
  return { token: tokenOf(res.json().link), requestId: res.json().request.id, body: res.json() };
}
const complete = (token: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
  call('POST', '/api/sign/complete', null, { token, consent: true, consent_text: CONSENT_TEXT, typed_name: '陈静', ...extra }, headers);

const chen = await contractFor({ name: '陈静', id_number: '11010519491231002x', phone: '13812341999' });
let signed: { signature_base64: string; signed_at: string; signature_id: number } = { signature_base64: '', signed_at: '', signature_id: 0 };
let original = Buffer.alloc(0);

t.test('the demo: a signed contract with its e-seal applied for, and a risk notice waiting with its link', async (t) => {
  t.match(seeded?.signLink, /^\/portal\/sign#t=[A-Za-z0-9_-]{43}$/, 'the open link is returned for printing');
  t.equal(await seedDocumentsDemo(ctx), null, 'a second run adds nothing');
  t.equal(demoDocs.length, 2, 'two documents');
  t.same(demoSignatures, [{ document_id: demoDocs[0]!.id, kind: 'client' }], 'the contract is signed by the client');
  const seal = await db.selectFrom('seal_applications').selectAll().orderBy('id').executeTakeFirstOrThrow();
  t.match(seal, { document_id: demoDocs[0]!.id, status: 'pending', mode: 'electronic', seal_type: 'contract' }, 'its e-seal waits for the director');
  const view = await call('POST', '/api/sign/view', null, { token: tokenOf(seeded!.signLink) });
  t.equal(view.statusCode, 200, 'the printed link opens');
  t.match(view.json().document.title, /风险告知书/, 'on the risk notice');
  t.equal(view.json().signer_name, '李建国', 'to be signed by the company’s legal representative');
});

t.test('the client signs through the one-time link (no code: no channel is on)', async (t) => {
  const { token, body } = await sendForSignature(chen.docId);
  t.match(body.request, { status: 'pending', code_required: false, signer_name: '陈静', phone_masked: '138****1999' }, 'a pending request, no code needed');
  t.match(body.link, /^\/portal\/sign#t=/, 'the link to pass on');
  const notice = await db.selectFrom('notifications').selectAll().where('event', '=', 'signature.request').where('link', '=', body.link).executeTakeFirst();
  t.ok(notice, 'the client is told through the notification outbox, with the link');

  t.equal((await call('POST', '/api/sign/view', null, { token: token.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')) })).json().error.code, 'SIGN_LINK_INVALID', 'a wrong token opens nothing');
  const view = await call('POST', '/api/sign/view', null, { token });
  t.equal(view.statusCode, 200, 'the link opens without signing in');
  t.ok(view.headers['x-ratelimit-limit'], 'the signer’s routes are rate limited');
  const v = view.json();
  original = Buffer.from(v.pdf_base64, 'base64');
  t.equal(sha256(original), chen.sha256, 'the signer gets the document as issued');
  t.match(v, { signer_name: '陈静', code_required: false, consent_text: CONSENT_TEXT, document: { sha256: chen.sha256 } }, 'with what signing asks');
  t.equal((await call('POST', '/api/sign/code', null, { token })).json().error.code, 'CODE_NOT_REQUIRED', 'no code to send');

  t.equal((await complete(token, { consent: false })).json().error.code, 'CONSENT_REQUIRED', 'the consent box must be ticked');
  t.equal((await complete(token, { consent_text: '我同意' })).json().error.code, 'CONSENT_REQUIRED', 'with the consent text as shown');
  t.equal((await complete(token, { typed_name: '陈晶' })).json().error.code, 'NAME_MISMATCH', 'the typed name must be the signer’s');
  t.equal((await complete(token, { smuggled: true })).statusCode, 400, 'unknown fields are refused');

  const done = await complete(token, { typed_name: ' 陈 静 ' }, { 'user-agent': 'Mozilla/5.0 (tap esign test)' });
  t.equal((await db.selectFrom('notifications').select('link').where('id', '=', notice!.id).executeTakeFirstOrThrow()).link, null, 'once signed, the token is wiped from the notice: the database keeps only its hash');
  t.equal(done.statusCode, 200, 'signed (spaces in the typed name do not matter)');
  signed = done.json();
  t.match(signed, { signer_name: '陈静', document_sha256: chen.sha256 }, 'over the document as issued');

  const row = await db.selectFrom('document_signatures').selectAll().where('id', '=', signed.signature_id).executeTakeFirstOrThrow();
  t.match(row, { kind: 'client', source_ip: '127.0.0.1', user_agent: 'Mozilla/5.0 (tap esign test)', document_sha256: chen.sha256 }, 'the evidence: address, device and hash');
  t.match(row.evidence, {
    signer: { name: '陈静', typed_name: '陈 静', id_number_masked: '110105********002X', phone_masked: '138****1999' },
    consent: { accepted: true, text: CONSENT_TEXT },
    authentication: { method: 'one_time_link', code: null },
    network: { ip: '127.0.0.1' },
  }, 'identity masked, consent word for word');
  t.equal(row.signed_at.toISOString(), signed.signed_at, 'with the time');
  const request = await db.selectFrom('signature_requests').selectAll().where('token_hash', '=', createHash('sha256').update(token).digest('hex')).executeTakeFirstOrThrow();
  t.equal(request.status, 'signed', 'the link is used up; only its hash is stored');

  const audit = await db.selectFrom('audit_log').selectAll().execute();
  t.notOk(JSON.stringify(audit).includes(token), 'the token is in no audit record');
  t.ok(audit.some((a) => a.action === 'signature.sign' && a.object === `document:${chen.docId}`), 'the signing is audited');
  const filed = await db.selectFrom('archive_entries').selectAll().where('source', '=', 'document').where('source_id', '=', String(chen.docId)).executeTakeFirstOrThrow();
  t.match(filed, { kind: 'signed_document', matter_id: chen.matterId, sha256: chen.sha256 }, 'the signed document is filed into the matter archive');

  t.equal((await call('POST', '/api/sign/view', null, { token })).json().error.code, 'SIGN_LINK_USED', 'the used link does not open again');
  t.equal((await complete(token)).json().error.code, 'SIGN_LINK_USED', 'nor sign again');
  t.equal((await call('POST', `/api/documents/${chen.docId}/signature-requests`, lawyer, {})).json().error.code, 'ALREADY_SIGNED', 'a signed document is not sent again');
});

t.test('anyone holding the document and the signature can verify it; staff see it with its evidence', async (t) => {
  const res = await call('POST', '/api/signatures/verify', null, { pdf_base64: original.toString('base64'), signature_base64: signed.signature_base64 });
  t.equal(res.statusCode, 200, 'public');
  t.match(res.json(), { valid: true, kind: 'client', signer: '陈静', signed_at: signed.signed_at, registered: true, reasons: [], document: { sha256: chen.sha256 } }, 'valid, naming signer and time');
  t.match(res.json().algorithm, /SM2-with-SM3 \(1\.2\.156\.10197\.1\.501\)/, 'SM2 with SM3');

  const der = Buffer.from(signed.signature_base64, 'base64');
  const parsed = parseSignature(der);
  t.equal(parsed.version, 4, 'an SES_Signature of version 4');
  t.equal(parsed.dataHash, createHash('sm3').update(original).digest('hex'), 'its dataHash is the SM3 of the PDF’s bytes');
  t.match(parsed.propertyInfo, new RegExp(`^lawbox;document=${chen.docId};kind=client;evidence-sm3=[0-9a-f]{64}$`), 'its property names the document and binds the evidence');
  const platform = await db.selectFrom('signing_keys').selectAll().where('purpose', '=', 'platform').executeTakeFirstOrThrow();
  t.equal(parsed.signerKey, platform.public_key, 'signed by the firm’s platform key');
  // An independent check with the library alone: SM2 over the DER TBS_Sign, default user ID.
  const alone = sm2.doVerifySignature(new Uint8Array(parsed.tbs), parsed.signature.toString('hex'), platform.public_key, { der: true, hash: true, userId: '1234567812345678' });
  t.ok(alone, 'sm-crypto-v2 verifies the signature value over TBS_Sign by itself');

  const sigs = (await call('GET', `/api/documents/${chen.docId}/signatures`, lawyer)).json();
  t.match(sigs, [{ id: signed.signature_id, kind: 'client', key: 'platform', verification: { valid: true, reasons: [] }, signature_base64: signed.signature_base64 }], 'staff see it, checked again against the stored PDF');
  t.equal((await call('GET', `/api/documents/${chen.docId}/signatures`, otherLawyer)).statusCode, 404, 'not on the matter: 404');
  const file = await call('GET', `/api/signatures/${signed.signature_id}/file`, lawyer);
  t.ok(file.rawPayload.equals(der), 'the detached signature downloads as DER');

  const copy = await call('GET', `/api/documents/${chen.docId}/signed-pdf`, lawyer);
  t.equal(copy.statusCode, 200, 'the signed copy');
  const pdf = await pdfjs.getDocument({ data: new Uint8Array(copy.rawPayload), disableFontFace: true, useSystemFonts: false, verbosity: 0 }).promise;
  const last = (await (await pdf.getPage(pdf.numPages)).getTextContent()).items.map((i) => ('str' in i ? i.str : '')).join('');
  t.match(last, /电子签署证书/, 'ends with the signature certificate');
  t.match(last, /委托人电子签名：陈静/, 'naming the signer');
  t.ok(last.replace(/\s+/g, '').includes(chen.sha256), 'and the document’s SHA-256');
  t.ok(last.includes(CONSENT_TEXT.slice(0, 20)), 'and the consent');
  const attachments = (await pdf.getAttachments()) as Record<string, { content: Uint8Array }>;
  t.ok(Buffer.from(attachments['original.pdf']!.content).equals(original), 'the original PDF rides along, byte for byte');
  t.ok(Buffer.from(attachments[`signature-${signed.signature_id}.ses`]!.content).equals(der), 'with the detached signature');
  await pdf.destroy();
  t.equal((await call('GET', `/api/documents/${(await contractFor({ name: '孙丽', id_number: '11010519491231002x' })).docId}/signed-pdf`, lawyer)).json().error.code, 'NOT_SIGNED', 'an unsigned document has no signed copy');
});

t.test('tampering: any changed byte of the document or the signature, or a changed time, fails verification', async (t) => {
  const der = Buffer.from(signed.signature_base64, 'base64');
  const keys = await knownKeys(db);
  const verify = async (pdf: Buffer, sig: Buffer) => (await call('POST', '/api/signatures/verify', null, { pdf_base64: pdf.toString('base64'), signature_base64: sig.toString('base64') })).json();

  for (const at of [0, 9, original.length >> 1, original.length - 2]) {
    const pdf = Buffer.from(original);
    pdf[at] ^= 0x01;
    const res = await verify(pdf, der);
    t.equal(res.valid, false, `one bit flipped at byte ${at} of the PDF: invalid`);
    t.same(res.reasons.map((r: { code: string }) => r.code), ['DOCUMENT_CHANGED'], 'because the document changed');
  }
  t.equal((await verify(Buffer.concat([original, Buffer.from('\n')]), der)).valid, false, 'a byte appended to the PDF: invalid');

  // Every byte of the structure, and every 16th of the seal's picture (its bytes are all alike to the checks).
  const picture = [der.indexOf('<svg'), der.indexOf('</svg>') + 6];
  const positions = Array.from({ length: der.length }, (_, i) => i).filter((i) => i < picture[0]! || i >= picture[1]! || (i - picture[0]!) % 16 === 0);
  let caught = 0;
  for (const at of positions) {
    const sig = Buffer.from(der);
    sig[at] ^= 0x01;
    if (!verifyDetached(original, sig, keys).valid) caught++;
    else t.fail(`a bit flipped at byte ${at} of the signature still verifies`);
  }
  t.equal(caught, positions.length, `each of ${positions.length} of the signature’s ${der.length} bytes, flipped, fails`);
  const flipped = Buffer.from(der);
  flipped[der.length - 5] ^= 0x01;
  t.match((await verify(original, flipped)).reasons.map((r: { code: string }) => r.code), ['SIGNATURE_INVALID'], 'a changed signature value: the SM2 check fails');

  // The signing time, moved one second on, with everything else left as it is.
  const time = Buffer.from(`${signed.signed_at.slice(0, 19).replace(/[-T:]/g, '')}Z`, 'ascii');
  const at = der.lastIndexOf(time);
  t.ok(at > 0, 'the signing time is found in the structure');
  const moved = Buffer.from(der);
  const later = new Date(Date.parse(signed.signed_at) + 1000).toISOString();
  Buffer.from(`${later.slice(0, 19).replace(/[-T:]/g, '')}Z`, 'ascii').copy(moved, at);
  const movedCheck = await verify(original, moved);
  t.equal(movedCheck.valid, false, 'a changed signed_at: invalid');
  t.equal(movedCheck.signed_at, later, 'the changed time is read');
  t.ok(movedCheck.reasons.some((r: { code: string }) => r.code === 'SIGNATURE_INVALID'), 'and the signature no longer covers it');

  const renamed = Buffer.from(der);
  const name = Buffer.from('陈静', 'utf8');
  Buffer.from('陈晶', 'utf8').copy(renamed, renamed.indexOf(name));
  const renamedCheck = await verify(original, renamed);
  t.equal(renamedCheck.signer, '陈晶', 'a changed signer name is read');
  t.same(renamedCheck.reasons.map((r: { code: string }) => r.code).sort(), ['NOT_REGISTERED', 'SEAL_SIGNATURE_INVALID', 'SIGNATURE_INVALID'], 'and breaks both the seal and the signature');

  // A forger with a key of their own builds a well-formed signature over the same bytes.
  const pair = sm2.generateKeyPairHex();
  const forged: SigningKey = { id: 0, purpose: 'platform', publicKey: pair.publicKey, privateKey: pair.privateKey, createdAt: new Date(Date.parse(signed.signed_at) - 1000) };
  const seal = makeSeal({ esId: 'forged', type: 2, name: '陈静', createDate: forged.createdAt, validStart: forged.createdAt, validEnd: new Date(Date.parse(signed.signed_at) + 86_400_000) }, forged, forged);
  const forgery = signDocument({ seal, signedAt: new Date(signed.signed_at), document: original, propertyInfo: `lawbox;document=${chen.docId};kind=client;evidence-sm3=${'0'.repeat(64)}`, key: forged });
  const forgeryCheck = await verify(original, forgery);
  t.equal(forgeryCheck.valid, false, 'a signature by a key that is not the firm’s: invalid');
  t.same(forgeryCheck.reasons.map((r: { code: string }) => r.code).sort(), ['NOT_REGISTERED', 'UNKNOWN_SEAL_MAKER', 'UNKNOWN_SIGNER_KEY'], 'for the reasons that matter');

  const other = await contractFor({ name: '陈静', id_number: '11010519491231002x' });
  const otherPdf = (await call('GET', `/api/documents/${other.docId}/pdf`, lawyer)).rawPayload;
  t.same((await verify(otherPdf, der)).reasons.map((r: { code: string }) => r.code), ['DOCUMENT_CHANGED'], 'the signature of one document does not fit another');
});

t.test('the evidence is a record: the database refuses to change or delete it', async (t) => {
  await t.rejects(db.updateTable('document_signatures').set({ signer_name: '某某' }).where('id', '=', signed.signature_id).execute(), 'evidence cannot be changed');
  await t.rejects(db.updateTable('document_signatures').set({ signed_at: new Date() }).where('id', '=', signed.signature_id).execute(), 'nor its time');
  await t.rejects(db.deleteFrom('document_signatures').where('id', '=', signed.signature_id).execute(), 'nor deleted');
  await t.rejects(db.updateTable('signing_keys').set({ public_key: `04${'1'.repeat(128)}` }).execute(), 'a signing key cannot be swapped');
  await t.rejects(db.updateTable('signature_requests').set({ status: 'pending', signed_at: null }).where('status', '=', 'signed').execute(), 'a used link cannot be revived');
  t.equal(Number((await db.selectFrom('document_signatures').select((eb) => eb.fn.countAll().as('n')).where('id', '=', signed.signature_id).executeTakeFirstOrThrow()).n), 1, 'it is still there');
});

t.test('replaced, withdrawn, expired and unknown links are refused', async (t) => {
  const doc = await contractFor({ name: '陈静', id_number: '11010519491231002x' });
  const first = await sendForSignature(doc.docId);
  const second = await sendForSignature(doc.docId);
  t.equal((await call('POST', '/api/sign/view', null, { token: first.token })).json().error.code, 'SIGN_LINK_CANCELLED', 'a new link replaces the old one');
  t.equal((await call('POST', '/api/sign/view', null, { token: first.token })).statusCode, 410, '410 Gone');
  const cancelled = await call('POST', `/api/signature-requests/${second.requestId}/cancel`, lawyer);
  t.equal(cancelled.json().status, 'cancelled', 'the lawyer withdraws a link');
  t.equal((await complete(second.token)).json().error.code, 'SIGN_LINK_CANCELLED', 'a withdrawn link signs nothing');
  t.equal((await call('POST', `/api/signature-requests/${second.requestId}/cancel`, otherLawyer)).statusCode, 404, 'another matter’s lawyer cannot touch it');

  const twice = await contractFor({ name: '陈静', id_number: '11010519491231002x' });
  const link = await sendForSignature(twice.docId);
  const both = await Promise.all([complete(link.token), complete(link.token)]);
  t.same(both.map((r) => r.statusCode).sort(), [200, 410], 'one link used twice at once: one signature, one refusal');
  t.equal((await db.selectFrom('document_signatures').select('id').where('document_id', '=', twice.docId).execute()).length, 1, 'a single signature is recorded');

  const third = await sendForSignature(doc.docId);
  t.equal(new Date(third.body.request.expires_at).getTime() - inst.clock.now().getTime(), 7 * 86_400_000, 'a link lasts 7 days');
  inst.clock.advance(7 * 86_400_000 + 1000);
  // A week on, the staff's sessions have ended too: they sign in again.
  for (const u of [lawyer, otherLawyer, itAdmin]) u.headers.authorization = `Bearer ${await loginToken(inst, u.username)}`;
  t.equal((await call('POST', '/api/sign/view', null, { token: third.token })).json().error.code, 'SIGN_LINK_EXPIRED', 'after 7 days it has expired');
  t.equal((await complete(third.token)).json().error.code, 'SIGN_LINK_EXPIRED', 'and signs nothing');
  const listed = (await call('GET', `/api/documents/${doc.docId}/signature-requests`, lawyer)).json() as { id: number; status: string }[];
  t.same(listed.map((r) => r.status), ['expired', 'cancelled', 'cancelled'], 'the lawyer sees each link’s fate');
  t.equal(await db.selectFrom('document_signatures').select('id').where('document_id', '=', doc.docId).executeTakeFirst(), undefined, 'nothing was signed');
  const unknown = await call('POST', '/api/sign/complete', null, { token: 'A'.repeat(43), consent: true, consent_text: CONSENT_TEXT, typed_name: '陈静' });
  t.equal(unknown.statusCode, 404, 'an unknown token: 404');
  t.ok(isErrorShape(unknown.json()), 'with the error shape');
});

t.test('with the email channel on, signing needs the 6-digit code sent by email, with attempt limits', async (t) => {
  const port = smtp.port;
  const on = await call('PUT', '/api/notifications/channels', itAdmin, {
    email: { enabled: true, events: null, host: '127.0.0.1', port, security: 'none', verify_certificate: true, username: null, password: null, from_address: 'notice@firm.example', from_name: '测试明衡' },
  });
  t.equal(on.statusCode, 200, 'the administrator switches email on');
  const doc = await contractFor({ name: '陈静', id_number: '11010519491231002x', phone: '13812341999' });
  const clientId = (await db.selectFrom('documents').select('client_id').where('id', '=', doc.docId).executeTakeFirstOrThrow()).client_id!;
  await db.updateTable('clients').set({ email: 'chenjing@example.com' }).where('id', '=', clientId).execute();

  const { token, body } = await sendForSignature(doc.docId);
  t.equal(body.request.code_required, true, 'a code is required now that email reaches the client');
  t.same((await call('POST', '/api/sign/view', null, { token })).json().code_channels, ['email ch***@example.com'], 'the signer sees where the code goes, masked');
  t.equal((await complete(token)).json().error.code, 'CODE_EXPIRED', 'no code yet: refused');

  const codeMails = () => mails.filter((m) => m.to.includes('chenjing@example.com') && /验证码为 \d{6}/.test(mailText(m.raw)));
  const newCode = async (seen: number): Promise<string> => {
    const sent = await call('POST', '/api/sign/code', null, { token });
    t.equal(sent.statusCode, 200, 'a code is sent');
    await deliverPending(ctx);
    t.ok(await until(() => codeMails().length > seen), 'it arrives by email');
    return /验证码为 (\d{6})/.exec(mailText(codeMails()[seen]!.raw))![1]!;
  };
  const code = await newCode(0);
  t.equal((await call('POST', '/api/sign/code', null, { token })).json().error.code, 'CODE_TOO_SOON', 'one code a minute');
  const codeNotice = async () => (await db.selectFrom('notifications').select(['body']).where('event', '=', 'signature.code').orderBy('id', 'desc').executeTakeFirstOrThrow()).body;
  t.ok(await until(async () => !(await codeNotice()).includes(code)), 'once sent, the code is gone from the outbox');
  t.equal(await db.selectFrom('notification_deliveries as d').innerJoin('notifications as n', 'n.id', 'd.notification_id').select('d.id').where('n.event', '=', 'signature.code').where('d.channel', '=', 'in_app').executeTakeFirst(), undefined, 'a code never goes to the portal list');

  const wrong = code === '000000' ? '000001' : '000000';
  for (let i = 1; i <= 5; i++) {
    const res = await complete(token, { code: wrong });
    t.equal(res.json().error.code, 'CODE_INVALID', `wrong code ${i}: refused`);
    t.match(res.json().error.message, new RegExp(`${5 - i} tr`), 'saying how many tries are left');
  }
  const failures = await db.selectFrom('signature_requests').select('code_failures').where('token_hash', '=', createHash('sha256').update(token).digest('hex')).executeTakeFirstOrThrow();
  t.equal(failures.code_failures, 5, 'the failed attempts were recorded although each signing failed');
  t.equal((await complete(token, { code })).json().error.code, 'CODE_LOCKED', 'after five, even the right code is refused');

  inst.clock.advance(61_000);
  const fresh = await newCode(1);
  inst.clock.advance(11 * 60_000);
  t.equal((await complete(token, { code: fresh })).json().error.code, 'CODE_EXPIRED', 'a code lasts 10 minutes');
  const last = await newCode(2);
  const done = await complete(token, { code: last });
  t.equal(done.statusCode, 200, 'the right code in time signs');
  const evidence = (await db.selectFrom('document_signatures').select('evidence').where('id', '=', done.json().signature_id).executeTakeFirstOrThrow()).evidence;
  t.match(evidence, { authentication: { code: 'email' }, signer: { email_masked: 'ch***@example.com' } }, 'the evidence says the code went by email');

  // The send limit, on a second document.
  const doc2 = await contractFor({ name: '陈静', id_number: '11010519491231002x' });
  const cid2 = (await db.selectFrom('documents').select('client_id').where('id', '=', doc2.docId).executeTakeFirstOrThrow()).client_id!;
  await db.updateTable('clients').set({ email: 'chen2@example.com' }).where('id', '=', cid2).execute();
  const second = await sendForSignature(doc2.docId);
  for (let i = 0; i < 5; i++) {
    t.equal((await call('POST', '/api/sign/code', null, { token: second.token })).statusCode, 200, `code ${i + 1} sent`);
    inst.clock.advance(61_000);
  }
  t.equal((await call('POST', '/api/sign/code', null, { token: second.token })).json().error.code, 'CODE_SEND_LIMIT', 'five codes per link at most');
  await call('PUT', '/api/notifications/channels', itAdmin, { email: { enabled: false, events: null, host: '127.0.0.1', port, security: 'none', verify_certificate: true, username: null, password: null, from_address: 'notice@firm.example', from_name: '测试明衡' } });
});

t.test('fuzz: the verification endpoint answers garbage with invalid or 400, never a server error', async (t) => {
  const random = mulberry32(0x51a2);
  const der = Buffer.from(signed.signature_base64, 'base64');
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(random() * 256)));
  const inputs: { pdf: string; sig: string }[] = [];
  for (let i = 0; i < 40; i++) inputs.push({ pdf: bytes(1 + Math.floor(random() * 200)).toString('base64'), sig: bytes(1 + Math.floor(random() * 300)).toString('base64') });
  for (let cut = 1; cut < der.length; cut += 37) inputs.push({ pdf: original.toString('base64'), sig: der.subarray(0, cut).toString('base64') });
  for (let i = 0; i < 60; i++) {
    const sig = Buffer.from(der);
    for (let k = 0; k < 1 + Math.floor(random() * 6); k++) sig[Math.floor(random() * sig.length)] = Math.floor(random() * 256);
    inputs.push({ pdf: original.toString('base64'), sig: sig.toString('base64') });
  }
  // Lengths that claim more than there is, indefinite lengths, deep nesting, odd tags.
  for (const hex of ['3080', '3084ffffffff', '30820001', '308100', '1f', '3000', '30023000', '300a' + '3008'.repeat(4), '30'.repeat(50), '0000'])
    inputs.push({ pdf: original.toString('base64'), sig: Buffer.from(hex, 'hex').toString('base64') });
  for (const s of ['!!!!', 'abc', '====', 'YQ', '中文']) inputs.push({ pdf: s, sig: der.toString('base64') });

  let invalid = 0;
  let refused = 0;
  for (const input of inputs) {
    const res = await call('POST', '/api/signatures/verify', null, { pdf_base64: input.pdf, signature_base64: input.sig });
    if (res.statusCode === 200) {
      if (res.json().valid !== false) t.fail(`garbage verified: ${input.sig}`);
      else invalid++;
    } else if (res.statusCode === 400 && isErrorShape(res.json())) refused++;
    else t.fail(`${res.statusCode} for ${JSON.stringify(input).slice(0, 200)}: ${res.body.slice(0, 200)}`);
  }
  t.equal(invalid + refused, inputs.length, `all ${inputs.length} answered: ${invalid} invalid, ${refused} refused as malformed input`);

  // The DER reader itself, on many more mutations: it reads a signature or throws DerError, nothing else.
  let other = 0;
  for (let i = 0; i < 5000; i++) {
    const sig = Buffer.from(der.subarray(0, Math.floor(random() * (der.length + 1))));
    for (let k = 0; k < Math.floor(random() * 4); k++) if (sig.length) sig[Math.floor(random() * sig.length)] = Math.floor(random() * 256);
    try {
      parseSignature(sig);
    } catch (err) {
      if (!(err instanceof DerError)) other++;
    }
  }
  t.equal(other, 0, 'the DER reader throws nothing but DerError');
  t.match(await verifyAuditChain(db), { ok: true }, 'the audit chain holds');
});
