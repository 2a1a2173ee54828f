/**
 * The offline manifest's records in memory (the ManifestStore of features/offline/manifest.ts).
 * Each record carries a version token that moves on every change, so conditional changes
 * behave as they do against a Table: a change of a record read before another change is a
 * conflict. Every method completes within one turn of the event loop (atomic).
 */
import type { ManifestEntry, ManifestQuery, ManifestStore } from '../features/offline/manifest';
import type { SegmentLineage, SegmentRecord } from '../features/offline/types';
import { copyOf } from './copy';

export class MemoryManifestStore implements ManifestStore {
  private readonly records = new Map<string, ManifestEntry>();
  private token = 0;

  async insert(record: SegmentRecord): Promise<'committed' | 'already-committed'> {
    const k = key(record.view, record.version, record.day, record.segmentId);
    if (this.records.has(k)) return 'already-committed';
    this.put(k, record);
    return 'committed';
  }

  async get(view: string, version: string, day: string, segmentId: string): Promise<ManifestEntry | undefined> {
    const r = this.records.get(key(view, version, day, segmentId));
    return r && copyOf(r);
  }

  async list(q: ManifestQuery): Promise<ManifestEntry[]> {
    return [...this.records.values()]
      .filter(
        (r) =>
          (q.view === undefined || r.view === q.view) &&
          (q.version === undefined || r.version === q.version) &&
          (!q.fromDay || r.day >= q.fromDay) &&
          (!q.toDay || r.day <= q.toDay) &&
          (q.segmentId === undefined || r.segmentId === q.segmentId) &&
          (q.committedSince === undefined || r.committedAt >= q.committedSince) &&
          (q.liveOrSupersededSince === undefined ||
            r.state === 'live' ||
            (this.supersededAt.get(r) ?? -Infinity) >= q.liveOrSupersededSince),
      )
      .map(copyOf);
  }

  async retract(entry: ManifestEntry, reason: string, at: number): Promise<'committed' | 'conflict'> {
    const k = key(entry.view, entry.version, entry.day, entry.segmentId);
    const r = this.records.get(k);
    if (!r || r.rowEtag !== entry.rowEtag) return 'conflict';
    this.put(k, { ...r, state: 'superseded', retracted: reason }, at);
    return 'committed';
  }

  async replace(
    merged: SegmentRecord,
    inputs: readonly ManifestEntry[],
    at: number,
  ): Promise<'committed' | 'conflict'> {
    const mk = key(merged.view, merged.version, merged.day, merged.segmentId);
    if (this.records.has(mk)) return 'conflict';
    const current = inputs.map((i) => this.records.get(key(i.view, i.version, i.day, i.segmentId)));
    if (current.some((r, n) => !r || r.rowEtag !== inputs[n]!.rowEtag)) return 'conflict';
    this.put(mk, merged);
    for (const r of current)
      this.put(
        key(r!.view, r!.version, r!.day, r!.segmentId),
        { ...r!, state: 'superseded', supersededBy: merged.segmentId },
        at,
      );
    return 'committed';
  }

  async setLineage(entry: ManifestEntry, lineage: SegmentLineage): Promise<'updated' | 'conflict'> {
    const k = key(entry.view, entry.version, entry.day, entry.segmentId);
    const r = this.records.get(k);
    if (!r || r.rowEtag !== entry.rowEtag) return 'conflict';
    this.put(k, { ...r, lineage });
    return 'updated';
  }

  /** When each superseded record was superseded (kept beside the record, as the Table keeps `supersededAt`). */
  private readonly supersededAt = new WeakMap<ManifestEntry, number>();

  private put(k: string, record: SegmentRecord, supersededAt?: number): void {
    const { rowEtag: _token, ...fields } = record as ManifestEntry;
    const stored: ManifestEntry = { ...copyOf(fields), changedAt: Date.now(), rowEtag: String(++this.token) };
    const before = this.records.get(k);
    const since = supersededAt ?? (before && this.supersededAt.get(before));
    if (since !== undefined) this.supersededAt.set(stored, since);
    this.records.set(k, stored);
  }
}

const key = (view: string, version: string, day: string, segmentId: string) =>
  `${view}\u0000${version}\u0000${day}\u0000${segmentId}`;
