/**
 * The composition root: every long-lived service of the app, built once per process on first
 * use from the config and the feature repo. Functions ask for what they need; tests build their
 * own services from the same constructors.
 */
import path from 'node:path';
import type { Registry } from 'prom-client';
import { config, localHostUrl, type StrataConfig } from './config';
import { storageFor, type Storage } from './azure/storage';
import { DeadLetterBlobs } from './azure/dead-letter-blobs';
import { DefinitionsTable } from './azure/definitions-table';
import { LedgerTable } from './azure/ledger-table';
import { ManifestTable } from './azure/manifest-table';
import { ModelTable } from './azure/model-table';
import { OnlineBacklogTable } from './azure/online-backlog-table';
import { TrainingSetBlobs } from './azure/training-set-blobs';
import { BlobLeases } from './azure/lease';
import { TableRunStore } from './azure/run-table';
import { BlobFileStore } from './azure/file-blobs';
import { BlobBaselineStore } from './azure/baseline-blobs';
import { TableMonitoringResultStore } from './azure/monitoring-results-table';
import { TableSummaryStore } from './azure/summary-table';
import { TableAlertStore } from './azure/alert-table';
import type { FileStore } from './file-store';
import type { RunStore } from './training/runs';
import { TRAINING_RUNS_CONTAINER } from './training/train-steps';
import { SPINES_CONTAINER } from './training/label-spine';
import type { BaselineStore } from './monitoring/store/baselines';
import type { OnlineStore } from './features/online/types';
import { createOnlineStore } from './features/online';
import { RestoredOnlineStore } from './features/online/restored';
import { materialize, type MaterializeReport, type MaterializeRequest } from './features/online/materialize';
import { OfflineStore } from './features/offline/store';
import { setDuckdbMemoryLimit } from './features/offline/duckdb';
import type { Manifest } from './features/offline/manifest';
import type { DeadLetterStore } from './features/ingest/dead-letter';
import type { DefinitionStore } from './features/definitions/registry';
import { IntervalLedger } from './features/ledger/ledger';
import { Lineage, type LineageDeps } from './features/lineage/lineage';
import { OnlineBacklog } from './features/ingest/online-backlog';
import type { TrainingSetStore } from './features/pit/training-set-store';
import type { TrainingSetDeps } from './features/pit/training-set';
import { IngestMetrics } from './features/ingest/metrics';
import { IngestService } from './features/ingest/service';
import type { FeatureRepo } from './features/definitions/repo';
import { featureRepo } from './definitions';
import { ServingService } from './serving/service';
import type { PredictionRecord } from './serving/prediction-log';
import { eventHubSinkFor } from './azure/event-hub-sink';
import { createMonitoring, type MonitoringServices, type MonitoringStores } from './monitoring/services';
import { modelMonitoring } from './definitions/monitoring';
import { checkHealth, onlineProbe, type HealthReport } from './health';
import { storageProbes } from './azure/storage-health';
import { APP_VERSION } from './version';

