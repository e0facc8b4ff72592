import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import { pino } from 'pino';
import t from 'tap';
import { openDatabase, type DatabaseHandle } from '../../server/src/db/index.js';
import { migrations } from '../../server/src/db/migrations/index.js';
import { verifyPassword } from '../../server/src/modules/auth/passwords.js';
import { startServer } from '../../server/src/server.js';
import { createDatabase, testConfig, USING_POSTGRES } from '../helpers/instance.js';
import { lawbox } from '../helpers/cli.js';

// Every embedded-PGlite spawn takes a few seconds; the whole file runs about a dozen of them.
t.setTimeout(420_000);

const dirs = t.testdir({ main: {}, demo: {}, badenv: {} });

/** One lawbox instance: a data directory (embedded) or a fresh PostgreSQL database. */
interface Instance {
  env: Record<string, string>;
  dataDir: string;
  databaseUrl: string | null;
  /** the PostgreSQL handle created with the database, kept open for the test's own queries */
  handle: DatabaseHandle | null;
}

async function instance(name: string): Promise<Instance> {
  const dataDir = path.join(dirs, name);
  if (!USING_POSTGRES) return { env: { LAWBOX_DATA_DIR: dataDir }, dataDir, databaseUrl: null, handle: null };
  const { database, databaseUrl } = await createDatabase(t);
  return { env: { LAWBOX_DATA_DIR: dataDir, DATABASE_URL: databaseUrl! }, dataDir, databaseUrl, handle: database };
}

/**
 * Opens the instance's database in this process. For embedded PGlite only while no CLI runs on it
 * (the lock file keeps it to one process), and closed again before the next CLI run.
 */
async function direct<T>(inst: Instance, fn: (db: DatabaseHandle['db']) => Promise<T>): Promise<T> {
  if (inst.handle) return fn(inst.handle.db);
  const database = await openDatabase({ databaseUrl: null, dataDir: inst.dataDir });
  try {
    return await fn(database.db);
  } finally {
    await database.close();
  }
}

const main = await instance('main');
const PASSWORD = 'Zhang-Wei-Ming-2026';

t.test('--help and user create --help print their usage and exit 0', async (t) => {
  const help = await lawbox(['--help'], main.env);
  t.equal(help.code, 0, '`lawbox --help` exits 0');
  t.match(help.stdout, /Usage: lawbox/, 'it prints the usage');
  for (const command of ['serve', 'migrate', 'user', 'audit', 'demo']) t.match(help.stdout, new RegExp(`\\b${command}\\b`), `the usage lists ${command}`);

  const create = await lawbox(['user', 'create', '--help'], main.env);
  t.equal(create.code, 0, '`lawbox user create --help` exits 0');
  t.match(create.stdout, /--username/, 'it documents --username');
  t.match(create.stdout, /stdin/, 'it says the password comes from stdin');
  t.notMatch(create.stdout, /--password/, 'there is no --password option');

  const bare = await lawbox([], main.env);
  t.equal(bare.code, 2, '`lawbox` without a command exits 2');
  t.match(bare.stdout + bare.stderr, /Usage: lawbox/, 'and shows the usage');
});

t.test('an unknown command or a missing required option exits 2', async (t) => {
  const unknown = await lawbox(['frobnicate'], main.env);
  t.equal(unknown.code, 2, 'an unknown command exits 2');
  t.match(unknown.stderr, /unknown command 'frobnicate'/, 'and names the command');

  const missing = await lawbox(['user', 'create', '--username', 'x.y', '--role', 'lawyer'], main.env, 'Some-Pass-123\n');
  t.equal(missing.code, 2, 'a missing --display-name exits 2');
  t.match(missing.stderr, /--display-name/, 'and names the missing option');

  const group = await lawbox(['user'], main.env);
  t.equal(group.code, 2, '`lawbox user` without a subcommand exits 2');
  t.match(group.stderr, /create/, 'and shows the subcommands');
});

t.test('an invalid environment exits 2, names the variable and touches nothing', async (t) => {
  const dataDir = path.join(dirs, 'badenv');
  const env: Record<string, string> = { LAWBOX_DATA_DIR: dataDir, LAWBOX_HTTP_PORT: 'abc' };
  if (main.databaseUrl) env.DATABASE_URL = main.databaseUrl;
  const run = await lawbox(['migrate'], env);
  t.equal(run.code, 2, 'LAWBOX_HTTP_PORT=abc exits 2');
  t.match(run.stderr, /LAWBOX_HTTP_PORT=abc/, 'the message names the variable and its value');
  t.notOk(existsSync(path.join(dataDir, 'pgdata')), 'no database was created in the data directory');
});

t.test('migrate brings the instance up to date and exits 0', async (t) => {
  const run = await lawbox(['migrate'], main.env);
  t.equal(run.code, 0, 'migrate exits 0', { stderr: run.stderr });
  if (USING_POSTGRES) {
    // createDatabase already migrated this database.
    t.match(run.stdout, /up to date/, 'an already migrated database is reported up to date');
  } else {
    t.match(run.stdout, `applied: ${Object.keys(migrations).join(', ')}`, 'a new instance reports every migration as applied, in order');
  }
  const tables = await direct(main, async (db) => (await db.introspection.getTables()).map((x) => x.name));
  t.ok(tables.includes('users') && tables.includes('audit_log'), 'the schema exists afterwards');
});

