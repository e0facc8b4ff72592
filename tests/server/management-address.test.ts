import t from 'tap';
import { createTestInstance, signedIn } from '../helpers/instance.js';

// Only 10.9.9.0/24 may administer: requests injected from 127.0.0.1 are outside it.
const inst = await createTestInstance(t, { env: { LAWBOX_MANAGEMENT_NETWORKS: '10.9.9.0/24' } });

t.test('administration routes refuse callers outside the management networks', async (t) => {
  const admin = await signedIn(inst, 'security_admin');
  const outside = await inst.app.inject({ url: '/api/users', headers: admin.headers, remoteAddress: '127.0.0.1' });
  t.equal(outside.statusCode, 200, 'reading accounts is not an administration power');
  const create = await inst.app.inject({ method: 'POST', url: '/api/users', headers: admin.headers, remoteAddress: '127.0.0.1', payload: { username: 'x.y', display_name: '某某', role: 'lawyer', password: 'Temp-Pass-123' } });
  t.equal(create.statusCode, 403, 'creating an account from outside is refused');
  t.equal(create.json().error.code, 'MANAGEMENT_ADDRESS', 'with a code naming the reason');
  t.equal(await inst.ctx.db.selectFrom('users').select('id').where('username', '=', 'x.y').executeTakeFirst(), undefined, 'no account was created');
  const inside = await inst.app.inject({ method: 'POST', url: '/api/users', headers: admin.headers, remoteAddress: '10.9.9.5', payload: { username: 'x.y', display_name: '某某', role: 'lawyer', password: 'Temp-Pass-123' } });
  t.equal(inside.statusCode, 201, 'the same request from a management address succeeds');
  const denied = await inst.ctx.db.selectFrom('audit_log').selectAll().where('action', '=', 'access.denied').where('actor', '=', admin.username).execute();
  t.equal(denied.length, 1, 'the refusal is audited once');
  t.match(denied[0]?.detail, { reason: 'MANAGEMENT_ADDRESS' }, 'naming the reason');
  t.equal(denied[0]?.source_ip, '127.0.0.1', 'and the address');
});