export interface Platform {
  config: StrataConfig;
  repo: FeatureRepo;
  online: OnlineStore;
  offline(): Promise<OfflineStore>;
  /** The offline store's manifest (its segment records). */
  manifest(): Promise<Manifest>;
  /** The interval ledger: how complete each view is per day (plan, backfill, ingest, overview). */
  ledger(): Promise<IntervalLedger>;
  /** Batches committed offline while the online store was down (ingest replays them). */
  onlineBacklog(): Promise<OnlineBacklog>;
  /** The stored definitions (the registry that `apply` writes). */
  definitions(): Promise<DefinitionStore>;
  /** Training-set records and files. */
  trainingSets: TrainingSetStore;
  /** The offline store and the training-set store: what a training-set build needs. */
  trainingSetDeps(): Promise<TrainingSetDeps>;
  /** Repo, offline store and training sets: what lineage and version updates read. */
  lineageDeps(): Promise<LineageDeps>;
  lineage(): Promise<Lineage>;
  deadLetters: DeadLetterStore;
  /** Training runs (experiment tracking) and the automatic trigger's state. */
  runs: RunStore;
  /** The train job's files: its model and baseline (container `training-runs`). */
  runArtifacts: FileStore;
  /** Label spines the train job builds for its training sets (container `spines`). */
  spines: FileStore;
  /** Each model version's training baseline: written by the train job, read by monitoring. */
  baselines(): Promise<BaselineStore>;
  /** Monitoring's window results, store summaries, alerts and baselines. */
  monitoringStores(): Promise<MonitoringStores>;
  /** Leases across instances (a derived view's recomputation runs under one). */
  leases(): Promise<BlobLeases>;
  /** Ingest counters for /api/metrics (observed by the ingest functions from their reports). */
  ingestMetrics: IngestMetrics;
  ingest(): Promise<IngestService>;
  /** Blob, Table and the online store answering, with the app version (GET /api/health). */
  health(): Promise<HealthReport>;
  /** The online store from the offline store (POST /api/materialize): newest row per view and entity within TTL. */
  materialize(req?: MaterializeRequest): Promise<MaterializeReport>;
  /**
   * The embedded online store's rebuild from the offline store (it lives in process memory):
   * started by the app's start, awaited by its first read. undefined with Redis (it persists).
   */
  restoreOnline(): Promise<MaterializeReport | undefined>;
  /** Model serving (registry, deployments, predictor, prediction log, metrics): one per process. */
  serving(): ServingService;
  /** Monitoring (windows, results, alerts, gauges): built on first use, on serving's registry. */
  monitoring(): Promise<MonitoringServices>;
  /** Finish shadows, send buffered prediction records, release sessions (appTerminate); no-op if never started. */
  closeServing(): Promise<void>;
  /**
   * The Prometheus registries of the services started so far: what GET /api/metrics serves
   * and Application Insights receives. Starts nothing (serving reads localHostUrl() when it
   * starts, after the host has set it). Add new registries here.
   */
  metricRegistries(): Registry[];
}

/** Memoize an async factory; a failure is not cached (the next call tries again). */
export function once<T>(make: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => {
    if (!p) {
      p = make();
      p.catch(() => (p = undefined));
    }
    return p;
  };
}

/**
 * Every service on the Azure backends of one storage account (shared/azure/), each built once
 * on first use. This is the only place that opens a store from storage.
 */
export function createPlatform(cfg: StrataConfig = config(), repo: FeatureRepo = featureRepo): Platform {
  const storage = storageFor(cfg.storage);
  const offline = once(async () => {
    await setDuckdbMemoryLimit(cfg.duckdbMemoryLimit);
    return OfflineStore.open({
      storage,
      manifest: await ManifestTable.open(storage),
      cacheDir: path.resolve(cfg.dataDir, 'cache', 'offline'),
    });
  });
  const store = createOnlineStore(cfg);
  const online =
    store.kind === 'embedded'
      ? new RestoredOnlineStore(store, async (into) => materialize({ repo, offline: await offline(), online: into }))
      : store;
  const manifest = once(async () => (await offline()).manifest);
  const ledger = once(async () => new IntervalLedger(await LedgerTable.open(storage)));
  const definitions = once<DefinitionStore>(() => DefinitionsTable.open(storage));
  const onlineBacklog = once(async () => new OnlineBacklog(await OnlineBacklogTable.open(storage)));
  const trainingSets = new TrainingSetBlobs(storage);
  const trainingSetDeps = once(async (): Promise<TrainingSetDeps> => ({
    offline: await offline(),
    sets: trainingSets,
  }));
  const lineageDeps = once(async (): Promise<LineageDeps> => ({ repo, offline: await offline(), trainingSets }));
  const lineage = once(async () => new Lineage(await lineageDeps()));
  const deadLetters = new DeadLetterBlobs(storage);
  const leases = once(() => BlobLeases.open(storage));
  const ingestMetrics = new IngestMetrics();
  const ingest = once(
    async () =>
      new IngestService({
        repo,
        offline: await offline(),
        online,
        deadLetters,
        ledger: await ledger(),
        onlineBacklog: await onlineBacklog(),
        leases,
        maxFutureSkewMs: cfg.maxFutureSkewMs,
      }),
  );
  const runs = new TableRunStore(storage);
  const runArtifacts = new BlobFileStore(storage, TRAINING_RUNS_CONTAINER);
  const spines = new BlobFileStore(storage, SPINES_CONTAINER);
  const baselines = once<BaselineStore>(() => BlobBaselineStore.open(storage));
  const monitoringStores = once(async (): Promise<MonitoringStores> => ({
    results: await TableMonitoringResultStore.open(storage),
    summaries: await TableSummaryStore.open(storage),
    baselines: await baselines(),
    alertStore: await TableAlertStore.open(storage),
  }));
  let serving: { service: ServingService; close(): Promise<void> } | undefined;
  const servingOf = () => (serving ??= createServing(cfg, storage, online));
  let monitoringStarted: MonitoringServices | undefined;
  const monitoring = once(
    async () =>
      (monitoringStarted = await createMonitoring({
        config: cfg,
        stores: await monitoringStores(),
        repo,
        offline: await offline(),
        deadLetters,
        serving: servingOf().service,
        configs: modelMonitoring,
      })),
  );
  return {
    config: cfg,
    repo,
    online,
    offline,
    manifest,
    ledger,
    onlineBacklog,
    definitions,
    trainingSets,
    trainingSetDeps,
    lineageDeps,
    lineage,
    deadLetters,
    runs,
    runArtifacts,
    spines,
    baselines,
    monitoringStores,
    leases,
    ingestMetrics,
    ingest,
    health: () =>
      checkHealth({ probes: { ...storageProbes(storage), onlineStore: onlineProbe(online) }, appVersion: APP_VERSION }),
    materialize: async (req = {}) => materialize({ repo, offline: await offline(), online }, req),
    restoreOnline: async () => (online instanceof RestoredOnlineStore ? online.restore() : undefined),
    serving: () => servingOf().service,
    monitoring,
    closeServing: async () => serving?.close(),
    metricRegistries: () => [
      ...(serving ? [serving.service.metrics.registry] : []),
      ingestMetrics.registry,
      ...(monitoringStarted ? [monitoringStarted.metrics.registry] : []),
    ],
  };
}

