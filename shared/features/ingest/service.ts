/**
 * Ingest: a batch of raw records of one source (an Event Hubs batch, a chunk of a file) to the
 * dead-letter store, the offline store and the online store, through the feature DAG.
 *
 *   const ingest = new IngestService({ repo, offline, online, deadLetters, ledger, onlineBacklog, leases })   (platform.ts builds it)
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
 * 5 is staged and uploaded while 3-4 run; its manifest commit waits for them to settle.
 * A crash anywhere before 5 redelivers the batch; everything before it is idempotent. No step
 * is left running when another fails (shared/concurrency): a failed batch has stopped writing.
 * The same batch twice at once in one process (ten identical uploads) runs once: the others
 * wait for it and answer `already-ingested`.
 *
 * Windows need history: a cold process warms a source's pipeline from the offline store (its
 * records, up to its newest committed event), so the first values after a restart equal those
 * computed with full history.
 *
 * Many instances (Azure scale-out, several local hosts on one storage):
 *   - each source runs on its own event clock (a pipeline per source): an upload of one source,
 *     or a hub running ahead, never makes another source's records late;
 *   - derived views are not computed from this process's window state but from the offline
 *     store, after the batch's input views are committed (derived-from-store.ts): their inputs
 *     may be ingested by other instances;
 *   - a partition that comes to this process after another instance ingested some of it is
 *     seen by the gap in its sequence numbers (the next batch starts after a sequence number
 *     neither this process nor its warm-up saw): the source's pipeline warms again from the
 *     offline store before that batch, so windows hold what the other owner committed. Events
 *     of one entity must share a partition (the producers key by entity id), so the windows of
 *     an entity are held by one owner at a time;
 *   - two owners of one partition at once (a rebalance while the old owner's batch is in flight)
 *     take turns: an Event Hubs batch runs under a lease on its (source, partition), reads the
 *     partition's last committed sequence number under it (its mark, partition-mark.ts: one read,
 *     whatever the partition's history) and ingests only the events past it (partitionGate). A
 *     crash frees the lease after its duration; the redelivery is as above.
 */
import type { FeatureRepo, ResolvedSource, ResolvedView } from '../definitions/repo';
import type { FeatureColumn, FeatureRow, FeatureType, FeatureValue } from '../definitions/values';
import type { OnlineStore, OnlineWriteResult } from '../online/types';
import type { OfflineStore } from '../offline/store';
import type { SegmentInput, SegmentLineage } from '../offline/types';
import { eventDay, sourceSegmentView } from '../offline/segment-id';
import { flushBatchId, flushKey, ingestBatchId } from './batch-id';
import { FeaturePipeline, type PipelineResult } from '../compute/pipeline';
import { validateRecords, type RawRecord, type ValidRecord } from './validate';
import type { DeadLetter, DeadLetterRef, DeadLetterStore } from './dead-letter';
import type { UnreadableRecord } from './files';
import { DependencyError, NotFoundError } from '../../errors';
import { streamUpdate, type IntervalLedger } from '../ledger/ledger';
import { downstream } from '../compute/dag';
import { segmentRefs, type OnlineBacklog, type SegmentRef } from './online-backlog';
import { settleAll } from '../../concurrency';
import { flattenMap, gatherMap, mapLayout } from './number-maps';
import { storageUnavailable } from '../../azure/status';
import type { BlobLeases } from '../../azure/lease';
import { DerivedViewsFromStore, type DerivedRefresh } from '../compute/derived-from-store';
import { PartitionMark, lineageSeq, type EventHubBatch } from './partition-mark';

