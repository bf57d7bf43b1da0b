// Entry point of the node agent. Flags win over environment variables:
//   --kubeconfig / KUBECONFIG (in-cluster config when neither is set); --no-register: no Node
//     annotation, no Lease (a standalone agent, e.g. for a benchmark without an API server)
//   --driver / AGENT_DRIVER: simulation (default) or libvirt
//   --node NAME (repeatable) or --nodes a,b,c / NODE_NAME: the nodes this process hosts; several
//     only with the simulation driver, each on its own HTTPS listener with a free port
//   libvirt driver only (agent/libvirt/libvirt-driver.ts):
//     --libvirt-uri / LIBVIRT_URI (qemu:///system): this node's libvirt
//     --migration-address / AGENT_MIGRATION_ADDRESS (required): the address other nodes' libvirtd
//       reach this node's libvirtd at (its listen_addr); answered as targetNodeAddress
//     --libvirt-port / AGENT_LIBVIRT_PORT (16509): libvirtd's TCP port; --migration-port-min /
//       AGENT_MIGRATION_PORT_MIN (49152): QEMU's first incoming-migration port
//     --peer-uri-scheme / AGENT_PEER_URI_SCHEME (qemu+tcp): how a source libvirtd dials this one
//     --state-dir / AGENT_STATE_DIR (/var/lib/live-migration/agent-<node>): per-migration state,
//       read back after a restart
//   --listen-address / AGENT_LISTEN_ADDRESS (127.0.0.1), --advertise-address / AGENT_ADVERTISE_ADDRESS
//     (the listen address; required when listening on a wildcard), --port / AGENT_PORT (0 = free)
//   --tls-cert / AGENT_TLS_CERT_FILE, --tls-key / AGENT_TLS_KEY_FILE: serving certificate and key
//   --client-ca / AGENT_CLIENT_CA_FILE: the CA that signs allowed callers' certificates
//   --allowed-callers / AGENT_ALLOWED_CALLERS: comma list of CN=name, O=org or a bare CN
//     (CN=live-migration-reconciler)
//   --namespace / AGENT_NAMESPACE (live-migration): where the agent Leases live
//   --health-address / AGENT_HEALTH_ADDRESS (0.0.0.0), --health-port / AGENT_HEALTH_PORT (8081;
//     0 = free): plain HTTP /healthz, /readyz, /metrics
//   --log-level / LOG_LEVEL (info)
// SIGTERM/SIGINT: new work refused (503), Leases deleted, listeners closed, exit 0.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { stopOnSignals } from './lifecycle.js';
import { DRIVERS, MULTI_NODE_DRIVERS, startAgentProcess, type DriverName } from '../agent/agent-process.js';
import { DEFAULT_ALLOWED_CALLERS, parseAllowedCallers } from '../agent/server/caller-check.js';

const { values } = parseArgs({
  options: {
    kubeconfig: { type: 'string' },
    'no-register': { type: 'boolean' },
    driver: { type: 'string' },
    node: { type: 'string', multiple: true },
    nodes: { type: 'string' },
    'listen-address': { type: 'string' },
    'advertise-address': { type: 'string' },
    port: { type: 'string' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    'client-ca': { type: 'string' },
    'allowed-callers': { type: 'string' },
    namespace: { type: 'string' },
    'health-address': { type: 'string' },
    'health-port': { type: 'string' },
    'log-level': { type: 'string' },
    'libvirt-uri': { type: 'string' },
    'migration-address': { type: 'string' },
    'libvirt-port': { type: 'string' },
    'migration-port-min': { type: 'string' },
    'peer-uri-scheme': { type: 'string' },
    'state-dir': { type: 'string' },
  },
  strict: true,
});

const env = process.env;
const logger = pino({ level: values['log-level'] ?? env.LOG_LEVEL ?? 'info', base: { component: 'agent' } });

function fail(message: string): never {
  logger.fatal({}, message);
  process.exit(2);
}

function required(name: string, value: string | undefined): string {
  return value || fail(`--${name} is required`);
}

function port(name: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) fail(`--${name} must be a TCP port number, got ${raw}`);
  return n;
}

