/**
 * A monitoring run, what the timer calls: close every finished window of every model version
 * that production or canary points at, and summarise every completed day partition of every
 * view. Idempotent by construction: a window is keyed by (model, version, start) and carries
 * the fingerprint of what it read (prediction and label segment ids, whether a baseline
 * existed), so a run recomputes only windows that are new, were deferred or failed, or whose
 * inputs changed since (a late segment, labels that arrived); the same holds per (view, day).
 *
 * Priority: the load guard is asked before each window; a busy host defers the rest of the
 * run (each window recorded as deferred, with the reason) rather than slowing predictions.
 * All DuckDB work runs on monitoring's own thread-limited instance. Nothing here is on the
 * predict path: serving only writes the prediction log.
 */
import { createHash } from 'node:crypto';
import type { FeatureRepo } from '../features/definitions/repo';
import type { OfflineStore } from '../features/offline/store';
import type { SegmentRecord } from '../features/offline/types';
import { sourceSegmentView } from '../features/ingest/service';
import type { DeadLetterStore } from '../features/ingest/dead-letter';
import type { ModelState, ModelVersion } from '../serving/registry';
import { CANARY, PRODUCTION } from '../serving/registry';
import type { AlertService } from './alerts/service';
import type { RetrainTrigger } from './alerts/retrain';
import type { LoadGuard } from './load-guard';
import type { ModelMonitoring } from './model-config';
import { withMonitoringConnection } from './monitor-duckdb';
import type { BaselineStore } from './store/baselines';
import type { MonitoringResultStore, WindowState } from './store/results';
import { segmentsFingerprint, summarizePartition, type SummaryStore } from './store-summaries';
import { scoreSummary } from './summary-anomaly';
import { computeWindow, relabelWindow, windowContent, type LabelInputs } from './window-compute';
import { windowMetrics, type WindowResult, type WindowStatus } from './window-result';
import type { PerformanceTask } from './performance';
import type { Baseline } from '../training/baseline';

export const PREDICTIONS_SOURCE = 'predictions';
const DAY_MS = 86_400_000;

export interface MonitorDeps {
  registry: { listModels(): Promise<ModelState[]>; getVersion(model: string, version: number): Promise<ModelVersion> };
  offline: Pick<OfflineStore, 'listSegments' | 'localFiles'>;
  repo: FeatureRepo;
  baselines: BaselineStore;
  results: MonitoringResultStore;
  summaries: SummaryStore;
  alerts: AlertService;
  deadLetters: Pick<DeadLetterStore, 'countsByDay'>;
  load: LoadGuard;
  configs: ReadonlyMap<string, ModelMonitoring>;
  windowMs: number;
  duckdbThreads: number;
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
}

export interface RunOptions {
  /** The run's clock (default now). */
  now?: number;
  /** A window closes this long after its end, for predictions still on their way to the store (default 2 min). */
  settleMs?: number;
  /** Windows that started this long ago are looked at again for late data (default 24 h, at least the label horizon). */
  lookbackMs?: number;
  /** Run even when the host is busy (the admin route). */
  ignoreLoad?: boolean;
  /** Skip the store's day summaries. */
  windowsOnly?: boolean;
  /** What `retrain` alert actions call (the functions layer wires the Durable client). */
  retrain?: RetrainTrigger;
  /** Windows computed in one run at most (default 48); the rest wait for the next run (a first run over a long history). */
  maxWindows?: number;
  /**
   * How long a quiet verdict of the load guard holds (default 1 s): a window kept by its counts
   * takes a few ms, and a probe of 200 ms before each of them (every window within the label
   * horizon after a compaction of labels) made the run mostly waiting.
   */
  loadVerdictMs?: number;
}

/** `relabelled`: the predictions were the same and labels arrived, so only what labels decide was computed again. */
export type WindowOutcome = 'computed' | 'recomputed' | 'relabelled' | 'unchanged' | Exclude<WindowStatus, 'computed'>;

