// The agent API over real mutual TLS on loopback: certificates from the project's PKI helper, two
// simulated nodes (source and target) each behind its own HTTPS listener, the reconciler's client.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request as httpsRequest } from 'node:https';
import { pino } from 'pino';
import { createCertificateAuthority, issueCertificate } from '../../hack/control-plane/pki.js';
import { ManualClock } from '../../common/clock.js';
import { AgentCallError, type MigrationDriver, type PrepareTargetRequest, type StartMigrationRequest } from '../contract.js';
import { HttpsAgentClient, type AgentClientTls } from '../client.js';
import { ArrivalBoard, SimulationDriver, DIRTY_RATE_ANNOTATION } from '../simulation/simulation-driver.js';
import { createAgentApp, MAX_BODY_BYTES, type AgentApp } from './agent-app.js';
import { createAgentMetrics, type AgentMetrics } from './agent-metrics.js';
import { callerCheck, parseAllowedCallers, DEFAULT_ALLOWED_CALLERS } from './caller-check.js';
import { startAgentServer, type RunningAgentServer } from './https-server.js';

const GiB = 2 ** 30;
const MiB = 2 ** 20;

/** Counts every driver call, to prove a refused caller reached nothing. */
function recording(driver: MigrationDriver): { driver: MigrationDriver; calls: string[] } {
  const calls: string[] = [];
  const proxy = new Proxy(driver, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.push(String(property));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { driver: proxy, calls };
}

interface Node {
  name: string;
  calls: string[];
  agentApp: AgentApp;
  server: RunningAgentServer;
  url: string;
}

let dir: string;
let serverCa: string;
let good: AgentClientTls;
let wrongCn: AgentClientTls;
let otherCa: AgentClientTls;
const clock = new ManualClock(Date.parse('2026-01-01T00:00:00Z'));
const arrivals = new ArrivalBoard();
const logger = pino({ level: 'silent' });
let metrics: AgentMetrics;
let source: Node;
let target: Node;

async function startNode(name: string, certName = 'agent'): Promise<Node> {
  const { driver, calls } = recording(new SimulationDriver({ nodeName: name, address: '127.0.0.1', clock, arrivals }));
  const agentApp = createAgentApp({
    nodeName: name,
    driver,
    authenticate: callerCheck(parseAllowedCallers(DEFAULT_ALLOWED_CALLERS)),
    logger,
    metrics,
    version: 'test',
  });
  const server = await startAgentServer({
    app: agentApp.app,
    tls: { certFile: join(dir, `${certName}.crt`), keyFile: join(dir, `${certName}.key`), clientCaFile: join(dir, 'ca.crt') },
    logger,
    reloadPollMs: 0,
  });
  return { name, calls, agentApp, server, url: `https://127.0.0.1:${server.port}` };
}

function client(node: Node, tls: AgentClientTls = good, timeoutMs?: number): HttpsAgentClient {
  return new HttpsAgentClient({ nodeName: node.name, baseUrl: node.url, tls, ...(timeoutMs ? { timeoutMs } : {}) });
}

/** A bare HTTPS call, for what the typed client never sends. */
function raw(
  node: Node,
  options: { method: string; path: string; body?: string | Buffer; contentType?: string; tls?: Partial<AgentClientTls> },
): Promise<{ status: number; body: { error?: string; reason?: string } & Record<string, unknown> }> {
  const tls = options.tls ?? good;
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        hostname: '127.0.0.1',
        port: node.server.port,
        method: options.method,
        path: options.path,
        ca: readFileSync(serverCa),
        ...(tls.cert ? { cert: tls.cert, key: tls.key } : {}),
        agent: false,
        headers: options.contentType ? { 'content-type': options.contentType } : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, body: text ? (JSON.parse(text) as { error?: string }) : {} });
        });
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

function prepareRequest(uid: string, extra: Partial<PrepareTargetRequest> = {}): PrepareTargetRequest {
  return { migrationUid: uid, vmi: { namespace: 'default', name: `vm-${uid}` }, sourceNode: 'node-a', memoryBytes: GiB, ...extra };
}

