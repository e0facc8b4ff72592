import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { loadProfiles } from '../../firmware-profiles/index.js';
import { Agent } from '../../device-agent/src/agent.js';
import { idCardReaderDriver } from '../../device-agent/src/drivers/serial/id-card-reader.js';
import { openSerial } from '../../device-agent/src/drivers/serial/relay.js';
import type { IdCardTextFields } from '../../device-agent/src/protocols/id-card.js';
import { IdCardReaderSimulator } from '../../device-agent/src/simulators/id-card-reader.js';
import { ptyPair } from './devices.js';

interface Tap {
  teardown(fn: () => unknown): void;
  testdir(): string;
}

/** The reader's serial line is a socat pty pair; without socat (a user's machine) these tests skip, in CI it is installed. */
export const hasSocat = spawnSync('socat', ['-V']).status === 0;

/** A resident ID card for the simulated reader (a valid number: check digit and all). */
export const SAMPLE_CARD: IdCardTextFields = {
  name: '王秀英',
  sex: 'female',
  ethnicityCode: '01',
  birthDate: '1978-03-15',
  address: '北京市海淀区中关村南大街5号',
  idNumber: '110105197803152310',
  issuingAuthority: '北京市公安局海淀分局',
  validFrom: '2016-05-01',
  validTo: 'long_term',
};

/**
 * A real ID card reader path for one test: a simulated SAM reader on one end of a pty pair, and a
 * device agent (`agentId`) on the other driving it as `device` with the id_card_sam driver over the
 * MQTT broker at `brokerUrl`. All of it stops at the test's teardown. Returns the simulator, on which
 * the test lays (or lifts) a card; the device reports online through the agent shortly after.
 * `settings` are the device's profile settings; `replyDelayMs` slows the simulated reader's replies.
 */
export async function startIdCardReader(
  t: Tap,
  opts: { brokerUrl: string; agentId: string; device: string; settings?: Record<string, unknown>; replyDelayMs?: number },
): Promise<IdCardReaderSimulator> {
  const dir = t.testdir();
  const line = await ptyPair(t, dir, 'idcard');
  const simPort = await openSerial(line.b, 115200);
  const sim = new IdCardReaderSimulator(simPort, { replyDelayMs: opts.replyDelayMs ?? 0 });
  t.teardown(() => {
    sim.close();
    return new Promise((r) => simPort.close(() => r(undefined)));
  });
  const agent = new Agent(
    {
      id: opts.agentId,
      brokerUrl: opts.brokerUrl,
      stateDir: path.join(dir, 'agent'),
      trustedKeys: new Map(),
      profiles: loadProfiles(),
      drivers: { id_card_sam: idCardReaderDriver },
      localConfig: {
        version: 1,
        issued_at: new Date().toISOString(),
        devices: [{ device: opts.device, profile: 'generic/sam-id-card-reader', transport: { type: 'serial', path: line.a }, ...(opts.settings ? { settings: opts.settings } : {}) }],
      },
    },
    { info: () => {}, warn: () => {} },
  );
  t.teardown(() => agent.stop());
  return sim;
}