/**
 * Serving on the platform's storage and online store. Prediction records go to the
 * predictions hub: Event Hubs when EVENTHUB_CONNECTION names an Azure namespace (a connection
 * string, or __fullyQualifiedNamespace with the managed identity), else the local
 * host's bus when the app runs there, else the Event Hubs emulator when EVENTHUB_CONNECTION is
 * its string; nowhere with STRATA_PREDICTION_LOG=off. STRATA_LOCAL_HOST_URL is read now (first use): the local host sets it after loading the app.
 */
function createServing(
  cfg: StrataConfig,
  storage: Storage,
  online: OnlineStore,
): { service: ServingService; close(): Promise<void> } {
  const warn = (message: string) => console.warn(`[serving] ${message}`);
  // A failing shadow or sink fails on every request: say so once per 10 s per cause, with a count.
  const quiet = new Map<string, { until: number; suppressed: number }>();
  const warnThrottled = (context: string, message: string) => {
    const now = Date.now();
    const q = quiet.get(context);
    if (q && now < q.until) {
      q.suppressed++;
      return;
    }
    warn(`${context}: ${message}${q?.suppressed ? ` (and ${q.suppressed} more like it in the last 10 s)` : ''}`);
    quiet.set(context, { until: now + 10_000, suppressed: 0 });
  };
  // STRATA_PREDICTION_LOG=off: logging was turned off on purpose, so nothing to warn about.
  const sink = cfg.predictionLog
    ? eventHubSinkFor<PredictionRecord>(cfg.predictionsHub, {
        connection: cfg.eventHub,
        localHostUrl: localHostUrl(),
        adminKey: cfg.adminKey,
        onOversize: (bytes) =>
          warn(`a prediction record of ${bytes} bytes exceeds the largest Event Hubs batch; skipped`),
      })
    : undefined;
  if (!sink && cfg.predictionLog)
    warn(
      'predictions are not logged: set EVENTHUB_CONNECTION__fullyQualifiedNamespace (managed identity) or EVENTHUB_CONNECTION to an Event Hubs connection string',
    );
  const service = new ServingService({
    models: new ModelTable(storage),
    store: online,
    ...(sink ? { sink } : {}),
    sessionGraceMs: cfg.sessionGraceMs,
    refreshMs: cfg.servingRefreshMs,
    onError: (e, context) =>
      warnThrottled(context.replace(/\d+ prediction records/, 'prediction records'), (e as Error).message ?? String(e)),
  });
  return {
    service,
    async close() {
      await service.close();
      await sink?.close();
    },
  };
}

let current: Platform | undefined;
/** The process's platform (built on first use). */
export function platform(): Platform {
  return (current ??= createPlatform());
}
