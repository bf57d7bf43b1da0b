// Which kubevirt-config version a process decides under, for operators and for tests that change
// the configuration: after an edit, this gauge names the new resourceVersion once it is in force.
import { Gauge, type Registry } from 'prom-client';
import type { ConfigInForce } from '../api/config-in-force.js';

export const CONFIG_IN_FORCE_METRIC = 'live_migration_config_in_force_info';

/** `live_migration_config_in_force_info{resource_version, valid}` 1, read from the cache at scrape time. */
export function registerConfigInForceGauge(registry: Registry, read: () => ConfigInForce): Gauge<'resource_version' | 'stored_valid'> {
  return new Gauge({
    name: CONFIG_IN_FORCE_METRIC,
    help: 'The kubevirt-config resourceVersion in force ("defaults" when the ConfigMap does not exist); stored_valid is false while the stored version is refused and an older one stays in force.',
    labelNames: ['resource_version', 'stored_valid'],
    registers: [registry],
    collect() {
      this.reset();
      const state = read();
      if (state.config === undefined) return;
      this.set({ resource_version: state.resourceVersion ?? 'defaults', stored_valid: state.problem === undefined ? 'true' : 'false' }, 1);
    },
  });
}
