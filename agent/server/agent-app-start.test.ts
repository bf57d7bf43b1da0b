// Two concurrent start calls for one migration UID over HTTP (a resend, two reconciler leaders):
// one job, one 202, and the other caller told it is already started.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { ManualClock } from '../../common/clock.js';
import type { MigrationDriver, StartMigrationRequest } from '../contract.js';
import { ArrivalBoard, SimulationDriver } from '../simulation/simulation-driver.js';
import { createAgentApp } from './agent-app.js';

const MiB = 2 ** 20;
const clock = new ManualClock(0);
const simulation = new SimulationDriver({ nodeName: 'node-s', address: '127.0.0.1', clock, arrivals: new ArrivalBoard() });
let startCalls = 0;
let releaseStart: () => void = () => {};
// The driver's start takes a while (as libvirt's does): both calls arrive while the first is in it.
const slow: MigrationDriver = Object.assign(Object.create(simulation) as MigrationDriver, {
  startMigration: async (request: StartMigrationRequest) => {
    startCalls += 1;
    await new Promise<void>((resolve) => (releaseStart = resolve));
    return simulation.startMigration(request);
  },
});
let arrived = 0;
let server: Server;
let base: string;

beforeAll(async () => {
  const { app } = createAgentApp({ nodeName: 'node-s', driver: slow, authenticate: (_req, _res, next) => {
      arrived += 1;
      next();
    }, logger: pino({ level: 'silent' }) });
  server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

const uid = '5d1c3b7e-0000-4000-8000-000000000001';
const body: StartMigrationRequest = {
  migrationUid: uid,
  vmi: { namespace: 'default', name: 'vm' },
  destination: { nodeName: 'node-t', address: '127.0.0.1', ports: { '35000': 0 } },
  bandwidthBytesPerSecond: 64 * MiB,
  allowAutoConverge: false,
  allowPostCopy: false,
  memoryBytes: 64 * MiB,
};

async function postStart(): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${base}/v1/migrations/${uid}/start`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

describe('agent API: one start per UID', () => {
  it('two concurrent starts: the driver starts once; one caller gets 202, the other 200 already started', async () => {
    const both = Promise.all([postStart(), postStart()]);
    // Both calls have reached the app and the first is inside the driver: now let it finish.
    while (startCalls === 0 || arrived < 2) await new Promise((resolve) => setTimeout(resolve, 5));
    releaseStart();
    const answers = (await both).sort((x, y) => x.status - y.status);
    expect(answers).toEqual([
      { status: 200, body: { started: false, state: 'Running' } },
      { status: 202, body: { started: true } },
    ]);
    expect(startCalls).toBe(1);
    expect(simulation.recordCounts.outgoing).toBe(1);
    // A resend after the start has completed: answered from the driver, no new start.
    expect(await postStart()).toEqual({ status: 200, body: { started: false, state: 'Running' } });
    expect(startCalls).toBe(1);
  });
});
