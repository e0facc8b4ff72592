import { createHash, randomBytes } from 'node:crypto';
import t from 'tap';
import { loadProfiles } from '../../firmware-profiles/index.js';
import type { DriverContext } from '../../device-agent/src/drivers/driver.js';
import { onvifCameraDriver } from '../../device-agent/src/drivers/onvif/camera.js';
import { ONVIF_PATHS, OnvifCameraSimulator, type OnvifCameraOptions } from '../../device-agent/src/simulators/onvif-camera.js';
import { until } from '../helpers/devices.js';
import { mulberry32 } from '../helpers/fuzz.js';

const profile = loadProfiles().get('hikvision/ds-2de4425iw-de')!;
const USER = 'lawbox';
const PASSWORD = 'pa:ss@word/1';

async function startCamera(t: { teardown(fn: () => unknown): void }, opts: Partial<OnvifCameraOptions> = {}) {
  const sim = new OnvifCameraSimulator({ username: USER, password: PASSWORD, rtspUri: 'rtsp://127.0.0.1:8554/cam', travelMs: 150, ...opts });
  const port = await sim.listen();
  t.teardown(() => sim.close());
  return { sim, port };
}

/** The driver's real context, recording what the runtime would publish. */
function context(port: number, opts: { secret?: string; settings?: Record<string, unknown> } = {}) {
  const state: Record<string, unknown> = {};
  const events: { type: string; data: Record<string, unknown> }[] = [];
  const failures: Error[] = [];
  const ctx: DriverContext = {
    assignment: { device: 'cam-reception', profile: profile.id, transport: { type: 'onvif', host: '127.0.0.1', port, username: USER, secret_ref: 'cam-reception' } },
    profile,
    settings: { ...profile.defaults, ...opts.settings },
    log: { info: () => {}, warn: () => {} },
    setState: (s) => Object.assign(state, s),
    emit: (type, data) => events.push({ type, data }),
    credential: async () => {
      throw new Error('a camera reads no credentials');
    },
    input: () => {},
    secret: (ref) => (ref === 'cam-reception' ? (opts.secret ?? PASSWORD) : undefined),
    fail: (err) => failures.push(err),
  };
  return { ctx, state, events, failures };
}

async function startDriver(t: { teardown(fn: () => unknown): void }, port: number, opts: Parameters<typeof context>[1] = {}) {
  const c = context(port, opts);
  const driver = onvifCameraDriver(c.ctx);
  t.teardown(() => driver.stop());
  await driver.start();
  return { ...c, driver };
}

const near = (a: number, b: number, eps = 0.01) => Math.abs(a - b) <= eps;

t.test('start reads profiles, stream and snapshot URIs, presets and position from the camera', async (t) => {
  const { sim, port } = await startCamera(t, { rtspUri: 'rtsp://admin:leaked@127.0.0.1:8554/cam' });
  const { driver, state, events } = await startDriver(t, port);
  t.match(
    state,
    {
      media_profiles: 'Profile_1,Profile_2',
      stream_uri: 'rtsp://127.0.0.1:8554/cam',
      snapshot_uri: `http://127.0.0.1:${port}/onvif-http/snapshot?Profile_1`,
      presets: '1,2',
      ptz_position: { pan: 0, tilt: 0, zoom: 0 },
    },
    'the state holds what GetProfiles, GetStreamUri, GetSnapshotUri, GetPresets and GetStatus answered, credentials stripped',
  );
  t.equal(driver.streamUri(), 'rtsp://lawbox:pa%3Ass%40word%2F1@127.0.0.1:8554/cam', 'the media pipeline gets the URI with the ONVIF credentials, encoded');
  t.same(events, [], 'a clean start reports no device error');
  t.ok(sim.calls.GetServices && sim.calls.GetVideoSources, 'the client connected through GetServices and GetVideoSources');
});

