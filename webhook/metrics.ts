// Prometheus metrics of the webhook, on a registry of its own so several servers can live in one
// process (tests, the benchmark) without clashing on prom-client's global registry.
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface WebhookMetrics {
  registry: Registry;
  /** Seconds from the request's first byte to the answer, by webhook path and HTTP status. */
  requestDuration: Histogram<'path' | 'code'>;
  /** Admission decisions by path, outcome and reason (a closed set, see DECISION_REASONS). */
  decisions: Counter<'path' | 'allowed' | 'reason'>;
  /** Requests refused before a decision: 400, 404, 413, 415. */
  badRequests: Counter<'path' | 'code'>;
  /** API calls made while answering a request (the VMI fetched once on a cache miss). */
  apiCalls: Counter<'resource' | 'result'>;
}

export function createWebhookMetrics(options: { defaultMetrics?: boolean } = {}): WebhookMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'live_migration_webhook_' });
  return {
    registry,
    requestDuration: new Histogram({
      name: 'live_migration_webhook_request_duration_seconds',
      help: 'Time to answer an admission request.',
      labelNames: ['path', 'code'],
      // The target is p99 under 2 ms, so the low end is fine-grained.
      buckets: [0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 2.5],
      registers: [registry],
    }),
    decisions: new Counter({
      name: 'live_migration_webhook_decisions_total',
      help: 'Admission decisions by outcome and reason.',
      labelNames: ['path', 'allowed', 'reason'],
      registers: [registry],
    }),
    badRequests: new Counter({
      name: 'live_migration_webhook_bad_requests_total',
      help: 'Requests refused before any decision (malformed, too large, wrong content type).',
      labelNames: ['path', 'code'],
      registers: [registry],
    }),
    apiCalls: new Counter({
      name: 'live_migration_webhook_api_calls_total',
      help: 'API server calls made on the request path (a VMI missing from the cache is fetched once).',
      labelNames: ['resource', 'result'],
      registers: [registry],
    }),
  };
}