function list(raw: string | undefined): string[] {
  return (raw ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
}

function packageVersion(): string {
  // Run from source (cmd/) or built (dist/cmd/).
  for (const path of ['../package.json', '../../package.json']) {
    try {
      const parsed = JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (parsed.name === 'live-migration' && parsed.version) return parsed.version;
    } catch {
      // try the next
    }
  }
  return 'unknown';
}

const driver = values.driver ?? env.AGENT_DRIVER ?? 'simulation';
if (!(DRIVERS as readonly string[]).includes(driver)) fail(`--driver must be one of ${DRIVERS.join(', ')}, got ${driver}`);
const driverName = driver as DriverName;

const nodes = [...(values.node ?? []), ...list(values.nodes)];
if (nodes.length === 0 && env.NODE_NAME) nodes.push(env.NODE_NAME);
if (nodes.length === 0) fail('--node or --nodes is required');
if (nodes.length > 1 && !MULTI_NODE_DRIVERS.includes(driverName)) fail(`the ${driverName} driver hosts exactly one node`);

const listenAddress = values['listen-address'] ?? env.AGENT_LISTEN_ADDRESS ?? '127.0.0.1';
const advertiseAddress = values['advertise-address'] ?? env.AGENT_ADVERTISE_ADDRESS ?? listenAddress;
if (['0.0.0.0', '::'].includes(advertiseAddress)) fail('--advertise-address is required when listening on a wildcard address');

const allowedCallers = parseAllowedCallers(list(values['allowed-callers'] ?? env.AGENT_ALLOWED_CALLERS ?? DEFAULT_ALLOWED_CALLERS.join(',')));
if (allowedCallers.length === 0) fail('--allowed-callers must name at least one caller');

const libvirt =
  driverName === 'libvirt'
    ? {
        uri: values['libvirt-uri'] ?? env.LIBVIRT_URI ?? 'qemu:///system',
        migrationAddress: required('migration-address', values['migration-address'] ?? env.AGENT_MIGRATION_ADDRESS),
        libvirtPort: port('libvirt-port', values['libvirt-port'] ?? env.AGENT_LIBVIRT_PORT ?? '16509'),
        migrationPortMin: port('migration-port-min', values['migration-port-min'] ?? env.AGENT_MIGRATION_PORT_MIN ?? '49152'),
        peerUriScheme: values['peer-uri-scheme'] ?? env.AGENT_PEER_URI_SCHEME ?? 'qemu+tcp',
        stateDir: values['state-dir'] ?? env.AGENT_STATE_DIR ?? `/var/lib/live-migration/agent-${nodes[0] ?? 'node'}`,
      }
    : undefined;

let kubeConfig: KubeConfig | undefined;
if (!values['no-register']) {
  kubeConfig = new KubeConfig();
  const kubeconfigPath = values.kubeconfig ?? env.KUBECONFIG;
  if (kubeconfigPath) kubeConfig.loadFromFile(kubeconfigPath);
  else kubeConfig.loadFromCluster();
}

const agent = await startAgentProcess({
  driver: driverName,
  nodes,
  listenAddress,
  advertiseAddress,
  port: port('port', values.port ?? env.AGENT_PORT ?? '0'),
  tls: {
    certFile: required('tls-cert', values['tls-cert'] ?? env.AGENT_TLS_CERT_FILE),
    keyFile: required('tls-key', values['tls-key'] ?? env.AGENT_TLS_KEY_FILE),
    clientCaFile: required('client-ca', values['client-ca'] ?? env.AGENT_CLIENT_CA_FILE),
  },
  allowedCallers,
  ...(kubeConfig ? { kubeConfig } : {}),
  namespace: values.namespace ?? env.AGENT_NAMESPACE ?? 'live-migration',
  healthAddress: values['health-address'] ?? env.AGENT_HEALTH_ADDRESS ?? '0.0.0.0',
  healthPort: port('health-port', values['health-port'] ?? env.AGENT_HEALTH_PORT ?? '8081'),
  version: packageVersion(),
  logger,
  ...(libvirt ? { libvirt } : {}),
}).catch((error: unknown) => fail(`cannot start: ${error instanceof Error ? error.message : String(error)}`));

agent.registered.then(
  () => logger.info({ nodes: agent.nodes.map((n) => ({ node: n.nodeName, endpoint: n.endpoint })) }, 'agents registered; ready'),
  () => undefined,
);

// A bug in a callback must not take the agent (and the migrations it runs) down.
stopOnSignals(logger, 'stopping: refusing new work, deleting leases', () => agent.stop());
