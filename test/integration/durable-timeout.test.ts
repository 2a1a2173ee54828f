/**
 * host.json functionTimeout bounds activities as on Azure: an activity still running when it
 * passes fails its task with Azure's words, the orchestration sees the failure, and the engine
 * keeps serving other instances.
 */
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startAzurite, AzuriteHandle } from '../../local/processes/azurite';
import { startDurableHarness, DurableHarness } from '../fixtures/durable-harness';
import { tempDir } from '../helpers/temp';

let azurite: AzuriteHandle;
let h: DurableHarness;
const tmp = tempDir('durable-timeout-');

beforeAll(async () => {
  azurite = await startAzurite({ location: path.join(tmp.dir, 'azurite') });
  h = await startDurableHarness({
    storageConnection: azurite.connectionString,
    execLog: path.join(tmp.dir, 'exec.log'),
    hostJson: { functionTimeout: '00:00:01' },
  });
});
afterAll(async () => {
  await h?.stop();
  await azurite?.stop();
  tmp.cleanup();
});

async function finished(id: string) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const s = await h.client.getStatus(id);
    if (['Completed', 'Failed', 'Terminated'].includes(String(s.runtimeStatus))) return s;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${id} to finish`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

it('an activity running past functionTimeout fails its task; quick ones are unaffected', async () => {
  const slow = await h.client.startNew('crashable', { input: { fan: 1, ms: 3_000 } });
  const quick = await h.client.startNew('sequence', { input: 1 });
  const s = await finished(slow);
  expect(s.runtimeStatus).toBe('Failed');
  expect(JSON.stringify(s.output)).toMatch(/Timeout value of 00:00:01 was exceeded by function: Functions\.slowSquare/);
  expect(await finished(quick)).toMatchObject({ runtimeStatus: 'Completed', output: 32 });
});
