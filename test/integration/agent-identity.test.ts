// One identity per node, on a running system: the reconciler dials a node's agent only on an
// address of that Node object, and accepts only that node's own certificate. A forged agent — an
// endpoint annotation pointed elsewhere, or a certificate of another node — gets no call: the
// migration waits, says why in its AgentResponsive condition, and fails at targetReadyTimeout with
// that reason. Ordinary migrations between the simulated nodes (each with its own certificate) run.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { X509Certificate } from 'node:crypto';
import { readFileSync, renameSync } from 'node:fs';
import { connect } from 'node:tls';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer as createTcpServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { VirtualMachineInstanceMigration } from '../../api/schemas/vmim.js';
import { AGENT_ENDPOINT_ANNOTATION } from '../../agent/registration.js';
import { agentServerName } from '../../agent/node-identity.js';
import { issueCertificate } from '../../hack/control-plane/pki.js';
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

/** The certificate a listener serves now (a new connection), checked against the CA and the node's name. */
function servedCertificate(endpoint: string, node: string): Promise<string> {
  const url = new URL(endpoint);
  const { pki } = system.state;
  return new Promise((resolve, reject) => {
    const socket = connect(
      { host: url.hostname, port: Number(url.port), servername: agentServerName(node), ca: readFileSync(pki.caCert), cert: readFileSync(pki.reconcilerCert), key: readFileSync(pki.reconcilerKey) },
      () => {
        resolve(socket.getPeerX509Certificate()?.fingerprint256 ?? '');
        socket.destroy();
      },
    );
    socket.on('error', reject);
  });
}

function logLines(component: string, message: string): number {
  const log = system.state.processes.find((p) => p.name === component)?.logFile ?? '';
  return readFileSync(log, 'utf8').split('\n').filter((line) => line.includes(message)).length;
}

async function callsByCode(): Promise<Record<string, number>> {
  const agent = system.state.processes.find((p) => p.name === 'agent');
  const text = await (await fetch(`http://127.0.0.1:${agent?.port}/metrics`)).text();
  const codes: Record<string, number> = {};
  for (const line of text.split('\n').filter((l) => l.startsWith('live_migration_agent_calls_total{'))) {
    const code = /code="(\d+)"/.exec(line)?.[1] ?? '?';
    codes[code] = (codes[code] ?? 0) + Number(line.split(' ').pop());
  }
  return codes;
}

describe('certificates rotated on disk', () => {
  it('an agent’s serving certificate and the reconciler’s client certificate are taken up without a restart, and no call fails', async () => {
    const { pki } = system.state;
    const node = system.nodes[0] ?? '';
    const endpoint = (await system.core.readNode({ name: node })).metadata?.annotations?.[AGENT_ENDPOINT_ANNOTATION] ?? '';
    const before = await servedCertificate(endpoint, node);
    const agentReloads = logLines('agent', 'TLS material reloaded');
    const reconcilerReloads = logLines('reconciler-0', 'TLS material reloaded');
    const pids = system.state.processes.map((p) => p.pid);

    // As cert-manager and a Secret volume would: new keys, each file replaced whole.
    const ca = { cert: pki.caCert, key: pki.caKey };
    const [agentCert, agentKey] = issueCertificate(pki.dir, `rotated-${node}`, ca, { commonName: agentServerName(node), altNames: { dns: [agentServerName(node)] }, usage: 'server' });
    const [clientCert, clientKey] = issueCertificate(pki.dir, 'rotated-reconciler', ca, { commonName: 'live-migration-reconciler', usage: 'client' });
    renameSync(agentKey, join(pki.dir, `agent-${node}.key`));
    renameSync(agentCert, join(pki.dir, `agent-${node}.crt`));
    renameSync(clientKey, pki.reconcilerKey);
    renameSync(clientCert, pki.reconcilerCert);
    const rotated = new X509Certificate(readFileSync(join(pki.dir, `agent-${node}.crt`))).fingerprint256;

    // Within a minute: each component says so, and a new connection gets the new certificate.
    await eventually('the agent reloads', async () => (logLines('agent', 'TLS material reloaded') > agentReloads ? true : undefined), 60_000, 250);
    await eventually('the reconciler reloads', async () => (logLines('reconciler-0', 'TLS material reloaded') > reconcilerReloads ? true : undefined), 60_000, 250);
    const after = await servedCertificate(endpoint, node);
    expect(after).not.toBe(before);
    expect(after).toBe(rotated);

    // Calls go on over the new material: a migration from the rotated node runs to the end.
    await createRunningVmi(system, 'vm-rotated', { node });
    await createMigration(system, 'rotated', 'vm-rotated', { addedNodeSelector: { 'kubernetes.io/hostname': system.nodes[1] ?? '' } });
    expect((await settled('rotated')).status?.phase).toBe('Succeeded');
    // No call was refused or failed on the agents at any time (401/403 would show a rejected certificate).
    expect(Object.keys(await callsByCode()).filter((code) => !code.startsWith('2'))).toEqual([]);
    expect(system.state.processes.map((p) => p.pid)).toEqual(pids);
  }, 120_000);
});