export interface RunReport {
  at: string;
  windows: Array<{
    model: string;
    version: number;
    start: string;
    outcome: WindowOutcome;
    rows?: number;
    reason?: string;
  }>;
  summaries: Array<{ view: string; day: string; status: string }>;
  alerts: number;
  deferred?: string;
}

/** A window whose inputs changed since it was stored (or that was never computed): this run's work. */
interface PendingWindow {
  /** Its place in the run's report (windows in time order per version). */
  slot: number;
  model: string;
  version: number;
  start: number;
  end: number;
  inputs: string;
  /** The prediction segments' part of `inputs` (WindowResult.predictionInputs). */
  predictionInputs: string;
  stored: WindowState | undefined;
  baseline: Baseline | undefined;
  cfg: ModelMonitoring | undefined;
  preds: SegmentRecord[];
  labelSegs: SegmentRecord[];
}

export class Monitor {
  /** The last run of this process: runs take turns (below). */
  private turn: Promise<unknown> = Promise.resolve();

  constructor(private readonly d: MonitorDeps) {}

  /**
   * Close finished windows, summarise completed days, alert. Runs of one process take turns:
   * the timer and the admin route at once would compute the same windows twice, each a full
   * scan; the second finds them stored and computes only what the first did not.
   */
  run(o: RunOptions = {}): Promise<RunReport> {
    const mine = this.turn.then(() => this.runNow(o));
    this.turn = mine.catch(() => undefined);
    return mine;
  }

  /** The (model, version) pairs production or canary point at now. */
  async monitoredVersions(): Promise<Array<{ model: string; version: number }>> {
    const out: Array<{ model: string; version: number }> = [];
    for (const m of await this.d.registry.listModels()) {
      const versions = new Set([m.aliases[PRODUCTION], m.aliases[CANARY]].filter((v): v is number => v !== undefined));
      for (const version of [...versions].sort((a, b) => a - b)) out.push({ model: m.model, version });
    }
    return out;
  }

