import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { SerialPort } from 'serialport';
import type { AgentDeviceConfig, AgentLog } from '../agent.js';
import type { DeviceAssignment, DriverFactory } from '../drivers/driver.js';
import { createHidCardReaderDriver } from '../drivers/hid/card-reader.js';
import { openSerial } from '../drivers/serial/relay.js';
import { EinkNameplateSimulator } from './eink-nameplate.js';
import { SimulatedHidReader } from './hid-card-reader.js';
import { IdCardReaderSimulator } from './id-card-reader.js';
import { MdcDisplaySimulator } from './mdc-display.js';
import { MeetingTerminalSimulator } from './meeting-terminal.js';
import { OnvifCameraSimulator } from './onvif-camera.js';
import { OsdpReaderSimulator } from './osdp-pd.js';
import { ptyPair } from './pty.js';
import { RelayBoardSimulator } from './relay-board.js';
import { mediaToolsMissing, startRtspTestStream, type RtspTestStream } from './rtsp-stream.js';

/** The OSDP address the simulated main-door reader answers at. */
const OSDP_ADDRESS = 1;
/** Cards the demo staff carry (the server's demo firm grants them) and one nobody knows. */
export const DEMO_CARDS = { staff: '12345640', unknown: 'DEADBEEF' } as const;
/** The HID reader types the same staff card in decimal: 0x12345640 = 305419840. */
const DEMO_HID_CARD = '0305419840';
const DEMO_ID_CARD = {
  name: '李访客',
  sex: 'female' as const,
  ethnicityCode: '01',
  birthDate: '1990-03-07',
  address: '北京市朝阳区建国路 88 号',
  idNumber: '11010519900307002X',
  issuingAuthority: '北京市公安局朝阳分局',
  validFrom: '2020-01-01',
  validTo: '2040-01-01',
};

export interface SimulatedBuilding {
  /** the agent's device configuration, in place of the server's */
  config: AgentDeviceConfig;
  /** drivers bound to the simulated peers where no real line exists (the HID reader) */
  drivers: Partial<Record<string, DriverFactory | null>>;
  /** the camera's ONVIF password, by secret_ref */
  secrets: (ref: string) => string | undefined;
  peers: {
    mainReader: OsdpReaderSimulator | null;
    mainRelay: RelayBoardSimulator | null;
    archiveRelay: RelayBoardSimulator | null;
    archiveReader: SimulatedHidReader;
    idReader: IdCardReaderSimulator | null;
    display: MdcDisplaySimulator;
    camera: OnvifCameraSimulator;
    terminals: MeetingTerminalSimulator[];
    nameplate: EinkNameplateSimulator;
  };
  stop(): Promise<void>;
}

/**
 * The whole building with no hardware: a simulated peer for every device profile, on the line it would
 * use for real (serial devices on socat pty pairs, the display on TCP 1515's protocol, the camera as an
 * ONVIF SOAP service with an RTSP test stream, terminals and a nameplate on MQTT), and the agent
 * configuration that drives them. With `activity`, people come and go: cards at the doors, an ID card at
 * the front desk, page turns in the meeting room, so the demo's screens move.
 */
