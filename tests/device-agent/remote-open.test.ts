import t from 'tap';
import { Agent, CommandError } from '../../device-agent/src/agent.js';
import { startBroker } from '../helpers/devices.js';
import { createTestInstance, isErrorShape, signedIn } from '../helpers/instance.js';

t.test('remote open: permission, the agent pulses the lock, the outcome is audited', async (t) => {
  const { url } = await startBroker(t);
  const inst = await createTestInstance(t, { env: { MQTT_URL: url } });
  const now = new Date();
  await inst.ctx.db.insertInto('devices').values(['relay-archive', 'broken-lock', 'ghost-lock'].map((id) => ({ id, updated_at: now }))).execute();

  const agent = new Agent({ id: 'front-desk', brokerUrl: url, stateDir: t.testdir(), trustedKeys: new Map() }, { info: () => {}, warn: () => {} });
  t.teardown(() => agent.stop());
  const pulses: unknown[] = [];
  agent.handle('relay-archive', async (body) => {
    pulses.push(body);
    return { lock: 'released' };
  });
  agent.handle('broken-lock', async () => {
    throw new CommandError('JAMMED', 'the strike did not move');
  });
  for (let i = 0; i < 100 && !agent.client.connected; i++) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 200));

  const staff = await signedIn(inst, 'admin_staff');
  const open = (id: string, as = staff, payload: object = { duration_ms: 3000, reason: '访客取件' }) =>
    inst.app.inject({ method: 'POST', url: `/api/devices/${id}/open`, headers: as.headers, payload });

  const ok = await open('relay-archive');
  t.equal(ok.statusCode, 200, 'opened');
  t.match(pulses, [{ action: 'open', params: { duration_ms: 3000 } }], 'the agent got the command');
  const jammed = await open('broken-lock');
  t.equal(jammed.statusCode, 502, 'a device error is a 502');
  t.equal(jammed.json().error.code, 'JAMMED', 'with the device’s code');
  const lawyer = await signedIn(inst, 'lawyer');
  t.equal((await open('relay-archive', lawyer)).statusCode, 403, 'a lawyer may not open doors');
  t.equal((await open('relay-archive', staff, { duration_ms: 10 })).statusCode, 400, 'a reason and a sane duration are required');
  t.equal((await open('no-such-device')).statusCode, 404, 'an unknown device is a 404');
  const ghost = await open('ghost-lock');
  t.equal(ghost.statusCode, 504, 'no agent answers: 504 after the timeout');
  t.ok(isErrorShape(ghost.json()), 'error shape');

  const audit = await inst.ctx.db.selectFrom('audit_log').selectAll().where('action', '=', 'door.remote_open').orderBy('seq').execute();
  t.same(audit.map((a) => [a.object, a.result, (a.detail as { outcome: string }).outcome]), [
    ['device:relay-archive', 'success', 'opened'],
    ['device:broken-lock', 'failure', 'JAMMED'],
    ['device:ghost-lock', 'failure', 'timeout'],
  ], 'every attempt audited with its outcome');
  t.match(audit[0]?.detail, { reason: '访客取件', duration_ms: 3000 }, 'with the reason given');
});
