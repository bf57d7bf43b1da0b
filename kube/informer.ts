// A defensive wrapper around @kubernetes/client-node's ListWatch. The library's informer stops for
// good on a list or watch error, can sit on a silently dead watch, and has no timeouts. Here every
// recovery is the same move: list afresh into a new ListWatch ("generation") and swap it in only
// once it has synced, so readers keep the last good cache meanwhile. Triggers: an error (after a
// capped exponential backoff), no watch activity for `staleAfterMs` (a stalled connection looks
// exactly like a quiet cluster, so a quiet cluster is relisted too, which is cheap), and a start
// that takes longer than `startTimeoutMs`.
import { ListWatch, Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';

/**
 * Any object with Kubernetes metadata. Looser than the client's KubernetesObject, whose metadata
 * types timestamps as Date: raw JSON (custom objects, our api/ types) keeps them as strings.
 */
export interface ObjectWithMeta {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
}

export interface ObjectList<T> {
  items: T[];
  metadata?: { resourceVersion?: string; continue?: string; _continue?: string };
}

export interface InformerLogger {
  info(object: Record<string, unknown>, message: string): void;
  warn(object: Record<string, unknown>, message: string): void;
}

export type InformerEvent = 'add' | 'update' | 'delete';

export interface DefensiveInformerOptions<T extends ObjectWithMeta> {
  /** For logs, e.g. "virtualmachineinstances". */
  name: string;
  kubeConfig: KubeConfig;
  /** The collection's URL path, e.g. /apis/kubevirt.io/v1/virtualmachineinstances. */
  path: string;
  /** Lists the whole collection (all pages); its resourceVersion starts the watch. */
  list: () => Promise<ObjectList<T>>;
  labelSelector?: string;
  fieldSelector?: string;
  /** Relist when nothing was heard from the watch for this long (default 5 minutes). */
  staleAfterMs?: number;
  /** Give up on a list + watch start after this long (default 30 s). */
  startTimeoutMs?: number;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  logger?: InformerLogger;
  /** Called for every add, update and delete; a relist replays adds, so handlers must be idempotent. */
  onEvent?: (event: InformerEvent, object: T) => void;
}

/** What a caller needs to judge whether this cache can be trusted right now (read-only). */
export interface InformerHealth {
  name: string;
  synced: boolean;
  /** Last event, watch (re)connect or completed list, in ms since the epoch; 0 before any. */
  lastActivityAt: number;
  staleAfterMs: number;
  startTimeoutMs: number;
}

export interface InformerStats {
  generations: number;
  errors: number;
  staleRelists: number;
  lastActivityAt: number;
}

const noopLogger: InformerLogger = { info: () => {}, warn: () => {} };

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  return typeof error === 'string' ? error : JSON.stringify(error) ?? String(error);
}

/**
 * Nothing here reads metadata.managedFields, and it is often the largest part of an object: drop
 * it before the cache keeps it (controller-runtime's TransformStripManagedFields, for the same reason).
 */
function stripManagedFields(object: KubernetesObject | undefined): void {
  if (object?.metadata) delete object.metadata.managedFields;
}

class StrippingWatch extends Watch {
  override watch(...args: Parameters<Watch['watch']>): ReturnType<Watch['watch']> {
    const [path, query, callback, done] = args;
    return super.watch(path, query, (phase, object: KubernetesObject, raw) => {
      stripManagedFields(object);
      callback(phase, object, raw);
    }, done);
  }
}

export class DefensiveInformer<T extends ObjectWithMeta> {
  private readonly options: Required<Omit<DefensiveInformerOptions<T>, 'labelSelector' | 'fieldSelector' | 'onEvent'>> &
    Pick<DefensiveInformerOptions<T>, 'labelSelector' | 'fieldSelector' | 'onEvent'>;
  private current: ListWatch<KubernetesObject> | undefined;
  private resyncing: Promise<void> | undefined;
  private stopped = false;
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private firstSync: { promise: Promise<void>; resolve: () => void };
  readonly stats: InformerStats = { generations: 0, errors: 0, staleRelists: 0, lastActivityAt: 0 };

  constructor(options: DefensiveInformerOptions<T>) {
    // Options given as undefined take the default (a spread alone would let undefined win, and an
    // undefined staleAfterMs made the watchdog relist continuously).
    const given = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as DefensiveInformerOptions<T>;
    this.options = {
      staleAfterMs: 5 * 60_000,
      startTimeoutMs: 30_000,
      minBackoffMs: 200,
      // Short enough that the caches are back within seconds of an API server's return.
      maxBackoffMs: 5_000,
      logger: noopLogger,
      ...given,
    };
    let resolve = () => {};
    const promise = new Promise<void>((r) => (resolve = r));
    this.firstSync = { promise, resolve };
  }

