import { appendFileSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { Journal } from '../../device-agent/src/journal/journal.js';

const event = (n: number) => ({ event_id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`, type: 'door_granted', device: 'osdp-1', at: '2026-11-27T10:00:00+08:00', data: { n } });

t.test('pending events survive a restart until acknowledged, in order', async (t) => {
  const file = path.join(t.testdir(), 'journal.ndjson');
  const a = new Journal(file);
  for (let i = 1; i <= 5; i++) a.append(event(i));
  a.ack(event(2).event_id);
  a.ack(event(4).event_id);
  a.close();
  const b = new Journal(file);
  t.same(b.pending().map((e) => e.data), [{ n: 1 }, { n: 3 }, { n: 5 }], 'the unacknowledged three, oldest first');
  b.append(event(3));
  t.equal(b.pendingCount, 3, 'appending a pending event again does not duplicate it');
  b.close();
});

t.test('a line torn by a power cut is dropped and the journal goes on', async (t) => {
  const file = path.join(t.testdir(), 'journal.ndjson');
  const a = new Journal(file);
  a.append(event(1));
  a.append(event(2));
  a.close();
  appendFileSync(file, '{"e":{"event_id":"torn-wri');
  const b = new Journal(file);
  t.equal(b.skippedLines, 1, 'the torn line is counted');
  t.equal(b.pendingCount, 2, 'the complete events are kept');
  b.append(event(3));
  b.close();
  const c = new Journal(file);
  t.same(c.pending().map((e) => e.data), [{ n: 1 }, { n: 2 }, { n: 3 }], 'the next append starts on a clean line');
  t.equal(c.skippedLines, 0, 'nothing torn any more');
  c.close();
});

t.test('the file is compacted once it is large and mostly acknowledged', async (t) => {
  const file = path.join(t.testdir(), 'journal.ndjson');
  const j = new Journal(file, { compactBytes: 20_000, syncDelayMs: 0 });
  for (let i = 1; i <= 400; i++) {
    j.append(event(i));
    if (i % 10 !== 0) j.ack(event(i).event_id);
  }
  t.ok(statSync(file).size < 20_000, 'the file stayed small');
  t.equal(j.pendingCount, 40, 'every tenth event is still pending');
  j.close();
  const again = new Journal(file);
  t.same(again.pending().map((e) => (e.data as { n: number }).n), Array.from({ length: 40 }, (_, i) => (i + 1) * 10), 'the compacted file holds exactly the pending events');
  const lines = readFileSync(file, 'utf8').split('\n').length;
  t.ok(lines < 200, `far fewer lines than the 760 records written (${lines})`);
  again.close();
});
