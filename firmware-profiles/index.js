// The device contract as code: loads every <vendor>/<model>.json profile, validates it against
// schema/profile.schema.json plus the rules a schema cannot say (id = path, every writable property
// has a /set command…), and validates MQTT payloads against schema/mqtt/*.schema.json.
// Plain ESM without a build step so the agent, the server and the tests import the same file by path.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

export const PROFILES_DIR = fileURLToPath(new URL('.', import.meta.url));
const SCHEMA_DIR = join(PROFILES_DIR, 'schema');
/** Folders under firmware-profiles/ that hold no profiles. */
const NOT_VENDORS = new Set(['schema', 'examples', 'node_modules']);

/** MQTT message kind → schema file under schema/mqtt/. */
const MESSAGE_FILES = {
  agent_state: 'agent-state.schema.json',
  agent_config: 'agent-config.schema.json',
  agent_access: 'agent-access.schema.json',
  device_state: 'device-state.schema.json',
  device_availability: 'device-availability.schema.json',
  device_set: 'device-set.schema.json',
  device_result: 'device-result.schema.json',
  event: 'event.schema.json',
};
export const messageKinds = Object.freeze(Object.keys(MESSAGE_FILES));

/** Which transports a protocol's codec can run over. */
export const protocolTransports = Object.freeze({
  osdp: ['serial', 'tcp'],
  usb_relay: ['serial'],
  id_card_sam: ['serial'],
  hid_keyboard_wedge: ['hid'],
  samsung_mdc: ['serial', 'tcp'],
  onvif: ['onvif'],
  lawbox_mqtt: ['mqtt'],
});

const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));

export const defsSchema = readJson(join(SCHEMA_DIR, 'defs.schema.json'));
export const profileSchema = readJson(join(SCHEMA_DIR, 'profile.schema.json'));
export const messageSchemas = Object.freeze(
  Object.fromEntries(Object.entries(MESSAGE_FILES).map(([kind, file]) => [kind, readJson(join(SCHEMA_DIR, 'mqtt', file))])),
);

// One Ajv instance, every schema compiled once at import. strictRequired is off because conditional
// `required` (if category is door_controller then defaults.fail_mode) is deliberate. discriminator: a bad transport `type`
// yields one precise error instead of one per oneOf branch.
const ajv = new Ajv2020({ allErrors: true, strict: true, strictTypes: false, strictRequired: false, discriminator: true });
addFormats(ajv);
ajv.addSchema(defsSchema);
ajv.addSchema(profileSchema);
for (const schema of Object.values(messageSchemas)) ajv.addSchema(schema);
const validateProfileSchema = ajv.getSchema(profileSchema.$id);
const messageValidators = Object.fromEntries(
  Object.entries(messageSchemas).map(([kind, schema]) => [kind, ajv.getSchema(schema.$id)]),
);

/**
 * Turns Ajv errors into `<path> <message>` lines, once each; drops the redundant "must match
 * then/else" wrappers and says what a `false` schema means.
 */
export function formatErrors(errors) {
  const lines = (errors ?? [])
    .filter((e) => e.keyword !== 'if' && e.keyword !== 'propertyNames')
    .map((e) => {
      const where = e.instancePath || '(root)';
      if (e.keyword === 'false schema') return `${where} is not allowed here`;
      if (e.propertyName !== undefined) return `${where} key '${e.propertyName}' ${e.message}`;
      let detail = '';
      if (e.keyword === 'additionalProperties') detail = `: '${e.params.additionalProperty}'`;
      else if (e.keyword === 'enum') detail = ` (${e.params.allowedValues.map((v) => JSON.stringify(v)).join(', ')})`;
      else if (e.keyword === 'discriminator' && e.params.tagValue !== undefined) detail = `: ${JSON.stringify(e.params.tagValue)}`;
      return `${where} ${e.message}${detail}`;
    });
  return [...new Set(lines)];
}

export class ProfileCatalogError extends Error {
  /** @param {{ file: string, message: string }[]} problems */
  constructor(problems) {
    super(
      `${problems.length} problem(s) in firmware profiles:\n` + problems.map((p) => `  ${p.file}: ${p.message}`).join('\n'),
    );
    this.name = 'ProfileCatalogError';
    this.code = 'INVALID_PROFILE';
    this.problems = problems;
  }
}

