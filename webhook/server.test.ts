import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { copyFileSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { issueCertificate } from '../hack/control-plane/pki.js';
import { MemoryAdmissionCache } from './memory-cache.js';
import { createWebhookMetrics } from './metrics.js';
import { MAX_BODY_BYTES, startWebhookServer, type RunningWebhookServer } from './server.js';
import { createServingCertificate, httpsRequest, type ServingCertificate } from '../test/setup/https-client.js';
import { CertificateReloader } from './tls.js';

const logger = pino({ level: 'silent' });
let cert: ServingCertificate;
let cache: MemoryAdmissionCache;
let tls: CertificateReloader;
let server: RunningWebhookServer;
const metrics = createWebhookMetrics({ defaultMetrics: false });

const url = (path: string) => `https://127.0.0.1:${server.port}${path}`;
const post = (path: string, body: string | Buffer, contentType = 'application/json') =>
  httpsRequest(url(path), { ca: cert.caPem, method: 'POST', body, headers: { 'content-type': contentType } });

function review(request: Record<string, unknown>, apiVersion = 'admission.k8s.io/v1'): string {
  return JSON.stringify({ apiVersion, kind: 'AdmissionReview', request });
}

function migrationRequest(spec: Record<string, unknown>, uid = 'uid-1'): Record<string, unknown> {
  return {
    uid,
    kind: { group: 'kubevirt.io', version: 'v1', kind: 'VirtualMachineInstanceMigration' },
    resource: { group: 'kubevirt.io', version: 'v1', resource: 'virtualmachineinstancemigrations' },
    namespace: 'ns',
    operation: 'CREATE',
    userInfo: { username: 'alice' },
    object: { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstanceMigration', metadata: { name: 'mig', namespace: 'ns' }, spec },
  };
}

beforeAll(async () => {
  cert = createServingCertificate();
  cache = new MemoryAdmissionCache();
  cache.setConfigMap({ 'feature-gates': 'LiveMigration' });
  cache.putVmi({ metadata: { name: 'vm1', namespace: 'ns' }, status: { phase: 'Running', conditions: [{ type: 'LiveMigratable', status: 'True' }] } });
  tls = new CertificateReloader({ certFile: cert.certFile, keyFile: cert.keyFile }, logger, 50);
  tls.start();
  server = await startWebhookServer({ cache, logger, metrics, tls, host: '127.0.0.1', systemServiceAccount: 'system:serviceaccount:x:y' });
});

afterAll(async () => {
  await server.close(100);
  tls.stop();
  rmSync(cert.dir, { recursive: true, force: true });
});

describe('webhook HTTP server', () => {
  it('answers an AdmissionReview in the version it was sent, with the uid', async () => {
    for (const apiVersion of ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1']) {
      const res = await post('/validate-migration', review(migrationRequest({ vmiName: 'vm1' }, `u-${apiVersion}`), apiVersion));
      expect(res.status).toBe(200);
      expect(res.json).toEqual({ apiVersion, kind: 'AdmissionReview', response: { uid: `u-${apiVersion}`, allowed: true } });
    }
  });

  it('returns the mutation as a base64 JSON patch', async () => {
    const res = await post('/mutate-migration', review(migrationRequest({ vmiName: 'vm1' })));
    const response = (res.json as { response: { patchType: string; patch: string } }).response;
    expect(response.patchType).toBe('JSONPatch');
    const patch = JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')) as Array<{ path: string }>;
    expect(patch.map((op) => op.path)).toEqual(['/metadata/labels', '/metadata/finalizers', '/metadata/annotations', '/spec/migrationConfiguration']);
  });

  it('refuses with a status message naming the VMI', async () => {
    const res = await post('/validate-migration', review(migrationRequest({ vmiName: 'ghost' })));
    expect(res.json).toMatchObject({
      response: { allowed: false, status: { code: 400, reason: 'BadRequest', message: 'the VMI "ns/ghost" does not exist' } },
    });
  });

  it('refuses a field problem as 422 Invalid with the causes, which the API server hands to the client', async () => {
    const res = await post('/validate-migration', review(migrationRequest({})));
    expect(res.json).toMatchObject({
      response: {
        allowed: false,
        status: {
          code: 422,
          reason: 'Invalid',
          message: expect.stringMatching(/^vmiName is missing/),
          details: { causes: [{ reason: 'FieldValueRequired', message: 'vmiName is missing', field: 'spec.vmiName' }] },
        },
      },
    });
  });

  it('answers 415 to a wrong content type, 400 to malformed JSON and to non-AdmissionReviews', async () => {
    const wrongType = await post('/validate-migration', review(migrationRequest({ vmiName: 'vm1' })), 'text/plain');
    expect(wrongType.status).toBe(415);
    expect(wrongType.json).toMatchObject({ code: 415, error: expect.stringContaining('application/json') });
    const malformed = await post('/validate-migration', '{"apiVersion": ');
    expect(malformed.status).toBe(400);
    expect(malformed.json).toMatchObject({ error: expect.stringContaining('not valid JSON') });
    const notReview = await post('/validate-migration', JSON.stringify({ kind: 'Pod' }));
    expect(notReview).toMatchObject({ status: 400, json: { error: 'kind must be AdmissionReview' } });
    const noUid = await post('/validate-migration', review({ ...migrationRequest({}), uid: '' }));
    expect(noUid).toMatchObject({ status: 400, json: { error: 'request.uid must be a non-empty string' } });
  });

  it(`answers 413 to a body over ${MAX_BODY_BYTES} bytes`, async () => {
    const big = review({ ...migrationRequest({ vmiName: 'vm1' }), padding: 'x'.repeat(MAX_BODY_BYTES) });
    const res = await post('/validate-migration', big);
    expect(res.status).toBe(413);
    expect(res.json).toMatchObject({ error: `body is larger than the limit of ${MAX_BODY_BYTES} bytes` });
  });

  it('fails closed with a message when deciding throws', async () => {
    cache.failLookups = new Error('connection refused');
    try {
      const res = await post('/validate-migration', review(migrationRequest({ vmiName: 'vm1' })));
      expect(res.json).toMatchObject({
        response: { allowed: false, status: { code: 500, message: 'Cannot decide on migration of VMI ns/vm1: internal error: connection refused' } },
      });
    } finally {
      cache.failLookups = undefined;
    }
  });

  it('is ready only once the caches have synced', async () => {
    cache.synced = false;
    expect((await httpsRequest(url('/readyz'), { ca: cert.caPem })).status).toBe(503);
    expect((await httpsRequest(url('/healthz'), { ca: cert.caPem })).status).toBe(200);
    cache.synced = true;
    expect((await httpsRequest(url('/readyz'), { ca: cert.caPem })).status).toBe(200);
  });

  it('refuses a migration create as retryable while its caches cannot be trusted, and decides again once they can', async () => {
    cache.synced = false;
    try {
      const message =
        "Cannot migrate VMI ns/vm1: the webhook's caches are not synced with the API server (not synced yet: memory), " +
        'so it cannot tell whether a migration of this VMI is already in flight. Retry shortly.';
      for (const path of ['/validate-migration', '/mutate-migration']) {
        const res = await post(path, review(migrationRequest({ vmiName: 'vm1' })));
        expect(res.json).toMatchObject({ response: { allowed: false, status: { code: 503, reason: 'ServiceUnavailable', message } } });
      }
      // An update reads no cache: still decided on its own merits.
      const update = { ...migrationRequest({ vmiName: 'vm1' }), operation: 'UPDATE', oldObject: migrationRequest({ vmiName: 'vm1' }).object };
      expect((await post('/validate-migration', review(update))).json).toMatchObject({ response: { allowed: true } });
      const ready = await httpsRequest(url('/readyz'), { ca: cert.caPem });
      expect(ready).toMatchObject({ status: 503, body: 'caches not synced (not synced yet: memory)' });
    } finally {
      cache.synced = true;
    }
    expect((await post('/validate-migration', review(migrationRequest({ vmiName: 'vm1' })))).json).toMatchObject({ response: { allowed: true } });
  });

  it('counts latency and decisions by reason in /metrics', async () => {
    // Its own requests, counted as differences: what earlier tests sent does not matter.
    const value = async (series: string) => {
      const text = (await httpsRequest(url('/metrics'), { ca: cert.caPem })).body;
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      return line === undefined ? 0 : Number(line.split(' ').pop());
    };
    const answered = 'live_migration_webhook_request_duration_seconds_count{path="/validate-migration",code="200"}';
    const notFound = 'live_migration_webhook_decisions_total{path="/validate-migration",allowed="false",reason="VMINotFound"}';
    const tooLarge = 'live_migration_webhook_bad_requests_total{path="/validate-migration",code="413"}';
    const before = { answered: await value(answered), notFound: await value(notFound), tooLarge: await value(tooLarge) };
    await post('/validate-migration', review(migrationRequest({ vmiName: 'vm-counted-missing' })));
    await post('/validate-migration', review({ ...migrationRequest({ vmiName: 'vm1' }), padding: 'x'.repeat(MAX_BODY_BYTES) }));
    expect(await value(answered)).toBe(before.answered + 1);
    expect(await value(notFound)).toBe(before.notFound + 1);
    expect(await value(tooLarge)).toBe(before.tooLarge + 1);
  });

  it('serves a new certificate once the files change, without a restart', async () => {
    // Each request opens a new connection (no agent), so each handshake shows the certificate in force.
    const before = await httpsRequest(url('/healthz'), { ca: cert.caPem });
    const [newCert, newKey] = issueCertificate(cert.dir, 'rotated', cert.ca, { commonName: 'rotated', altNames: { ips: ['127.0.0.1'] }, usage: 'server' });
    copyFileSync(newKey, cert.keyFile);
    copyFileSync(newCert, cert.certFile);
    const deadline = Date.now() + 5000;
    let after = before;
    while (after.peerFingerprint === before.peerFingerprint && Date.now() < deadline) {
      await sleep(50);
      after = await httpsRequest(url('/healthz'), { ca: cert.caPem });
    }
    expect(after.status).toBe(200);
    expect(after.peerFingerprint).not.toBe(before.peerFingerprint);
    expect(tls.reloads).toBeGreaterThanOrEqual(1);
  });
});
