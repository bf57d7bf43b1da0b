// Places new VMIs: reads the VMI, Node and agent caches, asks choosePlacement, writes the VMI's
// status (guarded by the resourceVersion the decision was made on). One worker: two placements
// never decide on the same free memory; a VMI placed moments ago counts on its node until the
// cache shows it there (read-your-writes).
import type { V1Node } from '@kubernetes/client-node';
import { readGuestMemoryBytes } from '../../api/guest-memory.js';
import { parseQuantity } from '../../api/quantity.js';
import type { VirtualMachineInstance } from '../../api/schemas/vmi.js';
import { AGENT_GUEST_MEMORY_ANNOTATION } from '../../agent/registration.js';
import type { DefensiveInformer, ObjectWithMeta } from '../../kube/informer.js';
import { VMI_PLURAL, isConflict, isNotFound, type KubevirtClient } from '../../kube/kubevirt-client.js';
import type { AgentDirectory } from '../agents/agent-directory.js';
import { nodeFacts } from '../agents/node-facts.js';
import type { KeyQueue, ReconcileResult } from '../controller-runner.js';
import { awaitsPlacement, placementPatch, usageByNode } from '../placement/placement-status.js';
import { choosePlacement, type PlacementNode } from '../scheduling/placement.js';
import { objectKey, splitKey } from './vmi-migratability.js';

/** A VMI that fits nowhere is looked at again this often even if nothing we watch changes. */
const UNSCHEDULABLE_RECHECK_MS = 10_000;

export function guestMemoryOf(node: V1Node): number | undefined {
  const raw = node.metadata?.annotations?.[AGENT_GUEST_MEMORY_ANNOTATION];
  if (raw === undefined) return undefined;
  try {
    return parseQuantity(raw);
  } catch {
    return undefined;
  }
}

const memoryOf = (vmi: VirtualMachineInstance): number => readGuestMemoryBytes(vmi.spec) ?? 0;

export class PlacementController {
  /** uid → node: placed by us, not yet seen placed in the cache. */
  private readonly placed = new Map<string, { node: string; memoryBytes: number }>();

  constructor(
    private readonly vmis: DefensiveInformer<VirtualMachineInstance>,
    private readonly nodes: DefensiveInformer<V1Node & ObjectWithMeta>,
    private readonly agents: AgentDirectory,
    private readonly client: KubevirtClient,
    private readonly queue: KeyQueue,
    private readonly isLeader: () => boolean,
    /** kubevirt-config migrations.nodeDrainTaintKey: a node carrying it receives no new VMI. */
    private readonly drainTaintKey: () => string,
  ) {}

  onVmiEvent = (event: string, vmi: VirtualMachineInstance): void => {
    if (awaitsPlacement(vmi)) this.queue.add(objectKey(vmi.metadata.namespace, vmi.metadata.name));
    // Memory freed or taken elsewhere may change what fits for the VMIs still waiting.
    else if (event === 'delete' || vmi.status?.phase === 'Succeeded' || vmi.status?.phase === 'Failed') this.onClusterEvent();
  };

  /** A node or an agent changed: every waiting VMI may fit now. */
  onClusterEvent = (): void => {
    for (const vmi of this.vmis.list()) if (awaitsPlacement(vmi)) this.queue.add(objectKey(vmi.metadata.namespace, vmi.metadata.name));
  };

  reconcile = async (key: string): Promise<ReconcileResult | void> => {
    if (!this.isLeader()) return;
    const { namespace, name } = splitKey(key);
    const vmi = this.vmis.get(name, namespace);
    if (!vmi || !awaitsPlacement(vmi)) return;
    const uid = vmi.metadata.uid ?? '';
    const earlier = this.placed.get(uid);
    if (earlier) return; // our write is on its way through the watch
    const placement = choosePlacement(this.candidates(), { spec: vmi.spec, memoryBytes: memoryOf(vmi) });
    const patch = placementPatch(vmi, placement, new Date().toISOString());
    if (patch) {
      try {
        await this.client.patchStatus(VMI_PLURAL, vmi.metadata, patch);
      } catch (error) {
        if (isConflict(error) || isNotFound(error)) return;
        throw error;
      }
      if (placement.ok) this.placed.set(uid, { node: placement.node, memoryBytes: memoryOf(vmi) });
    }
    return placement.ok ? undefined : { requeueAfterMs: UNSCHEDULABLE_RECHECK_MS };
  };

  private candidates(): PlacementNode[] {
    const vmis = this.vmis.list();
    const byUid = new Map(vmis.map((v) => [v.metadata.uid ?? '', v]));
    // Forget our placements the cache now shows (or whose VMI is gone); count the others.
    for (const [uid, entry] of this.placed) {
      const cached = byUid.get(uid);
      if (!cached || cached.status?.nodeName === entry.node || !awaitsPlacement(cached)) this.placed.delete(uid);
    }
    const usage = usageByNode(vmis, memoryOf);
    for (const entry of this.placed.values()) {
      const now = usage.get(entry.node) ?? { usedMemoryBytes: 0, vmiCount: 0 };
      usage.set(entry.node, { usedMemoryBytes: now.usedMemoryBytes + entry.memoryBytes, vmiCount: now.vmiCount + 1 });
    }
    const drainTaintKey = this.drainTaintKey();
    return this.nodes.list().map((node) => {
      const name = node.metadata?.name ?? '';
      const used = usage.get(name) ?? { usedMemoryBytes: 0, vmiCount: 0 };
      const memory = guestMemoryOf(node);
      return { ...nodeFacts(node, this.agents.agentFor(name) !== undefined, drainTaintKey), ...(memory !== undefined ? { guestMemoryBytes: memory } : {}), ...used };
    });
  }
}
