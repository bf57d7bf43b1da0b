// One identity per node, on a running system: the reconciler dials a node's agent only on an
// address of that Node object, and accepts only that node's own certificate. A forged agent — an
// endpoint annotation pointed elsewhere, or a certificate of another node — gets no call: the
// migration waits, says why in its AgentResponsive condition, and fails at targetReadyTimeout with
// that reason. Ordinary migrations between the simulated nodes (each with its own certificate) run.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer as createTcpServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { VirtualMachineInstanceMigration } from '../../api/schemas/vmim.js';
import { AGENT_ENDPOINT_ANNOTATION } from '../../agent/registration.js';
import { createGhostNode } from '../setup/ghost-node.js';
import { createMigration, createRunningVmi, eventually, getMigration, startTestSystem, type TestSystem } from '../setup/system.js';

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
let system: TestSystem;
const cleanups: Array<() => Promise<void>> = [];

function listen<T extends Server | HttpsServer>(server: T, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve((server.address() as AddressInfo).port));
  });
}

beforeAll(async () => {
  // A short targetReadyTimeout: a migration to an agent that cannot be trusted fails soon.
  system = await startTestSystem('identity', { nodes: 2, migrations: 'targetReadyTimeout: 8' });
}, 180_000);

afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
  await system?.stop();
});

async function settled(name: string): Promise<VirtualMachineInstanceMigration> {
  return eventually(`${name} final`, async () => {
    const vmim = await getMigration(system, name);
    return vmim?.status?.phase === 'Succeeded' || vmim?.status?.phase === 'Failed' ? vmim : undefined;
  }, 60_000, 200);
}

/** A Ready node with a fresh agent Lease and the address 127.0.0.1, whose endpoint annotation is `endpoint`. */
async function forgedNode(name: string, zone: string, endpoint: string): Promise<string> {
  const node = `${system.nodes[0]}-${name}`;
  cleanups.push(await createGhostNode(system, node, { zone }));
  await system.core.patchNode({ name: node, body: { metadata: { annotations: { [AGENT_ENDPOINT_ANNOTATION]: endpoint } } } }, mergePatch);
  return node;
}

/** The VMIM's AgentResponsive condition while it waits on the forged target. */
async function waitingReason(name: string): Promise<string> {
  return eventually(`${name} waits on the target agent`, async () => {
    const condition = (await getMigration(system, name))?.status?.conditions?.find((c) => c.type === 'AgentResponsive' && c.status === 'False');
    return condition?.message;
  }, 30_000, 100);
}

describe('the reconciler calls only the agent that proves its node', () => {
  it('a migration between two simulated nodes, each serving its own certificate, succeeds', async () => {
    await createRunningVmi(system, 'vm-ok', { node: system.nodes[0] ?? '' });
    await createMigration(system, 'ok', 'vm-ok');
    const vmim = await settled('ok');
    expect(vmim.status?.phase).toBe('Succeeded');
    expect(vmim.status?.migrationState?.targetNode).toBe(system.nodes[1]);
  });

  it('an endpoint annotation pointed at an address the Node does not have is never dialled; the migration fails naming it', async () => {
    let connections = 0;
    const trap = createTcpServer((socket) => {
      connections++;
      socket.destroy();
    });
    const port = await listen(trap, '127.0.0.2');
    cleanups.push(() => new Promise((resolve) => trap.close(() => resolve())));
    const node = await forgedNode('elsewhere', 'elsewhere', `https://127.0.0.2:${port}`);

    await createRunningVmi(system, 'vm-elsewhere', { node: system.nodes[0] ?? '' });
    await createMigration(system, 'elsewhere', 'vm-elsewhere', { addedNodeSelector: { zone: 'elsewhere' } });
    const reason = await waitingReason('elsewhere');
    expect(reason).toContain(`agent on ${node}`);
    expect(reason).toContain(`not dialled: agent endpoint "https://127.0.0.2:${port}" of node ${node} is not on an address of the Node (status.addresses: 127.0.0.1)`);
    const vmim = await settled('elsewhere');
    expect(vmim.status?.phase).toBe('Failed');
    expect(vmim.status?.migrationState?.failureReason).toContain('is not on an address of the Node');
    expect(connections).toBe(0);
  });

  it('an agent presenting another node’s certificate gets no request; the migration fails naming the certificate', async () => {
    // node-1's own, valid certificate (signed by the agents' CA), served at the forged node's endpoint.
    const dir = system.state.pki.dir;
    let requests = 0;
    const forged = createHttpsServer(
      { cert: readFileSync(join(dir, `agent-${system.nodes[0]}.crt`)), key: readFileSync(join(dir, `agent-${system.nodes[0]}.key`)), requestCert: true, rejectUnauthorized: false },
      (_req, res) => {
        requests++;
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      },
    );
    const port = await listen(forged, '127.0.0.1');
    cleanups.push(() => new Promise((resolve) => forged.close(() => resolve())));
    const node = await forgedNode('impostor', 'impostor', `https://127.0.0.1:${port}`);

    await createRunningVmi(system, 'vm-impostor', { node: system.nodes[1] ?? '' });
    await createMigration(system, 'impostor', 'vm-impostor', { addedNodeSelector: { zone: 'impostor' } });
    const reason = await waitingReason('impostor');
    expect(reason).toContain(`agent on ${node}: Unauthenticated: server certificate of https://127.0.0.1:${port} not trusted`);
    expect(reason).toContain(`${node}.agent.live-migration.io`);
    const vmim = await settled('impostor');
    expect(vmim.status?.phase).toBe('Failed');
    expect(vmim.status?.migrationState?.failureReason).toContain('not trusted');
    expect(requests).toBe(0);
  });
});
