/**
 * Derived views computed from the offline store, not from a process's window state, so they
 * are right on any number of instances.
 *
 *   const derived = new DerivedViewsFromStore({ repo, offline, leases })
 *   await derived.refresh(committedRows, clock, lineage, { flush? }) -> { rows, offline }   rows per derived view, written offline
 *
 * Why: the inputs of a derived view come from different sources, often from different hubs, whose
 * partitions Azure hands to different instances. An instance holds window state only for what it
 * ingested, so a derived view computed from process memory would see clicks but not purchases.
 * The offline store is the one truth every instance shares (the other choice, routing every
 * input of an entity to one owner, cannot hold across hubs whose partitions move
 * independently). So after an instance commits its input views' rows offline, it recomputes the
 * derived views of the entities those rows touched from the stored rows of every input.
 *
 * Recomputations of one derived view run one at a time across instances (a lease per view,
 * BlobLeases), and each reads after its own inputs are committed. Of two instances committing
 * inputs of one entity at once, the later one therefore reads both and computes the full value.
 * The earlier one may have written a row missing the other's input, with the same createdTs
 * the full row has (createdTs is the newest input's arrival), so a row that changes an already
 * stored row at the same (entity, event time) carries a createdTs one millisecond newer than
 * the stored one: newest-wins in both stores then take it, and "as known at" reads see the
 * correction from then on.
 *
 * The view's event clock is shared too (the lease's state): the newest clock any instance
 * passed. Each refresh computes the touched entities from their earliest changed input up to
 * that clock, plus the entities whose input rows reach their TTL in between (a TTL expiry
 * changes the value without any new input), and writes only rows that differ from the stored
 * ones. Derived views over derived views follow in DAG order with the rows just computed.
 *
 * Cost: each refresh reads the inputs' rows in [earliest change, clock] from the local segment
 * cache with DuckDB, before that only each entity's row in force at the earliest change (DuckDB
 * picks it within the TTL: a derived value reads the latest row of each input), and the view's own
 * rows since the earliest change: reads grow with the range a batch touches and the entity
 * count, not with the TTL.
 */
import type { FeatureRepo, ResolvedView } from '../definitions/repo';
import type { FeatureRow } from '../definitions/values';
import type { OfflineStore } from '../offline/store';
import type { SegmentLineage, SegmentRecord } from '../offline/types';
import { DAY_MS } from '../ledger/ledger';
import { segmentRefs, type SegmentRef } from '../ingest/online-backlog';
import type { BlobLeases } from '../../azure/lease';
import { computeView } from './transform';
import { sameValues } from './aggregate';
import { eventDaysIn } from '../offline/segment-id';
import { canonicalJson } from '../../canonical-json';

/** Past this many days a retried batch's own segments are found by one listing rather than a lookup per day. */
const MAX_LOOKUP_DAYS = 7;

export interface DerivedRefresh {
  /** New rows per derived view (corrections included), in DAG order. */
  rows: Map<string, FeatureRow[]>;
  /** What each derived view committed offline. */
  offline: Map<string, { rows: number; segments: SegmentRef[] }>;
}

interface DerivedState {
  clock: number;
}

export interface DerivedDeps {
  repo: FeatureRepo;
  offline: OfflineStore;
  leases: BlobLeases;
}

export class DerivedViewsFromStore {
  constructor(private readonly deps: DerivedDeps) {}

  /** True when some derived view reads `view` (directly). */
  hasConsumers(view: string): boolean {
    return this.derivedViews().some((d) => (d.input as { views: string[] }).views.includes(view));
  }

  /**
   * Recompute every derived view downstream of `committed` (rows of input views already
   * committed offline) up to `clock`; returns what changed, committed offline (not online).
   */
  async refresh(
    committed: ReadonlyMap<string, ReadonlyArray<FeatureRow>>,
    clock: number,
    lineage: SegmentLineage,
    opts: { flush?: boolean } = {},
  ): Promise<DerivedRefresh> {
    const out: DerivedRefresh = { rows: new Map(), offline: new Map() };
    const changed = new Map<string, ReadonlyArray<FeatureRow>>(committed);
    for (const view of this.derivedViews()) {
      const inputs = (view.input as { views: string[] }).views;
      // A batch refreshes the views it feeds; a flush (the clock moving alone) every one, for TTL expiries.
      if (!opts.flush && !inputs.some((i) => changed.get(i)?.length)) continue;
      const rows = await this.deps.leases.run(`derived/${view.name}/${view.version}`, async (lease) => {
        const state = await lease.read<DerivedState>();
        const before = state?.clock ?? -Infinity;
        const until = Math.max(clock, before);
        const { rows, from } = await this.recompute(view, inputs, changed, before, until);
        // A retried batch (its process died after this commit) finds its rows stored, so none
        // differ: hand back what it committed then, for the online store.
        if (from !== undefined) rows.push(...(await this.committedBy(view, lineage, from, until)));
        if (rows.length) {
          const w = await this.deps.offline.writeRows(
            { view: view.name, version: view.version, columns: view.columns, lineage },
            rows,
          );
          out.offline.set(view.name, {
            rows: rows.length,
            segments: segmentRefs(view, w.segments),
          });
        }
        if (until > before) await lease.write({ clock: until } satisfies DerivedState);
        return rows;
      });
      if (rows.length) {
        out.rows.set(view.name, rows);
        changed.set(view.name, rows);
      }
    }
    return out;
  }

