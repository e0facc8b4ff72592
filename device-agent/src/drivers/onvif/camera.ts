import onvif from 'onvif';
import type { Command } from '../../../../firmware-profiles/index.js';
import { CommandError } from '../../agent.js';
import type { Driver, DriverFactory } from '../driver.js';

type Cam = InstanceType<typeof onvif.Cam>;
type Reply<T> = (err: Error | null, data?: T, xml?: string) => void;

export interface PtzPosition {
  pan: number;
  tilt: number;
  zoom: number;
}

/** A camera driver that also hands its stream to a media pipeline (ffmpeg). */
export interface OnvifCameraDriver extends Driver {
  /** the selected profile's RTSP URI with the ONVIF credentials in it, or null before `start` */
  streamUri(): string | null;
}

/** how often a preset or home move is polled for its end */
const TRAVEL_POLL_MS = 100;
/** a PTZ head that has not arrived after this long is reported, not waited on */
const TRAVEL_MAX_MS = 30_000;
/** the camera's own keep-alive when the instance sets no `poll_interval_ms` */
const KEEPALIVE_MS = 30_000;

/**
 * The onvif client pastes option strings into its SOAP bodies unescaped, so every value that reaches
 * one (preset names, tokens, the user name) is escaped here.
 */
export const escapeXml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** An onvif client failure as a command error: refused credentials, a SOAP fault, or the network. */
function onvifError(err: Error & { code?: string }, xml: string | undefined): CommandError {
  if (/NotAuthorized/.test(xml ?? '') || /authentication failed/i.test(err.message)) {
    return new CommandError('NOT_AUTHORIZED', `the camera refused the ONVIF user name or password (${err.message})`);
  }
  if (err.message === 'Network timeout') return new CommandError('DEVICE_TIMEOUT', 'the camera did not answer in time');
  if (err.code) return new CommandError('DEVICE_UNREACHABLE', `camera unreachable: ${err.message}`);
  return new CommandError('DEVICE_ERROR', err.message);
}

/** Runs one callback-style client call; the client answers `(err, data, xml)`. */
function call<T>(run: (reply: Reply<T>) => void): Promise<T> {
  return new Promise((resolve, reject) => run((err, data, xml) => (err ? reject(onvifError(err, xml)) : resolve(data as T))));
}

/**
 * The action's params checked against the profile's declaration (type, range, length, required,
 * default): a refusal names the parameter, and nothing unchecked reaches the camera.
 */
export function commandParams(action: string, command: Command, raw: unknown): Record<string, unknown> {
  if (raw !== undefined && (typeof raw !== 'object' || raw === null || Array.isArray(raw))) throw new CommandError('BAD_VALUE', `${action}: params must be an object`);
  const given = (raw ?? {}) as Record<string, unknown>;
  const spec = command.params ?? {};
  for (const key of Object.keys(given)) if (!Object.hasOwn(spec, key)) throw new CommandError('BAD_VALUE', `${action} takes no parameter ${key}`);
  const out: Record<string, unknown> = {};
  for (const [key, p] of Object.entries(spec)) {
    const v = given[key] ?? p.default;
    const bad = (what: string) => new CommandError('BAD_VALUE', `${action}: ${key} must be ${what}`);
    if (v === undefined) {
      if (p.required) throw bad('given');
      continue;
    }
    if (p.type === 'number' || p.type === 'integer') {
      if (typeof v !== 'number' || !Number.isFinite(v) || (p.type === 'integer' && !Number.isInteger(v))) throw bad(`a${p.type === 'integer' ? 'n integer' : ' number'}`);
      if ((p.min !== undefined && v < p.min) || (p.max !== undefined && v > p.max)) throw bad(`${p.min ?? '-∞'} to ${p.max ?? '∞'}`);
    } else if (p.type === 'string') {
      // XML 1.0 cannot carry C0 control characters even escaped, and ONVIF names are never empty.
      if (typeof v !== 'string' || v.trim() === '' || /[\u0000-\u001f\u007f]/.test(v)) throw bad('a non-empty string without control characters');
      if (p.max_length !== undefined && v.length > p.max_length) throw bad(`at most ${p.max_length} characters`);
    } else {
      throw new CommandError('NOT_SUPPORTED', `${action}: parameters of type ${p.type} are not supported by the ONVIF driver`);
    }
    out[key] = v;
  }
  return out;
}

/** A URI from the camera with `user:password@` set (or, given nothing, removed: some cameras embed theirs). */
function withCredentials(uri: string, username = '', password = ''): string {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new CommandError('DEVICE_ERROR', `the camera answered an invalid URI: ${uri.slice(0, 200)}`);
  }
  url.username = username;
  url.password = password;
  return url.toString();
}

/**
 * An ONVIF Profile S camera through the `onvif` client: on start it connects (GetSystemDateAndTime
 * first, so WS-Security timestamps follow the camera's clock), reads the media profiles, the stream
 * and snapshot URIs of `stream_profile`, the presets and the PTZ position, and publishes them. PTZ
 * commands are the profile's actions; a SOAP fault or refused credentials is also a `device_error`
 * event. A camera that stops answering the keep-alive (GetStatus, every `poll_interval_ms`) is
 * reported lost.
 */