function startRequest(uid: string, extra: Partial<StartMigrationRequest> = {}): StartMigrationRequest {
  return {
    migrationUid: uid,
    vmi: { namespace: 'default', name: `vm-${uid}` },
    destination: { nodeName: 'node-b', address: '127.0.0.1', ports: { '35000': 0 } },
    bandwidthBytesPerSecond: 64 * MiB,
    allowAutoConverge: false,
    allowPostCopy: false,
    memoryBytes: GiB,
    ...extra,
  };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'agent-tls-'));
  const ca = createCertificateAuthority(dir, 'ca', 'live-migration-agent-ca');
  serverCa = ca.cert;
  issueCertificate(dir, 'agent', ca, { commonName: 'live-migration-agent', altNames: { ips: ['127.0.0.1'] }, usage: 'server' });
  // As the chart issues it: one certificate for every agent, naming a Service, no node IPs.
  issueCertificate(dir, 'named-agent', ca, { commonName: 'live-migration-agent', altNames: { dns: ['lm-agent.lm-system.svc'] }, usage: 'server' });
  const load = ([cert, key]: [string, string]): AgentClientTls => ({ ca: readFileSync(ca.cert), cert: readFileSync(cert), key: readFileSync(key) });
  good = load(issueCertificate(dir, 'reconciler', ca, { commonName: 'live-migration-reconciler', usage: 'client' }));
  wrongCn = load(issueCertificate(dir, 'intruder', ca, { commonName: 'someone-else', usage: 'client' }));
  const foreign = createCertificateAuthority(dir, 'other-ca', 'another-ca');
  const [fc, fk] = issueCertificate(dir, 'forged', foreign, { commonName: 'live-migration-reconciler', usage: 'client' });
  otherCa = { ca: readFileSync(ca.cert), cert: readFileSync(fc), key: readFileSync(fk) };
  metrics = createAgentMetrics({ defaultMetrics: false });
  source = await startNode('node-a');
  target = await startNode('node-b');
}, 60_000);

