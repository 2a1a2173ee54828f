import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type AzuriteHandle } from '../../local/processes/azurite';
import { storageFor } from '../../shared/azure/storage';
import { ModelRegistry, type ArtifactRef } from '../../shared/serving/registry';
import { DeploymentCache, type RegistryReader } from '../../shared/serving/deployments';
import { Predictor } from '../../shared/serving/predictor';
import { logistic, row, startOnlineStore, type CountingStore } from '../helpers/serving-fixtures';
import { ModelTable } from '../../shared/azure/model-table';

let azurite: AzuriteHandle;
let dir: string;
let registry: ModelRegistry;
let store: CountingStore;
let stopStore: () => Promise<void>;

/** The real registry, counting the reads serving makes of it. */
class CountingReader implements RegistryReader {
  calls = { getModel: 0, getVersion: 0, readArtifact: 0 };
  constructor(private readonly inner: ModelRegistry) {}
  getModel(model: string) {
    this.calls.getModel++;
    return this.inner.getModel(model);
  }
  getVersion(model: string, version: number) {
    this.calls.getVersion++;
    return this.inner.getVersion(model, version);
  }
  readArtifact(ref: ArtifactRef) {
    this.calls.readArtifact++;
    return this.inner.readArtifact(ref);
  }
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-deploy-'));
  azurite = await startAzurite({ location: dir });
  registry = new ModelRegistry(new ModelTable(storageFor(azurite.connectionString)));
  ({ store, stop: stopStore } = await startOnlineStore());
  const m = logistic(['user:age'], [0.2], -1);
  await registry.register('cached', m);
  await registry.setAlias('cached', 'production', 1);
  await store.write('user', [row('u1', { age: 7 })]);
});
afterAll(async () => {
  await stopStore?.();
  await azurite?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('deployment cache', () => {
  it('serves hundreds of predictions from one registry read and one artifact download', async () => {
    const reader = new CountingReader(registry);
    const deployments = new DeploymentCache(reader, { graceMs: 1000, refreshMs: 60_000 });
    const predictor = new Predictor({ deployments, store });
    for (let i = 0; i < 300; i++) await predictor.predict('cached', { entityId: 'u1' });
    await Promise.all(Array.from({ length: 200 }, () => predictor.predict('cached', { entityId: 'u1' })));
    expect(reader.calls).toEqual({ getModel: 1, getVersion: 1, readArtifact: 1 });
    await deployments.close();
  });

  it('re-reads the registry once for all the requests that find the snapshot older than refreshMs', async () => {
    const reader = new CountingReader(registry);
    const deployments = new DeploymentCache(reader, { graceMs: 1000, refreshMs: 50 });
    const predictor = new Predictor({ deployments, store });
    await predictor.predict('cached', { entityId: 'u1' });
    await sleep(70);
    await Promise.all(Array.from({ length: 20 }, () => predictor.predict('cached', { entityId: 'u1' })));
    await sleep(50);
    expect(reader.calls.getModel).toBe(2); // one refresh for twenty requests
    expect(reader.calls.readArtifact).toBe(1); // versions are immutable: nothing reloaded
    await deployments.close();
  });

  it('keeps serving the last snapshot while the registry storage is down, and reports it', async () => {
    const errors: string[] = [];
    const deployments = new DeploymentCache(registry, {
      graceMs: 1000,
      refreshMs: 20,
      onError: (_e, ctx) => errors.push(ctx),
    });
    const predictor = new Predictor({ deployments, store });
    const before = await predictor.predict('cached', { entityId: 'u1' });
    await azurite.stop();
    await sleep(40);
    const during = await predictor.predict('cached', { entityId: 'u1' });
    // The background refresh fails against the stopped storage (after the SDK's own retries).
    for (let t = 0; t < 300 && !errors.length; t++) {
      await predictor.predict('cached', { entityId: 'u1' });
      await sleep(50);
    }
    const after = await predictor.predict('cached', { entityId: 'u1' });
    expect([during.predictions[0]!.prediction, after.predictions[0]!.prediction]).toEqual([
      before.predictions[0]!.prediction,
      before.predictions[0]!.prediction,
    ]);
    expect(errors).toContain('refreshing model cached');
    await deployments.close();
  });
});
