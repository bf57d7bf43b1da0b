// The kubectl-migrate plugin as a person and a script meet it: driven in a real terminal (tmux)
// during simulated migrations — the bar redrawn in place and moving, the outcome, the exit code — and
// piped (plain lines, no escape codes), with -o json parsed, a refusal by the webhook, a cancel, and
// usage errors.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { REPO_ROOT } from '../../api/generated-files.js';
import type { VirtualMachineInstanceMigration } from '../../api/schemas/vmim.js';
import { readControlPlaneState } from '../setup/environment.js';
import { createMigration, createRunningVmi, eventually, getMigration, listMigrations, startTestSystem, waitEvaluated, type TestSystem } from '../setup/system.js';
import { expectVmiAgrees } from '../setup/order-of-truth.js';

const PLUGIN = join(REPO_ROOT, 'cli/bin/kubectl-migrate.js');
const control = readControlPlaneState();
const TMUX_SOCKET = `lm-plugin-${process.pid}`;
let system: TestSystem;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The plugin with stdout and stderr piped (not a terminal), as a script runs it. */
function plugin(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [PLUGIN, ...args], { env: { ...process.env, KUBECONFIG: control.kubeconfig }, timeout: 120_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

function tmux(args: string[]): string {
  return execFileSync('tmux', ['-L', TMUX_SOCKET, ...args], { encoding: 'utf8' });
}

/** Starts the plugin in its own tmux window (a real terminal); the shell prints EXIT=<code> after it. */
function startInTerminal(name: string, args: string[]): void {
  const command = [`KUBECONFIG=${control.kubeconfig}`, process.execPath, PLUGIN, ...args].map((a) => `'${a}'`).join(' ').replace(/^'([^']*)'/, '$1');
  tmux(['new-session', '-d', '-s', name, '-x', '150', '-y', '12', `env ${command}; echo "EXIT=$?"; sleep 600`]);
}

function screen(name: string): string {
  return tmux(['capture-pane', '-p', '-t', name]);
}

interface Watched {
  screens: string[];
  percents: number[];
  exit: number;
}

/** Samples the terminal until the plugin has exited. */
async function watchTerminal(name: string, ms = 90_000): Promise<Watched> {
  const screens: string[] = [];
  const percents: number[] = [];
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const text = screen(name);
    screens.push(text);
    for (const m of text.matchAll(/Running\s+\[[#.]+\]\s+(\d+)%/g)) {
      const p = Number(m[1]);
      if (percents[percents.length - 1] !== p) percents.push(p);
    }
    const exit = /^EXIT=(\d+)$/m.exec(text);
    if (exit) return { screens, percents, exit: Number(exit[1]) };
    await sleep(200);
  }
  throw new Error(`plugin in ${name} did not exit; screen:\n${screens[screens.length - 1]}`);
}

async function phaseOf(vmi: string): Promise<string | undefined> {
  const mine = (await listMigrations(system)).filter((m) => m.spec.vmiName === vmi);
  return mine[mine.length - 1]?.status?.phase;
}

beforeAll(async () => {
  system = await startTestSystem('plugin', { nodes: 3, webhook: true, migrations: 'bandwidthPerMigration: 16Mi' });
  const [n1, n2, n3] = system.nodes as [string, string, string];
  await createRunningVmi(system, 'vm-tty', { node: n1, memory: '128Mi' });
  await createRunningVmi(system, 'vm-pipe', { node: n2, memory: '128Mi' });
  await createRunningVmi(system, 'vm-cancel', { node: n3, memory: '512Mi' });
  for (const vmi of ['vm-tty', 'vm-pipe', 'vm-cancel']) {
    await eventually(`${vmi} LiveMigratable`, async () => {
      const vmiObject = (await system.custom.getNamespacedCustomObject({ group: 'kubevirt.io', version: 'v1', namespace: system.ns, plural: 'virtualmachineinstances', name: vmi })) as { status?: { conditions?: Array<{ type: string; status: string }> } };
      return vmiObject.status?.conditions?.some((c) => c.type === 'LiveMigratable' && c.status === 'True') ? true : undefined;
    });
  }
}, 180_000);

afterAll(async () => {
  try {
    tmux(['kill-server']);
  } catch {
    // no server left
  }
  await system?.stop();
}, 60_000);

describe('kubectl migrate', () => {
  it('on a terminal, --wait redraws one progress line in place, the bar moves, it ends Succeeded with exit 0; piped, it prints plain lines', async () => {
    startInTerminal('tty', ['vm-tty', '-n', system.ns, '--wait']);
    const piped = plugin(['vm-pipe', '-n', system.ns, '--wait']);
    const watched = await watchTerminal('tty');
    const last = watched.screens[watched.screens.length - 1] ?? '';

    expect(watched.exit).toBe(0);
    expect(last).toMatch(/vm-tty-migration-\w+: Succeeded: vm-tty moved \S+ → \S+ in \d+s/);
    // The bar moved: several distinct, increasing percentages were on screen over time.
    expect(watched.percents.length).toBeGreaterThanOrEqual(3);
    expect([...watched.percents].sort((a, b) => a - b)).toEqual(watched.percents);
    // Redrawn in place: never more than one progress line on the screen.
    for (const text of watched.screens) expect(text.match(/Running\s+\[/g)?.length ?? 0).toBeLessThanOrEqual(1);

    const pipedRun = await piped;
    expect(pipedRun.code).toBe(0);
    expect(pipedRun.stdout).not.toMatch(/[\r\x1b]/);
    const lines = pipedRun.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^virtualmachineinstancemigration.kubevirt.io\/vm-pipe-migration-\w+ created; migrating vm-pipe$/);
    expect(lines.filter((l) => /Running\s+\[[#.]+\]\s+\d+%\s+[\d.]+ MiB\/s\s+remaining \d+ MiB\s+ETA/.test(l)).length).toBeGreaterThanOrEqual(2);
    expect(lines[lines.length - 1]).toMatch(/Succeeded: vm-pipe moved/);
  }, 120_000);

  it('status shows the migration in flight (text, -o json, -w redrawn), cancel aborts it, and --wait exits 1 with the reason', async () => {
    startInTerminal('cancel', ['vm-cancel', '-n', system.ns, '--wait']);
    // Running with a progress block published that shows a rate (what the table's columns need).
    await eventually('vm-cancel running with progress', async () => {
      const mine = (await listMigrations(system)).filter((m) => m.spec.vmiName === 'vm-cancel');
      const last = mine[mine.length - 1];
      return last?.status?.phase === 'Running' && (last.status.progress?.bandwidthMiBps ?? 0) > 0 ? true : undefined;
    }, 60_000);

    const table = await plugin(['status', '-n', system.ns]);
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^NAME\s+VMI\s+PHASE\s+SOURCE\s+TARGET\s+PROGRESS\s+RATE\s+REMAINING\s+ETA\s+AGE$/);
    expect(table.stdout).toMatch(/vm-cancel-migration-\w+\s+vm-cancel\s+Running\s+\S+\s+\S+\s+\[[#.]{10}\]\s+\d+%\s+[\d.]+ MiB\/s/);

    const json = await plugin(['status', 'vm-cancel', '-n', system.ns, '-o', 'json']);
    expect(json.code).toBe(0);
    const list = JSON.parse(json.stdout) as { kind: string; items: VirtualMachineInstanceMigration[] };
    expect(list.kind).toBe('List');
    expect(list.items.map((m) => [m.spec.vmiName, m.status?.phase])).toEqual([['vm-cancel', 'Running']]);

    // status -w on a terminal: the table redrawn in place while the migration runs.
    startInTerminal('status', ['status', '-n', system.ns, '-w']);
    const rows = await eventually('status -w shows the running row', async () => {
      const text = screen('status');
      return /vm-cancel\s+Running\s+\S+\s+\S+\s+\[[#.]{10}\]\s+\d+%/.test(text) ? text : undefined;
    }, 20_000, 250);
    expect(rows.match(/^NAME\s+VMI/gm)?.length).toBe(1);

    const cancel = await plugin(['cancel', 'vm-cancel', '-n', system.ns]);
    expect(cancel).toMatchObject({ code: 0, stderr: '' });
    expect(cancel.stdout).toMatch(/vm-cancel-migration-\w+ cancelled \(was Running\)/);

    const watched = await watchTerminal('cancel');
    expect(watched.exit).toBe(1);
    // The object is gone once aborted (deleting it is the cancel); the outcome comes from the VMI.
    expect(watched.screens[watched.screens.length - 1]).toMatch(/vm-cancel-migration-\w+: Failed \(abort Succeeded\): .+/);

    await eventually('status -w shows nothing in flight', async () => (screen('status').includes('No migrations in flight.') ? true : undefined), 20_000, 250);
    expect(screen('status')).not.toMatch(/vm-cancel\s+Running/);
    tmux(['kill-session', '-t', 'status']);

    const again = await plugin(['cancel', 'vm-cancel', '-n', system.ns]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`no migration of vm-cancel is in flight in namespace ${system.ns}`);
  }, 120_000);

  it('history lists a VMI’s migrations (text and -o json), newest first', async () => {
    // Its own VMI and two migrations of it, one after the other.
    await createRunningVmi(system, 'vm-hist', { node: system.nodes[0] ?? '', memory: '16Mi' });
    await waitEvaluated(system, 'vm-hist');
    for (const name of ['hist-older', 'hist-newer']) {
      await createMigration(system, name, 'vm-hist');
      const done = await eventually(`${name} final`, async () => {
        const m = await getMigration(system, name);
        return m?.status?.phase === 'Succeeded' || m?.status?.phase === 'Failed' ? m : undefined;
      }, 60_000);
      expect(done.status?.phase).toBe('Succeeded');
      await expectVmiAgrees(system, done);
    }
    const text = await plugin(['history', 'vm-hist', '-n', system.ns]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^NAME\s+PHASE\s+SOURCE\s+TARGET\s+AGE\s+DURATION\s+RESULT\nhist-newer\s+Succeeded\s+\S+\s+\S+\s+\d+\w+\s+\d+s\s+moved\nhist-older\s+Succeeded\s+\S+\s+\S+\s+\d+\w+\s+\d+s\s+moved\n$/);
    const json = await plugin(['history', 'vm-hist', '-n', system.ns, '-o', 'json']);
    const list = JSON.parse(json.stdout) as { items: VirtualMachineInstanceMigration[] };
    expect(list.items.map((m) => m.metadata.name)).toEqual(['hist-newer', 'hist-older']);
    const yaml = await plugin(['history', 'vm-hist', '-n', system.ns, '-o', 'yaml']);
    expect(yaml.stdout).toMatch(/^apiVersion: v1\nkind: List\nitems:\n/);
  }, 90_000);

  it('a migration the webhook refuses exits 1 with the API server’s reason; -o json prints the created object', async () => {
    const refused = await plugin(['no-such-vmi', '-n', system.ns]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^Error from server \(BadRequest\): .*denied the request: the VMI ".*\/no-such-vmi" does not exist/);

    const created = await plugin(['vm-tty', '-n', system.ns, '-o', 'json']);
    expect(created.code).toBe(0);
    const vmim = JSON.parse(created.stdout) as VirtualMachineInstanceMigration;
    expect(vmim.metadata.name).toMatch(/^vm-tty-migration-/);
    expect(vmim.spec.migrationConfiguration?.bandwidthPerMigration).toBe('16Mi'); // stamped by the webhook
    const second = await eventually('second vm-tty migration final', async () => {
      const all = (await listMigrations(system)).filter((m) => m.metadata.name === vmim.metadata.name);
      return ['Succeeded', 'Failed'].includes(all[0]?.status?.phase ?? '') ? all[0] : undefined;
    }, 60_000);
    await expectVmiAgrees(system, second);
  }, 90_000);

  it('usage errors exit 2 and say what is wrong', async () => {
    const cases: Array<[string[], RegExp]> = [
      [[], /a VMI name or a subcommand/],
      [['vm-tty', '-o', 'table'], /--output must be json or yaml/],
      [['status', '--wait'], /--wait does not apply to "status"/],
    ];
    for (const [args, message] of cases) {
      const run = await plugin(args);
      expect({ args, code: run.code }).toEqual({ args, code: 2 });
      expect(run.stderr).toMatch(message);
      expect(run.stderr).toContain("See 'kubectl migrate --help'");
    }
    const help = await plugin(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('kubectl migrate status [VMI]');
  }, 60_000);
});
