// Entry point of the admission webhook. Flags win over environment variables:
//   --kubeconfig / KUBECONFIG (in-cluster config when neither is set)
//   --port / WEBHOOK_PORT (8443), --host / WEBHOOK_HOST (0.0.0.0)
//   --tls-cert-file / WEBHOOK_TLS_CERT_FILE, --tls-key-file / WEBHOOK_TLS_KEY_FILE (required)
//   --config-namespace / CONFIG_NAMESPACE (kubevirt), --config-name / CONFIG_NAME (kubevirt-config)
//   --system-service-account / SYSTEM_SERVICE_ACCOUNT (the only user that may set spec.priority)
//   --privileged-groups / PRIVILEGED_GROUPS (comma-separated, default system:masters: with the system's
//     account, the only ones that may set spec.migrationConfiguration; others use MigrationPolicy)
//   --log-level / LOG_LEVEL (info)
// SIGTERM/SIGINT: readyz turns 503, no new connections, in-flight requests finish, then exit 0.
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { stopOnSignals } from './lifecycle.js';
import { DEFAULT_CONFIG_LOCATION } from '../api/cluster-config.js';
import { DEFAULT_SYSTEM_SERVICE_ACCOUNT, startWebhook } from '../webhook/app.js';
import { DEFAULT_PRIVILEGED_GROUPS } from '../webhook/admission/privileged.js';

const { values } = parseArgs({
  options: {
    kubeconfig: { type: 'string' },
    port: { type: 'string' },
    host: { type: 'string' },
    'tls-cert-file': { type: 'string' },
    'tls-key-file': { type: 'string' },
    'config-namespace': { type: 'string' },
    'config-name': { type: 'string' },
    'system-service-account': { type: 'string' },
    'privileged-groups': { type: 'string' },
    'log-level': { type: 'string' },
    'stale-after-ms': { type: 'string' },
    'cache-max-silence-ms': { type: 'string' },
  },
  strict: true,
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