t.test('user create takes the password from stdin, never from argv', async (t) => {
  const viaArgv = await lawbox(['user', 'create', '--username', 'argv.user', '--role', 'lawyer', '--display-name', '某人', '--password', PASSWORD], main.env, `${PASSWORD}\n`);
  t.equal(viaArgv.code, 2, 'a --password option is a usage error (exit 2)');
  t.match(viaArgv.stderr, /unknown option '--password'/, 'the option is reported as unknown');

  const run = await lawbox(['user', 'create', '--username', 'zhang.wm', '--role', 'lawyer', '--display-name', '张伟明'], main.env, `${PASSWORD}\n`);
  t.equal(run.code, 0, 'creating zhang.wm exits 0', { stderr: run.stderr });
  t.match(run.stdout, /created zhang\.wm \(lawyer\)/, 'the CLI confirms the account');
  t.notMatch(run.stdout + run.stderr, PASSWORD, 'the password is not echoed');

  const users = await direct(main, (db) => db.selectFrom('users').selectAll().execute());
  t.equal(users.length, 1, 'exactly one account exists: the argv attempt created nothing');
  const user = users[0]!;
  t.equal(user.username, 'zhang.wm', 'the account has the given username');
  t.equal(user.display_name, '张伟明', 'the Chinese display name arrived intact');
  t.equal(user.role, 'lawyer', 'the account has the given role');
  t.equal(user.must_change_password, true, 'the password must be changed at first login');
  t.ok(await verifyPassword(user.password_hash, PASSWORD), 'the stored hash matches the password read from stdin');
});

t.test('a confirmation line that differs exits 1 and creates nothing', async (t) => {
  const run = await lawbox(['user', 'create', '--username', 'typo.user', '--role', 'lawyer', '--display-name', '李四'], main.env, `${PASSWORD}\n${PASSWORD}x\n`);
  t.equal(run.code, 1, 'mismatching passwords exit 1');
  t.match(run.stderr, /differ/, 'the message says the passwords differ');
  const none = await lawbox(['user', 'create', '--username', 'typo.user', '--role', 'lawyer', '--display-name', '李四'], main.env, '');
  t.equal(none.code, 1, 'no password on stdin at all exits 1');
  t.match(none.stderr, /no password on stdin/, 'and says where the password is expected');
});

t.test('a weak password exits 1 with the policy’s reasons', async (t) => {
  const run = await lawbox(['user', 'create', '--username', 'weak.user', '--role', 'lawyer', '--display-name', '王五'], main.env, 'short\nshort\n');
  t.equal(run.code, 1, 'a weak password exits 1');
  t.match(run.stderr, /does not meet the policy/, 'the message says the password is too weak');
  const weak = await direct(main, (db) => db.selectFrom('users').select('username').where('username', 'in', ['weak.user', 'typo.user']).execute());
  t.same(weak, [], 'neither the weak nor the mistyped account exists');
});

t.test('an unknown role exits 2', async (t) => {
  const run = await lawbox(['user', 'create', '--username', 'x.y', '--role', 'emperor', '--display-name', '皇帝'], main.env, `${PASSWORD}\n`);
  t.equal(run.code, 2, 'an unknown role exits 2');
  t.match(run.stderr, /emperor/, 'the message names the rejected role');
  t.match(run.stderr, /lawyer/, 'and lists the valid roles');
});

t.test('user unlock lifts a lockout; an unknown user exits 1', async (t) => {
  await direct(main, (db) => db.updateTable('users').set({ locked_until: new Date(Date.now() + 3_600_000), failed_logins: 5 }).where('username', '=', 'zhang.wm').execute());
  const run = await lawbox(['user', 'unlock', 'zhang.wm'], main.env);
  t.equal(run.code, 0, 'unlocking zhang.wm exits 0', { stderr: run.stderr });
  t.match(run.stdout, /unlocked zhang\.wm/, 'the CLI confirms the unlock');
  const after = await direct(main, (db) => db.selectFrom('users').select(['locked_until', 'failed_logins']).where('username', '=', 'zhang.wm').executeTakeFirstOrThrow());
  t.equal(after.locked_until, null, 'the lockout is lifted');
  t.equal(after.failed_logins, 0, 'the failure count is reset');

  const unknown = await lawbox(['user', 'unlock', 'no.such.user'], main.env);
  t.equal(unknown.code, 1, 'unlocking an unknown user exits 1');
  t.match(unknown.stderr, /no\.such\.user/, 'the message names the user');
});

t.test('audit verify exits 0 and reports the chain intact', async (t) => {
  const run = await lawbox(['audit', 'verify'], main.env);
  t.equal(run.code, 0, 'audit verify exits 0', { stderr: run.stderr });
  // user.create and user.unlock of zhang.wm; the refused commands wrote nothing.
  t.match(run.stdout, /intact: 2 records, last seq 2/, 'it prints "intact" with the number of records');
});

