import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { createDatabase, USING_POSTGRES } from '../helpers/instance.js';
import { lawbox } from '../helpers/cli.js';

// The demo firm, a backup, a restore, a copy and a prune open the instance (embedded: seconds each).
t.setTimeout(150_000);

const dirs = t.testdir({ source: {}, target: {}, fresh: {}, out: {}, share: {}, copies: {}, prune: {} });
const keyFile = path.join(dirs, 'backup-key');
writeFileSync(keyFile, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
const badKeyFile = path.join(dirs, 'bad-key');
writeFileSync(badKeyFile, 'not-hex-at-all\n');
const otherKeyFile = path.join(dirs, 'other-key');
writeFileSync(otherKeyFile, randomBytes(32).toString('hex'));

/** An instance for the CLI: an embedded data directory, or a fresh PostgreSQL database with a data directory for its files. */
async function instance(name: string): Promise<Record<string, string>> {
  const env = { LAWBOX_DATA_DIR: path.join(dirs, name), LAWBOX_BACKUP_KEY_FILE: keyFile };
  if (!USING_POSTGRES) return env;
  const { databaseUrl } = await createDatabase(t);
  return { ...env, DATABASE_URL: databaseUrl! };
}

const source = await instance('source');
const target = await instance('target');
const demo = await lawbox(['demo'], source);
if (demo.code !== 0) throw new Error(`lawbox demo failed: ${demo.stderr}`);

let backupFile = '';
/** stdout of `backup create` */
let created = '';

t.test('create refuses without a usable key and says how to make one', async (t) => {
  const fresh = { LAWBOX_DATA_DIR: path.join(dirs, 'fresh') };
  const none = await lawbox(['backup', 'create'], fresh);
  t.equal(none.code, 1, 'no key: exit 1');
  t.match(none.stderr, /LAWBOX_BACKUP_KEY_FILE is not set/, 'the message names the variable');
  t.match(none.stderr, 'openssl rand -hex 32 > /etc/lawbox/credentials/backup-key', 'and the command that makes a key');
  t.notOk(existsSync(path.join(dirs, 'fresh', 'pgdata')), 'refused before the instance was opened');
  const bad = await lawbox(['backup', 'create'], { ...fresh, LAWBOX_BACKUP_KEY_FILE: badKeyFile });
  t.equal(bad.code, 1, 'a malformed key: exit 1');
  t.match(bad.stderr, /must hold exactly 64 hex characters \(32 bytes\) but has characters other than hex digits/, 'the message says what a key must look like');
});

t.test('create writes the backup, shows progress and copies it to the second location', async (t) => {
  const run = await lawbox(['backup', 'create', '--out', path.join(dirs, 'out')], { ...source, LAWBOX_BACKUP_COPY_TO: path.join(dirs, 'share') });
  t.equal(run.code, 0, 'exit 0', { stderr: run.stderr });
  const written = /^backup written: (\S+\.lbk) \(/m.exec(run.stdout);
  t.ok(written, 'stdout names the file');
  backupFile = written![1]!;
  created = run.stdout;
  t.equal(path.dirname(backupFile), path.join(dirs, 'out'), 'inside the --out directory');
  t.match(run.stdout, /\d+ tables, \d+ rows, \d+ files, [\d.]+ KiB/, 'and what it holds');
  t.match(run.stdout, `copied to ${path.join(dirs, 'share', path.basename(backupFile))}`, 'the copy is reported');
  t.ok(readFileSync(path.join(dirs, 'share', path.basename(backupFile))).equals(readFileSync(backupFile)), 'the copy is identical');
  t.match(run.stderr, /^backing up the database: tables (\d+)\/\1, \d+ rows/m, 'progress of the database on stderr, as plain lines when not a terminal');
  t.match(run.stderr, /^backing up files: .* \(100%\)$/m, 'and of the files, with a percentage');
  t.notMatch(run.stderr, /\r|\x1b/, 'no terminal control characters in a log');
});

t.test('verify accepts the backup and refuses a damaged one, naming what is wrong', async (t) => {
  const ok = await lawbox(['backup', 'verify', backupFile], { LAWBOX_BACKUP_KEY_FILE: keyFile });
  t.equal(ok.code, 0, 'an intact backup: exit 0', { stderr: ok.stderr });
  t.match(ok.stdout, /^backup intact: /m, 'reported intact');
  t.match(ok.stdout, /made \S+ by lawbox \S+ on \S+ \((pglite|postgres)\), schema \d{12}-/, 'with when, by which version and at which schema level');

  const bytes = readFileSync(backupFile);
  const flipped = Buffer.from(bytes);
  flipped[70_000]! ^= 0x40;
  const damaged = path.join(dirs, 'damaged.lbk');
  writeFileSync(damaged, flipped);
  const bad = await lawbox(['backup', 'verify', damaged], { LAWBOX_BACKUP_KEY_FILE: keyFile });
  t.equal(bad.code, 1, 'a flipped bit: exit 1');
  t.match(bad.stderr, /lawbox: chunk 1 \(bytes 65597–131148\) does not authenticate/, 'the message names the chunk');
  t.notMatch(bad.stdout, /intact/, 'nothing claims it is intact');

  const cut = path.join(dirs, 'cut.lbk');
  writeFileSync(cut, bytes.subarray(0, 45 + 65552));
  const truncated = await lawbox(['backup', 'verify', cut], { LAWBOX_BACKUP_KEY_FILE: keyFile });
  t.equal(truncated.code, 1, 'a truncated file: exit 1');
  t.match(truncated.stderr, /truncated: it ends after chunk 0/, 'reported as truncated');

  const wrongKey = await lawbox(['backup', 'verify', backupFile], { LAWBOX_BACKUP_KEY_FILE: otherKeyFile });
  t.equal(wrongKey.code, 1, 'another key: exit 1');
  t.match(wrongKey.stderr, /the backup key does not open this file/, 'reported as the wrong key');

  const missing = await lawbox(['backup', 'verify', path.join(dirs, 'nothing.lbk')], { LAWBOX_BACKUP_KEY_FILE: keyFile });
  t.equal(missing.code, 1, 'a missing file: exit 1');
  t.match(missing.stderr, /nothing\.lbk does not exist/, 'reported as missing');
});

t.test('restore fills an empty instance, whose audit trail then verifies', async (t) => {
  const run = await lawbox(['backup', 'restore', backupFile], target);
  t.equal(run.code, 0, 'exit 0', { stderr: run.stderr });
  t.match(run.stdout, /^restored .* into the (embedded instance|PostgreSQL database)/m, 'the target is named');
  t.notMatch(run.stdout, /postgres:\/\//, 'but never by its URL (it may hold a password)');
  t.match(run.stdout, /audit trail intact: \d+ records/, 'the audit chain is checked');
  t.match(run.stderr, /^verifying: .*\(100%\)$/m, 'the file was verified first');
  t.match(run.stderr, /^restoring: tables (\d+)\/\1, .*\(100%\)$/m, 'then restored, with progress');

  const holds = (out: string) => /^ {2}\d+ tables, \d+ rows, \d+ files/m.exec(out)?.[0];
  t.ok(holds(run.stdout), 'what was restored is listed');
  t.equal(holds(run.stdout), holds(created), 'the same tables, rows and files as were backed up');
  t.ok(readdirSync(path.join(dirs, 'target', 'documents')).length > 0, 'the stored documents are back');

  const again = await lawbox(['backup', 'restore', backupFile], target);
  t.equal(again.code, 1, 'a second restore into the now used instance: exit 1');
  t.match(again.stderr, /not empty|already holds/, 'refused because the target is in use');
});

t.test('copy and prune', async (t) => {
  const copy = await lawbox(['backup', 'copy', backupFile, '--to', path.join(dirs, 'copies')], source);
  t.equal(copy.code, 0, 'copy exits 0', { stderr: copy.stderr });
  t.ok(existsSync(path.join(dirs, 'copies', path.basename(backupFile))), 'the copy exists');
  const nowhere = await lawbox(['backup', 'copy', backupFile], source);
  t.equal(nowhere.code, 1, 'copy without a destination: exit 1');
  t.match(nowhere.stderr, /no destination: give --to/, 'and says how to give one');

  const old = ['lawbox-box-20200101T000000Z.lbk', 'lawbox-box-20200102T000000Z.lbk'];
  for (const name of old) writeFileSync(path.join(dirs, 'prune', name), 'x');
  const prune = await lawbox(['backup', 'prune'], { ...source, LAWBOX_BACKUP_DIR: path.join(dirs, 'prune') });
  t.equal(prune.code, 0, 'prune exits 0', { stderr: prune.stderr });
  t.match(prune.stdout, `deleted ${path.join(dirs, 'prune', old[0]!)}`, 'the old backup is listed as deleted');
  t.match(prune.stdout, /1 deleted, 1 kept/, 'the newest is kept however old');
  t.same(readdirSync(path.join(dirs, 'prune')), [old[1]], 'only the newest remains');
});
