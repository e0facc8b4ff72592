import { Agent } from './agent.js';
import { AGENT_VARIABLES, AgentConfigError, loadAgentConfig } from './config.js';

/**
 * `lawbox-agent`: starts the agent from the environment. Exit codes: 0 stopped on request, 1 failed,
 * 2 bad configuration. Logs are one JSON object per line on stdout (journald keeps them).
 */
export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`lawbox-agent — the device agent of lawbox\n\nEnvironment:\n${AGENT_VARIABLES.map((v) => `  ${v.name.padEnd(28)} ${v.default.padEnd(14)} ${v.meaning}`).join('\n')}\n`);
    return 0;
  }
  let config;
  try {
    config = loadAgentConfig(env);
  } catch (err) {
    if (err instanceof AgentConfigError) {
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const line = (level: string) => (obj: object, msg: string) => process.stdout.write(`${JSON.stringify({ level, time: new Date().toISOString(), agent: config.id, msg, ...obj })}\n`);
  const agent = new Agent(config, { info: line('info'), warn: line('warn') });
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await agent.stop();
  return 0;
}
