import { spawn, type ChildProcess } from 'node:child_process';
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
      reject(new Error(`lawbox ${args.join(' ')} did not finish within 90 s\n${stdout}\n${stderr}`));
    }, 90_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.on('error', () => {}); // a command that exits before reading stdin closes the pipe
    child.stdin.end(input);
  });
}


export interface ServingDemo {
  child: ChildProcess;
  /** the base URL the server printed (http or https) */
  url: string;
  /** everything printed so far */
  output(): string;
  /** SIGTERM, then the exit code (at once if it has exited) */
  stop(): Promise<number | null>;
}

/** Runs `lawbox serve --demo` on loopback with free ports until it prints its URL. */
export async function serveDemo(env: Record<string, string>): Promise<ServingDemo> {
  const child = spawn(process.execPath, [bin, 'serve', '--demo'], {
    env: { PATH: process.env.PATH!, LAWBOX_HTTP_HOST: '127.0.0.1', LAWBOX_HTTP_PORT: '0', LAWBOX_MQTT_HOST: '127.0.0.1', LAWBOX_MQTT_PORT: '0', LAWBOX_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (out += c));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL within 60 s:\n${out}`)), 60_000);
    child.stdout.on('data', () => {
      const m = /health\s+(https?:\/\/\S+)\/api\/health/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code}:\n${out}`)));
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    child.kill('SIGTERM');
    return new Promise<number | null>((r) => child.once('exit', r));
  };
  return { child, url, output: () => out, stop };
}
