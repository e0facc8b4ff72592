import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

/**
 * A pair of connected pseudo-terminals made by socat, linked as `<dir>/<name>-agent` and
 * `<dir>/<name>-device`: a real serial line for a simulated device, no hardware needed.
 */
export async function ptyPair(dir: string, name: string): Promise<{ a: string; b: string; stop(): void }> {
  const [a, b] = [path.join(dir, `${name}-agent`), path.join(dir, `${name}-device`)];
  const proc = spawn('socat', [`pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: 'ignore' });
  const failed = new Promise<Error>((resolve) => proc.once('error', resolve));
  for (let i = 0; i < 100 && !(existsSync(a) && existsSync(b)); i++) {
    const error = await Promise.race([failed, new Promise<null>((r) => setTimeout(() => r(null), 50))]);
    if (error) throw new Error(`socat could not make the pty pair ${name}: ${error.message} (apt install socat)`);
  }
  if (!existsSync(a) || !existsSync(b)) {
    proc.kill();
    throw new Error(`socat made no pty pair ${name} within 5 s`);
  }
  return { a, b, stop: () => proc.kill() };
}
