// The agent API of ONE node: its MigrationDriver over HTTP, every route keyed by migration UID.
//
//   POST   /v1/migrations/:uid/prepare  PrepareTargetRequest  → 200 TargetReady
//   POST   /v1/migrations/:uid/start    StartMigrationRequest → 202 (started) | 200 (already known)
//   GET    /v1/migrations/:uid                                → 200 MigrationJobStatus | 404
//   POST   /v1/migrations/:uid/abort                          → 200 AbortResult
//   GET    /v1/migrations/:uid/arrival                        → 200 ArrivalStatus
//   DELETE /v1/migrations/:uid/target                         → 204
//   GET    /v1/health                                         → 200 AgentHealth
//
// Every error is JSON `{ error, reason }`: 400 bad body or UID (naming the field), 401/403 from the
// caller check, 404 (reason MigrationNotFound for an unknown migration, NotFound for an unknown
// route), 409 Conflict from a driver, 413 body too large, 415 not JSON, 500 the driver's message,
// 503 while shutting down (new work only; status and abort are still answered).
// The caller check is a required option: this app never serves anonymous callers by accident.
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import type { Logger } from 'pino';
import { checkPrepareTargetRequest, checkStartMigrationRequest, isMigrationUid, type BodyCheck } from '../api-schemas.js';
import { AgentCallError, type AgentHealth, type MigrationDriver } from '../contract.js';
import type { AgentMetrics } from './agent-metrics.js';
import { SingleFlight } from '../single-flight.js';
import { MigrationTracker } from './migration-tracker.js';

/** A request body is a few hundred bytes; 64 KiB leaves room for many annotations and no more. */
export const MAX_BODY_BYTES = 64 * 1024;

export const AGENT_ROUTES = {
  prepare: '/v1/migrations/:uid/prepare',
  start: '/v1/migrations/:uid/start',
  status: '/v1/migrations/:uid',
  abort: '/v1/migrations/:uid/abort',
  arrival: '/v1/migrations/:uid/arrival',
  target: '/v1/migrations/:uid/target',
  health: '/v1/health',
} as const;

/** The `reason` of an error answer; the client maps them to AgentCallError codes. */
export type ErrorReason =
  | 'BadRequest'
  | 'Unauthenticated'
  | 'Forbidden'
  | 'NotFound'
  | 'MigrationNotFound'
  | 'Conflict'
  | 'PayloadTooLarge'
  | 'UnsupportedMediaType'
  | 'ShuttingDown'
  | 'Internal';

export interface ErrorBody {
  error: string;
  reason: ErrorReason;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly reason: ErrorReason,
    message: string,
  ) {
    super(message);
  }
}

export interface AgentAppOptions {
  nodeName: string;
  driver: MigrationDriver;
  /** Answers 401/403 for callers that may not use the API; runs before every route. */
  authenticate: RequestHandler;
  logger: Logger;
  metrics?: AgentMetrics;
  version?: string;
  maxBodyBytes?: number;
  /** More routes behind the same authentication (the VM console), registered before the 404. */
  routes?: (app: express.Express) => void;
}

export interface AgentApp {
  app: express.Express;
  /** Refuse new work (prepare, start) with 503; keep answering the rest. */
  setDraining(): void;
}

const KNOWN_ROUTES: Array<[method: string, pattern: RegExp, route: string]> = [
  ['POST', /^\/v1\/migrations\/[^/]+\/prepare$/, AGENT_ROUTES.prepare],
  ['POST', /^\/v1\/migrations\/[^/]+\/start$/, AGENT_ROUTES.start],
  ['POST', /^\/v1\/migrations\/[^/]+\/abort$/, AGENT_ROUTES.abort],
  ['GET', /^\/v1\/migrations\/[^/]+\/arrival$/, AGENT_ROUTES.arrival],
  ['DELETE', /^\/v1\/migrations\/[^/]+\/target$/, AGENT_ROUTES.target],
  ['GET', /^\/v1\/migrations\/[^/]+$/, AGENT_ROUTES.status],
  ['GET', /^\/v1\/health$/, AGENT_ROUTES.health],
];

/** The route pattern of a request, for metric labels: never the UID (unbounded cardinality). */
function routeLabel(req: Request): string {
  const match = KNOWN_ROUTES.find(([method, pattern]) => method === req.method && pattern.test(req.path));
  return match?.[2] ?? 'other';
}

function sendError(res: Response, error: HttpError): void {
  const body: ErrorBody = { error: error.message, reason: error.reason };
  res.status(error.status).json(body);
}

