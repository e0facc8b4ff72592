// The catalogue-wide walk (zigbee-herdsman-converters style): every profile and every MQTT example
// is checked here, so adding a model is one JSON file and this test says what is wrong with it.
import t from 'tap';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createPublicKey, verify } from 'node:crypto';
import {
  PROFILES_DIR,
  ProfileCatalogError,
  loadProfiles,
  messageKinds,
  protocolTransports,
  topicKind,
  validateMessage,
  validateProfile,
  type Expose,
  type Profile,
} from '../../firmware-profiles/index.js';

const SNAKE = /^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$/;
const SLUG = /^[a-z0-9]+(?:[-_][a-z0-9]+)*$/;
const readJson = (file: string): any => JSON.parse(readFileSync(file, 'utf8'));

/** Profile files found by walking the folder ourselves, independently of loadProfiles. */
function profileFiles(): { file: string; id: string; profile: Profile }[] {
  const found = [];
  for (const vendor of readdirSync(PROFILES_DIR).sort()) {
    const dir = join(PROFILES_DIR, vendor);
    if (['schema', 'examples', 'node_modules'].includes(vendor) || vendor.startsWith('.') || !statSync(dir).isDirectory()) continue;
    for (const name of readdirSync(dir).filter((n) => n.endsWith('.json')).sort()) {
      found.push({ file: `${vendor}/${name}`, id: `${vendor}/${name.slice(0, -5)}`, profile: readJson(join(dir, name)) as Profile });
    }
  }
  return found;
}

function allExposes(list: Expose[]): Expose[] {
  return list.flatMap((e) => [e, ...allExposes(e.features ?? [])]);
}

const files = profileFiles();

t.test('the catalogue loads, every profile valid', async (t) => {
  const profiles = loadProfiles();
  t.equal(profiles.size, files.length, 'loadProfiles returns every <vendor>/<model>.json file');
  t.ok(files.length >= 8, `at least the eight models of the device-agent issue (found ${files.length})`);
});

t.test('catalogue-wide walk', async (t) => {
  const ids = new Set<string>();
  for (const { file, id, profile } of files) {
    t.test(file, async (t) => {
      t.same(validateProfile(profile, id), [], `${file} passes the schema and the catalogue rules`);
      t.equal(profile.id, id, `${file}: id equals its path`);
      t.notOk(ids.has(profile.id), `${file}: id ${profile.id} is unique`);
      ids.add(profile.id);
      const [vendor, model] = id.split('/');
      t.match(vendor, SLUG, `${file}: vendor folder is a lower-case slug`);
      t.match(model, SLUG, `${file}: model file name is a lower-case slug`);

      for (const e of allExposes(profile.exposes)) t.match(e.property, SNAKE, `${file}: exposed property ${e.property} is snake_case`);
      for (const name of Object.keys(profile.commands)) t.match(name, SNAKE, `${file}: command ${name} is snake_case`);
      for (const [name, c] of Object.entries(profile.commands)) {
        for (const p of Object.keys(c.params ?? {})) t.match(p, SNAKE, `${file}: parameter ${name}.${p} is snake_case`);
        t.equal(c.handler.split('.')[0], profile.protocol, `${file}: ${name} handler ${c.handler} belongs to the ${profile.protocol} codec`);
      }

      const writable = profile.exposes.filter((e) => e.access.write);
      for (const e of writable) {
        t.equal(profile.commands[e.property]?.kind, 'property', `${file}: writable property ${e.property} has a /set handler`);
      }
      for (const [name, c] of Object.entries(profile.commands).filter(([, c]) => c.kind === 'property')) {
        t.ok(writable.some((e) => e.property === name), `${file}: property command ${name} names a writable exposed property (${c.handler})`);
      }
      const eventTypes = profile.events.map((e) => e.type);
      t.equal(new Set(eventTypes).size, eventTypes.length, `${file}: each event type listed once`);
      const types = profile.transports.map((tr) => tr.type);
      t.equal(new Set(types).size, types.length, `${file}: each transport type listed once`);
      for (const type of types) {
        t.ok(protocolTransports[profile.protocol].includes(type), `${file}: ${profile.protocol} can run over ${type}`);
      }
      if (profile.generic) {
        t.match(profile.name.en, /generic/i, `${file}: a generic profile says so in its English name`);
        t.match(profile.name.zh, /通用/, `${file}: a generic profile says so in its Chinese name (通用)`);
      }
      if (profile.category === 'door_controller') {
        t.ok(profile.defaults?.pulse_ms && profile.defaults.fail_mode, `${file}: a door controller sets pulse_ms and fail_mode defaults`);
      }
    });
  }
});

