// kube/informer.ts's three recovery triggers, each against the real API server through a loopback
// proxy: an error (connections broken mid-watch), silence (a watch that carries nothing), and a
// hung start (a list request the server accepts and never answers).
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import type { VirtualMachineInstance } from '../../api/schemas/vmi.js';
import { DefensiveInformer, type DefensiveInformerOptions, type ObjectList } from '../../kube/informer.js';
import { createTestNamespace, kubectl, readControlPlaneState } from '../setup/environment.js';

type Mode = 'forward' | 'blackhole';

/**
 * New connections are forwarded, or (blackhole) accepted and never answered, for good: a
 * blackholed connection stays dead even after the mode changes back, as a hung server's would.
 */
class SwitchingProxy {
  mode: Mode = 'forward';
  blackholed = 0;
  private readonly forwarded = new Map<Socket, Socket>();
  private readonly held = new Set<Socket>();
  private server: Server | undefined;
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async up(): Promise<void> {
    this.server = createServer((client) => {
      client.on('error', () => client.destroy());
      if (this.mode === 'blackhole') {
        this.blackholed++;
        this.held.add(client);
        client.on('close', () => this.held.delete(client));
        return; // read nothing, answer nothing
      }
      const upstream = connect(this.target.port, this.target.host);
      this.forwarded.set(client, upstream);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        this.forwarded.delete(client);
      };
      client.on('close', drop);
      upstream.on('error', drop).on('close', drop);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  /** Breaks every forwarded connection (an error for whoever used it); new ones still work. */
  breakForwarded(): void {
    for (const [client, upstream] of this.forwarded) {
      client.destroy();
      upstream.destroy();
    }
  }

  /** Forwarded connections stay open but stop carrying bytes: a silently dead watch. */
  stallForwarded(): void {
    for (const [client, upstream] of this.forwarded) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
    }
  }

  async close(): Promise<void> {
    for (const socket of [...this.forwarded.keys(), ...this.forwarded.values(), ...this.held]) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

let ns: string;
let proxy: SwitchingProxy;
let kubeConfig: KubeConfig;
const informers: Array<DefensiveInformer<VirtualMachineInstance>> = [];

function createVmi(name: string): void {
  const manifest = `apiVersion: kubevirt.io/v1\nkind: VirtualMachineInstance\nmetadata:\n  name: ${name}\nspec:\n  domain: {devices: {}}\n`;
  expect(kubectl(['apply', '-n', ns, '-f', '-'], manifest).stderr).toBe('');
}

function newInformer(options: Partial<DefensiveInformerOptions<VirtualMachineInstance>>): DefensiveInformer<VirtualMachineInstance> {
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const informer = new DefensiveInformer<VirtualMachineInstance>({
    name: 'vmis',
    kubeConfig,
    path: `/apis/kubevirt.io/v1/namespaces/${ns}/virtualmachineinstances`,
    list: () => custom.listNamespacedCustomObject({ group: 'kubevirt.io', version: 'v1', namespace: ns, plural: 'virtualmachineinstances' }) as Promise<ObjectList<VirtualMachineInstance>>,
    minBackoffMs: 100,
    maxBackoffMs: 500,
    // Far beyond any test here: only the trigger a test exercises may relist.
    staleAfterMs: 10 * 60_000,
    startTimeoutMs: 10 * 60_000,
    ...options,
  });
  informers.push(informer);
  return informer;
}

/** Each test stops its informer, so no other informer's connections reach the proxy after it. */
async function stopAll(): Promise<void> {
  await Promise.all(informers.splice(0).map((informer) => informer.stop()));
}

/** Waits on observable state; the jest timeout is the only bound. */
async function until(check: () => boolean): Promise<void> {
  while (!check()) await sleep(50);
}

beforeAll(async () => {
  ns = createTestNamespace('kube-informer');
  const state = readControlPlaneState();
  const server = new URL(state.server);
  proxy = new SwitchingProxy({ host: server.hostname, port: Number(server.port) });
  await proxy.up();
  const admin = new KubeConfig();
  admin.loadFromFile(state.kubeconfig);
  const cluster = admin.getCurrentCluster();
  if (!cluster) throw new Error('no cluster in kubeconfig');
  kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ ...cluster, server: `https://127.0.0.1:${proxy.port}` }],
    users: admin.getUsers(),
    contexts: admin.getContexts(),
    currentContext: admin.getCurrentContext(),
  });
});

afterEach(stopAll);

afterAll(async () => {
  await stopAll();
  await proxy.close();
});

describe('DefensiveInformer recovery', () => {
  it('relists after its watch fails, and sees what was created meanwhile', async () => {
    createVmi('error-before');
    const informer = newInformer({});
    await informer.start();
    expect(informer.get('error-before', ns)).toBeDefined();
    const generations = informer.stats.generations;
    proxy.breakForwarded();
    createVmi('error-after');
    await until(() => informer.get('error-after', ns) !== undefined);
    expect(informer.stats.errors).toBeGreaterThan(0);
    expect(informer.stats.generations).toBeGreaterThan(generations);
    expect(informer.stats.staleRelists).toBe(0);
    expect(informer.get('error-before', ns)).toBeDefined();
  });

  it('relists a watch that went silent once nothing was heard for staleAfterMs', async () => {
    const informer = newInformer({ staleAfterMs: 2000 });
    await informer.start();
    proxy.stallForwarded();
    createVmi('silence-after');
    // The stalled watch cannot deliver this; only a relist on silence can.
    await until(() => informer.get('silence-after', ns) !== undefined);
    expect(informer.stats.staleRelists).toBeGreaterThan(0);
    expect(informer.hasSynced()).toBe(true);
  });

  it('gives up on a start that hangs after startTimeoutMs and starts again', async () => {
    createVmi('hung-start');
    proxy.mode = 'blackhole';
    const informer = newInformer({ startTimeoutMs: 2000 });
    let started = false;
    const starting = informer.start().then(() => (started = true));
    await until(() => proxy.blackholed > 0);
    expect(started).toBe(false);
    expect(informer.hasSynced()).toBe(false);
    // The hung connection stays hung; only a new attempt, over a new connection, can sync.
    proxy.mode = 'forward';
    await starting;
    expect(informer.hasSynced()).toBe(true);
    expect(informer.get('hung-start', ns)).toBeDefined();
    expect(informer.stats.generations).toBeGreaterThan(1);
  });
});
