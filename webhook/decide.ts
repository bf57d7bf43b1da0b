// Which decision answers a request: the webhook path, kind and operation pick one of the pure
// decisions in admission/, fed from the caches. A migration create is refused as retryable while
// the caches cannot be trusted (cache-trust.ts).
import type { AdmissionCache } from './cache.js';
import { untrustedCacheMessage } from './cache-trust.js';
import { matchPolicy } from '../api/migration-policy.js';
import { mutateMigrationCreate, mutateMigrationUpdate } from './admission/mutate-migration.js';
import { DEFAULT_PRIVILEGED_GROUPS, isPrivileged } from './admission/privileged.js';
import { validateClusterConfig } from './admission/validate-cluster-config.js';
import { validateMigrationCreate, vmiNameOf } from './admission/validate-migration.js';
import { validateMigrationUpdate } from './admission/validate-migration-update.js';
import { validateVmiCreate } from './admission/validate-vmi.js';
import { allow, deny, qualifiedName, type AdmissionRequest, type Decision } from './admission/types.js';

export const WEBHOOK_PATHS = {
  mutateMigration: '/mutate-migration',
  validateMigration: '/validate-migration',
  validateConfig: '/validate-config',
  validateVmi: '/validate-vmi',
} as const;
export type WebhookPath = (typeof WEBHOOK_PATHS)[keyof typeof WEBHOOK_PATHS];

const MIGRATION_KIND = 'VirtualMachineInstanceMigration';

export interface DecideOptions {
  cache: AdmissionCache;
  /** Username of the system's own service account, the only one that may set spec.priority. */
  systemServiceAccount: string;
  /** Groups whose members may set spec.migrationConfiguration, beside the system's account; default system:masters. */
  privilegedGroups?: readonly string[];
}

/** The decision on one admission request: routing by path, kind and operation to a pure decision. */
export async function decide(path: WebhookPath, request: AdmissionRequest, options: DecideOptions): Promise<Decision> {
  const { cache } = options;
  const namespace = request.namespace ?? '';
  const isMigrationCreate = request.operation === 'CREATE' && request.kind.kind === MIGRATION_KIND;
  // A create decided from caches that may lack an in-flight migration could admit a second one of
  // the same VMI: refuse it as retryable instead. Updates and the ConfigMap check read no cache.
  if (isMigrationCreate && path !== WEBHOOK_PATHS.validateConfig) {
    const trust = cache.trust();
    if (!trust.trusted) {
      return deny('CachesNotSynced', untrustedCacheMessage(qualifiedName(namespace, vmiNameOf(request.object)), trust.reason), 503);
    }
  }
  switch (path) {
    case WEBHOOK_PATHS.mutateMigration: {
      if (request.kind.kind !== MIGRATION_KIND) return allow('NotApplicable');
      if (request.operation === 'UPDATE') return mutateMigrationUpdate(request.object, request.oldObject);
      if (request.operation !== 'CREATE') return allow('NotApplicable');
      const cluster = cache.configInForce().config;
      const vmiName = vmiNameOf(request.object);
      // The VMI's labels pick the policy; looked up only when the gate is on, as in validation.
      const vmi = vmiName && cluster?.liveMigrationEnabled ? await cache.getVmi(namespace, vmiName) : undefined;
      return mutateMigrationCreate({
        namespace,
        object: request.object,
        cluster,
        privileged: isPrivileged(request.userInfo, {
          systemServiceAccount: options.systemServiceAccount,
          privilegedGroups: options.privilegedGroups ?? DEFAULT_PRIVILEGED_GROUPS,
        }),
        policy: vmi ? matchPolicy(cache.policies(), vmi.metadata.labels, cache.namespaceLabels(namespace)) : undefined,
      });
    }
    case WEBHOOK_PATHS.validateMigration: {
      if (request.kind.kind !== MIGRATION_KIND) return allow('NotApplicable');
      if (request.operation === 'UPDATE') return validateMigrationUpdate(namespace, request.object, request.oldObject);
      if (request.operation !== 'CREATE') return allow('NotApplicable');
      const config = cache.configInForce();
      const vmiName = vmiNameOf(request.object);
      // Look the VMI up only when the gate is on: a cluster without the gate never pays for a miss.
      const needsVmi = vmiName !== undefined && vmiName !== '' && config.config?.liveMigrationEnabled === true;
      return validateMigrationCreate({
        namespace,
        userInfo: request.userInfo,
        object: request.object,
        config,
        vmi: needsVmi ? await cache.getVmi(namespace, vmiName) : undefined,
        migrationsOfVmi: needsVmi ? cache.migrationsOfVmi(namespace, vmiName) : [],
        systemServiceAccount: options.systemServiceAccount,
      });
    }
    case WEBHOOK_PATHS.validateConfig:
      if (request.kind.kind !== 'ConfigMap' || (request.operation !== 'CREATE' && request.operation !== 'UPDATE')) {
        return allow('NotApplicable');
      }
      return validateClusterConfig(cache.configInForce().location, request.namespace, request.object);
    case WEBHOOK_PATHS.validateVmi:
      // Reads no cache: the subset is a property of the VMI alone.
      if (request.kind.kind !== 'VirtualMachineInstance' || request.operation !== 'CREATE') return allow('NotApplicable');
      return validateVmiCreate(namespace, request.object);
  }
}
