// The HTTPS admission server: three webhook paths answering admission.k8s.io AdmissionReviews in
// the version they were sent, plus /healthz, /readyz and /metrics. Requests that are not
// AdmissionReviews get 4xx with a JSON error; anything that goes wrong while deciding answers
// allowed:false (fail closed) and never takes the process down.
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import type { AdmissionCache } from './cache.js';
import { decide, WEBHOOK_PATHS } from './decide.js';
import type { WebhookMetrics } from './metrics.js';
import type { CertificateReloader } from './tls.js';
import { vmiNameOf } from './admission/validate-migration.js';
import {
  ADMISSION_API_VERSIONS,
  deny,
  isPlainObject,
  qualifiedName,
  type AdmissionApiVersion,
  type AdmissionRequest,
  type AdmissionResponse,
  type AdmissionReviewResponse,
  type Decision,
  type Operation,
} from './admission/types.js';

/** The API server's own limit on a request body (3 MiB); no AdmissionReview it sends is larger. */
export const MAX_BODY_BYTES = 3 * 1024 * 1024;

export { WEBHOOK_PATHS };
const OPERATIONS: readonly Operation[] = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'];

export interface WebhookAppOptions {
  cache: AdmissionCache;
  logger: Logger;
  metrics: WebhookMetrics;
  /** Username of the system's own service account, the only one that may set spec.priority. */
  systemServiceAccount: string;
  /** Groups whose members may set spec.migrationConfiguration (privileged.ts); default system:masters. */
  privilegedGroups?: readonly string[];
  maxBodyBytes?: number;
}

class BadRequest extends Error {
  constructor(
    readonly status: 400 | 413 | 415,
    message: string,
  ) {
    super(message);
  }
}

/** Checks the shape of an AdmissionReview enough to answer it; throws BadRequest otherwise. */
export function parseAdmissionReview(body: unknown): { apiVersion: AdmissionApiVersion; request: AdmissionRequest } {
  if (!isPlainObject(body)) throw new BadRequest(400, 'body is not a JSON object');
  if (body.kind !== 'AdmissionReview') throw new BadRequest(400, 'kind must be AdmissionReview');
  const apiVersion = body.apiVersion as AdmissionApiVersion;
  if (!ADMISSION_API_VERSIONS.includes(apiVersion)) {
    throw new BadRequest(400, `apiVersion must be one of ${ADMISSION_API_VERSIONS.join(', ')}`);
  }
  const request = body.request;
  if (!isPlainObject(request)) throw new BadRequest(400, 'request is missing');
  if (typeof request.uid !== 'string' || request.uid === '') throw new BadRequest(400, 'request.uid must be a non-empty string');
  if (!OPERATIONS.includes(request.operation as Operation)) throw new BadRequest(400, `request.operation must be one of ${OPERATIONS.join(', ')}`);
  if (!isPlainObject(request.kind) || typeof request.kind.kind !== 'string') throw new BadRequest(400, 'request.kind.kind must be a string');
  if (request.namespace !== undefined && typeof request.namespace !== 'string') throw new BadRequest(400, 'request.namespace must be a string');
  if (request.name !== undefined && typeof request.name !== 'string') throw new BadRequest(400, 'request.name must be a string');
  const userInfo = isPlainObject(request.userInfo) ? request.userInfo : {};
  return {
    apiVersion,
    request: {
      ...(request as unknown as AdmissionRequest),
      userInfo: {
        username: typeof userInfo.username === 'string' ? userInfo.username : undefined,
        groups: Array.isArray(userInfo.groups) ? userInfo.groups.filter((g): g is string => typeof g === 'string') : undefined,
      },
    },
  };
}

function objectName(request: AdmissionRequest): string | undefined {
  if (request.name) return request.name;
  const object = request.object ?? request.oldObject;
  if (isPlainObject(object) && isPlainObject(object.metadata)) {
    const { name, generateName } = object.metadata;
    if (typeof name === 'string' && name !== '') return name;
    if (typeof generateName === 'string') return `${generateName}*`;
  }
  return undefined;
}

/** metav1.StatusReason per code: what `kubectl` shows in "Error from server (<reason>)". */
const STATUS_REASONS: Record<number, string> = { 400: 'BadRequest', 422: 'Invalid', 500: 'InternalError', 503: 'ServiceUnavailable' };

function toResponse(uid: string, decision: Decision): AdmissionResponse {
  if (!decision.allowed) {
    const code = decision.code ?? 400;
    const status: NonNullable<AdmissionResponse['status']> = { code, message: decision.message, reason: STATUS_REASONS[code] ?? 'BadRequest' };
    // The API server passes the whole status on to the client, causes (with their field) included.
    if (decision.causes?.length) status.details = { causes: decision.causes };
    return { uid, allowed: false, status };
  }
  const response: AdmissionResponse = { uid, allowed: true };
  if (decision.patch && decision.patch.length > 0) {
    response.patchType = 'JSONPatch';
    response.patch = Buffer.from(JSON.stringify(decision.patch)).toString('base64');
  }
  if (decision.warnings?.length) response.warnings = decision.warnings;
  return response;
}

