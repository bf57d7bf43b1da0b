// The reconciler's side of the agent API: NodeAgentApi for one node over HTTPS with a client
// certificate, and a pool that hands out one client per endpoint.
//
// Error mapping (AgentCallError codes), because the reconciler decides on codes, not on text:
// - no connection, reset, timeout (default 5 s per call) → Unreachable (feeds the agent-silence
//   timeout);
// - the server's certificate not trusted / not for this address, or 401/403 → Unauthenticated
//   (retrying will not help; someone must fix certificates);
// - 404 → NotFound, except that migrationStatus answers undefined for an unknown migration, as the
//   interface says (a 404 for an unknown *route* is still an error: an agent of another version);
// - 409 → Conflict; 503 (the agent is shutting down) → Unreachable; anything else → Internal with the server's own error text.
// Every call is idempotent by contract, so a request that failed on a reused keep-alive socket the
// server had just closed is sent once more on a fresh one.
import { Agent, request as httpsRequest, type RequestOptions } from 'node:https';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import type { IncomingMessage } from 'node:http';
import { TlsFileWatcher, type TlsReloadLogger } from '../common/tls-files.js';
import {
  AgentCallError,
  MIGRATION_JOB_STATES,
  type AbortResult,
  type AgentHealth,
  type ArrivalStatus,
  type MigrationJobStatus,
  type NodeAgentApi,
  type PrepareTargetRequest,
  type StartMigrationRequest,
  type TargetReady,
} from './contract.js';
import { agentServerName } from './node-identity.js';

export const DEFAULT_CALL_TIMEOUT_MS = 5_000;
/** Answers are small; a larger one is a broken or hostile server. */
const MAX_RESPONSE_BYTES = 1024 * 1024;

export interface AgentClientTls {
  /** CA that signed the agents' serving certificates. */
  ca: Buffer | string;
  /** This caller's client certificate and key. */
  cert: Buffer | string;
  key: Buffer | string;
}

export interface AgentClientTlsFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** TLS of a client: fixed, or read anew for each connection (files that are reloaded on change). */
export type AgentClientTlsSource = AgentClientTls | (() => AgentClientTls);

/** The client's files watched for change (common/tls-files.ts): rotated certificates are used without a restart. */
export function watchClientTls(files: AgentClientTlsFiles, logger: TlsReloadLogger, pollMs = 5_000): { tls: () => AgentClientTls; watcher: TlsFileWatcher } {
  const watcher = new TlsFileWatcher({ certFile: files.certFile, keyFile: files.keyFile, caFile: files.caFile }, logger, pollMs);
  const tls = (): AgentClientTls => {
    const { cert, key, ca } = watcher.current;
    return { cert, key, ca: ca ?? Buffer.alloc(0) };
  };
  return { tls, watcher };
}

export interface HttpsAgentClientOptions {
  nodeName: string;
  /** e.g. https://127.0.0.1:40123, from the node's agent-endpoint annotation. */
  baseUrl: string;
  tls: AgentClientTlsSource;
  /**
   * The name the agent's certificate must carry instead of the dialled address: the pool sets each
   * node's own (agentServerName), so a certificate of another node is refused.
   */
  serverName?: string;
  timeoutMs?: number;
  /** A keep-alive connection pool; one of its own when absent. */
  agent?: Agent;
}

/** Node's codes for a server certificate we cannot trust. */
const TLS_TRUST_ERRORS = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

interface Answer {
  status: number;
  body: unknown;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function createKeepAliveAgent(): Agent {
  // Idle sockets are dropped before the agent server's 30 s keep-alive timeout closes them.
  return new Agent({ keepAlive: true, maxSockets: 32, timeout: 15_000 });
}

export class HttpsAgentClient implements NodeAgentApi {
  readonly nodeName: string;
  readonly baseUrl: string;
  private readonly timeoutMs: number;
  private readonly agent: Agent;
  private readonly ownsAgent: boolean;

