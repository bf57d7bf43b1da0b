import { describe, expect, it } from '@jest/globals';
import type { MigrationStatus } from '../../phases.js';
import {
  AGENT_RESPONSIVE_CONDITION,
  ARRIVAL_CONDITION,
  afterAgentCall,
  afterArrivalConfirmed,
  afterArrivalUnconfirmed,
  agentSilentSince,
  arrivalWaitingSince,
  fresherTracker,
  progressTrackerFrom,
} from './clocks.js';
import { statusAt } from './testing-fakes.js';

const T0 = Date.parse('2026-03-01T10:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();
const running = (): MigrationStatus => statusAt('Running', 'uid-1', { at: iso(T0) });

/** What a fresh controller sees: the status as the API server holds it (a JSON round trip). */
const reread = (status: MigrationStatus): MigrationStatus => JSON.parse(JSON.stringify(status)) as MigrationStatus;

describe('agent-silence clock', () => {
  it('starts at the first failed call and is kept across later failures and a restart', () => {
    const first = afterAgentCall(running(), false, 'node-a', iso(T0 + 1000), 'Unreachable');
    expect(first).toBeDefined();
    expect(agentSilentSince(first)).toBe(T0 + 1000);
    expect(first?.conditions?.find((c) => c.type === AGENT_RESPONSIVE_CONDITION)?.message).toBe('agent on node-a: Unreachable');
    // A later failure changes nothing: there is nothing to write, and the clock keeps its start.
    expect(afterAgentCall(first as MigrationStatus, false, 'node-a', iso(T0 + 5000), 'Unreachable')).toBeUndefined();
    // A restarted controller reads the same start from the status it finds.
    const afterRestart = reread(first as MigrationStatus);
    expect(agentSilentSince(afterRestart)).toBe(T0 + 1000);
    expect(afterAgentCall(afterRestart, false, 'node-a', iso(T0 + 9000))).toBeUndefined();
  });

  it('ends at the next answer, and a later silence starts over from then', () => {
    const silent = afterAgentCall(running(), false, 'node-a', iso(T0), 'Unreachable') as MigrationStatus;
    const answered = afterAgentCall(silent, true, 'node-a', iso(T0 + 2000));
    expect(agentSilentSince(answered)).toBeUndefined();
    expect(answered?.conditions?.filter((c) => c.type === AGENT_RESPONSIVE_CONDITION)).toHaveLength(1);
    const again = afterAgentCall(answered as MigrationStatus, false, 'node-a', iso(T0 + 7000));
    expect(agentSilentSince(again)).toBe(T0 + 7000);
  });

  it('an answer with no silence writes nothing; other conditions are kept', () => {
    const status: MigrationStatus = { ...running(), conditions: [{ type: 'Admitted', status: 'True', reason: 'SlotGranted' }] };
    expect(afterAgentCall(status, true, 'node-a', iso(T0))).toBeUndefined();
    const silent = afterAgentCall(status, false, undefined, iso(T0));
    expect(silent?.conditions?.map((c) => c.type)).toEqual(['Admitted', AGENT_RESPONSIVE_CONDITION]);
    expect(silent?.conditions?.[1]?.message).toBe('node agent: no answer');
  });
});

describe('arrival', () => {
  it('stamps targetNodeDomainReadyTimestamp at the first confirmation and keeps it after', () => {
    const confirmed = afterArrivalConfirmed(running(), iso(T0 + 4000));
    expect(confirmed.migrationState?.targetNodeDomainReadyTimestamp).toBe(iso(T0 + 4000));
    expect(confirmed.migrationState?.startTimestamp).toBe(iso(T0));
    expect(confirmed.conditions ?? []).toEqual([]);
    const again = afterArrivalConfirmed(reread(confirmed), iso(T0 + 9000));
    expect(again.migrationState?.targetNodeDomainReadyTimestamp).toBe(iso(T0 + 4000));
  });

  it('ends an arrival wait that ran: the condition turns True at the confirmation', () => {
    const waiting = afterArrivalUnconfirmed(running(), iso(T0 + 1000), 'not detected') as MigrationStatus;
    expect(arrivalWaitingSince(waiting)).toBe(T0 + 1000);
    const confirmed = afterArrivalConfirmed(waiting, iso(T0 + 3000));
    expect(arrivalWaitingSince(confirmed)).toBeUndefined();
    expect(confirmed.conditions).toEqual([
      { type: ARRIVAL_CONDITION, status: 'True', reason: 'Detected', message: 'the target runs the domain', lastTransitionTime: iso(T0 + 3000) },
    ]);
  });
});

describe('progress tracker from status', () => {
  it('resumes from the published low-water mark and the time it was reached', () => {
    const status: MigrationStatus = { ...running(), progress: { lowestDataRemainingBytes: 4096, lastProgressAt: iso(T0 + 3000) } };
    expect(progressTrackerFrom(reread(status), T0 + 60_000)).toEqual({ lowestRemainingBytes: 4096, lastProgressAtMs: T0 + 3000 });
  });

  it('with nothing published, runs from the start of Running, never from now', () => {
    expect(progressTrackerFrom(running(), T0 + 60_000)).toEqual({ lowestRemainingBytes: undefined, lastProgressAtMs: T0 });
  });

  it('falls back to now only when the status has no times at all', () => {
    expect(progressTrackerFrom({ phase: 'Running' }, T0 + 5)).toEqual({ lowestRemainingBytes: undefined, lastProgressAtMs: T0 + 5 });
  });
});

describe('fresherTracker', () => {
  it('the lower mark wins, whichever side it is on', () => {
    const low = { lowestRemainingBytes: 100, lastProgressAtMs: T0 + 9000 };
    const high = { lowestRemainingBytes: 500, lastProgressAtMs: T0 };
    expect(fresherTracker(low, high)).toBe(low);
    expect(fresherTracker(high, low)).toBe(low);
  });

  it('for the same mark, the earlier time (when it was reached) wins', () => {
    const early = { lowestRemainingBytes: 100, lastProgressAtMs: T0 };
    const late = { lowestRemainingBytes: 100, lastProgressAtMs: T0 + 5000 };
    expect(fresherTracker(late, early)).toBe(early);
    expect(fresherTracker(early, late)).toBe(early);
  });

  it('a tracker with a mark beats one with none; a missing one loses', () => {
    const marked = { lowestRemainingBytes: 1, lastProgressAtMs: T0 + 5000 };
    const unmarked = { lastProgressAtMs: T0 };
    expect(fresherTracker(unmarked, marked)).toBe(marked);
    expect(fresherTracker(unmarked, undefined)).toBe(unmarked);
  });
});