t.test('stream_profile selects the sub stream; an unknown one fails start with the profiles it could have been', async (t) => {
  const { port } = await startCamera(t, { subRtspUri: 'rtsp://127.0.0.1:8554/cam_sub' });
  const { state } = await startDriver(t, port, { settings: { stream_profile: 'Profile_2' } });
  t.equal(state.stream_uri, 'rtsp://127.0.0.1:8554/cam_sub', 'Profile_2 streams the sub stream');
  t.equal(state.presets, '1,2', 'PTZ still works through the profile that has a PTZ configuration');
  const bad = onvifCameraDriver(context(port, { settings: { stream_profile: 'Profile_9' } }).ctx);
  t.teardown(() => bad.stop());
  await t.rejects(bad.start(), { code: 'NO_PROFILE', message: /Profile_9 .*Profile_1, Profile_2/ }, 'the error names the camera profiles');
});

t.test('ptz_move turns the head for timeout_ms, then the driver stops it', async (t) => {
  const { sim, port } = await startCamera(t);
  const { driver, state } = await startDriver(t, port);
  const started = Date.now();
  await driver.command!({ action: 'ptz_move', params: { pan: 0.5, tilt: -0.25, timeout_ms: 300 } });
  t.equal(sim.calls.ContinuousMove, 1, 'ContinuousMove reached the camera');
  t.ok(await until(() => sim.calls.Stop === 1, 3000), 'the driver sends Stop');
  t.ok(Date.now() - started >= 290, 'not before timeout_ms');
  const at = sim.position;
  t.ok(near(at.pan, 0.15) && near(at.tilt, -0.075) && at.zoom === 0, `position follows velocity × time (${JSON.stringify(at)})`);
  t.ok(await until(() => near((state.ptz_position as { pan: number }).pan, 0.15)), 'the state reports the position after the stop');

  // At full speed the head reaches its limits and stays there until stopped.
  await driver.command!({ action: 'ptz_move', params: { pan: 1, tilt: 1, zoom: 1, timeout_ms: 60_000 } });
  t.ok(await until(() => sim.position.pan === 1 && sim.position.tilt === 1 && sim.position.zoom === 1, 3000), 'the position is clamped at the end of its range');
  t.same(await driver.command!({ action: 'ptz_stop' }), { ptz_position: { pan: 1, tilt: 1, zoom: 1 } }, 'ptz_stop answers with the position');
  t.equal(sim.calls.Stop, 2, 'ptz_stop stopped the head');
  t.notOk(sim.moving, 'the head rests');

  const moves = sim.calls.ContinuousMove;
  for (const [params, why] of [
    [{ pan: 1.5 }, 'a pan velocity above 1'],
    [{ zoom: -2 }, 'a zoom velocity below -1'],
    [{ pan: 0.1, timeout_ms: 50 }, 'a timeout under 100 ms'],
    [{ pan: 0.1, timeout_ms: 250.5 }, 'a fractional timeout'],
    [{ pan: '0.1' }, 'a velocity as a string'],
    [{ speed: 1 }, 'an unknown parameter'],
  ] as const) {
    await t.rejects(driver.command!({ action: 'ptz_move', params }), { code: 'BAD_VALUE' }, `${why} is refused`);
  }
  await t.rejects(driver.command!({ action: 'ptz_spin' }), { code: 'BAD_COMMAND' }, 'an action the profile does not list is refused');
  t.equal(sim.calls.ContinuousMove, moves, 'nothing refused reached the camera');
});