export interface IngestRequest {
  source: string;
  records: ReadonlyArray<RawRecord<string>>;
  /** Input that could not be read as records (bad JSON lines, ragged CSV rows). */
  unreadable?: ReadonlyArray<UnreadableRecord>;
  /** The identity of this batch (Event Hubs range, file chunk): names its segments. */
  batch: SegmentInput;
  /** An Event Hubs batch: each record's sequence number (default: consecutive from batch.firstSeq). */
  sequenceNumbers?: readonly number[];
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
  /** Records dated more than this ahead of their arrival are dead-lettered (STRATA_MAX_FUTURE_SKEW; default 1 h). */
  maxFutureSkewMs?: number;
  /** The interval ledger, updated once per batch (null: none). */
  ledger: IntervalLedger | null;
  /** Batches committed offline while the online store was down (null: none, an online failure fails the batch before its offline commit). */
  onlineBacklog: OnlineBacklog | null;
  /** The leases derived views are recomputed under (needed only by a repo with derived views). */
  leases?: () => Promise<BlobLeases>;
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
}

export { sourceSegmentView };

/** Columns of a source's own segments: its fields, typed where the schema says one type (JSON text otherwise). */
export function sourceColumns(source: ResolvedSource): FeatureColumn[] {
  return Object.entries(source.fields).map(([name, f]) => ({
    name,
    type: (f.type === 'unknown' ? 'string' : f.type) as FeatureType,
  }));
}

/** The columns of a batch's segment: the fields, then a column per key of its number-map fields (number-maps.ts). */
export function sourceLayout(
  source: ResolvedSource,
  records: ReadonlyArray<{ data: Record<string, unknown> }>,
): { columns: FeatureColumn[]; keyColumns: Map<string, Map<string, string>> } {
  const maps = mapLayout(source, records);
  return { columns: [...sourceColumns(source), ...maps.columns], keyColumns: maps.keyColumns };
}

/** A source's stream in this process: its pipeline and, per partition, the last sequence number it holds. */
interface SourceStream {
  pipeline: Promise<FeaturePipeline>;
  lastSeq: Map<string, number>;
  /** Per partition, the last sequence number committed offline as far as this stream knows (its warm-up, its own batches). */
  committed: Map<string, number>;
  /** Batches of the source being ingested now: a fresh warm-up waits for them to commit. */
  running: Set<Promise<unknown>>;
}

export class IngestService {
  private readonly streams = new Map<string, SourceStream>();
  private derived: Promise<DerivedViewsFromStore> | undefined;
  /** Pipeline results of batches fed but not yet committed, by batch id (retries reuse them). */
  private readonly pending = new Map<string, PipelineResult>();
  /** Batches being ingested now, by batch id: a second request for one waits for the first. */
  private readonly inFlight = new Map<string, Promise<IngestReport>>();

  constructor(private readonly deps: IngestDeps) {}

  async ingest(request: IngestRequest): Promise<IngestReport> {
    try {
      const gate = this.partitionGate(request);
      return await (gate ? gate((mark) => this.ingestOnce(request, mark)) : this.ingestOnce(request));
    } catch (e) {
      throw storageUnavailable(e) ?? e; // a storage outage names the service (the batch is retried)
    }
  }

  /**
   * An Event Hubs batch of a source views read runs under a lease on its (source, partition)
   * across instances, and is given the partition's last committed sequence number read under it.
   * After a rebalance two owners can hold one partition for a while (the old one still ingesting
   * 100..200 while the new one reads 100..250 from the checkpoint): the lease makes the second
   * wait for the first's commit, see it, and ingest only what it did not. A lease, not an ETag'd
   * record, because the batch's commit is several writes (view segments, online values, the source
   * segment last) and a dead holder frees it by itself; the mark is kept in its state.
   */
  private partitionGate(
    req: IngestRequest,
  ): ((work: (mark: PartitionMark) => Promise<IngestReport>) => Promise<IngestReport>) | undefined {
    const source = this.deps.repo.sources.get(req.source);
    const leases = this.deps.leases;
    if (req.batch.kind !== 'eventhub' || !source || !leases || this.deps.repo.viewsReading(source.name).length === 0)
      return undefined;
    const partition = req.batch.partition;
    return async (work) =>
      (await leases()).run(`ingest/${source.name}/${partition}`, async (lease) =>
        work(
          await PartitionMark.read(lease, {
            scan: () => this.committedSeq(source, partition),
            isCommitted: async (batch, days) =>
              (await this.deps.offline.committedSegments(sourceSegmentView(source.name), source.version, batch, days))
                .size > 0,
          }),
        ),
      );
  }

