import { createInterface } from 'node:readline';

/**
 * Reads secrets from stdin, never from argv (where `ps` and shell history would show them).
 * Piped: the first lines of input. On a terminal: one prompt per line, with echo turned off.
 */
export async function readSecretLines(prompts: string[]): Promise<string[]> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    const lines: string[] = [];
    const rl = createInterface({ input: stdin, crlfDelay: Infinity });
    for await (const line of rl) {
      lines.push(line);
      if (lines.length === prompts.length) break;
    }
    rl.close();
    return lines;
  }
  const answers: string[] = [];
  for (const prompt of prompts) answers.push(await promptHidden(prompt));
  return answers;
}

function promptHidden(prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(prompt);
    stdin.setRawMode(true);
    stdin.resume();
    let value = '';
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          done();
          return resolve(value);
        }
        if (ch === '\u0003') {
          done();
          return reject(new Error('cancelled'));
        }
        if (ch === '\u007f') value = value.slice(0, -1);
        else value += ch;
      }
    };
    const done = () => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
    };
    stdin.on('data', onData);
  });
}
