/**
 * The embedded online store (no REDIS_URL) survives a restart: it lives in process memory, and
 * the host rebuilds it from the offline store on start, so predict and GET /api/features answer
 * with the values from before the restart (a crash: SIGKILL), not 422 and nulls.
 */
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { startHostProcess, ROOT, type HostProcess } from '../helpers/host-process';
import { useAzurite } from '../helpers/storage';
import { expectU1Served, predictU1, seedChurn, userClicks } from '../helpers/online-scenario';

const storage = useAzurite('online-restore-');
const hosts: HostProcess[] = [];
afterAll(async () => {
  for (const h of hosts) await h.stop();
});

async function start(): Promise<HostProcess> {
  const h = await startHostProcess({
    entry: path.join(ROOT, 'dist/functions/index.js'),
    storageConnection: storage.connectionString,
    dataDir: path.join(storage.dir, 'data'),
  });
  hosts.push(h);
  return h;
}

it('after a crash and restart without Redis, predict and features answer the values from before', async () => {
  const first = await start();
  expect(first.output()).toMatch(/embedded/);
  await seedChurn(first);
  const before = await userClicks(first, 'u1');
  expectU1Served(before, await predictU1(first));
  const u2 = (await userClicks(first, 'u2')).body;

  await first.kill();
  const second = await start();
  // The first reads wait for the rebuild: no 422, no nulls.
  const after = await userClicks(second, 'u1');
  expectU1Served(after, await predictU1(second));
  expect(after.body.features).toEqual(before.body.features);
  expect(after.body.views.user_clicks.eventTime).toBe(before.body.views.user_clicks.eventTime);
  expect((await userClicks(second, 'u2')).body.features).toEqual(u2.features);
  expect(second.output()).toMatch(/embedded online store rebuilt from the offline store: \d+ rows/);
  // An entity nobody sent stays empty.
  expect((await userClicks(second, 'nobody')).body.features['user_clicks:clicks_1h']).toBeNull();
});
