import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Transform, type TransformCallback } from 'node:stream';

/**
 * The backup file: a 45-byte header, then the payload (a tar stream) cut into chunks, each sealed
 * with AES-256-GCM (the STREAM construction of age and Tink):
 *
 *   "LAWBOXBK" | version u8 | chunk size u32 BE | salt (16) | key check (16) | chunk 0 | chunk 1 | …
 *
 * The file key and the key check come from HKDF-SHA256 over the admin's key and the file's random
 * salt, so no two files share a key and the chunk counter can be the nonce. Every chunk's AAD is the
 * whole header plus a last-chunk flag: a changed header, a bit flip, a swapped or dropped chunk, a
 * cut at a chunk boundary and data appended after the end all fail authentication.
 */
export const MAGIC = Buffer.from('LAWBOXBK', 'latin1');
export const FORMAT_VERSION = 1;
export const DEFAULT_CHUNK_SIZE = 64 * 1024;
const MIN_CHUNK_SIZE = 1024;
const MAX_CHUNK_SIZE = 16 * 1024 * 1024;
const SALT_BYTES = 16;
const KEY_CHECK_BYTES = 16;
const TAG_BYTES = 16;
export const HEADER_BYTES = MAGIC.length + 1 + 4 + SALT_BYTES + KEY_CHECK_BYTES;

export type BackupErrorCode =
  | 'NO_KEY'
  | 'FILE_CHANGED'
  | 'BAD_KEY'
  | 'NOT_A_BACKUP'
  | 'UNSUPPORTED_VERSION'
  | 'WRONG_KEY'
  | 'TRUNCATED'
  | 'DAMAGED'
  | 'TRAILING_DATA'
  | 'BAD_CONTENT'
  | 'TARGET_NOT_EMPTY'
  | 'NEWER_SCHEMA'
  | 'ALREADY_EXISTS'
  | 'COPY_FAILED';

