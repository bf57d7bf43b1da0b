// Command-line parsing of `kubectl migrate` (pure: no I/O). Usage errors carry exit code 2.
export type OutputFormat = 'text' | 'json' | 'yaml';

interface Common {
  namespace?: string;
  allNamespaces: boolean;
  output: OutputFormat;
  kubeconfig?: string;
}

export type Command =
  | ({ kind: 'migrate'; vmi: string; nodeSelector: Record<string, string>; wait: boolean } & Common)
  | ({ kind: 'cancel'; vmi: string } & Common)
  | ({ kind: 'status'; vmi?: string; watch: boolean } & Common)
  | ({ kind: 'history'; vmi: string } & Common)
  | ({ kind: 'drain'; node: string; wait: boolean; cancel: boolean; taintKey: string } & Common)
  | ({ kind: 'console'; vmi: string; follow: boolean; agentTls: AgentTlsFlags } & Common)
  | { kind: 'help' };

/** The client certificate the console shows itself to the node agents with (they allow listed callers only). */
export interface AgentTlsFlags {
  cert?: string;
  key?: string;
  ca?: string;
}

export class UsageError extends Error {
  readonly exitCode = 2;
}

export const USAGE = `Start, watch and cancel KubeVirt live migrations.

Usage:
  kubectl migrate VMI [-n NS] [--node-selector key=value[,key=value]] [--wait] [-o json|yaml]
  kubectl migrate cancel VMI [-n NS] [-o json|yaml]
  kubectl migrate status [VMI] [-n NS | -A] [-w] [-o json|yaml]
  kubectl migrate history VMI [-n NS] [-o json|yaml]
  kubectl migrate drain NODE [--wait] [--taint-key KEY]
  kubectl migrate drain NODE --cancel [--taint-key KEY]
  kubectl migrate console VMI [-n NS] [-f] [--agent-cert FILE --agent-key FILE --agent-ca FILE]

Options:
  -n, --namespace NS      namespace (default: the kubeconfig context's, else "default")
  -A, --all-namespaces    status: migrations in flight in every namespace
  --node-selector k=v     restrict the target nodes (repeatable; spec.addedNodeSelector)
  --wait                  follow the migration to its end: a live progress bar on a terminal,
                          one line per change otherwise; the exit code says how it ended
  -w, --watch             status: keep the table up to date
  --cancel                drain: call the drain off (taint removed, node uncordoned)
  --taint-key KEY         drain: the drain taint (default kubevirt.io/drain; as kubevirt-config's
                          migrations.nodeDrainTaintKey)
  -o, --output FORMAT     json or yaml instead of text
  --kubeconfig FILE       kubeconfig (default: $KUBECONFIG, then ~/.kube/config)
  -f, --follow            console: keep printing, following the VMI to the node it migrates to
  --agent-cert, --agent-key, --agent-ca FILE
                          console: a client certificate the node agents allow, and their CA
                          (default: $LIVE_MIGRATION_AGENT_CERT, _KEY, _CA)

drain cordons NODE and taints it KEY=draining:NoSchedule; the reconciler evacuates its VMIs by
live migration. With --wait: every VMI's evacuation until the node holds none.

Exit codes: 0 success, 1 the migration failed or was refused, a drained node keeps VMIs that cannot
leave (named), or an API error; 2 usage error.`;

const SUBCOMMANDS = new Set(['cancel', 'status', 'history', 'drain', 'console']);
const DEFAULT_TAINT_KEY = 'kubevirt.io/drain';
const OBJECT_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const LABEL_KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

function parseSelector(raw: string, into: Record<string, string>): void {
  for (const pair of raw.split(',')) {
    const eq = pair.indexOf('=');
    const key = eq < 0 ? '' : pair.slice(0, eq).trim();
    const value = eq < 0 ? '' : pair.slice(eq + 1).trim();
    if (eq < 0 || !LABEL_KEY.test(key) || key.length > 316) throw new UsageError(`--node-selector: "${pair}" is not key=value with a label key`);
    if (!LABEL_VALUE.test(value) || value.length > 63) throw new UsageError(`--node-selector: "${value}" is not a valid label value`);
    into[key] = value;
  }
}

function objectName(what: string, raw: string | undefined): string {
  if (raw === undefined) throw new UsageError(`${what} is required`);
  if (!OBJECT_NAME.test(raw) || raw.length > 253) throw new UsageError(`${what} "${raw}" is not a valid object name`);
  return raw;
}

