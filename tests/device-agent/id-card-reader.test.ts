import mqtt from 'mqtt';
import t from 'tap';
import type { IdCardTextFields, ParsedText } from '../../device-agent/src/protocols/id-card.js';
import { IdCardReader } from '../../device-agent/src/drivers/serial/id-card-reader.js';
import { openSerial } from '../../device-agent/src/drivers/serial/relay.js';
import { IdCardReaderSimulator } from '../../device-agent/src/simulators/id-card-reader.js';
import { ptyPair, startBroker, until } from '../helpers/devices.js';
import { hasSocat, startIdCardReader } from '../helpers/id-reader.js';

if (!hasSocat) console.log('# skipping: socat is not installed (apt-get install socat); CI installs it');

const WANG: IdCardTextFields = { name: '王秀英', sex: 'male', ethnicityCode: '01', birthDate: '1978-03-15', address: '北京市海淀区中关村南大街5号', idNumber: '110105197803152310', issuingAuthority: '北京市公安局海淀分局', validFrom: '2016-05-01', validTo: 'long_term' };
const OUYANG: IdCardTextFields = { name: '欧阳娜娜', sex: 'female', ethnicityCode: '01', birthDate: '1990-01-01', address: '上海市浦东新区世纪大道100号', idNumber: '110105199001010029', issuingAuthority: '上海市公安局浦东分局', validFrom: '2020-01-01', validTo: '2040-01-01' };

interface Tap {
  teardown(fn: () => unknown): void;
  testdir(): string;
}

/** A simulated SAM reader on one end of a pty pair in the test's directory, closed at teardown; the agent's end is `agentPath`. */
async function serialLine(t: Tap, replyDelayMs = 0) {
  const dir = t.testdir();
  const { a, b } = await ptyPair(t, dir, 'idcard');
  const simPort = await openSerial(b, 115200);
  const sim = new IdCardReaderSimulator(simPort, { replyDelayMs });
  t.teardown(async () => {
    sim.close();
    await new Promise((r) => simPort.close(() => r(undefined)));
  });
  return { sim, agentPath: a, dir };
}

/** An IdCardReader on the agent's end of the line, stopped and closed at teardown. */
async function readerOn(t: Tap, agentPath: string, opts: ConstructorParameters<typeof IdCardReader>[1]) {
  const agentPort = await openSerial(agentPath, 115200);
  const reader = new IdCardReader(agentPort, opts);
  t.teardown(async () => {
    reader.stop();
    await new Promise((r) => agentPort.close(() => r(undefined)));
  });
  return reader;
}

/** Waits for `ok` checking every ms, for races finer than `until`'s 50 ms step. */
async function soon(ok: () => boolean, ms = 2000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!ok() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
  return ok();
}

if (hasSocat) t.test('an ID card laid on a simulated SAM reader is read over a real serial line, once', async (t) => {
  const { sim, agentPath } = await serialLine(t);
  const reader = await readerOn(t, agentPath, { pollMs: 50 });
  t.equal(await reader.readOnce(), null, 'no card: nothing read');

  const cards: ParsedText[] = [];
  let removed = 0;
  reader.on('card', (c) => cards.push(c));
  reader.on('removed', () => removed++);
  reader.start();
  sim.layCard(WANG);
  t.ok(await until(() => cards.length === 1), 'the card is read');
  t.match(cards[0], { name: '王秀英', idNumber: '110105197803152310', ethnicity: '汉族', validTo: 'long_term', idNumberValid: true, idNumberConsistent: true }, 'with its text fields, checked against the ID number');
  await new Promise((r) => setTimeout(r, 300));
  t.equal(cards.length, 1, 'a card left on the reader is reported once');
  sim.takeCard();
  t.ok(await until(() => removed === 1), 'taking it away is reported');
});

