import { spawnSync } from 'node:child_process';
import type { Socket } from 'node:net';
import mqtt from 'mqtt';
import t from 'tap';
import { openSerial, RelayBoard } from '../../device-agent/src/drivers/serial/relay.js';
import { EinkNameplateSimulator } from '../../device-agent/src/simulators/eink-nameplate.js';
import { MeetingTerminalSimulator } from '../../device-agent/src/simulators/meeting-terminal.js';
import { RelayBoardSimulator, type RelayChange } from '../../device-agent/src/simulators/relay-board.js';
import { encodeRelay } from '../../device-agent/src/protocols/usb-relay.js';
import { topicKind, validateMessage, type MessageKind } from '../../firmware-profiles/index.js';
import { ptyPair, startBroker, until } from '../helpers/devices.js';

/** What the helpers need of a test (the root and subtests alike). */
type Tap = Pick<typeof t, 'teardown' | 'same'>;

interface Seen {
  topic: string;
  body: Record<string, unknown>;
  retain: boolean;
}

/** A server-side MQTT client: records everything on `topics` and sends /set like the server does. */
async function observer(t: Tap, url: string, topics: string[]) {
  const client = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0 });
  t.teardown(() => client.endAsync(true));
  const seen: Seen[] = [];
  client.on('message', (topic, payload, packet) => seen.push({ topic, body: JSON.parse(payload.toString()) as Record<string, unknown>, retain: packet.retain }));
  await client.subscribeAsync(topics, { qos: 1 });
  const find = async (match: (m: Seen) => boolean, ms = 3000) => {
    await until(() => seen.some(match), ms);
    return seen.find(match);
  };
  const sent: unknown[] = [];
  /** Sends one /set and returns its result, checked against the result schema. */
  const request = async (device: string, body: Record<string, unknown>) => {
    sent.push(body.transaction);
    await client.publishAsync(`lawbox/device/${device}/set`, JSON.stringify(body), { qos: 1 });
    const result = await find((m) => m.topic === `lawbox/device/${device}/result` && m.body.transaction === body.transaction);
    t.same(result && validateMessage('device_result', result.body), { ok: true }, `result of ${String(body.transaction)} matches the schema`);
    return result?.body;
  };
  return { client, seen, find, request, sent };
}

/** What a subscriber arriving now gets as the retained message on `topic`. */
async function retained(t: Tap, url: string, topic: string) {
  const late = await observer(t, url, [topic]);
  return (await late.find((m) => m.topic === topic && m.retain, 2000))?.body;
}

const valid = (t: Tap, kind: MessageKind, m: Seen | undefined, what: string) => t.same(m && validateMessage(kind, m.body), { ok: true }, `${what} matches the ${kind} schema`);