function walkExposes(exposes, path, visit) {
  exposes.forEach((expose, i) => {
    visit(expose, `${path}/${i}`);
    if (Array.isArray(expose.features)) walkExposes(expose.features, `${path}/${i}/features`, visit);
  });
}

function duplicates(values) {
  const seen = new Set();
  return [...new Set(values.filter((v) => (seen.has(v) ? true : (seen.add(v), false))))];
}

/**
 * Validates one profile object. `expectedId` (its path without `.json`) is checked when given.
 * Returns problem lines (`<json path> <message>`); empty means valid.
 * @returns {string[]}
 */
export function validateProfile(profile, expectedId) {
  if (!validateProfileSchema(profile)) return formatErrors(validateProfileSchema.errors);
  const problems = [];
  if (expectedId !== undefined && profile.id !== expectedId) {
    problems.push(`/id must equal its path '${expectedId}', found '${profile.id}'`);
  }
  const transportTypes = profile.transports.map((t) => t.type);
  for (const d of duplicates(transportTypes)) problems.push(`/transports lists transport '${d}' twice`);
  const allowed = protocolTransports[profile.protocol];
  profile.transports.forEach((t, i) => {
    if (!allowed.includes(t.type)) problems.push(`/transports/${i}/type '${t.type}' cannot carry protocol '${profile.protocol}' (${allowed.join(', ')})`);
  });

  // Property names must be unique among siblings (top level and within each composite).
  const checkSiblings = (list, path) => {
    for (const d of duplicates(list.map((e) => e.property))) problems.push(`${path} exposes '${d}' twice`);
    list.forEach((e, i) => e.features && checkSiblings(e.features, `${path}/${i}/features`));
  };
  checkSiblings(profile.exposes, '/exposes');
  walkExposes(profile.exposes, '/exposes', (e, path) => {
    if (e.min !== undefined && e.max !== undefined && e.min > e.max) problems.push(`${path} min ${e.min} exceeds max ${e.max}`);
  });

  // zigbee2mqtt's rule: every writable top-level property has a to-device handler, and a property
  // command names a writable property.
  const writable = new Set(profile.exposes.filter((e) => e.access.write).map((e) => e.property));
  for (const name of writable) {
    const command = profile.commands[name];
    if (!command || command.kind !== 'property') problems.push(`/commands has no property command for writable property '${name}'`);
  }
  for (const [name, command] of Object.entries(profile.commands)) {
    if (command.kind === 'property' && !writable.has(name)) problems.push(`/commands/${name} is a property command but '${name}' is not a writable exposed property`);
    if (command.kind === 'action' && profile.exposes.some((e) => e.property === name)) problems.push(`/commands/${name} is an action named like an exposed property; use kind 'property' or rename it`);
    if (command.handler.split('.')[0] !== profile.protocol) problems.push(`/commands/${name}/handler '${command.handler}' is not a ${profile.protocol} converter`);
  }
  for (const d of duplicates(profile.events.map((e) => e.type))) problems.push(`/events lists '${d}' twice`);
  return problems;
}

/**
 * Loads every `<vendor>/<model>.json` under `dir` (default: this folder), validated.
 * Throws one ProfileCatalogError listing every problem in every file.
 * @returns {Map<string, object>} profile id → profile
 */
export function loadProfiles(dir = PROFILES_DIR) {
  const problems = [];
  const profiles = new Map();
  const files = new Map(); // id → file, for duplicate reporting
  for (const vendor of readdirSync(dir).sort()) {
    const vendorDir = join(dir, vendor);
    if (vendor.startsWith('.') || NOT_VENDORS.has(vendor) || !statSync(vendorDir).isDirectory()) continue;
    for (const entry of readdirSync(vendorDir).sort()) {
      const full = join(vendorDir, entry);
      const file = relative(dir, full).split(sep).join('/');
      if (statSync(full).isDirectory()) {
        problems.push({ file, message: 'profiles live at <vendor>/<model>.json; nested folders are not read' });
        continue;
      }
      if (!entry.endsWith('.json')) continue;
      let profile;
      try {
        profile = readJson(full);
      } catch (error) {
        problems.push({ file, message: `is not valid JSON: ${error.message}` });
        continue;
      }
      const expectedId = file.slice(0, -'.json'.length);
      const own = validateProfile(profile, expectedId);
      for (const message of own) problems.push({ file, message });
      if (own.length) continue;
      if (files.has(profile.id)) {
        problems.push({ file, message: `/id '${profile.id}' is already used by ${files.get(profile.id)}` });
        continue;
      }
      files.set(profile.id, file);
      profiles.set(profile.id, profile);
    }
  }
  if (problems.length) throw new ProfileCatalogError(problems);
  return profiles;
}

