/**
 * A timer function fires once per occurrence across several hosts on one storage account (the
 * Functions host's singleton lock for timers): two schedulers, as two hosts, run the same
 * every-second schedule for a few seconds; each occurrence fires on exactly one of them.
 */
import { describe, expect, it } from 'vitest';
import { useAzurite } from '../helpers/storage';
import { storageFor } from '../../shared/azure/storage';
import { TimerScheduler } from '../../local/timers/scheduler';

const storage = useAzurite('strata-timers-');

describe('timers on several hosts', () => {
  it('each occurrence of a schedule fires on one host only', async () => {
    const container = await storageFor(storage.connectionString).container('azure-webjobs-hosts');
    const fired: Array<{ host: string; at: number }> = [];
    const hosts = ['h1', 'h2'].map(
      (host) =>
        new TimerScheduler(
          container,
          'strata-local',
          async () => void fired.push({ host, at: Date.now() }),
          () => undefined,
        ),
    );
    const def = { name: 'window-flush', schedule: '* * * * * *', runOnStartup: false, useMonitor: true };
    await Promise.all(hosts.map((h) => h.start([def])));
    const started = Date.now();
    await new Promise((r) => setTimeout(r, 5500));
    await Promise.all(hosts.map((h) => h.stop()));
    const seconds = (Date.now() - started) / 1000;

    // One fire per second between both hosts (give or take the first and last), never two for one second.
    const bySecond = new Map<number, string[]>();
    for (const f of fired)
      bySecond.set(Math.round(f.at / 1000), [...(bySecond.get(Math.round(f.at / 1000)) ?? []), f.host]);
    expect(fired.length).toBeGreaterThanOrEqual(Math.floor(seconds) - 2);
    expect(fired.length).toBeLessThanOrEqual(Math.ceil(seconds) + 1);
    for (const [second, who] of bySecond) expect(who, `second ${second}`).toHaveLength(1);
  });
});
