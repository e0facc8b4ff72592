import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { escapeXml } from '../drivers/onvif/camera.js';
import { FrameError } from '../protocols/errors.js';

const NS = {
  soap: 'http://www.w3.org/2003/05/soap-envelope',
  xml: 'http://www.w3.org/XML/1998/namespace',
  device: 'http://www.onvif.org/ver10/device/wsdl',
  media: 'http://www.onvif.org/ver10/media/wsdl',
  ptz: 'http://www.onvif.org/ver20/ptz/wsdl',
  schema: 'http://www.onvif.org/ver10/schema',
  error: 'http://www.onvif.org/ver10/error',
  wsse: 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd',
};

/** Where each service answers, as a Hikvision camera lays them out. */
export const ONVIF_PATHS = { device: '/onvif/device_service', media: '/onvif/Media', ptz: '/onvif/PTZ' } as const;

/** One element of a parsed SOAP message. Attributes are keyed by their qualified name as written. */
export interface XmlElement {
  ns: string;
  name: string;
  attrs: Map<string, string>;
  children: XmlElement[];
  text: string;
}

const NAME = /[A-Za-z_][\w.-]*(?::[A-Za-z_][\w.-]*)?/y;
const ENTITY = /&(?:#(\d{1,7})|#x([0-9a-fA-F]{1,6})|(lt|gt|amp|quot|apos));|&/g;
const NAMED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
const MAX_DEPTH = 32;
const MAX_BODY = 64 * 1024;

const malformed = (message: string): never => {
  throw new FrameError('soap', 'MALFORMED', message);
};

function decode(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(ENTITY, (_m, dec: string | undefined, hex: string | undefined, named: string | undefined) => {
    if (named) return NAMED[named]!;
    if (!dec && !hex) return malformed('a bare & that starts no entity');
    const cp = dec ? Number.parseInt(dec, 10) : Number.parseInt(hex!, 16);
    if (cp === 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) malformed(`character reference ${cp} is not a character`);
    return String.fromCodePoint(cp);
  });
}

/**
 * A small namespace-aware XML parser for SOAP requests: elements, attributes, text, CDATA, comments
 * and processing instructions; a DOCTYPE is refused (no entity expansion), as are unbound prefixes,
 * mismatched tags and nesting deeper than 32. Every scan is linear, so hostile input cannot make it
 * backtrack. Throws `FrameError('soap', 'MALFORMED', …)` for anything that is not well-formed.
 */
export function parseXml(src: string): XmlElement {
  let i = 0;
  let root: XmlElement | null = null;
  const stack: { el: XmlElement; qname: string; scope: Map<string, string> }[] = [];
  const name = (): string => {
    NAME.lastIndex = i;
    const m = NAME.exec(src) ?? malformed(`expected a name at offset ${i}`);
    i += m[0].length;
    return m[0];
  };
  const skipSpace = (): boolean => {
    const from = i;
    while (i < src.length && ' \t\r\n'.includes(src[i]!)) i++;
    return i > from;
  };
  const until = (marker: string, what: string): number => {
    const end = src.indexOf(marker, i);
    return end === -1 ? malformed(`unterminated ${what}`) : end;
  };
  while (i < src.length) {
    const lt = src.indexOf('<', i);
    const text = src.slice(i, lt === -1 ? src.length : lt);
    if (stack.length) stack.at(-1)!.el.text += decode(text);
    else if (text.trim()) malformed('text outside the root element');
    if (lt === -1) break;
    i = lt;
    if (src.startsWith('<?', i)) {
      i = until('?>', 'processing instruction') + 2;
    } else if (src.startsWith('<!--', i)) {
      i = until('-->', 'comment') + 3;
    } else if (src.startsWith('<![CDATA[', i)) {
      if (!stack.length) malformed('CDATA outside the root element');
      const end = until(']]>', 'CDATA section');
      stack.at(-1)!.el.text += src.slice(i + 9, end);
      i = end + 3;
    } else if (src.startsWith('<!', i)) {
      malformed('document type declarations are refused');
    } else if (src.startsWith('</', i)) {
      i += 2;
      const qname = name();
      skipSpace();
      if (src[i] !== '>') malformed(`expected > after </${qname}`);
      i++;
      const top = stack.pop();
      if (top?.qname !== qname) malformed(`</${qname}> closes nothing open`);
    } else {
      i++;
      if (root && !stack.length) malformed('a second root element');
      const qname = name();
      const raw: [string, string][] = [];
      for (;;) {
        const spaced = skipSpace();
        if (src[i] === '>' || src.startsWith('/>', i)) break;
        if (!spaced) malformed(`expected whitespace, > or /> at offset ${i}`);
        const attr = name();
        skipSpace();
        if (src[i] !== '=') malformed(`expected = after attribute ${attr}`);
        i++;
        skipSpace();
        const quote = src[i];
        if (quote !== '"' && quote !== "'") malformed(`attribute ${attr} has no quoted value`);
        i++;
        const end = until(quote!, `value of ${attr}`);
        const value = src.slice(i, end);
        if (value.includes('<')) malformed(`< in the value of ${attr}`);
        if (raw.some(([k]) => k === attr)) malformed(`duplicate attribute ${attr}`);
        raw.push([attr, decode(value)]);
        i = end + 1;
      }
      const selfClosing = src[i] === '/';
      i += selfClosing ? 2 : 1;
      const scope = new Map(stack.at(-1)?.scope ?? [['xml', NS.xml]]);
      const attrs = new Map<string, string>();
      for (const [k, v] of raw) {
        if (k === 'xmlns') scope.set('', v);
        else if (k.startsWith('xmlns:')) scope.set(k.slice(6), v);
        else attrs.set(k, v);
      }
      const colon = qname.indexOf(':');
      const prefix = colon === -1 ? '' : qname.slice(0, colon);
      const ns = scope.get(prefix) ?? (prefix ? malformed(`unbound namespace prefix ${prefix}`) : '');
      const el: XmlElement = { ns, name: qname.slice(colon + 1), attrs, children: [], text: '' };
      if (stack.length) stack.at(-1)!.el.children.push(el);
      else root = el;
      if (!selfClosing) {
        if (stack.length >= MAX_DEPTH) malformed(`elements nested deeper than ${MAX_DEPTH}`);
        stack.push({ el, qname, scope });
      }
    }
  }
  if (stack.length) malformed(`<${stack.at(-1)!.qname}> is never closed`);
  return root ?? malformed('no root element');
}

/** The first child along a path of local names, e.g. `find(body, 'Velocity', 'PanTilt')`. */
export function find(el: XmlElement | undefined, ...names: string[]): XmlElement | undefined {
  for (const n of names) el = el?.children.find((c) => c.name === n);
  return el;
}

/** A SOAP 1.2 fault: `sender` faults are the client's (HTTP 400), the others the device's (HTTP 500). */
class SoapFault extends Error {
  constructor(
    readonly sender: boolean,
    readonly subcodes: string[],
    message: string,
  ) {
    super(message);
  }
}
/** An `env:Sender/ter:InvalidArgVal/ter:<subcode>` fault, the answer to a request naming what does not exist. */
function invalidArg(subcode: string, message: string): never {
  throw new SoapFault(true, ['ter:InvalidArgVal', `ter:${subcode}`], message);
}

function faultXml(fault: SoapFault): string {
  const sub = fault.subcodes.reduceRight((inner, code) => `<env:Subcode><env:Value>${code}</env:Value>${inner}</env:Subcode>`, '');
  return `<env:Fault><env:Code><env:Value>env:${fault.sender ? 'Sender' : 'Receiver'}</env:Value>${sub}</env:Code><env:Reason><env:Text xml:lang="en">${escapeXml(fault.message)}</env:Text></env:Reason></env:Fault>`;
}

const envelope = (body: string) =>
  `<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="${NS.soap}" xmlns:tds="${NS.device}" xmlns:trt="${NS.media}" xmlns:tptz="${NS.ptz}" xmlns:tt="${NS.schema}" xmlns:ter="${NS.error}"><env:Body>${body}</env:Body></env:Envelope>`;

export interface PtzVector {
  pan: number;
  tilt: number;
  zoom: number;
}

export interface SimulatedPreset {
  name: string;
  position: PtzVector;
}

type Motion = { kind: 'continuous'; from: PtzVector; velocity: PtzVector; at: number; until: number } | { kind: 'travel'; from: PtzVector; to: PtzVector; at: number; until: number };

export interface OnvifCameraOptions {
  username: string;
  password: string;
  /** RTSP URI GetStreamUri answers for Profile_1 (the main stream) */
  rtspUri: string;
  /** RTSP URI for Profile_2 (the sub stream); the main one when not given */
  subRtspUri?: string;
  /** how far the camera's clock is ahead of the real one, in ms: WS-Security timestamps follow it */
  clockOffsetMs?: number;
  /** how long a preset or home move takes, in ms */
  travelMs?: number;
  maxPresets?: number;
}

const PROFILES = [
  { token: 'Profile_1', name: 'mainStream', encoder: 'VideoEncoderToken_1', width: 2560, height: 1440, bitrate: 4096, ptz: true },
  { token: 'Profile_2', name: 'subStream', encoder: 'VideoEncoderToken_2', width: 640, height: 360, bitrate: 512, ptz: false },
];
const SPACES = {
  position: 'http://www.onvif.org/ver10/tptz/PanTiltSpaces/PositionGenericSpace',
  zoom: 'http://www.onvif.org/ver10/tptz/ZoomSpaces/PositionGenericSpace',
  velocity: 'http://www.onvif.org/ver10/tptz/PanTiltSpaces/VelocityGenericSpace',
  zoomVelocity: 'http://www.onvif.org/ver10/tptz/ZoomSpaces/VelocityGenericSpace',
};
/** WS-Security timestamps further than this from the camera's clock are refused (and nonces remembered as long) */
const FRESHNESS_MS = 5 * 60_000;
/** what a ContinuousMove without `Timeout` lasts (the PTZ configuration's DefaultPTZTimeout) */
const DEFAULT_PTZ_TIMEOUT_MS = 5000;
const HOME: PtzVector = { pan: 0, tilt: 0, zoom: 0 };

const clamp = (v: PtzVector): PtzVector => ({
  pan: Math.min(1, Math.max(-1, v.pan)),
  tilt: Math.min(1, Math.max(-1, v.tilt)),
  zoom: Math.min(1, Math.max(0, v.zoom)),
});
const fixed = (n: number) => n.toFixed(6);
const vectorXml = (tag: string, v: PtzVector) =>
  `<${tag}><tt:PanTilt x="${fixed(v.pan)}" y="${fixed(v.tilt)}" space="${SPACES.position}"/><tt:Zoom x="${fixed(v.zoom)}" space="${SPACES.zoom}"/></${tag}>`;

/** A decimal in [min, max] from an attribute or element text, or a fault naming `subcode`. */
function decimal(raw: string | undefined, what: string, min: number, max: number, subcode: string): number {
  if (raw === undefined || !/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(raw.trim())) invalidArg(subcode, `${what} is not a number`);
  const n = Number(raw);
  if (n < min || n > max) invalidArg(subcode, `${what} ${raw} is outside [${min}, ${max}]`);
  return n;
}

/** An xs:duration of hours, minutes and seconds (`PT1.5S`, `PT1M`), in ms. */
function duration(raw: string): number {
  const m = /^PT(?:(\d{1,4})H)?(?:(\d{1,4})M)?(?:(\d{1,6}(?:\.\d{1,6})?)S)?$/.exec(raw.trim());
  if (!m || (!m[1] && !m[2] && !m[3])) throw new SoapFault(true, ['ter:InvalidArgVal', 'ter:TimeoutNotSupported'], `Timeout ${raw} is not a duration`);
  return ((Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0)) * 60 + Number(m[3] ?? 0)) * 1000;
}