const minutes = (hhmm) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** Rules of the access list a schema cannot express; the agent refuses a list that breaks one. */
function checkAccessList(list) {
  const problems = [];
  if (list.expires_at && Date.parse(list.expires_at) <= Date.parse(list.issued_at)) problems.push('/expires_at must be later than issued_at');
  const doorIds = list.doors.map((d) => d.door);
  for (const d of duplicates(doorIds)) problems.push(`/doors defines door '${d}' twice`);
  const doors = new Set(doorIds);
  const readerDoors = new Map();
  list.doors.forEach((door, i) => {
    for (const reader of door.readers) {
      if (readerDoors.has(reader)) problems.push(`/doors/${i}/readers reader '${reader}' already opens door '${readerDoors.get(reader)}': one reader, one door`);
      else readerDoors.set(reader, door.door);
    }
  });
  const seen = new Map();
  list.credentials.forEach((c, i) => {
    const path = `/credentials/${i}`;
    if (seen.has(c.credential)) problems.push(`${path}/credential repeats ${seen.get(c.credential)}: merge the entries`);
    else seen.set(c.credential, path);
    c.doors.forEach((d, j) => {
      if (!doors.has(d)) problems.push(`${path}/doors/${j} names unknown door '${d}'`);
    });
    c.windows.forEach((w, j) => {
      if (minutes(w.from) >= minutes(w.to)) problems.push(`${path}/windows/${j} from ${w.from} must be before to ${w.to} (split a window across midnight in two)`);
    });
    if (c.valid_from && c.valid_until && Date.parse(c.valid_from) >= Date.parse(c.valid_until)) problems.push(`${path} valid_from must be before valid_until`);
  });
  return problems;
}

const semanticChecks = { agent_access: checkAccessList };

/**
 * Validates one MQTT payload (already JSON-parsed) of the given kind.
 * @returns {{ ok: true } | { ok: false, errors: string[] }}
 */
export function validateMessage(kind, payload) {
  const validate = messageValidators[kind];
  if (!validate) throw new TypeError(`unknown message kind '${kind}' (${messageKinds.join(', ')})`);
  if (!validate(payload)) return { ok: false, errors: formatErrors(validate.errors) };
  const errors = semanticChecks[kind]?.(payload) ?? [];
  return errors.length ? { ok: false, errors } : { ok: true };
}

const SEGMENT = '([a-z0-9][a-z0-9_-]{0,63})';
const TOPICS = [
  [new RegExp(`^lawbox/agent/${SEGMENT}/state$`), 'agent_state', ['agent']],
  [new RegExp(`^lawbox/agent/${SEGMENT}/config$`), 'agent_config', ['agent']],
  [new RegExp(`^lawbox/agent/${SEGMENT}/access$`), 'agent_access', ['agent']],
  [new RegExp(`^lawbox/device/${SEGMENT}$`), 'device_state', ['device']],
  [new RegExp(`^lawbox/device/${SEGMENT}/availability$`), 'device_availability', ['device']],
  [new RegExp(`^lawbox/device/${SEGMENT}/set$`), 'device_set', ['device']],
  [new RegExp(`^lawbox/device/${SEGMENT}/result$`), 'device_result', ['device']],
  [new RegExp(`^lawbox/event/${SEGMENT}/([a-z][a-z0-9_]*)$`), 'event', ['device', 'type']],
];

/**
 * Which message kind a topic carries, with the ids in it; undefined for a topic outside the contract.
 * @returns {{ kind: string, agent?: string, device?: string, type?: string } | undefined}
 */
export function topicKind(topic) {
  for (const [pattern, kind, names] of TOPICS) {
    const match = pattern.exec(topic);
    if (match) return Object.fromEntries([['kind', kind], ...names.map((name, i) => [name, match[i + 1]])]);
  }
  return undefined;
}
