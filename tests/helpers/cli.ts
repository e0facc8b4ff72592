import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../server/bin/lawbox.js', import.meta.url));
const compiledCli = fileURLToPath(new URL('../../server/dist/cli.js', import.meta.url));
if (!existsSync(compiledCli)) {
  throw new Error(`${compiledCli} is missing: these tests run the built CLI; run \`npm run build\` in the repository root first.`);
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node server/bin/lawbox.js …` with exactly the given environment and stdin. */
export function lawbox(args: string[], env: Record<string, string>, input = ''): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      env: { PATH: process.env.PATH!, LAWBOX_LOG_LEVEL: 'warn', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`lawbox ${args.join(' ')} did not finish within 60 s\n${stdout}\n${stderr}`));
    }, 60_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.on('error', () => {}); // a command that exits before reading stdin closes the pipe
    child.stdin.end(input);
  });
}

