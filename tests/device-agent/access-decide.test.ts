import { generateKeyPairSync, sign } from 'node:crypto';
import t from 'tap';
import { AccessIndex, signedBytes, verifyAccessList, type AccessList } from '../../device-agent/src/access/decide.js';

const { publicKey, privateKey } = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');

function signed(list: Omit<AccessList, 'signature'>, key = privateKey, keyId = 'server-2026'): AccessList {
  return { ...list, signature: { alg: 'ed25519', key_id: keyId, value: sign(null, signedBytes(list), key).toString('base64') } };
}

const base: Omit<AccessList, 'signature'> = {
  version: 7,
  issued_at: '2026-11-27T08:00:00+08:00',
  expires_at: '2026-12-04T08:00:00+08:00',
  doors: [
    { door: 'lobby', device: 'osdp-1', pulse_ms: 3000, fail_mode: 'fail_secure' },
    { door: 'archive', device: 'relay-1', relay_channel: 1, pulse_ms: 2000, fail_mode: 'fail_secure' },
  ],
  credentials: [
    { credential: '12345640', kind: 'card', doors: ['lobby', 'archive'] },
    // Office hours on weekdays only: 08:30–19:00 Beijing time.
    { credential: '99887766', kind: 'card', doors: ['lobby'], windows: [{ days: [1, 2, 3, 4, 5], from: '08:30', to: '19:00' }] },
    { credential: 'V-20261127-0001', kind: 'visitor_pass', doors: ['lobby'], valid_from: '2026-11-27T09:00:00+08:00', valid_until: '2026-11-27T12:00:00+08:00' },
  ],
};
const index = new AccessIndex(signed(base));
const at = (iso: string) => new Date(iso);

t.test('decisions', async (t) => {
  const friday10 = at('2026-11-27T10:00:00+08:00');
  t.match(index.decide('12345640', 'archive', friday10), { granted: true, reason: 'granted', door: { relay_channel: 1 } }, 'a staff card opens the archive');
  t.match(index.decide('00000000', 'lobby', friday10), { granted: false, reason: 'unknown_credential' }, 'an unknown card is refused');
  t.match(index.decide('99887766', 'archive', friday10), { granted: false, reason: 'door_not_allowed' }, 'a card without the door is refused');
  t.match(index.decide('12345640', 'garage', friday10), { granted: false, reason: 'unknown_door', door: null }, 'an unknown door is refused');
  t.equal(index.decide('99887766', 'lobby', friday10).granted, true, 'inside the weekday window');
  t.equal(index.decide('99887766', 'lobby', at('2026-11-27T19:00:00+08:00')).reason, 'outside_window', 'the window end is exclusive');
  t.equal(index.decide('99887766', 'lobby', at('2026-11-27T08:30:00+08:00')).granted, true, 'the window start is inclusive');
  t.equal(index.decide('99887766', 'lobby', at('2026-11-28T10:00:00+08:00')).reason, 'outside_window', 'Saturday is outside');
  // 01:00 UTC on Saturday is 09:00 Saturday in Beijing; 23:00 UTC Thursday is 07:00 Friday: windows are Beijing time.
  t.equal(index.decide('99887766', 'lobby', at('2026-11-27T02:00:00Z')).granted, true, 'windows are read in Beijing time, not UTC');
  t.equal(index.decide('V-20261127-0001', 'lobby', at('2026-11-27T08:59:00+08:00')).reason, 'not_yet_valid', 'a visitor pass before its start');
  t.equal(index.decide('V-20261127-0001', 'lobby', at('2026-11-27T11:59:00+08:00')).granted, true, 'a visitor pass during its visit');
  t.equal(index.decide('V-20261127-0001', 'lobby', at('2026-11-27T12:00:00+08:00')).reason, 'expired', 'a visitor pass at its expiry');
});

t.test('an access list is trusted only when signed by a known key, current and not older', async (t) => {
  const keys = new Map([['server-2026', publicKey]]);
  const now = at('2026-11-27T10:00:00+08:00');
  t.same(verifyAccessList(signed(base), keys, { now }), { ok: true }, 'a signed list verifies');
  t.same(verifyAccessList(signed(base, other.privateKey), keys, { now }), { ok: false, reason: 'bad_signature' }, 'another key’s signature fails');
  t.same(verifyAccessList(signed(base, privateKey, 'unknown'), keys, { now }), { ok: false, reason: 'unknown_key' }, 'an unknown key id fails');
  const tampered = signed(base);
  tampered.credentials = [...tampered.credentials, { credential: '66666666', kind: 'card', doors: ['archive'] }];
  t.same(verifyAccessList(tampered, keys, { now }), { ok: false, reason: 'bad_signature' }, 'a card added after signing breaks the signature');
  const reordered = JSON.parse(JSON.stringify(signed(base), (_k, v) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).reverse()) : v)));
  t.same(verifyAccessList(reordered, keys, { now }), { ok: true }, 'key order does not matter (canonical JSON)');
  t.same(verifyAccessList(signed(base), keys, { now: at('2026-12-05T00:00:00+08:00') }), { ok: false, reason: 'expired' }, 'an expired list is refused');
  t.same(verifyAccessList(signed(base), keys, { now, currentVersion: 8 }), { ok: false, reason: 'older_version' }, 'a replayed older list is refused');
  t.same(verifyAccessList({ ...signed(base), signature: { alg: 'rsa' as 'ed25519', key_id: 'server-2026', value: '' } }, keys, { now }), { ok: false, reason: 'unsupported_alg' }, 'another algorithm is refused');
  t.same(verifyAccessList({ ...signed(base), signature: { alg: 'ed25519', key_id: 'server-2026', value: '!!not base64!!' } }, keys, { now }), { ok: false, reason: 'bad_signature' }, 'garbage in the signature is a bad signature, not a crash');
});