  constructor(private readonly options: HttpsAgentClientOptions) {
    this.nodeName = options.nodeName;
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    this.ownsAgent = options.agent === undefined;
    this.agent = options.agent ?? createKeepAliveAgent();
  }

  async prepareTarget(request: PrepareTargetRequest): Promise<TargetReady> {
    const answer = await this.call('POST', `${this.migrationPath(request.migrationUid)}/prepare`, request);
    return this.expectObject<TargetReady>(answer, 'targetNodeAddress');
  }

  async startMigration(request: StartMigrationRequest): Promise<void> {
    await this.call('POST', `${this.migrationPath(request.migrationUid)}/start`, request);
  }

  async migrationStatus(migrationUid: string): Promise<MigrationJobStatus | undefined> {
    const answer = await this.call('GET', this.migrationPath(migrationUid), undefined, { unknownMigrationIsUndefined: true });
    if (answer === undefined) return undefined;
    const status = this.expectObject<MigrationJobStatus>(answer, 'state');
    if (!(MIGRATION_JOB_STATES as readonly string[]).includes(status.state)) {
      throw new AgentCallError('Internal', this.nodeName, `unknown migration state ${JSON.stringify(status.state)}`);
    }
    return status;
  }

  async abortMigration(migrationUid: string): Promise<AbortResult> {
    const answer = await this.call('POST', `${this.migrationPath(migrationUid)}/abort`);
    return this.expectObject<AbortResult>(answer, 'result');
  }

  async confirmArrival(migrationUid: string): Promise<ArrivalStatus> {
    const answer = await this.call('GET', `${this.migrationPath(migrationUid)}/arrival`);
    return this.expectObject<ArrivalStatus>(answer, 'domainDetected');
  }

  async releaseTarget(migrationUid: string): Promise<void> {
    await this.call('DELETE', `${this.migrationPath(migrationUid)}/target`);
  }

  async health(): Promise<AgentHealth> {
    return this.expectObject<AgentHealth>(await this.call('GET', '/v1/health'), 'nodeName');
  }

  /** Closes idle connections (only when the client made its own pool). */
  close(): void {
    if (this.ownsAgent) this.agent.destroy();
  }

  private migrationPath(uid: string): string {
    return `/v1/migrations/${encodeURIComponent(uid)}`;
  }

  /** The answer's body, after checking it is an object with the field the type is known by. */
  private expectObject<T>(answer: Answer | undefined, field: string): T {
    const body = answer?.body;
    if (!isObject(body) || !(field in body)) {
      throw new AgentCallError('Internal', this.nodeName, `unexpected answer: ${JSON.stringify(body)?.slice(0, 200)}`);
    }
    return body as T;
  }

  private async call(method: string, path: string, body?: unknown): Promise<Answer>;
  private async call(method: string, path: string, body: unknown, options: { unknownMigrationIsUndefined: true }): Promise<Answer | undefined>;
  private async call(method: string, path: string, body?: unknown, options?: { unknownMigrationIsUndefined: true }): Promise<Answer | undefined> {
    let answer: Answer;
    try {
      answer = await this.send(method, path, body);
    } catch (error) {
      if (!(error instanceof StaleSocketError)) throw error;
      answer = await this.send(method, path, body);
    }
    const { status } = answer;
    if (status >= 200 && status < 300) return answer;
    const reason = isObject(answer.body) ? answer.body.reason : undefined;
    const text = isObject(answer.body) && typeof answer.body.error === 'string' ? answer.body.error : `HTTP ${status}`;
    if (status === 404 && reason === 'MigrationNotFound' && options?.unknownMigrationIsUndefined) return undefined;
    if (status === 401 || status === 403) throw new AgentCallError('Unauthenticated', this.nodeName, `${status}: ${text}`);
    if (status === 404) throw new AgentCallError('NotFound', this.nodeName, text);
    if (status === 409) throw new AgentCallError('Conflict', this.nodeName, text);
    // A draining agent is going away: as good as unreachable for new work.
    if (status === 503) throw new AgentCallError('Unreachable', this.nodeName, `503: ${text}`);
    throw new AgentCallError('Internal', this.nodeName, `${status}: ${text}`);
  }