export function createWebhookApp(options: WebhookAppOptions): { app: express.Express; setDraining(): void } {
  const { logger, metrics } = options;
  const limit = options.maxBodyBytes ?? MAX_BODY_BYTES;
  let draining = false;
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');

  app.get('/healthz', (_req, res) => {
    res.type('text/plain').send('ok');
  });
  app.get('/readyz', (_req, res) => {
    const trust = options.cache.trust();
    const ready = !draining && trust.trusted;
    res.status(ready ? 200 : 503).type('text/plain').send(draining ? 'shutting down' : trust.trusted ? 'ok' : `caches not synced (${trust.reason})`);
  });
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  const rawJson = express.raw({ type: 'application/json', limit });

  for (const path of Object.values(WEBHOOK_PATHS)) {
    app.post(
      path,
      (req: Request, _res: Response, next: NextFunction) => {
        requestTimer(req).start = process.hrtime.bigint();
        const type = req.is('application/json');
        if (type === null) return next(new BadRequest(400, 'request has no body'));
        if (type === false) return next(new BadRequest(415, `content type must be application/json, got ${req.headers['content-type'] ?? 'none'}`));
        next();
      },
      rawJson,
      async (req: Request, res: Response) => {
        const start = requestTimer(req).start ?? process.hrtime.bigint();
        let review: ReturnType<typeof parseAdmissionReview>;
        try {
          const body: unknown = JSON.parse((req.body as Buffer).toString('utf8'));
          review = parseAdmissionReview(body);
        } catch (error) {
          const bad = error instanceof BadRequest ? error : new BadRequest(400, `body is not valid JSON: ${(error as Error).message}`);
          return sendBadRequest(res, path, bad, start);
        }
        const { apiVersion, request } = review;
        let decision: Decision;
        try {
          decision = await decide(path, request, options);
        } catch (error) {
          // Fail closed, and say why: the user sees this on kubectl.
          const detail = error instanceof Error ? error.message : String(error);
          const vmi = qualifiedName(request.namespace, vmiNameOf(request.object));
          decision = deny('InternalError', `Cannot decide on migration of VMI ${vmi}: internal error: ${detail}`, 500);
          logger.error({ uid: request.uid, err: detail }, 'internal error while deciding');
        }
        const answer: AdmissionReviewResponse = { apiVersion, kind: 'AdmissionReview', response: toResponse(request.uid, decision) };
        // Written directly: res.json's content negotiation and header bookkeeping cost more than
        // the decision itself on the hot path.
        const payload = JSON.stringify(answer);
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
        res.end(payload);
        const seconds = Number(process.hrtime.bigint() - start) / 1e9;
        metrics.requestDuration.observe({ path, code: '200' }, seconds);
        metrics.decisions.inc({ path, allowed: String(decision.allowed), reason: decision.reason });
        logger.info(
          {
            uid: request.uid,
            path,
            kind: request.kind.kind,
            operation: request.operation,
            namespace: request.namespace,
            name: objectName(request),
            user: request.userInfo.username,
            allowed: decision.allowed,
            reason: decision.reason,
            ...(decision.allowed ? {} : { message: decision.message }),
            latencyMs: Math.round(seconds * 1e6) / 1e3,
          },
          'admission',
        );
      },
    );
  }

  function sendBadRequest(res: Response, path: string, bad: BadRequest, start: bigint): void {
    res.status(bad.status).json({ error: bad.message, code: bad.status });
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    metrics.requestDuration.observe({ path, code: String(bad.status) }, seconds);
    metrics.badRequests.inc({ path, code: String(bad.status) });
    logger.info({ path, code: bad.status, error: bad.message, latencyMs: Math.round(seconds * 1e6) / 1e3 }, 'bad request');
  }

  app.use((_req: Request, res: Response) => {
    res.status(404).json({ error: 'not found', code: 404 });
  });
  // Errors from the body reader (too large, aborted, bad encoding) and our own BadRequests.
  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const start = requestTimer(req).start ?? process.hrtime.bigint();
    const status = (error as { status?: number }).status;
    const bad =
      error instanceof BadRequest
        ? error
        : status === 413
          ? new BadRequest(413, `body is larger than the limit of ${limit} bytes`)
          : status === 415
            ? new BadRequest(415, (error as Error).message)
            : new BadRequest(400, error instanceof Error ? error.message : 'bad request');
    if (res.headersSent) return;
    sendBadRequest(res, req.path, bad, start);
  });

  return { app, setDraining: () => (draining = true) };
}

function requestTimer(req: Request): { start?: bigint } {
  return req as unknown as { start?: bigint };
}

export interface RunningWebhookServer {
  server: Server;
  port: number;
  /** Stops accepting, lets in-flight requests finish (up to graceMs), then closes every connection. */
  close(graceMs?: number): Promise<void>;
}

export async function startWebhookServer(
  options: WebhookAppOptions & { tls: CertificateReloader; port?: number; host?: string },
): Promise<RunningWebhookServer> {
  const { app, setDraining } = createWebhookApp(options);
  const { cert, key } = options.tls.keyPair;
  const server = createServer({ cert, key, minVersion: 'TLSv1.2' }, app);
  // Bounds on slow or stuck clients, so a bad peer cannot hold a socket forever.
  server.headersTimeout = 10_000;
  server.requestTimeout = 15_000;
  server.keepAliveTimeout = 30_000;
  options.tls.attach(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('tlsClientError', () => {
    // A client that failed the handshake; nothing to answer, and not worth a log line each.
  });
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    close: async (graceMs = 10_000) => {
      setDraining();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), graceMs);
      timer.unref();
      await closed;
      clearTimeout(timer);
    },
  };
}
