/**
 * An online store that is filled before its first read is answered. The embedded store lives
 * in process memory, so a restart would lose every online value (predict answering 422 until
 * new events arrive). Instead of persisting a second copy, the platform rebuilds it from the
 * offline store, which holds every row the online store ever got (materialize.ts).
 *
 *   const store = new RestoredOnlineStore(new EmbeddedOnlineStore(), (into) => materialize({ ..., online: into }))
 *   store.restore()   start the rebuild (the app's start does); reads wait for it, writes do not
 *
 * Writes pass straight through while the rebuild runs: both apply newest-wins per key, so the
 * order between a streamed row and a rebuilt one does not matter. A rebuild that fails (storage
 * down at start) is not remembered: reads answer 503 naming the cause, and the next read tries again.
 */
import { DependencyError, StrataError } from '../../errors';
import type { FeatureRow } from '../definitions/values';
import type { OnlineKey, OnlineRecord, OnlineStore, OnlineWriteResult } from './types';

export class RestoredOnlineStore<R = unknown> implements OnlineStore {
  readonly kind: OnlineStore['kind'];
  private restoring: Promise<R> | undefined;
  private restored = false;

  constructor(
    private readonly inner: OnlineStore,
    private readonly fill: (into: OnlineStore) => Promise<R>,
  ) {
    this.kind = inner.kind;
  }

  /** Start the rebuild, or join the one running; resolves with its report once the store is filled. */
  restore(): Promise<R> {
    if (!this.restoring) {
      this.restoring = this.fill(this.inner).then(
        (report) => {
          this.restored = true;
          return report;
        },
        (e: unknown) => {
          this.restoring = undefined;
          const why = e instanceof Error ? e.message : String(e);
          throw e instanceof StrataError && e.status === 503
            ? e
            : new DependencyError(
                `the ${this.inner.kind} online store could not be rebuilt from the offline store: ${why}`,
              );
        },
      );
    }
    return this.restoring;
  }

  async read(keys: OnlineKey[]): Promise<Array<OnlineRecord | null>> {
    if (!this.restored) await this.restore();
    return this.inner.read(keys);
  }

  write(view: string, rows: FeatureRow[], ttlMs?: number): Promise<OnlineWriteResult> {
    return this.inner.write(view, rows, ttlMs);
  }

  /** After the rebuild: what it brings back must be forgotten too. */
  async forgetAfter(view: string, entityIds: string[], eventTs: number): Promise<number> {
    if (!this.restored) await this.restore();
    return this.inner.forgetAfter(view, entityIds, eventTs);
  }

  ping(): Promise<{ ok: boolean; version: string }> {
    return this.inner.ping();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
