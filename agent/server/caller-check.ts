// Who may call the agent: mutual TLS, decided per request.
// Why not let the TLS handshake reject (rejectUnauthorized: true): a refused handshake is an opaque
// socket error on the caller's side and nothing in our logs or metrics. Accepting the handshake and
// answering 401 (no certificate, or not signed by the agent's client CA) and 403 (a good
// certificate of a caller that is not allowed) says precisely what is wrong, and still nothing
// reaches the driver.
import { TLSSocket } from 'node:tls';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { ErrorBody } from './agent-app.js';

/** The reconciler's client certificate CN. */
export const DEFAULT_ALLOWED_CALLERS = ['CN=live-migration-reconciler'] as const;

export interface AllowedCaller {
  field: 'CN' | 'O';
  value: string;
}

/** "CN=name", "O=org", or a bare name meaning CN=name. */
export function parseAllowedCallers(entries: readonly string[]): AllowedCaller[] {
  return entries
    .map((e) => e.trim())
    .filter((e) => e !== '')
    .map((entry) => {
      const match = /^(CN|O)=(.+)$/i.exec(entry);
      if (match) return { field: match[1]!.toUpperCase() as 'CN' | 'O', value: match[2]! };
      return { field: 'CN', value: entry };
    });
}

function values(field: string | string[] | undefined): string[] {
  return field === undefined ? [] : Array.isArray(field) ? field : [field];
}

export type CallerDecision =
  | { allowed: true; caller: string }
  | { allowed: false; status: 401 | 403; message: string };

/** Decides on the peer of a TLS socket (the server must have been created with requestCert). */
export function decideCaller(socket: unknown, allowed: readonly AllowedCaller[]): CallerDecision {
  if (!(socket instanceof TLSSocket)) return { allowed: false, status: 401, message: 'not a TLS connection' };
  const cert = socket.getPeerCertificate();
  // An empty object when the client presented no certificate.
  if (cert === null || Object.keys(cert).length === 0) {
    return { allowed: false, status: 401, message: 'a client certificate is required' };
  }
  if (!socket.authorized) {
    return { allowed: false, status: 401, message: `client certificate not accepted: ${String(socket.authorizationError ?? 'unknown reason')}` };
  }
  const cns = values(cert.subject?.CN);
  const orgs = values(cert.subject?.O);
  const ok = allowed.some((a) => (a.field === 'CN' ? cns : orgs).includes(a.value));
  const who = `CN=${cns.join(',') || '(none)'}${orgs.length ? ` O=${orgs.join(',')}` : ''}`;
  if (!ok) return { allowed: false, status: 403, message: `caller ${who} is not allowed to use this agent` };
  return { allowed: true, caller: who };
}

/** Express middleware: 401/403 with a JSON error, or on to the routes with res.locals.caller set. */
export function callerCheck(allowed: readonly AllowedCaller[]): RequestHandler {
  if (allowed.length === 0) throw new Error('the allowed caller list is empty: nobody could use the agent');
  return (req: Request, res: Response, next: NextFunction) => {
    const decision = decideCaller(req.socket, allowed);
    if (!decision.allowed) {
      const body: ErrorBody = { error: decision.message, reason: decision.status === 401 ? 'Unauthenticated' : 'Forbidden' };
      res.status(decision.status).json(body);
      return;
    }
    (res.locals as { caller?: string }).caller = decision.caller;
    next();
  };
}