export const onvifCameraDriver = ((ctx): OnvifCameraDriver => {
  const transport = ctx.assignment.transport;
  const line = ctx.profile.transports.find((t) => t.type === 'onvif');
  const streamProfile = String(ctx.settings.stream_profile ?? 'Profile_1');
  const replyTimeoutMs = Number(ctx.settings.reply_timeout_ms ?? 5000);
  const username = transport.username === undefined ? undefined : String(transport.username);
  let password: string | undefined;
  let cam: Cam | null = null;
  let ptzProfile: string | null = null;
  let rawStreamUri: string | null = null;
  let presets = new Map<string, string>();
  let moveTimer: NodeJS.Timeout | null = null;
  let keepAlive: NodeJS.Timeout | null = null;

  /** A client call whose SOAP fault or credential refusal is also reported as `device_error`. */
  const ask = async <T>(run: (cam: Cam, reply: Reply<T>) => void): Promise<T> => {
    if (!cam) throw new CommandError('DEVICE_UNAVAILABLE', 'the camera is not connected');
    const c = cam;
    try {
      return await call<T>((reply) => run(c, reply));
    } catch (err) {
      const code = (err as CommandError).code;
      if (code === 'NOT_AUTHORIZED' || code === 'DEVICE_ERROR') ctx.emit('device_error', { code });
      throw err;
    }
  };
  const ptz = (): string => {
    if (!ptzProfile) throw new CommandError('NOT_SUPPORTED', 'none of the camera media profiles has a PTZ configuration');
    return ptzProfile;
  };

  const readPosition = async (): Promise<PtzPosition> => {
    const status = await ask<{ position: { x: number; y: number; zoom: number } }>((c, r) => c.getStatus({ profileToken: escapeXml(ptz()) }, r));
    const position = { pan: Number(status.position.x), tilt: Number(status.position.y), zoom: Number(status.position.zoom) };
    ctx.setState({ ptz_position: position });
    return position;
  };

  const readPresets = async (): Promise<string> => {
    await ask((c, r) => c.getPresets({ profileToken: escapeXml(ptz()) }, r));
    // The client keys `presets` by token; it turns numeric-looking tokens and names into numbers, hence String().
    presets = new Map(Object.entries((cam?.presets ?? {}) as Record<string, { name?: unknown }>).map(([token, p]) => [token, String(p.name ?? '')]));
    const list = [...presets.keys()].join(',');
    ctx.setState({ presets: list });
    return list;
  };

  const readMedia = async (): Promise<Record<string, unknown>> => {
    const profiles = await ask<{ $?: { token?: unknown }; PTZConfiguration?: unknown }[]>((c, r) => c.getProfiles(r));
    const tokens = profiles.map((p) => String(p.$?.token));
    if (!tokens.includes(streamProfile)) throw new CommandError('NO_PROFILE', `stream_profile ${streamProfile} is not one of the camera's media profiles (${tokens.join(', ')})`);
    const withPtz = profiles.filter((p) => p.PTZConfiguration).map((p) => String(p.$?.token));
    ptzProfile = withPtz.includes(streamProfile) ? streamProfile : (withPtz[0] ?? null);
    const profileToken = escapeXml(streamProfile);
    const stream = await ask<{ uri: string }>((c, r) => c.getStreamUri({ profileToken, protocol: 'RTSP' }, r));
    const snapshot = await ask<{ uri: string }>((c, r) => c.getSnapshotUri({ profileToken }, r));
    rawStreamUri = String(stream.uri);
    const state: Record<string, unknown> = { media_profiles: tokens.join(','), stream_uri: withCredentials(rawStreamUri), snapshot_uri: withCredentials(String(snapshot.uri)) };
    ctx.setState(state);
    if (ptzProfile) {
      state.presets = await readPresets();
      state.ptz_position = await readPosition();
    }
    return state;
  };

  const stopMove = async (): Promise<PtzPosition> => {
    if (moveTimer) clearTimeout(moveTimer);
    moveTimer = null;
    await ask((c, r) => c.stop({ profileToken: escapeXml(ptz()) }, r));
    return readPosition();
  };

  /**
   * GotoPreset and GotoHomePosition answer at once and the head travels afterwards: the move is over
   * when GetStatus reports it idle. (A camera that reports no MoveStatus counts as arrived.)
   */
  const travelled = async (): Promise<PtzPosition> => {
    const deadline = Date.now() + TRAVEL_MAX_MS;
    for (;;) {
      await new Promise((r) => setTimeout(r, TRAVEL_POLL_MS));
      const status = await ask<{ position: { x: number; y: number; zoom: number }; moveStatus?: { panTilt?: string; zoom?: string } }>((c, r) =>
        c.getStatus({ profileToken: escapeXml(ptz()) }, r),
      );
      if (status.moveStatus?.panTilt !== 'MOVING' && status.moveStatus?.zoom !== 'MOVING') return readPosition();
      if (Date.now() > deadline) throw new CommandError('DEVICE_TIMEOUT', `the PTZ head was still moving after ${TRAVEL_MAX_MS} ms`);
    }
  };

  /** A preset by token, or by name for people who know the names; the list is re-read once when neither matches. */
  const presetToken = async (wanted: string): Promise<string> => {
    const lookup = () => (presets.has(wanted) ? wanted : [...presets].find(([, name]) => name === wanted)?.[0]);
    let token = lookup();
    if (token === undefined) {
      await readPresets();
      token = lookup();
    }
    if (token === undefined) throw new CommandError('BAD_VALUE', `no preset ${wanted}; the camera has ${[...presets.keys()].join(', ') || 'none'}`);
    return token;
  };

  const actions: Record<string, (p: Record<string, unknown>) => Promise<Record<string, unknown> | void>> = {
    async ptz_move(p) {
      const timeout = Number(p.timeout_ms ?? ctx.settings.ptz_timeout_ms ?? 1000);
      if (moveTimer) clearTimeout(moveTimer);
      moveTimer = null;
      // The Timeout in the request is the camera's own safety stop should this agent die mid-move;
      // many cameras round or ignore it, so the agent sends Stop itself when the time is up.
      await ask((c, r) => c.continuousMove({ profileToken: escapeXml(ptz()), x: Number(p.pan), y: Number(p.tilt), zoom: Number(p.zoom), timeout }, r));
      moveTimer = setTimeout(() => {
        moveTimer = null;
        stopMove().catch((err: Error) => ctx.log.warn({ err: err.message }, 'PTZ stop after ptz_move failed'));
      }, timeout);
    },
    async ptz_stop() {
      return { ptz_position: await stopMove() };
    },
    async ptz_goto_preset(p) {
      const preset = await presetToken(String(p.preset));
      if (moveTimer) clearTimeout(moveTimer);
      moveTimer = null;
      await ask((c, r) => c.gotoPreset({ profileToken: escapeXml(ptz()), preset: escapeXml(preset) }, r));
      const position = await travelled();
      ctx.emit('ptz_preset_reached', { preset });
      return { ptz_position: position };
    },
    async ptz_set_preset(p) {
      const name = String(p.name);
      // ONVIF refuses a second preset of the same name: saving under a known name moves that preset.
      const existing = [...presets].find(([, n]) => n === name)?.[0];
      await ask((c, r) => c.setPreset({ profileToken: escapeXml(ptz()), presetName: escapeXml(name), presetToken: existing === undefined ? undefined : escapeXml(existing) }, r));
      return { presets: await readPresets() };
    },
    async ptz_home() {
      if (moveTimer) clearTimeout(moveTimer);
      moveTimer = null;
      await ask((c, r) => c.gotoHomePosition({ profileToken: escapeXml(ptz()) }, r));
      return { ptz_position: await travelled() };
    },
    refresh_profiles: () => readMedia(),
  };

  return {
    async start() {
      const ref = transport.secret_ref === undefined ? undefined : String(transport.secret_ref);
      password = ref === undefined ? undefined : ctx.secret(ref);
      if (ref !== undefined && password === undefined) throw new Error(`the ONVIF password ${ref} is not in this agent's secret store`);
      cam = new onvif.Cam({
        hostname: String(transport.host),
        port: Number(transport.port ?? (line && 'port' in line ? line.port : 80)),
        path: line && 'path' in line ? line.path : undefined,
        username: username === undefined ? undefined : escapeXml(username),
        password,
        timeout: replyTimeoutMs,
        autoconnect: false,
      });
      cam.on('warning', (warning: unknown) => ctx.log.warn({ warning: String(warning) }, 'onvif client warning'));
      const c = cam;
      await ask((_c, r) => c.connect(r)).catch((err: CommandError) => {
        throw new CommandError(err.code, `ONVIF connect to ${String(transport.host)}: ${err.message}`);
      });
      await readMedia();
      keepAlive = setInterval(() => {
        const check = ptzProfile ? readPosition() : call((r) => c.getSystemDateAndTime(r));
        check.catch((err: Error) => ctx.fail(new Error(`the camera stopped answering: ${err.message}`)));
      }, Number(ctx.settings.poll_interval_ms ?? KEEPALIVE_MS));
    },
    async stop() {
      if (keepAlive) clearInterval(keepAlive);
      keepAlive = null;
      // A head left in a continuous move would turn until the camera's own timeout: stop it now.
      if (moveTimer) await stopMove().catch(() => {});
      moveTimer = null;
      cam?.removeAllListeners();
      cam = null;
    },
    async command(body) {
      const action = body.action;
      if (typeof action !== 'string' || !Object.hasOwn(ctx.profile.commands, action)) {
        throw new CommandError('BAD_COMMAND', `expected {"action": one of ${Object.keys(ctx.profile.commands).join(', ')}, "params": {…}}`);
      }
      const handler = actions[action];
      if (!handler) throw new CommandError('NOT_SUPPORTED', `the ONVIF driver has no ${action}`);
      return handler(commandParams(action, ctx.profile.commands[action]!, body.params));
    },
    streamUri: () => (rawStreamUri ? withCredentials(rawStreamUri, username, password) : null),
  };
}) satisfies DriverFactory;
