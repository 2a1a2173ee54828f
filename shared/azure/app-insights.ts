/**
 * Application Insights for Strata's metrics: when APPLICATIONINSIGHTS_CONNECTION_STRING is
 * set, the Azure Monitor OpenTelemetry distro exports the Prometheus registries' numbers
 * (see shared/telemetry/otel-bridge.ts) as custom metrics from every instance. Loaded with a dynamic import
 * only in that case, so a run without the setting loads none of it.
 *
 * Only metrics: the Functions host already reports requests and logs to Application Insights
 * itself, so the distro's HTTP, Azure SDK, database and logging instrumentations are off (they
 * would double them), as are its standard metrics (derived from those spans) and live metrics.
 * Export interval: OTEL_METRIC_EXPORT_INTERVAL (ms), default 60 s.
 *
 * With a credential (APPLICATIONINSIGHTS_AUTHENTICATION_STRING, shared/azure/connections.ts) the
 * exporter sends with a Microsoft Entra token: what an Application Insights resource with local
 * auth off (as infra/ deploys it) accepts.
 */
import type { Registry } from 'prom-client';
import { PrometheusToOpenTelemetry } from '../telemetry/otel-bridge';
import type { CredentialSpec } from './connections';
import { tokenCredential } from './client-factory';

export interface AppInsightsMetrics {
  stop(): Promise<void>;
}

export async function startAppInsightsMetrics(
  connectionString: string,
  registries: () => Registry[],
  credential?: CredentialSpec,
): Promise<AppInsightsMetrics> {
  const [{ useAzureMonitor, shutdownAzureMonitor }, { metrics }] = await Promise.all([
    import('@azure/monitor-opentelemetry'),
    import('@opentelemetry/api'),
  ]);
  const off = { enabled: false };
  useAzureMonitor({
    azureMonitorExporterOptions: {
      connectionString,
      ...(credential ? { credential: tokenCredential(credential) } : {}),
    },
    enableLiveMetrics: false,
    enableStandardMetrics: false,
    enablePerformanceCounters: false,
    instrumentationOptions: {
      http: off,
      azureSdk: off,
      mongoDb: off,
      mySql: off,
      postgreSql: off,
      redis: off,
      redis4: off,
      bunyan: off,
      winston: off,
      console: off,
    },
  });
  const bridge = new PrometheusToOpenTelemetry(metrics.getMeter('strata'), registries);
  return {
    async stop() {
      bridge.stop();
      await shutdownAzureMonitor(); // exports what was observed since the last interval
    },
  };
}