t.test('audit verify exits 1 and names the seq of a tampered record', async (t) => {
  const seq = await direct(main, async (db) => {
    const row = await db.selectFrom('audit_log').select('seq').where('action', '=', 'user.create').executeTakeFirstOrThrow();
    await sql`alter table audit_log disable trigger audit_log_no_change`.execute(db);
    await db.updateTable('audit_log').set({ action: 'user.delete' }).where('seq', '=', row.seq).execute();
    await sql`alter table audit_log enable trigger audit_log_no_change`.execute(db);
    return Number(row.seq);
  });
  const run = await lawbox(['audit', 'verify'], main.env);
  t.equal(run.code, 1, 'a tampered trail exits 1');
  t.match(run.stderr, new RegExp(`BROKEN at seq ${seq}\\b`), `the message names seq ${seq}`);
  t.notMatch(run.stdout, /intact/, 'nothing claims the trail is intact');
});

t.test('demo refuses an instance that already has accounts', async (t) => {
  const run = await lawbox(['demo'], main.env);
  t.equal(run.code, 1, 'demo on an instance with users exits 1');
  t.match(run.stderr, /already has accounts/, 'the message says why');
  t.notMatch(run.stdout, /One-time passwords/, 'no passwords are printed');
  const count = await direct(main, async (db) => Number((await db.selectFrom('users').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n));
  t.equal(count, 1, 'no demo account was added');
});

t.test('demo fills an empty instance, prints 10 one-time passwords, and the director’s must be changed first', async (t) => {
  const demo = await instance('demo');
  const run = await lawbox(['demo'], demo.env);
  t.equal(run.code, 0, 'demo on an empty instance exits 0', { stderr: run.stderr });
  t.match(run.stdout, '【演示】', 'the demo firm is clearly marked');
  const accounts = [...run.stdout.matchAll(/^\s+(\S+)\s+(\S+)\s+([A-Za-z0-9]{4}-[A-Za-z0-9]{4}-[A-Za-z0-9]{4})\s+(\S.*)$/gm)].map((m) => ({ role: m[1]!, username: m[2]!, password: m[3]! }));
  t.equal(accounts.length, 10, 'ten accounts are printed, each with a one-time password');
  t.equal(new Set(accounts.map((a) => a.username)).size, 10, 'the usernames are distinct');
  t.equal(new Set(accounts.map((a) => a.password)).size, 10, 'every account has its own password');
  const director = accounts.find((a) => a.username === 'director');
  t.equal(director?.role, 'director', 'the director account is among them');

  const server = await startServer(testConfig({ LAWBOX_DATA_DIR: demo.dataDir, ...(demo.databaseUrl ? { DATABASE_URL: demo.databaseUrl } : {}) }), { log: pino({ level: 'silent' }) });
  t.teardown(() => server.stop());
  t.equal(server.firstRun.setupToken, null, 'the server sees the demo accounts: no setup token is issued');
  const login = await server.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'director', password: director?.password } });
  t.equal(login.statusCode, 200, 'the printed director password signs in');
  t.equal(login.json().user.password_change_required, true, 'the login says the password must be changed');
  const work = await server.app.inject({ url: '/api/roles', headers: { authorization: `Bearer ${login.json().token}` } });
  t.equal(work.statusCode, 403, 'other routes are refused before the change');
  t.equal(work.json().error.code, 'PASSWORD_CHANGE_REQUIRED', 'because the password must be changed first');
  const wrong = await server.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'director', password: accounts.find((a) => a.username !== 'director')?.password } });
  t.equal(wrong.statusCode, 401, 'another account’s password does not sign the director in');
  await server.stop();
});

// Embedded runs only: the lock file guards the PGlite data directory, which PostgreSQL runs do not use.
if (!USING_POSTGRES) t.test('a data directory held by another process is refused and left intact', async (t) => {
  const lockPath = path.join(main.dataDir, 'lawbox.lock');
  const held = await openDatabase({ databaseUrl: null, dataDir: main.dataDir });
  let closed = false;
  t.teardown(() => (closed ? undefined : held.close()));
  t.equal(readFileSync(lockPath, 'utf8').trim(), String(process.pid), 'this process holds the lock');

  const run = await lawbox(['migrate'], main.env);
  t.equal(run.code, 1, 'lawbox migrate on a held directory exits 1');
  t.match(run.stderr, /in use/, 'the message says the data directory is in use');
  t.match(run.stderr, `pid ${process.pid}`, 'and names the process holding it');
  t.equal(readFileSync(lockPath, 'utf8').trim(), String(process.pid), 'the refused command left the holder’s lock alone');
  const whileHeld = await held.db.selectFrom('users').select('username').execute();
  t.same(whileHeld.map((u) => u.username), ['zhang.wm'], 'the holder still reads its data');

  await held.close();
  closed = true;
  t.notOk(existsSync(lockPath), 'closing releases the lock');
  const count = await direct(main, async (db) => Number((await db.selectFrom('users').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n));
  t.equal(count, 1, 'reopened afterwards, the database is intact and still has its one account');
});
