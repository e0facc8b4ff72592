import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import t from 'tap';
import { samplePng, sampleWav, seedArchiveDemo } from '../../server/src/modules/archive/demo.js';
import { fileToArchive } from '../../server/src/modules/archive/filing.js';
import { sniff, SNIFF_BYTES } from '../../server/src/modules/archive/magic.js';
import { parseRange } from '../../server/src/modules/archive/range.js';
import { archiveJobs, displayName, processFilesDir } from '../../server/src/modules/archive/service.js';
import { MEDIA_KINDS } from '../../server/src/modules/archive/tables.js';
import { samplePdf } from '../../server/src/modules/meetings/demo.js';
import { mulberry32 } from '../helpers/fuzz.js';
import { createTestInstance, isErrorShape, signedIn } from '../helpers/instance.js';

/**
 * The matter archive (Z6.3.5) and the process archive (Z5.5.3): filing from other modules, listing
 * with camera recordings, streamed uploads checked by size, hash and magic bytes that leave nothing
 * behind when they fail (including a client that hangs up halfway), and ranged downloads.
 */
const dataDir = t.testdir();
const inst = await createTestInstance(t, { env: { LAWBOX_DATA_DIR: dataDir } });
const { app, ctx } = inst;
const db = ctx.db;
await app.listen({ host: '127.0.0.1', port: 0 });
const port = (app.server.address() as AddressInfo).port;

const owner = await signedIn(inst, 'lawyer');
const outsider = await signedIn(inst, 'lawyer');
const director = await signedIn(inst, 'director');
const itAdmin = await signedIn(inst, 'it_admin');
type As = { headers: { authorization: string } };
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function newMatter(as: As, title: string): Promise<{ id: number; number: string }> {
  const res = await app.inject({ method: 'POST', url: '/api/matters', headers: as.headers, payload: { title, type: 'civil', parties: [{ role: 'client', kind: 'organization', name: `${title}委托人有限公司` }] } });
  if (res.statusCode !== 201) throw new Error(`matter not created: ${res.body}`);
  return res.json();
}
const matter = await newMatter(owner, '档案测试买卖合同纠纷');
const otherMatter = await newMatter(owner, '另一案件借款纠纷');

const upload = (as: As, matterId: number, query: Record<string, string>, body: Buffer, headers: Record<string, string> = {}) =>
  app.inject({
    method: 'POST',
    url: `/api/matters/${matterId}/process-files?${new URLSearchParams(query)}`,
    headers: { ...as.headers, 'content-type': 'application/octet-stream', ...headers },
    payload: body,
  });