export function createAgentApp(options: AgentAppOptions): AgentApp {
  const { driver, nodeName, logger, metrics } = options;
  const limit = options.maxBodyBytes ?? MAX_BODY_BYTES;
  const tracker = new MigrationTracker(driver);
  // One start per UID: a resend arriving while the first start is still being carried out waits
  // for it instead of racing it (the drivers hold the same rule on their own).
  const starts = new SingleFlight<string, { started: boolean; state?: string }>();
  metrics?.addMigrationSource(nodeName, () => tracker.counts());
  let draining = false;

  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');

  // Metrics and one log line per call, whatever its outcome (401s included).
  app.use((req: Request, res: Response, next: NextFunction) => {
    const start = process.hrtime.bigint();
    res.on('finish', () => {
      const route = routeLabel(req);
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      metrics?.calls.inc({ node: nodeName, route, code: String(res.statusCode) });
      metrics?.callDuration.observe({ node: nodeName, route }, seconds);
      // Status polls are frequent and dull; everything else is worth a line.
      const level = req.method === 'GET' && res.statusCode < 400 ? 'debug' : 'info';
      logger[level](
        {
          node: nodeName,
          method: req.method,
          route,
          uid: req.params.uid,
          code: res.statusCode,
          caller: (res.locals as { caller?: string }).caller,
          latencyMs: Math.round(seconds * 1e6) / 1e3,
        },
        'agent call',
      );
    });
    next();
  });

  app.use(options.authenticate);

  const requireJson: RequestHandler = (req, _res, next) => {
    const type = req.is('application/json');
    if (type === null) return next(new HttpError(400, 'BadRequest', 'request has no body'));
    if (type === false) {
      return next(new HttpError(415, 'UnsupportedMediaType', `content type must be application/json, got ${req.headers['content-type'] ?? 'none'}`));
    }
    next();
  };
  const parseJson = express.json({ limit, type: 'application/json', strict: true });

  const refuseWhileDraining: RequestHandler = (_req, _res, next) => {
    next(draining ? new HttpError(503, 'ShuttingDown', `agent on ${nodeName} is shutting down`) : undefined);
  };

  /** The UID of the path, checked; for bodies, the body's migrationUid must be the same. */
  function pathUid(req: Request): string {
    const uid = req.params.uid;
    if (typeof uid !== 'string' || !isMigrationUid(uid)) {
      throw new HttpError(400, 'BadRequest', `migration UID in the path is not a UID: ${JSON.stringify(uid)}`);
    }
    return uid;
  }

  function body<T extends { migrationUid: string }>(req: Request, check: (body: unknown) => BodyCheck<T>): T {
    const uid = pathUid(req);
    const result = check(req.body);
    if (!result.ok) throw new HttpError(400, 'BadRequest', result.error);
    if (result.value.migrationUid !== uid) {
      throw new HttpError(400, 'BadRequest', `migrationUid: ${JSON.stringify(result.value.migrationUid)} does not match the UID in the path (${JSON.stringify(uid)})`);
    }
    return result.value;
  }

  app.post(AGENT_ROUTES.prepare, refuseWhileDraining, requireJson, parseJson, async (req: Request, res: Response) => {
    const request = body(req, checkPrepareTargetRequest);
    res.status(200).json(await driver.prepareTarget(request));
  });

  app.post(AGENT_ROUTES.start, refuseWhileDraining, requireJson, parseJson, async (req: Request, res: Response) => {
    const request = body(req, checkStartMigrationRequest);
    const uid = request.migrationUid;
    // 200 vs 202 tells the caller whether this call started it; either way it runs exactly once.
    const follower = starts.get(uid) !== undefined;
    const answer = await starts.run(uid, async () => {
      const known = await driver.migrationStatus(uid);
      if (known !== undefined) return { started: false, state: known.state };
      await driver.startMigration(request);
      tracker.add(uid);
      return { started: true };
    });
    if (answer.started && !follower) {
      res.status(202).json({ started: true });
      return;
    }
    const state = answer.state ?? (await driver.migrationStatus(uid))?.state ?? 'Running';
    res.status(200).json({ started: false, state });
  });

  app.get(AGENT_ROUTES.health, (_req: Request, res: Response) => {
    const health: AgentHealth = { nodeName, driver: driver.name, version: options.version ?? 'unknown' };
    res.status(200).json(health);
  });

  app.get(AGENT_ROUTES.status, async (req: Request, res: Response) => {
    const uid = pathUid(req);
    const status = await driver.migrationStatus(uid);
    if (status === undefined) throw new HttpError(404, 'MigrationNotFound', `no outgoing migration ${uid} on ${nodeName}`);
    res.status(200).json(status);
  });

  app.post(AGENT_ROUTES.abort, async (req: Request, res: Response) => {
    res.status(200).json(await driver.abortMigration(pathUid(req)));
  });

  app.get(AGENT_ROUTES.arrival, async (req: Request, res: Response) => {
    res.status(200).json(await driver.confirmArrival(pathUid(req)));
  });

  app.delete(AGENT_ROUTES.target, async (req: Request, res: Response) => {
    await driver.releaseTarget(pathUid(req));
    res.status(204).end();
  });

  options.routes?.(app);

  app.use((req: Request, _res: Response, next: NextFunction) => {
    next(new HttpError(404, 'NotFound', `no route ${req.method} ${req.path}`));
  });

  // Our HttpErrors, the body reader's errors (too large, bad JSON), and whatever a driver threw:
  // always an answer, never a crash.
  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (res.headersSent) return;
    sendError(res, toHttpError(error, limit));
    if (!(error instanceof HttpError) && (error as { status?: number }).status === undefined) {
      logger.error({ node: nodeName, method: req.method, path: req.path, err: error instanceof Error ? error.message : String(error) }, 'driver error');
    }
  });

  return { app, setDraining: () => (draining = true) };
}

function toHttpError(error: unknown, limit: number): HttpError {
  if (error instanceof HttpError) return error;
  const message = error instanceof Error ? error.message : String(error);
  // A driver may say precisely what went wrong with the contract's own codes.
  if (error instanceof AgentCallError) {
    if (error.code === 'NotFound') return new HttpError(404, 'NotFound', message);
    if (error.code === 'Conflict') return new HttpError(409, 'Conflict', message);
    return new HttpError(500, 'Internal', message);
  }
  // body-parser's errors carry a status and a type.
  const status = (error as { status?: number }).status;
  if (status === 413) return new HttpError(413, 'PayloadTooLarge', `body is larger than the limit of ${limit} bytes`);
  if (status === 415) return new HttpError(415, 'UnsupportedMediaType', message);
  if (status !== undefined && status >= 400 && status < 500) return new HttpError(400, 'BadRequest', `body is not valid JSON: ${message}`);
  return new HttpError(500, 'Internal', message);
}
