/**
 * Monitoring's services built from the platform's parts, once per process: on the given stores, the
 * alert service with its sinks (log always; the webhook when STRATA_ALERT_WEBHOOK_URL is
 * set, signed with STRATA_ALERT_WEBHOOK_SECRET), the load guard on this process's serving
 * metrics, the monitor and the gauges. platform.ts asks for it; functions/ ask platform.
 */
import type { StrataConfig } from '../config';
import type { FeatureRepo } from '../features/definitions/repo';
import type { OfflineStore } from '../features/offline/store';
import type { DeadLetterStore } from '../features/ingest/dead-letter';
import type { ServingService } from '../serving/service';
import { AlertService } from './alerts/service';
import { LogSink, WebhookSink, type AlertSink } from './alerts/sinks';
import type { AlertStore } from './alerts/store';
import { HostLoadGuard, type LoadGuard } from './load-guard';
import { MonitoringMetrics } from './metrics';
import type { ModelMonitoring } from './model-config';
import { Monitor } from './monitor';
import type { BaselineStore } from './store/baselines';
import type { MonitoringResultStore } from './store/results';
import type { SummaryStore } from './store-summaries';

export interface MonitoringServices {
  monitor: Monitor;
  results: MonitoringResultStore;
  summaries: SummaryStore;
  baselines: BaselineStore;
  alerts: AlertService;
  alertStore: AlertStore;
  metrics: MonitoringMetrics;
  configs: ReadonlyMap<string, ModelMonitoring>;
}

/** Where monitoring keeps what it computes and reads (the platform builds them; tests may pass memory ones). */
export interface MonitoringStores {
  results: MonitoringResultStore;
  summaries: SummaryStore;
  baselines: BaselineStore;
  alertStore: AlertStore;
}

export interface MonitoringParts {
  config: StrataConfig;
  stores: MonitoringStores;
  repo: FeatureRepo;
  offline: OfflineStore;
  deadLetters: DeadLetterStore;
  serving: ServingService;
  configs: ReadonlyMap<string, ModelMonitoring>;
  /** Default: the host's event-loop delay and this process's predict rate against the configured thresholds. */
  load?: LoadGuard;
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
}

export async function createMonitoring(p: MonitoringParts): Promise<MonitoringServices> {
  const { results, summaries, baselines, alertStore } = p.stores;
  const log = p.log ?? ((level, m) => (level === 'error' ? console.error : console.warn)(`[monitoring] ${m}`));
  const sinks: AlertSink[] = [new LogSink()];
  if (p.config.alertWebhookUrl)
    sinks.push(
      new WebhookSink({
        url: p.config.alertWebhookUrl,
        ...(p.config.alertWebhookSecret ? { secret: p.config.alertWebhookSecret } : {}),
      }),
    );
  const alerts = new AlertService({
    store: alertStore,
    sinks,
    definedRules: [...p.configs.values()].flatMap((c) => c.rules),
    log,
  });
  const load =
    p.load ??
    new HostLoadGuard({
      maxEventLoopDelayMs: p.config.monitorMaxEventLoopDelayMs,
      maxPredictPerSecond: p.config.monitorMaxPredictRate,
      predictRate: () => p.serving.metrics.requestRate(60_000),
    });
  const monitor = new Monitor({
    registry: p.serving.registry,
    offline: p.offline,
    repo: p.repo,
    baselines,
    results,
    summaries,
    alerts,
    deadLetters: p.deadLetters,
    load,
    configs: p.configs,
    windowMs: p.config.monitorWindowMs,
    duckdbThreads: p.config.monitorDuckdbThreads,
    log,
  });
  const metrics = new MonitoringMetrics({
    results,
    monitored: () => monitor.monitoredVersions(),
    windowMs: p.config.monitorWindowMs,
  });
  return { monitor, results, summaries, baselines, alerts, alertStore, metrics, configs: p.configs };
}
