// The writes the controllers make, in one place: status merge patches guarded by the
// resourceVersion the decision was made on (a stale view gets 409 and is retried, never applied),
// finalizer edits, deletes and events. Everything here is I/O; no decisions.
import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
} from '@kubernetes/client-node';
import { GROUP, STORAGE_VERSION } from '../api/crds.js';
import type { ObjectMeta } from '../api/schemas/object-meta.js';

export const VMIM_PLURAL = 'virtualmachineinstancemigrations';
export const VMI_PLURAL = 'virtualmachineinstances';

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export function isConflict(error: unknown): boolean {
  return error instanceof ApiException && error.code === 409;
}

export function isNotFound(error: unknown): boolean {
  return error instanceof ApiException && error.code === 404;
}

export interface EventTarget {
  kind: string;
  apiVersion: string;
  metadata: ObjectMeta;
}

/** Counts every write, so benchmarks can report API writes per migration. */
export interface WriteCounter {
  count(kind: 'status' | 'metadata' | 'delete' | 'event'): void;
}

export class KubevirtClient {
  private readonly custom: CustomObjectsApi;
  private readonly core: CoreV1Api;

  constructor(
    kubeConfig: KubeConfig,
    private readonly component: string,
    private readonly writes?: WriteCounter,
  ) {
    this.custom = kubeConfig.makeApiClient(CustomObjectsApi);
    this.core = kubeConfig.makeApiClient(CoreV1Api);
  }

  /** Merge-patches the status subresource; fails with 409 if the object changed since `resourceVersion`. */
  async patchStatus(plural: string, meta: ObjectMeta, status: Record<string, unknown>): Promise<Record<string, unknown>> {
    this.writes?.count('status');
    return (await this.custom.patchNamespacedCustomObjectStatus(
      {
        group: GROUP,
        version: STORAGE_VERSION,
        plural,
        namespace: meta.namespace ?? '',
        name: meta.name ?? '',
        body: { metadata: { resourceVersion: meta.resourceVersion }, status },
      },
      mergePatch,
    )) as Record<string, unknown>;
  }

  /** Sets metadata.finalizers to exactly `finalizers`, guarded by resourceVersion. */
  async setFinalizers(plural: string, meta: ObjectMeta, finalizers: string[]): Promise<void> {
    this.writes?.count('metadata');
    await this.custom.patchNamespacedCustomObject(
      {
        group: GROUP,
        version: STORAGE_VERSION,
        plural,
        namespace: meta.namespace ?? '',
        name: meta.name ?? '',
        body: { metadata: { resourceVersion: meta.resourceVersion, finalizers } },
      },
      mergePatch,
    );
  }

  /** A live read (not a write): whether the object exists now. Used to confirm a cache's "gone". */
  async exists(plural: string, namespace: string, name: string): Promise<boolean> {
    try {
      await this.custom.getNamespacedCustomObject({ group: GROUP, version: STORAGE_VERSION, plural, namespace, name });
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  /** Deletes an object if it still has this UID (so a newer object of the same name is spared). */
  async delete(plural: string, meta: ObjectMeta): Promise<void> {
    this.writes?.count('delete');
    try {
      await this.custom.deleteNamespacedCustomObject({
        group: GROUP,
        version: STORAGE_VERSION,
        plural,
        namespace: meta.namespace ?? '',
        name: meta.name ?? '',
        body: { preconditions: { uid: meta.uid } },
      });
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  /** Creates a namespaced object of ours (e.g. an evacuation VMIM with generateName); returns it as stored. */
  async create(plural: string, namespace: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    this.writes?.count('metadata');
    return (await this.custom.createNamespacedCustomObject({ group: GROUP, version: STORAGE_VERSION, plural, namespace, body })) as Record<string, unknown>;
  }

  /** Records a core/v1 Event; failures are swallowed by the caller's choice, never fatal. */
  async event(target: EventTarget, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    this.writes?.count('event');
    const now = new Date();
    const name = `${target.metadata.name}.${now.getTime().toString(16)}${Math.random().toString(16).slice(2, 6)}`;
    await this.core.createNamespacedEvent({
      namespace: target.metadata.namespace ?? 'default',
      body: {
        metadata: { name, namespace: target.metadata.namespace },
        involvedObject: {
          kind: target.kind,
          apiVersion: target.apiVersion,
          name: target.metadata.name,
          namespace: target.metadata.namespace,
          uid: target.metadata.uid,
          resourceVersion: target.metadata.resourceVersion,
        },
        reason,
        message: message.slice(0, 1024),
        type,
        source: { component: this.component },
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      },
    });
  }
}
