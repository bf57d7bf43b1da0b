import { describe, expect, it } from '@jest/globals';
import { ConfigTracker } from './config-in-force.js';

const location = { namespace: 'kubevirt', name: 'kubevirt-config' };
const version = (resourceVersion: string, data: Record<string, string>) => ({ metadata: { resourceVersion }, data });

describe('ConfigTracker', () => {
  it('uses the defaults, gate off, while the ConfigMap does not exist', () => {
    const state = new ConfigTracker(location).current(undefined);
    expect(state.config?.liveMigrationEnabled).toBe(false);
    expect(state.problem).toBeUndefined();
  });

  it('keeps the last valid configuration in force when the stored one turns invalid', () => {
    const tracker = new ConfigTracker(location);
    tracker.current(version('1', { 'feature-gates': 'LiveMigration', migrations: 'progressTimeout: 30' }));
    const state = tracker.current(version('2', { 'feature-gates': 'LiveMigration', migrations: 'progressTimeout: 0' }));
    expect(state.config?.migrations.progressTimeout).toBe(30);
    expect(state.problem).toBe('migrations.progressTimeout: must be at least 1 (got 0)');
    // The version named as in force is the one whose values are used, not the stored one.
    expect(state.resourceVersion).toBe('1');
    expect(tracker.current(version('3', { migrations: 'progressTimeout: 60' })).config?.liveMigrationEnabled).toBe(false);
  });

  it('has no configuration when the first one it sees is invalid (callers then fail closed)', () => {
    const tracker = new ConfigTracker(location);
    const state = tracker.current(version('1', { 'feature-gates': 'LiveMigration', migrations: '[' }));
    expect(state.config).toBeUndefined();
    expect(state.problem).toContain('migrations: is not valid YAML');
    expect(tracker.current(undefined).config?.liveMigrationEnabled).toBe(false);
  });

  it('parses each resourceVersion once', () => {
    const tracker = new ConfigTracker(location);
    const first = tracker.current(version('7', { 'feature-gates': 'LiveMigration' }));
    expect(tracker.current(version('7', { 'feature-gates': 'LiveMigration' }))).toBe(first);
  });
});