  private async runNow(o: RunOptions): Promise<RunReport> {
    const now = o.now ?? Date.now();
    const W = this.d.windowMs;
    const report: RunReport = { at: new Date(now).toISOString(), windows: [], summaries: [], alerts: 0 };
    const lastEnd = Math.floor((now - (o.settleMs ?? 120_000)) / W) * W;
    const versions = await this.monitoredVersions();
    const horizon = Math.max(0, ...versions.map((v) => this.d.configs.get(v.model)?.labels?.horizon ?? 0));
    const firstStart = Math.floor((now - Math.max(o.lookbackMs ?? DAY_MS, horizon)) / W) * W;
    if (lastEnd > firstStart && versions.length) {
      const predictions = await this.d.offline.listSegments(sourceSegmentView(PREDICTIONS_SOURCE), {
        from: firstStart,
        to: lastEnd,
      });
      // Every window of every monitored version first, then the work in order: windows never
      // computed oldest first (alert streaks count consecutive windows in time order), then
      // recomputes newest first. Streaming labels change the inputs of every window within the
      // label horizon, so recomputes can outnumber one run's share (maxWindows); they must not
      // hold back the newest windows, nor overwrite a window's last result with a placeholder.
      const pending: PendingWindow[] = [];
      const outcomes: Array<RunReport['windows'][number]> = [];
      for (const { model, version } of versions) {
        const cfg = this.d.configs.get(model);
        const labels = cfg?.labels
          ? await this.d.offline
              .listSegments(sourceSegmentView(cfg.labels.source), {
                from: firstStart,
                to: lastEnd + cfg.labels.horizon,
              })
              .catch(() => [])
          : [];
        const baseline = await this.d.baselines.get(model, version);
        const states = await this.d.results.windowStates(model, version, { from: firstStart, to: lastEnd });
        for (let start = firstStart; start < lastEnd; start += W) {
          const end = start + W;
          const preds = overlapping(predictions, start, end);
          if (!preds.length) continue; // no prediction of anyone in it: nothing to close
          const labelSegs = cfg?.labels ? overlapping(labels, start, end + cfg.labels.horizon) : [];
          const withBaseline = baseline ? 'b' : '-';
          const inputs = fingerprint(`${segmentsFingerprint(preds)}|${segmentsFingerprint(labelSegs)}|${withBaseline}`);
          const predictionInputs = fingerprint(`${segmentsFingerprint(preds)}|${withBaseline}`);
          const stored = states.get(start);
          const slot = outcomes.push({ model, version, start: iso(start), outcome: 'unchanged' }) - 1;
          if (stored && stored.inputs === inputs && (stored.status === 'computed' || stored.status === 'no_baseline'))
            continue;
          pending.push({
            slot,
            model,
            version,
            start,
            end,
            inputs,
            predictionInputs,
            stored,
            baseline,
            cfg,
            preds,
            labelSegs,
          });
        }
      }
      const recompute = (w: PendingWindow) => w.stored?.status === 'computed';
      pending.sort(byRunOrder);
      let deferred: string | undefined;
      let computed = 0;
      let quietAt = -Infinity;
      const maxWindows = o.maxWindows ?? 48;
      for (const w of pending) {
        const { model, version, start, end, stored } = w;
        if (!deferred && computed >= maxWindows)
          deferred = `${maxWindows} windows computed in this run (maxWindows); the next run continues`;
        if (!deferred && !o.ignoreLoad && performance.now() - quietAt >= (o.loadVerdictMs ?? 1_000)) {
          const load = await this.d.load.check();
          if (load.busy) deferred = load.reason!;
          quietAt = performance.now();
        }
        if (deferred) {
          // A computed window keeps its result until the recompute runs (its changed inputs bring it back).
          if (stored?.status !== 'deferred' && !recompute(w))
            await this.d.results.putWindow(
              {
                model,
                version,
                start,
                end,
                status: 'deferred',
                reason: deferred,
                computedAt: now,
                inputs: '',
                rows: 0,
              },
              [],
            );
          outcomes[w.slot] = { model, version, start: iso(start), outcome: 'deferred', reason: deferred };
          continue;
        }
        const settled = recompute(w) ? await this.settleByCounts(w, now) : undefined;
        if (settled?.by !== 'kept') computed++;
        const result: WindowResult = {
          ...(settled?.result ?? (await this.closeWindow({ ...w, now }))),
          predictionInputs: w.predictionInputs,
        };
        if (settled?.by === 'kept') {
          await this.d.results.refreshWindow(result); // its numbers are the stored ones
          continue; // reported unchanged
        }
        const metrics = windowMetrics(result);
        await this.d.results.putWindow(result, metrics);
        report.alerts += (await this.d.alerts.observeWindow(result, metrics, o.retrain)).length;
        const outcome: WindowOutcome =
          result.status !== 'computed'
            ? result.status
            : settled
              ? 'relabelled'
              : recompute(w)
                ? 'recomputed'
                : 'computed';
        outcomes[w.slot] = {
          model,
          version,
          start: iso(start),
          outcome,
          rows: result.rows,
          ...(result.reason ? { reason: result.reason } : {}),
        };
      }
      report.windows = outcomes;
      if (deferred) {
        report.deferred = deferred;
        this.d.log?.('warn', `monitoring: deferred (${deferred}); the next run computes the deferred windows`);
      }
    }
    if (!o.windowsOnly && !report.deferred) await this.summarizeStore(now, report);
    await this.d.alerts.redeliver();
    return report;
  }

