// Entry point of the admission webhook; its flags (and the environment variables they override)
// are the table below, printed by --help with what the process does on SIGTERM.
import { pino } from 'pino';
import { parseFlags } from './flags.js';
import { stopOnSignals } from './lifecycle.js';
import { DEFAULT_CONFIG_LOCATION } from '../api/cluster-config.js';
import { DEFAULT_SYSTEM_SERVICE_ACCOUNT, startWebhook } from '../webhook/app.js';
import { DEFAULT_PRIVILEGED_GROUPS } from '../webhook/admission/privileged.js';

const values = parseFlags({
  command: 'live-migration webhook',
  summary: 'The admission webhook: rejects migrations that cannot run and stamps their configuration.',
  flags: {
    kubeconfig: { type: 'string', value: 'FILE', env: 'KUBECONFIG', help: 'kubeconfig; in-cluster config when neither is set' },
    port: { type: 'string', value: 'PORT', env: 'WEBHOOK_PORT', default: '8443', help: 'HTTPS port' },
    host: { type: 'string', value: 'ADDRESS', env: 'WEBHOOK_HOST', default: '0.0.0.0', help: 'address to listen on' },
    'tls-cert-file': { type: 'string', value: 'FILE', env: 'WEBHOOK_TLS_CERT_FILE', help: 'serving certificate', required: true },
    'tls-key-file': { type: 'string', value: 'FILE', env: 'WEBHOOK_TLS_KEY_FILE', help: 'its private key', required: true },
    'config-namespace': { type: 'string', value: 'NS', env: 'CONFIG_NAMESPACE', default: DEFAULT_CONFIG_LOCATION.namespace, help: 'namespace of the kubevirt-config ConfigMap' },
    'config-name': { type: 'string', value: 'NAME', env: 'CONFIG_NAME', default: DEFAULT_CONFIG_LOCATION.name, help: 'name of that ConfigMap' },
    'system-service-account': {
      type: 'string',
      value: 'USER',
      env: 'SYSTEM_SERVICE_ACCOUNT',
      default: DEFAULT_SYSTEM_SERVICE_ACCOUNT,
      help: 'the only user that may set spec.priority',
    },
    'privileged-groups': {
      type: 'string',
      value: 'GROUPS',
      env: 'PRIVILEGED_GROUPS',
      help: 'comma-separated groups that, with the system account, may set spec.migrationConfiguration (default system:masters); others use MigrationPolicy',
    },
    'log-level': { type: 'string', value: 'LEVEL', env: 'LOG_LEVEL', default: 'info', help: 'pino log level' },
    'stale-after-ms': { type: 'string', value: 'MS', env: 'STALE_AFTER_MS', help: 'informer silence before a relist' },
    'cache-max-silence-ms': { type: 'string', value: 'MS', env: 'CACHE_MAX_SILENCE_MS', help: 'cache silence before admission answers 503' },
  },
  footer: 'SIGTERM/SIGINT: readyz turns 503, no new connections, in-flight requests finish, then exit 0.',
});

const env = process.env;
const logger = pino({ level: values['log-level'] ?? env.LOG_LEVEL ?? 'info', base: { component: 'webhook' } });

function required(name: string, value: string | undefined): string {
  if (!value) {
    logger.fatal({}, `--${name} is required`);
    process.exit(2);
  }
  return value;
}

const port = Number(values.port ?? env.WEBHOOK_PORT ?? 8443);
if (!Number.isInteger(port) || port < 0 || port > 65535) required('port (a TCP port number)', undefined);

/** An optional positive whole number of milliseconds, or exit 2 naming the flag. */
function optionalMs(name: string, value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const ms = Number(value);
  if (!Number.isInteger(ms) || ms <= 0) required(`${name} (a positive whole number of milliseconds, got "${value}")`, undefined);
  return ms;
}

// How long the informers may be silent before they relist, and before admission stops trusting them.
const staleAfterMs = optionalMs('stale-after-ms', values['stale-after-ms'] ?? env.STALE_AFTER_MS);
const maxSilenceMs = optionalMs('cache-max-silence-ms', values['cache-max-silence-ms'] ?? env.CACHE_MAX_SILENCE_MS);

// An empty list is allowed: then only the system's own account may set spec.migrationConfiguration.
const groupsFlag = values['privileged-groups'] ?? env.PRIVILEGED_GROUPS;
const privilegedGroups = groupsFlag === undefined ? DEFAULT_PRIVILEGED_GROUPS : groupsFlag.split(',').map((g) => g.trim()).filter((g) => g !== '');

const webhook = await startWebhook({
  kubeconfig: values.kubeconfig ?? env.KUBECONFIG,
  port,
  host: values.host ?? env.WEBHOOK_HOST,
  certFile: required('tls-cert-file', values['tls-cert-file'] ?? env.WEBHOOK_TLS_CERT_FILE),
  keyFile: required('tls-key-file', values['tls-key-file'] ?? env.WEBHOOK_TLS_KEY_FILE),
  configLocation: {
    namespace: values['config-namespace'] ?? env.CONFIG_NAMESPACE ?? DEFAULT_CONFIG_LOCATION.namespace,
    name: values['config-name'] ?? env.CONFIG_NAME ?? DEFAULT_CONFIG_LOCATION.name,
  },
  systemServiceAccount: values['system-service-account'] ?? env.SYSTEM_SERVICE_ACCOUNT ?? DEFAULT_SYSTEM_SERVICE_ACCOUNT,
  privilegedGroups,
  ...(staleAfterMs === undefined ? {} : { staleAfterMs }),
  ...(maxSilenceMs === undefined ? {} : { maxSilenceMs }),
  logger,
});

// A bug in a callback must not take admission down; it is logged loudly and serving goes on.
stopOnSignals(logger, 'draining', () => webhook.stop());
