import { readFileSync } from 'node:fs';
import t from 'tap';
import { CONFIG_VARIABLES } from '../../server/src/config.js';
import { ROLE_NAMES } from '../../server/src/modules/auth/roles.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const readmeZh = readFileSync(new URL('../../README.zh-CN.md', import.meta.url), 'utf8');

t.test('the README starts with exactly the two fresh-machine commands', async (t) => {
  const block = /```[a-z]*\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
  const commands = block.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  t.same(commands, ['npm ci && npm start', 'npm ci && npm test'], 'install+run, then install+test');
  const zhBlock = /```[a-z]*\n([\s\S]*?)```/.exec(readmeZh)?.[1] ?? '';
  t.match(zhBlock, 'npm ci && npm start', 'the Chinese README gives the same first command');
});

t.test('the configuration table documents every variable the server reads', async (t) => {
  for (const v of CONFIG_VARIABLES) {
    t.match(readme, `| \`${v.name}\` | \`${v.default}\``.replace(/`\(unset([^`]*)\)`/, '(unset$1)'), `${v.name} is documented with its default`);
  }
});

t.test('the README names every role', async (t) => {
  for (const role of ROLE_NAMES) {
    t.match(readme, `\`${role}\``, `${role} appears in README.md`);
    t.match(readmeZh, `\`${role}\``, `${role} appears in README.zh-CN.md`);
  }
});