t.test('presets are saved, found by token or name, and reaching one is an event', async (t) => {
  const { sim, port } = await startCamera(t);
  const { driver, state, events } = await startDriver(t, port);
  await driver.command!({ action: 'ptz_move', params: { pan: 0.5, zoom: 0.5, timeout_ms: 200 } });
  await until(() => sim.calls.Stop === 1);
  const name = 'Bench <A&B> "east"';
  t.same(await driver.command!({ action: 'ptz_set_preset', params: { name } }), { presets: '1,2,3' }, 'the new preset is listed');
  t.equal(sim.presets.get('3')?.name, name, 'XML metacharacters in the name arrive intact');
  t.ok(near(sim.presets.get('3')!.position.pan, 0.1), 'the preset holds the current position');
  await driver.command!({ action: 'ptz_set_preset', params: { name } });
  t.equal(state.presets, '1,2,3', 'saving under a known name moves that preset instead of adding one');

  const home = (await driver.command!({ action: 'ptz_home' })) as { ptz_position: { pan: number } };
  t.same(home.ptz_position, { pan: 0, tilt: 0, zoom: 0 }, 'ptz_home answers once the head is home');
  const reached = (await driver.command!({ action: 'ptz_goto_preset', params: { preset: '3' } })) as { ptz_position: { pan: number } };
  t.ok(near(reached.ptz_position.pan, 0.1), 'goto answers with the preset position');
  t.same(events, [{ type: 'ptz_preset_reached', data: { preset: '3' } }], 'reaching the preset is an event');
  await driver.command!({ action: 'ptz_goto_preset', params: { preset: 'Mediation room' } });
  t.same(events.at(-1), { type: 'ptz_preset_reached', data: { preset: '2' } }, 'a preset name resolves to its token');
  t.same(sim.position, { pan: 0.6, tilt: -0.2, zoom: 0.5 }, 'the head is at the preset');

  const gotos = sim.calls.GotoPreset;
  await t.rejects(driver.command!({ action: 'ptz_goto_preset', params: { preset: '99' } }), { code: 'BAD_VALUE', message: /no preset 99/ }, 'an unknown preset is refused');
  await t.rejects(driver.command!({ action: 'ptz_goto_preset', params: {} }), { code: 'BAD_VALUE' }, 'a preset is required');
  await t.rejects(driver.command!({ action: 'ptz_set_preset', params: { name: 'x'.repeat(65) } }), { code: 'BAD_VALUE' }, 'a name over 64 characters is refused');
  await t.rejects(driver.command!({ action: 'ptz_set_preset', params: { name: 'a\u0001b' } }), { code: 'BAD_VALUE' }, 'a control character is refused');
  t.equal(sim.calls.GotoPreset, gotos, 'no refused preset command reached the camera');
});

t.test('a SOAP fault is a DEVICE_ERROR and a device_error event', async (t) => {
  const { port } = await startCamera(t, { maxPresets: 2 });
  const { driver, events } = await startDriver(t, port);
  await t.rejects(driver.command!({ action: 'ptz_set_preset', params: { name: 'Door' } }), { code: 'DEVICE_ERROR', message: /no room for another preset/ }, 'the fault reason reaches the caller');
  t.same(events, [{ type: 'device_error', data: { code: 'DEVICE_ERROR' } }], 'the fault is reported');
});