t.test('every model the device-agent issue requires is present', async (t) => {
  const all = [...loadProfiles().values()];
  const exposes = (p: Profile, ...names: string[]) => names.every((n) => p.exposes.some((e) => e.property === n));
  const transport = (p: Profile, type: string) => p.transports.find((tr) => tr.type === type) as Record<string, unknown> | undefined;
  const required: [string, (p: Profile) => boolean][] = [
    ['OSDP v2 reader/controller on RS-485 (card reader, relay, door contact)', (p) =>
      p.protocol === 'osdp' && p.category === 'door_controller' && transport(p, 'serial')?.rs485 === true &&
      exposes(p, 'relay', 'door_contact') && p.events.some((e) => e.type === 'card_read')],
    ['USB-serial relay board (A0 01 01 A2 family, CH340 1a86:7523)', (p) =>
      p.protocol === 'usb_relay' && p.category === 'relay' && transport(p, 'serial')?.baud_rate === 9600 &&
      (p.fingerprint?.usb as { vendor_id: string; product_id: string }[] | undefined)?.some((u) => u.vendor_id === '1a86' && u.product_id === '7523') === true],
    ['resident ID card reader on serial (SAM, 115200)', (p) =>
      p.protocol === 'id_card_sam' && p.category === 'id_card_reader' && transport(p, 'serial')?.baud_rate === 115200 &&
      p.events.some((e) => e.type === 'id_card_read')],
    ['USB HID card reader', (p) => p.category === 'card_reader' && transport(p, 'hid') !== undefined && p.events.some((e) => e.type === 'card_read')],
    ['Samsung MDC display over serial and TCP 1515 (power, input, volume, mute, status)', (p) =>
      p.protocol === 'samsung_mdc' && p.category === 'display' && transport(p, 'serial') !== undefined &&
      transport(p, 'tcp')?.port === 1515 && exposes(p, 'power', 'input', 'volume', 'mute', 'status')],
    ['ONVIF Profile S PTZ camera (discovery, profiles, stream URI, PTZ move/stop/presets)', (p) => {
      const features = (transport(p, 'onvif')?.profile_s ?? []) as string[];
      return p.protocol === 'onvif' && p.category === 'camera' &&
        ['discovery', 'media_profiles', 'stream_uri', 'ptz', 'ptz_presets'].every((f) => features.includes(f)) &&
        ['ptz_move', 'ptz_stop', 'ptz_goto_preset'].every((c) => c in p.commands) && exposes(p, 'stream_uri', 'media_profiles');
    }],
    ['paperless meeting terminal on native MQTT (page, document, vote, sign-in)', (p) =>
      p.protocol === 'lawbox_mqtt' && p.category === 'meeting_terminal' && exposes(p, 'page', 'document', 'vote', 'signed_in') &&
      p.events.some((e) => e.type === 'sign_in') && p.events.some((e) => e.type === 'vote_cast')],
    ['e-ink nameplate on native MQTT (name, title, text lines)', (p) =>
      p.protocol === 'lawbox_mqtt' && p.category === 'nameplate' && exposes(p, 'name', 'title', 'lines')],
  ];
  for (const [what, matches] of required) {
    const hits = all.filter(matches).map((p) => p.id);
    t.ok(hits.length > 0, `${what}: ${hits.join(', ') || 'missing'}`);
  }
});

const EXAMPLES = join(PROFILES_DIR, 'examples');

t.test('every message example validates or fails as labelled', async (t) => {
  for (const kind of messageKinds) {
    for (const label of ['valid', 'invalid'] as const) {
      const dir = join(EXAMPLES, kind, label);
      const names = readdirSync(dir).filter((n) => n.endsWith('.json'));
      t.ok(names.length > 0, `examples/${kind}/${label} has examples`);
      for (const name of names) {
        const result = validateMessage(kind, readJson(join(dir, name)));
        if (label === 'valid') t.same(result, { ok: true }, `examples/${kind}/valid/${name} is accepted`);
        else {
          t.equal(result.ok, false, `examples/${kind}/invalid/${name} is refused`);
          if (!result.ok) t.ok(result.errors.length > 0 && result.errors.every((e) => e.startsWith('/') || e.startsWith('(root)')), `examples/${kind}/invalid/${name}: errors name a JSON path (${result.errors.join('; ')})`);
        }
      }
    }
  }
  t.throws(() => validateMessage('nonsense' as never, {}), /unknown message kind/, 'an unknown message kind is a programming error');
});

t.test('fixed-shape messages reject unknown keys', async (t) => {
  for (const kind of ['agent_state', 'agent_config', 'agent_access', 'device_availability', 'device_result', 'event'] as const) {
    const dir = join(EXAMPLES, kind, 'valid');
    const sample = readJson(join(dir, readdirSync(dir).filter((n) => n.endsWith('.json'))[0]));
    const result = validateMessage(kind, { ...sample, surprise: 1 });
    t.same(result, { ok: false, errors: ["(root) must NOT have additional properties: 'surprise'"] }, `${kind} refuses an unknown top-level key`);
  }
  t.same(validateMessage('device_set', { transaction: 't1', brightness: 40 }), { ok: true }, '/set accepts any snake_case property write (the profile decides which)');
  t.equal(validateMessage('device_set', { transaction: 't1', Brightness: 40 }).ok, false, '/set refuses a non-snake_case key');
});

