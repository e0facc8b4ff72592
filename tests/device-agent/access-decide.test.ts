import { generateKeyPairSync, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import t from 'tap';
import { AccessIndex, credentialDigest, signedBytes, verifyAccessList, type AccessList } from '../../device-agent/src/access/decide.js';
import { validateMessage } from '../../firmware-profiles/index.js';

const { publicKey, privateKey } = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');
const salt = Buffer.alloc(16, 7).toString('base64');
const allDay = [{ days: [1, 2, 3, 4, 5, 6, 7], from: '00:00', to: '24:00' }];

function signed(list: Omit<AccessList, 'signature'>, key = privateKey, keyId = 'server-2026'): AccessList {
  return { ...list, signature: { alg: 'ed25519', key_id: keyId, value: sign(null, signedBytes(list), key).toString('base64') } };
}

const base: Omit<AccessList, 'signature'> = {
  version: 7,
  agent: 'front-desk',
  issued_at: '2026-11-27T08:00:00+08:00',
  expires_at: '2026-12-04T08:00:00+08:00',
  timezone: 'Asia/Shanghai',
  credential_salt: salt,
  doors: [
    { door: 'lobby', device: 'osdp-1', readers: ['osdp-1'], pulse_ms: 3000, fail_mode: 'fail_secure' },
    { door: 'archive', device: 'relay-1', relay_channel: 1, readers: ['hid-archive'], pulse_ms: 2000, fail_mode: 'fail_secure' },
  ],
  credentials: [
    { credential: '12345640', kind: 'card', holder: 'person:17', doors: ['lobby', 'archive'], windows: allDay },
    // Office hours on weekdays only: 08:30–19:00 Beijing time.
    { credential: '99887766', kind: 'card', doors: ['lobby'], windows: [{ days: [1, 2, 3, 4, 5], from: '08:30', to: '19:00' }] },
    { credential: credentialDigest('sha256', salt, 'V-20261127-0001'), kind: 'qr', holder: 'visitor:9', doors: ['lobby'], windows: allDay, valid_from: '2026-11-27T09:00:00+08:00', valid_until: '2026-11-27T12:00:00+08:00' },
  ],
};
const list = signed(base);
const index = new AccessIndex(list);
const at = (iso: string) => new Date(iso);

t.test('the test list is a valid agent_access message by the firmware-profiles schema', async (t) => {
  t.same(validateMessage('agent_access', list), { ok: true }, 'schema-valid');
});

t.test('decisions: reader → door → credential → validity → weekly window', async (t) => {
  const friday10 = at('2026-11-27T10:00:00+08:00');
  t.match(index.decide('12345640', 'hid-archive', friday10), { granted: true, reason: 'granted', door: { door: 'archive', relay_channel: 1 } }, 'a staff card at the archive reader opens the archive');
  t.equal(index.decide('12:34:56:40', 'osdp-1', friday10).granted, true, 'card numbers are normalised (separators, case)');
  t.match(index.decide('00000000', 'osdp-1', friday10), { granted: false, reason: 'unknown_credential' }, 'an unknown card is refused');
  t.match(index.decide('99887766', 'hid-archive', friday10), { granted: false, reason: 'wrong_door' }, 'a card without the door is refused');
  t.match(index.decide('12345640', 'garage-reader', friday10), { granted: false, reason: 'reader_not_assigned', door: null }, 'a reader of no door opens nothing');
  t.equal(index.decide('99887766', 'osdp-1', friday10).granted, true, 'inside the weekday window');
  t.equal(index.decide('99887766', 'osdp-1', at('2026-11-27T19:00:00+08:00')).reason, 'outside_window', 'the window end is exclusive');
  t.equal(index.decide('99887766', 'osdp-1', at('2026-11-27T08:30:00+08:00')).granted, true, 'the window start is inclusive');
  t.equal(index.decide('99887766', 'osdp-1', at('2026-11-28T10:00:00+08:00')).reason, 'outside_window', 'Saturday is outside');
  t.equal(index.decide('99887766', 'osdp-1', at('2026-11-27T02:00:00Z')).granted, true, 'windows are read in the list’s zone (10:00 Beijing), not UTC');
  t.equal(index.decide('V-20261127-0001', 'osdp-1', at('2026-11-27T08:59:00+08:00')).reason, 'not_yet_valid', 'a hashed QR pass before its start');
  t.equal(index.decide('V-20261127-0001', 'osdp-1', at('2026-11-27T11:59:00+08:00')).granted, true, 'a hashed QR pass during its visit');
  t.equal(index.decide('V-20261127-0001', 'osdp-1', at('2026-11-27T12:00:00+08:00')).reason, 'expired', 'a QR pass at its expiry');
  t.equal(index.decide('12345640', 'osdp-1', at('2026-12-04T08:00:00+08:00')).reason, 'list_expired', 'past the list’s own expiry nobody is let in');
});

t.test('an access list is trusted only when signed by a known key, for this agent, current and newer', async (t) => {
  const keys = new Map([['server-2026', publicKey]]);
  const now = at('2026-11-27T10:00:00+08:00');
  const opts = { now, agent: 'front-desk' };
  t.same(verifyAccessList(list, keys, opts), { ok: true }, 'a signed list verifies');
  t.same(verifyAccessList(signed(base, other.privateKey), keys, opts), { ok: false, reason: 'bad_signature' }, 'another key’s signature fails');
  t.same(verifyAccessList(signed(base, privateKey, 'unknown'), keys, opts), { ok: false, reason: 'unknown_key' }, 'an unknown key id fails');
  const tampered: AccessList = { ...list, credentials: [...list.credentials, { credential: '66666666', kind: 'card', doors: ['archive'], windows: allDay }] };
  t.same(verifyAccessList(tampered, keys, opts), { ok: false, reason: 'bad_signature' }, 'a card added after signing breaks the signature');
  const rewired: AccessList = { ...list, doors: list.doors.map((d) => (d.door === 'archive' ? { ...d, readers: ['osdp-1'] } : d)) };
  t.same(verifyAccessList(rewired, keys, opts), { ok: false, reason: 'bad_signature' }, 'so does moving a reader to another lock');
  const reordered = JSON.parse(JSON.stringify(list, (_k, v) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).reverse()) : v)));
  t.same(verifyAccessList(reordered, keys, opts), { ok: true }, 'key order does not matter (canonical JSON)');
  t.same(verifyAccessList(list, keys, { ...opts, now: at('2026-12-05T00:00:00+08:00') }), { ok: false, reason: 'expired' }, 'an expired list is refused');
  t.same(verifyAccessList(list, keys, { ...opts, currentVersion: 7 }), { ok: false, reason: 'not_newer' }, 'a replayed list of the same or an older version is refused');
  t.same(verifyAccessList(list, keys, { ...opts, agent: 'meeting-room' }), { ok: false, reason: 'other_agent' }, 'a list for another agent is refused');
  t.same(verifyAccessList({ ...list, signature: { alg: 'sm2', key_id: 'server-2026', value: list.signature.value } }, keys, opts), { ok: false, reason: 'unsupported_alg' }, 'SM2 lists are refused until verified');
  t.same(verifyAccessList({ ...list, signature: { alg: 'ed25519', key_id: 'server-2026', value: '!!not base64!!' } }, keys, opts), { ok: false, reason: 'bad_signature' }, 'garbage in the signature is a bad signature, not a crash');
});

t.test('the signed example in firmware-profiles verifies with its published key', async (t) => {
  const example = JSON.parse(readFileSync(new URL('../../firmware-profiles/examples/agent_access/valid/office-week.json', import.meta.url), 'utf8')) as AccessList;
  const pem = readFileSync(new URL('../../firmware-profiles/examples/keys/example-2025-01.ed25519.pub.pem', import.meta.url), 'utf8');
  const result = verifyAccessList(example, new Map([['example-2025-01', pem]]), { now: at('2025-03-04T10:00:00+08:00'), agent: example.agent });
  t.same(result, { ok: true }, 'the agent and the schema agree on the signed bytes');
  const idx = new AccessIndex(example);
  t.equal(idx.decide('12345640', 'hid-archive', at('2025-03-04T10:00:00+08:00')).granted, true, 'and decide from it');
});
