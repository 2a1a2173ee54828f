/** GET /api/health tells a dependency that is down: 503 and which one, with the others still reported. */
import { afterAll, beforeAll, expect, it } from 'vitest';
import path from 'node:path';
import { startAzurite, AzuriteHandle } from '../../local/processes/azurite';
import { freePort } from '../../local/processes/ports';
import { startHostProcess, HostProcess, ROOT } from '../helpers/host-process';
import { tempDir } from '../helpers/temp';

const tmp = tempDir();
let azurite: AzuriteHandle;
let host: HostProcess;

beforeAll(async () => {
  azurite = await startAzurite({ location: path.join(tmp.dir, 'azurite') });
  // Redis is configured but nothing listens there.
  const deadRedis = `redis://127.0.0.1:${await freePort()}`;
  host = await startHostProcess({
    entry: path.join(ROOT, 'dist/functions/index.js'),
    storageConnection: azurite.connectionString,
    dataDir: path.join(tmp.dir, 'data'),
    env: { REDIS_URL: deadRedis },
  });
});

afterAll(async () => {
  await host?.stop();
  await azurite?.stop();
  tmp.cleanup();
});

it('answers 503 naming the online store when Redis is unreachable; storage still reported ok', async () => {
  const res = await fetch(`${host.baseUrl}/api/health`);
  expect(res.status).toBe(503);
  const body = (await res.json()) as { status: string; dependencies: Record<string, { ok: boolean; error?: string }> };
  expect(body.status).toBe('degraded');
  expect(body.dependencies.onlineStore!.ok).toBe(false);
  expect(body.dependencies.onlineStore!.error).toBeTruthy();
  expect(body.dependencies.blob!.ok).toBe(true);
  expect(body.dependencies.table!.ok).toBe(true);
});

it('answers 503 naming storage when Azurite goes away', async () => {
  await azurite.stop();
  const res = await fetch(`${host.baseUrl}/api/health`);
  expect(res.status).toBe(503);
  const body = (await res.json()) as { dependencies: Record<string, { ok: boolean }> };
  expect(body.dependencies.blob!.ok).toBe(false);
  expect(body.dependencies.table!.ok).toBe(false);
});