type Handler = (action: XmlElement, base: string) => string;

/**
 * A simulated Hikvision DS-2DE4425IW-DE speaking ONVIF Profile S over SOAP 1.2: device, media and PTZ
 * services at the paths a Hikvision camera advertises, WS-Security UsernameToken digest on every call
 * but GetSystemDateAndTime, and a PTZ head whose position follows ContinuousMove velocities over time
 * (clamped to its range) and travels to presets and home in `travelMs`. Anything it cannot take gets a
 * SOAP fault; no request can stop it.
 */
export class OnvifCameraSimulator {
  /** preset token → preset; tokens are numbers as on Hikvision cameras */
  readonly presets = new Map<string, SimulatedPreset>([
    ['1', { name: 'Reception', position: { pan: -0.5, tilt: 0.1, zoom: 0.2 } }],
    ['2', { name: 'Mediation room', position: { pan: 0.6, tilt: -0.2, zoom: 0.5 } }],
  ]);
  /** authenticated calls answered, by action name */
  readonly calls: Record<string, number> = {};
  private resting: PtzVector = { ...HOME };
  private motion: Motion | null = null;
  private readonly nonces = new Map<string, number>();
  /** service path → `<namespace> <action>` → handler */
  private readonly routes: Map<string, Map<string, Handler>>;
  private server: Server | null = null;

