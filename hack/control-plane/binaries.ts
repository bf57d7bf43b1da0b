// Where the control-plane binaries live, building them on first use (hack/build-binaries.sh).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../../api/generated-files.js';

export interface Binaries {
  etcd: string;
  kubeApiserver: string;
  kubectl: string;
  helm: string;
}

export const CACHE_DIR = process.env.LIVE_MIGRATION_CACHE ?? join(homedir(), '.cache', 'live-migration');

function pinnedVersions(): Record<string, string> {
  const text = readFileSync(join(REPO_ROOT, 'hack/versions.env'), 'utf8');
  return Object.fromEntries(
    text
      .split('\n')
      .filter((line) => /^[A-Z_]+=/.test(line))
      .map((line) => line.split('=') as [string, string]),
  );
}

function cached(name: string, version: string | undefined): string | undefined {
  const path = join(CACHE_DIR, 'bin', name);
  const stamp = join(CACHE_DIR, 'bin', `${name}.version`);
  if (!existsSync(path) || !existsSync(stamp)) return undefined;
  return readFileSync(stamp, 'utf8').trim() === version ? path : undefined;
}

function onPath(command: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Resolves the binaries, running the build script when one is missing or out of date. */
export function ensureBinaries(): Binaries {
  const versions = pinnedVersions();
  const resolve = (): Partial<Binaries> => ({
    etcd: cached('etcd', versions.ETCD_VERSION),
    kubeApiserver: cached('kube-apiserver', versions.KUBE_VERSION),
    // build-binaries.sh stamps helm with its commit too: one built without upstream's ldflags is stale.
    helm: cached('helm', `${versions.HELM_VERSION} ${versions.HELM_GIT_COMMIT}`),
    kubectl: onPath('kubectl') ?? cached('kubectl', versions.KUBE_VERSION),
  });
  // cert-manager is part of the default build (the chart's certificate test runs on every run).
  const certManagerBuilt = (): boolean =>
    ['cert-manager-controller', 'cert-manager-cainjector'].every((name) => cached(name, versions.CERT_MANAGER_VERSION) !== undefined) &&
    existsSync(join(CACHE_DIR, `cert-manager-crds-${versions.CERT_MANAGER_VERSION}`));
  let found = resolve();
  if (!found.etcd || !found.kubeApiserver || !found.helm || !found.kubectl || !certManagerBuilt()) {
    execFileSync('bash', [join(REPO_ROOT, 'hack/build-binaries.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
    found = resolve();
  }
  const { etcd, kubeApiserver, helm, kubectl } = found;
  if (!etcd || !kubeApiserver || !helm || !kubectl) {
    throw new Error(`control-plane binaries missing after build in ${CACHE_DIR}/bin`);
  }
  return { etcd, kubeApiserver, helm, kubectl };
}