  /** `mark`: the partition's last sequence number committed by any instance, read under its lease. */
  private async ingestOnce(request: IngestRequest, mark?: PartitionMark): Promise<IngestReport> {
    const { req, covered } = await this.withoutCommitted(request, mark?.seq);
    const batchId = ingestBatchId(req.batch);
    const running = this.inFlight.get(batchId);
    if (running) {
      const first = await running.then(
        (r) => r,
        () => undefined,
      );
      // It committed: this one is a duplicate. (Had it failed, this one tries itself.)
      if (first)
        return first.accepted > 0 ? { ...first, status: 'already-ingested', views: {}, late: 0, problems: [] } : first;
    }
    const p = this.ingestBatch(req, batchId, covered, mark);
    this.inFlight.set(batchId, p);
    try {
      return await p;
    } finally {
      if (this.inFlight.get(batchId) === p) this.inFlight.delete(batchId);
    }
  }

  /**
   * An Event Hubs batch without the events already committed offline. A partition that moved
   * here can be delivered again from its last checkpoint in other bounds than the batch the
   * previous owner committed before it died (more events had arrived): the batch's identity then
   * differs, so its source segment is not "done", and its events up to what the stream warmed
   * from the offline store would be counted twice. They are dropped here; the rest is ingested
   * as the batch of its own range. `covered`: every event is committed (by this batch, or by
   * another one of other bounds: a second owner's).
   */
  private async withoutCommitted(req: IngestRequest, mark?: number): Promise<{ req: IngestRequest; covered: boolean }> {
    const source = this.deps.repo.sources.get(req.source);
    if (req.batch.kind !== 'eventhub' || !source || this.deps.repo.viewsReading(source.name).length === 0)
      return { req, covered: false };
    const stream = await this.streamFor(source, req.batch, mark);
    await stream.pipeline;
    const partition = req.batch.partition;
    if (mark !== undefined) {
      // The stream holds the partition up to the mark: it held it already, or it warmed from
      // the offline store after the mark was read (streamFor); its lineage may say less (compaction).
      stream.lastSeq.set(partition, Math.max(stream.lastSeq.get(partition) ?? -1, mark));
      stream.committed.set(partition, Math.max(stream.committed.get(partition) ?? -1, mark));
    }
    const done = stream.committed.get(partition) ?? -1;
    if (req.batch.firstSeq > done) return { req, covered: false };
    if (req.batch.lastSeq <= done) return { req, covered: true };
    const seqs = req.sequenceNumbers ?? req.records.map((_, i) => (req.batch as { firstSeq: number }).firstSeq + i);
    const keep = req.records.map((_, i) => seqs[i]! > done);
    const records = req.records.filter((_, i) => keep[i]);
    const sequenceNumbers = seqs.filter((_, i) => keep[i]);
    this.deps.log?.(
      'info',
      `ingest ${source.name}: partition ${req.batch.partition} delivered again from sequence ${req.batch.firstSeq}; ${req.records.length - records.length} events up to ${done} are committed already and skipped`,
    );
    return {
      req: {
        ...req,
        records,
        sequenceNumbers,
        batch: { ...req.batch, firstSeq: sequenceNumbers[0]!, lastSeq: sequenceNumbers[sequenceNumbers.length - 1]! },
      },
      covered: false,
    };
  }