/** A backup operation refused for a reason the admin can act on; `code` is stable for scripts and tests. */
export class BackupError extends Error {
  override name = 'BackupError';
  constructor(
    readonly code: BackupErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const MAKE_KEY_HINT =
  'make one with `openssl rand -hex 32 > /etc/lawbox/credentials/backup-key` (mode 600), set LAWBOX_BACKUP_KEY_FILE to it, ' +
  'and keep a copy of the key off the box: without it no backup can be read / 请生成备份密钥并在异地保存副本';

/** Reads the 32-byte key from the file LAWBOX_BACKUP_KEY_FILE names (64 hex characters). */
export function loadBackupKey(keyFile: string | null): Buffer {
  if (keyFile === null) throw new BackupError('NO_KEY', `no backup key is configured (LAWBOX_BACKUP_KEY_FILE is not set): ${MAKE_KEY_HINT}`);
  let text: string;
  try {
    text = readFileSync(keyFile, 'utf8').trim();
  } catch (err) {
    throw new BackupError('BAD_KEY', `cannot read the backup key ${keyFile}: ${(err as Error).message}`);
  }
  if (!/^[0-9a-fA-F]{64}$/.test(text)) {
    const found = /^[0-9a-fA-F]*$/.test(text) ? `${text.length} hex characters` : 'characters other than hex digits';
    throw new BackupError('BAD_KEY', `the backup key ${keyFile} must hold exactly 64 hex characters (32 bytes) but has ${found}: ${MAKE_KEY_HINT}`);
  }
  return Buffer.from(text, 'hex');
}

export interface BackupHeader {
  version: number;
  chunkSize: number;
  salt: Buffer;
  keyCheck: Buffer;
  /** the header's bytes as they stand in the file: part of every chunk's AAD */
  bytes: Buffer;
}

/** Parses the first HEADER_BYTES of a file; anything that is not a well-formed header throws a BackupError. */
export function parseHeader(bytes: Buffer): BackupHeader {
  if (bytes.length === 0) throw new BackupError('NOT_A_BACKUP', 'this is not a lawbox backup file: it is empty');
  assertMagicPrefix(bytes);
  if (bytes.length < HEADER_BYTES) {
    throw new BackupError('TRUNCATED', `the backup is truncated: it ends inside its ${HEADER_BYTES}-byte header (${bytes.length} bytes)`);
  }
  const version = bytes.readUInt8(MAGIC.length);
  if (version !== FORMAT_VERSION) {
    throw new BackupError('UNSUPPORTED_VERSION', `backup format version ${version} is not supported by this lawbox (it reads version ${FORMAT_VERSION}); use the lawbox version that made it`);
  }
  const chunkSize = bytes.readUInt32BE(MAGIC.length + 1);
  if (chunkSize < MIN_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE) {
    throw new BackupError('DAMAGED', `the backup header is damaged: chunk size ${chunkSize} is outside ${MIN_CHUNK_SIZE}–${MAX_CHUNK_SIZE}`);
  }
  const saltAt = MAGIC.length + 5;
  return {
    version,
    chunkSize,
    salt: Buffer.from(bytes.subarray(saltAt, saltAt + SALT_BYTES)),
    keyCheck: Buffer.from(bytes.subarray(saltAt + SALT_BYTES, HEADER_BYTES)),
    bytes: Buffer.from(bytes.subarray(0, HEADER_BYTES)),
  };
}

/** Refuses, from its first bytes, a file that is not a backup at all. */
function assertMagicPrefix(bytes: Buffer): void {
  const seen = bytes.subarray(0, MAGIC.length);
  if (!MAGIC.subarray(0, seen.length).equals(seen)) {
    throw new BackupError('NOT_A_BACKUP', 'this is not a lawbox backup file (it does not start with LAWBOXBK)');
  }
}

function deriveKeys(masterKey: Buffer, salt: Buffer): { fileKey: Buffer; keyCheck: Buffer } {
  const okm = Buffer.from(hkdfSync('sha256', masterKey, salt, 'lawbox backup v1', 32 + KEY_CHECK_BYTES));
  return { fileKey: okm.subarray(0, 32), keyCheck: okm.subarray(32) };
}

/** 96-bit nonce: the chunk's index, big-endian. Unique because every file has its own key. */
function nonceFor(index: number): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeBigUInt64BE(BigInt(index), 4);
  return nonce;
}

function aadFor(header: Buffer, last: boolean): Buffer {
  return Buffer.concat([header, Buffer.from([last ? 1 : 0])]);
}

function seal(fileKey: Buffer, header: Buffer, index: number, last: boolean, plain: Buffer): Buffer {
  const cipher = createCipheriv('aes-256-gcm', fileKey, nonceFor(index));
  cipher.setAAD(aadFor(header, last));
  return Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
}

function open(fileKey: Buffer, header: Buffer, index: number, last: boolean, sealed: Buffer): Buffer | null {
  const decipher = createDecipheriv('aes-256-gcm', fileKey, nonceFor(index));
  decipher.setAAD(aadFor(header, last));
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)), decipher.final()]);
  } catch {
    return null;
  }
}

/** Bytes gathered from a stream until a whole chunk is there, without copying on every write. */
class Pending {
  private parts: Buffer[] = [];
  length = 0;
  push(data: Buffer): void {
    this.parts.push(data);
    this.length += data.length;
  }
  peek(): Buffer {
    const all = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.length);
    this.parts = this.length ? [all] : [];
    return all;
  }
  take(n: number): Buffer {
    const all = this.peek();
    const head = all.subarray(0, n);
    const rest = all.subarray(n);
    this.parts = rest.length ? [rest] : [];
    this.length = rest.length;
    return head;
  }
}

/** Plain payload in, sealed backup file out. */
export class EncryptStream extends Transform {
  private readonly header: Buffer;
  private readonly fileKey: Buffer;
  private readonly pending = new Pending();
  private index = 0;
  private headerSent = false;

  constructor(
    masterKey: Buffer,
    private readonly chunkSize = DEFAULT_CHUNK_SIZE,
  ) {
    super();
    const salt = randomBytes(SALT_BYTES);
    const { fileKey, keyCheck } = deriveKeys(masterKey, salt);
    const fields = Buffer.alloc(5);
    fields.writeUInt8(FORMAT_VERSION, 0);
    fields.writeUInt32BE(chunkSize, 1);
    this.header = Buffer.concat([MAGIC, fields, salt, keyCheck]);
    this.fileKey = fileKey;
  }

