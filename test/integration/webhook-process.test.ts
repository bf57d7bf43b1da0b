// cmd/webhook.ts as a process, the way the kubelet and the API server meet it: on SIGTERM /readyz
// turns 503 and a request already in flight still gets its answer; a client that sends its
// headers or its body too slowly is cut off. Each test starts its own process and connections.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect, type TLSSocket } from 'node:tls';
import { freePort } from '../../hack/control-plane/ports.js';
import { createServingCertificate, httpsRequest, type ServingCertificate } from '../setup/https-client.js';
import { createTestNamespace } from '../setup/environment.js';

let cert: ServingCertificate;
let configNs: string;
const processes: ChildProcess[] = [];

interface Webhook {
  child: ChildProcess;
  port: number;
  logFile: string;
  exited: Promise<number | null>;
}

async function startWebhookProcess(name: string): Promise<Webhook> {
  const port = await freePort();
  const logFile = join(cert.dir, `${name}.log`);
  const log = openSync(logFile, 'a');
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'cmd/webhook.ts', `--port=${port}`, '--host=127.0.0.1', `--tls-cert-file=${cert.certFile}`, `--tls-key-file=${cert.keyFile}`, `--config-namespace=${configNs}`],
    { stdio: ['ignore', log, log], env: { ...process.env } },
  );
  processes.push(child);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  for (;;) {
    if (child.exitCode !== null) throw new Error(`webhook exited with ${child.exitCode}; see ${logFile}`);
    const ready = await httpsRequest(`https://127.0.0.1:${port}/readyz`, { ca: cert.caPem, timeoutMs: 2000 }).catch(() => undefined);
    if (ready?.status === 200) return { child, port, logFile, exited };
    await sleep(100);
  }
}

/** A raw TLS connection, to send a request byte by byte as a slow or interrupted client would. */
interface RawConnection {
  socket: TLSSocket;
  received(): string;
  closed: Promise<void>;
}

async function openRaw(port: number): Promise<RawConnection> {
  const socket = connect({ host: '127.0.0.1', port, ca: cert.caPem, servername: 'localhost' });
  await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
  let data = '';
  socket.on('data', (chunk: Buffer) => (data += chunk.toString('utf8')));
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return { socket, received: () => data, closed };
}

/** Waits until the process has logged that it is draining (its SIGTERM handler ran). */
async function draining(webhook: Webhook): Promise<void> {
  while (!readFileSync(webhook.logFile, 'utf8').includes('"msg":"draining"')) await sleep(50);
}

/** Waits until the response so far satisfies `complete`, or the server closed the connection. */
async function answered(connection: RawConnection, complete: (text: string) => boolean): Promise<void> {
  let closed = false;
  void connection.closed.then(() => (closed = true));
  while (!closed && !complete(connection.received())) await sleep(50);
}

function statusOf(response: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1] ?? 0);
}

function bodyOf(response: string): string {
  return response.slice(response.indexOf('\r\n\r\n') + 4);
}

function admissionReview(uid: string): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: 'kubevirt.io', version: 'v1', kind: 'VirtualMachineInstanceMigration' },
      resource: { group: 'kubevirt.io', version: 'v1', resource: 'virtualmachineinstancemigrations' },
      namespace: configNs,
      operation: 'CREATE',
      userInfo: { username: 'alice' },
      object: { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstanceMigration', metadata: { name: 'mig', namespace: configNs }, spec: { vmiName: 'no-such-vmi' } },
    },
  });
}

/** Sends `line` once a second until the server closes the connection or `maxLines` are sent. */
async function trickle(connection: RawConnection, line: (i: number) => string, maxLines: number): Promise<{ cutOff: boolean }> {
  let cutOff = false;
  void connection.closed.then(() => (cutOff = true));
  for (let i = 0; i < maxLines && !cutOff; i++) {
    connection.socket.write(line(i));
    await Promise.race([sleep(1000), connection.closed]);
  }
  return { cutOff };
}

beforeAll(() => {
  cert = createServingCertificate('webhook-process');
  configNs = createTestNamespace('webhook-process');
});

afterEach(async () => {
  for (const child of processes.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await gone;
    }
  }
});

afterAll(() => {
  rmSync(cert.dir, { recursive: true, force: true });
});

describe('webhook process', () => {
  it('answers /readyz 503 while draining after SIGTERM, then exits 0', async () => {
    const webhook = await startWebhookProcess('readyz-draining');
    // A request begun before the signal (headers not yet complete) is not an idle connection.
    const connection = await openRaw(webhook.port);
    connection.socket.write('GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    webhook.child.kill('SIGTERM');
    await draining(webhook);
    connection.socket.write('\r\n');
    await answered(connection, (text) => text.includes('shutting down'));
    expect(statusOf(connection.received())).toBe(503);
    expect(bodyOf(connection.received())).toBe('shutting down');
    expect(await webhook.exited).toBe(0);
  });

  it('finishes an admission request in flight at SIGTERM, then exits 0', async () => {
    const webhook = await startWebhookProcess('in-flight');
    const body = admissionReview('in-flight-uid');
    const half = Math.floor(body.length / 2);
    const connection = await openRaw(webhook.port);
    connection.socket.write(
      `POST /validate-migration HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, half)}`,
    );
    webhook.child.kill('SIGTERM');
    await draining(webhook);
    // Draining: no new connection is accepted, yet the one in flight is still served.
    await expect(httpsRequest(`https://127.0.0.1:${webhook.port}/healthz`, { ca: cert.caPem, timeoutMs: 5000 })).rejects.toThrow();
    connection.socket.write(body.slice(half));
    await answered(connection, (text) => bodyOf(text).endsWith('}'));
    expect(statusOf(connection.received())).toBe(200);
    const answer = JSON.parse(bodyOf(connection.received())) as { kind: string; response: { uid: string; allowed: boolean } };
    expect(answer).toMatchObject({ kind: 'AdmissionReview', response: { uid: 'in-flight-uid' } });
    expect(await webhook.exited).toBe(0);
  });

  // Node checks these bounds every 30 s (connectionsCheckingInterval), so a client is cut off
  // between 10 s (headers) or 15 s (request) and 30 s later. Its defaults (60 s, 300 s) would let
  // a client trickle longer than the 55 s these clients are given.
  it('cuts off a client that sends its headers too slowly', async () => {
    const webhook = await startWebhookProcess('headers-timeout');
    const connection = await openRaw(webhook.port);
    connection.socket.write('POST /validate-migration HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const { cutOff } = await trickle(connection, (i) => `X-Slow-${i}: y\r\n`, 55);
    expect(cutOff).toBe(true);
    expect(statusOf(connection.received())).toBe(408);
    // The process itself is unharmed.
    expect((await httpsRequest(`https://127.0.0.1:${webhook.port}/healthz`, { ca: cert.caPem })).status).toBe(200);
  });

  it('cuts off a client that sends its body too slowly', async () => {
    const webhook = await startWebhookProcess('request-timeout');
    const connection = await openRaw(webhook.port);
    connection.socket.write('POST /validate-migration HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{');
    const { cutOff } = await trickle(connection, () => ' ', 55);
    expect(cutOff).toBe(true);
    expect(statusOf(connection.received())).toBe(408);
    expect((await httpsRequest(`https://127.0.0.1:${webhook.port}/healthz`, { ca: cert.caPem })).status).toBe(200);
  });
});