  private async ingestBatch(
    req: IngestRequest,
    batchId: string,
    covered: boolean,
    mark?: PartitionMark,
  ): Promise<IngestReport> {
    const { repo } = this.deps;
    const source = repo.sources.get(req.source);
    if (!source)
      throw new NotFoundError(
        `unknown source "${req.source}"; known sources: ${[...repo.sources.keys()].join(', ') || '(none)'}`,
      );
    const receivedAt = req.receivedAt ?? Date.now();
    const { accepted, rejected } = validateRecords(repo, source.name, req.records, {
      receivedAt,
      ...(this.deps.maxFutureSkewMs !== undefined ? { maxFutureSkewMs: this.deps.maxFutureSkewMs } : {}),
    });

    const letters: DeadLetter[] = [
      ...(req.unreadable ?? []).map((u) => ({
        source: source.name,
        record: u.raw,
        reason: u.reason,
        position: u.position,
        receivedAt: new Date(receivedAt).toISOString(),
      })),
      ...rejected.map((r) => ({
        source: source.name,
        record: r.record,
        reason: r.reason,
        position: r.position,
        receivedAt: new Date(receivedAt).toISOString(),
      })),
    ];
    const deadLetter = await this.deps.deadLetters.write(source.name, batchId, letters, new Date(receivedAt));
    const report: IngestReport = {
      source: source.name,
      batchId,
      status: 'ingested',
      received: req.records.length + (req.unreadable?.length ?? 0),
      accepted: accepted.length,
      rejected: letters.length,
      ...(deadLetter ? { deadLetter } : {}),
      views: {},
      late: 0,
      problems: [],
    };
    if (accepted.length === 0) return report;
    // One round of manifest lookups: the batch's source segment (is it done?) and, for the
    // views it feeds, their segments of the same days (mostly the days their rows will have).
    // A batch whose events are all committed (by itself, or by a batch of other bounds) is done.
    const days = eventDays(accepted);
    const [committedDays, viewDays] = covered
      ? [new Map<string, boolean>(), new Map<string, Map<string, boolean>>()]
      : await Promise.all([
          this.deps.offline.lookUpDays(sourceSegmentView(source.name), source.version, req.batch, days),
          this.lookUpViewDays(source, req.batch, days),
        ]);
    if (covered || [...committedDays.values()].every(Boolean)) {
      this.pending.delete(batchId);
      // Committed before the partition had a mark that knew it (an older instance): it knows now.
      if (mark && req.batch.kind === 'eventhub' && req.batch.lastSeq > mark.seq)
        await this.countInMark(mark, req.batch, source.name);
      // A retry of a batch committed while the online store was down brings its rows online now.
      await this.drainOnlineBacklog();
      return { ...report, status: 'already-ingested' };
    }

    // The views (steps 3-4) and the source segment (5) are written at once; only the source
    // segment's manifest commit, the batch-done marker, waits for the views to be settled in
    // both stores (or in the backlog), so a failure there leaves the batch undone. A source no
    // view reads (the prediction log) only lands in its own segment: it neither feeds the DAG
    // nor moves the feature clock. While the batch runs, its stream knows (a warm-up after a
    // partition move waits for the batch's source segment to commit).
    const stream =
      repo.viewsReading(source.name).length > 0 ? await this.streamFor(source, req.batch, mark?.seq) : undefined;
    let settled = (): void => undefined;
    if (stream) {
      const marker: Promise<void> = new Promise<void>(
        (resolve) =>
          (settled = () => {
            stream.running.delete(marker);
            resolve();
          }),
      );
      stream.running.add(marker);
    }
    let onlineDown: unknown;
    const layout = sourceLayout(source, accepted);
    try {
      const views = stream
        ? this.ingestViews(stream, source, req, batchId, accepted, report, viewDays)
        : Promise.resolve(undefined);
      // The partition's mark learns of the batch before its batch-done marker commits (partition-mark.ts).
      const intent = mark && req.batch.kind === 'eventhub' ? mark.intend(req.batch, days) : Promise.resolve();
      [onlineDown] = await settleAll([
        views,
        intent,
        this.deps.offline.writeRows(
          {
            view: sourceSegmentView(source.name),
            version: source.version,
            columns: layout.columns,
            lineage: this.lineage(req),
          },
          accepted.map((r) => sourceRow(source, this.joinKeyOf(source), r, layout.keyColumns)),
          { committed: committedDays, beforeCommit: async () => void (await settleAll([views, intent])) },
        ),
      ]);
    } finally {
      settled();
    }
    this.pending.delete(batchId);
    if (mark && req.batch.kind === 'eventhub') await this.countInMark(mark, req.batch, source.name);
    if (stream && req.batch.kind === 'eventhub')
      stream.committed.set(
        req.batch.partition,
        Math.max(stream.committed.get(req.batch.partition) ?? -1, req.batch.lastSeq),
      );
    if (onlineDown !== undefined) throw onlineUnavailable(onlineDown, `batch ${batchId} of source ${source.name}`);
    return report;
  }

