import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { sm2 } from 'sm-crypto-v2';
import t from 'tap';
import { loadConfig } from '../../server/src/config.js';
import { MasterKeyError, openSecret, sealSecret } from '../../server/src/secrets.js';
import { keysInClear, sealStoredKeys, unopenableKeys } from '../../server/src/modules/keys/service.js';
import { signingKey, sm2Verify, SM2_USER_ID } from '../../server/src/modules/documents/signature.js';
import { buildAccessList, currentPublicKey } from '../../server/src/modules/doors/access-list.js';
import { verifyAccessList } from '../../device-agent/src/access/decide.js';
import { runSelfCheck } from '../../server/src/modules/compliance/service.js';
import { createDatabase, createTestInstance, testConfig } from '../helpers/instance.js';

const dir = t.testdir({});
const keyFile = (name: string, content = randomBytes(32).toString('hex')) => {
  const file = path.join(dir, name);
  writeFileSync(file, `${content}\n`, { mode: 0o600 });
  return file;
};
const master = keyFile('master-key');
const other = keyFile('other-key');

t.test('a sealed secret opens only with its master key and in its own place', async (t) => {
  const withKey = loadConfig({ LAWBOX_MASTER_KEY_FILE: master });
  const clear = loadConfig({});
  const sealed = sealSecret(withKey, 'private-material', 'signing_keys:platform');
  t.match(sealed, /^lbx1:[A-Za-z0-9+/]+=*$/, 'sealed values are marked and base64');
  t.notMatch(sealed, /private-material/);
  t.not(sealSecret(withKey, 'private-material', 'signing_keys:platform'), sealed, 'a fresh nonce each time');
  t.equal(openSecret(withKey, sealed, 'signing_keys:platform'), 'private-material', 'it opens where it was sealed');
  t.throws(() => openSecret(withKey, sealed, 'signing_keys:seal:official'), MasterKeyError, 'moved to another row it does not open');
  t.throws(() => openSecret(loadConfig({ LAWBOX_MASTER_KEY_FILE: other }), sealed, 'signing_keys:platform'), /sealed with another key, or changed/, 'another master key does not open it');
  const flipped = Buffer.from(sealed.slice(5), 'base64');
  flipped[20]! ^= 1;
  t.throws(() => openSecret(withKey, `lbx1:${flipped.toString('base64')}`, 'signing_keys:platform'), MasterKeyError, 'a changed byte is detected');
  t.throws(() => openSecret(clear, sealed, 'signing_keys:platform'), /LAWBOX_MASTER_KEY_FILE is not set/, 'without the master key it says what is missing');
  t.equal(sealSecret(clear, 'x', 'c'), 'x', 'without a master key a value is stored as it is');
  t.equal(openSecret(withKey, 'in-clear', 'c'), 'in-clear', 'and a value in clear is read as it is');
});

t.test('a master key file of the wrong form stops the start', async (t) => {
  t.throws(() => loadConfig({ LAWBOX_MASTER_KEY_FILE: keyFile('short', 'abc123') }), /LAWBOX_MASTER_KEY_FILE=.*expected 64 hexadecimal characters/);
  t.throws(() => loadConfig({ LAWBOX_MASTER_KEY_FILE: path.join(dir, 'missing') }), /file not found/);
});

