import { Readable } from 'node:stream';
import { crc32, deflateSync } from 'node:zlib';
import type { Actor, ServiceContext } from '../../context.js';
import { samplePdf } from '../meetings/demo.js';
import { uploadProcessFile } from './service.js';
import type { MediaKind, ProcessCategory } from './tables.js';

/**
 * A PNG of `width` × `height` pixels: a soft diagonal gradient in one hue, enough to look like a
 * placeholder photo. For the demo's process files and for tests.
 */
export function samplePng(width: number, height: number, rgb: [number, number, number] = [70, 110, 160]): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8 bits per channel, truecolour, no interlace
  const rows = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1);
    for (let x = 0; x < width; x++) {
      const shade = 0.55 + 0.45 * ((x + y) / (width + height));
      for (let c = 0; c < 3; c++) rows[row + 1 + x * 3 + c] = Math.min(255, Math.round(rgb[c]! * shade + 60 * (1 - shade)));
    }
  }
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', header), chunk('IDAT', deflateSync(rows)), chunk('IEND', Buffer.alloc(0))]);
}

/** A mono 16-bit PCM WAV of a quiet tone: a stand-in for a recorded phone call. */
export function sampleWav(seconds: number, sampleRate = 8000, hz = 440): Buffer {
  const samples = Math.round(seconds * sampleRate);
  const out = Buffer.alloc(44 + samples * 2);
  out.write('RIFF', 0, 'latin1');
  out.writeUInt32LE(36 + samples * 2, 4);
  out.write('WAVEfmt ', 8, 'latin1');
  out.writeUInt32LE(16, 16);
  out.writeUInt16LE(1, 20); // PCM
  out.writeUInt16LE(1, 22); // mono
  out.writeUInt32LE(sampleRate, 24);
  out.writeUInt32LE(sampleRate * 2, 28);
  out.writeUInt16LE(2, 32);
  out.writeUInt16LE(16, 34);
  out.write('data', 36, 'latin1');
  out.writeUInt32LE(samples * 2, 40);
  for (let i = 0; i < samples; i++) out.writeInt16LE(Math.round(3000 * Math.sin((2 * Math.PI * hz * i) / sampleRate)), 44 + i * 2);
  return out;
}

const DEMO_MATTER_TITLE = '北京华信科技有限公司诉上海瑞丰国际贸易有限公司买卖合同纠纷';

/**
 * The demo's process archive: the sales-contract matter's work as it would be filed — a site photo
 * from the visit to the debtor's warehouse, the recorded call with the client's finance team, the
 * research note and the draft statement of claim. Runs once: an instance with process files is left
 * alone; without the demo matter it does nothing.
 */
export async function seedArchiveDemo(ctx: ServiceContext): Promise<{ files: number }> {
  if (await ctx.db.selectFrom('process_files').select('id').limit(1).executeTakeFirst()) return { files: 0 };
  const matter = await ctx.db.selectFrom('matters').select(['id', 'created_by']).where('title', '=', DEMO_MATTER_TITLE).executeTakeFirst();
  if (!matter) return { files: 0 };
  const user = await ctx.db.selectFrom('users').select(['id', 'username', 'role']).where('id', '=', matter.created_by).executeTakeFirstOrThrow();
  const actor: Actor = { userId: user.id, username: user.username, role: user.role, sourceIp: null };
  const files: { category: ProcessCategory; kind: MediaKind; title: string; name: string; note?: string; bytes: Buffer }[] = [
    { category: 'client_communication', kind: 'audio', title: '与客户财务核对欠款金额（电话录音）', name: '通话录音.wav', note: '经客户同意录音。', bytes: sampleWav(2) },
    { category: 'visit', kind: 'photo', title: '瑞丰公司仓库库存货物现场照片', name: 'IMG_0412.png', bytes: samplePng(320, 240) },
    { category: 'research', kind: 'file', title: '逾期付款损失计算标准检索报告', name: 'research-note.pdf', bytes: samplePdf(['Research note: late payment damages', 'LPR-based calculation and case law']) },
    { category: 'drafting', kind: 'file', title: '民事起诉状（第二稿）', name: 'statement-of-claim-v2.pdf', bytes: samplePdf(['Statement of claim (draft 2)', 'Claims, facts and reasons']) },
  ];
  for (const f of files) {
    await uploadProcessFile(ctx, actor, matter.id, Readable.from([f.bytes]), { category: f.category, kind: f.kind, title: f.title, name: f.name, note: f.note, declared_length: f.bytes.length });
  }
  return { files: files.length };
}
