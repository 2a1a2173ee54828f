/**
 * Model serving in one object, for the thin functions: the registry (admin), the live
 * deployments and their sessions, the predictor, the prediction log and the metrics.
 * Every admin change warms what it will route to, commits, then refreshes this
 * instance's snapshot before it returns; other instances follow within `refreshMs`,
 * each warming before it swaps.
 */
import type { OnlineStore } from '../features/online/types';
import { DeploymentCache } from './deployments';
import type { ModelStore } from './model-store';
import { ServingMetrics, type MetricsOptions, type ModelStats } from './metrics';
import { PredictionLog, type PredictionLogOptions, type PredictionSink } from './prediction-log';
import { Predictor, type PredictOptions, type PredictResult, type PredictTarget } from './predictor';
import {
  CANARY,
  ModelRegistry,
  type HistoryEntry,
  type ModelState,
  type ModelVersion,
  type RegisterInput,
  type RegistryOptions,
  type TrafficPolicy,
} from './registry';

export interface ServingOptions {
  /** Where models are kept (shared/azure/model-table.ts; shared/memory/models.ts). */
  models: ModelStore;
  store: OnlineStore;
  /** Where prediction records go; none = not logged (tests of other parts, tools). */
  sink?: PredictionSink;
  /** config().sessionGraceMs */
  sessionGraceMs: number;
  /** How old the aliases and traffic an instance routes by may be (config().servingRefreshMs, default 2 s). */
  refreshMs?: number;
  registry?: RegistryOptions;
  log?: PredictionLogOptions;
  metrics?: MetricsOptions;
  onError?: (e: unknown, context: string) => void;
}

export interface ModelDetails {
  model: ModelState;
  versions: ModelVersion[];
  history: HistoryEntry[];
}

export class ServingService {
  readonly registry: ModelRegistry;
  readonly deployments: DeploymentCache;
  readonly metrics: ServingMetrics;
  readonly log: PredictionLog | undefined;
  readonly predictor: Predictor;

  constructor(opts: ServingOptions) {
    this.registry = new ModelRegistry(opts.models, opts.registry);
    this.deployments = new DeploymentCache(this.registry, {
      graceMs: opts.sessionGraceMs,
      refreshMs: opts.refreshMs,
      onError: opts.onError,
    });
    this.metrics = new ServingMetrics(opts.metrics);
    this.log = opts.sink
      ? new PredictionLog(opts.sink, {
          onError: (e, n) => opts.onError?.(e, `sending ${n} prediction records`),
          ...opts.log,
        })
      : undefined;
    this.predictor = new Predictor({
      deployments: this.deployments,
      store: opts.store,
      log: this.log,
      metrics: this.metrics,
      onShadowError: (e, s) => opts.onError?.(e, `shadow ${s.model}@${s.version}`),
    });
  }

  predict(model: string, target: PredictTarget, opts?: PredictOptions): Promise<PredictResult> {
    return this.predictor.predict(model, target, opts);
  }

  /** Register a version; with `alias`, point that alias at it afterwards (warm first). */
  async register(
    model: string,
    input: RegisterInput & { alias?: string },
  ): Promise<{ version: ModelVersion; created: boolean; model: ModelState }> {
    const { version, created } = await this.registry.register(model, input);
    const state = input.alias
      ? await this.setAlias(model, input.alias, version.version)
      : await this.registry.getModel(model);
    return { version, created, model: state };
  }

  async setAlias(model: string, alias: string, version: number | null): Promise<ModelState> {
    if (version !== null) await this.deployments.sessions.warm({ model, version });
    return this.changed(model, await this.registry.setAlias(model, alias, version));
  }

  async setTraffic(model: string, traffic: TrafficPolicy): Promise<ModelState> {
    return this.changed(model, await this.registry.setTraffic(model, traffic));
  }

  async promote(model: string): Promise<ModelState> {
    const canary = (await this.registry.getModel(model)).aliases[CANARY];
    if (canary !== undefined) await this.deployments.sessions.warm({ model, version: canary });
    return this.changed(model, await this.registry.promote(model));
  }

  async rollback(model: string): Promise<ModelState> {
    const h = (await this.registry.getModel(model)).productionHistory;
    const previous = h[h.length - 2];
    if (previous !== undefined) await this.deployments.sessions.warm({ model, version: previous });
    return this.changed(model, await this.registry.rollback(model));
  }

  listModels(): Promise<ModelState[]> {
    return this.registry.listModels();
  }

  async getModel(model: string): Promise<ModelDetails> {
    const [state, versions, history] = await Promise.all([
      this.registry.getModel(model),
      this.registry.listVersions(model),
      this.registry.history(model),
    ]);
    return { model: state, versions, history };
  }

  stats(model: string, windowMs?: number): ModelStats {
    return this.metrics.stats(model, windowMs);
  }

  /** Prometheus text for GET /api/metrics. */
  async metricsText(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.metrics.registry.contentType, body: await this.metrics.registry.metrics() };
  }

  /** Finish shadow runs, send buffered prediction records, release sessions. */
  async close(): Promise<void> {
    await this.predictor.idle();
    await this.log?.flush().catch(() => undefined);
    await this.deployments.close();
  }

  private async changed(model: string, state: ModelState): Promise<ModelState> {
    await this.deployments.invalidate(model);
    return state;
  }
}
