// The agent process as cmd/agent.ts assembles it, without an API server: several simulated nodes in
// one process, each on its own mutual-TLS listener, sharing arrivals; health and metrics.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { createCertificateAuthority, issueCertificate } from '../hack/control-plane/pki.js';
import { startAgentProcess, type HostedNode, type RunningAgentProcess } from './agent-process.js';
import { agentServerName } from './node-identity.js';
import { HttpsAgentClient, type AgentClientTls } from './client.js';
import { parseAllowedCallers } from './server/caller-check.js';

const MiB = 2 ** 20;
let dir: string;
let tls: AgentClientTls;
let agents: RunningAgentProcess;
const clients: HttpsAgentClient[] = [];

function clientOf(node: string): HttpsAgentClient {
  const hosted = agents.nodes.find((n) => n.nodeName === node);
  if (!hosted) throw new Error(`no node ${node}`);
  const client = new HttpsAgentClient({ nodeName: node, baseUrl: hosted.endpoint, tls });
  clients.push(client);
  return client;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'agent-process-'));
  const ca = createCertificateAuthority(dir, 'ca', 'agent-ca');
  const [serverCert, serverKey] = issueCertificate(dir, 'agent', ca, { commonName: 'agent', altNames: { ips: ['127.0.0.1'] }, usage: 'server' });
  // A caller allowed by organization rather than by name.
  const [cert, key] = issueCertificate(dir, 'bench', ca, { commonName: 'bench-runner', organization: 'live-migration-tools', usage: 'client' });
  tls = { ca: readFileSync(ca.cert), cert: readFileSync(cert), key: readFileSync(key) };
  agents = await startAgentProcess({
    driver: 'simulation',
    nodes: ['node-1', 'node-2', 'node-3'],
    listenAddress: '127.0.0.1',
    advertiseAddress: '127.0.0.1',
    tls: { certFile: serverCert, keyFile: serverKey, clientCaFile: ca.cert },
    allowedCallers: parseAllowedCallers(['CN=live-migration-reconciler', 'O=live-migration-tools']),
    namespace: 'unused',
    healthAddress: '127.0.0.1',
    healthPort: 0,
    version: '9.9.9',
    logger: pino({ level: 'silent' }),
    defaultMetrics: false,
  });
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await agents?.stop(100);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('agent process (simulation, several nodes)', () => {
  it('gives each node its own endpoint that answers as that node', async () => {
    const endpoints = agents.nodes.map((n) => n.endpoint);
    expect(new Set(endpoints).size).toBe(3);
    for (const node of ['node-1', 'node-2', 'node-3']) {
      await expect(clientOf(node).health()).resolves.toEqual({ nodeName: node, driver: 'simulation', version: '9.9.9' });
    }
  });

  it('a guest leaving node-1 arrives on node-2 and nowhere else', async () => {
    const ready = await clientOf('node-2').prepareTarget({
      migrationUid: 'mig-1',
      vmi: { namespace: 'ns', name: 'vm' },
      sourceNode: 'node-1',
      memoryBytes: 16 * MiB,
    });
    await clientOf('node-1').startMigration({
      migrationUid: 'mig-1',
      vmi: { namespace: 'ns', name: 'vm' },
      destination: { nodeName: 'node-2', address: ready.targetNodeAddress, ports: ready.targetDirectMigrationNodePorts },
      bandwidthBytesPerSecond: 256 * MiB,
      allowAutoConverge: false,
      allowPostCopy: false,
      memoryBytes: 16 * MiB,
    });
    const deadline = Date.now() + 5_000;
    let state: string | undefined;
    while (Date.now() < deadline) {
      state = (await clientOf('node-1').migrationStatus('mig-1'))?.state;
      if (state === 'Completed') break;
      await sleep(20);
    }
    expect(state).toBe('Completed');
    expect(await clientOf('node-2').confirmArrival('mig-1')).toEqual({ domainDetected: true });
    expect(await clientOf('node-3').confirmArrival('mig-1')).toEqual({ domainDetected: false });
    // The source is not the target's view: node-2 never sent anything.
    expect(await clientOf('node-2').migrationStatus('mig-1')).toBeUndefined();
  });

  it('serves /healthz, /readyz (no registration needed without an API server) and /metrics', async () => {
    const base = `http://127.0.0.1:${agents.healthPort}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain('live_migration_agent_calls_total{node="node-1",route="/v1/migrations/:uid/start",code="202"} 1');
    expect(metrics).toContain('live_migration_agent_migrations{node="node-1",state="Completed"} 1');
  });

  it('with {node} in the certificate paths, each node serves its own certificate, and no other node’s name is accepted', async () => {
    const ca = { cert: join(dir, 'ca.crt'), key: join(dir, 'ca.key') };
    for (const node of ['node-x', 'node-y']) {
      issueCertificate(dir, `own-${node}`, ca, { commonName: agentServerName(node), altNames: { dns: [agentServerName(node)] }, usage: 'server' });
    }
    const own = await startAgentProcess({
      driver: 'simulation',
      nodes: ['node-x', 'node-y'],
      listenAddress: '127.0.0.1',
      advertiseAddress: '127.0.0.1',
      tls: { certFile: join(dir, 'own-{node}.crt'), keyFile: join(dir, 'own-{node}.key'), clientCaFile: ca.cert },
      allowedCallers: parseAllowedCallers(['O=live-migration-tools']),
      namespace: 'unused',
      healthAddress: '127.0.0.1',
      healthPort: 0,
      version: '9.9.9',
      logger: pino({ level: 'silent' }),
      defaultMetrics: false,
    });
    try {
      const [x, y] = own.nodes as [HostedNode, HostedNode];
      const call = (hosted: HostedNode, asNode: string) => new HttpsAgentClient({ nodeName: asNode, baseUrl: hosted.endpoint, tls, serverName: agentServerName(asNode) }).health();
      await expect(call(x, 'node-x')).resolves.toMatchObject({ nodeName: 'node-x' });
      await expect(call(y, 'node-y')).resolves.toMatchObject({ nodeName: 'node-y' });
      // node-y's listener dialled as node-x: its certificate does not name node-x.
      await expect(call(y, 'node-x')).rejects.toMatchObject({ code: 'Unauthenticated', message: expect.stringContaining("does not match certificate's altnames") });
    } finally {
      await own.stop(100);
    }
  });
});
