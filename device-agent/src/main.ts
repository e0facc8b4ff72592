import { Agent, type AgentConfig } from './agent.js';
import { AGENT_VARIABLES, AgentConfigError, loadAgentConfig } from './config.js';
import { startSystemdNotify } from './runtime/systemd.js';

const USAGE = `lawbox-agent — the device agent of lawbox

Usage: lawbox-agent [--simulate]

  --simulate   run a simulated peer for every supported device (door readers and relays on pty
               pairs, ID card reader, USB card reader, wall display, ONVIF camera, meeting terminals
               and a nameplate) and drive them as this agent's devices: the whole building, no hardware

Environment:
`;

/**
 * `lawbox-agent`: starts the agent from the environment. Exit codes: 0 stopped on request, 1 failed,
 * 2 bad configuration or arguments. Logs are one JSON object per line on stdout (journald keeps them).
 */
export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${USAGE}${AGENT_VARIABLES.map((v) => `  ${v.name.padEnd(28)} ${v.default.padEnd(14)} ${v.meaning}`).join('\n')}\n`);
    return 0;
  }
  const unknown = argv.filter((a) => a !== '--simulate');
  if (unknown.length) {
    process.stderr.write(`lawbox-agent: unknown argument ${unknown[0]} (see --help)\n`);
    return 2;
  }
  let config: AgentConfig;
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
  const log = { info: line('info'), warn: line('warn') };
  let simulation: { stop(): Promise<void> } | null = null;
  if (argv.includes('--simulate')) {
    // Loaded only here: a production agent never carries the simulators in memory.
    const { startSimulation } = await import('./simulators/building.js');
    const sim = await startSimulation({ stateDir: config.stateDir, brokerUrl: config.brokerUrl, username: config.username, password: config.password, log });
    simulation = sim;
    const ownSecrets = config.secrets;
    config = { ...config, localConfig: sim.config, drivers: { ...config.drivers, ...sim.drivers }, secrets: (ref) => sim.secrets(ref) ?? ownSecrets?.(ref) };
  }
  const systemd = startSystemdNotify(env, log);
  const agent = new Agent(config, log);
  systemd.ready();
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  systemd.stopping();
  await agent.stop();
  await simulation?.stop();
  systemd.stop();
  return 0;
}