/** RFC 8785 canonical JSON for the value shapes the access list uses (strings, integers, arrays, objects). */
function jcs(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(jcs).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${jcs(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

t.test('the example access list is signed as the schema says: ed25519 over the JCS bytes without signature', async (t) => {
  const { signature, ...list } = readJson(join(EXAMPLES, 'agent_access', 'valid', 'office-week.json'));
  const key = createPublicKey(readFileSync(join(EXAMPLES, 'keys', `${signature.key_id}.ed25519.pub.pem`)));
  const sig = Buffer.from(signature.value, 'base64');
  t.equal(signature.alg, 'ed25519', 'the example uses ed25519');
  t.equal(sig.length, 64, 'the signature value is 64 bytes');
  t.ok(verify(null, Buffer.from(jcs(list), 'utf8'), key, sig), 'the signature verifies over the canonical bytes');
  const tampered = structuredClone(list);
  tampered.doors[0].pulse_ms = 60000;
  t.notOk(verify(null, Buffer.from(jcs(tampered), 'utf8'), key, sig), 'changing one door setting breaks the signature');
  const reordered = Object.fromEntries(Object.entries(list).reverse());
  t.ok(verify(null, Buffer.from(jcs(reordered), 'utf8'), key, sig), 'key order in the received JSON does not matter');
});

t.test('a catalogue with mistakes is refused with one error naming every file and path', async (t) => {
  const good = readJson(join(PROFILES_DIR, 'lctech', 'lcus-1.json'));
  const typo = { ...good, id: 'acme/widget', transports: [{ ...good.transports[0], bauds: 9600 }] };
  const badTransport = { ...good, id: 'acme/gizmo', transports: [{ type: 'usb', port: 1 }] };
  const wrongId = { ...good, id: 'acme/other' };
  const noHandler = { ...good, id: 'acme/mute', commands: { pulse: good.commands.pulse } };
  const dir = t.testdir({
    acme: {
      'widget.json': JSON.stringify(typo),
      'gizmo.json': JSON.stringify(badTransport),
      'renamed.json': JSON.stringify(wrongId),
      'mute.json': JSON.stringify(noHandler),
      'broken.json': '{ "id": ',
      'fine.json': JSON.stringify({ ...good, id: 'acme/fine' }),
    },
    schema: { 'not-a-profile.json': '{}' },
    examples: { 'x.json': '{}' },
  });
  const error = t.throws(() => loadProfiles(dir)) as ProfileCatalogError;
  t.type(error, ProfileCatalogError, 'one ProfileCatalogError');
  t.equal(error.code, 'INVALID_PROFILE', 'with a stable code');
  const byFile = (file: string) => error.problems.filter((p) => p.file === file).map((p) => p.message).join('\n');
  t.match(byFile('acme/widget.json'), "/transports/0 must NOT have additional properties: 'bauds'", 'the unknown key is named with its path');
  t.match(byFile('acme/gizmo.json'), /\/transports\/0 .*"usb"/, 'the bad transport type is named with its path');
  t.match(byFile('acme/renamed.json'), "/id must equal its path 'acme/renamed'", 'an id that does not match its path is refused');
  t.match(byFile('acme/mute.json'), "no property command for writable property 'relay'", 'a writable property without a /set handler is refused');
  t.match(byFile('acme/broken.json'), 'is not valid JSON', 'unparseable JSON is reported, not thrown raw');
  t.equal(byFile('acme/fine.json'), '', 'the valid file has no problems');
  t.notOk(error.problems.some((p) => /schema|examples/.test(p.file)), 'schema/ and examples/ are not read as vendors');
  for (const file of ['acme/widget.json', 'acme/gizmo.json', 'acme/renamed.json', 'acme/mute.json', 'acme/broken.json']) {
    t.match(error.message, `  ${file}: `, `the one message lists ${file}`);
  }
});

t.test('topics map to message kinds', async (t) => {
  t.same(topicKind('lawbox/agent/front-desk/access'), { kind: 'agent_access', agent: 'front-desk' }, 'agent access topic');
  t.same(topicKind('lawbox/device/wall-1'), { kind: 'device_state', device: 'wall-1' }, 'device state topic');
  t.same(topicKind('lawbox/device/wall-1/set'), { kind: 'device_set', device: 'wall-1' }, 'device /set topic');
  t.same(topicKind('lawbox/device/wall-1/result'), { kind: 'device_result', device: 'wall-1' }, 'device /result topic');
  t.same(topicKind('lawbox/event/door-1/door_granted'), { kind: 'event', device: 'door-1', type: 'door_granted' }, 'event topic with its type');
  t.equal(topicKind('lawbox/device/wall-1/get'), undefined, 'a topic outside the contract is not matched');
  t.equal(topicKind('lawbox/device/Wall 1'), undefined, 'an id that is not topic-safe is not matched');
});
