/**
 * The online store in process memory, for `npm start` and tests without Redis. Same semantics as
 * RedisOnlineStore (the contract tests run against both): newest (eventTs, createdTs) wins, replays
 * are no-ops, TTL from the event time, a row already expired is not written.
 *
 *   const store = new EmbeddedOnlineStore({ now? })    now: the clock expiry is judged by (default Date.now)
 *
 * Values are copied in and out, so callers cannot change what is stored. Expired entries are
 * dropped when touched, and swept every few thousand writes.
 */
import type { FeatureRow, FeatureValue } from '../definitions/values';
import type { OnlineKey, OnlineRecord, OnlineStore, OnlineWriteResult } from './types';
import { DEFAULT_KEY_PREFIX, expiryOf, isNewer, newestPerEntity, onlineKey } from './codec';

interface Entry {
  values: Record<string, FeatureValue>;
  eventTs: number;
  createdTs: number;
  expireAt?: number;
}

const SWEEP_EVERY_WRITES = 4096;

export class EmbeddedOnlineStore implements OnlineStore {
  readonly kind = 'embedded' as const;
  private readonly entries = new Map<string, Entry>();
  private readonly now: () => number;
  private writesSinceSweep = 0;

  constructor(opts: { now?: () => number } = {}) {
    this.now = opts.now ?? Date.now;
  }

  async write(view: string, rows: FeatureRow[], ttlMs?: number): Promise<OnlineWriteResult> {
    const now = this.now();
    let applied = 0;
    for (const row of newestPerEntity(rows)) {
      const expireAt = expiryOf(row.eventTs, ttlMs);
      if (expireAt !== undefined && expireAt <= now) continue;
      const key = onlineKey(DEFAULT_KEY_PREFIX, view, row.entityId);
      const current = this.live(key, now);
      if (current && !isNewer(row, current)) continue;
      this.entries.set(key, {
        values: { ...row.values },
        eventTs: row.eventTs,
        createdTs: row.createdTs,
        ...(expireAt !== undefined ? { expireAt } : {}),
      });
      applied++;
    }
    this.writesSinceSweep += rows.length;
    if (this.writesSinceSweep >= SWEEP_EVERY_WRITES) this.sweep(now);
    return { applied, skipped: rows.length - applied };
  }

  async forgetAfter(view: string, entityIds: string[], eventTs: number): Promise<number> {
    let removed = 0;
    for (const id of new Set(entityIds)) {
      const key = onlineKey(DEFAULT_KEY_PREFIX, view, id);
      const e = this.entries.get(key);
      if (e && e.eventTs > eventTs) {
        this.entries.delete(key);
        removed++;
      }
    }
    return removed;
  }

  async read(keys: OnlineKey[]): Promise<Array<OnlineRecord | null>> {
    const now = this.now();
    return keys.map((k) => {
      const e = this.live(onlineKey(DEFAULT_KEY_PREFIX, k.view, k.entityId), now);
      return e ? { values: { ...e.values }, eventTs: e.eventTs, createdTs: e.createdTs } : null;
    });
  }

  async ping(): Promise<{ ok: boolean; version: string }> {
    return { ok: true, version: 'embedded' };
  }

  async close(): Promise<void> {
    this.entries.clear();
  }

  /** Keys held (expired ones included until swept), for memory reports. */
  get size(): number {
    return this.entries.size;
  }

  private live(key: string, now: number): Entry | undefined {
    const e = this.entries.get(key);
    if (e && e.expireAt !== undefined && e.expireAt <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return e;
  }

  private sweep(now: number): void {
    this.writesSinceSweep = 0;
    for (const [k, e] of this.entries) if (e.expireAt !== undefined && e.expireAt <= now) this.entries.delete(k);
  }
}