t.test('meeting terminal: online, /set checked against its profile, events, offline on stop', async (t) => {
  const { url } = await startBroker(t);
  const warnings: string[] = [];
  const terminal = new MeetingTerminalSimulator({ device: 'term-1', brokerUrl: url, logger: { info: () => {}, warn: (_o, msg) => warnings.push(msg) } });
  t.teardown(() => terminal.stop());
  await terminal.ready;

  t.same(await retained(t, url, 'lawbox/device/term-1/availability'), { state: 'online' }, 'a later subscriber sees it online (retained)');
  const server = await observer(t, url, ['lawbox/device/term-1', 'lawbox/device/term-1/result', 'lawbox/event/term-1/+']);
  const first = await server.find((m) => m.topic === 'lawbox/device/term-1' && m.retain);
  valid(t, 'device_state', first, 'the retained state');
  t.match(first?.body, { document: null, page: 1, follow_presenter: true, signed_in: false, participant: null, vote: null }, 'with every exposed property');

  t.same(await server.request('term-1', { transaction: 'tx-page', document: 'doc-7', page: 12 }), {
    transaction: 'tx-page', ok: true, state: { document: 'doc-7', page: 12, follow_presenter: true, signed_in: false, participant: null, vote: null },
  }, 'a followed page is taken and answered with the state');
  valid(t, 'device_state', await server.find((m) => m.topic === 'lawbox/device/term-1' && m.body.page === 12), 'the republished state');

  const refused = async (body: Record<string, unknown>, code: string, what: string) => {
    const result = await server.request('term-1', body);
    t.match(result, { ok: false, error: { code } }, what);
  };
  await refused({ transaction: 'tx-0', page: 0 }, 'BAD_VALUE', 'a page below the profile minimum is refused');
  await refused({ transaction: 'tx-big', page: 10001 }, 'BAD_VALUE', 'and one above its maximum');
  await refused({ transaction: 'tx-half', page: 2.5 }, 'BAD_VALUE', 'and one between pages');
  await refused({ transaction: 'tx-long', document: 'd'.repeat(65) }, 'BAD_VALUE', 'a document id longer than max_length is refused');
  await refused({ transaction: 'tx-type', follow_presenter: 'yes' }, 'BAD_VALUE', 'a binary property takes true or false only');
  await refused({ transaction: 'tx-ro', signed_in: true }, 'READ_ONLY', 'a read-only property cannot be set');
  await refused({ transaction: 'tx-unknown', volume: 3 }, 'UNKNOWN_PROPERTY', 'an unknown property is refused');
  await refused({ transaction: 'tx-act', action: 'reboot' }, 'UNKNOWN_COMMAND', 'an unknown action is refused');
  await refused({ transaction: 'tx-mixed', action: 'end_vote', page: 3 }, 'INVALID_MESSAGE', 'an action mixed with properties breaks the /set schema');
  await refused({ transaction: 'tx-param', action: 'start_vote', params: { vote_id: 'v1' } }, 'BAD_VALUE', 'a missing required parameter is refused');
  await refused({ transaction: 'tx-opt', action: 'start_vote', params: { vote_id: 'v1', question: 'Q', options: ['yes', 'maybe'] } }, 'BAD_VALUE', 'a choice the terminal cannot show is refused');
  t.equal(terminal.state.page, 12, 'no refused command changed the terminal');

  await server.client.publishAsync('lawbox/device/term-1/set', 'page=3', { qos: 1 });
  await server.client.publishAsync('lawbox/device/term-1/set', JSON.stringify({ page: 3 }), { qos: 1 });
  t.match(await server.request('term-1', { transaction: 'tx-after', page: 3 }), { ok: true, state: { page: 3 } }, 'after garbage and a command without a transaction, the next good one is answered');
  t.same(warnings, ['command ignored: not JSON', 'command ignored: no valid transaction to answer'], 'the two unanswerable messages were logged');
  t.same(server.seen.filter((m) => m.topic.endsWith('/result')).map((m) => m.body.transaction), server.sent, 'and got no result: one answer per request sent, nothing else');

  // Reading on one's own: the presenter's page no longer moves this terminal, and its own page turns are events.
  t.match(await server.request('term-1', { transaction: 'tx-nofollow', follow_presenter: false }), { ok: true, state: { follow_presenter: false } }, 'follow_presenter switched off');
  await refused({ transaction: 'tx-page-2', page: 40 }, 'NOT_FOLLOWING', 'the presenter page is not forced on a participant reading alone');
  const turned = await terminal.turnPage(5);
  await t.rejects(terminal.turnPage(0), { code: 'BAD_VALUE' }, 'a local page outside the document is refused');

  t.match(await server.request('term-1', { transaction: 'tx-vote', action: 'start_vote', params: { vote_id: 'v1', question: '是否同意和解方案？' } }), { ok: true, state: { vote: { vote_id: 'v1', choice: null } } }, 'a vote starts with the default options');
  t.same(terminal.ballot, { vote_id: 'v1', question: '是否同意和解方案？', options: ['yes', 'no', 'abstain'] }, 'and is on screen');
  await refused({ transaction: 'tx-vote-2', action: 'start_vote', params: { vote_id: 'v2', question: 'Q' } }, 'VOTE_IN_PROGRESS', 'a second vote waits for the first to end');
  await t.rejects(terminal.vote('v9', 'yes'), { code: 'NO_SUCH_VOTE' }, 'a vote that is not open cannot be cast');
  await t.rejects(terminal.vote('v1', 'maybe'), { code: 'BAD_VALUE' }, 'nor a choice that is not offered');
  const cast = await terminal.vote('v1', 'yes');
  const signed = await terminal.signIn('person-17', 'qr');
  await t.rejects(terminal.signIn('p'.repeat(65)), { code: 'BAD_VALUE' }, 'a participant id longer than the profile allows is refused');
  t.match(await server.request('term-1', { transaction: 'tx-end', action: 'end_vote', params: { vote_id: 'v1' } }), { ok: true, state: { vote: null } }, 'the vote ends');

  for (const [sent, data] of [[turned, { document: 'doc-7', page: 5 }], [cast, { vote_id: 'v1', choice: 'yes' }], [signed, { participant: 'person-17', method: 'qr' }]] as const) {
    const m = await server.find((s) => s.body.event_id === sent.event_id);
    valid(t, 'event', m, `the ${sent.type} event`);
    t.same(m?.body.data, data, `${sent.type} carries its data`);
    t.match(topicKind(m?.topic ?? ''), { kind: 'event', device: 'term-1', type: sent.type }, `${sent.type} is on its own topic`);
  }
  t.equal(new Set(server.seen.map((m) => m.body.event_id).filter(Boolean)).size, 3, 'three events with distinct ids; nothing commanded over /set raised one');

  await terminal.stop();
  t.same(await retained(t, url, 'lawbox/device/term-1/availability'), { state: 'offline' }, 'stop leaves offline retained');
  t.match(await retained(t, url, 'lawbox/device/term-1'), { page: 5, signed_in: true, participant: 'person-17', vote: null }, 'and the last state');
});

