/**
 * Ingest: a batch of raw records of one source (an Event Hubs batch, a chunk of a file) to the
 * dead-letter store, the offline store and the online store, through the feature DAG.
 *
 *   const ingest = new IngestService({ repo, offline, online, deadLetters, manifest })
 *   await ingest.ingest({ source, records, unreadable?, batch, receivedAt? }) -> IngestReport
 *
 * Exactly-once effect under at-least-once delivery. The batch's identity (`batch`: an Event
 * Hubs range, a file chunk) names every segment it writes, and the commits happen in an
 * order that makes the source segment the batch's "done" marker:
 *   1. rejected records -> one dead-letter blob named by the batch (a retry overwrites it);
 *   2. if the batch's source segment is committed, the batch was fully ingested: stop (after
 *      bringing online what an online outage held back, see 4);
 *   3. the DAG pipeline computes rows of every affected view (once per batch per process:
 *      a retry in the same process reuses the result, so windows never count a batch twice);
 *   4. each view's rows -> offline segment (idempotent), with one interval-ledger update for
 *      the batch (ledger.ts: rows, late records, watermarks); then the online store (newest
 *      wins). The offline commit never waits for the online store: when it fails, the batch's
 *      view segments go to the online backlog (online-backlog.ts), 5 happens all the same,
 *      and the batch fails with a DependencyError, so its retry (the trigger's retry policy
 *      keeps the partition paused) replays them once the online store answers;
 *   5. the validated records -> the source's own segment (what backfills and warm-up read).
 * A crash anywhere before 5 redelivers the batch; everything before it is idempotent. No step
 * is left running when another fails (shared/concurrency): a failed batch has stopped writing.
 * The same batch twice at once in one process (ten identical uploads) runs once: the others
 * wait for it and answer `already-ingested`.
 *
 * Windows need history: a cold process warms the pipeline from the offline store (source
 * records for windowed views, input-view rows for derived views) up to the newest committed
 * event, so the first values after a restart equal those computed with full history.
 */
import type { FeatureRepo, ResolvedSource, ResolvedView } from './repo';
import type { FeatureColumn, FeatureRow, FeatureType, FeatureValue } from './types';
import type { OnlineStore, OnlineWriteResult } from './online/types';
import type { OfflineStore } from './offline/store';
import type { Manifest } from './offline/manifest';
import type { SegmentInput, SegmentLineage } from './offline/types';
import { canonicalJson, eventDay, segmentId, sha256Hex } from './offline/segment-id';
import { FeaturePipeline, type PipelineResult } from './pipeline';
import { validateRecords, type RawRecord, type ValidRecord } from './validate';
import type { DeadLetter, DeadLetterRef, DeadLetterStore } from './dead-letter';
import type { UnreadableRecord } from './files';
import { DependencyError, NotFoundError } from '../errors';
import { IntervalLedger, streamUpdate } from './ledger';
import { OnlineBacklog, type SegmentRef } from './online-backlog';
import { settleAll } from '../concurrency';
import { storageUnavailable } from '../storage/clients';

export interface IngestRequest {
  source: string;
  records: ReadonlyArray<RawRecord<string>>;
  /** Input that could not be read as records (bad JSON lines, ragged CSV rows). */
  unreadable?: ReadonlyArray<UnreadableRecord>;
  /** The identity of this batch (Event Hubs range, file chunk): names its segments. */
  batch: SegmentInput;
  /** When Strata received the batch (the records' createdTs). Default: now. */
  receivedAt?: number;
  /** The invocation or job doing the work, for lineage. */
  jobId?: string;
}

export interface ViewIngest {
  rows: number;
  segments: number;
  online: OnlineWriteResult;
}

export interface IngestReport {
  source: string;
  batchId: string;
  /** `already-ingested`: this batch was committed before (a redelivery); nothing was written again. */
  status: 'ingested' | 'already-ingested';
  received: number;
  accepted: number;
  rejected: number;
  deadLetter?: DeadLetterRef;
  views: Record<string, ViewIngest>;
  /** Records older than a view's lateness: kept in the source segment, left for a backfill. */
  late: number;
  /** Transform problems (an expression that threw, ...), as readable lines. */
  problems: string[];
}