  private async closeWindow(a: Omit<PendingWindow, 'slot' | 'stored'> & { now: number }): Promise<WindowResult> {
    const base = {
      model: a.model,
      version: a.version,
      start: a.start,
      end: a.end,
      computedAt: a.now,
      inputs: a.inputs,
      rows: 0,
    };
    if (!a.baseline)
      return {
        ...base,
        status: 'no_baseline',
        reason: `model ${a.model} version ${a.version} has no training baseline (PUT /api/models/${a.model}/versions/${a.version}/baseline, or train it with Strata)`,
      };
    try {
      const version = await this.d.registry.getVersion(a.model, a.version);
      const cfg = a.cfg;
      const { files, labels } = await this.windowFiles(a);
      const deadLetters = await this.deadLettersOn(a.start);
      return await withMonitoringConnection(this.d.duckdbThreads, (c) =>
        computeWindow(
          c,
          {
            model: a.model,
            version: a.version,
            start: a.start,
            end: a.end,
            baseline: a.baseline!,
            signature: version.signature,
            task: cfg?.task ?? taskOf(a.baseline!),
            predictionFiles: files,
            deadLetters,
            inputs: a.inputs,
            ...(labels ? { labels } : {}),
            ...(cfg?.drift ? { drift: cfg.drift } : {}),
          },
          a.now,
        ),
      );
    } catch (e) {
      this.d.log?.(
        'error',
        `monitoring: window ${iso(a.start)} of ${a.model} v${a.version} failed: ${(e as Error).message}`,
      );
      return { ...base, status: 'failed', reason: (e as Error).message };
    }
  }

  /** The window's prediction segments and, for a model with labels, those of its label horizon, as local files. */
  private async windowFiles(
    a: Pick<PendingWindow, 'start' | 'end' | 'cfg' | 'labelSegs'>,
  ): Promise<{ files: string[]; labels?: LabelInputs }> {
    const files = (await this.d.offline.localFiles(sourceSegmentView(PREDICTIONS_SOURCE), { from: a.start, to: a.end }))
      .files;
    const l = a.cfg?.labels;
    if (!l) return { files };
    const labelFiles = a.labelSegs.length
      ? (await this.d.offline.localFiles(sourceSegmentView(l.source), { from: a.start, to: a.end + l.horizon })).files
      : [];
    return {
      files,
      labels: { files: labelFiles, entityField: l.entityField, labelField: l.labelField, horizonMs: l.horizon },
    };
  }

  /**
   * A computed window whose segment ids changed, settled by counting what it reads (its
   * predictions, and the label records within its horizon) where that spares the full
   * computation: both counts as stored (a compaction merged its segments) keep the stored result
   * under the new fingerprint; the same predictions with other labels (labels arrived) compute
   * only what labels decide (relabelWindow). Undefined when the predictions changed, the stored
   * result has no counts, or counting failed: then the full computation runs.
   */
  private async settleByCounts(
    w: PendingWindow,
    now: number,
  ): Promise<{ by: 'kept' | 'relabelled'; result: WindowResult } | undefined> {
    const s = w.stored;
    if (s?.status !== 'computed' || s.rows === undefined || (w.cfg?.labels && s.labelRows === undefined)) return;
    try {
      const { files, labels } = await this.windowFiles(w);
      const counted = await withMonitoringConnection(this.d.duckdbThreads, (c) =>
        windowContent(c, { ...w, predictionFiles: files, ...(labels ? { labels } : {}) }),
      );
      if (counted.rows !== s.rows) return;
      const kept = await this.d.results.getWindow(w);
      if (!kept) return;
      if (counted.labelRows === s.labelRows) return { by: 'kept', result: { ...kept, inputs: w.inputs } };
      if (!labels || !w.baseline) return;
      const inputs = {
        ...w,
        baseline: w.baseline,
        task: w.cfg?.task ?? taskOf(w.baseline),
        predictionFiles: files,
        labels,
      };
      const result = await withMonitoringConnection(this.d.duckdbThreads, (c) => relabelWindow(c, inputs, kept, now));
      return { by: 'relabelled', result };
    } catch (e) {
      // The full computation tries again, and reports a failure as the window's.
      this.d.log?.(
        'warn',
        `monitoring: settling window ${iso(w.start)} of ${w.model} v${w.version} by its counts failed: ${(e as Error).message}`,
      );
      return;
    }
  }