afterAll(async () => {
  await source?.server.close(100);
  await target?.server.close(100);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('caller authentication (mutual TLS)', () => {
  it('no client certificate → 401, and the driver saw nothing', async () => {
    const before = source.calls.length;
    const answer = await raw(source, { method: 'POST', path: '/v1/migrations/m-anon/start', body: JSON.stringify(startRequest('m-anon')), contentType: 'application/json', tls: {} });
    expect(answer.status).toBe(401);
    expect(answer.body).toEqual({ error: 'a client certificate is required', reason: 'Unauthenticated' });
    expect((await raw(source, { method: 'POST', path: '/v1/migrations/m-anon/abort', tls: {} })).status).toBe(401);
    expect(source.calls.length).toBe(before);
  });

  it('a certificate from another CA → 401 with the verification error; nothing reached the driver', async () => {
    const before = source.calls.length;
    const answer = await raw(source, { method: 'POST', path: '/v1/migrations/m-forged/start', body: JSON.stringify(startRequest('m-forged')), contentType: 'application/json', tls: otherCa });
    expect(answer.status).toBe(401);
    expect(answer.body.error).toMatch(/client certificate not accepted/);
    await expect(client(source, otherCa).abortMigration('m-forged')).rejects.toMatchObject({ code: 'Unauthenticated', node: 'node-a' });
    expect(source.calls.length).toBe(before);
  });

  it('the right CA but a caller not on the list → 403 naming the caller; nothing reached the driver', async () => {
    const before = source.calls.length;
    const answer = await raw(source, { method: 'POST', path: '/v1/migrations/m-x/abort', tls: wrongCn });
    expect(answer.status).toBe(403);
    expect(answer.body).toEqual({ error: 'caller CN=someone-else is not allowed to use this agent', reason: 'Forbidden' });
    await expect(client(source, wrongCn).startMigration(startRequest('m-x'))).rejects.toMatchObject({ code: 'Unauthenticated' });
    expect(source.calls.length).toBe(before);
  });

  it('a client that does not trust the agent’s certificate fails as Unauthenticated, not Unreachable', async () => {
    const untrusting = { ...good, ca: readFileSync(join(dir, 'other-ca.crt')) };
    await expect(client(source, untrusting).health()).rejects.toMatchObject({ code: 'Unauthenticated' });
  });

  it('an agent certified by name is checked against the configured server name, not its address', async () => {
    const named = await startNode('node-named', 'named-agent');
    try {
      await expect(client(named).health()).rejects.toMatchObject({ code: 'Unauthenticated' });
      await expect(client(named, { ...good, serverName: 'lm-agent.other.svc' }).health()).rejects.toMatchObject({ code: 'Unauthenticated' });
      await expect(client(named, { ...good, serverName: 'lm-agent.lm-system.svc' }).health()).resolves.toMatchObject({ nodeName: 'node-named' });
    } finally {
      await named.server.close(100);
    }
  });

  it('the allowed caller answers health', async () => {
    await expect(client(target).health()).resolves.toEqual({ nodeName: 'node-b', driver: 'simulation', version: 'test' });
  });
});

describe('request checks', () => {
  it('a bad body → 400 naming every bad field; the driver saw nothing', async () => {
    const before = target.calls.length;
    const body = { ...prepareRequest('m-bad'), memoryBytes: 'lots', vmi: { namespace: 'default' }, bandwith: 1 };
    const answer = await raw(target, { method: 'POST', path: '/v1/migrations/m-bad/prepare', body: JSON.stringify(body), contentType: 'application/json' });
    expect(answer.status).toBe(400);
    expect(answer.body.reason).toBe('BadRequest');
    expect(answer.body.error).toContain('vmi.name: is required');
    expect(answer.body.error).toContain('memoryBytes: must be an integer (got "lots")');
    expect(answer.body.error).toContain('bandwith: is not a known key');
    expect(target.calls.length).toBe(before);
  });

  it('the UID in the path must match the body → 400', async () => {
    const answer = await raw(source, { method: 'POST', path: '/v1/migrations/m-1/start', body: JSON.stringify(startRequest('m-2')), contentType: 'application/json' });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toBe('migrationUid: "m-2" does not match the UID in the path ("m-1")');
  });

  it('not JSON → 415; too large → 413; malformed JSON → 400; unknown route → 404', async () => {
    const path = '/v1/migrations/m-3/prepare';
    const wrongType = await raw(target, { method: 'POST', path, body: 'memoryBytes=1', contentType: 'text/plain' });
    expect(wrongType.status).toBe(415);
    expect(wrongType.body.error).toBe('content type must be application/json, got text/plain');
    const huge = JSON.stringify(prepareRequest('m-3', { annotations: { big: 'x'.repeat(MAX_BODY_BYTES) } }));
    const tooLarge = await raw(target, { method: 'POST', path, body: huge, contentType: 'application/json' });
    expect(tooLarge).toEqual({ status: 413, body: { error: `body is larger than the limit of ${MAX_BODY_BYTES} bytes`, reason: 'PayloadTooLarge' } });
    const malformed = await raw(target, { method: 'POST', path, body: '{"migrationUid":', contentType: 'application/json' });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error).toMatch(/^body is not valid JSON/);
    expect((await raw(target, { method: 'GET', path: '/v1/nothing' })).status).toBe(404);
    const badUid = await raw(target, { method: 'GET', path: '/v1/migrations/..%2Fetc' });
    expect(badUid).toEqual({ status: 400, body: { error: 'migration UID in the path is not a UID: "../etc"', reason: 'BadRequest' } });
  });

  it('a driver error → 500 with the driver’s message, and the agent keeps serving', async () => {
    const request = startRequest('m-typo', { annotations: { [DIRTY_RATE_ANNOTATION]: 'fast' } });
    const error = await client(source).startMigration(request).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AgentCallError);
    expect(error).toMatchObject({ code: 'Internal' });
    expect((error as Error).message).toContain(`500: annotation ${DIRTY_RATE_ANNOTATION}`);
    await expect(client(source).health()).resolves.toMatchObject({ nodeName: 'node-a' });
  });
});

