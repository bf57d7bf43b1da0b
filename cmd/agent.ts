// Entry point of the node agent; its flags (and the environment variables they override) are the
// table below, printed by --help with what the process does on SIGTERM.
import { readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { parseFlags } from './flags.js';
import { parseQuantity } from '../api/quantity.js';
import { stopOnSignals } from './lifecycle.js';
import { DRIVERS, MULTI_NODE_DRIVERS, NODE_PLACEHOLDER, startAgentProcess, type DriverName } from '../agent/agent-process.js';
import { DEFAULT_ALLOWED_CALLERS, parseAllowedCallers } from '../agent/server/caller-check.js';

const libvirtOnly = (help: string) => `libvirt driver: ${help}`;

const values = parseFlags({
  command: 'live-migration agent',
  summary: "The node agent: a mutual-TLS API the reconciler drives, a driver that moves the guests (simulation or libvirt), a Lease per node.",
  flags: {
    kubeconfig: { type: 'string', value: 'FILE', env: 'KUBECONFIG', help: 'kubeconfig ({node} in the path: one per hosted node); in-cluster config when neither is set' },
    'no-register': { type: 'boolean', help: 'no Node annotation, no Lease (a standalone agent, e.g. for a benchmark)' },
    driver: { type: 'string', value: 'NAME', env: 'AGENT_DRIVER', default: 'simulation', help: `one of ${DRIVERS.join(', ')}` },
    node: { type: 'string', value: 'NAME', multiple: true, env: 'NODE_NAME', help: 'a node this process hosts' },
    nodes: { type: 'string', value: 'A,B,C', help: 'several nodes (simulation only), each on an HTTPS listener of its own' },
    'listen-address': { type: 'string', value: 'ADDRESS', env: 'AGENT_LISTEN_ADDRESS', default: '127.0.0.1', help: 'address of the agent API' },
    'advertise-address': {
      type: 'string',
      value: 'ADDRESS',
      env: 'AGENT_ADVERTISE_ADDRESS',
      help: 'address the reconciler dials (default: the listen address; required on a wildcard)',
    },
    port: { type: 'string', value: 'PORT', env: 'AGENT_PORT', default: '0 (a free port)', help: 'port of the agent API' },
    'tls-cert': {
      type: 'string',
      value: 'FILE',
      env: 'AGENT_TLS_CERT_FILE',
      help: 'serving certificate, naming its node (<node>.agent.live-migration.io); {node} in the path is the node name',
      required: true,
    },
    'tls-key': { type: 'string', value: 'FILE', env: 'AGENT_TLS_KEY_FILE', help: 'its private key ({node} as above)', required: true },
    'client-ca': { type: 'string', value: 'FILE', env: 'AGENT_CLIENT_CA_FILE', help: "the CA that signs allowed callers' certificates", required: true },
    'allowed-callers': {
      type: 'string',
      value: 'LIST',
      env: 'AGENT_ALLOWED_CALLERS',
      default: DEFAULT_ALLOWED_CALLERS.join(','),
      help: 'comma list of CN=name, O=org or a bare CN',
    },
    namespace: { type: 'string', value: 'NS', env: 'AGENT_NAMESPACE', default: 'live-migration', help: 'where the agent Leases live' },
    'watch-namespace': { type: 'string', value: 'NS', env: 'AGENT_WATCH_NAMESPACE', help: 'run the VMIs of this namespace only (default: all namespaces)' },
    'guest-memory': {
      type: 'string',
      value: 'QUANTITY',
      env: 'AGENT_GUEST_MEMORY',
      help: 'memory each node offers to guests, for placement (simulation default 16Gi)',
    },
    'health-address': { type: 'string', value: 'ADDRESS', env: 'AGENT_HEALTH_ADDRESS', default: '0.0.0.0', help: 'plain HTTP /healthz, /readyz, /metrics' },
    'health-port': { type: 'string', value: 'PORT', env: 'AGENT_HEALTH_PORT', default: '8081', help: 'its port (0: a free port)' },
    'log-level': { type: 'string', value: 'LEVEL', env: 'LOG_LEVEL', default: 'info', help: 'pino log level' },
    'libvirt-uri': { type: 'string', value: 'URI', env: 'LIBVIRT_URI', default: 'qemu:///system', help: libvirtOnly("this node's libvirt") },
    'migration-address': {
      type: 'string',
      value: 'ADDRESS',
      env: 'AGENT_MIGRATION_ADDRESS',
      help: libvirtOnly("where other nodes' libvirtd reach this one (its listen_addr)"),
      required: true,
    },
    'libvirt-port': { type: 'string', value: 'PORT', env: 'AGENT_LIBVIRT_PORT', default: '16514', help: libvirtOnly("libvirtd's TLS port (peers dial qemu+tls only)") },
    'migration-port-min': { type: 'string', value: 'PORT', env: 'AGENT_MIGRATION_PORT_MIN', default: '49152', help: libvirtOnly("QEMU's first incoming-migration port") },
    'migration-tls-dir': {
      type: 'string',
      value: 'DIR',
      env: 'AGENT_MIGRATION_TLS_DIR',
      default: '/etc/pki/live-migration',
      help: libvirtOnly("this node's migration TLS files: ca-cert.pem, server-cert.pem, server-key.pem, client-cert.pem, client-key.pem, and libvirt's cacert.pem, clientcert.pem, clientkey.pem as symlinks (same path for libvirtd and QEMU)"),
    },
    'migration-tls-from-csr': {
      type: 'boolean',
      env: 'AGENT_MIGRATION_TLS_FROM_CSR',
      help: "issue and renew the --migration-tls-dir files through the CSR API (signer live-migration.io/node-migration, the reconciler's): writes that dir",
    },
    'libvirt-admin-uri': {
      type: 'string',
      value: 'URI',
      env: 'LIBVIRT_ADMIN_URI',
      default: 'libvirtd:///system',
      help: libvirtOnly("libvirtd's admin interface, to reload its TLS listener after a rotation"),
    },
    'domain-type': { type: 'string', value: 'TYPE', env: 'AGENT_DOMAIN_TYPE', default: 'kvm', help: libvirtOnly('domains the agent starts: kvm, or qemu (TCG, no /dev/kvm)') },
    'console-dir': { type: 'string', value: 'DIR', env: 'AGENT_CONSOLE_DIR', default: '/var/log/libvirt/qemu', help: libvirtOnly("where libvirtd writes guests' serial consoles") },
    'empty-disk-dir': {
      type: 'string',
      value: 'DIR',
      env: 'AGENT_EMPTY_DISK_DIR',
      default: '/var/lib/libvirt/live-migration-empty-disks',
      help: libvirtOnly('emptyDisk images: the directory of a libvirt storage pool the agent creates, the same path on every node (a BlockMigration creates the disk there on the target)'),
    },
    'console-read-dir': { type: 'string', value: 'DIR', env: 'AGENT_CONSOLE_READ_DIR', help: libvirtOnly('--console-dir as this agent reads it (libvirtd in another mount namespace); default the same') },
    'state-dir': {
      type: 'string',
      value: 'DIR',
      env: 'AGENT_STATE_DIR',
      default: '/var/lib/live-migration/agent-<node>',
      help: libvirtOnly('per-migration state, read back after a restart'),
    },
  },
  footer: 'SIGTERM/SIGINT: new work refused (503), Leases deleted, listeners closed, exit 0.',
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

function domainType(raw: string): 'kvm' | 'qemu' {
  return raw === 'kvm' || raw === 'qemu' ? raw : fail(`--domain-type must be kvm or qemu, got ${raw}`);
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

/** The agent talks to its own libvirtd only, through the local socket: no host in the URI. */
function localLibvirtUri(name: string, uri: string, schemes: readonly string[]): string {
  const match = /^([a-z+]+):\/\/([^/]*)\//.exec(uri);
  if (!match || !schemes.includes(match[1] ?? '') || match[2] !== '') fail(`--${name} must be a local libvirt URI (${schemes.join(' or ')}, no host; the unix socket), got ${uri}`);
  return uri;
}

const libvirt =
  driverName === 'libvirt'
    ? {
        uri: localLibvirtUri('libvirt-uri', values['libvirt-uri'] ?? env.LIBVIRT_URI ?? 'qemu:///system', ['qemu', 'qemu+unix']),
        migrationAddress: required('migration-address', values['migration-address'] ?? env.AGENT_MIGRATION_ADDRESS),
        libvirtPort: port('libvirt-port', values['libvirt-port'] ?? env.AGENT_LIBVIRT_PORT ?? '16514'),
        migrationPortMin: port('migration-port-min', values['migration-port-min'] ?? env.AGENT_MIGRATION_PORT_MIN ?? '49152'),
        migrationTlsDir: values['migration-tls-dir'] ?? env.AGENT_MIGRATION_TLS_DIR ?? '/etc/pki/live-migration',
        adminUri: localLibvirtUri('libvirt-admin-uri', values['libvirt-admin-uri'] ?? env.LIBVIRT_ADMIN_URI ?? 'libvirtd:///system', ['libvirtd', 'libvirtd+unix', 'virtproxyd', 'virtproxyd+unix']),
        stateDir: values['state-dir'] ?? env.AGENT_STATE_DIR ?? `/var/lib/live-migration/agent-${nodes[0] ?? 'node'}`,
        domainType: domainType(values['domain-type'] ?? env.AGENT_DOMAIN_TYPE ?? 'kvm'),
        consoleDir: values['console-dir'] ?? env.AGENT_CONSOLE_DIR ?? '/var/log/libvirt/qemu',
        emptyDiskDir: values['empty-disk-dir'] ?? env.AGENT_EMPTY_DISK_DIR ?? '/var/lib/libvirt/live-migration-empty-disks',
        ...((values['console-read-dir'] ?? env.AGENT_CONSOLE_READ_DIR) ? { consoleReadDir: values['console-read-dir'] ?? env.AGENT_CONSOLE_READ_DIR } : {}),
      }
    : undefined;

const watchNamespace = values['watch-namespace'] ?? env.AGENT_WATCH_NAMESPACE;
const guestMemory = values['guest-memory'] ?? env.AGENT_GUEST_MEMORY;
if (guestMemory !== undefined) {
  try {
    if (parseQuantity(guestMemory) <= 0) fail(`--guest-memory must be a positive quantity, got ${guestMemory}`);
  } catch {
    fail(`--guest-memory must be a quantity such as 16Gi, got ${guestMemory}`);
  }
}

let kubeConfig: KubeConfig | ((node: string) => KubeConfig) | undefined;
if (!values['no-register']) {
  const kubeconfigPath = values.kubeconfig ?? env.KUBECONFIG;
  const load = (path: string | undefined): KubeConfig => {
    const config = new KubeConfig();
    if (path) config.loadFromFile(path);
    else config.loadFromCluster();
    return config;
  };
  // {node} in the path: each hosted node registers with its own credentials (a token bound to it).
  kubeConfig = kubeconfigPath?.includes(NODE_PLACEHOLDER) ? (node: string) => load(kubeconfigPath.split(NODE_PLACEHOLDER).join(node)) : load(kubeconfigPath);
}

const migrationTlsFromCsr = values['migration-tls-from-csr'] === true || env.AGENT_MIGRATION_TLS_FROM_CSR === 'true';
if (migrationTlsFromCsr && !libvirt) fail('--migration-tls-from-csr is for the libvirt driver (it writes --migration-tls-dir)');
if (migrationTlsFromCsr && !kubeConfig) fail('--migration-tls-from-csr needs the API server (not --no-register)');

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
  ...(migrationTlsFromCsr && libvirt ? { migrationTlsFromCsr: { dir: libvirt.migrationTlsDir } } : {}),
  ...(watchNamespace ? { watchNamespace } : {}),
  ...(guestMemory ? { guestMemory } : {}),
}).catch((error: unknown) => fail(`cannot start: ${error instanceof Error ? error.message : String(error)}`));

agent.registered.then(
  () => logger.info({ nodes: agent.nodes.map((n) => ({ node: n.nodeName, endpoint: n.endpoint })) }, 'agents registered; ready'),
  () => undefined,
);

// A bug in a callback must not take the agent (and the migrations it runs) down.
stopOnSignals(logger, 'stopping: refusing new work, deleting leases', () => agent.stop());
