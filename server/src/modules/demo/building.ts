import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { SYSTEM_ACTOR, type ServiceContext } from '../../context.js';
import type { MqttLink } from '../../mqtt.js';
import { enrollAgent, rotateAgentSecret } from '../agents/service.js';
import { currentPublicKey } from '../doors/access-list.js';

/** The agent that runs the demo building's simulated devices. */
export const DEMO_AGENT = 'front-desk';

/**
 * The demo building: one device per profile the product ships, as `lawbox-agent --simulate` runs them
 * (device-agent/src/simulators/building.ts uses the same ids). Their addresses are the simulator's
 * business, so the rows carry no transport and the server sends the simulating agent no devices.
 */
export const DEMO_DEVICES: { id: string; profile: string; name: string; location: string }[] = [
  { id: 'reader-main', profile: 'generic/osdp-single-door', name: '大门读卡器', location: '12 层 · 大门' },
  { id: 'relay-main', profile: 'lctech/lcus-1', name: '大门电锁', location: '12 层 · 大门' },
  { id: 'reader-archive', profile: 'generic/usb-hid-card-reader', name: '档案室读卡器', location: '12 层 · 档案室' },
  { id: 'relay-archive', profile: 'lctech/lcus-1', name: '档案室电锁', location: '12 层 · 档案室' },
  { id: 'id-reader-lobby', profile: 'generic/sam-id-card-reader', name: '前台身份证阅读器', location: '12 层 · 前台' },
  { id: 'wall-lobby', profile: 'samsung/qm55r', name: '大堂信息屏', location: '12 层 · 大堂' },
  { id: 'cam-reception', profile: 'hikvision/ds-2de4425iw-de', name: '接待区摄像机', location: '12 层 · 接待区' },
  { id: 'terminal-m1-01', profile: 'lawbox/paperless-terminal', name: '第一会议室 1 号终端', location: '12 层 · 第一会议室' },
  { id: 'terminal-m1-02', profile: 'lawbox/paperless-terminal', name: '第一会议室 2 号终端', location: '12 层 · 第一会议室' },
  { id: 'terminal-m1-03', profile: 'lawbox/paperless-terminal', name: '第一会议室 3 号终端', location: '12 层 · 第一会议室' },
  { id: 'plate-m1-01', profile: 'lawbox/eink-nameplate', name: '第一会议室桌牌', location: '12 层 · 第一会议室' },
];

/** Registers the demo agent and its devices (no MQTT credential yet: that is made at each start). */
export async function loadDemoBuilding(ctx: ServiceContext): Promise<void> {
  const now = ctx.clock.now();
  await ctx.db.insertInto('agents').values({ id: DEMO_AGENT, name: '前台设备主机（模拟）', secret_hash: null, enrolled_at: null, created_at: now }).onConflict((oc) => oc.column('id').doNothing()).execute();
  await ctx.db
    .insertInto('devices')
    .values(DEMO_DEVICES.map((d) => ({ id: d.id, agent_id: DEMO_AGENT, profile: d.profile, name: d.name, location: d.location, transport: null, settings: null, updated_at: now })))
    .onConflict((oc) => oc.column('id').doNothing())
    .execute();
}

const AGENT_BIN = fileURLToPath(new URL('../../../../device-agent/bin/lawbox-agent.js', import.meta.url));

/**
 * Runs `lawbox-agent --simulate` beside the demo server, as its own process with its own credential
 * (a fresh secret at every start, so none is ever stored in clear) and the server's access-list key.
 * With TLS on, `tls` names the host the server's certificate covers and the CA file to trust.
 */
export async function startDemoBuilding(ctx: ServiceContext, mqtt: MqttLink, httpUrl: string, log: Logger, tls: { host: string; caFile: string } | null = null): Promise<{ stop(): Promise<void> } | null> {
  if (!existsSync(AGENT_BIN)) {
    log.warn({ bin: AGENT_BIN }, 'device agent not found: the demo runs without simulated devices');
    return null;
  }
  const dir = path.join(ctx.config.dataDir, 'demo-agent');
  mkdirSync(path.join(dir, 'keys'), { recursive: true, mode: 0o700 });
  const key = await currentPublicKey(ctx);
  writeFileSync(path.join(dir, 'keys', `${key.key_id}.pem`), key.public_pem);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    LAWBOX_AGENT_ID: DEMO_AGENT,
    LAWBOX_AGENT_STATE_DIR: path.join(dir, 'state'),
    LAWBOX_AGENT_TRUSTED_KEYS: path.join(dir, 'keys'),
    LAWBOX_AGENT_SERVER_URL: httpUrl,
    ...(process.env.FFMPEG_PATH ? { FFMPEG_PATH: process.env.FFMPEG_PATH } : {}),
    // Node's own setting, not LAWBOX_AGENT_CA_FILE: it reaches every TLS connection of the process, so the
    // simulated MQTT devices and the camera's HTTPS uploads trust the server as the agent does.
    ...(tls ? { NODE_EXTRA_CA_CERTS: tls.caFile } : {}),
  };
  if (mqtt.embedded) {
    const agent = await ctx.db.selectFrom('agents').select('secret_hash').where('id', '=', DEMO_AGENT).executeTakeFirst();
    const credential = agent?.secret_hash ? await rotateAgentSecret(ctx, SYSTEM_ACTOR, DEMO_AGENT) : await enrollAgent(ctx, SYSTEM_ACTOR, { id: DEMO_AGENT, name: '前台设备主机（模拟）' });
    const secretFile = path.join(dir, 'secret');
    writeFileSync(secretFile, credential.password, { mode: 0o600 });
    const broker = mqtt.embedded.tls ? `mqtts://${tls?.host ?? '127.0.0.1'}` : 'mqtt://127.0.0.1';
    Object.assign(env, { LAWBOX_AGENT_BROKER_URL: `${broker}:${mqtt.embedded.port}`, LAWBOX_AGENT_USERNAME: credential.username, LAWBOX_AGENT_PASSWORD_FILE: secretFile });
  } else {
    env.LAWBOX_AGENT_BROKER_URL = ctx.config.mqttUrl ?? '';
  }
  const child: ChildProcess = spawn(process.execPath, [AGENT_BIN, '--simulate'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  // The agent logs JSON lines like the server; they join the server's output as they are.
  createInterface({ input: child.stdout! }).on('line', (line) => process.stdout.write(`${line}\n`));
  createInterface({ input: child.stderr! }).on('line', (line) => log.warn({ agent: DEMO_AGENT }, line));
  child.on('exit', (code, signal) => {
    if (code !== 0 && signal !== 'SIGTERM') log.warn({ code, signal }, 'the simulated building’s agent stopped');
  });
  log.info({ agent: DEMO_AGENT, devices: DEMO_DEVICES.length }, 'simulated building started');
  return {
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const exited = once(child, 'exit');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