t.test('keys made before the master key are sealed at start, and still sign', async (t) => {
  const database = await createDatabase(t);
  const inst = await createTestInstance(t, { database });
  const now = inst.clock.now();
  // Made in clear, as on a box installed without a master key.
  const before = await inst.ctx.db.transaction().execute((trx) => signingKey(trx, inst.config, 'platform', now));
  const access = await currentPublicKey(inst.ctx);
  t.equal(await keysInClear(inst.ctx.db), 2, 'two keys in clear');
  t.equal((await runSelfCheck(inst.ctx)).find((c) => c.id === 'keys_at_rest')!.ok, false, 'the self-check says so');

  const sealedConfig = testConfig({ LAWBOX_MASTER_KEY_FILE: master });
  t.equal(await sealStoredKeys(inst.ctx.db, sealedConfig, now), 2, 'both are sealed');
  t.equal(await sealStoredKeys(inst.ctx.db, sealedConfig, now), 0, 'once');
  t.equal(await keysInClear(inst.ctx.db), 0);
  const stored = await inst.ctx.db.selectFrom('signing_keys').select('private_key').where('purpose', '=', 'platform').executeTakeFirstOrThrow();
  t.notOk(stored.private_key.includes(before.privateKey), 'the private key is no longer in the database');
  const audit = await inst.ctx.db.selectFrom('audit_log').select('detail').where('action', '=', 'keys.seal').execute();
  t.same(audit.map((a) => a.detail), [{ sealed: 2 }], 'sealing is audited');

  const ctx = { ...inst.ctx, config: sealedConfig };
  const after = await ctx.db.transaction().execute((trx) => signingKey(trx, sealedConfig, 'platform', now));
  t.equal(after.privateKey, before.privateKey, 'the same key opens again');
  const message = Buffer.from('委托代理合同');
  const der = Buffer.from(sm2.doSignature(new Uint8Array(message), after.privateKey, { der: true, hash: true, publicKey: after.publicKey, userId: SM2_USER_ID }), 'hex');
  t.ok(sm2Verify(message, der, before.publicKey), 'and its signatures verify with the published public key');

  const list = await buildAccessList(ctx, 'agent-lobby');
  t.equal(list.signature?.key_id, access.key_id, 'door lists are still signed with the same key');
  t.match(verifyAccessList(list, new Map([[access.key_id, access.public_pem]]), { now, agent: 'agent-lobby' }), { ok: true }, 'and an agent accepts them');
  await t.rejects(buildAccessList(inst.ctx, 'agent-lobby'), /LAWBOX_MASTER_KEY_FILE is not set/, 'a server without the master key cannot sign with a sealed key');
  t.ok((await runSelfCheck(ctx)).find((c) => c.id === 'keys_at_rest')!.ok, 'the self-check passes');

  await t.rejects(ctx.db.updateTable('signing_keys').set({ public_key: `04${'1'.repeat(128)}` }).where('purpose', '=', 'platform').execute(), /only sealing a private key in clear/, 'a key row cannot otherwise change');
  await t.rejects(ctx.db.updateTable('signing_keys').set({ private_key: 'a'.repeat(64) }).where('purpose', '=', 'platform').execute(), /only sealing a private key in clear/, 'nor go back to clear');
  await t.rejects(ctx.db.deleteFrom('signing_keys').where('purpose', '=', 'platform').execute(), /DELETE refused/, 'nor be deleted');
  const resealed = sealSecret(sealedConfig, before.privateKey, 'signing_keys:platform');
  await t.rejects(ctx.db.updateTable('signing_keys').set({ private_key: resealed }).where('purpose', '=', 'platform').execute(), /only sealing a private key in clear/, 'and a sealed key is never overwritten');

  t.same(await unopenableKeys(ctx.db, sealedConfig), [], 'the right master key opens every sealed key');
  const wrong = testConfig({ LAWBOX_MASTER_KEY_FILE: other });
  t.same((await unopenableKeys(ctx.db, wrong)).sort(), [`access_signing_keys:${access.key_id}`, 'signing_keys:platform'], 'another master key is found out at once, key by key');
  const check = (await runSelfCheck({ ...ctx, config: wrong })).find((c) => c.id === 'keys_at_rest')!;
  t.equal(check.ok, false, 'and the self-check fails');
  t.match(check.detail, /cannot be opened/);
});

t.test('with a master key from the start, new keys are sealed when made', async (t) => {
  const inst = await createTestInstance(t, { env: { LAWBOX_MASTER_KEY_FILE: master }, database: await createDatabase(t) });
  const key = await inst.ctx.db.transaction().execute((trx) => signingKey(trx, inst.config, 'seal:contract', inst.clock.now()));
  t.match(key.privateKey, /^[0-9a-f]{64}$/, 'the service gets the key itself');
  const row = await inst.ctx.db.selectFrom('signing_keys').select('private_key').where('purpose', '=', 'seal:contract').executeTakeFirstOrThrow();
  t.match(row.private_key, /^lbx1:/, 'the database holds it sealed');
  await currentPublicKey(inst.ctx);
  const access = await inst.ctx.db.selectFrom('access_signing_keys').select('private_pem').executeTakeFirstOrThrow();
  t.match(access.private_pem, /^lbx1:/, 'the door-list key too');
  t.equal(await keysInClear(inst.ctx.db), 0);
});
