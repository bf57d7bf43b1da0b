// Typed reasons a migration fails, recorded as `migrationState.failureReason` ("<Reason>: <message>")
// and as the reason of the Failed event. One list so events, metrics labels and tests agree.
export const FailureReason = {
  /** Ran longer than completionTimeoutPerGiB × size. */
  CompletionTimeout: 'CompletionTimeout',
  /** Data remaining did not go down for progressTimeout seconds. */
  ProgressTimeout: 'ProgressTimeout',
  /** No eligible target node for unschedulableTimeout seconds. */
  Unschedulable: 'Unschedulable',
  /** The VMI was not running, or not evaluated live-migratable, for unschedulableTimeout seconds. */
  VmiNotReady: 'VmiNotReady',
  /** The target agent did not report ready within targetReadyTimeout. */
  TargetNotReady: 'TargetNotReady',
  /** A node agent did not answer within targetReadyTimeout. */
  AgentUnreachable: 'AgentUnreachable',
  /** The VMIM was deleted (cancel). */
  Aborted: 'Aborted',
  /** The hypervisor on the source reported the migration failed. */
  SourceFailed: 'SourceFailed',
  /** The target never saw the domain arrive after the source reported success. */
  TargetFailed: 'TargetFailed',
  /** The VMI is gone, final, or no longer on the node the migration started from. */
  VmiGone: 'VmiGone',
  /** The VMI turned out not live-migratable after admission (a PVC changed, ...). */
  NotMigratable: 'NotMigratable',
} as const;
export type FailureReason = (typeof FailureReason)[keyof typeof FailureReason];

export function formatFailureReason(reason: FailureReason, message: string): string {
  return `${reason}: ${message}`;
}
