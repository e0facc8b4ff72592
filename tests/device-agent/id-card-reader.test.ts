import { spawnSync } from 'node:child_process';
import t from 'tap';
import type { ParsedText } from '../../device-agent/src/protocols/id-card.js';
import { IdCardReader } from '../../device-agent/src/drivers/serial/id-card-reader.js';
import { openSerial } from '../../device-agent/src/drivers/serial/relay.js';
import { IdCardReaderSimulator } from '../../device-agent/src/simulators/id-card-reader.js';
import { ptyPair, until } from '../helpers/devices.js';

const hasSocat = spawnSync('socat', ['-V']).status === 0;
if (!hasSocat) console.log('# skipping: socat is not installed (apt-get install socat); CI installs it');

if (hasSocat) t.test('an ID card laid on a simulated SAM reader is read over a real serial line, once', async (t) => {
  const { a, b } = await ptyPair(t, t.testdir(), 'idcard');
  const simPort = await openSerial(b, 115200);
  const agentPort = await openSerial(a, 115200);
  const sim = new IdCardReaderSimulator(simPort);
  const reader = new IdCardReader(agentPort, { pollMs: 50 });
  t.teardown(async () => {
    reader.stop();
    sim.close();
    for (const p of [simPort, agentPort]) await new Promise((r) => p.close(() => r(undefined)));
  });
  t.equal(await reader.readOnce(), null, 'no card: nothing read');

  const cards: ParsedText[] = [];
  let removed = 0;
  reader.on('card', (c) => cards.push(c));
  reader.on('removed', () => removed++);
  reader.start();
  sim.layCard({ name: '王秀英', sex: 'male', ethnicityCode: '01', birthDate: '1978-03-15', address: '北京市海淀区中关村南大街5号', idNumber: '110105197803152310', issuingAuthority: '北京市公安局海淀分局', validFrom: '2016-05-01', validTo: 'long_term' });
  t.ok(await until(() => cards.length === 1), 'the card is read');
  t.match(cards[0], { name: '王秀英', idNumber: '110105197803152310', ethnicity: '汉族', validTo: 'long_term', idNumberValid: true, idNumberConsistent: true }, 'with its text fields, checked against the ID number');
  await new Promise((r) => setTimeout(r, 300));
  t.equal(cards.length, 1, 'a card left on the reader is reported once');
  sim.takeCard();
  t.ok(await until(() => removed === 1), 'taking it away is reported');
});