  /**
   * Move the partition's mark past a committed batch. A failure (the lease lost, storage down)
   * does not fail the batch: it stays pending in the mark, and the next reader finds it committed.
   */
  private async countInMark(mark: PartitionMark, batch: EventHubBatch, source: string): Promise<void> {
    await mark
      .committed(batch)
      .catch((e: unknown) =>
        this.deps.log?.(
          'warn',
          `ingest ${source}: the committed mark of partition ${batch.partition} stays before ${batch.firstSeq}..${batch.lastSeq} (${(e as Error)?.message ?? String(e)}); the next batch looks the batch up`,
        ),
      );
  }

  /**
   * Steps 3-4 of a batch: the DAG, the ledger, the views' offline segments, then their online
   * values (or the backlog). Returns why the online store failed, if it did; fills `report`.
   */
  private async ingestViews(
    stream: SourceStream,
    source: ResolvedSource,
    req: IngestRequest,
    batchId: string,
    accepted: ReadonlyArray<ValidRecord>,
    report: IngestReport,
    viewDays: ReadonlyMap<string, ReadonlyMap<string, boolean>>,
  ): Promise<unknown> {
    const pipeline = await stream.pipeline;
    let result = this.pending.get(batchId);
    if (!result) {
      result = pipeline.ingest(
        source.name,
        accepted,
        req.batch.kind === 'eventhub' ? { lane: req.batch.partition } : {},
      );
      this.pending.set(batchId, result);
    }
    if (req.batch.kind === 'eventhub')
      stream.lastSeq.set(
        req.batch.partition,
        Math.max(stream.lastSeq.get(req.batch.partition) ?? -1, req.batch.lastSeq),
      );
    report.late = result.late.length;
    report.problems = result.problems.map((p) => `${p.view}: ${p.message ?? JSON.stringify(p)}`);
    const lineage = { input: req.batch, ...(req.jobId ? { jobId: req.jobId } : {}) };
    const offline = await this.writeViewsOffline(result, lineage, viewDays);
    // Derived views after their inputs are committed, from the offline store (other instances' inputs too).
    const all = await this.refreshDerived(result, pipeline.watermark, lineage, {}, offline);
    // One ledger update for the batch, derived views included (a view is never shown caught up
    // before the views it feeds), before the batch-done marker: a crash cannot lose a late-data mark.
    await this.recordInLedger(all, pipeline.watermark, { source: source.name, accepted });
    const online = await this.writeViewsOnline(all, batchId, offline);
    report.views = viewReports(offline, 'written' in online ? online.written : undefined);
    return 'failed' in online ? online.failed : undefined;
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
    const key = flushKey(until);
    const lineage = { input: { kind: 'job' as const, key }, ...(jobId ? { jobId } : {}) };
    // Every source's clock moves to `until` (each pipeline's own rows), then the derived views.
    const result: PipelineResult = { rows: new Map(), late: [], problems: [] };
    for (const source of this.deps.repo.sources.values()) {
      if (this.deps.repo.viewsReading(source.name).length === 0) continue;
      const pipeline = await (await this.streamFor(source)).pipeline;
      if (until <= pipeline.watermark) continue;
      const pendingKey = `${key}:${source.name}`;
      let r = this.pending.get(pendingKey);
      if (!r) {
        r = pipeline.flush(until);
        this.pending.set(pendingKey, r);
      }
      for (const [view, rows] of r.rows) result.rows.set(view, rows);
      result.late.push(...r.late);
      result.problems.push(...r.problems);
    }
    const offline = await this.writeViewsOffline(result, lineage);
    const all = await this.refreshDerived(result, until, lineage, { flush: true }, offline);
    await this.recordInLedger(all, until);
    for (const k of [...this.pending.keys()]) if (k.startsWith(`${key}:`)) this.pending.delete(k);
    const online = await this.writeViewsOnline(all, flushBatchId(until), offline);
    if ('failed' in online) throw onlineUnavailable(online.failed, `the flush to ${new Date(until).toISOString()}`);
    return viewReports(offline, online.written);
  }

