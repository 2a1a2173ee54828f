/**
 * Application Insights metrics (not a function: app lifecycle hooks). When
 * APPLICATIONINSIGHTS_CONNECTION_STRING is set, the app exports the numbers of /api/metrics
 * to Application Insights from every instance (shared/azure/app-insights.ts), signed in
 * with the identity APPLICATIONINSIGHTS_AUTHENTICATION_STRING names; without it nothing is
 * loaded. Stopped at appTerminate, which exports what is left.
 */
import { app } from '@azure/functions';
import { platform } from '../shared/platform';
import { config } from '../shared/config';
import { startAppInsightsMetrics, type AppInsightsMetrics } from '../shared/azure/app-insights';

const { appInsightsConnectionString: connectionString, appInsightsCredential } = config();
if (connectionString) {
  let running: Promise<AppInsightsMetrics> | undefined;
  app.hook.appStart(async () => {
    running = startAppInsightsMetrics(connectionString, () => platform().metricRegistries(), appInsightsCredential);
    await running;
  });
  app.hook.appTerminate(async () => (await running)?.stop());
}