  /** Dead letters per source on the window's day. */
  private async deadLettersOn(start: number): Promise<Record<string, number>> {
    const day = iso(start).slice(0, 10);
    const out: Record<string, number> = {};
    for (const s of this.d.repo.definitions().filter((d) => d.kind === 'source'))
      out[s.name] = (await this.d.deadLetters.countsByDay(s.name, day))[day] ?? 0;
    return out;
  }

  /** Summarise each view's completed day partitions that are new or changed, score them, alert. */
  private async summarizeStore(now: number, report: RunReport): Promise<void> {
    for (const name of this.d.repo.viewOrder) {
      const view = this.d.repo.view(name);
      const segments = await this.d.offline.listSegments(name, {
        from: now - 29 * DAY_MS,
        to: now,
        version: view.version,
      });
      const days = new Map<string, SegmentRecord[]>();
      for (const s of segments) days.set(s.day, [...(days.get(s.day) ?? []), s]);
      for (const day of [...days.keys()].sort()) {
        const dayStart = Date.parse(`${day}T00:00:00Z`);
        if (dayStart + DAY_MS + view.latenessMs > now) continue; // not complete yet
        const inputs = segmentsFingerprint(days.get(day)!);
        const stored = await this.d.summaries.get(name, day);
        if (stored?.inputs === inputs) continue;
        const files = (
          await this.d.offline.localFiles(name, { version: view.version, from: dayStart, to: dayStart + DAY_MS })
        ).files;
        const summary = await withMonitoringConnection(this.d.duckdbThreads, (c) =>
          summarizePartition(c, files, view.columns),
        );
        const history = (
          await this.d.summaries.list(name, { fromDay: iso(dayStart - 28 * DAY_MS).slice(0, 10), toDay: day })
        ).map((s) => s.summary);
        const score = scoreSummary(summary, history);
        await this.d.summaries.put({ view: name, version: view.version, day, inputs, computedAt: now, summary, score });
        report.alerts += (await this.d.alerts.observeStore(name, dayStart, score)).length;
        report.summaries.push({ view: name, day, status: score.status });
      }
    }
  }
}

/**
 * The order a run works through its windows in: those never computed first, oldest first
 * (alert streaks count windows in time order); then recomputes whose predictions changed (late
 * data, a compaction), newest first; then those whose labels alone changed, the least recently
 * computed first. Streaming labels change every window within the label horizon on every run:
 * newest first, a run's share went to the same newest windows each time and the older ones,
 * whose labels are the ones arriving, waited for good; in turn, each is reached within
 * horizon / share runs.
 */
function byRunOrder(a: PendingWindow, b: PendingWindow): number {
  const ra = runRank(a);
  const rb = runRank(b);
  if (ra !== rb) return ra - rb;
  if (ra === 0) return a.start - b.start;
  if (ra === 2) {
    const since = (a.stored?.computedAt ?? 0) - (b.stored?.computedAt ?? 0);
    if (since !== 0) return since;
  }
  return b.start - a.start;
}

/** 0: never computed; 1: a recompute whose predictions changed (or whose state does not say); 2: labels alone changed. */
const runRank = (w: PendingWindow): 0 | 1 | 2 =>
  w.stored?.status !== 'computed' ? 0 : w.stored.predictionInputs === w.predictionInputs ? 2 : 1;

const fingerprint = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 32);

/** Segments with events in [from, to). */
function overlapping(segments: readonly SegmentRecord[], from: number, to: number): SegmentRecord[] {
  return segments.filter((s) => s.minEventTs < to && s.maxEventTs >= from);
}

/** A binary classifier when the training labels are 0/1. */
export function taskOf(b: Baseline): PerformanceTask {
  const values = b.label.categories?.map((c) => c.value);
  return values && values.length > 0 && values.every((v) => v === 0 || v === 1) ? 'binary' : 'regression';
}

const iso = (ms: number) => new Date(ms).toISOString();