  /** Starts listing and watching; resolves once the cache first holds a full list. Retries until stopped. */
  start(): Promise<void> {
    this.stopped = false;
    this.requestResync();
    const period = Math.max(50, Math.floor(this.options.staleAfterMs / 4));
    this.watchdog = setInterval(() => this.checkStaleness(), period);
    this.watchdog.unref();
    return this.firstSync.promise;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.watchdog);
    clearTimeout(this.retryTimer);
    const current = this.current;
    this.current = undefined;
    await current?.stop();
    this.firstSync.resolve(); // nobody waits forever on a stopped informer
  }

  hasSynced(): boolean {
    return this.current !== undefined;
  }

  health(): InformerHealth {
    const { name, staleAfterMs, startTimeoutMs } = this.options;
    return { name, synced: this.hasSynced(), lastActivityAt: this.stats.lastActivityAt, staleAfterMs, startTimeoutMs };
  }

  get(name: string, namespace?: string): T | undefined {
    return this.current?.get(name, namespace) as T | undefined;
  }

  list(namespace?: string): readonly T[] {
    return (this.current?.list(namespace) ?? []) as readonly T[];
  }

  private touch(): void {
    this.stats.lastActivityAt = Date.now();
  }

  private checkStaleness(): void {
    if (this.stopped || this.resyncing || this.current === undefined) return;
    if (Date.now() - this.stats.lastActivityAt < this.options.staleAfterMs) return;
    this.stats.staleRelists++;
    this.options.logger.info({ informer: this.options.name }, 'no watch activity for a while; relisting');
    this.requestResync();
  }

  private requestResync(): void {
    if (this.stopped || this.resyncing) return;
    this.resyncing = this.resync().finally(() => (this.resyncing = undefined));
  }

  private scheduleRetry(reason: string): void {
    if (this.stopped || this.retryTimer) return;
    const delay = Math.min(this.options.maxBackoffMs, this.options.minBackoffMs * 2 ** Math.min(this.failures, 20));
    this.failures++;
    this.options.logger.warn({ informer: this.options.name, reason, retryInMs: delay }, 'informer failed; relisting after backoff');
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.requestResync();
    }, delay);
    this.retryTimer.unref();
  }

  private async resync(): Promise<void> {
    const { kubeConfig, path, list, labelSelector, fieldSelector, onEvent } = this.options;
    const listAsClientTypes = async () => {
      const result = (await list()) as unknown as KubernetesListObject<KubernetesObject>;
      result.items.forEach(stripManagedFields);
      return result;
    };
    const generation = new ListWatch<KubernetesObject>(path, new StrippingWatch(kubeConfig), listAsClientTypes, false, labelSelector, fieldSelector);
    this.stats.generations++;
    let startError: unknown;
    let started = false;
    // Events of a list still loading are held until that list is the cache: a handler that reads
    // the cache on an event (every controller does) must find the object the event names.
    const held: Array<[InformerEvent, T]> = [];
    const forward = (event: InformerEvent) => (object: KubernetesObject) => {
      this.touch();
      if (generation === this.current) onEvent?.(event, object as T);
      else if (!started) held.push([event, object as T]);
    };
    generation.on('add', forward('add'));
    generation.on('update', forward('update'));
    generation.on('delete', forward('delete'));
    generation.on('connect', () => this.touch());
    generation.on('error', (error: unknown) => {
      this.stats.errors++;
      if (!started) {
        startError ??= error ?? new Error('list or watch failed');
        return;
      }
      // The library has stopped this generation for good; only the current one matters.
      if (generation === this.current) this.scheduleRetry(describe(error));
    });

    try {
      await withTimeout(generation.start(), this.options.startTimeoutMs, `${this.options.name} list and watch`);
    } catch (error) {
      startError ??= error;
    }
    if (startError !== undefined || this.stopped) {
      await generation.stop();
      if (startError !== undefined) this.scheduleRetry(describe(startError));
      return;
    }
    started = true;
    const previous = this.current;
    this.current = generation;
    this.failures = 0;
    this.touch();
    for (const [event, object] of held.splice(0)) onEvent?.(event, object);
    // Objects deleted while no watch ran: the new list lacks them, and nothing else would say so.
    for (const gone of deletedSince(previous, generation)) onEvent?.('delete', gone as T);
    await previous?.stop();
    this.firstSync.resolve();
  }
}

/** Objects the previous cache held that the new one does not (by namespace, name and UID). */
function deletedSince(previous: ListWatch<KubernetesObject> | undefined, next: ListWatch<KubernetesObject>): KubernetesObject[] {
  if (!previous) return [];
  return previous.list().filter((old) => {
    const now = next.get(old.metadata?.name ?? '', old.metadata?.namespace);
    return now === undefined || now.metadata?.uid !== old.metadata?.uid;
  });
}

/** Lists a collection page by page so a large one does not become one huge response. */
export async function listAllPages<T extends ObjectWithMeta>(
  listPage: (continueToken: string | undefined) => Promise<ObjectList<T>>,
): Promise<ObjectList<T>> {
  const items: T[] = [];
  let continueToken: string | undefined;
  let first: ObjectList<T> | undefined;
  do {
    const page = await listPage(continueToken);
    first ??= page;
    items.push(...page.items);
    // Typed clients deserialize `continue` as `_continue`; raw custom-object lists keep `continue`.
    continueToken = page.metadata?._continue || page.metadata?.continue || undefined;
  } while (continueToken);
  // The first page's resourceVersion is the snapshot every page belongs to.
  return { items, metadata: { resourceVersion: first?.metadata?.resourceVersion } };
}
