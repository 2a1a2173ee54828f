/**
 * The composition root: every long-lived service of the app, built once per process on first
 * use from the config and the feature repo. Functions ask for what they need; tests build their
 * own services from the same constructors.
 */
import path from 'node:path';
import type { Registry } from 'prom-client';
import { config, localHostUrl, type StrataConfig } from './config';
import { storageFor, type Storage } from './storage/clients';
import type { OnlineStore } from './features/online/types';
import { createOnlineStore } from './features/online';
import { OfflineStore } from './features/offline/store';
import { Manifest, MANIFEST_TABLE } from './features/offline/manifest';
import { DeadLetterStore } from './features/dead-letter';
import { IngestMetrics } from './features/ingest-metrics';
import { IngestService } from './features/ingest';
import type { FeatureRepo } from './features/repo';
import { featureRepo } from './definitions';
import { ServingService } from './serving/service';
import type { PredictionRecord } from './serving/prediction-log';
import { eventHubSinkFor } from './events/event-hub-sink';

export interface Platform {
  config: StrataConfig;
  repo: FeatureRepo;
  storage: Storage;
  online: OnlineStore;
  offline(): Promise<OfflineStore>;
  manifest(): Promise<Manifest>;
  deadLetters: DeadLetterStore;
  /** Ingest counters for /api/metrics (observed by the ingest functions from their reports). */
  ingestMetrics: IngestMetrics;
  ingest(): Promise<IngestService>;
  /** Model serving (registry, deployments, predictor, prediction log, metrics): one per process. */
  serving(): ServingService;
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

export function createPlatform(cfg: StrataConfig = config(), repo: FeatureRepo = featureRepo): Platform {
  const storage = storageFor(cfg.storageConnection);
  const online = createOnlineStore(cfg);
  const offline = once(() => OfflineStore.open({ storage, cacheDir: path.resolve(cfg.dataDir, 'cache', 'offline') }));
  const manifest = once(async () => new Manifest(await storage.table(MANIFEST_TABLE)));
  const deadLetters = new DeadLetterStore(storage);
  const ingestMetrics = new IngestMetrics();
  const ingest = once(async () => new IngestService({ repo, offline: await offline(), online, deadLetters, manifest: await manifest(), maxFutureSkewMs: cfg.maxFutureSkewMs }));
  let serving: { service: ServingService; close(): Promise<void> } | undefined;
  const servingOf = () => (serving ??= createServing(cfg, storage, online));
  return {
    config: cfg, repo, storage, online, offline, manifest, deadLetters, ingestMetrics, ingest,
    serving: () => servingOf().service,
    closeServing: async () => serving?.close(),
    metricRegistries: () => [...(serving ? [serving.service.metrics.registry] : []), ingestMetrics.registry],
  };
}

/**
 * Serving on the platform's storage and online store. Prediction records go to the
 * predictions hub: Event Hubs when EVENTHUB_CONNECTION is an Azure namespace, else the local
 * host's bus when the app runs there, else the Event Hubs emulator when EVENTHUB_CONNECTION is
 * its string. STRATA_LOCAL_HOST_URL is read now (first use): the local host sets it after loading the app.
 */
function createServing(cfg: StrataConfig, storage: Storage, online: OnlineStore): { service: ServingService; close(): Promise<void> } {
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
  const sink = eventHubSinkFor<PredictionRecord>(cfg.predictionsHub, {
    connection: cfg.eventHubConnection,
    localHostUrl: localHostUrl(),
    adminKey: cfg.adminKey,
    onOversize: (bytes) => warn(`a prediction record of ${bytes} bytes exceeds the largest Event Hubs batch; skipped`),
  });
  if (!sink) warn('predictions are not logged: set EVENTHUB_CONNECTION to an Event Hubs connection string');
  const service = new ServingService({
    storage,
    store: online,
    ...(sink ? { sink } : {}),
    sessionGraceMs: cfg.sessionGraceMs,
    onError: (e, context) => warnThrottled(context.replace(/\d+ prediction records/, 'prediction records'), (e as Error).message ?? String(e)),
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
