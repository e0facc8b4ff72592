import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { ConfigError, loadConfig } from './config.js';
import { CliFailure, cliActor, withInstance } from './cli-support.js';
import { registerBackupCommands } from './modules/backup/cli.js';
import { registerComplianceCommands } from './modules/compliance/cli.js';
import { AppError } from './errors.js';
import { verifyAuditChain } from './modules/audit/service.js';
import { ROLE_NAMES } from './modules/auth/roles.js';
import { DEMO_FIRM, loadDemoFirm, type DemoAccount } from './modules/demo/service.js';
import { DEMO_INVITE_CODE } from './modules/visitors/service.js';
import { createUser, unlockUser } from './modules/users/service.js';
import { loadCalendarsFromConsole, loadedCalendars } from './modules/deadlines/service.js';
import { parseCalendarDocument } from './modules/deadlines/holidays.js';
import { startServer } from './server.js';
import { VERSION } from './version.js';
import { readSecretLines } from './stdin.js';

/** Exit codes: 0 done, 1 the command failed, 2 the command line was wrong. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

export function printDemoAccounts(accounts: DemoAccount[], out: (line: string) => void): void {
  out('');
  out(`演示律所已载入 / Demo firm loaded: ${DEMO_FIRM.name} (${DEMO_FIRM.name_en})`);
  out('One-time passwords, shown only now; each must be changed at first login / 一次性密码仅显示一次，首次登录须修改:');
  for (const a of accounts) out(`  ${a.role.padEnd(15)} ${a.username.padEnd(15)} ${a.oneTimePassword}   ${a.displayName}`);
  out('');
}

function buildProgram(out: (line: string) => void): Command {
  const program = new Command('lawbox')
    .description('lawbox: the law-firm appliance (T/ZSM 0038-2024). The environment (LAWBOX_DATA_DIR, DATABASE_URL, …) selects the instance.')
    .version(VERSION)
    .exitOverride()
    .showHelpAfterError()
    .configureOutput({ writeOut: (s) => process.stdout.write(s), writeErr: (s) => process.stderr.write(s) });

  program
    .command('serve')
    .description('migrate the database and run the server (and the embedded MQTT broker unless MQTT_URL is set)')
    .option('--demo', 'on first run, load the demo firm and print its one-time passwords')
    .action(async (opts: { demo?: boolean }) => {
      const config = loadConfig();
      const server = await startServer(config, { demo: opts.demo });
      if (server.firstRun.demoAccounts) {
        printDemoAccounts(server.firstRun.demoAccounts, out);
        out(`At the lobby kiosk, try today's invitation code ${DEMO_INVITE_CODE} (王秀英) / 今日可在前台终端试用预约码 ${DEMO_INVITE_CODE}`);
        out('');
      }
      if (server.firstRun.setupToken) {
        out('');
        out('没有任何账号。首次设置令牌（仅显示一次，24 小时内有效）/ No accounts yet. One-time setup token (valid 24 h):');
        out(`  ${server.firstRun.setupToken}`);
        out(`  POST ${server.url}/api/setup {"setup_token","username","display_name","password"} creates the first security administrator,`);
        out('  or run: lawbox user create --username U --role security_admin --display-name N (password on stdin)');
        out('');
      }
      out(`lawbox ${VERSION} is running:`);
      out(`  web & API     ${server.url}/api   (docs: ${server.url}/api/docs)`);
      out(`  health        ${server.url}/api/health`);
      out(`  metrics       ${server.url}/metrics   (Prometheus, from LAWBOX_METRICS_NETWORKS only)`);
      out(`  database      ${server.database.kind === 'pglite' ? `embedded PGlite in ${config.dataDir}` : 'PostgreSQL (DATABASE_URL)'}`);
      out(`  MQTT          ${server.mqtt.embedded ? `embedded broker on port ${server.mqtt.embedded.port}${server.mqtt.embedded.tls ? ' (TLS)' : ''}` : 'external broker (MQTT_URL)'}`);
      if (server.tls?.localCa) {
        out(`  TLS CA        ${server.tls.localCa.file}   SHA-256 ${server.tls.localCa.sha256}`);
        out('                install it on kiosks, browsers and agents / 请在终端、浏览器与设备代理上安装此根证书');
      }
      if (server.demoKiosks.length > 0) {
        out('Demo kiosk screens: open each link once in its own browser to enrol it / 演示终端（每个链接在独立浏览器中打开一次即完成登记）:');
        for (const k of server.demoKiosks) out(`  ${k.kind.padEnd(8)} ${k.url}   ${k.name}`);
      }
      if (server.demoClients.length > 0) {
        out('Demo client portal and signing link (one-time; new ones at each start) / 演示客户门户与签署链接（一次性，每次启动重新生成）:');
        for (const k of server.demoClients) out(`  ${k.kind.padEnd(8)} ${k.url}   ${k.name}`);
      }
      out('Press Ctrl+C to stop.');
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          out(`${signal} received, shutting down…`);
          server.stop().then(resolve, resolve);
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
      });
    });

  program
    .command('migrate')
    .description('bring the database schema up to date')
    .action(async () => {
      const applied = await withInstance(loadConfig(), async (_ctx, applied) => applied);
      out(applied.length ? `applied: ${applied.join(', ')}` : 'database schema is up to date');
    });

  const user = program.command('user').description('manage accounts');
  user
    .command('create')
    .description('create an account; the password is read from the first line of stdin (a second, confirming line may follow). The user must change it at first login.')
    .requiredOption('--username <username>', 'login name (lowercase letters, digits, . _ -)')
    .addOption(new Option('--role <role>', 'role').choices(ROLE_NAMES).makeOptionMandatory())
    .requiredOption('--display-name <name>', 'the person’s name, e.g. 张伟明')
    .action(async (opts: { username: string; role: string; displayName: string }) => {
      const lines = await readSecretLines(['Password: ', 'Repeat password: ']);
      const password = lines[0] ?? '';
      if (!password) throw new CliFailure('no password on stdin: pipe it in, e.g. `printf "%s\\n" "$PW" | lawbox user create …`');
      if (lines.length > 1 && lines[1] !== password) throw new CliFailure('the two passwords differ');
      const created = await withInstance(loadConfig(), (ctx) => createUser(ctx, cliActor(), { username: opts.username, displayName: opts.displayName, role: opts.role, password, mustChangePassword: true }));
      out(`created ${created.username} (${created.role}); the password must be changed at first login`);
    });
  user
    .command('unlock')
    .description('lift the lockout of an account after repeated failed logins')
    .argument('<username>')
    .action(async (username: string) => {
      const u = await withInstance(loadConfig(), (ctx) => unlockUser(ctx, cliActor(), username));
      out(`unlocked ${u.username}`);
    });

  const audit = program.command('audit').description('the audit trail');
  audit
    .command('verify')
    .description('check the hash chain; exits 1 and names the first bad seq if a record was changed, deleted or reordered')
    .action(async () => {
      const result = await withInstance(loadConfig(), (ctx) => verifyAuditChain(ctx.db));
      if (!result.ok) throw new CliFailure(`audit trail BROKEN at seq ${result.badSeq}: ${result.reason} (${result.rows} records verified before it)`);
      out(`audit trail intact: ${result.rows} records, last seq ${result.lastSeq}`);
    });

  const calendar = program.command('calendar').description('the public-holiday calendar deadlines are counted over');
  calendar
    .command('load')
    .description('load one or more years from a JSON file shaped like server/data/cn-public-holidays.json (the State Council notice, usually published in November); each replaces its year, audited; open deadlines are counted again. A file with any mistake changes nothing.')
    .argument('<file>')
    .action(async (file: string) => {
      let doc: unknown;
      try {
        doc = JSON.parse(readFileSync(file, 'utf8'));
      } catch (err) {
        throw new CliFailure(`cannot read ${file} as JSON, nothing loaded: ${(err as Error).message}`);
      }
      // A bad file is refused before the instance is even opened.
      parseCalendarDocument(doc);
      const result = await withInstance(loadConfig(), (ctx) => loadCalendarsFromConsole(ctx, cliActor(), doc));
      for (const l of result.loaded) {
        const notice = result.calendars.find((c) => c.year === l.year)?.notice ?? '';
        out(`${l.replaced ? 'replaced' : 'loaded'} ${l.year}: ${notice}`);
      }
      out(`open deadlines whose due date moved: ${result.recomputed}`);
    });
  calendar
    .command('list')
    .description('list the loaded years')
    .action(async () => {
      const years = await withInstance(loadConfig(), (ctx) => loadedCalendars(ctx.db));
      if (!years.length) out('no holiday calendar is loaded: deadlines count weekends only');
      for (const y of years) {
        const days = y.off.reduce((n, [from, to]) => n + (Date.parse(to) - Date.parse(from)) / 86_400_000 + 1, 0);
        out(`${y.year}  ${y.off.length} holidays (${days} days off), ${y.workdays.length} adjusted working days  ${y.notice}  (loaded ${y.loaded_at} by ${y.loaded_by})`);
      }
    });

  program
    .command('demo')
    .description('load the demo firm into an empty instance and print its one-time passwords')
    .action(async () => {
      const accounts = await withInstance(loadConfig(), (ctx) => loadDemoFirm(ctx));
      if (!accounts) throw new CliFailure('this instance already has accounts; the demo firm is loaded only into an empty instance');
      printDemoAccounts(accounts, out);
    });

  registerBackupCommands(program, out);
  registerComplianceCommands(program, out);
  return program;
}

export async function main(argv: string[], out: (line: string) => void = (l) => console.log(l)): Promise<number> {
  const program = buildProgram(out);
  if (argv.length === 0) {
    program.outputHelp();
    return EXIT.usage;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit 0; help shown because a subcommand was missing is a usage error.
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (err instanceof ConfigError) {
      console.error(err.message);
      return EXIT.usage;
    }
    const message = err instanceof AppError || err instanceof CliFailure || err instanceof Error ? err.message : String(err);
    console.error(`lawbox: ${message}`);
    return EXIT.failure;
  }
}