t.test('a terminal that drops off the network is declared offline by its last will, then comes back', async (t) => {
  const { url } = await startBroker(t);
  const terminal = new MeetingTerminalSimulator({ device: 'term-2', brokerUrl: url });
  t.teardown(() => terminal.stop());
  await terminal.ready;
  const server = await observer(t, url, ['lawbox/device/term-2/availability']);
  t.ok(await until(() => server.seen.length === 1), 'the retained online arrives');
  (terminal.client.stream as Socket).destroy();
  t.match(await server.find((m) => m.body.state === 'offline'), { retain: false }, 'the broker publishes the last will');
  t.same(await retained(t, url, 'lawbox/device/term-2/availability'), { state: 'offline' }, 'retained for later subscribers');
  t.ok(await until(() => server.seen.at(-1)?.body.state === 'online', 4000), 'the terminal reconnects and says online again');
});

t.test('e-ink nameplate: text within the profile limits, one refresh per change, clear', async (t) => {
  const { url } = await startBroker(t);
  const plate = new EinkNameplateSimulator({ device: 'plate-3', brokerUrl: url });
  t.teardown(() => plate.stop());
  await plate.ready;
  t.same(await retained(t, url, 'lawbox/device/plate-3/availability'), { state: 'online' }, 'online, retained');
  const server = await observer(t, url, ['lawbox/device/plate-3', 'lawbox/device/plate-3/result', 'lawbox/event/plate-3/+']);

  t.same(await server.request('plate-3', { transaction: 'n1', name: '王秀英', title: '主办律师', lines: { line_1: '原告代理人' } }), {
    transaction: 'n1', ok: true, state: { name: '王秀英', title: '主办律师', lines: { line_1: '原告代理人', line_2: '', line_3: '' }, battery: 100 },
  }, 'name, title and a line are shown');
  t.match(await server.request('plate-3', { transaction: 'n2', lines: { line_2: '第二行' } }), { ok: true, state: { lines: { line_1: '原告代理人', line_2: '第二行' } } }, 'lines not sent stay as they were');
  t.match(await server.request('plate-3', { transaction: 'n3', name: '名'.repeat(17) }), { ok: false, error: { code: 'BAD_VALUE' } }, '17 characters do not fit a 16-character name');
  t.match(await server.request('plate-3', { transaction: 'n4', lines: { line_4: 'x' } }), { ok: false, error: { code: 'BAD_VALUE' } }, 'a line the plate does not have is refused');
  t.match(await server.request('plate-3', { transaction: 'n5', battery: 5 }), { ok: false, error: { code: 'READ_ONLY' } }, 'the battery level is read-only');
  t.equal(plate.refreshes, 2, 'two accepted changes, two redraws; refusals redraw nothing');
  t.match(await server.request('plate-3', { transaction: 'n6', action: 'clear' }), { ok: true, state: { name: '', title: '', lines: { line_1: '', line_2: '' } } }, 'clear blanks the plate');
  t.equal(plate.refreshes, 3, 'with one more redraw');
  t.ok(await until(() => server.seen.filter((m) => m.topic === 'lawbox/event/plate-3/display_updated').length === 3), 'each redraw is reported');
  valid(t, 'event', server.seen.find((m) => m.topic === 'lawbox/event/plate-3/display_updated'), 'display_updated');
  const pressed = await plate.pressButton(2);
  valid(t, 'event', await server.find((m) => m.body.event_id === pressed.event_id), 'button_pressed');
  await t.rejects(plate.pressButton(5), { code: 'BAD_VALUE' }, 'the plate has buttons 1–4 only');

  await plate.stop();
  t.same(await retained(t, url, 'lawbox/device/plate-3/availability'), { state: 'offline' }, 'stop leaves offline retained');
});