  private derivedViews(): ResolvedView[] {
    return this.deps.repo.viewOrder.map((n) => this.deps.repo.view(n)).filter((v) => v.input.kind === 'views');
  }

  /** The rows of `view` that differ from the stored ones, for the entities whose value may have changed. */
  private async recompute(
    view: ResolvedView,
    inputs: string[],
    changed: ReadonlyMap<string, ReadonlyArray<FeatureRow>>,
    before: number,
    until: number,
  ): Promise<{ rows: FeatureRow[]; from?: number }> {
    const { repo, offline } = this.deps;
    // Entities touched by new input rows, from their earliest one.
    const startOf = new Map<string, number>();
    const touch = (entity: string, t: number) => startOf.set(entity, Math.min(startOf.get(entity) ?? Infinity, t));
    for (const i of inputs) for (const r of changed.get(i) ?? []) touch(r.entityId, r.eventTs);
    // Entities whose input rows reach their TTL in (before, until]: their value changes by time alone.
    if (before > -Infinity && until > before) {
      const expiring = await Promise.all(
        inputs.map(async (i) => {
          const ttl = repo.view(i).ttlMs;
          if (ttl === undefined) return [];
          return offline.readRows(i, { version: repo.view(i).version, from: before - ttl - 1, to: until - ttl + 2 });
        }),
      );
      for (const rows of expiring) for (const r of rows) touch(r.entityId, before + 1);
    }
    if (startOf.size === 0) return { rows: [] };
    const from = Math.min(...startOf.values());
    // Every read at once (they are independent once `from` is known): each waits on the manifest and DuckDB.
    const [reads, ownRows] = await Promise.all([
      Promise.all(
        inputs.map((i) => {
          const iv = repo.view(i);
          // History: only each entity's input row in force at `from` counts (a derived value reads
          // the latest row of each input), so DuckDB picks it rather than JS reading the whole TTL.
          return Promise.all([
            offline.readRows(i, {
              version: iv.version,
              ...(iv.ttlMs !== undefined ? { from: from - iv.ttlMs - 1 } : {}),
              to: from,
              newestPerEntity: true,
            }),
            offline.readRows(i, { version: iv.version, from, to: until + 1 }),
          ]);
        }),
      ),
      offline.readRows(view.name, { version: view.version, from, to: until + 1 }),
    ]);
    const history: Record<string, FeatureRow[]> = {};
    const input: Record<string, FeatureRow[]> = {};
    inputs.forEach((i, n) => {
      const [past, recent] = reads[n]!;
      history[i] = past.filter((r) => startOf.has(r.entityId));
      input[i] = recent.filter((r) => startOf.has(r.entityId));
    });
    const computed = computeView(repo, view.name, input, { from, to: until, history }).rows;
    // The stored value at each (entity, event time): the newest createdTs.
    const stored = new Map<string, FeatureRow>();
    for (const r of ownRows) {
      if (!startOf.has(r.entityId)) continue;
      const key = `${r.entityId}\u0000${r.eventTs}`;
      const s = stored.get(key);
      if (!s || r.createdTs >= s.createdTs) stored.set(key, r);
    }
    const out: FeatureRow[] = [];
    for (const r of computed) {
      if (r.eventTs < startOf.get(r.entityId)!) continue;
      const s = stored.get(`${r.entityId}\u0000${r.eventTs}`);
      if (!s) out.push(r);
      else if (!sameValues(s.values, r.values)) out.push({ ...r, createdTs: Math.max(r.createdTs, s.createdTs + 1) });
    }
    return { rows: out, from };
  }

  /**
   * Rows of `view` already committed under this lineage (a retry of the same batch), from `from`
   * to `until`. A segment's id follows from its input, view, version and day, so over a range of
   * a few days (a batch of recent events: the usual case) the batch's own segments are point
   * lookups on the days of [from, until] (rows past `until` were never computed), not a listing
   * of every segment since `from`, which grows with the view's history. A longer range (a late
   * correction, a clock moved far ahead by a future-dated record) would be a lookup per day, as
   * many as the range has: there one listing since `from` is cheaper, and bounded.
   */
  private async committedBy(
    view: ResolvedView,
    lineage: SegmentLineage,
    from: number,
    until: number,
  ): Promise<FeatureRow[]> {
    const offline = this.deps.offline;
    let mine: SegmentRecord[];
    if (until - from < MAX_LOOKUP_DAYS * DAY_MS) {
      const found = await offline.committedSegments(
        view.name,
        view.version,
        lineage.input,
        eventDaysIn(from, until + 1),
      );
      mine = [...found.values()].filter((s) => s.state === 'live' && s.maxEventTs >= from);
    } else {
      const id = canonicalJson(lineage.input);
      mine = (await offline.listSegments(view.name, { version: view.version, from })).filter(
        (s) => canonicalJson(s.lineage.input) === id,
      );
    }
    const rows: FeatureRow[] = [];
    for (const s of mine)
      rows.push(...(await this.deps.offline.segmentRows(view.name, view.version, s.day, s.segmentId)));
    return rows;
  }
}
