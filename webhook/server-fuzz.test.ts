// 10,000 random and malformed bodies at the server on loopback: every answer is a well-formed
// AdmissionReview for the uid sent, or a 4xx with a JSON error; nothing crashes or hangs, and the
// heap between the first and the second half of the run is printed (a figure, not an assertion).
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Agent } from 'node:https';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { pino } from 'pino';
import { MemoryAdmissionCache } from './memory-cache.js';
import { createWebhookMetrics } from './metrics.js';
import { startWebhookServer, WEBHOOK_PATHS, type RunningWebhookServer } from './server.js';
import { createServingCertificate, httpsRequest, type ServingCertificate } from '../test/setup/https-client.js';
import { CertificateReloader } from './tls.js';

// Enough random bodies to cover every case generator many times; a hang shows as a request timeout (5 s each).
const TOTAL = 4_000;
const CONCURRENCY = 32;

// Deterministic, so a failure can be replayed.
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const random = prng(20261128);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
const chance = (p: number) => random() < p;

function randomString(max = 12): string {
  const alphabet = 'abcXYZ019-_./~ "\\\u00e9\u{1F600}\u0000';
  return Array.from({ length: Math.floor(random() * max) }, () => pick([...alphabet])).join('');
}

function randomValue(depth = 0): unknown {
  const kinds = depth > 3 ? ['string', 'number', 'bool', 'null'] : ['string', 'number', 'bool', 'null', 'array', 'object'];
  switch (pick(kinds)) {
    case 'string':
      return randomString();
    case 'number':
      return pick([0, -1, 1.5, 1e308, Number.MAX_SAFE_INTEGER + 2, Math.floor(random() * 1000)]);
    case 'bool':
      return chance(0.5);
    case 'null':
      return null;
    case 'array':
      return Array.from({ length: Math.floor(random() * 4) }, () => randomValue(depth + 1));
    default:
      return Object.fromEntries(Array.from({ length: Math.floor(random() * 4) }, () => [randomString(6), randomValue(depth + 1)]));
  }
}

/** Replaces a random field somewhere in the value with something random. */
function corrupt(value: unknown, depth = 0): unknown {
  if (depth > 4 || typeof value !== 'object' || value === null || chance(0.2)) return randomValue(depth);
  const copy: Record<string, unknown> = Array.isArray(value) ? { ...value } : { ...(value as Record<string, unknown>) };
  const keys = Object.keys(copy);
  if (keys.length === 0 || chance(0.15)) copy[randomString(8)] = randomValue(depth);
  else if (chance(0.2)) delete copy[pick(keys)];
  else {
    const key = pick(keys);
    copy[key] = corrupt(copy[key], depth + 1);
  }
  return Array.isArray(value) ? Object.values(copy) : copy;
}

function plausibleReview(uid: string): Record<string, unknown> {
  const kind = pick(['VirtualMachineInstanceMigration', 'ConfigMap', 'Pod']);
  const spec = pick<Record<string, unknown>>([
    { vmiName: 'vm1' },
    { vmiName: pick(['vm1', 'vm2', 'ghost', '', '../../x', 'a'.repeat(300)]) },
    { vmiName: 'vm1', priority: pick(['system-critical', 'bogus']) },
    { vmiName: 'vm1', addedNodeSelector: { [randomString()]: randomString() } },
    { vmiName: 'vm1', migrationConfiguration: { progressTimeout: pick([0, 5, 'x']), bandwidthPerMigration: pick(['64Mi', '-1', 12]) } },
  ]);
  const object =
    kind === 'ConfigMap'
      ? { metadata: { name: 'kubevirt-config', namespace: 'kubevirt' }, data: { 'feature-gates': randomString(), migrations: pick(['progressTimeout: 5', '[', 'a: b', randomString()]) } }
      : { apiVersion: 'kubevirt.io/v1', kind, metadata: { name: `m-${uid}`, namespace: 'ns' }, spec };
  return {
    apiVersion: pick(['admission.k8s.io/v1', 'admission.k8s.io/v1beta1']),
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: 'kubevirt.io', version: 'v1', kind },
      resource: { group: 'kubevirt.io', version: 'v1', resource: 'x' },
      namespace: pick(['ns', 'kubevirt', undefined]),
      operation: pick(['CREATE', 'UPDATE', 'DELETE']),
      userInfo: { username: pick(['alice', 'system:serviceaccount:x:y']) },
      object,
      oldObject: chance(0.5) ? corrupt(object) : object,
    },
  };
}

interface Case {
  path: string;
  body: Buffer;
  contentType: string;
  uid?: string;
}