export interface IngestDeps {
  repo: FeatureRepo;
  offline: OfflineStore;
  online: OnlineStore;
  deadLetters: DeadLetterStore;
  manifest: Manifest;
  /** Records dated more than this ahead of their arrival are dead-lettered (STRATA_MAX_FUTURE_SKEW; default 1 h). */
  maxFutureSkewMs?: number;
  /** The interval ledger, updated once per batch (default: opened on the offline store's storage; null: none). */
  ledger?: IntervalLedger | null;
  /** Batches committed offline while the online store was down (default: opened on the offline store's storage; null: none). */
  onlineBacklog?: OnlineBacklog | null;
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
}

/** The offline "view" holding a source's validated records. */
export function sourceSegmentView(source: string): string {
  return `src.${source}`;
}

/** Columns of a source's own segments: its fields, typed where the schema says one type. */
export function sourceColumns(source: ResolvedSource): FeatureColumn[] {
  return Object.entries(source.fields).map(([name, f]) => ({ name, type: (f.type === 'unknown' ? 'string' : f.type) as FeatureType }));
}

export class IngestService {
  private pipeline: Promise<FeaturePipeline> | undefined;
  /** Pipeline results of batches fed but not yet committed, by batch id (retries reuse them). */
  private readonly pending = new Map<string, PipelineResult>();
  private ledger: Promise<IntervalLedger | null> | undefined;
  private backlog: Promise<OnlineBacklog | null> | undefined;
  /** Batches being ingested now, by batch id: a second request for one waits for the first. */
  private readonly inFlight = new Map<string, Promise<IngestReport>>();

  constructor(private readonly deps: IngestDeps) {}

  async ingest(req: IngestRequest): Promise<IngestReport> {
    const batchId = sha256Hex(canonicalJson(req.batch)).slice(0, 32);
    const running = this.inFlight.get(batchId);
    if (running) {
      const first = await running.then((r) => r, () => undefined);
      // It committed: this one is a duplicate. (Had it failed, this one tries itself.)
      if (first) return first.accepted > 0 ? { ...first, status: 'already-ingested', views: {}, late: 0, problems: [] } : first;
    }
    const p = this.ingestBatch(req, batchId);
    this.inFlight.set(batchId, p);
    try {
      return await p;
    } catch (e) {
      throw storageUnavailable(e) ?? e; // a storage outage names the service (the batch is retried)
    } finally {
      if (this.inFlight.get(batchId) === p) this.inFlight.delete(batchId);
    }
  }