export async function startSimulation(opts: { stateDir: string; brokerUrl: string; username?: string; password?: string; log: AgentLog; activity?: boolean }): Promise<SimulatedBuilding> {
  const { log } = opts;
  const dir = path.join(path.resolve(opts.stateDir), 'sim');
  mkdirSync(dir, { recursive: true });
  const stops: (() => unknown)[] = [];
  const devices: DeviceAssignment[] = [];
  const ports: SerialPort[] = [];

  // Serial devices: one pty pair each; without socat they are left out, and said so.
  const socat = spawnSync('socat', ['-V'], { stdio: 'ignore' }).status === 0;
  const serial = async (device: string) => {
    const pair = await ptyPair(dir, device);
    stops.push(pair.stop);
    const port = await openSerial(pair.b, 9600);
    ports.push(port);
    return { agentPath: pair.a, port };
  };
  let mainReader: OsdpReaderSimulator | null = null;
  let mainRelay: RelayBoardSimulator | null = null;
  let archiveRelay: RelayBoardSimulator | null = null;
  let idReader: IdCardReaderSimulator | null = null;
  if (socat) {
    const reader = await serial('reader-main');
    // The main door's contact is wired to the reader's input 0: closed (active) at rest.
    mainReader = new OsdpReaderSimulator(reader.port, OSDP_ADDRESS, { inputs: [true] });
    devices.push({ device: 'reader-main', profile: 'generic/osdp-single-door', name: '大门读卡器', transport: { type: 'serial', path: reader.agentPath }, settings: { osdp_address: OSDP_ADDRESS, poll_interval_ms: 100 } });
    const relay = await serial('relay-main');
    mainRelay = new RelayBoardSimulator(relay.port);
    devices.push({ device: 'relay-main', profile: 'lctech/lcus-1', name: '大门电锁', transport: { type: 'serial', path: relay.agentPath } });
    const archive = await serial('relay-archive');
    archiveRelay = new RelayBoardSimulator(archive.port);
    devices.push({ device: 'relay-archive', profile: 'lctech/lcus-1', name: '档案室电锁', transport: { type: 'serial', path: archive.agentPath } });
    // The SAM reader's line speed is 115200, but a pty pair does not care.
    const id = await serial('id-reader-lobby');
    idReader = new IdCardReaderSimulator(id.port);
    devices.push({ device: 'id-reader-lobby', profile: 'generic/sam-id-card-reader', name: '前台身份证阅读器', transport: { type: 'serial', path: id.agentPath } });
  } else {
    log.warn({}, 'socat is not installed: the simulated door readers, relays and ID card reader are left out (apt install socat)');
  }

  const archiveReader = new SimulatedHidReader();
  devices.push({ device: 'reader-archive', profile: 'generic/usb-hid-card-reader', name: '档案室读卡器', transport: { type: 'hid' } });

  const display = new MdcDisplaySimulator();
  const displayPort = await display.listen();
  stops.push(() => display.close());
  devices.push({ device: 'wall-lobby', profile: 'samsung/qm55r', name: '大堂信息屏', transport: { type: 'tcp', host: '127.0.0.1', port: displayPort }, settings: { poll_interval_ms: 5000 } });

  let stream: RtspTestStream | null = null;
  const missing = mediaToolsMissing();
  if (missing) log.warn({ reason: missing }, 'the simulated camera has no video stream (its ONVIF service still runs)');
  else {
    stream = await startRtspTestStream().catch((err: Error) => {
      log.warn({ err: err.message }, 'the simulated camera’s RTSP stream did not start');
      return null;
    });
    if (stream) stops.push(() => stream!.stop());
  }
  const cameraPassword = randomBytes(12).toString('base64url');
  const camera = new OnvifCameraSimulator({ username: 'lawbox', password: cameraPassword, rtspUri: stream?.url ?? 'rtsp://127.0.0.1:554/unavailable' });
  const cameraPort = await camera.listen();
  stops.push(() => camera.close());
  devices.push({ device: 'cam-reception', profile: 'hikvision/ds-2de4425iw-de', name: '接待区摄像机', transport: { type: 'onvif', host: '127.0.0.1', port: cameraPort, username: 'lawbox', secret_ref: 'cam-reception' }, settings: { rtsp_transport: stream?.transport ?? 'tcp' } });

  // MQTT-native devices connect by themselves, with this agent's credential (the broker's ACL names their topics).
  const mqttOptions = (device: string) => ({ device, brokerUrl: opts.brokerUrl, username: opts.username, password: opts.password, clientId: `sim-${device}`, logger: log });
  const terminals = ['terminal-m1-01', 'terminal-m1-02', 'terminal-m1-03'].map((device) => new MeetingTerminalSimulator(mqttOptions(device)));
  const nameplate = new EinkNameplateSimulator(mqttOptions('plate-m1-01'));
  for (const d of [...terminals, nameplate]) stops.push(() => d.stop());
  for (const t of terminals) devices.push({ device: t.device, profile: 'lawbox/paperless-terminal', transport: { type: 'mqtt', client_id: `sim-${t.device}` } });
  devices.push({ device: 'plate-m1-01', profile: 'lawbox/eink-nameplate', transport: { type: 'mqtt', client_id: 'sim-plate-m1-01' } });

  const timers: NodeJS.Timeout[] = [];
  if (opts.activity !== false) {
    let tick = 0;
    const every = (ms: number, fn: () => unknown) => {
      const timer = setInterval(() => {
        try {
          void Promise.resolve(fn()).catch(() => {});
        } catch {
          // a demo gesture that fails is simply skipped
        }
      }, ms);
      timer.unref();
      timers.push(timer);
    };
    every(40_000, () => {
      tick++;
      // Most people badge in and walk through; now and then an unknown card is refused.
      const known = tick % 5 !== 0;
      mainReader?.present(known ? DEMO_CARDS.staff : DEMO_CARDS.unknown, 32);
      if (known) {
        setTimeout(() => mainReader?.setInput(0, false), 1000).unref();
        setTimeout(() => mainReader?.setInput(0, true), 4000).unref();
      }
      if (tick % 3 === 0) return archiveReader.present(DEMO_HID_CARD, 'decimal_10');
    });
    every(90_000, () => {
      idReader?.layCard(DEMO_ID_CARD);
      setTimeout(() => idReader?.takeCard(), 15_000).unref();
    });
    every(20_000, () => terminals[0]!.turnPage(((Date.now() / 20_000) % 12 | 0) + 1));
  }

  log.info({ devices: devices.length, dir }, 'simulated building running');
  return {
    config: {
      version: 1,
      issued_at: new Date().toISOString(),
      devices,
      ...(mainReader ? { doors: [{ door: 'main-entrance', name: '大门', contact: { device: 'reader-main', input: 0 }, held_open_ms: 30_000 }] } : {}),
    },
    drivers: { hid_keyboard_wedge: createHidCardReaderDriver(archiveReader) },
    secrets: (ref) => (ref === 'cam-reception' ? cameraPassword : undefined),
    peers: { mainReader, mainRelay, archiveRelay, archiveReader, idReader, display, camera, terminals, nameplate },
    stop: async () => {
      for (const t of timers) clearInterval(t);
      mainReader?.close();
      idReader?.close();
      mainRelay?.close();
      archiveRelay?.close();
      for (const port of ports) await new Promise((r) => (port.isOpen ? port.close(() => r(undefined)) : r(undefined)));
      for (const stop of stops.reverse()) await Promise.resolve(stop()).catch(() => {});
    },
  };
}