const filesDir = processFilesDir(ctx);
const filesOnDisk = () => (existsSync(filesDir) ? readdirSync(filesDir).sort() : []);
const rowCount = async () => Number((await db.selectFrom('process_files').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);

/** Sends a request over a raw socket; `body` is written as given (it may be shorter than Content-Length). */
function rawRequest(head: string, body: Buffer, opts: { end: 'close' | 'wait' }): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let answer = '';
    socket.on('data', (d) => (answer += d.toString('latin1')));
    socket.on('error', () => resolve(answer));
    socket.on('close', () => resolve(answer));
    socket.on('connect', () => {
      socket.write(head);
      socket.write(body, () => {
        if (opts.end === 'close') socket.destroy();
      });
    });
    setTimeout(() => {
      socket.destroy();
      reject(new Error('raw request timed out'));
    }, 20_000);
  });
}
const uploadHead = (matterId: number, query: Record<string, string>, headers: Record<string, string>) =>
  `POST /api/matters/${matterId}/process-files?${new URLSearchParams(query)} HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
  Object.entries({ authorization: owner.headers.authorization, 'content-type': 'application/octet-stream', connection: 'close', ...headers })
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('') +
  '\r\n';
async function until(check: () => Promise<boolean>, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}
const failures = async () => db.selectFrom('audit_log').select('detail').where('action', '=', 'archive.process_file_upload').where('result', '=', 'failure').execute();

t.test('filing is idempotent on (source, source_id) and keeps the newer title and the known hash', async (t) => {
  const hash = sha(Buffer.from('notice v1'));
  await db.transaction().execute(async (trx) => {
    await fileToArchive(trx, ctx, { matter_id: matter.id, kind: 'notice', title: '收案通知（草稿）', source: 'notifications', source_id: 9001, sha256: hash, filed_by: owner.id });
    await fileToArchive(trx, ctx, { matter_id: matter.id, kind: 'notice', title: '收案通知', source: 'notifications', source_id: '9001', filed_by: owner.id });
  });
  const rows = await db.selectFrom('archive_entries').selectAll().where('source', '=', 'notifications').where('source_id', '=', '9001').execute();
  t.equal(rows.length, 1, 'filing twice keeps one row (a number and its string are the same id)');
  t.equal(rows[0]!.title, '收案通知', 'with the newer title');
  t.equal(rows[0]!.sha256, hash, 'and the hash given before, not erased by a filing without one');

  await t.rejects(
    db.transaction().execute(async (trx) => {
      await fileToArchive(trx, ctx, { matter_id: matter.id, kind: 'record', title: '会见笔录', source: 'communications', source_id: 'rolled-back', filed_by: owner.id });
      throw new Error('the record’s own write failed');
    }),
    'a transaction that fails after filing',
  );
  t.equal((await db.selectFrom('archive_entries').select('id').where('source_id', '=', 'rolled-back').execute()).length, 0, 'leaves nothing in the archive: filing is part of the record’s own transaction');
});

t.test('an upload is stored whole, with the SHA-256 of what was sent, and filed into the archive', async (t) => {
  const png = samplePng(200, 150);
  const res = await upload(owner, matter.id, { category: 'visit', kind: 'photo', title: '走访现场照片', name: 'IMG_0001.PNG', note: '仓库门口' }, png);
  t.equal(res.statusCode, 201, `201 (${res.body})`);
  const file = res.json();
  t.equal(file.sha256, sha(png), 'the hash is the SHA-256 of the bytes sent');
  t.match(file, { category: 'visit', kind: 'photo', content_type: 'image/png', bytes: png.length, title: '走访现场照片', original_name: 'IMG_0001.PNG', note: '仓库门口', uploaded_by: { id: owner.id } }, 'described as sent and as its content showed');
  const row = await db.selectFrom('process_files').selectAll().where('id', '=', file.id).executeTakeFirstOrThrow();
  t.match(row.storage_name, /^[0-9a-f-]{36}\.png$/, 'stored under a name of the server’s choosing');
  t.same(readFileSync(path.join(filesDir, row.storage_name)), png, 'the bytes on disk are the bytes sent');
  t.notOk(filesOnDisk().some((f) => f.endsWith('.part')), 'no temporary file is left');
  const entry = await db.selectFrom('archive_entries').selectAll().where('source', '=', 'process_files').where('source_id', '=', String(file.id)).executeTakeFirstOrThrow();
  t.match(entry, { matter_id: matter.id, kind: 'process_file', sha256: sha(png) }, 'filed into the matter archive with its hash');
  t.match(entry.title, /走访/, 'titled with its category');
  const audit = await db.selectFrom('audit_log').selectAll().where('action', '=', 'archive.process_file_upload').where('result', '=', 'success').execute();
  t.match(audit.at(-1), { actor: owner.username, object: `matter:${matter.number}`, detail: { file_id: file.id, sha256: sha(png), category: 'visit' } }, 'audited');

  // A browser's fetch(file) sends the file's own type: any type is accepted, the bytes decide.
  const wav = sampleWav(0.5);
  const asAudio = await upload(owner, matter.id, { category: 'client_communication', kind: 'audio', sha256: sha(wav).toUpperCase() }, wav, { 'content-type': 'audio/x-wav' });
  t.equal(asAudio.statusCode, 201, 'an upload sent as audio/x-wav is taken, and a matching declared hash (any case) passes');
  t.equal(asAudio.json().title, '与委托人沟通录音', 'without a title or name, the category and kind name it');

  const memo = samplePdf(['x']);
  const chunked = await rawRequest(uploadHead(matter.id, { category: 'research', kind: 'file', name: 'memo.pdf' }, { 'transfer-encoding': 'chunked' }), Buffer.concat([Buffer.from(`${memo.length.toString(16)}\r\n`), memo, Buffer.from('\r\n0\r\n\r\n')]), { end: 'wait' }).catch((e: Error) => e.message);
  t.match(chunked, /^HTTP\/1.1 201/, 'a chunked upload without Content-Length is stored too');
});

t.test('the content must be of the declared kind, whatever the name or type says', async (t) => {
  const before = { files: filesOnDisk(), rows: await rowCount() };
  const pdf = samplePdf(['not a photo']);
  const cases: [string, Record<string, string>, Buffer][] = [
    ['a PDF declared as a photo', { category: 'drafting', kind: 'photo', name: 'scan.jpg' }, pdf],
    ['a Windows executable declared as a file', { category: 'drafting', kind: 'file', name: 'contract.pdf' }, Buffer.concat([Buffer.from('MZ\x90\x00', 'latin1'), Buffer.alloc(5000, 1)])],
    ['a WAV declared as a video', { category: 'visit', kind: 'video', name: 'clip.mp4' }, sampleWav(0.2)],
    ['a PNG declared as audio', { category: 'client_communication', kind: 'audio' }, samplePng(10, 10)],
  ];
  for (const [what, query, body] of cases) {
    const res = await upload(owner, matter.id, query, body);
    t.equal(res.statusCode, 415, `${what} is refused with 415`);
    t.equal(res.json().error?.code, 'MEDIA_TYPE_MISMATCH', `${what}: MEDIA_TYPE_MISMATCH`);
    t.ok(isErrorShape(res.json()), `${what}: the error shape`);
  }
  const empty = await upload(owner, matter.id, { category: 'drafting', kind: 'file' }, Buffer.alloc(0));
  t.equal(empty.statusCode, 400, 'an empty upload is refused');
  const wrongHash = await upload(owner, matter.id, { category: 'drafting', kind: 'file', sha256: sha(Buffer.from('something else')) }, pdf);
  t.equal(wrongHash.json().error?.code, 'HASH_MISMATCH', 'a file that does not match the hash its sender declared is refused');
  t.same(filesOnDisk(), before.files, 'no refused upload left a file');
  t.equal(await rowCount(), before.rows, 'nor a row');
  t.ok((await failures()).some((f) => (f.detail as { reason?: string }).reason === 'MEDIA_TYPE_MISMATCH'), 'refusals are audited as failures');

  // On a real connection the refusal comes while the client is still sending a large body.
  const answer = await rawRequest(uploadHead(matter.id, { category: 'drafting', kind: 'photo' }, { 'content-length': String(50 * 1024 * 1024) }), Buffer.alloc(256 * 1024, 0x41), { end: 'wait' });
  t.match(answer, /^HTTP\/1.1 415/, 'the sender of a wrong file hears 415 before it has sent the rest');
  t.match(answer, /connection: close/i, 'and the connection closes instead of reading the rest');
  t.same(filesOnDisk(), before.files, 'nothing left on disk');
});

t.test('the size limit is a setting; an upload over it leaves nothing', async (t) => {
  const get = await app.inject({ url: '/api/settings/process-archive', headers: owner.headers });
  t.same(get.json(), { max_upload_bytes: 2 * 1024 ** 3 }, 'the limit is 2 GiB by default');
  t.equal((await app.inject({ method: 'PUT', url: '/api/settings/process-archive', headers: owner.headers, payload: { max_upload_bytes: 1024 * 1024 } })).statusCode, 403, 'a lawyer may not change it');
  const put = await app.inject({ method: 'PUT', url: '/api/settings/process-archive', headers: director.headers, payload: { max_upload_bytes: 1024 * 1024 } });
  t.equal(put.statusCode, 200, 'the director sets it to 1 MiB');
  t.equal((await app.inject({ method: 'PUT', url: '/api/settings/process-archive', headers: director.headers, payload: { max_upload_bytes: 1000 } })).statusCode, 400, 'a limit under 1 MiB is refused');

  const before = { files: filesOnDisk(), rows: await rowCount() };
  const png = samplePng(8, 8);
  const big = Buffer.concat([png, Buffer.alloc(1024 * 1024 + 1 - png.length, 0)]);
  const over = await upload(owner, matter.id, { category: 'visit', kind: 'photo' }, big);
  t.equal(over.statusCode, 413, 'one byte over the limit is refused with 413');
  t.equal(over.json().error.code, 'UPLOAD_TOO_LARGE', 'UPLOAD_TOO_LARGE');
  const exact = await upload(owner, matter.id, { category: 'visit', kind: 'photo' }, big.subarray(0, 1024 * 1024));
  t.equal(exact.statusCode, 201, 'exactly the limit is accepted');
  before.files = filesOnDisk();
  before.rows = await rowCount();

  // Without a Content-Length the limit is found while streaming.
  const chunk = Buffer.alloc(512 * 1024, 0);
  png.copy(chunk);
  const frame = (b: Buffer) => Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from('\r\n')]);
  const answer = await rawRequest(uploadHead(matter.id, { category: 'visit', kind: 'photo' }, { 'transfer-encoding': 'chunked' }), Buffer.concat([frame(chunk), frame(chunk), frame(chunk), Buffer.from('0\r\n\r\n')]), { end: 'wait' });
  t.match(answer, /^HTTP\/1.1 413/, 'a chunked upload is stopped when it passes the limit');
  // A declared length over the limit is refused before a byte is read.
  const declared = await rawRequest(uploadHead(matter.id, { category: 'visit', kind: 'photo' }, { 'content-length': String(5 * 1024 * 1024) }), Buffer.alloc(0), { end: 'wait' });
  t.match(declared, /^HTTP\/1.1 413/, 'a Content-Length over the limit is refused at once');
  t.same(filesOnDisk(), before.files, 'no file left by either');
  t.equal(await rowCount(), before.rows, 'no row');
  await app.inject({ method: 'PUT', url: '/api/settings/process-archive', headers: director.headers, payload: { max_upload_bytes: 2 * 1024 ** 3 } });
  const large = Buffer.concat([png, Buffer.alloc(3 * 1024 * 1024, 7)]);
  const taken = await upload(owner, matter.id, { category: 'visit', kind: 'photo' }, large);
  t.equal(taken.statusCode, 201, 'with the default limit a file larger than the JSON body limit streams in');
  t.equal(taken.json().sha256, sha(large), 'whole');
});

t.test('a client that hangs up halfway leaves no file, no temporary file and no row', async (t) => {
  const before = { files: filesOnDisk(), rows: await rowCount(), failures: (await failures()).length };
  const pdf = samplePdf(['half a file']);
  const body = Buffer.concat([pdf, Buffer.alloc(400_000, 0x20)]);
  await rawRequest(uploadHead(matter.id, { category: 'drafting', kind: 'file', name: 'half.pdf' }, { 'content-length': String(body.length) }), body.subarray(0, body.length / 2), { end: 'close' });
  t.ok(await until(async () => (await failures()).length > before.failures), 'the server noticed the broken upload (audited as a failure)');
  t.equal(((await failures()).at(-1)!.detail as { reason: string }).reason, 'UPLOAD_INCOMPLETE', 'as incomplete');
  t.same(filesOnDisk(), before.files, 'no file and no temporary file left');
  t.equal(await rowCount(), before.rows, 'no row');

  // The same after a refusal: a client that hangs up mid-body right after the magic bytes.
  const partial = await rawRequest(uploadHead(matter.id, { category: 'visit', kind: 'photo' }, { 'content-length': '3000000' }), Buffer.concat([samplePng(4, 4), Buffer.alloc(SNIFF_BYTES * 4)]), { end: 'close' });
  t.type(partial, 'string', 'the client went away');
  t.ok(await until(async () => (await failures()).length > before.failures + 1), 'the second broken upload is noticed too');
  t.same(filesOnDisk(), before.files, 'still nothing left');
  t.equal(await rowCount(), before.rows, 'and no row');
});

t.test('the uploader’s file name is shown, never used as a path', async (t) => {
  const png = samplePng(16, 16);
  for (const name of ['../../../etc/passwd.png', '..\\..\\windows\\system.ini', '/absolute/evil.png', '....//x.png', 'a\u0000b\nc.png']) {
    const res = await upload(owner, matter.id, { category: 'visit', kind: 'photo', name }, png);
    t.equal(res.statusCode, 201, `${JSON.stringify(name)} is accepted as a display name`);
    const row = await db.selectFrom('process_files').select(['storage_name', 'original_name']).where('id', '=', res.json().id).executeTakeFirstOrThrow();
    t.match(row.storage_name, /^[0-9a-f-]{36}\.png$/, `${JSON.stringify(name)}: stored under the server’s own name`);
    t.notOk(row.original_name?.includes('/') || row.original_name?.includes('\\') || /[\u0000-\u001f]/.test(row.original_name ?? ''), `${JSON.stringify(name)}: shown as ${JSON.stringify(row.original_name)} without path or control characters`);
    const dl = await app.inject({ url: res.json().download, headers: owner.headers });
    t.notMatch(String(dl.headers['content-disposition']), /[/\\\r\n"]/, `${JSON.stringify(name)}: the download’s file name carries no path`);
  }
  t.same(readdirSync(dataDir).sort(), ['process-files'], 'nothing was written outside the process-files folder');
  t.equal(displayName('..'), null, 'a name of dots only is no name');
  t.equal(displayName('dir/报告.pdf'), '报告.pdf', 'a Chinese name keeps its characters');
});

t.test('downloads: whole, or the single range a player asks for, with the hash in a header', async (t) => {
  const wav = sampleWav(3);
  const created = (await upload(owner, matter.id, { category: 'client_communication', kind: 'audio', name: '通话.wav' }, wav)).json();
  const url = created.download;
  const auditCount = async () => (await db.selectFrom('audit_log').select('seq').where('action', '=', 'archive.process_file_download').execute()).length;
  const audits = await auditCount();

  const whole = await app.inject({ url, headers: owner.headers });
  t.equal(whole.statusCode, 200, 'the whole file');
  t.same(whole.rawPayload, wav, 'intact');
  t.equal(whole.headers['x-content-sha256'], sha(wav), 'the hash in x-content-sha256');
  t.equal(whole.headers['accept-ranges'], 'bytes', 'ranges offered');
  t.equal(whole.headers['content-type'], 'audio/wav', 'typed by its content');
  t.match(String(whole.headers['content-disposition']), /filename\*=UTF-8''%E9%80%9A%E8%AF%9D\.wav/, 'named as uploaded, UTF-8 encoded');

  const mid = await app.inject({ url, headers: { ...owner.headers, range: 'bytes=100-1099' } });
  t.equal(mid.statusCode, 206, 'a range is 206');
  t.same(mid.rawPayload, wav.subarray(100, 1100), 'with exactly those bytes');
  t.equal(mid.headers['content-range'], `bytes 100-1099/${wav.length}`, 'and its Content-Range');
  const suffix = await app.inject({ url, headers: { ...owner.headers, range: 'bytes=-500' } });
  t.same(suffix.rawPayload, wav.subarray(wav.length - 500), 'the last 500 bytes');
  const open = await app.inject({ url, headers: { ...owner.headers, range: `bytes=${wav.length - 10}-` } });
  t.same(open.rawPayload, wav.subarray(wav.length - 10), 'from a position to the end');
  const beyond = await app.inject({ url, headers: { ...owner.headers, range: `bytes=${wav.length}-` } });
  t.equal(beyond.statusCode, 416, 'a range past the end is 416');
  t.equal(beyond.headers['content-range'], `bytes */${wav.length}`, 'naming the size');
  t.ok(isErrorShape(beyond.json()), 'with the error shape');
  const multi = await app.inject({ url, headers: { ...owner.headers, range: 'bytes=0-1,5-6' } });
  t.equal(multi.statusCode, 200, 'several ranges at once get the whole file');
  t.equal(await auditCount(), audits + 2, 'each viewing from the start is audited; the player’s follow-up ranges are not counted again');

  t.equal((await app.inject({ url, headers: outsider.headers })).statusCode, 404, 'a lawyer not on the matter cannot download');
  t.equal((await app.inject({ url: `/api/matters/${otherMatter.id}/process-files/${created.id}/file`, headers: owner.headers })).statusCode, 404, 'nor through another matter’s path');
  t.equal((await app.inject({ url, headers: itAdmin.headers })).statusCode, 403, 'the IT administrator sees no matter files');
});

t.test('the matter archive lists every kind filed, camera recordings included, oldest first', async (t) => {
  inst.clock.advance(60_000);
  await db.transaction().execute(async (trx) => {
    await fileToArchive(trx, ctx, { matter_id: matter.id, kind: 'record', title: '会见笔录（已确认）', source: 'communications', source_id: 'interview-1', sha256: sha(Buffer.from('r')), filed_by: owner.id });
    await fileToArchive(trx, ctx, { matter_id: matter.id, kind: 'signed_document', title: '委托代理合同（已签署）', source: 'documents', source_id: 'sig-1', sha256: sha(Buffer.from('s')), filed_by: null });
    await fileToArchive(trx, ctx, { matter_id: otherMatter.id, kind: 'record', title: '他案笔录', source: 'communications', source_id: 'interview-2', filed_by: owner.id });
  });
  inst.clock.advance(60_000);
  const recordingId = randomUUID();
  await db
    .insertInto('camera_recordings')
    .values({ id: recordingId, device_id: 'cam-mediation', matter_id: matter.id, reason: '调解过程录像', requested_by: director.id, seconds: 600, status: 'stored', error: null, bytes: 123456, sha256: sha(Buffer.from('video')), duration_s: 600, requested_at: inst.clock.now(), stored_at: inst.clock.now() })
    .execute();
  await db
    .insertInto('camera_recordings')
    .values({ id: randomUUID(), device_id: 'cam-mediation', matter_id: matter.id, reason: '失败的录像', requested_by: director.id, seconds: 60, status: 'failed', error: 'camera offline', bytes: null, sha256: null, duration_s: null, requested_at: inst.clock.now(), stored_at: null })
    .execute();

  const res = await app.inject({ url: `/api/matters/${matter.id}/archive`, headers: owner.headers });
  t.equal(res.statusCode, 200, '200');
  const items = res.json() as { kind: string; title: string; source_id: string; sha256: string | null; filed_at: string; download: string | null; category: string | null }[];
  const kinds = new Set(items.map((i) => i.kind));
  for (const kind of ['notice', 'record', 'signed_document', 'process_file', 'camera_recording']) t.ok(kinds.has(kind), `the archive holds a ${kind}`);
  const recording = items.find((i) => i.kind === 'camera_recording');
  t.match(recording, { title: '调解过程录像', source_id: recordingId, sha256: sha(Buffer.from('video')), download: `/api/recordings/${recordingId}/file` }, 'the camera recording is listed from its own table, with its hash and download');
  t.notOk(items.some((i) => i.title === '失败的录像'), 'a failed recording is no record');
  t.notOk(items.some((i) => i.title === '他案笔录'), 'another matter’s records are not listed');
  t.same(items.map((i) => i.filed_at), items.map((i) => i.filed_at).sort(), 'oldest first');
  t.ok(items.filter((i) => i.kind === 'process_file').every((i) => i.download && i.category), 'process files carry their category and download link');
  t.equal(await db.selectFrom('archive_entries').select('id').where('source', '=', 'camera_recordings').executeTakeFirst(), undefined, 'recordings are not copied into the archive index');

  const onlyRecords = (await app.inject({ url: `/api/matters/${matter.id}/archive?kind=record`, headers: owner.headers })).json() as { kind: string }[];
  t.ok(onlyRecords.length > 0 && onlyRecords.every((i) => i.kind === 'record'), 'filtered by kind');
  const files = (await app.inject({ url: `/api/matters/${matter.id}/process-files?category=visit`, headers: owner.headers })).json() as { category: string }[];
  t.ok(files.length > 0 && files.every((f) => f.category === 'visit'), 'the process files, filtered by category');

  t.equal((await app.inject({ url: `/api/matters/${matter.id}/archive`, headers: outsider.headers })).statusCode, 404, 'a lawyer not on the matter gets 404');
  t.equal((await app.inject({ url: `/api/matters/${matter.id}/archive`, headers: director.headers })).statusCode, 200, 'the director sees every matter’s archive');
  const refused = await upload(outsider, matter.id, { category: 'visit', kind: 'photo' }, samplePng(4, 4));
  t.equal(refused.statusCode, 404, 'nor can an outsider upload to it');
});

t.test('stale temporary files of a crashed upload are removed by the daily job; stored files never', async (t) => {
  const stale = path.join(filesDir, `${randomUUID()}.part`);
  const fresh = path.join(filesDir, `${randomUUID()}.part`);
  writeFileSync(stale, 'x');
  writeFileSync(fresh, 'x');
  const old = new Date(inst.clock.now().getTime() - 2 * 86_400_000);
  utimesSync(stale, old, old);
  const stored = filesOnDisk().filter((f) => !f.endsWith('.part'));
  for (const f of stored) utimesSync(path.join(filesDir, f), old, old);
  const job = archiveJobs.find((j) => j.name === 'archive.remove_stale_uploads')!;
  t.same(await job.run(ctx), { removed: 1 }, 'one stale temporary file removed');
  t.notOk(existsSync(stale), 'the stale one is gone');
  t.ok(existsSync(fresh), 'one still being written stays');
  t.same(filesOnDisk().filter((f) => !f.endsWith('.part')), stored, 'stored files are untouched however old');
});

t.test('magic bytes: each format is recognised for its kind only (fuzzed)', async (t) => {
  const ftyp = (brand: string, compat: string[] = []) => {
    const b = Buffer.alloc(16 + compat.length * 4);
    b.writeUInt32BE(b.length, 0);
    b.write('ftyp', 4, 'latin1');
    b.write(brand, 8, 'latin1');
    compat.forEach((c, i) => b.write(c, 16 + i * 4, 'latin1'));
    return Buffer.concat([b, Buffer.alloc(64)]);
  };
  const ebml = (docType: string) => Buffer.concat([Buffer.from([0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x86, 0x81, 0x01, 0x42, 0x82, 0x80 | docType.length]), Buffer.from(docType, 'latin1'), Buffer.alloc(32)]);
  const zip = (first: string) => Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.alloc(26), Buffer.from(first, 'latin1'), Buffer.alloc(64)]);
  const samples: [string, Buffer, string, string][] = [
    ['jpeg', Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 0x4a, 0x46, 0x49, 0x46]), 'photo', 'image/jpeg'],
    ['png', samplePng(2, 2), 'photo', 'image/png'],
    ['heic', ftyp('heic', ['mif1', 'heic']), 'photo', 'image/heic'],
    ['heic by compatible brand', ftyp('mif1'), 'photo', 'image/heic'],
    ['mp3 with ID3', Buffer.concat([Buffer.from('ID3\x04\x00', 'latin1'), Buffer.alloc(20)]), 'audio', 'audio/mpeg'],
    ['mp3 frame', Buffer.from([0xff, 0xfb, 0x90, 0x64, 0, 0]), 'audio', 'audio/mpeg'],
    ['m4a', ftyp('M4A ', ['M4A ', 'mp42', 'isom']), 'audio', 'audio/mp4'],
    ['m4a from an Android recorder', ftyp('mp42', ['isom']), 'audio', 'audio/mp4'],
    ['wav', sampleWav(0.01), 'audio', 'audio/wav'],
    ['amr', Buffer.from('#!AMR\n\x3c\x00', 'latin1'), 'audio', 'audio/amr'],
    ['amr-wb', Buffer.from('#!AMR-WB\n\x00', 'latin1'), 'audio', 'audio/amr'],
    ['mp4', ftyp('isom', ['isom', 'avc1']), 'video', 'video/mp4'],
    ['mov', ftyp('qt  '), 'video', 'video/quicktime'],
    ['webm', ebml('webm'), 'video', 'video/webm'],
    ['pdf', samplePdf(['a']), 'file', 'application/pdf'],
    ['docx', zip('word/document.xml'), 'file', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document'],
    ['xlsx', zip('xl/workbook.xml'), 'file', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'],
    ['ofd', zip('OFD.xml'), 'file', 'application/ofd'],
    ['zip', zip('evidence/photo1.jpg'), 'file', 'application/zip'],
    ['doc', Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1, 0, 0]), 'file', 'application/msword'],
    ['rtf', Buffer.from('{\\rtf1\\ansi', 'latin1'), 'file', 'application/rtf'],
  ];
  // Plain MP4 brands carry phone voice memos as well as video: such a file may be filed as either.
  const eitherAudioOrVideo = new Set(['m4a from an Android recorder', 'mp4']);
  for (const [name, bytes, kind, type] of samples) {
    for (const k of MEDIA_KINDS) {
      const got = sniff(k, bytes);
      if (k === kind) t.equal(got?.content_type, type, `${name} is a ${kind} (${type})`);
      else if (eitherAudioOrVideo.has(name) && (k === 'audio' || k === 'video')) t.ok(got, `${name} may also be filed as ${k}`);
      else if (!(k === 'file' && kind === 'photo')) t.equal(got, null, `${name} is not a ${k}`);
    }
  }
  t.equal(sniff('file', samplePng(2, 2))?.content_type, 'image/png', 'a scan may be filed as a document');
  t.equal(sniff('video', ebml('matroska')), null, 'Matroska that is not WebM is not taken as WebM');
  t.equal(sniff('audio', Buffer.from([0xff, 0xf1, 0x50, 0x80])), null, 'AAC ADTS (layer 00) is not MP3');
  t.equal(sniff('video', ftyp('M4A ')), null, 'an audio-only brand is not a video');
  t.equal(sniff('file', Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]), 'xls')?.extension, 'xls', 'an Office 97 file keeps the extension its name gives');

  const rnd = mulberry32(0x0a7c_41e5);
  for (let i = 0; i < 3000; i++) {
    const base = samples[Math.floor(rnd() * samples.length)]![1];
    const bytes = Buffer.from(base.subarray(0, Math.floor(rnd() * (base.length + 1))));
    for (let j = Math.floor(rnd() * 4); j > 0; j--) if (bytes.length) bytes[Math.floor(rnd() * bytes.length)] = Math.floor(rnd() * 256);
    for (const k of MEDIA_KINDS) {
      const got = sniff(k, bytes);
      if (got && !/^[a-z0-9]{1,5}$/.test(got.extension)) t.fail(`fuzz ${i}: extension ${got.extension} would not fit the stored name`);
    }
  }
  t.pass('3000 truncated and mutated headers sniffed without an exception');
});

t.test('Range headers parse to a range within the file, the whole file, or 416 (fuzzed)', async (t) => {
  t.same(parseRange(undefined, 100), null, 'no header: whole file');
  t.same(parseRange('bytes=0-9', 100), { start: 0, end: 9 }, 'first ten bytes');
  t.same(parseRange('bytes=90-200', 100), { start: 90, end: 99 }, 'an end past the file is clipped');
  t.same(parseRange('bytes=-10', 100), { start: 90, end: 99 }, 'suffix');
  t.same(parseRange('bytes=-1000', 100), { start: 0, end: 99 }, 'a suffix longer than the file is the file');
  t.equal(parseRange('bytes=100-', 100), 'unsatisfiable', 'start at the size');
  t.equal(parseRange('bytes=-0', 100), 'unsatisfiable', 'empty suffix');
  t.same(parseRange('bytes=5-2', 100), null, 'an inverted range is ignored');
  t.same(parseRange('items=0-1', 100), null, 'another unit is ignored');
  t.same(parseRange('bytes=0-1,3-4', 100), null, 'several ranges: whole file');
  t.equal(parseRange('bytes=0-', 0), 'unsatisfiable', 'nothing to send from an empty file');
  const rnd = mulberry32(0x7a_4e_e5);
  const alphabet = 'bytes=-0123456789, ;abx';
  for (let i = 0; i < 5000; i++) {
    const size = Math.floor(rnd() * 10_000);
    const header = Array.from({ length: Math.floor(rnd() * 24) }, () => alphabet[Math.floor(rnd() * alphabet.length)]).join('');
    const r = parseRange(rnd() < 0.5 ? `bytes=${header}` : header, size);
    if (r && r !== 'unsatisfiable' && !(Number.isInteger(r.start) && Number.isInteger(r.end) && r.start >= 0 && r.start <= r.end && r.end < size)) {
      t.fail(`fuzz ${i}: ${JSON.stringify(header)} on ${size} bytes gave ${JSON.stringify(r)}`);
    }
  }
  t.pass('5000 random headers gave only ranges within their file');
});

t.test('the demo files a realistic process archive, once', async (t) => {
  t.same(await seedArchiveDemo(ctx), { files: 0 }, 'an instance that already has process files is left alone');
  await db.deleteFrom('process_files').execute();
  t.same(await seedArchiveDemo(ctx), { files: 0 }, 'without the demo matter it does nothing');
  const demo = await newMatter(owner, '北京华信科技有限公司诉上海瑞丰国际贸易有限公司买卖合同纠纷');
  t.same(await seedArchiveDemo(ctx), { files: 4 }, 'four files in the demo matter');
  const files = await db.selectFrom('process_files').selectAll().where('matter_id', '=', demo.id).execute();
  t.same(files.map((f) => f.category).sort(), ['client_communication', 'drafting', 'research', 'visit'], 'in realistic categories');
  for (const f of files) t.equal(sha(readFileSync(path.join(filesDir, f.storage_name))), f.sha256, `${f.title}: stored with its hash`);
});