  constructor(private readonly opts: OnvifCameraOptions) {
    const device = (name: string, h: Handler): [string, Handler] => [`${NS.device} ${name}`, h];
    const media = (name: string, h: Handler): [string, Handler] => [`${NS.media} ${name}`, h];
    const ptz = (name: string, h: Handler): [string, Handler] => [`${NS.ptz} ${name}`, h];
    this.routes = new Map([
      [ONVIF_PATHS.device, new Map([
        device('GetSystemDateAndTime', () => this.dateAndTime()),
        device('GetCapabilities', (_a, base) => this.capabilities(base)),
        device('GetServices', (_a, base) => this.services(base)),
        device('GetDeviceInformation', () =>
          '<tds:GetDeviceInformationResponse><tds:Manufacturer>HIKVISION</tds:Manufacturer><tds:Model>DS-2DE4425IW-DE</tds:Model><tds:FirmwareVersion>V5.6.15 build 200326</tds:FirmwareVersion><tds:SerialNumber>DS-2DE4425IW-DE20200101AAWRE00000001</tds:SerialNumber><tds:HardwareId>88</tds:HardwareId></tds:GetDeviceInformationResponse>'),
      ])],
      [ONVIF_PATHS.media, new Map([
        media('GetProfiles', () => `<trt:GetProfilesResponse>${PROFILES.map((p) => this.profileXml(p)).join('')}</trt:GetProfilesResponse>`),
        media('GetVideoSources', () =>
          '<trt:GetVideoSourcesResponse><trt:VideoSources token="VideoSource_1"><tt:Framerate>25</tt:Framerate><tt:Resolution><tt:Width>2560</tt:Width><tt:Height>1440</tt:Height></tt:Resolution></trt:VideoSources></trt:GetVideoSourcesResponse>'),
        media('GetStreamUri', (a) => {
          const uri = this.profile(a).token === 'Profile_1' ? this.opts.rtspUri : (this.opts.subRtspUri ?? this.opts.rtspUri);
          return `<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>${escapeXml(uri)}</tt:Uri><tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT60S</tt:Timeout></trt:MediaUri></trt:GetStreamUriResponse>`;
        }),
        media('GetSnapshotUri', (a, base) =>
          `<trt:GetSnapshotUriResponse><trt:MediaUri><tt:Uri>${escapeXml(`${base}/onvif-http/snapshot?${this.profile(a).token}`)}</tt:Uri><tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT60S</tt:Timeout></trt:MediaUri></trt:GetSnapshotUriResponse>`),
      ])],
      [ONVIF_PATHS.ptz, new Map([
        ptz('ContinuousMove', (a) => this.continuousMove(a)),
        ptz('Stop', (a) => {
          this.ptzProfile(a);
          this.settle();
          return '<tptz:StopResponse/>';
        }),
        ptz('GetStatus', (a) => {
          this.ptzProfile(a);
          const state = this.moving ? 'MOVING' : 'IDLE';
          return `<tptz:GetStatusResponse><tptz:PTZStatus>${vectorXml('tt:Position', this.position)}<tt:MoveStatus><tt:PanTilt>${state}</tt:PanTilt><tt:Zoom>${state}</tt:Zoom></tt:MoveStatus><tt:UtcTime>${new Date(this.now()).toISOString()}</tt:UtcTime></tptz:PTZStatus></tptz:GetStatusResponse>`;
        }),
        ptz('GetPresets', (a) => {
          this.ptzProfile(a);
          const presets = [...this.presets].map(([token, p]) => `<tptz:Preset token="${escapeXml(token)}"><tt:Name>${escapeXml(p.name)}</tt:Name>${vectorXml('tt:PTZPosition', p.position)}</tptz:Preset>`);
          return `<tptz:GetPresetsResponse>${presets.join('')}</tptz:GetPresetsResponse>`;
        }),
        ptz('SetPreset', (a) => this.setPreset(a)),
        ptz('GotoPreset', (a) => {
          this.ptzProfile(a);
          const token = find(a, 'PresetToken')?.text.trim() ?? '';
          const preset = this.presets.get(token) ?? invalidArg('NoToken', `no preset ${token}`);
          this.travel(preset.position);
          return '<tptz:GotoPresetResponse/>';
        }),
        ptz('GotoHomePosition', (a) => {
          this.ptzProfile(a);
          this.travel(HOME);
          return '<tptz:GotoHomePositionResponse/>';
        }),
      ])],
    ]);
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<number> {
    this.server = createServer((req, res) => void this.receive(req, res).catch(() => res.destroy()));
    await new Promise<void>((resolve) => this.server!.listen(port, host, resolve));
    return (this.server.address() as AddressInfo).port;
  }

  /** Takes the camera off the network: open connections drop. */
  async close(): Promise<void> {
    const server = this.server;
    if (!server?.listening) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** where the head points now (normalised generic spaces) */
  get position(): PtzVector {
    return this.positionAt(Date.now());
  }

  get moving(): boolean {
    return this.motion !== null && Date.now() < this.motion.until;
  }

  private now(): number {
    return Date.now() + (this.opts.clockOffsetMs ?? 0);
  }

  private positionAt(t: number): PtzVector {
    const m = this.motion;
    if (!m) return { ...this.resting };
    if (m.kind === 'continuous') {
      const s = (Math.min(t, m.until) - m.at) / 1000;
      return clamp({ pan: m.from.pan + m.velocity.pan * s, tilt: m.from.tilt + m.velocity.tilt * s, zoom: m.from.zoom + m.velocity.zoom * s });
    }
    const f = (t - m.at) / Math.max(1, m.until - m.at);
    if (f >= 1) return { ...m.to };
    return { pan: m.from.pan + (m.to.pan - m.from.pan) * f, tilt: m.from.tilt + (m.to.tilt - m.from.tilt) * f, zoom: m.from.zoom + (m.to.zoom - m.from.zoom) * f };
  }

  /** Ends any motion where the head is now. */
  private settle(): void {
    this.resting = this.position;
    this.motion = null;
  }

  private travel(to: PtzVector): void {
    this.settle();
    const at = Date.now();
    this.motion = { kind: 'travel', from: this.resting, to: { ...to }, at, until: at + (this.opts.travelMs ?? 300) };
  }

  private async receive(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '').split('?')[0]!;
    if (!this.routes.has(path) || req.method !== 'POST') {
      res.writeHead(this.routes.has(path) ? 405 : 404).end();
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size <= MAX_BODY) chunks.push(chunk);
    }
    const local = req.socket.localAddress ?? '127.0.0.1';
    const base = `http://${local.includes(':') ? `[${local}]` : local}:${req.socket.localPort}`;
    const { status, xml } = size > MAX_BODY ? { status: 413, xml: envelope(faultXml(new SoapFault(true, [], `requests are limited to ${MAX_BODY} bytes`))) } : this.handle(path, Buffer.concat(chunks), base);
    if (!res.destroyed) res.writeHead(status, { 'content-type': 'application/soap+xml; charset=utf-8' }).end(xml);
  }

