// Prometheus metrics of the reconciler: KubeVirt's kubevirt_vmi_migration* names where they exist,
// so existing dashboards work, plus work-queue and reconcile metrics.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { VirtualMachineInstanceMigration } from '../api/schemas/vmim.js';
import type { WorkQueue, WorkQueueObserver } from './queue/work-queue.js';
import type { RunnerObserver } from './controller-runner.js';
import type { MigrationObserver } from './controllers/migration/deps.js';

export interface ReconcilerMetrics {
  registry: Registry;
  queueObserver(queue: string): WorkQueueObserver;
  /** Depth, adds and retries of a queue, read at scrape time. */
  watchQueue(name: string, queue: WorkQueue): void;
  runner: RunnerObserver;
  migrations: MigrationObserver;
  apiWrites: Counter<'kind'>;
}

const PHASE_GAUGES = {
  Pending: 'kubevirt_vmi_migrations_in_pending_phase',
  Scheduling: 'kubevirt_vmi_migrations_in_scheduling_phase',
  Scheduled: 'kubevirt_vmi_migrations_in_scheduled_phase',
  PreparingTarget: 'live_migration_migrations_in_preparing_target_phase',
  TargetReady: 'live_migration_migrations_in_target_ready_phase',
  Running: 'kubevirt_vmi_migrations_in_running_phase',
} as const;

export function createReconcilerMetrics(listMigrations: () => readonly VirtualMachineInstanceMigration[]): ReconcilerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'live_migration_reconciler_' });

  for (const [phase, name] of Object.entries(PHASE_GAUGES)) {
    new Gauge({
      name,
      help: `Migrations in phase ${phase}.`,
      registers: [registry],
      collect() {
        this.set(listMigrations().filter((m) => (m.status?.phase ?? 'Pending') === phase && !m.metadata.deletionTimestamp).length);
      },
    });
  }
  const progressGauge = (name: string, help: string, read: (m: VirtualMachineInstanceMigration) => number | undefined) =>
    new Gauge({
      name,
      help,
      labelNames: ['namespace', 'name', 'vmi'],
      registers: [registry],
      collect() {
        this.reset();
        for (const m of listMigrations()) {
          const value = m.status?.phase === 'Running' ? read(m) : undefined;
          if (value !== undefined) this.set({ namespace: m.metadata.namespace ?? '', name: m.metadata.name ?? '', vmi: m.spec.vmiName }, value);
        }
      },
    });
  progressGauge('kubevirt_vmi_migration_data_processed_bytes', 'Bytes sent by a running migration.', (m) => m.status?.progress?.dataProcessedBytes);
  progressGauge('kubevirt_vmi_migration_data_remaining_bytes', 'Bytes a running migration still has to send.', (m) => m.status?.progress?.dataRemainingBytes);
  progressGauge('kubevirt_vmi_migration_dirty_memory_rate_bytes', 'How fast the guest dirties memory.', (m) => m.status?.progress?.dirtyRateBytesPerSecond);
  progressGauge('kubevirt_vmi_migration_memory_transfer_rate_bytes', 'Transfer rate of a running migration.', (m) =>
    m.status?.progress?.bandwidthMiBps === undefined ? undefined : m.status.progress.bandwidthMiBps * 2 ** 20,
  );

  const succeeded = new Counter({ name: 'kubevirt_vmi_migration_succeeded', help: 'Migrations that succeeded.', registers: [registry] });
  const failed = new Counter({ name: 'kubevirt_vmi_migration_failed', help: 'Migrations that failed, by reason.', labelNames: ['reason'], registers: [registry] });
  const dispatched = new Counter({ name: 'live_migration_dispatched_total', help: 'Migrations started on their source agent.', registers: [registry] });
  const apiWrites = new Counter({ name: 'live_migration_reconciler_api_writes_total', help: 'Writes to the API server, by kind.', labelNames: ['kind'], registers: [registry] });

  const queues = new Map<string, WorkQueue>();
  const queueGauge = (name: string, help: string, read: (q: WorkQueue) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['name'],
      registers: [registry],
      collect() {
        for (const [queueName, queue] of queues) this.set({ name: queueName }, read(queue));
      },
    });
  queueGauge('workqueue_depth', 'Keys waiting in the queue.', (q) => q.stats().depth);
  queueGauge('workqueue_adds_total', 'Keys added (a counter, read from the queue).', (q) => q.stats().adds);
  queueGauge('workqueue_retries_total', 'Keys re-added with backoff (a counter, read from the queue).', (q) => q.stats().retries);
  const latency = new Histogram({ name: 'workqueue_queue_duration_seconds', help: 'Time a key waits before a worker takes it.', labelNames: ['name'], registers: [registry], buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 5] });
  const work = new Histogram({ name: 'workqueue_work_duration_seconds', help: 'Time a reconcile takes.', labelNames: ['name'], registers: [registry], buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 5] });
  const reconciles = new Counter({ name: 'controller_runtime_reconcile_total', help: 'Reconciles by controller and result.', labelNames: ['controller', 'result'], registers: [registry] });

  return {
    registry,
    apiWrites,
    watchQueue: (name, queue) => queues.set(name, queue),
    queueObserver: (name) => ({
      queueLatency: (ms: number) => latency.observe({ name }, ms / 1000),
      workDuration: (ms: number) => work.observe({ name }, ms / 1000),
    }),
    runner: { reconciled: (controller, outcome) => reconciles.inc({ controller, result: outcome }) },
    migrations: {
      finished: (phase, reason) => (phase === 'Succeeded' ? succeeded.inc() : failed.inc({ reason: reason ?? 'Unknown' })),
      dispatched: () => dispatched.inc(),
    },
  };
}