  private async ingestBatch(req: IngestRequest, batchId: string): Promise<IngestReport> {
    const { repo } = this.deps;
    const source = repo.sources.get(req.source);
    if (!source) throw new NotFoundError(`unknown source "${req.source}"; known sources: ${[...repo.sources.keys()].join(', ') || '(none)'}`);
    const receivedAt = req.receivedAt ?? Date.now();
    const { accepted, rejected } = validateRecords(repo, source.name, req.records, { receivedAt, ...(this.deps.maxFutureSkewMs !== undefined ? { maxFutureSkewMs: this.deps.maxFutureSkewMs } : {}) });

    const letters: DeadLetter[] = [
      ...(req.unreadable ?? []).map((u) => ({ source: source.name, record: u.raw, reason: u.reason, position: u.position, receivedAt: new Date(receivedAt).toISOString() })),
      ...rejected.map((r) => ({ source: source.name, record: r.record, reason: r.reason, position: r.position, receivedAt: new Date(receivedAt).toISOString() })),
    ];
    const deadLetter = await this.deps.deadLetters.write(source.name, batchId, letters, new Date(receivedAt));
    const report: IngestReport = {
      source: source.name, batchId, status: 'ingested', received: req.records.length + (req.unreadable?.length ?? 0),
      accepted: accepted.length, rejected: letters.length, ...(deadLetter ? { deadLetter } : {}), views: {}, late: 0, problems: [],
    };
    if (accepted.length === 0) return report;
    if (await this.isCommitted(source, req.batch, accepted)) {
      this.pending.delete(batchId);
      // A retry of a batch committed while the online store was down brings its rows online now.
      await this.drainOnlineBacklog();
      return { ...report, status: 'already-ingested' };
    }

    // A source no view reads (the prediction log) only lands in its own segment: it neither
    // feeds the DAG nor moves the feature clock.
    let onlineDown: unknown;
    if (repo.viewsReading(source.name).length > 0) {
      const pipeline = await this.warmPipeline();
      let result = this.pending.get(batchId);
      if (!result) {
        result = pipeline.ingest(source.name, accepted);
        this.pending.set(batchId, result);
      }
      report.late = result.late.length;
      report.problems = result.problems.map((p) => `${p.view}: ${p.message ?? JSON.stringify(p)}`);
      // Before the batch-done marker, so a crash cannot lose a late-data mark or a view's rows.
      const [, offline] = await settleAll([
        this.recordInLedger(result, pipeline.watermark, { source: source.name, accepted }),
        this.writeViewsOffline(result, { input: req.batch, ...(req.jobId ? { jobId: req.jobId } : {}) }),
      ]);
      const online = await this.writeViewsOnline(result, batchId, offline);
      if ('failed' in online) onlineDown = online.failed;
      report.views = viewReports(offline, 'written' in online ? online.written : undefined);
    }
    await this.deps.offline.writeRows(
      { view: sourceSegmentView(source.name), version: source.version, columns: sourceColumns(source), lineage: this.lineage(req) },
      accepted.map((r) => sourceRow(source, this.joinKeyOf(source), r)),
    );
    this.pending.delete(batchId);
    if (onlineDown !== undefined) throw onlineUnavailable(onlineDown, `batch ${batchId} of source ${source.name}`);
    return report;
  }

  /**
   * Move the event clock to `until` with no new records, so windows of idle entities empty on
   * time (clicks_1h falls back to 0 an hour after the last click) in both stores. Callers pass
   * now minus the largest lateness, so records still allowed to arrive are not made late.
   */
  async flush(until: number, jobId?: string): Promise<Record<string, ViewIngest>> {
    try {
      return await this.flushTo(until, jobId);
    } catch (e) {
      throw storageUnavailable(e) ?? e;
    }
  }

  private async flushTo(until: number, jobId?: string): Promise<Record<string, ViewIngest>> {
    const pipeline = await this.warmPipeline();
    if (until <= pipeline.watermark) return {};
    const key = `flush:${Math.floor(until)}`;
    let result = this.pending.get(key);
    if (!result) {
      result = pipeline.flush(until);
      this.pending.set(key, result);
    }
    const [, offline] = await settleAll([this.recordInLedger(result, pipeline.watermark), this.writeViewsOffline(result, { input: { kind: 'job', key }, ...(jobId ? { jobId } : {}) })]);
    this.pending.delete(key);
    const online = await this.writeViewsOnline(result, sha256Hex(key).slice(0, 32), offline);
    if ('failed' in online) throw onlineUnavailable(online.failed, `the flush to ${new Date(until).toISOString()}`);
    return viewReports(offline, online.written);
  }

  /** Every view's rows to its offline segments, all views at once. */
  private async writeViewsOffline(result: PipelineResult, lineage: SegmentLineage): Promise<Map<string, { rows: number; segments: SegmentRef[] }>> {
    const views = [...result.rows].filter(([, rows]) => rows.length > 0);
    const written = await settleAll(
      views.map(async ([viewName, rows]) => {
        const view = this.deps.repo.view(viewName);
        const w = await this.deps.offline.writeRows({ view: view.name, version: view.version, columns: view.columns, lineage }, rows);
        return [view.name, { rows: rows.length, segments: w.segments.map((s) => ({ view: view.name, version: view.version, day: s.day, segmentId: s.segmentId })) }] as const;
      }),
    );
    return new Map(written);
  }