  private send(method: string, path: string, body: unknown): Promise<Answer> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const url = new URL(`${this.baseUrl}${path}`);
    // Read per request: new connections use rotated material (the keep-alive pool keys sockets by it).
    const { ca, cert, key } = typeof this.options.tls === 'function' ? this.options.tls() : this.options.tls;
    const { serverName } = this.options;
    const requestOptions: RequestOptions = {
      method,
      hostname: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port,
      path: url.pathname,
      agent: this.agent,
      ca,
      cert,
      key,
      ...(serverName ? { servername: serverName, checkServerIdentity: (_host: string, peer: PeerCertificate) => checkServerIdentity(serverName, peer) } : {}),
      headers: {
        accept: 'application/json',
        ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}),
      },
    };
    return new Promise<Answer>((resolve, reject) => {
      let settled = false;
      const fail = (error: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(error);
      };
      const req = httpsRequest(requestOptions, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE_BYTES) {
            req.destroy();
            fail(new AgentCallError('Internal', this.nodeName, `answer larger than ${MAX_RESPONSE_BYTES} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('error', (error) => fail(new AgentCallError('Unreachable', this.nodeName, `${method} ${path}: ${error.message}`)));
        res.on('end', () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown;
          try {
            parsed = text === '' ? undefined : (JSON.parse(text) as unknown);
          } catch {
            parsed = { error: text.slice(0, 500) };
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      });
      const timer = setTimeout(() => {
        req.destroy();
        fail(new AgentCallError('Unreachable', this.nodeName, `${method} ${path}: no answer within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      req.on('error', (error: NodeJS.ErrnoException) => {
        const code = error.code ?? '';
        if (req.reusedSocket && (code === 'ECONNRESET' || code === 'EPIPE')) return fail(new StaleSocketError());
        if (TLS_TRUST_ERRORS.has(code)) {
          return fail(new AgentCallError('Unauthenticated', this.nodeName, `server certificate of ${this.baseUrl} not trusted: ${error.message}`));
        }
        fail(new AgentCallError('Unreachable', this.nodeName, `${method} ${path}: ${error.message}`));
      });
      req.end(payload);
    });
  }
}

/** A keep-alive socket the server closed just as we reused it; the call is sent once more. */
class StaleSocketError extends Error {}

export interface AgentClientPoolOptions {
  tls: AgentClientTlsSource;
  timeoutMs?: number;
}

/**
 * One client per node, for its current endpoint, sharing one keep-alive connection pool. A node
 * whose endpoint changed gets a new client and the old one is dropped, so the pool holds at most
 * one client per node (nothing per migration). Each client accepts only its node's own certificate
 * (agentServerName): one node's agent cannot answer for another.
 */
export class AgentClientPool {
  private readonly clients = new Map<string, HttpsAgentClient>();
  private readonly agent = createKeepAliveAgent();

  constructor(private readonly options: AgentClientPoolOptions) {}

  client(nodeName: string, endpoint: string): HttpsAgentClient {
    let client = this.clients.get(nodeName);
    if (client === undefined || client.baseUrl !== endpoint.replace(/\/+$/, '')) {
      client = new HttpsAgentClient({
        nodeName,
        baseUrl: endpoint,
        tls: this.options.tls,
        serverName: agentServerName(nodeName),
        agent: this.agent,
        ...(this.options.timeoutMs !== undefined ? { timeoutMs: this.options.timeoutMs } : {}),
      });
      this.clients.set(nodeName, client);
    }
    return client;
  }

  /** Drops clients of a node (its endpoint changed or it left). */
  forget(nodeName: string): void {
    this.clients.delete(nodeName);
  }

  get size(): number {
    return this.clients.size;
  }

  close(): void {
    this.clients.clear();
    this.agent.destroy();
  }
}
