// `npm run local -- up|down|status`: a local control plane for people (demos, poking with kubectl).
// State lives in .local/ so `down` can end what `up` started, even from another shell.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../api/generated-files.js';
import { startControlPlane, stopControlPlane, type ControlPlaneState } from './control-plane/control-plane.js';

const LOCAL_DIR = join(REPO_ROOT, '.local');
const STATE_FILE = join(LOCAL_DIR, 'state.json');
const KUBECONFIG = join(LOCAL_DIR, 'kubeconfig');
const LOG_DIR = join(LOCAL_DIR, 'logs');

function readState(): ControlPlaneState | undefined {
  if (!existsSync(STATE_FILE)) return undefined;
  return JSON.parse(readFileSync(STATE_FILE, 'utf8')) as ControlPlaneState;
}

function running(state: ControlPlaneState): boolean {
  return state.pids.every((pid) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  });
}

async function up(): Promise<void> {
  const existing = readState();
  if (existing && running(existing)) {
    console.log(`Already up at ${existing.server}.`);
  } else {
    if (existing) await stopControlPlane(existing);
    mkdirSync(LOG_DIR, { recursive: true });
    const state = await startControlPlane({ kubeconfigPath: KUBECONFIG, logDir: LOG_DIR });
    writeFileSync(STATE_FILE, JSON.stringify(state, null, 2));
    console.log(`Local control plane up at ${state.server} in ${(state.timings.totalMs / 1000).toFixed(1)} s (logs: ${LOG_DIR}).`);
    console.log('CRDs installed: virtualmachineinstancemigrations.kubevirt.io (vmim), virtualmachineinstances.kubevirt.io (vmi).');
  }
  console.log(`\nexport KUBECONFIG=${KUBECONFIG}\n`);
  console.log('Then try: kubectl get vmim,vmi -A    Stop with: npm run local -- down');
}

async function down(): Promise<void> {
  const state = readState();
  if (!state) {
    console.log('Nothing is running.');
    return;
  }
  await stopControlPlane(state);
  rmSync(STATE_FILE, { force: true });
  rmSync(KUBECONFIG, { force: true });
  console.log('Local control plane stopped.');
}

function status(): void {
  const state = readState();
  if (!state) console.log('down');
  else console.log(running(state) ? `up at ${state.server} (KUBECONFIG=${KUBECONFIG})` : 'stale state: run `npm run local -- down`');
}

const command = process.argv[2];
const commands: Record<string, () => Promise<void> | void> = { up, down, status };
const run = command ? commands[command] : undefined;
if (!run) {
  console.error('usage: npm run local -- up | down | status');
  process.exit(2);
}
try {
  await run();
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
}
