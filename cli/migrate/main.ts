// `kubectl migrate`: parse, call the API server, print. Exit codes: 0 success, 1 the migration failed
// or was refused (or the API server said no), 2 usage.
import { ApiException, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import type { MigrationState } from '../../api/schemas/migration-state.js';
import type { VirtualMachineInstanceMigration } from '../../api/schemas/vmim.js';
import { runConsole } from './console.js';
import { parseCommand, USAGE, UsageError, type Command, type OutputFormat } from './args.js';
import { kubeDrainApi, runDrain, type DrainApi } from './drain.js';
import {
  asList,
  exitCodeFor,
  historyTable,
  isFinal,
  migrationFor,
  outcomeLine,
  progressLine,
  redraw,
  serialize,
  statusTable,
  type NewMigration,
} from './format.js';

export interface Terminal {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface Io {
  stdout: Terminal;
  stderr: Terminal;
  now(): number;
  sleep(ms: number): Promise<void>;
}

/** The API calls the plugin makes (a seam for the entry point; the tests use the real API server). */
export interface MigrationApi {
  create(namespace: string, body: NewMigration): Promise<VirtualMachineInstanceMigration>;
  get(namespace: string, name: string): Promise<VirtualMachineInstanceMigration | undefined>;
  list(namespace: string | undefined): Promise<VirtualMachineInstanceMigration[]>;
  delete(namespace: string, name: string): Promise<void>;
  /** The VMI's status.migrationState: what is left of a migration once its object is deleted. */
  vmiMigrationState(namespace: string, vmi: string): Promise<MigrationState | undefined>;
}

const GROUP = 'kubevirt.io';
const VERSION = 'v1';
const PLURAL = 'virtualmachineinstancemigrations';
const POLL_MS = 500;

export class ApiError extends Error {}

/** kubectl's form: `Error from server (BadRequest): <message>`. */
export function apiErrorText(error: unknown): string {
  if (error instanceof ApiException) {
    let status: { reason?: string; message?: string } = {};
    try {
      status = (typeof error.body === 'string' ? JSON.parse(error.body) : error.body) as typeof status;
    } catch {
      status = { message: String(error.body) };
    }
    return `Error from server (${status.reason ?? error.code}): ${status.message ?? `HTTP ${error.code}`}`;
  }
  return `error: ${error instanceof Error ? error.message : String(error)}`;
}

export function kubeMigrationApi(kubeConfig: KubeConfig): MigrationApi {
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  return {
    async create(namespace, body) {
      return (await custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL, body })) as VirtualMachineInstanceMigration;
    },
    async get(namespace, name) {
      try {
        return (await custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL, name })) as VirtualMachineInstanceMigration;
      } catch (error) {
        if (error instanceof ApiException && error.code === 404) return undefined;
        throw error;
      }
    },
    async list(namespace) {
      const list = (namespace === undefined
        ? await custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL })
        : await custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL })) as { items: VirtualMachineInstanceMigration[] };
      return list.items;
    },
    async delete(namespace, name) {
      await custom.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL, name });
    },
    async vmiMigrationState(namespace, vmi) {
      try {
        const object = (await custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: 'virtualmachineinstances', name: vmi })) as { status?: { migrationState?: MigrationState } };
        return object.status?.migrationState;
      } catch (error) {
        if (error instanceof ApiException && error.code === 404) return undefined;
        throw error;
      }
    },
  };
}

type Run<K extends Command['kind']> = (command: Extract<Command, { kind: K }>, namespace: string, api: MigrationApi, io: Io) => Promise<number>;

/** Follows one migration until it ends: a line redrawn in place on a terminal, a line per change otherwise. */
async function follow(name: string, namespace: string, output: OutputFormat, api: MigrationApi, io: Io): Promise<number> {
  const live = io.stdout.isTTY === true && output === 'text';
  let lastLine = '';
  let lastPhase = '';
  let lastPrinted = 0;
  let seen: VirtualMachineInstanceMigration | undefined;
  for (;;) {
    let vmim = await api.get(namespace, name);
    if (!vmim && seen) vmim = await outcomeAfterDeletion(seen, namespace, api, io);
    if (!vmim) {
      if (live) io.stdout.write('\n');
      io.stderr.write(`error: migration ${namespace}/${name} was deleted before it ended\n`);
      return 1;
    }
    seen = vmim;
    if (isFinal(vmim)) {
      if (output === 'text') io.stdout.write(`${live ? redraw('', io.stdout.columns) : ''}${outcomeLine(vmim)}\n`);
      else io.stdout.write(serialize(vmim, output));
      return exitCodeFor(vmim);
    }
    const line = progressLine(vmim);
    const phase = vmim.status?.phase ?? 'Pending';
    if (live) {
      if (line !== lastLine) io.stdout.write(redraw(line, io.stdout.columns));
    } else if (output === 'text' && line !== lastLine && (phase !== lastPhase || io.now() - lastPrinted >= 1000)) {
      io.stdout.write(`${line}\n`);
      lastPrinted = io.now();
    }
    lastLine = line;
    lastPhase = phase;
    await io.sleep(POLL_MS);
  }
}

/**
 * Deleting a migration is how it is cancelled: once aborted its finalizer comes off and the object
 * is gone, often between two polls. Its outcome stays in the VMI's migrationState (same UID).
 */