t.test('credentials and clocks', async (t) => {
  const { sim, port } = await startCamera(t, { clockOffsetMs: 2 * 3600_000 });
  await startDriver(t, port);
  t.ok(sim.calls.GetProfiles, 'a camera clock two hours ahead is no obstacle: timestamps follow GetSystemDateAndTime');

  const wrong = context(port, { secret: 'guess' });
  const driver = onvifCameraDriver(wrong.ctx);
  t.teardown(() => driver.stop());
  await t.rejects(driver.start(), { code: 'NOT_AUTHORIZED', message: /ONVIF connect to 127\.0\.0\.1: the camera refused the ONVIF user name or password/ }, 'a wrong password fails start with a clear error');
  t.same(wrong.events, [{ type: 'device_error', data: { code: 'NOT_AUTHORIZED' } }], 'and is reported as a device error');

  const noSecret = { ...context(port).ctx, secret: () => undefined };
  await t.rejects(onvifCameraDriver(noSecret).start(), { message: /cam-reception is not in this agent's secret store/ }, 'a missing secret is named');
});

t.test('a camera that stops answering is reported lost; stop clears the timers', async (t) => {
  const { sim, port } = await startCamera(t);
  const { driver, failures } = await startDriver(t, port, { settings: { poll_interval_ms: 100 } });
  await until(() => (sim.calls.GetStatus ?? 0) >= 3, 2000);
  t.same(failures, [], 'an answering camera is not reported');
  await sim.close();
  t.ok(await until(() => failures.length > 0, 2000), 'the keep-alive notices');
  t.match(failures[0]!.message, /stopped answering/, 'the failure says what happened');
  await driver.stop();
  const seen = failures.length;
  await new Promise((r) => setTimeout(r, 300));
  t.equal(failures.length, seen, 'no keep-alive runs after stop');
});

/** A request as the onvif client builds it, signed for the simulator's user. */
function signed(action: string, password = PASSWORD): string {
  const nonce = randomBytes(16);
  const created = new Date().toISOString();
  const digest = createHash('sha1').update(nonce).update(created).update(password).digest('base64');
  return (
    '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header>' +
    `<Security s:mustUnderstand="1" xmlns="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"><UsernameToken><Username>${USER}</Username>` +
    `<Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest">${digest}</Password>` +
    `<Nonce>${nonce.toString('base64')}</Nonce><Created xmlns="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">${created}</Created></UsernameToken></Security>` +
    `</s:Header><s:Body>${action}</s:Body></s:Envelope>`
  );
}

const post = async (port: number, path: string, body: string | Uint8Array) => {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', headers: { 'content-type': 'application/soap+xml' }, body });
  return { status: res.status, text: await res.text() };
};

t.test('malformed, unknown or unauthenticated SOAP gets a fault and the camera goes on', async (t) => {
  const { port } = await startCamera(t);
  const dev = ONVIF_PATHS.device;
  const wellFormed = await post(port, dev, 'not xml <at all');
  t.equal(wellFormed.status, 400, 'malformed XML is the sender fault');
  t.match(wellFormed.text, /<env:Fault>.*ter:WellFormed/, 'with the WellFormed subcode');
  t.match((await post(port, dev, '<!DOCTYPE x [<!ENTITY a "b">]><x/>')).text, /document type declarations are refused/, 'a DTD is refused');
  t.match((await post(port, dev, signed('<Reboot xmlns="http://www.onvif.org/ver10/device/wsdl"/>'))).text, /ter:ActionNotSupported/, 'an unknown action is a fault');
  t.match((await post(port, ONVIF_PATHS.media, signed('<GetSystemDateAndTime xmlns="http://www.onvif.org/ver10/device/wsdl"/>'))).text, /ter:ActionNotSupported/, 'an action on the wrong service is a fault');
  const denied = await post(port, dev, signed('<GetDeviceInformation xmlns="http://www.onvif.org/ver10/device/wsdl"/>', 'guess'));
  t.equal(denied.status, 400, 'a wrong password is HTTP 400, as the ONVIF core spec has it');
  t.match(denied.text, /ter:NotAuthorized/, 'with the NotAuthorized subcode');
  const request = signed('<GetDeviceInformation xmlns="http://www.onvif.org/ver10/device/wsdl"/>');
  const info = await post(port, dev, request);
  t.match(info.text, /<tds:Manufacturer>HIKVISION<\/tds:Manufacturer><tds:Model>DS-2DE4425IW-DE</, 'a signed request is answered');
  t.match((await post(port, dev, request)).text, /nonce replayed/, 'the same request again is a replay and refused');
  const time = await post(port, dev, '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><GetSystemDateAndTime xmlns="http://www.onvif.org/ver10/device/wsdl"/></s:Body></s:Envelope>');
  t.equal(time.status, 200, 'GetSystemDateAndTime needs no credentials');
});

t.test('fuzz: mutated requests are each answered with a response or a fault, and the camera serves on', async (t) => {
  const { sim, port } = await startCamera(t);
  const rnd = mulberry32(0x0f1f);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const ptz = 'xmlns="http://www.onvif.org/ver20/ptz/wsdl"';
  const seeds: [string, string][] = [
    [ONVIF_PATHS.ptz, `<ContinuousMove ${ptz}><ProfileToken>Profile_1</ProfileToken><Velocity><PanTilt x="0.5" y="-0.5" xmlns="http://www.onvif.org/ver10/schema"/><Zoom x="1" xmlns="http://www.onvif.org/ver10/schema"/></Velocity><Timeout>PT0.2S</Timeout></ContinuousMove>`],
    [ONVIF_PATHS.ptz, `<SetPreset ${ptz}><ProfileToken>Profile_1</ProfileToken><PresetName>Door</PresetName></SetPreset>`],
    [ONVIF_PATHS.ptz, `<GotoPreset ${ptz}><ProfileToken>Profile_1</ProfileToken><PresetToken>1</PresetToken></GotoPreset>`],
    [ONVIF_PATHS.ptz, `<GetStatus ${ptz}><ProfileToken>Profile_1</ProfileToken></GetStatus>`],
    [ONVIF_PATHS.media, '<GetStreamUri xmlns="http://www.onvif.org/ver10/media/wsdl"><ProfileToken>Profile_2</ProfileToken></GetStreamUri>'],
    [ONVIF_PATHS.device, '<GetServices xmlns="http://www.onvif.org/ver10/device/wsdl"><IncludeCapability>true</IncludeCapability></GetServices>'],
  ];
  const noise = ['<', '>', '&', '&#0;', '&#x110000;', '"', "'", '/', '=', ':', ']]>', '<![CDATA[', '<!--', '\u0000', '\uffff', 'x:', '1e999', '-', ' ', '<a>', '</a>'];
  const mutate = (s: string): string => {
    let out = s;
    for (let n = 1 + Math.floor(rnd() * 3); n > 0; n--) {
      const at = Math.floor(rnd() * (out.length + 1));
      const r = rnd();
      if (r < 0.3) out = out.slice(0, at) + pick(noise) + out.slice(at);
      else if (r < 0.5) out = out.slice(0, at) + out.slice(at + 1 + Math.floor(rnd() * 8));
      else if (r < 0.65) out = out.slice(0, at);
      else if (r < 0.8) out = out.slice(0, at) + String.fromCharCode(Math.floor(rnd() * 0x3000)) + out.slice(at);
      else out = out.slice(0, at) + out.slice(Math.floor(rnd() * out.length));
    }
    return out;
  };
  const request = (i: number): [string, string | Uint8Array] => {
    const [path, action] = pick(seeds);
    if (i % 50 === 0) return [path, randomBytes(200)];
    // Half mutate a whole signed request; half keep the signature and mutate only the action.
    return [path, i % 2 ? mutate(signed(action)) : signed(mutate(action))];
  };
  const tally = { ok: 0, fault: 0 };
  const bad: string[] = [];
  const judge = (status: number, text: string, body: string | Uint8Array) => {
    if (status === 200 && /<env:Body><\w+:\w+Response/.test(text)) tally.ok++;
    else if ((status === 400 || status === 500) && text.includes('<env:Fault>') && !text.includes('internal error')) tally.fault++;
    else bad.push(`${status} ${text.slice(0, 200)} ← ${String(body).slice(0, 300)}`);
  };
  // The SOAP handler itself 2,000 times, then a few hundred requests over HTTP, 8 at a time.
  for (let i = 0; i < 2000; i++) {
    const [path, body] = request(i);
    const { status, xml } = sim.handle(path, typeof body === 'string' ? Buffer.from(body) : body, `http://127.0.0.1:${port}`);
    judge(status, xml, body);
  }
  for (let i = 0; i < 240; i += 8) {
    await Promise.all(
      Array.from({ length: 8 }, async (_, k) => {
        const [path, body] = request(i + k);
        const { status, text } = await post(port, path, body);
        judge(status, text, body);
      }),
    );
  }
  t.same(bad, [], 'every request got a response or a proper fault, none an internal error');
  t.ok(tally.ok >= 40 && tally.fault >= 1000, `both paths were exercised (${JSON.stringify(tally)})`);
  const at = sim.position;
  t.ok(Math.abs(at.pan) <= 1 && Math.abs(at.tilt) <= 1 && at.zoom >= 0 && at.zoom <= 1, 'the head never left its range');
  const { state } = await startDriver(t, port);
  t.equal(state.media_profiles, 'Profile_1,Profile_2', 'the camera still serves a client afterwards');
});