export function parseCommand(argv: readonly string[]): Command {
  const positional: string[] = [];
  const nodeSelector: Record<string, string> = {};
  const common: Common = { allNamespaces: false, output: 'text' };
  let wait = false;
  let watch = false;
  let follow = false;
  const agentTls: AgentTlsFlags = {};
  let help = false;
  let cancelDrain = false;
  let taintKey = DEFAULT_TAINT_KEY;
  // After `--` every word is a VMI name: `kubectl migrate -- status` migrates a VMI named status.
  let literalFrom = Infinity;
  const seen = new Set<string>();

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      literalFrom = positional.length;
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positional.push(arg);
      continue;
    }
    // --flag=value, -n=value, -nvalue are accepted like kubectl does.
    let name = arg;
    let inline: string | undefined;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      name = arg.slice(0, eq);
      inline = arg.slice(eq + 1);
    } else if (!arg.startsWith('--') && arg.length > 2) {
      name = arg.slice(0, 2);
      inline = arg.slice(arg[2] === '=' ? 3 : 2);
    }
    const value = (): string => {
      if (inline !== undefined) return inline;
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith('-') && next !== '-')) throw new UsageError(`${name} needs a value`);
      i++;
      return next;
    };
    const flag = (): void => {
      if (inline !== undefined) throw new UsageError(`${name} takes no value`);
    };
    switch (name) {
      case '-n':
      case '--namespace':
        common.namespace = objectName('namespace', value());
        break;
      case '-A':
      case '--all-namespaces':
        flag();
        common.allNamespaces = true;
        break;
      case '-o':
      case '--output': {
        const format = value();
        if (format !== 'json' && format !== 'yaml') throw new UsageError(`--output must be json or yaml, got "${format}"`);
        common.output = format;
        break;
      }
      case '--node-selector':
        parseSelector(value(), nodeSelector);
        break;
      case '--wait':
        flag();
        wait = true;
        break;
      case '-w':
      case '--watch':
        flag();
        watch = true;
        break;
      case '--kubeconfig':
        common.kubeconfig = value();
        break;
      case '--cancel':
        flag();
        cancelDrain = true;
        break;
      case '--taint-key':
        taintKey = value();
        if (!LABEL_KEY.test(taintKey) || taintKey.length > 316) throw new UsageError(`--taint-key: "${taintKey}" is not a taint key`);
        break;
      case '-f':
      case '--follow':
        flag();
        follow = true;
        break;
      case '--agent-cert':
        agentTls.cert = value();
        break;
      case '--agent-key':
        agentTls.key = value();
        break;
      case '--agent-ca':
        agentTls.ca = value();
        break;
      case '-h':
      case '--help':
        help = true;
        break;
      default:
        throw new UsageError(`unknown flag ${name}`);
    }
    seen.add(name.replace(/^-(\w)$/, (_, c: string) => ({ n: '--namespace', A: '--all-namespaces', o: '--output', w: '--watch', h: '--help', f: '--follow' })[c] ?? `-${c}`));
  }
  if (help) return { kind: 'help' };
  if (positional.length === 0) throw new UsageError('a VMI name or a subcommand (cancel, status, history, drain, console) is required');

  const [first, ...rest] = positional as [string, ...string[]];
  const subcommand = SUBCOMMANDS.has(first) && literalFrom > 0 ? first : undefined;
  const args = subcommand ? rest : positional;
  const allowed: Record<string, string[]> = {
    migrate: ['--namespace', '--output', '--node-selector', '--wait', '--kubeconfig'],
    cancel: ['--namespace', '--output', '--kubeconfig'],
    status: ['--namespace', '--all-namespaces', '--output', '--watch', '--kubeconfig'],
    history: ['--namespace', '--output', '--kubeconfig'],
    drain: ['--wait', '--cancel', '--taint-key', '--kubeconfig'],
    console: ['--namespace', '--follow', '--kubeconfig', '--agent-cert', '--agent-key', '--agent-ca'],
  };
  const kind = subcommand ?? 'migrate';
  for (const flagName of seen) {
    if (!(allowed[kind] ?? []).includes(flagName)) throw new UsageError(`${flagName} does not apply to ${subcommand ? `"${subcommand}"` : 'starting a migration'}`);
  }
  if (args.length > 1) throw new UsageError(`unexpected argument "${args[1]}"`);
  if (common.allNamespaces && common.namespace) throw new UsageError('--namespace and --all-namespaces exclude each other');
  if (common.allNamespaces && args.length > 0) throw new UsageError('--all-namespaces lists every VMI; give no VMI name');

  switch (kind) {
    case 'migrate':
      return { kind, vmi: objectName('VMI name', args[0]), nodeSelector, wait, ...common };
    case 'cancel':
      return { kind, vmi: objectName('VMI name', args[0]), ...common };
    case 'history':
      return { kind, vmi: objectName('VMI name', args[0]), ...common };
    case 'drain':
      if (wait && cancelDrain) throw new UsageError('--wait and --cancel exclude each other');
      return { kind, node: objectName('node name', args[0]), wait, cancel: cancelDrain, taintKey, ...common };
    case 'console':
      return { kind, vmi: objectName('VMI name', args[0]), follow, agentTls, ...common };
    default:
      return { kind: 'status', ...(args[0] !== undefined ? { vmi: objectName('VMI name', args[0]) } : {}), watch, ...common };
  }
}