  /** The views a source's records feed, and for each whether its segment of the batch is committed on each day. */
  private async lookUpViewDays(
    source: ResolvedSource,
    batch: SegmentInput,
    days: ReadonlySet<string>,
  ): Promise<Map<string, Map<string, boolean>>> {
    const reading = this.deps.repo.viewsReading(source.name).map((v) => v.name);
    const views = reading.length ? downstream(this.deps.repo, reading, { includeSelf: true }) : [];
    const found = await Promise.all(
      views.map((name) => this.deps.offline.lookUpDays(name, this.deps.repo.view(name).version, batch, days)),
    );
    return new Map(views.map((name, i) => [name, found[i]!]));
  }

  /** Every view's rows to its offline segments, all views at once (`known`: days looked up already, per view). */
  private async writeViewsOffline(
    result: PipelineResult,
    lineage: SegmentLineage,
    known?: ReadonlyMap<string, ReadonlyMap<string, boolean>>,
  ): Promise<Map<string, { rows: number; segments: SegmentRef[] }>> {
    const views = [...result.rows].filter(([, rows]) => rows.length > 0);
    const written = await settleAll(
      views.map(async ([viewName, rows]) => {
        const view = this.deps.repo.view(viewName);
        const committed = known?.get(view.name);
        const w = await this.deps.offline.writeRows(
          { view: view.name, version: view.version, columns: view.columns, lineage },
          rows,
          committed ? { committed } : {},
        );
        return [
          view.name,
          {
            rows: rows.length,
            segments: segmentRefs(view, w.segments),
          },
        ] as const;
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
  private async writeViewsOnline(
    result: PipelineResult,
    key: string,
    offline: ReadonlyMap<string, { segments: SegmentRef[] }>,
  ): Promise<{ written: Map<string, OnlineWriteResult> } | { failed: unknown }> {
    try {
      await this.drainOnlineBacklog();
      const written = await settleAll(
        [...result.rows]
          .filter(([, rows]) => rows.length > 0)
          .map(async ([viewName, rows]) => {
            const view = this.deps.repo.view(viewName);
            return [view.name, await this.deps.online.write(view.name, rows, view.ttlMs)] as const;
          }),
      );
      return { written: new Map(written) };
    } catch (failed) {
      const backlog = this.deps.onlineBacklog;
      if (!backlog) throw failed;
      await backlog.add(
        key,
        [...offline.values()].flatMap((v) => v.segments),
      );
      return { failed };
    }
  }

  /** Replay every batch committed while the online store was down (rows from its offline segments). */
  private async drainOnlineBacklog(): Promise<void> {
    const backlog = this.deps.onlineBacklog;
    if (!backlog) return;
    for (const entry of await backlog.outstanding()) {
      for (const s of entry.segments) {
        const rows = await this.deps.offline.segmentRows(s.view, s.version, s.day, s.segmentId);
        if (rows.length) await this.deps.online.write(s.view, rows, this.deps.repo.views.get(s.view)?.ttlMs);
      }
      await backlog.remove(entry.key);
      this.deps.log?.(
        'info',
        `ingest: online values of ${entry.key} (committed offline while the online store was down) are written`,
      );
    }
  }

  /** One ledger update per batch (rows and late records per view and day, the views' watermarks). */
  private async recordInLedger(
    result: PipelineResult,
    clock: number,
    records?: { source: string; accepted: ReadonlyArray<ValidRecord> },
  ): Promise<void> {
    await this.deps.ledger?.recordStream(streamUpdate(this.deps.repo, result, clock, records));
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
    return this.deps.repo.viewsReading(source.name)[0]?.joinKey ?? source.entityKey ?? source.idField;
  }

  /**
   * The source's stream in this process, warmed from the offline store once, and again when a
   * batch shows that another instance ingested part of its partition meanwhile (a partition that
   * moved here): the new pipeline is warmed after this process's own batches of the source commit.
   */
  private async streamFor(source: ResolvedSource, batch?: SegmentInput, mark?: number): Promise<SourceStream> {
    let stream = this.streams.get(source.name);
    if (stream && batch?.kind === 'eventhub') {
      const held =
        (
          await stream.pipeline.then(
            (): SourceStream | undefined => stream,
            () => undefined,
          )
        )?.lastSeq.get(batch.partition) ?? -1;
      // A partition this stream never held may have been ingested by another instance up to or
      // past where this batch starts (the previous owner died after committing, before its checkpoint).
      // With the partition's mark (read under its lease): any event committed that this stream does not hold.
      const movedHere =
        mark !== undefined
          ? mark > held
          : held === -1 &&
            this.streams.get(source.name) === stream &&
            (await this.committedSeq(source, batch.partition)) >= batch.firstSeq;
      if (this.streams.get(source.name) === stream && (batch.firstSeq > held + 1 || movedHere)) {
        this.deps.log?.(
          'info',
          `ingest ${source.name}: partition ${batch.partition} continues at sequence ${batch.firstSeq} after ${held} here: another instance ingested it meanwhile; warming the source's windows from the offline store again`,
        );
        const running = [...stream.running];
        stream = this.openStream(source, Promise.allSettled(running));
      }
    }
    if (!stream) stream = this.openStream(source, Promise.resolve());
    return stream;
  }

  /** The last sequence number of a partition of the source committed offline by any instance (-1: none), from the lineage. */
  private committedSeq(source: ResolvedSource, partition: string): Promise<number> {
    return lineageSeq(this.deps.offline, sourceSegmentView(source.name), source.version, partition);
  }

  private openStream(source: ResolvedSource, after: Promise<unknown>): SourceStream {
    const lastSeq = new Map<string, number>();
    const committed = new Map<string, number>();
    const stream: SourceStream = {
      pipeline: after.then(async () => {
        const pipeline = await this.loadPipeline(source, lastSeq);
        for (const [p, seq] of lastSeq) committed.set(p, seq);
        return pipeline;
      }),
      lastSeq,
      committed,
      running: new Set(),
    };
    this.streams.set(source.name, stream);
    stream.pipeline.catch(() => {
      if (this.streams.get(source.name) === stream) this.streams.delete(source.name);
    });
    return stream;
  }

  /** A pipeline of the source's views (derived ones are computed from the store), warmed from its committed records. */
  private async loadPipeline(source: ResolvedSource, lastSeq: Map<string, number>): Promise<FeaturePipeline> {
    const { repo, offline } = this.deps;
    const views = repo
      .viewsReading(source.name)
      .filter((v) => v.input.kind === 'source')
      .map((v) => v.name);
    const pipeline = new FeaturePipeline(repo, { only: views });
    let newest = -Infinity;
    const laneClocks = new Map<string, number>();
    for (const seg of await offline.listSegments(sourceSegmentView(source.name), { version: source.version })) {
      newest = Math.max(newest, seg.maxEventTs);
      const input = seg.lineage.input;
      if (input.kind !== 'eventhub') continue;
      lastSeq.set(input.partition, Math.max(lastSeq.get(input.partition) ?? -1, input.lastSeq));
      laneClocks.set(input.partition, Math.max(laneClocks.get(input.partition) ?? -Infinity, seg.maxEventTs));
    }
    if (newest === -Infinity) return pipeline;
    const until = newest + 1;
    // History back from the slowest partition: its next records need their windows too.
    const slowest = Math.min(until, ...[...laneClocks.values()].map((c) => c + 1));
    for (const name of pipeline.views) {
      const view = repo.view(name);
      const from = view.warmUpMs === null ? undefined : slowest - view.warmUpMs;
      const rows = await offline.readRows(sourceSegmentView(source.name), {
        version: source.version,
        ...(from !== undefined ? { from } : {}),
        to: until,
      });
      pipeline.warmUp(
        name,
        rows.map((r) => validRecordOf(source, r)),
        until,
      );
    }
    for (const [lane, clock] of laneClocks) pipeline.setLaneClock(lane, clock);
    this.deps.log?.(
      'info',
      `ingest ${source.name}: windows warmed from the offline store up to ${new Date(newest).toISOString()}`,
    );
    return pipeline;
  }

  /**
   * The derived views fed by `result` (committed offline), recomputed from the offline store:
   * `result` with their rows added (for the online write), and their segments added to `offline`.
   */
  private async refreshDerived(
    result: PipelineResult,
    clock: number,
    lineage: SegmentLineage,
    opts: { flush?: boolean },
    offline: Map<string, { rows: number; segments: SegmentRef[] }>,
  ): Promise<PipelineResult> {
    if (!this.deps.repo.viewOrder.some((v) => this.deps.repo.view(v).input.kind === 'views')) return result;
    if (!this.derived) {
      if (!this.deps.leases)
        throw new Error('a repo with derived views needs IngestDeps.leases (platform.ts gives them)');
      this.derived = this.deps
        .leases()
        .then((l) => new DerivedViewsFromStore({ repo: this.deps.repo, offline: this.deps.offline, leases: l }));
      this.derived.catch(() => (this.derived = undefined));
    }
    const refreshed: DerivedRefresh = await (await this.derived).refresh(result.rows, clock, lineage, opts);
    for (const [view, o] of refreshed.offline) offline.set(view, o);
    return { ...result, rows: new Map([...result.rows, ...refreshed.rows]) };
  }

  /** Forget in-memory state (tests of cold starts; a definition change). */
  reset(): void {
    this.streams.clear();
    this.pending.clear();
  }
}

/** The distinct event days of records (one date format per day, not per record). */
function eventDays(records: ReadonlyArray<ValidRecord>): Set<string> {
  const dayNumbers = new Set<number>();
  for (const r of records) dayNumbers.add(Math.floor(r.eventTs / DAY_MS));
  return new Set([...dayNumbers].map((d) => eventDay(d * DAY_MS)));
}

const DAY_MS = 86_400_000;

/** Per view: rows and segments written offline, and what the online store took (none when it was down). */
function viewReports(
  offline: ReadonlyMap<string, { rows: number; segments: SegmentRef[] }>,
  online: ReadonlyMap<string, OnlineWriteResult> | undefined,
): Record<string, ViewIngest> {
  return Object.fromEntries(
    [...offline].map(([view, o]) => [
      view,
      { rows: o.rows, segments: o.segments.length, online: online?.get(view) ?? { applied: 0, skipped: 0 } },
    ]),
  );
}

/** The error a batch (or flush) committed offline but not online fails with: retry it. */
function onlineUnavailable(cause: unknown, what: string): DependencyError {
  const message = (cause as Error)?.message ?? String(cause);
  return new DependencyError(
    `the online store failed (${message}); ${what} is committed to the offline store, and its online values are written when the online store answers again (retry it)`,
  );
}

function sourceRow(
  source: ResolvedSource,
  joinKey: string | undefined,
  r: ValidRecord,
  keyColumns: ReadonlyMap<string, ReadonlyMap<string, string>>,
): FeatureRow {
  const values: Record<string, FeatureValue> = {};
  for (const [name, f] of Object.entries(source.fields)) {
    const v = r.data[name];
    const keys = keyColumns.get(name);
    values[name] = keys
      ? flattenMap(v, keys, values)
      : v === undefined || v === null
        ? null
        : f.type === 'unknown' && typeof v !== 'string'
          ? JSON.stringify(v)
          : (v as FeatureValue);
  }
  const entity = joinKey !== undefined ? r.data[joinKey] : undefined;
  return {
    entityId: entity === undefined || entity === null ? '' : String(entity),
    eventTs: r.eventTs,
    createdTs: r.createdTs,
    values,
  };
}

/** A stored source row back as the record the pipeline takes (warm-up, backfills). */
export function validRecordOf(source: ResolvedSource, row: FeatureRow): ValidRecord<string> {
  const data: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(source.fields)) {
    const v = row.values[name];
    if (f.numberMap) {
      const map = gatherMap(name, row.values, typeof v === 'string' ? parseMaybeJson(v) : undefined);
      if (map) data[name] = map;
      continue;
    }
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