const hasSocat = spawnSync('socat', ['-V']).status === 0;
if (!hasSocat) console.log('# skipping the relay board: socat is not installed (apt-get install socat); CI installs it');

if (hasSocat) t.test('relay board simulator on a real pty pair: a pulse from the driver, noise skipped and counted', async (t) => {
  const { a: agentEnd, b: boardEnd } = await ptyPair(t, t.testdir(), 'relay');
  const boardPort = await openSerial(boardEnd);
  const agentPort = await openSerial(agentEnd);
  const board = new RelayBoardSimulator(boardPort);
  const relay = new RelayBoard(agentPort);
  t.teardown(async () => {
    await relay.close(false);
    board.close();
    for (const p of [agentPort, boardPort]) await new Promise((r) => p.close(() => r(undefined)));
  });
  t.equal(board.channels, 1, 'an LCUS-1 has the one channel of its profile');
  const changes: RelayChange[] = [];
  board.on('change', (c) => changes.push(c));

  await relay.set(1, false);
  await relay.pulse(1, 200);
  t.ok(await until(() => changes.length === 2, 2000), 'the pulse switches the relay twice');
  t.same(changes.map(({ channel, on }) => ({ channel, on })), [{ channel: 1, on: true }, { channel: 1, on: false }], 'on, then off; the start-up off changed nothing');
  const held = changes[1]!.at.getTime() - changes[0]!.at.getTime();
  t.ok(held >= 150 && held < 1000, `held for the pulse (${held} ms for 200 ms)`);
  t.equal(board.badFrames, 0, 'no bad frames so far');

  const noisy = Buffer.concat([Buffer.from([0x00, 0xff, 0x13]), encodeRelay({ channel: 1, on: true }), Buffer.from([0xa0, 0x01, 0x01, 0x00]), encodeRelay({ channel: 2, on: true }), encodeRelay({ channel: 1, on: false })]);
  await new Promise<void>((resolve, reject) => agentPort.write(noisy, (err) => (err ? reject(err) : agentPort.drain(() => resolve()))));
  t.ok(await until(() => changes.length === 4, 2000), 'commands among noise are still found');
  t.same(changes.slice(2).map((c) => c.on), [true, false], 'and applied in order');
  t.equal(board.badFrames, 3, 'noise, a bad checksum and a channel the board lacks are counted');
  t.equal(board.isOn(1), false, 'the relay ends released');
});
