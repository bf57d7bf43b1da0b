// The defensive informer (kube/informer.ts) the webhook's caches stand on, against the real API
// server through a loopback TCP proxy that can break, refuse and silently stall connections.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import type { VirtualMachineInstance } from '../../api/schemas/vmi.js';
import { DefensiveInformer, type ObjectList } from '../../kube/informer.js';
import { InformerAdmissionCache } from '../../webhook/cache.js';
import { createWebhookMetrics, type WebhookMetrics } from '../../webhook/metrics.js';
import { createTestNamespace, kubectl, readControlPlaneState } from '../setup/environment.js';

class FlakyProxy {
  private server: Server | undefined;
  private readonly pairs = new Set<[Socket, Socket]>();
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async up(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      const pair: [Socket, Socket] = [client, upstream];
      this.pairs.add(pair);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        this.pairs.delete(pair);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  /** Refuses new connections and breaks every open one. */
  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const [client, upstream] of this.pairs) {
      client.destroy();
      upstream.destroy();
    }
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }

  /** Open connections stop carrying bytes without closing: a half-dead TCP connection. */
  freeze(): void {
    for (const [client, upstream] of this.pairs) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
    }
  }
}

let ns: string;
let proxy: FlakyProxy;
let kubeConfig: KubeConfig;
const informers: Array<DefensiveInformer<VirtualMachineInstance>> = [];

function createVmi(name: string): void {
  const manifest = `apiVersion: kubevirt.io/v1\nkind: VirtualMachineInstance\nmetadata:\n  name: ${name}\nspec:\n  domain: {devices: {}}\n`;
  expect(kubectl(['apply', '-n', ns, '-f', '-'], manifest).stderr).toBe('');
}

function newInformer(options: { staleAfterMs?: number; onEvent?: (event: 'add' | 'update' | 'delete', vmi: VirtualMachineInstance) => void } = {}): DefensiveInformer<VirtualMachineInstance> {
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const informer = new DefensiveInformer<VirtualMachineInstance>({
    name: 'vmis',
    kubeConfig,
    path: `/apis/kubevirt.io/v1/namespaces/${ns}/virtualmachineinstances`,
    list: () => custom.listNamespacedCustomObject({ group: 'kubevirt.io', version: 'v1', namespace: ns, plural: 'virtualmachineinstances' }) as Promise<ObjectList<VirtualMachineInstance>>,
    minBackoffMs: 100,
    maxBackoffMs: 500,
    startTimeoutMs: 3000,
    ...options,
  });
  informers.push(informer);
  return informer;
}

async function eventually(what: string, check: () => boolean, ms = 10_000): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < ms) {
    if (check()) return Date.now() - start;
    await sleep(50);
  }
  throw new Error(`${what}: not within ${ms} ms`);
}

beforeAll(async () => {
  ns = createTestNamespace('webhook-informer');
  const state = readControlPlaneState();
  const server = new URL(state.server);
  proxy = new FlakyProxy({ host: server.hostname, port: Number(server.port) });
  await proxy.up();
  // The admin kubeconfig, pointed at the proxy (the API server's certificate is for 127.0.0.1 too).
  kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(state.kubeconfig);
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new Error('no cluster in kubeconfig');
  kubeConfig.loadFromOptions({
    clusters: [{ ...cluster, server: `https://127.0.0.1:${proxy.port}` }],
    users: kubeConfig.getUsers(),
    contexts: kubeConfig.getContexts(),
    currentContext: kubeConfig.getCurrentContext(),
  });
});

afterAll(async () => {
  await Promise.all(informers.map((informer) => informer.stop()));
  await proxy.down();
});