if (hasSocat) t.test('read_card over MQTT while the driver polls as often as it may (every 10 ms): each command is answered with its own read, never a poll’s reply', async (t) => {
  // Replies take a few ms, as on a real SAM, so a poll's frame is nearly always in flight when a command comes.
  const broker = await startBroker(t);
  const device = 'id-lobby';
  const sim = await startIdCardReader(t, { brokerUrl: broker.url, agentId: 'lobby', device, settings: { poll_interval_ms: 10 }, replyDelayMs: 5 });

  const server = await mqtt.connectAsync(broker.url, { protocolVersion: 4 });
  t.teardown(() => server.endAsync());
  const results = new Map<string, { ok: boolean; state?: { card?: { id_number: string; name: string } }; error?: { code: string } }>();
  const events = new Map<string, { type: string; data: Record<string, unknown> }>();
  let availability = '';
  server.on('message', (topic, payload) => {
    const body = JSON.parse(payload.toString('utf8'));
    if (topic === `lawbox/device/${device}/result`) results.set(body.transaction, body);
    else if (topic === `lawbox/device/${device}/availability`) availability = body.state;
    // An event is sent again until the server acknowledges it, and nothing acknowledges here: counted by event_id.
    else if (topic.startsWith(`lawbox/event/${device}/`)) events.set(body.event_id, body);
  });
  await server.subscribeAsync([`lawbox/device/${device}/result`, `lawbox/device/${device}/availability`, `lawbox/event/${device}/+`], { qos: 1 });
  t.ok(await until(() => availability === 'online'), 'the reader is online');
  const eventsOf = (type: string) => [...events.values()].filter((e) => e.type === type);

  let sent = 0;
  /** `count` read_card commands, 0-22 ms apart so they land at every point of the poll's cycle, and their answers. */
  const readCards = async (count: number) => {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const transaction = `read-${++sent}`;
      ids.push(transaction);
      await server.publishAsync(`lawbox/device/${device}/set`, JSON.stringify({ transaction, action: 'read_card' }), { qos: 1 });
      await new Promise((r) => setTimeout(r, (i * 7) % 23));
    }
    t.ok(await until(() => ids.every((id) => results.has(id)), 15_000), `all ${count} commands are answered`);
    return ids.map((id) => results.get(id)!);
  };

  sim.layCard(WANG);
  t.ok(await until(() => eventsOf('id_card_read').length === 1), 'the poll reports the card');
  const before = sim.stats.commands;
  const first = await readCards(20);
  t.same(first.map((r) => [r.ok, r.state?.card?.id_number, r.state?.card?.name]), Array(20).fill([true, WANG.idNumber, '王秀英']), 'every command gets the full text of the card on the reader');
  // Each command is one find → select → read; anything beyond that on the line is the poll, which went on meanwhile.
  t.ok(sim.stats.commands - before > 20 * 3, `the poll kept reading between the commands (${sim.stats.commands - before - 60} poll frames)`);

  sim.layCard(OUYANG);
  const second = await readCards(20);
  t.same(second.map((r) => [r.ok, r.state?.card?.id_number]), Array(20).fill([true, OUYANG.idNumber]), 'after a change of card, every command reads the new one');
  t.ok(await until(() => eventsOf('id_card_read').length === 2), 'the poll reports the new card');
  t.same(eventsOf('id_card_read').map((e) => e.data), [
    { name: '王**', id_number: '110105********2310', id_number_valid: true },
    { name: '欧***', id_number: '110105********0029', id_number_valid: true },
  ], 'each card once, masked');

  sim.takeCard();
  t.ok(await until(() => eventsOf('id_card_removed').length === 1), 'taking the card away is reported');
  const third = await readCards(10);
  t.same(third.map((r) => [r.ok, r.error?.code]), Array(10).fill([false, 'NO_CARD']), 'with no card on the reader, every command says so');

  t.equal(sim.stats.overlapping, 0, 'the reader never got a frame before it had answered the last one');
  t.equal(sim.stats.outOfCycle, 0, 'no find → select → read was cut into by another');
  t.equal(eventsOf('id_card_read').length, 2, 'and no command’s read was taken for a new card');
});

if (hasSocat) t.test('a timed-out or failed read fails only itself: a late reply does not answer the next frame', async (t) => {
  // Wide margins between reply delays and the timeout: CI runs this beside other tests on two cores.
  const { sim, agentPath } = await serialLine(t, 600);
  const reader = await readerOn(t, agentPath, { replyTimeoutMs: 400 });

  // No card yet: the SAM's "no card" comes 200 ms after the reader gave up on it, while the next cycle runs.
  await t.rejects(reader.readOnce(), { code: 'DEVICE_TIMEOUT' }, 'a reply slower than the timeout fails the read');
  sim.layCard(WANG);
  sim.replyDelayMs = 100;
  t.match(await reader.readOnce(), { idNumber: WANG.idNumber }, 'the next read gets the card, not the late "no card"');

  // A card lifted between select and read fails that read alone; the cycle queued behind it simply finds no card.
  sim.replyDelayMs = 200;
  const commands = sim.stats.commands;
  const lifted = reader.readOnce();
  const next = reader.readOnce();
  t.ok(await soon(() => sim.stats.commands === commands + 2), 'find and select sent');
  sim.takeCard();
  await t.rejects(lifted, { code: 'READ_FAILED' }, 'the read of a lifted card fails');
  t.equal(await next, null, 'the next one finds no card');
  sim.layCard(OUYANG);
  t.match(await reader.readOnce(), { idNumber: OUYANG.idNumber }, 'and a card laid again is read');
  t.equal(sim.stats.overlapping, 0, 'one frame at a time throughout');
  t.equal(sim.stats.outOfCycle, 0, 'cycles in turn throughout');
});
