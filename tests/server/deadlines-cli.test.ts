import { writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { openDatabase } from '../../server/src/db/index.js';
import { createDatabase, USING_POSTGRES } from '../helpers/instance.js';
import { lawbox as runLawbox } from '../helpers/cli.js';

/**
 * `lawbox calendar load <file>` and `lawbox calendar list`, run as the built CLI (server/dist: run
 * `npm run build` first) on an instance of their own: the shipped years after the first migration,
 * a malformed file refused with nothing changed, a new year loaded and audited.
 */
t.setTimeout(300_000);

/** The CLI as a user named `tester`, who the audit records name. */
const lawbox = (args: string[], env: Record<string, string>) => runLawbox(args, { USER: 'tester', ...env });

const dir = t.testdir({ data: {} });
const dataDir = path.join(dir, 'data');
const pg = USING_POSTGRES ? await createDatabase(t) : null;
const env: Record<string, string> = { LAWBOX_DATA_DIR: dataDir, ...(pg ? { DATABASE_URL: pg.databaseUrl! } : {}) };

const file = (name: string, content: unknown) => {
  const p = path.join(dir, name);
  writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content));
  return p;
};
// A made-up 2027 for the test (the real one is published in November 2026).
const good = file('2027.json', { about: 'test', years: { '2027': { notice: '测试：2027年部分节假日安排', off: [['2027-01-01', '2027-01-03'], ['2027-02-06', '2027-02-12']], workdays: ['2027-02-20'] } } });
const bad = file('bad.json', { years: { '2027': { notice: '测试', off: [['2027-02-06', '2027-02-12']], workdays: ['2027-02-22'] }, '2028': { notice: '测试', off: [['2028-01-01', '2028-01-01']], workdays: [] } } });
const notJson = file('notes.txt', '2027: 1月1日至3日放假');

t.test('a malformed file is refused before the instance is opened', async (t) => {
  const refused = await lawbox(['calendar', 'load', bad], env);
  t.equal(refused.code, 1, 'exit 1');
  t.match(refused.stderr, /2027-02-22 is not a Saturday or Sunday/, 'the problem is named');
  t.match(refused.stderr, /nothing changed/, 'and that nothing changed');
  const garbled = await lawbox(['calendar', 'load', notJson], env);
  t.equal(garbled.code, 1, 'a file that is not JSON: exit 1');
  t.match(garbled.stderr, /cannot read .*notes\.txt as JSON, nothing loaded/, 'says so');
  const usage = await lawbox(['calendar', 'load'], env);
  t.equal(usage.code, 2, 'no file named: a usage error');
});

t.test('a good file loads its year next to the shipped ones, audited; the refused file left no trace', async (t) => {
  const loaded = await lawbox(['calendar', 'load', good], env);
  t.equal(loaded.code, 0, `exit 0 (${loaded.stderr})`);
  t.match(loaded.stdout, /loaded 2027: 测试：2027年部分节假日安排/, 'it reports the year');
  t.match(loaded.stdout, /open deadlines whose due date moved: 0/, 'and the deadlines counted again');

  const list = await lawbox(['calendar', 'list'], env);
  t.equal(list.code, 0, `list: exit 0 (${list.stderr})`);
  for (const y of ['2024', '2025', '2026']) t.match(list.stdout, new RegExp(`^${y} .*国务院办公厅关于${y}年部分节假日安排的通知.*by migration`, 'm'), `${y}, seeded by the migration, is listed with its notice`);
  t.match(list.stdout, /^2027 {2}2 holidays \(10 days off\), 1 adjusted working days .*by cli:tester/m, '2027 is listed, with who loaded it');
  t.notMatch(list.stdout, /^2028/m, 'nothing of the refused file');

  // The embedded database is opened here only now that no CLI process holds it.
  const database = pg?.database ?? (await openDatabase({ databaseUrl: null, dataDir }));
  if (!pg) t.teardown(() => database.close());
  const audit = await database.db.selectFrom('audit_log').select(['actor', 'object']).where('action', '=', 'calendar.load').orderBy('seq').execute();
  t.same(audit, [{ actor: 'cli:tester', object: 'calendar:2027' }], 'the load is audited, the refused one not at all');
});
