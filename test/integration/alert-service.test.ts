/**
 * The alert service under concurrency, on the Table store (real Azurite): monitoring runs that
 * observe the same window at once race on the alert's row; the losers read it again and step
 * again (the shared retry on a lost race), so no run fails and the alert opens, and is sent,
 * exactly once.
 */
import { describe, expect, it } from 'vitest';
import { TableAlertStore } from '../../shared/azure/alert-table';
import { Storage } from '../../shared/azure/storage';
import { AlertRuleSchema } from '../../shared/monitoring/alerts/rules';
import { AlertService } from '../../shared/monitoring/alerts/service';
import type { AlertEvent } from '../../shared/monitoring/alerts/sinks';
import type { WindowResult } from '../../shared/monitoring/window-result';
import { useAzurite } from '../helpers/storage';

const azurite = useAzurite('alert-service-');
const HOUR = 3_600_000;

const rule = AlertRuleSchema.parse({ id: 'race-psi', metric: 'psi', comparison: '>', threshold: 0.2 });
const window: WindowResult = {
  model: 'churn',
  version: 1,
  start: 10 * HOUR,
  end: 11 * HOUR,
  status: 'computed',
  computedAt: 11 * HOUR,
  inputs: 'segments-a',
  rows: 100,
};

describe('AlertService on the Table store', () => {
  it('runs observing one breaching window at once open one alert and send it once; none fails', async () => {
    const storage = new Storage(azurite.connectionString);
    const sent: AlertEvent[] = [];
    const runs = await Promise.all(
      [1, 2, 3].map(
        async () =>
          new AlertService({
            store: await TableAlertStore.open(storage),
            sinks: [{ name: 'recorder', send: async (e) => void sent.push(e) }],
            definedRules: [rule],
            now: () => 11 * HOUR,
          }),
      ),
    );
    const events = await Promise.all(
      runs.map((r) => r.observeWindow(window, [{ metric: 'psi', subject: 'clicks_24h', value: 0.5 }])),
    );
    expect(events.flat().map((e) => e.event)).toEqual(['opened']);
    expect(sent.map((e) => `${e.event} ${e.alert.subject}`)).toEqual(['opened churn/v1/clicks_24h']);
    const open = await runs[0]!.list('open');
    expect(open.filter((a) => a.ruleId === rule.id).map((a) => a.subject)).toEqual(['churn/v1/clicks_24h']);
  });
});