describe('a migration through the agents', () => {
  it('prepare → start → progress moves → completed → arrival on the target → release', async () => {
    const src = client(source);
    const dst = client(target);
    const ready = await dst.prepareTarget(prepareRequest('m-full'));
    expect(ready).toMatchObject({ targetNodeAddress: '127.0.0.1', targetPod: 'simulated-agent-node-b' });
    expect(await dst.prepareTarget(prepareRequest('m-full'))).toEqual(ready);

    const start = startRequest('m-full', { destination: { nodeName: 'node-b', address: ready.targetNodeAddress, ports: ready.targetDirectMigrationNodePorts } });
    const first = await raw(source, { method: 'POST', path: '/v1/migrations/m-full/start', body: JSON.stringify(start), contentType: 'application/json' });
    expect(first).toEqual({ status: 202, body: { started: true } });
    const again = await raw(source, { method: 'POST', path: '/v1/migrations/m-full/start', body: JSON.stringify(start), contentType: 'application/json' });
    expect(again).toEqual({ status: 200, body: { started: false, state: 'Running' } });
    await src.startMigration(start);

    const processed: number[] = [];
    for (let i = 0; i < 3; i++) {
      clock.advance(2_000);
      const status = await src.migrationStatus('m-full');
      expect(status?.state).toBe('Running');
      processed.push(status?.progress?.dataProcessedBytes ?? -1);
    }
    // 64 MiB/s for 2, 4, 6 s of a 1 GiB idle guest.
    expect(processed).toEqual([128 * MiB, 256 * MiB, 384 * MiB]);
    expect(await dst.confirmArrival('m-full')).toEqual({ domainDetected: false });

    clock.advance(20_000);
    const done = await src.migrationStatus('m-full');
    expect(done?.state).toBe('Completed');
    expect(done?.progress?.dataRemainingBytes).toBe(0);
    expect(await dst.confirmArrival('m-full')).toEqual({ domainDetected: true });
    expect(await client(source).confirmArrival('m-full')).toEqual({ domainDetected: false });
    expect(await src.abortMigration('m-full')).toEqual({ result: 'completed-first' });
    await expect(dst.releaseTarget('m-full')).resolves.toBeUndefined();
  });

  it('abort: a running copy stops; unknown migrations are not-found / undefined', async () => {
    const src = client(source);
    await src.startMigration(startRequest('m-abort'));
    clock.advance(1_000);
    expect(await src.abortMigration('m-abort')).toEqual({ result: 'aborted' });
    expect(await src.abortMigration('m-abort')).toEqual({ result: 'aborted' });
    expect((await src.migrationStatus('m-abort'))?.state).toBe('Aborted');
    expect(await src.abortMigration('m-never')).toEqual({ result: 'not-found' });
    expect(await src.migrationStatus('m-never')).toBeUndefined();
  });

  it('counts calls by route and code, and migrations by state, in the metrics', async () => {
    // A node of its own, so the counts are this test's alone.
    const node = await startNode('node-m');
    try {
      const anonymous = await raw(node, { method: 'POST', path: '/v1/migrations/m-count-1/start', body: JSON.stringify(startRequest('m-count-1')), contentType: 'application/json', tls: {} });
      expect(anonymous.status).toBe(401);
      const agent = client(node);
      await agent.startMigration(startRequest('m-count-1'));
      clock.advance(30_000); // 1 GiB at 64 MiB/s: done
      expect((await agent.migrationStatus('m-count-1'))?.state).toBe('Completed');
      await agent.startMigration(startRequest('m-count-2'));
      expect(await agent.abortMigration('m-count-2')).toEqual({ result: 'aborted' });
      const text = await metrics.registry.metrics();
      expect(text).toContain('live_migration_agent_calls_total{node="node-m",route="/v1/migrations/:uid/start",code="401"} 1\n');
      expect(text).toContain('live_migration_agent_calls_total{node="node-m",route="/v1/migrations/:uid/start",code="202"} 2\n');
      expect(text).toMatch(/live_migration_agent_migrations\{node="node-m",state="Completed"\} 1\n/);
      expect(text).toMatch(/live_migration_agent_migrations\{node="node-m",state="Aborted"\} 1\n/);
      // Migration UIDs never become labels (unbounded cardinality).
      expect(text).not.toContain('m-count-');
    } finally {
      await node.server.close(100);
    }
  });

  it('while draining, new work is refused with 503 but status and abort still answer', async () => {
    target.agentApp.setDraining();
    await expect(client(target).prepareTarget(prepareRequest('m-late'))).rejects.toMatchObject({ code: 'Unreachable', message: expect.stringContaining('503: agent on node-b is shutting down') });
    await expect(client(target).abortMigration('m-late')).resolves.toEqual({ result: 'not-found' });
  });
});