  /**
   * One SOAP request posted to `path` (a service path), answered as HTTP status and envelope; `base`
   * is the camera's own http://host:port for the addresses it hands out. Never throws.
   */
  handle(path: string, body: Uint8Array, base: string): { status: number; xml: string } {
    try {
      const routes = this.routes.get(path);
      if (!routes) throw new SoapFault(true, [], `no service at ${path}`);
      return { status: 200, xml: envelope(this.dispatch(routes, body, base)) };
    } catch (err) {
      const fault = err instanceof SoapFault ? err : err instanceof FrameError ? new SoapFault(true, ['ter:WellFormed'], err.message) : new SoapFault(false, [], 'internal error');
      return { status: fault.sender ? 400 : 500, xml: envelope(faultXml(fault)) };
    }
  }

  private dispatch(routes: Map<string, Handler>, body: Uint8Array, base: string): string {
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(body);
    } catch {
      throw new SoapFault(true, ['ter:WellFormed'], 'the request is not UTF-8');
    }
    const env = parseXml(text);
    if (env.name !== 'Envelope' || env.ns !== NS.soap) throw new SoapFault(true, ['ter:WellFormed'], 'not a SOAP 1.2 envelope');
    const action = find(env, 'Body')?.children[0];
    if (!action) throw new SoapFault(true, [], 'the SOAP body holds no request');
    const handler = routes.get(`${action.ns} ${action.name}`);
    if (!handler) throw new SoapFault(false, ['ter:ActionNotSupported'], `${action.name} is not supported here`);
    if (!(action.ns === NS.device && action.name === 'GetSystemDateAndTime')) this.authenticate(find(env, 'Header'));
    const xml = handler(action, base);
    this.calls[action.name] = (this.calls[action.name] ?? 0) + 1;
    return xml;
  }

  /** WS-Security UsernameToken: base64(sha1(nonce + created + password)), fresh, nonce never seen before. */
  private authenticate(header: XmlElement | undefined): void {
    const refuse = (why: string): never => {
      throw new SoapFault(true, ['ter:NotAuthorized'], `Sender not authorized: ${why}`);
    };
    const security = header?.children.find((c) => c.name === 'Security' && c.ns === NS.wsse) ?? refuse('no WS-Security header');
    const token = find(security, 'UsernameToken') ?? refuse('no UsernameToken');
    const field = (name: string) => find(token, name)?.text.trim() ?? refuse(`no ${name}`);
    const password = find(token, 'Password');
    if (!password?.attrs.get('Type')?.endsWith('#PasswordDigest')) refuse('only PasswordDigest is accepted');
    const [username, digest, nonce, created] = [field('Username'), field('Password'), field('Nonce'), field('Created')];
    const createdAt = Date.parse(created);
    const now = this.now();
    if (!/^\d{4}-\d\d-\d\dT/.test(created) || Number.isNaN(createdAt) || Math.abs(createdAt - now) > FRESHNESS_MS) refuse('Created is not within 5 minutes of the camera clock');
    for (const [n, at] of this.nonces) if (at < now - FRESHNESS_MS) this.nonces.delete(n);
    if (this.nonces.has(nonce)) refuse('nonce replayed');
    const expected = createHash('sha1').update(Buffer.from(nonce, 'base64')).update(created).update(this.opts.password).digest();
    const given = Buffer.from(digest, 'base64');
    const ok = username === this.opts.username && given.length === expected.length && timingSafeEqual(given, expected);
    if (!ok) refuse('wrong username or password');
    this.nonces.set(nonce, now);
  }

  private profile(action: XmlElement): (typeof PROFILES)[number] {
    const token = find(action, 'ProfileToken')?.text.trim() ?? '';
    return PROFILES.find((p) => p.token === token) ?? invalidArg('NoProfile', `no media profile ${token}`);
  }

  private ptzProfile(action: XmlElement): void {
    if (!this.profile(action).ptz) invalidArg('NoPTZProfile', 'the profile has no PTZ configuration');
  }

  private continuousMove(a: XmlElement): string {
    this.ptzProfile(a);
    const panTilt = find(a, 'Velocity', 'PanTilt');
    const zoom = find(a, 'Velocity', 'Zoom');
    const velocity = {
      pan: panTilt ? decimal(panTilt.attrs.get('x'), 'pan velocity', -1, 1, 'InvalidVelocity') : 0,
      tilt: panTilt ? decimal(panTilt.attrs.get('y'), 'tilt velocity', -1, 1, 'InvalidVelocity') : 0,
      zoom: zoom ? decimal(zoom.attrs.get('x'), 'zoom velocity', -1, 1, 'InvalidVelocity') : 0,
    };
    const timeout = find(a, 'Timeout');
    const ms = timeout ? duration(timeout.text) : DEFAULT_PTZ_TIMEOUT_MS;
    this.settle();
    const at = Date.now();
    this.motion = { kind: 'continuous', from: this.resting, velocity, at, until: at + ms };
    return '<tptz:ContinuousMoveResponse/>';
  }

  private setPreset(a: XmlElement): string {
    this.ptzProfile(a);
    const name = find(a, 'PresetName')?.text.trim();
    const token = find(a, 'PresetToken')?.text.trim();
    if (token !== undefined && !this.presets.has(token)) invalidArg('NoToken', `no preset ${token}`);
    if (name !== undefined && (name.length === 0 || name.length > 64)) invalidArg('InvalidPresetName', 'a preset name has 1-64 characters');
    if (name !== undefined && [...this.presets].some(([t, p]) => p.name === name && t !== token)) invalidArg('PresetExist', `a preset named ${name} exists`);
    if (token === undefined && this.presets.size >= (this.opts.maxPresets ?? 300)) throw new SoapFault(false, ['ter:Action', 'ter:TooManyPresets'], 'no room for another preset');
    const chosen = token ?? String(Math.max(0, ...[...this.presets.keys()].map(Number)) + 1);
    this.presets.set(chosen, { name: name ?? this.presets.get(chosen)?.name ?? `Preset ${chosen}`, position: this.position });
    return `<tptz:SetPresetResponse><tptz:PresetToken>${chosen}</tptz:PresetToken></tptz:SetPresetResponse>`;
  }

  private dateAndTime(): string {
    const d = new Date(this.now());
    return `<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:DateTimeType>NTP</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings><tt:TimeZone><tt:TZ>CST-8:00:00</tt:TZ></tt:TimeZone><tt:UTCDateTime><tt:Time><tt:Hour>${d.getUTCHours()}</tt:Hour><tt:Minute>${d.getUTCMinutes()}</tt:Minute><tt:Second>${d.getUTCSeconds()}</tt:Second></tt:Time><tt:Date><tt:Year>${d.getUTCFullYear()}</tt:Year><tt:Month>${d.getUTCMonth() + 1}</tt:Month><tt:Day>${d.getUTCDate()}</tt:Day></tt:Date></tt:UTCDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>`;
  }

  private capabilities(base: string): string {
    return `<tds:GetCapabilitiesResponse><tds:Capabilities><tt:Device><tt:XAddr>${base}${ONVIF_PATHS.device}</tt:XAddr></tt:Device><tt:Media><tt:XAddr>${base}${ONVIF_PATHS.media}</tt:XAddr><tt:StreamingCapabilities><tt:RTPMulticast>false</tt:RTPMulticast><tt:RTP_TCP>true</tt:RTP_TCP><tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP></tt:StreamingCapabilities></tt:Media><tt:PTZ><tt:XAddr>${base}${ONVIF_PATHS.ptz}</tt:XAddr></tt:PTZ></tds:Capabilities></tds:GetCapabilitiesResponse>`;
  }

  private services(base: string): string {
    const service = (ns: string, path: string, major: number, minor: number) =>
      `<tds:Service><tds:Namespace>${ns}</tds:Namespace><tds:XAddr>${base}${path}</tds:XAddr><tds:Version><tt:Major>${major}</tt:Major><tt:Minor>${minor}</tt:Minor></tds:Version></tds:Service>`;
    return `<tds:GetServicesResponse>${service(NS.device, ONVIF_PATHS.device, 17, 12)}${service(NS.media, ONVIF_PATHS.media, 17, 12)}${service(NS.ptz, ONVIF_PATHS.ptz, 17, 12)}</tds:GetServicesResponse>`;
  }

  private profileXml(p: (typeof PROFILES)[number]): string {
    const ptz = p.ptz
      ? `<tt:PTZConfiguration token="PTZToken"><tt:Name>PTZ</tt:Name><tt:UseCount>1</tt:UseCount><tt:NodeToken>PTZNODETOKEN</tt:NodeToken><tt:DefaultContinuousPanTiltVelocitySpace>${SPACES.velocity}</tt:DefaultContinuousPanTiltVelocitySpace><tt:DefaultContinuousZoomVelocitySpace>${SPACES.zoomVelocity}</tt:DefaultContinuousZoomVelocitySpace><tt:DefaultPTZTimeout>PT5S</tt:DefaultPTZTimeout></tt:PTZConfiguration>`
      : '';
    return `<trt:Profiles token="${p.token}" fixed="true"><tt:Name>${p.name}</tt:Name><tt:VideoSourceConfiguration token="VideoSourceToken"><tt:Name>VideoSourceConfig</tt:Name><tt:UseCount>2</tt:UseCount><tt:SourceToken>VideoSource_1</tt:SourceToken><tt:Bounds x="0" y="0" width="2560" height="1440"/></tt:VideoSourceConfiguration><tt:VideoEncoderConfiguration token="${p.encoder}"><tt:Name>${p.encoder}</tt:Name><tt:UseCount>1</tt:UseCount><tt:Encoding>H264</tt:Encoding><tt:Resolution><tt:Width>${p.width}</tt:Width><tt:Height>${p.height}</tt:Height></tt:Resolution><tt:Quality>3</tt:Quality><tt:RateControl><tt:FrameRateLimit>25</tt:FrameRateLimit><tt:EncodingInterval>1</tt:EncodingInterval><tt:BitrateLimit>${p.bitrate}</tt:BitrateLimit></tt:RateControl><tt:H264><tt:GovLength>50</tt:GovLength><tt:H264Profile>Main</tt:H264Profile></tt:H264><tt:SessionTimeout>PT5S</tt:SessionTimeout></tt:VideoEncoderConfiguration>${ptz}</trt:Profiles>`;
  }
}
