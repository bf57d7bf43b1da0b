// The faults the chaos benchmark injects into a running local system, each ending with the system
// restored (the component back and ready): `restoredAt` is where recovery time starts.
import { spawn } from 'node:child_process';
import { openSync, readFileSync, readlinkSync } from 'node:fs';
import { request } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoordinationV1Api, type KubeConfig } from '@kubernetes/client-node';
import { REPO_ROOT } from '../api/generated-files.js';
import type { ControlPlaneState } from '../hack/control-plane/control-plane.js';
import { startApiServerAndEtcd, stopApiServerAndEtcd } from '../hack/control-plane/restart.js';
import { startAgentComponent, startReconcilerProcess, stopComponent, type ComponentProcess, type LocalSystemState } from '../hack/system/local-system.js';

export const FAULT_KINDS = ['reconciler-leader-sigkill', 'leader-switch', 'agent-sigkill', 'webhook-down', 'apiserver-etcd-restart'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface PlannedFault {
  kind: FaultKind;
  /** Seconds after the previous fault was restored. */
  gapS: number;
  /** How long the component stays away (webhook, API server); 0 for kill-and-restart. */
  downS: number;
}

export interface FaultRecord extends PlannedFault {
  startedAt: number;
  restoredAt: number;
  detail: string;
}

/** mulberry32: a small seeded PRNG, so a run can be repeated from its printed seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `rounds` of every kind, each round in a random order, with random gaps and outage lengths. */
export function planFaults(random: () => number, rounds: number, gapS: [number, number]): PlannedFault[] {
  const between = (lo: number, hi: number) => Math.round((lo + random() * (hi - lo)) * 10) / 10;
  const plan: PlannedFault[] = [];
  for (let r = 0; r < rounds; r++) {
    const kinds = [...FAULT_KINDS];
    for (let i = kinds.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [kinds[i], kinds[j]] = [kinds[j] as FaultKind, kinds[i] as FaultKind];
    }
    for (const kind of kinds) {
      const downS = kind === 'webhook-down' ? between(4, 12) : kind === 'apiserver-etcd-restart' ? between(3, 8) : 0;
      plan.push({ kind, gapS: between(gapS[0], gapS[1]), downS });
    }
  }
  return plan;
}

function httpsReady(url: string, ca: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(url, { ca, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

export class FaultInjector {
  private nextReconciler = 2;

  constructor(
    private readonly system: LocalSystemState,
    private readonly control: ControlPlaneState,
    private readonly kubeConfig: KubeConfig,
    private readonly log: (message: string) => void,
  ) {}

  async inject(fault: PlannedFault): Promise<FaultRecord> {
    const startedAt = Date.now();
    const detail = await this.run(fault);
    const record = { ...fault, startedAt, restoredAt: Date.now(), detail };
    this.log(`${fault.kind}: ${detail} (restored after ${((record.restoredAt - startedAt) / 1000).toFixed(1)} s)`);
    return record;
  }

  private run(fault: PlannedFault): Promise<string> {
    switch (fault.kind) {
      case 'reconciler-leader-sigkill':
        return this.replaceLeader('SIGKILL');
      case 'leader-switch':
        return this.replaceLeader('SIGTERM');
      case 'agent-sigkill':
        return this.killAgent();
      case 'webhook-down':
        return this.webhookDown(fault.downS);
      case 'apiserver-etcd-restart':
        return this.apiServerDown(fault.downS);
    }
  }

  private async leader(): Promise<ComponentProcess> {
    const api = this.kubeConfig.makeApiClient(CoordinationV1Api);
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const lease = await api.readNamespacedLease({ name: 'live-migration-reconciler', namespace: this.system.options.namespace }).catch(() => undefined);
      const holder = lease?.spec?.holderIdentity;
      const process_ = this.system.processes.find((p) => p.name === holder);
      if (process_) return process_;
      await sleep(250);
    }
    throw new Error('no reconciler holds the leader Lease');
  }

  /** SIGKILL (crash) or SIGTERM (graceful hand-over) of the leader; a new replica replaces it. */
  private async replaceLeader(signal: 'SIGKILL' | 'SIGTERM'): Promise<string> {
    const leader = await this.leader();
    await stopComponent(leader, signal);
    this.system.processes = this.system.processes.filter((p) => p !== leader);
    const replica = await startReconcilerProcess(this.system, this.nextReconciler++);
    return `${signal} ${leader.name}, started ${replica.name}`;
  }

  /**
   * SIGKILL of the agent process (every simulated node), then a new one. The simulation agent keeps
   * its records in memory only (no state dir), so each restart is a replacement with nothing kept.
   */
  private async killAgent(): Promise<string> {
    const agent = this.system.processes.find((p) => p.name === 'agent');
    if (!agent) throw new Error('no agent process');
    await stopComponent(agent, 'SIGKILL');
    await sleep(500);
    await startAgentComponent(this.system, 0);
    return `SIGKILL agent (${this.system.options.nodes.length} simulated nodes, state in memory only), started again`;
  }

  /** SIGTERM of the webhook; after `downS` the same command line again (its port is in the webhook configurations). */
  private async webhookDown(downS: number): Promise<string> {
    const webhook = this.system.processes.find((p) => p.name === 'webhook');
    if (!webhook) throw new Error('no webhook process');
    const argv = readFileSync(`/proc/${webhook.pid}/cmdline`, 'utf8').split('\0').filter((a) => a.length > 0);
    const env = Object.fromEntries(
      readFileSync(`/proc/${webhook.pid}/environ`, 'utf8')
        .split('\0')
        .filter((e) => e.includes('='))
        .map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]),
    );
    const logFile = readlinkSync(`/proc/${webhook.pid}/fd/1`);
    await stopComponent(webhook, 'SIGTERM');
    await sleep(downS * 1000);
    const [node, ...args] = argv;
    const log = openSync(logFile, 'a');
    const child = spawn(node ?? process.execPath, args, { cwd: REPO_ROOT, detached: true, stdio: ['ignore', log, log], env });
    child.unref();
    if (child.pid === undefined) throw new Error('could not start the webhook again');
    webhook.pid = child.pid;
    const ca = readFileSync(this.system.pki.caCert, 'utf8');
    const deadline = Date.now() + 60_000;
    while (!(await httpsReady(`https://127.0.0.1:${webhook.port}/readyz`, ca))) {
      if (Date.now() > deadline) throw new Error(`webhook not ready again; see ${logFile}`);
      await sleep(100);
    }
    return `webhook down ${downS} s`;
  }

  /** kube-apiserver and etcd stopped, then started again on the same data after `downS`. */
  private async apiServerDown(downS: number): Promise<string> {
    const stopped = await stopApiServerAndEtcd(this.control);
    await sleep(downS * 1000);
    await startApiServerAndEtcd(this.control, stopped);
    return `kube-apiserver + etcd down ${downS} s, started again on the same data dir`;
  }
}