  private sendHeader(): void {
    if (this.headerSent) return;
    this.headerSent = true;
    this.push(this.header);
  }

  override _transform(data: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.sendHeader();
    this.pending.push(data);
    // Strictly more than one chunk: the last chunk is sealed only in _flush, with its flag set.
    while (this.pending.length > this.chunkSize) {
      this.push(seal(this.fileKey, this.header, this.index++, false, this.pending.take(this.chunkSize)));
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    this.sendHeader();
    this.push(seal(this.fileKey, this.header, this.index++, true, this.pending.take(this.pending.length)));
    done();
  }
}

/**
 * Sealed backup file in, payload out. Nothing is passed on before its chunk has authenticated, and
 * the stream fails (with a BackupError naming the chunk and the byte offset) on the first problem.
 */
export class DecryptStream extends Transform {
  private header: BackupHeader | null = null;
  private fileKey: Buffer | null = null;
  private readonly pending = new Pending();
  private index = 0;

  constructor(private readonly masterKey: Buffer) {
    super();
  }

  /** Offset in the file of chunk `index`. */
  private offsetOf(index: number): number {
    return HEADER_BYTES + index * (this.header!.chunkSize + TAG_BYTES);
  }

  private readHeader(): void {
    const header = parseHeader(this.pending.take(HEADER_BYTES));
    const { fileKey, keyCheck } = deriveKeys(this.masterKey, header.salt);
    if (!timingSafeEqual(keyCheck, header.keyCheck)) {
      throw new BackupError('WRONG_KEY', 'the backup key does not open this file: it was made with another key (check LAWBOX_BACKUP_KEY_FILE), or its header is damaged');
    }
    this.header = header;
    this.fileKey = fileKey;
  }

  override _transform(data: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    try {
      this.pending.push(data);
      if (!this.header) {
        // Refuse a file that is not a backup at its first bytes, not after reading all of it.
        if (this.pending.length < HEADER_BYTES) {
          assertMagicPrefix(this.pending.peek());
          return done();
        }
        this.readHeader();
      }
      const sealedSize = this.header!.chunkSize + TAG_BYTES;
      // A chunk followed by more bytes is not the last one.
      while (this.pending.length > sealedSize) {
        const sealed = this.pending.take(sealedSize);
        const plain = open(this.fileKey!, this.header!.bytes, this.index, false, sealed);
        if (!plain) {
          if (open(this.fileKey!, this.header!.bytes, this.index, true, sealed)) {
            throw new BackupError('TRAILING_DATA', `the backup ends at byte ${this.offsetOf(this.index + 1)} but the file goes on: data was appended after its end`);
          }
          throw this.damaged(sealed.length);
        }
        this.index++;
        this.push(plain);
      }
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      // Fewer bytes than a header: parseHeader says what is wrong with them.
      if (!this.header) this.readHeader();
      const sealed = this.pending.take(this.pending.length);
      if (sealed.length < TAG_BYTES) {
        throw new BackupError('TRUNCATED', `the backup is truncated: it ends at byte ${this.offsetOf(this.index) + sealed.length}, inside chunk ${this.index}`);
      }
      const plain = open(this.fileKey!, this.header!.bytes, this.index, true, sealed);
      if (!plain) {
        if (sealed.length === this.header!.chunkSize + TAG_BYTES && open(this.fileKey!, this.header!.bytes, this.index, false, sealed)) {
          throw new BackupError('TRUNCATED', `the backup is truncated: it ends after chunk ${this.index} (byte ${this.offsetOf(this.index + 1)}) and its end is missing`);
        }
        throw this.damaged(sealed.length);
      }
      this.index++;
      this.push(plain);
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  private damaged(sealedLength: number): BackupError {
    const from = this.offsetOf(this.index);
    return new BackupError(
      'DAMAGED',
      `chunk ${this.index} (bytes ${from}–${from + sealedLength - 1}) does not authenticate: the file is damaged, truncated or was altered`,
    );
  }
}
