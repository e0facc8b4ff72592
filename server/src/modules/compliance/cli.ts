import { renameSync, writeFileSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { CliFailure, cliActor, withInstance } from '../../cli-support.js';
import { loadConfig } from '../../config.js';
import { buildComplianceReport, renderHtml, renderText } from './report.js';
import { loadRequirements } from './requirements.js';
import { addCorrectiveAction, closeCorrectiveAction, listCorrectiveActions, recordEvaluation } from './service.js';

const positiveInt = (value: string) => {
  if (!/^[1-9]\d{0,8}$/.test(value)) throw new InvalidArgumentError('expected a positive whole number');
  return Number(value);
};

/** Written whole or not at all: a half-written report must not stand where the evaluators look. */
function writeReport(file: string, html: string): void {
  try {
    writeFileSync(`${file}.tmp`, html, { mode: 0o640 });
    renameSync(`${file}.tmp`, file);
  } catch (err) {
    throw new CliFailure(`cannot write the report to ${file}: ${(err as Error).message}`);
  }
}

/** `lawbox compliance …`: the chapter 7 evaluation (Z7.1–Z7.4) against the requirement register. */
export function registerComplianceCommands(program: Command, out: (line: string) => void): void {
  const compliance = program
    .command('compliance')
    .description('the compliance report: every requirement of T/ZSM 0038-2024 and GB/T 22239 level 2 with its feature, its tests (latest run) and a live self-check');

  compliance
    .command('report', { isDefault: true })
    .description('print the report (the default); --html writes it as one page for the evaluators')
    .option('--html <file>', 'also write the HTML report to this file')
    .option('--results <dir>', 'test results of the latest run (tap’s .tap/test-results); default: the repository’s or release’s own')
    .option('--strict', 'exit 1 when a requirement fails or a self-check fails (for monitoring)')
    .action(async (opts: { html?: string; results?: string; strict?: boolean }) => {
      const report = await withInstance(loadConfig(), (ctx) => buildComplianceReport(ctx, { resultsDir: opts.results }));
      for (const line of renderText(report)) out(line);
      if (opts.html) {
        writeReport(opts.html, renderHtml(report));
        out(`HTML report written to ${opts.html}`);
      }
      if (opts.strict && (report.counts.failing > 0 || report.checks.some((c) => !c.ok))) {
        throw new CliFailure(`${report.counts.failing} requirement(s) failing, ${report.checks.filter((c) => !c.ok).length} self-check(s) failed`);
      }
    });

  compliance
    .command('evaluate')
    .description('record an evaluation (Z7.1, Z7.2: every two years): writes the HTML report and keeps its hash and summary in the history')
    .requiredOption('--evaluator <name>', 'who evaluated: a person, or the third party’s name')
    .option('--third-party', 'the evaluation was made by a third party')
    .requiredOption('--html <file>', 'where to write the report handed to the evaluators')
    .option('--results <dir>', 'test results of the latest run')
    .action(async (opts: { evaluator: string; thirdParty?: boolean; html: string; results?: string }) => {
      const row = await withInstance(loadConfig(), async (ctx) => {
        const report = await buildComplianceReport(ctx, { resultsDir: opts.results });
        const html = renderHtml(report);
        // The report first: an evaluation is kept for good, and must never name a report nobody has.
        writeReport(opts.html, html);
        return recordEvaluation(ctx, cliActor(), { evaluator: opts.evaluator, kind: opts.thirdParty ? 'third_party' : 'self', report, html });
      });
      const counts = row.summary.counts;
      out(`evaluation #${row.id} recorded (${row.kind}, ${row.evaluator}): ${Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(', ')}`);
      out(`report ${opts.html}, SHA-256 ${row.report_sha256}`);
      out('track each gap or failure with: lawbox compliance action add --requirement ID --title … --owner … --due YYYY-MM-DD');
    });

  const action = compliance.command('action').description('corrective actions after an evaluation (Z7.4)');
  action
    .command('add')
    .description('open a corrective action against one requirement')
    .requiredOption('--requirement <id>', 'requirement ID, e.g. Z6.3.4.2 or G-backup')
    .requiredOption('--title <text>', 'what will be done')
    .requiredOption('--owner <name>', 'who is responsible')
    .requiredOption('--due <date>', 'due date, YYYY-MM-DD')
    .option('--evaluation <n>', 'the evaluation that found it', positiveInt)
    .action(async (opts: { requirement: string; title: string; owner: string; due: string; evaluation?: number }) => {
      const known = new Set(loadRequirements().map((r) => r.id));
      const row = await withInstance(loadConfig(), (ctx) =>
        addCorrectiveAction(ctx, cliActor(), { requirement: opts.requirement, title: opts.title, owner: opts.owner, due_on: opts.due, evaluation_id: opts.evaluation ?? null }, known),
      );
      out(`corrective action #${row.id} opened for ${row.requirement_id}, due ${row.due_on}`);
    });
  action
    .command('close')
    .description('close a corrective action with how it was resolved')
    .argument('<id>', 'the action number', positiveInt)
    .requiredOption('--resolution <text>', 'what was done')
    .action(async (id: number, opts: { resolution: string }) => {
      const row = await withInstance(loadConfig(), (ctx) => closeCorrectiveAction(ctx, cliActor(), id, opts.resolution));
      out(`corrective action #${row.id} closed`);
    });
  action
    .command('list')
    .description('list corrective actions')
    .option('--open', 'only those still open')
    .action(async (opts: { open?: boolean }) => {
      const rows = await withInstance(loadConfig(), (ctx) => listCorrectiveActions(ctx, { openOnly: opts.open }));
      if (!rows.length) out('no corrective actions');
      for (const a of rows) out(`#${a.id}  ${a.requirement_id.padEnd(9)} ${a.status.padEnd(5)} due ${a.due_on}  ${a.owner}: ${a.title}${a.resolution ? ` → ${a.resolution}` : ''}`);
    });
}
