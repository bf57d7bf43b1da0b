// The libvirt driver's small state file per migration: what it cannot ask libvirt after a restart
// (which domain a migration UID moves, whether an abort was asked for, an outcome already seen).
// One JSON file per UID in the state dir, written atomically (temp file + rename). libvirt stays
// the truth for everything else: a record never makes a migration Succeeded by itself.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TargetReady } from '../contract.js';

export interface OutcomeRecord {
  state: 'Completed' | 'Failed' | 'Aborted';
  failure?: string;
  at: string;
}

export interface OutgoingRecord {
  kind: 'outgoing';
  migrationUid: string;
  domain: string;
  targetNode: string;
  destinationUri: string;
  startedAt: string;
  abortRequested?: boolean;
  outcome?: OutcomeRecord;
}

export interface IncomingRecord {
  kind: 'incoming';
  migrationUid: string;
  domain: string;
  sourceNode: string;
  preparedAt: string;
  ready: TargetReady;
}

export type MigrationRecord = OutgoingRecord | IncomingRecord;

const UID_FILE = /^([0-9a-f-]{1,64})\.(outgoing|incoming)\.json$/;

export class StateStore {
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  private file(record: Pick<MigrationRecord, 'kind' | 'migrationUid'>): string {
    return join(this.dir, `${record.migrationUid}.${record.kind}.json`);
  }

  save(record: MigrationRecord): void {
    const file = this.file(record);
    const temp = `${file}.tmp`;
    writeFileSync(temp, `${JSON.stringify(record)}\n`, { mode: 0o600 });
    renameSync(temp, file);
  }

  remove(record: Pick<MigrationRecord, 'kind' | 'migrationUid'>): void {
    rmSync(this.file(record), { force: true });
  }

  /** Every readable record; unreadable files are reported, not fatal (a torn write is a temp file). */
  load(onBad: (file: string, error: string) => void): MigrationRecord[] {
    const records: MigrationRecord[] = [];
    for (const name of readdirSync(this.dir)) {
      const match = UID_FILE.exec(name);
      if (!match) continue;
      try {
        const parsed = JSON.parse(readFileSync(join(this.dir, name), 'utf8')) as MigrationRecord;
        if (parsed.migrationUid !== match[1] || parsed.kind !== match[2] || typeof parsed.domain !== 'string') throw new Error('fields do not match the file name');
        records.push(parsed);
      } catch (error) {
        onBad(name, error instanceof Error ? error.message : String(error));
      }
    }
    return records;
  }
}
