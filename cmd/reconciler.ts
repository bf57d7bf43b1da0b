// Entry point of the reconciler. Flags win over environment variables:
//   --kubeconfig / KUBECONFIG (in-cluster config when neither is set)
//   --namespace / POD_NAMESPACE (live-migration): the leader Lease and the agents' Leases live here
//   --watch-namespace / WATCH_NAMESPACE: reconcile one namespace only (default: all)
//   --config-namespace / CONFIG_NAMESPACE (kubevirt), --config-name / CONFIG_NAME (kubevirt-config)
//   --agent-ca-file, --agent-client-cert-file, --agent-client-key-file (mutual TLS to the agents; required)
//   --agent-server-name / AGENT_SERVER_NAME: the name agents' certificates carry (checked instead of the node IP)
//   --health-port / HEALTH_PORT (8081): /healthz, /readyz, /metrics
//   --identity (hostname-pid), --workers (4), --log-level (info)
//   --lease-duration-seconds (15), --renew-deadline-ms (10000), --retry-period-ms (2000)
// SIGTERM/SIGINT: stop writing, release the leader Lease, finish in-flight reconciles, exit 0.
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { stopOnSignals } from './lifecycle.js';
import { DEFAULT_CONFIG_LOCATION } from '../api/cluster-config.js';
import { startReconciler } from '../reconciler/app.js';

const { values } = parseArgs({
  options: {
    kubeconfig: { type: 'string' },
    namespace: { type: 'string' },
    'watch-namespace': { type: 'string' },
    'config-namespace': { type: 'string' },
    'config-name': { type: 'string' },
    'agent-ca-file': { type: 'string' },
    'agent-client-cert-file': { type: 'string' },
    'agent-client-key-file': { type: 'string' },
    'agent-server-name': { type: 'string' },
    'health-port': { type: 'string' },
    identity: { type: 'string' },
    workers: { type: 'string' },
    'log-level': { type: 'string' },
    'lease-duration-seconds': { type: 'string' },
    'renew-deadline-ms': { type: 'string' },
    'retry-period-ms': { type: 'string' },
  },
  strict: true,
});

const env = process.env;
const logger = pino({ level: values['log-level'] ?? env.LOG_LEVEL ?? 'info', base: { component: 'reconciler' } });

function required(name: string, value: string | undefined): string {
  if (!value) {
    logger.fatal({}, `--${name} is required`);
    process.exit(2);
  }
  return value;
}

function integer(name: string, value: string | undefined, fallback: number | undefined): number | undefined {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) {
    logger.fatal({ value }, `--${name} must be a non-negative integer`);
    process.exit(2);
  }
  return n;
}

const reconciler = await startReconciler({
  kubeconfig: values.kubeconfig ?? env.KUBECONFIG,
  namespace: values.namespace ?? env.POD_NAMESPACE ?? 'live-migration',
  watchNamespace: values['watch-namespace'] ?? env.WATCH_NAMESPACE,
  configLocation: {
    namespace: values['config-namespace'] ?? env.CONFIG_NAMESPACE ?? DEFAULT_CONFIG_LOCATION.namespace,
    name: values['config-name'] ?? env.CONFIG_NAME ?? DEFAULT_CONFIG_LOCATION.name,
  },
  agentTls: {
    caFile: required('agent-ca-file', values['agent-ca-file'] ?? env.AGENT_CA_FILE),
    certFile: required('agent-client-cert-file', values['agent-client-cert-file'] ?? env.AGENT_CLIENT_CERT_FILE),
    keyFile: required('agent-client-key-file', values['agent-client-key-file'] ?? env.AGENT_CLIENT_KEY_FILE),
    serverName: values['agent-server-name'] ?? env.AGENT_SERVER_NAME,
  },
  healthPort: integer('health-port', values['health-port'] ?? env.HEALTH_PORT, 8081) ?? 8081,
  identity: values.identity,
  workers: integer('workers', values.workers, 4),
  leaseDurationSeconds: integer('lease-duration-seconds', values['lease-duration-seconds'], undefined),
  renewDeadlineMs: integer('renew-deadline-ms', values['renew-deadline-ms'], undefined),
  retryPeriodMs: integer('retry-period-ms', values['retry-period-ms'], undefined),
  logger,
});
logger.info({ healthPort: reconciler.healthPort }, 'reconciler started');

stopOnSignals(logger, 'stopping: releasing leadership, finishing in-flight reconciles', () => reconciler.stop());
