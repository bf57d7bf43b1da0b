// The migration UID written into the domain itself, so an agent that lost its state dir (pod
// replaced, emptyDir wiped) can still tell which libvirt job belongs to which migration.
//
// Before `virsh migrate`, the source agent sets a metadata element on the running domain
// (`virsh metadata --live`, our own namespace URI): the migration UID, this node as the source,
// the target. libvirt keeps it with the domain and the live XML carries it to the target, so:
// - on the source, a domain whose element names this node and which has an outgoing migration job
//   is that migration, still running;
// - on the target, a domain whose element names the UID (and another node as source) is that
//   migration's incoming domain.
// Reading it takes no libvirt job lock (it answers during a migration); writing does, so it is
// written only before the job starts.
import { classifyLibvirtError } from './parse.js';
import { virsh, VirshError } from './virsh.js';

export const METADATA_URI = 'https://live-migration.io/agent/migration/v1';
export const METADATA_KEY = 'lm';

export interface MigrationMetadata {
  migrationUid: string;
  sourceNode: string;
  targetNode: string;
  startedAt: string;
}

const ATTRIBUTES: Record<keyof MigrationMetadata, string> = {
  migrationUid: 'uid',
  sourceNode: 'source-node',
  targetNode: 'target-node',
  startedAt: 'started-at',
};

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

function unescape(text: string): string {
  return text.replace(/&(lt|gt|quot|apos|amp);/g, (_m, name: string) => ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' })[name] ?? '');
}

export function metadataXml(m: MigrationMetadata): string {
  const attrs = (Object.keys(ATTRIBUTES) as Array<keyof MigrationMetadata>).map((k) => `${ATTRIBUTES[k]}="${escape(m[k])}"`);
  return `<migration ${attrs.join(' ')}/>`;
}

/** Parses what `virsh metadata DOM URI` prints; undefined when it is not our element, complete. */
export function parseMetadata(text: string): MigrationMetadata | undefined {
  const element = /^\s*<(?:[A-Za-z_][\w.-]*:)?migration\b([^<>]*?)\/?>/.exec(text);
  if (!element) return undefined;
  const found = new Map<string, string>();
  for (const match of (element[1] ?? '').matchAll(/([\w:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) {
    found.set(match[1] ?? '', unescape(match[2] ?? match[3] ?? ''));
  }
  const result: Partial<MigrationMetadata> = {};
  for (const [key, attribute] of Object.entries(ATTRIBUTES) as Array<[keyof MigrationMetadata, string]>) {
    const value = found.get(attribute);
    if (value === undefined || value === '') return undefined;
    result[key] = value;
  }
  return result as MigrationMetadata;
}

/** The domain's element; undefined when it has none (or the domain is gone). */
export async function readMetadata(uri: string, domain: string): Promise<MigrationMetadata | undefined> {
  try {
    return parseMetadata(await virsh(uri, ['metadata', domain, METADATA_URI]));
  } catch (error) {
    const kind = error instanceof VirshError ? classifyLibvirtError(error.libvirtMessage) : 'other';
    if (kind === 'no-metadata' || kind === 'domain-not-found') return undefined;
    throw error;
  }
}

export async function writeMetadata(uri: string, domain: string, m: MigrationMetadata): Promise<void> {
  await virsh(uri, ['metadata', domain, METADATA_URI, '--key', METADATA_KEY, '--set', metadataXml(m), '--live']);
}

/** Every active domain of this libvirt that carries our element. */
export async function scanDomains(uri: string): Promise<Array<{ domain: string; metadata: MigrationMetadata }>> {
  const names = (await virsh(uri, ['list', '--name'])).split('\n').map((l) => l.trim()).filter(Boolean);
  const found: Array<{ domain: string; metadata: MigrationMetadata }> = [];
  for (const domain of names) {
    const metadata = await readMetadata(uri, domain);
    if (metadata) found.push({ domain, metadata });
  }
  return found;
}
