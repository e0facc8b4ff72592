import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Parser, type FinalResults, type Result } from 'tap-parser';

export interface TestFileResult {
  /** path relative to the repository root, e.g. tests/server/backup.test.ts */
  file: string;
  ok: boolean;
  pass: number;
  fail: number;
  skip: number;
  /** when that file last ran */
  ranAt: Date;
  /** names of the first failing assertions, for the report */
  failures: string[];
}

/**
 * Where tap keeps the raw output of the latest run of each test file (`.tap/test-results/<file>.tap`):
 * in the repository, or in a release that shipped the results of the run that built it.
 */
export const DEFAULT_RESULTS_DIR = fileURLToPath(new URL('../../../../.tap/test-results', import.meta.url));

interface Parsed {
  final: FinalResults;
  pass: number;
  fail: number;
  skip: number;
  failures: string[];
}

/**
 * Counts the assertions of every subtest, however deep: the one line a subtest leaves in its parent
 * ("ok 3 - group") is a summary of those, not an assertion of its own, so it is not counted again.
 */
function parseTap(text: string): Parsed {
  const parser = new Parser();
  const counts = { pass: 0, fail: 0, skip: 0, failures: [] as string[] };
  const follow = (p: Parser) => {
    const summaries: string[] = [];
    p.on('child', (child: Parser) => {
      summaries.push(child.name);
      follow(child);
    });
    p.on('assert', (a: Result) => {
      const summary = summaries.indexOf(a.name);
      if (summary !== -1) {
        summaries.splice(summary, 1);
        return;
      }
      if (a.skip || a.todo) counts.skip++;
      else if (a.ok) counts.pass++;
      else {
        counts.fail++;
        counts.failures.push(a.name || `#${a.id}`);
      }
    });
  };
  follow(parser);
  let final: FinalResults | null = null;
  parser.on('complete', (r: FinalResults) => (final = r));
  parser.end(text);
  if (!final) throw new Error('tap output did not complete');
  return { final, ...counts };
}

/** Reads the latest result of every test file under dir; an empty map if no run has been kept. */
export function readTestResults(dir = DEFAULT_RESULTS_DIR): Map<string, TestFileResult> {
  const found = new Map<string, TestFileResult>();
  const walk = (sub: string) => {
    let entries;
    try {
      entries = readdirSync(path.join(dir, sub), { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const rel = path.posix.join(sub, e.name);
      if (e.isDirectory()) walk(rel);
      else if (e.name.endsWith('.tap')) {
        const full = path.join(dir, rel);
        const r = parseTap(readFileSync(full, 'utf8'));
        const file = rel.slice(0, -'.tap'.length);
        // A file that crashed before its plan fails, though every assertion it got to passed.
        const ok = r.final.ok && r.fail === 0 && !r.final.bailout && r.final.count > 0;
        found.set(file, { file, ok, pass: r.pass, fail: r.fail + (ok || r.fail > 0 ? 0 : 1), skip: r.skip, ranAt: statSync(full).mtime, failures: r.failures.slice(0, 5) });
      }
    }
  };
  walk('');
  return found;
}