describe('defensive informer', () => {
  it('lists, then follows the watch', async () => {
    createVmi('before-start');
    const informer = newInformer({ staleAfterMs: 60_000 });
    await informer.start();
    expect(informer.get('before-start', ns)).toBeDefined();
    createVmi('after-start');
    await eventually('watch event', () => informer.get('after-start', ns) !== undefined);
  });

  it('keeps serving its cache while the API server is unreachable, and catches up after', async () => {
    const informer = newInformer({ staleAfterMs: 60_000 });
    await informer.start();
    await proxy.down();
    createVmi('while-down');
    // Once it has seen the outage, it still answers from the cache it had.
    await eventually('the outage seen', () => informer.stats.errors > 0);
    expect(informer.hasSynced()).toBe(true);
    expect(informer.get('before-start', ns)).toBeDefined();
    expect(informer.get('while-down', ns)).toBeUndefined();
    await proxy.up();
    await eventually('recovery after the outage', () => informer.get('while-down', ns) !== undefined);
    expect(informer.stats.errors).toBeGreaterThan(0);
  });

  it('after an outage, an event names an object its cache already holds, and deletions made meanwhile are told', async () => {
    createVmi('to-delete');
    const seen: string[] = [];
    let informer: DefensiveInformer<VirtualMachineInstance> | undefined;
    informer = newInformer({
      staleAfterMs: 60_000,
      // What a controller does on an event: read the object from the cache.
      onEvent: (event, vmi) => seen.push(`${event} ${vmi.metadata.name} ${informer?.get(vmi.metadata.name ?? '', ns) ? 'cached' : 'absent'}`),
    });
    await informer.start();
    await proxy.down();
    createVmi('made-while-down');
    expect(kubectl(['delete', 'vmi', 'to-delete', '-n', ns]).code).toBe(0);
    await proxy.up();
    await eventually('relisted after the outage', () => informer?.get('made-while-down', ns) !== undefined);
    await eventually('deletion told', () => seen.includes('delete to-delete absent'));
    expect(seen.filter((e) => e.startsWith('add made-while-down'))).toEqual(['add made-while-down cached']);
  });

  it('relists when its watch stalls silently', async () => {
    const informer = newInformer({ staleAfterMs: 1500 });
    await informer.start();
    proxy.freeze();
    createVmi('while-frozen');
    await eventually('relist after a stalled watch', () => informer.get('while-frozen', ns) !== undefined);
    expect(informer.stats.staleRelists).toBeGreaterThan(0);
  });

  it('relists a quiet, healthy informer at most once per staleness period', async () => {
    const periodMs = 1000;
    const informer = newInformer({ staleAfterMs: periodMs });
    const startedAt = Date.now();
    await informer.start();
    // A quiet watch is relisted for silence (the API server may have lost it); three such relists...
    await eventually('three relists for silence', () => informer.stats.staleRelists >= 3, 20_000);
    const elapsedMs = Date.now() - startedAt;
    // ...took at least three periods: never more often. (A slow machine only makes them rarer.)
    expect(informer.stats.staleRelists).toBeLessThanOrEqual(Math.floor(elapsedMs / periodMs));
    expect(informer.hasSynced()).toBe(true);
  });
});

/** How many VMI fetches the cache made with this result, from its own metrics. */
async function vmiFetches(metrics: WebhookMetrics, result: 'found' | 'not_found' | 'error'): Promise<number> {
  const { values } = await metrics.apiCalls.get();
  return values.find((v) => v.labels.resource === 'virtualmachineinstances' && v.labels.result === result)?.value ?? 0;
}

// Last in this file: it freezes every connection the proxy holds, and no earlier test needs them after.
describe('InformerAdmissionCache', () => {
  it('fetches a VMI its cache has not seen yet, and never remembers one as absent', async () => {
    const metrics = createWebhookMetrics({ defaultMetrics: false });
    const cache = new InformerAdmissionCache({
      kubeConfig,
      configLocation: { namespace: ns, name: 'kubevirt-config' },
      metrics,
      logger: { info: () => {}, warn: () => {} },
      staleAfterMs: 10 * 60_000,
    });
    try {
      createVmi('cache-listed');
      await cache.start();
      expect(cache.hasSynced()).toBe(true);
      // A listed VMI comes from the cache, without a request.
      expect((await cache.getVmi(ns, 'cache-listed'))?.metadata.name).toBe('cache-listed');
      expect(await vmiFetches(metrics, 'found')).toBe(0);

      // The watches go silent (frozen, not broken): the caches cannot learn of anything new.
      proxy.freeze();
      expect(await cache.getVmi(ns, 'cache-late')).toBeUndefined();
      expect(await vmiFetches(metrics, 'not_found')).toBe(1);
      createVmi('cache-late');
      // A miss is fetched from the API server; the earlier "absent" was not remembered.
      const fetched = await cache.getVmi(ns, 'cache-late');
      expect(fetched?.metadata.name).toBe('cache-late');
      expect(await vmiFetches(metrics, 'found')).toBe(1);
      // A name the API server could never hold is not worth a request.
      expect(await cache.getVmi(ns, 'Not_A_Name')).toBeUndefined();
      expect(await vmiFetches(metrics, 'not_found')).toBe(1);
    } finally {
      await cache.stop();
    }
  });
});