describe('unreachable agents', () => {
  it('a closed port → Unreachable', async () => {
    const probe = createTcpServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const c = new HttpsAgentClient({ nodeName: 'gone', baseUrl: `https://127.0.0.1:${port}`, tls: good });
    await expect(c.migrationStatus('m-1')).rejects.toMatchObject({ code: 'Unreachable', node: 'gone', message: expect.stringContaining('ECONNREFUSED') });
    c.close();
  });

  it('a peer that accepts but never answers → Unreachable after the call timeout', async () => {
    const sockets: Socket[] = [];
    const silent: TcpServer = createTcpServer((s) => sockets.push(s));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    const c = new HttpsAgentClient({ nodeName: 'stuck', baseUrl: `https://127.0.0.1:${port}`, tls: good, timeoutMs: 300 });
    await expect(c.abortMigration('m-1')).rejects.toMatchObject({ code: 'Unreachable', message: expect.stringContaining('no answer within 300 ms') });
    c.close();
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });
});

describe('TLS files reloaded on change', () => {
  it('a rotated client CA takes effect without a restart', async () => {
    const rotDir = mkdtempSync(join(tmpdir(), 'agent-tls-rot-'));
    try {
      const clientCaFile = join(rotDir, 'client-ca.crt');
      writeFileSync(clientCaFile, readFileSync(join(dir, 'ca.crt')));
      const { driver } = recording(new SimulationDriver({ nodeName: 'node-r', address: '127.0.0.1', clock, arrivals }));
      const { app } = createAgentApp({ nodeName: 'node-r', driver, authenticate: callerCheck(parseAllowedCallers(DEFAULT_ALLOWED_CALLERS)), logger });
      const server = await startAgentServer({
        app,
        tls: { certFile: join(dir, 'agent.crt'), keyFile: join(dir, 'agent.key'), clientCaFile },
        logger,
        reloadPollMs: 50,
      });
      const node = { name: 'node-r', url: `https://127.0.0.1:${server.port}` } as Node;
      try {
        await expect(client(node).health()).resolves.toMatchObject({ nodeName: 'node-r' });
        await expect(client(node, otherCa).health()).rejects.toMatchObject({ code: 'Unauthenticated' });
        // Callers are now signed by the other CA.
        writeFileSync(clientCaFile, readFileSync(join(dir, 'other-ca.crt')));
        const deadline = Date.now() + 5_000;
        let forged: unknown;
        while (Date.now() < deadline) {
          forged = await client(node, otherCa).health().catch((e: unknown) => e);
          if (!(forged instanceof AgentCallError)) break;
          await new Promise((r) => setTimeout(r, 50));
        }
        expect(forged).toMatchObject({ nodeName: 'node-r' });
        await expect(client(node).health()).rejects.toMatchObject({ code: 'Unauthenticated' });
      } finally {
        await server.close(100);
      }
    } finally {
      rmSync(rotDir, { recursive: true, force: true });
    }
  });
});