async function outcomeAfterDeletion(last: VirtualMachineInstanceMigration, namespace: string, api: MigrationApi, io: Io): Promise<VirtualMachineInstanceMigration | undefined> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const state = await api.vmiMigrationState(namespace, last.spec.vmiName);
    if (state?.migrationUid !== undefined && state.migrationUid !== last.metadata.uid) return undefined;
    if (state?.completed || state?.failed) {
      return { ...last, status: { ...last.status, phase: state.failed ? 'Failed' : 'Succeeded', migrationState: { ...last.status?.migrationState, ...state } } };
    }
    await io.sleep(POLL_MS);
  }
  return undefined;
}

const migrate: Run<'migrate'> = async (command, namespace, api, io) => {
  let created: VirtualMachineInstanceMigration;
  try {
    created = await api.create(namespace, migrationFor(command.vmi, namespace, command.nodeSelector));
  } catch (error) {
    io.stderr.write(`${apiErrorText(error)}\n`);
    return 1;
  }
  const name = created.metadata.name ?? '';
  if (!command.wait) {
    io.stdout.write(command.output === 'text' ? `virtualmachineinstancemigration.kubevirt.io/${name} created\n` : serialize(created, command.output));
    return 0;
  }
  if (command.output === 'text') io.stdout.write(`virtualmachineinstancemigration.kubevirt.io/${name} created; migrating ${command.vmi}\n`);
  return follow(name, namespace, command.output, api, io);
};

const cancel: Run<'cancel'> = async (command, namespace, api, io) => {
  const inFlight = (await api.list(namespace)).filter((m) => m.spec.vmiName === command.vmi && !isFinal(m));
  if (inFlight.length === 0) {
    io.stderr.write(`error: no migration of ${command.vmi} is in flight in namespace ${namespace}\n`);
    return 1;
  }
  for (const m of inFlight) await api.delete(namespace, m.metadata.name ?? '');
  if (command.output === 'text') {
    for (const m of inFlight) io.stdout.write(`virtualmachineinstancemigration.kubevirt.io/${m.metadata.name} cancelled (was ${m.status?.phase ?? 'Pending'})\n`);
  } else {
    io.stdout.write(serialize(inFlight.length === 1 ? inFlight[0] : asList(inFlight), command.output));
  }
  return 0;
};

const status: Run<'status'> = async (command, namespace, api, io) => {
  const scope = command.allNamespaces ? undefined : namespace;
  const select = (all: VirtualMachineInstanceMigration[]) => all.filter((m) => (command.vmi === undefined || m.spec.vmiName === command.vmi) && !isFinal(m));
  const render = (items: VirtualMachineInstanceMigration[]) =>
    command.output === 'text' ? `${statusTable(items, io.now(), command.allNamespaces)}\n` : serialize(asList(items), command.output);
  if (!command.watch) {
    io.stdout.write(render(select(await api.list(scope))));
    return 0;
  }
  // Until interrupted, like kubectl get -w: the table redrawn in place on a terminal, printed again on change otherwise.
  const live = io.stdout.isTTY === true && command.output === 'text';
  let previous = '';
  let previousLines = 0;
  for (;;) {
    const text = render(select(await api.list(scope)));
    const comparable = text.replace(/\s+\S+\n/g, '\n'); // the AGE column alone does not count as a change
    if (live) {
      io.stdout.write(`${previousLines > 0 ? `\x1b[${previousLines}F\x1b[J` : ''}${text}`);
      previousLines = text.split('\n').length - 1;
    } else if (comparable !== previous) {
      io.stdout.write(command.output === 'text' && previous !== '' ? `\n${text}` : text);
    }
    previous = comparable;
    await io.sleep(live ? 1000 : POLL_MS);
  }
};

const history: Run<'history'> = async (command, namespace, api, io) => {
  const ofVmi = (await api.list(namespace)).filter((m) => m.spec.vmiName === command.vmi);
  if (command.output === 'text') io.stdout.write(`${historyTable(ofVmi, command.vmi, io.now())}\n`);
  else {
    const newestFirst = [...ofVmi].sort((a, b) => (b.metadata.creationTimestamp ?? '').localeCompare(a.metadata.creationTimestamp ?? ''));
    io.stdout.write(serialize(asList(newestFirst), command.output));
  }
  return 0;
};

export async function runKubectlMigrate(
  argv: readonly string[],
  io: Io,
  apiFor: (kubeConfig: KubeConfig) => MigrationApi = kubeMigrationApi,
  drainApiFor: (kubeConfig: KubeConfig) => DrainApi = kubeDrainApi,
): Promise<number> {
  let command: Command;
  try {
    command = parseCommand(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr.write(`error: ${error.message}\nSee 'kubectl migrate --help' for usage.\n`);
    return error.exitCode;
  }
  if (command.kind === 'help') {
    io.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const kubeConfig = new KubeConfig();
  try {
    if (command.kubeconfig) kubeConfig.loadFromFile(command.kubeconfig);
    else kubeConfig.loadFromDefault();
  } catch (error) {
    io.stderr.write(`error: cannot load kubeconfig: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
  const namespace = command.namespace ?? kubeConfig.getContextObject(kubeConfig.getCurrentContext())?.namespace ?? 'default';
  const api = apiFor(kubeConfig);
  try {
    switch (command.kind) {
      case 'migrate':
        return await migrate(command, namespace, api, io);
      case 'cancel':
        return await cancel(command, namespace, api, io);
      case 'status':
        return await status(command, namespace, api, io);
      case 'history':
        return await history(command, namespace, api, io);
      case 'drain':
        return await runDrain(command, drainApiFor(kubeConfig), io);
      case 'console':
        return await runConsole(command, namespace, kubeConfig, io);
    }
  } catch (error) {
    io.stderr.write(`${apiErrorText(error)}\n`);
    return 1;
  }
}