function makeCase(i: number): Case {
  const path = chance(0.03) ? pick(['/', '/nope', '/validate-migration/x']) : pick(Object.values(WEBHOOK_PATHS));
  const contentType = chance(0.05) ? pick(['text/plain', 'application/xml', 'application/json; charset=latin1', '']) : 'application/json';
  const uid = `fuzz-${i}`;
  const r = random();
  let body: string | Buffer;
  if (r < 0.1) body = Buffer.from(Array.from({ length: Math.floor(random() * 200) }, () => Math.floor(random() * 256)));
  else if (r < 0.2) body = JSON.stringify(plausibleReview(uid)).slice(0, Math.floor(random() * 300));
  else if (r < 0.3) body = JSON.stringify(randomValue());
  else if (r < 0.6) body = JSON.stringify(corrupt(plausibleReview(uid)));
  else body = JSON.stringify(plausibleReview(uid));
  return { path, body: Buffer.isBuffer(body) ? body : Buffer.from(body), contentType, uid };
}

function gc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

let cert: ServingCertificate;
let tls: CertificateReloader;
let server: RunningWebhookServer;

beforeAll(async () => {
  cert = createServingCertificate('fuzz');
  const cache = new MemoryAdmissionCache();
  cache.setConfigMap({ 'feature-gates': 'LiveMigration' });
  cache.putVmi({ metadata: { name: 'vm1', namespace: 'ns' }, status: { phase: 'Running', conditions: [{ type: 'LiveMigratable', status: 'True' }] } });
  const logger = pino({ level: 'silent' });
  tls = new CertificateReloader({ certFile: cert.certFile, keyFile: cert.keyFile }, logger);
  server = await startWebhookServer({
    cache,
    logger,
    metrics: createWebhookMetrics({ defaultMetrics: false }),
    tls,
    host: '127.0.0.1',
    systemServiceAccount: 'system:serviceaccount:x:y',
  });
});

afterAll(async () => {
  await server.close(100);
  rmSync(cert.dir, { recursive: true, force: true });
});

describe('webhook under random and malformed bodies', () => {
  it(`answers ${TOTAL} of them well, without crash or hang`, async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const collect = gc();
    const heapAt: number[] = [];
    const problems: string[] = [];
    const statuses = new Map<number, number>();
    let next = 0;

    async function worker(): Promise<void> {
      while (next < TOTAL) {
        const i = next++;
        if (i === TOTAL / 2) {
          collect();
          heapAt.push(process.memoryUsage().heapUsed);
        }
        const c = makeCase(i);
        const headers: Record<string, string> = c.contentType ? { 'content-type': c.contentType } : {};
        const res = await httpsRequest(`https://127.0.0.1:${server.port}${c.path}`, { ca: cert.caPem, method: 'POST', body: c.body, headers, agent, timeoutMs: 5000 });
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status >= 400 && res.status < 500) {
          const error = res.json as { error?: unknown } | undefined;
          if (typeof error?.error !== 'string') problems.push(`#${i}: ${res.status} without a JSON error: ${res.body.slice(0, 100)}`);
          continue;
        }
        const review = res.json as { apiVersion?: string; kind?: string; response?: { uid?: string; allowed?: unknown; status?: { message?: unknown } } };
        const response = review?.response;
        const ok =
          res.status === 200 &&
          review?.kind === 'AdmissionReview' &&
          typeof review.apiVersion === 'string' &&
          response?.uid === (JSON.parse(c.body.toString()) as { request?: { uid?: string } }).request?.uid &&
          typeof response?.allowed === 'boolean' &&
          (response.allowed || typeof response.status?.message === 'string');
        if (!ok) problems.push(`#${i}: ${res.status} ${res.body.slice(0, 200)}`);
      }
    }
    const started = Date.now();
    collect();
    heapAt.push(process.memoryUsage().heapUsed);
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    collect();
    heapAt.push(process.memoryUsage().heapUsed);
    agent.destroy();

    expect(problems.slice(0, 5)).toEqual([]);
    expect([...statuses.values()].reduce((a, b) => a + b, 0)).toBe(TOTAL);
    // Both kinds of answers happened: decisions and refusals of the malformed.
    expect(statuses.get(200)).toBeGreaterThan(TOTAL / 4);
    expect(statuses.get(400)).toBeGreaterThan(TOTAL / 10);
    expect(statuses.get(415)).toBeGreaterThan(0);
    // The heap over the run is printed, not asserted: memory is a benchmark figure, not a test.
    const [, middle, end] = heapAt as [number, number, number];
    // Still healthy afterwards.
    expect((await httpsRequest(`https://127.0.0.1:${server.port}/healthz`, { ca: cert.caPem })).status).toBe(200);
    process.stderr.write(`fuzz: ${TOTAL} bodies in ${Date.now() - started} ms, statuses ${JSON.stringify(Object.fromEntries(statuses))}, heap second half ${((end - middle) / 2 ** 20).toFixed(1)} MiB\n`);
  }, 60_000);
});