  /**
   * Every view's rows to the online store, after the backlog of earlier batches. When the
   * online store fails, the batch's segments join the backlog (durably; a failure to record
   * them is thrown, so nothing is marked done) and the cause is returned: the caller commits the
   * batch offline all the same and fails, so a retry brings the rows online.
   */
  private async writeViewsOnline(result: PipelineResult, key: string, offline: ReadonlyMap<string, { segments: SegmentRef[] }>): Promise<{ written: Map<string, OnlineWriteResult> } | { failed: unknown }> {
    try {
      await this.drainOnlineBacklog();
      const written = await settleAll(
        [...result.rows].filter(([, rows]) => rows.length > 0).map(async ([viewName, rows]) => {
          const view = this.deps.repo.view(viewName);
          return [view.name, await this.deps.online.write(view.name, rows, view.ttlMs)] as const;
        }),
      );
      return { written: new Map(written) };
    } catch (failed) {
      const backlog = await this.openBacklog();
      if (!backlog) throw failed;
      await backlog.add(key, [...offline.values()].flatMap((v) => v.segments));
      return { failed };
    }
  }

  /** Replay every batch committed while the online store was down (rows from its offline segments). */
  private async drainOnlineBacklog(): Promise<void> {
    const backlog = await this.openBacklog();
    if (!backlog) return;
    for (const entry of await backlog.outstanding()) {
      for (const s of entry.segments) {
        const rows = await this.deps.offline.segmentRows(s.view, s.version, s.day, s.segmentId);
        if (rows.length) await this.deps.online.write(s.view, rows, this.deps.repo.views.get(s.view)?.ttlMs);
      }
      await backlog.remove(entry.key);
      this.deps.log?.('info', `ingest: online values of ${entry.key} (committed offline while the online store was down) are written`);
    }
  }

  private openBacklog(): Promise<OnlineBacklog | null> {
    if (this.deps.onlineBacklog === null) return Promise.resolve(null);
    if (!this.backlog) {
      this.backlog = this.deps.onlineBacklog ? Promise.resolve(this.deps.onlineBacklog) : OnlineBacklog.open(this.deps.offline.storage);
      this.backlog.catch(() => (this.backlog = undefined));
    }
    return this.backlog;
  }

  /** One ledger update per batch (rows and late records per view and day, the views' watermarks). */
  private async recordInLedger(result: PipelineResult, clock: number, records?: { source: string; accepted: ReadonlyArray<ValidRecord> }): Promise<void> {
    if (this.deps.ledger === null) return;
    if (!this.ledger) {
      this.ledger = this.deps.ledger ? Promise.resolve(this.deps.ledger) : IntervalLedger.open(this.deps.offline.storage);
      this.ledger.catch(() => (this.ledger = undefined));
    }
    const ledger = await this.ledger;
    await ledger?.recordStream(streamUpdate(this.deps.repo, result, clock, records));
  }

  /** The largest lateness of any view: how far behind now a flush may move the clock. */
  get maxLatenessMs(): number {
    return Math.max(0, ...[...this.deps.repo.views.values()].map((v) => v.latenessMs));
  }

  private lineage(req: IngestRequest) {
    return { input: req.batch, ...(req.jobId ? { jobId: req.jobId } : {}) };
  }

  /** The join key of the entity whose views read this source (the source segment's entity_id); a source no view reads is keyed by its id field. */
  private joinKeyOf(source: ResolvedSource): string | undefined {
    return this.deps.repo.viewsReading(source.name)[0]?.joinKey ?? source.idField;
  }

  /** A batch is done when every day of its source segment is in the manifest. */
  private async isCommitted(source: ResolvedSource, batch: SegmentInput, records: ReadonlyArray<ValidRecord>): Promise<boolean> {
    const view = sourceSegmentView(source.name);
    const days = [...new Set(records.map((r) => eventDay(r.eventTs)))];
    const found = await Promise.all(days.map((d) => this.deps.manifest.get(view, source.version, d, segmentId(batch, view, source.version, d))));
    return found.every(Boolean);
  }

