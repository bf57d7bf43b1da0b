// Entry point of the reconciler; its flags (and the environment variables they override) are the
// table below, printed by --help with what the process does on SIGTERM.
import { pino } from 'pino';
import { parseFlags } from './flags.js';
import { stopOnSignals } from './lifecycle.js';
import { DEFAULT_CONFIG_LOCATION } from '../api/cluster-config.js';
import { startReconciler } from '../reconciler/app.js';

const values = parseFlags({
  command: 'live-migration reconciler',
  summary: 'The reconciler: the migration queue under limits, target choice, dispatch to the node agents, timeouts, cancel.',
  flags: {
    kubeconfig: { type: 'string', value: 'FILE', env: 'KUBECONFIG', help: 'kubeconfig; in-cluster config when neither is set' },
    namespace: { type: 'string', value: 'NS', env: 'POD_NAMESPACE', default: 'live-migration', help: "where the leader Lease and the agents' Leases live" },
    'watch-namespace': { type: 'string', value: 'NS', env: 'WATCH_NAMESPACE', help: 'reconcile this namespace only (default: all)' },
    'config-namespace': { type: 'string', value: 'NS', env: 'CONFIG_NAMESPACE', default: DEFAULT_CONFIG_LOCATION.namespace, help: 'namespace of the kubevirt-config ConfigMap' },
    'config-name': { type: 'string', value: 'NAME', env: 'CONFIG_NAME', default: DEFAULT_CONFIG_LOCATION.name, help: 'name of that ConfigMap' },
    'agent-ca-file': {
      type: 'string',
      value: 'FILE',
      env: 'AGENT_CA_FILE',
      help: "CA of the agents' serving certificates; each must name its node (<node>.agent.live-migration.io)",
      required: true,
    },
    'agent-client-cert-file': { type: 'string', value: 'FILE', env: 'AGENT_CLIENT_CERT_FILE', help: 'client certificate for mutual TLS to the agents', required: true },
    'agent-client-key-file': { type: 'string', value: 'FILE', env: 'AGENT_CLIENT_KEY_FILE', help: 'its private key', required: true },
    'node-signer-ca-cert': {
      type: 'string',
      value: 'FILE',
      env: 'NODE_SIGNER_CA_CERT_FILE',
      help: 'CA certificate of the node migration signer (live-migration.io/node-migration CSRs); with --node-signer-ca-key it runs',
    },
    'node-signer-ca-key': { type: 'string', value: 'FILE', env: 'NODE_SIGNER_CA_KEY_FILE', help: 'its private key' },
    'node-signer-agent-user': {
      type: 'string',
      value: 'USER',
      env: 'NODE_SIGNER_AGENT_USER',
      default: 'system:serviceaccount:<namespace>:live-migration-agent',
      help: "the agents' ServiceAccount user, the only requester the signer approves",
    },
    'node-certificate-max-seconds': { type: 'string', value: 'S', env: 'NODE_CERTIFICATE_MAX_SECONDS', default: '604800', help: 'longest lifetime of a node migration certificate (7 days)' },
    'health-port': { type: 'string', value: 'PORT', env: 'HEALTH_PORT', default: '8081', help: '/healthz, /readyz, /metrics' },
    identity: { type: 'string', value: 'ID', default: 'hostname-pid', help: 'leader-election identity' },
    workers: { type: 'string', value: 'N', default: '4', help: 'concurrent reconciles' },
    'log-level': { type: 'string', value: 'LEVEL', env: 'LOG_LEVEL', default: 'info', help: 'pino log level' },
    'lease-duration-seconds': { type: 'string', value: 'S', default: '15', help: 'leader Lease duration' },
    'renew-deadline-ms': { type: 'string', value: 'MS', default: '10000', help: 'step down when not renewed within this' },
    'retry-period-ms': { type: 'string', value: 'MS', default: '2000', help: 'between leader-election attempts' },
    'evacuate-on-cordon': { type: 'string', value: 'BOOL', env: 'EVACUATE_ON_CORDON', default: 'false', help: 'node drain: evacuate the VMIs of a cordoned node (spec.unschedulable) as of one with the drain taint' },
    'evacuation-backoff-base-ms': { type: 'string', value: 'MS', env: 'EVACUATION_BACKOFF_BASE_MS', default: '20000', help: 'wait before retrying a failed evacuation, doubled per consecutive failure (KubeVirt: 20 s)' },
  },
  footer: 'SIGTERM/SIGINT: stop writing, release the leader Lease, finish in-flight reconciles, exit 0.',
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

function boolean(name: string, value: string | undefined): boolean {
  if (value === undefined || value === '' || value === 'false') return false;
  if (value === 'true') return true;
  logger.fatal({ value }, `--${name} must be true or false`);
  process.exit(2);
}

const namespace = values.namespace ?? env.POD_NAMESPACE ?? 'live-migration';
const signerCert = values['node-signer-ca-cert'] ?? env.NODE_SIGNER_CA_CERT_FILE;
const signerKey = values['node-signer-ca-key'] ?? env.NODE_SIGNER_CA_KEY_FILE;
if (Boolean(signerCert) !== Boolean(signerKey)) {
  logger.fatal({}, '--node-signer-ca-cert and --node-signer-ca-key go together');
  process.exit(2);
}
const nodeSigner =
  signerCert && signerKey
    ? {
        caCertFile: signerCert,
        caKeyFile: signerKey,
        agentUsername: values['node-signer-agent-user'] ?? env.NODE_SIGNER_AGENT_USER ?? `system:serviceaccount:${namespace}:live-migration-agent`,
        maxLifetimeSeconds: integer('node-certificate-max-seconds', values['node-certificate-max-seconds'] ?? env.NODE_CERTIFICATE_MAX_SECONDS, 604800) ?? 604800,
      }
    : undefined;

const reconciler = await startReconciler({
  kubeconfig: values.kubeconfig ?? env.KUBECONFIG,
  namespace,
  watchNamespace: values['watch-namespace'] ?? env.WATCH_NAMESPACE,
  configLocation: {
    namespace: values['config-namespace'] ?? env.CONFIG_NAMESPACE ?? DEFAULT_CONFIG_LOCATION.namespace,
    name: values['config-name'] ?? env.CONFIG_NAME ?? DEFAULT_CONFIG_LOCATION.name,
  },
  agentTls: {
    caFile: required('agent-ca-file', values['agent-ca-file'] ?? env.AGENT_CA_FILE),
    certFile: required('agent-client-cert-file', values['agent-client-cert-file'] ?? env.AGENT_CLIENT_CERT_FILE),
    keyFile: required('agent-client-key-file', values['agent-client-key-file'] ?? env.AGENT_CLIENT_KEY_FILE),
  },
  healthPort: integer('health-port', values['health-port'] ?? env.HEALTH_PORT, 8081) ?? 8081,
  identity: values.identity,
  workers: integer('workers', values.workers, 4),
  leaseDurationSeconds: integer('lease-duration-seconds', values['lease-duration-seconds'], undefined),
  renewDeadlineMs: integer('renew-deadline-ms', values['renew-deadline-ms'], undefined),
  retryPeriodMs: integer('retry-period-ms', values['retry-period-ms'], undefined),
  evacuateOnCordon: boolean('evacuate-on-cordon', values['evacuate-on-cordon'] ?? env.EVACUATE_ON_CORDON),
  evacuationBackoffBaseMs: integer('evacuation-backoff-base-ms', values['evacuation-backoff-base-ms'] ?? env.EVACUATION_BACKOFF_BASE_MS, undefined),
  ...(nodeSigner ? { nodeSigner } : {}),
  logger,
});
logger.info({ healthPort: reconciler.healthPort }, 'reconciler started');

stopOnSignals(logger, 'stopping: releasing leadership, finishing in-flight reconciles', () => reconciler.stop());