  /** The process's pipeline, warmed from the offline store once. */
  private warmPipeline(): Promise<FeaturePipeline> {
    if (!this.pipeline) {
      this.pipeline = this.loadPipeline();
      this.pipeline.catch(() => (this.pipeline = undefined));
    }
    return this.pipeline;
  }

  private async loadPipeline(): Promise<FeaturePipeline> {
    const { repo, offline } = this.deps;
    const pipeline = new FeaturePipeline(repo);
    let newest = -Infinity;
    for (const s of repo.sources.values()) {
      if (repo.viewsReading(s.name).length === 0) continue; // not on the feature clock
      for (const seg of await offline.listSegments(sourceSegmentView(s.name), { version: s.version })) newest = Math.max(newest, seg.maxEventTs);
    }
    if (newest === -Infinity) return pipeline;
    const until = newest + 1;
    for (const name of pipeline.views) {
      const view = repo.view(name);
      if (view.input.kind === 'source') {
        const source = repo.source(view.input.source);
        const from = view.warmUpMs === null ? undefined : until - view.warmUpMs;
        const rows = await offline.readRows(sourceSegmentView(source.name), { version: source.version, ...(from !== undefined ? { from } : {}), to: until });
        pipeline.warmUp(name, rows.map((r) => validRecordOf(source, r)), until);
      } else {
        const input: Record<string, FeatureRow[]> = {};
        for (const iv of view.input.views) {
          const inputView = repo.view(iv);
          const from = inputView.ttlMs !== undefined ? until - inputView.ttlMs : undefined;
          input[iv] = await offline.readRows(iv, { version: inputView.version, ...(from !== undefined ? { from } : {}), to: until });
        }
        pipeline.warmUp(name, input, until);
      }
    }
    this.deps.log?.('info', `ingest: pipeline warmed from the offline store up to ${new Date(newest).toISOString()}`);
    return pipeline;
  }

  /** Forget in-memory state (tests of cold starts; a definition change). */
  reset(): void {
    this.pipeline = undefined;
    this.pending.clear();
  }
}

/** Per view: rows and segments written offline, and what the online store took (none when it was down). */
function viewReports(offline: ReadonlyMap<string, { rows: number; segments: SegmentRef[] }>, online: ReadonlyMap<string, OnlineWriteResult> | undefined): Record<string, ViewIngest> {
  return Object.fromEntries(
    [...offline].map(([view, o]) => [view, { rows: o.rows, segments: o.segments.length, online: online?.get(view) ?? { applied: 0, skipped: 0 } }]),
  );
}

/** The error a batch (or flush) committed offline but not online fails with: retry it. */
function onlineUnavailable(cause: unknown, what: string): DependencyError {
  const message = (cause as Error)?.message ?? String(cause);
  return new DependencyError(`the online store failed (${message}); ${what} is committed to the offline store, and its online values are written when the online store answers again (retry it)`);
}

function sourceRow(source: ResolvedSource, joinKey: string | undefined, r: ValidRecord): FeatureRow {
  const values: Record<string, FeatureValue> = {};
  for (const [name, f] of Object.entries(source.fields)) {
    const v = r.data[name];
    values[name] = v === undefined || v === null ? null : f.type === 'unknown' && typeof v !== 'string' ? JSON.stringify(v) : (v as FeatureValue);
  }
  const entity = joinKey !== undefined ? r.data[joinKey] : undefined;
  return { entityId: entity === undefined || entity === null ? '' : String(entity), eventTs: r.eventTs, createdTs: r.createdTs, values };
}

/** A stored source row back as the record the pipeline takes (warm-up, backfills). */
export function validRecordOf(source: ResolvedSource, row: FeatureRow): ValidRecord<string> {
  const data: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(source.fields)) {
    const v = row.values[name];
    if (v === null || v === undefined) continue;
    data[name] = f.type === 'unknown' && typeof v === 'string' ? parseMaybeJson(v) : v;
  }
  return { source: source.name, eventTs: row.eventTs, createdTs: row.createdTs, data, position: 'offline store' };
}

function parseMaybeJson(s: string): unknown {
  if (!/^[\d[{"-]|^(true|false|null)$/.test(s)) return s;
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}

export type { ResolvedView };
